//! Editing stored definitions one piece at a time, as the server's REST routes do: an integration's image or archived
//! flag, one action added or patched, one custom field, a runbook created from one file, custom field values set on a
//! running runbook.
//!
//! Pieces are validated by the same rules as definition files: each is placed in a small integration document and
//! handed to the [`Validator`], and the problems that concern the piece come back as [`InputProblem`]s with paths
//! relative to it (`request.url`, not `actions[0].request.url`).

use crate::commit_queue::Change;
use crate::engine::{Engine, immutable_fields};
use crate::error::{EngineError, InputProblem};
use cutover_integrations_model::{
    Action, ActionRef, AuthSettings, CustomField, Definition, DefinitionFormat, Diagnostic, FieldValue, SecretValue,
    SourceFile, Validator,
};
use cutover_integrations_runbook::{Actor, Command, Event, FieldTarget};
use cutover_integrations_store::{
    ActionId, ActionRecord, IntegrationId, IntegrationRecord, NamingRunbook, RunbookId, StoreError, TaskReference,
};
use cutover_integrations_template::Checker;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// What a client sends in place of a secret it read back masked; such a value keeps the stored secret.
pub const REDACTED: &str = "[REDACTED]";

/// What applying a runbook file does when a runbook of the same name and workspace exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExistingRunbook {
    /// Return it when its definition is the same; refuse when it differs.
    #[default]
    Reuse,
    /// Create another runbook regardless.
    CreateAnother,
}

/// The runbook a definition file was applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppliedRunbook {
    /// Its id.
    pub id: RunbookId,
    /// Whether it was created now (`false`: the same definition had been applied before).
    pub created: bool,
}

/// A change of an integration's own settings (its actions are edited one by one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegrationEdit {
    /// A new name (trimmed). Refused while a runbook names the integration in a task's action, since the reference
    /// `INTEGRATION/ACTION` is by name.
    pub name: Option<String>,
    /// A new icon URL; an empty string restores the default icon.
    pub image_url: Option<String>,
    /// Archive (`true`) or restore (`false`).
    pub archived: Option<bool>,
}

impl Engine {
    /// One stored integration with its actions, or [`EngineError::NotFound`].
    pub async fn integration(&self, id: IntegrationId) -> Result<IntegrationRecord, EngineError> {
        self.inner
            .store
            .integration(id)
            .await?
            .ok_or_else(|| EngineError::NotFound { what: "integration", id: id.to_string() })
    }

    /// One stored integration as pages show it: secret-bearing auth values read `[REDACTED]`, and no secret is opened
    /// to answer. [`EngineError::NotFound`] when there is none.
    pub async fn integration_redacted(&self, id: IntegrationId) -> Result<IntegrationRecord, EngineError> {
        self.integrations_redacted()
            .await?
            .into_iter()
            .find(|record| record.id == id)
            .ok_or_else(|| EngineError::NotFound { what: "integration", id: id.to_string() })
    }

    /// Changes an integration's icon or archived flag; returns the integration as stored afterwards.
    pub async fn edit_integration(
        &self,
        id: IntegrationId,
        edit: &IntegrationEdit,
    ) -> Result<IntegrationRecord, EngineError> {
        self.edit_integration_if(id, edit, None).await
    }

    /// [`Engine::edit_integration`] if the integration is still at `expected_version` (its
    /// [`IntegrationRecord::version`]; any version when `None`): otherwise [`StoreError::Stale`], nothing changed.
    /// The version is compared in the statement that writes.
    pub async fn edit_integration_if(
        &self,
        id: IntegrationId,
        edit: &IntegrationEdit,
        expected_version: Option<i64>,
    ) -> Result<IntegrationRecord, EngineError> {
        let record = self.integration(id).await?;
        if let Some(expected) = expected_version.filter(|expected| *expected != record.version) {
            return Err(StoreError::Stale { what: "integration", id: id.0, expected }.into());
        }
        let mut integration = record.integration.clone();
        if let Some(image_url) = &edit.image_url {
            integration.image_url = Some(image_url.clone()).filter(|url| !url.trim().is_empty());
            let document = json!({
                "kind": "integration",
                "name": integration.name,
                "image_url": integration.image_url,
                "actions": [],
            });
            validate_piece(&document, "image_url")?;
        }
        integration.archived = edit.archived.unwrap_or(record.integration.archived);
        let renamed = match edit.name.as_deref().map(str::trim) {
            Some(name) if name != record.integration.name => {
                let document = json!({"kind": "integration", "name": name, "actions": []});
                validate_piece(&document, "name").map_err(|error| match error {
                    // The piece is the name itself: say so rather than `$`.
                    EngineError::InvalidInput { problems } => EngineError::InvalidInput {
                        problems: problems
                            .into_iter()
                            .map(|problem| InputProblem::new("name", problem.message))
                            .collect(),
                    },
                    other => other,
                })?;
                self.refuse_rename_in_use(&record.integration.name).await?;
                integration.name = name.to_owned();
                true
            }
            _ => false,
        };
        if renamed || edit.image_url.is_some() || edit.archived.is_some() {
            let now = self.now().as_millisecond();
            self.inner.store.update_integration_settings(id, &integration, expected_version, now).await?;
        }
        self.integration(id).await
    }

    /// Refuses renaming the integration `name` while a runbook's task names one of its actions.
    async fn refuse_rename_in_use(&self, name: &str) -> Result<(), EngineError> {
        let users = self.inner.store.runbooks_naming(TaskReference::Integration(name)).await?;
        if users.is_empty() {
            return Ok(());
        }
        let message = format!(
            "runbooks name `{name}/…` in their tasks: {}; a renamed integration would leave them pointing at nothing",
            listed(&users)
        );
        Err(EngineError::invalid_input("name", message))
    }

    /// Refuses an action edit that would leave tasks pointing at nothing (a rename) or at a draft (the request
    /// removed) while a runbook's task names the action.
    async fn refuse_action_edit_in_use(
        &self,
        integration: &str,
        before: &Action,
        after: &Action,
    ) -> Result<(), EngineError> {
        let (path, consequence) = if before.name != after.name {
            ("name", "a renamed action would leave them pointing at nothing")
        } else if before.request.is_some() && after.request.is_none() {
            ("request", "an action without a request is a draft, which no task can run")
        } else {
            return Ok(());
        };
        let reference = ActionRef { integration: integration.to_owned(), action: before.name.clone() };
        let users = self.inner.store.runbooks_naming(TaskReference::Action(&reference)).await?;
        if users.is_empty() {
            return Ok(());
        }
        let message = format!("runbooks name `{reference}` in their tasks: {}; {consequence}", listed(&users));
        Err(EngineError::invalid_input(path, message))
    }

    /// Adds an action, given as the JSON of an action definition, to an integration.
    pub async fn add_action(&self, integration: IntegrationId, action: &Value) -> Result<ActionRecord, EngineError> {
        let record = self.integration(integration).await?;
        let stored_fields = self.custom_fields().await?;
        let action = {
            let (record, action) = (record.clone(), action.clone());
            self.validate_blocking(move || validate_action(&record, &stored_fields, &action)).await??
        };
        let reference = ActionRef { integration: record.integration.name.clone(), action: action.name.clone() };
        if self.inner.store.find_action(&reference).await?.is_some() {
            return Err(StoreError::Duplicate { what: "action", name: reference.to_string() }.into());
        }
        let mut carrier = record.integration.clone();
        carrier.actions = vec![action];
        self.inner.store.apply_integration(&carrier, self.now().as_millisecond()).await?;
        self.inner
            .store
            .find_action(&reference)
            .await?
            .ok_or_else(|| EngineError::NotFound { what: "action", id: reference.to_string() })
    }

    /// Applies a JSON merge patch (RFC 7396) to an action: `null` removes a key, objects merge, anything else
    /// replaces. A secret sent back as `[REDACTED]` keeps the stored secret. Trigger and visibility cannot change.
    pub async fn patch_action(&self, id: ActionId, patch: &Value) -> Result<ActionRecord, EngineError> {
        self.patch_action_if(id, patch, None).await
    }

    /// [`Engine::patch_action`] if the action's integration is still at `expected_version` (the action's
    /// [`ActionRecord::integration_version`]; any version when `None`): otherwise [`StoreError::Stale`], nothing
    /// changed. The version is compared in the statement that writes.
    pub async fn patch_action_if(
        &self,
        id: ActionId,
        patch: &Value,
        expected_version: Option<i64>,
    ) -> Result<ActionRecord, EngineError> {
        let existing = self.action_record(id).await?;
        if let Some(expected) = expected_version.filter(|expected| *expected != existing.integration_version) {
            return Err(StoreError::Stale { what: "action", id: id.0, expected }.into());
        }
        let record = self.integration(existing.integration_id).await?;
        let mut document = serde_json::to_value(&existing.action).map_err(EngineError::corrupt("action"))?;
        merge_patch(&mut document, patch);
        let stored_fields = self.custom_fields().await?;
        let mut action = {
            let record = record.clone();
            self.validate_blocking(move || validate_action(&record, &stored_fields, &document)).await??
        };
        keep_redacted_secrets(&existing.action.auth, &mut action.auth);
        let renamed_onto_another = record
            .integration
            .actions
            .iter()
            .zip(&record.action_ids)
            .any(|(other, other_id)| *other_id != id && other.name == action.name);
        if renamed_onto_another {
            let name = format!("{}/{}", record.integration.name, action.name);
            return Err(StoreError::Duplicate { what: "action", name }.into());
        }
        immutable_fields(&existing.action, &action)?;
        self.refuse_action_edit_in_use(&record.integration.name, &existing.action, &action).await?;
        self.inner.store.update_action_if(id, &action, expected_version, self.now().as_millisecond()).await?;
        self.action_record(id).await
    }

    /// Creates a custom field, given as the JSON of a custom field definition; its name must be new.
    pub async fn create_custom_field(&self, field: &Value) -> Result<CustomField, EngineError> {
        let mut checked = field.clone();
        if let Some(object) = checked.as_object_mut() {
            // `restrict_to` names actions of any integration here, which the per-integration rules cannot see.
            object.remove("restrict_to");
        }
        let document =
            json!({"kind": "integration", "name": "custom fields", "custom_fields": [checked], "actions": []});
        validate_piece(&document, "custom_fields[0]")?;
        let mut field: CustomField = serde_json::from_value(field.clone())
            .map_err(|error| EngineError::invalid_input("$", error.to_string()))?;
        field.restrict_to.dedup();
        let actions: Vec<String> = self
            .integrations_redacted()
            .await?
            .into_iter()
            .flat_map(|record| record.integration.actions.into_iter().map(|action| action.name))
            .collect();
        let problems: Vec<InputProblem> = field
            .restrict_to
            .iter()
            .enumerate()
            .filter(|(_, name)| !actions.contains(name))
            .map(|(index, name)| InputProblem::new(format!("restrict_to[{index}]"), format!("unknown action `{name}`")))
            .collect();
        if !problems.is_empty() {
            return Err(EngineError::InvalidInput { problems });
        }
        if self.custom_fields().await?.iter().any(|existing| existing.name == field.name) {
            return Err(StoreError::Duplicate { what: "custom field", name: field.name.clone() }.into());
        }
        self.put_custom_field(&field).await?;
        Ok(field)
    }

    /// Creates a runbook from one definition file, checking its actions and custom field values against the stored
    /// integrations and custom fields (as `cutover validate` checks them against the files given with it).
    pub async fn create_runbook_from_file(&self, name: &str, text: &str) -> Result<RunbookId, EngineError> {
        let applied = self.apply_runbook_file(name, text, ExistingRunbook::CreateAnother).await?;
        Ok(applied.id)
    }

    /// Applies a runbook definition file: with [`ExistingRunbook::Reuse`], a runbook of the same name and workspace
    /// whose definition is the same is returned instead of a new one (applying one file twice creates one runbook);
    /// one whose definition differs is refused with [`EngineError::RunbookExists`], since a runbook is not replaced
    /// under its operators. With [`ExistingRunbook::CreateAnother`] a new runbook is always created.
    pub async fn apply_runbook_file(
        &self,
        name: &str,
        text: &str,
        existing: ExistingRunbook,
    ) -> Result<AppliedRunbook, EngineError> {
        let stored = self.stored_definitions().await?;
        let definition = {
            let (name, text) = (name.to_owned(), text.to_owned());
            self.validate_blocking(move || validate_runbook_file(&name, &text, &stored)).await??
        };
        match definition {
            Some(Definition::Runbook(runbook)) => {
                if existing == ExistingRunbook::Reuse {
                    let namesakes = self.runbooks().await?.into_iter().filter(|summary| summary.name == runbook.name);
                    let mut differing = None;
                    // Newest first: the runbook a previous apply created is the one to find.
                    for summary in namesakes.rev() {
                        let view = self.runbook(summary.id).await?;
                        if view.definition.workspace != runbook.workspace {
                            continue;
                        }
                        if view.definition == runbook {
                            return Ok(AppliedRunbook { id: summary.id, created: false });
                        }
                        differing.get_or_insert(summary.id);
                    }
                    if let Some(id) = differing {
                        return Err(EngineError::RunbookExists { id: id.0, name: runbook.name });
                    }
                }
                Ok(AppliedRunbook { id: self.create_runbook(runbook).await?, created: true })
            }
            _ => Err(EngineError::Invalid {
                diagnostics: vec![Diagnostic {
                    file: name.to_owned(),
                    line: 1,
                    column: 1,
                    path: "kind".to_owned(),
                    message: "expected a runbook (`kind: runbook`)".to_owned(),
                }],
            }),
        }
    }

    /// Sets custom field values on a runbook or one of its tasks, after checking each name and value against the
    /// custom field definitions. Returns the events the change caused (a waiting auto-start task may start).
    pub async fn set_custom_fields(
        &self,
        runbook: RunbookId,
        target: FieldTarget,
        values: BTreeMap<String, FieldValue>,
        actor: &Actor,
    ) -> Result<Vec<Event>, EngineError> {
        self.set_custom_fields_if(runbook, target, values, actor, None).await
    }

    /// [`Engine::set_custom_fields`] if the runbook is still at `expected_version` ([`crate::RunbookView::version`];
    /// any version when `None`) when the change is committed: otherwise [`StoreError::Stale`], nothing changed.
    pub async fn set_custom_fields_if(
        &self,
        runbook: RunbookId,
        target: FieldTarget,
        values: BTreeMap<String, FieldValue>,
        actor: &Actor,
        expected_version: Option<i64>,
    ) -> Result<Vec<Event>, EngineError> {
        let fields = self.custom_fields().await?;
        let problems: Vec<InputProblem> =
            values.iter().flat_map(|(name, value)| field_value_problems(&fields, name, value)).collect();
        if !problems.is_empty() {
            return Err(EngineError::InvalidInput { problems });
        }
        let mut change = Change::command(Command::SetCustomFields { target, values }, actor);
        change.expected_version = expected_version;
        self.inner.commits.apply(runbook, change).await
    }

    /// The stored integrations (without their custom fields) and every stored custom field, as JSON definition files
    /// for validating a runbook against them.
    pub(crate) async fn stored_definitions(&self) -> Result<Vec<(String, String)>, EngineError> {
        let mut files = Vec::new();
        for record in self.integrations().await? {
            let mut integration = record.integration;
            integration.custom_fields.clear();
            let name = format!("stored integration {}.json", record.id);
            let text = Definition::Integration(integration).to_json().map_err(EngineError::corrupt("integration"))?;
            files.push((name, text));
        }
        let fields: Vec<CustomField> = self
            .custom_fields()
            .await?
            .into_iter()
            .map(|mut field| {
                field.restrict_to.clear();
                field
            })
            .collect();
        let carrier =
            json!({"kind": "integration", "name": "stored custom fields", "custom_fields": fields, "actions": []});
        files.push(("stored custom fields.json".to_owned(), carrier.to_string()));
        Ok(files)
    }
}

/// Validates a runbook file together with the stored definitions; only the file's own problems are reported.
pub(crate) fn validate_runbook_file(
    name: &str,
    text: &str,
    stored: &[(String, String)],
) -> Result<Option<Definition>, EngineError> {
    let checker = Checker;
    let validator = Validator::with_checker(&checker);
    let mut files = vec![SourceFile::new(name, text)];
    files.extend(stored.iter().map(|(file, text)| SourceFile { name: file, text, format: DefinitionFormat::Json }));
    match validator.validate(&files) {
        Ok(set) => Ok(set.definitions().first().map(|parsed| parsed.definition().clone())),
        Err(diagnostics) => {
            let own: Vec<Diagnostic> = diagnostics.into_iter().filter(|d| d.file == name).collect();
            if !own.is_empty() {
                return Err(EngineError::Invalid { diagnostics: own });
            }
            // Only stored definitions fail today's rules: check the file alone and let the plan check the rest.
            let parsed = validator.parse(&files[0]).map_err(|diagnostics| EngineError::Invalid { diagnostics })?;
            Ok(Some(parsed.into_definition()))
        }
    }
}

/// Validates an action (JSON) as the only action of its integration, with the integration's custom fields.
/// Validates one action of `record`; its templates may read the integration's custom fields and the custom fields
/// created on their own (`stored_fields`, as `POST /custom-fields` and the console create them).
fn validate_action(
    record: &IntegrationRecord,
    stored_fields: &[CustomField],
    action: &Value,
) -> Result<Action, EngineError> {
    // The stored fields may be restricted to the integration's other actions, which are not in the carrier.
    let own = &record.integration.custom_fields;
    let fields: Vec<CustomField> = own
        .iter()
        .chain(stored_fields.iter().filter(|field| !own.iter().any(|mine| mine.name == field.name)))
        .cloned()
        .map(|mut field| {
            field.restrict_to.clear();
            field
        })
        .collect();
    let document = json!({
        "kind": "integration",
        "name": record.integration.name,
        "custom_fields": fields,
        "actions": [action],
    });
    match validate_piece(&document, "actions[0]")? {
        Definition::Integration(mut integration) if integration.actions.len() == 1 => Ok(integration.actions.remove(0)),
        _ => Err(EngineError::invalid_input("$", "not an action")),
    }
}

/// Validates a document built around a piece of input; problems under `prefix` are the piece's, reported relative to
/// it. Problems elsewhere (stored parts of the carrier document) are not the caller's and are ignored.
fn validate_piece(document: &Value, prefix: &str) -> Result<Definition, EngineError> {
    let text = serde_json::to_string_pretty(document).map_err(EngineError::corrupt("document"))?;
    let checker = Checker;
    let file = SourceFile { name: "input.json", text: &text, format: DefinitionFormat::Json };
    match Validator::with_checker(&checker).parse(&file) {
        Ok(parsed) => Ok(parsed.into_definition()),
        Err(diagnostics) => {
            let problems: Vec<InputProblem> = diagnostics
                .iter()
                .filter_map(|diagnostic| relative_path(&diagnostic.path, prefix).map(|path| (path, diagnostic)))
                .map(|(path, diagnostic)| InputProblem::new(path, diagnostic.message.clone()))
                .collect();
            if problems.is_empty() {
                // The carrier itself failed, which the caller's input caused one way or another: report it whole.
                let problems = diagnostics.iter().map(|d| InputProblem::new(d.path.clone(), d.message.clone()));
                return Err(EngineError::InvalidInput { problems: problems.collect() });
            }
            Err(EngineError::InvalidInput { problems })
        }
    }
}

/// `actions[0].request.url` relative to `actions[0]` is `request.url`; the prefix itself is `$`.
fn relative_path(path: &str, prefix: &str) -> Option<String> {
    let rest = path.strip_prefix(prefix)?;
    if rest.is_empty() {
        return Some("$".to_owned());
    }
    if let Some(rest) = rest.strip_prefix('.') {
        return Some(rest.to_owned());
    }
    rest.starts_with('[').then(|| rest.to_owned())
}

/// RFC 7396 JSON merge patch.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// A secret sent back as `[REDACTED]` (as the API shows it) keeps the stored one, when the auth type is unchanged.
fn keep_redacted_secrets(old: &AuthSettings, new: &mut AuthSettings) {
    fn keep(old: &SecretValue, new: &mut SecretValue) {
        if new.expose() == REDACTED {
            *new = old.clone();
        }
    }
    match (old, new) {
        (AuthSettings::Token { token: old, .. }, AuthSettings::Token { token: new, .. }) => keep(old, new),
        (AuthSettings::Basic { password: old, .. }, AuthSettings::Basic { password: new, .. }) => keep(old, new),
        (AuthSettings::ApiKey { value: old, .. }, AuthSettings::ApiKey { value: new, .. }) => keep(old, new),
        (AuthSettings::Oauth2(old), AuthSettings::Oauth2(new)) => keep(&old.client_secret, &mut new.client_secret),
        (AuthSettings::StandardWebhooks { secret: old }, AuthSettings::StandardWebhooks { secret: new }) => {
            keep(old, new)
        }
        _ => {}
    }
}

/// Problems with one custom field value: an undeclared field, a list for a single-value field, a value outside the
/// options.
pub(crate) fn field_value_problems(fields: &[CustomField], name: &str, value: &FieldValue) -> Vec<InputProblem> {
    let path = format!("custom_fields{}", key_segment(name));
    let unstorable = match value {
        FieldValue::Text(text) => cutover_integrations_model::storable_text(text).err(),
        FieldValue::List(items) => items.iter().find_map(|item| cutover_integrations_model::storable_text(item).err()),
    };
    if let Some(message) = unstorable {
        return vec![InputProblem::new(path, message)];
    }
    let Some(field) = fields.iter().find(|field| field.name == name) else {
        return vec![InputProblem::new(path, format!("unknown custom field `{name}`"))];
    };
    let not_an_option =
        |item: &str| field.field_type.has_options() && !field.options.iter().any(|option| option == item);
    match value {
        FieldValue::List(_) if !field.field_type.is_multi() => {
            vec![InputProblem::new(path, format!("custom field `{name}` takes one value, not a list"))]
        }
        FieldValue::List(items) => items
            .iter()
            .enumerate()
            .filter(|(_, item)| not_an_option(item))
            .map(|(index, item)| {
                InputProblem::new(format!("{path}[{index}]"), format!("`{item}` is not an option of `{name}`"))
            })
            .collect(),
        FieldValue::Text(text) if not_an_option(text) => {
            vec![InputProblem::new(path, format!("`{text}` is not an option of `{name}`"))]
        }
        FieldValue::Text(_) => Vec::new(),
    }
}

/// `.name` for identifiers, `['Slack Channel']` otherwise, as definition paths are written.
fn key_segment(key: &str) -> String {
    let mut chars = key.chars();
    let identifier = chars.next().is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if identifier { format!(".{key}") } else { format!("['{}']", key.replace('\\', "\\\\").replace('\'', "\\'")) }
}

/// Runbooks as an error message lists them: `` `Name` (id) ``, comma separated.
fn listed(runbooks: &[NamingRunbook]) -> String {
    let listed: Vec<String> = runbooks.iter().map(|runbook| format!("`{}` ({})", runbook.name, runbook.id)).collect();
    listed.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        // Cases from RFC 7396 appendix A.
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "b"}), json!({"b": "c"}), json!({"a": "b", "b": "c"})),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (json!({"a": {"b": "c"}}), json!({"a": {"b": "d", "c": null}}), json!({"a": {"b": "d"}})),
            (json!({"a": [{"b": "c"}]}), json!({"a": [1]}), json!({"a": [1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a": "b"}), json!(["c"]), json!(["c"])),
            (json!({"e": null}), json!({"a": 1}), json!({"e": null, "a": 1})),
            (json!([1, 2]), json!({"a": "b", "c": null}), json!({"a": "b"})),
        ];
        for (mut target, patch, expected) in cases {
            merge_patch(&mut target, &patch);
            assert_eq!(target, expected, "patch {patch}");
        }
    }

    #[test]
    fn paths_are_made_relative_to_the_piece() {
        let cases = [
            ("actions[0].request.url", Some("request.url")),
            ("actions[0]", Some("$")),
            ("actions[0]['odd key']", Some("['odd key']")),
            ("actions[01].name", None),
            ("actions[1].name", None),
            ("custom_fields[0].name", None),
        ];
        for (path, expected) in cases {
            assert_eq!(relative_path(path, "actions[0]").as_deref(), expected, "{path}");
        }
    }

    #[test]
    fn custom_field_values_are_checked_against_their_definitions() {
        let fields: Vec<CustomField> = serde_json::from_value(json!([
            {"name": "Slack Channel", "type": "text"},
            {"name": "Env", "type": "select", "options": ["prod", "staging"]},
            {"name": "Teams", "type": "checkboxes", "options": ["a", "b"]},
        ]))
        .expect("fields");
        let text = |value: &str| FieldValue::Text(value.to_owned());
        let list = |items: &[&str]| FieldValue::List(items.iter().map(|item| (*item).to_owned()).collect());
        let cases = [
            ("Slack Channel", text("#ops"), vec![]),
            ("Slack Channel", list(&["#ops"]), vec!["custom_fields['Slack Channel']"]),
            ("Env", text("prod"), vec![]),
            ("Env", text("dev"), vec!["custom_fields.Env"]),
            ("Teams", list(&["a", "c", "d"]), vec!["custom_fields.Teams[1]", "custom_fields.Teams[2]"]),
            ("Nope", text("x"), vec!["custom_fields.Nope"]),
        ];
        for (name, value, expected) in cases {
            let paths: Vec<String> =
                field_value_problems(&fields, name, &value).into_iter().map(|problem| problem.path).collect();
            assert_eq!(paths, expected, "{name} = {value:?}");
        }
    }
}
