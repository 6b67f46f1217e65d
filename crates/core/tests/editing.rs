//! Editing one piece at a time: an action added to an integration may read the custom fields created on their own
//! (as the REST API and the console create them), and still no undeclared one.

use cutover_integrations_core::{Engine, EngineError, OAuthStatus};
use serde_json::json;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

#[tokio::test]
async fn actions_may_read_custom_fields_created_on_their_own() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", directory.path().join("editing.db").display());
    let engine = Engine::builder().database_url(url).secret_key_base64(KEY).build().await.expect("engine");
    let document = r#"{"kind":"integration","name":"Slack","actions":[]}"#;
    let applied = engine.apply_definitions(&[("slack.json", document)]).await.expect("integration");
    let integration = applied.integrations[0].integration_id;
    let action = |field: &str| {
        json!({
            "name": "Post",
            "request": {"method": "POST", "url": "https://slack.com/api/chat.postMessage",
                "payload": format!("{{\"text\":\"{{{{CustomField['{field}']}}}}\"}}")},
        })
    };
    let before = engine.add_action(integration, &action("Slack Message")).await;
    let Err(EngineError::InvalidInput { problems }) = before else { panic!("refused: {before:?}") };
    assert_eq!(problems[0].path, "request.payload");
    engine.create_custom_field(&json!({"name": "Slack Message", "type": "textarea"})).await.expect("field");
    let undeclared = engine.add_action(integration, &action("Other")).await;
    assert!(matches!(undeclared, Err(EngineError::InvalidInput { .. })), "{undeclared:?}");
    let added = engine.add_action(integration, &action("Slack Message")).await.expect("added");
    assert_eq!(added.action.name, "Post");
    assert_eq!(engine.oauth_status(added.id).await.expect("status"), OAuthStatus::NotAuthorized);
    let patched = engine.patch_action(added.id, &json!({"request": {"url": "https://slack.com/api/x"}})).await;
    assert_eq!(patched.expect("patched").action.request.expect("a request").url, "https://slack.com/api/x");
}

/// The guide's order: an action saved from its general settings alone is a draft; its custom fields are created
/// restricted to it; no task may name it (a file, a task added in planning) until its request is filled in.
#[tokio::test]
async fn a_draft_action_takes_fields_but_no_task_until_its_request_is_complete() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", directory.path().join("drafts.db").display());
    let engine = Engine::builder().database_url(url).secret_key_base64(KEY).build().await.expect("engine");
    let document = r#"{"kind":"integration","name":"Slack","actions":[]}"#;
    let applied = engine.apply_definitions(&[("slack.json", document)]).await.expect("integration");
    let integration = applied.integrations[0].integration_id;
    let draft = engine
        .add_action(integration, &json!({"name": "Post", "settings": {"cancelable": true}}))
        .await
        .expect("a draft is saved");
    assert!(draft.action.is_draft());
    let field = json!({"name": "Slack Channel", "type": "text", "restrict_to": ["Post"], "transient": true});
    engine.create_custom_field(&field).await.expect("a field restricted to the draft");

    let file = "kind: runbook\nname: R\ntasks:\n  - {id: a, name: A, action: Slack/Post}\n";
    let refused = engine.create_runbook_from_file("r.yaml", file).await;
    let Err(EngineError::Invalid { diagnostics }) = refused else { panic!("refused: {refused:?}") };
    assert_eq!(
        diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["r.yaml:4:30: tasks[0].action: `Slack/Post` is a draft: it has no request yet, so no task can use it"]
    );
    let runbook = engine
        .create_runbook_from_file("r.yaml", "kind: runbook\nname: R\ntasks:\n  - {id: m, name: Manual}\n")
        .await
        .expect("a runbook");
    let task = json!({"name": "Notify", "action": "Slack/Post"});
    let refused = engine.add_task(runbook, &task).await;
    let Err(EngineError::InvalidInput { problems }) = refused else { panic!("refused: {refused:?}") };
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path, "action");
    assert_eq!(problems[0].message, "`Slack/Post` is a draft: it has no request yet, so no task can use it");

    let request = json!({"request": {"method": "POST", "url": "https://slack.com/api/chat.postMessage",
        "payload": "{\"channel\": \"{{CustomField['Slack Channel']}}\"}"}});
    let complete = engine.patch_action(draft.id, &request).await.expect("the request filled in");
    assert!(!complete.action.is_draft());
    let view = engine.add_task(runbook, &task).await.expect("a task may use it now");
    assert_eq!(view.definition.tasks.len(), 2);
}

/// A connection is renamed like any setting, checked like a file's name, and refused while a runbook names it.
#[tokio::test]
async fn a_connection_is_renamed_while_no_runbook_uses_it() {
    use cutover_integrations_core::IntegrationEdit;
    let directory = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", directory.path().join("rename.db").display());
    let engine = Engine::builder().database_url(url).secret_key_base64(KEY).build().await.expect("engine");
    let documents = [
        (
            "a.json",
            r#"{"kind":"integration","name":"Slack","actions":[{"name":"Post","request":{"method":"POST","url":"https://x.test"}}]}"#,
        ),
        ("b.json", r#"{"kind":"integration","name":"Jira","actions":[]}"#),
    ];
    let applied = engine.apply_definitions(&documents).await.expect("integrations");
    let slack = applied.integrations[0].integration_id;
    let rename = |name: &str| IntegrationEdit { name: Some(name.to_owned()), ..IntegrationEdit::default() };
    let problems = |result: Result<_, EngineError>| match result {
        Err(EngineError::InvalidInput { problems }) => problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
        other => vec![format!("{other:?}")],
    };
    assert_eq!(
        problems(engine.edit_integration(slack, &rename("Sl/ack")).await),
        ["name: an integration name may not contain `/`, which separates `INTEGRATION/ACTION`"]
    );
    assert!(matches!(
        engine.edit_integration(slack, &rename("Jira")).await,
        Err(EngineError::Store(cutover_integrations_core::store::StoreError::Duplicate { .. }))
    ));
    let renamed = engine.edit_integration(slack, &rename(" Slack Chat ")).await.expect("renamed");
    assert_eq!(renamed.integration.name, "Slack Chat");
    assert_eq!(renamed.integration.actions[0].name, "Post", "its actions stay");
    let found = engine.integration(slack).await.expect("read back");
    assert_eq!(found.integration.name, "Slack Chat");

    let runbook = "kind: runbook\nname: Release\ntasks:\n  - {id: a, name: A, action: Slack Chat/Post}\n";
    let id = engine.create_runbook_from_file("r.yaml", runbook).await.expect("a runbook using it");
    assert_eq!(
        problems(engine.edit_integration(slack, &rename("Slack")).await),
        [format!(
            "name: runbooks name `Slack Chat/…` in their tasks: `Release` ({id}); a renamed integration would leave \
             them pointing at nothing"
        )]
    );
    assert_eq!(engine.integration(slack).await.expect("read").integration.name, "Slack Chat", "nothing changed");
}

/// An action that a runbook's task names keeps its name and its request: a rename would leave the task pointing at
/// nothing and a removed request would make it a draft no task can run. Other edits go through, and once no runbook
/// names it, so do these.
#[tokio::test]
async fn an_action_in_use_is_neither_renamed_nor_made_a_draft() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", directory.path().join("in-use.db").display());
    let engine = Engine::builder().database_url(url).secret_key_base64(KEY).build().await.expect("engine");
    let document = r#"{"kind":"integration","name":"Slack","actions":[
        {"name":"Post","request":{"method":"POST","url":"https://slack.test/post"}},
        {"name":"Unused","request":{"method":"POST","url":"https://slack.test/unused"}}]}"#;
    let applied = engine.apply_definitions(&[("slack.json", document)]).await.expect("integration");
    let integration = engine.integration(applied.integrations[0].integration_id).await.expect("integration");
    let (post, unused) = (integration.action_ids[0], integration.action_ids[1]);
    let runbook = "kind: runbook\nname: Release\ntasks:\n  - {id: a, name: A, action: Slack/Post}\n";
    let id = engine.create_runbook_from_file("r.yaml", runbook).await.expect("a runbook using Slack/Post");

    let problems = |result: Result<_, EngineError>| match result {
        Err(EngineError::InvalidInput { problems }) => problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
        other => vec![format!("{other:?}")],
    };
    let cases = [
        (
            json!({"name": "Post Message"}),
            format!(
                "name: runbooks name `Slack/Post` in their tasks: `Release` ({id}); a renamed action would leave them \
                 pointing at nothing"
            ),
        ),
        (
            json!({"request": null}),
            format!(
                "request: runbooks name `Slack/Post` in their tasks: `Release` ({id}); an action without a request is \
                 a draft, which no task can run"
            ),
        ),
    ];
    for (patch, expected) in cases {
        assert_eq!(problems(engine.patch_action(post, &patch).await), [expected], "{patch}");
        let stored = engine.action_record(post).await.expect("read back").action;
        assert_eq!((stored.name.as_str(), stored.is_draft()), ("Post", false), "nothing changed by {patch}");
    }
    let moved = engine.patch_action(post, &json!({"request": {"url": "https://slack.test/v2"}})).await;
    assert_eq!(moved.expect("other edits go through").action.request.expect("request").url, "https://slack.test/v2");
    let renamed = engine.patch_action(unused, &json!({"name": "Renamed", "request": null})).await;
    let renamed = renamed.expect("an action no task names may be renamed and made a draft");
    assert_eq!((renamed.action.name.as_str(), renamed.action.is_draft()), ("Renamed", true));
}
