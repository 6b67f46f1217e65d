//! The console's errors and how they are shown: a short page with the status and what went wrong.

use crate::pages::layout;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cutover_integrations_core::EngineError;
use cutover_integrations_core::store::StoreError;

/// What can go wrong in a console request.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The signed-in user's roles do not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// The page names something that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A state-changing request without the session's CSRF token.
    #[error("the form expired or came from another site: reload the page and try again")]
    Csrf,
    /// The form could not be read.
    #[error("the form could not be read: {0}")]
    BadForm(String),
    /// The engine refused or failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl ConsoleError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Forbidden(_) | Self::Csrf => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadForm(_) => StatusCode::BAD_REQUEST,
            Self::Engine(error) => engine_status(error),
        }
    }
}

/// The status of an engine error, as the REST API would answer it.
pub(crate) fn engine_status(error: &EngineError) -> StatusCode {
    match error {
        EngineError::NotFound { .. } => StatusCode::NOT_FOUND,
        EngineError::Invalid { .. } | EngineError::InvalidInput { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        EngineError::Immutable { .. } | EngineError::Store(StoreError::Duplicate { .. }) => StatusCode::CONFLICT,
        EngineError::Forbidden { .. } => StatusCode::FORBIDDEN,
        EngineError::Refused(_)
        | EngineError::NotPlanning { .. }
        | EngineError::TaskInUse { .. }
        | EngineError::RunbookExists { .. }
        | EngineError::Store(StoreError::VersionConflict { .. }) => StatusCode::CONFLICT,
        EngineError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Every problem an engine error reports, one line each (`path: message`, or `line:column: path: message`).
pub(crate) fn problems(error: &EngineError) -> Vec<String> {
    match error {
        EngineError::Invalid { diagnostics } => diagnostics
            .iter()
            .map(|diagnostic| {
                format!("{}:{}: {}: {}", diagnostic.line, diagnostic.column, diagnostic.path, diagnostic.message)
            })
            .collect(),
        EngineError::InvalidInput { problems } => problems.iter().map(ToString::to_string).collect(),
        other if engine_status(other) == StatusCode::INTERNAL_SERVER_ERROR => {
            tracing::error!(error = %other, "console request failed");
            vec!["the server failed; see its log".to_owned()]
        }
        other => vec![other.to_string()],
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let status = self.status();
        let lines = match &self {
            Self::Engine(error) => problems(error),
            other => vec![other.to_string()],
        };
        (status, layout::error_page(status, &lines)).into_response()
    }
}
