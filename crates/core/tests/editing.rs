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
    assert_eq!(patched.expect("patched").action.request.url, "https://slack.com/api/x");
}
