//! `--generate KIND`: the man page and completions printed from the clap
//! definition, equal to the files shipped in the repository.

use crate::harness::binary;
use std::path::Path;
use std::process::{Command, Stdio};

fn generate(kind: &str) -> std::process::Output {
    binary().args(["--generate", kind]).output().unwrap()
}

#[test]
fn prints_what_the_repository_ships() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (kind, file) in [
        ("man", "doc/changelog-tail.1"),
        ("complete-bash", "completions/changelog-tail.bash"),
        ("complete-zsh", "completions/_changelog-tail"),
        ("complete-fish", "completions/changelog-tail.fish"),
    ] {
        let out = generate(kind);
        assert_eq!(out.status.code(), Some(0), "{kind}");
        assert!(out.stderr.is_empty(), "{kind}");
        assert_eq!(
            out.stdout,
            std::fs::read(root.join(file)).unwrap(),
            "--generate {kind} differs from {file}: `UPDATE_GENERATED=1 cargo test generated`"
        );
    }
}

#[test]
fn every_shell_gets_completions_for_every_option() {
    for kind in [
        "complete-bash",
        "complete-zsh",
        "complete-fish",
        "complete-elvish",
        "complete-powershell",
    ] {
        let out = generate(kind);
        assert_eq!(out.status.code(), Some(0), "{kind}");
        let text = String::from_utf8(out.stdout).unwrap();
        // Long names only: fish writes them without the dashes.
        for option in ["family", "state-file", "generate", "no-follow"] {
            assert!(text.contains(option), "{kind} lacks {option}");
        }
    }
}

#[test]
fn an_unknown_kind_is_a_usage_error_naming_the_kinds() {
    let out = generate("complete-tcsh");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("complete-powershell"), "{stderr}");
}

/// Printing the man page needs no changelog and no sane environment.
#[test]
fn needs_nothing_of_the_environment() {
    let out = binary()
        .args(["--generate", "man"])
        .env("CHANGELOG_TAIL_WATCHER", "bogus")
        .env("CTLSTORE_PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.starts_with(b".ie"));
}

#[test]
fn a_reader_that_goes_away_is_a_clean_end() {
    let mut child = binary()
        .args(["--generate", "man"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The page renders without a warning from groff (with preconv, as `man`
/// runs it), where groff is installed.
#[test]
fn the_man_page_renders_cleanly() {
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("doc/changelog-tail.1");
    let Ok(out) = Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
        .arg(&page)
        .output()
    else {
        eprintln!("groff is not installed: rendering not checked");
        return;
    };
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
