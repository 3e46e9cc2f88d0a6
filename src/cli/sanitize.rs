//! Making untrusted text safe to show on a terminal.
//!
//! Family, table and key values come from elsewhere; printed raw, an escape
//! sequence in them could move the cursor, recolour the screen or fake a
//! line, and a bidi control could reorder what is shown. Pretty output shows
//! such characters as `\u{..}` escapes instead (as fd's `sanitize` does).

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with control and bidi-formatting characters escaped.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061c}' | '\u{200e}' | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_untouched() {
        assert!(matches!(sanitize("fam.tbl é 漢"), Cow::Borrowed(_)));
    }

    #[test]
    fn escapes_c0_c1_del_and_bidi_controls() {
        assert_eq!(sanitize("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(sanitize("x\ny\r"), "x\\u{a}y\\u{d}");
        assert_eq!(sanitize("\u{9b}31m\u{7f}"), "\\u{9b}31m\\u{7f}");
        assert_eq!(sanitize("abc\u{202e}fed"), "abc\\u{202e}fed");
    }
}
