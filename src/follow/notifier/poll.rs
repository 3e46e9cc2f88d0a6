//! Polling: no notifications, a look at the path and the open file every
//! interval. Asked for ([`WatchMode::Poll`](crate::WatchMode::Poll), for a
//! filesystem that sends no notifications), or taken instead of them
//! when they cannot be had, every [`FALLBACK`].

use super::{Drained, Notifier};
use crate::error::Error;
use crate::position::FileId;
use crate::wake::{PollFlags, Ready};
use std::io;
use std::os::fd::BorrowedFd;
use std::path::Path;
use std::time::Duration;

/// How often the file is looked at when notifications cannot be had.
pub(super) const FALLBACK: Duration = Duration::from_millis(100);

/// Looks every interval.
#[derive(Debug)]
pub(super) struct Polling {
    interval: Duration,
}

impl Polling {
    /// Looks every `interval`.
    pub(super) fn every(interval: Duration) -> Self {
        Polling { interval }
    }
}

impl Notifier for Polling {
    /// Nothing to wait on but the interval.
    fn wake_fds(&self) -> Vec<(BorrowedFd<'_>, PollFlags)> {
        Vec::new()
    }

    /// The one reason to look.
    fn poll_interval(&self) -> Option<Duration> {
        Some(self.interval)
    }

    /// The interval passed: only a look tells what changed.
    fn drain(&mut self, _ready: Ready) -> io::Result<Drained> {
        Ok(Drained {
            overflowed: false,
            relevant: true,
            path_changed: true,
        })
    }

    /// Nothing to aim: every look sees whatever the path names.
    fn refresh(
        &mut self,
        _path: &Path,
        _files: &[(FileId, BorrowedFd<'_>)],
    ) -> Result<bool, Error> {
        Ok(false)
    }
}
