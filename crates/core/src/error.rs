//! The engine's error type: what an embedder, the server or the CLI may be told.

use cutover_integrations_model::Diagnostic;

/// What can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A definition file or document does not validate; every problem is listed with its position.
    #[error("{} validation error(s); first: {}", diagnostics.len(), diagnostics.first().map(|d| d.to_string()).unwrap_or_default())]
    Invalid {
        /// Every problem, with file, line, column and path.
        diagnostics: Vec<Diagnostic>,
    },
    /// A request names something that does not exist.
    #[error("{what} `{id}` does not exist")]
    NotFound {
        /// The kind of thing: `runbook`, `task`, `action`, `integration`, `fire`.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The runbook state machine refused a command (not allowed in this state, missing fields, roles).
    #[error(transparent)]
    Refused(#[from] cutover_integrations_runbook::RunbookError),
    /// A field that is fixed at creation was changed.
    #[error("`{field}` of action `{action}` cannot change after creation: create a new action instead")]
    Immutable {
        /// The action name.
        action: String,
        /// The field (`trigger`, `visibility`).
        field: &'static str,
    },
    /// A callback presented a token that does not belong to the fire.
    #[error("the callback token does not match fire {fire}")]
    CallbackRejected {
        /// The fire id.
        fire: i64,
    },
    /// A callback arrived for a fire that is not waiting for one.
    #[error("fire {fire} is not waiting for a callback: {state}")]
    FireNotWaiting {
        /// The fire id.
        fire: i64,
        /// Where the fire is instead.
        state: String,
    },
    /// A runbook of the same name and workspace exists with another definition (applying a file does not replace
    /// a runbook; ask for another one explicitly).
    #[error(
        "runbook `{name}` (id {id}) already exists in this workspace with a different definition; \
         apply with `--new` (REST: `?existing=new`) to create another"
    )]
    RunbookExists {
        /// The existing runbook's id.
        id: i64,
        /// Its name.
        name: String,
    },
    /// Tasks can be added, changed and removed only while their runbook is in planning.
    #[error("runbook {runbook} is {stage}: tasks can be added, changed or removed only while it is in planning")]
    NotPlanning {
        /// The runbook's id.
        runbook: i64,
        /// Its stage (`active`, …).
        stage: String,
    },
    /// A task others depend on cannot be removed.
    #[error("task `{task}` is a predecessor of {}: remove it from their predecessors first", successors.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", "))]
    TaskInUse {
        /// The task to remove.
        task: String,
        /// The tasks that list it as a predecessor.
        successors: Vec<String>,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] cutover_integrations_store::StoreError),
    /// Credentials could not be obtained or an OAuth flow failed.
    #[error(transparent)]
    Auth(Box<cutover_integrations_auth::AuthError>),
    /// The executor could not be built or prepared for an action.
    #[error(transparent)]
    Http(#[from] cutover_integrations_http::HttpError),
    /// Stored data did not parse back or is inconsistent (rows out of order, a part missing), or a value could not be
    /// written as a document.
    #[error("stored {what} is unreadable: {reason}")]
    Corrupt {
        /// What.
        what: &'static str,
        /// Why.
        reason: String,
        /// The parser's, serialiser's or consistency check's error, when one is behind it.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },
    /// The engine was configured wrongly.
    #[error("invalid engine configuration: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
    /// A secret key given (to the builder, or to a key rotation) is not a key or key ring.
    #[error("invalid engine configuration: {which}secret key: {source}")]
    SecretKey {
        /// Which key, with a trailing space (`current `, `new `), or empty for the builder's only key.
        which: &'static str,
        /// Why the key was refused.
        #[source]
        source: Box<cutover_integrations_auth::AuthError>,
    },
    /// The secret key file beside a SQLite database could not be read or written.
    #[error("secret key file: {what} {}: {source}", path.display())]
    SecretKeyFile {
        /// What failed: `cannot read`, `cannot create the directory of`, ….
        what: &'static str,
        /// The file or directory.
        path: std::path::PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The engine is shutting down (its runtime is stopping): nothing was done; try again once it is back. The server
    /// answers 503.
    #[error("the engine is shutting down: try again once it is back")]
    ShuttingDown,
    /// An API input that is not a definition file (a request body, a query parameter) is invalid; every problem is
    /// listed with the path of the value at fault.
    #[error("{} invalid input(s); first: {}", problems.len(), problems.first().map(|p| p.to_string()).unwrap_or_default())]
    InvalidInput {
        /// Every problem.
        problems: Vec<InputProblem>,
    },
    /// The caller may not do this, whatever their roles: for example authorizing a task that is assigned to someone
    /// else.
    #[error("{message}")]
    Forbidden {
        /// Why.
        message: String,
    },
}

/// One problem of an API input: the path of the value at fault (`request.url`, `custom_fields['Slack Channel']`, `$`
/// for the whole input) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InputProblem {
    /// The path of the value at fault.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl InputProblem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }
}

impl std::fmt::Display for InputProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl From<cutover_integrations_auth::AuthError> for EngineError {
    fn from(error: cutover_integrations_auth::AuthError) -> Self {
        Self::Auth(Box::new(error))
    }
}

impl EngineError {
    /// One invalid input at `path`.
    pub fn invalid_input(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidInput { problems: vec![InputProblem::new(path, message)] }
    }

    /// A [`EngineError::Corrupt`] error about `what`, keeping the parser's, serialiser's or check's error as its
    /// source.
    pub(crate) fn corrupt<E: std::error::Error + Send + Sync + 'static>(what: &'static str) -> impl FnOnce(E) -> Self {
        move |error| Self::Corrupt { what, reason: error.to_string(), source: Some(Box::new(error)) }
    }
}
