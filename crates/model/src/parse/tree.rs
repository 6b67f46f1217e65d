//! A positioned YAML tree built from saphyr's event stream, keeping what the walker needs and serde loses.
//!
//! Every node keeps its span and every scalar its style, so that errors point at the right line and column and
//! template positions can be mapped back into the file. Mappings keep their entries in order, duplicates included, so
//! that the walker can report duplicate keys instead of silently keeping one.

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Span, Tag};
use std::collections::HashMap;

/// Aliases may expand to at most this many nodes in total, which stops "billion laughs" documents.
const ALIAS_EXPANSION_LIMIT: usize = 10_000;

/// Lists and mappings nest at most this many levels deep (block and flow styles alike, aliases expanded), so that
/// every recursive walk over the tree has a bounded depth.
pub(crate) const MAX_NESTING: usize = 64;

/// The message of a document nested deeper than [`MAX_NESTING`].
fn too_deep() -> String {
    format!("lists and mappings nest more than {MAX_NESTING} levels deep")
}

/// A node of the tree.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// Where the node starts and ends in the source (characters).
    pub(crate) span: Span,
    /// The content.
    pub(crate) value: NodeValue,
}

/// The content of a node.
#[derive(Debug, Clone)]
pub(crate) enum NodeValue {
    /// A scalar with its resolved type.
    Scalar(Scalar),
    /// A sequence.
    Sequence(Vec<Node>),
    /// A mapping, in source order, duplicates kept.
    Mapping(Vec<(Node, Node)>),
}

/// A scalar: its decoded text, how it was written, and its type under the YAML 1.2 core schema.
#[derive(Debug, Clone)]
pub(crate) struct Scalar {
    /// The decoded text.
    pub(crate) text: String,
    /// How the scalar was written.
    pub(crate) style: ScalarStyle,
    /// The resolved type.
    pub(crate) kind: ScalarKind,
}

/// The type of a scalar under the YAML 1.2 core schema (JSON's types, which is what definitions need).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ScalarKind {
    /// `null`, `~` or nothing.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i128),
    /// A floating point number.
    Float(f64),
    /// A string.
    Str,
}

/// Why a document could not be loaded at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoadError {
    /// 1-based line.
    pub(crate) line: u32,
    /// 1-based column.
    pub(crate) column: u32,
    /// What is wrong.
    pub(crate) message: String,
}

impl LoadError {
    fn at(marker: Marker, message: impl Into<String>) -> Self {
        Self { line: marker.line() as u32, column: marker.col() as u32 + 1, message: message.into() }
    }
}

impl Node {
    /// A short description of the node's type for "expected X, found Y" messages.
    pub(crate) fn describe(&self) -> &'static str {
        match &self.value {
            NodeValue::Sequence(_) => "a list",
            NodeValue::Mapping(_) => "a mapping",
            NodeValue::Scalar(scalar) => match scalar.kind {
                ScalarKind::Null => "null",
                ScalarKind::Bool(_) => "a boolean",
                ScalarKind::Int(_) => "an integer",
                ScalarKind::Float(_) => "a number",
                ScalarKind::Str => "a string",
            },
        }
    }

    /// Whether the node is a null scalar, which definitions treat as an absent value.
    pub(crate) fn is_null(&self) -> bool {
        matches!(&self.value, NodeValue::Scalar(Scalar { kind: ScalarKind::Null, .. }))
    }
}

/// Loads the one document of `text`.
pub(crate) fn load(text: &str) -> Result<Node, LoadError> {
    let mut builder = TreeBuilder { parser: Parser::new_from_str(text), anchors: HashMap::new(), expanded: 0 };
    builder.document()
}

struct TreeBuilder<'input> {
    parser: Parser<'input, saphyr_parser::StrInput<'input>>,
    anchors: HashMap<usize, Node>,
    expanded: usize,
}

impl<'input> TreeBuilder<'input> {
    fn next(&mut self) -> Result<(Event<'input>, Span), LoadError> {
        match self.parser.next_event() {
            Some(Ok(event)) => Ok(event),
            Some(Err(error)) => Err(LoadError::at(*error.marker(), error.info().to_owned())),
            None => Err(LoadError { line: 1, column: 1, message: "unexpected end of input".to_owned() }),
        }
    }

    fn document(&mut self) -> Result<Node, LoadError> {
        let mut root = None;
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => break,
                Event::DocumentStart(_) if root.is_some() => {
                    return Err(LoadError::at(span.start, "a definition file holds one document; found a second"));
                }
                Event::DocumentStart(_) => root = Some(self.node(0)?),
                _ => return Err(LoadError::at(span.start, "unexpected content outside the document")),
            }
        }
        root.ok_or_else(|| LoadError { line: 1, column: 1, message: "the file holds no document".to_owned() })
    }

    /// Reads the next node, which sits inside `depth` collections.
    fn node(&mut self, depth: usize) -> Result<Node, LoadError> {
        let (event, span) = self.next()?;
        self.node_from(event, span, depth)
    }

    /// Reads the node that starts with `event`, inside `depth` collections.
    fn node_from(&mut self, event: Event<'input>, span: Span, depth: usize) -> Result<Node, LoadError> {
        if matches!(event, Event::SequenceStart(..) | Event::MappingStart(..)) && depth >= MAX_NESTING {
            return Err(LoadError::at(span.start, too_deep()));
        }
        let (node, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                let kind =
                    resolve(&text, style, tag.as_deref()).map_err(|message| LoadError::at(span.start, message))?;
                (Node { span, value: NodeValue::Scalar(Scalar { text: text.into_owned(), style, kind }) }, anchor)
            }
            Event::SequenceStart(anchor, tag) => {
                reject_tag(tag.as_deref(), span)?;
                let mut items = Vec::new();
                let end = loop {
                    let (event, item_span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break item_span.end;
                    }
                    items.push(self.node_from(event, item_span, depth + 1)?);
                };
                (Node { span: Span::new(span.start, end), value: NodeValue::Sequence(items) }, anchor)
            }
            Event::MappingStart(anchor, tag) => {
                reject_tag(tag.as_deref(), span)?;
                let mut entries = Vec::new();
                let end = loop {
                    let (event, key_span) = self.next()?;
                    if matches!(event, Event::MappingEnd) {
                        break key_span.end;
                    }
                    let key = self.node_from(event, key_span, depth + 1)?;
                    let value = self.node(depth + 1)?;
                    entries.push((key, value));
                };
                (Node { span: Span::new(span.start, end), value: NodeValue::Mapping(entries) }, anchor)
            }
            Event::Alias(anchor) => {
                let target =
                    self.anchors.get(&anchor).ok_or_else(|| LoadError::at(span.start, "alias to an unknown anchor"))?;
                self.expanded += count_nodes(target);
                if self.expanded > ALIAS_EXPANSION_LIMIT {
                    return Err(LoadError::at(span.start, "aliases expand to too many nodes"));
                }
                if depth + height(target) > MAX_NESTING {
                    return Err(LoadError::at(span.start, too_deep()));
                }
                let mut copy = target.clone();
                copy.span = span;
                return Ok(copy);
            }
            _ => return Err(LoadError::at(span.start, "unexpected YAML event")),
        };
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }
}

fn count_nodes(node: &Node) -> usize {
    match &node.value {
        NodeValue::Scalar(_) => 1,
        NodeValue::Sequence(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        NodeValue::Mapping(entries) => {
            1 + entries.iter().map(|(key, value)| count_nodes(key) + count_nodes(value)).sum::<usize>()
        }
    }
}

/// How many collections deep `node` goes (0 for a scalar); bounded by [`MAX_NESTING`] since the tree is.
fn height(node: &Node) -> usize {
    match &node.value {
        NodeValue::Scalar(_) => 0,
        NodeValue::Sequence(items) => 1 + items.iter().map(height).max().unwrap_or(0),
        NodeValue::Mapping(entries) => {
            1 + entries.iter().map(|(key, value)| height(key).max(height(value))).max().unwrap_or(0)
        }
    }
}

fn reject_tag(tag: Option<&Tag>, span: Span) -> Result<(), LoadError> {
    match tag {
        Some(tag) if !(tag.is_yaml_core_schema() && matches!(tag.suffix.as_str(), "map" | "seq")) => {
            Err(LoadError::at(span.start, format!("unsupported tag `{}{}`", tag.handle, tag.suffix)))
        }
        _ => Ok(()),
    }
}

/// Resolves a scalar's type: quoted and block scalars are strings, plain ones follow the core schema, core tags win.
fn resolve(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<ScalarKind, String> {
    if let Some(tag) = tag {
        if !tag.is_yaml_core_schema() {
            return Err(format!("unsupported tag `{}{}`", tag.handle, tag.suffix));
        }
        let resolved = resolve_plain(text);
        return match (tag.suffix.as_str(), resolved) {
            ("str", _) => Ok(ScalarKind::Str),
            ("null", ScalarKind::Null)
            | ("bool", ScalarKind::Bool(_))
            | ("int", ScalarKind::Int(_))
            | ("float", ScalarKind::Float(_)) => Ok(resolved),
            ("float", ScalarKind::Int(value)) => Ok(ScalarKind::Float(value as f64)),
            (suffix, _) => Err(format!("`{text}` is not a valid `!!{suffix}`")),
        };
    }
    Ok(match style {
        ScalarStyle::Plain => resolve_plain(text),
        _ => ScalarKind::Str,
    })
}

/// The YAML 1.2 core schema for plain scalars.
pub(crate) fn resolve_plain(text: &str) -> ScalarKind {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return ScalarKind::Null,
        "true" | "True" | "TRUE" => return ScalarKind::Bool(true),
        "false" | "False" | "FALSE" => return ScalarKind::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return ScalarKind::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return ScalarKind::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return ScalarKind::Float(f64::NAN),
        _ => {}
    }
    if let Some(octal) = text.strip_prefix("0o") {
        return parse_radix(octal, 8);
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return parse_radix(hex, 16);
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return text.parse::<i128>().map_or(ScalarKind::Str, ScalarKind::Int);
    }
    if is_core_float(digits) {
        return text.parse::<f64>().map_or(ScalarKind::Str, ScalarKind::Float);
    }
    ScalarKind::Str
}

fn parse_radix(digits: &str, radix: u32) -> ScalarKind {
    if digits.is_empty() {
        return ScalarKind::Str;
    }
    i128::from_str_radix(digits, radix).map_or(ScalarKind::Str, ScalarKind::Int)
}

/// `( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?` without the sign.
fn is_core_float(text: &str) -> bool {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => {
            whole.bytes().all(|b| b.is_ascii_digit())
                && fraction.bytes().all(|b| b.is_ascii_digit())
                && !(whole.is_empty() && fraction.is_empty())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|exponent| {
        let digits = exponent.strip_prefix(['-', '+']).unwrap_or(exponent);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_follow_the_core_schema() {
        let cases = [
            ("", ScalarKind::Null),
            ("~", ScalarKind::Null),
            ("True", ScalarKind::Bool(true)),
            ("FALSE", ScalarKind::Bool(false)),
            ("-12", ScalarKind::Int(-12)),
            ("0x1f", ScalarKind::Int(31)),
            ("0o17", ScalarKind::Int(15)),
            ("1.5", ScalarKind::Float(1.5)),
            ("1e3", ScalarKind::Float(1000.0)),
            (".5", ScalarKind::Float(0.5)),
            ("1.", ScalarKind::Float(1.0)),
            ("0x", ScalarKind::Str),
            ("1.2.3", ScalarKind::Str),
            ("yes", ScalarKind::Str),
            ("e3", ScalarKind::Str),
            (".", ScalarKind::Str),
            ("12:30", ScalarKind::Str),
        ];
        for (text, expected) in cases {
            assert_eq!(resolve_plain(text), expected, "{text:?}");
        }
    }

    #[test]
    fn quoted_and_tagged_scalars() {
        let node = load("a: '12'\nb: !!str 12\nc: !!float 3\n").unwrap();
        let NodeValue::Mapping(entries) = node.value else { panic!("not a mapping") };
        let kinds: Vec<_> = entries
            .iter()
            .map(|(_, value)| match &value.value {
                NodeValue::Scalar(scalar) => scalar.kind,
                _ => panic!("not a scalar"),
            })
            .collect();
        assert_eq!(kinds, vec![ScalarKind::Str, ScalarKind::Str, ScalarKind::Float(3.0)]);
    }

    #[test]
    fn load_errors_are_positioned() {
        let cases = [
            ("a: [1, 2\n", "2:1"),
            ("a: 1\n---\nb: 2\n", "2:1"),
            ("", "1:1"),
            ("a: !custom x\n", "1:4"),
            ("a: *nothing\n", "1:4"),
        ];
        for (text, expected) in cases {
            let error = load(text).unwrap_err();
            assert_eq!(format!("{}:{}", error.line, error.column), expected, "{text:?}: {}", error.message);
        }
    }

    /// `levels` collections inside each other, in the style `style` names, around the scalar `x`.
    fn nested(style: &str, levels: usize) -> String {
        match style {
            "block sequences" => format!("{}x\n", "- ".repeat(levels)),
            "block mappings" => {
                (0..levels).map(|level| format!("{}k{level}:\n", "  ".repeat(level))).collect::<String>()
                    + &format!("{}x\n", "  ".repeat(levels))
            }
            "flow" => format!("{}x{}\n", "[".repeat(levels), "]".repeat(levels)),
            _ => unreachable!("{style}"),
        }
    }

    #[test]
    fn nesting_is_limited_with_a_position() {
        for style in ["block sequences", "block mappings", "flow"] {
            assert!(load(&nested(style, MAX_NESTING)).is_ok(), "{style} at the limit");
            for levels in [MAX_NESTING + 1, 300, 1_500] {
                let error = load(&nested(style, levels)).unwrap_err();
                if style == "flow" && error.message == "recursion limit exceeded" {
                    // saphyr's scanner reads ahead and has its own limit for flow collections.
                    continue;
                }
                assert_eq!(error.message, "lists and mappings nest more than 64 levels deep", "{style} {levels}");
                let expected = match style {
                    "block sequences" => (1, 2 * MAX_NESTING as u32 + 1),
                    "block mappings" => (MAX_NESTING as u32 + 1, 2 * MAX_NESTING as u32 + 1),
                    _ => (1, MAX_NESTING as u32 + 1),
                };
                assert_eq!((error.line, error.column), expected, "{style} {levels}");
            }
        }
    }

    #[test]
    fn aliases_count_towards_the_nesting_limit() {
        let deep = format!("a: &deep {}x{}\n", "[".repeat(40), "]".repeat(40));
        assert!(load(&format!("{deep}b: *deep\n")).is_ok());
        let error = load(&format!("{deep}b: {}*deep{}\n", "[".repeat(30), "]".repeat(30))).unwrap_err();
        assert_eq!(
            (error.line, error.column, error.message.as_str()),
            (2, 34, "lists and mappings nest more than 64 levels deep")
        );
    }

    #[test]
    fn aliases_are_expanded_within_a_budget() {
        let node = load("a: &x {k: v}\nb: *x\n").unwrap();
        let NodeValue::Mapping(entries) = node.value else { panic!("not a mapping") };
        assert!(matches!(entries[1].1.value, NodeValue::Mapping(_)));
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..8 {
            let previous = level - 1;
            bomb.push_str(&format!("a{level}: &a{level} [*a{previous}, *a{previous}, *a{previous}, *a{previous}]\n"));
        }
        assert!(load(&bomb).unwrap_err().message.contains("too many"));
    }
}
