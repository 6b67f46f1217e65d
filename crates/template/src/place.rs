//! Escaping by context, decided at compile time: a scan of the literal text around each placeholder picks the
//! escaper that applies to it, so rendering does no analysis at all.
//!
//! - JSON places: a lexical scan tracks whether each placeholder sits inside a JSON string (its value is JSON-escaped
//!   into the string) or outside (its value is inserted as a JSON value). A placeholder that stands alone as a value
//!   (after `:`, `[`, `,` or at the start; before `,`, `]`, `}` or at the end) cannot change the JSON structure, so a
//!   block-free template whose placeholders all stand alone or sit in strings is valid JSON for every context as soon as
//!   it is for one: [`JsonAnalysis::proof_candidate`].
//! - URLs: the component a placeholder is in picks its escaper: before `://` (a base URL) the value as it is; in the
//!   host only a host name or IP address; in the port only digits; in the path, query or fragment percent-encoding.
//!   A URL whose scheme is literal must be `http` or `https`, and a URL without placeholders must parse.
//! - Header values: literal CR, LF and NUL are refused at compile time; values are checked at render time.

use crate::TemplateError;
use crate::error::Location;
use crate::filters::FilterKind;
use crate::parse::{Block, Node, Placeholder, Span};
use cutover_integrations_model::TemplatePlace;
use std::collections::HashMap;

/// How a placeholder's value is written into the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum OutputKind {
    /// Inside a JSON string: the value's text, JSON-escaped.
    JsonString,
    /// Outside JSON strings: the value as a JSON value.
    JsonValue,
    /// Before a URL's `://` (a base URL from a system parameter): as it is, refusing whitespace and controls.
    UrlPrefix,
    /// In a URL's host: a host name or an IP address, nothing else.
    UrlHost,
    /// In a URL's port: digits only.
    UrlPort,
    /// In a URL path: percent-encoded as one segment (a `/` in the value becomes `%2F`).
    UrlPathSegment,
    /// In a URL query or fragment: every reserved character percent-encoded.
    UrlComponent,
    /// In a header value: as it is, refusing CR, LF and NUL.
    Header,
    /// As it is: plain text, and URL values already encoded by `url_encode`.
    Text,
}

impl OutputKind {
    /// Every kind, to register one helper for each.
    pub(crate) const ALL: [OutputKind; 9] = [
        Self::JsonString,
        Self::JsonValue,
        Self::UrlPrefix,
        Self::UrlHost,
        Self::UrlPort,
        Self::UrlPathSegment,
        Self::UrlComponent,
        Self::Header,
        Self::Text,
    ];

    /// The handlebars helper that writes values of this kind.
    pub(crate) fn helper_name(self) -> &'static str {
        match self {
            Self::JsonString => "__json_string",
            Self::JsonValue => "__json_value",
            Self::UrlPrefix => "__url_prefix",
            Self::UrlHost => "__url_host",
            Self::UrlPort => "__url_port",
            Self::UrlPathSegment => "__url_path",
            Self::UrlComponent => "__url_component",
            Self::Header => "__header",
            Self::Text => "__text",
        }
    }
}

/// The compile-time analysis of a template for its place.
#[derive(Debug, Default)]
pub(crate) struct Analysis {
    /// The output kind of each placeholder, by the byte offset of its `{{`.
    pub(crate) kinds: HashMap<usize, OutputKind>,
    /// JSON places only: whether the template qualifies for the validity proof (no blocks, every placeholder in a string
    /// or standing alone as a value).
    pub(crate) proof_candidate: bool,
}

/// Decides the output kind of every placeholder, and refuses templates that can never be valid in their place.
pub(crate) fn analyze(source: &str, nodes: &[Node], place: TemplatePlace) -> Result<Analysis, TemplateError> {
    let mut analysis = Analysis::default();
    match place {
        TemplatePlace::JsonPayload | TemplatePlace::JsonParams => {
            let mut scan = JsonScan {
                source,
                lex: Lex::Outside,
                last_significant: None,
                standalone_only: true,
                pending_high_surrogate: None,
            };
            scan.nodes(nodes, &mut analysis.kinds, true)?;
            if let Some(high) = scan.pending_high_surrogate {
                return Err(scan.lone_surrogate(high));
            }
            if let Lex::InString { opened } | Lex::Escape { opened } | Lex::Unicode { opened, .. } = scan.lex {
                let opened_at = Location::in_source(source, opened);
                return Err(TemplateError::Syntax {
                    at: Location::in_source(source, source.trim_end().len().saturating_sub(1)),
                    message: format!(
                        "the template ends inside the JSON string opened at {opened_at}: a closing `\"` is missing"
                    ),
                });
            }
            analysis.proof_candidate = scan.standalone_only && !has_blocks(nodes);
        }
        TemplatePlace::Url => {
            let mut component = UrlComponent::Scheme;
            url_nodes(source, nodes, &mut component, &mut |node, component| {
                if let Node::Placeholder(p) = node {
                    analysis.kinds.insert(p.span.start, url_kind(p, component));
                }
            });
            check_literal_url(source, nodes)?;
        }
        TemplatePlace::HeaderValue => {
            for_each_node(nodes, &mut |node| match node {
                Node::Text(span) => {
                    if let Some(i) = source[span.start..span.end].find(['\r', '\n', '\0']) {
                        return Err(TemplateError::Syntax {
                            at: Location::in_source(source, span.start + i),
                            message: "a header value cannot contain a line break or NUL".to_owned(),
                        });
                    }
                    Ok(())
                }
                Node::Placeholder(p) => {
                    analysis.kinds.insert(p.span.start, OutputKind::Header);
                    Ok(())
                }
                _ => Ok(()),
            })?;
        }
        TemplatePlace::Text => {
            for_each_node(nodes, &mut |node| {
                if let Node::Placeholder(p) = node {
                    analysis.kinds.insert(p.span.start, OutputKind::Text);
                }
                Ok(())
            })?;
        }
        TemplatePlace::StructuredLeaf => {
            let kind = if typed_leaf(nodes).is_some() { OutputKind::JsonValue } else { OutputKind::Text };
            for_each_node(nodes, &mut |node| {
                if let Node::Placeholder(p) = node {
                    analysis.kinds.insert(p.span.start, kind);
                }
                Ok(())
            })?;
        }
    }
    Ok(analysis)
}

/// What a typed leaf of a structured body computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypedLeaf {
    /// The JSON value of the placeholder.
    Value,
    /// The placeholder ends in `json`: the value whose JSON text the filter wrote.
    JsonText,
}

/// Whether a structured body's leaf is typed: exactly one placeholder whose last filter computes a typed value.
pub(crate) fn typed_leaf(nodes: &[Node]) -> Option<TypedLeaf> {
    let [Node::Placeholder(placeholder)] = nodes else {
        return None;
    };
    let last = placeholder.expr.filters.last()?;
    match last.kind {
        FilterKind::Json => Some(TypedLeaf::JsonText),
        kind if kind.is_typed() => Some(TypedLeaf::Value),
        _ => None,
    }
}

fn has_blocks(nodes: &[Node]) -> bool {
    nodes.iter().any(|n| matches!(n, Node::Block(_)))
}

/// Calls `f` on every node, depth first, in source order.
fn for_each_node(nodes: &[Node], f: &mut dyn FnMut(&Node) -> Result<(), TemplateError>) -> Result<(), TemplateError> {
    for node in nodes {
        f(node)?;
        if let Node::Block(block) = node {
            for_each_node(&block.body, f)?;
            for branch in &block.branches {
                for_each_node(&branch.body, f)?;
            }
        }
    }
    Ok(())
}

/// The JSON lexical state at a point of the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lex {
    Outside,
    /// Inside a string opened at byte `opened`.
    InString {
        opened: usize,
    },
    /// Just after a `\` inside a string.
    Escape {
        opened: usize,
    },
    /// Inside a `\uXXXX` escape starting at byte `escape`, `left` hex digits to go, `code` read so far.
    Unicode {
        opened: usize,
        escape: usize,
        left: u8,
        code: u16,
    },
}

impl Lex {
    fn in_string(self) -> bool {
        !matches!(self, Self::Outside)
    }
}

struct JsonScan<'s> {
    source: &'s str,
    lex: Lex,
    /// The last significant byte outside strings (`None` at the start).
    last_significant: Option<u8>,
    /// Whether every placeholder outside strings so far stands alone as a JSON value.
    standalone_only: bool,
    /// The offset of a `\uD800`–`\uDBFF` escape that must be followed by a low surrogate escape.
    pending_high_surrogate: Option<usize>,
}

impl JsonScan<'_> {
    fn nodes(
        &mut self,
        nodes: &[Node],
        kinds: &mut HashMap<usize, OutputKind>,
        top_level: bool,
    ) -> Result<(), TemplateError> {
        for (index, node) in nodes.iter().enumerate() {
            match node {
                Node::Text(span) => self.text(*span)?,
                Node::Comment(_) => {}
                Node::Placeholder(p) => {
                    let kind = self.placeholder(p, top_level.then(|| &nodes[index + 1..]))?;
                    kinds.insert(p.span.start, kind);
                }
                Node::Block(block) => self.block(block, kinds)?,
            }
        }
        Ok(())
    }

    fn text(&mut self, span: Span) -> Result<(), TemplateError> {
        for (i, &b) in self.source.as_bytes()[span.start..span.end].iter().enumerate() {
            let offset = span.start + i;
            if let Some(high) = self.pending_high_surrogate {
                // Only `\u` + a low surrogate may follow a high surrogate escape.
                let continues = match self.lex {
                    Lex::InString { .. } => b == b'\\',
                    Lex::Escape { .. } => b == b'u',
                    Lex::Unicode { .. } => true,
                    Lex::Outside => false,
                };
                if !continues {
                    return Err(self.lone_surrogate(high));
                }
            }
            self.lex = match self.lex {
                Lex::Outside => {
                    if b == b'"' {
                        Lex::InString { opened: offset }
                    } else {
                        if !b.is_ascii_whitespace() {
                            self.last_significant = Some(b);
                        }
                        Lex::Outside
                    }
                }
                Lex::InString { opened } => match b {
                    b'"' => {
                        self.last_significant = Some(b'"');
                        Lex::Outside
                    }
                    b'\\' => Lex::Escape { opened },
                    _ => Lex::InString { opened },
                },
                Lex::Escape { opened } => {
                    if b == b'u' {
                        Lex::Unicode { opened, escape: offset - 1, left: 4, code: 0 }
                    } else {
                        Lex::InString { opened }
                    }
                }
                Lex::Unicode { opened, escape, left, code } => match (b as char).to_digit(16) {
                    Some(digit) => {
                        let code = (code << 4) | digit as u16;
                        if left > 1 {
                            Lex::Unicode { opened, escape, left: left - 1, code }
                        } else {
                            self.surrogate(code, escape)?;
                            Lex::InString { opened }
                        }
                    }
                    // Not an escape JSON accepts: the JSON check reports it.
                    None => Lex::InString { opened },
                },
            };
        }
        Ok(())
    }

    /// Tracks surrogate pairs written as escapes: a lone surrogate makes a string most JSON parsers refuse.
    fn surrogate(&mut self, code: u16, escape: usize) -> Result<(), TemplateError> {
        match (code, self.pending_high_surrogate.take()) {
            (0xD800..=0xDBFF, None) => self.pending_high_surrogate = Some(escape),
            (0xDC00..=0xDFFF, Some(_)) => {}
            (0xDC00..=0xDFFF, None) => return Err(self.lone_surrogate(escape)),
            (_, Some(high)) => return Err(self.lone_surrogate(high)),
            _ => {}
        }
        Ok(())
    }

    fn lone_surrogate(&self, escape: usize) -> TemplateError {
        TemplateError::Syntax {
            at: Location::in_source(self.source, escape),
            message: "a lone surrogate escape in a JSON string: `\\uD800`–`\\uDFFF` must come in high-low pairs"
                .to_owned(),
        }
    }

    /// `rest` is the nodes after the placeholder at top level (`None` inside blocks).
    fn placeholder(&mut self, p: &Placeholder, rest: Option<&[Node]>) -> Result<OutputKind, TemplateError> {
        if let Some(high) = self.pending_high_surrogate {
            return Err(self.lone_surrogate(high));
        }
        match self.lex {
            Lex::InString { .. } => Ok(OutputKind::JsonString),
            Lex::Escape { .. } | Lex::Unicode { .. } => Err(TemplateError::Syntax {
                at: Location::in_source(self.source, p.span.start),
                message: "a placeholder cannot follow `\\` inside a JSON string".to_owned(),
            }),
            Lex::Outside => {
                let after_value_start = matches!(self.last_significant, None | Some(b':' | b'[' | b','));
                let before_value_end = rest.is_some_and(|rest| match rest.first() {
                    None => true,
                    Some(Node::Text(span)) => {
                        let next = self.source[span.start..span.end].trim_start().bytes().next();
                        matches!(next, None | Some(b',' | b']' | b'}')) && (next.is_some() || rest.len() == 1)
                    }
                    Some(_) => false,
                });
                if !(after_value_start && before_value_end) {
                    self.standalone_only = false;
                }
                self.last_significant = Some(b'0');
                Ok(OutputKind::JsonValue)
            }
        }
    }

    fn block(&mut self, block: &Block, kinds: &mut HashMap<usize, OutputKind>) -> Result<(), TemplateError> {
        if let Some(high) = self.pending_high_surrogate {
            return Err(self.lone_surrogate(high));
        }
        let start = self.lex;
        let mut ends = Vec::new();
        let has_plain_else = block.branches.iter().any(|b| b.chained.is_none());
        if !has_plain_else {
            // The block may render nothing at all.
            ends.push(start);
        }
        for body in std::iter::once(&block.body).chain(block.branches.iter().map(|b| &b.body)) {
            self.lex = start;
            self.nodes(body, kinds, false)?;
            ends.push(self.lex);
        }
        if block.kind == crate::parse::BlockKind::Each {
            // A loop body runs after itself: it must leave the string state as it found it.
            ends.push(start);
        }
        let in_string = ends[0].in_string();
        if ends.iter().any(|e| e.in_string() != in_string) {
            return Err(TemplateError::Syntax {
                at: Location::in_source(self.source, block.open.start),
                message: format!(
                    "the `#{}` block opens or closes a JSON string in only some of the ways it can render; keep \
                     quotes balanced inside each branch",
                    block.kind.name()
                ),
            });
        }
        self.lex = *ends.last().unwrap_or(&start);
        self.last_significant = Some(b'0');
        Ok(())
    }
}

/// The URL component the text has reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum UrlComponent {
    /// Before `://`: the scheme, or a whole base URL written by one placeholder.
    Scheme,
    /// After `://`: the host (or user info, until `@`).
    Host,
    /// Inside `[` … `]` of an IPv6 literal host.
    BracketedHost,
    /// After the host's `:`.
    Port,
    Path,
    Query,
    Fragment,
}

impl UrlComponent {
    /// Whether the component decides where the request goes (scheme, host, port).
    pub(crate) fn is_origin(self) -> bool {
        matches!(self, Self::Scheme | Self::Host | Self::BracketedHost | Self::Port)
    }

    /// The component after reading the literal `text`.
    fn after(mut self, text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            self = match (self, b) {
                (Self::Scheme, b':') if text[i..].starts_with("://") => {
                    i += 3;
                    self = Self::Host;
                    continue;
                }
                (Self::Host, b'[') => Self::BracketedHost,
                (Self::BracketedHost, b']') => Self::Host,
                (Self::Host, b':') => Self::Port,
                (Self::Port, b'@') => Self::Host,
                (Self::Scheme | Self::Host | Self::Port, b'/') => Self::Path,
                (Self::Scheme | Self::Host | Self::Port | Self::Path, b'?') => Self::Query,
                (c, b'#') if c != Self::Fragment && c != Self::BracketedHost => Self::Fragment,
                (c, _) => c,
            };
            i += 1;
        }
        self
    }
}

/// Walks the nodes of a URL template in source order, calling `visit` with every placeholder and block (at its opening
/// tag) and the component it sits in.
pub(crate) fn url_nodes<'n>(
    source: &str,
    nodes: &'n [Node],
    component: &mut UrlComponent,
    visit: &mut dyn FnMut(&'n Node, UrlComponent),
) {
    for node in nodes {
        match node {
            Node::Text(span) => *component = component.after(&source[span.start..span.end]),
            Node::Placeholder(_) => visit(node, *component),
            Node::Block(block) => {
                visit(node, *component);
                url_nodes(source, &block.body, component, visit);
                for branch in &block.branches {
                    url_nodes(source, &branch.body, component, visit);
                }
            }
            Node::Comment(_) => {}
        }
    }
}

/// The output kind of a URL placeholder in `component`.
fn url_kind(placeholder: &Placeholder, component: UrlComponent) -> OutputKind {
    let encoded_already = placeholder.expr.filters.last().is_some_and(|f| f.kind == FilterKind::UrlEncode);
    match component {
        UrlComponent::Scheme => OutputKind::UrlPrefix,
        UrlComponent::Host | UrlComponent::BracketedHost => OutputKind::UrlHost,
        UrlComponent::Port => OutputKind::UrlPort,
        _ if encoded_already => OutputKind::Text,
        UrlComponent::Path => OutputKind::UrlPathSegment,
        UrlComponent::Query | UrlComponent::Fragment => OutputKind::UrlComponent,
    }
}

/// Refuses a URL whose literal scheme is not `http` or `https`, and a URL without placeholders that does not parse.
fn check_literal_url(source: &str, nodes: &[Node]) -> Result<(), TemplateError> {
    let leading = match nodes.first() {
        Some(Node::Text(span)) => &source[span.start..span.end],
        _ => return Ok(()),
    };
    let start = leading.len() - leading.trim_start().len();
    let at = || Location::in_source(source, start);
    let trimmed = leading.trim_start();
    if let Some(colon) = trimmed.find(':') {
        let scheme = &trimmed[..colon];
        let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if is_scheme && !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return Err(TemplateError::Syntax {
                at: at(),
                message: format!("only `http` and `https` URLs can be sent; this one is `{scheme}`"),
            });
        }
    }
    let literal = nodes.iter().all(|node| matches!(node, Node::Text(_) | Node::Comment(_)));
    if literal {
        let text: String = nodes
            .iter()
            .filter_map(|node| match node {
                Node::Text(span) => Some(&source[span.start..span.end]),
                _ => None,
            })
            .collect();
        if let Err(error) = url::Url::parse(text.trim()) {
            return Err(TemplateError::Syntax { at: at(), message: format!("not a valid absolute URL: {error}") });
        }
    }
    Ok(())
}
