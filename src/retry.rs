//! Transient failures of a system call, retried rather than reported
//! (issue 17): EINTR (a signal came) is tried again at once; EAGAIN (a
//! descriptor that is non-blocking, or a file a lock holds up for a
//! moment) is tried again once the descriptor says it is ready, so that
//! a retry never spins.

use rustix::event::{PollFd, PollFlags, poll};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};

/// `read` again while it is interrupted by a signal.
pub(crate) fn retrying(mut read: impl FnMut() -> io::Result<usize>) -> io::Result<usize> {
    loop {
        match read() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Waits until `fd` is ready for `flags` (or reports an error or hang-up,
/// which the retried call then tells), retrying EINTR.
pub(crate) fn wait_until_ready(fd: BorrowedFd<'_>, flags: PollFlags) -> io::Result<()> {
    loop {
        let mut fds = [PollFd::from_borrowed_fd(fd, flags)];
        match poll(&mut fds, None) {
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// A reader or writer whose EINTR and EAGAIN are retried (see the module).
#[derive(Debug)]
pub(crate) struct Patient<T>(pub(crate) T);

impl<T: Read + AsFd> Read for Patient<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.0.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait_until_ready(self.0.as_fd(), PollFlags::IN)?;
                }
                other => return other,
            }
        }
    }
}

impl<T: Write + AsFd> Write for Patient<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match self.0.write(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait_until_ready(self.0.as_fd(), PollFlags::OUT)?;
                }
                other => return other,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_non_blocking_pipe_is_waited_for_not_reported() {
        let (reader, writer) = std::io::pipe().unwrap();
        rustix::io::ioctl_fionbio(&writer, true).unwrap();
        let drain = std::thread::spawn(move || {
            let mut all = Vec::new();
            Patient(reader).read_to_end(&mut all).unwrap();
            all.len()
        });
        // Far more than a pipe holds: the writer meets EAGAIN many times.
        let mut writer = Patient(writer);
        writer.write_all(&vec![7u8; 4 << 20]).unwrap();
        drop(writer);
        assert_eq!(drain.join().unwrap(), 4 << 20);
    }
}
