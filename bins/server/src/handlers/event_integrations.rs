//! Event integrations: `GET/POST /event-integrations`, `GET/PUT/DELETE /event-integrations/{id}` (admin writes;
//! secrets always masked), and a runbook's deliveries, `GET /runbooks/{id}/event-deliveries`.

use super::parse_id;
use crate::AppState;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::paging::{self, ListQuery};
use crate::preconditions::{IfMatch, tagged};
use crate::views::{self, Page};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use cutover_integrations_core::store::{EventIntegrationId, RunbookId};
use serde_json::Value;

fn event_integration_id(text: &str) -> Result<EventIntegrationId, ApiError> {
    parse_id(text, "event_integration").map(EventIntegrationId)
}

/// A page of event integrations, in name order, secrets masked.
pub(crate) async fn list(
    State(state): State<AppState>,
    uri: Uri,
) -> Result<Json<Page<views::EventIntegrationView>>, ApiError> {
    let query = ListQuery::parse(&uri, "event-integrations", paging::LIST)?;
    let records = state.engine.event_integrations().await?;
    query.page_of(records, |record| record.definition.name.clone(), views::event_integration)
}

/// Creates an event integration (or updates the one of that name): 201 when created, 200 when updated.
pub(crate) async fn create(
    State(state): State<AppState>,
    JsonBody(document): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let (record, created) = state.engine.put_event_integration_json(&document).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(tagged(&HeaderMap::new(), status, record.version, views::event_integration(&record)))
}

/// One event integration, with its `ETag`.
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let record = state.engine.event_integration(event_integration_id(&id)?).await?;
    Ok(tagged(&headers, StatusCode::OK, record.version, views::event_integration(&record)))
}

/// Replaces an event integration's definition (if it is still at the `If-Match` version); its `name` must stay the
/// same (names are how files find it).
pub(crate) async fn replace(
    State(state): State<AppState>,
    Path(id): Path<String>,
    IfMatch(expected): IfMatch,
    JsonBody(document): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let record =
        state.engine.replace_event_integration_json_if(event_integration_id(&id)?, &document, expected).await?;
    Ok(tagged(&HeaderMap::new(), StatusCode::OK, record.version, views::event_integration(&record)))
}

/// Deletes an event integration; what it still had to send is given up, its deliveries' log stays.
pub(crate) async fn delete(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    state.engine.delete_event_integration(event_integration_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The deliveries of a runbook's events, in event order, with their attempts.
pub(crate) async fn deliveries(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<views::DeliveriesView>, ApiError> {
    let id = RunbookId(parse_id(&id, "runbook")?);
    let deliveries = state.engine.runbook_event_deliveries(id).await?;
    Ok(Json(views::deliveries(id.0, &deliveries)))
}
