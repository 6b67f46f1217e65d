//! [`Checker`]: the template engine behind `cutover validate`, as a [`TemplateChecker`].

use crate::error::Locator;
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
/// where the JSON parser failed, mapped back into the template; params must render to a JSON object. Every
/// `CustomField` the template reads is reported.
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
                // Paths come in source order, so the locator counts lines and columns once over the template.
                let mut locator = Locator::new(template);
                visit_paths(&nodes, &mut |path| {
                    if path.anchor == Anchor::Root
                        && path.segments.first().is_some_and(|root| root == "CustomField")
                        && let Some(name) = path.segments.get(1)
                    {
                        let (line, column, _) = locator.line_column(path.span.start);
                        report.custom_fields.push(FieldReference { name: name.clone(), line, column });
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
            Ok(compiled) => match compiled.render(&compiled.sample_context()) {
                Err(error) => report.problems.push(problem(&error)),
                Ok(rendered) if place == TemplatePlace::Url => {
                    report.host_readers = compiled
                        .host_references()
                        .into_iter()
                        .map(|reference| FieldReference {
                            name: reference.text,
                            line: reference.at.line,
                            column: reference.at.column,
                        })
                        .collect();
                    let literal_scheme = template.trim_start().starts_with(|c: char| c.is_ascii_alphabetic());
                    if literal_scheme && let Err(error) = url::Url::parse(rendered.trim()) {
                        let start = template.len() - template.trim_start().len();
                        let at = crate::Location::in_source(template, start);
                        report.problems.push(TemplateProblem {
                            line: at.line,
                            column: at.column,
                            message: format!("not a valid absolute URL (with sample values): {error}"),
                        });
                    }
                }
                Ok(rendered) if place == TemplatePlace::JsonParams => {
                    if !matches!(serde_json::from_str(&rendered), Ok(serde_json::Value::Object(_))) {
                        let start = template.len() - template.trim_start().len();
                        let at = crate::Location::in_source(template, start);
                        report.problems.push(TemplateProblem {
                            line: at.line,
                            column: at.column,
                            message: "params must be a JSON object of query parameters, such as `{\"q\": \"…\"}`"
                                .to_owned(),
                        });
                    }
                }
                Ok(_) => {}
            },
        }
        report
    }
}

fn problem(error: &TemplateError) -> TemplateProblem {
    let (line, column) = error.location().map_or((1, 1), |at| (at.line, at.column));
    TemplateProblem { line, column, message: error.message() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(template: &str, place: TemplatePlace) -> Vec<(u32, u32)> {
        Checker.check(template, place).problems.iter().map(|p| (p.line, p.column)).collect()
    }

    /// A template, its place, and the positions of the problems expected.
    type Case = (&'static str, TemplatePlace, &'static [(u32, u32)]);

    #[test]
    fn reports_problems_at_their_positions() {
        let cases: &[Case] = &[
            (r#"{"a":"{{CustomField['X']}}","n":{{Task.n | plus: 1}}}"#, TemplatePlace::JsonPayload, &[]),
            ("{\n  \"a\": {{CustomField.x}} {{CustomField.y}}\n}", TemplatePlace::JsonPayload, &[(2, 26)]),
            ("[{{#each Task.list}}{{this.n}},{{/each}}]", TemplatePlace::JsonPayload, &[(1, 41)]),
            ("[{{#each Task.list}}{{this.n}}{{#unless @last}},{{/unless}}{{/each}}]", TemplatePlace::JsonPayload, &[]),
            ("  [1, 2]", TemplatePlace::JsonParams, &[(1, 3)]),
            (r#"{"q": "{{Task.name}}"}"#, TemplatePlace::JsonParams, &[]),
            ("{{Task.n | divided_by: 0}}", TemplatePlace::Text, &[(1, 12)]),
            ("{{Task.name", TemplatePlace::HeaderValue, &[(1, 1)]),
            ("file:///etc/passwd", TemplatePlace::Url, &[(1, 1)]),
            ("gopher://x.test:70/_x", TemplatePlace::Url, &[(1, 1)]),
            (" FILE://{{Task.id}}", TemplatePlace::Url, &[(1, 2)]),
            ("https://exa mple.test/", TemplatePlace::Url, &[(1, 1)]),
            ("https://exa mple.test/{{Task.id}}", TemplatePlace::Url, &[(1, 1)]),
            ("https://x.test:{{Task.port}}/", TemplatePlace::Url, &[]),
            ("{{SystemParameter['base']}}/x", TemplatePlace::Url, &[]),
        ];
        for (template, place, expected) in cases {
            assert_eq!(&problems(template, *place), expected, "{template}");
        }
    }

    #[test]
    fn reports_what_decides_a_url_host() {
        let readers = |template: &str| -> Vec<(String, u32)> {
            let report = Checker.check(template, TemplatePlace::Url);
            assert!(report.problems.is_empty(), "{template}: {:?}", report.problems);
            report.host_readers.into_iter().map(|r| (r.name, r.column)).collect()
        };
        let none: Vec<(String, u32)> = Vec::new();
        assert_eq!(
            readers("https://{{CustomField['Instance']}}.service-now.com/api/{{Task.id}}"),
            [("CustomField['Instance']".to_owned(), 11)]
        );
        assert_eq!(readers("https://api.test:{{Task.port}}/"), [("Task.port".to_owned(), 20)]);
        assert_eq!(readers("{{Runbook.base}}/x"), [("Runbook.base".to_owned(), 3)]);
        assert_eq!(
            readers("https://{{#if CustomField.eu}}eu{{else}}us{{/if}}.api.test/"),
            [("CustomField.eu".to_owned(), 15)]
        );
        assert_eq!(readers("https://{{SystemParameter['host']}}/{{CustomField.x}}?q={{Task.id}}#{{Task.n}}"), none);
        assert_eq!(readers("https://api.test/{{CustomField['x']}}"), none);
        assert!(Checker.check("https://{{Task.x}}/", TemplatePlace::Text).host_readers.is_empty());
    }

    #[test]
    fn the_deepest_blocks_allowed_check_and_render_on_a_small_stack() {
        let levels = crate::MAX_BLOCK_NESTING;
        let payload =
            format!("{{\"a\": [{}{{{{this}}}}{}]}}", "{{#each Task.list}}".repeat(levels), "{{/each}}".repeat(levels));
        let checked = std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || Checker.check(&payload, TemplatePlace::JsonPayload))
            .unwrap()
            .join()
            .expect("checking does not overflow a 1 MiB stack");
        assert_eq!(checked.problems, []);
    }

    #[test]
    fn reports_custom_fields_even_in_broken_templates() {
        let names = |template: &str| -> Vec<String> {
            Checker.check(template, TemplatePlace::Text).custom_fields.into_iter().map(|r| r.name).collect()
        };
        assert_eq!(
            names("{{CustomField['A b']}} {{#each CustomField.L}}{{CustomField.c}}{{/each}}"),
            ["A b", "L", "c"]
        );
        assert_eq!(names("{{CustomField['A b']}} {{"), ["A b"]);
    }
}
