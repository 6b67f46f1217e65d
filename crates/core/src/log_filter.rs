//! [`LogFilter`]: the tracing filter both binaries log through, so that no log level shows a secret.
//!
//! `RUST_LOG` (or the caller's directives) chooses what the workspace's own crates log; they never put a secret in a
//! field or a message at any level. Other crates are capped whatever the directives say, because some of them log the
//! data they handle at their debug and trace levels: handlebars prints helper parameters (a template's values, secret
//! system parameters among them), hyper and h2 print requests and headers, sqlx prints statements. Third-party events
//! pass at [`THIRD_PARTY_CAP`] and above (warnings and errors, which carry no data); handlebars, which has nothing
//! else to say, is silenced.

use tracing::level_filters::LevelFilter;
use tracing::{Metadata, subscriber::Interest};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context, Filter};

/// The most a crate outside the workspace may log, whatever the directives.
pub const THIRD_PARTY_CAP: LevelFilter = LevelFilter::WARN;

/// Crates outside the workspace with a stricter cap than [`THIRD_PARTY_CAP`].
const STRICTER: [(&str, LevelFilter); 1] = [("handlebars", LevelFilter::OFF)];

/// Target prefixes of the workspace's crates (module paths with `_`), which follow the directives.
const OURS: [&str; 3] = ["cutover_integrations_", "cutover_server", "cutover"];

/// The directives used when `RUST_LOG` is unset or empty.
pub const DEFAULT_DIRECTIVES: &str = "info";

/// A per-layer filter: the directives (as `RUST_LOG` writes them) for the workspace's crates, a cap for the others.
///
/// ```
/// use cutover_integrations_core::LogFilter;
/// use tracing_subscriber::Layer as _;
/// use tracing_subscriber::layer::SubscriberExt as _;
/// let filter = LogFilter::from_directives("trace").expect("valid directives");
/// let subscriber = tracing_subscriber::registry().with(tracing_subscriber::fmt::layer().with_filter(filter));
/// # drop(subscriber);
/// ```
#[derive(Debug)]
pub struct LogFilter {
    directives: EnvFilter,
}

/// Directives that do not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid log directives: {0}")]
pub struct InvalidDirectives(#[source] tracing_subscriber::filter::ParseError);

impl LogFilter {
    /// The filter of `RUST_LOG`, or of [`DEFAULT_DIRECTIVES`] when it is unset or empty.
    pub fn from_env() -> Result<Self, InvalidDirectives> {
        let directives = std::env::var("RUST_LOG").ok().filter(|value| !value.trim().is_empty());
        Self::from_directives(directives.as_deref().unwrap_or(DEFAULT_DIRECTIVES))
    }

    /// The filter of `directives` (`info`, `cutover_integrations_http=debug,warn`, …).
    pub fn from_directives(directives: &str) -> Result<Self, InvalidDirectives> {
        EnvFilter::builder().parse(directives).map(|directives| Self { directives }).map_err(InvalidDirectives)
    }

    /// The most `target` may log whatever the directives: no cap for the workspace's crates.
    pub fn cap(target: &str) -> LevelFilter {
        let crate_name = target.split("::").next().unwrap_or(target);
        if OURS.iter().any(|ours| crate_name == *ours || (ours.ends_with('_') && crate_name.starts_with(ours))) {
            return LevelFilter::TRACE;
        }
        STRICTER.iter().find(|(name, _)| *name == crate_name).map_or(THIRD_PARTY_CAP, |(_, cap)| *cap)
    }

    fn within_cap(metadata: &Metadata<'_>) -> bool {
        Self::cap(metadata.target()) >= *metadata.level()
    }
}

impl<S> Filter<S> for LogFilter
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn enabled(&self, metadata: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
        Self::within_cap(metadata) && Filter::<S>::enabled(&self.directives, metadata, cx)
    }

    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> Interest {
        if Self::within_cap(metadata) {
            Filter::<S>::callsite_enabled(&self.directives, metadata)
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Filter::<S>::max_level_hint(&self.directives)
    }

    fn on_new_span(&self, attrs: &tracing::span::Attributes<'_>, id: &tracing::span::Id, ctx: Context<'_, S>) {
        Filter::<S>::on_new_span(&self.directives, attrs, id, ctx);
    }

    fn on_record(&self, id: &tracing::span::Id, values: &tracing::span::Record<'_>, ctx: Context<'_, S>) {
        Filter::<S>::on_record(&self.directives, id, values, ctx);
    }

    fn on_enter(&self, id: &tracing::span::Id, ctx: Context<'_, S>) {
        Filter::<S>::on_enter(&self.directives, id, ctx);
    }

    fn on_exit(&self, id: &tracing::span::Id, ctx: Context<'_, S>) {
        Filter::<S>::on_exit(&self.directives, id, ctx);
    }

    fn on_close(&self, id: tracing::span::Id, ctx: Context<'_, S>) {
        Filter::<S>::on_close(&self.directives, id, ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What `directives` let through of one event per (target, level), as `target:level` lines.
    fn logged(directives: &str) -> Vec<String> {
        let captured = Captured::default();
        let writer = captured.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .without_time()
            .with_level(false)
            .with_target(false)
            .with_filter(LogFilter::from_directives(directives).expect("directives"));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            macro_rules! emit {
                ($target:literal) => {
                    tracing::trace!(target: $target, "{}:trace", $target);
                    tracing::debug!(target: $target, "{}:debug", $target);
                    tracing::info!(target: $target, "{}:info", $target);
                    tracing::warn!(target: $target, "{}:warn", $target);
                    tracing::error!(target: $target, "{}:error", $target);
                };
            }
            emit!("cutover_integrations_http::executor");
            emit!("cutover_server::request_log");
            emit!("cutover");
            emit!("handlebars::render");
            emit!("sqlx::query");
            emit!("hyper_util::client");
            emit!("cutoverish");
        });
        let text = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("UTF-8");
        text.lines().map(|line| line.trim().to_owned()).collect()
    }

    fn check(directives: &str, expected: &[&str]) {
        assert_eq!(logged(directives), expected, "directives {directives:?}");
    }

    #[test]
    fn third_parties_are_capped_whatever_the_directives() {
        let ours = |target: &'static str, from: usize| {
            ["trace", "debug", "info", "warn", "error"][from..].iter().map(move |level| format!("{target}:{level}"))
        };
        let mut everything: Vec<String> = Vec::new();
        everything.extend(ours("cutover_integrations_http::executor", 0));
        everything.extend(ours("cutover_server::request_log", 0));
        everything.extend(ours("cutover", 0));
        everything.extend(["sqlx::query:warn", "sqlx::query:error"].map(str::to_owned));
        everything.extend(["hyper_util::client:warn", "hyper_util::client:error"].map(str::to_owned));
        everything.extend(["cutoverish:warn", "cutoverish:error"].map(str::to_owned));
        let everything: Vec<&str> = everything.iter().map(String::as_str).collect();
        check("trace", &everything);
        check("handlebars=trace,sqlx=trace,hyper_util=trace,trace", &everything);
        check(
            "warn,cutover_integrations_http=debug",
            &[
                "cutover_integrations_http::executor:debug",
                "cutover_integrations_http::executor:info",
                "cutover_integrations_http::executor:warn",
                "cutover_integrations_http::executor:error",
                "cutover_server::request_log:warn",
                "cutover_server::request_log:error",
                "cutover:warn",
                "cutover:error",
                "sqlx::query:warn",
                "sqlx::query:error",
                "hyper_util::client:warn",
                "hyper_util::client:error",
                "cutoverish:warn",
                "cutoverish:error",
            ],
        );
        check("off", &[]);
    }

    #[test]
    fn caps_by_crate() {
        let cases = [
            ("cutover_integrations_template::helpers", LevelFilter::TRACE),
            ("cutover_server", LevelFilter::TRACE),
            ("cutover::run", LevelFilter::TRACE),
            ("cutoverish", THIRD_PARTY_CAP),
            ("handlebars::render", LevelFilter::OFF),
            ("reqwest::connect", THIRD_PARTY_CAP),
            ("log", THIRD_PARTY_CAP),
        ];
        for (target, cap) in cases {
            assert_eq!(LogFilter::cap(target), cap, "{target}");
        }
    }

    #[test]
    fn bad_directives_are_refused() {
        assert!(LogFilter::from_directives("cutover=loud").is_err());
    }
}
