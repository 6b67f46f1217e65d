//! [`Template`]: compile once (parse, decide escaping by place, translate to handlebars), render many times.

use crate::TemplateError;
use crate::context::TemplateContext;
use crate::error::{Location, Locator};
use crate::generate::{Generator, MARK_CLOSE, MARK_OPEN, MarkerTarget, Site, SiteKind};
use crate::helpers::{FailureKind, HelperFailure, REGISTRY};
use crate::parse::{Node, PathExpr, parse, visit_paths};
use crate::place::{OutputKind, TypedLeaf, analyze, typed_leaf};
use crate::sample::sample_context;
use crate::taint::SecretSet;
use cutover_integrations_model::TemplatePlace;
use handlebars::{RenderContext, RenderError, RenderErrorReason, Renderable};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// A compiled template: parse once with [`Template::compile`], render many times with [`Template::render`].
///
/// Compiling parses our dialect with positions, decides for every placeholder how its value is escaped in the template's
/// [`TemplatePlace`] (see the crate docs), and translates the template into handlebars once. Rendering runs the
/// compiled handlebars template with helpers registered once per process; it does no parsing and no analysis.
///
/// In JSON places the result is always valid JSON or an error: a template whose validity does not depend on the values
/// (no blocks, every placeholder inside a string or standing alone as a value) is proven valid at compile time with
/// sample values and is not re-checked; any other is checked after every render.
///
/// A `Template` is cheap to clone (the compiled form is shared) and can be rendered from many threads at once.
#[derive(Clone)]
pub struct Template {
    inner: Arc<Compiled>,
}

/// The compiled form of a template.
struct Compiled {
    source: String,
    place: TemplatePlace,
    nodes: Vec<Node>,
    kinds: HashMap<usize, OutputKind>,
    compiled: handlebars::Template,
    /// Where each site is in the source; the positions of the compiled template's elements are `site + 1`.
    sites: Vec<Site>,
    json_check: JsonCheck,
    /// A structured body's leaf that renders a typed value; `None` for text leaves and other places.
    typed_leaf: Option<TypedLeaf>,
    trace: OnceLock<Option<Trace>>,
}

/// How the JSON validity of results is ensured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonCheck {
    /// Not a JSON place.
    NotJson,
    /// Proven at compile time for every context.
    Proven,
    /// Checked after every render.
    EveryRender,
}

/// The variant of a template with markers, compiled on the first error that needs to map output back to source.
#[derive(Clone)]
struct Trace {
    compiled: handlebars::Template,
    targets: Vec<MarkerTarget>,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template")
            .field("place", &self.inner.place)
            .field("source", &self.inner.source)
            .finish_non_exhaustive()
    }
}

/// Collects rendered text straight into a `String` (handlebars' `StringOutput` re-validates UTF-8 at the end).
struct StringSink(String);

impl handlebars::Output for StringSink {
    fn write(&mut self, segment: &str) -> std::io::Result<()> {
        self.0.push_str(segment);
        Ok(())
    }
}

impl Template {
    /// Compiles `source` for `place`. Errors are [`TemplateError::Syntax`] with the position, and, in JSON places,
    /// [`TemplateError::InvalidJson`] when the template cannot render valid JSON whatever the values.
    pub fn compile(source: &str, place: TemplatePlace) -> Result<Self, TemplateError> {
        let nodes = parse(source)?;
        let analysis = analyze(source, &nodes, place)?;
        let generated =
            Generator::new(source, &analysis.kinds, false).generate(&nodes).map_err(|e| TemplateError::Syntax {
                at: Location::in_source(source, 0),
                message: format!(
                    "the template could not be translated to handlebars ({e}); please report this as a bug"
                ),
            })?;
        let is_json = matches!(place, TemplatePlace::JsonPayload | TemplatePlace::JsonParams);
        let typed_leaf = if place == TemplatePlace::StructuredLeaf { typed_leaf(&nodes) } else { None };
        let mut compiled = Compiled {
            source: source.to_owned(),
            place,
            nodes,
            kinds: analysis.kinds,
            compiled: generated.template,
            sites: generated.sites,
            json_check: if is_json { JsonCheck::EveryRender } else { JsonCheck::NotJson },
            typed_leaf,
            trace: OnceLock::new(),
        };
        if is_json && analysis.proof_candidate {
            match compiled.render(&sample_context(&compiled.nodes)) {
                Ok(_) => compiled.json_check = JsonCheck::Proven,
                Err(error @ TemplateError::InvalidJson { .. }) => return Err(error),
                // A sample value a filter refuses proves nothing either way: check every render.
                Err(_) => {}
            }
        }
        Ok(Self { inner: Arc::new(compiled) })
    }

    /// Renders against `context`. Values computed from the context's secrets are not reported: use
    /// [`Template::render_tracked`] to redact the result.
    pub fn render(&self, context: &TemplateContext) -> Result<String, TemplateError> {
        self.inner.render(context)
    }

    /// Renders against `context` with `secrets` known: every value a filter computes from one of them is added to
    /// `secrets` (see [`SecretSet`]), so that a redactor of the set hides them in the result too.
    pub fn render_tracked(&self, context: &TemplateContext, secrets: &mut SecretSet) -> Result<String, TemplateError> {
        secrets.track(|| self.inner.render(context))
    }

    /// Renders a leaf of a structured body to the JSON value it stands for, with `secrets` known as in
    /// [`Template::render_tracked`]: the rendered text as a JSON string, or for a typed leaf (one placeholder ending in
    /// a typed filter, see [`TemplatePlace::StructuredLeaf`]) the value the filter computed. A template compiled for
    /// another place renders to a JSON string of its text.
    ///
    /// ```
    /// use cutover_integrations_template::{Template, TemplateContext, TemplatePlace};
    /// use serde_json::json;
    /// let context = TemplateContext::builder().custom_field("Count", "41").custom_field("Tags", "a,b").build();
    /// let mut secrets = Default::default();
    /// let leaf = |source: &str| Template::compile(source, TemplatePlace::StructuredLeaf).unwrap();
    /// let count = leaf("{{ CustomField['Count'] | plus: 1 }}").render_value_tracked(&context, &mut secrets)?;
    /// let tags = leaf("{{ CustomField['Tags'] | split: ',' | json }}").render_value_tracked(&context, &mut secrets)?;
    /// let text = leaf("n = {{ CustomField['Count'] | plus: 1 }}").render_value_tracked(&context, &mut secrets)?;
    /// assert_eq!((count, tags, text), (json!(42), json!(["a", "b"]), json!("n = 42")));
    /// # Ok::<(), cutover_integrations_template::TemplateError>(())
    /// ```
    pub fn render_value_tracked(
        &self,
        context: &TemplateContext,
        secrets: &mut SecretSet,
    ) -> Result<serde_json::Value, TemplateError> {
        let rendered = self.render_tracked(context, secrets)?;
        let Some(typed) = self.inner.typed_leaf else {
            return Ok(serde_json::Value::String(rendered));
        };
        let invalid = |error: serde_json::Error| TemplateError::InvalidResult {
            message: format!("the value is not JSON ({error}); please report this as a bug"),
        };
        let value: serde_json::Value = serde_json::from_str(&rendered).map_err(invalid)?;
        match (typed, value) {
            (TypedLeaf::JsonText, serde_json::Value::String(text)) => serde_json::from_str(&text).map_err(invalid),
            (_, value) => Ok(value),
        }
    }

    /// The template source.
    pub fn source(&self) -> &str {
        &self.inner.source
    }

    /// The place the template was compiled for.
    pub fn place(&self) -> TemplatePlace {
        self.inner.place
    }

    /// Whether JSON validity was proven at compile time, so that renders skip the check (JSON places only).
    pub fn json_proven(&self) -> bool {
        self.inner.json_check == JsonCheck::Proven
    }

    /// Every path the template reads from the context root, with its position, in source order.
    pub fn references(&self) -> Vec<Reference> {
        let mut references = Vec::new();
        let mut locator = Locator::new(&self.inner.source);
        visit_paths(&self.inner.nodes, &mut |path: &PathExpr| {
            if path.anchor == crate::parse::Anchor::Root {
                references.push(Reference {
                    segments: path.segments.clone(),
                    text: path.text.clone(),
                    at: locator.locate(path.span.start),
                });
            }
        });
        references
    }

    /// The paths that decide where a URL template sends a request (its scheme, host or port, blocks around them
    /// included) and that operators or third parties can change: every root path except `SystemParameter`, which only
    /// administrators set. Empty for other places.
    ///
    /// ```
    /// use cutover_integrations_template::{Template, TemplatePlace};
    /// let url = "https://{{CustomField['Instance']}}.service-now.com/api/{{Task.id}}";
    /// let template = Template::compile(url, TemplatePlace::Url).unwrap();
    /// let texts: Vec<_> = template.host_references().into_iter().map(|r| r.text).collect();
    /// assert_eq!(texts, ["CustomField['Instance']"]);
    /// let admin = Template::compile("{{SystemParameter['base']}}/api/{{Task.id}}", TemplatePlace::Url).unwrap();
    /// assert!(admin.host_references().is_empty());
    /// ```
    pub fn host_references(&self) -> Vec<Reference> {
        let mut references = Vec::new();
        if self.inner.place != TemplatePlace::Url {
            return references;
        }
        let source = &self.inner.source;
        let mut component = crate::place::UrlComponent::Scheme;
        crate::place::url_nodes(source, &self.inner.nodes, &mut component, &mut |node, component| {
            if !component.is_origin() {
                return;
            }
            let mut push = |path: &PathExpr| {
                let admin = path.segments.first().is_some_and(|root| root == "SystemParameter");
                if path.anchor == crate::parse::Anchor::Root && !admin {
                    references.push(Reference {
                        segments: path.segments.clone(),
                        text: path.text.clone(),
                        at: Location::in_source(source, path.span.start),
                    });
                }
            };
            match node {
                Node::Placeholder(_) => visit_paths(std::slice::from_ref(node), &mut push),
                Node::Block(block) => {
                    crate::parse::visit_expr_paths(&block.arg, &mut push);
                    for branch in &block.branches {
                        if let Some((_, expr)) = &branch.chained {
                            crate::parse::visit_expr_paths(expr, &mut push);
                        }
                    }
                }
                Node::Text(_) | Node::Comment(_) => {}
            }
        });
        references
    }

    /// A context where every path the template reads has a sample value (see [`crate::Checker`]).
    pub(crate) fn sample_context(&self) -> TemplateContext {
        sample_context(&self.inner.nodes)
    }
}

impl Compiled {
    fn render(&self, context: &TemplateContext) -> Result<String, TemplateError> {
        let mut out = StringSink(String::with_capacity(self.source.len() + 64));
        let mut rc = RenderContext::new(None);
        self.compiled
            .render(&REGISTRY, &context.inner, &mut rc, &mut out)
            .map_err(|error| self.render_error(&error))?;
        if self.json_check == JsonCheck::EveryRender
            && let Err(error) = serde_json::from_str::<serde::de::IgnoredAny>(&out.0)
        {
            return Err(self.json_error(context, &out.0, &error));
        }
        Ok(out.0)
    }

    fn at(&self, offset: usize) -> Location {
        Location::in_source(&self.source, offset)
    }

    fn render_error(&self, error: &RenderError) -> TemplateError {
        if let RenderErrorReason::NestedError(inner) = error.reason()
            && let Some(failure) = inner.downcast_ref::<HelperFailure>()
        {
            return self.failure_error(failure);
        }
        // The generator labels every element with its site + 1 in place of a line number.
        let site = error.line_no.and_then(|line| line.checked_sub(1));
        let Some(site) = site.and_then(|s| self.sites.get(s)) else {
            return TemplateError::Block { at: self.at(0), path: None, message: error.reason().to_string() };
        };
        let (message, path) = match (&site.kind, error.reason()) {
            (SiteKind::Block { name, path }, RenderErrorReason::MissingVariable(_)) => (
                match path {
                    Some(p) => format!("`#{name}` needs a list or an object, and `{p}` is missing or is neither"),
                    None => format!("`#{name}` needs a list or an object"),
                },
                path.clone(),
            ),
            (SiteKind::Block { name, path }, reason) => (format!("`#{name}`: {reason}"), path.clone()),
            (_, reason) => (reason.to_string(), None),
        };
        TemplateError::Block { at: self.at(site.span.start), path, message }
    }

    fn failure_error(&self, failure: &HelperFailure) -> TemplateError {
        let Some(site) = self.sites.get(failure.site) else {
            return TemplateError::Block { at: self.at(0), path: None, message: format!("{failure}") };
        };
        let placeholder_text = || self.source[site.span.start..site.span.end].to_owned();
        match (&failure.kind, &site.kind) {
            (FailureKind::MissingValue, SiteKind::Placeholder { head: Some((path, span)) }) => {
                TemplateError::MissingValue { at: self.at(span.start), path: path.clone() }
            }
            (FailureKind::MissingArgument(index), SiteKind::Filter { args, .. }) => match args.get(*index) {
                Some(Some((path, span))) => TemplateError::MissingValue { at: self.at(span.start), path: path.clone() },
                _ => TemplateError::MissingValue { at: self.at(site.span.start), path: placeholder_text() },
            },
            (FailureKind::Filter(message), SiteKind::Filter { name, .. }) => TemplateError::Filter {
                at: self.at(site.span.start),
                filter: (*name).to_owned(),
                message: message.clone(),
            },
            (FailureKind::Forbidden(character), SiteKind::Placeholder { head }) => {
                let kind = self.kinds.get(&site.span.start).copied();
                TemplateError::ForbiddenCharacter {
                    at: self.at(site.span.start),
                    path: head.as_ref().map_or_else(placeholder_text, |(path, _)| path.clone()),
                    character: *character,
                    place: match kind {
                        Some(OutputKind::Header) => "a header value",
                        Some(OutputKind::UrlPathSegment) => {
                            "a URL path segment value made only of dots (it would move up the path)"
                        }
                        Some(OutputKind::UrlHost) => "a URL's host (only a host name or an IP address)",
                        Some(OutputKind::UrlPort) => "a URL's port (only digits)",
                        _ => "a URL's scheme and host",
                    },
                }
            }
            _ => TemplateError::MissingValue { at: self.at(site.span.start), path: placeholder_text() },
        }
    }

    /// The error for a rendered `text` that is not JSON, located by a trace render against the same context.
    fn json_error(&self, context: &TemplateContext, text: &str, error: &serde_json::Error) -> TemplateError {
        let message = json_message(error);
        let at = self.locate_json_error(context).unwrap_or_else(|| {
            // Without a trace, fall back to the template offset matching the output offset, clamped.
            self.at(json_error_offset(text, error).min(self.source.len().saturating_sub(1)))
        });
        TemplateError::InvalidJson { at, message }
    }

    fn trace(&self) -> Option<&Trace> {
        self.trace
            .get_or_init(|| {
                let generated = Generator::new(&self.source, &self.kinds, true).generate(&self.nodes).ok()?;
                Some(Trace { compiled: generated.template, targets: generated.marker_targets })
            })
            .as_ref()
    }

    /// Renders the trace variant, finds where its output stops being JSON, and maps that back to the source.
    fn locate_json_error(&self, context: &TemplateContext) -> Option<Location> {
        let trace = self.trace()?;
        let mut out = StringSink(String::new());
        let mut rc = RenderContext::new(None);
        trace.compiled.render(&REGISTRY, &context.inner, &mut rc, &mut out).ok()?;
        let (clean, marks) = strip_markers(&out.0);
        let error = serde_json::from_str::<serde::de::IgnoredAny>(&clean).err()?;
        let offset = json_error_offset(&clean, &error);
        let index = marks.partition_point(|&(o, _)| o <= offset).checked_sub(1)?;
        let (start, id) = marks[index];
        let end = marks.get(index + 1).map_or(clean.len(), |m| m.0);
        let source_offset = match *trace.targets.get(id)? {
            MarkerTarget::Placeholder(span) => span.start,
            MarkerTarget::Text(span) => {
                let source_text = &self.source[span.start..span.end];
                let rendered = &clean[start..end];
                let base = source_text.find(rendered).unwrap_or(0);
                (span.start + base + (offset - start)).min(span.end.saturating_sub(1))
            }
        };
        Some(self.at(source_offset))
    }
}

/// A path a template reads from the context root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The root and keys: `["CustomField", "Slack Channel"]`.
    pub segments: Vec<String>,
    /// The path as written.
    pub text: String,
    /// Where it is written.
    pub at: Location,
}

/// The parser's message without serde_json's " at line L column C" suffix.
fn json_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// The byte offset serde_json's line and column point at.
fn json_error_offset(text: &str, error: &serde_json::Error) -> usize {
    let line_start: usize = text.split_inclusive('\n').take(error.line().saturating_sub(1)).map(str::len).sum();
    (line_start + error.column().saturating_sub(1)).min(text.len())
}

/// Removes trace markers, returning the clean text and `(offset in clean text, marker id)` pairs.
fn strip_markers(text: &str) -> (String, Vec<(usize, usize)>) {
    let mut clean = String::with_capacity(text.len());
    let mut marks = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(MARK_OPEN) {
        clean.push_str(&rest[..open]);
        let after = &rest[open + MARK_OPEN.len_utf8()..];
        match after.find(MARK_CLOSE) {
            Some(close) if after[..close].bytes().all(|b| b.is_ascii_digit()) => {
                if let Ok(id) = after[..close].parse() {
                    marks.push((clean.len(), id));
                }
                rest = &after[close + MARK_CLOSE.len_utf8()..];
            }
            _ => {
                clean.push(MARK_OPEN);
                rest = after;
            }
        }
    }
    clean.push_str(rest);
    (clean, marks)
}
