//! `changelog-tail`: parse, decide, run, exit. See `cli` for the pieces.

mod cli;

use clap::Parser;
use cli::args::Args;
use cli::config::Config;
use cli::report::Report;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(kind) = args.generate {
        // Before the environment is looked at: printing the man page needs
        // no changelog, and a bad CHANGELOG_TAIL_WATCHER must not stop it.
        return generate(kind);
    }
    let config = Config::from_args(args).unwrap_or_else(|usage| usage.exit());
    let report = Report::new(config.color_stderr).quiet(config.quiet);
    cli::finish(
        cli::run::run(&config, report),
        report,
        config.state_file.is_some(),
    )
    .into()
}

/// `--generate KIND`: print and exit 0; a reader that went away (`| head`)
/// is a clean end, as for events; any other failed write is exit 1.
fn generate(kind: cli::args::GenerateArg) -> ExitCode {
    let result = cli::generate::generate(kind, &mut std::io::stdout().lock());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            Report::new(false).error(format_args!("cannot write to standard output: {e}"));
            ExitCode::FAILURE
        }
    }
}
