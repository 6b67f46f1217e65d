//! `cutover completions SHELL`: prints a completion script for bash, zsh, fish, elvish or PowerShell.

use clap::Args;
use clap_complete::Shell;
use std::process::ExitCode;

pub(crate) const EXAMPLES: &str = "\
Examples:
  cutover completions bash > ~/.local/share/bash-completion/completions/cutover
  cutover completions zsh > \"${fpath[1]}/_cutover\"
  cutover completions fish > ~/.config/fish/completions/cutover.fish";

/// Arguments of `cutover completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    shell: Shell,
}

/// Writes the script for `command` (the whole `cutover` command line) to stdout.
pub(crate) fn run(args: &CompletionsArgs, command: &mut clap::Command) -> ExitCode {
    let name = command.get_name().to_owned();
    clap_complete::generate(args.shell, command, name, &mut std::io::stdout());
    ExitCode::SUCCESS
}
