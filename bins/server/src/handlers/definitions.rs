//! `POST /definitions`: apply one definition file (YAML or JSON body).

use crate::AppState;
use crate::access::CurrentUser;
use crate::body::DefinitionBody;
use crate::error::ApiError;
use crate::views::{self, AppliedView};
use axum::Json;
use axum::extract::State;
use cutover_integrations_core::AppliedDefinitions;
use cutover_integrations_core::model::{Definition, Role};

/// Applies a definition file: an integration (created or updated with its actions and custom fields, needs
/// `integrations_admin`) or a runbook (created, needs `runbook_admin`). Answers with what changed.
pub(crate) async fn apply(
    State(state): State<AppState>,
    user: CurrentUser,
    body: DefinitionBody,
) -> Result<Json<AppliedView>, ApiError> {
    // Validation runs off the async workers (see `Engine::check_definition`).
    let parsed = state.engine.check_definition(&body.name, &body.text).await?;
    if matches!(parsed.definition(), Definition::EventIntegration(_)) {
        if !user.holds(Role::Admin) {
            return Err(ApiError::forbidden("an event integration definition needs the admin role"));
        }
        return Ok(Json(views::applied(&state.engine.apply_definitions(&[(&body.name, &body.text)]).await?)));
    }
    let is_integration = matches!(parsed.definition(), Definition::Integration(_));
    match is_integration {
        true => {
            if !user.holds(Role::IntegrationsAdmin) {
                return Err(ApiError::forbidden("an integration definition needs the integrations_admin role"));
            }
            Ok(Json(views::applied(&state.engine.apply_definitions(&[(&body.name, &body.text)]).await?)))
        }
        false => {
            if !user.holds(Role::RunbookAdmin) {
                return Err(ApiError::forbidden("a runbook definition needs the runbook_admin role"));
            }
            let id = state.engine.create_runbook_from_file(&body.name, &body.text).await?;
            let applied =
                AppliedDefinitions { integrations: Vec::new(), runbooks: vec![id], event_integrations: Vec::new() };
            Ok(Json(views::applied(&applied)))
        }
    }
}
