//! OAuth 2 flows against mockito providers: authorization code with PKCE, state handling, client credentials,
//! refresh before expiry and after a 401, single-flight refresh, refresh failure and Slack's answers.

mod flows;

use flows::*;

#[tokio::test]
async fn authorization_code_round_trip_with_pkce() {
    flow_authorization_code_round_trip(&mut Transcript::default()).await;
}

#[tokio::test]
async fn state_replay_mismatch_and_expiry_are_rejected() {
    flow_state_replay_and_mismatch(&mut Transcript::default()).await;
}

#[tokio::test]
async fn task_user_tokens_are_bound_to_runbook_task_and_user() {
    flow_task_user_binding(&mut Transcript::default()).await;
}

#[tokio::test]
async fn client_credentials_fetches_once_and_again_before_expiry() {
    flow_client_credentials(&mut Transcript::default()).await;
}

#[tokio::test]
async fn refresh_before_expiry() {
    flow_refresh_before_expiry(&mut Transcript::default()).await;
}

#[tokio::test]
async fn refresh_after_401() {
    flow_refresh_after_unauthorized(&mut Transcript::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_fires_refresh_an_expired_token_once() {
    flow_concurrent_refresh(&mut Transcript::default()).await;
}

#[tokio::test]
async fn refresh_failure_is_surfaced_and_marks_the_credential() {
    flow_refresh_failure(&mut Transcript::default()).await;
}

#[tokio::test]
async fn slack_token_response_shape() {
    flow_slack_response_shape(&mut Transcript::default()).await;
}

#[tokio::test]
async fn static_providers_apply_and_redact() {
    flow_static_providers(&mut Transcript::default()).await;
}
