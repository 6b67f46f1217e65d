//! Whatever the input, validation returns (never panics) and every diagnostic points inside the file.

use cutover_integrations_model::{Definition, Diagnostic, SourceFile, Validator};
use proptest::prelude::*;

const EXAMPLES: [&str; 3] = [
    include_str!("../../../examples/slack.yaml"),
    include_str!("../../../examples/webhook.yaml"),
    include_str!("../../../examples/release.yaml"),
];

/// Every diagnostic names a line of the file (or the one after its end) and a column on that line.
fn assert_inside(text: &str, diagnostics: &[Diagnostic]) -> Result<(), TestCaseError> {
    let lines: Vec<usize> = text.split('\n').map(|line| line.chars().count()).collect();
    for diagnostic in diagnostics {
        let line = diagnostic.line as usize;
        prop_assert!(line >= 1 && line <= lines.len() + 1, "{diagnostic} in a file of {} lines", lines.len());
        let width = lines.get(line - 1).copied().unwrap_or(0);
        prop_assert!(
            diagnostic.column >= 1 && diagnostic.column as usize <= width + 2,
            "{diagnostic}: line of {width}"
        );
        prop_assert!(!diagnostic.path.is_empty() && !diagnostic.message.is_empty(), "{diagnostic}");
    }
    Ok(())
}

fn validate_alone(name: &str, text: &str) -> Result<(), TestCaseError> {
    if let Err(diagnostics) = Validator::new().validate(&[SourceFile::new(name, text)]) {
        prop_assert!(!diagnostics.is_empty());
        assert_inside(text, &diagnostics)?;
    }
    Ok(())
}

/// Replaces the characters `start..start + length` (counted modulo the text) with `insert`.
fn mutate(text: &str, start: usize, length: usize, insert: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let start = start % (chars.len() + 1);
    let end = (start + length).min(chars.len());
    chars[..start].iter().chain(insert.chars().collect::<Vec<_>>().iter()).chain(chars[end..].iter()).collect()
}

fn json_example(index: usize) -> String {
    let text = EXAMPLES[index];
    let parsed = Validator::new().parse(&SourceFile::new("example.yaml", text)).expect("the examples are valid");
    let definition: &Definition = parsed.definition();
    definition.to_json().expect("JSON serialization")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text(text in prop_oneof!["\\PC{0,200}", "[ -~\n\t]{0,200}", "[{}\\[\\]:,\"' \n\\-a#&*!|>]{0,80}"]) {
        validate_alone("any.yaml", &text)?;
        validate_alone("any.json", &text)?;
    }

    #[test]
    fn mutated_examples(
        index in 0..3usize,
        start in any::<usize>(),
        length in 0..12usize,
        insert in prop_oneof!["", "[ -~\n\t]{1,8}", "\\PC{1,3}", Just("\n  ".to_owned()), Just(": ".to_owned())],
        as_json in any::<bool>(),
    ) {
        let (name, original) = if as_json {
            ("example.json", json_example(index))
        } else {
            ("example.yaml", EXAMPLES[index].to_owned())
        };
        let text = mutate(&original, start, length, &insert);
        validate_alone(name, &text)?;
        // Together with the other examples, so that the rules across files see broken files too.
        let mut files: Vec<SourceFile<'_>> =
            (0..3).filter(|other| *other != index).map(|other| SourceFile::new("other.yaml", EXAMPLES[other])).collect();
        files.push(SourceFile::new(name, &text));
        if let Err(diagnostics) = Validator::new().validate(&files) {
            let own: Vec<Diagnostic> = diagnostics.into_iter().filter(|diagnostic| diagnostic.file == name).collect();
            assert_inside(&text, &own)?;
        }
    }
}
