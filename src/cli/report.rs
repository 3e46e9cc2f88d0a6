//! Messages on stderr: one line each, starting `changelog-tail:`.

use owo_colors::OwoColorize;
use std::fmt::Display;
use std::io::Write;

/// Writes warnings and errors to stderr.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    color: bool,
}

impl Report {
    /// Colours the prefix when `color`.
    pub fn new(color: bool) -> Self {
        Report { color }
    }

    /// `changelog-tail: warning: {message}`
    pub fn warning(&self, message: impl Display) {
        let label = if self.color {
            "warning:".yellow().bold().to_string()
        } else {
            "warning:".to_string()
        };
        self.line(format_args!("{label} {message}"));
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
