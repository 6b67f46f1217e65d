//! `cutover-server`: the reference REST server and web console, axum glue over `cutover-integrations-core` with no domain logic.
//!
//! With no configuration it keeps everything in a SQLite database under `./data/` with a generated secret key beside
//! it, and prints a bootstrap admin token once. `--database postgres://…` (or `CUTOVER_DATABASE_URL`) uses
//! PostgreSQL; then `CUTOVER_SECRET_KEY` is required. On SIGTERM or Ctrl-C it stops accepting requests, ends event
//! streams, and waits for the fire steps in flight to be recorded before it exits.

mod startup;

use anyhow::Context as _;
use clap::Parser;
use cutover_integrations_console::ConsoleSettings;
use cutover_integrations_core::{Engine, EngineSettings, LogFilter};
use cutover_server::{AppState, app};
use ipnet::IpNet;
use secrecy::SecretString;
use std::path::PathBuf;
use tokio::sync::watch;
use url::Url;

/// The reference REST server of cutover-integrations.
#[derive(Debug, Parser)]
#[command(name = "cutover-server", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "CUTOVER_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Database URL: sqlite://PATH or postgres://…; default a SQLite file in the data directory.
    #[arg(long, env = "CUTOVER_DATABASE_URL")]
    database: Option<String>,
    /// Where the default SQLite database and its secret key live.
    #[arg(long, env = "CUTOVER_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Base URL third parties reach this server at (callbacks, OAuth redirects); default http://LISTEN-ADDRESS.
    #[arg(long, env = "CUTOVER_PUBLIC_URL")]
    public_url: Option<Url>,
    /// CIDRs outbound requests may reach although private (comma-separated).
    #[arg(long, env = "CUTOVER_OUTBOUND_ALLOW", value_delimiter = ',')]
    outbound_allow: Vec<IpNet>,
    /// Log JSON lines instead of text.
    #[arg(long, env = "CUTOVER_JSON_LOGS")]
    json_logs: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    init_logging(args.json_logs)?;
    // Secrets come from the environment only, never from flags (which other users can see in the process list).
    let secret_key = env_secret("CUTOVER_SECRET_KEY");
    let bootstrap_token = env_secret("CUTOVER_BOOTSTRAP_TOKEN");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(serve(args, secret_key, bootstrap_token));
    if let Err(error) = &result {
        tracing::error!(error = format!("{error:#}"), "cutover-server stopped");
    }
    result
}

async fn serve(
    args: Args,
    secret_key: Option<SecretString>,
    bootstrap_token: Option<SecretString>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    let database = startup::Database::resolve(args.database.as_deref(), &args.data_dir)?;
    let key = startup::secret_key(secret_key, &database)?;
    let public_url = match args.public_url {
        Some(url) => url,
        None => Url::parse(&format!("http://{address}"))?,
    };
    let settings = EngineSettings { public_url: public_url.clone(), ..EngineSettings::default() };
    let mut builder = Engine::builder()
        .database_url(&database.url)
        .secret_key_base64(secrecy::ExposeSecret::expose_secret(&key))
        .settings(settings);
    for range in &args.outbound_allow {
        builder = builder.allow_outbound(*range);
    }
    let engine = builder.build().await.context("cannot open the engine")?;
    startup::bootstrap_admin(&engine, bootstrap_token).await?;
    let running = engine.start();
    let (shutdown, stopping) = watch::channel(false);
    let console = ConsoleSettings::for_public_url(&public_url);
    let app = app(AppState::new(engine, stopping), console);
    tracing::info!(
        %address,
        public_url = %public_url,
        database = %database.display(),
        outbound_allow = ?args.outbound_allow,
        "listening"
    );
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            stop_signal().await;
            tracing::info!("shutting down: no new requests; waiting for requests and fire steps in flight");
            let _ = shutdown.send(true);
        })
        .await;
    running.shutdown().await;
    tracing::info!("stopped");
    served.context("serving failed")
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

fn env_secret(name: &str) -> Option<SecretString> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
        .map(|value| SecretString::from(value.trim().to_owned()))
}

/// Logs to stdout through the shared [`LogFilter`]: `RUST_LOG` for our crates, third-party crates capped (they log
/// the data they handle at their verbose levels).
fn init_logging(json: bool) -> anyhow::Result<()> {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = LogFilter::from_env()?;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stdout).with_ansi(ansi);
    let layer = if json { layer.json().with_current_span(false).boxed() } else { layer.boxed() };
    tracing_subscriber::registry().with(layer.with_filter(filter)).try_init()?;
    Ok(())
}
