//! The crate's error type: every template error points into the template source with line, column and a caret.

use std::fmt;

/// A position in a template's source, with the source line it falls on so that errors can show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Line within the template, starting at 1.
    pub line: u32,
    /// Column within the line, in characters, starting at 1.
    pub column: u32,
    /// Byte offset within the template.
    pub offset: usize,
    /// The source line the position falls on, without its line ending (a window of it when the line is long).
    pub source_line: String,
    /// The column of the caret within `source_line`, in characters, starting at 1.
    pub caret_column: u32,
}

/// Lines longer than this many characters are shown as a window around the caret.
const SNIPPET_WIDTH: usize = 100;

impl Location {
    /// The location of byte `offset` in `source` (clamped to the source; moved back to a character boundary).
    ///
    /// Costs a scan of the source up to `offset` (the crate locates the many offsets of one template in one pass).
    pub fn in_source(source: &str, offset: usize) -> Self {
        Locator::new(source).locate(offset)
    }

    /// The source line followed by a line with a caret under the column, for example:
    ///
    /// ```text
    /// {"text":"{{CustomField['Slack Message']}}}
    ///         ^
    /// ```
    pub fn snippet(&self) -> String {
        let pad: String = self
            .source_line
            .chars()
            .take(self.caret_column.saturating_sub(1) as usize)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!("{}\n{pad}^", self.source_line)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Locates many offsets of one source in time linear in the source when they come in increasing order (as a
/// template's placeholders do): lines and columns are counted from the previous offset, not from the start.
pub(crate) struct Locator<'s> {
    source: &'s str,
    /// The last offset located, and its line and column.
    offset: usize,
    line: u32,
    column: u32,
}

impl<'s> Locator<'s> {
    pub(crate) fn new(source: &'s str) -> Self {
        Self { source, offset: 0, line: 1, column: 1 }
    }

    /// The line and column of byte `offset` (clamped, moved back to a character boundary), and that offset.
    pub(crate) fn line_column(&mut self, offset: usize) -> (u32, u32, usize) {
        let source = self.source;
        let mut offset = offset.min(source.len());
        while !source.is_char_boundary(offset) {
            offset -= 1;
        }
        if offset < self.offset {
            (self.offset, self.line, self.column) = (0, 1, 1);
        }
        for c in source[self.offset..offset].chars() {
            if c == '\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
        self.offset = offset;
        (self.line, self.column, offset)
    }

    /// The full location of byte `offset`, with a window of its line (costs at most [`SNIPPET_WIDTH`] characters on
    /// either side, whatever the line's length).
    pub(crate) fn locate(&mut self, offset: usize) -> Location {
        let (line, column, offset) = self.line_column(offset);
        let (source_line, caret_column) = window(self.source, offset);
        Location { line, column, offset, source_line, caret_column: caret_column as u32 }
    }
}

/// The line around byte `offset`, cut to a window of [`SNIPPET_WIDTH`] characters around it when longer (cut ends
/// marked `…`), and the caret column in it. Looks at no more than `SNIPPET_WIDTH + 1` characters on either side.
fn window(source: &str, offset: usize) -> (String, usize) {
    const CAP: usize = SNIPPET_WIDTH + 1;
    let in_line = |&(_, c): &(usize, char)| c != '\n';
    // The characters before the caret, nearest first, and from the caret on (byte offsets relative to `offset`).
    let mut before: Vec<(usize, char)> =
        source[..offset].char_indices().rev().take_while(in_line).take(CAP + 1).collect();
    let mut after: Vec<(usize, char)> = source[offset..].char_indices().take_while(in_line).take(CAP).collect();
    // A line ending with CRLF is shown without its CR, even when the caret is past the CR.
    let mut end_override = None;
    let mut past_cr = 0;
    if after.len() < CAP && after.last().is_some_and(|&(_, c)| c == '\r') {
        after.pop();
    } else if after.is_empty() && before.first().is_some_and(|&(_, c)| c == '\r') {
        end_override = Some(before.remove(0).0);
        past_cr = 1;
    }
    before.truncate(CAP);
    let (b, a) = (before.len(), after.len());
    let (shown_before, shown_after) = if b < CAP && a < CAP && b + a <= SNIPPET_WIDTH {
        (b, a)
    } else {
        let half = SNIPPET_WIDTH / 2;
        let shown_before = if b <= half {
            b
        } else if a < half {
            SNIPPET_WIDTH - a
        } else {
            half
        };
        (shown_before, (SNIPPET_WIDTH - shown_before).min(a))
    };
    let start = before.get(shown_before.wrapping_sub(1)).map_or(offset, |&(i, _)| i);
    let end = after.get(shown_after.wrapping_sub(1)).map_or(offset, |&(i, c)| offset + i + c.len_utf8());
    let end = end_override.unwrap_or(end);
    let mut text = String::new();
    let mut caret = shown_before + 1 + past_cr;
    if shown_before < b {
        text.push('…');
        caret += 1;
    }
    text.push_str(&source[start..end]);
    if shown_after < a {
        text.push('…');
    }
    (text, caret)
}

/// Why a template could not be compiled or rendered.
///
/// Every variant that concerns a place in the template carries its [`Location`] (line, column, and the source line
/// with a caret, shown by `Display`), and the path of the value involved where there is one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The template is not well formed: an unclosed `{{`, an unknown filter, a block closed by the wrong tag, …
    #[error("{at}: {message}\n{}", at.snippet())]
    Syntax {
        /// Where the problem is.
        at: Location,
        /// What is wrong.
        message: String,
    },
    /// A value the template reads is not in the context, and no `default` filter covers it.
    #[error("{at}: `{path}` is missing (add `| default: …` if it is optional)\n{}", at.snippet())]
    MissingValue {
        /// Where the path is written.
        at: Location,
        /// The path as written in the template, such as `CustomField['Slack Channel']`.
        path: String,
    },
    /// A filter could not apply to its input or arguments (`plus` on a word, `divided_by: 0`, a bad date, …).
    #[error("{at}: `{filter}`: {message}\n{}", at.snippet())]
    Filter {
        /// Where the filter is written.
        at: Location,
        /// The filter's name.
        filter: String,
        /// What went wrong.
        message: String,
    },
    /// A block (`#each`, `#with`, …) could not render, typically because its value is missing or has the wrong type.
    #[error("{at}: {message}\n{}", at.snippet())]
    Block {
        /// Where the block tag is written.
        at: Location,
        /// The path of the block's value, when it has one.
        path: Option<String>,
        /// What went wrong.
        message: String,
    },
    /// A template in a JSON place does not render to valid JSON.
    #[error("{at}: the result is not valid JSON: {message}\n{}", at.snippet())]
    InvalidJson {
        /// The template position the JSON parser failed at, mapped back from the rendered text.
        at: Location,
        /// The JSON parser's complaint.
        message: String,
    },
    /// A value holds a character its place forbids: CR, LF or NUL in a header value, a space or control character in a
    /// URL's scheme and host.
    #[error("{at}: the value of `{path}` contains {} which is not allowed in {place}\n{}", describe_char(*character), at.snippet())]
    ForbiddenCharacter {
        /// Where the placeholder is written.
        at: Location,
        /// The placeholder's path (or its text when it has no path).
        path: String,
        /// The offending character.
        character: char,
        /// The place, such as "a header value".
        place: &'static str,
    },
    /// The rendered result as a whole is unusable: a URL that does not parse, params that are not a JSON object.
    #[error("{message}")]
    InvalidResult {
        /// What is wrong with the result.
        message: String,
    },
    /// The context is unusable: a context document that is not a JSON object, or not JSON at all.
    #[error("invalid template context: {message}")]
    InvalidContext {
        /// What is wrong.
        message: String,
    },
    /// An error in one field of a request (`url`, `headers.Authorization`, `payload`, `params`, `auth.token`).
    #[error("{field}: {error}")]
    InField {
        /// The field's path within the request.
        field: String,
        /// The error in that field's template.
        error: Box<TemplateError>,
    },
}

impl TemplateError {
    /// The location in the template, when the error has one (looking through [`TemplateError::InField`]).
    pub fn location(&self) -> Option<&Location> {
        match self {
            Self::Syntax { at, .. }
            | Self::MissingValue { at, .. }
            | Self::Filter { at, .. }
            | Self::Block { at, .. }
            | Self::InvalidJson { at, .. }
            | Self::ForbiddenCharacter { at, .. } => Some(at),
            Self::InField { error, .. } => error.location(),
            Self::InvalidResult { .. } | Self::InvalidContext { .. } => None,
        }
    }

    /// The path of the value involved, when there is one (looking through [`TemplateError::InField`]).
    pub fn path(&self) -> Option<&str> {
        match self {
            Self::MissingValue { path, .. } | Self::ForbiddenCharacter { path, .. } => Some(path),
            Self::Block { path, .. } => path.as_deref(),
            Self::InField { error, .. } => error.path(),
            _ => None,
        }
    }

    /// The message without the location and snippet, as a sentence fragment (what `cutover validate` prints after
    /// `FILE:LINE:COL: PATH:`).
    pub fn message(&self) -> String {
        match self {
            Self::Syntax { message, .. } | Self::Block { message, .. } => message.clone(),
            Self::MissingValue { path, .. } => format!("`{path}` is missing (add `| default: …` if it is optional)"),
            Self::Filter { filter, message, .. } => format!("`{filter}`: {message}"),
            Self::InvalidJson { message, .. } => format!("the result is not valid JSON: {message}"),
            Self::ForbiddenCharacter { path, character, place, .. } => {
                format!("the value of `{path}` contains {} which is not allowed in {place}", describe_char(*character))
            }
            Self::InvalidResult { message } => message.clone(),
            Self::InvalidContext { message } => format!("invalid template context: {message}"),
            Self::InField { field, error } => format!("{field}: {}", error.message()),
        }
    }

    /// Wraps the error as an error in a request field.
    pub(crate) fn in_field(self, field: impl Into<String>) -> Self {
        Self::InField { field: field.into(), error: Box::new(self) }
    }
}

/// Names a character for an error message: control characters by their escape, others quoted.
pub(crate) fn describe_char(c: char) -> String {
    match c {
        '\r' => "a carriage return (CR)".to_owned(),
        '\n' => "a line feed (LF)".to_owned(),
        '\0' => "a NUL character".to_owned(),
        ' ' => "a space".to_owned(),
        c if c.is_control() => format!("the control character U+{:04X}", c as u32),
        c => format!("`{c}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_counts_lines_and_characters() {
        let source = "ab\nc\u{e9}d{{x}}\nz";
        let at = Location::in_source(source, source.find("{{").unwrap());
        assert_eq!((at.line, at.column), (2, 4));
        assert_eq!(at.snippet(), "c\u{e9}d{{x}}\n   ^");
    }

    #[test]
    fn long_lines_are_windowed_around_the_caret() {
        let source = format!("{}X{}", "a".repeat(300), "b".repeat(300));
        let at = Location::in_source(&source, 300);
        assert_eq!(at.column, 301);
        let caret_char = at.source_line.chars().nth(at.caret_column as usize - 1);
        assert_eq!(caret_char, Some('X'));
        assert!(at.source_line.starts_with('…') && at.source_line.ends_with('…'));
        assert!(at.source_line.chars().count() <= SNIPPET_WIDTH + 2);
    }

    /// The window as the whole line computes it, to compare with the bounded scan.
    fn naive_window(source: &str, offset: usize) -> (String, usize) {
        let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[offset..].find('\n').map_or(source.len(), |i| offset + i);
        let line = source[line_start..line_end].strip_suffix('\r').unwrap_or(&source[line_start..line_end]);
        let column = source[line_start..offset].chars().count() + 1;
        let chars: Vec<char> = line.chars().collect();
        if chars.len() <= SNIPPET_WIDTH {
            return (line.to_owned(), column);
        }
        let start = (column - 1).saturating_sub(SNIPPET_WIDTH / 2).min(chars.len() - SNIPPET_WIDTH);
        let end = (start + SNIPPET_WIDTH).min(chars.len());
        let mut text = String::new();
        let mut caret = column - start;
        if start > 0 {
            text.push('…');
            caret += 1;
        }
        text.extend(&chars[start..end]);
        if end < chars.len() {
            text.push('…');
        }
        (text, caret)
    }

    #[test]
    fn windows_match_the_whole_line_computation() {
        let sizes = [(0, 0), (3, 4), (49, 51), (50, 50), (51, 49), (60, 60), (10, 200), (200, 10), (300, 300)];
        for (before, after) in sizes {
            for ending in ["", "\n", "\r\n", "\rz\n"] {
                let source = format!("x\n{}{}{ending}y", "a\u{e9}".repeat(before / 2 + 1), "b".repeat(after));
                for offset in (0..=source.len()).filter(|&o| source.is_char_boundary(o)) {
                    let expected = naive_window(&source, offset);
                    assert_eq!(window(&source, offset), expected, "{before} {after} {ending:?} {offset}");
                }
            }
        }
    }

    #[test]
    fn a_locator_agrees_with_one_shot_locations_in_any_order() {
        let source = "ab\ncd{{x}}\n\n\u{e9}f{{y}}";
        let mut locator = Locator::new(source);
        for offset in [0, 3, 5, 11, 4, 14, 2, 30] {
            let expected = Location::in_source(source, offset);
            assert_eq!(locator.locate(offset), expected, "{offset}");
            let line_start = source[..expected.offset].rfind('\n').map_or(0, |i| i + 1);
            assert_eq!(expected.line as usize, source[..line_start].matches('\n').count() + 1);
            assert_eq!(expected.column as usize, source[line_start..expected.offset].chars().count() + 1);
        }
    }

    #[test]
    fn offset_past_the_end_points_at_the_end() {
        let at = Location::in_source("ab", 10);
        assert_eq!((at.line, at.column, at.offset), (1, 3, 2));
    }
}
