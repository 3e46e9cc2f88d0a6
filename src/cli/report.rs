//! Messages on stderr: one line each, starting `changelog-tail:`.

use owo_colors::OwoColorize;
use std::fmt::Display;
use std::io::Write;

/// Writes warnings and errors to stderr.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    color: bool,
    /// `-q`: warnings and notes are not written (errors still are).
    quiet: bool,
}

impl Report {
    /// Colours the prefix when `color`.
    pub fn new(color: bool) -> Self {
        Report {
            color,
            quiet: false,
        }
    }

    /// With `quiet`, [`warning`](Self::warning) and [`note`](Self::note)
    /// write nothing (`-q`).
    pub fn quiet(self, quiet: bool) -> Self {
        Report { quiet, ..self }
    }

    /// Whether warnings and notes are dropped (so a caller need not flush
    /// stdout for them).
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// `changelog-tail: warning: {message}`, unless quiet.
    pub fn warning(&self, message: impl Display) {
        if !self.quiet {
            self.warning_always(message);
        }
    }

    /// `changelog-tail: warning: {message}` even when quiet: for what a
    /// consumer must act on (events were lost, `--on-out-of-sync warn`).
    pub fn warning_always(&self, message: impl Display) {
        let label = if self.color {
            "warning:".yellow().bold().to_string()
        } else {
            "warning:".to_string()
        };
        self.line(format_args!("{label} {message}"));
    }

    /// `changelog-tail: {message}`, unless quiet: news that is no warning
    /// (`-v`'s rotations).
    pub fn note(&self, message: impl Display) {
        if !self.quiet {
            self.line(message);
        }
    }

    /// `changelog-tail: {message}`
    pub fn error(&self, message: impl Display) {
        let message = if self.color {
            message.red().to_string()
        } else {
            message.to_string()
        };
        self.line(message);
    }

    /// `changelog-tail: status: {message}` (asked for: not a warning).
    pub fn status(&self, message: impl Display) {
        self.line(format_args!("status: {message}"));
    }

    fn line(&self, message: impl Display) {
        let prefix = if self.color {
            "changelog-tail:".bold().to_string()
        } else {
            "changelog-tail:".to_string()
        };
        // Nothing sensible is left to do if stderr itself is gone.
        let _ = writeln!(std::io::stderr().lock(), "{prefix} {message}");
    }
}
