//! What gets printed: NDJSON with exact values, raw lines, pretty lines,
//! colour, filters, the default path.

use crate::harness::{binary, no_follow};
use changelog_tail::Event;
use serde_json::Value;

const BIG: &str = r#"{"seq":1,"family":"fam","table":"foo","key":[{"name":"id","type":"INT","value":9007199254740993},{"name":"big","type":"INTEGER","value":18446744073709551617},{"name":"s","type":"VARCHAR","value":"caf\u00e9 \"q\""},{"name":"b","type":"BLOB","value":"AAEC"},{"name":"n","type":"TEXT","value":null}],"extra":true}"#;

fn file(lines: &[&str]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    std::fs::write(
        &path,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    (dir, path)
}

fn run(path: &std::path::Path, args: &[&str]) -> String {
    let out = no_follow(path, args);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn sample(seq: i64, family: &str, table: &str, id: &str) -> String {
    format!(
        r#"{{"seq":{seq},"family":"{family}","table":"{table}","key":[{{"name":"id","type":"INT","value":{id}}}]}}"#
    )
}

#[test]
fn ndjson_keeps_every_digit_and_escape_in_field_order() {
    let (_dir, path) = file(&[BIG]);
    let out = run(&path, &[]);
    assert_eq!(
        out,
        "{\"seq\":1,\"family\":\"fam\",\"table\":\"foo\",\"keys\":[\
         {\"name\":\"id\",\"type\":\"INT\",\"value\":9007199254740993},\
         {\"name\":\"big\",\"type\":\"INTEGER\",\"value\":18446744073709551617},\
         {\"name\":\"s\",\"type\":\"VARCHAR\",\"value\":\"caf\\u00e9 \\\"q\\\"\"},\
         {\"name\":\"b\",\"type\":\"BLOB\",\"value\":\"AAEC\"},\
         {\"name\":\"n\",\"type\":\"TEXT\",\"value\":null}]}\n"
    );
    // And it is what the library's types read back.
    let event: Event = serde_json::from_str(out.trim_end()).unwrap();
    assert_eq!(
        event.row_update.keys[1].value.json(),
        "18446744073709551617"
    );
}

#[test]
fn non_terminal_stdout_defaults_to_ndjson() {
    let (_dir, path) = file(&[&sample(1, "f", "t", "1")]);
    let value: Value = serde_json::from_str(run(&path, &[]).trim_end()).unwrap();
    assert_eq!(value["keys"][0]["value"], 1);
}

#[test]
fn raw_prints_input_lines_byte_for_byte() {
    let (_dir, path) = file(&[BIG, &sample(2, "other", "t", "2")]);
    assert_eq!(
        run(&path, &["--raw", "--family", "fam"]),
        format!("{BIG}\n")
    );
}

#[test]
fn pretty_without_colour() {
    let (_dir, path) = file(&[BIG]);
    assert_eq!(
        run(&path, &["--format", "pretty", "--color", "never"]),
        "1 fam.foo id=9007199254740993 big=18446744073709551617 s=\"caf\\u00e9 \\\"q\\\"\" b=\"AAEC\" n=null\n"
    );
}

#[test]
fn pretty_colour_always_never_and_no_color() {
    let (_dir, path) = file(&[&sample(1, "f", "t", "1")]);
    assert!(run(&path, &["--format", "pretty", "--color", "always"]).contains("\x1b["));
    assert!(!run(&path, &["--format", "pretty", "--color", "never"]).contains('\x1b'));
    // auto: stdout is a pipe here, so no colour even in pretty.
    assert!(!run(&path, &["--format", "pretty"]).contains('\x1b'));
    let out = binary()
        .env("NO_COLOR", "1")
        .arg("-p")
        .arg(&path)
        .args(["--no-follow", "--format", "pretty", "--color", "auto"])
        .output()
        .unwrap();
    assert!(!String::from_utf8(out.stdout).unwrap().contains('\x1b'));
}

#[test]
fn ndjson_is_never_coloured() {
    let (_dir, path) = file(&[&sample(1, "f", "t", "1")]);
    assert!(!run(&path, &["--color", "always"]).contains('\x1b'));
}

#[test]
fn pretty_escapes_terminal_sequences_in_data() {
    let hostile = r#"{"seq":1,"family":"f\u001b]0;pwned\u0007","table":"t","key":[{"name":"id","type":"TEXT","value":"x"}]}"#;
    let (_dir, path) = file(&[hostile]);
    let out = run(&path, &["--format", "pretty", "--color", "never"]);
    assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out:?}");
    assert!(out.contains("\\u{1b}]0;pwned\\u{7}"), "{out:?}");
}

#[test]
fn filters_by_family_table_and_key() {
    let lines = [
        sample(1, "fam", "foo", "1"),
        sample(2, "FAM", "Foo", "2"),
        sample(3, "fam", "bar", "1"),
        sample(4, "other", "foo", "1"),
        sample(5, "fam", "foo", "\"1\""),
    ];
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let (_dir, path) = file(&refs);
    let seqs = |args: &[&str]| -> Vec<i64> {
        run(&path, args)
            .lines()
            .map(|l| serde_json::from_str::<Event>(l).unwrap().seq)
            .collect()
    };
    assert_eq!(seqs(&["--family", "fam", "--table", "foo"]), [1, 2, 5]);
    assert_eq!(seqs(&["--table", "foo"]), [1, 2, 4, 5]);
    assert_eq!(
        seqs(&["--table", "foo", "--table", "bar", "--family", "fam"]),
        [1, 2, 3, 5]
    );
    assert_eq!(seqs(&["--family", "fam", "--key", "id=1"]), [1, 3, 5]);
    assert_eq!(seqs(&["--key", "id=1", "--key", "id=2"]), Vec::<i64>::new());
}

#[test]
fn the_default_path_comes_from_ctlstore_path() {
    let (dir, _path) = file(&[&sample(1, "f", "t", "1")]);
    let out = binary()
        .env("CTLSTORE_PATH", dir.path())
        .arg("--no-follow")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8(out.stdout).unwrap().contains("\"seq\":1"));
}

#[test]
fn without_ctlstore_path_the_default_is_ctlstores_spool() {
    let out = binary().arg("--no-follow").output().unwrap();
    if std::path::Path::new(changelog_tail::DEFAULT_CHANGELOG).exists() {
        return; // a real ctlstore host: nothing to prove here
    }
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("/var/spool/ctlstore/change.log")
    );
}

#[test]
fn help_explains_the_tool_without_ctlstore_knowledge() {
    let out = binary().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "config database",
        "rotat",
        "NDJSON",
        "Exit status",
        "out of sync",
        "--family",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}");
    }
}

/// Runs the binary on a terminal (a pty made by util-linux's `script`).
fn on_a_terminal(path: &std::path::Path, no_color: bool) -> String {
    let command = format!(
        "{} --no-follow -p {}",
        env!("CARGO_BIN_EXE_changelog-tail"),
        path.display()
    );
    let mut script = std::process::Command::new("script");
    script
        .args(["-qec", &command, "/dev/null"])
        .env_remove("NO_COLOR");
    if no_color {
        script.env("NO_COLOR", "1");
    }
    let out = script.output().expect("script(1) from util-linux");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_terminal_gets_pretty_coloured_output_unless_no_color() {
    let (_dir, path) = file(&[&sample(7, "fam", "foo", "1")]);
    let shown = on_a_terminal(&path, false);
    assert!(shown.contains("fam.foo"), "{shown:?}");
    assert!(shown.contains("\x1b["), "{shown:?}");
    assert!(!shown.contains("\"seq\""), "{shown:?}");
    let plain = on_a_terminal(&path, true);
    assert!(plain.contains("7 fam.foo id=1"), "{plain:?}");
    assert!(!plain.contains('\x1b'), "{plain:?}");
}
