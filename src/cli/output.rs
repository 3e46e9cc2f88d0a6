//! Writing events to stdout: NDJSON, raw lines or pretty lines, with the
//! event's row when `--rows` found one (see [`super::rows`]).
//!
//! One buffered writer on locked stdout: a backlog is written in large
//! blocks, and the run loop flushes whenever the reader has caught up, so
//! a follower still sees each event at once.

use super::config::Format;
use super::rows::RowField;
use changelog_tail::printable as sanitize;
use changelog_tail::{EventRef, Record};
use owo_colors::{OwoColorize, Style};
use std::io::{self, Write};

/// The output side of a run.
pub struct Output<W: Write> {
    writer: W,
    format: Format,
    color: bool,
    /// An event's NDJSON, reused: with a row, the event's closing brace
    /// has to give way to the `row` field.
    scratch: Vec<u8>,
}

impl<W: Write> Output<W> {
    /// Prints in `format`; `color` only affects pretty output.
    pub fn new(writer: W, format: Format, color: bool) -> Self {
        Output {
            writer,
            format,
            color,
            scratch: Vec::new(),
        }
    }

    /// Writes one event.
    pub fn write(&mut self, record: &Record<'_>) -> io::Result<()> {
        match self.format {
            Format::Ndjson => record.event().write_json(&mut self.writer)?,
            Format::Raw => self.writer.write_all(record.line())?,
            Format::Pretty => self.write_pretty(record.event(), &RowField::Omitted)?,
        }
        self.writer.write_all(b"\n")
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
            Format::Raw => self.writer.write_all(record.line())?,
            Format::Pretty => self.write_pretty(record.event(), row)?,
        }
        self.writer.write_all(b"\n")
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
        self.writer.write_all(&self.scratch)
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
        self.writer.write_all(line.as_bytes())
    }

    /// Hands everything written so far to the reader.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }

    /// What the output is written to.
    pub fn writer(&self) -> &W {
        &self.writer
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
        String::from_utf8(out.writer).unwrap()
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
