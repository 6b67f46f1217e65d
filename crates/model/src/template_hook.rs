//! The hook through which definition validation checks templates, without this crate depending on the template engine.
//!
//! Validation hands every template of a definition (URLs, header values, payloads, params, polling and notify-webhook
//! templates) to a [`TemplateChecker`] with the [`TemplatePlace`] it lands in. The template crate implements the checker
//! with its real parser; [`ReferenceScanner`] is the fallback that only finds the custom fields a template references.

/// Where a template lands, which decides how values are escaped and what the rendered result must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TemplatePlace {
    /// A request body that must render to valid JSON.
    JsonPayload,
    /// Query parameters written as a JSON object.
    JsonParams,
    /// A URL: values are percent-encoded.
    Url,
    /// A header value: CR, LF and NUL in values are errors.
    HeaderValue,
    /// Plain text: values are inserted as they are.
    Text,
    /// A string leaf of a structured body (`payload: {text: "…"}`): the rendered text becomes one JSON string, escaped
    /// by construction; a leaf that is one placeholder ending in a typed filter (`| plus: 0`, `| json`) becomes the
    /// JSON value the filter computes.
    StructuredLeaf,
}

/// A problem found in one template; positions are 1-based and relative to the template text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateProblem {
    /// Line within the template.
    pub line: u32,
    /// Column within the line, in characters.
    pub column: u32,
    /// What is wrong, as a sentence fragment such as "unclosed `{{`".
    pub message: String,
}

/// A custom field a template references, with its position in the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldReference {
    /// The custom field name.
    pub name: String,
    /// Line within the template.
    pub line: u32,
    /// Column within the line, in characters.
    pub column: u32,
}

/// What a [`TemplateChecker`] found in a template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateReport {
    /// Syntax errors, and render errors with sample values (a JSON payload that is not valid JSON).
    pub problems: Vec<TemplateProblem>,
    /// Every `CustomField` the template reads.
    pub custom_fields: Vec<FieldReference>,
    /// URL templates only: the paths that decide the scheme, host or port and that operators or third parties can
    /// change (anything but `SystemParameter`), with `name` the path as written. An action whose URL has any needs
    /// `allowed_hosts`.
    pub host_readers: Vec<FieldReference>,
}

/// Checks one template at save time.
pub trait TemplateChecker {
    /// Parses `template`, renders it with sample values where `place` requires a checked result, and reports.
    fn check(&self, template: &str, place: TemplatePlace) -> TemplateReport;
}

/// The fallback checker: finds `CustomField['Name']`, `CustomField["Name"]` and `CustomField.Name` references and
/// reports no syntax problems. Validation uses it when no template engine is plugged in.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReferenceScanner;

impl TemplateChecker for ReferenceScanner {
    fn check(&self, template: &str, _place: TemplatePlace) -> TemplateReport {
        let mut report = TemplateReport::default();
        for (line_index, line) in template.lines().enumerate() {
            let mut search_from = 0;
            while let Some(found) = line[search_from..].find("CustomField") {
                let start = search_from + found;
                let rest = &line[start + "CustomField".len()..];
                search_from = start + "CustomField".len();
                let name = if let Some(quoted) = rest.strip_prefix("['").or_else(|| rest.strip_prefix("[\"")) {
                    let quote = if rest.starts_with("['") { "']" } else { "\"]" };
                    quoted.find(quote).map(|end| quoted[..end].to_owned())
                } else if let Some(dotted) = rest.strip_prefix('.') {
                    let end = dotted.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(dotted.len());
                    (end > 0).then(|| dotted[..end].to_owned())
                } else {
                    None
                };
                if let Some(name) = name {
                    let column = line[..start].chars().count() as u32 + 1;
                    report.custom_fields.push(FieldReference { name, line: line_index as u32 + 1, column });
                }
            }
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanner_finds_every_reference_form() {
        let report = ReferenceScanner.check(
            "{\"a\":\"{{CustomField['Slack Channel']}}\",\n\"b\":\"{{ CustomField[\"X\"] }} {{CustomField.y_1}}\"}",
            TemplatePlace::JsonPayload,
        );
        let found: Vec<_> = report.custom_fields.iter().map(|r| (r.name.as_str(), r.line, r.column)).collect();
        assert_eq!(found, vec![("Slack Channel", 1, 9), ("X", 2, 9), ("y_1", 2, 31)]);
    }
}
