//! Installing a catalog entry: a normal `type: predefined` integration and the secret system parameters its settings
//! became, checked by the same validator (templates included) as any definition file.

use crate::{Engine, EngineError};
use cutover_integrations_catalog::{CatalogError, InstallTarget, entry};
use cutover_integrations_store::AppliedDefinition;
use std::collections::BTreeMap;

/// What installing a catalog entry did.
#[derive(Debug, Clone)]
pub struct InstalledEntry {
    /// The integration created.
    pub applied: AppliedDefinition,
    /// Its name.
    pub name: String,
    /// The secret system parameters stored (created or replaced), by name.
    pub parameters_set: Vec<String>,
    /// Secret system parameters the integration reads that no setting gave (the actions using them fail until they
    /// are set).
    pub parameters_unset: Vec<String>,
}

impl Engine {
    /// Installs the catalog entry `entry_name` as `name` (the entry's own name when `None`) with the admin's
    /// `settings` (key → value). Refused, with nothing stored, when a setting is wrong or an integration of that
    /// name exists.
    pub async fn install_catalog_entry(
        &self,
        entry_name: &str,
        name: Option<&str>,
        settings: &BTreeMap<String, String>,
    ) -> Result<InstalledEntry, EngineError> {
        let entry = entry(entry_name).map_err(input_error)?;
        let installation = entry.install(name, settings, InstallTarget::Engine).map_err(input_error)?;
        let name = installation.integration.name.clone();
        if self.integrations().await?.iter().any(|record| record.integration.name == name) {
            return Err(EngineError::invalid_input("name", format!("an integration named `{name}` exists already")));
        }
        let text = installation.to_yaml();
        let file = format!("{}.yaml", entry.name);
        self.check_definition(&file, &text).await?;
        for parameter in &installation.system_parameters {
            self.put_system_parameter(parameter).await?;
        }
        let mut applied = self.apply_definitions(&[(&file, &text)]).await?;
        let applied = applied.integrations.pop().ok_or_else(|| EngineError::Config {
            message: "applying an installed catalog entry created no integration".to_owned(),
        })?;
        Ok(InstalledEntry {
            applied,
            name,
            parameters_set: installation.system_parameters.iter().map(|parameter| parameter.name.clone()).collect(),
            parameters_unset: installation.unset_parameters.iter().map(|(parameter, _)| parameter.clone()).collect(),
        })
    }
}

/// A catalog refusal as an input problem, at the path of the value at fault.
fn input_error(error: CatalogError) -> EngineError {
    let path = match &error {
        CatalogError::UnknownEntry { .. } => "entry".to_owned(),
        CatalogError::UnknownSetting { key, .. } => format!("settings.{key}"),
        CatalogError::MissingSetting { key, .. }
        | CatalogError::InvalidSetting { key, .. }
        | CatalogError::SecretInFile { key, .. } => format!("settings.{key}"),
        CatalogError::InvalidName { .. } => "name".to_owned(),
        CatalogError::Invalid { diagnostics } => return EngineError::Invalid { diagnostics: diagnostics.clone() },
    };
    EngineError::invalid_input(path, error.to_string())
}
