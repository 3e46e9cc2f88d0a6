//! Any bytes as a changelog line: the decoder must not panic, and the fast
//! path must agree with the full JSON decoder; an event must write NDJSON
//! that reads back as the same event.
//!
//! ```text
//! RUSTC_BOOTSTRAP=1 cargo fuzz run decode -- -max_total_time=600
//! ```
#![no_main]

use changelog_tail::{Event, decode, decode_json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    let fast = decode(line);
    let full = decode_json(line);
    match (&fast, &full) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(_), Err(_)) => {}
        _ => panic!("fast path and full JSON disagree: {fast:?} vs {full:?}"),
    }
    if let Ok(Some(event)) = fast {
        let mut json = Vec::new();
        event.write_json(&mut json).unwrap();
        let back: Event = serde_json::from_slice(&json).expect("our NDJSON reads back");
        assert_eq!(back, event.to_event());
    }
});
