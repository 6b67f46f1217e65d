//! The walker's toolkit: typed reads from the positioned tree that collect every error instead of stopping.
//!
//! [`Walker`] holds the errors found so far and the source map (where each value sits); [`FromNode`] reads one value
//! of a type, reporting problems and returning a fallback so that the walk goes on; [`ObjectReader`] reads one mapping,
//! remembering which keys were read so that the rest can be reported as unknown.

use super::path::FieldPath;
use super::tree::{Node, NodeValue, ScalarKind};
use crate::Position;
use saphyr_parser::{Marker, ScalarStyle, Span};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// A problem found while walking, before it is given its file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// Where the problem is.
    pub(crate) position: Position,
    /// The path of the value at fault.
    pub(crate) path: FieldPath,
    /// What is wrong.
    pub(crate) message: String,
}

/// Where a value sits in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Site {
    /// The position of its key, when the value sits in a mapping.
    pub(crate) key: Option<Position>,
    /// The position of the value itself.
    pub(crate) value: Position,
    /// The span and style of a scalar value, from which template positions are mapped.
    pub(crate) scalar: Option<(Span, ScalarStyle)>,
}

/// The source map of one file: where each value visited by the walker sits.
///
/// Values are recorded in walk order without hashing, which keeps reading fast; the first lookup sorts an index,
/// since lookups happen mostly when there is something to report.
#[derive(Debug, Clone, Default)]
pub(crate) struct SourceMap {
    sites: Vec<(FieldPath, Site)>,
    sorted: OnceLock<Vec<usize>>,
}

impl PartialEq for SourceMap {
    fn eq(&self, other: &Self) -> bool {
        self.sites == other.sites
    }
}

impl Eq for SourceMap {}

impl SourceMap {
    fn record(&mut self, path: &FieldPath, site: Site) {
        self.sites.push((path.clone(), site));
        self.sorted = OnceLock::new();
    }

    /// The site of the value at `path`.
    pub(crate) fn site(&self, path: &FieldPath) -> Option<&Site> {
        let sorted = self.sorted.get_or_init(|| {
            let mut indexes: Vec<usize> = (0..self.sites.len()).collect();
            indexes.sort_by(|a, b| self.sites[*a].0.cmp(&self.sites[*b].0));
            indexes
        });
        let found = sorted.binary_search_by(|index| self.sites[*index].0.cmp(path)).ok()?;
        Some(&self.sites[sorted[found]].1)
    }

    /// The position of the value at `path`, or of its nearest recorded ancestor, or the start of the file.
    pub(crate) fn position(&self, path: &FieldPath) -> Position {
        self.site(path).map_or_else(|| self.nearest_ancestor(path), |site| site.value)
    }

    /// The position of the key of the value at `path`, falling back to the value's position.
    pub(crate) fn key_position(&self, path: &FieldPath) -> Position {
        match self.site(path) {
            Some(site) => site.key.unwrap_or(site.value),
            None => self.nearest_ancestor(path),
        }
    }

    fn nearest_ancestor(&self, path: &FieldPath) -> Position {
        let mut ancestor = path.parent();
        while let Some(candidate) = ancestor {
            if let Some(site) = self.site(&candidate) {
                return site.value;
            }
            ancestor = candidate.parent();
        }
        Position::START
    }
}

/// The state of one walk: errors found so far and where values sit.
#[derive(Debug, Default)]
pub(crate) struct Walker {
    /// Errors, in the order found.
    pub(crate) problems: Vec<Problem>,
    /// Where values sit.
    pub(crate) source_map: SourceMap,
    /// Whether a string is only a string scalar (JSON, where every string is quoted: `false` or `3` where text is
    /// expected is a mistake); otherwise (YAML) a plain `3` or `true` reads as its text.
    pub(crate) strings_only: bool,
}

pub(crate) fn position_of(marker: Marker) -> Position {
    Position { line: marker.line() as u32, column: marker.col() as u32 + 1 }
}

impl Walker {
    /// Reports a problem.
    pub(crate) fn error(&mut self, position: Position, path: &FieldPath, message: impl Into<String>) {
        self.problems.push(Problem { position, path: path.clone(), message: message.into() });
    }

    /// Reports a problem with `node`.
    pub(crate) fn error_at(&mut self, node: &Node, path: &FieldPath, message: impl Into<String>) {
        self.error(position_of(node.span.start), path, message);
    }

    /// Reports that `node` is not of the expected type.
    pub(crate) fn wrong_type(&mut self, node: &Node, path: &FieldPath, expected: &str) {
        let message = format!("expected {expected}, found {}", node.describe());
        self.error_at(node, path, message);
    }

    /// Whether no problem was reported at `path` or around it (inside it, or at one of its ancestors).
    pub(crate) fn is_clean(&self, path: &FieldPath) -> bool {
        !self.problems.iter().any(|problem| path.starts_with(&problem.path) || problem.path.starts_with(path))
    }

    /// Records where the value at `path` sits.
    pub(crate) fn record(&mut self, path: &FieldPath, key: Option<&Node>, node: &Node) {
        let scalar = match &node.value {
            NodeValue::Scalar(scalar) => Some((node.span, scalar.style)),
            _ => None,
        };
        let site =
            Site { key: key.map(|key| position_of(key.span.start)), value: position_of(node.span.start), scalar };
        self.source_map.record(path, site);
    }
}

/// A type the walker can read from a node.
pub(crate) trait FromNode: Sized {
    /// Reads a value; on a problem, reports it and returns a fallback so that the walk goes on.
    fn read(walker: &mut Walker, node: &Node, path: &FieldPath) -> Self;
}

impl FromNode for String {
    fn read(walker: &mut Walker, node: &Node, path: &FieldPath) -> Self {
        match &node.value {
            NodeValue::Scalar(scalar)
                if scalar.kind == ScalarKind::Str || (!walker.strings_only && scalar.kind != ScalarKind::Null) =>
            {
                scalar.text.clone()
            }
            _ => {
                walker.wrong_type(node, path, "a string");
                String::new()
            }
        }
    }
}

impl FromNode for bool {
    fn read(walker: &mut Walker, node: &Node, path: &FieldPath) -> Self {
        match &node.value {
            NodeValue::Scalar(scalar) => match scalar.kind {
                ScalarKind::Bool(value) => value,
                _ => {
                    walker.error_at(node, path, format!("expected `true` or `false`, found `{}`", scalar.text));
                    false
                }
            },
            _ => {
                walker.wrong_type(node, path, "`true` or `false`");
                false
            }
        }
    }
}

macro_rules! integer_from_node {
    ($($ty:ty),*) => {$(
        impl FromNode for $ty {
            fn read(walker: &mut Walker, node: &Node, path: &FieldPath) -> Self {
                match &node.value {
                    NodeValue::Scalar(scalar) => match scalar.kind {
                        ScalarKind::Int(value) => <$ty>::try_from(value).unwrap_or_else(|_| {
                            let message = format!("{value} is out of range ({} to {})", <$ty>::MIN, <$ty>::MAX);
                            walker.error_at(node, path, message);
                            0
                        }),
                        _ => {
                            walker.wrong_type(node, path, "a whole number");
                            0
                        }
                    },
                    _ => {
                        walker.wrong_type(node, path, "a whole number");
                        0
                    }
                }
            }
        }
    )*};
}

integer_from_node!(u16, u32, u64);

impl<T: FromNode> FromNode for Vec<T> {
    fn read(walker: &mut Walker, node: &Node, path: &FieldPath) -> Self {
        let NodeValue::Sequence(items) = &node.value else {
            walker.wrong_type(node, path, "a list");
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let item_path = path.index(index);
                walker.record(&item_path, None, item);
                T::read(walker, item, &item_path)
            })
            .collect()
    }
}

impl<T: FromNode> FromNode for BTreeMap<String, T> {
    fn read(walker: &mut Walker, node: &Node, path: &FieldPath) -> Self {
        let Some(entries) = mapping_entries(walker, node, path) else {
            return BTreeMap::new();
        };
        let mut map = BTreeMap::new();
        for (key, key_node, value) in entries {
            let value_path = path.key(&key);
            walker.record(&value_path, Some(key_node), value);
            let value = T::read(walker, value, &value_path);
            map.insert(key, value);
        }
        map
    }
}

impl FromNode for serde_json::Value {
    fn read(walker: &mut Walker, node: &Node, path: &FieldPath) -> Self {
        use serde_json::Value;
        match &node.value {
            NodeValue::Scalar(scalar) => match scalar.kind {
                ScalarKind::Null => Value::Null,
                ScalarKind::Bool(value) => Value::Bool(value),
                ScalarKind::Int(value) => {
                    let number = i64::try_from(value)
                        .map(serde_json::Number::from)
                        .or_else(|_| u64::try_from(value).map(serde_json::Number::from));
                    number.map(Value::Number).unwrap_or_else(|_| {
                        walker.error_at(node, path, format!("{value} does not fit in 64 bits"));
                        Value::Null
                    })
                }
                ScalarKind::Float(value) => serde_json::Number::from_f64(value).map_or_else(
                    || {
                        walker.error_at(node, path, "infinity and NaN are not JSON values");
                        Value::Null
                    },
                    Value::Number,
                ),
                ScalarKind::Str => Value::String(scalar.text.clone()),
            },
            NodeValue::Sequence(items) => Value::Array(
                items.iter().enumerate().map(|(index, item)| Self::read(walker, item, &path.index(index))).collect(),
            ),
            NodeValue::Mapping(_) => {
                let entries = mapping_entries(walker, node, path).unwrap_or_default();
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(key, _, value)| (key.clone(), Self::read(walker, value, &path.key(&key))))
                        .collect(),
                )
            }
        }
    }
}

/// The entries of a mapping with string keys, reporting non-string and duplicate keys (the first one wins).
pub(crate) fn mapping_entries<'n>(
    walker: &mut Walker,
    node: &'n Node,
    path: &FieldPath,
) -> Option<Vec<(String, &'n Node, &'n Node)>> {
    let NodeValue::Mapping(pairs) = &node.value else {
        walker.wrong_type(node, path, "a mapping");
        return None;
    };
    let mut entries: Vec<(String, &'n Node, &'n Node)> = Vec::with_capacity(pairs.len());
    for (key_node, value) in pairs {
        let NodeValue::Scalar(key) = &key_node.value else {
            walker.wrong_type(key_node, path, "a string key");
            continue;
        };
        if let Some((_, first, _)) = entries.iter().find(|(existing, _, _)| *existing == key.text) {
            let first = position_of(first.span.start);
            let message = format!("duplicate key `{}` (first at {}:{})", key.text, first.line, first.column);
            walker.error_at(key_node, &path.key(&key.text), message);
            continue;
        }
        entries.push((key.text.clone(), key_node, value));
    }
    Some(entries)
}

/// An enum written as one of a fixed set of words.
pub(crate) trait Choice: Sized + Copy + 'static {
    /// Every word and the value it stands for.
    const CHOICES: &'static [(&'static str, Self)];
}

/// Implements [`Choice`] and [`FromNode`] for an enum.
macro_rules! choices {
    ($ty:ty { $($word:literal => $variant:expr),+ $(,)? }) => {
        impl $crate::parse::reader::Choice for $ty {
            const CHOICES: &'static [(&'static str, Self)] = &[$(($word, $variant)),+];
        }

        impl $crate::parse::reader::FromNode for $ty {
            fn read(
                walker: &mut $crate::parse::reader::Walker,
                node: &$crate::parse::tree::Node,
                path: &$crate::parse::path::FieldPath,
            ) -> Self {
                $crate::parse::reader::read_choice(walker, node, path)
            }
        }
    };
}
pub(crate) use choices;

/// Reads one of the words of `T`, listing them all when the value is none of them.
pub(crate) fn read_choice<T: Choice>(walker: &mut Walker, node: &Node, path: &FieldPath) -> T {
    let fallback = T::CHOICES[0].1;
    let NodeValue::Scalar(scalar) = &node.value else {
        walker.wrong_type(node, path, &format!("one of {}", quoted_list(T::CHOICES.iter().map(|(word, _)| *word))));
        return fallback;
    };
    if let Some((_, value)) = T::CHOICES.iter().find(|(word, _)| *word == scalar.text) {
        return *value;
    }
    let words: Vec<&str> = T::CHOICES.iter().map(|(word, _)| *word).collect();
    let message = match closest(&scalar.text, &words) {
        Some(suggestion) => format!("unknown value `{}`; did you mean `{suggestion}`?", scalar.text),
        None => format!("unknown value `{}`; expected one of {}", scalar.text, quoted_list(words)),
    };
    walker.error_at(node, path, message);
    fallback
}

/// `` `a`, `b`, `c` ``.
pub(crate) fn quoted_list<'a>(words: impl IntoIterator<Item = &'a str>) -> String {
    words.into_iter().map(|word| format!("`{word}`")).collect::<Vec<_>>().join(", ")
}

/// Reads one mapping key by key; [`ObjectReader::finish`] reports the keys nobody asked for.
pub(crate) struct ObjectReader<'n> {
    path: FieldPath,
    position: Position,
    entries: Vec<(String, &'n Node, &'n Node, bool)>,
    expected: Vec<&'static str>,
    /// Keys reported missing, with the index of the report, which an unknown key that is their typo replaces.
    missing: Vec<(String, usize)>,
}

impl<'n> ObjectReader<'n> {
    /// Opens a mapping; reports and returns `None` when `node` is not one.
    pub(crate) fn open(walker: &mut Walker, node: &'n Node, path: &FieldPath) -> Option<Self> {
        let entries = mapping_entries(walker, node, path)?;
        Some(Self {
            path: path.clone(),
            position: position_of(node.span.start),
            entries: entries.into_iter().map(|(key, key_node, value)| (key, key_node, value, false)).collect(),
            expected: Vec::new(),
            missing: Vec::new(),
        })
    }

    /// The path of the mapping.
    pub(crate) fn path(&self) -> &FieldPath {
        &self.path
    }

    /// The value of `key` and its path, marking the key as known; `None` when absent or null.
    pub(crate) fn get(&mut self, walker: &mut Walker, key: &'static str) -> Option<(&'n Node, FieldPath)> {
        if !self.expected.contains(&key) {
            self.expected.push(key);
        }
        let entry = self.entries.iter_mut().find(|(name, ..)| name == key)?;
        entry.3 = true;
        let path = self.path.key(key);
        walker.record(&path, Some(entry.1), entry.2);
        (!entry.2.is_null()).then_some((entry.2, path))
    }

    /// Reads `key` when present and not null.
    pub(crate) fn optional<T: FromNode>(&mut self, walker: &mut Walker, key: &'static str) -> Option<T> {
        let (node, path) = self.get(walker, key)?;
        Some(T::read(walker, node, &path))
    }

    /// Reads `key`, reporting it missing when absent or null.
    pub(crate) fn required<T: FromNode>(&mut self, walker: &mut Walker, key: &'static str) -> Option<T> {
        let value = self.optional(walker, key);
        if value.is_none() {
            self.missing(walker, key, "");
        }
        value
    }

    /// Reads `key` when present and not null, like [`ObjectReader::optional`], but `None` when the value was wrong
    /// (after reporting it), so that rules depending on it do not run on a fallback.
    pub(crate) fn checked<T: FromNode>(&mut self, walker: &mut Walker, key: &'static str) -> Option<T> {
        let (node, path) = self.get(walker, key)?;
        let problems_before = walker.problems.len();
        let value = T::read(walker, node, &path);
        (walker.problems.len() == problems_before).then_some(value)
    }

    /// Reads `key` like [`ObjectReader::checked`], reporting it missing when absent or null.
    pub(crate) fn required_checked<T: FromNode>(&mut self, walker: &mut Walker, key: &'static str) -> Option<T> {
        if !self.has_key(key) || self.entries.iter().any(|(name, _, value, _)| name == key && value.is_null()) {
            self.get(walker, key);
            self.missing(walker, key, "");
            return None;
        }
        self.checked(walker, key)
    }

    /// Reads `key`, or the default when absent or null.
    pub(crate) fn or_default<T: FromNode + Default>(&mut self, walker: &mut Walker, key: &'static str) -> T {
        self.optional(walker, key).unwrap_or_default()
    }

    /// Reports a problem with the value of `key` (at the value), when the key is present.
    pub(crate) fn report(&self, walker: &mut Walker, key: &str, message: &str) {
        if let Some((_, _, value, _)) = self.entries.iter().find(|(name, ..)| name == key) {
            walker.error_at(value, &self.path.key(key), message);
        }
    }

    /// Reports `key` missing, with an explanation such as " for `token` auth".
    pub(crate) fn missing(&mut self, walker: &mut Walker, key: &str, why: &str) {
        self.missing.push((key.to_owned(), walker.problems.len()));
        walker.error(self.position, &self.path.key(key), format!("missing required key `{key}`{why}"));
    }

    /// Whether `key` is present at all, even with a null value.
    pub(crate) fn has_key(&self, key: &str) -> bool {
        self.entries.iter().any(|(name, ..)| name == key)
    }

    /// Reports `key` as not allowed here, when present and not null, and marks it as seen.
    pub(crate) fn forbid(&mut self, walker: &mut Walker, key: &str, why: &str) {
        let Some(entry) = self.entries.iter_mut().find(|(name, ..)| name == key) else {
            return;
        };
        entry.3 = true;
        if !entry.2.is_null() {
            let message = format!("`{key}` is not allowed {why}");
            walker.error(position_of(entry.1.span.start), &self.path.key(key), message);
        }
    }

    /// Reports every key that was not read. A misspelt required key gives one error, at the typo, instead of two.
    pub(crate) fn finish(self, walker: &mut Walker) {
        let mut superseded = Vec::new();
        for (key, key_node, _, _) in self.entries.iter().filter(|entry| !entry.3) {
            let message = match closest(key, &self.expected) {
                Some(suggestion) => {
                    let missing = self.missing.iter().find(|(missing, _)| missing == suggestion);
                    superseded.extend(missing.map(|(_, index)| *index));
                    format!("unknown key `{key}`; did you mean `{suggestion}`?")
                }
                None => format!("unknown key `{key}`; expected one of {}", quoted_list(self.expected.iter().copied())),
            };
            walker.error_at(key_node, &self.path.key(key), message);
        }
        superseded.sort_unstable();
        superseded.dedup();
        for index in superseded.into_iter().rev() {
            walker.problems.remove(index);
        }
    }
}

/// The expected key closest to a misspelt one, if it is close enough to be a likely typo.
fn closest<'a>(key: &str, expected: &[&'a str]) -> Option<&'a str> {
    let key = key.to_lowercase();
    expected
        .iter()
        .map(|candidate| (edit_distance(&key, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_only() {
        let expected = ["url", "method", "headers", "execution_mode"];
        assert_eq!(closest("urll", &expected), Some("url"));
        assert_eq!(closest("header", &expected), Some("headers"));
        assert_eq!(closest("execution-mode", &expected), Some("execution_mode"));
        assert_eq!(closest("Method", &expected), Some("method"));
        assert_eq!(closest("color", &expected), None);
    }
}
