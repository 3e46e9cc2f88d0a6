//! The process's exit statuses (the README's table), in one place.

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// `--no-follow` reached the end, `--count` was reached, stdout closed.
    Success,
    /// A runtime error (missing file, permission, I/O).
    Failure,
    /// Events were lost: the consumer must drop its caches.
    OutOfSync,
    /// An invalid entry under `--strict`.
    InvalidEntry,
    /// Ended by this signal, after flushing.
    Signal(i32),
}

impl Exit {
    /// The number the process exits with. Usage errors (2) are clap's own.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::OutOfSync => 3,
            Exit::InvalidEntry => 4,
            // The shell's convention: 128 + the signal number.
            Exit::Signal(signal) => 128u8.saturating_add(signal.clamp(0, 127) as u8),
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_those_of_the_spec() {
        assert_eq!(Exit::Success.code(), 0);
        assert_eq!(Exit::Failure.code(), 1);
        assert_eq!(Exit::OutOfSync.code(), 3);
        assert_eq!(Exit::InvalidEntry.code(), 4);
        assert_eq!(Exit::Signal(libc::SIGINT).code(), 130);
        assert_eq!(Exit::Signal(libc::SIGTERM).code(), 143);
    }
}
