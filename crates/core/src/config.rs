//! How an engine is put together: [`EngineBuilder`] and the settings it holds.

use crate::engine::Engine;
use crate::error::EngineError;
use cutover_integrations_auth::{Cipher, Key, KeyId, KeyRing};
use cutover_integrations_http::{ExecutorConfig, OutboundPolicy, SystemTimer, Timer};
use cutover_integrations_store::{SqlStore, SqlStoreOptions, Store};
use ipnet::IpNet;
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Settings of a running engine.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// The engine's name, under which it leases fires; unique among engines sharing a database.
    pub name: String,
    /// Base URL third parties reach this engine at: callbacks go to `{public_url}/api/v1/callbacks/{fire}`, OAuth
    /// redirects to `{public_url}/api/v1/oauth/callback`.
    pub public_url: Url,
    /// How long a claimed fire stays leased; a crashed engine's fires are taken over after this.
    pub lease: Duration,
    /// How often the dispatcher looks for due work it was not told about (other engines' fires, timers).
    pub poll_interval: Duration,
    /// Fire requests in flight at once from this engine. A step gives its slot back when its request ends, so the
    /// next request goes out while the outcome waits for its commit; at most four times as many steps wait for their
    /// record.
    pub max_concurrent_fires: usize,
    /// Definition files validated at once (on blocking threads, off the async workers); the number of cores by
    /// default.
    pub max_concurrent_validations: usize,
    /// How long runbook and task events are kept in the durable log, for listeners resuming with `Last-Event-ID`
    /// (a day by default).
    pub event_retention: Duration,
    /// Runbooks whose state this engine keeps in memory between steps (1,000 by default). Past it, idle runbooks are
    /// dropped from memory, finished ones first, then the least recently used, and read again from the database when
    /// next needed; runbooks with work under way stay, so the cache may exceed the limit by those. Memory grows with
    /// the tasks of the runbooks kept: lower it when runbooks are very large.
    pub max_cached_runbooks: usize,
    /// Compiled actions kept in memory for fire steps (1,000 by default); past it, one is dropped for each new one.
    pub max_cached_actions: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            name: format!("engine-{}-{:08x}", std::process::id(), rand::random::<u32>()),
            public_url: Url::parse("http://127.0.0.1:8080").unwrap_or_else(|_| unreachable!("a valid literal URL")),
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(250),
            max_concurrent_fires: 64,
            max_concurrent_validations: crate::validation::cores(),
            event_retention: Duration::from_secs(24 * 60 * 60),
            max_cached_runbooks: 1_000,
            max_cached_actions: 1_000,
        }
    }
}

/// Builds an [`Engine`]: the store, the secret key, the executor's settings, the clock, the outbound allow list.
///
/// ```
/// use cutover_integrations_core::{Engine, EngineSettings, generate_secret_key};
/// use secrecy::ExposeSecret;
/// use std::time::Duration;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let directory = tempfile::tempdir()?;
/// let engine = Engine::builder()
///     .database_url(format!("sqlite://{}", directory.path().join("cutover.db").display()))
///     .secret_key_base64(generate_secret_key().expose_secret())
///     .allow_outbound("10.20.0.0/16".parse()?)
///     .settings(EngineSettings { name: "engine-1".into(), lease: Duration::from_secs(10), ..Default::default() })
///     .build()
///     .await?;
/// assert_eq!(engine.settings().name, "engine-1");
/// let running = engine.start();
/// // … apply definitions, create runbooks, send commands …
/// running.shutdown().await;
///
/// // Without a key there is nothing to protect secrets with.
/// let refused = Engine::builder().database_url("sqlite://unused.db").build().await;
/// assert!(refused.is_err());
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().expect("runtime").block_on(run()).expect("the example runs");
/// ```
pub struct EngineBuilder {
    store: Option<Arc<dyn Store>>,
    database_url: Option<String>,
    keys: Option<Result<KeyRing, cutover_integrations_auth::AuthError>>,
    executor: ExecutorConfig,
    allow: Vec<IpNet>,
    timer: Arc<dyn Timer>,
    settings: EngineSettings,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        Self {
            store: None,
            database_url: None,
            keys: None,
            executor: ExecutorConfig::default(),
            allow: Vec::new(),
            timer: Arc::new(SystemTimer),
            settings: EngineSettings::default(),
        }
    }
}

impl EngineBuilder {
    /// Opens (and migrates) the database at this URL: `sqlite://PATH` or `postgres://…`.
    pub fn database_url(mut self, url: impl Into<String>) -> Self {
        self.database_url = Some(url.into());
        self
    }

    /// Uses a store the embedder opened; it must seal secrets with the same key ring given here.
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The key ring that encrypts secrets at rest.
    pub fn secret_keys(mut self, keys: KeyRing) -> Self {
        self.keys = Some(Ok(keys));
        self
    }

    /// The key that encrypts secrets at rest, as base64 of 32 bytes (or a `ID:BASE64,…` ring).
    pub fn secret_key_base64(mut self, encoded: &str) -> Self {
        self.keys = Some(KeyRing::parse(encoded));
        self
    }

    /// Settings of the HTTP executor (timeouts, retries, body limits).
    pub fn executor_config(mut self, config: ExecutorConfig) -> Self {
        self.executor = config;
        self
    }

    /// Lets outbound requests reach addresses in this range although they are private.
    pub fn allow_outbound(mut self, range: IpNet) -> Self {
        self.allow.push(range);
        self
    }

    /// The clock (and sleeper) of the engine and its executor.
    pub fn timer(mut self, timer: Arc<dyn Timer>) -> Self {
        self.timer = timer;
        self
    }

    /// Engine settings: name, public URL, lease, polling, concurrency.
    pub fn settings(mut self, settings: EngineSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Builds the engine: opens the store and prepares the executor. Nothing runs until [`Engine::start`].
    pub async fn build(self) -> Result<Engine, EngineError> {
        let keys = match self.keys {
            Some(Ok(keys)) => keys,
            Some(Err(error)) => return Err(EngineError::SecretKey { which: "", source: Box::new(error) }),
            None => {
                return Err(EngineError::Config {
                    message: "a secret key is required (base64 of 32 bytes; see generate_secret_key)".to_owned(),
                });
            }
        };
        let callback_key = *keys.derive_subkey("callback-token").expose_secret();
        let cipher = Arc::new(Cipher::new(keys));
        let store: Arc<dyn Store> = match (self.store, self.database_url) {
            (Some(_), Some(_)) => {
                return Err(EngineError::Config {
                    message: "both a store and a database URL were given: give one (the store is opened already)"
                        .to_owned(),
                });
            }
            (Some(store), None) => store,
            (None, Some(url)) => Arc::new(SqlStore::connect(SqlStoreOptions::new(url), cipher.clone()).await?),
            (None, None) => {
                return Err(EngineError::Config { message: "a database URL or a store is required".to_owned() });
            }
        };
        let mut executor = self.executor;
        executor.outbound = OutboundPolicy::allowing(self.allow);
        Engine::assemble(store, callback_key, executor, self.timer, self.settings)
    }
}

/// A new random secret key, base64-encoded, for a first start.
pub fn generate_secret_key() -> secrecy::SecretString {
    Key::generate().expose_base64()
}

/// A key ring holding one key, for embedders that keep a single key.
pub fn single_key_ring(key: Key) -> KeyRing {
    KeyRing::new(KeyId(1), key)
}
