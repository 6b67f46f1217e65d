//! `cutover`: the command line; clap glue over the library crates with no domain logic.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
