//! `GET /oauth/authorize` (redirect to the provider with PKCE and `state`) and `GET /oauth/callback` (the provider's
//! redirect back: the token is exchanged and stored for the functional user or the task user).

use super::{query_id, query_params};
use crate::AppState;
use crate::access::CurrentUser;
use crate::error::ApiError;
use crate::routes::{In, Param, schema};
use axum::Json;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, LOCATION};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use cutover_integrations_core::OAuthTarget;
use cutover_integrations_core::auth::{AuthorizationCallback, CredentialKey};
use cutover_integrations_core::model::Role;
use cutover_integrations_core::store::{ActionId, RunbookId};
use schemars::JsonSchema;
use serde::Serialize;

/// The query parameters of `GET /oauth/authorize`.
pub(crate) const AUTHORIZE: &[Param] = &[
    Param {
        name: "action",
        location: In::Query,
        required: true,
        description: "The action whose token to obtain",
        schema: schema::<i64>,
    },
    Param {
        name: "runbook",
        location: In::Query,
        required: false,
        description: "With `task`: the runbook of the task whose user authorizes (actions that authenticate as the task user)",
        schema: schema::<i64>,
    },
    Param {
        name: "task",
        location: In::Query,
        required: false,
        description: "With `runbook`: the task whose user authorizes",
        schema: schema::<String>,
    },
];

/// The query parameters of `GET /oauth/callback`, as the provider sends them.
pub(crate) const CALLBACK: &[Param] = &[
    Param {
        name: "state",
        location: In::Query,
        required: true,
        description: "The one-time state of the authorization (it authenticates the callback)",
        schema: schema::<String>,
    },
    Param {
        name: "code",
        location: In::Query,
        required: false,
        description: "The authorization code",
        schema: schema::<String>,
    },
    Param {
        name: "error",
        location: In::Query,
        required: false,
        description: "The provider's error",
        schema: schema::<String>,
    },
    Param {
        name: "error_description",
        location: In::Query,
        required: false,
        description: "The provider's explanation of its error",
        schema: schema::<String>,
    },
];

/// What `GET /oauth/callback` answers a client that does not ask for HTML.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct OAuthResult {
    /// Always `true`: a failed authorization is an error answer.
    authorized: bool,
    /// Which credential was stored (the functional user of an action, or a task user).
    credential: String,
}

/// Redirects (302) to the provider's authorization URL for `?action=ID` (functional user, needs
/// `integrations_admin`) or `?action=ID&runbook=ID&task=ID` (the task's user, who must be the caller).
pub(crate) async fn authorize(
    State(state): State<AppState>,
    user: CurrentUser,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = query_params(&uri);
    let action =
        query_id(&params, "action")?.ok_or_else(|| ApiError::invalid("action", "the action id is required"))?;
    let runbook = query_id(&params, "runbook")?;
    let task = params.get("task").cloned();
    let task = match (runbook, task) {
        (Some(runbook), Some(task)) => Some((RunbookId(runbook), task)),
        (None, None) => None,
        (Some(_), None) => return Err(ApiError::invalid("task", "give the task with the runbook")),
        (None, Some(_)) => return Err(ApiError::invalid("runbook", "give the runbook with the task")),
    };
    let target = OAuthTarget { action: ActionId(action), task };
    let credential = state.engine.oauth_credential(&target, &user.0).await?;
    if matches!(credential, CredentialKey::FunctionalUser { .. }) && !user.holds(Role::IntegrationsAdmin) {
        return Err(ApiError::forbidden("authorizing an action's functional user needs the integrations_admin role"));
    }
    let redirect = state.engine.begin_oauth(credential, &user.0).await?;
    Ok((StatusCode::FOUND, [(LOCATION, redirect.url.to_string()), (CACHE_CONTROL, "no-store".to_owned())])
        .into_response())
}

/// The provider's redirect back: `?state=…&code=…` (or `&error=…`). The one-time state authenticates it.
/// A browser (which asks for HTML) gets a short page with a way back to the console instead of JSON.
pub(crate) async fn callback(
    State(state): State<AppState>,
    uri: Uri,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let mut params = query_params(&uri);
    let Some(state_param) = params.remove("state") else {
        return Err(ApiError::malformed("the OAuth callback has no `state`"));
    };
    let callback = AuthorizationCallback {
        state: state_param,
        code: params.remove("code").map(secrecy::SecretString::from),
        error: params.remove("error"),
        error_description: params.remove("error_description"),
    };
    let credential = state.engine.complete_oauth(&callback).await?;
    let wants_html = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html {
        let page = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Authorized</title></head>\
            <body><h1>Authorized</h1><p>The token is stored; the action can now authenticate its requests.</p>\
            <p><a href=\"/settings/integrations\">Back to the console</a></p></body></html>";
        let headers = [
            (CACHE_CONTROL, "no-store"),
            (
                axum::http::header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; base-uri 'none'; frame-ancestors 'none'",
            ),
        ];
        return Ok((headers, axum::response::Html(page)).into_response());
    }
    let body = OAuthResult { authorized: true, credential: credential.to_string() };
    Ok(([(CACHE_CONTROL, "no-store")], Json(body)).into_response())
}
