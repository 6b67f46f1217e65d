//! Sample contexts for checking templates at save time: every path a template reads gets a value.
//!
//! The sample value is the text `"1"`: it renders inside a JSON string and as a bare JSON value alike, reads as a number
//! for arithmetic filters, as Unix time for `date`, as JSON for `parse_json`, and is truthy for `#if`. A path read by
//! `#each` gets a one-element list whose element holds the paths the loop body reads; `#with` gets that element itself.

use crate::context::TemplateContext;
use crate::parse::{Anchor, Expr, Node, Operand, PathExpr};
use serde_json::{Map, Value};

/// The sample leaf value.
pub(crate) const SAMPLE: &str = "1";

/// A context in which every path of `nodes` resolves.
pub(crate) fn sample_context(nodes: &[Node]) -> TemplateContext {
    let mut root = Value::Object(Map::new());
    let mut scopes = Vec::new();
    sample_nodes(nodes, &mut root, &mut scopes);
    TemplateContext::new(root)
}

fn sample_nodes(nodes: &[Node], root: &mut Value, scopes: &mut Vec<Value>) {
    for node in nodes {
        match node {
            Node::Placeholder(p) => sample_expr(&p.expr, root, scopes),
            Node::Block(block) => {
                sample_expr(&block.arg, root, scopes);
                if block.kind.changes_scope() {
                    scopes.push(Value::String(SAMPLE.to_owned()));
                    sample_nodes(&block.body, root, scopes);
                    let element = scopes.pop().unwrap_or(Value::Null);
                    if let Operand::Path(path) = &block.arg.head
                        && block.arg.filters.is_empty()
                    {
                        let value = match block.kind {
                            crate::parse::BlockKind::Each => Value::Array(vec![element]),
                            _ => element,
                        };
                        *slot(path, root, scopes) = value;
                    }
                } else {
                    sample_nodes(&block.body, root, scopes);
                }
                for branch in &block.branches {
                    if let Some((_, expr)) = &branch.chained {
                        sample_expr(expr, root, scopes);
                    }
                    sample_nodes(&branch.body, root, scopes);
                }
            }
            Node::Text(_) | Node::Comment(_) => {}
        }
    }
}

fn sample_expr(expr: &Expr, root: &mut Value, scopes: &mut [Value]) {
    for operand in std::iter::once(&expr.head).chain(expr.filters.iter().flat_map(|f| f.args.iter())) {
        if let Operand::Path(path) = operand
            && !matches!(path.anchor, Anchor::Local(_))
        {
            let leaf = slot(path, root, scopes);
            if leaf.is_null() {
                *leaf = Value::String(SAMPLE.to_owned());
            }
        }
    }
}

/// The value a path reads, created (as null) along with objects on the way; texts on the way become objects.
fn slot<'v>(path: &PathExpr, root: &'v mut Value, scopes: &'v mut [Value]) -> &'v mut Value {
    let mut current = match path.anchor {
        Anchor::Relative { up } if scopes.len() > up => &mut scopes[scopes.len() - 1 - up],
        _ => root,
    };
    for segment in &path.segments {
        if !current.is_object() {
            *current = Value::Object(Map::new());
        }
        let Value::Object(map) = current else { unreachable!("made an object above") };
        current = map.entry(segment.clone()).or_insert(Value::Null);
    }
    current
}
