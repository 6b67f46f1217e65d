//! Custom fields and system parameters: `GET/POST /custom-fields`, `GET/POST /system-parameters`. A secret system
//! parameter's value is never returned.

use crate::AppState;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::paging::{self, ListQuery};
use crate::views::{self, Page, SystemParameterView};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use cutover_integrations_core::model::{CustomField, SecretValue, SystemParameter};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// The body of `POST /system-parameters`. `Debug` does not show the value.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "NewSystemParameter")]
pub(crate) struct ParameterBody {
    /// Its name (surrounding spaces are dropped; not blank).
    #[schemars(regex(pattern = crate::body::NOT_BLANK))]
    name: String,
    /// Its value, encrypted at rest.
    value: SecretValue,
    /// Whether it is secret: its value is then never shown again.
    #[serde(default)]
    secret: bool,
}

impl std::fmt::Debug for ParameterBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParameterBody").field("name", &self.name).field("secret", &self.secret).finish_non_exhaustive()
    }
}

/// A page of custom fields in name order.
pub(crate) async fn list_custom_fields(
    State(state): State<AppState>,
    uri: Uri,
) -> Result<Json<Page<CustomField>>, ApiError> {
    let query = ListQuery::parse(&uri, "custom-fields", paging::LIST)?;
    let fields = state.engine.custom_fields().await?;
    query.page_of(fields, |field| field.name.clone(), Clone::clone)
}

/// Creates a custom field (a custom field definition as JSON); its name must be new.
pub(crate) async fn create_custom_field(
    State(state): State<AppState>,
    JsonBody(field): JsonBody<Value>,
) -> Result<(StatusCode, Json<CustomField>), ApiError> {
    let field = state.engine.create_custom_field(&field).await?;
    Ok((StatusCode::CREATED, Json(field)))
}

/// A page of system parameters in name order; secret ones without their value.
pub(crate) async fn list_system_parameters(
    State(state): State<AppState>,
    uri: Uri,
) -> Result<Json<Page<SystemParameterView>>, ApiError> {
    let query = ListQuery::parse(&uri, "system-parameters", paging::LIST)?;
    let parameters = state.engine.system_parameters().await?;
    query.page_of(parameters, |parameter| parameter.name.clone(), views::system_parameter)
}

/// Creates (201) or replaces (200) a system parameter; its value is encrypted at rest.
pub(crate) async fn put_system_parameter(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<ParameterBody>,
) -> Result<(StatusCode, Json<SystemParameterView>), ApiError> {
    let name = body.name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid("name", "must not be empty"));
    }
    let exists = state.engine.system_parameters().await?.iter().any(|parameter| parameter.name == name);
    let parameter = SystemParameter { name: name.to_owned(), value: body.value, secret: body.secret };
    state.engine.put_system_parameter(&parameter).await?;
    let status = if exists { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(views::system_parameter(&parameter))))
}
