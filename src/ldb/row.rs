//! A row read from the LDB and its JSON form (the `"row"` field of the output).
//!
//! The JSON is written straight from the values ([`Row::write_json`]), not
//! through `serde_json::Value`: no map is built per event, and integers
//! keep all 64 bits. [`Serialize`] gives the same bytes for callers that
//! embed a row in their own serde output.

use crate::event::write_json_string;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rusqlite::types::ValueRef;
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;

/// One row of an LDB table as it is now: every column, in table order.
///
/// ```
/// use changelog_tail::{ColumnValue, Row};
/// let row: Row = [
///     ("id".to_owned(), ColumnValue::Integer(9007199254740993)),
///     ("name".to_owned(), ColumnValue::Text("a\"b".to_owned())),
///     ("key".to_owned(), ColumnValue::Blob(vec![0xfa, 0xec])),
///     ("gone".to_owned(), ColumnValue::Null),
/// ]
/// .into_iter()
/// .collect();
/// let mut json = Vec::new();
/// row.write_json(&mut json).unwrap();
/// assert_eq!(
///     String::from_utf8(json).unwrap(),
///     r#"{"id":9007199254740993,"name":"a\"b","key":"+uw=","gone":null}"#
/// );
/// let pretty: Vec<String> = row.iter().map(|(c, v)| format!("{c}={v}")).collect();
/// assert_eq!(pretty[0], "id=9007199254740993");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(docsrs, doc(cfg(feature = "ldb")))]
pub struct Row {
    /// Shared by every row of the same table: a lookup copies no names.
    columns: Arc<[Box<str>]>,
    values: Vec<ColumnValue>,
}

/// One column's value, by SQLite storage class (what the value is, not
/// what the column was declared as).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "ldb")))]
pub enum ColumnValue {
    /// `NULL`; JSON `null`.
    Null,
    /// An integer, exact; a JSON number with every digit.
    Integer(i64),
    /// A floating-point number; a JSON number. JSON cannot hold ±infinity
    /// or NaN (SQLite can store infinity; it stores NaN as `NULL`): a
    /// lookup that meets one fails ([`LdbErrorKind::Value`](super::LdbErrorKind::Value)),
    /// so that `null` never stands for a number. A row built by a caller
    /// that holds one is written as `null`, as `serde_json` and
    /// JavaScript's `JSON.stringify` do, and [`Display`](fmt::Display)
    /// shows them as `inf`/`-inf`/`NaN`.
    Real(f64),
    /// Text (always UTF-8: a lookup that meets other text fails); a JSON
    /// string.
    Text(String),
    /// Bytes; a JSON string of their standard, padded base64, as Go's
    /// `encoding/json` writes `[]byte` (and so as ctlstore's changelog
    /// writes blob keys).
    Blob(Vec<u8>),
}

impl Row {
    pub(super) fn new(columns: Arc<[Box<str>]>, values: Vec<ColumnValue>) -> Self {
        debug_assert_eq!(columns.len(), values.len());
        Row { columns, values }
    }

    /// The values, in table order.
    pub(super) fn values(&self) -> &[ColumnValue] {
        &self.values
    }

    /// The columns and their values, in table order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &ColumnValue)> {
        self.columns.iter().map(|c| &**c).zip(&self.values)
    }

    /// The value of the column named `name` (exact, case-sensitive), if
    /// the row has one.
    pub fn get(&self, name: &str) -> Option<&ColumnValue> {
        self.iter().find(|(c, _)| *c == name).map(|(_, v)| v)
    }

    /// How many columns the row has.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the row has no columns (a table always has one; a `Row`
    /// built by a caller may not).
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Writes the row as one JSON object, `{"col":value,...}` in table
    /// order: the same bytes as serialising it with `serde_json`.
    pub fn write_json(&self, w: &mut impl Write) -> io::Result<()> {
        w.write_all(b"{")?;
        for (i, (column, value)) in self.iter().enumerate() {
            if i > 0 {
                w.write_all(b",")?;
            }
            write_json_string(w, column)?;
            w.write_all(b":")?;
            value.write_json(w)?;
        }
        w.write_all(b"}")
    }
}

/// A row from `(column, value)` pairs, in the order given: for tests of
/// code that prints rows.
impl FromIterator<(String, ColumnValue)> for Row {
    fn from_iter<I: IntoIterator<Item = (String, ColumnValue)>>(iter: I) -> Self {
        let (columns, values): (Vec<Box<str>>, Vec<ColumnValue>) =
            iter.into_iter().map(|(c, v)| (c.into(), v)).unzip();
        Row {
            columns: columns.into(),
            values,
        }
    }
}

impl Serialize for Row {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (column, value) in self.iter() {
            map.serialize_entry(column, value)?;
        }
        map.end()
    }
}

impl ColumnValue {
    /// The value SQLite holds in `column`, if JSON can show it: the error
    /// says why not.
    pub(super) fn read(value: ValueRef<'_>, column: &str) -> Result<ColumnValue, String> {
        Ok(match value {
            ValueRef::Null => ColumnValue::Null,
            ValueRef::Integer(i) => ColumnValue::Integer(i),
            ValueRef::Real(r) if r.is_finite() => ColumnValue::Real(r),
            // JSON has no number for ±infinity (or NaN, which SQLite
            // stores as NULL): `null` would mean "no such row" or SQL
            // NULL, so the read fails and the caller says so (the
            // README, Rows from the LDB).
            ValueRef::Real(r) => {
                return Err(format!(
                    "column {column}: REAL value {r}, which JSON cannot hold"
                ));
            }
            ValueRef::Text(t) => match std::str::from_utf8(t) {
                Ok(t) => ColumnValue::Text(t.to_owned()),
                Err(e) => return Err(format!("column {column}: text that is not UTF-8 ({e})")),
            },
            ValueRef::Blob(b) => ColumnValue::Blob(b.to_vec()),
        })
    }

    /// The value as text for matching `--key` (as
    /// [`KeyValue::text`](crate::KeyValue::text) of the changelog's
    /// form): a string's content, a blob's base64, anything else its JSON.
    pub(crate) fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            ColumnValue::Text(s) => s.as_str().into(),
            ColumnValue::Blob(b) => BASE64.encode(b).into(),
            ColumnValue::Integer(i) => itoa::Buffer::new().format(*i).to_owned().into(),
            other => other.to_string().into(),
        }
    }

    /// The value's JSON text (see [`write_json`](Self::write_json)).
    pub(super) fn to_json(&self) -> String {
        let mut json = Vec::new();
        // Writing to a Vec cannot fail, and JSON is UTF-8.
        let _ = self.write_json(&mut json);
        String::from_utf8_lossy(&json).into_owned()
    }

    /// Writes the value as JSON (see the variants for each form).
    pub fn write_json(&self, w: &mut impl Write) -> io::Result<()> {
        match self {
            ColumnValue::Null => w.write_all(b"null"),
            ColumnValue::Integer(i) => w.write_all(itoa::Buffer::new().format(*i).as_bytes()),
            // serde_json writes the shortest text that reads back as the
            // same f64 (ryu), and `null` for ±inf and NaN.
            ColumnValue::Real(r) => serde_json::to_writer(w, r).map_err(io::Error::from),
            ColumnValue::Text(s) => write_json_string(w, s),
            ColumnValue::Blob(b) => {
                w.write_all(b"\"")?;
                w.write_all(BASE64.encode(b).as_bytes())?;
                w.write_all(b"\"")
            }
        }
    }
}

impl Serialize for ColumnValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ColumnValue::Null => serializer.serialize_unit(),
            ColumnValue::Integer(i) => serializer.serialize_i64(*i),
            ColumnValue::Real(r) => serializer.serialize_f64(*r),
            ColumnValue::Text(s) => serializer.serialize_str(s),
            ColumnValue::Blob(b) => serializer.serialize_str(&BASE64.encode(b)),
        }
    }
}

/// The value's JSON text (strings quoted and escaped, blobs as quoted
/// base64), except that ±infinity shows as `inf`/`-inf` rather than `null`
/// so that a person can tell it from `NULL`.
impl fmt::Display for ColumnValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let ColumnValue::Real(r) = self
            && !r.is_finite()
        {
            return write!(f, "{r}");
        }
        let mut json = Vec::new();
        self.write_json(&mut json).map_err(|_| fmt::Error)?;
        f.write_str(&String::from_utf8_lossy(&json))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Row {
        [
            ("big", ColumnValue::Integer(i64::MIN)),
            ("r", ColumnValue::Real(0.1)),
            ("whole", ColumnValue::Real(3.0)),
            ("inf", ColumnValue::Real(f64::NEG_INFINITY)),
            ("t", ColumnValue::Text("q\"b\\s\n\u{1}é\u{2028}".into())),
            ("b", ColumnValue::Blob(vec![0, 0xff, 0x10])),
            ("n", ColumnValue::Null),
        ]
        .into_iter()
        .map(|(c, v)| (c.to_owned(), v))
        .collect()
    }

    #[test]
    fn write_json_is_what_serde_writes() {
        let mut ours = Vec::new();
        row().write_json(&mut ours).unwrap();
        let ours = String::from_utf8(ours).unwrap();
        assert_eq!(ours, serde_json::to_string(&row()).unwrap());
        assert_eq!(
            ours,
            concat!(
                r#"{"big":-9223372036854775808,"r":0.1,"whole":3.0,"inf":null,"#,
                r#""t":"q\"b\\s\n\u0001é"#,
                "\u{2028}",
                r#"","b":"AP8Q","n":null}"#
            )
        );
    }

    #[test]
    fn display_shows_json_but_infinity_as_inf() {
        let shown: Vec<String> = row().iter().map(|(c, v)| format!("{c}={v}")).collect();
        assert_eq!(
            shown,
            [
                "big=-9223372036854775808",
                "r=0.1",
                "whole=3.0",
                "inf=-inf",
                "t=\"q\\\"b\\\\s\\n\\u0001é\u{2028}\"",
                r#"b="AP8Q""#,
                "n=null"
            ]
        );
    }

    #[test]
    fn get_finds_a_column_by_name() {
        assert_eq!(row().get("big"), Some(&ColumnValue::Integer(i64::MIN)));
        assert_eq!(row().get("nope"), None);
    }
}
