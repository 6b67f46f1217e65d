//! Translation of the parsed dialect into handlebars source, once per template.
//!
//! Every placeholder becomes a call of the output helper its place chose (`{{__json_string 3 @root.[CustomField].[Slack
//! Channel]}}`), every filter a subexpression (`(__f_replace 4 (__f_downcase 5 @root.[Task].[name]) "a" "b")`), and
//! blocks pass through as handlebars blocks. The first parameter of our helpers is a *site*: an index into the
//! template's table of source spans, so that an error raised while rendering points at the exact placeholder or filter.
//!
//! Paths are written rooted (`@root.…`) when they start with a context root, so that they work inside `#each` too; keys
//! that handlebars' path syntax cannot hold (a `]`, an empty key) go through the `__key` helper instead.

use crate::parse::{Anchor, Block, Expr, Node, Operand, PathExpr, Span, Trim};
use crate::place::OutputKind;
use std::collections::HashMap;
use std::fmt::Write as _;

/// Where an error raised while rendering points.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    pub(crate) span: Span,
    pub(crate) kind: SiteKind,
}

#[derive(Debug, Clone)]
pub(crate) enum SiteKind {
    /// A placeholder; `head` is its value's path (text and span) when it reads one.
    Placeholder { head: Option<(String, Span)> },
    /// A filter; `args` holds, for each argument that is a path, its text and span.
    Filter { name: &'static str, args: Vec<Option<(String, Span)>> },
    /// A block tag; `path` is its value's path when it reads one.
    Block { name: &'static str, path: Option<String> },
}

/// What the generator produces.
#[derive(Debug, Default)]
pub(crate) struct Generated {
    /// The handlebars source.
    pub(crate) source: String,
    pub(crate) sites: Vec<Site>,
    /// `(offset in the handlebars source, site)` of every tag, in order, to place handlebars' own errors.
    pub(crate) tag_offsets: Vec<(usize, usize)>,
    /// With markers only: the source span of the element each marker precedes.
    pub(crate) marker_targets: Vec<MarkerTarget>,
}

/// The element a trace marker precedes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum MarkerTarget {
    Text(Span),
    Placeholder(Span),
}

/// Marks the start of an element's output in a trace render; values never hold these noncharacters in practice, and
/// if one did the only effect would be a less precise error position.
pub(crate) const MARK_OPEN: char = '\u{FDD0}';
pub(crate) const MARK_CLOSE: char = '\u{FDD1}';

pub(crate) struct Generator<'a> {
    source: &'a str,
    kinds: &'a HashMap<usize, OutputKind>,
    /// Whether to emit trace markers before text and placeholders.
    markers: bool,
    out: Generated,
}

impl<'a> Generator<'a> {
    pub(crate) fn new(source: &'a str, kinds: &'a HashMap<usize, OutputKind>, markers: bool) -> Self {
        Self { source, kinds, markers, out: Generated::default() }
    }

    pub(crate) fn generate(mut self, nodes: &[Node]) -> Generated {
        self.nodes(nodes);
        self.out
    }

    fn nodes(&mut self, nodes: &[Node]) {
        for node in nodes {
            match node {
                Node::Text(span) => {
                    self.marker(MarkerTarget::Text(*span));
                    let text = &self.source[span.start..span.end];
                    if text.ends_with('\\') {
                        // Handlebars reads a backslash before `{{` as an escape: write such text through a helper.
                        let literal = serde_json::Value::String(text.to_owned()).to_string();
                        let _ = write!(self.out.source, "{{{{__lit {literal}}}}}");
                    } else {
                        self.out.source.push_str(text);
                    }
                }
                Node::Comment(span) => self.out.source.push_str(&self.source[span.start..span.end]),
                Node::Placeholder(p) => {
                    self.marker(MarkerTarget::Placeholder(p.span));
                    let kind = self.kinds.get(&p.span.start).copied().unwrap_or(OutputKind::Text);
                    let head = match &p.expr.head {
                        Operand::Path(path) => Some((path.text.clone(), path.span)),
                        Operand::Literal { .. } => None,
                    };
                    let site = self.site(p.span, SiteKind::Placeholder { head });
                    let value = self.expr(&p.expr);
                    self.tag(p.trim, site, &format!("{} {site} {value}", kind.helper_name()));
                }
                Node::Block(block) => self.block(block),
            }
        }
    }

    fn marker(&mut self, target: MarkerTarget) {
        if self.markers {
            let id = self.out.marker_targets.len();
            self.out.marker_targets.push(target);
            let _ = write!(self.out.source, "{{{{__mark {id}}}}}");
        }
    }

    fn site(&mut self, span: Span, kind: SiteKind) -> usize {
        self.out.sites.push(Site { span, kind });
        self.out.sites.len() - 1
    }

    /// Writes `{{content}}` with its whitespace control, recording the tag's offset for `site`.
    fn tag(&mut self, trim: Trim, site: usize, content: &str) {
        self.out.tag_offsets.push((self.out.source.len(), site));
        let before = if trim.before { "~" } else { "" };
        let after = if trim.after { "~" } else { "" };
        let _ = write!(self.out.source, "{{{{{before}{content}{after}}}}}");
    }

    fn block(&mut self, block: &Block) {
        let name = block.kind.name();
        let path = match &block.arg.head {
            Operand::Path(p) if block.arg.filters.is_empty() => Some(p.text.clone()),
            _ => None,
        };
        let site = self.site(block.open, SiteKind::Block { name, path });
        let arg = self.expr(&block.arg);
        self.tag(block.open_trim, site, &format!("#{name} {arg}"));
        self.nodes(&block.body);
        for branch in &block.branches {
            let content = match &branch.chained {
                Some((kind, expr)) => {
                    let path = match &expr.head {
                        Operand::Path(p) if expr.filters.is_empty() => Some(p.text.clone()),
                        _ => None,
                    };
                    let branch_site = self.site(branch.tag, SiteKind::Block { name: kind.name(), path });
                    let arg = self.expr(expr);
                    self.tag(branch.trim, branch_site, &format!("else {} {arg}", kind.name()));
                    None
                }
                None => Some(()),
            };
            if content.is_some() {
                self.tag(branch.trim, site, "else");
            }
            self.nodes(&branch.body);
        }
        self.tag(block.close_trim, site, &format!("/{name}"));
    }

    /// The handlebars parameter that evaluates `expr`.
    fn expr(&mut self, expr: &Expr) -> String {
        let mut value = self.operand(&expr.head);
        for filter in &expr.filters {
            let args: Vec<Option<(String, Span)>> = filter
                .args
                .iter()
                .map(|a| match a {
                    Operand::Path(p) => Some((p.text.clone(), p.span)),
                    Operand::Literal { .. } => None,
                })
                .collect();
            let site = self.site(filter.name_span, SiteKind::Filter { name: filter.kind.name(), args });
            let mut call = format!("({} {site} {value}", filter.kind.helper_name());
            for arg in &filter.args {
                call.push(' ');
                call.push_str(&self.operand(arg));
            }
            call.push(')');
            value = call;
        }
        value
    }

    fn operand(&self, operand: &Operand) -> String {
        match operand {
            Operand::Literal { value, .. } => match value {
                // Handlebars' number syntax has no exponent and JSON none of `007` or `1.`: write plain decimals.
                serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                    (Some(int), _) => int.to_string(),
                    (None, Some(float)) => format!("{float}"),
                    (None, None) => n.to_string(),
                },
                other => other.to_string(),
            },
            Operand::Path(path) => path_param(path),
        }
    }
}

/// Whether handlebars' `[…]` segment syntax can hold `key`.
fn bracketable(key: &str) -> bool {
    !key.is_empty() && !key.contains(']')
}

/// The handlebars parameter that reads `path`.
pub(crate) fn path_param(path: &PathExpr) -> String {
    let (mut base, segments) = match &path.anchor {
        Anchor::Local(name) => (format!("@{name}"), &path.segments[..]),
        Anchor::Root => (String::from("@root"), &path.segments[..]),
        Anchor::Relative { up } => ("../".repeat(*up), &path.segments[..]),
    };
    let plain = segments.iter().take_while(|s| bracketable(s)).count();
    let mut first = true;
    for segment in &segments[..plain] {
        let separator = if first && (base.is_empty() || base.ends_with('/')) { "" } else { "." };
        let _ = write!(base, "{separator}[{segment}]");
        first = false;
    }
    if base.is_empty() || base.ends_with('/') {
        base.push_str("this");
    }
    for segment in &segments[plain..] {
        base = format!("(__key {base} {})", serde_json::Value::String(segment.clone()));
    }
    base
}
