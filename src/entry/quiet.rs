//! Reading the parts of a line where a string has no business, without
//! quoting it back: serde's stock "invalid type" message copies the whole
//! string into the error, so a hostile line of megabytes would become a
//! warning of megabytes. Here such a string is refused in a few words.
//!
//! Each part is read with `deserialize_any`: asked for a particular type,
//! serde_json refuses a string itself, quoting it.

use super::LineKey;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

fn no_string<E: de::Error>(what: &str) -> E {
    E::custom(format_args!("invalid type: a string, expected {what}"))
}

/// `seq`: an integer that fits an `i64`.
pub(super) fn seq<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    struct Seq;
    impl Visitor<'_> for Seq {
        type Value = i64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an integer (i64)")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::custom(format_args!("seq {v} does not fit an i64")))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
            Err(E::invalid_type(de::Unexpected::Float(v), &self))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<i64, E> {
            Err(no_string("an integer (i64)"))
        }
    }
    deserializer.deserialize_any(Seq)
}

/// `key`: a list of key columns, or `null`.
pub(super) fn keys<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<LineKey<'de>>>, D::Error> {
    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Option<Vec<LineKey<'de>>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of key columns or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(Keys)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut keys = Vec::new();
            while let Some(key) = seq.next_element::<LineKey<'de>>()? {
                keys.push(key);
            }
            Ok(Some(keys))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Err(no_string("a list of key columns or null"))
        }
    }
    deserializer.deserialize_option(Keys)
}

impl<'de> serde::Deserialize<'de> for LineKey<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = LineKey<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key column {\"name\",\"type\",\"value\"}")
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Err(no_string("a key column object"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut name: Option<Cow<'de, str>> = None;
        let mut type_name: Option<Cow<'de, str>> = None;
        let mut value: Option<&'de RawValue> = None;
        while let Some(field) = map.next_key::<Cow<'de, str>>()? {
            match field.as_ref() {
                "name" => set(&mut name, "name", map.next_value::<Borrowed<'de>>()?.0)?,
                "type" => set(&mut type_name, "type", map.next_value::<Borrowed<'de>>()?.0)?,
                "value" => set(&mut value, "value", map.next_value()?)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(LineKey {
            name: name.ok_or_else(|| de::Error::missing_field("name"))?,
            type_name: type_name.ok_or_else(|| de::Error::missing_field("type"))?,
            value: value.ok_or_else(|| de::Error::missing_field("value"))?,
        })
    }
}

/// Sets a field once; a second time is a duplicate, as with derived types.
fn set<T, E: de::Error>(slot: &mut Option<T>, name: &'static str, value: T) -> Result<(), E> {
    if slot.replace(value).is_some() {
        return Err(E::duplicate_field(name));
    }
    Ok(())
}

/// A string borrowed from the line where it has no escapes.
struct Borrowed<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Borrowed<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct Wrap<'a>(#[serde(borrow)] Cow<'a, str>);
        Wrap::deserialize(deserializer).map(|w| Borrowed(w.0))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{InvalidReason, decode};

    fn reason(line: &str) -> String {
        match decode(line.as_bytes()) {
            Err(InvalidReason::Json(text)) => text,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn huge_strings_where_none_belong_are_refused_in_a_few_words() {
        let huge = "\\u0085".repeat(200_000);
        for line in [
            format!(r#"{{"seq":"{huge}","family":"f","table":"t"}}"#),
            format!(r#"{{"seq":1,"family":"f","table":"t","key":"{huge}"}}"#),
            format!(r#"{{"seq":1,"family":"f","table":"t","key":["{huge}"]}}"#),
            format!(r#""{huge}""#),
        ] {
            let text = reason(&line);
            assert!(text.len() < 300, "{}", &text[..300]);
            assert!(text.contains("a string"), "{text}");
        }
    }

    #[test]
    fn keys_read_as_before() {
        let e = decode(br#"{"seq":1,"family":"f","table":"t","key":[{"type":"T","value":[1],"name":"a\"b","x":{}}]}"#)
            .unwrap()
            .unwrap();
        let key = e.keys().next().unwrap();
        assert_eq!(
            (key.name(), key.type_name(), key.value_json()),
            ("a\"b", "T", "[1]")
        );
        assert!(reason(r#"{"seq":1,"family":"f","table":"t","key":[{"name":"a","name":"b","type":"T","value":1}]}"#).contains("duplicate field `name`"));
        assert!(
            reason(r#"{"seq":1,"family":"f","table":"t","key":[{"name":"a","type":"T"}]}"#)
                .contains("missing field `value`")
        );
        assert!(
            reason(r#"{"seq":18446744073709551615,"family":"f","table":"t"}"#)
                .contains("does not fit")
        );
    }
}
