//! The one place where errors become HTTP statuses and the contract's error body
//! `{"error":{"code","message","details":[{"path","message"}]}}`.
//!
//! Engine errors are mapped by kind: validation 422, refusals by the state machine's category (404, 403, 409, 422),
//! a callback token that does not match 401, a fire that no longer waits 409. Internal failures are logged (never
//! with secrets: engine errors do not carry any) and answered with a generic 500.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cutover_integrations_core::EngineError;
use cutover_integrations_core::auth::AuthError;
use cutover_integrations_core::runbook::{ErrorCategory, RunbookError};
use cutover_integrations_core::store::StoreError;
use schemars::JsonSchema;
use serde::Serialize;

/// An error answer: status, stable snake_case code, message and per-field details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    /// The HTTP status.
    pub(crate) status: StatusCode,
    /// A stable snake_case code such as `task_not_startable`.
    pub(crate) code: String,
    /// A sentence for people.
    pub(crate) message: String,
    /// One entry per field at fault.
    pub(crate) details: Vec<Detail>,
}

/// The body of every error answer.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Error")]
pub(crate) struct ErrorBody<'a> {
    /// The error.
    error: ErrorInner<'a>,
}

/// An error: code, message, details.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "ErrorDetails")]
struct ErrorInner<'a> {
    /// A stable snake_case code such as `task_not_startable`.
    code: &'a str,
    /// A sentence for people.
    message: &'a str,
    /// One entry per field at fault (may be empty).
    details: &'a [Detail],
}

/// One field at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub(crate) struct Detail {
    /// The path of the value: `actions[0].request.url`, `custom_fields['Slack Channel']`, `$` for the whole input.
    pub(crate) path: String,
    /// What is wrong.
    pub(crate) message: String,
    /// The file the value is in, for definition files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) file: Option<String>,
    /// Its line (from 1), for text bodies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) line: Option<u32>,
    /// Its column in characters (from 1), for text bodies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) column: Option<u32>,
}

impl Detail {
    /// A detail with a path only.
    pub(crate) fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into(), file: None, line: None, column: None }
    }
}

impl ApiError {
    /// An error without details.
    pub(crate) fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { status, code: code.into(), message: message.into(), details: Vec::new() }
    }

    /// The same error with details.
    pub(crate) fn with_details(mut self, details: Vec<Detail>) -> Self {
        self.details = details;
        self
    }

    /// 401: no token, or one that belongs to nobody.
    pub(crate) fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    /// 403: the user lacks a role.
    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 for a path that names no route or no resource.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 400: the body or query is not even well-formed.
    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_request", message)
    }

    /// 422 with one detail.
    pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        let detail = Detail::at(path, message);
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", detail.to_string()).with_details(vec![detail])
    }

    /// 500: a fault of the server, told in its log, not in the answer.
    pub(crate) fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal error; see the server log")
    }
}

impl std::fmt::Display for Detail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorInner { code: &self.code, message: &self.message, details: &self.details } };
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        let message = error.to_string();
        match error {
            EngineError::Invalid { diagnostics } => {
                let details = diagnostics
                    .into_iter()
                    .map(|diagnostic| Detail {
                        path: diagnostic.path,
                        message: diagnostic.message,
                        file: Some(diagnostic.file),
                        line: Some(diagnostic.line),
                        column: Some(diagnostic.column),
                    })
                    .collect();
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_definition", message).with_details(details)
            }
            EngineError::InvalidInput { problems } => {
                let details = problems.into_iter().map(|problem| Detail::at(problem.path, problem.message)).collect();
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", message).with_details(details)
            }
            EngineError::NotFound { what, .. } => {
                Self::new(StatusCode::NOT_FOUND, format!("{what}_not_found"), message)
            }
            EngineError::Refused(refusal) => refused(&refusal, message),
            EngineError::Immutable { field, .. } => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "immutable_field", &message)
                    .with_details(vec![Detail::at(field, message)])
            }
            EngineError::CallbackRejected { .. } => {
                Self::new(StatusCode::UNAUTHORIZED, "invalid_callback_token", message)
            }
            EngineError::FireNotWaiting { .. } => Self::new(StatusCode::CONFLICT, "fire_not_waiting", message),
            EngineError::RunbookExists { .. } => Self::new(StatusCode::CONFLICT, "runbook_exists", message),
            EngineError::NotPlanning { .. } => Self::new(StatusCode::CONFLICT, "not_planning", message),
            EngineError::TaskInUse { .. } => Self::new(StatusCode::CONFLICT, "task_in_use", message),
            EngineError::Store(StoreError::Stale { .. }) => {
                Self::new(StatusCode::PRECONDITION_FAILED, "precondition_failed", message)
            }
            EngineError::Store(StoreError::VersionConflict { .. }) => {
                Self::new(StatusCode::CONFLICT, "runbook_changed", message)
            }
            EngineError::Forbidden { .. } => Self::new(StatusCode::FORBIDDEN, "forbidden", message),
            EngineError::Store(StoreError::Duplicate { .. }) => {
                Self::new(StatusCode::CONFLICT, "already_exists", message)
            }
            EngineError::Store(StoreError::NotFound { what, .. }) => {
                Self::new(StatusCode::NOT_FOUND, format!("{}_not_found", what.replace(' ', "_")), message)
            }
            EngineError::Auth(auth) => auth_error(*auth, message),
            EngineError::ShuttingDown => Self::new(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", message),
            EngineError::Store(_)
            | EngineError::Http(_)
            | EngineError::Corrupt { .. }
            | EngineError::Config { .. }
            | EngineError::SecretKey { .. }
            | EngineError::SecretKeyFile { .. } => {
                tracing::error!(error = %message, "internal error");
                Self::internal()
            }
        }
    }
}

/// A refusal of the runbook state machine, by its category.
fn refused(refusal: &RunbookError, message: String) -> ApiError {
    let status = match refusal.category() {
        ErrorCategory::NotFound => StatusCode::NOT_FOUND,
        ErrorCategory::Forbidden => StatusCode::FORBIDDEN,
        ErrorCategory::Conflict => StatusCode::CONFLICT,
        ErrorCategory::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let details = match refusal {
        RunbookError::MissingCustomFields { fields, .. } => fields
            .iter()
            .map(|field| Detail::at(format!("custom_fields['{field}']"), "required custom field is empty"))
            .collect(),
        RunbookError::CommentRequired { .. } => vec![Detail::at("comment", "a comment is required")],
        _ => Vec::new(),
    };
    ApiError::new(status, refusal.code(), message).with_details(details)
}

/// OAuth and credential errors: the client's fault (400, 409, 422) or the provider's (502).
fn auth_error(error: AuthError, message: String) -> ApiError {
    let (status, code) = match &error {
        AuthError::UnknownState => (StatusCode::BAD_REQUEST, "unknown_oauth_state"),
        AuthError::StateAlreadyUsed => (StatusCode::CONFLICT, "oauth_state_already_used"),
        AuthError::StateExpired { .. } => (StatusCode::CONFLICT, "oauth_state_expired"),
        AuthError::StateMismatch { .. } => (StatusCode::CONFLICT, "oauth_settings_changed"),
        AuthError::AuthorizationDenied { .. } => (StatusCode::BAD_REQUEST, "oauth_authorization_denied"),
        AuthError::MissingAuthorizationCode => (StatusCode::BAD_REQUEST, "oauth_code_missing"),
        AuthError::WrongGrant { .. } | AuthError::WrongCredentialKind { .. } => {
            (StatusCode::UNPROCESSABLE_ENTITY, "oauth_wrong_grant")
        }
        AuthError::MissingTaskUser { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "task_has_no_assignee"),
        AuthError::InvalidConfig { .. } | AuthError::InvalidCredentialValue { .. } => {
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_auth_settings")
        }
        AuthError::SecretResolution { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "unresolved_secret"),
        AuthError::TokenRejected { .. }
        | AuthError::TokenEndpointUnavailable { .. }
        | AuthError::MalformedTokenResponse { .. } => (StatusCode::BAD_GATEWAY, "oauth_token_exchange_failed"),
        _ => {
            tracing::error!(error = %message, "internal credential error");
            return ApiError::internal();
        }
    };
    ApiError::new(status, code, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_integrations_core::InputProblem;
    use cutover_integrations_core::model::{Diagnostic, TaskStage};
    use cutover_integrations_core::runbook::Operation;

    fn check(error: EngineError, status: StatusCode, code: &str) {
        let api = ApiError::from(error);
        assert_eq!((api.status, api.code.as_str()), (status, code), "{}", api.message);
    }

    #[test]
    fn engine_errors_map_to_statuses() {
        let diagnostic = Diagnostic {
            file: "a.yaml".into(),
            line: 3,
            column: 5,
            path: "actions[0].request.url".into(),
            message: "missing".into(),
        };
        let cases: Vec<(EngineError, StatusCode, &str)> = vec![
            (
                EngineError::Invalid { diagnostics: vec![diagnostic] },
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_definition",
            ),
            (
                EngineError::InvalidInput { problems: vec![InputProblem::new("name", "empty")] },
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
            ),
            (EngineError::NotFound { what: "runbook", id: "9".into() }, StatusCode::NOT_FOUND, "runbook_not_found"),
            (
                EngineError::Refused(RunbookError::UnknownTask { task: "x".into() }),
                StatusCode::NOT_FOUND,
                "unknown_task",
            ),
            (
                EngineError::Refused(RunbookError::RoleRequired { operation: Operation::SkipTask }),
                StatusCode::FORBIDDEN,
                "role_required",
            ),
            (
                EngineError::Refused(RunbookError::TaskStageForbids {
                    task: "x".into(),
                    operation: Operation::FinishTask,
                    stage: TaskStage::Startable,
                }),
                StatusCode::CONFLICT,
                "task_stage_forbids",
            ),
            (
                EngineError::Refused(RunbookError::CommentRequired { task: "x".into() }),
                StatusCode::UNPROCESSABLE_ENTITY,
                "comment_required",
            ),
            (
                EngineError::Immutable { action: "a".into(), field: "trigger" },
                StatusCode::UNPROCESSABLE_ENTITY,
                "immutable_field",
            ),
            (EngineError::CallbackRejected { fire: 1 }, StatusCode::UNAUTHORIZED, "invalid_callback_token"),
            (
                EngineError::FireNotWaiting { fire: 1, state: "succeeded".into() },
                StatusCode::CONFLICT,
                "fire_not_waiting",
            ),
            (EngineError::Forbidden { message: "no".into() }, StatusCode::FORBIDDEN, "forbidden"),
            (
                EngineError::Store(StoreError::Duplicate { what: "user", name: "a@b".into() }),
                StatusCode::CONFLICT,
                "already_exists",
            ),
            (AuthError::UnknownState.into(), StatusCode::BAD_REQUEST, "unknown_oauth_state"),
            (AuthError::StateAlreadyUsed.into(), StatusCode::CONFLICT, "oauth_state_already_used"),
            (
                AuthError::TokenRejected {
                    endpoint: "https://x".into(),
                    error: "invalid_grant".into(),
                    description: None,
                }
                .into(),
                StatusCode::BAD_GATEWAY,
                "oauth_token_exchange_failed",
            ),
            (EngineError::Config { message: "x".into() }, StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
            (EngineError::ShuttingDown, StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
        ];
        for (error, status, code) in cases {
            check(error, status, code);
        }
    }

    #[test]
    fn missing_fields_are_listed_as_details() {
        let refusal = RunbookError::MissingCustomFields {
            task: "announce".into(),
            operation: Operation::StartTask,
            fields: vec!["Slack Channel".into(), "Slack Message".into()],
        };
        let api = ApiError::from(EngineError::Refused(refusal));
        assert_eq!(api.status, StatusCode::UNPROCESSABLE_ENTITY);
        let paths: Vec<&str> = api.details.iter().map(|detail| detail.path.as_str()).collect();
        assert_eq!(paths, ["custom_fields['Slack Channel']", "custom_fields['Slack Message']"]);
    }
}
