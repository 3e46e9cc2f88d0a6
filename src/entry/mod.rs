//! Decoding one changelog line into an event ([`EventRef`], borrowed from the line;
//! [`Event`](crate::Event) is its owned form).
//!
//! The reflector writes each line with Go's `json.Marshal`:
//! `{"seq":1,"family":"f","table":"t","key":[{"name":"id","type":"INT","value":1}]}`.
//! Decoding borrows from the line wherever it can and keeps key values as
//! their JSON text (see [`KeyValue`](crate::KeyValue)). Anything that is not such an object is
//! an [`InvalidEntry`] with a reason a person can act on.

#[cfg(test)]
mod agree;
mod fast;
mod quiet;

use crate::escape;
use crate::event::{EventRef, KeyRef};
use crate::position::Location;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// How many characters of a bad line a warning quotes.
const PREVIEW_CHARS: usize = 60;

/// How many characters of the JSON parser's own explanation are kept: it
/// may quote a whole string from the line.
const REASON_CHARS: usize = 200;

/// The line as the writer wrote it (field `key`, singular, on input).
///
/// Where a string is not expected (`seq`, `key`, a key column), it is
/// refused by hand: serde's own message would quote it whole, and a line of
/// megabytes would make a warning (and a peak of memory) of megabytes.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(deserialize_with = "quiet::seq")]
    seq: i64,
    #[serde(borrow)]
    family: Cow<'a, str>,
    #[serde(borrow)]
    table: Cow<'a, str>,
    /// Missing or `null` means no keys, as with Go's `json.Unmarshal`.
    #[serde(default, borrow, deserialize_with = "quiet::keys")]
    key: Option<Vec<LineKey<'a>>>,
}

/// One key column.
struct LineKey<'a> {
    name: Cow<'a, str>,
    type_name: Cow<'a, str>,
    value: &'a RawValue,
}

/// Decodes one line (without its `\n`): the writer's exact shape on a fast
/// path, anything else through serde_json. `Ok(None)` is a blank line
/// (empty or white space only), skipped without a word.
pub fn decode(line: &[u8]) -> Result<Option<EventRef<'_>>, InvalidReason> {
    match fast::parse(line) {
        Some(event) => Ok(Some(event)),
        None => decode_json(line),
    }
}

/// A line in the writer's exact shape (see [`fast::parse`]): `None` for any
/// other line, which then needs [`decode`].
pub(crate) fn shaped(line: &[u8]) -> Option<EventRef<'_>> {
    fast::parse(line)
}

/// The header of a line in the writer's exact shape (see [`fast::header`]):
/// `None` for any other line, which then needs [`decode`].
pub(crate) fn header(line: &[u8]) -> Option<fast::Header<'_>> {
    fast::header(line)
}

/// An event with the header of `line` and no keys: for a line whose header
/// was read (and whose `seq` counted) but whose keys turn out not to be
/// readable, when that event must still be shown (it revealed a gap).
///
/// Only the header's bytes are read (the keys may be anything, even bytes
/// that are not UTF-8): a name cannot hold a `"`, so the first `,"key":`
/// ends the header.
pub(crate) fn header_event(line: &[u8]) -> Option<EventRef<'_>> {
    let header = fast::header(line)?;
    let head_end = memchr::memmem::find(line, br#","key":"#).unwrap_or(line.len() - 1);
    let head = std::str::from_utf8(&line[..head_end]).ok()?;
    Some(EventRef::compact(
        header.seq,
        header.family,
        header.table,
        head,
        "",
    ))
}

/// The full decoder: any JSON serde_json accepts, in any field order.
pub(crate) fn decode_json(line: &[u8]) -> Result<Option<EventRef<'_>>, InvalidReason> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let text = std::str::from_utf8(line).map_err(|e| InvalidReason::NotUtf8 {
        at: e.valid_up_to(),
    })?;
    if text.trim_start().starts_with('"') {
        // A bare string: serde would quote it whole in its message.
        return Err(InvalidReason::Json(
            "invalid type: a string, expected a JSON object".into(),
        ));
    }
    let parsed: Line<'_> = serde_json::from_str(text).map_err(|e| {
        InvalidReason::Json(escape::fragment(e.to_string().as_bytes(), REASON_CHARS))
    })?;
    let keys = parsed
        .key
        .unwrap_or_default()
        .into_iter()
        .map(|k| KeyRef::new(k.name, k.type_name, k.value.get()))
        .collect();
    Ok(Some(EventRef::new(
        parsed.seq,
        parsed.family,
        parsed.table,
        keys,
    )))
}

/// Why a line could not be read as an event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidReason {
    /// The bytes are not UTF-8 (JSON must be).
    NotUtf8 {
        /// Byte offset within the line of the first bad byte.
        at: usize,
    },
    /// Not JSON, or JSON of the wrong shape (serde_json's own words,
    /// escaped and cut short).
    Json(String),
    /// The line passed the length limit; it was skipped to its end.
    TooLong {
        /// The limit in bytes (`--max-line-bytes`).
        limit: usize,
    },
    /// A partial line whose file was rotated away before its `\n` arrived.
    Incomplete,
    /// A partial line whose file was truncated in place (copy-truncate)
    /// before its `\n` arrived: the rest went with the truncation.
    Truncated,
    /// A partial line when the input ended for good (a pipe closed): the
    /// rest can never come.
    Unterminated,
}

impl fmt::Display for InvalidReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidReason::NotUtf8 { at } => {
                write!(f, "not valid UTF-8 (bad byte at column {})", at + 1)
            }
            InvalidReason::Json(e) => write!(f, "not a changelog entry: {e}"),
            InvalidReason::TooLong { limit } => {
                // What becomes of the line (skipped, or the end of the run
                // under --strict) is the reader's to say.
                write!(f, "line longer than {limit} bytes (--max-line-bytes)")
            }
            InvalidReason::Incomplete => {
                f.write_str("incomplete line (no newline) left behind when the file was rotated")
            }
            InvalidReason::Truncated => {
                f.write_str("incomplete line (no newline) cut short when the file was truncated")
            }
            InvalidReason::Unterminated => {
                f.write_str("the input ended in the middle of a line (no newline)")
            }
        }
    }
}

/// A line that is not an event: where it is, why, and how it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvalidEntry {
    /// Where the line starts.
    pub location: Location,
    /// Why it was rejected.
    pub reason: InvalidReason,
    /// The start of the line, escaped so that it is safe to print.
    pub preview: String,
}

impl InvalidEntry {
    /// Builds the report for `line` found at `location`.
    pub(crate) fn new(location: Location, reason: InvalidReason, line: &[u8]) -> Self {
        InvalidEntry {
            location,
            reason,
            preview: escape::fragment(line, PREVIEW_CHARS),
        }
    }
}

impl std::error::Error for InvalidEntry {}

impl fmt::Display for InvalidEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid entry at {}: {}; it starts: \"{}\"",
            self.location, self.reason, self.preview
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(line: &str) -> crate::Event {
        decode(line.as_bytes())
            .unwrap()
            .expect("not blank")
            .to_event()
    }

    fn reason(line: &[u8]) -> InvalidReason {
        decode(line).unwrap_err()
    }

    #[test]
    fn decodes_the_go_writers_shape() {
        let e = event(
            r#"{"seq":7,"family":"fam","table":"foo","key":[{"name":"id","type":"INT","value":1},{"name":"n","type":"VARCHAR","value":"x\"y"}]}"#,
        );
        assert_eq!(e.seq, 7);
        assert_eq!(e.row_update.family, "fam");
        assert_eq!(e.row_update.table, "foo");
        assert_eq!(e.row_update.keys.len(), 2);
        assert_eq!(e.row_update.keys[1].value.json(), r#""x\"y""#);
        assert_eq!(e.row_update.keys[1].value.text(), "x\"y");
    }

    #[test]
    fn missing_or_null_key_means_no_keys_and_extra_fields_are_ignored() {
        assert!(
            event(r#"{"seq":1,"family":"f","table":"t"}"#)
                .row_update
                .keys
                .is_empty()
        );
        assert!(
            event(r#"{"seq":1,"family":"f","table":"t","key":null,"ts":3}"#)
                .row_update
                .keys
                .is_empty()
        );
    }

    #[test]
    fn big_integers_keep_every_digit() {
        let e = event(
            r#"{"seq":1,"family":"f","table":"t","key":[{"name":"id","type":"INT","value":340282366920938463463374607431768211457}]}"#,
        );
        assert_eq!(
            e.row_update.keys[0].value.json(),
            "340282366920938463463374607431768211457"
        );
    }

    #[test]
    fn blank_lines_are_blank() {
        assert!(decode(b"").unwrap().is_none());
        assert!(decode(b" \t\r").unwrap().is_none());
    }

    #[test]
    fn rejects_each_kind_of_bad_line() {
        assert!(matches!(reason(b"not json"), InvalidReason::Json(_)));
        assert!(matches!(reason(b"[1,2]"), InvalidReason::Json(_)));
        let missing_seq = reason(br#"{"family":"f","table":"t"}"#);
        assert!(matches!(&missing_seq, InvalidReason::Json(m) if m.contains("seq")));
        let wrong_type = reason(br#"{"seq":"1","family":"f","table":"t"}"#);
        assert!(matches!(&wrong_type, InvalidReason::Json(m) if m.contains("invalid type")));
        let fractional = reason(br#"{"seq":1.5,"family":"f","table":"t"}"#);
        assert!(matches!(fractional, InvalidReason::Json(_)));
        let duplicate = reason(br#"{"seq":1,"seq":2,"family":"f","table":"t"}"#);
        assert!(matches!(&duplicate, InvalidReason::Json(m) if m.contains("duplicate")));
        assert_eq!(
            reason(b"{\"seq\":1,\"family\":\"\xff\",\"table\":\"t\"}"),
            InvalidReason::NotUtf8 { at: 19 }
        );
        let keys_not_list = reason(br#"{"seq":1,"family":"f","table":"t","key":{}}"#);
        assert!(matches!(keys_not_list, InvalidReason::Json(_)));
    }
}
