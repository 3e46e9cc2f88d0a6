//! Holes found in review: a directory replaced under the follower, writes
//! to other files in its directory, special files at the path.

use crate::harness::{self, PATIENCE, Tail};
// The imports marked `target_os = "linux"` serve the mount namespace tests.
#[cfg(target_os = "linux")]
use std::ffi::CString;
use std::fs;
use std::io::Write;
#[cfg(target_os = "linux")]
use std::os::fd::AsRawFd;
#[cfg(target_os = "linux")]
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
#[cfg(target_os = "linux")]
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
#[cfg(target_os = "linux")]
use std::process::Command;
#[cfg(target_os = "linux")]
use std::ptr;

fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    (dir, path)
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// Follows `path` (a special file) and expects a prompt exit 1 whose message
/// says what the path is; returns the message.
fn refused(path: &Path, what: &str) -> String {
    let mut tail = Tail::start(path, &[]);
    let ended = tail.wait_end();
    let text = ended.stderr_text();
    assert_eq!(ended.code(), Some(1), "{text}");
    assert!(text.starts_with("changelog-tail: "), "{text}");
    assert!(text.contains(what), "{text}");
    assert!(text.contains("not a regular file"), "{text}");
    text
}

// 3. Special files at the path.

#[test]
fn holes_a_fifo_without_a_writer_is_refused_at_once() {
    let (_dir, path) = setup();
    mkfifo(&path);
    let text = refused(&path, "named pipe (FIFO)");
    assert!(text.contains("--path -"), "{text}");
}

#[test]
fn holes_a_fifo_with_a_writer_is_refused_at_once() {
    let (_dir, path) = setup();
    mkfifo(&path);
    // Read-write: opening does not wait for a reader, and the pipe keeps a
    // writer for as long as the test runs.
    let mut writer = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    writer
        .write_all(b"{\"seq\":1,\"family\":\"f\",\"table\":\"t\"}\n")
        .unwrap();
    let text = refused(&path, "named pipe (FIFO)");
    assert!(text.contains("--path -"), "{text}");
}

#[test]
fn holes_a_unix_socket_is_refused() {
    let (_dir, path) = setup();
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let text = refused(&path, "socket");
    assert!(!text.contains("--path -"), "{text}");
}

#[test]
fn holes_a_character_device_behind_a_symlink_is_refused() {
    let (_dir, path) = setup();
    symlink("/dev/null", &path).unwrap();
    let text = refused(&path, "character device");
    assert!(text.contains("--path -"), "{text}");
}

#[test]
fn holes_a_fifo_replacing_the_file_while_following_ends_the_run() {
    let (_dir, path) = setup();
    let (_writer, mut tail) = harness::waiting_follower(&path, &[], 2);
    fs::remove_file(&path).unwrap();
    mkfifo(&path);
    let ended = tail.wait_end();
    let text = ended.stderr_text();
    assert_eq!(ended.code(), Some(1), "{text}");
    assert!(text.contains("named pipe (FIFO)"), "{text}");
}

#[test]
fn holes_sigterm_ends_a_follower_started_on_a_fifo() {
    // Whatever it does with a FIFO, it must not sit in a blocking open out
    // of the signal's reach.
    let (_dir, path) = setup();
    mkfifo(&path);
    let mut tail = Tail::start(&path, &["--wait"]);
    // Signals are routed to the follower before the file is opened: send
    // it once that is set up (or the run is over already).
    let deadline = std::time::Instant::now() + PATIENCE;
    while !(harness::has_thread(tail.pid(), "signals") || exited(tail.pid())) {
        assert!(std::time::Instant::now() < deadline, "never got going");
        std::thread::yield_now();
    }
    let started = std::time::Instant::now();
    tail.signal(libc::SIGTERM);
    let ended = tail.wait_end();
    assert!(started.elapsed() < PATIENCE);
    assert!(
        matches!(ended.code(), Some(1) | Some(143)),
        "{:?}: {}",
        ended.code(),
        ended.stderr_text()
    );
}

/// Whether the process has ended (a zombie not yet reaped).
fn exited(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(") ")
                .is_none_or(|(_, rest)| rest.starts_with('Z'))
        })
        .unwrap_or(true)
}

// 2. Writes to other files in the changelog's directory.

inotify_only! {
    #[test]
    fn holes_appends_to_a_sibling_file_do_not_wake_the_follower() {
        let (dir, path) = setup();
        let (mut writer, mut tail) = harness::waiting_follower(&path, &[], 1);
        let before = harness::settled_wakeups(tail.pid());
        // ctlstore's database WAL beside the changelog, written at a database's
        // pace (the pause paces the load; it synchronises nothing).
        let mut wal = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("ldb.db-wal"))
            .unwrap();
        for _ in 0..200 {
            wal.write_all(&[0; 4096]).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let woke = harness::wakeups(tail.pid()) - before;
        assert!(woke <= 3, "{woke} wake-ups for writes to another file");
        // Writes to the changelog still wake it.
        writer.event();
        assert_eq!(tail.seqs(1), [2]);
    }
}

// 1. The changelog's directory replaced.

/// A spool directory inside a temporary one, with the changelog in it.
fn spool() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let spool = root.path().join("spool");
    fs::create_dir(&spool).unwrap();
    let path = spool.join("change.log");
    (root, spool, path)
}

/// Does `action`, then waits (with a deadline) until the process has woken
/// and its main thread sleeps again.
fn and_wait_until_asleep_again(pid: u32, action: impl FnOnce()) {
    let before = harness::wakeups(pid);
    action();
    let deadline = std::time::Instant::now() + PATIENCE;
    while !(harness::wakeups(pid) > before && harness::main_thread_sleeps(pid)) {
        assert!(
            std::time::Instant::now() < deadline,
            "the follower never went back to sleep"
        );
        std::thread::yield_now();
    }
}

/// Follows a log in `spool/` through 1..=3, lets `away` take the spool
/// directory away (given the root, the spool, the log and the follower's
/// pid), makes the directory and the log again, and checks that 4..=6 are
/// followed there.
fn directory_replaced(away: impl FnOnce(&Path, &Path, &Path, u32)) {
    let (root, spool, path) = spool();
    let (mut writer, mut tail) = harness::waiting_follower(&path, &[], 3);
    away(root.path(), &spool, &path, tail.pid());
    fs::create_dir(&spool).unwrap();
    writer.reopen();
    writer.events(3);
    assert_eq!(tail.seqs(3), [4, 5, 6]);
}

#[test]
fn holes_the_directory_removed_after_the_file_then_created_again() {
    directory_replaced(|_, spool, path, pid| {
        // The follower sees the file gone and sleeps holding it: the open
        // file keeps the directory alive, so its own watch never reports
        // it deleted.
        and_wait_until_asleep_again(pid, || fs::remove_file(path).unwrap());
        and_wait_until_asleep_again(pid, || fs::remove_dir(spool).unwrap());
    });
}

#[test]
fn holes_the_directory_removed_then_created_again_before_the_follower_looks() {
    directory_replaced(|_, spool, path, pid| {
        and_wait_until_asleep_again(pid, || fs::remove_file(path).unwrap());
        fs::remove_dir(spool).unwrap();
    });
}

#[test]
fn holes_the_directory_renamed_away_and_created_again() {
    directory_replaced(|root, spool, _, _| {
        fs::rename(spool, root.join("spool.old")).unwrap();
    });
}

#[test]
fn holes_the_directory_renamed_away_after_the_file_was_deleted() {
    directory_replaced(|root, spool, path, pid| {
        and_wait_until_asleep_again(pid, || fs::remove_file(path).unwrap());
        and_wait_until_asleep_again(pid, || fs::rename(spool, root.join("spool.old")).unwrap());
    });
}

inotify_only! {
    #[cfg(target_os = "linux")]
    #[test]
    fn holes_a_bind_mount_over_the_directory() {
        let (root, spool, path) = spool();
        let other = root.path().join("other");
        fs::create_dir(&other).unwrap();
        crate::writer::Writer::new(&path).events(3);
        // The follower gets a mount namespace of its own, so that the mount is
        // seen by it alone (not by every other test's follower) and is undone
        // when it ends.
        if let Err(why) = can_make_mount_namespaces() {
            eprintln!("skipped: cannot make a mount namespace here ({why})");
            return;
        }
        let mut command = harness::binary();
        command.arg("--path").arg(&path);
        unsafe {
            command.pre_exec(private_mount_namespace);
        }
        let mut tail = Tail::spawn(command);
        assert_eq!(tail.seqs(3), [1, 2, 3]);
        tail.wait_until_waiting(&path);
        bind_mount_in(tail.pid(), &other, &spool);
        // In the follower's namespace, `other` is now its spool directory.
        let mut writer = crate::writer::Writer::new(&other.join("change.log"));
        writer.next_seq = 4;
        writer.events(3);
        assert_eq!(tail.seqs(3), [4, 5, 6]);
    }
}

/// In a child about to exec: a mount namespace of its own, whose mounts
/// stay in it.
#[cfg(target_os = "linux")]
fn private_mount_namespace() -> std::io::Result<()> {
    let flags = libc::MS_REC | libc::MS_PRIVATE;
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0
            || libc::mount(
                c"none".as_ptr(),
                c"/".as_ptr(),
                ptr::null(),
                flags,
                ptr::null(),
            ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Whether this process may make mount namespaces (root, not forbidden by
/// a container's seccomp profile), and if not, why.
#[cfg(target_os = "linux")]
fn can_make_mount_namespaces() -> Result<(), String> {
    let mut probe = Command::new("true");
    unsafe {
        probe.pre_exec(private_mount_namespace);
    }
    match probe.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(status.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Bind-mounts `source` over `target` in the mount namespace of process
/// `pid`.
#[cfg(target_os = "linux")]
fn bind_mount_in(pid: u32, source: &Path, target: &Path) {
    let namespace = fs::File::open(format!("/proc/{pid}/ns/mnt")).unwrap();
    let fd = namespace.as_raw_fd();
    let source = CString::new(source.as_os_str().as_bytes()).unwrap();
    let target = CString::new(target.as_os_str().as_bytes()).unwrap();
    let mut command = Command::new("true");
    unsafe {
        command.pre_exec(move || {
            if libc::setns(fd, libc::CLONE_NEWNS) != 0
                || libc::mount(
                    source.as_ptr(),
                    target.as_ptr(),
                    ptr::null(),
                    libc::MS_BIND,
                    ptr::null(),
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let status = command
        .status()
        .expect("bind mount in the follower's namespace");
    assert!(status.success(), "{status}");
    drop(namespace);
}

/// A run to the end of `log` with the state file `state`.
fn with_state(log: &std::path::Path, state: &std::path::Path) -> std::process::Output {
    crate::harness::binary()
        .arg("-p")
        .arg(log)
        .arg("--no-follow")
        .arg("--state-file")
        .arg(state)
        .output()
        .unwrap()
}

#[test]
fn holes_a_planted_temporary_symlink_cannot_redirect_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("change.log");
    std::fs::write(&log, format!("{}\n", crate::writer::line(1))).unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let state = dir.path().join("st");
    std::os::unix::fs::symlink(&victim, dir.path().join("st.tmp")).unwrap();
    let out = with_state(&log, &state);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    let meta = std::fs::symlink_metadata(&state).unwrap();
    assert!(meta.file_type().is_file(), "the state is a plain file");
}

#[test]
fn holes_a_dangling_symlink_at_the_lock_is_refused_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("change.log");
    std::fs::write(&log, "").unwrap();
    let target = dir.path().join("created-by-mistake");
    let state = dir.path().join("st");
    std::os::unix::fs::symlink(&target, dir.path().join("st.lock")).unwrap();
    let out = with_state(&log, &state);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(!target.exists(), "the lock's symlink was followed");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("cannot use its lock"), "{stderr}");
}

#[test]
fn holes_a_state_path_that_is_a_symlink_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("change.log");
    std::fs::write(&log, "").unwrap();
    let real = dir.path().join("real-state");
    std::fs::write(&real, "keep").unwrap();
    let state = dir.path().join("st");
    std::os::unix::fs::symlink(&real, &state).unwrap();
    let out = with_state(&log, &state);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("is a symlink")
    );
    assert_eq!(std::fs::read_to_string(&real).unwrap(), "keep");
}

#[test]
fn holes_a_changelog_path_that_is_not_utf8_keeps_its_state() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let log = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"change\xff.log"));
    let lines: String = (1..=3)
        .map(|s| format!("{}\n", crate::writer::line(s)))
        .collect();
    std::fs::write(&log, lines).unwrap();
    let state = dir.path().join("st");
    let out = with_state(&log, &state);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(crate::harness::seqs_of(&out), [1, 2, 3]);
    let again = with_state(&log, &state);
    assert_eq!(again.status.code(), Some(0), "{again:?}");
    assert!(
        crate::harness::seqs_of(&again).is_empty(),
        "resumed after seq 3"
    );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names.len(),
        3,
        "the log, the state and its lock only: {names:?}"
    );
}
