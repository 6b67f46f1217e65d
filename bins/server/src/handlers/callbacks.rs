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
use cutover_integrations_core::http::CallbackReport;
use cutover_integrations_core::store::FireId;
use serde_json::{Value, json};

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
    JsonBody(report): JsonBody<CallbackReport>,
) -> Result<Json<Value>, ApiError> {
    let fire = FireId(parse_id(&fire, "fire")?);
    let applied = state.engine.complete_callback(fire, &token, report).await?;
    Ok(Json(json!({"fire": fire, "applied": applied})))
}
