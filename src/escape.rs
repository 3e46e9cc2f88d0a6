//! Making untrusted text safe to print on a terminal.
//!
//! Paths, family and table names, key values and the start of a bad line
//! all come from elsewhere. Printed raw, an escape sequence in them could
//! move the cursor, recolour the screen or forge a whole `changelog-tail:`
//! line, and a bidi control could reorder what is shown. Such characters
//! are shown as `\u{..}` escapes instead (as fd's `sanitize` does), and
//! bytes that are not UTF-8 as `\x..`.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::fmt::{self, Write};
use std::os::unix::ffi::OsStrExt;

/// `text` with control and bidi-formatting characters escaped; borrowed
/// when there is nothing to escape (the common case).
///
/// ```
/// assert_eq!(changelog_tail::printable("a\x1b[2Jb"), "a\\u{1b}[2Jb");
/// assert_eq!(changelog_tail::printable("fam.tbl é"), "fam.tbl é");
/// ```
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    push_escaped(&mut out, text);
    Cow::Owned(out)
}

/// A path (or any OS string) for a message: escaped as [`printable`], with
/// bytes that are not UTF-8 as `\xNN`.
pub(crate) fn path(path: &(impl AsRef<OsStr> + ?Sized)) -> impl fmt::Display + '_ {
    Bytes(path.as_ref().as_bytes())
}

/// At most `max` characters of `bytes` for a message, to be shown between
/// double quotes: escaped as [`printable`], with `"` and `\` escaped too
/// and bytes that are not UTF-8 as `\xNN`, and `…` when cut. Only the first
/// `4 * max` bytes are looked at, so the cost does not grow with the input.
pub(crate) fn fragment(bytes: &[u8], max: usize) -> String {
    let head = &bytes[..bytes.len().min(max.saturating_mul(4))];
    let mut out = String::new();
    let mut chars = 0;
    for chunk in head.utf8_chunks() {
        for c in chunk.valid().chars() {
            if chars == max {
                out.push('…');
                return out;
            }
            match c {
                '"' | '\\' => {
                    out.push('\\');
                    out.push(c);
                }
                c => push_char(&mut out, c),
            }
            chars += 1;
        }
        for byte in chunk.invalid() {
            if chars == max {
                out.push('…');
                return out;
            }
            let _ = write!(out, "\\x{byte:02x}");
            chars += 1;
        }
    }
    if head.len() < bytes.len() {
        out.push('…');
    }
    out
}

struct Bytes<'a>(&'a [u8]);

impl fmt::Display for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            f.write_str(&printable(chunk.valid()))?;
            for byte in chunk.invalid() {
                write!(f, "\\x{byte:02x}")?;
            }
        }
        Ok(())
    }
}

fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        push_char(out, c);
    }
}

fn push_char(out: &mut String, c: char) {
    if is_unsafe(c) {
        let _ = write!(out, "\\u{{{:x}}}", c as u32);
    } else {
        out.push(c);
    }
}

fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061c}' | '\u{200e}' | '\u{200f}'
            | '\u{2028}' | '\u{2029}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn plain_text_is_untouched() {
        assert!(matches!(printable("fam.tbl é 漢"), Cow::Borrowed(_)));
    }

    #[test]
    fn escapes_c0_c1_del_and_bidi_controls() {
        assert_eq!(printable("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(printable("x\ny\r"), "x\\u{a}y\\u{d}");
        assert_eq!(printable("\u{9b}31m\u{7f}"), "\\u{9b}31m\\u{7f}");
        assert_eq!(printable("abc\u{202e}fed"), "abc\\u{202e}fed");
    }

    #[test]
    fn paths_escape_controls_and_bytes_that_are_not_utf8() {
        let p = OsStr::from_bytes(b"/tmp/a\nchangelog-tail: fake\xff.log");
        assert_eq!(
            path(p).to_string(),
            "/tmp/a\\u{a}changelog-tail: fake\\xff.log"
        );
    }

    #[test]
    fn fragments_are_capped_whatever_the_input() {
        assert_eq!(fragment(b"abc", 5), "abc");
        assert_eq!(fragment(b"abcdef", 3), "abc…");
        assert_eq!(fragment(b"\x1b[\xffz", 10), "\\u{1b}[\\xffz");
        assert_eq!(fragment(br#"{"a":"\n"}"#, 20), r#"{\"a\":\"\\n\"}"#);
        let huge = "\u{85}".repeat(1_000_000);
        let cut = fragment(huge.as_bytes(), 60);
        assert!(cut.len() < 60 * 8, "{}", cut.len());
        assert!(cut.ends_with('…'));
    }
}
