//! The positioned tree of a JSON file read straight from its text: the nodes saphyr builds for the same text (same
//! spans, decoded text, styles and kinds), without going through a YAML scanner.
//!
//! JSON is YAML 1.2 flow syntax, and the YAML path (`tree::load`) stays the reference: this reader reproduces its
//! spans exactly, quirks included. Markers count characters (index and 0-based column) and lines from 1; CRLF is one
//! line break of two characters, a lone CR is a line break. A double-quoted scalar's span ends after its closing quote
//! and the spaces and tabs that follow on the same line, as does a collection's after its closing bracket; a plain
//! scalar's ends after its last character. Surrogate-pair escapes are decoded to their character (what `scalars`
//! restores on the YAML path). The text must have been accepted by `serde_json` first; anything this reader does not
//! reproduce (a root that is not a mapping or a list, a lone surrogate escape, nesting deeper than [`MAX_NESTING`])
//! makes it give up, and the YAML path then reads the file and reports what it finds, at the positions it always did.

use super::tree::{MAX_NESTING, Node, NodeValue, Scalar, ScalarKind, resolve_plain};
use saphyr_parser::{Marker, ScalarStyle, Span};

/// The tree of a JSON file.
pub(crate) struct JsonTree {
    /// The root node, a mapping or a list.
    pub(crate) root: Node,
    /// Whether some scalar holds a NUL character, which only a `\u0000` escape can write in JSON (a raw one is a
    /// control character `serde_json` refuses); when none does, no scalar needs `scalars::finish_scalars`.
    pub(crate) holds_nul: bool,
}

/// The tree of `text`, which `serde_json` has accepted; `None` when the text holds something left to the YAML path
/// (see the module's documentation), which then reads it and reports any error.
pub(crate) fn load(text: &str) -> Option<JsonTree> {
    let mut reader = JsonReader { bytes: text.as_bytes(), at: 0, index: 0, line: 1, column: 0, holds_nul: false };
    reader.skip_whitespace();
    if !matches!(reader.peek(), Some(b'{' | b'[')) {
        return None;
    }
    let root = reader.value(0)?;
    reader.skip_whitespace();
    (reader.at == reader.bytes.len()).then_some(JsonTree { root, holds_nul: reader.holds_nul })
}

/// A cursor over the text that keeps saphyr's marker (characters, not bytes) as it goes.
struct JsonReader<'text> {
    bytes: &'text [u8],
    /// The byte offset.
    at: usize,
    /// The character offset.
    index: usize,
    /// 1-based line.
    line: usize,
    /// 0-based column, in characters.
    column: usize,
    /// Whether an escape wrote a NUL character.
    holds_nul: bool,
}

impl JsonReader<'_> {
    fn marker(&self) -> Marker {
        Marker::new(self.index, self.line, self.column)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// Moves over `count` ASCII characters that are not line breaks.
    fn advance(&mut self, count: usize) {
        self.at += count;
        self.index += count;
        self.column += count;
    }

    /// Moves over JSON whitespace, line breaks included.
    fn skip_whitespace(&mut self) {
        while let Some(byte) = self.peek() {
            match byte {
                b' ' | b'\t' => self.advance(1),
                b'\n' | b'\r' => {
                    let width = if byte == b'\r' && self.bytes.get(self.at + 1) == Some(&b'\n') { 2 } else { 1 };
                    self.at += width;
                    self.index += width;
                    self.line += 1;
                    self.column = 0;
                }
                _ => break,
            }
        }
    }

    /// Moves over spaces and tabs: where saphyr ends a quoted scalar's or a closing bracket's token.
    fn skip_blanks(&mut self) {
        while let Some(b' ' | b'\t') = self.peek() {
            self.advance(1);
        }
    }

    /// Reads the value that starts here (after whitespace), inside `depth` collections.
    fn value(&mut self, depth: usize) -> Option<Node> {
        match self.peek()? {
            b'{' => self.mapping(depth),
            b'[' => self.sequence(depth),
            b'"' => self.string(),
            _ => Some(self.plain()),
        }
    }

    fn mapping(&mut self, depth: usize) -> Option<Node> {
        if depth >= MAX_NESTING {
            return None;
        }
        let start = self.marker();
        self.advance(1);
        self.skip_whitespace();
        let mut entries = Vec::new();
        if self.peek()? != b'}' {
            loop {
                if self.peek()? != b'"' {
                    return None;
                }
                let key = self.string()?;
                self.skip_whitespace();
                if self.peek()? != b':' {
                    return None;
                }
                self.advance(1);
                self.skip_whitespace();
                let value = self.value(depth + 1)?;
                entries.push((key, value));
                self.skip_whitespace();
                match self.peek()? {
                    b',' => {
                        self.advance(1);
                        self.skip_whitespace();
                    }
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        let end = self.closing_bracket();
        Some(Node { span: Span::new(start, end), value: NodeValue::Mapping(entries) })
    }

    fn sequence(&mut self, depth: usize) -> Option<Node> {
        if depth >= MAX_NESTING {
            return None;
        }
        let start = self.marker();
        self.advance(1);
        self.skip_whitespace();
        let mut items = Vec::new();
        if self.peek()? != b']' {
            loop {
                items.push(self.value(depth + 1)?);
                self.skip_whitespace();
                match self.peek()? {
                    b',' => {
                        self.advance(1);
                        self.skip_whitespace();
                    }
                    b']' => break,
                    _ => return None,
                }
            }
        }
        let end = self.closing_bracket();
        Some(Node { span: Span::new(start, end), value: NodeValue::Sequence(items) })
    }

    /// Moves over the closing bracket here and the blanks after it; the end of the collection's span.
    fn closing_bracket(&mut self) -> Marker {
        self.advance(1);
        self.skip_blanks();
        self.marker()
    }

    /// A number, `true`, `false` or `null`: a plain scalar typed as the YAML path types it.
    fn plain(&mut self) -> Node {
        let start = self.marker();
        let from = self.at;
        while let Some(byte) = self.peek() {
            if matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | b',' | b']' | b'}') {
                break;
            }
            self.at += 1;
        }
        // JSON's numbers and literals are ASCII, but count characters all the same.
        let text = std::str::from_utf8(&self.bytes[from..self.at]).unwrap_or_default();
        let characters = text.chars().count();
        self.index += characters;
        self.column += characters;
        let kind = resolve_plain(text);
        Node {
            span: Span::new(start, self.marker()),
            value: NodeValue::Scalar(Scalar { text: text.to_owned(), style: ScalarStyle::Plain, kind }),
        }
    }

    /// A double-quoted string, its escapes decoded; `None` on a lone surrogate escape (which YAML refuses).
    fn string(&mut self) -> Option<Node> {
        let start = self.marker();
        self.advance(1);
        let mut text = String::new();
        loop {
            let from = self.at;
            let run = self.bytes[from..].iter().position(|byte| matches!(byte, b'"' | b'\\'))?;
            let chunk = std::str::from_utf8(&self.bytes[from..from + run]).ok()?;
            text.push_str(chunk);
            let characters = if chunk.is_ascii() { run } else { chunk.chars().count() };
            self.at += run;
            self.index += characters;
            self.column += characters;
            if self.peek()? == b'"' {
                break;
            }
            text.push(self.escape()?);
        }
        let end = self.closing_bracket();
        Some(Node {
            span: Span::new(start, end),
            value: NodeValue::Scalar(Scalar { text, style: ScalarStyle::DoubleQuoted, kind: ScalarKind::Str }),
        })
    }

    /// The character of the escape that starts here, moving over it.
    fn escape(&mut self) -> Option<char> {
        let letter = *self.bytes.get(self.at + 1)?;
        let simple = match letter {
            b'"' => Some('"'),
            b'\\' => Some('\\'),
            b'/' => Some('/'),
            b'b' => Some('\x08'),
            b'f' => Some('\x0c'),
            b'n' => Some('\n'),
            b'r' => Some('\r'),
            b't' => Some('\t'),
            b'u' => None,
            _ => return None,
        };
        if let Some(character) = simple {
            self.advance(2);
            return Some(character);
        }
        let code = self.hex4(self.at + 2)?;
        if (0xD800..=0xDBFF).contains(&code) {
            if self.bytes.get(self.at + 6..self.at + 8) != Some(b"\\u") {
                return None;
            }
            let low = self.hex4(self.at + 8)?;
            if !(0xDC00..=0xDFFF).contains(&low) {
                return None;
            }
            self.advance(12);
            return char::from_u32(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00));
        }
        self.advance(6);
        self.holds_nul |= code == 0;
        char::from_u32(code)
    }

    /// The four hex digits at byte `at`.
    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.bytes.get(at..at + 4)?;
        digits.iter().try_fold(0, |code, byte| Some(code * 16 + char::from(*byte).to_digit(16)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::reader::Walker;
    use crate::parse::{scalars, tree};
    use proptest::prelude::*;

    /// What saphyr says about valid JSON it refuses (which this reader reads, as JSON).
    const SAPHYR_REFUSES_VALID_JSON: &[&str] = &["':' must be followed by a valid YAML whitespace"];

    /// The tree the YAML path builds for `text` (surrogate pairs restored), printed with every span, text, style and
    /// kind; the load error's message when it fails.
    fn through_yaml(text: &str) -> Result<String, String> {
        let astral = scalars::substitute_surrogate_pairs(text);
        let mut root = match &astral {
            Some((substituted, _)) => tree::load(substituted),
            None => tree::load(text),
        }
        .map_err(|error| format!("{}:{} {}", error.line, error.column, error.message))?;
        scalars::finish_scalars(&mut root, astral.as_ref().map(|(_, astral)| astral), &mut Walker::default());
        Ok(format!("{root:#?}"))
    }

    /// Reads `text` both ways: when this reader builds a tree, it is the YAML path's tree; when it gives up, the YAML
    /// path is the one that reports. Returns whether this reader built the tree.
    fn check(text: &str) -> bool {
        serde_json::from_str::<serde::de::IgnoredAny>(text)
            .unwrap_or_else(|error| panic!("not JSON: {error}: {text:?}"));
        match load(text) {
            Some(JsonTree { mut root, holds_nul }) => {
                let mut walker = Walker::default();
                scalars::finish_scalars(&mut root, None, &mut walker);
                assert_eq!(holds_nul, !walker.is_clean(&crate::parse::path::FieldPath::root()), "{text:?}");
                match through_yaml(text) {
                    Ok(expected) => assert_eq!(format!("{root:#?}"), expected, "{text:?}"),
                    Err(message) => assert!(
                        SAPHYR_REFUSES_VALID_JSON.iter().any(|known| message.ends_with(known)),
                        "saphyr: {message}, on {text:?}"
                    ),
                }
                true
            }
            None => false,
        }
    }

    fn nested(open: &str, close: &str, levels: usize) -> String {
        format!("{}1{}", open.repeat(levels), close.repeat(levels))
    }

    #[test]
    fn builds_the_tree_the_yaml_path_builds() {
        let long_key = format!(r#"{{"{}": "{}"}}"#, "k".repeat(3000), "v".repeat(5000));
        let at_limit = nested("[", "]", MAX_NESTING);
        let mixed_at_limit = format!("{}{}", r#"{"a": ["#.repeat(MAX_NESTING / 2), "]}".repeat(MAX_NESTING / 2));
        let cases: Vec<(&str, &str)> = vec![
            ("empty mapping", "{}"),
            ("empty list", "[]"),
            ("empty containers inside", r#"{"a": {}, "b": [], "c": [{}, []]}"#),
            ("spaces everywhere", " { \"a\" : [ 1 , \"x\" ] , \"b\" : { } } "),
            ("no spaces", r#"{"a":[1,"x",{"b":null}],"c":true}"#),
            ("short escapes", r#"{"a": "\" \\ \/ \b \f \n \r \t"}"#),
            ("unicode escapes", r#"{"k\u00e9y": "\u0041\u00e9\u20ac\uFFFF\u00A0"}"#),
            ("escaped NUL", r#"{"a": "x\u0000y"}"#),
            ("raw unicode", "{\"é\": \"日本語 🎉 \u{85} \u{2028} \u{feff}\"}"),
            ("surrogate pairs", r#"{"a\ud83c\udf89": ["\ud83c\udf89 \\ud83c \"\uD83D\uDE00", "\ue000"]}"#),
            ("escaped backslash before u", r#"{"a": "\\ud83c\\udf89"}"#),
            (
                "integers",
                "[0, -0, 1, -1, 42, 170141183460469231731687303715884105727, 12345678901234567890123456789012345678901234567890]",
            ),
            ("floats", "[1.5, -1.5e10, 1E+2, 1e-2, 0.0, -0.0, 1E400, -1e-400, 2.5E-3]"),
            ("literals", "[true, false, null]"),
            ("duplicate keys", r#"{"a": 1, "a": 2, "a": {"a": 3, "a": [4]}}"#),
            ("LF", "{\n  \"a\": 1,\n  \"b\": [\n    2\n  ]\n}\n"),
            ("CRLF", "{\r\n  \"a\": 1,\r\n  \"b\": [\r\n    2\r\n  ]\r\n}\r\n"),
            ("lone CR", "{\r\"a\":\r1,\r\"b\"\r:\r[2\r]\r}\r"),
            ("tabs", "{\t\"a\"\t:\t[\t1\t,\t\"x\"\t]\t}\t"),
            ("blank lines and trailing blanks", "\n\n{ \"a\": \"x\"   \n\n , \"b\": [1]  \t\n}  \n\n"),
            ("line breaks before colons", "{\"a\"\n: 1, \"b\"\r\n:\n\"x\"}"),
            ("value at the start of a line", "[\n-1,\n\"x\",\ntrue,\n{}\n]"),
            ("long key and value", &long_key),
            ("nesting at the limit", &at_limit),
            ("mixed nesting at the limit", &mixed_at_limit),
        ];
        for (name, text) in cases {
            assert!(check(text), "{name}: this reader gave up on {text:?}");
        }
    }

    #[test]
    fn leaves_what_it_does_not_reproduce_to_the_yaml_path() {
        let too_deep = nested("[", "]", MAX_NESTING + 1);
        let mixed_too_deep = format!("{}{}", r#"{"a": ["#.repeat(33), "]}".repeat(33));
        let cases: Vec<(&str, &str)> = vec![
            ("lone high surrogate", r#"{"a": "\ud800"}"#),
            ("lone low surrogate", r#"{"a": "\udc00"}"#),
            ("high surrogate then not a low one", r#"{"a": "\ud800\u0041"}"#),
            ("a string at the root", r#""a""#),
            ("a number at the root", "1"),
            ("nesting over the limit", &too_deep),
            ("mixed nesting over the limit", &mixed_too_deep),
        ];
        for (name, text) in cases {
            if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
                continue;
            }
            assert!(!check(text), "{name}: {text:?}");
        }
    }

    /// A JSON value printed with chosen whitespace and escapes.
    #[derive(Debug, Clone)]
    enum Json {
        Null,
        Bool(bool),
        Number(String),
        Text(Vec<(char, u8)>),
        List(Vec<Json>),
        Object(Vec<(Vec<(char, u8)>, Json)>),
    }

    fn character() -> impl Strategy<Value = char> {
        prop_oneof![
            4 => proptest::char::range(' ', '~'),
            2 => proptest::sample::select(vec![
                '"', '\\', '/', '\0', '\u{8}', '\u{c}', '\n', '\r', '\t', '\u{1f}', 'é', '€', '\u{85}', '\u{a0}',
                '\u{2028}', '\u{feff}', '\u{e000}', '\u{f8ff}', '\u{fffd}', '\u{1f389}', '\u{10ffff}',
            ]),
            1 => any::<char>(),
        ]
    }

    fn text() -> impl Strategy<Value = Vec<(char, u8)>> {
        proptest::collection::vec((character(), 0..4u8), 0..8)
    }

    fn json() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            "-?(0|[1-9][0-9]{0,40})(\\.[0-9]{1,6})?([eE][-+]?[0-9]{1,3})?".prop_map(Json::Number),
            text().prop_map(Json::Text),
        ];
        leaf.prop_recursive(8, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Json::List),
                proptest::collection::vec(
                    (prop_oneof![text(), Just(vec![('k', 0)]), Just(vec![('k', 2)])], inner),
                    0..6
                )
                .prop_map(Json::Object),
            ]
        })
    }

    /// Appends the whitespace `spaces` chooses for this turn.
    fn space(spaces: &[u8], turn: &mut usize, out: &mut String) {
        let choice = spaces.get(*turn % spaces.len().max(1)).copied().unwrap_or(0);
        *turn += 1;
        out.push_str(["", " ", "  ", "\t", "\n", "\r\n", "\r", " \n  "][usize::from(choice) % 8]);
    }

    /// Prints `value`, taking the whitespace between tokens from `spaces` in turn.
    fn print(value: &Json, spaces: &[u8], turn: &mut usize, out: &mut String) {
        match value {
            Json::Null => out.push_str("null"),
            Json::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
            Json::Number(text) => out.push_str(text),
            Json::Text(characters) => print_text(characters, out),
            Json::List(items) => {
                out.push('[');
                space(spaces, turn, out);
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                        space(spaces, turn, out);
                    }
                    print(item, spaces, turn, out);
                    space(spaces, turn, out);
                }
                out.push(']');
            }
            Json::Object(entries) => {
                out.push('{');
                space(spaces, turn, out);
                for (index, (key, item)) in entries.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                        space(spaces, turn, out);
                    }
                    print_text(key, out);
                    space(spaces, turn, out);
                    out.push(':');
                    space(spaces, turn, out);
                    print(item, spaces, turn, out);
                    space(spaces, turn, out);
                }
                out.push('}');
            }
        }
    }

    /// A string: each character raw (when JSON allows it), as a short escape (when it has one), or as `\u` escapes
    /// in lower or upper case (a surrogate pair above the Basic Multilingual Plane).
    fn print_text(characters: &[(char, u8)], out: &mut String) {
        out.push('"');
        for (character, how) in characters {
            let short = match character {
                '"' => Some("\\\""),
                '\\' => Some("\\\\"),
                '/' => Some("\\/"),
                '\u{8}' => Some("\\b"),
                '\u{c}' => Some("\\f"),
                '\n' => Some("\\n"),
                '\r' => Some("\\r"),
                '\t' => Some("\\t"),
                _ => None,
            };
            let raw_allowed = !matches!(character, '"' | '\\') && u32::from(*character) >= 0x20;
            match (how, short) {
                (0, _) if raw_allowed => out.push(*character),
                (1, Some(short)) => out.push_str(short),
                _ => {
                    let mut units = [0u16; 2];
                    for unit in character.encode_utf16(&mut units) {
                        if how % 2 == 0 {
                            out.push_str(&format!("\\u{unit:04x}"));
                        } else {
                            out.push_str(&format!("\\u{unit:04X}"));
                        }
                    }
                }
            }
        }
        out.push('"');
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn random_json_reads_as_the_yaml_path_reads_it(
            entries in proptest::collection::vec((text(), json()), 0..5),
            spaces in proptest::collection::vec(0..8u8, 1..16),
            before in 0..8u8,
            after in 0..8u8,
        ) {
            let mut text = String::new();
            let mut turn = 0;
            text.push_str(["", " ", "\n", "\r\n", "\t", "\r", "  ", "\n\n"][usize::from(before)]);
            print(&Json::Object(entries), &spaces, &mut turn, &mut text);
            text.push_str(["", " ", "\n", "\r\n", "\t", "\r", "  ", "\n\n"][usize::from(after)]);
            prop_assert!(check(&text), "this reader gave up on {:?}", text);
        }
    }
}
