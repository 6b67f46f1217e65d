//! Positioned validation errors, printed in the contract's `FILE:LINE:COL: PATH: message` form.

use std::fmt;

/// A place in a definition file; both numbers are 1-based, the column counts characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// Line, from 1.
    pub line: u32,
    /// Column in characters, from 1.
    pub column: u32,
}

impl Position {
    /// The first character of a file.
    pub const START: Position = Position { line: 1, column: 1 };
}

/// One validation error: what is wrong, in which file, where, and at which field path.
///
/// `Display` prints `FILE:LINE:COL: PATH: message`, the form `cutover validate` writes to stderr. The path is
/// `actions[0].request.url` style, `$` for the document itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    /// The file name as given by the caller.
    pub file: String,
    /// Line, from 1.
    pub line: u32,
    /// Column in characters, from 1.
    pub column: u32,
    /// The field path of the value at fault.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl Diagnostic {
    /// The position of the error.
    pub fn position(&self) -> Position {
        Position { line: self.line, column: self.column }
    }

    /// `LINE:COL: PATH: message`, the diagnostic without its file name.
    pub fn located(&self) -> String {
        format!("{}:{}: {}: {}", self.line, self.column, self.path, self.message)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.located())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_follows_the_contract() {
        let diagnostic = Diagnostic {
            file: "slack.yaml".to_owned(),
            line: 12,
            column: 7,
            path: "actions[0].request.url".to_owned(),
            message: "missing required key `url`".to_owned(),
        };
        assert_eq!(diagnostic.to_string(), "slack.yaml:12:7: actions[0].request.url: missing required key `url`");
        assert_eq!(diagnostic.position(), Position { line: 12, column: 7 });
    }
}
