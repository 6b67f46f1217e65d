//! `POST /users`, `GET /users`: users and their API tokens (shown once, at creation).

use crate::AppState;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::paging::ListQuery;
use crate::views;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use cutover_integrations_core::model::Role;
use cutover_integrations_core::store::NewUser;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::Value;

/// The body of `POST /users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUserBody {
    name: String,
    email: String,
    roles: Vec<Role>,
}

/// Creates a user (checked by the engine: name, email address, at least one role); the answer holds its API token,
/// which is never shown again.
pub(crate) async fn create(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<NewUserBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let new = NewUser { name: body.name, email: body.email, roles: body.roles };
    let created = state.engine.create_user(&new).await?;
    let mut answer = views::user(&created.user);
    answer["token"] = Value::String(created.token.expose_secret().to_owned());
    Ok((StatusCode::CREATED, Json(answer)))
}

/// A page of users in id order, without tokens.
pub(crate) async fn list(State(state): State<AppState>, uri: Uri) -> Result<Json<Value>, ApiError> {
    let query = ListQuery::parse(&uri, "users", &[])?;
    query.page_of(state.engine.users().await?, |user| user.id.0, views::user)
}
