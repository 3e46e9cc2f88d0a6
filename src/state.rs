//! The resume state file: a [`Checkpoint`] kept on disk between runs.
//!
//! Written atomically: a new file with a unique name, created exclusively in
//! the state file's directory (never through a symlink someone planted),
//! fsynced, renamed over the state file, and the directory fsynced; so a
//! crash leaves either the old state or the new, never a torn one. A lock
//! (`<state file>.lock`, `flock`, opened without following a symlink) keeps
//! two processes from sharing one state file. The state file's own path
//! must not be a symlink: the rename would replace the link, not its target,
//! so following it once and not after would be a trap.
//!
//! A state file that cannot be read or understood is an error, never
//! silently ignored: ignoring it would repeat or skip events without a
//! word.

use crate::checkpoint::Checkpoint;
use crate::error::{Corrupt, Error, StateError};
use crate::position::FileId;
use crate::retry::Patient;
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The format's version, written into every state file. Version 1 (no
/// position before the first event, UTF-8 paths only) is still read.
const VERSION: u32 = 2;

/// Larger than any state file we write: a bigger one is not ours.
const MAX_STATE_BYTES: u64 = 64 * 1024;

/// A path as stored: text when it is UTF-8, else its bytes in hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
enum StoredPath {
    Text(String),
    Bytes { hex: String },
}

impl StoredPath {
    fn of(path: &Path) -> Self {
        match path.to_str() {
            Some(text) => StoredPath::Text(text.to_owned()),
            None => StoredPath::Bytes {
                hex: path
                    .as_os_str()
                    .as_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect(),
            },
        }
    }

    fn path(&self) -> Option<PathBuf> {
        match self {
            StoredPath::Text(text) => Some(text.into()),
            StoredPath::Bytes { hex } => {
                let bytes = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                    .collect::<Option<Vec<u8>>>()?;
                Some(OsString::from_vec(bytes).into())
            }
        }
    }
}

/// What the file holds (version 2; version 1 had `seq` and `line_hash`
/// always, and `changelog` as text).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    version: u32,
    /// The changelog this state is for (absolute).
    changelog: StoredPath,
    /// The last event's `seq`; absent before the first event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seq: Option<i64>,
    /// [`crate::line_hash`] of the line ending at `end`, as 16 hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    line_hash: Option<String>,
    dev: u64,
    ino: u64,
    /// The file's birth time (ns since the epoch), where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    born: Option<u64>,
    /// Byte offset where reading goes on.
    end: u64,
}

/// An open, locked state file.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    changelog: PathBuf,
    saved: Option<Checkpoint>,
    _lock: File,
}

impl StateFile {
    /// Locks the state file at `path` for the changelog at `changelog` and
    /// reads the checkpoint it holds (`None` if the file does not exist yet).
    pub fn open(
        path: impl Into<PathBuf>,
        changelog: &Path,
    ) -> Result<(Self, Option<Checkpoint>), Error> {
        let path = path.into();
        let fail = |source| Error::State {
            path: path.clone(),
            source,
        };
        let changelog = std::path::absolute(changelog).map_err(|e| fail(StateError::Read(e)))?;
        let lock = lock(&path).map_err(fail)?;
        let saved = read(&path, &changelog).map_err(fail)?;
        let state = StateFile {
            path,
            changelog,
            saved,
            _lock: lock,
        };
        Ok((state, saved))
    }

    /// The state file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether `checkpoint` differs from what is on disk.
    pub fn is_behind(&self, checkpoint: &Checkpoint) -> bool {
        self.saved.as_ref() != Some(checkpoint)
    }

    /// Stores `checkpoint` durably, replacing the old state atomically.
    /// Costs two fsyncs: call it in batches, not per event.
    pub fn save(&mut self, checkpoint: &Checkpoint) -> Result<(), Error> {
        self.store(checkpoint, Last::No)
    }

    /// Stores `checkpoint` as the last thing before the process exits
    /// (doc/design.md, Resuming: on out of sync, the state moves to the revealing event,
    /// and nothing may stand between that write and the exit, so that a
    /// crash before the exit status was delivered leaves the old state and
    /// the next run reports the gap again).
    ///
    /// The new state is written and fsynced, then renamed over the old one,
    /// and that rename is the last system call made here: the directory is
    /// not fsynced after it, and the renamed file is not closed (the exit
    /// closes it). A crash that loses the rename leaves the old state, which
    /// reports the gap again: the safe way to fail. The caller must exit
    /// right after, without dropping anything.
    pub fn save_before_exit(&mut self, checkpoint: &Checkpoint) -> Result<(), Error> {
        self.store(checkpoint, Last::Yes)
    }

    fn store(&mut self, checkpoint: &Checkpoint, last: Last) -> Result<(), Error> {
        if !self.is_behind(checkpoint) {
            return Ok(());
        }
        let stored = Stored {
            version: VERSION,
            changelog: StoredPath::of(&self.changelog),
            seq: checkpoint.seq,
            line_hash: checkpoint.line_hash.map(|hash| format!("{hash:016x}")),
            dev: checkpoint.file.dev,
            ino: checkpoint.file.ino,
            born: checkpoint.file.born,
            end: checkpoint.end,
        };
        self.write_atomically(&stored, last)
            .map_err(|e| Error::State {
                path: self.path.clone(),
                source: StateError::Write(e),
            })?;
        self.saved = Some(*checkpoint);
        Ok(())
    }

    fn write_atomically(&self, stored: &Stored, last: Last) -> io::Result<()> {
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        // A fresh name, created with O_EXCL: nothing planted in the
        // directory can redirect the write.
        let mut file = tempfile::Builder::new()
            .prefix(".changelog-tail-state")
            .tempfile_in(dir)?;
        let mut text = serde_json::to_vec(stored).map_err(io::Error::other)?;
        text.push(b'\n');
        Patient(file.as_file_mut()).write_all(&text)?;
        file.as_file().sync_all()?;
        let renamed = file.persist(&self.path).map_err(|e| e.error)?;
        if last == Last::Yes {
            // See `save_before_exit`: the exit closes it.
            std::mem::forget(renamed);
            return Ok(());
        }
        drop(renamed);
        // The rename itself must reach the disk too.
        File::open(dir)?.sync_all()
    }
}

/// Whether a state write is the process's last act (see
/// [`StateFile::save_before_exit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Last {
    No,
    Yes,
}

/// Opens and locks `<path>.lock`, refusing a symlink there.
fn lock(path: &Path) -> Result<File, StateError> {
    let lock_path = with_suffix(path, ".lock");
    let fail = |source| StateError::Lock {
        lock: lock_path.clone(),
        source,
    };
    // Never through a symlink, and never blocking: a FIFO planted there
    // would hold `open` forever, beyond the reach of signals.
    let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(flags.bits() as i32)
        .open(&lock_path)
        .map_err(fail)?;
    if !lock.metadata().map_err(fail)?.is_file() {
        return Err(fail(io::Error::other("not a regular file")));
    }
    loop {
        match lock.try_lock() {
            Ok(()) => return Ok(lock),
            Err(TryLockError::WouldBlock) => return Err(StateError::InUse { lock: lock_path }),
            // A signal came: not a reason to give up (issue 17).
            Err(TryLockError::Error(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(TryLockError::Error(e)) => return Err(fail(e)),
        }
    }
}

/// Reads the checkpoint at `path`, if there is a state file.
fn read(path: &Path, changelog: &Path) -> Result<Option<Checkpoint>, StateError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => return Err(StateError::Symlink),
        Ok(meta) if !meta.is_file() => return Err(StateError::NotARegularFile),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StateError::Read(e)),
    }
    let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)
        .map_err(StateError::Read)?;
    if !file.metadata().map_err(StateError::Read)?.is_file() {
        return Err(StateError::NotARegularFile);
    }
    let mut bytes = Vec::new();
    // Opened non-blocking (see above): a read that would block is waited
    // for, not reported.
    Patient(file)
        .take(MAX_STATE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(StateError::Read)?;
    if bytes.len() as u64 > MAX_STATE_BYTES {
        return Err(StateError::Corrupt(Corrupt::TooLarge {
            limit: MAX_STATE_BYTES,
        }));
    }
    parse(&bytes, changelog).map(Some)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Reads a state file's bytes.
fn parse(bytes: &[u8], changelog: &Path) -> Result<Checkpoint, StateError> {
    let corrupt = StateError::Corrupt;
    let stored: Stored = serde_json::from_slice(bytes).map_err(|e| corrupt(Corrupt::Json(e)))?;
    let line_hash = match stored.line_hash.as_deref() {
        Some(hex) => {
            Some(u64::from_str_radix(hex, 16).map_err(|_| corrupt(Corrupt::Field("line_hash")))?)
        }
        None => None,
    };
    match (stored.version, stored.seq, line_hash) {
        (VERSION, _, _) | (1, Some(_), Some(_)) => {}
        (1, _, _) => return Err(corrupt(Corrupt::Field("seq"))),
        (version, _, _) => return Err(corrupt(Corrupt::Version(version))),
    }
    let stored_path = stored
        .changelog
        .path()
        .ok_or(corrupt(Corrupt::Field("changelog")))?;
    if stored_path != changelog {
        return Err(StateError::OtherChangelog {
            stored: stored_path,
            here: changelog.to_path_buf(),
        });
    }
    Ok(Checkpoint {
        file: FileId {
            dev: stored.dev,
            ino: stored.ino,
            born: stored.born,
        },
        end: stored.end,
        line_hash,
        seq: stored.seq,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn checkpoint(seq: Option<i64>) -> Checkpoint {
        Checkpoint {
            file: FileId {
                dev: 1,
                ino: 2,
                born: Some(3),
            },
            end: 300,
            line_hash: Some(0xdead_beef_0000_0001),
            seq,
        }
    }

    fn message(e: Error) -> String {
        let mut text = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            text.push_str(&format!(": {c}"));
            cause = c.source();
        }
        text
    }

    #[test]
    fn saves_and_reads_back_with_or_without_a_seq() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        let log = dir.path().join("change.log");
        for seq in [None, Some(7), Some(i64::MAX)] {
            {
                let (mut file, _) = StateFile::open(&state, &log).unwrap();
                file.save(&checkpoint(seq)).unwrap();
                assert!(!file.is_behind(&checkpoint(seq)));
            }
            let (_file, saved) = StateFile::open(&state, &log).unwrap();
            assert_eq!(saved, Some(checkpoint(seq)));
        }
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "only the state and its lock: {names:?}");
    }

    #[test]
    fn reads_version_1() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        let log = std::path::absolute(dir.path().join("change.log")).unwrap();
        let v1 = serde_json::json!({"version": 1, "changelog": log, "seq": 5,
            "line_hash": "00000000000000ff", "dev": 1, "ino": 2, "end": 30});
        fs::write(&state, v1.to_string()).unwrap();
        let (_file, saved) = StateFile::open(&state, &log).unwrap();
        let expected = Checkpoint {
            file: FileId {
                dev: 1,
                ino: 2,
                born: None,
            },
            end: 30,
            line_hash: Some(0xff),
            seq: Some(5),
        };
        assert_eq!(saved, Some(expected));
    }

    #[test]
    fn a_changelog_path_that_is_not_utf8_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        let log = dir
            .path()
            .join(std::ffi::OsStr::from_bytes(b"ch\xffange.log"));
        {
            let (mut file, _) = StateFile::open(&state, &log).unwrap();
            file.save(&checkpoint(Some(1))).unwrap();
        }
        let (file, saved) = StateFile::open(&state, &log).unwrap();
        assert_eq!(saved, Some(checkpoint(Some(1))));
        drop(file);
        let other = dir.path().join("other.log");
        let err = message(StateFile::open(&state, &other).unwrap_err());
        assert!(err.contains("ch\\xffange.log"), "{err}");
    }

    #[test]
    fn a_second_opener_is_refused_by_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        let log = dir.path().join("change.log");
        let _first = StateFile::open(&state, &log).unwrap();
        let err = message(StateFile::open(&state, &log).unwrap_err());
        assert!(err.contains("in use by another process"), "{err}");
    }

    #[test]
    fn symlinks_at_the_state_or_its_lock_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        let log = dir.path().join("change.log");
        let victim = dir.path().join("victim");
        symlink(&victim, with_suffix(&state, ".lock")).unwrap();
        let err = message(StateFile::open(&state, &log).unwrap_err());
        assert!(err.contains("cannot use its lock"), "{err}");
        assert!(!victim.exists(), "the lock's symlink was followed");
        fs::remove_file(with_suffix(&state, ".lock")).unwrap();
        fs::write(&victim, "precious").unwrap();
        symlink(&victim, &state).unwrap();
        let err = message(StateFile::open(&state, &log).unwrap_err());
        assert!(err.contains("is a symlink"), "{err}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    }

    #[test]
    fn corrupt_truncated_and_foreign_states_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        let log = dir.path().join("change.log");
        for bad in [
            "",
            "{\"version\":1,\"changelog\":\"/x\",\"seq\":",
            "garbage",
            "{}",
            "{\"version\":9,\"changelog\":\"/x\",\"dev\":1,\"ino\":1,\"end\":0}",
        ] {
            fs::write(&state, bad).unwrap();
            let err = message(StateFile::open(&state, &log).unwrap_err());
            assert!(err.contains("is corrupt"), "{bad:?}: {err}");
            assert!(err.contains("state.json"), "{err}");
        }
        fs::remove_file(&state).unwrap();
        {
            let (mut file, _) = StateFile::open(&state, &dir.path().join("other.log")).unwrap();
            file.save(&checkpoint(Some(1))).unwrap();
        }
        let err = message(StateFile::open(&state, &log).unwrap_err());
        assert!(err.contains("belongs to the changelog"), "{err}");
    }
}
