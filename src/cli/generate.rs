//! `--generate KIND`: the man page and the shell completions, printed from
//! the same clap definition that parses the command line (as
//! `rg --generate`), so that `cargo install` users get them too and the
//! files in the repository (`doc/changelog-tail.1`, `completions/`) are
//! exactly what this prints (a test in [`super::generated`] holds them so).
//!
//! The man page takes NAME, DESCRIPTION and OPTIONS from clap (through
//! `clap_mangen`) and writes the SYNOPSIS itself, with each option's
//! placeholder (clap_mangen's leaves them out); the sections a man page
//! reader expects and `--help` has no place for (OUTPUT, EXIT STATUS,
//! ENVIRONMENT, FILES, SIGNALS, EXAMPLES, SEE ALSO) are roff written here.

use super::args::{Args, GenerateArg};
use clap::{Arg, ArgAction, CommandFactory};
use clap_complete::Shell;
use std::io::{self, Write};

/// The command's name, as installed.
const NAME: &str = "changelog-tail";

/// Writes what `kind` names to `out`.
pub fn generate(kind: GenerateArg, out: &mut dyn Write) -> io::Result<()> {
    let shell = match kind {
        GenerateArg::Man => return man_page(out),
        GenerateArg::CompleteBash => Shell::Bash,
        GenerateArg::CompleteZsh => Shell::Zsh,
        GenerateArg::CompleteFish => Shell::Fish,
        GenerateArg::CompleteElvish => Shell::Elvish,
        GenerateArg::CompletePowershell => Shell::PowerShell,
    };
    // clap_complete writes straight to `out` and cannot report a failed
    // write (it panics instead); a buffer lets a closed pipe be an error.
    let mut text = Vec::new();
    clap_complete::generate(shell, &mut Args::command(), NAME, &mut text);
    out.write_all(&text)?;
    out.flush()
}

/// The man page, roff, in the order of man-pages(7).
fn man_page(out: &mut dyn Write) -> io::Result<()> {
    let mut command = Args::command();
    command.build();
    let man = clap_mangen::Man::new(command.clone());
    let mut text = Vec::new();
    man.render_title(&mut text)?;
    man.render_name_section(&mut text)?;
    synopsis(&command, &mut text)?;
    man.render_description_section(&mut text)?;
    text.extend_from_slice(DESCRIPTION_MORE.as_bytes());
    man.render_options_section(&mut text)?;
    for section in SECTIONS {
        text.extend_from_slice(section.as_bytes());
    }
    out.write_all(&text)?;
    out.flush()
}

/// SYNOPSIS: every option with its placeholder (`[--table NAME]...` for
/// one that may be repeated), then the forms that print and exit.
fn synopsis(command: &clap::Command, out: &mut Vec<u8>) -> io::Result<()> {
    /// Options that are a form of their own, not options of a run.
    const ALONE: [&str; 3] = ["generate", "help", "version"];
    // No hyphenation (an option split at a hyphen cannot be copied) and
    // no justification (the spaces between options would stretch).
    writeln!(out, ".SH SYNOPSIS\n.nh\n.ad l")?;
    let run: Vec<String> = command
        .get_arguments()
        .filter(|arg| !arg.is_hide_set() && !ALONE.contains(&arg.get_id().as_str()))
        .map(|arg| format!("[{}]{}", option(arg), repeat(arg)))
        .collect();
    writeln!(out, "\\fB{}\\fR {}", roff(NAME), run.join(" "))?;
    for id in ALONE {
        let arg = command
            .get_arguments()
            .find(|arg| arg.get_id() == id)
            .expect("the options that print and exit are defined");
        writeln!(out, ".br\n\\fB{}\\fR {}", roff(NAME), option(arg))?;
    }
    writeln!(out, ".ad\n.hy")
}

/// `\fB-p\fR|\fB--path\fR \fIPATH\fR`: an option's names and placeholder.
fn option(arg: &Arg) -> String {
    let names: Vec<String> = arg
        .get_short()
        .map(|short| format!("-{short}"))
        .into_iter()
        .chain(arg.get_long().map(|long| format!("--{long}")))
        .map(|name| format!("\\fB{}\\fR", roff(&name)))
        .collect();
    let mut text = names.join("|");
    if arg.get_action().takes_values()
        && let Some(values) = arg.get_value_names()
    {
        for value in values {
            // An unbreakable space: a line break between an option and
            // its placeholder would read as two options.
            text.push_str(&format!("\\ \\fI{}\\fR", roff(value)));
        }
    }
    text
}

/// `...` after an option that may be given more than once.
fn repeat(arg: &Arg) -> &'static str {
    match arg.get_action() {
        ArgAction::Append | ArgAction::Count => "...",
        _ => "",
    }
}

/// `text` safe inside a roff line: backslashes and hyphens escaped (a
/// `-` left bare may be set as a hyphen, which a reader cannot copy).
fn roff(text: &str) -> String {
    text.replace('\\', "\\e").replace('-', "\\-")
}

/// The end of DESCRIPTION: what `--help` leaves to this page.
const DESCRIPTION_MORE: &str = r#".PP
A rotation is any of: the file deleted and created again (ctlstore's own),
renamed away and created again, truncated in place, or a symbolic link
pointed elsewhere. A line the writer has not finished yet is held until its
end arrives; a line that cannot be read (not JSON, a field of the wrong type,
longer than \fB\-\-max\-line\-bytes\fR) is a warning naming the file, line
and byte offset, and reading goes on (\fB\-\-strict\fR: exit 4).
.PP
Nothing is lost or repeated silently: every event of a file the tool had open
is printed once, in order. Whatever could not be read (a file rotated away
before it was opened, a writer that restarted, events written while the tool
was not running) shows as a skipped sequence number:
.I out of sync
(exit 3 unless \fB\-\-on\-out\-of\-sync warn\fR or \fBsnapshot\fR).
.PP
With \fB\-\-snapshot\fR, every row of the matching tables as it is now in
ctlstore's LDB comes first, then every change from that instant on: the
position is taken while the LDB's write lock is held for an instant, so no
change falls between the two (one may show in both). With
\fB\-\-on\-out\-of\-sync snapshot\fR, lost events bring a fresh snapshot
instead of exit 3.
"#;

/// The sections after OPTIONS, in man-pages(7)'s order.
const SECTIONS: [&str; 7] = [
    r#".SH OUTPUT
With \fB\-\-format ndjson\fR (the default when standard output is not a
terminal), one JSON object per event, fields in this order:
.PP
.RS
.nf
{"seq":42,"family":"fam","table":"foo","keys":[{"name":"id","type":"INT","value":1}]}
.fi
.RE
.PP
Key values are copied as written: integers keep every digit, strings keep
their escapes. With \fB\-\-rows\fR, a last field \fB"row"\fR holds the row as
it is now in the LDB (an object of every column), or \fBnull\fR if there is
no such row now. With \fB\-\-raw\fR, each matching input line is printed byte
for byte instead.
.PP
A snapshot is a \fB{"snapshot":"begin","reason":"start"}\fR line (reason
\fB"out of sync"\fR, with the \fB"expected"\fR and \fB"got"\fR seqs, after a
gap), one \fB{"snapshot":"row",...}\fR line per row (its family, table,
primary\-key columns as \fB"keys"\fR and every column as \fB"row"\fR), and
\fB{"snapshot":"end","rows":\fIN\fB}\fR. Reset a cache on each begin line.
.PP
With \fB\-\-format pretty\fR (the default on a terminal), one line per event:
the seq, \fIfamily\fR.\fItable\fR, then each key as \fIname\fR=\fIvalue\fR
(and with \fB\-\-rows\fR, \(-> \fIcolumn\fR=\fIvalue\fR... or "(no row)").
.PP
Output is buffered while catching up and flushed whenever the end of the
file is reached, before the state file is written, and before any message
is written to standard error, so that on one terminal each message comes
after the events printed before it.
.PP
Messages go to standard error, one line each, starting
\fBchangelog\-tail:\fR; usage errors keep clap's form (\fBerror:\fR ...).
"#,
    r#".SH "EXIT STATUS"
.TP
.B 0
\fB\-\-no\-follow\fR reached the end, \fB\-\-count\fR was reached, the
input pipe (\fB\-\-path \-\fR) ended, or the reader of standard output
went away (no message).
.TP
.B 1
A runtime error: the changelog missing (after \fB\-\-wait\fR), permission
denied, not a regular file, an I/O error, a bad state file.
.TP
.B 2
A bad command line.
.TP
.B 3
Out of sync: events were lost. Drop everything cached from the database,
then start again (with \fB\-\-state\-file\fR, the state already points past
the gap).
.TP
.B 4
An invalid entry, with \fB\-\-strict\fR.
.TP
.BR 130 ", " 143
Interrupted by SIGINT or SIGTERM, after flushing the output and the state.
"#,
    r#".SH ENVIRONMENT
.TP
.B CTLSTORE_PATH
ctlstore's directory: the changelog is \fI$CTLSTORE_PATH/change.log\fR and
the LDB \fI$CTLSTORE_PATH/ldb.db\fR, unless \fB\-\-path\fR and \fB\-\-ldb\fR
say otherwise.
.TP
.B CHANGELOG_TAIL_WATCHER
How changes to the changelog are noticed: \fBinotify\fR (Linux's own
notifications; the default on Linux), \fBnotify\fR (the notify crate's
watcher: kqueue on macOS and the BSDs, where it is the default) or
\fBpoll\fR (every 100 ms). Unset or empty: the default. \fB\-\-poll\fR wins
over it; any other value is a usage error.
.TP
.B NO_COLOR
When set and not empty, \fB\-\-color auto\fR means no colour.
"#,
    r#".SH FILES
.TP
.I /var/spool/ctlstore/change.log
The changelog, when neither \fB\-\-path\fR nor \fBCTLSTORE_PATH\fR is given.
.TP
.I /var/spool/ctlstore/ldb.db
The LDB that \fB\-\-rows\fR and snapshots read, when neither \fB\-\-ldb\fR
nor \fBCTLSTORE_PATH\fR is given. It is read through a read\-only connection;
a second connection takes its write lock for an instant (once per snapshot,
and once per batch of lines with \fB\-\-rows\fR) and only ever rolls back.
.TP
.I STATE_FILE
With \fB\-\-state\-file\fR: the last event read (its seq, a hash of its
line, and where that line ended in which file), written atomically after
the output before it is flushed. One running process per state file (it is
locked); an unreadable or corrupt one is an error, never ignored.
"#,
    r#".SH SIGNALS
.TP
.B SIGUSR1
Print one status line to standard error and go on, as \fBdd\fR(1) does: the
file and its device and inode, offset and size, last seq, lines read, events
printed, invalid entries, rotations followed; during a snapshot, its
progress (rows printed, the table being read); while a write transaction
of the LDB is waited out, that, and for how long so far.
.TP
.BR SIGINT ", " SIGTERM
Flush the output and the state, then exit 130 or 143.
.TP
.B SIGPIPE
A reader of standard output that went away ends the run quietly (exit 0).
"#,
    r#".SH EXAMPLES
Follow one table and print a key column:
.PP
.RS
.nf
changelog\-tail \-\-family payments \-\-table accounts | jq \-r \(aq.keys[0].value\(aq
.fi
.RE
.PP
The last 20 events of one family, then the new ones, as \fBtail \-n 20 \-F\fR:
.PP
.RS
.nf
changelog\-tail \-n 20 \-\-family payments \-\-format pretty
.fi
.RE
.PP
Read what a file holds now, readably, and exit:
.PP
.RS
.nf
changelog\-tail \-\-no\-follow \-\-path ./change.log \-\-format pretty
.fi
.RE
.PP
Wait for the next change of one row:
.PP
.RS
.nf
changelog\-tail \-\-table users \-\-key id=42 \-\-count 1
.fi
.RE
.PP
Resume across restarts (a service that caches rows):
.PP
.RS
.nf
changelog\-tail \-\-state\-file /var/lib/myapp/changelog.state \-\-family payments
.fi
.RE
.PP
Mirror a table: every row first, then the changes with their rows, and a
fresh snapshot whenever events are lost:
.PP
.RS
.nf
changelog\-tail \-\-snapshot \-\-rows \-\-on\-out\-of\-sync snapshot \-\-family payments \-\-table accounts
.fi
.RE
.PP
Follow another host's changelog through a pipe:
.PP
.RS
.nf
ssh host tail \-F /var/spool/ctlstore/change.log | changelog\-tail \-\-path \- \-\-family payments
.fi
.RE
.PP
Install the completions and this page for the current user (bash):
.PP
.RS
.nf
changelog\-tail \-\-generate complete\-bash > ~/.local/share/bash\-completion/completions/changelog\-tail
changelog\-tail \-\-generate man > ~/.local/share/man/man1/changelog\-tail.1
.fi
.RE
"#,
    r#".SH "SEE ALSO"
.BR tail (1),
.BR jq (1),
.BR inotify (7)
.PP
ctlstore: https://github.com/segmentio/ctlstore
"#,
];
