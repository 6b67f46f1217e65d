//! `GET /events[?runbook=ID]`: server-sent events of runbook and task changes, named by their kind
//! (`task_stage_changed`, `integration_status_changed`, …) with the change as JSON data. A listener that falls behind
//! gets a `lagged` event with the number of changes it missed. Streams end when the server shuts down.

use super::{query_id, query_params};
use crate::AppState;
use crate::error::ApiError;
use axum::extract::State;
use axum::http::Uri;
use axum::response::sse::{Event, KeepAlive, Sse};
use cutover_integrations_core::EngineEvent;
use cutover_integrations_core::store::RunbookId;
use futures::Stream;
use std::convert::Infallible;
use tokio::sync::broadcast::error::RecvError;

/// The event stream.
pub(crate) async fn stream(
    State(state): State<AppState>,
    uri: Uri,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let filter = query_id(&query_params(&uri), "runbook")?.map(RunbookId);
    if let Some(runbook) = filter {
        state.engine.runbook(runbook).await?;
    }
    let receiver = state.engine.subscribe();
    let shutdown = state.shutdown.clone();
    let events = futures::stream::unfold((receiver, shutdown), move |(mut receiver, mut shutdown)| async move {
        loop {
            if *shutdown.borrow() {
                return None;
            }
            let received = tokio::select! {
                changed = shutdown.changed() => match changed {
                    Ok(()) => continue,
                    Err(_) => return None,
                },
                received = receiver.recv() => received,
            };
            match received {
                Ok(event) if filter.is_none_or(|runbook| runbook == event.runbook) => {
                    return Some((Ok(sse_event(&event)), (receiver, shutdown)));
                }
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    let event = Event::default().event("lagged").data(missed.to_string());
                    return Some((Ok(event), (receiver, shutdown)));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

fn sse_event(event: &EngineEvent) -> Event {
    let data = serde_json::to_value(event).unwrap_or_default();
    let kind = data.get("event").and_then(|kind| kind.as_str()).unwrap_or("change").to_owned();
    Event::default().event(kind).data(data.to_string())
}
