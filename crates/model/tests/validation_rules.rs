//! Every validation rule with a valid and an invalid case: one table of definition files and the diagnostics they
//! must produce (`LINE:COL: PATH: message`), run through one `check` function.

use cutover_integrations_model::{SourceFile, Validator};

/// One case: the files validated together and the diagnostics expected, in order.
struct Case {
    name: &'static str,
    files: &'static [(&'static str, &'static str)],
    expected: &'static [&'static str],
}

/// Removes the indentation common to every non-blank line, so that cases can be indented in the table.
fn dedent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let indent = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    text.lines().map(|line| line.get(indent..).unwrap_or("")).collect::<Vec<_>>().join("\n") + "\n"
}

/// Validates the case's files together; `Err` describes the difference from what the case expects.
fn check(case: &Case) -> Result<(), String> {
    let texts: Vec<(&str, String)> = case.files.iter().map(|(name, text)| (*name, dedent(text))).collect();
    let sources: Vec<SourceFile<'_>> = texts.iter().map(|(name, text)| SourceFile::new(name, text)).collect();
    let found: Vec<String> = match Validator::new().validate(&sources) {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics
            .iter()
            .map(|diagnostic| if case.files.len() > 1 { diagnostic.to_string() } else { diagnostic.located() })
            .collect(),
    };
    if found == case.expected {
        return Ok(());
    }
    Err(format!("case `{}`\n  expected: {:#?}\n  found:    {:#?}", case.name, case.expected, found))
}

const SLACK: (&str, &str) = (
    "slack.yaml",
    r##"
    kind: integration
    name: Slack
    custom_fields:
      - {name: Channel, type: text}
      - {name: Level, type: select, options: [low, high]}
      - {name: Tags, type: checkboxes, options: [a, b]}
    actions:
      - name: Post
        request: {method: POST, url: "https://slack.com/api/chat.postMessage"}
      - name: Sync
        trigger: runbook_update
        request: {method: POST, url: "https://slack.com/api/x"}
    "##,
);

const CASES: &[Case] = &[
    Case {
        name: "OAuth URLs are http(s)",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: A
            actions:
              - name: Good
                auth: {type: oauth2, grant: client_credentials, client_id: c, client_secret: s, provider_host: "https://idp.test/t", token_endpoint: /token}
                request: {method: GET, url: "https://api.test/"}
              - name: Bad
                auth: {type: oauth2, grant: client_credentials, client_id: c, client_secret: s, provider_host: "idp.test", token_endpoint: "file:///etc/passwd"}
                request: {method: GET, url: "https://api.test/"}
              - name: Worse
                auth: {type: oauth2, grant: client_credentials, client_id: c, client_secret: s, provider_host: "gopher://idp.test", token_endpoint: "https:///token"}
                request: {method: GET, url: "https://api.test/"}
            "##,
        )],
        expected: &[
            "8:100: actions[1].auth.provider_host: `idp.test` is not an absolute `http(s)` URL",
            "8:128: actions[1].auth.token_endpoint: only `http` and `https` URLs can be used; this one is `file`",
            "11:100: actions[2].auth.provider_host: only `http` and `https` URLs can be used; this one is `gopher`",
            "11:137: actions[2].auth.token_endpoint: `https:///token` is not an absolute URL with a host",
        ],
    },
    Case {
        name: "NUL characters, in YAML and JSON, in keys and values",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: "A\0"
            custom_fields:
              - {name: "F\0x", type: text}
            actions:
              - name: X
                request: {method: GET, url: "https://x.test/", headers: {"X-\0": v}}
            "##,
        )],
        expected: &[
            "2:7: name: a NUL character (`\\0`, `\\u0000`) is not allowed: names and values are stored as text",
            "4:12: custom_fields[0].name: a NUL character (`\\0`, `\\u0000`) is not allowed: names and values are stored as text",
            "7:62: actions[0].request.headers['X-\u{0}']: a NUL character (`\\0`, `\\u0000`) is not allowed: names and values are stored as text",
        ],
    },
    Case {
        name: "NUL in JSON",
        files: &[("a.json", r##"{"kind": "runbook", "name": "R\u0000", "tasks": [{"id": "a", "name": "A"}]}"##)],
        expected: &[
            "1:29: name: a NUL character (`\\0`, `\\u0000`) is not allowed: names and values are stored as text",
        ],
    },
    Case {
        name: "surrogate pairs in JSON are characters, and positions after them hold",
        files: &[(
            "a.json",
            r##"{"kind": "runbook", "name": "R \ud83c\udf89 \uD83D\uDE00", "tasks": [{"id": "a", "name": "\ud83c\udf89"}]}"##,
        )],
        expected: &[],
    },
    Case {
        name: "an error after a surrogate pair is where the file has it",
        files: &[("a.json", r##"{"kind": "runbook", "name": "\ud83c\udf89", "colour": 1, "tasks": []}"##)],
        expected: &[
            "1:45: colour: unknown key `colour`; expected one of `kind`, `name`, `workspace`, `description`, `custom_fields`, `tasks`",
        ],
    },
    Case {
        name: "allowed hosts and redirects",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: A
            actions:
              - name: Good
                allowed_hosts: ["*.service-now.com", api.test, "127.0.0.1:8080", "[2001:db8::1]"]
                redirects: none
                request: {method: GET, url: "https://api.test/"}
              - name: Bad
                allowed_hosts: ["https://api.test", "*", api.test]
                redirects: sometimes
                request: {method: GET, url: "https://api.test/"}
              - name: Typo
                allowed_host: [api.test]
                redirect: any
                request: {method: GET, url: "https://api.test/"}
            "##,
        )],
        expected: &[
            "9:21: actions[1].allowed_hosts[0]: `https://api.test` is not a host pattern: write a host name (`api.example.com`), an IP address, or `*.suffix` (`*.example.com`), optionally with `:PORT`",
            "9:41: actions[1].allowed_hosts[1]: `*` is not a host pattern: write a host name (`api.example.com`), an IP address, or `*.suffix` (`*.example.com`), optionally with `:PORT`",
            "10:16: actions[1].redirects: unknown value `sometimes`; expected one of `same_origin`, `any`, `none`",
            "13:5: actions[2].allowed_host: unknown key `allowed_host`; did you mean `allowed_hosts`?",
            "14:5: actions[2].redirect: unknown key `redirect`; did you mean `redirects`?",
        ],
    },
    Case {
        name: "standard webhooks auth",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: A
            actions:
              - name: Literal
                auth: {type: standard_webhooks, secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw}
                request: {method: POST, url: "https://hooks.test/"}
              - name: Parameter
                auth: {type: standard_webhooks, secret: "{{SystemParameter['hook_secret']}}"}
                request: {method: POST, url: "https://hooks.test/"}
              - name: No prefix
                auth: {type: standard_webhooks, secret: MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw}
                request: {method: POST, url: "https://hooks.test/"}
              - name: Short
                auth: {type: standard_webhooks, secret: whsec_c2hvcnQ=}
                request: {method: POST, url: "https://hooks.test/"}
              - name: Missing
                auth: {type: standard_webhooks, secrte: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw}
                request: {method: POST, url: "https://hooks.test/"}
              - name: Typo
                auth: {type: standard_webhook, secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw}
                request: {method: POST, url: "https://hooks.test/"}
            "##,
        )],
        expected: &[
            "11:45: actions[2].auth.secret: a Standard Webhooks secret starts with `whsec_` (then the base64 of 24 to 64 bytes)",
            "14:45: actions[3].auth.secret: a Standard Webhooks secret holds 24 to 64 bytes (32 to 88 base64 characters after `whsec_`)",
            "17:37: actions[4].auth.secrte: unknown key `secrte`; did you mean `secret`?",
            "20:18: actions[5].auth.type: unknown value `standard_webhook`; did you mean `standard_webhooks`?",
        ],
    },
    // Syntax.
    Case { name: "minimal integration", files: &[("a.yaml", "kind: integration\nname: A\n")], expected: &[] },
    Case {
        name: "YAML syntax error",
        files: &[("a.yaml", "kind: integration\nname: [A\n")],
        expected: &["3:1: $: while parsing a flow sequence, expected ',' or ']'"],
    },
    Case { name: "strict JSON", files: &[("a.json", r##"{"kind": "integration", "name": "A"}"##)], expected: &[] },
    Case {
        name: "JSON syntax error",
        files: &[("a.json", "{\"kind\": \"integration\",\n \"name\": \"A\",\n}")],
        expected: &["3:1: $: key must be a string"],
    },
    Case {
        name: "JSON values are positioned",
        files: &[("a.json", "{\"kind\": \"integration\",\n \"name\": \"A\",\n \"archived\": \"no\"}")],
        expected: &["3:14: archived: expected `true` or `false`, found `no`"],
    },
    Case {
        name: "a JSON string is quoted: a boolean or number where text is expected is refused",
        files: &[(
            "a.json",
            "{\"kind\": \"integration\",\n \"name\": false,\n \"actions\": [{\"name\": 3, \"request\": {\"method\": \"GET\", \"url\": \"https://example.com/\"}}]}",
        )],
        expected: &[
            "2:10: name: expected a string, found a boolean",
            "3:23: actions[0].name: expected a string, found an integer",
        ],
    },
    Case {
        name: "YAML's plain scalars read as their text where text is expected",
        files: &[(
            "a.yaml",
            "kind: integration\nname: 2024\nactions:\n  - {name: true, request: {method: GET, url: 'https://example.com/'}}\n",
        )],
        expected: &[],
    },
    Case {
        name: "one document per file",
        files: &[("a.yaml", "kind: integration\nname: A\n---\nkind: runbook\n")],
        expected: &["3:1: $: a definition file holds one document; found a second"],
    },
    Case {
        name: "the document is a mapping",
        files: &[("a.yaml", "- kind: integration\n")],
        expected: &["1:1: $: expected a mapping, found a list"],
    },
    Case {
        name: "kind is required",
        files: &[("a.yaml", "name: A\n")],
        expected: &["1:1: kind: missing required key `kind`"],
    },
    Case {
        name: "kind is known",
        files: &[("a.yaml", "kind: connection\nname: A\n")],
        expected: &[
            "1:7: kind: unknown value `connection`; expected one of `integration`, `runbook`, `event_integration`",
        ],
    },
    // Unknown keys, wrong values and types, duplicates keys.
    Case {
        name: "unknown keys",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: A
            colour: red
            actions:
              - name: X
                request: {method: GET, urll: "https://x"}
            "##,
        )],
        expected: &[
            "3:1: colour: unknown key `colour`; expected one of `kind`, `name`, `type`, `image_url`, `archived`, `custom_fields`, `actions`",
            "6:28: actions[0].request.urll: unknown key `urll`; did you mean `url`?",
        ],
    },
    Case {
        name: "wrong enum value",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: A
            actions:
              - name: X
                trigger: task_begin
                request: {method: POST, url: "https://x"}
            "##,
        )],
        expected: &[
            "5:14: actions[0].trigger: unknown value `task_begin`; expected one of `task_start`, `runbook_update`",
        ],
    },
    Case {
        name: "wrong type",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: A
            actions:
              - name: X
                request: {method: POST, url: "https://x", timeout_seconds: "30"}
                settings: {cancelable: yes}
            "##,
        )],
        expected: &[
            "5:64: actions[0].request.timeout_seconds: expected a whole number, found a string",
            "6:28: actions[0].settings.cancelable: expected `true` or `false`, found `yes`",
        ],
    },
    Case {
        name: "duplicate keys",
        files: &[("a.yaml", "kind: integration\nname: A\nname: B\n")],
        expected: &["3:1: name: duplicate key `name` (first at 2:1)"],
    },
    Case {
        name: "timeouts are positive",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: A
            actions:
              - name: X
                request: {method: POST, url: "https://x", timeout_seconds: 0}
            "##,
        )],
        expected: &["5:64: actions[0].request.timeout_seconds: must be at least 1"],
    },
    // Auth types.
    Case {
        name: "every auth type with its fields",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: A
            actions:
              - {name: T, auth: {type: token, token: abc}, request: {method: GET, url: "https://x"}}
              - {name: B, auth: {type: basic, username: u, password: p}, request: {method: GET, url: "https://x"}}
              - {name: K, auth: {type: api_key, in: query, name: key, value: v}, request: {method: GET, url: "https://x"}}
              - name: O
                auth: {type: oauth2, grant: client_credentials, client_id: c, client_secret: s, provider_host: "https://p", token_endpoint: /t}
                request: {method: GET, url: "https://x"}
            "##,
        )],
        expected: &[],
    },
    Case {
        name: "missing fields per auth type",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: A
            actions:
              - {name: T, auth: {type: token}, request: {method: GET, url: "https://x"}}
              - {name: B, auth: {type: basic, username: u}, request: {method: GET, url: "https://x"}}
              - {name: K, auth: {type: api_key, name: key, value: v}, request: {method: GET, url: "https://x"}}
              - name: O
                auth: {type: oauth2, grant: authorization_code, client_id: c, client_secret: s, provider_host: "https://p", token_endpoint: /t}
                request: {method: GET, url: "https://x"}
              - name: C
                auth: {type: oauth2, grant: client_credentials, client_id: c, client_secret: s, provider_host: "https://p", token_endpoint: /t, authenticate_as: task_user}
                request: {method: GET, url: "https://x"}
              - {name: N, auth: {type: none, token: abc}, request: {method: GET, url: "https://x"}}
            "##,
        )],
        expected: &[
            "4:21: actions[0].auth.token: missing required key `token` for `token` auth",
            "5:21: actions[1].auth.password: missing required key `password` for `basic` auth",
            "6:21: actions[2].auth.in: missing required key `in` for `api_key` auth",
            "8:11: actions[3].auth.authorization_endpoint: missing required key `authorization_endpoint` for the `authorization_code` grant",
            "11:150: actions[4].auth.authenticate_as: `task_user` needs the `authorization_code` grant; `client_credentials` has no user",
            "13:34: actions[5].auth.token: unknown key `token`; expected one of `type`",
        ],
    },
    // Execution modes and methods.
    Case {
        name: "every execution mode with its sections",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: A
            actions:
              - name: S
                request: {method: POST, url: "https://x", execution_mode: sync}
                response: {success_when: [{path: $.ok, equals: true}], failure_when: [{path: error, exists: true}]}
              - name: P
                request: {method: POST, url: "https://x", execution_mode: polling}
                polling: {method: GET, url: "https://x/{{Response.id}}", complete_when: [{path: state, in: [done, ok]}]}
              - name: C
                request: {method: POST, url: "https://x", execution_mode: callback}
                callback: {timeout_seconds: 60}
            "##,
        )],
        expected: &[],
    },
    Case {
        name: "sections that the execution mode rules out or needs",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: A
            actions:
              - name: P
                request: {method: POST, url: "https://x", execution_mode: polling}
              - name: S
                request: {method: POST, url: "https://x", execution_mode: sync}
                polling: {method: GET, url: "https://x"}
              - name: F
                request: {method: POST, url: "https://x"}
                response: {success_statuses: [200]}
              - name: Q
                request: {method: POST, url: "https://x", execution_mode: polling}
                polling: {method: GET, url: "https://x"}
                callback: {timeout_seconds: 60}
            "##,
        )],
        expected: &[
            "4:5: actions[0].polling: missing required key `polling` for `polling` execution mode",
            "8:5: actions[1].polling: `polling` is not allowed in `sync` mode (only in `polling` mode)",
            "11:5: actions[2].response: `response` is not allowed in `fire_and_forget` mode, which reads nothing but the status",
            "15:5: actions[3].callback: `callback` is not allowed in `polling` mode (only in `callback` mode)",
        ],
    },
    Case {
        name: "an unknown execution mode does not judge the sections",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: A
            actions:
              - name: P
                request: {method: POST, url: "https://x", execution_mode: poll}
                polling: {method: GET, url: "https://x"}
            "##,
        )],
        expected: &[
            "5:63: actions[0].request.execution_mode: unknown value `poll`; expected one of `fire_and_forget`, `sync`, `polling`, `callback`",
        ],
    },
    Case {
        name: "params for GET and DELETE, payload for the others",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: A
            actions:
              - {name: G, request: {method: GET, url: "https://x", params: '{"q": 1}'}}
              - {name: P, request: {method: PATCH, url: "https://x", payload: '{"q": 1}'}}
            "##,
        )],
        expected: &[],
    },
    Case {
        name: "payload with GET, params with POST, polling with PUT",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: A
            actions:
              - {name: G, request: {method: GET, url: "https://x", payload: '{}'}}
              - {name: P, request: {method: POST, url: "https://x", params: '{}'}}
              - name: Q
                request: {method: POST, url: "https://x", execution_mode: polling}
                polling: {method: PUT, url: "https://x"}
            "##,
        )],
        expected: &[
            "4:56: actions[0].request.payload: `payload` is not allowed with `GET`, which sends no body; use `params`",
            "5:57: actions[1].request.params: `params` is not allowed with `POST`; send data in `payload`",
            "8:23: actions[2].polling.method: polling uses `GET` or `POST`, not `PUT`",
        ],
    },
    Case {
        name: "structured payloads and params: mappings or lists of values whose strings are templates",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: A
            custom_fields: [{name: Channel, type: text}]
            actions:
              - name: P
                request:
                  method: POST
                  url: "https://x"
                  payload: {channel: "{{CustomField['Channel']}}", n: 1, ok: true, none: null, list: [1, "{{Task.name}}"]}
              - {name: G, request: {method: GET, url: "https://x", params: {q: "{{Task.name}}", tag: [a, b]}}}
              - {name: L, request: {method: PUT, url: "https://x", payload: ["{{Task.name}}", {a: 1}]}}
              - name: C
                settings: {cancelable: true, notify_webhook_on_cancel: {url: "https://x", payload: {task: "{{Task.name}}"}}}
                request: {method: POST, url: "https://x", headers: {Content-Type: application/vnd.api+json}, payload: {}}
            "##,
        )],
        expected: &[],
    },
    Case {
        name: "structured bodies: keys are not templates, params are a mapping, the payload is JSON, fields are declared",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: A
            custom_fields: [{name: Channel, type: text}]
            actions:
              - {name: K, request: {method: POST, url: "https://x", payload: {"{{Task.name}}": 1}}}
              - {name: G, request: {method: GET, url: "https://x", params: [a, b]}}
              - {name: T, request: {method: POST, url: "https://x", headers: {content-type: text/plain}, payload: {a: 1}}}
              - name: W
                settings: {notify_webhook_on_cancel: {url: "https://x", headers: {Content-Type: text/csv}, payload: [a]}}
                request: {method: POST, url: "https://x", payload: {a: [{b: "{{CustomField['Chanel']}}"}], c: 2, c: 3}}
            "##,
        )],
        expected: &[
            "5:67: actions[0].request.payload['{{Task.name}}']: keys of a structured body are sent as written, not rendered: write the body as one text template to compute a key",
            "6:64: actions[1].request.params: params must be a mapping of query parameter names to values",
            "7:81: actions[2].request.headers['content-type']: a structured `payload` is sent as JSON, but `Content-Type` is `text/plain`: write the payload as one text template to send another format",
            "9:85: actions[3].settings.notify_webhook_on_cancel.headers['Content-Type']: a structured `payload` is sent as JSON, but `Content-Type` is `text/csv`: write the payload as one text template to send another format",
            "10:68: actions[3].request.payload.a[0].b: unknown custom field `Chanel`; the integration declares `Channel`",
            "10:102: actions[3].request.payload.c: duplicate key `c` (first at 10:96)",
        ],
    },
    Case {
        name: "conditions take exactly one test",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: A
            actions:
              - name: S
                request: {method: POST, url: "https://x", execution_mode: sync}
                response:
                  success_when: [{path: a, equals: 1, exists: true}, {path: b}, {path: c, equals: null}]
            "##,
        )],
        expected: &[
            "7:22: actions[0].response.success_when[0]: a condition takes exactly one test of `equals`, `in` and `exists`",
            "7:58: actions[0].response.success_when[1]: a condition needs one test: `equals`, `in` or `exists`",
        ],
    },
    Case {
        name: "success statuses are HTTP statuses",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: A
            actions:
              - name: S
                request: {method: POST, url: "https://x", execution_mode: sync}
                response: {success_statuses: [200, 999]}
            "##,
        )],
        expected: &["6:40: actions[0].response.success_statuses[1]: 999 is not an HTTP status (100 to 599)"],
    },
    Case {
        name: "header names are tokens",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: A
            actions:
              - {name: S, request: {method: POST, url: "https://x", headers: {X-Ok: a, "Bad Name": b}}}
            "##,
        )],
        expected: &["4:76: actions[0].request.headers['Bad Name']: `Bad Name` is not a valid header name"],
    },
    // Custom fields.
    Case {
        name: "options for select types only",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: A
            custom_fields:
              - {name: S, type: select, options: [a, b]}
              - {name: R, type: radio}
              - {name: T, type: text, options: [a]}
              - {name: C, type: checkboxes, options: [a, a]}
            "##,
        )],
        expected: &[
            "5:5: custom_fields[1].options: missing required key `options` for `radio` fields (at least one)",
            "6:27: custom_fields[2].options: `options` is not allowed for `text` fields",
            "7:46: custom_fields[3].options[1]: duplicate option `a`",
        ],
    },
    Case {
        name: "restrict_to names actions of the integration",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: A
            custom_fields:
              - {name: F, type: text, restrict_to: [Post, Pots]}
            actions:
              - {name: Post, request: {method: POST, url: "https://x"}}
            "##,
        )],
        expected: &[
            "4:47: custom_fields[0].restrict_to[1]: unknown action `Pots`; the integration's actions are `Post`",
        ],
    },
    Case {
        name: "templates reference declared custom fields, positioned in every scalar style",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: A
            custom_fields:
              - {name: Channel, type: text}
            actions:
              - name: Post
                request:
                  method: POST
                  url: https://x/{{CustomField['Channel']}}/{{CustomField['Chanel']}}
                  headers:
                    X-Quoted: 'a ''b'' {{CustomField["Nope"]}}'
                    X-Double: "\"x\" {{ CustomField.Nada }}"
                  payload: |
                    {
                      "channel": "{{CustomField['Channel']}}",
                        "text": "{{CustomField['Missing']}}"
                    }
              - name: Folded
                request:
                  method: POST
                  url: https://x
                  payload: >
                    {"a": "{{CustomField['Gone']}}"}
            "##,
        )],
        expected: &[
            "9:51: actions[0].request.url: unknown custom field `Chanel`; the integration declares `Channel`",
            "11:30: actions[0].request.headers['X-Quoted']: unknown custom field `Nope`; the integration declares `Channel`",
            "12:29: actions[0].request.headers['X-Double']: unknown custom field `Nada`; the integration declares `Channel`",
            "16:24: actions[0].request.payload: unknown custom field `Missing`; the integration declares `Channel`",
            "23:9: actions[1].request.payload: unknown custom field `Gone`; the integration declares `Channel`",
        ],
    },
    Case {
        name: "response maps write declared custom fields",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: A
            custom_fields:
              - {name: Ticket, type: text}
            actions:
              - name: S
                request: {method: POST, url: "https://x", execution_mode: sync}
                response: {map: {Ticket: $.id, Tiket: $.id}}
            "##,
        )],
        expected: &[
            "8:36: actions[0].response.map.Tiket: unknown custom field `Tiket`; the integration declares `Ticket`",
        ],
    },
    // Names.
    Case {
        name: "duplicate action and custom field names",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: A
            custom_fields:
              - {name: F, type: text}
              - {name: F, type: date}
            actions:
              - {name: Post, request: {method: POST, url: "https://x"}}
              - {name: Post, request: {method: POST, url: "https://y"}}
            "##,
        )],
        expected: &[
            "5:12: custom_fields[1].name: duplicate custom field name `F` (first at 4:12)",
            "8:12: actions[1].name: duplicate action name `Post` (first at 7:12)",
        ],
    },
    Case {
        name: "integration names have no slash",
        files: &[("a.yaml", "kind: integration\nname: A/B\n")],
        expected: &["2:7: name: an integration name may not contain `/`, which separates `INTEGRATION/ACTION`"],
    },
    // Start settings.
    Case {
        name: "fixed start and auto start exclude each other",
        files: &[(
            "a.yaml",
            r##"
            kind: integration
            name: A
            actions:
              - name: P
                settings: {auto_start: true, fixed_start_time: true}
                request: {method: POST, url: "https://x"}
            "##,
        )],
        expected: &[
            "5:34: actions[0].settings.fixed_start_time: `fixed_start_time` cannot be combined with `auto_start`",
        ],
    },
    Case {
        name: "a task's fixed start",
        files: &[(
            "r.yaml",
            r##"
            kind: runbook
            name: R
            tasks:
              - {id: a, name: A, fixed_start: "2026-11-22T18:00:00Z"}
              - {id: b, name: B, fixed_start: "2026-11-22T18:00:00Z", auto_start: true}
              - {id: c, name: C, fixed_start: "tomorrow"}
            "##,
        )],
        expected: &[
            "5:22: tasks[1].fixed_start: `fixed_start` cannot be combined with `auto_start`",
            "6:35: tasks[2].fixed_start: `tomorrow` is not an RFC 3339 time such as `2026-11-22T18:00:00Z`",
        ],
    },
    // Runbook graphs.
    Case {
        name: "a DAG of tasks",
        files: &[(
            "r.yaml",
            r##"
            kind: runbook
            name: R
            tasks:
              - {id: a, name: A}
              - {id: b, name: B, predecessors: [a]}
              - {id: c, name: C, predecessors: [a, b]}
            "##,
        )],
        expected: &[],
    },
    Case {
        name: "cycles, unknown and repeated predecessors, duplicate ids",
        files: &[(
            "r.yaml",
            r##"
            kind: runbook
            name: R
            tasks:
              - {id: a, name: A, predecessors: [c]}
              - {id: b, name: B, predecessors: [a, zz]}
              - {id: c, name: C, predecessors: [b, b]}
              - {id: d, name: D, predecessors: [d]}
              - {id: a, name: A again}
            "##,
        )],
        expected: &[
            "5:37: tasks[1].predecessors[0]: predecessors form a cycle: a → b → c → a",
            "5:40: tasks[1].predecessors[1]: unknown task id `zz`",
            "6:40: tasks[2].predecessors[1]: `b` is listed twice",
            "7:37: tasks[3].predecessors[0]: predecessors form a cycle: d → d",
            "8:10: tasks[4].id: duplicate task id `a` (first at 4:10)",
        ],
    },
    Case {
        name: "malformed action reference",
        files: &[("r.yaml", "kind: runbook\nname: R\ntasks:\n  - {id: a, name: A, action: Slack}\n")],
        expected: &["4:30: tasks[0].action: `Slack` is not an `INTEGRATION/ACTION` reference"],
    },
    // Across files.
    Case {
        name: "draft actions: saved without a request, refused for tasks, no mode sections yet",
        files: &[
            (
                "draft.yaml",
                r##"
                kind: integration
                name: Jira
                image_url: /assets/catalog/jira-cloud.svg
                actions:
                  - {name: Create, image_url: "https://jira.test/create.svg"}
                  - {name: Poll, response: {success_statuses: [200]}}
                  - {name: Icon, image_url: "file:///etc/passwd", request: {method: GET, url: "https://x"}}
                  - {name: Far, image_url: "//evil.test/x.svg", request: {method: GET, url: "https://x"}}
                  - {name: Up, image_url: "/a b.svg", request: {method: GET, url: "https://x"}}
                "##,
            ),
            (
                "r.yaml",
                r##"
                kind: runbook
                name: R
                tasks:
                  - {id: a, name: A, action: Jira/Create}
                "##,
            ),
        ],
        expected: &[
            "draft.yaml:6:18: actions[1].response: `response` is not allowed in a draft (an action without `request`)",
            "draft.yaml:7:29: actions[2].image_url: only `http` and `https` URLs can be used; this one is `file`",
            "draft.yaml:8:28: actions[3].image_url: `//evil.test/x.svg` is neither an absolute `http(s)` URL nor a plain path on this server",
            "draft.yaml:9:27: actions[4].image_url: `/a b.svg` is neither an absolute `http(s)` URL nor a plain path on this server",
            "r.yaml:4:30: tasks[0].action: `Jira/Create` is a draft: it has no request yet, so no task can use it",
        ],
    },
    Case {
        name: "actions and custom fields visible to one workspace serve only that workspace's runbooks",
        files: &[
            (
                "ops.yaml",
                r##"
                kind: integration
                name: Ops
                custom_fields:
                  - {name: Ticket, type: text, visibility: {workspace: Ops}}
                  - {name: Note, type: text}
                actions:
                  - {name: Page, visibility: {workspace: Ops}, request: {method: POST, url: "https://x.test"}}
                  - {name: Open, request: {method: POST, url: "https://x.test"}}
                "##,
            ),
            (
                "in-ops.yaml",
                r##"
                kind: runbook
                name: Fine
                workspace: Ops
                custom_fields: {Ticket: T-1}
                tasks:
                  - {id: a, name: A, action: Ops/Page, custom_fields: {Ticket: T-2, Note: n}}
                "##,
            ),
            (
                "in-dev.yaml",
                r##"
                kind: runbook
                name: Elsewhere
                workspace: Dev
                tasks:
                  - {id: a, name: A, action: Ops/Page, custom_fields: {Ticket: T-2}}
                  - {id: b, name: B, action: Ops/Open, custom_fields: {Note: n}}
                "##,
            ),
            (
                "nowhere.yaml",
                r##"
                kind: runbook
                name: Nowhere
                custom_fields: {Ticket: T-1}
                tasks:
                  - {id: a, name: A, action: Ops/Page}
                "##,
            ),
        ],
        expected: &[
            "in-dev.yaml:5:30: tasks[0].action: `Ops/Page` is visible only in workspace `Ops`, and this runbook is in \
             workspace `Dev`",
            "in-dev.yaml:5:56: tasks[0].custom_fields.Ticket: custom field `Ticket` is visible only in workspace `Ops`, \
             and this runbook is in workspace `Dev`",
            "nowhere.yaml:3:17: custom_fields.Ticket: custom field `Ticket` is visible only in workspace `Ops`, and this \
             runbook is in no workspace",
            "nowhere.yaml:5:30: tasks[0].action: `Ops/Page` is visible only in workspace `Ops`, and this runbook is in \
             no workspace",
        ],
    },
    Case {
        name: "a runbook against its integrations",
        files: &[
            SLACK,
            (
                "r.yaml",
                r##"
                kind: runbook
                name: R
                custom_fields: {Channel: "#ops"}
                tasks:
                  - {id: a, name: A, action: Slack/Post, custom_fields: {Level: high, Tags: [a, b]}}
                  - {id: b, name: B}
                "##,
            ),
        ],
        expected: &[],
    },
    Case {
        name: "unknown actions, integrations, fields and options",
        files: &[
            SLACK,
            (
                "r.yaml",
                r##"
                kind: runbook
                name: R
                custom_fields: {Chanel: "#ops"}
                tasks:
                  - {id: a, name: A, action: Slack/Pots}
                  - {id: b, name: B, action: Slak/Post}
                  - {id: c, name: C, action: Slack/Sync}  # a runbook_update action is a task type too
                  - {id: d, name: D, action: Slack/Post, custom_fields: {Level: medium, Tags: [a, c], Channel: [x]}}
                "##,
            ),
        ],
        expected: &[
            "r.yaml:3:17: custom_fields.Chanel: unknown custom field `Chanel`; the integrations declare `Channel`, `Level`, `Tags`",
            "r.yaml:5:30: tasks[0].action: integration `Slack` has no action `Pots`; its actions are `Post`, `Sync`",
            "r.yaml:6:30: tasks[1].action: unknown integration `Slak`; the integrations are `Slack`",
            "r.yaml:8:65: tasks[3].custom_fields.Level: `medium` is not an option of `Level`; the options are `low`, `high`",
            "r.yaml:8:83: tasks[3].custom_fields.Tags[1]: `c` is not an option of `Tags`; the options are `a`, `b`",
            "r.yaml:8:96: tasks[3].custom_fields.Channel: custom field `Channel` takes one value, not a list",
        ],
    },
    Case {
        name: "runbook references are not checked without integrations",
        files: &[("r.yaml", "kind: runbook\nname: R\ntasks:\n  - {id: a, name: A, action: Slack/Nothing}\n")],
        expected: &[],
    },
    Case {
        name: "integration names are unique across files",
        files: &[SLACK, ("other.yaml", "kind: integration\nname: Slack\n")],
        expected: &["other.yaml:2:7: name: integration `Slack` is also defined at slack.yaml:2:7"],
    },
    Case {
        name: "a custom field is declared the same way everywhere",
        files: &[
            SLACK,
            ("other.yaml", "kind: integration\nname: Other\ncustom_fields:\n  - {name: Level, type: text}\n"),
        ],
        expected: &[
            "other.yaml:4:5: custom_fields[0]: custom field `Level` is declared differently at slack.yaml:5:5 (type, options and `applies_to` must agree)",
        ],
    },
    Case {
        name: "auto start by the action and a fixed start on the task",
        files: &[
            (
                "a.yaml",
                "kind: integration\nname: A\nactions:\n  - {name: P, settings: {auto_start: true}, request: {method: POST, url: \"https://x\"}}\n",
            ),
            (
                "r.yaml",
                "kind: runbook\nname: R\ntasks:\n  - {id: a, name: A, action: A/P, fixed_start: \"2026-11-22T18:00:00Z\"}\n",
            ),
        ],
        expected: &[
            "r.yaml:4:35: tasks[0].fixed_start: `fixed_start` cannot be combined with auto start, which `A/P` sets",
        ],
    },
    Case {
        name: "an action may not read the Event root",
        files: &[(
            "a.yaml",
            "kind: integration\nname: A\nactions:\n  - name: P\n    request: {method: POST, url: \"https://x.test/{{Event.type}}\"}\n",
        )],
        expected: &[
            "5:52: actions[0].request.url: `Event` is set only in event integrations (`kind: event_integration`); an action's templates read `Task`, `Runbook`, `CustomField` and `SystemParameter`",
        ],
    },
    Case {
        name: "a valid event integration",
        files: &[(
            "e.yaml",
            r##"
            kind: event_integration
            name: Audit
            events: [task.started, task.finished]
            scope: {workspace: Ops}
            enabled: false
            execute_in_rehearsal: true
            auth: {type: token, token: t}
            request: {method: POST, url: "https://audit.test/hook", payload: {id: "{{Event.id}}", kind: "{{Event.type}}"}}
            allowed_hosts: [audit.test]
            "##,
        )],
        expected: &[],
    },
    Case {
        name: "event integrations: names, event types, scope, execution mode, headers",
        files: &[(
            "e.yaml",
            r##"
            kind: event_integration
            name: " "
            events: [task.started, task.exploded, task.started]
            scope: {workspace: Ops, runbook: R}
            request: {method: POST, url: "https://x.test", execution_mode: sync, headers: {"Bad Header": x}}
            "##,
        )],
        expected: &[
            "2:7: name: must not be empty",
            "3:24: events[1]: unknown value `task.exploded`; expected one of `task.created`, `task.started`, `task.finished`, `task.skipped`, `task.failed`, `runbook.started`, `runbook.updated`, `runbook.finished`, `run.started`, `run.finished`",
            "3:39: events[2]: duplicate event type `task.started`",
            "4:34: scope.runbook: a scope is one workspace or one runbook, not both",
            "5:64: request.execution_mode: an event integration's request is `fire_and_forget`: a 2xx answer delivers the event",
            "5:80: request.headers['Bad Header']: `Bad Header` is not a valid header name",
        ],
    },
    Case {
        name: "event integrations need events and a request, and know only their own keys",
        files: &[("e.yaml", "kind: event_integration\nname: E\nevents: []\nscope: everything\nactions: []\n")],
        expected: &[
            "1:1: request: missing required key `request`",
            "3:9: events: list at least one event type, such as `task.started`",
            "4:8: scope: unknown value `everything`; expected `all`, `{workspace: NAME}` or `{runbook: NAME}`",
            "5:1: actions: unknown key `actions`; expected one of `kind`, `name`, `events`, `scope`, `enabled`, `execute_in_rehearsal`, `auth`, `request`, `allowed_hosts`, `redirects`",
        ],
    },
];

#[test]
fn validation_rules() {
    let failures: Vec<String> = CASES.iter().filter_map(|case| check(case).err()).collect();
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), CASES.len(), failures.join("\n"));
}
