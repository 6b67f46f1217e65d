//! Human output: text that came from data (names, reasons, bodies) shown with its control characters escaped, and a
//! closed pipe (`cutover … | head`) ending the program quietly instead of with a panic.
//!
//! A runbook or task name is anyone's input. Printed raw, `\x1b]0;…\x07` sets the terminal's title, `\x1b[2J` clears
//! the screen, a carriage return overwrites what the line said, and bidirectional overrides reorder it. Every line a
//! human reads goes through [`out`] or [`err`], which escape such characters as `\x1b` or `\u{202e}`; JSON output
//! goes through [`out_raw`], since JSON escapes control characters itself.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether a character changes what a terminal shows instead of being shown: C0 and C1 controls, DEL, and the
/// invisible direction marks and overrides. Newlines and tabs are kept in text blocks ([`printable`]).
fn is_terminal_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escape_into(text: &mut String, c: char) {
    if (c as u32) < 0x100 {
        let _ = write!(text, "\\x{:02x}", c as u32);
    } else {
        let _ = write!(text, "\\u{{{:x}}}", c as u32);
    }
}

/// `text` with every terminal control character escaped except newlines and tabs: for blocks of several lines.
pub(crate) fn printable(text: &str) -> Cow<'_, str> {
    escape(text, |c| is_terminal_control(c) && c != '\n' && c != '\t')
}

/// `text` with every terminal control character escaped, newlines and tabs too: for one cell or one line.
pub(crate) fn printable_inline(text: &str) -> Cow<'_, str> {
    escape(text, is_terminal_control)
}

fn escape(text: &str, escaped: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&escaped) {
        return Cow::Borrowed(text);
    }
    let mut clean = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escaped(c) {
            escape_into(&mut clean, c);
        } else {
            clean.push(c);
        }
    }
    Cow::Owned(clean)
}

/// Writes `text` to standard output as it is (JSON); a closed pipe ends the program with status 0.
pub(crate) fn out_raw(text: &str) {
    write_or_exit(&mut std::io::stdout().lock(), text);
}

/// Writes `text` to standard output with its control characters escaped (newlines and tabs kept).
pub(crate) fn out(text: &str) {
    out_raw(&printable(text));
}

/// Writes `text` to standard error with its control characters escaped (newlines and tabs kept).
pub(crate) fn err(text: &str) {
    write_or_exit(&mut std::io::stderr().lock(), &printable(text));
}

fn write_or_exit(stream: &mut impl std::io::Write, text: &str) {
    let written = stream.write_all(text.as_bytes()).and_then(|()| stream.flush());
    if let Err(error) = written {
        // The reader went away (`| head`): what it did not read is not wanted. Any other error has nowhere to go.
        let code = if error.kind() == std::io::ErrorKind::BrokenPipe { 0 } else { 1 };
        std::process::exit(code);
    }
}

/// `println!` for human output on standard output: the line is escaped by [`out`].
macro_rules! say {
    () => { $crate::terminal::out("\n") };
    ($($arg:tt)*) => { $crate::terminal::out(&format!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` for human output on standard error: the line is escaped by [`err`].
macro_rules! complain {
    ($($arg:tt)*) => { $crate::terminal::err(&format!("{}\n", format_args!($($arg)*))) };
}

pub(crate) use {complain, say};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        // (input, as a block, as one line)
        let cases = [
            ("Deploy", "Deploy", "Deploy"),
            ("a\nb\tc", "a\nb\tc", "a\\x0ab\\x09c"),
            ("\x1b]0;owned\x07x", "\\x1b]0;owned\\x07x", "\\x1b]0;owned\\x07x"),
            ("\x1b[2Jgone", "\\x1b[2Jgone", "\\x1b[2Jgone"),
            ("ok\rFAILED", "ok\\x0dFAILED", "ok\\x0dFAILED"),
            ("\u{9b}31m", "\\x9b31m", "\\x9b31m"),
            ("del\u{7f}", "del\\x7f", "del\\x7f"),
            ("abc\u{202e}fed", "abc\\u{202e}fed", "abc\\u{202e}fed"),
            ("Ünïcode ✓ 🎉", "Ünïcode ✓ 🎉", "Ünïcode ✓ 🎉"),
        ];
        for (input, block, line) in cases {
            assert_eq!(printable(input), block, "{input:?} as a block");
            assert_eq!(printable_inline(input), line, "{input:?} as a line");
            assert!(!printable_inline(input).chars().any(is_terminal_control), "{input:?}");
        }
    }
}
