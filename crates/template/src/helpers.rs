//! The handlebars helpers behind the dialect, registered once in a process-wide registry.
//!
//! Output helpers write a value with the escaper chosen at compile time; filter helpers compute values; `__key` reads
//! keys handlebars' path syntax cannot hold; `__lit` writes literal text; `__mark` writes trace markers. Failures carry
//! the *site* (first parameter) so that the template can point at the source.

use crate::escape::{
    URL_COMPONENT, URL_PATH_SEGMENT, forbidden_in_header, forbidden_in_url_host, forbidden_in_url_port,
    forbidden_in_url_prefix, json_string_content, value_text,
};
use crate::filters::{FilterKind, apply_default};
use crate::generate::{MARK_CLOSE, MARK_OPEN};
use crate::place::OutputKind;
use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, PathAndJson, RenderContext, RenderError,
    RenderErrorReason, ScopedJson,
};
use serde_json::Value;
use std::fmt;
use std::sync::LazyLock;

/// The registry every template renders with: strict, with our helpers, no escape function (our helpers escape).
pub(crate) static REGISTRY: LazyLock<Handlebars<'static>> = LazyLock::new(|| {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    registry.register_escape_fn(handlebars::no_escape);
    for kind in OutputKind::ALL {
        registry.register_helper(kind.helper_name(), Box::new(OutputHelper(kind)));
    }
    for &kind in FilterKind::all() {
        registry.register_helper(&kind.helper_name(), Box::new(FilterHelper(kind)));
    }
    registry.register_helper("__key", Box::new(KeyHelper));
    registry.register_helper("__lit", Box::new(LiteralHelper));
    registry.register_helper("__mark", Box::new(MarkHelper));
    registry
});

/// A failure at a site, raised by a helper and mapped back to the source by the template.
#[derive(Debug)]
pub(crate) struct HelperFailure {
    pub(crate) site: usize,
    pub(crate) kind: FailureKind,
}

#[derive(Debug)]
pub(crate) enum FailureKind {
    /// The placeholder's value is missing.
    MissingValue,
    /// The filter's argument at this index is missing.
    MissingArgument(usize),
    /// The filter refused its input or arguments.
    Filter(String),
    /// The value holds a character its place forbids.
    Forbidden(char),
}

impl fmt::Display for HelperFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "template failure at site {}: {:?}", self.site, self.kind)
    }
}

impl std::error::Error for HelperFailure {}

fn failure(site: usize, kind: FailureKind) -> RenderError {
    RenderErrorReason::NestedError(Box::new(HelperFailure { site, kind })).into()
}

fn site_of(h: &Helper<'_>) -> Result<usize, RenderError> {
    h.param(0)
        .and_then(|p| p.value().as_u64())
        .map(|s| s as usize)
        .ok_or_else(|| RenderErrorReason::ParamNotFoundForIndex("site", 0).into())
}

fn param<'a, 'rc>(h: &'a Helper<'rc>, index: usize) -> Result<&'a PathAndJson<'rc>, RenderError> {
    h.param(index).ok_or_else(|| RenderErrorReason::ParamNotFoundForIndex("value", index).into())
}

fn write(out: &mut dyn Output, text: &str) -> HelperResult {
    out.write(text).map_err(|e| RenderErrorReason::from(e).into())
}

/// `{{__KIND site value}}`: writes the value escaped for its place.
struct OutputHelper(OutputKind);

impl HelperDef for OutputHelper {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let site = site_of(h)?;
        let value = param(h, 1)?;
        if value.is_value_missing() {
            return Err(failure(site, FailureKind::MissingValue));
        }
        let value = value.value();
        match self.0 {
            OutputKind::JsonString => write(out, &json_string_content(&value_text(value))),
            OutputKind::JsonValue => write(out, &value.to_string()),
            OutputKind::UrlPrefix | OutputKind::UrlHost | OutputKind::UrlPort => {
                let text = value_text(value);
                let forbidden = match self.0 {
                    OutputKind::UrlHost => forbidden_in_url_host(&text),
                    OutputKind::UrlPort => forbidden_in_url_port(&text),
                    _ => forbidden_in_url_prefix(&text),
                };
                if let Some(c) = forbidden {
                    return Err(failure(site, FailureKind::Forbidden(c)));
                }
                write(out, &text)
            }
            OutputKind::UrlPathSegment | OutputKind::UrlComponent => {
                let text = value_text(value);
                let set = if self.0 == OutputKind::UrlPathSegment {
                    // `.` and `..` (even percent-encoded) are dot segments that URL parsers resolve: refuse them.
                    if !text.is_empty() && text.bytes().all(|b| b == b'.') {
                        return Err(failure(site, FailureKind::Forbidden('.')));
                    }
                    URL_PATH_SEGMENT
                } else {
                    URL_COMPONENT
                };
                for chunk in percent_encoding::utf8_percent_encode(&text, set) {
                    write(out, chunk)?;
                }
                Ok(())
            }
            OutputKind::Header => {
                let text = value_text(value);
                if let Some(c) = forbidden_in_header(&text) {
                    return Err(failure(site, FailureKind::Forbidden(c)));
                }
                write(out, &text)
            }
            OutputKind::Text => write(out, &value_text(value)),
        }
    }
}

/// `(__f_NAME site input args…)`: one filter.
struct FilterHelper(FilterKind);

impl HelperDef for FilterHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let site = site_of(h)?;
        let input = param(h, 1)?;
        let mut args = Vec::with_capacity(h.params().len().saturating_sub(2));
        for (index, arg) in h.params().iter().enumerate().skip(2) {
            if arg.is_value_missing() {
                return Err(failure(site, FailureKind::MissingArgument(index - 2)));
            }
            args.push(arg.value());
        }
        if self.0 == FilterKind::Default {
            let present = (!input.is_value_missing()).then(|| input.value());
            let result = apply_default(present, args[0]);
            crate::taint::flow(present.into_iter().chain(args.iter().copied()), &result);
            return Ok(ScopedJson::Derived(result));
        }
        if input.is_value_missing() {
            return Ok(ScopedJson::Missing);
        }
        let result =
            self.0.apply(input.value(), &args).map_err(|message| failure(site, FailureKind::Filter(message)))?;
        crate::taint::flow(std::iter::once(input.value()).chain(args.iter().copied()), &result);
        Ok(ScopedJson::Derived(result))
    }
}

/// `(__key base "key")`: `base[key]`, missing when absent.
struct KeyHelper;

impl HelperDef for KeyHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let base = param(h, 0)?;
        let key = param(h, 1)?.value().as_str().unwrap_or_default();
        if base.is_value_missing() {
            return Ok(ScopedJson::Missing);
        }
        let found = match base.value() {
            Value::Object(map) => map.get(key),
            Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        Ok(found.map_or(ScopedJson::Missing, |v| ScopedJson::Derived(v.clone())))
    }
}

/// `{{__lit "text"}}`: literal text that handlebars' own syntax cannot carry.
struct LiteralHelper;

impl HelperDef for LiteralHelper {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        write(out, param(h, 0)?.value().as_str().unwrap_or_default())
    }
}

/// `{{__mark id}}`: a trace marker (only in the trace variant of a template).
struct MarkHelper;

impl HelperDef for MarkHelper {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let id = param(h, 0)?.value().as_u64().unwrap_or_default();
        write(out, &format!("{MARK_OPEN}{id}{MARK_CLOSE}"))
    }
}
