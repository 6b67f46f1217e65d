//! Who may call a route: `Authorization: Bearer TOKEN` authentication and the roles each route needs (the rules
//! themselves live in `cutover_integrations_core::access`, shared with the web console).
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

pub use cutover_integrations_core::access::Access;
pub(crate) use cutover_integrations_core::access::{
    ADMIN, CUSTOM_FIELDS, DEFINITIONS, INTEGRATIONS, OAUTH, READ, RUNBOOKS, TASKS,
};

/// The authenticated user of a request, put there by [`require`].
#[derive(Debug, Clone)]
pub(crate) struct CurrentUser(pub(crate) User);

impl CurrentUser {
    /// Whether the user holds `role` (or is an admin).
    pub(crate) fn holds(&self, role: Role) -> bool {
        cutover_integrations_core::access::holds(&self.0.roles, role)
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
}
