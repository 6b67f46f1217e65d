//! What the YAML tree needs besides saphyr: JSON surrogate-pair escapes (which YAML does not accept) carried through
//! the YAML parser, and NUL characters refused in every scalar, since definitions are stored as text.
//!
//! JSON writes a character outside the Basic Multilingual Plane as a pair of escapes, `"\ud83c\udf89"` (Python's
//! `json.dumps` does by default); YAML's `\u` escapes must be characters, so saphyr refuses a surrogate. Before a JSON
//! file goes to saphyr, each pair is replaced by two escapes of the same length naming private-use characters the
//! file does not contain, and the scalars of the tree are then given their real characters back. Lengths are kept, so
//! every position saphyr reports is a position in the original text.

use super::path::FieldPath;
use super::reader::{Walker, position_of};
use super::tree::{Node, NodeValue};
use crate::storable_text;
use std::collections::{BTreeMap, BTreeSet};

/// Stand-ins for the characters of surrogate pairs: `(first, second)` private-use characters to the character.
#[derive(Debug, Default)]
pub(crate) struct Astral {
    pairs: BTreeMap<(char, char), char>,
}

/// The JSON `text` with every surrogate-pair escape replaced by escapes of stand-ins, and the stand-ins; `None` when
/// the text has no surrogate pair (or, absurdly, uses so many private-use characters that no stand-in is left).
pub(crate) fn substitute_surrogate_pairs(text: &str) -> Option<(String, Astral)> {
    if !text.contains("\\u") {
        return None;
    }
    let pairs = find_pairs(text);
    if pairs.is_empty() {
        return None;
    }
    let mut used: BTreeSet<u32> = text.chars().map(u32::from).filter(|code| is_private_use(*code)).collect();
    used.extend(escaped_codes(text).filter(|code| is_private_use(*code)));
    let mut free = (0xE000..=0xF8FF).filter(|code| !used.contains(code)).filter_map(char::from_u32);
    let second = free.next()?;
    let mut stand_ins: BTreeMap<char, char> = BTreeMap::new();
    for (_, _, character) in &pairs {
        if !stand_ins.contains_key(character) {
            stand_ins.insert(*character, free.next()?);
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, end, character) in &pairs {
        out.push_str(&text[copied..*start]);
        out.push_str(&format!("\\u{:04X}\\u{:04X}", u32::from(stand_ins[character]), u32::from(second)));
        copied = *end;
    }
    out.push_str(&text[copied..]);
    let pairs = stand_ins.into_iter().map(|(character, first)| ((first, second), character)).collect();
    Some((out, Astral { pairs }))
}

fn is_private_use(code: u32) -> bool {
    (0xE000..=0xF8FF).contains(&code)
}

/// The code of every `\uXXXX` written in `text` (in strings or not: a superset is harmless).
fn escaped_codes(text: &str) -> impl Iterator<Item = u32> + '_ {
    text.match_indices("\\u").filter_map(|(index, _)| hex4(text.get(index + 2..index + 6)?))
}

fn hex4(digits: &str) -> Option<u32> {
    (digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| u32::from_str_radix(digits, 16).ok())?
}

/// `(start, end, character)` of every `\uD8xx\uDCxx` pair inside the strings of valid JSON `text`.
fn find_pairs(text: &str) -> Vec<(usize, usize, char)> {
    let bytes = text.as_bytes();
    let mut pairs = Vec::new();
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => in_string = !in_string,
            b'\\' if in_string => {
                if bytes.get(i + 1) == Some(&b'u')
                    && let Some(high) = text.get(i + 2..i + 6).and_then(hex4)
                    && (0xD800..=0xDBFF).contains(&high)
                    && text.get(i + 6..i + 8) == Some("\\u")
                    && let Some(low) = text.get(i + 8..i + 12).and_then(hex4)
                    && (0xDC00..=0xDFFF).contains(&low)
                    && let Some(character) = char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
                {
                    pairs.push((i, i + 12, character));
                    i += 12;
                    continue;
                }
                // Skip the escaped character, so that `\"` does not end the string.
                i += 2;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    pairs
}

impl Astral {
    fn restore(&self, text: &mut String) {
        if self.pairs.is_empty() || !text.chars().any(|c| is_private_use(u32::from(c))) {
            return;
        }
        let mut out = String::with_capacity(text.len());
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if let Some(&next) = chars.peek()
                && let Some(character) = self.pairs.get(&(c, next))
            {
                out.push(*character);
                chars.next();
                continue;
            }
            out.push(c);
        }
        *text = out;
    }
}

/// Gives every scalar (keys included) its real characters back, and reports every scalar holding a NUL at its
/// position and path. Iterative, so that the depth of the tree costs no stack.
pub(crate) fn finish_scalars(root: &mut Node, astral: Option<&Astral>, walker: &mut Walker) {
    let mut stack: Vec<(&mut Node, FieldPath)> = vec![(root, FieldPath::root())];
    while let Some((node, path)) = stack.pop() {
        let start = node.span.start;
        match &mut node.value {
            NodeValue::Scalar(scalar) => {
                if let Some(astral) = astral {
                    astral.restore(&mut scalar.text);
                }
                if let Err(message) = storable_text(&scalar.text) {
                    walker.error(position_of(start), &path, message);
                }
            }
            NodeValue::Sequence(items) => {
                for (index, item) in items.iter_mut().enumerate().rev() {
                    stack.push((item, path.index(index)));
                }
            }
            NodeValue::Mapping(entries) => {
                for (key, value) in entries.iter_mut().rev() {
                    let NodeValue::Scalar(scalar) = &mut key.value else {
                        stack.push((value, path.clone()));
                        continue;
                    };
                    if let Some(astral) = astral {
                        astral.restore(&mut scalar.text);
                    }
                    let value_path = path.key(&scalar.text);
                    if let Err(message) = storable_text(&scalar.text) {
                        walker.error(position_of(key.span.start), &value_path, message);
                    }
                    stack.push((value, value_path));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_become_same_length_stand_ins_and_come_back() {
        let text = r#"{"a\ud83c\udf89": ["\ud83c\udf89 \\ud83c\udf89 \"\uD83D\uDE00", "\ue000"]}"#;
        let (substituted, astral) = substitute_surrogate_pairs(text).unwrap();
        assert_eq!(substituted.chars().count(), text.chars().count());
        assert_eq!(text.matches("\\ud83c\\udf89").count(), 3);
        assert_eq!(substituted.matches("\\ud83c\\udf89").count(), 1);
        assert!(!substituted.contains("\\uD83D"));
        // The escaped backslash is not an escape: `\\ud83c` stays as it is.
        assert!(substituted.contains(r"\\ud83c\udf89"));
        // A private-use character the file uses is never a stand-in.
        assert!(!substituted.contains("\\uE000\\u"));
        let mut restored = String::from("a");
        restored.extend(astral.pairs.keys().next().map(|(a, b)| [*a, *b]).unwrap());
        astral.restore(&mut restored);
        assert!(restored == "a\u{1F389}" || restored == "a\u{1F600}", "{restored}");
    }

    #[test]
    fn texts_without_pairs_are_left_alone() {
        for text in [r#"{"a": "b"}"#, r#"{"a": "\u00e9\ud7ff"}"#, r#"{"a": "\\ud83c\\udf89"}"#] {
            assert!(substitute_surrogate_pairs(text).is_none(), "{text}");
        }
    }
}
