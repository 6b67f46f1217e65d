//! `Event Integrations`: the webhooks sent on runbook and task events, read-only (they are written as definition
//! files or through the REST API), each with what it last sent. Everyone who may read may see it, as with
//! `GET /api/v1/event-integrations`; secrets are never shown (the page shows no auth at all).

use super::layout::{self, SettingsPage};
use crate::Console;
use crate::error::ConsoleError;
use crate::guard::Signed;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use cutover_integrations_core::DeliveryView;
use cutover_integrations_core::access::READ;
use cutover_integrations_core::http::LogEntry;
use cutover_integrations_core::model::{EventIntegration, EventScope};
use cutover_integrations_core::store::{DeliveryOutcome, DeliveryStatus, EventIntegrationRecord};
use maud::{Markup, html};

/// How many of an event integration's latest deliveries the page shows.
const LATEST: u32 = 5;

/// Where events come from, in words.
fn scope(definition: &EventIntegration) -> String {
    match &definition.scope {
        EventScope::All => "Every runbook".to_owned(),
        EventScope::Workspace { workspace } => format!("Runbooks of the workspace {workspace}"),
        EventScope::Runbook { runbook } => format!("Runbooks named {runbook}"),
    }
}

fn yes_no(value: bool) -> &'static str {
    if value { "Yes" } else { "No" }
}

/// A delivery's result, in words.
fn result(delivery: &DeliveryView) -> &'static str {
    match (delivery.status, delivery.outcome) {
        (DeliveryStatus::Done, Some(DeliveryOutcome::Delivered)) => "Delivered",
        (DeliveryStatus::Done, _) => "Failed",
        (DeliveryStatus::Due, _) if attempts(delivery) > 0 => "Retrying",
        (DeliveryStatus::Due, _) => "Waiting",
    }
}

fn attempts(delivery: &DeliveryView) -> usize {
    delivery.entries.iter().filter(|entry| matches!(entry, LogEntry::Attempt(_))).count()
}

fn list_page(signed: &Signed, integrations: &[(EventIntegrationRecord, Vec<DeliveryView>)]) -> Markup {
    let content = html! {
        div class="heading" { h1 { "Event Integrations" } }
        p class="hint" {
            "Webhooks sent when runbooks and tasks change. Write them as definition files ("
            code { "kind: event_integration" } ") or through the REST API; this page shows them and what each last sent."
        }
        @if integrations.is_empty() {
            p class="empty" { "No event integrations yet." }
        }
        @for (record, deliveries) in integrations {
            @let definition = &record.definition;
            @let heading = format!("event-integration-{}", record.id);
            section class="panel" aria-labelledby=(heading) {
                h2 id=(heading) {
                    (definition.name)
                    @if !definition.enabled { " " span class="badge" { "Disabled" } }
                }
                dl class="facts" {
                    dt { "Event types" }
                    dd { (definition.events.iter().map(|kind| kind.as_str()).collect::<Vec<_>>().join(", ")) }
                    dt { "Scope" }
                    dd { (scope(definition)) }
                    dt { "Enabled" }
                    dd { (yes_no(definition.enabled)) }
                    dt { "In rehearsals" }
                    dd { (yes_no(definition.execute_in_rehearsal)) }
                }
                @if deliveries.is_empty() {
                    p class="hint" { "Nothing sent yet." }
                } @else {
                    table {
                        caption { "Last deliveries of " (definition.name) }
                        thead {
                            tr {
                                th scope="col" { "Event" }
                                th scope="col" { "Type" }
                                th scope="col" { "Runbook" }
                                th scope="col" { "Task" }
                                th scope="col" { "Result" }
                                th scope="col" { "Attempts" }
                            }
                        }
                        tbody {
                            @for delivery in deliveries {
                                tr {
                                    td {
                                        (delivery.event_id) br;
                                        span class="meta" { (delivery.event_at.strftime("%Y-%m-%d %H:%M:%S UTC")) }
                                    }
                                    td { code { (delivery.event_type.as_str()) } }
                                    td {
                                        a href=(format!("/runbooks/{}", delivery.runbook)) {
                                            @match &delivery.runbook_name {
                                                Some(name) => (name),
                                                None => { "Runbook " (delivery.runbook) },
                                            }
                                        }
                                    }
                                    td { (delivery.task.as_deref().unwrap_or("—")) }
                                    td { (result(delivery)) }
                                    td { (attempts(delivery)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout::settings("Event Integrations", signed, SettingsPage::EventIntegrations, content)
}

/// `GET /settings/event-integrations`.
pub(crate) async fn list(State(console): State<Console>, signed: Signed) -> Result<Response, ConsoleError> {
    signed.require(READ, "reading event integrations")?;
    let mut integrations = Vec::new();
    for record in console.engine.event_integrations().await? {
        let deliveries = console.engine.event_integration_deliveries(record.id, LATEST).await?;
        integrations.push((record, deliveries));
    }
    Ok(layout::respond(StatusCode::OK, list_page(&signed, &integrations)))
}
