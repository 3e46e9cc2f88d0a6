//! The events a changelog carries, named as in the Go package.
//!
//! An [`Event`] is one changed row: its sequence number and a [`RowUpdate`]
//! naming the table and the primary-key columns ([`Key`]). Serialising an
//! event gives the tool's NDJSON output (see the README): `seq`, `family`, `table`,
//! `keys`, in that order.
//!
//! Names are the output's (and the Go package's JSON names) on every
//! layer: `seq`, `family`, `table`, `keys`, and for a key `name`,
//! `type_name` (`type` is a keyword) and `value`. [`EventRef`] and
//! [`KeyRef`] are the same, borrowed from the line.
//!
//! `Display` gives the pretty one-line form the command line prints on a
//! terminal (without colours): `seq family.table name=value …`, each key
//! value as its JSON text, with terminal controls escaped ([`printable`]).
//!
//! Key values stay in the exact JSON text they had in the changelog
//! ([`KeyValue`]): the Go reader rounds integers through `f64`, which turns
//! 64-bit ids into other ids; keeping the text keeps every digit.

use crate::escape::printable;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};

/// One row change read from the changelog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "EventFields")]
pub struct Event {
    /// The writer's sequence number: one more than the previous line's.
    pub seq: i64,
    /// Which row changed.
    #[serde(flatten)]
    pub row_update: RowUpdate,
}

/// The flat output shape, for reading events back. (`flatten` cannot be
/// used to read: it buffers values, which loses [`KeyValue`]'s raw text.)
#[derive(Deserialize)]
struct EventFields {
    seq: i64,
    family: String,
    table: String,
    keys: Vec<Key>,
}

impl From<EventFields> for Event {
    fn from(f: EventFields) -> Self {
        Event {
            seq: f.seq,
            row_update: RowUpdate {
                family: f.family,
                table: f.table,
                keys: f.keys,
            },
        }
    }
}

/// The table and primary key of a changed row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowUpdate {
    /// The table's family (the part of the LDB table name before `___`).
    pub family: String,
    /// The table's name within its family.
    pub table: String,
    /// The primary-key columns of the changed row, in the writer's order.
    pub keys: Vec<Key>,
}

/// One primary-key column of a changed row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    /// The column's name.
    pub name: String,
    /// The column's SQL type as the writer named it (`INT`, `VARCHAR`, …).
    #[serde(rename = "type")]
    pub type_name: String,
    /// The column's value, as the JSON text the writer wrote.
    pub value: KeyValue,
}

/// A key value kept as the exact JSON text it was written as.
///
/// ```
/// use changelog_tail::KeyValue;
/// let big = KeyValue::from_json("18446744073709551617").unwrap();
/// assert_eq!(big.json(), "18446744073709551617");
/// assert_eq!(KeyValue::from_json(r#""a\u0041""#).unwrap().text(), "aA");
/// ```
#[derive(Clone, Serialize)]
#[serde(transparent)]
pub struct KeyValue(Box<RawValue>);

// By hand: serde's `transparent` wraps the value in a newtype, which
// `RawValue` refuses to be read through.
impl<'de> Deserialize<'de> for KeyValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(KeyValue)
    }
}

impl KeyValue {
    /// Wraps JSON text, checking that it is one valid JSON value.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        RawValue::from_string(json.to_owned()).map(KeyValue)
    }

    /// JSON text a decoder has already checked. Should it not be valid
    /// after all, it is kept as a JSON string of that text rather than
    /// lost (or panicked over).
    pub(crate) fn from_checked(json: &str) -> Self {
        KeyValue::from_json(json).unwrap_or_else(|_| {
            let quoted = serde_json::to_string(json).unwrap_or_else(|_| "null".into());
            KeyValue::from_json(&quoted).unwrap_or_else(|_| KeyValue(RawValue::NULL.to_owned()))
        })
    }

    /// The value's JSON text, exactly as written (strings keep quotes and
    /// escapes, numbers every digit).
    pub fn json(&self) -> &str {
        self.0.get()
    }

    /// The value as text for matching: a string's content (escapes decoded),
    /// anything else as its JSON text.
    pub fn text(&self) -> Cow<'_, str> {
        json_text(self.json())
    }
}

impl PartialEq for KeyValue {
    fn eq(&self, other: &Self) -> bool {
        self.json() == other.json()
    }
}

impl Eq for KeyValue {}

impl fmt::Debug for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.json())
    }
}

impl fmt::Display for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.json())
    }
}

/// An event borrowed from the line it was read from: what the hot path
/// works with, without allocating. [`to_event`](Self::to_event) makes an
/// owned [`Event`].
#[derive(Debug, Clone)]
pub struct EventRef<'a> {
    /// The writer's sequence number.
    pub seq: i64,
    /// The table's family (borrowed unless it had escapes).
    pub family: Cow<'a, str>,
    /// The table's name (borrowed unless it had escapes).
    pub table: Cow<'a, str>,
    keys: KeysRef<'a>,
}

/// Where an event in the writer's exact shape lies in its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CompactRanges {
    seq: i64,
    family: std::ops::Range<usize>,
    table: std::ops::Range<usize>,
    head: std::ops::Range<usize>,
    keys: std::ops::Range<usize>,
}

/// The key columns of an [`EventRef`].
#[derive(Debug, Clone)]
enum KeysRef<'a> {
    /// The key array exactly as the writer writes it, already checked by
    /// the fast path (`[{"name":"…","type":"…","value":…},…]`; empty for
    /// none): read when asked for, so that an event the filter drops costs
    /// no more than the check. `head` is the line up to the end of the
    /// table name (`{"seq":…,"family":"…","table":"…"`): with the keys it
    /// makes the NDJSON output without re-serialising.
    Compact { head: &'a str, keys: &'a str },
    /// Decoded by serde_json.
    Decoded(Vec<KeyRef<'a>>),
}

/// A key column borrowed from its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRef<'a> {
    name: Cow<'a, str>,
    type_name: Cow<'a, str>,
    /// Valid JSON (checked by the decoder that made it).
    value: &'a str,
}

impl<'a> KeyRef<'a> {
    /// A key whose `value` is JSON text the decoder has checked.
    pub(crate) fn new(name: Cow<'a, str>, type_name: Cow<'a, str>, value: &'a str) -> Self {
        KeyRef {
            name,
            type_name,
            value,
        }
    }

    /// The column's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The column's SQL type as the writer named it.
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// The value's JSON text, exactly as written.
    pub fn value_json(&self) -> &'a str {
        self.value
    }

    /// The value as text for matching: a string's content (escapes
    /// decoded), anything else as its JSON text.
    pub fn value_text(&self) -> Cow<'_, str> {
        json_text(self.value)
    }

    /// An owned copy.
    pub fn to_key(&self) -> Key {
        Key {
            name: self.name.clone().into_owned(),
            type_name: self.type_name.clone().into_owned(),
            value: KeyValue::from_checked(self.value),
        }
    }
}

impl<'a> EventRef<'a> {
    /// An event with these parts (keys from a decoder that checked them).
    pub(crate) fn new(
        seq: i64,
        family: impl Into<Cow<'a, str>>,
        table: impl Into<Cow<'a, str>>,
        keys: Vec<KeyRef<'a>>,
    ) -> Self {
        EventRef {
            seq,
            family: family.into(),
            table: table.into(),
            keys: KeysRef::Decoded(keys),
        }
    }

    /// An event whose key array `keys` has the writer's exact shape and has
    /// been checked (see `entry::fast`).
    pub(crate) fn compact(
        seq: i64,
        family: &'a str,
        table: &'a str,
        head: &'a str,
        keys: &'a str,
    ) -> Self {
        EventRef {
            seq,
            family: family.into(),
            table: table.into(),
            keys: KeysRef::Compact { head, keys },
        }
    }

    /// Where the parts of an event in the writer's exact shape lie in
    /// `line` (the line it was decoded from), so that it can be had again
    /// without decoding ([`from_compact`](Self::from_compact)).
    pub(crate) fn compact_ranges(&self, line: &[u8]) -> Option<CompactRanges> {
        let KeysRef::Compact { head, keys } = self.keys else {
            return None;
        };
        let (Cow::Borrowed(family), Cow::Borrowed(table)) = (&self.family, &self.table) else {
            return None;
        };
        let base = line.as_ptr() as usize;
        let range = |part: &str| {
            let start = (part.as_ptr() as usize).checked_sub(base)?;
            (start + part.len() <= line.len()).then_some(start..start + part.len())
        };
        Some(CompactRanges {
            seq: self.seq,
            family: range(family)?,
            table: range(table)?,
            head: range(head)?,
            keys: range(keys)?,
        })
    }

    /// The event [`compact_ranges`](Self::compact_ranges) described, from
    /// the same line: no decoding, one UTF-8 check of the line.
    pub(crate) fn from_compact(line: &'a [u8], ranges: &CompactRanges) -> Option<Self> {
        let text = std::str::from_utf8(line).ok()?;
        Some(EventRef::compact(
            ranges.seq,
            text.get(ranges.family.clone())?,
            text.get(ranges.table.clone())?,
            text.get(ranges.head.clone())?,
            text.get(ranges.keys.clone())?,
        ))
    }

    /// The key columns, in the writer's order.
    pub fn keys(&self) -> impl Iterator<Item = KeyRef<'a>> + '_ {
        let (compact, decoded) = match &self.keys {
            KeysRef::Compact { keys, .. } => (Some(CompactKeys { rest: keys }), None),
            KeysRef::Decoded(keys) => (None, Some(keys.iter().cloned())),
        };
        compact
            .into_iter()
            .flatten()
            .chain(decoded.into_iter().flatten())
    }

    /// An owned copy.
    pub fn to_event(&self) -> Event {
        Event {
            seq: self.seq,
            row_update: RowUpdate {
                family: self.family.clone().into_owned(),
                table: self.table.clone().into_owned(),
                keys: self.keys().map(|k| k.to_key()).collect(),
            },
        }
    }
}

impl EventRef<'_> {
    /// Writes the event as one line of the tool's NDJSON (without the
    /// newline): the same bytes serde_json writes for [`Event`]. An event in
    /// the writer's exact shape is copied, not re-serialised: only the
    /// field name `key` becomes `keys`.
    pub fn write_json(&self, w: &mut impl Write) -> io::Result<()> {
        if let KeysRef::Compact { head, keys } = self.keys {
            w.write_all(head.as_bytes())?;
            w.write_all(b",\"keys\":")?;
            w.write_all(if keys.is_empty() {
                b"[]"
            } else {
                keys.as_bytes()
            })?;
            return w.write_all(b"}");
        }
        w.write_all(b"{\"seq\":")?;
        w.write_all(itoa::Buffer::new().format(self.seq).as_bytes())?;
        w.write_all(b",\"family\":")?;
        write_json_string(w, &self.family)?;
        w.write_all(b",\"table\":")?;
        write_json_string(w, &self.table)?;
        w.write_all(b",\"keys\":[")?;
        for (i, key) in self.keys().enumerate() {
            w.write_all(if i == 0 {
                b"{\"name\":"
            } else {
                b",{\"name\":"
            })?;
            write_json_string(w, &key.name)?;
            w.write_all(b",\"type\":")?;
            write_json_string(w, &key.type_name)?;
            w.write_all(b",\"value\":")?;
            w.write_all(key.value.as_bytes())?;
            w.write_all(b"}")?;
        }
        w.write_all(b"]}")
    }
}

/// A JSON string: quoted as it is when nothing needs escaping (the common
/// case), else escaped by serde_json.
pub(crate) fn write_json_string(w: &mut impl Write, s: &str) -> io::Result<()> {
    if s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        return serde_json::to_writer(w, s).map_err(io::Error::from);
    }
    w.write_all(b"\"")?;
    w.write_all(s.as_bytes())?;
    w.write_all(b"\"")
}

impl PartialEq for EventRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
            && self.family == other.family
            && self.table == other.table
            && self.keys().eq(other.keys())
    }
}

impl Eq for EventRef<'_> {}

/// The pretty one-line form: `seq family.table name=value …`, as the
/// command line prints it on a terminal (without colours). Names and values
/// that could drive a terminal are escaped ([`printable`]).
///
/// ```
/// use changelog_tail::{Event, Key, KeyValue, RowUpdate};
///
/// let event = Event {
///     seq: 42,
///     row_update: RowUpdate {
///         family: "payments".into(),
///         table: "accounts".into(),
///         keys: vec![Key {
///             name: "id".into(),
///             type_name: "VARCHAR".into(),
///             value: KeyValue::from_json(r#""a\u001b[2J""#).unwrap(),
///         }],
///     },
/// };
/// assert_eq!(event.to_string(), r#"42 payments.accounts id="a\u001b[2J""#);
/// ```
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let update = &self.row_update;
        write_pretty(f, self.seq, &update.family, &update.table, &update.keys)
    }
}

/// `name=value`: the column's name and the value's JSON text as written
/// (strings quoted, numbers with every digit), terminal controls escaped
/// ([`printable`]).
///
/// ```
/// use changelog_tail::{Key, KeyValue};
///
/// let key = Key {
///     name: "id".into(),
///     type_name: "INT".into(),
///     value: KeyValue::from_json("18446744073709551617").unwrap(),
/// };
/// assert_eq!(key.to_string(), "id=18446744073709551617");
/// let bell = Key { name: "n\u{7}".into(), ..key };
/// assert_eq!(bell.to_string(), "n\\u{7}=18446744073709551617");
/// ```
impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_key(f, &self.name, self.value.json())
    }
}

/// As [`Event`]'s: `seq family.table name=value …`.
impl fmt::Display for EventRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_pretty(f, self.seq, &self.family, &self.table, self.keys())
    }
}

/// As [`Key`]'s: `name=value`.
impl fmt::Display for KeyRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_key(f, &self.name, self.value)
    }
}

/// The pretty line of an event, owned or borrowed.
fn write_pretty<K: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    seq: i64,
    family: &str,
    table: &str,
    keys: impl IntoIterator<Item = K>,
) -> fmt::Result {
    write!(f, "{seq} {}.{}", printable(family), printable(table))?;
    for key in keys {
        write!(f, " {key}")?;
    }
    Ok(())
}

/// One key of the pretty line.
fn write_key(f: &mut fmt::Formatter<'_>, name: &str, json: &str) -> fmt::Result {
    write!(f, "{}={}", printable(name), printable(json))
}

/// Reads a checked compact key array: every name and type is a string
/// without escapes, every value a scalar whose strings have no backslash,
/// so the next `"` always closes a string and a `}` always ends a key.
struct CompactKeys<'a> {
    rest: &'a str,
}

impl<'a> Iterator for CompactKeys<'a> {
    type Item = KeyRef<'a>;

    fn next(&mut self) -> Option<KeyRef<'a>> {
        const NAME: &str = r#"{"name":""#;
        const TYPE: &str = r#"","type":""#;
        const VALUE: &str = r#"","value":"#;
        let rest = self.rest.trim_start_matches(['[', ',']);
        let rest = rest.strip_prefix(NAME)?;
        let (name, rest) = rest.split_at(rest.find('"')?);
        let rest = rest.strip_prefix(TYPE)?;
        let (type_name, rest) = rest.split_at(rest.find('"')?);
        let rest = rest.strip_prefix(VALUE)?;
        let value_len = if let Some(string) = rest.strip_prefix('"') {
            string.find('"')? + 2
        } else {
            rest.find('}')?
        };
        let (value, rest) = rest.split_at(value_len);
        self.rest = rest.strip_prefix('}')?;
        Some(KeyRef::new(name.into(), type_name.into(), value))
    }
}

/// A string's content, or any other value's JSON text.
fn json_text(json: &str) -> Cow<'_, str> {
    if json.starts_with('"') {
        if !json.contains('\\') {
            return json[1..json.len() - 1].into();
        }
        if let Ok(s) = serde_json::from_str::<String>(json) {
            return s.into();
        }
    }
    json.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_in_spec_field_order_with_exact_values() {
        let event = Event {
            seq: 42,
            row_update: RowUpdate {
                family: "fam".into(),
                table: "foo".into(),
                keys: vec![Key {
                    name: "id".into(),
                    type_name: "INT".into(),
                    value: KeyValue::from_json("123456789012345678901").unwrap(),
                }],
            },
        };
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"seq":42,"family":"fam","table":"foo","keys":[{"name":"id","type":"INT","value":123456789012345678901}]}"#
        );
    }

    #[test]
    fn events_read_back_what_they_write() {
        let json = r#"{"seq":1,"family":"f","table":"t","keys":[{"name":"id","type":"INT","value":18446744073709551617}]}"#;
        let event: Event = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&event).unwrap(), json);
    }

    fn json_of(line: &str) -> (String, String) {
        let event = crate::entry::decode(line.as_bytes()).unwrap().unwrap();
        let mut ours = Vec::new();
        event.write_json(&mut ours).unwrap();
        let theirs = serde_json::to_string(&event.to_event()).unwrap();
        (String::from_utf8(ours).unwrap(), theirs)
    }

    #[test]
    fn write_json_is_what_serde_writes_on_both_paths() {
        for line in [
            r#"{"seq":1,"family":"f","table":"t","key":[{"name":"id","type":"INT","value":18446744073709551617},{"name":"s","type":"TEXT","value":"a b"}]}"#,
            r#"{"seq":-2,"family":"f","table":"t"}"#,
            r#"{"seq":3,"family":"f","table":"t","key":null}"#,
            r#"{"seq":4,"family":"f","table":"t","key":[]}"#,
            r#"{"table":"t\"\n\u0001é","seq":5,"family":"f","key":[{"value":"\u0041","type":"T","name":"n\\"}]}"#,
            r#" {"seq":6,"family":"f","table":"t","key":[{"name":"n","type":"T","value": [1, {"a":2}] }]} "#,
        ] {
            let (ours, theirs) = json_of(line);
            assert_eq!(ours, theirs, "{line}");
        }
    }

    #[test]
    fn display_is_the_same_owned_and_borrowed_on_both_paths() {
        for (line, shown) in [
            (
                r#"{"seq":9,"family":"f","table":"t","key":[{"name":"id","type":"INT","value":99999999999999999999},{"name":"s","type":"TEXT","value":"a\u0041"}]}"#,
                r#"9 f.t id=99999999999999999999 s="a\u0041""#,
            ),
            (
                r#"{"seq":1,"family":"f\u001b[2J","table":"t\u202e","key":[{"name":"n\u0007","type":"TEXT","value":"\u009b"}]}"#,
                r#"1 f\u{1b}[2J.t\u{202e} n\u{7}="\u009b""#,
            ),
            (r#"{"seq":3,"family":"f","table":"t"}"#, "3 f.t"),
        ] {
            let event = crate::entry::decode(line.as_bytes()).unwrap().unwrap();
            assert_eq!(event.to_string(), shown, "{line}");
            assert_eq!(event.to_event().to_string(), shown, "{line}");
        }
    }

    #[test]
    fn text_decodes_strings_and_keeps_numbers() {
        assert_eq!(KeyValue::from_json(r#""plain""#).unwrap().text(), "plain");
        assert_eq!(KeyValue::from_json(r#""tab\t""#).unwrap().text(), "tab\t");
        assert_eq!(KeyValue::from_json("1.50").unwrap().text(), "1.50");
        assert_eq!(KeyValue::from_json("null").unwrap().text(), "null");
    }
}
