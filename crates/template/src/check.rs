//! [`Checker`]: the template engine behind `cutover validate`, as a [`TemplateChecker`].

use crate::parse::{Anchor, parse, visit_paths};
use crate::{Template, TemplateError};
use cutover_integrations_model::{
    FieldReference, ReferenceScanner, TemplateChecker, TemplatePlace, TemplateProblem, TemplateReport,
};

/// Checks templates at save time with the real parser and renderer.
///
/// A template is compiled for its place (syntax, blocks, and in JSON places strings that never close or placeholders
/// that cannot be escaped), then rendered with sample values: every path it reads gets the text `"1"`, which works
/// both inside a JSON string and as a bare JSON value, reads as a number for arithmetic filters and as Unix time for
/// `date`; a path `#each` reads gets a one-element list. In JSON places an invalid result is reported at the position
/// where the JSON parser failed, mapped back into the template. Every `CustomField` the template reads is reported.
///
/// ```
/// use cutover_integrations_template::{Checker, TemplateChecker, TemplatePlace};
/// // The Slack guide's payload: the last string is never closed.
/// let payload = r#"{"channel":"{{CustomField['Slack Channel']}}","text":"{{CustomField['Slack Message']}}}"#;
/// let report = Checker.check(payload, TemplatePlace::JsonPayload);
/// assert_eq!((report.problems[0].line, report.problems[0].column), (1, 87));
/// assert_eq!(report.custom_fields.len(), 2);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Checker;

impl TemplateChecker for Checker {
    fn check(&self, template: &str, place: TemplatePlace) -> TemplateReport {
        let mut report = TemplateReport::default();
        match parse(template) {
            Ok(nodes) => {
                visit_paths(&nodes, &mut |path| {
                    if path.anchor == Anchor::Root
                        && path.segments.first().is_some_and(|root| root == "CustomField")
                        && let Some(name) = path.segments.get(1)
                    {
                        let at = crate::Location::in_source(template, path.span.start);
                        report.custom_fields.push(FieldReference {
                            name: name.clone(),
                            line: at.line,
                            column: at.column,
                        });
                    }
                });
            }
            Err(error) => {
                // Still report the fields a broken template mentions, so that validation can check their names.
                report.custom_fields = ReferenceScanner.check(template, place).custom_fields;
                report.problems.push(problem(&error));
                return report;
            }
        }
        match Template::compile(template, place) {
            Err(error) => report.problems.push(problem(&error)),
            Ok(compiled) => {
                if let Err(error) = compiled.render(&compiled.sample_context()) {
                    report.problems.push(problem(&error));
                }
            }
        }
        report
    }
}

fn problem(error: &TemplateError) -> TemplateProblem {
    let (line, column) = error.location().map_or((1, 1), |at| (at.line, at.column));
    TemplateProblem { line, column, message: error.message() }
}
