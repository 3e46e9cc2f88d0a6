//! Finding the changelog's files and waiting for them to change: the
//! watches (or polling), the queue of generations found, and the one wait.
//!
//! It exists before the first file does (waiting for it to appear) and
//! serves the [`Follower`](super::Follower) after.

use super::FollowOptions;
use super::discovery::{self, Discovery, Opened, Presence};
use super::notifier::{self, Notifier};
use crate::error::Error;
use crate::notice::Notice;
use crate::position::FileId;
#[cfg(feature = "tokio")]
use crate::source::WaitOn;
use crate::wake::{Sleeper, Woken};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What one look at the path found.
#[derive(Debug)]
pub(super) struct Found {
    /// What the path names now.
    pub(super) presence: Presence,
    /// A newer generation is waiting and ready to be read.
    pub(super) next_ready: bool,
    /// A newer generation is waiting (ready or not).
    pub(super) queued: bool,
    /// What to say.
    pub(super) notices: Vec<Notice>,
}

/// Finds generations and waits for changes.
pub(super) struct Finder {
    path: Arc<Path>,
    options: FollowOptions,
    discovery: Arc<Mutex<Discovery>>,
    sleeper: Sleeper,
    /// Notifications or polling; `None` until they are needed (reading to
    /// the end once needs none, unless the file has to be waited for).
    watch: Option<Box<dyn Notifier>>,
    notices: Vec<Notice>,
    said_overflow: bool,
    /// What the path names may have changed since it was last looked at.
    path_changed: bool,
    /// An interruption that came while waiting for the first file, when
    /// there is no iterator yet to say it: said at the first read.
    deferred_interrupt: bool,
    /// When polling last said to look: a caller that sleeps itself (the
    /// async stream) and asks with a deadline already past is told to look
    /// once the interval has passed since, as a wait would have been.
    polled_at: Instant,
}

impl std::fmt::Debug for Finder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Finder")
            .field("path", &self.path)
            .field("options", &self.options)
            .field("watching", &self.watch.is_some())
            .field("poll_interval", &self.poll_interval())
            .finish_non_exhaustive()
    }
}

impl Finder {
    /// Makes the opener thread fail, as a bug or a resource shortage would.
    #[cfg(test)]
    pub(super) fn fail_opener(&self) {
        if let Some(watch) = &self.watch {
            watch.fail_opener();
        }
    }

    /// Whether polling has replaced notifications.
    #[cfg(test)]
    pub(super) fn is_polling(&self) -> bool {
        self.poll_interval().is_some()
    }

    /// Sets up notifications for `path` when following (reading to the end
    /// once needs none, unless the file has to be waited for).
    pub(super) fn new(
        path: &Path,
        options: FollowOptions,
        sleeper: Sleeper,
    ) -> Result<Self, Error> {
        let path: Arc<Path> = Arc::from(path);
        let mut finder = Finder {
            discovery: Arc::new(Mutex::new(Discovery::new(Arc::clone(&path)))),
            path,
            options,
            sleeper,
            watch: None,
            notices: Vec::new(),
            said_overflow: false,
            path_changed: true,
            deferred_interrupt: false,
            polled_at: Instant::now(),
        };
        if finder.options.follow {
            finder.start_watching();
        }
        Ok(finder)
    }

    pub(super) fn path(&self) -> &Arc<Path> {
        &self.path
    }

    pub(super) fn options(&self) -> &FollowOptions {
        &self.options
    }

    /// A pending cancellation or interruption (see
    /// [`Sleeper::requested`]): cheap enough to ask between items.
    #[inline]
    pub(super) fn requested(&mut self) -> Option<Woken> {
        let requested = self.sleeper.requested();
        if requested.is_none() && self.deferred_interrupt {
            self.deferred_interrupt = false;
            return Some(Woken::Interrupted);
        }
        requested
    }

    /// Opens the first generation, waiting for the file to appear as long
    /// as [`FollowOptions::wait_for_file`] allows.
    pub(super) fn first_generation(&mut self) -> Result<Opened, Error> {
        let deadline = self
            .options
            .wait_for_file
            .and_then(|wait| Instant::now().checked_add(wait));
        loop {
            if discovery::look(&self.discovery)? == Presence::Directory {
                return Err(Error::IsADirectory {
                    path: Arc::clone(&self.path),
                });
            }
            let found = self.discovery().pop();
            if let Some(first) = found {
                self.refresh_watch(Some((first.id, first.file.as_fd())))?;
                return Ok(first);
            }
            if self.watch.is_none() {
                // Reading to the end of a missing file: watch, then look
                // again before sleeping, so that a file created in between
                // counts.
                self.start_watching();
                continue;
            }
            if self.refresh_watch(None)? {
                continue;
            }
            match self.wait(deadline)? {
                Woken::Changed => continue,
                Woken::TimedOut => {
                    return Err(Error::NotFound {
                        path: Arc::clone(&self.path),
                    });
                }
                Woken::Cancelled => return Err(Error::Cancelled),
                Woken::Interrupted => {
                    // Taken (or the wait would not sleep again); kept for
                    // the first read.
                    self.deferred_interrupt = true;
                }
            }
        }
    }

    /// Looks at the path (opening a new generation if there is one) and at
    /// the queue of generations found.
    pub(super) fn look(&mut self) -> Result<Found, Error> {
        let presence = discovery::look(&self.discovery)?;
        let next_ready =
            Discovery::next_is_ready(&self.discovery).map_err(|e| Error::io(&self.path, e))?;
        let (queued, capped) = {
            let mut discovery = self.discovery();
            (discovery.has_queued(), discovery.take_capped())
        };
        let mut notices = std::mem::take(&mut self.notices);
        if capped {
            notices.push(Notice::TooManyWaiting);
        }
        Ok(Found {
            presence,
            next_ready,
            queued,
            notices,
        })
    }

    /// Whether the path must be looked at: it may name something else
    /// since the last look, or a newer generation waits (it may have got
    /// data). Otherwise a wake-up was a write to the open file, and reading
    /// it is enough (no `stat` per wake-up).
    pub(super) fn take_path_changed(&mut self) -> bool {
        std::mem::take(&mut self.path_changed) || self.discovery().has_queued()
    }

    /// How many newer generations are open and waiting to be read.
    pub(super) fn held(&self) -> usize {
        self.discovery().held()
    }

    /// The oldest generation found and not yet read.
    pub(super) fn pop(&mut self) -> Option<Opened> {
        self.discovery().pop()
    }

    fn discovery(&self) -> MutexGuard<'_, Discovery> {
        // A panic while holding this lock cannot leave the queue half
        // changed, so a poisoned lock is still good to use.
        self.discovery.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets up what [`FollowOptions::watch`] asks for (see
    /// [`notifier::start`]: it may poll instead, and say why).
    fn start_watching(&mut self) {
        let (watch, notice) = notifier::start(self.options.watch, &self.path, &self.discovery);
        self.watch = Some(watch);
        self.notices.extend(notice);
    }

    /// Gives up on notifications: polls from now on, and says why.
    fn poll_instead(&mut self, why: String) {
        let (polling, notice) = notifier::poll_instead(why);
        self.watch = Some(polling);
        self.notices.push(notice);
    }

    #[cfg(feature = "tokio")]
    /// What [`wait`](Self::wait) sleeps on.
    pub(super) fn wait_on(&self) -> WaitOn<'_> {
        let watch = self.watch.iter().flat_map(|watch| watch.wake_fds());
        WaitOn {
            fds: watch.chain(self.sleeper.cancel_wait()).collect(),
            interval: self.poll_interval(),
        }
    }

    /// How often to look with no notification (when polling).
    fn poll_interval(&self) -> Option<Duration> {
        self.watch.as_ref().and_then(|watch| watch.poll_interval())
    }

    /// Sleeps until a notification, `deadline`, the poll interval or
    /// cancellation; takes every pending notification. Notifications about
    /// other files only (a database written beside the changelog) are not
    /// a reason to look: the wait goes on.
    pub(super) fn wait(&mut self, deadline: Option<Instant>) -> Result<Woken, Error> {
        if let Some(interval) = self.poll_interval()
            && self.polled_at.elapsed() >= interval
        {
            self.polled_at = Instant::now();
            self.path_changed = true;
            return Ok(Woken::Changed);
        }
        loop {
            let poll = self.poll_interval();
            let fds = self.watch.as_ref().map(|watch| watch.wake_fds());
            let (woken, ready) = self
                .sleeper
                .wait_ready(fds.as_deref().unwrap_or_default(), deadline, poll)
                .map_err(|e| Error::io(&self.path, e))?;
            self.path_changed |= self
                .watch
                .as_ref()
                .is_some_and(|watch| watch.mounts_changed(ready));
            if woken == Woken::Changed && poll.is_some() {
                self.polled_at = Instant::now();
            }
            let (Woken::Changed, Some(watch)) = (woken, &mut self.watch) else {
                // A deadline, a request (or no watch at all).
                self.path_changed |= woken == Woken::Changed;
                return Ok(woken);
            };
            if let Some(why) = watch.opener_failure(ready) {
                self.path_changed = true;
                // New generations are no longer opened as they appear:
                // polling still finds them, if later.
                self.poll_instead(why);
                return Ok(woken);
            }
            let drained = watch.drain(ready).map_err(|e| Error::io(&self.path, e))?;
            if drained.overflowed && !std::mem::replace(&mut self.said_overflow, true) {
                self.notices.push(watch.overflow_notice());
            }
            self.path_changed |= drained.path_changed;
            if drained.relevant {
                return Ok(woken);
            }
        }
    }

    /// Re-aims the watches at what the path depends on now, and at the open
    /// files for writes: `current` (the one being read) and the next one
    /// waiting (the reader waits for data in it to switch). Says whether
    /// anything changed (then the caller looks again before sleeping, since
    /// a new watch sees nothing that happened before it). If a watch cannot
    /// be set (the user's inotify watch limit is reached), polls from then
    /// on, and says so.
    pub(super) fn refresh_watch(
        &mut self,
        current: Option<(FileId, BorrowedFd<'_>)>,
    ) -> Result<bool, Error> {
        let Some(watch) = &mut self.watch else {
            return Ok(false);
        };
        // Not under the discovery lock: `notify`'s watcher sets watches on
        // its event thread, which may be waiting for that lock.
        // Nor are the open files watched under it: the opener thread must
        // never wait for the reader's system calls.
        let next = {
            let discovery = self.discovery.lock().unwrap_or_else(|e| e.into_inner());
            discovery.front().map(|o| (o.id, Arc::clone(&o.file)))
        };
        let files: Vec<_> = current
            .into_iter()
            .chain(next.as_ref().map(|(id, file)| (*id, file.as_fd())))
            .collect();
        let refreshed = watch.refresh(&self.path, &files);
        // A new watch sees nothing that happened before it: look again.
        match refreshed {
            Ok(changed) => {
                self.path_changed |= changed;
                Ok(changed)
            }
            Err(why) => {
                self.poll_instead(crate::error::with_causes(&why));
                self.path_changed = true;
                Ok(true)
            }
        }
    }
}
