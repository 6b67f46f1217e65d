//! The payload templating engine: Cutover's dynamic fields (`{{CustomField['Slack Channel']}}`) rendered on handlebars,
//! escaped by the place each value lands in.
//!
//! # Why
//!
//! Users paste Cutover payloads such as `{"channel":"{{CustomField['Slack Channel']}}"}`. Engines that interpolate raw
//! text produce broken JSON as soon as a value holds a quote or a newline. Here the template knows where it lands
//! ([`TemplatePlace`]) and every placeholder is escaped for the exact spot it occupies, decided once at compile time:
//!
//! | place | a placeholder … | gets |
//! |---|---|---|
//! | JSON payload / params | inside a JSON string | the value's text, JSON-escaped |
//! | JSON payload / params | outside strings (`"n": {{ Task.duration }}`) | the value as JSON (number, bool, null, string, list, object) |
//! | URL | in the scheme or host (`{{SystemParameter['base']}}/x`) | the text as it is; whitespace and control characters are errors |
//! | URL | in the path | percent-encoded as one segment (`/` becomes `%2F`); a value made only of dots is an error |
//! | URL | in the query or fragment | percent-encoded except `A-Z a-z 0-9 - . _ ~` |
//! | URL | anywhere after the host, ending in `\| url_encode` | the filter's output, not encoded twice |
//! | header value | anywhere | the text; CR, LF and NUL are errors |
//! | text | anywhere | the text as it is |
//!
//! The *text* of a value is: a string as it is, a number or boolean as JSON writes it, null as nothing, a list or an
//! object as its compact JSON. A JSON-place result is always valid JSON or an error pointing into the template.
//!
//! # The dialect
//!
//! - Paths: `{{ Task.assignee.email }}`, bracket keys `{{ CustomField['Slack Channel'] }}` or `["…"]` (quotes escaped
//!   with `\`, so any name works, including ones with `]`), handlebars' `.[key]`, indexes `list[0]` or `list.0`, and
//!   `@root.Task.name`. Roots: `CustomField`, `Task`, `Runbook`, `SystemParameter`, `Callback`, `Response`.
//! - Filters, chained left to right, with arguments that are literals (`'text'`, `"text"`, numbers, `true`, `false`,
//!   `null`) or paths: `{{ Task.name | downcase | replace: 'old', 'new' }}`. See [`FILTERS`].
//! - Blocks pass through to handlebars: `{{#if x}}`, `{{#unless x}}`, `{{#each list}}` (with `this`, `this.name`,
//!   `@index`, `@key`, `@first`, `@last`, `../name`), `{{#with x}}`, `{{else}}`, `{{else if y}}`, `{{/if}}`; whitespace
//!   control `{{~ … ~}}`; comments `{{! … }}` and `{{!-- … --}}`. Root paths work inside blocks too.
//! - Strict resolution: a placeholder whose path is missing is an error naming the path with its line and column,
//!   unless a `default` filter in its chain covers it. `#if`, `#unless` and `#with` treat a missing value as false
//!   (that is how a template tests an optional value); `#each` over a missing value, or over a value that is neither a
//!   list nor an object, is an error unless the block has an `{{else}}`.
//! - Not in the dialect: `{{{ }}}` (raw output would defeat escaping), partials, block parameters (`as |item|`),
//!   helpers called as `{{helper x}}`, Liquid tags (`{% … %}`, kept as literal text), and backslash escapes of `{{` (a
//!   backslash is always literal; write a literal `{{` as `{{ '{{' }}`).
//!
//! # Performance
//!
//! A template compiles to one handlebars template; helpers are registered once per process; the escaper of every
//! placeholder is chosen at compile time; a [`TemplateContext`] is converted once and shared by every template of a
//! request. Rendering costs about what plain handlebars costs (see `benches/benches/template.rs`).
//!
//! # Pieces
//!
//! - [`Template`]: one template, compiled for a place.
//! - [`RequestTemplate`]: every template of an action's request (also polling and notify-webhook requests), rendered
//!   to a [`RenderedRequest`].
//! - [`Redactor`]: hides secrets in text, in their raw, JSON-escaped and percent-encoded forms.
//! - [`Checker`]: the [`TemplateChecker`] `cutover validate` uses.

mod check;
mod context;
mod date;
mod error;
mod escape;
mod filters;
mod generate;
mod helpers;
mod parse;
mod place;
mod redact;
mod request;
mod sample;
mod structured;
mod taint;
mod template;

pub use check::Checker;
pub use context::{ContextBuilder, TemplateContext};
pub use cutover_integrations_model::{TemplateChecker, TemplatePlace};
pub use error::{Location, TemplateError};
pub use parse::{MAX_BLOCK_NESTING, MAX_BLOCKS};
pub use redact::{MIN_SUBSTRING_SECRET_LEN, REDACTED, Redactor};
pub use request::{RenderedRequest, RequestParts, RequestTemplate};
pub use taint::SecretSet;
pub use template::{Reference, Template};

/// The filters of the dialect, with how each is written and what it does.
///
/// | filter | does |
/// |---|---|
/// | `downcase`, `upcase` | lower or upper case of the text |
/// | `capitalize` | first character upper case, the rest lower case |
/// | `strip` | removes leading and trailing whitespace |
/// | `replace: 'old', 'new'` | replaces every occurrence |
/// | `append: 'x'`, `prepend: 'x'` | adds text after or before |
/// | `default: x` | `x` when the value is missing, null, false, or an empty text, list or object |
/// | `plus: n`, `minus: n`, `times: n`, `divided_by: n` | arithmetic; texts holding numbers count as numbers; integer division rounds down; dividing by zero is an error |
/// | `size` | characters of a text, items of a list or object |
/// | `join`, `join: ', '` | joins a list's texts (default separator a space) |
/// | `split: ','` | splits a text into a list |
/// | `first`, `last` | the first or last item of a list (`split: '(' \| last` takes what follows the last `(`) |
/// | `url_encode` | percent-encodes all but `A-Z a-z 0-9 - . _ ~` (a space becomes `%20`) |
/// | `date: '%Y-%m-%d'` | formats an ISO 8601 date or timestamp (kept in its offset), Unix seconds, or `now`, with strftime directives |
/// | `json` | the value's JSON text |
/// | `parse_json` | parses a text as JSON (to insert a JSON text held in a custom field as a JSON value) |
pub const FILTERS: &[&str] = &[
    "downcase",
    "upcase",
    "capitalize",
    "strip",
    "replace",
    "append",
    "prepend",
    "default",
    "plus",
    "minus",
    "times",
    "divided_by",
    "size",
    "join",
    "split",
    "first",
    "last",
    "url_encode",
    "date",
    "json",
    "parse_json",
];

#[cfg(test)]
mod tests {
    #[test]
    fn compiled_forms_are_shared_across_threads() {
        fn shareable<T: Send + Sync + Clone>() {}
        shareable::<crate::Template>();
        shareable::<crate::RequestTemplate>();
        shareable::<crate::TemplateContext>();
        shareable::<crate::Redactor>();
    }

    #[test]
    fn the_filter_list_matches_the_parser() {
        let names: Vec<&str> = crate::filters::FilterKind::all().iter().map(|k| k.name()).collect();
        assert_eq!(names, crate::FILTERS);
    }
}
