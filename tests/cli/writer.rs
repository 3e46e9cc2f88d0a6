//! A changelog writer that behaves like ctlstore's SizedLogWriter, plus the
//! other rotations a host may use (rename, copy-truncate, symlink).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One line as the reflector writes it.
pub fn line(seq: i64) -> String {
    format!(
        r#"{{"seq":{seq},"family":"fam{}","table":"table{}","key":[{{"name":"id","type":"INT","value":{seq}}}]}}"#,
        seq % 3,
        seq % 5
    )
}

/// The lines of `seqs`, each with its newline.
pub fn lines(seqs: impl IntoIterator<Item = i64>) -> String {
    seqs.into_iter().map(|s| format!("{}\n", line(s))).collect()
}

/// Appends changelog lines; rotates as configured.
pub struct Writer {
    path: PathBuf,
    file: File,
    size: u64,
    /// SizedLogWriter's limit: a line that would pass it goes to a new file.
    max_size: Option<u64>,
    /// The seq of the next event.
    pub next_seq: i64,
    /// How many times the file was rotated.
    pub rotations: usize,
}

fn append(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open changelog for append")
}

impl Writer {
    /// A writer on `path` (created empty if missing), no size limit.
    pub fn new(path: &Path) -> Writer {
        let file = append(path);
        let size = file.metadata().unwrap().len();
        Writer {
            path: path.to_path_buf(),
            file,
            size,
            max_size: None,
            next_seq: 1,
            rotations: 0,
        }
    }

    /// A writer that rotates by delete + create before passing `max_size`.
    pub fn sized(path: &Path, max_size: u64) -> Writer {
        Writer {
            max_size: Some(max_size),
            ..Writer::new(path)
        }
    }

    /// Writes `text` in one write call, as it is.
    pub fn raw(&mut self, text: &[u8]) {
        self.file.write_all(text).expect("write");
        self.size += text.len() as u64;
    }

    /// Writes one complete line (rotating first if it would pass the size).
    pub fn write_line(&mut self, line: &str) {
        let len = line.len() as u64 + 1;
        if let Some(max) = self.max_size
            && self.size > 0
            && self.size + len > max
        {
            self.rotate_delete();
        }
        self.raw(format!("{line}\n").as_bytes());
    }

    /// Writes the next event's line.
    pub fn event(&mut self) -> i64 {
        let seq = self.next_seq;
        self.write_line(&line(seq));
        self.next_seq += 1;
        seq
    }

    /// Writes `n` events.
    pub fn events(&mut self, n: usize) {
        for _ in 0..n {
            self.event();
        }
    }

    /// SizedLogWriter's rotation: close, delete, create at the same path.
    pub fn rotate_delete(&mut self) {
        fs::remove_file(&self.path).expect("delete");
        self.reopen();
    }

    /// logrotate's `copytruncate`: the same file, cut to zero.
    pub fn truncate(&mut self) {
        self.file.set_len(0).expect("truncate");
        self.size = 0;
    }

    /// Opens whatever the path names now (a new file if none).
    pub fn reopen(&mut self) {
        self.file = append(&self.path);
        self.size = self.file.metadata().unwrap().len();
        self.rotations += 1;
    }
}
