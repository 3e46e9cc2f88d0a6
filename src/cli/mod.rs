//! The command line: a thin layer over the library.
//!
//! [`args`] is what the user types, [`config`] what it means here,
//! [`run`] the loop, [`rows`] the LDB lookups of `--rows`, [`output`] and
//! [`report`] what gets written, [`signals`] what the process is told,
//! [`exit`] how it ends; [`generate`] prints the man page and completions.

pub mod args;
pub mod config;
pub mod exit;
pub mod generate;
#[cfg(test)]
mod generated;
pub mod output;
pub mod report;
pub mod rows;
pub mod run;
pub mod signals;

use changelog_tail::FileKind;
use exit::Exit;
use report::Report;
use std::io;

/// Prints a run's failure as one line with a hint, and picks the exit.
///
/// Rust ignores SIGPIPE, so a reader that went away (`| head`) shows up as a
/// `BrokenPipe` error from a write or flush: that is a clean end, exit 0 and
/// no message (as ripgrep does).
///
/// `state_file`: the run keeps a state file (what a failed write to
/// standard output means for the next run depends on it).
pub fn finish(result: anyhow::Result<Exit>, report: Report, state_file: bool) -> Exit {
    let error = match result {
        Ok(exit) => return exit,
        Err(error) => error,
    };
    let io_kind = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<io::Error>())
        .map(io::Error::kind);
    if io_kind == Some(io::ErrorKind::BrokenPipe) {
        return Exit::Success;
    }
    let stdout_failed = error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .and_then(io::Error::get_ref)
            .is_some_and(|inner| inner.is::<output::StdoutFailed>())
    });
    use changelog_tail::{Error, StateError};
    let hint = match (error.downcast_ref::<Error>(), io_kind) {
        _ if stdout_failed && state_file => {
            "; the state file was not advanced past what was written: run again to print the rest"
        }
        _ if stdout_failed => {
            "; events after the last one written were not printed (with --state-file, a new run \
             goes on where this one stopped)"
        }
        (
            Some(Error::State {
                source: StateError::Corrupt(_),
                ..
            }),
            _,
        ) => "; delete it to start again from the current file",
        (Some(Error::NotFound { .. }), _) => {
            "; check --path or CTLSTORE_PATH, or pass --wait to wait for it"
        }
        (_, Some(io::ErrorKind::PermissionDenied)) => {
            "; check the file's permissions (run as a user that may read it)"
        }
        (Some(Error::IsADirectory { .. }), _) => "; point --path at the change.log file inside it",
        (
            Some(Error::NotARegularFile {
                kind: FileKind::Fifo | FileKind::CharDevice,
                ..
            }),
            _,
        ) => "; to read a pipe, use --path - (standard input)",
        (Some(Error::NotARegularFile { .. }), _) => "; point --path at the changelog file",
        _ => "",
    };
    let message = changelog_tail::with_causes(error.as_ref());
    report.error(format_args!("{message}{hint}"));
    Exit::Failure
}
