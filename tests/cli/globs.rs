//! Globs in `--family` and `--table`: `*`, `?` and `[…]`, ASCII
//! case-insensitive over the whole name; a plain name stays an exact match.

use crate::harness::{changelog_with, no_follow, quiet_seqs as seqs, stderr_of};
use crate::writer::lines;

/// Events 1..=20: family `fam{seq % 3}`, table `table{seq % 5}`.
fn changelog() -> (tempfile::TempDir, std::path::PathBuf) {
    changelog_with(&lines(1..=20))
}

#[test]
fn a_glob_matches_names_by_pattern_case_folded() {
    let (_dir, path) = changelog();
    assert_eq!(
        seqs(&path, &["--table", "TABLE[0-1]"]),
        [1, 5, 6, 10, 11, 15, 16, 20]
    );
    assert_eq!(seqs(&path, &["--table", "t?ble4"]), [4, 9, 14, 19]);
    assert_eq!(seqs(&path, &["--family", "*2", "--table", "*[!0-3]"]), [14]);
    assert_eq!(seqs(&path, &["--table", "tab*"]).len(), 20);
}

#[test]
fn plain_names_and_globs_mix() {
    let (_dir, path) = changelog();
    assert_eq!(
        seqs(&path, &["--table", "table1", "--table", "*4"]),
        [1, 4, 6, 9, 11, 14, 16, 19]
    );
    // A plain name is exact: no prefix match.
    assert_eq!(seqs(&path, &["--table", "table"]), Vec::<i64>::new());
}

/// A pattern that matches nothing yet is no error: such a table may
/// appear later.
#[test]
fn a_glob_that_matches_nothing_is_no_error() {
    let (_dir, path) = changelog();
    assert_eq!(seqs(&path, &["--table", "user*"]), Vec::<i64>::new());
}

#[test]
fn an_unclosed_bracket_is_a_usage_error_saying_where() {
    let (_dir, path) = changelog();
    let out = no_follow(&path, &["--table", "user[s"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("--table") && stderr.contains("user[s") && stderr.contains("character 5"),
        "{stderr}"
    );
    let out = no_follow(&path, &["--family", "["]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("--family"));
}
