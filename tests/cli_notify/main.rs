//! The follow and rotation tests of `tests/cli` again, with the binary
//! noticing changes through the `notify` crate's watcher
//! (`CHANGELOG_TAIL_WATCHER=notify`; on Linux, its inotify backend): the
//! path macOS and the BSDs take, so that it is tested where the tests run.
//!
//! The modules are the same files; tests marked `inotify_only!` there
//! are left out (what they check is a property of inotify used directly:
//! the mount table watched, open files watched by descriptor so that
//! sibling writes wake no thread, the inotify queue and its overflow).

/// How the binary notices changes.
const WATCHER: Option<&str> = Some("notify");

/// Left out here: see the module documentation.
macro_rules! inotify_only {
    ($($test:item)*) => {};
}

// Helpers shared with `tests/cli`; not all of them are used here.
#[allow(dead_code)]
#[path = "../cli/harness.rs"]
mod harness;
#[allow(dead_code)]
#[path = "../cli/writer.rs"]
mod writer;

#[path = "../cli/following.rs"]
mod following;
#[path = "../cli/habits.rs"]
mod habits;
#[path = "../cli/lines.rs"]
mod lines;
// Its mount helpers serve an inotify-only test.
#[allow(dead_code)]
#[path = "../cli/holes.rs"]
mod holes;
#[path = "../cli/reliability.rs"]
mod reliability;
#[path = "../cli/scenarios.rs"]
mod scenarios;
