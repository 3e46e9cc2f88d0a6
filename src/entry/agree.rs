//! The fast path and the full JSON decoder agree on every line: the fast
//! path may only take lines the full decoder reads the same way.

use super::{decode, decode_json};

use proptest::prelude::*;

/// Text that stresses string handling: quotes, backslashes, escapes,
/// control characters, multi-byte characters.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => "[a-z0-9_]",
            1 => Just("\"".to_string()),
            1 => Just("\\".to_string()),
            1 => Just("\\n".to_string()),
            1 => Just("\\u0041".to_string()),
            1 => Just("\\ud800".to_string()),
            1 => Just("\u{1}".to_string()),
            1 => Just("é".to_string()),
            1 => Just("}".to_string()),
            1 => Just(",".to_string()),
        ],
        0..6,
    )
    .prop_map(|parts| parts.concat())
}

/// Numbers and other scalars, valid and not.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| format!("{n}0")),
        any::<f64>().prop_map(|f| f.to_string()),
        "-?(0|[1-9][0-9]{0,3})(\\.[0-9]{0,2})?([eE][+-]?[0-9]{0,2})?",
        "0[0-9]{1,3}",
        text().prop_map(|t| format!("\"{t}\"")),
        Just("null".to_string()),
        Just("true".to_string()),
        Just("fals".to_string()),
        Just("[1,{\"a\":2}]".to_string()),
    ]
}

fn seq() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => any::<i64>().prop_map(|n| n.to_string()),
        8 => (-10i64..100_000_000).prop_map(|n| n.to_string()),
        1 => (10i64.pow(17)..i64::MAX).prop_map(|n| n.to_string()),
        1 => Just("9223372036854775808".to_string()),
        1 => Just("-0".to_string()),
        1 => Just("01".to_string()),
        1 => Just("1.0".to_string()),
        1 => Just("\"1\"".to_string()),
    ]
}

/// Lines in (or near) the writer's shape.
fn line() -> impl Strategy<Value = Vec<u8>> {
    let key = (text(), text(), value())
        .prop_map(|(n, t, v)| format!(r#"{{"name":"{n}","type":"{t}","value":{v}}}"#));
    let keys = prop_oneof![
        Just(String::new()),
        Just(r#","key":null"#.to_string()),
        prop::collection::vec(key, 0..3).prop_map(|k| format!(r#","key":[{}]"#, k.join(","))),
    ];
    (
        seq(),
        text(),
        text(),
        keys,
        prop::option::of(any::<(usize, u8)>()),
    )
        .prop_map(|(seq, family, table, keys, mutation)| {
            let mut line =
                format!(r#"{{"seq":{seq},"family":"{family}","table":"{table}"{keys}}}"#)
                    .into_bytes();
            // Sometimes one byte anywhere is changed to anything.
            if let Some((at, byte)) = mutation
                && !line.is_empty()
            {
                let at = at % line.len();
                line[at] = byte;
            }
            line
        })
}

fn assert_agree(line: &[u8]) {
    let fast = decode(line);
    let full = decode_json(line);
    // The header alone (read for every line of a filtered catch-up) says
    // what the full decoder says, and is there for every shaped line.
    let header = super::header(line);
    if let (Some(h), Ok(Some(e))) = (&header, &full) {
        assert_eq!(
            (h.seq, h.family, h.table),
            (e.seq, &*e.family, &*e.table),
            "header of {:?}",
            String::from_utf8_lossy(line)
        );
    }
    if super::shaped(line).is_some() {
        assert!(
            header.is_some(),
            "no header for {:?}",
            String::from_utf8_lossy(line)
        );
    }
    match (&fast, &full) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{}", String::from_utf8_lossy(line)),
        (Err(_), Err(_)) => {}
        _ => panic!(
            "disagree on {:?}: {fast:?} vs {full:?}",
            String::from_utf8_lossy(line)
        ),
    }
    // And the values they hand out are the same JSON text, and the NDJSON
    // they print is the same bytes: the fast path's is the line copied
    // with `"key":` made `"keys":`, the full path's is serialised.
    if let (Ok(Some(a)), Ok(Some(b))) = (fast, full) {
        let (mut out_a, mut out_b) = (Vec::new(), Vec::new());
        a.write_json(&mut out_a).unwrap();
        b.write_json(&mut out_b).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out_a),
            String::from_utf8_lossy(&out_b),
            "NDJSON of {:?}",
            String::from_utf8_lossy(line)
        );
        let (a, b): (Vec<&str>, Vec<&str>) = (
            a.keys().map(|k| k.value_json()).collect(),
            b.keys().map(|k| k.value_json()).collect(),
        );
        assert_eq!(a, b);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 4000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn fast_path_and_full_json_agree_on_writer_shaped_lines(line in line()) {
        assert_agree(&line);
    }

    #[test]
    fn fast_path_and_full_json_agree_on_any_bytes(line in prop::collection::vec(any::<u8>(), 0..200)) {
        assert_agree(&line);
    }
}

/// Names of any length around the 32 bytes `short_names` looks at, with
/// multi-byte characters (that may straddle its edge), quotes, escapes and
/// control bytes.
fn review_name() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            8 => "[a-z_]",
            1 => Just("é".to_string()),
            1 => Just("€".to_string()),
            1 => Just("😀".to_string()),
            1 => Just("\"".to_string()),
            1 => Just("\\".to_string()),
            1 => Just("\u{1f}".to_string()),
            1 => Just("\u{7f}".to_string()),
        ],
        0..45,
    )
    .prop_map(|parts| parts.concat())
}

fn review_seq() -> impl Strategy<Value = String> {
    prop_oneof![
        "[1-9][0-9]{15,19}",
        "-[1-9][0-9]{15,19}",
        "0[0-9]{0,19}",
        "-0[0-9]{0,3}",
        Just("-".to_string()),
        Just("1e5".to_string()),
        Just("9223372036854775807".to_string()),
        Just("-9223372036854775808".to_string()),
        Just("-9223372036854775809".to_string()),
        Just("99999999999999999999".to_string()),
    ]
}

fn review_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?[0-9]{0,20}",
        "-?[0-9]{1,12}[.eE][+-]?[0-9]{0,3}",
        Just("1e5".to_string()),
        Just("-".to_string()),
        Just("01".to_string()),
        Just("-0".to_string()),
        review_name().prop_map(|t| format!("\"{t}\"")),
    ]
}

/// Lines in the writer's shape with hostile parts, and sometimes a high
/// byte written right after a run of digits or anywhere.
fn review_line() -> impl Strategy<Value = Vec<u8>> {
    let key = (review_name(), review_value())
        .prop_map(|(n, v)| format!(r#"{{"name":"{n}","type":"INT","value":{v}}}"#));
    let keys = prop_oneof![
        Just(String::new()),
        Just(r#","key":null"#.to_string()),
        prop::collection::vec(key, 0..3).prop_map(|k| format!(r#","key":[{}]"#, k.join(","))),
    ];
    (
        review_seq(),
        review_name(),
        review_name(),
        keys,
        prop::option::of((any::<usize>(), 0xf0u8..=0xff)),
    )
        .prop_map(|(seq, family, table, keys, high)| {
            let mut line =
                format!(r#"{{"seq":{seq},"family":"{family}","table":"{table}"{keys}}}"#)
                    .into_bytes();
            if let Some((at, byte)) = high {
                let at = at % line.len();
                line[at] = byte;
            }
            line
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 3000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn review_fast_path_and_full_json_agree_on_hostile_names_and_numbers(line in review_line()) {
        assert_agree(&line);
    }
}
