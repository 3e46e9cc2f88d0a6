//! Where a reader stopped, so that a later one can go on from there.
//!
//! A checkpoint names the last event read (whatever its family and table):
//! its `seq`, a fingerprint of its line, and where that line ended in which
//! file. Inode numbers are reused quickly, so (device, inode) alone cannot
//! prove that a file is the one read before; the line's fingerprint at the
//! stored offset can (SPEC §5).

use crate::source::FileId;
use serde::{Deserialize, Serialize};

/// The position after the last event read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The event's `seq`.
    pub seq: i64,
    /// [`line_hash`] of the event's line (without its `\n`).
    pub line_hash: u64,
    /// The file the line was in.
    pub file: FileId,
    /// Byte offset just past the line's `\n`.
    pub end: u64,
}

/// A 64-bit FNV-1a fingerprint of a line: stable across builds and
/// platforms (unlike std's `DefaultHasher`), and plenty to tell a rewritten
/// line from the one read before. Not meant to resist a forger.
///
/// ```
/// assert_ne!(changelog_tail::line_hash(b"{\"seq\":1}"), changelog_tail::line_hash(b"{\"seq\":2}"));
/// ```
pub fn line_hash(line: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    line.iter().fold(OFFSET, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_reference_values() {
        assert_eq!(line_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(line_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(line_hash(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
