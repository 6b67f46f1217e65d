//! Any valid definition serialises to YAML and to JSON and parses back, through our own parser, to the same value.

use cutover_integrations_model::{
    Action, ActionRef, ActionSettings, ApiKeyLocation, AppliesTo, AuthSettings, AuthenticateAs, BodyTemplate,
    CallbackSpec, Condition, ConditionTest, CustomField, CustomFieldType, Definition, DefinitionFormat,
    EventIntegration, EventScope, EventType, ExecutionMode, FieldValue, HostPattern, HttpMethod, Integration,
    IntegrationKind, NotifyWebhook, OAuth2Grant, OAuth2Settings, PollingSpec, RedirectPolicy, RequestSpec,
    ResponseSpec, Runbook, SecretValue, SourceFile, Task, Trigger, Visibility,
};
use proptest::collection::{btree_map, btree_set, vec};
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use std::collections::BTreeMap;

/// Strings that YAML emitters and parsers get wrong most easily.
const TRICKY: &[&str] = &[
    "",
    " ",
    "null",
    "Null",
    "~",
    "true",
    "False",
    "12",
    "-3.5",
    "0x1f",
    "0o7",
    "1e3",
    ".inf",
    ".nan",
    "yes",
    "no",
    "- x",
    "a: b",
    "#c",
    "a #c",
    "'q'",
    "\"d\"",
    "|",
    ">",
    "@x",
    "`x`",
    "%x",
    "&a",
    "*a",
    "!t",
    "? k",
    "---",
    "...",
    "{}",
    "[]",
    " lead",
    "trail ",
    "line\nbreak",
    "\n",
    "two\n\nbreaks\n",
    "tab\there",
    "\\",
    "é✓😀",
];

/// Any text: printable ASCII, text with line breaks and tabs, any Unicode, and tricky samples.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => "[ -~]{0,16}",
        2 => "[ -~\n\t]{0,40}",
        1 => "\\PC{0,10}",
        2 => select(TRICKY).prop_map(String::from),
    ]
    .boxed()
}

/// A name: text with something other than white space in it.
fn name() -> BoxedStrategy<String> {
    text().prop_filter("names are not blank", |name| !name.trim().is_empty()).boxed()
}

fn integration_name() -> BoxedStrategy<String> {
    name().prop_filter("integration names have no slash", |name| !name.contains('/')).boxed()
}

fn header_name() -> BoxedStrategy<String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}".boxed()
}

fn headers() -> BoxedStrategy<BTreeMap<String, String>> {
    btree_map(header_name(), text(), 0..3).boxed()
}

fn positive() -> BoxedStrategy<u32> {
    (1..=u32::MAX).boxed()
}

fn json_value() -> BoxedStrategy<serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        // Decimals of up to ten digits: serde_json (without `float_roundtrip`) reads longer ones to the nearest bit only.
        (-1_000_000_000_000i64..1_000_000_000_000)
            .prop_map(|thousandths| serde_json::Value::from(thousandths as f64 / 1000.0)),
        text().prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..3).prop_map(serde_json::Value::Array),
            btree_map(text(), inner, 0..3).prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
    .boxed()
}

fn condition() -> BoxedStrategy<Condition> {
    let test = prop_oneof![
        json_value().prop_map(ConditionTest::Equals),
        vec(json_value(), 0..3).prop_map(ConditionTest::In),
        any::<bool>().prop_map(ConditionTest::Exists),
    ];
    (name(), test).prop_map(|(path, test)| Condition { path, test }).boxed()
}

fn response_map(fields: Vec<String>) -> BoxedStrategy<BTreeMap<String, String>> {
    let count = fields.len();
    subsequence(fields, 0..=count)
        .prop_flat_map(|fields| {
            vec(name(), fields.len()).prop_map(move |paths| fields.iter().cloned().zip(paths).collect())
        })
        .boxed()
}

fn method() -> BoxedStrategy<HttpMethod> {
    select(&[HttpMethod::Get, HttpMethod::Post, HttpMethod::Put, HttpMethod::Patch, HttpMethod::Delete][..]).boxed()
}

/// Whether no key in `value` holds `{{`: keys of a structured body are not templates, and may not look like one.
fn keys_are_literal(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Object(map) => map.iter().all(|(key, item)| !key.contains("{{") && keys_are_literal(item)),
        serde_json::Value::Array(items) => items.iter().all(keys_are_literal),
        _ => true,
    }
}

/// A value of a structured body: JSON whose string leaves are (random) templates.
fn structure_value() -> BoxedStrategy<serde_json::Value> {
    json_value().prop_filter("keys are not templates", keys_are_literal).boxed()
}

/// A structured body's object.
fn structure_object() -> BoxedStrategy<serde_json::Map<String, serde_json::Value>> {
    btree_map(text(), structure_value(), 0..4)
        .prop_filter("keys are not templates", |map| map.keys().all(|key| !key.contains("{{")))
        .prop_map(|map| map.into_iter().collect())
        .boxed()
}

/// A payload in either form: text, or a structured object or list.
fn payload() -> BoxedStrategy<BodyTemplate> {
    prop_oneof![
        2 => text().prop_map(BodyTemplate::Text),
        1 => structure_object().prop_map(BodyTemplate::Object),
        1 => vec(structure_value(), 0..4).prop_map(BodyTemplate::List),
    ]
    .boxed()
}

/// Params in either form: text, or a structured object.
fn params() -> BoxedStrategy<BodyTemplate> {
    prop_oneof![2 => text().prop_map(BodyTemplate::Text), 1 => structure_object().prop_map(BodyTemplate::Object)]
        .boxed()
}

/// Headers without a `Content-Type` that is not JSON, which a structured payload may not have.
fn body_headers() -> BoxedStrategy<BTreeMap<String, String>> {
    headers()
        .prop_filter("a structured payload is JSON", |headers| {
            !headers.keys().any(|name| name.eq_ignore_ascii_case("content-type"))
        })
        .boxed()
}

/// `payload` or `params`, whichever the method takes.
fn body(method: HttpMethod) -> BoxedStrategy<(Option<BodyTemplate>, Option<BodyTemplate>)> {
    if method.takes_params() {
        option::of(params()).prop_map(|params| (None, params)).boxed()
    } else {
        option::of(payload()).prop_map(|payload| (payload, None)).boxed()
    }
}

fn secret() -> BoxedStrategy<SecretValue> {
    prop_oneof![text(), name().prop_map(|name| format!("{{{{SystemParameter['{name}']}}}}"))]
        .prop_map(SecretValue::new)
        .boxed()
}

/// A Standard Webhooks secret: a literal `whsec_` secret of 24 to 64 bytes, or a system parameter reference.
fn webhook_secret() -> BoxedStrategy<SecretValue> {
    use base64::Engine as _;
    let literal = vec(any::<u8>(), 24..=64)
        .prop_map(|key| format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(key)));
    prop_oneof![literal, name().prop_map(|name| format!("{{{{SystemParameter['{name}']}}}}"))]
        .prop_map(SecretValue::new)
        .boxed()
}

/// An absolute `http(s)` URL, as OAuth provider hosts must be.
fn http_url() -> BoxedStrategy<String> {
    "(http|https|HTTPS)://[a-z0-9][a-z0-9.-]{0,15}(:[0-9]{1,5})?(/[a-zA-Z0-9_./%-]{0,12})?".boxed()
}

/// An OAuth endpoint: a path under the provider host, or an absolute `http(s)` URL.
fn endpoint() -> BoxedStrategy<String> {
    prop_oneof!["/?[a-zA-Z0-9_./%-]{0,16}", http_url()].boxed()
}

fn auth() -> BoxedStrategy<AuthSettings> {
    let oauth2 = (
        select(&[OAuth2Grant::AuthorizationCode, OAuth2Grant::ClientCredentials][..]),
        (text(), secret(), http_url(), endpoint(), endpoint()),
        vec(text(), 0..3),
        any::<bool>(),
    )
        .prop_map(
            |(grant, (client_id, client_secret, provider_host, authorization, token_endpoint), scopes, task_user)| {
                let code = grant == OAuth2Grant::AuthorizationCode;
                AuthSettings::Oauth2(OAuth2Settings {
                    grant,
                    client_id,
                    client_secret,
                    provider_host,
                    authorization_endpoint: code.then_some(authorization),
                    token_endpoint,
                    scopes,
                    authenticate_as: if code && task_user {
                        AuthenticateAs::TaskUser
                    } else {
                        AuthenticateAs::FunctionalUser
                    },
                })
            },
        );
    prop_oneof![
        Just(AuthSettings::None),
        (text(), secret()).prop_map(|(token_type, token)| AuthSettings::Token { token_type, token }),
        (text(), secret()).prop_map(|(username, password)| AuthSettings::Basic { username, password }),
        (select(&[ApiKeyLocation::Header, ApiKeyLocation::Query][..]), text(), secret())
            .prop_map(|(location, name, value)| AuthSettings::ApiKey { location, name, value }),
        oauth2,
        webhook_secret().prop_map(|secret| AuthSettings::StandardWebhooks { secret }),
    ]
    .boxed()
}

fn settings() -> BoxedStrategy<ActionSettings> {
    let webhook = (text(), body_headers(), option::of(payload())).prop_map(|(url, headers, payload)| NotifyWebhook {
        url,
        headers,
        payload,
    });
    (any::<[bool; 6]>(), option::of(webhook))
        .prop_map(|(flags, notify_webhook_on_cancel)| ActionSettings {
            auto_start: flags[0],
            // Auto start and a fixed start time exclude each other.
            fixed_start_time: flags[1] && !flags[0],
            cancelable: flags[2],
            notify_webhook_on_cancel,
            finish_task_on_success: flags[3],
            include_context: flags[4],
            execute_in_rehearsal: flags[5],
        })
        .boxed()
}

fn request() -> BoxedStrategy<RequestSpec> {
    let mode = select(
        &[ExecutionMode::FireAndForget, ExecutionMode::Sync, ExecutionMode::Polling, ExecutionMode::Callback][..],
    );
    (method(), mode)
        .prop_flat_map(|(method, execution_mode)| {
            (text(), body_headers(), body(method), option::of(positive())).prop_map(
                move |(url, headers, (payload, params), timeout_seconds)| RequestSpec {
                    method,
                    url,
                    headers,
                    payload,
                    params,
                    execution_mode,
                    timeout_seconds,
                },
            )
        })
        .boxed()
}

fn polling(fields: Vec<String>) -> BoxedStrategy<PollingSpec> {
    select(&[HttpMethod::Get, HttpMethod::Post][..])
        .prop_flat_map(move |method| {
            (
                (text(), body_headers(), body(method)),
                (positive(), positive(), option::of(positive())),
                (vec(condition(), 0..3), vec(condition(), 0..3), response_map(fields.clone())),
            )
                .prop_map(
                    move |(
                        (url, headers, (payload, params)),
                        (interval_seconds, max_attempts, timeout_seconds),
                        (complete_when, fail_when, map),
                    )| PollingSpec {
                        method,
                        url,
                        headers,
                        payload,
                        params,
                        interval_seconds,
                        max_attempts,
                        timeout_seconds,
                        complete_when,
                        fail_when,
                        map,
                    },
                )
        })
        .boxed()
}

fn response(fields: Vec<String>) -> BoxedStrategy<ResponseSpec> {
    (vec(100..=599u16, 0..3), vec(condition(), 0..3), vec(condition(), 0..3), response_map(fields))
        .prop_map(|(success_statuses, success_when, failure_when, map)| ResponseSpec {
            success_statuses,
            success_when,
            failure_when,
            map,
        })
        .boxed()
}

fn action(name: String, fields: Vec<String>) -> BoxedStrategy<Action> {
    let visibility = prop_oneof![Just(Visibility::Global), name_strategy_workspace()];
    (
        select(&[Trigger::TaskStart, Trigger::RunbookUpdate][..]),
        visibility,
        settings(),
        (auth(), option::of(http_url())),
        option::of(request()),
        option::of(response(fields.clone())),
        polling(fields),
        option::of(positive()),
        vec(host_pattern(), 0..4),
        select(&[RedirectPolicy::SameOrigin, RedirectPolicy::Any, RedirectPolicy::None][..]),
    )
        .prop_map(
            move |(
                trigger,
                visibility,
                settings,
                (auth, image_url),
                request,
                response,
                polling,
                callback,
                allowed_hosts,
                redirects,
            )| {
                // A draft (no request) has no mode, so none of the mode's sections.
                let mode = request.as_ref().map(|request: &RequestSpec| request.execution_mode);
                Action {
                    name: name.clone(),
                    image_url,
                    trigger,
                    visibility,
                    settings,
                    auth,
                    response: response.filter(|_| mode.is_some_and(|mode| mode != ExecutionMode::FireAndForget)),
                    polling: (mode == Some(ExecutionMode::Polling)).then_some(polling),
                    callback: callback
                        .filter(|_| mode == Some(ExecutionMode::Callback))
                        .map(|timeout_seconds| CallbackSpec { timeout_seconds }),
                    request,
                    allowed_hosts,
                    redirects,
                }
            },
        )
        .boxed()
}

/// Host patterns of every form: names, `*.suffix`, IPv4 and IPv6 addresses, with and without a port.
fn host_pattern() -> BoxedStrategy<HostPattern> {
    let label = "[a-zA-Z0-9]([a-zA-Z0-9_-]{0,8}[a-zA-Z0-9])?";
    let name = vec(label, 1..4).prop_map(|labels| labels.join("."));
    let host = prop_oneof![
        name.clone(),
        name.prop_map(|suffix| format!("*.{suffix}")),
        any::<[u8; 4]>().prop_map(|octets| std::net::Ipv4Addr::from(octets).to_string()),
        any::<u128>().prop_map(|bits| format!("[{}]", std::net::Ipv6Addr::from(bits))),
    ];
    (host, option::of(1..=u16::MAX))
        .prop_map(|(host, port)| {
            let text = port.map_or_else(|| host.clone(), |port| format!("{host}:{port}"));
            HostPattern::parse(&text).unwrap_or_else(|message| panic!("{message}"))
        })
        .boxed()
}

fn name_strategy_workspace() -> BoxedStrategy<Visibility> {
    text().prop_map(|workspace| Visibility::Workspace { workspace }).boxed()
}

fn custom_field(name: String, actions: Vec<String>) -> BoxedStrategy<CustomField> {
    let field_type = select(
        &[
            CustomFieldType::Text,
            CustomFieldType::Textarea,
            CustomFieldType::Select,
            CustomFieldType::Radio,
            CustomFieldType::Checkboxes,
            CustomFieldType::Date,
            CustomFieldType::User,
        ][..],
    );
    let count = actions.len();
    let visibility = prop_oneof![Just(Visibility::Global), name_strategy_workspace()];
    (field_type, btree_set(text(), 1..4), any::<[bool; 3]>(), subsequence(actions, 0..=count), visibility)
        .prop_map(move |(field_type, options, flags, restrict_to, visibility)| CustomField {
            name: name.clone(),
            field_type,
            options: if field_type.has_options() { options.into_iter().collect() } else { Vec::new() },
            required: flags[0],
            transient: flags[1],
            applies_to: if flags[2] { AppliesTo::Runbook } else { AppliesTo::Task },
            restrict_to,
            visibility,
        })
        .boxed()
}

fn integration() -> BoxedStrategy<Integration> {
    (btree_set(name(), 0..4), btree_set(name(), 0..4))
        .prop_flat_map(|(field_names, action_names)| {
            let field_names: Vec<String> = field_names.into_iter().collect();
            let action_names: Vec<String> = action_names.into_iter().collect();
            let fields: Vec<_> =
                field_names.iter().map(|name| custom_field(name.clone(), action_names.clone())).collect();
            let actions: Vec<_> = action_names.iter().map(|name| action(name.clone(), field_names.clone())).collect();
            (
                integration_name(),
                select(&[IntegrationKind::Custom, IntegrationKind::Predefined][..]),
                option::of(http_url()),
                any::<bool>(),
                fields,
                actions,
            )
                .prop_map(|(name, integration_kind, image_url, archived, custom_fields, actions)| {
                    Integration { name, integration_kind, image_url, archived, custom_fields, actions }
                })
        })
        .boxed()
}

fn field_value() -> BoxedStrategy<FieldValue> {
    prop_oneof![text().prop_map(FieldValue::Text), vec(text(), 0..3).prop_map(FieldValue::List)].boxed()
}

fn task(id: String, earlier: Vec<String>) -> BoxedStrategy<Task> {
    let count = earlier.len();
    let action = (integration_name(), name()).prop_map(|(integration, action)| ActionRef { integration, action });
    let start = prop_oneof![
        Just((false, None)),
        Just((true, None)),
        select(&["2026-11-22T18:00:00Z", "2026-01-02T03:04:05.678+02:00"][..])
            .prop_map(|time| (false, Some(time.to_owned()))),
    ];
    (
        (name(), option::of(text()), option::of(action)),
        subsequence(earlier, 0..=count),
        btree_map(name(), field_value(), 0..3),
        start,
        (option::of(any::<u64>()), option::of(text())),
    )
        .prop_map(
            move |(
                (name, description, action),
                predecessors,
                custom_fields,
                (auto_start, fixed_start),
                (duration_seconds, assignee),
            )| {
                Task {
                    id: id.clone(),
                    name,
                    description,
                    action,
                    predecessors,
                    custom_fields,
                    auto_start,
                    fixed_start,
                    duration_seconds,
                    assignee,
                }
            },
        )
        .boxed()
}

fn runbook() -> BoxedStrategy<Runbook> {
    btree_set(name(), 0..5)
        .prop_flat_map(|ids| {
            let ids: Vec<String> = ids.into_iter().collect();
            // Predecessors come from earlier tasks only, which keeps the graph acyclic.
            let tasks: Vec<_> =
                ids.iter().enumerate().map(|(index, id)| task(id.clone(), ids[..index].to_vec())).collect();
            (name(), option::of(text()), option::of(text()), btree_map(name(), field_value(), 0..3), tasks).prop_map(
                |(name, workspace, description, custom_fields, tasks)| Runbook {
                    name,
                    workspace,
                    description,
                    custom_fields,
                    tasks,
                },
            )
        })
        .boxed()
}

fn event_integration() -> BoxedStrategy<EventIntegration> {
    let scope = prop_oneof![
        Just(EventScope::All),
        name().prop_map(|workspace| EventScope::Workspace { workspace }),
        name().prop_map(|runbook| EventScope::Runbook { runbook }),
    ];
    (
        name(),
        subsequence(EventType::ALL.to_vec(), 1..=EventType::ALL.len()),
        scope,
        any::<(bool, bool)>(),
        auth(),
        request(),
        vec(host_pattern(), 0..3),
        select(&[RedirectPolicy::SameOrigin, RedirectPolicy::Any, RedirectPolicy::None][..]),
    )
        .prop_map(
            |(name, events, scope, (enabled, execute_in_rehearsal), auth, mut request, allowed_hosts, redirects)| {
                // Deliveries are sent fire-and-forget.
                request.execution_mode = ExecutionMode::FireAndForget;
                EventIntegration {
                    name,
                    events,
                    scope,
                    enabled,
                    execute_in_rehearsal,
                    auth,
                    request,
                    allowed_hosts,
                    redirects,
                }
            },
        )
        .boxed()
}

fn definition() -> BoxedStrategy<Definition> {
    prop_oneof![
        integration().prop_map(Definition::Integration),
        runbook().prop_map(Definition::Runbook),
        event_integration().prop_map(|events| Definition::EventIntegration(Box::new(events))),
    ]
    .boxed()
}

/// Parses `text` with our parser, showing every diagnostic and the text on failure.
fn parse(name: &str, text: &str) -> Result<Definition, TestCaseError> {
    let source = SourceFile::new(name, text);
    assert_eq!(source.format, DefinitionFormat::from_path(name));
    cutover_integrations_model::Validator::new().parse(&source).map(|parsed| parsed.into_definition()).map_err(
        |diagnostics| {
            let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
            TestCaseError::fail(format!("{}\n--- {name}\n{text}", lines.join("\n")))
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn valid_definitions_round_trip_through_yaml_and_json(definition in definition()) {
        let yaml = definition.to_yaml().expect("YAML serialization");
        prop_assert_eq!(&parse("definition.yaml", &yaml)?, &definition, "YAML:\n{}", yaml);
        let json = definition.to_json().expect("JSON serialization");
        prop_assert_eq!(&parse("definition.json", &json)?, &definition, "JSON:\n{}", json);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn the_serde_derives_read_what_they_write(definition in definition()) {
        // Servers may read request bodies with serde; the derives must agree with the definition format.
        let json = definition.to_json().expect("JSON serialization");
        let read: Definition = serde_json::from_str(&json).map_err(|error| TestCaseError::fail(format!("{error}\n{json}")))?;
        prop_assert_eq!(&read, &definition);
    }
}
