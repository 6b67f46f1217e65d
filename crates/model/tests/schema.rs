//! The JSON Schema of definition files agrees with the validator: every example and every valid file of the corpus
//! passes both, every structurally invalid file is refused by both.

use cutover_integrations_model::{SourceFile, Validator, definition_schema};
use serde_json::Value;
use std::path::Path;

fn schema_validator() -> jsonschema::Validator {
    jsonschema::validator_for(&definition_schema()).expect("the schema is a valid JSON Schema")
}

/// A YAML or JSON document as a JSON value, for the schema validator.
fn as_json(text: &str) -> Value {
    serde_saphyr::from_str(text).expect("the corpus is syntactically valid YAML")
}

fn parser_accepts(name: &str, text: &str) -> bool {
    Validator::new().parse(&SourceFile::new(name, text)).is_ok()
}

#[test]
fn every_example_validates_against_the_schema() {
    let schema = schema_validator();
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(directory).expect("examples") {
        let path = entry.expect("entry").path();
        let Some(extension) = path.extension().and_then(|extension| extension.to_str()) else { continue };
        if !matches!(extension, "yaml" | "yml" | "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("example");
        let errors: Vec<String> = schema.iter_errors(&as_json(&text)).map(|error| error.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        checked += 1;
    }
    assert!(checked >= 3, "examples checked: {checked}");
}

/// (name, document, valid): structural cases both must agree on.
const CORPUS: &[(&str, &str, bool)] = &[
    ("minimal integration", "kind: integration\nname: Hooks\n", true),
    (
        "an action",
        "kind: integration\nname: Hooks\nactions:\n  - name: Post\n    request: {method: POST, url: 'https://x.test/h'}\n",
        true,
    ),
    (
        "every auth type",
        "kind: integration\nname: A\nactions:\n  - name: T\n    auth: {type: token, token: t}\n    request: {method: GET, url: 'https://x.test'}\n  - name: B\n    auth: {type: basic, username: u, password: p}\n    request: {method: GET, url: 'https://x.test'}\n  - name: K\n    auth: {type: api_key, in: header, name: X-Key, value: k}\n    request: {method: GET, url: 'https://x.test'}\n  - name: O\n    auth: {type: oauth2, grant: client_credentials, client_id: c, client_secret: s, provider_host: 'https://id.test', token_endpoint: /token}\n    request: {method: GET, url: 'https://x.test'}\n",
        true,
    ),
    (
        "custom fields",
        "kind: integration\nname: F\ncustom_fields:\n  - {name: Env, type: select, options: [prod, staging], required: true, applies_to: runbook}\n",
        true,
    ),
    (
        "a runbook",
        "kind: runbook\nname: R\ntasks:\n  - {id: a, name: A, action: Hooks/Post, custom_fields: {Env: prod}}\n  - {id: b, name: B, predecessors: [a], auto_start: true}\n",
        true,
    ),
    (
        "structured payloads and params",
        "kind: integration\nname: S\nactions:\n  - name: P\n    request:\n      method: POST\n      url: 'https://x.test'\n      payload: {text: '{{Task.name}}', n: 1, blocks: [{type: section}]}\n  - name: L\n    settings: {notify_webhook_on_cancel: {url: 'https://x.test', payload: [a, 1]}}\n    request: {method: PUT, url: 'https://x.test', payload: ['{{Task.name}}']}\n  - name: G\n    request: {method: GET, url: 'https://x.test', params: {q: '{{Task.name}}', tag: [a, b]}}\n",
        true,
    ),
    (
        "params as a list",
        "kind: integration\nname: S\nactions:\n  - name: G\n    request: {method: GET, url: 'https://x.test', params: [a, b]}\n",
        false,
    ),
    (
        "an event integration",
        "kind: event_integration\nname: E\nevents: [task.started, run.finished]\nscope: {runbook: R}\nenabled: false\nrequest: {method: POST, url: 'https://x.test', payload: {t: '{{Event.type}}'}}\n",
        true,
    ),
    (
        "an event integration scoped to a workspace, every runbook by default",
        "kind: event_integration\nname: E\nevents: [task.created]\nscope: {workspace: Ops}\nrequest: {method: POST, url: 'https://x.test'}\n",
        true,
    ),
    (
        "an event integration with an unknown event type",
        "kind: event_integration\nname: E\nevents: [task.exploded]\nrequest: {method: POST, url: 'https://x.test'}\n",
        false,
    ),
    ("an event integration without a request", "kind: event_integration\nname: E\nevents: [task.started]\n", false),
    (
        "an event integration with an unknown scope",
        "kind: event_integration\nname: E\nevents: [task.started]\nscope: {team: X}\nrequest: {method: POST, url: 'https://x.test'}\n",
        false,
    ),
    ("unknown kind", "kind: integrationz\nname: Hooks\n", false),
    ("missing kind", "name: Hooks\n", false),
    ("unknown top-level key", "kind: integration\nname: Hooks\nactionz: []\n", false),
    ("missing name", "kind: integration\n", false),
    (
        "unknown request key",
        "kind: integration\nname: H\nactions:\n  - name: P\n    request: {method: POST, urll: 'https://x.test'}\n",
        false,
    ),
    (
        "unknown method",
        "kind: integration\nname: H\nactions:\n  - name: P\n    request: {method: FETCH, url: 'https://x.test'}\n",
        false,
    ),
    (
        "unknown trigger",
        "kind: integration\nname: H\nactions:\n  - name: P\n    trigger: task_begin\n    request: {method: GET, url: 'https://x.test'}\n",
        false,
    ),
    (
        "unknown auth type",
        "kind: integration\nname: H\nactions:\n  - name: P\n    auth: {type: kerberos}\n    request: {method: GET, url: 'https://x.test'}\n",
        false,
    ),
    (
        "token auth without its token",
        "kind: integration\nname: H\nactions:\n  - name: P\n    auth: {type: token}\n    request: {method: GET, url: 'https://x.test'}\n",
        false,
    ),
    ("a draft action (no request yet)", "kind: integration\nname: H\nactions:\n  - name: P\n", true),
    (
        "a request without its url",
        "kind: integration\nname: H\nactions:\n  - name: P\n    request: {method: GET}\n",
        false,
    ),
    (
        "a settings flag of the wrong type",
        "kind: integration\nname: H\nactions:\n  - name: P\n    settings: {auto_start: maybe}\n    request: {method: GET, url: 'https://x.test'}\n",
        false,
    ),
    (
        "a field of an unknown type",
        "kind: integration\nname: F\ncustom_fields:\n  - {name: Env, type: dropdown}\n",
        false,
    ),
    ("a task without an id", "kind: runbook\nname: R\ntasks:\n  - {name: A}\n", false),
    ("an unknown task key", "kind: runbook\nname: R\ntasks:\n  - {id: a, name: A, predecesors: [b]}\n", false),
    (
        "an action reference without a slash",
        "kind: runbook\nname: R\ntasks:\n  - {id: a, name: A, action: Post}\n",
        false,
    ),
];

#[test]
fn the_schema_and_the_parser_agree_on_the_corpus() {
    let schema = schema_validator();
    for (name, text, valid) in CORPUS {
        let by_schema = schema.is_valid(&as_json(text));
        let by_parser = parser_accepts("corpus.yaml", text);
        assert_eq!((by_schema, by_parser), (*valid, *valid), "{name}: (schema, parser) accepted");
    }
}

#[test]
fn the_schema_has_a_stable_identity() {
    let schema = definition_schema();
    assert_eq!(schema["$id"], cutover_integrations_model::SCHEMA_ID);
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    // Editors read docs/definition.schema.json (the examples point at it); regenerate it with
    // `cutover schema > docs/definition.schema.json` when the model changes.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/definition.schema.json");
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("docs/definition.schema.json")).expect("JSON");
    assert_eq!(
        committed,
        definition_schema(),
        "docs/definition.schema.json is stale: run `cutover schema > docs/definition.schema.json`"
    );
}
