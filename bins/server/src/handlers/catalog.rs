//! The catalog of predefined integrations: `GET /catalog` lists the entries with their settings, `POST
//! /catalog/{name}/install` installs one with the admin's settings (secret ones become secret system parameters, never
//! returned).

use crate::AppState;
use crate::body::JsonBody;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cutover_integrations_core::integration_catalog::{Entry, entries, entry, parameter_name};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The body of `POST /catalog/{name}/install`. `Debug` shows the setting keys, never their values.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InstallBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    settings: BTreeMap<String, String>,
}

impl std::fmt::Debug for InstallBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstallBody")
            .field("name", &self.name)
            .field("settings", &self.settings.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Every entry, with its actions and settings, as one page.
pub(crate) async fn list_entries() -> Json<Value> {
    let items: Vec<Value> = entries().iter().map(entry_view).collect();
    Json(json!({"items": items, "next_cursor": null}))
}

/// Installs an entry: a `type: predefined` integration, and secret system parameters for its secret settings.
pub(crate) async fn install_entry(
    State(state): State<AppState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<InstallBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if let Err(error) = entry(&name) {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "catalog_entry_not_found", error.to_string()));
    }
    let installed = state.engine.install_catalog_entry(&name, body.name.as_deref(), &body.settings).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "integration_id": installed.applied.integration_id.0,
            "name": installed.name,
            "parameters_set": installed.parameters_set,
            "parameters_unset": installed.parameters_unset,
        })),
    ))
}

fn entry_view(entry: &Entry) -> Value {
    let integration = entry.integration();
    let settings: Vec<Value> = entry
        .settings
        .iter()
        .map(|setting| {
            json!({
                "key": setting.key,
                "label": setting.label,
                "description": setting.description,
                "kind": setting.kind,
                "secret": setting.kind.is_secret(),
                "required": setting.default.is_none() && !setting.optional,
                "default": setting.default,
                "system_parameter": setting.kind.is_secret().then(|| parameter_name(entry.title, setting.key)),
            })
        })
        .collect();
    json!({
        "name": entry.name,
        "title": entry.title,
        "summary": entry.summary,
        "file": entry.file,
        "actions": integration.actions.iter().map(|action| action.name.clone()).collect::<Vec<_>>(),
        "custom_fields": integration.custom_fields.iter().map(|field| field.name.clone()).collect::<Vec<_>>(),
        "settings": settings,
    })
}
