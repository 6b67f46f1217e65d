//! The crate's error type: what is wrong with an entry name or an admin's settings.

use cutover_integrations_model::Diagnostic;

/// Why an entry cannot be found or installed. Messages never quote a secret setting's value.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// No entry has this name.
    #[error("no catalog entry `{name}`{}; entries: {known}", suggestion.map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownEntry {
        /// The name asked for.
        name: String,
        /// The closest entry name, when one is close.
        suggestion: Option<&'static str>,
        /// Every entry name, comma separated.
        known: String,
    },
    /// A setting the entry does not have.
    #[error("entry `{entry}` has no setting `{key}`{}; settings: {known}", suggestion.map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownSetting {
        /// The entry.
        entry: &'static str,
        /// The key given.
        key: String,
        /// The closest setting key, when one is close.
        suggestion: Option<&'static str>,
        /// Every setting key, comma separated.
        known: String,
    },
    /// A required setting without a value.
    #[error("entry `{entry}` needs the setting `{key}`: {description}")]
    MissingSetting {
        /// The entry.
        entry: &'static str,
        /// The setting.
        key: &'static str,
        /// What the setting is.
        description: &'static str,
    },
    /// A setting whose value is unusable.
    #[error("setting `{key}`: {message}")]
    InvalidSetting {
        /// The setting.
        key: &'static str,
        /// What is wrong (never quoting a secret value).
        message: String,
    },
    /// A secret setting given where it would be written into a file.
    #[error(
        "setting `{key}` is a secret and is not written into definition files; store it as the secret system \
         parameter `{parameter}` (`cutover system-parameter set {parameter} --secret`)"
    )]
    SecretInFile {
        /// The setting.
        key: &'static str,
        /// The system parameter that holds it.
        parameter: String,
    },
    /// The integration name is unusable.
    #[error("invalid integration name: {message}")]
    InvalidName {
        /// What is wrong.
        message: String,
    },
    /// The installed definition does not validate (an entry bug, reported rather than hidden).
    #[error("the installed definition is invalid: {}", diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid {
        /// The validator's findings.
        diagnostics: Vec<Diagnostic>,
    },
}
