//! OAuth authorization of actions: which credential an authorization fills (the action's functional user, or a task's
//! user), starting the authorization-code flow, and completing it when the provider redirects back.
//!
//! The flow itself (one-time `state`, PKCE, the code exchange, sealed storage) is the auth crate's
//! [`Authenticator`](cutover_integrations_auth::Authenticator); this file resolves an action's stored `auth` block into
//! the [`OAuth2Config`] it needs, rendering `{{SystemParameter['...']}}` secrets the way fires do.

use crate::engine::Engine;
use crate::error::EngineError;
use crate::render::{AuthResolutionError, resolve_auth};
use cutover_integrations_auth::{
    AuthConfig, AuthError, AuthorizationCallback, AuthorizationRedirect, Authorizer, CredentialKey, OAuth2Config,
    StoredCredential,
};
use cutover_integrations_model::{AuthSettings, AuthenticateAs, OAuth2Grant, Role};
use cutover_integrations_store::{ActionId, ActionRecord, RunbookId, User};
use serde_json::{Map, Value};

/// Where an action's functional-user OAuth token stands, for people (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthStatus {
    /// Nobody has authorized the action yet (or its token was forgotten).
    NotAuthorized,
    /// A token is stored.
    Authorized {
        /// When the token was obtained (by the authorization, or by its last refresh).
        obtained_at: jiff::Timestamp,
        /// When the access token expires, if the provider said.
        expires_at: Option<jiff::Timestamp>,
        /// Who ran the authorization in a browser, and when (unknown for tokens stored before this was recorded).
        authorized: Option<Authorizer>,
    },
    /// The token could not be refreshed: someone must authorize again.
    NeedsReauthentication {
        /// Why.
        reason: String,
        /// Since when.
        since: jiff::Timestamp,
    },
}

/// What an authorization is for: an action, and for actions that authenticate as the task user, the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthTarget {
    /// The action.
    pub action: ActionId,
    /// The runbook and task id, for actions with `authenticate_as: task_user`.
    pub task: Option<(RunbookId, String)>,
}

impl Engine {
    /// The credential an authorization for `target` fills, if `requester` may start it.
    ///
    /// A functional-user action takes no task. A task-user action needs a task of a runbook that uses the action and
    /// has an assignee; the token is stored for that assignee, so only the assignee (or an admin) may authorize it.
    pub async fn oauth_credential(&self, target: &OAuthTarget, requester: &User) -> Result<CredentialKey, EngineError> {
        let record = self.action_record(target.action).await?;
        let config = self.oauth_config(&record).await?;
        if config.grant != OAuth2Grant::AuthorizationCode {
            return Err(AuthError::WrongGrant { expected: "authorization_code", actual: "client_credentials" }.into());
        }
        let action = record.id.to_string();
        match (config.authenticate_as, &target.task) {
            (AuthenticateAs::FunctionalUser, None) => Ok(CredentialKey::FunctionalUser { action }),
            (AuthenticateAs::FunctionalUser, Some(_)) => Err(EngineError::invalid_input(
                "task",
                format!(
                    "action {action} authenticates as its functional user: authorize it without a runbook and task"
                ),
            )),
            (AuthenticateAs::TaskUser, None) => Err(EngineError::invalid_input(
                "task",
                format!("action {action} authenticates as the task user: name the runbook and the task"),
            )),
            (AuthenticateAs::TaskUser, Some((runbook, task))) => {
                let view = self.runbook(*runbook).await?;
                let defined = view
                    .definition
                    .tasks
                    .iter()
                    .find(|defined| defined.id == *task)
                    .ok_or_else(|| EngineError::NotFound { what: "task", id: format!("{runbook}/{task}") })?;
                let uses_action = defined.action.as_ref().is_some_and(|reference| {
                    reference.integration == record.integration_name && reference.action == record.action.name
                });
                if !uses_action {
                    return Err(EngineError::invalid_input(
                        "task",
                        format!("task `{task}` of runbook {runbook} does not use action {action}"),
                    ));
                }
                let user = defined.assignee.clone().ok_or_else(|| AuthError::MissingTaskUser {
                    action: action.clone(),
                    runbook: runbook.to_string(),
                    task: task.clone(),
                })?;
                if user != requester.email && !requester.roles.contains(&Role::Admin) {
                    return Err(EngineError::Forbidden {
                        message: format!(
                            "task `{task}` is assigned to {user}: only they (or an admin) may authorize it"
                        ),
                    });
                }
                Ok(CredentialKey::TaskUser { action, runbook: runbook.to_string(), task: task.clone(), user })
            }
        }
    }

    /// Starts an authorization-code flow for `credential` (from [`Engine::oauth_credential`]): stores a one-time
    /// state with a PKCE verifier and returns the provider URL to send the user to.
    ///
    /// The token the flow brings records `requester` (by email) as the user who authorized it, with the time.
    pub async fn begin_oauth(
        &self,
        credential: CredentialKey,
        requester: &User,
    ) -> Result<AuthorizationRedirect, EngineError> {
        let id = action_id_of(&credential)?;
        let record = self.action_record(id).await?;
        let config = self.oauth_config(&record).await?;
        let requested_by = Some(requester.email.clone());
        Ok(self.inner.authenticator.begin_authorization_by(&config, credential, requested_by).await?)
    }

    /// Completes an authorization when the provider redirects back: redeems the `state` once, exchanges the code
    /// with the action's current settings and stores the token. Returns the credential that now holds a token.
    pub async fn complete_oauth(&self, callback: &AuthorizationCallback) -> Result<CredentialKey, EngineError> {
        let pending = self.inner.authenticator.redeem_state(&callback.state).await?;
        let record = self.action_record(action_id_of(pending.credential())?).await?;
        let config = self.oauth_config(&record).await?;
        Ok(self.inner.authenticator.complete_authorization(pending, &config, callback).await?)
    }

    /// Where the functional-user token of an action stands.
    pub async fn oauth_status(&self, action: ActionId) -> Result<OAuthStatus, EngineError> {
        let key = CredentialKey::FunctionalUser { action: action.to_string() };
        Ok(match self.inner.store.load_credential(&key).await? {
            None => OAuthStatus::NotAuthorized,
            Some(StoredCredential::Active(token)) => OAuthStatus::Authorized {
                obtained_at: token.obtained_at,
                expires_at: token.expires_at,
                authorized: token.authorized,
            },
            Some(StoredCredential::NeedsReauthentication { reason, since }) => {
                OAuthStatus::NeedsReauthentication { reason, since }
            }
        })
    }

    /// One stored action, or [`EngineError::NotFound`].
    pub async fn action_record(&self, id: ActionId) -> Result<ActionRecord, EngineError> {
        self.inner.store.action(id).await?.ok_or_else(|| EngineError::NotFound { what: "action", id: id.to_string() })
    }

    /// The action's OAuth settings with their secrets resolved, as a fire would use them.
    async fn oauth_config(&self, record: &ActionRecord) -> Result<OAuth2Config, EngineError> {
        if !matches!(record.action.auth, AuthSettings::Oauth2(_)) {
            return Err(EngineError::invalid_input(
                "action",
                format!("action {} does not authenticate with `oauth2`", record.id),
            ));
        }
        let parameters = self.inner.store.system_parameters().await?;
        let values: Map<String, Value> = parameters
            .iter()
            .map(|parameter| (parameter.name.clone(), Value::String(parameter.value.expose().to_owned())))
            .collect();
        let values = Value::Object(values);
        let config =
            resolve_auth(&record.action.auth, &values, &self.inner.executor.config().outbound).map_err(|error| {
                match error {
                    AuthResolutionError::Auth(error) => EngineError::from(*error),
                    AuthResolutionError::Refused { reason } => {
                        EngineError::invalid_input("auth.token_endpoint", reason)
                    }
                }
            })?;
        match config {
            AuthConfig::OAuth2(config) => Ok(*config),
            other => Err(EngineError::invalid_input(
                "action",
                format!("action {} uses `{}` auth, not `oauth2`", record.id, other.type_name()),
            )),
        }
    }
}

fn action_id_of(credential: &CredentialKey) -> Result<ActionId, EngineError> {
    credential.action().parse().map(ActionId).map_err(|error| EngineError::Corrupt {
        what: "OAuth credential key",
        reason: format!("`{}` does not name an action id", credential.action()),
        source: Some(Box::new(error)),
    })
}
