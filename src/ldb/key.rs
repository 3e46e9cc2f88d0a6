//! From a changelog event's names and key values to SQL: the table name,
//! quoted identifiers, and the values to bind.
//!
//! Key values arrive as the exact JSON text the writer wrote. They are
//! bound by what that text is, not through `f64`: an integer as `i64`
//! (2^53+1 stays itself), a string as its decoded content, a string in a
//! `BLOB` key column as the bytes its base64 stands for, `null` as NULL.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rusqlite::types::{ToSqlOutput, ValueRef};

/// Writes ctlstore's table name for `family` and `table` into `out`
/// (`family___table`, ASCII lower case) and says whether it can be one:
/// ctlstore's names are `[a-z][a-z0-9_]*`. A name that cannot be is
/// never put into SQL.
pub(super) fn table_name(family: &str, table: &str, out: &mut String) -> bool {
    out.clear();
    out.push_str(family);
    out.push_str("___");
    out.push_str(table);
    out.make_ascii_lowercase();
    let mut bytes = out.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Appends `name` as a quoted SQL identifier (`"` doubled inside).
pub(super) fn push_identifier(sql: &mut String, name: &str) {
    sql.push('"');
    for c in name.chars() {
        if c == '"' {
            sql.push('"');
        }
        sql.push(c);
    }
    sql.push('"');
}

/// One key value ready to bind. The buffers are kept between lookups, so
/// that binding a text or blob key allocates only when it grows.
#[derive(Debug, Default)]
pub(super) struct Bind {
    kind: Kind,
    integer: i64,
    real: f64,
    text: String,
    blob: Vec<u8>,
}

#[derive(Debug, Default, Clone, Copy)]
enum Kind {
    #[default]
    Null,
    Integer,
    Real,
    Text,
    Blob,
}

impl Bind {
    /// Sets this slot from a key's SQL type and JSON text. The error says
    /// what is wrong with the value.
    pub(super) fn set(&mut self, type_name: &str, json: &str) -> Result<(), String> {
        let json = json.trim_matches([' ', '\t', '\n', '\r']);
        match json.as_bytes().first() {
            Some(b'"') => {
                self.text.clear();
                if json.len() >= 2 && !json.contains('\\') {
                    self.text.push_str(&json[1..json.len() - 1]);
                } else {
                    let decoded: String = serde_json::from_str(json)
                        .map_err(|e| format!("value {} is not a JSON string: {e}", quote(json)))?;
                    self.text.push_str(&decoded);
                }
                if is_blob_type(type_name) {
                    self.blob.clear();
                    BASE64
                        .decode_vec(self.text.as_bytes(), &mut self.blob)
                        .map_err(|e| format!("BLOB value {} is not base64: {e}", quote(json)))?;
                    self.kind = Kind::Blob;
                } else {
                    self.kind = Kind::Text;
                }
            }
            _ if json == "null" => self.kind = Kind::Null,
            // SQLite has no booleans: it stores them as 1 and 0.
            _ if json == "true" || json == "false" => {
                self.kind = Kind::Integer;
                self.integer = i64::from(json == "true");
            }
            Some(b'-' | b'0'..=b'9') => {
                if let Ok(i) = json.parse::<i64>() {
                    self.kind = Kind::Integer;
                    self.integer = i;
                } else if let Ok(r) = json.parse::<f64>() {
                    // A fraction, an exponent, or an integer past i64
                    // (which SQLite stores as REAL).
                    self.kind = Kind::Real;
                    self.real = r;
                } else {
                    return Err(format!("value {} is not a number", quote(json)));
                }
            }
            _ => {
                return Err(format!(
                    "value {} cannot be a key (not a scalar)",
                    quote(json)
                ));
            }
        }
        Ok(())
    }

    /// The value as SQLite takes it (borrowed: no copy on our side).
    pub(super) fn value(&self) -> ToSqlOutput<'_> {
        ToSqlOutput::Borrowed(match self.kind {
            Kind::Null => ValueRef::Null,
            Kind::Integer => ValueRef::Integer(self.integer),
            Kind::Real => ValueRef::Real(self.real),
            Kind::Text => ValueRef::Text(self.text.as_bytes()),
            Kind::Blob => ValueRef::Blob(&self.blob),
        })
    }
}

/// ctlstore writes `BLOB(255)`; older logs `BLOB`.
fn is_blob_type(type_name: &str) -> bool {
    type_name
        .as_bytes()
        .get(..4)
        .is_some_and(|b| b.eq_ignore_ascii_case(b"blob"))
}

/// A key value for a message: its start only, escaped (it may be
/// megabytes, from anyone who can write the changelog).
fn quote(json: &str) -> String {
    crate::escape::fragment(json.as_bytes(), 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(type_name: &str, json: &str) -> Result<String, String> {
        let mut bind = Bind::default();
        bind.set(type_name, json)?;
        Ok(format!("{:?}", bind.value()))
    }

    #[test]
    fn table_names_are_lower_cased_and_checked() {
        let mut name = String::new();
        assert!(table_name("Fam", "Foo_2", &mut name));
        assert_eq!(name, "fam___foo_2");
        for (family, table) in [
            ("fam", "a\"b"),
            ("2fam", "t"),
            ("", "t"),
            ("fam", "t;drop"),
            ("fäm", "t"),
        ] {
            assert!(!table_name(family, table, &mut name), "{family} {table}");
        }
    }

    #[test]
    fn identifiers_are_quoted() {
        let mut sql = String::new();
        push_identifier(&mut sql, "a\"b");
        assert_eq!(sql, r#""a""b""#);
    }

    #[test]
    fn integers_bind_exactly_and_strings_decoded() {
        assert_eq!(
            bound("INTEGER", "9007199254740993").unwrap(),
            "Borrowed(Integer(9007199254740993))"
        );
        assert_eq!(bound("INT", "1.5").unwrap(), "Borrowed(Real(1.5))");
        assert_eq!(
            bound("INT", "18446744073709551616").unwrap(),
            "Borrowed(Real(1.8446744073709552e19))"
        );
        assert_eq!(
            bound("VARCHAR(191)", r#""a\"b\\c\u00e9""#).unwrap(),
            format!("Borrowed(Text({:?}))", "a\"b\\cé".as_bytes())
        );
        assert_eq!(bound("TEXT", "null").unwrap(), "Borrowed(Null)");
        assert_eq!(
            bound("BLOB(255)", r#""+uw=""#).unwrap(),
            "Borrowed(Blob([250, 236]))"
        );
        assert_eq!(bound("blob", r#""""#).unwrap(), "Borrowed(Blob([]))");
    }

    #[test]
    fn values_that_cannot_be_keys_are_errors() {
        assert!(bound("BLOB", r#""not base64!""#).is_err());
        assert!(bound("INT", "[1]").is_err());
        assert!(bound("INT", r#"{"a":1}"#).is_err());
        assert!(bound("INT", "-").is_err());
    }
}
