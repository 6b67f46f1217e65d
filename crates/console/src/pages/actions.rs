//! The action dialog: tabs `General`, `Authorization`, `Request`, `Response`, `Polling`, saved through the engine's
//! `add_action` and `patch_action` (the REST API's operations, with the same validation), and the template checker
//! endpoint the dialog calls as you type.
//!
//! The dialog is rendered from an [`ActionForm`] of strings, built from a stored action (secrets left out: a stored
//! secret shows as a masked placeholder, and a blank secret field keeps it) or from a refused submission.

use super::integrations::{edit_page, integration_id, refused};
use super::layout::{self, csrf, problems};
use crate::Console;
use crate::error::ConsoleError;
use crate::forms::Form;
use crate::guard::Signed;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use cutover_integrations_core::access::{INTEGRATIONS, READ};
use cutover_integrations_core::model::{
    Action, ApiKeyLocation, AuthSettings, AuthenticateAs, BodyTemplate, OAuth2Grant, TemplateChecker as _,
    TemplatePlace, Trigger, Visibility,
};
use cutover_integrations_core::store::{ActionId, IntegrationRecord};
use cutover_integrations_core::template::Checker;
use cutover_integrations_core::{OAuthStatus, OAuthTarget, REDACTED};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// A trigger as the console names it.
pub(crate) fn trigger_label(trigger: Trigger) -> &'static str {
    match trigger {
        Trigger::TaskStart => "On Task Start",
        Trigger::RunbookUpdate => "On Runbook Update",
    }
}

/// The checkboxes under `Additional Settings`: form name and label.
const SETTINGS: [(&str, &str); 6] = [
    ("auto_start", "Auto start"),
    ("fixed_start_time", "Enable fixed start time"),
    ("cancelable", "Cancelable"),
    ("finish_task_on_success", "Finish task on success"),
    ("include_context", "Include context in Request"),
    ("execute_in_rehearsal", "Execute in Rehearsal"),
];

/// The secret fields of the Authorization tab: form name and label.
const SECRETS: [(&str, &str); 5] = [
    ("token", "Token"),
    ("password", "Password"),
    ("api_key_value", "API key"),
    ("client_secret", "Client Secret"),
    ("signing_secret", "Signing secret (whsec_…)"),
];

/// The dialog's values, as strings keyed by form name (secrets never among them).
#[derive(Debug, Default)]
struct ActionForm {
    values: Map<String, Value>,
    /// The stored action's auth type, whose secrets a blank field keeps.
    stored_auth: Option<&'static str>,
}

impl ActionForm {
    fn get(&self, name: &str) -> &str {
        self.values.get(name).and_then(Value::as_str).unwrap_or("")
    }

    fn on(&self, name: &str) -> bool {
        self.values.get(name).and_then(Value::as_bool).unwrap_or(false)
    }

    fn set(&mut self, name: &str, value: impl Into<String>) {
        self.values.insert(name.to_owned(), Value::String(value.into()));
    }

    fn flag(&mut self, name: &str, on: bool) {
        self.values.insert(name.to_owned(), Value::Bool(on));
    }

    fn fresh() -> Self {
        let mut form = Self::default();
        form.set("trigger", "task_start");
        form.set("visibility", "global");
        form.set("auth_type", "none");
        form.set("method", "POST");
        form.set("execution_mode", "fire_and_forget");
        form.set("grant", "authorization_code");
        form.set("authenticate_as", "functional_user");
        form.set("token_type", "Bearer");
        form.set("api_key_in", "header");
        form.set("polling_method", "GET");
        form
    }

    fn from_action(action: &Action) -> Self {
        let mut form = Self::fresh();
        form.set("name", &action.name);
        form.set("image_url", action.image_url.clone().unwrap_or_default());
        form.set("trigger", if action.trigger == Trigger::RunbookUpdate { "runbook_update" } else { "task_start" });
        match &action.visibility {
            Visibility::Workspace { workspace } => {
                form.set("visibility", "workspace");
                form.set("workspace", workspace);
            }
            _ => form.set("visibility", "global"),
        }
        let settings = &action.settings;
        form.flag("auto_start", settings.auto_start);
        form.flag("fixed_start_time", settings.fixed_start_time);
        form.flag("cancelable", settings.cancelable);
        form.flag("finish_task_on_success", settings.finish_task_on_success);
        form.flag("include_context", settings.include_context);
        form.flag("execute_in_rehearsal", settings.execute_in_rehearsal);
        if let Some(notify) = &settings.notify_webhook_on_cancel {
            form.flag("notify_on_cancel", true);
            form.set("notify_url", &notify.url);
            form.set("notify_headers", header_lines(&notify.headers));
        }
        let auth_type = match &action.auth {
            AuthSettings::None => "none",
            AuthSettings::Token { token_type, .. } => {
                form.set("token_type", token_type);
                "token"
            }
            AuthSettings::Basic { username, .. } => {
                form.set("username", username);
                "basic"
            }
            AuthSettings::ApiKey { location, name, .. } => {
                form.set("api_key_in", if *location == ApiKeyLocation::Query { "query" } else { "header" });
                form.set("api_key_name", name);
                "api_key"
            }
            AuthSettings::Oauth2(oauth) => {
                form.set(
                    "grant",
                    if oauth.grant == OAuth2Grant::ClientCredentials {
                        "client_credentials"
                    } else {
                        "authorization_code"
                    },
                );
                form.set("client_id", &oauth.client_id);
                form.set("provider_host", &oauth.provider_host);
                form.set("authorization_endpoint", oauth.authorization_endpoint.clone().unwrap_or_default());
                form.set("token_endpoint", &oauth.token_endpoint);
                form.set("scopes", oauth.scopes.join(" "));
                form.set(
                    "authenticate_as",
                    if oauth.authenticate_as == AuthenticateAs::TaskUser { "task_user" } else { "functional_user" },
                );
                "oauth2"
            }
            AuthSettings::StandardWebhooks { .. } => "standard_webhooks",
        };
        form.set("auth_type", auth_type);
        form.stored_auth = Some(auth_type);
        if let Some(request) = &action.request {
            form.set("method", request.method.as_str());
            form.set("url", &request.url);
            form.set("headers", header_lines(&request.headers));
            form.set(
                "payload",
                request
                    .payload
                    .as_ref()
                    .or(request.params.as_ref())
                    .map(BodyTemplate::display_text)
                    .unwrap_or_default(),
            );
            form.set("execution_mode", enum_name(&request.execution_mode));
            form.set("timeout_seconds", request.timeout_seconds.map(|t| t.to_string()).unwrap_or_default());
        }
        if let Some(response) = &action.response {
            let statuses: Vec<String> = response.success_statuses.iter().map(u16::to_string).collect();
            form.set("success_statuses", statuses.join(", "));
            form.set("success_when", json_text(&response.success_when));
            form.set("failure_when", json_text(&response.failure_when));
            form.set("response_map", map_lines(&response.map));
        }
        if let Some(polling) = &action.polling {
            form.set("polling_method", polling.method.as_str());
            form.set("polling_url", &polling.url);
            form.set("polling_headers", header_lines(&polling.headers));
            form.set("polling_interval", polling.interval_seconds.to_string());
            form.set("polling_attempts", polling.max_attempts.to_string());
            form.set("polling_timeout", polling.timeout_seconds.map(|t| t.to_string()).unwrap_or_default());
            form.set("complete_when", json_text(&polling.complete_when));
            form.set("fail_when", json_text(&polling.fail_when));
            form.set("polling_map", map_lines(&polling.map));
        }
        if let Some(callback) = &action.callback {
            form.set("callback_timeout", callback.timeout_seconds.to_string());
        }
        form
    }

    fn from_submission(submitted: &Form, stored: Option<&Action>) -> Self {
        let mut form = Self::fresh();
        for name in [
            "name",
            "image_url",
            "trigger",
            "visibility",
            "workspace",
            "notify_url",
            "notify_headers",
            "auth_type",
            "token_type",
            "username",
            "api_key_in",
            "api_key_name",
            "grant",
            "client_id",
            "provider_host",
            "authorization_endpoint",
            "token_endpoint",
            "scopes",
            "authenticate_as",
            "method",
            "url",
            "headers",
            "payload",
            "execution_mode",
            "timeout_seconds",
            "success_statuses",
            "success_when",
            "failure_when",
            "response_map",
            "polling_method",
            "polling_url",
            "polling_headers",
            "polling_interval",
            "polling_attempts",
            "polling_timeout",
            "complete_when",
            "fail_when",
            "polling_map",
            "callback_timeout",
        ] {
            if submitted.checked(name) {
                form.set(name, submitted.raw(name));
            }
        }
        for (name, _) in SETTINGS {
            form.flag(name, submitted.checked(name));
        }
        form.flag("notify_on_cancel", submitted.checked("notify_on_cancel"));
        if let Some(stored) = stored {
            // Fixed at creation: the stored values stand, whatever was sent.
            let fixed = Self::from_action(stored);
            for name in ["trigger", "visibility", "workspace"] {
                form.set(name, fixed.get(name));
            }
            form.stored_auth = fixed.stored_auth;
        }
        form
    }

    /// The action definition (JSON) the form describes; `secrets` are the submitted secret fields.
    fn to_action(&self, submitted: &Form) -> Value {
        let secret = |name: &str, auth: &str| -> String {
            let sent = submitted.raw(name);
            if sent.is_empty() && self.stored_auth == Some(auth) { REDACTED.to_owned() } else { sent.to_owned() }
        };
        let visibility = match self.get("visibility") {
            "workspace" => json!({"workspace": self.get("workspace").trim()}),
            _ => json!("global"),
        };
        let mut settings = Map::new();
        for (name, _) in SETTINGS {
            settings.insert(name.to_owned(), Value::Bool(self.on(name)));
        }
        if self.on("notify_on_cancel") {
            settings.insert(
                "notify_webhook_on_cancel".into(),
                json!({"url": self.get("notify_url").trim(), "headers": parse_lines(self.get("notify_headers"), ':')}),
            );
        }
        let auth = match self.get("auth_type") {
            "token" => {
                json!({"type": "token", "token_type": self.get("token_type").trim(), "token": secret("token", "token")})
            }
            "basic" => {
                json!({"type": "basic", "username": self.get("username").trim(), "password": secret("password", "basic")})
            }
            "api_key" => {
                json!({"type": "api_key", "in": self.get("api_key_in"), "name": self.get("api_key_name").trim(),
                "value": secret("api_key_value", "api_key")})
            }
            "oauth2" => {
                let mut oauth = json!({
                    "type": "oauth2",
                    "grant": self.get("grant"),
                    "client_id": self.get("client_id").trim(),
                    "client_secret": secret("client_secret", "oauth2"),
                    "provider_host": self.get("provider_host").trim(),
                    "token_endpoint": self.get("token_endpoint").trim(),
                    "scopes": self.get("scopes").split([' ', ',', '\n']).map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>(),
                    "authenticate_as": self.get("authenticate_as"),
                });
                let endpoint = self.get("authorization_endpoint").trim();
                if !endpoint.is_empty() && self.get("grant") == "authorization_code" {
                    oauth["authorization_endpoint"] = json!(endpoint);
                }
                oauth
            }
            "standard_webhooks" => {
                json!({"type": "standard_webhooks", "secret": secret("signing_secret", "standard_webhooks")})
            }
            _ => json!({"type": "none"}),
        };
        let mut action = json!({
            "name": self.get("name").trim(),
            "trigger": self.get("trigger"),
            "visibility": visibility,
            "settings": settings,
            "auth": auth,
        });
        let image_url = self.get("image_url").trim();
        if !image_url.is_empty() {
            action["image_url"] = json!(image_url);
        }
        if self.is_draft() {
            // Saved from its general settings alone: a draft, its request to come.
            return action;
        }
        let method = self.get("method");
        let mut request = json!({
            "method": method,
            "url": self.get("url").trim(),
            "headers": parse_lines(self.get("headers"), ':'),
            "execution_mode": self.get("execution_mode"),
        });
        let body = self.get("payload");
        if !body.trim().is_empty() {
            let key = if matches!(method, "GET" | "DELETE") { "params" } else { "payload" };
            // A JSON object or list is kept structured (each string a template); any other text is one template.
            let structured = serde_json::from_str::<Value>(body).ok().filter(|v| v.is_object() || v.is_array());
            request[key] = structured.unwrap_or_else(|| json!(body));
        }
        if let Some(timeout) = number(self.get("timeout_seconds")) {
            request["timeout_seconds"] = json!(timeout);
        }
        action["request"] = request;
        match self.get("execution_mode") {
            "sync" => {
                let statuses: Vec<Value> = self
                    .get("success_statuses")
                    .split([',', ' '])
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| s.trim().parse::<u16>().map(Value::from).unwrap_or_else(|_| json!(s.trim())))
                    .collect();
                action["response"] = json!({
                    "success_statuses": statuses,
                    "success_when": json_or_text(self.get("success_when")),
                    "failure_when": json_or_text(self.get("failure_when")),
                    "map": parse_lines(self.get("response_map"), '='),
                });
            }
            "polling" => {
                let mut polling = json!({
                    "method": self.get("polling_method"),
                    "url": self.get("polling_url").trim(),
                    "headers": parse_lines(self.get("polling_headers"), ':'),
                    "complete_when": json_or_text(self.get("complete_when")),
                    "fail_when": json_or_text(self.get("fail_when")),
                    "map": parse_lines(self.get("polling_map"), '='),
                });
                for (name, key) in [
                    ("polling_interval", "interval_seconds"),
                    ("polling_attempts", "max_attempts"),
                    ("polling_timeout", "timeout_seconds"),
                ] {
                    if let Some(value) = number(self.get(name)) {
                        polling[key] = json!(value);
                    }
                }
                action["polling"] = polling;
            }
            "callback" => {
                if let Some(timeout) = number(self.get("callback_timeout")) {
                    action["callback"] = json!({"timeout_seconds": timeout});
                }
            }
            _ => {}
        }
        action
    }
}

impl ActionForm {
    /// Whether the Request tab is untouched (no URL, headers, payload or timeout): the action is saved as a draft.
    fn is_draft(&self) -> bool {
        ["url", "headers", "payload", "timeout_seconds"].iter().all(|name| self.get(name).trim().is_empty())
    }
}

fn enum_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|value| value.as_str().map(str::to_owned)).unwrap_or_default()
}

fn header_lines(headers: &std::collections::BTreeMap<String, String>) -> String {
    headers.iter().map(|(name, value)| format!("{name}: {value}")).collect::<Vec<_>>().join("\n")
}

fn map_lines(map: &std::collections::BTreeMap<String, String>) -> String {
    map.iter().map(|(field, path)| format!("{field} = {path}")).collect::<Vec<_>>().join("\n")
}

fn json_text<T: serde::Serialize>(value: &[T]) -> String {
    if value.is_empty() { String::new() } else { serde_json::to_string_pretty(value).unwrap_or_default() }
}

/// `Name: value` (or `Field = path`) lines as an object; a line without the separator keeps its text as the key,
/// so that validation names it.
fn parse_lines(text: &str, separator: char) -> Value {
    if text.trim_start().starts_with('{')
        && let Ok(Value::Object(object)) = serde_json::from_str(text)
    {
        // Headers written as a JSON object, as the guides show them.
        return Value::Object(object);
    }
    let mut object = Map::new();
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let (key, value) = line.split_once(separator).unwrap_or((line, ""));
        object.insert(key.trim().to_owned(), Value::String(value.trim().to_owned()));
    }
    Value::Object(object)
}

/// A JSON list of conditions as typed; blank is none, and text that is not JSON goes on as a string for validation
/// to name.
fn json_or_text(text: &str) -> Value {
    if text.trim().is_empty() {
        return json!([]);
    }
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

fn number(text: &str) -> Option<Value> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.parse::<u64>().map(Value::from).unwrap_or_else(|_| json!(text)))
}

/// A merge patch (RFC 7396) that turns `old` into `new`.
fn merge_patch_between(old: &Value, new: &Value) -> Value {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            let mut patch = Map::new();
            for (key, value) in new {
                match old.get(key) {
                    Some(previous) if previous == value => {}
                    Some(previous) => {
                        patch.insert(key.clone(), merge_patch_between(previous, value));
                    }
                    None => {
                        patch.insert(key.clone(), value.clone());
                    }
                }
            }
            for key in old.keys().filter(|key| !new.contains_key(*key)) {
                patch.insert(key.clone(), Value::Null);
            }
            Value::Object(patch)
        }
        (_, new) => new.clone(),
    }
}

fn select(name: &str, id: &str, label: &str, current: &str, options: &[(&str, &str)], disabled: bool) -> Markup {
    html! {
        label for=(id) { (label) }
        select id=(id) name=(name) disabled[disabled] {
            @for (value, text) in options {
                option value=(value) selected[*value == current] { (text) }
            }
        }
    }
}

fn text(name: &str, id: &str, label: &str, form: &ActionForm) -> Markup {
    html! {
        label for=(id) { (label) }
        input id=(id) name=(name) value=(form.get(name));
    }
}

fn check_field(name: &str, id: &str, label: &str, form: &ActionForm, place: &str, rows: u32) -> Markup {
    html! {
        label for=(id) { (label) }
        div class="code-editor" {
            pre class="gutter" aria-hidden="true" { "1" }
            textarea id=(id) name=(name) class="code" rows=(rows) spellcheck="false" data-check=(place)
                aria-describedby=(format!("{id}-error")) { (form.get(name)) }
        }
        p id=(format!("{id}-error")) class="field-error" aria-live="polite" {}
    }
}

fn secret_field(name: &str, label: &str, form: &ActionForm, auth: &str) -> Markup {
    let id = format!("action-{name}");
    let stored = form.stored_auth == Some(auth);
    html! {
        label for=(id) { (label) }
        input id=(id) name=(name) type="password" autocomplete="new-password"
            placeholder=(if stored { "•••••••• stored: leave blank to keep, type to replace" } else { "" });
    }
}

/// The dialog, open.
fn dialog(
    signed: &Signed,
    record: &IntegrationRecord,
    action: Option<ActionId>,
    form: &ActionForm,
    lines: &[String],
    redirect_uri: &str,
    oauth: Option<&OAuthStatus>,
) -> Markup {
    let base = format!("/settings/integrations/{}", record.id);
    let action_url = match action {
        Some(id) => format!("{base}/actions/{id}"),
        None => format!("{base}/actions"),
    };
    let title = match action {
        Some(_) => format!("Edit action {}", form.get("name")),
        None => "New Integration Action".to_owned(),
    };
    let existing = action.is_some();
    let can_edit = signed.may(INTEGRATIONS);
    let tabs = ["General", "Authorization", "Request", "Response", "Polling"];
    html! {
        dialog id="action-dialog" class="wide" aria-labelledby="action-title" data-modal data-close-href=(base) open {
            form method="post" action=(action_url) {
                (csrf(signed))
                h2 id="action-title" { (title) }
                @if existing && form.is_draft() {
                    p class="draft-note" { span class="badge draft" { "Draft" } " No task can use this action until its request is complete: fill in the Request tab and save." }
                }
                (problems(lines))
                div role="tablist" aria-label="Action settings" {
                    @for (index, tab) in tabs.iter().enumerate() {
                        button type="button" role="tab" id=(format!("tab-{}", tab.to_lowercase()))
                            aria-controls=(format!("panel-{}", tab.to_lowercase()))
                            aria-selected=(if index == 0 { "true" } else { "false" })
                            tabindex=(if index == 0 { "0" } else { "-1" }) { (tab) }
                    }
                }
                // A role that may not edit sees the values, with every control disabled.
                fieldset class="plain" disabled[!can_edit] {
                div role="tabpanel" id="panel-general" aria-labelledby="tab-general" {
                    (text("name", "action-name", "Name", form))
                    label for="action-image" { "Image URL" }
                    input id="action-image" name="image_url" type="url" value=(form.get("image_url")) placeholder="https://… (blank: the integration's image)";
                    (select("trigger", "action-trigger", "Trigger", form.get("trigger"),
                        &[("task_start", "On Task Start"), ("runbook_update", "On Runbook Update")], existing))
                    (select("visibility", "action-visibility", "Visibility", form.get("visibility"),
                        &[("global", "Global"), ("workspace", "Workspace")], existing))
                    div data-shown-when="visibility=workspace" hidden[form.get("visibility") != "workspace"] {
                        label for="action-workspace" { "Workspace" }
                        input id="action-workspace" name="workspace" value=(form.get("workspace")) readonly[existing];
                    }
                    @if existing { p class="hint" { "Trigger and visibility are fixed once the action is created." } }
                    fieldset {
                        legend { "Additional Settings" }
                        div class="columns" {
                            @for (name, label) in SETTINGS {
                                label class="check" { input type="checkbox" name=(name) checked[form.on(name)]; " " (label) }
                            }
                            label class="check" { input type="checkbox" name="notify_on_cancel" checked[form.on("notify_on_cancel")]; " Notify Webhook on Cancel" }
                        }
                        div data-shown-when="notify_on_cancel=on" hidden[!form.on("notify_on_cancel")] {
                            (text("notify_url", "action-notify-url", "Notify Webhook URL", form))
                            label for="action-notify-headers" { "Notify Webhook headers" }
                            textarea id="action-notify-headers" name="notify_headers" rows="2" placeholder="Name: value, one per line" { (form.get("notify_headers")) }
                        }
                    }
                }
                div role="tabpanel" id="panel-authorization" aria-labelledby="tab-authorization" hidden {
                    (select("auth_type", "action-auth-type", "Authorization Type", form.get("auth_type"),
                        &[("none", "None"), ("token", "Token"), ("basic", "Basic"), ("api_key", "API Key"), ("oauth2", "OAuth"), ("standard_webhooks", "Standard Webhooks signature")], false))
                    div data-shown-when="auth_type=token" hidden {
                        (text("token_type", "action-token-type", "Token type", form))
                        (secret_field("token", SECRETS[0].1, form, "token"))
                    }
                    div data-shown-when="auth_type=basic" hidden {
                        (text("username", "action-username", "Username", form))
                        (secret_field("password", SECRETS[1].1, form, "basic"))
                    }
                    div data-shown-when="auth_type=api_key" hidden {
                        (select("api_key_in", "action-api-key-in", "Send the key in", form.get("api_key_in"), &[("header", "A header"), ("query", "The query string")], false))
                        (text("api_key_name", "action-api-key-name", "Header or parameter name", form))
                        (secret_field("api_key_value", SECRETS[2].1, form, "api_key"))
                    }
                    div data-shown-when="auth_type=standard_webhooks" hidden {
                        (secret_field("signing_secret", SECRETS[4].1, form, "standard_webhooks"))
                    }
                    div data-shown-when="auth_type=oauth2" hidden {
                        (select("grant", "action-grant", "Authorization Flow", form.get("grant"),
                            &[("authorization_code", "Authorization Code"), ("client_credentials", "Client Credentials")], false))
                        (text("client_id", "action-client-id", "Client ID", form))
                        (secret_field("client_secret", SECRETS[3].1, form, "oauth2"))
                        (text("provider_host", "action-provider-host", "OAuth2 provider host", form))
                        (text("authorization_endpoint", "action-authorization-endpoint", "Authorization Endpoint", form))
                        (text("token_endpoint", "action-token-endpoint", "Token Endpoint", form))
                        (text("scopes", "action-scopes", "Scopes", form))
                        (select("authenticate_as", "action-authenticate-as", "Authenticate as", form.get("authenticate_as"),
                            &[("functional_user", "Functional user"), ("task_user", "Task user")], false))
                        label for="action-redirect-uri" { "Redirect URI" }
                        input id="action-redirect-uri" value=(redirect_uri) readonly;
                        p class="hint" { "Register this URI with the provider." }
                        @if let Some(status) = oauth {
                            p class="oauth-status" role="status" { (oauth_status(status)) }
                        }
                        @if let Some(id) = action {
                            @if form.stored_auth == Some("oauth2") && form.get("grant") == "authorization_code" && form.get("authenticate_as") == "functional_user" && can_edit {
                                p { a class="button" role="button" href=(format!("{base}/actions/{id}/authenticate")) { "Authenticate" } }
                            } @else if can_edit && form.stored_auth != Some("oauth2") {
                                p class="hint" { "Save these settings, then authenticate." }
                            }
                        } @else {
                            p class="hint" { "Save the action, then authenticate it." }
                        }
                    }
                }
                div role="tabpanel" id="panel-request" aria-labelledby="tab-request" hidden {
                    (select("method", "action-method", "Request type", form.get("method"),
                        &[("GET", "GET"), ("POST", "POST"), ("PUT", "PUT"), ("PATCH", "PATCH"), ("DELETE", "DELETE")], false))
                    label for="action-url" { "URL" }
                    input id="action-url" name="url" value=(form.get("url")) data-check="url" aria-describedby="action-url-error";
                    p id="action-url-error" class="field-error" aria-live="polite" {}
                    label for="action-headers" { "Request headers" }
                    textarea id="action-headers" name="headers" rows="3" placeholder="Name: value, one per line" { (form.get("headers")) }
                    div data-shown-when="method=POST|PUT|PATCH" {
                        (check_field("payload", "action-payload", "Outbound payload", form, "payload", 8))
                    }
                    div data-shown-when="method=GET|DELETE" hidden {
                        (check_field("payload", "action-params", "Params", form, "params", 4))
                    }
                    (select("execution_mode", "action-execution-mode", "Execution mode", form.get("execution_mode"),
                        &[("fire_and_forget", "Fire and forget"), ("sync", "Sync"), ("polling", "Polling"), ("callback", "Callback")], false))
                    label for="action-timeout" { "Timeout (seconds)" }
                    input id="action-timeout" name="timeout_seconds" inputmode="numeric" value=(form.get("timeout_seconds"));
                    div data-shown-when="execution_mode=callback" hidden {
                        (text("callback_timeout", "action-callback-timeout", "Callback timeout (seconds)", form))
                    }
                }
                div role="tabpanel" id="panel-response" aria-labelledby="tab-response" hidden {
                    p class="hint" { "Read when the execution mode is Sync." }
                    (text("success_statuses", "action-success-statuses", "Success statuses", form))
                    label for="action-success-when" { "Success conditions" }
                    textarea id="action-success-when" name="success_when" rows="3" class="code" placeholder="[{\"path\": \"$.ok\", \"equals\": true}]" { (form.get("success_when")) }
                    label for="action-failure-when" { "Failure conditions" }
                    textarea id="action-failure-when" name="failure_when" rows="3" class="code" { (form.get("failure_when")) }
                    label for="action-response-map" { "Response map" }
                    textarea id="action-response-map" name="response_map" rows="3" class="code" placeholder="Custom field = $.json.path, one per line" { (form.get("response_map")) }
                }
                div role="tabpanel" id="panel-polling" aria-labelledby="tab-polling" hidden {
                    p class="hint" { "Used when the execution mode is Polling." }
                    (select("polling_method", "action-polling-method", "Polling request type", form.get("polling_method"),
                        &[("GET", "GET"), ("POST", "POST"), ("PUT", "PUT"), ("PATCH", "PATCH"), ("DELETE", "DELETE")], false))
                    (text("polling_url", "action-polling-url", "Polling URL", form))
                    label for="action-polling-headers" { "Polling headers" }
                    textarea id="action-polling-headers" name="polling_headers" rows="2" { (form.get("polling_headers")) }
                    div class="columns" {
                        div { (text("polling_interval", "action-polling-interval", "Interval (seconds)", form)) }
                        div { (text("polling_attempts", "action-polling-attempts", "Attempts", form)) }
                        div { (text("polling_timeout", "action-polling-timeout", "Polling timeout (seconds)", form)) }
                    }
                    label for="action-complete-when" { "Complete conditions" }
                    textarea id="action-complete-when" name="complete_when" rows="3" class="code" { (form.get("complete_when")) }
                    label for="action-fail-when" { "Fail conditions" }
                    textarea id="action-fail-when" name="fail_when" rows="3" class="code" { (form.get("fail_when")) }
                    label for="action-polling-map" { "Polling response map" }
                    textarea id="action-polling-map" name="polling_map" rows="3" class="code" { (form.get("polling_map")) }
                }
                }
                div class="buttons" {
                    a class="button" href=(base) role="button" { "Discard" }
                    @if can_edit { button type="submit" class="primary" { "Save" } }
                }
            }
        }
    }
}

fn when(timestamp: jiff::Timestamp) -> String {
    timestamp.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

fn oauth_status(status: &OAuthStatus) -> String {
    match status {
        OAuthStatus::NotAuthorized => "Not authenticated yet.".to_owned(),
        OAuthStatus::Authorized { obtained_at, expires_at, authorized } => {
            let expiry = expires_at.map(|at| format!("; the access token expires {}", when(at))).unwrap_or_default();
            let by = match authorized {
                Some(authorizer) => format!("Authenticated by {} at {}", authorizer.user, when(authorizer.at)),
                None => "Authenticated".to_owned(),
            };
            format!("{by}: token obtained {}{expiry}.", when(*obtained_at))
        }
        OAuthStatus::NeedsReauthentication { reason, since } => {
            format!("Needs authenticating again since {}: {reason}", when(*since))
        }
    }
}

/// The functional-user OAuth status of a stored action that authenticates with OAuth, if it does.
async fn status_of(console: &Console, id: ActionId, action: &Action) -> Result<Option<OAuthStatus>, ConsoleError> {
    match &action.auth {
        AuthSettings::Oauth2(oauth) if oauth.authenticate_as == AuthenticateAs::FunctionalUser => {
            Ok(Some(console.engine.oauth_status(id).await?))
        }
        _ => Ok(None),
    }
}

fn redirect_uri(console: &Console) -> String {
    console.engine.settings().public_url.join("api/v1/oauth/callback").map(|url| url.to_string()).unwrap_or_default()
}

fn action_id(text: &str) -> Result<ActionId, ConsoleError> {
    text.parse().map(ActionId).map_err(|_| ConsoleError::NotFound(format!("action `{text}` does not exist")))
}

/// The action of `record` with id `id`.
fn stored_action(record: &IntegrationRecord, id: ActionId) -> Result<&Action, ConsoleError> {
    record
        .action_ids
        .iter()
        .position(|candidate| *candidate == id)
        .map(|index| &record.integration.actions[index])
        .ok_or_else(|| ConsoleError::NotFound(format!("action `{id}` is not an action of this integration")))
}

/// `GET /settings/integrations/{id}/actions/new`: the panel with an empty action dialog.
pub(crate) async fn new(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    signed.require(INTEGRATIONS, "adding an action")?;
    let record = console.engine.integration_redacted(integration_id(&id)?).await?;
    let dialog = dialog(&signed, &record, None, &ActionForm::fresh(), &[], &redirect_uri(&console), None);
    Ok(layout::respond(StatusCode::OK, edit_page(&signed, &record, &[], Some(dialog))))
}

/// `GET /settings/integrations/{id}/actions/{action}`: the panel with the action's dialog.
pub(crate) async fn edit(
    State(console): State<Console>,
    signed: Signed,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    signed.require(READ, "reading actions")?;
    let record = console.engine.integration_redacted(integration_id(&id)?).await?;
    let action = action_id(&action)?;
    let stored = stored_action(&record, action)?;
    let form = ActionForm::from_action(stored);
    let status = status_of(&console, action, stored).await?;
    let dialog = dialog(&signed, &record, Some(action), &form, &[], &redirect_uri(&console), status.as_ref());
    Ok(layout::respond(StatusCode::OK, edit_page(&signed, &record, &[], Some(dialog))))
}

/// `POST /settings/integrations/{id}/actions`: adds the action.
pub(crate) async fn create(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
    submitted: Form,
) -> Result<Response, ConsoleError> {
    signed.require(INTEGRATIONS, "adding an action")?;
    let id = integration_id(&id)?;
    let form = ActionForm::from_submission(&submitted, None);
    let document = form.to_action(&submitted);
    let mut lines = Vec::new();
    match console.engine.add_action(id, &document).await {
        Ok(created) => {
            return Ok(Redirect::to(&format!("/settings/integrations/{id}/actions/{}", created.id)).into_response());
        }
        Err(error) => refused(error, &mut lines)?,
    }
    let record = console.engine.integration_redacted(id).await?;
    let dialog = dialog(&signed, &record, None, &form, &lines, &redirect_uri(&console), None);
    Ok(layout::respond(StatusCode::UNPROCESSABLE_ENTITY, edit_page(&signed, &record, &[], Some(dialog))))
}

/// `POST /settings/integrations/{id}/actions/{action}`: saves the action (a merge patch from the stored action to
/// the submitted one; blank secrets keep the stored ones).
pub(crate) async fn save(
    State(console): State<Console>,
    signed: Signed,
    Path((id, action)): Path<(String, String)>,
    submitted: Form,
) -> Result<Response, ConsoleError> {
    signed.require(INTEGRATIONS, "editing an action")?;
    let id = integration_id(&id)?;
    let action = action_id(&action)?;
    let record = console.engine.integration_redacted(id).await?;
    let stored = stored_action(&record, action)?;
    let form = ActionForm::from_submission(&submitted, Some(stored));
    let document = form.to_action(&submitted);
    let before = serde_json::to_value(stored).unwrap_or_default();
    let patch = merge_patch_between(&before, &document);
    let mut lines = Vec::new();
    match console.engine.patch_action(action, &patch).await {
        Ok(_) => return Ok(Redirect::to(&format!("/settings/integrations/{id}/actions/{action}")).into_response()),
        Err(error) => refused(error, &mut lines)?,
    }
    let status = status_of(&console, action, stored).await?;
    let dialog = dialog(&signed, &record, Some(action), &form, &lines, &redirect_uri(&console), status.as_ref());
    Ok(layout::respond(StatusCode::UNPROCESSABLE_ENTITY, edit_page(&signed, &record, &[], Some(dialog))))
}

/// `GET /settings/integrations/{id}/actions/{action}/authenticate`: starts the OAuth authorization-code flow for the
/// action's functional user and sends the browser to the provider.
pub(crate) async fn authenticate(
    State(console): State<Console>,
    signed: Signed,
    Path((_id, action)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    signed.require(INTEGRATIONS, "authenticating an action")?;
    let target = OAuthTarget { action: action_id(&action)?, task: None };
    let credential = console.engine.oauth_credential(&target, &signed.0.user).await?;
    let redirect = console.engine.begin_oauth(credential, &signed.0.user).await?;
    Ok(Redirect::to(redirect.url.as_str()).into_response())
}

/// The body of `POST /settings/check-template`.
#[derive(Debug, Deserialize)]
pub(crate) struct CheckRequest {
    place: String,
    text: String,
}

/// `POST /settings/check-template`: the problems of one template, as validation would report them.
pub(crate) async fn check_template(
    signed: Signed,
    Json(request): Json<CheckRequest>,
) -> Result<Response, ConsoleError> {
    signed.require(READ, "checking a template")?;
    let place = match request.place.as_str() {
        "payload" => TemplatePlace::JsonPayload,
        "params" => TemplatePlace::JsonParams,
        "url" => TemplatePlace::Url,
        "header" => TemplatePlace::HeaderValue,
        _ => TemplatePlace::Text,
    };
    // Checking renders with sample values: CPU work, kept off the async workers.
    let report = tokio::task::spawn_blocking(move || Checker.check(&request.text, place))
        .await
        .map_err(|error| ConsoleError::BadForm(error.to_string()))?;
    let problems: Vec<Value> = report
        .problems
        .iter()
        .map(|problem| json!({"line": problem.line, "column": problem.column, "message": problem.message}))
        .collect();
    Ok(Json(json!({"problems": problems})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patches_turn_the_old_document_into_the_new() {
        let cases = [
            (json!({"a": 1, "b": {"c": 2, "d": 3}}), json!({"a": 1, "b": {"c": 4}}), json!({"b": {"c": 4, "d": null}})),
            (
                json!({"auth": {"type": "token", "token": "x"}}),
                json!({"auth": {"type": "none"}}),
                json!({"auth": {"type": "none", "token": null}}),
            ),
            (json!({"a": [1]}), json!({"a": [2]}), json!({"a": [2]})),
            (json!({"a": 1}), json!({"a": 1}), json!({})),
        ];
        for (old, new, expected) in cases {
            assert_eq!(merge_patch_between(&old, &new), expected, "{old} -> {new}");
        }
    }

    #[test]
    fn lines_become_objects() {
        assert_eq!(
            parse_lines("Content-Type: application/json\n\n X-A : b:c ", ':'),
            json!({"Content-Type": "application/json", "X-A": "b:c"})
        );
        assert_eq!(parse_lines("Ticket = $.id", '='), json!({"Ticket": "$.id"}));
        assert_eq!(
            parse_lines(r#"{"Content-Type":"application/json"}"#, ':'),
            json!({"Content-Type": "application/json"})
        );
    }
}
