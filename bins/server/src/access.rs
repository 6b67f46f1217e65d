//! Who may call a route: `Authorization: Bearer TOKEN` authentication and the roles each route needs.
//!
//! The check runs before the handler and before the body is read, so a caller without the right role learns nothing
//! from validation errors. `admin` may do everything.

use crate::AppState;
use crate::error::ApiError;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cutover_integrations_core::model::Role;
use cutover_integrations_core::store::User;

/// What a caller needs to call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Nothing: health, metrics, the OpenAPI document, and the OAuth callback (its one-time `state` authenticates it).
    Public,
    /// The bearer token of a callback fire (`{{Callback.token}}`), checked by the engine in constant time.
    CallbackToken,
    /// An API token of a user holding one of these roles; `admin` always qualifies.
    AnyOf(&'static [Role]),
}

/// Every role: reading needs any role at all.
pub(crate) const READ: Access = Access::AnyOf(&[
    Role::Viewer,
    Role::Operator,
    Role::RunbookAdmin,
    Role::CustomFieldsAdmin,
    Role::IntegrationsAdmin,
]);
/// Users: admins only.
pub(crate) const ADMIN: Access = Access::AnyOf(&[]);
/// Integrations, actions, system parameters.
pub(crate) const INTEGRATIONS: Access = Access::AnyOf(&[Role::IntegrationsAdmin]);
/// Custom fields.
pub(crate) const CUSTOM_FIELDS: Access = Access::AnyOf(&[Role::CustomFieldsAdmin]);
/// Runbooks: create, start, pause, resume, cancel, duplicate; skip tasks; force a fixed start.
pub(crate) const RUNBOOKS: Access = Access::AnyOf(&[Role::RunbookAdmin]);
/// Task operations: start, finish, cancel, refire, set custom field values.
pub(crate) const TASKS: Access = Access::AnyOf(&[Role::Operator, Role::RunbookAdmin]);
/// Definition files: integrations need `integrations_admin`, runbooks `runbook_admin` (checked per document).
pub(crate) const DEFINITIONS: Access = Access::AnyOf(&[Role::IntegrationsAdmin, Role::RunbookAdmin]);
/// OAuth authorization: the functional user needs `integrations_admin`; a task user authorizes their own task.
pub(crate) const OAUTH: Access = Access::AnyOf(&[Role::IntegrationsAdmin, Role::RunbookAdmin, Role::Operator]);

impl Access {
    /// Whether a user holding `roles` may call a route with this access.
    pub fn admits(self, roles: &[Role]) -> bool {
        match self {
            Self::Public | Self::CallbackToken => true,
            Self::AnyOf(allowed) => roles.iter().any(|role| *role == Role::Admin || allowed.contains(role)),
        }
    }

    /// The roles that qualify, `admin` first, for messages and the OpenAPI document.
    pub fn roles(self) -> Vec<Role> {
        match self {
            Self::Public | Self::CallbackToken => Vec::new(),
            Self::AnyOf(allowed) => std::iter::once(Role::Admin).chain(allowed.iter().copied()).collect(),
        }
    }
}

/// The authenticated user of a request, put there by [`require`].
#[derive(Debug, Clone)]
pub(crate) struct CurrentUser(pub(crate) User);

impl CurrentUser {
    /// Whether the user holds `role` (or is an admin).
    pub(crate) fn holds(&self, role: Role) -> bool {
        self.0.roles.iter().any(|held| *held == role || *held == Role::Admin)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<CurrentUser>().cloned().ok_or_else(|| ApiError::unauthenticated("not authenticated"))
    }
}

/// The state of the [`require`] middleware: the app and the access of the route it guards.
#[derive(Debug, Clone)]
pub(crate) struct Guard {
    pub(crate) state: AppState,
    pub(crate) access: Access,
}

/// Authenticates the bearer token and checks the route's roles; puts the [`CurrentUser`] in the request.
pub(crate) async fn require(State(guard): State<Guard>, mut request: Request, next: Next) -> Response {
    let Access::AnyOf(_) = guard.access else {
        return next.run(request).await;
    };
    let Some(token) = bearer_token(request.headers()) else {
        return ApiError::unauthenticated("send an API token as `Authorization: Bearer TOKEN`").into_response();
    };
    let user = match guard.state.engine.authenticate(token).await {
        Ok(Some(user)) => user,
        Ok(None) => return ApiError::unauthenticated("the API token is not valid").into_response(),
        Err(error) => return ApiError::from(error).into_response(),
    };
    if !guard.access.admits(&user.roles) {
        let roles: Vec<String> = guard.access.roles().iter().map(role_name).collect();
        let message = format!("this needs one of the roles {}", roles.join(", "));
        return ApiError::forbidden(message).into_response();
    }
    request.extensions_mut().insert(CurrentUser(user));
    next.run(request).await
}

/// The token of an `Authorization: Bearer TOKEN` header (the scheme is case-insensitive).
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A role's snake_case name, as in the API.
pub(crate) fn role_name(role: &Role) -> String {
    serde_json::to_value(role).ok().and_then(|value| value.as_str().map(str::to_owned)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_tokens_are_read_from_the_authorization_header() {
        let cases = [
            (Some("Bearer abc"), Some("abc")),
            (Some("bearer  abc "), Some("abc")),
            (Some("Basic abc"), None),
            (Some("Bearer "), None),
            (Some("Bearer"), None),
            (None, None),
        ];
        for (header, expected) in cases {
            let mut headers = HeaderMap::new();
            if let Some(header) = header {
                headers.insert(axum::http::header::AUTHORIZATION, HeaderValue::from_static(header));
            }
            assert_eq!(bearer_token(&headers), expected, "{header:?}");
        }
    }

    #[test]
    fn admin_qualifies_everywhere_and_other_roles_where_listed() {
        let cases = [
            (TASKS, vec![Role::Operator], true),
            (TASKS, vec![Role::Viewer], false),
            (TASKS, vec![Role::Viewer, Role::Admin], true),
            (ADMIN, vec![Role::IntegrationsAdmin], false),
            (ADMIN, vec![Role::Admin], true),
            (READ, vec![], false),
            (READ, vec![Role::Viewer], true),
            (Access::Public, vec![], true),
        ];
        for (access, roles, expected) in cases {
            assert_eq!(access.admits(&roles), expected, "{access:?} {roles:?}");
        }
    }
}
