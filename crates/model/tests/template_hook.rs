//! Validation hands every template to the [`TemplateChecker`] with the right place, and maps the problems it reports
//! from template positions to file positions.

use cutover_integrations_model::{
    FieldReference, SourceFile, TemplateChecker, TemplatePlace, TemplateProblem, TemplateReport, Validator,
};
use std::sync::Mutex;

/// Records every template it is given, and reports a problem at every `!` so that positions can be checked.
#[derive(Default)]
struct BangChecker {
    seen: Mutex<Vec<(String, TemplatePlace)>>,
}

impl TemplateChecker for BangChecker {
    fn check(&self, template: &str, place: TemplatePlace) -> TemplateReport {
        self.seen.lock().unwrap().push((template.to_owned(), place));
        let mut report = TemplateReport::default();
        for (line_index, line) in template.split('\n').enumerate() {
            for (column_index, c) in line.chars().enumerate() {
                if c == '!' {
                    report.problems.push(TemplateProblem {
                        line: line_index as u32 + 1,
                        column: column_index as u32 + 1,
                        message: "bang".to_owned(),
                    });
                }
            }
        }
        report
    }
}

fn validate(checker: &BangChecker, name: &str, text: &str) -> Vec<String> {
    match Validator::with_checker(checker).validate(&[SourceFile::new(name, text)]) {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics.iter().map(|diagnostic| diagnostic.located()).collect(),
    }
}

const EVERY_PLACE: &str = r#"kind: integration
name: A
actions:
  - name: Json
    settings:
      notify_webhook_on_cancel: {url: cancel-url, headers: {X-C: cancel-header}, payload: cancel-payload}
    auth: {type: token, token: "{{SystemParameter['token']}}"}
    request:
      method: POST
      url: request-url
      headers: {X-A: request-header}
      payload: json-payload
      execution_mode: polling
    polling: {method: GET, url: polling-url, headers: {X-P: polling-header}, params: polling-params}
  - name: Text
    auth: {type: basic, username: u, password: literal-secret}
    request:
      method: PUT
      url: text-url
      headers: {Content-Type: text/plain}
      payload: text-payload
  - name: Params
    auth: {type: api_key, in: header, name: X-Key, value: "{{SystemParameter['key']}}"}
    request: {method: DELETE, url: delete-url, params: delete-params}
  - name: Structured
    settings:
      notify_webhook_on_cancel: {url: s-cancel-url, payload: [s-cancel-leaf, 1]}
    request:
      method: POST
      url: s-url
      payload: {a: s-leaf-a, n: 5, list: [true, null, {b: s-leaf-b}]}
      execution_mode: polling
    polling: {method: GET, url: s-polling-url, params: {q: s-param-leaf}}
"#;

#[test]
fn every_template_goes_to_the_checker_with_its_place() {
    let checker = BangChecker::default();
    assert_eq!(validate(&checker, "a.yaml", EVERY_PLACE), Vec::<String>::new());
    let seen = checker.seen.lock().unwrap().clone();
    let expected = [
        ("cancel-url", TemplatePlace::Url),
        ("cancel-header", TemplatePlace::HeaderValue),
        ("cancel-payload", TemplatePlace::JsonPayload),
        ("{{SystemParameter['token']}}", TemplatePlace::Text),
        ("request-url", TemplatePlace::Url),
        ("request-header", TemplatePlace::HeaderValue),
        ("json-payload", TemplatePlace::JsonPayload),
        ("polling-url", TemplatePlace::Url),
        ("polling-header", TemplatePlace::HeaderValue),
        ("polling-params", TemplatePlace::JsonParams),
        ("text-url", TemplatePlace::Url),
        ("text/plain", TemplatePlace::HeaderValue),
        ("text-payload", TemplatePlace::Text),
        ("{{SystemParameter['key']}}", TemplatePlace::Text),
        ("delete-url", TemplatePlace::Url),
        ("delete-params", TemplatePlace::JsonParams),
        ("s-cancel-url", TemplatePlace::Url),
        ("s-cancel-leaf", TemplatePlace::StructuredLeaf),
        ("s-url", TemplatePlace::Url),
        ("s-leaf-a", TemplatePlace::StructuredLeaf),
        ("s-leaf-b", TemplatePlace::StructuredLeaf),
        ("s-polling-url", TemplatePlace::Url),
        ("s-param-leaf", TemplatePlace::StructuredLeaf),
    ];
    let expected: Vec<(String, TemplatePlace)> =
        expected.iter().map(|(template, place)| ((*template).to_owned(), *place)).collect();
    assert_eq!(seen, expected);
    assert!(!seen.iter().any(|(template, _)| template == "literal-secret"), "literal secrets are not templates");
}

#[test]
fn template_problems_get_file_positions() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "plain, quoted and escaped scalars are exact",
            "kind: integration\nname: A\nactions:\n  - name: P\n    request:\n      method: POST\n      url: https://x/!\n      headers: {X-S: 'it''s !', X-D: \"\\\"q\\\" \\u00e9!\"}\n",
            &[
                "7:22: actions[0].request.url: bang",
                "8:29: actions[0].request.headers['X-S']: bang",
                "8:51: actions[0].request.headers['X-D']: bang",
            ],
        ),
        (
            "literal blocks are exact, leading blank lines and indentation indicators included",
            "kind: integration\nname: A\nactions:\n  - name: P\n    request:\n      method: POST\n      url: https://x\n      payload: |\n\n        {\n          \"a\": \"!\"\n        }\n  - name: Q\n    request:\n      method: POST\n      url: https://x\n      payload: |2\n          !x\n        y!\n",
            &[
                "11:17: actions[0].request.payload: bang",
                "18:11: actions[1].request.payload: bang",
                "19:10: actions[1].request.payload: bang",
            ],
        ),
        (
            "folded and multi-line flow scalars give the scalar's position",
            "kind: integration\nname: A\nactions:\n  - name: P\n    request:\n      method: POST\n      url: https://x\n      payload: >\n        {\"a\":\n        \"!\"}\n  - name: Q\n    request:\n      method: POST\n      url: \"https://x\n        /!\"\n",
            &["9:9: actions[0].request.payload: bang", "14:12: actions[1].request.url: bang"],
        ),
        (
            "leaves of structured bodies are exact, in YAML block and flow collections",
            "kind: integration\nname: A\nactions:\n  - name: P\n    request:\n      method: POST\n      url: https://x\n      payload:\n        text: \"say \\\"hi\\\" !\"\n        blocks:\n          - {type: section, text: 'it''s !'}\n  - name: Q\n    request: {method: GET, url: https://x, params: {q: \"a!\"}}\n",
            &[
                "9:27: actions[0].request.payload.text: bang",
                "11:42: actions[0].request.payload.blocks[0].text: bang",
                "13:58: actions[1].request.params.q: bang",
            ],
        ),
        (
            "JSON strings are exact",
            "{\"kind\": \"integration\", \"name\": \"A\", \"actions\": [\n  {\"name\": \"P\", \"request\": {\"method\": \"POST\", \"url\": \"https://x\",\n   \"payload\": \"{\\\"a\\\": \\\"\\u00e9!\\\"}\"}}]}\n",
            &["3:32: actions[0].request.payload: bang"],
        ),
    ];
    for (name, text, expected) in cases {
        let file = if text.starts_with('{') { "a.json" } else { "a.yaml" };
        let found = validate(&BangChecker::default(), file, text);
        assert_eq!(found, *expected, "{name}:\n{text}");
    }
}

/// Reports every `CustomField` in a URL as deciding its host, as the template crate's checker does for the host part.
struct HostChecker;

impl TemplateChecker for HostChecker {
    fn check(&self, template: &str, place: TemplatePlace) -> TemplateReport {
        let mut report = TemplateReport::default();
        if place == TemplatePlace::Url
            && let Some(offset) = template.find("{{CustomField")
        {
            let column = template[..offset].chars().count() as u32 + 3;
            report.host_readers.push(FieldReference { name: "CustomField.Instance".to_owned(), line: 1, column });
        }
        report
    }
}

#[test]
fn a_url_host_read_from_operator_values_needs_allowed_hosts() {
    let text = |allowed: &str| {
        format!(
            "kind: integration\nname: A\ncustom_fields: [{{name: Instance, type: text}}]\nactions:\n  - name: X\n{allowed}    \
             request: {{method: GET, url: \"https://{{{{CustomField.Instance}}}}.service-now.com/\", execution_mode: polling}}\n    \
             polling: {{method: GET, url: \"https://{{{{CustomField.Instance}}}}.x.test/\"}}\n"
        )
    };
    let errors = match Validator::with_checker(&HostChecker).validate(&[SourceFile::new("a.yaml", &text(""))]) {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics.iter().map(|diagnostic| diagnostic.located()).collect(),
    };
    let message = "the URL's host reads `CustomField.Instance`, which operators can change: list the hosts it may \
                   take in the action's `allowed_hosts` (host names or `*.suffix`)";
    assert_eq!(
        errors,
        [format!("6:44: actions[0].request.url: {message}"), format!("7:44: actions[0].polling.url: {message}")]
    );
    let listed = text("    allowed_hosts: [\"*.service-now.com\"]\n");
    assert!(Validator::with_checker(&HostChecker).validate(&[SourceFile::new("a.yaml", &listed)]).is_ok());
}
