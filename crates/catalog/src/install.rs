//! Installing an entry: the admin's settings checked and put in place, the secrets turned into system parameters, the
//! hosts pinned, and the result validated like any definition file.

use crate::{CatalogError, Entry, Setting, SettingKind};
use cutover_integrations_model::{
    Definition, HostPattern, Integration, IntegrationKind, SecretValue, SourceFile, SystemParameter, Validator,
    decode_webhook_secret,
};
use serde_json::Value;
use std::collections::BTreeMap;

/// Where an installation goes, which decides what happens to secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallTarget {
    /// Into the engine: secrets become secret system parameters of the [`Installation`].
    Engine,
    /// Into a definition file (`cutover catalog add`): secret settings are refused, and the installation lists the
    /// system parameters to set.
    File,
}

/// An entry installed with its settings.
#[derive(Debug, Clone)]
pub struct Installation {
    /// The entry installed.
    pub entry: &'static Entry,
    /// The integration (`type: predefined`), validated.
    pub integration: Integration,
    /// The secret system parameters to store with it (given secret settings).
    pub system_parameters: Vec<SystemParameter>,
    /// Secret system parameters the integration reads that no setting gave, with their setting.
    pub unset_parameters: Vec<(String, &'static Setting)>,
}

impl Installation {
    /// The integration as a YAML definition file, with a header saying where it comes from and what is left to set.
    pub fn to_yaml(&self) -> String {
        let body = Definition::Integration(self.integration.clone())
            .to_yaml()
            .unwrap_or_else(|error| panic!("an integration always serializes: {error}"));
        let mut header = format!(
            "# Installed from catalog entry `{}` ({}); see docs/catalog/{}.md.\n",
            self.entry.name, self.entry.file, self.entry.name
        );
        for (parameter, setting) in &self.unset_parameters {
            header.push_str(&format!(
                "# Set the secret system parameter `{parameter}` ({}): cutover system-parameter set {parameter} --secret\n",
                setting.label
            ));
        }
        header + &body
    }
}

/// The system parameter name of a secret setting: the integration's name as a slug, `_`, the key.
pub fn parameter_name(integration: &str, key: &str) -> String {
    format!("{}_{key}", slug(integration))
}

/// Lower-case ASCII letters and digits, every other run of characters one `_`, none at either end.
pub fn slug(text: &str) -> String {
    let mut slug = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('_') {
            slug.push('_');
        }
    }
    slug.trim_end_matches('_').to_owned()
}

/// The longest value a setting may have, in bytes.
const MAX_VALUE: usize = 2048;

/// The longest integration name, in characters.
const MAX_NAME: usize = 200;

impl Entry {
    /// Installs the entry as `name` (its title when `None`) with `settings` (key → value).
    pub fn install(
        &'static self,
        name: Option<&str>,
        settings: &BTreeMap<String, String>,
        target: InstallTarget,
    ) -> Result<Installation, CatalogError> {
        for key in settings.keys() {
            if self.setting(key).is_none() {
                return Err(CatalogError::UnknownSetting {
                    entry: self.name,
                    key: key.clone(),
                    suggestion: closest(key, self.settings.iter().map(|setting| setting.key)),
                    known: self.settings.iter().map(|setting| setting.key).collect::<Vec<_>>().join(", "),
                });
            }
        }
        let name = check_name(name.unwrap_or(self.title))?;
        let mut values: BTreeMap<&'static str, String> = BTreeMap::new();
        for setting in self.settings {
            let given = settings.get(setting.key).map(|value| value.trim().to_owned());
            if target == InstallTarget::File && setting.kind.is_secret() && given.is_some() {
                return Err(CatalogError::SecretInFile {
                    key: setting.key,
                    parameter: parameter_name(&name, setting.key),
                });
            }
            match given.or_else(|| setting.default.map(str::to_owned)) {
                Some(value) => {
                    values.insert(setting.key, check_value(setting, &value)?);
                }
                None if setting.optional || (target == InstallTarget::File && setting.kind.is_secret()) => {}
                None => {
                    return Err(CatalogError::MissingSetting {
                        entry: self.name,
                        key: setting.key,
                        description: setting.description,
                    });
                }
            }
        }

        let shipped = self.integration();
        let mut document = serde_json::to_value(&shipped).expect("an integration is JSON");
        // Which URL settings each action uses, read from the action as shipped.
        if let Some(actions) = document.get_mut("actions").and_then(Value::as_array_mut) {
            for action in actions {
                let text = action.to_string();
                let mut hosts: Vec<String> = Vec::new();
                for setting in self.settings.iter().filter(|setting| setting.kind.is_url()) {
                    if !text.contains(&marker(self, setting)) {
                        continue;
                    }
                    match values.get(setting.key) {
                        Some(value) => hosts.push(host_pattern(value).expect("checked URL")),
                        None => hosts.extend(setting.hosts.iter().map(|host| (*host).to_owned())),
                    }
                }
                if !hosts.is_empty() {
                    hosts.dedup();
                    action["allowed_hosts"] = Value::from(hosts);
                }
            }
        }
        let mut replacements: Vec<(String, String)> = Vec::new();
        let mut system_parameters = Vec::new();
        let mut unset_parameters = Vec::new();
        for setting in self.settings {
            let from = marker(self, setting);
            if setting.kind.is_secret() {
                let parameter = parameter_name(&name, setting.key);
                replacements.push((from, format!("{{{{SystemParameter['{parameter}']}}}}")));
                match values.get(setting.key) {
                    Some(value) => system_parameters.push(SystemParameter {
                        name: parameter,
                        value: SecretValue::new(value.as_str()),
                        secret: true,
                    }),
                    None => unset_parameters.push((parameter, setting)),
                }
            } else if let Some(value) = values.get(setting.key) {
                replacements.push((from, value.clone()));
            }
        }
        replace_strings(&mut document, &replacements);
        document["name"] = Value::from(name.as_str());
        document["type"] = serde_json::to_value(IntegrationKind::Predefined).expect("JSON");
        document["archived"] = Value::Bool(false);
        let integration: Integration = serde_json::from_value(document).map_err(|error| CatalogError::Invalid {
            diagnostics: vec![cutover_integrations_model::Diagnostic {
                file: self.file.to_owned(),
                line: 1,
                column: 1,
                path: "$".to_owned(),
                message: error.to_string(),
            }],
        })?;
        let installation = Installation { entry: self, integration, system_parameters, unset_parameters };
        // The same validator as any definition file, on the file `catalog add` writes.
        let text = installation.to_yaml();
        Validator::new()
            .parse(&SourceFile::new(self.file, &text))
            .map_err(|diagnostics| CatalogError::Invalid { diagnostics })?;
        Ok(installation)
    }
}

/// The text standing for a setting in the entry's file.
fn marker(entry: &Entry, setting: &Setting) -> String {
    if setting.kind.is_secret() {
        format!("{{{{SystemParameter['{}']}}}}", parameter_name(entry.title, setting.key))
    } else {
        setting.placeholder.to_owned()
    }
}

/// Replaces, in every string of `value`, each `from` with its `to` (one pass: a replacement is never replaced again).
fn replace_strings(value: &mut Value, replacements: &[(String, String)]) {
    match value {
        Value::String(text) => {
            let mut out = String::with_capacity(text.len());
            let mut rest = text.as_str();
            'scan: while !rest.is_empty() {
                for (from, to) in replacements {
                    if !from.is_empty()
                        && let Some(after) = rest.strip_prefix(from.as_str())
                    {
                        out.push_str(to);
                        rest = after;
                        continue 'scan;
                    }
                }
                let c = rest.chars().next().expect("not empty");
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
            *text = out;
        }
        Value::Array(items) => items.iter_mut().for_each(|item| replace_strings(item, replacements)),
        Value::Object(object) => object.values_mut().for_each(|item| replace_strings(item, replacements)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn check_name(name: &str) -> Result<String, CatalogError> {
    let name = name.trim();
    let invalid = |message: &str| Err(CatalogError::InvalidName { message: message.to_owned() });
    if slug(name).is_empty() {
        return invalid("a name needs at least one letter or digit");
    }
    if name.chars().count() > MAX_NAME {
        return invalid("a name has at most 200 characters");
    }
    if name.contains('/') || name.chars().any(char::is_control) {
        return invalid("a name may not contain `/` or control characters");
    }
    Ok(name.to_owned())
}

/// Checks a value by its setting's kind; a secret's value is never quoted in the message.
fn check_value(setting: &'static Setting, value: &str) -> Result<String, CatalogError> {
    let invalid = |message: String| Err(CatalogError::InvalidSetting { key: setting.key, message });
    let secret = setting.kind.is_secret();
    let shown = |value: &str| if secret { "the value".to_owned() } else { format!("`{value}`") };
    if value.is_empty() {
        return invalid("the value is empty".to_owned());
    }
    if value.len() > MAX_VALUE {
        return invalid(format!("the value is longer than {MAX_VALUE} bytes"));
    }
    if value.chars().any(char::is_control) {
        return invalid("the value holds a control character".to_owned());
    }
    if setting.kind != SettingKind::Secret
        && setting.kind != SettingKind::WebhookSecret
        && (value.contains(['"', '\\', '\'']) || value.contains("{{") || value.contains("}}"))
    {
        return invalid(format!("{} may not contain quotes, backslashes, `{{{{` or `}}}}`", shown(value)));
    }
    match setting.kind {
        SettingKind::Url | SettingKind::SecretUrl => {
            if value.contains(char::is_whitespace) {
                return invalid(format!("{} is not a URL: it contains white space", shown(value)));
            }
            let url = match url::Url::parse(value) {
                Ok(url) => url,
                Err(error) => return invalid(format!("{} is not an absolute URL: {error}", shown(value))),
            };
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return invalid(format!("{} is not an http(s) URL with a host", shown(value)));
            }
            if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
                return invalid(format!("{} may not carry credentials or a fragment", shown(value)));
            }
            if setting.kind == SettingKind::Url && url.query().is_some() {
                return invalid(format!("{} may not carry a query (the actions append paths to it)", shown(value)));
            }
            host_pattern(value).map_err(|message| CatalogError::InvalidSetting { key: setting.key, message })?;
            Ok(if setting.kind == SettingKind::Url { value.trim_end_matches('/').to_owned() } else { value.to_owned() })
        }
        SettingKind::WebhookSecret => match decode_webhook_secret(value) {
            Ok(_) => Ok(value.to_owned()),
            Err(message) => invalid(message.to_owned()),
        },
        SettingKind::Text | SettingKind::Secret => Ok(value.to_owned()),
    }
}

/// The `allowed_hosts` pattern of a URL: its host, with its port when one is written.
fn host_pattern(value: &str) -> Result<String, String> {
    let url = url::Url::parse(value).map_err(|error| error.to_string())?;
    let host = url.host_str().ok_or("the URL has no host")?;
    let pattern = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    HostPattern::parse(&pattern).map(|_| pattern)
}

/// The candidate closest to `word`, when close enough to be a typo.
pub(crate) fn closest(word: &str, candidates: impl Iterator<Item = &'static str>) -> Option<&'static str> {
    candidates
        .map(|candidate| (edit_distance(word, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            current.push((previous[j] + usize::from(ca != *cb)).min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}
