//! `POST /users`, `GET /users`: users and their API tokens (shown once, at creation).

use crate::AppState;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::paging::{self, ListQuery};
use crate::views::{self, Page, UserView};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use cutover_integrations_core::model::Role;
use cutover_integrations_core::store::NewUser;
use schemars::JsonSchema;
use secrecy::ExposeSecret;
use serde::Deserialize;

/// The body of `POST /users` (checked by the engine: the rules are those of `checked_new_user`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "NewUser")]
pub(crate) struct NewUserBody {
    /// The display name: not blank, at most 320 characters.
    #[schemars(length(min = 1, max = 320), regex(pattern = crate::body::NOT_BLANK))]
    name: String,
    /// The email address (unique): `LOCAL@DOMAIN` without spaces, at most 320 characters.
    #[schemars(length(max = 320), regex(pattern = crate::body::EMAIL))]
    email: String,
    /// At least one role.
    #[schemars(length(min = 1))]
    roles: Vec<Role>,
}

/// Creates a user (checked by the engine: name, email address, at least one role); the answer holds its API token,
/// which is never shown again.
pub(crate) async fn create(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<NewUserBody>,
) -> Result<(StatusCode, Json<views::CreatedUser>), ApiError> {
    let new = NewUser { name: body.name, email: body.email, roles: body.roles };
    let created = state.engine.create_user(&new).await?;
    let answer =
        views::CreatedUser { user: views::user(&created.user), token: created.token.expose_secret().to_owned() };
    Ok((StatusCode::CREATED, Json(answer)))
}

/// A page of users in id order, without tokens.
pub(crate) async fn list(State(state): State<AppState>, uri: Uri) -> Result<Json<Page<UserView>>, ApiError> {
    let query = ListQuery::parse(&uri, "users", paging::LIST)?;
    query.page_of(state.engine.users().await?, |user| user.id.0, views::user)
}
