//! `GET /events[?runbook=ID]`: server-sent events of runbook and task changes, named by their kind
//! (`runbook_created`, `task_stage_changed`, `integration_status_changed`, …) with the change as JSON data and its id
//! in the durable event log as the SSE `id:`. A client that reconnects with `Last-Event-ID` gets every event it missed,
//! in order, once, from the log (kept for the engine's retention window, across restarts); one too far behind (its
//! events were removed) or naming an id this server never gave gets a `refetch` event instead, whose id is the latest:
//! it should read the state again and go on from there. Without `Last-Event-ID` the stream starts with the next
//! event. Streams end when the server shuts down.

use super::{query_id, query_params};
use crate::AppState;
use crate::error::ApiError;
use crate::routes::{In, Param, schema};
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use cutover_integrations_core::store::{RunbookId, StoredEvent};
use futures::Stream;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

/// The parameters of `GET /events`.
pub(crate) const PARAMS: &[Param] = &[
    Param {
        name: "runbook",
        location: In::Query,
        required: false,
        description: "Only the events of this runbook",
        schema: schema::<i64>,
    },
    Param {
        name: "Last-Event-ID",
        location: In::Header,
        required: false,
        description: "The `id:` of the last event received: the stream replays every later event once, in order (or \
                      sends one `refetch` event when they are no longer kept)",
        schema: schema::<i64>,
    },
];

/// Events read from the log at once.
const READ_BATCH: u32 = 256;
/// How often the log is read when this process appended nothing (events appended by other engines).
const POLL: Duration = Duration::from_secs(1);

/// Where a stream is: the last id it passed, and what it still has to send.
struct Position {
    after: i64,
    pending: VecDeque<StoredEvent>,
    refetch: Option<Event>,
}

/// The event stream.
pub(crate) async fn stream(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let filter = query_id(&query_params(&uri), "runbook")?.map(RunbookId);
    if let Some(runbook) = filter {
        state.engine.runbook(runbook).await?;
    }
    let last_seen =
        match headers.get("last-event-id").map(|value| value.to_str().unwrap_or_default().trim()) {
            None | Some("") => None,
            Some(text) => Some(text.parse::<i64>().map_err(|_| {
                ApiError::invalid("Last-Event-ID", format!("`{text}` is not an event id of this server"))
            })?),
        };
    let bounds = state.engine.event_bounds().await?;
    let missed_some =
        |seen: i64| seen > bounds.last || (seen < bounds.last && bounds.oldest.is_none_or(|oldest| oldest > seen + 1));
    let position = match last_seen {
        Some(seen) if missed_some(seen) => {
            Position { after: bounds.last, pending: VecDeque::new(), refetch: Some(refetch_event(seen, bounds.last)) }
        }
        Some(seen) => Position { after: seen, pending: VecDeque::new(), refetch: None },
        None => Position { after: bounds.last, pending: VecDeque::new(), refetch: None },
    };
    let changes = state.engine.event_log_changes();
    let shutdown = state.shutdown.clone();
    let engine = state.engine.clone();
    let events =
        futures::stream::unfold((position, changes, shutdown), move |(mut position, mut changes, mut shutdown)| {
            let engine = engine.clone();
            async move {
                loop {
                    if *shutdown.borrow() {
                        return None;
                    }
                    if let Some(event) = position.refetch.take() {
                        return Some((Ok(event), (position, changes, shutdown)));
                    }
                    if let Some(stored) = position.pending.pop_front() {
                        position.after = stored.id;
                        return Some((Ok(sse_event(&stored)), (position, changes, shutdown)));
                    }
                    match engine.events_after(position.after, filter, READ_BATCH).await {
                        Ok(read) if !read.is_empty() => {
                            position.pending.extend(read);
                            continue;
                        }
                        Ok(_) => {}
                        Err(error) => {
                            tracing::warn!(%error, "the event stream could not read the event log");
                            return None;
                        }
                    }
                    tokio::select! {
                        changed = shutdown.changed() => if changed.is_err() { return None },
                        _ = changes.changed() => {}
                        () = tokio::time::sleep(POLL) => {}
                    }
                }
            }
        });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// One logged event: `event: KIND`, `id: ID`, the change as JSON data.
fn sse_event(stored: &StoredEvent) -> Event {
    let kind = serde_json::from_str::<Value>(&stored.body)
        .ok()
        .and_then(|data| data.get("event").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| "change".to_owned());
    Event::default().event(kind).id(stored.id.to_string()).data(&stored.body)
}

/// Tells a client that events it missed are no longer kept: read the state again, and go on from `latest`.
fn refetch_event(seen: i64, latest: i64) -> Event {
    let data = json!({
        "event": "refetch",
        "last_event_id": seen,
        "latest_event_id": latest,
        "message": "events after the given Last-Event-ID are no longer kept (or it was not given here): read the \
                    runbooks again; this stream goes on after the latest event",
    });
    Event::default().event("refetch").id(latest.to_string()).data(data.to_string())
}
