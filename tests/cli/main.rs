//! End-to-end tests of the `changelog-tail` binary: real files, real
//! rotation, real pipes and signals.

/// How the binary notices changes: the default (inotify on Linux). See
/// `tests/cli_notify`, which runs the follow and rotation tests again
/// through the `notify` crate's watcher.
const WATCHER: Option<&str> = None;

/// Tests that hold for inotify used directly only (the mount table, sibling
/// writes that wake no thread at all, the inotify queue): compiled here,
/// left out of `tests/cli_notify`.
macro_rules! inotify_only {
    ($($test:item)*) => { $($test)* };
}

mod harness;
mod writer;

mod exit_codes;
mod following;
mod generate;
mod globs;
mod habits;
mod holes;
mod hostile;
mod invalid;
mod lines;
mod messages;
mod order;
mod output;
mod pipe;
mod reliability;
mod resume;
mod resume_edges;
mod rows;
mod scenarios;
// It watches the binary's waits through /proc and Linux's system call numbers.
#[cfg(target_os = "linux")]
mod snapshot;
mod status;
mod threads;
