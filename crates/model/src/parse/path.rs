//! Field paths such as `actions[0].request.headers['Content-Type']`, as diagnostics print them.

use std::fmt;
use std::sync::Arc;

/// A path from the document root to a value.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct FieldPath(Vec<Segment>);

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Segment {
    /// Shared, so that the paths of a large document's many values (each a copy of its parent's path and one more
    /// segment) copy no key text.
    Key(Arc<str>),
    Index(usize),
}

impl FieldPath {
    /// The root of the document.
    pub(crate) fn root() -> Self {
        Self::default()
    }

    /// The path of `key` inside this mapping.
    pub(crate) fn key(&self, key: &str) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Key(key.into()));
        path
    }

    /// The path of item `index` inside this sequence.
    pub(crate) fn index(&self, index: usize) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Index(index));
        path
    }

    /// Parses a path as [`Display`](fmt::Display) prints it; `None` when it is not one.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        if text == "$" {
            return Some(Self::root());
        }
        if text.is_empty() {
            return None;
        }
        let mut path = Self::root();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(quoted) = rest.strip_prefix("['") {
                let mut key = String::new();
                let mut chars = quoted.char_indices();
                let end = loop {
                    match chars.next()? {
                        (_, '\\') => key.push(chars.next()?.1),
                        (at, '\'') => break at,
                        (_, c) => key.push(c),
                    }
                };
                rest = quoted[end + 1..].strip_prefix(']')?;
                path.0.push(Segment::Key(key.into()));
            } else if let Some(indexed) = rest.strip_prefix('[') {
                let (index, after) = indexed.split_once(']')?;
                path.0.push(Segment::Index(index.parse().ok()?));
                rest = after;
            } else {
                let key_text = if path.0.is_empty() { rest } else { rest.strip_prefix('.')? };
                let end = key_text.find(['.', '[']).unwrap_or(key_text.len());
                let key = &key_text[..end];
                if !is_identifier(key) {
                    return None;
                }
                path.0.push(Segment::Key(key.into()));
                rest = &key_text[end..];
            }
        }
        Some(path)
    }

    /// The path of the value that holds this one; `None` at the root.
    pub(crate) fn parent(&self) -> Option<Self> {
        let (_, parent) = self.0.split_last()?;
        Some(Self(parent.to_vec()))
    }

    /// Whether `self` is `other` or lies inside it.
    pub(crate) fn starts_with(&self, other: &FieldPath) -> bool {
        self.0.starts_with(&other.0)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("$");
        }
        for (position, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if is_identifier(key) => {
                    if position > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(key)?;
                }
                Segment::Key(key) => write!(f, "['{}']", key.replace('\\', "\\\\").replace('\'', "\\'"))?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_print_like_the_contract() {
        let root = FieldPath::root();
        assert_eq!(root.to_string(), "$");
        assert_eq!(root.key("actions").index(0).key("request").key("url").to_string(), "actions[0].request.url");
        assert_eq!(root.key("headers").key("Content-Type").to_string(), "headers['Content-Type']");
        assert_eq!(root.key("custom_fields").key("it's").to_string(), "custom_fields['it\\'s']");
        assert_eq!(root.index(2).to_string(), "[2]");
        assert_eq!(root.key("Slack Channel").key("x").to_string(), "['Slack Channel'].x");
    }

    #[test]
    fn printed_paths_parse_back() {
        let root = FieldPath::root();
        let paths = [
            root.clone(),
            root.key("actions").index(0).key("request").key("url"),
            root.key("headers").key("Content-Type"),
            root.key("custom_fields").key("it's \\ odd").index(3),
            root.index(2).key("x"),
        ];
        for path in paths {
            assert_eq!(FieldPath::parse(&path.to_string()), Some(path.clone()), "{path}");
        }
        for bad in ["", "a..b", "[x]", "['open", "a.", ".a"] {
            assert_eq!(FieldPath::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn prefixes_follow_segments() {
        let action = FieldPath::root().key("actions").index(1);
        assert!(action.key("name").starts_with(&action));
        assert!(!FieldPath::root().key("actions").index(10).starts_with(&action));
    }
}
