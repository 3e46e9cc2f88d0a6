//! The resume state file: a [`Checkpoint`] kept on disk between runs.
//!
//! Written atomically (temporary file, fsync, rename, fsync of the
//! directory), so a crash leaves either the old state or the new, never a
//! torn one. A lock (`<state file>.lock`, `flock`) keeps two processes from
//! sharing one state file. A state file that cannot be read or understood is
//! an error, never silently ignored: ignoring it would either repeat or skip
//! events without a word (SPEC §5).

use crate::checkpoint::Checkpoint;
use crate::error::Error;
use crate::source::FileId;
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The format's version, written into every state file.
const VERSION: u32 = 1;

/// What the file holds.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    version: u32,
    /// The changelog this state is for (absolute).
    changelog: PathBuf,
    seq: i64,
    /// [`crate::line_hash`] of the line, as 16 hex digits.
    line_hash: String,
    dev: u64,
    ino: u64,
    /// Byte offset just past the line's `\n`.
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
        let fail = |message: String| Error::State {
            path: path.clone(),
            message,
        };
        let changelog = std::path::absolute(changelog).map_err(|e| fail(e.to_string()))?;
        let lock_path = with_suffix(&path, ".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| {
                fail(format!(
                    "cannot create its lock {}: {e}",
                    lock_path.display()
                ))
            })?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(fail(format!(
                    "is in use by another process (lock {} is held); \
                     give each changelog-tail its own state file",
                    lock_path.display()
                )));
            }
            Err(TryLockError::Error(e)) => {
                return Err(fail(format!("cannot lock {}: {e}", lock_path.display())));
            }
        }
        let saved = match fs::read(&path) {
            Ok(bytes) => Some(parse(&bytes, &changelog).map_err(fail)?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(fail(format!("cannot be read: {e}"))),
        };
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
        if !self.is_behind(checkpoint) {
            return Ok(());
        }
        let stored = Stored {
            version: VERSION,
            changelog: self.changelog.clone(),
            seq: checkpoint.seq,
            line_hash: format!("{:016x}", checkpoint.line_hash),
            dev: checkpoint.file.dev,
            ino: checkpoint.file.ino,
            end: checkpoint.end,
        };
        self.write_atomically(&stored).map_err(|e| Error::State {
            path: self.path.clone(),
            message: format!("cannot be written: {e}"),
        })?;
        self.saved = Some(*checkpoint);
        Ok(())
    }

    fn write_atomically(&self, stored: &Stored) -> io::Result<()> {
        let temporary = with_suffix(&self.path, ".tmp");
        let mut file = File::create(&temporary)?;
        let mut text = serde_json::to_vec(stored).map_err(io::Error::other)?;
        text.push(b'\n');
        file.write_all(&text)?;
        file.sync_all()?;
        fs::rename(&temporary, &self.path)?;
        // The rename itself must reach the disk too.
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Reads a state file's bytes; the error says what is wrong and what to do.
fn parse(bytes: &[u8], changelog: &Path) -> Result<Checkpoint, String> {
    let broken =
        |why: String| format!("is corrupt ({why}); delete it to start again from the current file");
    let stored: Stored = serde_json::from_slice(bytes).map_err(|e| broken(e.to_string()))?;
    if stored.version != VERSION {
        return Err(broken(format!("unknown version {}", stored.version)));
    }
    let line_hash = u64::from_str_radix(&stored.line_hash, 16)
        .map_err(|_| broken(format!("line_hash {:?} is not hex", stored.line_hash)))?;
    if stored.changelog != changelog {
        return Err(format!(
            "belongs to the changelog {}, not {}; use one state file per changelog",
            stored.changelog.display(),
            changelog.display()
        ));
    }
    Ok(Checkpoint {
        seq: stored.seq,
        line_hash,
        file: FileId {
            dev: stored.dev,
            ino: stored.ino,
        },
        end: stored.end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(seq: i64) -> Checkpoint {
        Checkpoint {
            seq,
            line_hash: 0xdead_beef_0000_0001,
            file: FileId { dev: 1, ino: 2 },
            end: 300,
        }
    }

    #[test]
    fn saves_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        let log = dir.path().join("change.log");
        {
            let (mut file, saved) = StateFile::open(&state, &log).unwrap();
            assert_eq!(saved, None);
            file.save(&checkpoint(7)).unwrap();
            assert!(!file.is_behind(&checkpoint(7)));
        }
        let (_file, saved) = StateFile::open(&state, &log).unwrap();
        assert_eq!(saved, Some(checkpoint(7)));
        assert!(!with_suffix(&state, ".tmp").exists());
    }

    #[test]
    fn a_second_opener_is_refused_by_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        let log = dir.path().join("change.log");
        let _first = StateFile::open(&state, &log).unwrap();
        let err = StateFile::open(&state, &log).unwrap_err().to_string();
        assert!(err.contains("in use by another process"), "{err}");
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
        ] {
            fs::write(&state, bad).unwrap();
            let err = StateFile::open(&state, &log).unwrap_err().to_string();
            assert!(err.contains("is corrupt"), "{bad:?}: {err}");
            assert!(err.contains("state.json"), "{err}");
        }
        fs::remove_file(&state).unwrap();
        {
            let (mut file, _) = StateFile::open(&state, &dir.path().join("other.log")).unwrap();
            file.save(&checkpoint(1)).unwrap();
        }
        let err = StateFile::open(&state, &log).unwrap_err().to_string();
        assert!(err.contains("belongs to the changelog"), "{err}");
    }
}
