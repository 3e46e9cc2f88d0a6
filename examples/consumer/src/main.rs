//! Follows a changelog across rotations and prints each event of one
//! family, as a cache invalidator would.
//!
//! Usage: changelog-tail-consumer PATH FAMILY COUNT
//!
//! Prints each matching event's pretty line, and exits 0 after COUNT of
//! them, 3 when events were lost (drop every cache), 1 on an error or when
//! nothing came for 10 seconds.

use changelog_tail::{ChangelogIterator, Error, Filter, Next};
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, family, count] = args.as_slice() else {
        eprintln!("usage: changelog-tail-consumer PATH FAMILY COUNT");
        return ExitCode::from(2);
    };
    let Ok(count) = count.parse::<usize>() else {
        eprintln!("COUNT must be a number");
        return ExitCode::from(2);
    };
    // Blocks until the file is there (up to 5 s here) and positioned.
    let opened = ChangelogIterator::builder(path)
        .filter(Filter::new().family(family))
        .wait_for_file(Some(Duration::from_secs(5)))
        .open();
    let mut events = match opened {
        Ok(events) => events,
        Err(e) => {
            eprintln!("consumer: {e}");
            return ExitCode::from(1);
        }
    };
    let mut seen = 0;
    while seen < count {
        match events.next_timeout(Duration::from_secs(10)) {
            Ok(Next::Item(event)) => {
                println!("{event}");
                seen += 1;
            }
            Ok(Next::Notice(notice)) => eprintln!("consumer: {notice}"),
            Ok(Next::TimedOut) => {
                eprintln!("consumer: nothing for 10 s after {seen} events");
                return ExitCode::from(1);
            }
            Ok(Next::End | Next::Cancelled) => break,
            Ok(_) => {}
            Err(Error::OutOfSync { event, .. }) => {
                eprintln!(
                    "consumer: events lost before seq {}: drop every cache",
                    event.seq
                );
                return ExitCode::from(3);
            }
            Err(e) if e.is_recoverable() => eprintln!("consumer: {e}"),
            Err(e) => {
                eprintln!("consumer: {e}");
                return ExitCode::from(1);
            }
        }
    }
    events.close();
    ExitCode::SUCCESS
}
