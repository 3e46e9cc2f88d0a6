//! The events a changelog carries, named as in the Go package.
//!
//! An [`Event`] is one changed row: its sequence number and a [`RowUpdate`]
//! naming the table and the primary-key columns ([`Key`]). Serialising an
//! event gives the tool's NDJSON output (SPEC §4): `seq`, `family`, `table`,
//! `keys`, in that order.
//!
//! Key values stay in the exact JSON text they had in the changelog
//! ([`KeyValue`]): the Go reader rounds integers through `f64`, which turns
//! 64-bit ids into other ids; keeping the text keeps every digit.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::fmt;

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
                family_name: f.family,
                table_name: f.table,
                keys: f.keys,
            },
        }
    }
}

/// The table and primary key of a changed row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowUpdate {
    /// The table's family (the part of the LDB table name before `___`).
    #[serde(rename = "family")]
    pub family_name: String,
    /// The table's name within its family.
    #[serde(rename = "table")]
    pub table_name: String,
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

    /// Copies a borrowed raw value (as decoded from a line).
    pub(crate) fn from_raw(raw: &RawValue) -> Self {
        KeyValue(raw.to_owned())
    }

    /// The value's JSON text, exactly as written (strings keep quotes and
    /// escapes, numbers every digit).
    pub fn json(&self) -> &str {
        self.0.get()
    }

    /// The value as text for matching: a string's content (escapes decoded),
    /// anything else as its JSON text.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        let json = self.json();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_in_spec_field_order_with_exact_values() {
        let event = Event {
            seq: 42,
            row_update: RowUpdate {
                family_name: "fam".into(),
                table_name: "foo".into(),
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

    #[test]
    fn text_decodes_strings_and_keeps_numbers() {
        assert_eq!(KeyValue::from_json(r#""plain""#).unwrap().text(), "plain");
        assert_eq!(KeyValue::from_json(r#""tab\t""#).unwrap().text(), "tab\t");
        assert_eq!(KeyValue::from_json("1.50").unwrap().text(), "1.50");
        assert_eq!(KeyValue::from_json("null").unwrap().text(), "null");
    }
}
