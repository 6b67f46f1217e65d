//! Validation of definition files: shape, per-file rules, templates, and rules across the files given together.
//!
//! Every rule reports through the file's [`Walker`], so that all errors of all files come back at once, each with its
//! file, line, column and path. Rules skip values the walker already found wrong, so that one mistake gives one error.

mod event_integration_rules;
mod integration_rules;
mod runbook_rules;
mod set_rules;
mod templates;

pub(crate) use templates::custom_fields_read;

use crate::parse::path::FieldPath;
use crate::parse::reader::{SourceMap, Walker};
use crate::{
    Action, ActionRef, Definition, DefinitionFormat, Diagnostic, Integration, Position, ReferenceScanner, Runbook,
    TemplateChecker,
};

/// One definition file to validate: its name (used in diagnostics), its text, and its format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceFile<'a> {
    /// The name diagnostics print, usually the path as the user gave it.
    pub name: &'a str,
    /// The file's content.
    pub text: &'a str,
    /// YAML or JSON.
    pub format: DefinitionFormat,
}

impl<'a> SourceFile<'a> {
    /// A file whose format follows its name's extension (`.json` is JSON, anything else YAML).
    pub fn new(name: &'a str, text: &'a str) -> Self {
        Self { name, text, format: DefinitionFormat::from_path(name) }
    }
}

/// Reads and validates definition files.
///
/// Templates are checked by the [`TemplateChecker`] given to [`Validator::with_checker`]; [`Validator::new`] uses the
/// [`ReferenceScanner`], which finds custom field references but checks no template syntax.
#[derive(Clone, Copy)]
pub struct Validator<'c> {
    checker: &'c dyn TemplateChecker,
}

impl Default for Validator<'static> {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Validator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator").finish_non_exhaustive()
    }
}

impl Validator<'static> {
    /// A validator that checks templates with the [`ReferenceScanner`] only.
    pub fn new() -> Self {
        Self { checker: &ReferenceScanner }
    }
}

impl<'c> Validator<'c> {
    /// A validator that checks every template with `checker`.
    pub fn with_checker(checker: &'c dyn TemplateChecker) -> Self {
        Self { checker }
    }

    /// Reads one file and checks the rules that need no other file.
    pub fn parse(&self, file: &SourceFile<'_>) -> Result<ParsedDefinition, Vec<Diagnostic>> {
        let analysis = self.analyse(file);
        let diagnostics = analysis.diagnostics();
        match analysis.definition {
            Some(definition) if diagnostics.is_empty() => {
                Ok(ParsedDefinition { file: analysis.file, definition, source_map: analysis.walker.source_map })
            }
            _ => Err(diagnostics),
        }
    }

    /// Reads every file and checks all rules, including those across files: unique integration names, and runbook
    /// references to actions and custom fields (checked when at least one integration is among the files).
    pub fn validate(&self, files: &[SourceFile<'_>]) -> Result<DefinitionSet, Vec<Diagnostic>> {
        let mut analyses: Vec<Analysis> = files.iter().map(|file| self.analyse(file)).collect();
        set_rules::check(&mut analyses);
        let diagnostics: Vec<Diagnostic> = analyses.iter().flat_map(Analysis::diagnostics).collect();
        if !diagnostics.is_empty() {
            return Err(diagnostics);
        }
        let definitions = analyses
            .into_iter()
            .filter_map(|analysis| {
                let source_map = analysis.walker.source_map;
                analysis.definition.map(|definition| ParsedDefinition { file: analysis.file, definition, source_map })
            })
            .collect();
        Ok(DefinitionSet { definitions })
    }

    fn analyse(&self, file: &SourceFile<'_>) -> Analysis {
        let (definition, walker) = crate::parse::walk(file.text, file.format);
        let mut context = FileContext { walker, text: file.text, chars: None, cursor: None };
        match &definition {
            Some(Definition::Integration(integration)) => {
                integration_rules::check(&mut context, integration);
                templates::check_templates(&mut context, integration, self.checker);
            }
            Some(Definition::Runbook(runbook)) => runbook_rules::check(&mut context, runbook),
            Some(Definition::EventIntegration(events)) => {
                event_integration_rules::check(&mut context, events);
                templates::check_event_integration_templates(&mut context, events, self.checker);
            }
            None => {}
        }
        Analysis { file: file.name.to_owned(), definition, walker: context.walker }
    }
}

/// A valid definition with the file it came from and where its values sit in that file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedDefinition {
    file: String,
    definition: Definition,
    source_map: SourceMap,
}

impl ParsedDefinition {
    /// The file name as given.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The definition.
    pub fn definition(&self) -> &Definition {
        &self.definition
    }

    /// The definition, dropping where it came from.
    pub fn into_definition(self) -> Definition {
        self.definition
    }

    /// Where the value at a path such as `actions[0].request.url` sits, if the file has it.
    pub fn position_of(&self, path: &str) -> Option<Position> {
        let parsed = crate::parse::path::FieldPath::parse(path)?;
        self.source_map.site(&parsed).map(|site| site.value)
    }
}

/// The definitions of several files that are valid together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DefinitionSet {
    definitions: Vec<ParsedDefinition>,
}

impl DefinitionSet {
    /// Every definition, in the order the files were given.
    pub fn definitions(&self) -> &[ParsedDefinition] {
        &self.definitions
    }

    /// The integrations.
    pub fn integrations(&self) -> impl Iterator<Item = &Integration> {
        self.definitions.iter().filter_map(|parsed| match &parsed.definition {
            Definition::Integration(integration) => Some(integration),
            Definition::Runbook(_) | Definition::EventIntegration(_) => None,
        })
    }

    /// The runbooks.
    pub fn runbooks(&self) -> impl Iterator<Item = &Runbook> {
        self.definitions.iter().filter_map(|parsed| match &parsed.definition {
            Definition::Runbook(runbook) => Some(runbook),
            Definition::Integration(_) | Definition::EventIntegration(_) => None,
        })
    }

    /// The integration and action an `INTEGRATION/ACTION` reference names.
    pub fn find_action(&self, reference: &ActionRef) -> Option<(&Integration, &Action)> {
        let integration = self.integrations().find(|integration| integration.name == reference.integration)?;
        let action = integration.actions.iter().find(|action| action.name == reference.action)?;
        Some((integration, action))
    }
}

/// One file after reading and its own rules.
pub(crate) struct Analysis {
    pub(crate) file: String,
    pub(crate) definition: Option<Definition>,
    pub(crate) walker: Walker,
}

impl Analysis {
    /// The file's problems as diagnostics, in file order.
    fn diagnostics(&self) -> Vec<Diagnostic> {
        let mut problems: Vec<_> = self.walker.problems.iter().collect();
        problems.sort_by_key(|problem| problem.position);
        problems
            .into_iter()
            .map(|problem| Diagnostic {
                file: self.file.clone(),
                line: problem.position.line,
                column: problem.position.column,
                path: problem.path.to_string(),
                message: problem.message.clone(),
            })
            .collect()
    }
}

/// What the per-file rules work with: the walker and the file's text.
pub(crate) struct FileContext<'t> {
    pub(crate) walker: Walker,
    text: &'t str,
    chars: Option<Vec<char>>,
    /// Where the last template position was found, so that the positions of one template, which come in order, are
    /// mapped in one pass over the scalar.
    cursor: Option<(FieldPath, templates::RawCursor)>,
}

impl FileContext<'_> {
    /// Reports a problem at the value at `path`.
    pub(crate) fn error(&mut self, path: &FieldPath, message: impl Into<String>) {
        let position = self.walker.source_map.position(path);
        self.walker.error(position, path, message);
    }

    /// Reports a problem at the key of the value at `path`.
    pub(crate) fn error_at_key(&mut self, path: &FieldPath, message: impl Into<String>) {
        let position = self.walker.source_map.key_position(path);
        self.walker.error(position, path, message);
    }

    /// The file position of `line`:`column` inside the template at `path`.
    pub(crate) fn template_position(&mut self, path: &FieldPath, template: &str, line: u32, column: u32) -> Position {
        let Some(site) = self.walker.source_map.site(path) else {
            return self.walker.source_map.position(path);
        };
        let chars = self.chars.get_or_insert_with(|| self.text.chars().collect());
        let cursor = match self.cursor.take() {
            Some((cursor_path, cursor)) if cursor_path == *path => Some(cursor),
            _ => None,
        };
        let (position, cursor) = templates::map_position(chars, site, template, line, column, cursor);
        self.cursor = cursor.map(|cursor| (path.clone(), cursor));
        position
    }
}
