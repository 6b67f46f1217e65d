//! Template checks of an integration: every template goes to the [`TemplateChecker`] with the place it lands in, and
//! the problems and custom field references it reports are mapped from template positions to file positions.

use super::FileContext;
use crate::parse::path::FieldPath;
use crate::parse::reader::Site;
use crate::{
    AuthSettings, BodyTemplate, EventIntegration, Integration, MAX_STRUCTURE_DEPTH, NotifyWebhook, Position,
    TemplateChecker, TemplatePlace,
};
use saphyr_parser::ScalarStyle;
use std::collections::BTreeMap;

/// One template of a definition: where it is, its text, and the place it lands in.
#[derive(Debug)]
pub(crate) struct TemplateSite<'d> {
    pub(crate) path: FieldPath,
    pub(crate) template: &'d str,
    pub(crate) place: TemplatePlace,
    /// Whether the action the template belongs to declares `allowed_hosts`.
    pub(crate) hosts_listed: bool,
}

/// Checks every template of `integration`, reporting problems and references to undeclared custom fields.
pub(crate) fn check_templates(context: &mut FileContext<'_>, integration: &Integration, checker: &dyn TemplateChecker) {
    let declared: Vec<&str> = integration.custom_fields.iter().map(|field| field.name.as_str()).collect();
    check_sites(context, template_sites(integration), &declared, checker, EventRoot::Refused);
}

/// Whether templates may read the `Event` root (set only in event integrations' requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventRoot {
    Allowed,
    Refused,
}

/// Checks every template of an event integration (its auth and request, at the paths of its own file). It declares no
/// custom fields, so a template that reads one is refused.
pub(crate) fn check_event_integration_templates(
    context: &mut FileContext<'_>,
    events: &EventIntegration,
    checker: &dyn TemplateChecker,
) {
    let action = events.as_action();
    let mut sites = Vec::new();
    action_sites(&mut sites, &action, FieldPath::root());
    let hosts_listed = !action.allowed_hosts.is_empty();
    for site in &mut sites {
        site.hosts_listed = hosts_listed;
    }
    check_sites(context, sites, &[], checker, EventRoot::Allowed);
}

fn check_sites(
    context: &mut FileContext<'_>,
    sites: Vec<TemplateSite<'_>>,
    declared: &[&str],
    checker: &dyn TemplateChecker,
    event_root: EventRoot,
) {
    for site in sites {
        if !context.walker.is_clean(&site.path) {
            continue;
        }
        if event_root == EventRoot::Refused
            && let Some((line, column)) = event_root_read(site.template)
        {
            let position = context.template_position(&site.path, site.template, line, column);
            let message = "`Event` is set only in event integrations (`kind: event_integration`); an action's \
                           templates read `Task`, `Runbook`, `CustomField` and `SystemParameter`";
            context.walker.error(position, &site.path, message);
            continue;
        }
        let report = checker.check(site.template, site.place);
        for problem in report.problems {
            let position = context.template_position(&site.path, site.template, problem.line, problem.column);
            context.walker.error(position, &site.path, problem.message);
        }
        if !site.hosts_listed
            && let Some(reader) = report.host_readers.first()
        {
            let position = context.template_position(&site.path, site.template, reader.line, reader.column);
            let message = format!(
                "the URL's host reads `{}`, which operators can change: list the hosts it may take in the action's \
                 `allowed_hosts` (host names or `*.suffix`)",
                reader.name
            );
            context.walker.error(position, &site.path, message);
        }
        for reference in report.custom_fields {
            if declared.contains(&reference.name.as_str()) {
                continue;
            }
            let position = context.template_position(&site.path, site.template, reference.line, reference.column);
            let message = format!("unknown custom field `{}`; {}", reference.name, declared_fields(declared));
            context.walker.error(position, &site.path, message);
        }
    }
}

/// Where a template first reads the `Event` root inside a `{{ … }}` (1-based line and column), if it does: a path that
/// starts with the word `Event` (not a segment of another path, not quoted).
fn event_root_read(template: &str) -> Option<(u32, u32)> {
    let mut from = 0;
    while let Some(open) = template[from..].find("{{").map(|at| from + at) {
        let close = template[open..].find("}}").map_or(template.len(), |at| open + at);
        let inside = &template[open + 2..close];
        let mut quote: Option<char> = None;
        let mut previous: Option<char> = None;
        for (at, c) in inside.char_indices() {
            match quote {
                Some(open_quote) if c == open_quote => quote = None,
                Some(_) => {}
                None if c == '\'' || c == '"' => quote = Some(c),
                None if inside[at..].starts_with("Event") => {
                    let after = inside[at + 5..].chars().next();
                    let starts_path = previous.is_none_or(|p| !(p.is_alphanumeric() || "_.[@/".contains(p)));
                    let ends_word = after.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
                    if starts_path && ends_word {
                        let offset = open + 2 + at;
                        let line = template[..offset].matches('\n').count() as u32 + 1;
                        let line_start = template[..offset].rfind('\n').map_or(0, |at| at + 1);
                        let column = template[line_start..offset].chars().count() as u32 + 1;
                        return Some((line, column));
                    }
                }
                None => {}
            }
            previous = Some(c);
        }
        from = close;
    }
    None
}

/// "the integration declares `a`, `b`" or "the integration declares no custom fields".
pub(crate) fn declared_fields(declared: &[&str]) -> String {
    if declared.is_empty() {
        "the integration declares no custom fields".to_owned()
    } else {
        format!("the integration declares {}", crate::parse::reader::quoted_list(declared.iter().copied()))
    }
}

/// Every template of an integration, in file order.
pub(crate) fn template_sites(integration: &Integration) -> Vec<TemplateSite<'_>> {
    let mut sites = Vec::new();
    for (index, action) in integration.actions.iter().enumerate() {
        let first_site = sites.len();
        action_sites(&mut sites, action, FieldPath::root().key("actions").index(index));
        let hosts_listed = !action.allowed_hosts.is_empty();
        for site in &mut sites[first_site..] {
            site.hosts_listed = hosts_listed;
        }
    }
    sites
}

/// The custom fields the templates of `action` read (URLs, headers, payloads, params; not auth), by name.
pub(crate) fn custom_fields_read(action: &crate::Action) -> std::collections::BTreeSet<String> {
    let mut sites = Vec::new();
    action_sites(&mut sites, action, FieldPath::root());
    sites
        .iter()
        .flat_map(|site| crate::ReferenceScanner.check(site.template, site.place).custom_fields)
        .map(|reference| reference.name)
        .collect()
}

/// Every template of one action, in file order.
fn action_sites<'d>(sites: &mut Vec<TemplateSite<'d>>, action: &'d crate::Action, action_path: FieldPath) {
    if let Some(webhook) = &action.settings.notify_webhook_on_cancel {
        webhook_sites(sites, &action_path.key("settings").key("notify_webhook_on_cancel"), webhook);
    }
    let auth_path = action_path.key("auth");
    let secret = match &action.auth {
        AuthSettings::None => None,
        AuthSettings::Token { token, .. } => Some(("token", token)),
        AuthSettings::Basic { password, .. } => Some(("password", password)),
        AuthSettings::ApiKey { value, .. } => Some(("value", value)),
        AuthSettings::Oauth2(settings) => Some(("client_secret", &settings.client_secret)),
        AuthSettings::StandardWebhooks { secret } => Some(("secret", secret)),
    };
    if let Some((key, secret)) = secret.filter(|(_, secret)| secret.is_template()) {
        sites.push(TemplateSite {
            path: auth_path.key(key),
            template: secret.expose(),
            place: TemplatePlace::Text,
            hosts_listed: false,
        });
    }
    if let Some(request) = &action.request {
        request_sites(
            sites,
            &action_path.key("request"),
            RequestTemplates {
                url: &request.url,
                headers: &request.headers,
                payload: request.payload.as_ref(),
                params: request.params.as_ref(),
            },
        );
    }
    if let Some(polling) = &action.polling {
        request_sites(
            sites,
            &action_path.key("polling"),
            RequestTemplates {
                url: &polling.url,
                headers: &polling.headers,
                payload: polling.payload.as_ref(),
                params: polling.params.as_ref(),
            },
        );
    }
}

/// The templates of a request-like section.
struct RequestTemplates<'d> {
    url: &'d str,
    headers: &'d BTreeMap<String, String>,
    payload: Option<&'d BodyTemplate>,
    params: Option<&'d BodyTemplate>,
}

fn request_sites<'d>(sites: &mut Vec<TemplateSite<'d>>, path: &FieldPath, request: RequestTemplates<'d>) {
    sites.push(TemplateSite {
        path: path.key("url"),
        template: request.url,
        place: TemplatePlace::Url,
        hosts_listed: false,
    });
    header_sites(sites, path, request.headers);
    if let Some(payload) = request.payload {
        body_sites(sites, path.key("payload"), payload, payload_place(request.headers));
    }
    if let Some(params) = request.params {
        body_sites(sites, path.key("params"), params, TemplatePlace::JsonParams);
    }
}

/// The templates of a body: the text form is one template in `place`; every string leaf of a structure is one in
/// [`TemplatePlace::StructuredLeaf`].
fn body_sites<'d>(sites: &mut Vec<TemplateSite<'d>>, path: FieldPath, body: &'d BodyTemplate, place: TemplatePlace) {
    match body {
        BodyTemplate::Text(template) => sites.push(TemplateSite { path, template, place, hosts_listed: false }),
        BodyTemplate::Object(map) => {
            for (key, value) in map {
                leaf_sites(sites, path.key(key), value, 1);
            }
        }
        BodyTemplate::List(items) => {
            for (index, value) in items.iter().enumerate() {
                leaf_sites(sites, path.index(index), value, 1);
            }
        }
    }
}

/// The string leaves under `value`. The parser bounds the nesting of what it reads; `depth` bounds values built in
/// code as well.
fn leaf_sites<'d>(sites: &mut Vec<TemplateSite<'d>>, path: FieldPath, value: &'d serde_json::Value, depth: usize) {
    if depth > MAX_STRUCTURE_DEPTH {
        return;
    }
    match value {
        serde_json::Value::String(template) => {
            sites.push(TemplateSite { path, template, place: TemplatePlace::StructuredLeaf, hosts_listed: false })
        }
        serde_json::Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                leaf_sites(sites, path.index(index), item, depth + 1);
            }
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                leaf_sites(sites, path.key(key), item, depth + 1);
            }
        }
        _ => {}
    }
}

fn webhook_sites<'d>(sites: &mut Vec<TemplateSite<'d>>, path: &FieldPath, webhook: &'d NotifyWebhook) {
    sites.push(TemplateSite {
        path: path.key("url"),
        template: &webhook.url,
        place: TemplatePlace::Url,
        hosts_listed: false,
    });
    header_sites(sites, path, &webhook.headers);
    if let Some(payload) = &webhook.payload {
        body_sites(sites, path.key("payload"), payload, payload_place(&webhook.headers));
    }
}

fn header_sites<'d>(sites: &mut Vec<TemplateSite<'d>>, path: &FieldPath, headers: &'d BTreeMap<String, String>) {
    for (name, value) in headers {
        let place = TemplatePlace::HeaderValue;
        sites.push(TemplateSite { path: path.key("headers").key(name), template: value, place, hosts_listed: false });
    }
}

/// A payload is JSON unless a `Content-Type` header says otherwise.
pub(crate) fn payload_place(headers: &BTreeMap<String, String>) -> TemplatePlace {
    let content_type = headers.iter().find(|(name, _)| name.eq_ignore_ascii_case("content-type"));
    match content_type {
        Some((_, value)) if !value.to_ascii_lowercase().contains("json") => TemplatePlace::Text,
        _ => TemplatePlace::JsonPayload,
    }
}

/// Maps a 1-based position inside a scalar's decoded text to its position in the file.
///
/// Exact for single-line plain and quoted scalars (escapes included) and for literal blocks; the scalar's own position
/// for folded blocks and multi-line flow scalars, whose line breaks the decoding changes. `cursor`, from the previous
/// call on the same scalar, lets positions that come in order be mapped in one pass; the cursor to pass next comes back.
pub(crate) fn map_position(
    source: &[char],
    site: &Site,
    decoded: &str,
    line: u32,
    column: u32,
    cursor: Option<RawCursor>,
) -> (Position, Option<RawCursor>) {
    let Some((span, style)) = site.scalar else {
        return (site.value, None);
    };
    let (line, column) = (line.max(1), column.max(1));
    let start = crate::parse::reader::position_of(span.start);
    match style {
        ScalarStyle::Literal => {
            let leading_blank_lines = decoded.chars().take_while(|c| *c == '\n').count() as u32;
            let first_line = start.line.saturating_sub(leading_blank_lines);
            (Position { line: first_line + line - 1, column: start.column + column - 1 }, None)
        }
        ScalarStyle::Plain | ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted
            if span.start.line() == span.end.line() =>
        {
            let raw = source.get(span.start.index()..span.end.index()).unwrap_or_default();
            let from =
                cursor.filter(|c| (c.line, c.column) <= (line, column)).unwrap_or_else(|| RawCursor::start(style));
            match raw_offset(raw, style, from, line, column) {
                Some(found) => (Position { line: start.line, column: start.column + found.offset as u32 }, Some(found)),
                None => (start, None),
            }
        }
        _ => (start, None),
    }
}

/// A decoded position (`line`:`column`) and the offset in the raw scalar where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawCursor {
    offset: usize,
    line: u32,
    column: u32,
}

impl RawCursor {
    /// The first decoded character: after the opening quote of a quoted scalar.
    fn start(style: ScalarStyle) -> Self {
        Self { offset: usize::from(style != ScalarStyle::Plain), line: 1, column: 1 }
    }
}

/// Moves from `from` to the decoded character at `line`:`column` of `raw` (the scalar as written, quotes included).
fn raw_offset(raw: &[char], style: ScalarStyle, from: RawCursor, line: u32, column: u32) -> Option<RawCursor> {
    let RawCursor { mut offset, line: mut current_line, column: mut current_column } = from;
    loop {
        if (current_line, current_column) == (line, column) {
            return Some(RawCursor { offset, line, column });
        }
        let c = *raw.get(offset)?;
        let (decoded, width) = match (style, c) {
            (ScalarStyle::SingleQuoted, '\'') if raw.get(offset + 1) == Some(&'\'') => ('\'', 2),
            (ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted, '\'' | '"') if offset + 1 == raw.len() => {
                return None;
            }
            (ScalarStyle::DoubleQuoted, '\\') => {
                let escape = *raw.get(offset + 1)?;
                let width = match escape {
                    'x' => 4,
                    'u' if is_surrogate_pair(raw.get(offset..offset + 12)) => 12,
                    'u' => 6,
                    'U' => 10,
                    _ => 2,
                };
                (if escape == 'n' { '\n' } else { escape }, width)
            }
            _ => (c, 1),
        };
        offset += width;
        if decoded == '\n' {
            current_line += 1;
            current_column = 1;
        } else {
            current_column += 1;
        }
    }
}

/// Whether `escapes` is `\uD8xx\uDCxx`: JSON's two escapes of one character.
fn is_surrogate_pair(escapes: Option<&[char]>) -> bool {
    let Some(escapes) = escapes else { return false };
    let code = |from: usize| -> Option<u32> {
        let digits: String = escapes.get(from..from + 4)?.iter().collect();
        u32::from_str_radix(&digits, 16).ok()
    };
    escapes.len() == 12
        && escapes[6..8] == ['\\', 'u']
        && code(2).is_some_and(|high| (0xD800..=0xDBFF).contains(&high))
        && code(8).is_some_and(|low| (0xDC00..=0xDFFF).contains(&low))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offset(raw: &str, style: ScalarStyle, line: u32, column: u32) -> Option<usize> {
        raw_offset(&raw.chars().collect::<Vec<_>>(), style, RawCursor::start(style), line, column).map(|c| c.offset)
    }

    #[test]
    fn a_cursor_resumes_where_the_last_position_was_found() {
        let raw: Vec<char> = r#""a\"b{{x}} \u00e9{{y}}""#.chars().collect();
        let style = ScalarStyle::DoubleQuoted;
        let first = raw_offset(&raw, style, RawCursor::start(style), 1, 4).unwrap();
        let second = raw_offset(&raw, style, first, 1, 11).unwrap();
        assert_eq!(second, raw_offset(&raw, style, RawCursor::start(style), 1, 11).unwrap());
        assert_eq!((first.offset, second.offset), (5, 17));
    }

    #[test]
    fn offsets_follow_escapes() {
        assert_eq!(offset("a{{b}}", ScalarStyle::Plain, 1, 2), Some(1));
        assert_eq!(offset("'it''s {{x}}'", ScalarStyle::SingleQuoted, 1, 6), Some(7));
        assert_eq!(offset(r#""\"a\" {{x}}""#, ScalarStyle::DoubleQuoted, 1, 5), Some(7));
        assert_eq!(offset(r#""\u00e9{{x}}""#, ScalarStyle::DoubleQuoted, 1, 2), Some(7));
        assert_eq!(offset(r#""a\n{{x}}""#, ScalarStyle::DoubleQuoted, 2, 1), Some(4));
        assert_eq!(offset(r#""\ud83c\udf89{{x}}""#, ScalarStyle::DoubleQuoted, 1, 2), Some(13));
        assert_eq!(offset("'ab'", ScalarStyle::SingleQuoted, 1, 9), None);
    }

    #[test]
    fn the_event_root_is_found_only_where_a_path_starts_with_it() {
        let cases: [(&str, Option<(u32, u32)>); 9] = [
            ("{{Event.type}}", Some((1, 3))),
            ("a\nb {{ Event | json }}", Some((2, 6))),
            ("{{#if Event.task}}x{{/if}}", Some((1, 7))),
            ("Event.type outside", None),
            ("{{Task.Event}}", None),
            ("{{CustomField['Event']}}", None),
            ("{{CustomField['Webhook Event Type']}} {{CustomField[\"Event x\"]}}", None),
            ("{{Events.x}}", None),
            ("{{Task.name}} {{EventType}}", None),
        ];
        for (template, expected) in cases {
            assert_eq!(event_root_read(template), expected, "{template}");
        }
    }

    #[test]
    fn json_payloads_are_json_unless_the_content_type_says_otherwise() {
        let headers = |value: &str| BTreeMap::from([("content-type".to_owned(), value.to_owned())]);
        assert_eq!(payload_place(&BTreeMap::new()), TemplatePlace::JsonPayload);
        assert_eq!(payload_place(&headers("application/vnd.api+json")), TemplatePlace::JsonPayload);
        assert_eq!(payload_place(&headers("text/plain")), TemplatePlace::Text);
    }
}
