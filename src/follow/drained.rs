//! What both notification backends report and share, below them and
//! their common interface (`notifier`), so that imports only point down.

/// What a drain of notifications found (`Notifier::drain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Drained {
    /// Events were lost (the kernel's queue overflowed, or the backend
    /// asked for a rescan): look at everything.
    pub(super) overflowed: bool,
    /// Something that may concern the changelog happened (as opposed to
    /// changes to other files in its directory only): look again.
    pub(super) relevant: bool,
    /// What the path names may have changed (an entry created, deleted or
    /// renamed, a directory replaced, events lost): look at the path, not
    /// only at the open file.
    pub(super) path_changed: bool,
}

/// Whether the pipe whose write end an opener (thread or callback) holds has
/// hung up or has a byte: the opener is gone. Looks without waiting.
pub(super) fn hung_up(pipe: &std::io::PipeReader) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let mut fds = [PollFd::new(pipe, PollFlags::IN)];
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    poll(&mut fds, Some(&zero)).is_ok() && !fds[0].revents().is_empty()
}
