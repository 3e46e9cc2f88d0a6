//! Any bytes as a changelog line: the decoder must not panic, must accept
//! exactly the lines a plain serde_json reading accepts, and an event must
//! write NDJSON that reads back as the same event.
//!
//! ```text
//! RUSTC_BOOTSTRAP=1 cargo fuzz run decode -- -max_total_time=600
//! ```
#![no_main]

use changelog_tail::{Event, decode};
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use serde_json::value::RawValue;

/// The line shape, read by serde_json alone: the oracle.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Line<'a> {
    seq: i64,
    family: std::borrow::Cow<'a, str>,
    table: std::borrow::Cow<'a, str>,
    #[serde(default, borrow)]
    key: Option<Vec<LineKey<'a>>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct LineKey<'a> {
    name: std::borrow::Cow<'a, str>,
    #[serde(rename = "type")]
    type_name: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    value: &'a RawValue,
}

fuzz_target!(|line: &[u8]| {
    let ours = decode(line);
    let blank = line.iter().all(u8::is_ascii_whitespace);
    let oracle = std::str::from_utf8(line)
        .ok()
        .and_then(|text| serde_json::from_str::<Line<'_>>(text).ok());
    match (&ours, blank) {
        (Ok(None), true) => {}
        (Ok(Some(event)), false) => {
            let oracle = oracle.expect("accepted a line serde_json rejects");
            assert_eq!(event.seq, oracle.seq);
            assert_eq!(event.family, oracle.family);
            assert_eq!(event.table, oracle.table);
        }
        (Err(_), false) => assert!(oracle.is_none(), "rejected a line serde_json accepts"),
        _ => panic!("blank lines are blank: {ours:?}"),
    }
    if let Ok(Some(event)) = ours {
        let mut json = Vec::new();
        event.write_json(&mut json).unwrap();
        let back: Event = serde_json::from_slice(&json).expect("our NDJSON reads back");
        assert_eq!(back, event.to_event());
    }
});
