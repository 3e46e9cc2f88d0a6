//! Where a reader stopped, so that a later one can go on from there.
//!
//! A checkpoint names a place in a file: its (device, inode), the offset
//! where reading goes on, and the fingerprint of the line that ends there.
//! When an event was read, that line is the last event read (whatever its
//! family and table) and its `seq` is kept too; before any event, it is
//! where reading began. Inode numbers are reused quickly, so (device,
//! inode) alone cannot prove that a file is the one read before; the
//! line's fingerprint at the stored offset can (see `doc/design.md`).

use crate::position::FileId;
use serde::{Deserialize, Serialize};

/// A position to resume from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The file reading had got to.
    pub file: FileId,
    /// Byte offset where reading goes on: just past the last event's line
    /// (or where reading began, before any event).
    pub end: u64,
    /// [`line_hash`] of the last event's line (without its `\n`), which
    /// ends at `end` unless `end` is 0 (reading had just moved on to a new
    /// file). Before any event, of the line that ends at `end`, if any.
    /// `None` when there is no such line, or it was too long to keep.
    pub line_hash: Option<u64>,
    /// The `seq` of the last event read; `None` before any event.
    pub seq: Option<i64>,
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
