//! `cutover-server`: the reference REST server, axum glue over `cutover-integrations-core` with no domain logic.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("cutover-server is not implemented yet: see the issue \"Reference server\"")
}
