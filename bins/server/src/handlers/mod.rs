//! Route handlers, one module per resource group. Each parses its input, calls the engine, and shapes the answer with
//! [`crate::views`]; none holds domain rules.

pub(crate) mod callbacks;
pub(crate) mod catalog;
pub(crate) mod definitions;
pub(crate) mod event_integrations;
pub(crate) mod events;
pub(crate) mod integrations;
pub(crate) mod oauth;
pub(crate) mod runbooks;
pub(crate) mod settings;
pub(crate) mod system;
pub(crate) mod tasks;
pub(crate) mod users;

use crate::error::ApiError;
use axum::http::Uri;
use std::collections::BTreeMap;

/// A numeric id from the path; anything else names nothing (404).
pub(crate) fn parse_id(text: &str, what: &str) -> Result<i64, ApiError> {
    text.parse().map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            format!("{what}_not_found"),
            format!("{what} `{text}` does not exist"),
        )
    })
}

/// The query parameters of a request (the last value of a repeated key wins).
pub(crate) fn query_params(uri: &Uri) -> BTreeMap<String, String> {
    uri.query().map(|query| url::form_urlencoded::parse(query.as_bytes()).into_owned().collect()).unwrap_or_default()
}

/// A numeric query parameter, if present; a value that is not a number is a 422 naming the parameter.
pub(crate) fn query_id(params: &BTreeMap<String, String>, name: &str) -> Result<Option<i64>, ApiError> {
    params
        .get(name)
        .map(|value| value.parse().map_err(|_| ApiError::invalid(name, format!("`{value}` is not an id"))))
        .transpose()
}
