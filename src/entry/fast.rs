//! The fast path: the exact shape Go's `json.Marshal` writes, read in one
//! pass without allocating.
//!
//! `{"seq":N,"family":"F","table":"T","key":[{"name":"N","type":"T","value":V},...]}`
//! (or without `"key"`, or with `"key":null`), no white space, no escapes in
//! names, and values that are numbers, `null`, `true`, `false` or strings
//! without backslashes. Anything else, valid or not, returns `None` and goes
//! to the full JSON decoder, which is the authority: on every line this path
//! accepts, the two agree (a property test holds them to it).

use crate::event::EventRef;

/// The start of a line in the writer's shape: enough to check its `seq`
/// and match its family and table, before reading its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header<'a> {
    /// The writer's sequence number.
    pub(crate) seq: i64,
    /// The table's family.
    pub(crate) family: &'a str,
    /// The table's name.
    pub(crate) table: &'a str,
}

/// Reads `line` if it has the writer's exact shape.
pub(super) fn parse(line: &[u8]) -> Option<EventRef<'_>> {
    let (mut p, header) = head(line)?;
    let head = &p.text[..p.at];
    let mut keys = "";
    if p.literal(br#","key":"#).is_some() && p.literal(b"null").is_none() {
        let start = p.at;
        p.keys()?;
        keys = &p.text[start..p.at];
    }
    p.literal(b"}")?;
    (p.at == line.len())
        .then(|| EventRef::compact(header.seq, header.family, header.table, head, keys))
}

/// Reads the header of `line` if the line has the writer's shape as far
/// as can be told without reading its keys: clean bytes throughout, the
/// header, then keys or the end. (Its keys are checked by [`parse`] when
/// the event is wanted.)
pub(super) fn header(line: &[u8]) -> Option<Header<'_>> {
    // Only the header's bytes are looked at: `{"seq":N,"family":"F","table":"T"`.
    // This runs for every line of a filtered catch-up: one pass over the
    // digits, both names in one look at the 32 bytes where they are (or a
    // word at a time).
    let rest = line.strip_prefix(br#"{"seq":"#)?;
    let (seq, rest) = match plain_seq(rest) {
        Some(read) => read,
        None => signed_seq(rest)?,
    };
    let rest = rest.strip_prefix(br#","family":""#)?;
    let (family, table, rest) = match short_names(rest) {
        Some(names) => names,
        None => {
            let (family, rest) = clean_string(rest)?;
            let rest = rest.strip_prefix(br#","table":""#)?;
            let (table, rest) = clean_string(rest)?;
            (family, table, rest)
        }
    };
    let shaped = rest == b"}" || (rest.starts_with(br#","key":"#) && rest.ends_with(b"}"));
    shaped.then_some(Header { seq, family, table })
}

/// The family and table names when both lie, clean, within the 32 bytes
/// `bytes` starts with (`F","table":"T"`: the family's first byte first),
/// and the bytes after the table's closing quote; `None` for anything else
/// (longer names, or a doubt), which the word-at-a-time path reads. Found
/// from three bit masks of those bytes: quotes, escapes or control bytes,
/// and high bytes.
#[inline]
fn short_names(bytes: &[u8]) -> Option<(&str, &str, &[u8])> {
    const TABLE: &[u8; 11] = br#"","table":""#;
    let (quotes, bad, high) = masks32(bytes.first_chunk::<32>()?)?;
    let family_end = quotes.trailing_zeros() as usize;
    let table_start = family_end + TABLE.len();
    if table_start >= 32 || bytes.get(family_end..table_start)? != TABLE {
        return None;
    }
    let table_end = table_start + (quotes >> table_start).trailing_zeros() as usize;
    if table_end >= 32 {
        return None;
    }
    // Both names, and the literal between them, which has no such byte.
    let names = (1u32 << table_end) - 1;
    if bad & names != 0 {
        return None;
    }
    let (family, table) = (&bytes[..family_end], &bytes[table_start..table_end]);
    let (family, table) = if high & names == 0 {
        // SAFETY: every byte is below 0x80, and ASCII is valid UTF-8.
        unsafe {
            (
                std::str::from_utf8_unchecked(family),
                std::str::from_utf8_unchecked(table),
            )
        }
    } else {
        (
            std::str::from_utf8(family).ok()?,
            std::str::from_utf8(table).ok()?,
        )
    };
    Some((family, table, &bytes[table_end + 1..]))
}

/// Bit masks of 32 bytes: the quotes, the backslashes and bytes below 0x20,
/// and the bytes of 0x80 or more. SSE2, which every x86-64 has; elsewhere
/// `None` (the caller reads a word at a time instead).
#[inline]
fn masks32(block: &[u8; 32]) -> Option<(u32, u32, u32)> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
            _mm_set1_epi8,
        };
        let (mut quotes, mut bad, mut high) = (0u32, 0u32, 0u32);
        for (i, half) in block.chunks_exact(16).enumerate() {
            // SAFETY: SSE2 is in every x86-64 processor (the target's
            // baseline), and the load is of 16 bytes, all within `half`.
            let (q, b, h) = unsafe {
                let x = _mm_loadu_si128(half.as_ptr().cast());
                let quote = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'"' as i8));
                let backslash = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\' as i8));
                // Unsigned: min(b, 0x1f) == b exactly when b < 0x20.
                let control = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x);
                (
                    _mm_movemask_epi8(quote) as u16,
                    _mm_movemask_epi8(_mm_or_si128(backslash, control)) as u16,
                    _mm_movemask_epi8(x) as u16,
                )
            };
            quotes |= u32::from(q) << (16 * i);
            bad |= u32::from(b) << (16 * i);
            high |= u32::from(h) << (16 * i);
        }
        Some((quotes, bad, high))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = block;
        None
    }
}

/// The common `seq`: 1 to 18 digits, no sign, no leading zero (so it fits
/// an `i64` without a check per digit), and the bytes after it. `None`
/// for anything else, which [`signed_seq`] reads (or refuses).
#[inline(always)]
fn plain_seq(bytes: &[u8]) -> Option<(i64, &[u8])> {
    // A byte at a time: a seq is short, and this measured faster than
    // eight at a time (`digit_run`) for it.
    let mut value: i64 = 0;
    let mut digits = 0;
    while let Some(&b) = bytes.get(digits) {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        if digits == 18 {
            return None;
        }
        value = value * 10 + i64::from(digit);
        digits += 1;
    }
    if digits == 0 || (digits > 1 && bytes[0] == b'0') {
        return None;
    }
    Some((value, &bytes[digits..]))
}

/// How many ASCII digits `bytes` starts with, eight at a time: numbers are
/// the most common values of key columns (ids).
#[inline]
fn digit_run(bytes: &[u8]) -> usize {
    const HIGH_NIBBLES: u64 = u64::from_ne_bytes([0xf0; 8]);
    const THREES: u64 = u64::from_ne_bytes([0x30; 8]);
    const SIXES: u64 = u64::from_ne_bytes([0x06; 8]);
    const LOW7: u64 = u64::from_ne_bytes([0x7f; 8]);
    let mut run = 0;
    while let Some(word) = bytes.get(run..run + 8) {
        let w = u64::from_le_bytes(word.try_into().unwrap_or_default());
        // A digit is 0x3_ and stays 0x3_ when 6 is added: other bytes give
        // a non-zero byte here (a carry out of a byte of 0xfa or more only
        // reaches the bytes after it, and it is no digit itself).
        let other =
            ((w & HIGH_NIBBLES) ^ THREES) | ((w.wrapping_add(SIXES) & HIGH_NIBBLES) ^ THREES);
        if other != 0 {
            // The high bit of each non-zero byte, exactly.
            let flags = (((other & LOW7) + LOW7) | other) & !LOW7;
            return run + (flags.trailing_zeros() / 8) as usize;
        }
        run += 8;
    }
    run + bytes[run..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count()
}

/// Any other `seq` as JSON writes an `i64` (a sign, up to the limits).
#[cold]
fn signed_seq(bytes: &[u8]) -> Option<(i64, &[u8])> {
    let digits = bytes
        .iter()
        .position(|&b| !(b.is_ascii_digit() || b == b'-'))?;
    let (number, rest) = bytes.split_at(digits);
    // SAFETY: digits and '-' are ASCII.
    let number = unsafe { std::str::from_utf8_unchecked(number) };
    let mut p = Parser {
        text: number,
        at: 0,
    };
    let seq = p.integer().filter(|_| p.at == number.len())?;
    Some((seq, rest))
}

/// Where the first `"` in `bytes` is, eight bytes at a time (the strings
/// of a line are short: a call of `memchr` would cost more).
#[inline]
fn quote_at(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const QUOTES: u64 = u64::from_ne_bytes([b'"'; 8]);
    let mut at = 0;
    while let Some(word) = bytes.get(at..at + 8) {
        let x = u64::from_le_bytes(word.try_into().ok()?) ^ QUOTES;
        // The lowest byte flagged is exact (a borrow runs only upwards).
        let quote = x.wrapping_sub(ONES) & !x & HIGHS;
        if quote != 0 {
            return Some(at + (quote.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    Some(at + bytes[at..].iter().position(|&b| b == b'"')?)
}

/// A string's content up to its closing quote, if it has no escape and no
/// control character (as the writer's names are), and the bytes after it
/// (names too long for [`short_names`]).
fn clean_string(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let end = quote_at(bytes)?;
    let text = &bytes[..end];
    if text.iter().any(|&b| b == b'\\' || b < 0x20) {
        return None;
    }
    finish_string(bytes, end, !text.is_ascii())
}

/// The string `bytes[..end]` (checked as UTF-8 if it has a byte of 0x80 or
/// more) and what follows its closing quote at `end`.
#[inline]
fn finish_string(bytes: &[u8], end: usize, non_ascii: bool) -> Option<(&str, &[u8])> {
    let (text, rest) = (&bytes[..end], &bytes[end + 1..]);
    let text = if non_ascii {
        std::str::from_utf8(text).ok()?
    } else {
        // SAFETY: every byte is below 0x80, and ASCII is valid UTF-8.
        unsafe { std::str::from_utf8_unchecked(text) }
    };
    Some((text, rest))
}

/// Checks the bytes of the whole line and reads its header; the parser is
/// left just after the table name.
fn head(line: &[u8]) -> Option<(Parser<'_>, Header<'_>)> {
    // The shape has no escapes and no control characters anywhere: checked
    // once for the whole line (in SIMD-sized blocks), so that reading a
    // string below is just finding its closing quote.
    let bytes = classify(line);
    if bytes.escape_or_control {
        return None;
    }
    let text = if bytes.non_ascii {
        std::str::from_utf8(line).ok()?
    } else {
        // SAFETY: every byte is below 0x80, and ASCII is valid UTF-8.
        unsafe { std::str::from_utf8_unchecked(line) }
    };
    // Every slice below starts and ends at an ASCII byte (a quote, a
    // bracket, a digit), so it is valid UTF-8 too.
    let mut p = Parser { text, at: 0 };
    p.literal(br#"{"seq":"#)?;
    let seq = match plain_seq(&p.bytes()[p.at..]) {
        Some((seq, rest)) => {
            p.at = line.len() - rest.len();
            seq
        }
        None => p.integer()?,
    };
    p.literal(br#","family":""#)?;
    let family = p.plain_string()?;
    p.literal(br#","table":""#)?;
    let table = p.plain_string()?;
    Some((p, Header { seq, family, table }))
}

/// What kinds of byte a line holds.
#[derive(Debug, Default, PartialEq, Eq)]
struct Classes {
    /// A backslash or a byte below 0x20.
    escape_or_control: bool,
    /// A byte of 0x80 or more (then the line needs UTF-8 validation).
    non_ascii: bool,
}

/// Classifies a line's bytes in one pass, 16 bytes at a time (SSE2 on
/// x86-64); the last partial block is checked as an overlapping full one.
fn classify(bytes: &[u8]) -> Classes {
    const BLOCK: usize = 16;
    if bytes.len() < BLOCK {
        return classify_bytes(bytes);
    }
    let mut classes = Classes::default();
    let mut add = |block: &[u8; BLOCK]| {
        let (bad, high) = block_classes(block);
        classes.escape_or_control |= bad;
        classes.non_ascii |= high;
    };
    let mut blocks = bytes.chunks_exact(BLOCK);
    for block in &mut blocks {
        add(block.try_into().unwrap_or(&[0; BLOCK]));
    }
    if !blocks.remainder().is_empty()
        && let Some(last) = bytes.last_chunk::<BLOCK>()
    {
        add(last);
    }
    classes
}

/// [`classify`], a byte at a time (for lines under a block).
fn classify_bytes(bytes: &[u8]) -> Classes {
    Classes {
        escape_or_control: bytes.iter().any(|&b| b < 0x20 || b == b'\\'),
        non_ascii: !bytes.is_ascii(),
    }
}

/// Whether 16 bytes hold a backslash or a byte below 0x20, and whether
/// they hold a byte of 0x80 or more: SSE2, which every x86-64 has.
#[cfg(target_arch = "x86_64")]
#[inline]
fn block_classes(block: &[u8; 16]) -> (bool, bool) {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    // SAFETY: SSE2 is in every x86-64 processor (the target's baseline),
    // and the load is of 16 bytes, all of `block`.
    unsafe {
        let x = _mm_loadu_si128(block.as_ptr().cast());
        let backslash = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\' as i8));
        // Unsigned: min(b, 0x1f) == b exactly when b < 0x20.
        let control = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x);
        let bad = _mm_movemask_epi8(_mm_or_si128(backslash, control));
        (bad != 0, _mm_movemask_epi8(x) != 0)
    }
}

/// [`block_classes`] a byte at a time, on processors other than x86-64
/// (where this is not tuned).
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn block_classes(block: &[u8; 16]) -> (bool, bool) {
    let classes = classify_bytes(block);
    (classes.escape_or_control, classes.non_ascii)
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    /// `text[from..to]`, without the check of char boundaries: the parser
    /// only cuts next to an ASCII byte it has just read (a quote, a colon,
    /// a digit, a letter of a literal), which is always a boundary.
    #[inline]
    fn slice(&self, from: usize, to: usize) -> &'a str {
        debug_assert!(self.text.is_char_boundary(from) && self.text.is_char_boundary(to));
        // SAFETY: `from..to` is within `text` (both came from reading it)
        // and both ends are char boundaries (see above).
        unsafe { self.text.get_unchecked(from..to) }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.at).copied()
    }

    /// Reads `expected` (a constant: compared as one array, not a call).
    fn literal<const N: usize>(&mut self, expected: &[u8; N]) -> Option<()> {
        let found: &[u8; N] = self.bytes().get(self.at..self.at + N)?.try_into().ok()?;
        (found == expected).then(|| {
            self.at += N;
        })
    }

    /// An `i64` as JSON writes it: no leading zeros, no fraction.
    fn integer(&mut self) -> Option<i64> {
        let negative = self.literal(b"-").is_some();
        let start = self.at;
        let mut value: i64 = 0;
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            let digit = i64::from(digit - b'0');
            value = value.checked_mul(10)?;
            value = if negative {
                value.checked_sub(digit)?
            } else {
                value.checked_add(digit)?
            };
            self.at += 1;
        }
        let digits = self.at - start;
        if digits == 0 || (digits > 1 && self.bytes()[start] == b'0') {
            return None;
        }
        // serde_json reads `-0` as a float, which is no `i64`: leave it the
        // error it is there.
        if negative && value == 0 {
            return None;
        }
        Some(value)
    }

    /// The content of a string (the opening quote already read; reads the
    /// closing one). The line has no escapes, so the next quote closes it.
    #[inline]
    fn plain_string(&mut self) -> Option<&'a str> {
        let start = self.at;
        let len = quote_at(&self.bytes()[start..])?;
        self.at = start + len + 1;
        Some(self.slice(start, start + len))
    }

    /// Checks `[{"name":…,"type":…,"value":…},…]` (read later by
    /// `CompactKeys`, which relies on exactly this shape).
    fn keys(&mut self) -> Option<()> {
        self.literal(b"[")?;
        if self.literal(b"]").is_some() {
            return Some(());
        }
        loop {
            self.literal(br#"{"name":""#)?;
            self.plain_string()?;
            self.literal(br#","type":""#)?;
            self.plain_string()?;
            self.literal(br#","value":"#)?;
            self.value()?;
            self.literal(b"}")?;
            if self.literal(b"]").is_some() {
                return Some(());
            }
            self.literal(b",")?;
        }
    }

    /// A scalar JSON value's text.
    fn value(&mut self) -> Option<&'a str> {
        let start = self.at;
        match self.peek()? {
            b'"' => {
                self.at += 1;
                self.plain_string()?;
            }
            b'-' | b'0'..=b'9' => self.number()?,
            b'n' => self.literal(b"null")?,
            b't' => self.literal(b"true")?,
            b'f' => self.literal(b"false")?,
            _ => return None,
        }
        Some(self.slice(start, self.at))
    }

    /// JSON's number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Option<()> {
        self.literal(b"-");
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.literal(b".").is_some() {
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.some_digits()?;
        }
        Some(())
    }

    fn digits(&mut self) {
        self.at += digit_run(&self.bytes()[self.at..]);
    }

    fn some_digits(&mut self) -> Option<()> {
        let start = self.at;
        self.digits();
        (self.at > start).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_writers_shape() {
        let line = br#"{"seq":42,"family":"fam","table":"foo","key":[{"name":"id","type":"INT","value":-1.5e3},{"name":"s","type":"TEXT","value":"x y"},{"name":"n","type":"BLOB","value":null}]}"#;
        let event = parse(line).unwrap();
        assert_eq!(event.seq, 42);
        assert_eq!((&*event.family, &*event.table), ("fam", "foo"));
        let values: Vec<&str> = event.keys().map(|k| k.value_json()).collect();
        assert_eq!(values, ["-1.5e3", "\"x y\"", "null"]);
    }

    #[test]
    fn takes_no_key_null_key_and_empty_keys() {
        for line in [
            r#"{"seq":1,"family":"f","table":"t"}"#,
            r#"{"seq":1,"family":"f","table":"t","key":null}"#,
            r#"{"seq":1,"family":"f","table":"t","key":[]}"#,
        ] {
            assert!(
                parse(line.as_bytes()).unwrap().keys().next().is_none(),
                "{line}"
            );
        }
    }

    #[test]
    fn digit_runs_end_at_the_first_other_byte() {
        for len in 0..20 {
            for other in [b'/', b':', b'a', b' ', 0x00, 0xfa, 0xff, b'"'] {
                for tail in [&b""[..], b"1234567890123"] {
                    let mut bytes = vec![b'7'; len];
                    bytes.push(other);
                    bytes.extend_from_slice(tail);
                    assert_eq!(digit_run(&bytes), len, "{len} then {other:#x}");
                }
            }
            assert_eq!(digit_run(&vec![b'0'; len]), len);
        }
    }

    #[test]
    fn keeps_seq_limits() {
        let max = format!(r#"{{"seq":{},"family":"f","table":"t"}}"#, i64::MAX);
        assert_eq!(parse(max.as_bytes()).unwrap().seq, i64::MAX);
        let min = format!(r#"{{"seq":{},"family":"f","table":"t"}}"#, i64::MIN);
        assert_eq!(parse(min.as_bytes()).unwrap().seq, i64::MIN);
        let over = r#"{"seq":9223372036854775808,"family":"f","table":"t"}"#;
        assert!(parse(over.as_bytes()).is_none());
    }

    #[test]
    fn classifies_bytes_in_any_block() {
        for len in [1, 20, 32, 71] {
            for at in (0..len).step_by(7).chain([len - 1]) {
                let mut line = vec![b'a'; len];
                assert_eq!(classify(&line), Classes::default());
                line[at] = b'\\';
                assert!(
                    classify(&line).escape_or_control,
                    "backslash at {at} of {len}"
                );
                line[at] = 0x1f;
                assert!(
                    classify(&line).escape_or_control,
                    "control at {at} of {len}"
                );
                line[at] = 0xc3;
                assert_eq!(
                    classify(&line),
                    Classes {
                        escape_or_control: false,
                        non_ascii: true
                    },
                    "high byte at {at} of {len}"
                );
            }
        }
    }

    #[test]
    fn a_block_is_classified_as_its_bytes_are() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            let mut block = [0u8; 16];
            for b in &mut block {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Mostly plain bytes; now and then one at an edge.
                *b = match x % 16 {
                    0 => b'\\',
                    1 => 0x1f,
                    2 => 0x20,
                    3 => 0x00,
                    4 => 0x80,
                    5 => 0xdc,
                    6 => 0x7f,
                    7 => 0x9f,
                    _ => b'a' + (x % 26) as u8,
                };
            }
            let want = classify_bytes(&block);
            assert_eq!(
                block_classes(&block),
                (want.escape_or_control, want.non_ascii),
                "{block:x?}"
            );
        }
    }

    #[test]
    fn non_utf8_is_left_to_the_full_decoder() {
        assert!(parse(b"{\"seq\":1,\"family\":\"\xc3\x28\",\"table\":\"t\"}").is_none());
        let e = parse("{\"seq\":1,\"family\":\"caf\u{e9}\",\"table\":\"t\"}".as_bytes()).unwrap();
        assert_eq!(e.family, "caf\u{e9}");
    }

    #[test]
    fn leaves_everything_else_to_the_full_decoder() {
        for line in [
            r#"{"seq":01,"family":"f","table":"t"}"#,
            r#"{"seq":1.0,"family":"f","table":"t"}"#,
            r#"{"seq":-,"family":"f","table":"t"}"#,
            r#"{"seq":-0,"family":"f","table":"t"}"#,
            r#"{ "seq":1,"family":"f","table":"t"}"#,
            r#"{"family":"f","seq":1,"table":"t"}"#,
            r#"{"seq":1,"family":"f\"","table":"t"}"#,
            r#"{"seq":1,"family":"f","table":"t","extra":1}"#,
            r#"{"seq":1,"family":"f","table":"t"} "#,
            r#"{"seq":1,"family":"f","table":"t","key":[{"name":"a","type":"b","value":[1]}]}"#,
            r#"{"seq":1,"family":"f","table":"t","key":[{"name":"a","type":"b","value":"\u0041"}]}"#,
            r#"{"seq":1,"family":"f","table":"t","key":[{"name":"a","type":"b","value":1.}]}"#,
            r#"{"seq":1,"family":"f","table":"t","key":[{"name":"a","type":"b","value":01}]}"#,
            r#"{"seq":1,"family":"f","table":"t","key":[{"name":"a","type":"b","value":1e}]}"#,
            r#"{"seq":1,"family":"f","table":"t","key":[{"name":"a","type":"b","value":nul}]}"#,
            r#"{"seq":1,"family":"f","table":"t","key":[{"name":"a","type":"b","value":1},]}"#,
            "{\"seq\":1,\"family\":\"f\u{1}\",\"table\":\"t\"}",
        ] {
            assert!(parse(line.as_bytes()).is_none(), "{line}");
        }
    }

    #[test]
    fn review_classify_is_the_bytes_at_every_length_and_position() {
        for len in 0..=80usize {
            for at in 0..len {
                for bad in [b'\\', 0x1f, 0x00, 0x20, 0x7f, 0x80, 0xc3, 0xff, b'"'] {
                    let mut line = vec![b'a'; len];
                    line[at] = bad;
                    assert_eq!(
                        classify(&line),
                        classify_bytes(&line),
                        "{len} {at} {bad:#x}"
                    );
                }
            }
        }
    }

    #[test]
    fn review_short_names_agree_with_the_word_path_at_every_split() {
        // Family and table names of every length pair around the 32-byte
        // window, with a multi-byte char at every place.
        for flen in 0..24usize {
            for tlen in 0..24usize {
                for wide in [None, Some(0usize), Some(5), Some(15), Some(21)] {
                    let mut family = "f".repeat(flen);
                    if let Some(w) = wide.filter(|&w| w < flen) {
                        family.replace_range(w..w + 1, "\u{e9}");
                    }
                    let table = "t".repeat(tlen);
                    let line =
                        format!(r#"{{"seq":5,"family":"{family}","table":"{table}","key":[]}}"#);
                    let h = header(line.as_bytes()).unwrap();
                    assert_eq!(
                        (h.seq, h.family, h.table),
                        (5, family.as_str(), table.as_str()),
                        "{line}"
                    );
                }
            }
        }
    }
}
