//! Writing events to stdout: NDJSON, raw lines or pretty lines.
//!
//! One buffered writer on locked stdout: a backlog is written in large
//! blocks, and the run loop flushes whenever the reader has caught up, so
//! a follower still sees each event at once.

use super::config::Format;
use changelog_tail::printable as sanitize;
use changelog_tail::{EventRef, Record};
use owo_colors::{OwoColorize, Style};
use std::io::{self, Write};

/// The output side of a run.
pub struct Output<W: Write> {
    writer: W,
    format: Format,
    color: bool,
}

impl<W: Write> Output<W> {
    /// Prints in `format`; `color` only affects pretty output.
    pub fn new(writer: W, format: Format, color: bool) -> Self {
        Output {
            writer,
            format,
            color,
        }
    }

    /// Writes one event.
    pub fn write(&mut self, record: &Record<'_>) -> io::Result<()> {
        match self.format {
            Format::Ndjson => record.event().write_json(&mut self.writer)?,
            Format::Raw => self.writer.write_all(record.line())?,
            Format::Pretty => self.write_pretty(record.event())?,
        }
        self.writer.write_all(b"\n")
    }

    fn write_pretty(&mut self, event: &EventRef<'_>) -> io::Result<()> {
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
        self.writer.write_all(line.as_bytes())
    }

    /// Hands everything written so far to the reader.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use changelog_tail::{ChangelogIterator, MemorySource, Next};

    fn render(format: Format, color: bool, line: &str) -> String {
        let mut it = ChangelogIterator::builder_memory(MemorySource::new(vec![line.to_string()]))
            .open()
            .unwrap();
        let Next::Item(record) = it.next_record(None).unwrap() else {
            panic!("no record")
        };
        let mut out = Output::new(Vec::new(), format, color);
        out.write(&record).unwrap();
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
}
