//! `cutover-server`: the reference REST server and web console, axum glue over `cutover-integrations-core` with no domain logic.
//!
//! With no configuration it keeps everything in a SQLite database under `./data/` with a generated secret key beside
//! it, and prints a bootstrap admin token once. `--database postgres://…` (or `CUTOVER_DATABASE_URL`) uses
//! PostgreSQL; then `CUTOVER_SECRET_KEY` is required. On SIGTERM or Ctrl-C it stops accepting requests, ends event
//! streams, and waits for the fire steps in flight to be recorded before it exits.

mod startup;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use cutover_integrations_console::ConsoleSettings;
use cutover_integrations_core::{
    Engine, EngineSettings, LogFilter, read_secret_key_file, replace_secret_key_file, rotate_secret_key,
    secret_key_path,
};
use cutover_server::{AppState, Limits, app};
use ipnet::IpNet;
use secrecy::SecretString;
use std::path::PathBuf;
use tokio::sync::watch;
use url::Url;

/// The process's allocator: mimalloc, measurably cheaper than glibc's malloc under load (see the commit that chose it).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Hours runbook and task events are kept for clients resuming their event stream with `Last-Event-ID`.
    #[arg(long, env = "CUTOVER_EVENT_RETENTION_HOURS", default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=8760))]
    event_retention_hours: u32,
    /// Runbooks the engine keeps in memory; past it, idle ones are dropped (finished first) and read again when needed.
    #[arg(long, env = "CUTOVER_MAX_CACHED_RUNBOOKS", default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_cached_runbooks: u32,
    /// Compiled actions the engine keeps in memory for fire steps; past it, one is dropped for each new one.
    #[arg(long, env = "CUTOVER_MAX_CACHED_ACTIONS", default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_cached_actions: u32,
    /// The largest definition file `POST /definitions` and `POST /runbooks` take, in bytes (other bodies: 1 MiB).
    #[arg(long, env = "CUTOVER_MAX_DEFINITION_BYTES", default_value_t = cutover_server::DEFINITION_LIMIT as u64, value_parser = clap::value_parser!(u64).range(1_024..=1_073_741_824))]
    max_definition_bytes: u64,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Seal every secret of the database again with a new key, in one transaction, so the old key can be retired.
    #[command(after_help = ROTATE_KEY_HELP)]
    RotateKey {
        /// A file (mode 0600) holding the new key: base64 of 32 random bytes, as `openssl rand -base64 32` prints.
        /// Without it, the current key of CUTOVER_SECRET_KEY seals everything (a ring `2:NEW,1:OLD`).
        #[arg(long, value_name = "FILE")]
        new_key_file: Option<PathBuf>,
    },
}

const ROTATE_KEY_HELP: &str = "\
Stop every server on the database first; the current key comes from CUTOVER_SECRET_KEY, or from the key file beside
a SQLite database. The current key must be the one the secrets were sealed with: any other is refused and nothing
changes.

With a key file beside the SQLite database:
  openssl rand -base64 32 > new.key && chmod 600 new.key
  cutover-server rotate-key --new-key-file new.key     # the key file is replaced with the new key

With CUTOVER_SECRET_KEY (PostgreSQL):
  CUTOVER_SECRET_KEY=OLD cutover-server --database postgres://… rotate-key --new-key-file new.key
  then start the servers with CUTOVER_SECRET_KEY=NEW

Or in steps through a key ring: run the servers with CUTOVER_SECRET_KEY=2:NEW,1:OLD (new values are sealed with
key 2, old ones still open with key 1), stop them, run `cutover-server rotate-key`, then configure
CUTOVER_SECRET_KEY=2:NEW alone.

Callback tokens of fires waiting for a callback are derived from the current key: rotate when none is waiting.";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    init_logging(args.json_logs)?;
    // Secrets come from the environment only, never from flags (which other users can see in the process list).
    let secret_key = env_secret("CUTOVER_SECRET_KEY");
    let bootstrap_token = env_secret("CUTOVER_BOOTSTRAP_TOKEN");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    if let Some(Command::RotateKey { new_key_file }) = &args.command {
        return runtime.block_on(rotate_key(&args, secret_key, new_key_file.as_deref()));
    }
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
    let settings = EngineSettings {
        public_url: public_url.clone(),
        event_retention: std::time::Duration::from_secs(u64::from(args.event_retention_hours) * 60 * 60),
        max_cached_runbooks: args.max_cached_runbooks as usize,
        max_cached_actions: args.max_cached_actions as usize,
        ..EngineSettings::default()
    };
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
    let limits = Limits { definition_bytes: args.max_definition_bytes as usize, ..Limits::default() };
    let app = app(AppState::new(engine, stopping).with_limits(limits), console);
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

/// `rotate-key`: the database's secrets sealed again with the new key; a key file beside SQLite is replaced after.
async fn rotate_key(
    args: &Args,
    configured: Option<SecretString>,
    new_key_file: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use secrecy::ExposeSecret as _;
    let database = startup::Database::resolve(args.database.as_deref(), &args.data_dir)?;
    let new_key = new_key_file.map(read_secret_key_file).transpose()?;
    let (current, key_file) = match configured {
        Some(key) => (key, None),
        None => {
            let Some(path) = secret_key_path(&database.url) else {
                anyhow::bail!("CUTOVER_SECRET_KEY is required with PostgreSQL: the key the secrets are sealed with");
            };
            if !path.exists() {
                anyhow::bail!("no key file at {}: give the current key in CUTOVER_SECRET_KEY", path.display());
            }
            (read_secret_key_file(&path)?, Some(path))
        }
    };
    let new = new_key.as_ref().map(|key| key.expose_secret());
    let rotation = rotate_secret_key(&database.url, current.expose_secret(), new)
        .await
        .context("key rotation failed; nothing was changed")?;
    println!("re-sealed {} secrets with key id {}", rotation.values, rotation.key_id);
    match (key_file, new_key) {
        (Some(path), Some(new_key)) => {
            replace_secret_key_file(&path, &new_key)?;
            println!("{} now holds the new key; the old key is retired", path.display());
        }
        (None, Some(_)) => {
            println!("start the servers with CUTOVER_SECRET_KEY set to the new key; the old key is retired")
        }
        (_, None) => println!(
            "only key id {} opens the secrets now: configure that key alone (`{}:KEY`)",
            rotation.key_id, rotation.key_id
        ),
    }
    Ok(())
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
