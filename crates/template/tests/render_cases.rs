//! Data-driven tests of the dialect: template + place + context → output, or → error kind with its position and path.

use cutover_integrations_template::{Template, TemplateContext, TemplateError, TemplatePlace};

use TemplatePlace::{HeaderValue as H, JsonParams as P, JsonPayload as J, Text as T, Url as U};

/// The context every case renders against.
const CONTEXT: &str = r##"{
  "CustomField": {
    "Slack Channel": "#release", "Slack Message": "Release 42 starts",
    "Quote": "say \"hi\"", "Backslash": "C:\\temp\\new", "Newline": "line1\nline2\r\nline3",
    "Control": "bell\u0007 nul\u0000 esc\u001b del\u007f", "Emoji": "🎉 done ✅ 𝄞",
    "Name]": "bracket", "it's": "apostrophe", "say \"x\"": "double", "Count": "15", "Empty": "",
    "Mixed Case": "hELLO wORLD", "Padded": "  pad  ", "CSV": "a,b,c", "Tags": ["x", "y"],
    "When": "2024-05-01T10:30:00+02:00", "Json Text": "{\"k\": [1, true]}", "Separators": "\u2028\u2029",
    "Slash": "a/b c"
  },
  "Task": {
    "id": "announce", "name": "Announce", "dots": "..", "empty": [], "duration": 30, "done": false, "nothing": null, "price": 2.5,
    "assignee": {"name": "Ann", "email": "Ann@Example.COM"}, "list": [{"n": "a"}, {"n": "b"}]
  },
  "Runbook": {"id": 42, "name": "Release 42", "mode": "live"},
  "SystemParameter": {"base": "https://api.example.com", "token": "t0k"},
  "Callback": {"url": "https://cb.test/callbacks/1", "token": "cbtok"}
}"##;

/// What a case expects.
enum Expect {
    /// The rendered text.
    Out(&'static str),
    /// An error: variant name, line, column, and the path it names (when it names one).
    Err(&'static str, u32, u32, Option<&'static str>),
}

use Expect::{Err as E, Out as O};

const CASES: &[(&str, TemplatePlace, &str, Expect)] = &[
    // JSON strings: values are escaped, whatever they hold.
    (
        "slack payload",
        J,
        r#"{"channel":"{{CustomField['Slack Channel']}}","text":"{{CustomField['Slack Message']}}"}"#,
        O(r##"{"channel":"#release","text":"Release 42 starts"}"##),
    ),
    ("quotes", J, r#"{"t":"{{CustomField.Quote}}"}"#, O(r#"{"t":"say \"hi\""}"#)),
    ("backslashes", J, r#"{"t":"{{CustomField.Backslash}}"}"#, O(r#"{"t":"C:\\temp\\new"}"#)),
    ("newlines", J, r#"{"t":"{{CustomField.Newline}}"}"#, O(r#"{"t":"line1\nline2\r\nline3"}"#)),
    (
        "control characters",
        J,
        r#"{"t":"{{CustomField.Control}}"}"#,
        O("{\"t\":\"bell\\u0007 nul\\u0000 esc\\u001b del\u{7f}\"}"),
    ),
    (
        "surrogate pair escape in literal",
        J,
        r#"{"a":"\ud83c\udf89 {{Task.id}}"}"#,
        O(r#"{"a":"\ud83c\udf89 announce"}"#),
    ),
    ("emoji", J, r#"{"t":"{{CustomField.Emoji}}"}"#, O(r#"{"t":"🎉 done ✅ 𝄞"}"#)),
    ("line separators", J, r#"{"t":"{{CustomField.Separators}}"}"#, O("{\"t\":\"\u{2028}\u{2029}\"}")),
    ("value mid-string", J, r#"{"t":"<{{Task.name}}> & {{Runbook.id}}"}"#, O(r#"{"t":"<Announce> & 42"}"#)),
    ("key position", J, r#"{"{{Task.id}}":1}"#, O(r#"{"announce":1}"#)),
    ("number in string", J, r#"{"d":"{{Task.duration}}"}"#, O(r#"{"d":"30"}"#)),
    ("null in string", J, r#"{"d":"{{Task.nothing}}"}"#, O(r#"{"d":""}"#)),
    (
        "object in string",
        J,
        r#"{"a":"{{Task.assignee}}"}"#,
        O(r#"{"a":"{\"name\":\"Ann\",\"email\":\"Ann@Example.COM\"}"}"#),
    ),
    // Names with spaces, quotes and `]`.
    ("name with ]", J, r#"{"t":"{{CustomField['Name]']}}"}"#, O(r#"{"t":"bracket"}"#)),
    ("name with apostrophe", T, r#"{{CustomField["it's"]}} {{ CustomField['it\'s'] }}"#, O("apostrophe apostrophe")),
    ("name with double quotes", T, r#"{{CustomField['say "x"']}}"#, O("double")),
    ("handlebars segment", T, "{{CustomField.[Slack Channel]}}", O("#release")),
    ("indexes", T, "{{Task.list.1.n}}{{Task.list[0].n}}{{Task.list[0]['n']}}", O("baa")),
    ("@root path", T, "{{@root.Task.id}}", O("announce")),
    // Bare JSON values.
    ("bare number", J, r#"{"n": {{Task.duration}}}"#, O(r#"{"n": 30}"#)),
    ("bare bool and null", J, "[{{Task.done}},{{Task.nothing}}]", O("[false,null]")),
    ("bare string", J, r#"{"s": {{ Task.name }}}"#, O(r#"{"s": "Announce"}"#)),
    ("bare string with quotes", J, r#"{"q": {{CustomField.Quote}}}"#, O(r#"{"q": "say \"hi\""}"#)),
    ("bare object", J, r#"{"a": {{Task.assignee}}}"#, O(r#"{"a": {"name":"Ann","email":"Ann@Example.COM"}}"#)),
    ("bare array", J, r#"{"l": {{CustomField.Tags}}}"#, O(r#"{"l": ["x","y"]}"#)),
    ("bare whole payload", J, "{{Task.assignee}}", O(r#"{"name":"Ann","email":"Ann@Example.COM"}"#)),
    ("json params", P, r#"{"q":"{{CustomField.Quote}}","n":{{Task.duration}}}"#, O(r#"{"q":"say \"hi\"","n":30}"#)),
    // Every filter.
    ("downcase", T, "{{Task.assignee.email | downcase}}", O("ann@example.com")),
    ("upcase", T, "{{Task.name | upcase}}", O("ANNOUNCE")),
    ("capitalize", T, "{{CustomField['Mixed Case'] | capitalize}}", O("Hello world")),
    ("strip", T, "[{{CustomField.Padded | strip}}]", O("[pad]")),
    ("replace", T, "{{Runbook.name | replace: '42', '43'}}", O("Release 43")),
    ("append and prepend", T, "{{Task.name | prepend: '[' | append: \"]\"}}", O("[Announce]")),
    ("default on missing", T, "{{CustomField['Nope'] | default: 'n/a'}}", O("n/a")),
    ("default on empty", T, "{{CustomField.Empty | default: 'none'}}", O("none")),
    ("default after a chain", T, "{{CustomField.Nope | upcase | default: 'x'}}", O("x")),
    ("default not needed", T, "{{Task.name | default: 'x'}}", O("Announce")),
    ("default from a path", T, "{{Task.nothing | default: Runbook.name}}", O("Release 42")),
    ("plus on text", J, r#"{"n": {{CustomField.Count | plus: 1}}}"#, O(r#"{"n": 16}"#)),
    ("minus", T, "{{Task.duration | minus: 45}}", O("-15")),
    ("times", T, "{{Task.price | times: 2}}", O("5.0")),
    ("divided_by", T, "{{Task.duration | divided_by: 4}}", O("7")),
    ("arithmetic from a path", T, "{{Task.duration | plus: Runbook.id}}", O("72")),
    ("size", T, "{{Runbook.name | size}} {{CustomField.Tags | size}} {{Task.assignee | size}}", O("10 2 2")),
    ("join", T, "{{CustomField.Tags | join: ', '}}|{{CustomField.Tags | join}}", O("x, y|x y")),
    ("split", J, r#"{"parts": {{CustomField.CSV | split: ','}}}"#, O(r#"{"parts": ["a","b","c"]}"#)),
    ("first and last", T, "{{CustomField.CSV | split: ',' | first}}{{CustomField.Tags | last}}", O("ay")),
    ("last of a labelled choice", T, "{{ 'Closed (3)' | split: '(' | last | replace: ')', '' }}", O("3")),
    ("first of an empty list", T, "[{{ '' | split: ',' | first | default: 'none' }}]", O("[none]")),
    ("url_encode", T, "{{CustomField.Quote | url_encode}}", O("say%20%22hi%22")),
    ("date", T, "{{CustomField.When | date: '%Y-%m-%d %H:%M %z'}}", O("2024-05-01 10:30 +0200")),
    ("json in a string", J, r#"{"raw":"{{CustomField.Tags | json}}"}"#, O(r#"{"raw":"[\"x\",\"y\"]"}"#)),
    ("json as text", T, "{{Task.assignee | json}}", O(r#"{"name":"Ann","email":"Ann@Example.COM"}"#)),
    ("parse_json", J, r#"{"v": {{CustomField['Json Text'] | parse_json}}}"#, O(r#"{"v": {"k":[1,true]}}"#)),
    ("number literals", T, "{{ 007 | plus: 1 }} {{ 1. | plus: 1 }} {{ -2 | times: 1.5 }}", O("8 2 -3.0")),
    ("literal head", T, "{{ 5 | plus: 1 }} {{ 'a' | upcase }} {{ '{{' }}", O("6 A {{")),
    // Blocks.
    ("if else", T, "{{#if Task.done}}yes{{else}}no{{/if}}", O("no")),
    ("if on missing is false", T, "{{#if CustomField.Nope}}a{{else}}b{{/if}}", O("b")),
    ("unless", T, "{{#unless Task.done}}open{{/unless}}", O("open")),
    ("else if", T, "{{#if Task.done}}1{{else if Task.name}}2{{else}}3{{/if}}", O("2")),
    (
        "each in JSON",
        J,
        r#"[{{#each Task.list}}{"n":"{{this.n}}","i":{{@index}}}{{#unless @last}},{{/unless}}{{/each}}]"#,
        O(r#"[{"n":"a","i":0},{"n":"b","i":1}]"#),
    ),
    ("each over a filter", T, "{{#each CustomField.CSV | split: ','}}{{this}};{{/each}}", O("a;b;c;")),
    ("each reads roots", T, "{{#each CustomField.Tags}}{{this}}@{{Runbook.mode}} {{/each}}", O("x@live y@live ")),
    ("each parent path", T, "{{#each Task.list}}{{n}}{{../Runbook.id}}{{/each}}", O("a42b42")),
    ("with", T, "{{#with Task.assignee}}{{name}} <{{email}}>{{/with}}", O("Ann <Ann@Example.COM>")),
    ("with on missing is false", T, "{{#with Task.nope}}x{{else}}none{{/with}}", O("none")),
    ("each else on empty", T, "{{#each Task.empty}}x{{else}}empty{{/each}}", O("empty")),
    ("comments", T, "a{{! note }}b{{!-- {{Task.nope}} --}}c", O("abc")),
    ("whitespace control", T, "a  {{~ Task.name ~}}  b", O("aAnnounceb")),
    // URLs, headers, text.
    (
        "url components",
        U,
        "https://h.test/a/{{CustomField.Slash}}?q={{CustomField['Slack Channel']}}&r={{CustomField.Slash}}#{{Task.name}}",
        O("https://h.test/a/a%2Fb%20c?q=%23release&r=a%2Fb%20c#Announce"),
    ),
    ("url prefix", U, "{{SystemParameter.base}}/v1/{{Task.id}}", O("https://api.example.com/v1/announce")),
    (
        "url_encode not twice",
        U,
        "https://h.test/?q={{CustomField.Quote | url_encode}}",
        O("https://h.test/?q=say%20%22hi%22"),
    ),
    ("header value", H, "Bearer {{SystemParameter.token}}", O("Bearer t0k")),
    ("text is raw", T, r#"Hello "{{CustomField.Quote}}""#, O(r#"Hello "say "hi"""#)),
    ("literal backslash before a placeholder", T, r"C:\{{Task.id}}\\{{Task.id}}", O(r"C:\announce\\announce")),
    ("brace after a placeholder", T, "{{Task.name}}}", O("Announce}")),
    // Errors, each with its position.
    ("missing value", J, r#"{"a":"{{CustomField['Nope']}}"}"#, E("MissingValue", 1, 9, Some("CustomField['Nope']"))),
    ("missing on line 2", J, "{\n  \"a\": {{ Task.nope }}\n}", E("MissingValue", 2, 11, Some("Task.nope"))),
    ("missing filter argument", T, "{{Task.name | append: Task.nope}}", E("MissingValue", 1, 23, Some("Task.nope"))),
    ("missing through a chain", T, "{{Task.nope | upcase}}", E("MissingValue", 1, 3, Some("Task.nope"))),
    ("missing inside each", T, "{{#each Task.list}}{{m}}{{/each}}", E("MissingValue", 1, 22, Some("m"))),
    ("unclosed placeholder", T, "abc {{Task.name", E("Syntax", 1, 5, None)),
    ("unknown filter", T, "{{Task.name | shout}}", E("Syntax", 1, 15, None)),
    ("filter arity", T, "{{Task.name | replace: 'a'}}", E("Syntax", 1, 15, None)),
    ("unknown root", T, "x\n  {{Foo.bar}}", E("Syntax", 2, 5, None)),
    ("helper call style", T, "{{Task.name upcase}}", E("Syntax", 1, 13, None)),
    ("triple braces", J, r#"{"a":{{{Task.name}}}}"#, E("Syntax", 1, 6, None)),
    ("unclosed block", T, "{{#if Task.done}}x", E("Syntax", 1, 1, None)),
    ("mismatched close", T, "{{#if Task.done}}x{{/each}}", E("Syntax", 1, 19, None)),
    ("else outside a block", T, "a{{else}}b", E("Syntax", 1, 2, None)),
    ("unknown block", T, "{{#loop Task.list}}{{/loop}}", E("Syntax", 1, 4, None)),
    ("local outside each", T, "{{@index}}", E("Syntax", 1, 3, None)),
    ("empty placeholder", T, "a {{ }}", E("Syntax", 1, 3, None)),
    ("unclosed string in a tag", T, "{{ Task.name | append: 'x }}", E("Syntax", 1, 1, None)),
    ("unclosed comment", T, "{{!-- never", E("Syntax", 1, 1, None)),
    (
        "slack guide payload",
        J,
        r#"{"channel":"{{CustomField['Slack Channel']}}","text":"{{CustomField['Slack Message']}}}"#,
        E("Syntax", 1, 87, None),
    ),
    ("invalid JSON literal", J, r#"{"a": 1,}"#, E("InvalidJson", 1, 9, None)),
    ("invalid JSON on line 3", J, "{\n \"a\": \"{{Task.name}}\",\n \"b\" 2\n}", E("InvalidJson", 3, 6, None)),
    ("adjacent bare values", J, r#"{"a": {{Task.name}}{{Task.id}}}"#, E("InvalidJson", 1, 20, None)),
    (
        "trailing comma from a loop",
        J,
        r#"[{{#each CustomField.Tags}}"{{this}}",{{/each}}]"#,
        E("InvalidJson", 1, 48, None),
    ),
    ("lone surrogate escape in literal", J, r#"{"a":"\ud800","b":"{{Task.id}}"}"#, E("Syntax", 1, 7, None)),
    ("lone low surrogate escape", J, r#"{"a":"x\udc00"}"#, E("Syntax", 1, 8, None)),
    ("high surrogate before a placeholder", J, r#"{"a":"\ud83c{{Task.id}}"}"#, E("Syntax", 1, 7, None)),
    ("placeholder after backslash", J, r#"{"a":"\{{Task.name}}"}"#, E("Syntax", 1, 8, None)),
    ("block unbalancing a string", J, r#"{"a": {{#if Task.done}}"x{{/if}}"}"#, E("Syntax", 1, 7, None)),
    ("header line break", H, "X {{CustomField.Newline}}", E("ForbiddenCharacter", 1, 3, Some("CustomField.Newline"))),
    ("header NUL", H, "{{CustomField.Control}}", E("ForbiddenCharacter", 1, 1, Some("CustomField.Control"))),
    ("header literal line break", H, "a\nb", E("Syntax", 1, 2, None)),
    (
        "url host with a space",
        U,
        "{{CustomField['Slack Message']}}/x",
        E("ForbiddenCharacter", 1, 1, Some("CustomField['Slack Message']")),
    ),
    ("url dot segment", U, "https://h.test/a/{{Task.dots}}/b", E("ForbiddenCharacter", 1, 18, Some("Task.dots"))),
    ("plus on a word", T, "{{Task.name | plus: 1}}", E("Filter", 1, 15, None)),
    ("division by zero", T, "x {{Task.duration | divided_by: 0}}", E("Filter", 1, 21, None)),
    ("date of a word", T, "{{Task.name | date: '%Y'}}", E("Filter", 1, 15, None)),
    ("parse_json of text", T, "{{Task.name | parse_json}}", E("Filter", 1, 15, None)),
    ("last of text", T, "{{Task.name | last}}", E("Filter", 1, 15, None)),
    ("each over text", T, "ab{{#each Task.name}}x{{/each}}", E("Block", 1, 3, Some("Task.name"))),
];

fn variant(error: &TemplateError) -> &'static str {
    match error {
        TemplateError::Syntax { .. } => "Syntax",
        TemplateError::MissingValue { .. } => "MissingValue",
        TemplateError::Filter { .. } => "Filter",
        TemplateError::Block { .. } => "Block",
        TemplateError::InvalidJson { .. } => "InvalidJson",
        TemplateError::ForbiddenCharacter { .. } => "ForbiddenCharacter",
        TemplateError::InvalidResult { .. } => "InvalidResult",
        TemplateError::InvalidContext { .. } => "InvalidContext",
        TemplateError::InField { .. } => "InField",
        _ => "other",
    }
}

fn check(
    name: &str,
    place: TemplatePlace,
    source: &str,
    expect: &Expect,
    context: &TemplateContext,
) -> Result<(), String> {
    let result = Template::compile(source, place).and_then(|t| t.render(context));
    match (expect, result) {
        (Expect::Out(expected), Ok(output)) => {
            if output != *expected {
                return Err(format!("{name}: rendered {output:?}, expected {expected:?}"));
            }
            if matches!(place, J | P) && serde_json::from_str::<serde_json::Value>(&output).is_err() {
                return Err(format!("{name}: rendered invalid JSON {output:?}"));
            }
            Ok(())
        }
        (Expect::Err(kind, line, column, path), Err(error)) => {
            let at = error.location().map(|l| (l.line, l.column));
            if variant(&error) != *kind || at != Some((*line, *column)) || error.path() != *path {
                return Err(format!(
                    "{name}: got {} at {at:?} path {:?}, expected {kind} at {line}:{column} path {path:?}\n{error}",
                    variant(&error),
                    error.path()
                ));
            }
            let shown = error.to_string();
            if !shown.contains('^') || !shown.starts_with(&format!("{line}:{column}: ")) {
                return Err(format!("{name}: the message lacks its position or caret:\n{shown}"));
            }
            Ok(())
        }
        (Expect::Out(expected), Err(error)) => Err(format!("{name}: failed, expected {expected:?}:\n{error}")),
        (Expect::Err(kind, ..), Ok(output)) => Err(format!("{name}: rendered {output:?}, expected a {kind} error")),
    }
}

#[test]
fn every_case() {
    let context = TemplateContext::parse_document(CONTEXT).expect("the test context parses");
    let failures: Vec<String> = CASES
        .iter()
        .filter_map(|(name, place, source, expect)| check(name, *place, source, expect, &context).err())
        .collect();
    assert!(failures.is_empty(), "{} of {} cases failed:\n\n{}", failures.len(), CASES.len(), failures.join("\n\n"));
    assert!(CASES.len() >= 40);
}

#[test]
fn a_context_with_a_lone_surrogate_is_refused() {
    let error = TemplateContext::parse_document(r#"{"CustomField":{"x":"\ud800"}}"#).unwrap_err();
    assert!(matches!(error, TemplateError::InvalidContext { .. }), "{error}");
}

#[test]
fn an_error_shows_the_source_line_with_a_caret() {
    let template = Template::compile("{\n  \"a\": \"{{ CustomField['Nope'] }}\"\n}", J).unwrap();
    let error = template.render(&TemplateContext::builder().build()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "2:12: `CustomField['Nope']` is missing (add `| default: …` if it is optional)\n  \"a\": \"{{ CustomField['Nope'] }}\"\n           ^"
    );
}

#[test]
fn block_free_json_templates_are_proven_once() {
    let proven = Template::compile(r#"{"a":"{{Task.name}}","n":{{Task.n}},"l":[{{Task.x}}, 1]}"#, J).unwrap();
    assert!(proven.json_proven());
    let looped = Template::compile("[{{#each Task.list}}{{this}}{{/each}}]", J).unwrap();
    assert!(!looped.json_proven());
    let adjacent = Template::compile(r#"{"a": 1{{Task.n}}}"#, J).unwrap();
    assert!(!adjacent.json_proven());
}
