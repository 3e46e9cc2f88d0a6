//! `changelog-tail`: parse, decide, run, exit. See `cli` for the pieces.

mod cli;

use clap::Parser;
use cli::args::Args;
use cli::config::Config;
use cli::report::Report;
use std::process::ExitCode;

fn main() -> ExitCode {
    let config = Config::from_args(Args::parse()).unwrap_or_else(|usage| usage.exit());
    let report = Report::new(config.color_stderr);
    cli::finish(cli::run::run(&config, report), report).into()
}
