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
use handlebars::template::{Parameter, TemplateElement};
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
pub(crate) struct Generated {
    /// The compiled handlebars template.
    pub(crate) template: handlebars::Template,
    pub(crate) sites: Vec<Site>,
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

/// Handlebars compiles at most about this many bytes at once (see [`Generator`]).
const PIECE_BYTES: usize = 1024;

/// The stand-in for a block body's middle, compiled apart and spliced in after the piece around it is compiled.
const SPLICE: &str = "__splice";

/// Translates parsed templates into a compiled handlebars template.
///
/// Handlebars' compiler costs time proportional to the template's length for every element it reads (it computes each
/// element's line and column from the start), so a large template is never given to it whole: the handlebars source
/// is written and compiled in pieces of about [`PIECE_BYTES`], whose elements are joined, and the middle of a large
/// block body is compiled apart and spliced into the compiled block. Pieces are cut only where the compiler's
/// whitespace rules (standalone lines, `~`) cannot tell the difference (see [`boundary`]), so the result is the
/// template handlebars would compile from the whole source. Element positions are replaced by site numbers: a
/// handlebars render error carries `site + 1` as its line.
pub(crate) struct Generator<'a> {
    source: &'a str,
    kinds: &'a HashMap<usize, OutputKind>,
    /// Whether to emit trace markers before text and placeholders.
    markers: bool,
    piece_bytes: usize,
    sites: Vec<Site>,
    marker_targets: Vec<MarkerTarget>,
    /// The handlebars source of the piece being written.
    piece: String,
    /// `(offset in the piece, site)` of every tag of the piece, in order.
    tag_offsets: Vec<(usize, usize)>,
    /// Compiled middles of block bodies, by the number their stand-in carries.
    splices: Vec<Option<handlebars::Template>>,
}

impl<'a> Generator<'a> {
    pub(crate) fn new(source: &'a str, kinds: &'a HashMap<usize, OutputKind>, markers: bool) -> Self {
        Self {
            source,
            kinds,
            markers,
            piece_bytes: PIECE_BYTES,
            sites: Vec::new(),
            marker_targets: Vec::new(),
            piece: String::new(),
            tag_offsets: Vec::new(),
            splices: Vec::new(),
        }
    }

    /// Compiles in pieces of about `bytes` instead (tests: 1 cuts wherever possible, `usize::MAX` never).
    #[cfg(test)]
    pub(crate) fn with_piece_bytes(mut self, bytes: usize) -> Self {
        self.piece_bytes = bytes;
        self
    }

    pub(crate) fn generate(mut self, nodes: &[Node]) -> Result<Generated, handlebars::TemplateError> {
        let template = self.build(nodes)?;
        Ok(Generated { template, sites: self.sites, marker_targets: self.marker_targets })
    }

    /// Compiles `nodes` (siblings) into one handlebars template, piece by piece.
    fn build(&mut self, nodes: &[Node]) -> Result<handlebars::Template, handlebars::TemplateError> {
        let outer_piece = std::mem::take(&mut self.piece);
        let outer_offsets = std::mem::take(&mut self.tag_offsets);
        let mut template = handlebars::Template::new();
        let mut pending = Pending::default();
        for (index, node) in nodes.iter().enumerate() {
            self.node(node)?;
            pending = pending.after(self.source, node);
            if self.piece.len() >= self.piece_bytes && pending.is_clear() && boundary(self.source, nodes, index + 1) {
                self.flush(&mut template)?;
            }
        }
        self.flush(&mut template)?;
        self.piece = outer_piece;
        self.tag_offsets = outer_offsets;
        Ok(template)
    }

    /// Compiles the piece written so far and appends its elements to `into`.
    fn flush(&mut self, into: &mut handlebars::Template) -> Result<(), handlebars::TemplateError> {
        if self.piece.is_empty() {
            return Ok(());
        }
        let mut compiled = handlebars::Template::compile(&self.piece)?;
        let mut sites =
            SiteLabels { piece: &self.piece, tag_offsets: &self.tag_offsets, offset: 0, line: 1, column: 1 };
        sites.label(&mut compiled);
        splice(&mut compiled, &mut self.splices);
        into.elements.append(&mut compiled.elements);
        into.mapping.append(&mut compiled.mapping);
        self.piece.clear();
        self.tag_offsets.clear();
        Ok(())
    }

    fn nodes(&mut self, nodes: &[Node]) -> Result<(), handlebars::TemplateError> {
        for node in nodes {
            self.node(node)?;
        }
        Ok(())
    }

    fn node(&mut self, node: &Node) -> Result<(), handlebars::TemplateError> {
        match node {
            Node::Text(span) => {
                self.marker(MarkerTarget::Text(*span));
                let text = &self.source[span.start..span.end];
                if text.ends_with('\\') {
                    // Handlebars reads a backslash before `{{` as an escape: write such text through a helper.
                    let literal = serde_json::Value::String(text.to_owned()).to_string();
                    let _ = write!(self.piece, "{{{{__lit {literal}}}}}");
                } else {
                    self.piece.push_str(text);
                }
            }
            Node::Comment(span) => self.piece.push_str(&self.source[span.start..span.end]),
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
            Node::Block(block) => self.block(block)?,
        }
        Ok(())
    }

    fn marker(&mut self, target: MarkerTarget) {
        if self.markers {
            let id = self.marker_targets.len();
            self.marker_targets.push(target);
            let _ = write!(self.piece, "{{{{__mark {id}}}}}");
        }
    }

    fn site(&mut self, span: Span, kind: SiteKind) -> usize {
        self.sites.push(Site { span, kind });
        self.sites.len() - 1
    }

    /// Writes `{{content}}` with its whitespace control, recording the tag's offset for `site`.
    fn tag(&mut self, trim: Trim, site: usize, content: &str) {
        self.tag_offsets.push((self.piece.len(), site));
        let before = if trim.before { "~" } else { "" };
        let after = if trim.after { "~" } else { "" };
        let _ = write!(self.piece, "{{{{{before}{content}{after}}}}}");
    }

    fn block(&mut self, block: &Block) -> Result<(), handlebars::TemplateError> {
        let name = block.kind.name();
        let path = match &block.arg.head {
            Operand::Path(p) if block.arg.filters.is_empty() => Some(p.text.clone()),
            _ => None,
        };
        let site = self.site(block.open, SiteKind::Block { name, path });
        let arg = self.expr(&block.arg);
        self.tag(block.open_trim, site, &format!("#{name} {arg}"));
        self.body(&block.body, block.open_trim)?;
        for branch in &block.branches {
            match &branch.chained {
                Some((kind, expr)) => {
                    let path = match &expr.head {
                        Operand::Path(p) if expr.filters.is_empty() => Some(p.text.clone()),
                        _ => None,
                    };
                    let branch_site = self.site(branch.tag, SiteKind::Block { name: kind.name(), path });
                    let arg = self.expr(expr);
                    self.tag(branch.trim, branch_site, &format!("else {} {arg}", kind.name()));
                }
                None => self.tag(branch.trim, site, "else"),
            }
            self.body(&branch.body, branch.trim)?;
        }
        self.tag(block.close_trim, site, &format!("/{name}"));
        Ok(())
    }

    /// Writes a block body, which follows a tag with whitespace control `opener`; the middle of a large body is
    /// compiled apart and written as a stand-in.
    fn body(&mut self, nodes: &[Node], opener: Trim) -> Result<(), handlebars::TemplateError> {
        let size = match (nodes.first(), nodes.last()) {
            (Some(first), Some(last)) => node_span(last).end - node_span(first).start,
            _ => 0,
        };
        if size >= self.piece_bytes {
            let mut pending_at = vec![Pending::after_opener(self.source, opener, nodes)];
            for node in nodes {
                let before = pending_at[pending_at.len() - 1];
                pending_at.push(before.after(self.source, node));
            }
            let mut cuts = (0..=nodes.len()).filter(|&k| pending_at[k].is_clear() && boundary(self.source, nodes, k));
            if let (Some(first), Some(last)) = (cuts.next(), cuts.next_back()) {
                self.nodes(&nodes[..first])?;
                let middle = self.build(&nodes[first..last])?;
                let _ = write!(self.piece, "{{{{{SPLICE} {}}}}}", self.splices.len());
                self.splices.push(Some(middle));
                return self.nodes(&nodes[last..]);
            }
        }
        self.nodes(nodes)
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

/// Where a node starts and ends in the template.
fn node_span(node: &Node) -> Span {
    match node {
        Node::Text(span) | Node::Comment(span) => *span,
        Node::Placeholder(p) => p.span,
        Node::Block(b) => Span { start: b.open.start, end: b.close.end },
    }
}

/// Whether the handlebars source of a text node starts (or ends) with a character that is not whitespace. A text
/// ending with `\` is written as a `__lit` tag, which is not whitespace either.
fn text_solid(source: &str, span: Span, at_end: bool) -> bool {
    let text = &source[span.start..span.end];
    let c = if at_end { text.chars().next_back() } else { text.chars().next() };
    text.ends_with('\\') || c.is_some_and(|c| !c.is_whitespace())
}

/// Whether `node`'s first (or last) character in the handlebars source is not whitespace.
fn edge_solid(source: &str, node: &Node, at_end: bool) -> bool {
    match node {
        Node::Text(span) => text_solid(source, *span, at_end),
        Node::Placeholder(_) | Node::Block(_) | Node::Comment(_) => true,
    }
}

/// Whether handlebars may compile the nodes before position `k` of `nodes` (siblings) apart from the nodes after it.
///
/// Handlebars' whitespace rules look across elements: a block tag or comment alone on its line (only whitespace
/// before it since the line start or the start of the source, and after it up to the line end or the end of the
/// source) is removed with its line; `{{~` and `~}}` trim the neighbouring text. A cut changes what a tag sees only
/// when the cut is next to it with whitespace between, or makes it first or last in a source. So a cut is allowed
/// where the character on each side is not whitespace and neither side is a block tag or comment that could then
/// stand alone: after a placeholder, a text ending with non-whitespace, or a block whose closing tag follows
/// non-whitespace; before a placeholder, a text starting with non-whitespace, or a block whose opening tag is followed
/// by non-whitespace. A text ending with whitespace may also precede the cut when a placeholder without `{{~` follows
/// (a placeholder never stands alone, and a text ends the same in both). The start and the end of `nodes` count as
/// solid: a block body's middle is cut this way, and the block's tags then neighbour the stand-in. The compiler's
/// state carried from element to element must also be clear at the cut (see [`Pending`]).
fn boundary(source: &str, nodes: &[Node], k: usize) -> bool {
    let after = nodes.get(k);
    let left = match k.checked_sub(1).map(|i| &nodes[i]) {
        None => true,
        Some(Node::Placeholder(_)) => true,
        Some(Node::Text(span)) => {
            text_solid(source, *span, true) || matches!(after, Some(Node::Placeholder(p)) if !p.trim.before)
        }
        Some(Node::Block(b)) => {
            let last_body = b.branches.last().map_or(&b.body, |branch| &branch.body);
            last_body.last().is_none_or(|n| edge_solid(source, n, true))
        }
        Some(Node::Comment(_)) => false,
    };
    let right = match after {
        None | Some(Node::Placeholder(_)) => true,
        Some(Node::Text(span)) => text_solid(source, *span, false),
        Some(Node::Block(b)) => b.body.first().is_none_or(|n| edge_solid(source, n, false)),
        Some(Node::Comment(_)) => false,
    };
    left && right
}

/// What handlebars' compiler carries from one element to the next, over-approximated: whether a tag's `~}}` still
/// trims the next texts (it holds until the next tag; comments do not end it), and whether the removal of a standalone
/// line may still strip the start of the next text (a standalone block tag or comment sets it; a text read while
/// nothing trims ends it). A cut is allowed only where neither is pending.
#[derive(Debug, Clone, Copy, Default)]
struct Pending {
    trim: bool,
    line: bool,
}

impl Pending {
    /// At the start of a block body after a tag with `opener`'s whitespace control. The tag can stand alone only if
    /// the body starts with whitespace.
    fn after_opener(source: &str, opener: Trim, body: &[Node]) -> Self {
        let line = matches!(body.first(), Some(Node::Text(span)) if !text_solid(source, *span, false));
        Self { trim: opener.after, line }
    }

    fn after(self, source: &str, node: &Node) -> Self {
        match node {
            Node::Placeholder(p) => Self { trim: p.trim.after, line: self.line },
            // A text ending with `\` is written as a `__lit` tag.
            Node::Text(span) if source[span.start..span.end].ends_with('\\') => Self { trim: false, line: self.line },
            Node::Text(_) => Self { trim: self.trim, line: self.line && self.trim },
            Node::Comment(_) => Self { trim: self.trim, line: true },
            Node::Block(b) => {
                // The closing tag cannot stand alone when non-whitespace precedes it.
                let last_body = b.branches.last().map_or(&b.body, |branch| &branch.body);
                let line = !last_body.last().is_none_or(|n| edge_solid(source, n, true));
                Self { trim: b.close_trim.after, line }
            }
        }
    }

    fn is_clear(self) -> bool {
        !self.trim && !self.line
    }
}

/// Replaces the positions handlebars recorded for a piece's elements by `site + 1` (0 where no tag precedes).
struct SiteLabels<'p> {
    piece: &'p str,
    tag_offsets: &'p [(usize, usize)],
    /// A cursor: the byte offset of `line`:`column` (handlebars counts columns in characters).
    offset: usize,
    line: usize,
    column: usize,
}

impl SiteLabels<'_> {
    /// Elements are visited in source order, so the cursor moves forward over the piece once.
    fn label(&mut self, template: &mut handlebars::Template) {
        for (element, mapping) in template.elements.iter_mut().zip(template.mapping.iter_mut()) {
            let site = self.offset_of(mapping.0, mapping.1).and_then(|offset| {
                let index = self.tag_offsets.partition_point(|&(o, _)| o <= offset).checked_sub(1)?;
                Some(self.tag_offsets[index].1)
            });
            mapping.0 = site.map_or(0, |site| site + 1);
            mapping.1 = 0;
            if let TemplateElement::HelperBlock(helper) = element {
                for inner in [&mut helper.template, &mut helper.inverse].into_iter().flatten() {
                    self.label(inner);
                }
            }
        }
    }

    fn offset_of(&mut self, line: usize, column: usize) -> Option<usize> {
        if (line, column) < (self.line, self.column) {
            (self.offset, self.line, self.column) = (0, 1, 1);
        }
        let mut chars = self.piece[self.offset..].chars();
        while (self.line, self.column) < (line, column) {
            let c = chars.next()?;
            self.offset += c.len_utf8();
            if c == '\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
        Some(self.offset)
    }
}

/// Replaces every stand-in element of `template` by the elements of the middle it stands for.
fn splice(template: &mut handlebars::Template, splices: &mut [Option<handlebars::Template>]) {
    let is_stand_in = |element: &TemplateElement| match element {
        TemplateElement::Expression(helper) if helper.name.as_name() == Some(SPLICE) => match helper.params.first() {
            Some(Parameter::Literal(serde_json::Value::Number(n))) => n.as_u64().map(|n| n as usize),
            _ => None,
        },
        _ => None,
    };
    let has_stand_in = template.elements.iter().any(|e| is_stand_in(e).is_some());
    if has_stand_in {
        let elements = std::mem::take(&mut template.elements);
        let mapping = std::mem::take(&mut template.mapping);
        for (element, position) in elements.into_iter().zip(mapping) {
            match is_stand_in(&element).and_then(|index| splices.get_mut(index)?.take()) {
                Some(mut middle) => {
                    template.elements.append(&mut middle.elements);
                    template.mapping.append(&mut middle.mapping);
                }
                None => {
                    template.elements.push(element);
                    template.mapping.push(position);
                }
            }
        }
    }
    for element in &mut template.elements {
        if let TemplateElement::HelperBlock(helper) = element {
            for inner in [&mut helper.template, &mut helper.inverse].into_iter().flatten() {
                splice(inner, splices);
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::helpers::REGISTRY;
    use crate::parse::parse;
    use crate::place::analyze;
    use cutover_integrations_model::TemplatePlace;
    use handlebars::{RenderContext, Renderable};
    use proptest::prelude::*;

    /// Renders `source` (a text template) compiled in pieces of `piece_bytes`: the output, or the site of the error.
    fn render(source: &str, piece_bytes: usize, data: &serde_json::Value) -> Result<String, Option<usize>> {
        let nodes = parse(source).expect("parses");
        let analysis = analyze(source, &nodes, TemplatePlace::Text).expect("analyses");
        let generated =
            Generator::new(source, &analysis.kinds, false).with_piece_bytes(piece_bytes).generate(&nodes).unwrap();
        let context = handlebars::Context::from(data.clone());
        let mut out = handlebars::StringOutput::new();
        generated
            .template
            .render(&REGISTRY, &context, &mut RenderContext::new(None), &mut out)
            .map_err(|error| error.line_no)?;
        Ok(out.into_string().expect("UTF-8"))
    }

    fn contexts() -> Vec<serde_json::Value> {
        vec![
            serde_json::json!({"Task": {"name": "N", "flag": true, "list": [1, 2]}}),
            serde_json::json!({"Task": {"name": "", "flag": false, "list": []}}),
            serde_json::json!({"Task": {"flag": true, "list": [3]}}),
        ]
    }

    const LEAVES: &[&str] = &[
        "a",
        "b c",
        " ",
        "  ",
        "\t",
        "\n",
        " \n",
        "\n  ",
        "\r\n",
        "x\\",
        "{{Task.name}}",
        "{{~Task.name}}",
        "{{Task.name~}}",
        "{{ Task.name | default: 'd' }}",
        "{{! note }}",
        "{{!-- long --}}",
    ];

    /// Balanced template text: leaves, sequences and blocks with optional else branches and whitespace control.
    fn template() -> impl Strategy<Value = String> {
        let leaf = proptest::sample::select(LEAVES).prop_map(str::to_owned);
        leaf.prop_recursive(4, 96, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(|parts| parts.concat()),
                (
                    proptest::sample::select(
                        &[("if", "Task.flag"), ("unless", "Task.flag"), ("each", "Task.list")][..]
                    ),
                    proptest::sample::select(&[("", ""), ("~", ""), ("", "~"), ("~", "~")][..]),
                    proptest::collection::vec(inner.clone(), 0..6),
                    proptest::option::of((
                        proptest::sample::select(&["{{else}}", "{{~else~}}", "{{else if Task.name}}"][..]),
                        proptest::collection::vec(inner, 0..6),
                    )),
                    proptest::sample::select(&[("", ""), ("~", ""), ("", "~")][..]),
                )
                    .prop_map(
                        |((kind, arg), (open_before, open_after), body, branch, (close_before, close_after))| {
                            let mut text = format!("{{{{{open_before}#{kind} {arg}{open_after}}}}}{}", body.concat());
                            if let Some((tag, body)) = branch.filter(|_| kind != "each") {
                                text.push_str(tag);
                                text.push_str(&body.concat());
                            }
                            text.push_str(&format!("{{{{{close_before}/{kind}{close_after}}}}}"));
                            text
                        }
                    ),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Compiling in the smallest pieces (every cut allowed, every body spliced) renders what one whole compile
        /// renders: the cuts are invisible to handlebars' whitespace rules.
        #[test]
        fn pieces_render_like_the_whole(parts in proptest::collection::vec(template(), 1..6)) {
            let source = parts.concat();
            for data in contexts() {
                prop_assert_eq!(render(&source, 1, &data), render(&source, usize::MAX, &data), "{:?}", source);
            }
        }
    }

    #[test]
    fn large_templates_are_compiled_in_pieces_and_spliced() {
        let placeholders = "{{Task.name}}, ".repeat(2_000);
        let source = format!("start {placeholders}\n{{{{#each Task.list}}}}\n  {placeholders}\n{{{{/each}}}}\nend");
        let data = &contexts()[0];
        let whole = render(&source, usize::MAX, data).unwrap();
        assert_eq!(render(&source, PIECE_BYTES, data).unwrap(), whole);
        assert_eq!(whole.matches('N').count(), 2_000 * 3);
    }
}
