//! `POST /callbacks/{fire}`: a third party completes (or reports progress on) a callback fire, authenticated by the
//! fire's callback token (`Authorization: Bearer <Callback.token>`), compared in constant time by the engine.

use super::parse_id;
use crate::AppState;
use crate::access::bearer_token;
use crate::body::JsonBody;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use cutover_integrations_core::http::{CallbackReport, CallbackStatus};
use cutover_integrations_core::model::FieldValue;
use cutover_integrations_core::store::FireId;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The body of `POST /callbacks/{fire}`: what the third party reports (read into the engine's `CallbackReport`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CallbackReport")]
pub(crate) struct CallbackBody {
    /// `success` (the fire succeeds), `failure` (it fails with the message as reason) or `progress` (it keeps
    /// waiting; the message is logged).
    status: ReportStatus,
    /// A message for the actions log and, on failure, the reason.
    #[serde(default)]
    message: Option<String>,
    /// Custom field values to set: only declared fields that apply to the fire's action (422 otherwise).
    #[serde(default)]
    custom_fields: BTreeMap<String, FieldValue>,
}

/// The status a callback reports.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ReportStatus {
    /// The work finished well.
    Success,
    /// The work failed.
    Failure,
    /// Still working.
    Progress,
}

impl From<CallbackBody> for CallbackReport {
    fn from(body: CallbackBody) -> Self {
        let status = match body.status {
            ReportStatus::Success => CallbackStatus::Success,
            ReportStatus::Failure => CallbackStatus::Failure,
            ReportStatus::Progress => CallbackStatus::Progress,
        };
        CallbackReport { status, message: body.message, custom_fields: body.custom_fields }
    }
}

/// What a callback did.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct CallbackResult {
    /// The fire's id.
    fire: i64,
    /// `false` for an idempotent repeat of the report that ended the fire.
    applied: bool,
}

/// The `Authorization: Bearer` token of a callback, read before the body so that a caller without one gets 401.
#[derive(Debug)]
pub(crate) struct CallbackToken(String);

impl<S: Send + Sync> FromRequestParts<S> for CallbackToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        bearer_token(&parts.headers)
            .map(|token| Self(token.to_owned()))
            .ok_or_else(|| ApiError::unauthenticated("send the callback token as `Authorization: Bearer TOKEN`"))
    }
}

/// Applies the report: `applied: true` the first time, `applied: false` for a repeat of the report that ended the
/// fire; 409 for a different report after the fire ended.
pub(crate) async fn complete(
    State(state): State<AppState>,
    Path(fire): Path<String>,
    CallbackToken(token): CallbackToken,
    JsonBody(report): JsonBody<CallbackBody>,
) -> Result<Json<CallbackResult>, ApiError> {
    let fire = FireId(parse_id(&fire, "fire")?);
    let applied = state.engine.complete_callback(fire, &token, report.into()).await?;
    Ok(Json(CallbackResult { fire: fire.0, applied }))
}
