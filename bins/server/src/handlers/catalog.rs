//! The catalog of predefined integrations: `GET /catalog` lists the entries with their settings, `POST
//! /catalog/{name}/install` installs one with the admin's settings (secret ones become secret system parameters, never
//! returned).

use crate::AppState;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::views::Page;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cutover_integrations_core::integration_catalog::SettingKind;
use cutover_integrations_core::integration_catalog::{Entry, entries, entry, parameter_name};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The body of `POST /catalog/{name}/install`. `Debug` shows the setting keys, never their values.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CatalogInstall")]
pub(crate) struct InstallBody {
    /// The integration's name; the entry's own by default.
    #[serde(default)]
    name: Option<String>,
    /// The settings by key (`GET /catalog` lists each entry's).
    #[serde(default)]
    settings: BTreeMap<String, String>,
}

/// A catalog entry: what it installs and the settings it takes.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct CatalogEntryView {
    /// Its name, as in `POST /catalog/{name}/install`.
    name: &'static str,
    /// Its title.
    title: &'static str,
    /// What it does.
    summary: &'static str,
    /// Its definition file under `catalog/`.
    file: &'static str,
    /// Where its icon (an SVG document) is served, from the server's root: `/assets/catalog/NAME.svg`. The
    /// integration it installs names the same path as its `image_url`.
    icon: String,
    /// Its actions, by name.
    actions: Vec<String>,
    /// Its custom fields, by name.
    custom_fields: Vec<String>,
    /// The settings an admin supplies.
    settings: Vec<SettingView>,
}

/// One setting of a catalog entry.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SettingView {
    /// Its key in `settings`.
    key: &'static str,
    /// Its label.
    label: &'static str,
    /// What it is.
    description: &'static str,
    /// What it holds.
    kind: SettingKind,
    /// Whether it is kept in a secret system parameter.
    secret: bool,
    /// Whether the install needs it.
    required: bool,
    /// Its value when absent.
    default: Option<&'static str>,
    /// The secret system parameter a secret setting is stored in.
    system_parameter: Option<String>,
}

/// What installing an entry did.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct CatalogInstalled {
    /// The integration created.
    integration_id: i64,
    /// Its name.
    name: String,
    /// The secret system parameters stored, by name.
    parameters_set: Vec<String>,
    /// Secret system parameters the integration reads that no setting gave.
    parameters_unset: Vec<String>,
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
pub(crate) async fn list_entries() -> Json<Page<CatalogEntryView>> {
    Json(Page { items: entries().iter().map(entry_view).collect(), next_cursor: None })
}

/// Installs an entry: a `type: predefined` integration, and secret system parameters for its secret settings.
pub(crate) async fn install_entry(
    State(state): State<AppState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<InstallBody>,
) -> Result<(StatusCode, Json<CatalogInstalled>), ApiError> {
    if let Err(error) = entry(&name) {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "catalog_entry_not_found", error.to_string()));
    }
    let installed = state.engine.install_catalog_entry(&name, body.name.as_deref(), &body.settings).await?;
    Ok((
        StatusCode::CREATED,
        Json(CatalogInstalled {
            integration_id: installed.applied.integration_id.0,
            name: installed.name,
            parameters_set: installed.parameters_set,
            parameters_unset: installed.parameters_unset,
        }),
    ))
}

fn entry_view(entry: &Entry) -> CatalogEntryView {
    let integration = entry.integration();
    let settings = entry
        .settings
        .iter()
        .map(|setting| SettingView {
            key: setting.key,
            label: setting.label,
            description: setting.description,
            kind: setting.kind,
            secret: setting.kind.is_secret(),
            required: setting.default.is_none() && !setting.optional,
            default: setting.default,
            system_parameter: setting.kind.is_secret().then(|| parameter_name(entry.title, setting.key)),
        })
        .collect();
    CatalogEntryView {
        name: entry.name,
        title: entry.title,
        summary: entry.summary,
        file: entry.file,
        icon: entry.image_url(),
        actions: integration.actions.iter().map(|action| action.name.clone()).collect(),
        custom_fields: integration.custom_fields.iter().map(|field| field.name.clone()).collect(),
        settings,
    }
}
