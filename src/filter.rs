//! Which events a consumer wants: by family, table and key values.

use crate::event::EventRef;

/// A predicate on events. An empty filter matches everything.
///
/// Families and tables match ASCII case-insensitively and exactly, as Go's
/// `strings.EqualFold` in the original filtered iterator; several of one
/// kind match any of them. A name with `*`, `?` or `[` is a glob pattern
/// (ctlstore's names never hold these): `*` any run of characters, `?` one
/// character, `[abc]`, `[a-z]` one of a set, `[!abc]` (or `[^abc]`) one
/// not in it; still ASCII case-insensitive, and over the whole name. A `[`
/// with no `]` after it stands for itself (as in fnmatch(3));
/// [`try_family`](Self::try_family) and [`try_table`](Self::try_table)
/// refuse it instead. Key conditions must all hold: the event has a
/// key column of that name (ASCII case-insensitive, as SQL column names)
/// whose value's [text](crate::KeyValue::text) equals the value.
///
/// ```
/// use changelog_tail::Filter;
/// let filter = Filter::new().family("fam").table("user*").key("id", "42");
/// assert!(!filter.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Plain names, compared exactly (the fast path of a filtered
    /// catch-up: no pattern machinery is touched when there is no glob).
    families: Vec<String>,
    tables: Vec<String>,
    /// Names with glob characters, beside the plain ones (any of either).
    family_globs: Vec<Glob>,
    table_globs: Vec<Glob>,
    keys: Vec<(String, String)>,
}

impl Filter {
    /// A filter that matches every event.
    pub fn new() -> Self {
        Filter::default()
    }

    /// Also accept events of family `name`, a name or a glob pattern (any
    /// of those given).
    pub fn family(mut self, name: impl Into<String>) -> Self {
        add(
            &mut self.families,
            &mut self.family_globs,
            name.into(),
            false,
        )
        .expect("a lenient pattern always parses");
        self
    }

    /// Also accept events of table `name`, a name or a glob pattern (any
    /// of those given).
    pub fn table(mut self, name: impl Into<String>) -> Self {
        add(&mut self.tables, &mut self.table_globs, name.into(), false)
            .expect("a lenient pattern always parses");
        self
    }

    /// [`family`](Self::family), but a pattern with a `[` that is never
    /// closed is an error (a typo, more likely than a name holding `[`).
    pub fn try_family(mut self, name: impl Into<String>) -> Result<Self, PatternError> {
        add(
            &mut self.families,
            &mut self.family_globs,
            name.into(),
            true,
        )?;
        Ok(self)
    }

    /// [`table`](Self::table), but a pattern with a `[` that is never
    /// closed is an error.
    pub fn try_table(mut self, name: impl Into<String>) -> Result<Self, PatternError> {
        add(&mut self.tables, &mut self.table_globs, name.into(), true)?;
        Ok(self)
    }

    /// Require a key column `name` whose value's text is `value`.
    pub fn key(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.keys.push((name.into(), value.into()));
        self
    }

    /// Whether no condition is set.
    pub fn is_empty(&self) -> bool {
        self.families.is_empty()
            && self.tables.is_empty()
            && self.family_globs.is_empty()
            && self.table_globs.is_empty()
            && self.keys.is_empty()
    }

    /// Whether an event of `family` and `table` may pass: false means it
    /// cannot, whatever its keys; true means it does if it has no key
    /// conditions ([`has_key_conditions`](Self::has_key_conditions)).
    #[inline]
    pub(crate) fn matches_table(&self, family: &str, table: &str) -> bool {
        // One test for any pattern at all: without, the plain names' code
        // is what it was before patterns existed (a filtered catch-up is
        // this call for every line; folding the patterns into each name
        // list cost 4% of its instructions).
        if !self.family_globs.is_empty() || !self.table_globs.is_empty() {
            return self.matches_table_with_globs(family, table);
        }
        any_named(&self.families, family) && any_named(&self.tables, table)
    }

    /// [`matches_table`](Self::matches_table) when there are patterns:
    /// out of line, to leave the plain path small.
    #[inline(never)]
    fn matches_table_with_globs(&self, family: &str, table: &str) -> bool {
        let any = |names: &[String], globs: &[Glob], value: &str| {
            (names.is_empty() && globs.is_empty())
                || any_named_nonempty(names, value)
                || globs.iter().any(|g| g.matches(value))
        };
        any(&self.families, &self.family_globs, family)
            && any(&self.tables, &self.table_globs, table)
    }

    /// Whether matching needs an event's keys.
    pub(crate) fn has_key_conditions(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Whether `event` passes.
    pub fn matches(&self, event: &EventRef<'_>) -> bool {
        self.matches_table(&event.family, &event.table)
            && self.matches_keys(|name, value| {
                event
                    .keys()
                    .any(|k| k.name().eq_ignore_ascii_case(name) && k.value_text() == value)
            })
    }

    /// Whether every key condition holds, `has(name, value)` saying
    /// whether there is a key column `name` (ASCII case-insensitive) whose
    /// value's text is `value`: for events and for the LDB's rows alike.
    pub(crate) fn matches_keys(&self, mut has: impl FnMut(&str, &str) -> bool) -> bool {
        self.keys.iter().all(|(name, value)| has(name, value))
    }

    /// The (family, table) pairs this filter names outright, when it names
    /// both and has no patterns: each plain family with each plain table.
    /// (A filter with patterns, or on one side only, names none.)
    #[cfg(feature = "ldb")]
    pub(crate) fn named_tables(&self) -> impl Iterator<Item = (&str, &str)> {
        let plain = self.family_globs.is_empty() && self.table_globs.is_empty();
        let families = if plain { &self.families[..] } else { &[] };
        families
            .iter()
            .flat_map(|f| self.tables.iter().map(move |t| (f.as_str(), t.as_str())))
    }
}

/// Adds `name` to the plain names or, if it has glob characters, to the
/// patterns; `strict` refuses an unclosed `[`.
fn add(
    names: &mut Vec<String>,
    globs: &mut Vec<Glob>,
    name: String,
    strict: bool,
) -> Result<(), PatternError> {
    if name.contains(['*', '?', '[']) {
        globs.push(Glob::parse(&name, strict)?);
    } else {
        names.push(name);
    }
    Ok(())
}

/// Whether `value` is one of `names` (ASCII case folded), or `names` is
/// empty.
#[inline]
fn any_named(names: &[String], value: &str) -> bool {
    names.is_empty() || any_named_nonempty(names, value)
}

/// Whether `value` is one of `names` (ASCII case folded).
#[inline]
fn any_named_nonempty(names: &[String], value: &str) -> bool {
    names
        .iter()
        .any(|n| same_name(n.as_bytes(), value.as_bytes()))
}

/// A `--family`/`--table` pattern that cannot be what was meant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pattern {pattern:?}: the '[' at character {at} is never closed by ']'")]
pub struct PatternError {
    /// The pattern as given.
    pub pattern: String,
    /// Where its unclosed `[` is (1-based, in characters).
    pub at: usize,
}

/// One piece of a glob pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// This character (ASCII lower-cased).
    Char(char),
    /// `?`: any one character.
    One,
    /// `*`: any run of characters, none too.
    Star,
    /// `[...]`: one character in (or, negated, not in) these inclusive
    /// ranges (ASCII lower-cased ends; a single character is a range of
    /// one).
    Set {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A glob pattern, parsed once (see [`Filter`] for the syntax).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Glob {
    pieces: Vec<Piece>,
    /// The literal ASCII start of the pattern (`user` of `user*`), lower
    /// case: compared first, bytewise, so that most names of a catch-up are
    /// told apart without the matcher.
    prefix: Vec<u8>,
}

impl Glob {
    /// Parses `pattern`; an unclosed `[` stands for itself unless `strict`.
    fn parse(pattern: &str, strict: bool) -> Result<Glob, PatternError> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut pieces = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let piece = match chars[i] {
                '*' => {
                    // `**` is `*`: one is enough for the matcher.
                    if pieces.last() == Some(&Piece::Star) {
                        i += 1;
                        continue;
                    }
                    Piece::Star
                }
                '?' => Piece::One,
                '[' => match set(&chars[i + 1..]) {
                    Some((piece, used)) => {
                        i += used;
                        piece
                    }
                    None if strict => {
                        return Err(PatternError {
                            pattern: pattern.to_owned(),
                            at: i + 1,
                        });
                    }
                    None => Piece::Char('['),
                },
                c => Piece::Char(c.to_ascii_lowercase()),
            };
            pieces.push(piece);
            i += 1;
        }
        let prefix = pieces
            .iter()
            .map_while(|piece| match piece {
                Piece::Char(c) if c.is_ascii() => Some(*c as u8),
                _ => None,
            })
            .collect();
        Ok(Glob { pieces, prefix })
    }

    /// Whether the whole of `name` matches, ASCII case folded.
    ///
    /// The usual backtracking on the last `*` only: with `*` matching any
    /// run, a later `*` can always take over what an earlier one would
    /// have had to, so O(pattern × name) at worst, without recursion.
    fn matches(&self, name: &str) -> bool {
        let start = name.as_bytes().get(..self.prefix.len());
        if start.is_none_or(|start| !start.eq_ignore_ascii_case(&self.prefix)) {
            return false;
        }
        // ctlstore's names are ASCII: their bytes are their characters,
        // and nothing is allocated per line.
        if name.is_ascii() {
            return self.matches_chars(name.as_bytes(), |b| char::from(b.to_ascii_lowercase()));
        }
        let name: Vec<char> = name.chars().collect();
        self.matches_chars(&name, |c| c.to_ascii_lowercase())
    }

    /// [`matches`](Self::matches) over a name's characters, each lower-cased
    /// by `fold`, once its prefix has matched.
    fn matches_chars<C: Copy>(&self, name: &[C], fold: impl Fn(C) -> char) -> bool {
        // The prefix is matched already (one ASCII character per piece and
        // per character of the name).
        let (mut p, mut n) = (self.prefix.len(), self.prefix.len());
        // Where to resume after the last `*`: its piece, and the name
        // position it has taken up to.
        let mut star: Option<(usize, usize)> = None;
        while n < name.len() {
            match self.pieces.get(p) {
                Some(Piece::Star) => {
                    star = Some((p, n));
                    p += 1;
                    continue;
                }
                Some(piece) if piece.takes(fold(name[n])) => {
                    p += 1;
                    n += 1;
                    continue;
                }
                _ => {}
            }
            match star {
                Some((star_p, star_n)) => {
                    star = Some((star_p, star_n + 1));
                    p = star_p + 1;
                    n = star_n + 1;
                }
                None => return false,
            }
        }
        self.pieces[p..].iter().all(|piece| *piece == Piece::Star)
    }
}

impl Piece {
    /// Whether this (non-`*`) piece takes `c` (already lower-cased).
    fn takes(&self, c: char) -> bool {
        match self {
            Piece::Char(x) => *x == c,
            Piece::One => true,
            Piece::Star => false,
            Piece::Set { negated, ranges } => {
                // Ranges are folded at their ends: `[A-Z]` is `[a-z]`.
                // A range between non-letters (`[0-9]`) holds no letters
                // whose case matters.
                let upper = c.to_ascii_uppercase();
                let within = ranges
                    .iter()
                    .any(|&(lo, hi)| (lo..=hi).contains(&c) || (lo..=hi).contains(&upper));
                within != *negated
            }
        }
    }
}

/// The set after a `[`: the piece and how many characters it used, its
/// closing `]` included; `None` if no `]` closes it. A `]` first (after
/// any `!` or `^`) is a member, as in fnmatch(3).
fn set(chars: &[char]) -> Option<(Piece, usize)> {
    let mut i = 0;
    let negated = matches!(chars.first(), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let c = *chars.get(i)?;
        if c == ']' && !first {
            return Some((Piece::Set { negated, ranges }, i + 1));
        }
        first = false;
        let lo = c.to_ascii_lowercase();
        match (chars.get(i + 1), chars.get(i + 2)) {
            (Some('-'), Some(&hi)) if hi != ']' => {
                ranges.push((lo, hi.to_ascii_lowercase()));
                i += 3;
            }
            _ => {
                ranges.push((lo, lo));
                i += 1;
            }
        }
    }
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

    fn glob(pattern: &str) -> Glob {
        Glob::parse(pattern, true).unwrap()
    }

    #[test]
    fn globs_match_the_whole_name_case_folded() {
        assert!(glob("user*").matches("users"));
        assert!(glob("user*").matches("USER"));
        assert!(!glob("user*").matches("superuser"));
        assert!(glob("*user*").matches("superusers"));
        assert!(glob("t?ble").matches("Table"));
        assert!(!glob("t?ble").matches("tble"));
        assert!(glob("table[0-3]").matches("table2"));
        assert!(!glob("table[0-3]").matches("table4"));
        assert!(glob("[!a]*").matches("bee"));
        assert!(!glob("[^a]*").matches("Ant"));
        assert!(glob("[A-C]x").matches("bx"));
        assert!(glob("[]]").matches("]"));
        assert!(glob("a**b").matches("ab"));
        assert!(glob("*").matches(""));
        assert!(glob("é?").matches("éa"));
    }

    #[test]
    fn an_unclosed_bracket_is_refused_or_itself() {
        let error = Glob::parse("user[", true).unwrap_err();
        assert_eq!(error.at, 5);
        assert_eq!(
            error.to_string(),
            "pattern \"user[\": the '[' at character 5 is never closed by ']'"
        );
        assert!(Glob::parse("user[", false).unwrap().matches("user["));
        assert!(Filter::new().try_table("a[").is_err());
    }

    #[test]
    fn plain_names_and_globs_mix_in_one_filter() {
        let f = Filter::new().table("orders").table("user*");
        assert!(f.matches(&event("f", "orders", &[])));
        assert!(f.matches(&event("f", "users", &[])));
        assert!(!f.matches(&event("f", "order", &[])));
        let f = Filter::new().family("p?y*");
        assert!(f.matches(&event("payments", "t", &[])));
        assert!(!f.matches(&event("pa", "t", &[])));
        assert!(!Filter::new().table("*").is_empty());
    }

    /// An independent reading of the syntax, by recursion over the
    /// pattern's text (exponential, fine for short strings).
    fn reference(pattern: &[char], name: &[char]) -> bool {
        let fold = |c: char| c.to_ascii_lowercase();
        match pattern.first() {
            None => name.is_empty(),
            Some('*') => (0..=name.len()).any(|k| reference(&pattern[1..], &name[k..])),
            Some('?') => !name.is_empty() && reference(&pattern[1..], &name[1..]),
            Some('[') => {
                let body = &pattern[1..];
                let negated = matches!(body.first(), Some('!' | '^'));
                let start = usize::from(negated);
                // The first `]` after the first member closes the set.
                let Some(close) = (start + 1..body.len()).find(|&k| body[k] == ']') else {
                    return name.first().is_some_and(|&c| c == '[')
                        && reference(&pattern[1..], &name[1..]);
                };
                let Some(&c) = name.first() else { return false };
                let members = &body[start..close];
                let mut within = false;
                let mut k = 0;
                while k < members.len() {
                    if k + 2 < members.len() && members[k + 1] == '-' {
                        let (lo, hi) = (fold(members[k]), fold(members[k + 2]));
                        within |= (lo..=hi).contains(&fold(c))
                            || (lo..=hi).contains(&fold(c).to_ascii_uppercase());
                        k += 3;
                    } else {
                        within |= fold(members[k]) == fold(c);
                        k += 1;
                    }
                }
                within != negated && reference(&body[close + 1..], &name[1..])
            }
            Some(&p) => {
                name.first().is_some_and(|&c| fold(c) == fold(p))
                    && reference(&pattern[1..], &name[1..])
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn globs_match_as_the_reference_does(
            pattern in "([abAB*?\\[\\]!-]){0,8}",
            name in "[abAB\\[\\]!-]{0,8}",
        ) {
            let p: Vec<char> = pattern.chars().collect();
            let n: Vec<char> = name.chars().collect();
            let glob = Glob::parse(&pattern, false).unwrap();
            proptest::prop_assert_eq!(glob.matches(&name), reference(&p, &n), "{:?} {:?}", pattern, name);
        }
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
