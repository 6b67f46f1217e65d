//! `cutover`: the command line; clap glue over the library crates with no domain logic.
//!
//! Each subcommand lives in its own module with its arguments and a `run` function; this file only declares the
//! subcommands and dispatches. Exit codes follow the contract: 0 success, 1 failure, 2 usage error (clap's own).

mod render;
mod validate;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Validate, render and run runbook custom integrations.
#[derive(Debug, Parser)]
#[command(name = "cutover", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check definition files (integrations and runbooks, YAML or JSON) and report every error.
    Validate(validate::ValidateArgs),
    /// Print the request an action would send, rendered against a context file, secrets redacted.
    Render(render::RenderArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Validate(args) => validate::run(&args),
        Command::Render(args) => render::run(&args),
    }
}
