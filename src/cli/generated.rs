//! The shell completions and the man page in the repository are generated
//! from the clap definition; this test fails when they are stale.
//! `UPDATE_GENERATED=1 cargo test generated` writes them anew.

use super::args::Args;
use clap::CommandFactory;
use clap_complete::Shell;
use std::path::{Path, PathBuf};

fn generated() -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for (shell, name) in [
        (Shell::Bash, "changelog-tail.bash"),
        (Shell::Zsh, "_changelog-tail"),
        (Shell::Fish, "changelog-tail.fish"),
    ] {
        let mut text = Vec::new();
        clap_complete::generate(shell, &mut Args::command(), "changelog-tail", &mut text);
        files.push((root.join("completions").join(name), text));
    }
    let mut man = Vec::new();
    clap_mangen::Man::new(Args::command())
        .render(&mut man)
        .expect("render the man page");
    files.push((root.join("doc").join("changelog-tail.1"), man));
    files
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
