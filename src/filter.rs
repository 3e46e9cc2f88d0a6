//! Which events a consumer wants: by family, table and key values.

use crate::event::EventRef;

/// A predicate on events. An empty filter matches everything.
///
/// Families and tables match ASCII case-insensitively and exactly, as Go's
/// `strings.EqualFold` in the original filtered iterator; several of one
/// kind match any of them. Key conditions must all hold: the event has a
/// key column of that name (ASCII case-insensitive, as SQL column names)
/// whose value's [text](crate::KeyValue::text) equals the value.
///
/// ```
/// use changelog_tail::Filter;
/// let filter = Filter::new().family("fam").table("foo").key("id", "42");
/// assert!(!filter.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    families: Vec<String>,
    tables: Vec<String>,
    keys: Vec<(String, String)>,
}

impl Filter {
    /// A filter that matches every event.
    pub fn new() -> Self {
        Filter::default()
    }

    /// Also accept events of family `name` (any of those given).
    pub fn family(mut self, name: impl Into<String>) -> Self {
        self.families.push(name.into());
        self
    }

    /// Also accept events of table `name` (any of those given).
    pub fn table(mut self, name: impl Into<String>) -> Self {
        self.tables.push(name.into());
        self
    }

    /// Require a key column `name` whose value's text is `value`.
    pub fn key(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.keys.push((name.into(), value.into()));
        self
    }

    /// Whether no condition is set.
    pub fn is_empty(&self) -> bool {
        self.families.is_empty() && self.tables.is_empty() && self.keys.is_empty()
    }

    /// Whether an event of `family` and `table` may pass: false means it
    /// cannot, whatever its keys; true means it does if it has no key
    /// conditions ([`has_key_conditions`](Self::has_key_conditions)).
    #[inline]
    pub(crate) fn matches_table(&self, family: &str, table: &str) -> bool {
        any_named(&self.families, family) && any_named(&self.tables, table)
    }

    /// Whether matching needs an event's keys.
    pub(crate) fn has_key_conditions(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Whether `event` passes.
    pub fn matches(&self, event: &EventRef<'_>) -> bool {
        self.matches_table(&event.family, &event.table)
            && self.keys.iter().all(|(name, value)| {
                event.keys().any(|k| {
                    k.name().eq_ignore_ascii_case(name) && k.value_text() == value.as_str()
                })
            })
    }
}

/// Whether `value` is one of `names` (ASCII case folded), or `names` is
/// empty.
#[inline]
fn any_named(names: &[String], value: &str) -> bool {
    names.is_empty()
        || names
            .iter()
            .any(|n| same_name(n.as_bytes(), value.as_bytes()))
}

/// `a` and `b` are the same name, ASCII case folded. Checked for every
/// line of a filtered catch-up, and nearly always false: letters of
/// another case differ only in bit 5, so bytes that differ in any other
/// bit tell two names apart without folding (in one pass with no branch
/// per byte); only names that pass that are folded and compared.
#[inline]
fn same_name(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .fold(0, |differ, (x, y)| differ | ((x ^ y) & !0x20))
            == 0
        && a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::KeyRef;

    fn event<'a>(family: &'a str, table: &'a str, keys: &[(&'a str, &'a str)]) -> EventRef<'a> {
        let keys = keys
            .iter()
            .map(|&(name, value)| KeyRef::new(name.into(), "INT".into(), value))
            .collect();
        EventRef::new(1, family, table, keys)
    }

    #[test]
    fn names_match_case_folded_and_only_so() {
        assert!(same_name(b"Table7", b"tABLE7"));
        assert!(!same_name(b"table7", b"table0"));
        assert!(!same_name(b"table", b"tables"));
        // Bit 5 alone, but not letters: '@' and '`', '[' and '{'.
        assert!(!same_name(b"a@", b"a`"));
        assert!(!same_name(b"[", b"{"));
        assert!(same_name(b"", b""));
    }

    #[test]
    fn empty_matches_all() {
        assert!(Filter::new().matches(&event("f", "t", &[])));
    }

    #[test]
    fn family_and_table_fold_ascii_case_and_match_exactly() {
        let f = Filter::new().family("Fam").table("FOO");
        assert!(f.matches(&event("fam", "foo", &[])));
        assert!(!f.matches(&event("fam", "food", &[])));
        assert!(!f.matches(&event("fa", "foo", &[])));
        assert!(
            Filter::new()
                .table("foo")
                .matches(&event("any", "foo", &[]))
        );
    }

    #[test]
    fn repeated_family_or_table_matches_any() {
        let f = Filter::new().table("a").table("b");
        assert!(f.matches(&event("f", "a", &[])));
        assert!(f.matches(&event("f", "B", &[])));
        assert!(!f.matches(&event("f", "c", &[])));
    }

    #[test]
    fn keys_must_all_match_by_text() {
        let e = event(
            "f",
            "t",
            &[("id", "18446744073709551617"), ("name", r#""bob""#)],
        );
        assert!(Filter::new().key("id", "18446744073709551617").matches(&e));
        assert!(
            Filter::new()
                .key("ID", "18446744073709551617")
                .key("name", "bob")
                .matches(&e)
        );
        assert!(!Filter::new().key("id", "18446744073709551616").matches(&e));
        assert!(
            !Filter::new()
                .key("id", "18446744073709551617")
                .key("name", "al")
                .matches(&e)
        );
        assert!(!Filter::new().key("name", r#""bob""#).matches(&e));
        assert!(!Filter::new().key("other", "bob").matches(&e));
    }
}
