//! Writing events to stdout: NDJSON, raw lines or pretty lines, with the
//! event's row when `--rows` found one (see [`super::rows`]).
//!
//! Events are written into one buffer, handed to the sink in whole lines
//! once it holds [`OUTPUT_BUFFER`] bytes and whenever the run loop flushes
//! (when the reader has caught up, so a follower still sees each event at
//! once). The sink for stdout is [`RawStdout`]: the descriptor itself,
//! not `std::io::Stdout`, whose line buffering would split each block at
//! its last line end into two writes.

use super::config::Format;
use super::rows::RowField;
use changelog_tail::printable as sanitize;
use changelog_tail::{EventRef, Record, SnapshotRow};
use owo_colors::{OwoColorize, Style};
use std::io::{self, Write};
use std::os::fd::AsFd;

/// Output buffer: large enough that a backlog costs few write calls (see
/// the library's read size), small enough to stay in cache.
pub const OUTPUT_BUFFER: usize = 128 * 1024;

/// A failed write to standard output, as [`RawStdout`] reports it: it
/// says it was standard output that failed (the README, Exit status: "cannot write to
/// standard output: No space left on device"), not just the system's
/// words, which would read as if the changelog or the state file had. The
/// error keeps its kind, so a reader that went away is still told by
/// [`io::ErrorKind::BrokenPipe`].
#[derive(Debug)]
pub struct StdoutFailed(io::Error);

impl std::fmt::Display for StdoutFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot write to standard output: {}", self.0)
    }
}

// No `source`: the system's words are in the message already.
impl std::error::Error for StdoutFailed {}

fn stdout_failed(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::Interrupted {
        return e;
    }
    io::Error::new(e.kind(), StdoutFailed(e))
}

/// Why a snapshot is printed (its `begin` line says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotReason {
    /// At the start of a run (`--snapshot`).
    Start,
    /// Events were lost: `expected` was the next seq (if known), `got`
    /// came.
    OutOfSync { expected: Option<i64>, got: i64 },
}

/// The output side of a run.
pub struct Output<W: Write> {
    /// Whole events not yet handed to `sink`.
    buffer: Vec<u8>,
    sink: W,
    /// A write or flush of `sink` failed at some point: what was written
    /// since may be missing or cut short (see [`failed`](Self::failed)).
    failed: bool,
    format: Format,
    color: bool,
    /// An event's NDJSON, reused: with a row, the event's closing brace
    /// has to give way to the `row` field.
    scratch: Vec<u8>,
}

impl<W: Write> Output<W> {
    /// Prints in `format` to `sink`; `color` only affects pretty output.
    pub fn new(sink: W, format: Format, color: bool) -> Self {
        Output {
            buffer: Vec::with_capacity(OUTPUT_BUFFER + 4096),
            sink,
            failed: false,
            format,
            color,
            scratch: Vec::new(),
        }
    }

    /// Writes one event.
    pub fn write(&mut self, record: &Record<'_>) -> io::Result<()> {
        match self.format {
            Format::Ndjson => record.event().write_json(&mut self.buffer)?,
            Format::Raw => self.buffer.extend_from_slice(record.line()),
            Format::Pretty => self.write_pretty(record.event(), &RowField::Omitted)?,
        }
        self.end_line()
    }

    /// Writes one event with its `row` field (`--rows`), none if
    /// [`RowField::Omitted`] (raw lines never get one).
    ///
    /// Apart from [`write`](Self::write), and not calling it: the event
    /// path without `--rows` keeps its one call of each writer, which the
    /// compiler inlines (a second call site cost 26 instructions per event,
    /// 5% of an unfiltered catch-up).
    pub fn write_with_row(&mut self, record: &Record<'_>, row: &RowField) -> io::Result<()> {
        match self.format {
            Format::Ndjson => self.write_json_with_row(record.event(), row)?,
            Format::Raw => self.buffer.extend_from_slice(record.line()),
            Format::Pretty => self.write_pretty(record.event(), row)?,
        }
        self.end_line()
    }

    /// A snapshot's first line: `{"snapshot":"begin","reason":…}` (with
    /// the `expected` and `got` seqs of a gap), or a header.
    pub fn write_snapshot_begin(&mut self, reason: &SnapshotReason) -> io::Result<()> {
        match self.format {
            Format::Ndjson | Format::Raw => {
                self.buffer
                    .extend_from_slice(br#"{"snapshot":"begin","reason":"#);
                match reason {
                    SnapshotReason::Start => self.buffer.extend_from_slice(br#""start""#),
                    SnapshotReason::OutOfSync { expected, got } => {
                        self.buffer.extend_from_slice(br#""out of sync""#);
                        if let Some(expected) = expected {
                            write!(self.buffer, r#","expected":{expected}"#)?;
                        }
                        write!(self.buffer, r#","got":{got}"#)?;
                    }
                }
                self.buffer.push(b'}');
            }
            Format::Pretty => {
                let why = match reason {
                    SnapshotReason::Start => "start".to_owned(),
                    SnapshotReason::OutOfSync {
                        expected: Some(expected),
                        got,
                    } => format!("out of sync (expected seq {expected}, got {got})"),
                    SnapshotReason::OutOfSync {
                        expected: None,
                        got,
                    } => {
                        format!("out of sync (at seq {got})")
                    }
                };
                let line = format!("{} begin: {why}", self.snapshot_word());
                self.buffer.extend_from_slice(line.as_bytes());
            }
        }
        self.end_line()
    }

    /// One row of a snapshot (see [`SnapshotRow::write_json`]), or its
    /// pretty line.
    pub fn write_snapshot_row(&mut self, row: &SnapshotRow) -> io::Result<()> {
        match self.format {
            Format::Ndjson | Format::Raw => row.write_json(&mut self.buffer)?,
            Format::Pretty => {
                let line = format!("{} {row}", self.snapshot_word());
                self.buffer.extend_from_slice(line.as_bytes());
            }
        }
        self.end_line()
    }

    /// A snapshot's last line: `{"snapshot":"end","rows":N}`, or a footer.
    pub fn write_snapshot_end(&mut self, rows: u64) -> io::Result<()> {
        match self.format {
            Format::Ndjson | Format::Raw => {
                write!(self.buffer, r#"{{"snapshot":"end","rows":{rows}}}"#)?
            }
            Format::Pretty => {
                let plural = if rows == 1 { "" } else { "s" };
                let line = format!("{} end: {rows} row{plural}", self.snapshot_word());
                self.buffer.extend_from_slice(line.as_bytes());
            }
        }
        self.end_line()
    }

    /// "snapshot", as pretty lines begin with it (coloured when enabled).
    fn snapshot_word(&self) -> String {
        match self.color {
            true => "snapshot".magenta().to_string(),
            false => "snapshot".to_owned(),
        }
    }

    /// Ends an event's line; a full buffer goes to the sink (in whole
    /// lines: a pipe's reader never sees half an event from one write).
    #[inline]
    fn end_line(&mut self) -> io::Result<()> {
        self.buffer.push(b'\n');
        if self.buffer.len() >= OUTPUT_BUFFER {
            self.write_out()?;
        }
        Ok(())
    }

    /// Hands the buffer to the sink. What a failed write did not take stays
    /// in front of the buffer, in order (as `BufWriter` keeps it).
    fn write_out(&mut self) -> io::Result<()> {
        let mut written = 0;
        let result = loop {
            if written == self.buffer.len() {
                break Ok(());
            }
            match self.sink.write(&self.buffer[written..]) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        self.buffer.drain(..written);
        self.failed |= result.is_err();
        result
    }

    /// The event's NDJSON with `"row"` as its last field (if any).
    fn write_json_with_row(&mut self, event: &EventRef<'_>, row: &RowField) -> io::Result<()> {
        self.scratch.clear();
        event.write_json(&mut self.scratch)?;
        let row = match row {
            RowField::Omitted => None,
            RowField::Null => Some(None),
            RowField::Row(row) => Some(Some(row)),
        };
        if let Some(row) = row {
            // An event's JSON is one object: it ends with its closing brace.
            let closing = self.scratch.pop();
            debug_assert_eq!(closing, Some(b'}'));
            self.scratch.extend_from_slice(b",\"row\":");
            match row {
                Some(row) => row.write_json(&mut self.scratch)?,
                None => self.scratch.extend_from_slice(b"null"),
            }
            self.scratch.push(b'}');
        }
        self.buffer.extend_from_slice(&self.scratch);
        Ok(())
    }

    fn write_pretty(&mut self, event: &EventRef<'_>, row: &RowField) -> io::Result<()> {
        let paint = |style: Style, text: &str| -> String {
            let text = sanitize(text);
            if self.color {
                text.style(style).to_string()
            } else {
                text.into_owned()
            }
        };
        let seq = paint(Style::new().yellow(), &event.seq.to_string());
        let table = paint(
            Style::new().bold(),
            &format!("{}.{}", event.family, event.table),
        );
        let mut line = format!("{seq} {table}");
        for key in event.keys() {
            line.push(' ');
            line.push_str(&paint(Style::new().cyan(), key.name()));
            line.push('=');
            line.push_str(&sanitize(key.value_json()));
        }
        match row {
            RowField::Omitted => {}
            RowField::Null => line.push_str(&paint(Style::new().dimmed(), " (no row)")),
            RowField::Row(row) => {
                line.push_str(" →");
                for (column, value) in row.iter() {
                    line.push(' ');
                    line.push_str(&paint(Style::new().cyan(), column));
                    line.push('=');
                    line.push_str(&sanitize(&value.to_string()));
                }
            }
        }
        self.buffer.extend_from_slice(line.as_bytes());
        Ok(())
    }

    /// Hands everything written so far to the reader.
    pub fn flush(&mut self) -> io::Result<()> {
        self.write_out()?;
        let flushed = self.sink.flush();
        self.failed |= flushed.is_err();
        flushed
    }

    /// Whether a write to the sink ever failed: then an event may be
    /// missing or cut short, even if later writes went through, and the
    /// state must not claim what was printed.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// The sink (tests read what was written).
    #[cfg(test)]
    fn sink(&self) -> &W {
        &self.sink
    }
}

/// Standard output, written straight to its descriptor. A descriptor
/// someone else made non-blocking (`EAGAIN`) is waited on until it takes
/// more, not failed: an event is never dropped for a slow reader.
pub struct RawStdout(io::Stdout);

impl RawStdout {
    /// This process's standard output.
    pub fn new() -> Self {
        RawStdout(io::stdout())
    }
}

impl Write for RawStdout {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let fd = self.0.as_fd();
        loop {
            match rustix::io::write(fd, bytes) {
                Ok(n) => return Ok(n),
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) => {
                    let mut fds = [rustix::event::PollFd::new(
                        &fd,
                        rustix::event::PollFlags::OUT,
                    )];
                    match rustix::event::poll(&mut fds, None) {
                        Ok(_) | Err(rustix::io::Errno::INTR) => {}
                        Err(e) => return Err(stdout_failed(e.into())),
                    }
                }
                Err(e) => return Err(stdout_failed(e.into())),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use changelog_tail::{ChangelogIterator, ColumnValue, MemorySource, Next};

    fn render(format: Format, color: bool, line: &str) -> String {
        render_with(format, color, line, &RowField::Omitted)
    }

    fn render_with(format: Format, color: bool, line: &str, row: &RowField) -> String {
        let mut it = ChangelogIterator::builder_memory(MemorySource::new(vec![line.to_string()]))
            .open()
            .unwrap();
        let Next::Item(record) = it.next_record(None).unwrap() else {
            panic!("no record")
        };
        let mut out = Output::new(Vec::new(), format, color);
        out.write_with_row(&record, row).unwrap();
        out.flush().unwrap();
        String::from_utf8(out.sink().clone()).unwrap()
    }

    const LINE: &str = r#"{"seq":9,"family":"f","table":"t","key":[{"name":"id","type":"INT","value":99999999999999999999},{"name":"s","type":"TEXT", "value":"a\u0041"}]}"#;

    #[test]
    fn ndjson_is_normalised_with_values_as_written() {
        assert_eq!(
            render(Format::Ndjson, false, LINE),
            "{\"seq\":9,\"family\":\"f\",\"table\":\"t\",\"keys\":[{\"name\":\"id\",\"type\":\"INT\",\"value\":99999999999999999999},{\"name\":\"s\",\"type\":\"TEXT\",\"value\":\"a\\u0041\"}]}\n"
        );
    }

    #[test]
    fn raw_is_the_line_byte_for_byte() {
        assert_eq!(render(Format::Raw, false, LINE), format!("{LINE}\n"));
    }

    #[test]
    fn pretty_shows_seq_table_and_keys() {
        assert_eq!(
            render(Format::Pretty, false, LINE),
            "9 f.t id=99999999999999999999 s=\"a\\u0041\"\n"
        );
    }

    #[test]
    fn pretty_colours_only_when_asked() {
        assert!(render(Format::Pretty, true, LINE).contains("\x1b["));
        assert!(!render(Format::Pretty, false, LINE).contains('\x1b'));
    }

    #[test]
    fn pretty_escapes_terminal_controls_in_names() {
        let hostile = r#"{"seq":1,"family":"f\u001b[2J","table":"t\u202e","key":[{"name":"n\u0007","type":"TEXT","value":"\u009b"}]}"#;
        let shown = render(Format::Pretty, false, hostile);
        assert_eq!(shown, "1 f\\u{1b}[2J.t\\u{202e} n\\u{7}=\"\\u009b\"\n");
    }

    fn row() -> RowField {
        RowField::Row(
            [
                ("id".to_owned(), ColumnValue::Integer(7)),
                (
                    "email".to_owned(),
                    ColumnValue::Text("a@b\u{1b}[2J\u{202e}".to_owned()),
                ),
                ("gone".to_owned(), ColumnValue::Null),
            ]
            .into_iter()
            .collect(),
        )
    }

    const SHORT: &str =
        r#"{"seq":3,"family":"f","table":"t","key":[{"name":"id","type":"INT","value":7}]}"#;

    #[test]
    fn ndjson_row_is_the_last_field_on_both_paths() {
        let expected = concat!(
            r#"{"seq":3,"family":"f","table":"t","keys":[{"name":"id","type":"INT","value":7}],"#,
            r#""row":{"id":7,"email":"a@b\u001b[2J"#,
            "\u{202e}",
            r#"","gone":null}}"#,
            "\n"
        );
        assert_eq!(render_with(Format::Ndjson, false, SHORT, &row()), expected);
        // Not in the writer's exact shape: serialised, not copied.
        let spaced = SHORT.replace(",\"table\"", ", \"table\"");
        assert_eq!(
            render_with(Format::Ndjson, false, &spaced, &row()),
            expected
        );
        assert!(
            render_with(Format::Ndjson, false, SHORT, &RowField::Null)
                .ends_with(",\"row\":null}\n")
        );
    }

    #[test]
    fn pretty_row_is_escaped_and_a_missing_one_said() {
        assert_eq!(
            render_with(Format::Pretty, false, SHORT, &row()),
            "3 f.t id=7 → id=7 email=\"a@b\\u001b[2J\\u{202e}\" gone=null\n"
        );
        assert_eq!(
            render_with(Format::Pretty, false, SHORT, &RowField::Null),
            "3 f.t id=7 (no row)\n"
        );
    }
}
