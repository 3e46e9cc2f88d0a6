//! The shell completions and the man page in the repository are what
//! `--generate` prints; this test fails when they are stale.
//! `UPDATE_GENERATED=1 cargo test generated` writes them anew.

use super::args::GenerateArg;
use super::generate::generate;
use std::path::{Path, PathBuf};

/// Each checked-in file and what `--generate` prints for it now.
fn generated() -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        (GenerateArg::CompleteBash, "completions/changelog-tail.bash"),
        (GenerateArg::CompleteZsh, "completions/_changelog-tail"),
        (GenerateArg::CompleteFish, "completions/changelog-tail.fish"),
        (GenerateArg::Man, "doc/changelog-tail.1"),
    ]
    .into_iter()
    .map(|(kind, path)| {
        let mut text = Vec::new();
        generate(kind, &mut text).expect("generate into memory");
        (root.join(path), text)
    })
    .collect()
}

#[test]
fn completions_and_man_page_are_current() {
    let update = std::env::var_os("UPDATE_GENERATED").is_some();
    let mut stale = Vec::new();
    for (path, text) in generated() {
        if std::fs::read(&path).ok().as_deref() == Some(text.as_slice()) {
            continue;
        }
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
        } else {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files {stale:?}: run `UPDATE_GENERATED=1 cargo test generated` and commit"
    );
}

/// The sections man-pages(7) asks of a command's page, in its order.
#[test]
fn the_man_page_has_every_section_in_order() {
    let mut man = Vec::new();
    generate(GenerateArg::Man, &mut man).unwrap();
    let man = String::from_utf8(man).unwrap();
    let headings: Vec<&str> = man
        .lines()
        .filter_map(|line| line.strip_prefix(".SH "))
        .map(|heading| heading.trim_matches('"'))
        .collect();
    assert_eq!(
        headings,
        [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "OUTPUT",
            "EXIT STATUS",
            "ENVIRONMENT",
            "FILES",
            "SIGNALS",
            "EXAMPLES",
            "SEE ALSO"
        ]
    );
    // Placeholders in the synopsis, not bare option names.
    assert!(
        man.contains(r"[\fB\-p\fR|\fB\-\-path\fR\ \fIPATH\fR]"),
        "{man}"
    );
    assert!(man.contains(r"[\fB\-\-table\fR\ \fINAME\fR]..."), "{man}");
    // Every option of the definition is described.
    for arg in <super::args::Args as clap::CommandFactory>::command().get_arguments() {
        if let Some(long) = arg.get_long() {
            let long = long.replace('-', r"\-");
            assert!(
                man.contains(&format!(r"\fB\-\-{long}\fR")),
                "--{long} missing"
            );
        }
    }
}
