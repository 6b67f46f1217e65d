//! `POST /users`, `GET /users`: users and their API tokens (shown once, at creation).

use crate::AppState;
use crate::body::JsonBody;
use crate::error::{ApiError, Detail};
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

/// Creates a user; the answer holds its API token, which is never shown again.
pub(crate) async fn create(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<NewUserBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut problems = Vec::new();
    if body.name.trim().is_empty() {
        problems.push(Detail::at("name", "must not be empty"));
    }
    let email = body.email.trim();
    if !email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty()) {
        problems.push(Detail::at("email", format!("`{email}` is not an email address")));
    }
    if body.roles.is_empty() {
        problems.push(Detail::at("roles", "give at least one role"));
    }
    if !problems.is_empty() {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", "the user is invalid")
            .with_details(problems));
    }
    let mut roles = body.roles;
    roles.sort();
    roles.dedup();
    let new = NewUser { name: body.name.trim().to_owned(), email: email.to_owned(), roles };
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
