//! The durable event log on SQLite and PostgreSQL: ids only grow and are never reused (not even once retention
//! emptied the log), concurrent appenders never share an id, readers get events in id order, and pruning keeps the
//! bounds true.

use cutover_integrations_auth::{Cipher, Key, KeyId, KeyRing};
use cutover_integrations_store::{EventBounds, RunbookId, Sealer, SqlStore, SqlStoreOptions, Store};
use cutover_integrations_test_support::{fresh_postgres_url, fresh_sqlite_url};
use std::sync::Arc;

async fn stores(test: &str, dir: &std::path::Path) -> Vec<SqlStore> {
    let cipher = || Arc::new(Cipher::new(KeyRing::new(KeyId(1), Key::from_bytes([7u8; 32])))) as Arc<dyn Sealer>;
    let mut urls = vec![fresh_sqlite_url(dir)];
    urls.extend(fresh_postgres_url(test).await);
    let mut stores = Vec::new();
    for url in urls {
        stores.push(SqlStore::connect(SqlStoreOptions::new(&url), cipher()).await.expect("store"));
    }
    stores
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_grow_are_never_reused_and_pruning_keeps_the_bounds() {
    let dir = tempfile::tempdir().expect("temporary directory");
    for store in stores("event_log_ids_grow", dir.path()).await {
        assert_eq!(store.event_bounds().await.expect("bounds"), EventBounds { oldest: None, last: 0 });
        // Eight appenders at once, three events each.
        let mut appenders = Vec::new();
        for writer in 0..8i64 {
            let store = store.clone();
            appenders.push(tokio::spawn(async move {
                let events: Vec<(RunbookId, String)> =
                    (0..3).map(|n| (RunbookId(writer), format!("{{\"writer\":{writer},\"n\":{n}}}"))).collect();
                store.append_events(&events, 100 + writer).await.expect("append")
            }));
        }
        let mut given = Vec::new();
        for appender in appenders {
            let ids = appender.await.expect("appender");
            assert!(ids.windows(2).all(|pair| pair[1] == pair[0] + 1), "one append's ids follow each other: {ids:?}");
            given.extend(ids);
        }
        given.sort_unstable();
        assert_eq!(given, (1..=24).collect::<Vec<i64>>());
        let read = store.events_after(0, None, 100).await.expect("read");
        assert_eq!(read.iter().map(|event| event.id).collect::<Vec<_>>(), given);
        let of_one = store.events_after(0, Some(RunbookId(3)), 100).await.expect("read");
        assert_eq!(of_one.len(), 3);
        assert!(of_one.iter().all(|event| event.runbook == RunbookId(3) && event.body.contains("\"writer\":3")));
        assert_eq!(
            store.events_after(20, None, 2).await.expect("read").iter().map(|e| e.id).collect::<Vec<_>>(),
            [21, 22]
        );

        // Retention: events appended before 104 go; the bounds follow; emptied, the log still never reuses an id.
        let removed = store.prune_events(104).await.expect("prune");
        assert_eq!(removed, 12);
        let bounds = store.event_bounds().await.expect("bounds");
        assert_eq!((bounds.oldest.is_some(), bounds.last), (true, 24));
        store.prune_events(1_000).await.expect("prune all");
        assert_eq!(store.event_bounds().await.expect("bounds"), EventBounds { oldest: None, last: 24 });
        let next = store.append_events(&[(RunbookId(1), "{}".to_owned())], 2_000).await.expect("append");
        assert_eq!(next, [25]);
        assert_eq!(store.append_events(&[], 2_000).await.expect("nothing"), Vec::<i64>::new());
    }
}

/// Events written with a commit are numbered in its transaction: ids follow the commit's order and the log's, a commit
/// that does not land appends nothing and reserves no id, and the batch (SQLite) and step-by-step paths agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_committed_with_a_change_are_numbered_in_its_transaction() {
    use cutover_integrations_store::{Commit, NewEvent, NewRunbook, RebuildCommit, RunbookRecord, RunbookWrite};
    let dir = tempfile::tempdir().expect("temporary directory");
    for store in stores("events_in_commits", dir.path()).await {
        let tasks = vec!["{}".to_owned()];
        let new = NewRunbook { name: "r", definition: "{}", state: "{}", tasks: &tasks, events: &[] };
        let id = store.create_runbook(&new, 1).await.expect("runbook").id;
        let events = |names: &[&str]| -> Vec<NewEvent> {
            names.iter().map(|name| NewEvent { runbook_id: id, body: format!("{{\"e\":\"{name}\"}}") }).collect()
        };
        let write = |version: i64| RunbookWrite { id, expected_version: version, state: "{}".into(), tasks: vec![] };
        assert_eq!(store.append_events(&[(id, "{\"e\":\"created\"}".to_owned())], 1).await.expect("append"), [1]);
        let first = Commit { runbook: Some(write(1)), events: events(&["a", "b", "c"]), now: 2, ..Default::default() };
        let mut never = |_: &RunbookRecord| -> Option<Commit> { panic!("not stale") };
        let committed = store.commit_runbook(first, &mut never).await.expect("commit").expect("written");
        assert_eq!(committed.event_ids, [2, 3, 4]);
        // A stale commit whose rebuild declines writes no event and takes no id.
        let stale = Commit { runbook: Some(write(1)), events: events(&["lost"]), now: 3, ..Default::default() };
        let declined: &mut RebuildCommit<'_> = &mut |_: &RunbookRecord| None;
        assert_eq!(store.commit_runbook(stale, declined).await.expect("commit"), None);
        // A stale commit rebuilt: the rebuilt commit's events are the ones written.
        let stale = Commit { runbook: Some(write(1)), events: events(&["stale"]), now: 4, ..Default::default() };
        let rebuilt: &mut RebuildCommit<'_> = &mut |record: &RunbookRecord| {
            Some(Commit {
                runbook: Some(write(record.version)),
                events: events(&["d", "e"]),
                now: 4,
                ..Default::default()
            })
        };
        let committed = store.commit_runbook(stale, rebuilt).await.expect("commit").expect("written");
        assert_eq!(committed.event_ids, [5, 6]);
        // A commit without a runbook write may carry events too.
        let (_, _) =
            store.commit(Commit { events: events(&["f"]), now: 5, ..Default::default() }).await.expect("commit");
        let read = store.events_after(0, Some(id), 100).await.expect("read");
        let bodies: Vec<&str> = read.iter().map(|event| event.body.as_str()).collect();
        assert_eq!(
            bodies,
            [
                "{\"e\":\"created\"}",
                "{\"e\":\"a\"}",
                "{\"e\":\"b\"}",
                "{\"e\":\"c\"}",
                "{\"e\":\"d\"}",
                "{\"e\":\"e\"}",
                "{\"e\":\"f\"}"
            ]
        );
        assert_eq!(read.iter().map(|event| event.id).collect::<Vec<_>>(), (1..=7).collect::<Vec<i64>>());
        assert_eq!(store.event_bounds().await.expect("bounds").last, 7);
    }
}

/// A runbook's creation and its replacement (planning) append their events in their own transaction: the events are
/// in the log, with the runbook's id, as soon as the write returns; a write that fails (a task state or an event that
/// does not parse, a stale version) leaves neither the runbook nor its change nor any event, and takes no id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runbook_and_its_events_are_written_in_one_transaction() {
    use cutover_integrations_store::{NewRunbook, StoreError};
    let dir = tempfile::tempdir().expect("temporary directory");
    for store in stores("runbook_events_in_one_transaction", dir.path()).await {
        let good = vec!["{\"n\":0}".to_owned()];
        let bad = vec!["not json".to_owned()];
        let created = vec![r#"{"event":"runbook_created","tasks":["a"]}"#.to_owned()];
        let not_an_object = vec!["[1]".to_owned()];
        // (what, task states, events, whether it lands)
        type Creation<'a> = (&'a str, &'a [String], &'a [String], bool);
        let creations: [Creation<'_>; 4] = [
            ("with its creation event", &good, &created, true),
            ("with a task state that does not parse", &bad, &created, false),
            ("with an event that is not an object", &good, &not_an_object, false),
            ("without events", &good, &[], true),
        ];
        let mut runbooks = 0;
        for (what, tasks, events, lands) in creations {
            let before = store.event_bounds().await.expect("bounds").last;
            let new = NewRunbook { name: what, definition: "{}", state: "{}", tasks, events };
            let written = store.create_runbook(&new, 10).await;
            let after = store.event_bounds().await.expect("bounds").last;
            let listed = store.runbooks().await.expect("runbooks");
            if !lands {
                assert!(written.is_err(), "{what}: {written:?}");
                assert_eq!((listed.len(), after), (runbooks, before), "{what}: nothing written, no id taken");
                continue;
            }
            let written = written.expect(what);
            runbooks += 1;
            assert_eq!(listed.len(), runbooks, "{what}");
            assert_eq!(written.version, 1, "{what}");
            let expected: Vec<i64> = (before + 1..=before + events.len() as i64).collect();
            assert_eq!((written.event_ids.clone(), after), (expected, before + events.len() as i64), "{what}");
            let logged = store.events_after(before, Some(written.id), 10).await.expect("read");
            let bodies: Vec<serde_json::Value> =
                logged.iter().map(|event| serde_json::from_str(&event.body).expect("a JSON body")).collect();
            let wanted: Vec<serde_json::Value> = events
                .iter()
                .map(|body| {
                    let mut body: serde_json::Value = serde_json::from_str(body).expect("JSON");
                    body["runbook"] = written.id.0.into();
                    body
                })
                .collect();
            assert_eq!(bodies, wanted, "{what}: the bodies, with the runbook's id");
        }

        // Replacing: the change's events land with it; a stale or failing replacement writes nothing.
        let new = NewRunbook { name: "planned", definition: "{}", state: "{}", tasks: &good, events: &created };
        let id = store.create_runbook(&new, 20).await.expect("runbook").id;
        let added =
            vec![r#"{"event":"task_added","task":"b"}"#.to_owned(), r#"{"event":"task_ready","task":"b"}"#.to_owned()];
        let two = vec!["{\"n\":0}".to_owned(), "{\"n\":1}".to_owned()];
        // (what, expected version, task states, events, the version after)
        type Replacement<'a> = (&'a str, i64, &'a [String], &'a [String], i64);
        let replacements: [Replacement<'_>; 4] = [
            ("a stale replacement", 7, &two, &added, 1),
            ("a replacement whose event is not an object", 1, &two, &not_an_object, 1),
            ("a replacement whose task state does not parse", 1, &bad, &added, 1),
            ("a replacement with its events", 1, &two, &added, 2),
        ];
        for (what, expected_version, tasks, events, version) in replacements {
            let before = store.event_bounds().await.expect("bounds").last;
            let replaced = NewRunbook { name: "planned", definition: "{}", state: "{}", tasks, events };
            let written = store.replace_runbook(id, expected_version, &replaced, 30).await;
            let record = store.runbook(id).await.expect("read").expect("the runbook");
            let after = store.event_bounds().await.expect("bounds").last;
            assert_eq!(record.version, version, "{what}");
            if version == 1 {
                if expected_version != 1 {
                    assert!(matches!(written, Err(StoreError::VersionConflict { .. })), "{what}: {written:?}");
                } else {
                    assert!(written.is_err(), "{what}: {written:?}");
                }
                assert_eq!((record.tasks.len(), after), (1, before), "{what}: nothing written, no id taken");
            } else {
                let written = written.expect(what);
                assert_eq!((written.version, written.event_ids), (2, vec![before + 1, before + 2]), "{what}");
                assert_eq!(record.tasks.len(), 2, "{what}");
                let logged = store.events_after(before, None, 10).await.expect("read");
                let kinds: Vec<(i64, String)> = logged
                    .iter()
                    .map(|event| {
                        let body: serde_json::Value = serde_json::from_str(&event.body).expect("JSON");
                        (
                            body["runbook"].as_i64().unwrap_or_default(),
                            body["event"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect();
                assert_eq!(kinds, [(id.0, "task_added".to_owned()), (id.0, "task_ready".to_owned())], "{what}");
            }
        }
    }
}

/// Event integrations and their deliveries: auth sealed (lists show it redacted), a new one starts at the end of the
/// log, routing moves the cursor once (a second router with the old cursor writes nothing, and a delivery is never
/// created twice), claims give each runbook's first due delivery only and in event order, a record needs the lease,
/// and deleting gives up what is still due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_routed_once_claimed_in_order_per_runbook_and_recorded_under_lease() {
    use cutover_integrations_model::{
        AuthSettings, EventIntegration, EventScope, EventType, ExecutionMode, HttpMethod, RedirectPolicy, RequestSpec,
        SecretValue,
    };
    use cutover_integrations_store::{
        ClaimRequest, DeliveryOutcome, DeliveryStatus, DeliveryUpdate, EventIntegrationId, NewDelivery,
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    for store in stores("event_deliveries", dir.path()).await {
        store.append_events(&[(RunbookId(1), "{}".to_owned()), (RunbookId(1), "{}".to_owned())], 1).await.expect("log");
        let definition = EventIntegration {
            name: "Audit".into(),
            events: vec![EventType::TaskStarted],
            scope: EventScope::All,
            enabled: true,
            execute_in_rehearsal: false,
            auth: AuthSettings::Token { token_type: "Bearer".into(), token: SecretValue::new("s3cret-token") },
            request: RequestSpec {
                method: HttpMethod::Post,
                url: "https://audit.test/hook".into(),
                headers: Default::default(),
                payload: None,
                params: None,
                execution_mode: ExecutionMode::FireAndForget,
                timeout_seconds: None,
            },
            allowed_hosts: Vec::new(),
            redirects: RedirectPolicy::SameOrigin,
        };
        let (record, created) = store.put_event_integration(&definition, 5).await.expect("put");
        assert!(created);
        assert_eq!((record.last_event_id, &record.definition), (2, &definition), "starts at the end, auth opened");
        let listed = store.event_integrations(false).await.expect("list");
        assert!(!format!("{listed:?}").contains("s3cret-token"), "a list shows no secret");
        let (again, created) = store.put_event_integration(&definition, 6).await.expect("put again");
        assert_eq!((again.id, created, again.version), (record.id, false, 2));
        let id = record.id;

        let delivery = |event_id: i64, runbook: i64| NewDelivery {
            event_id,
            part: 0,
            event_type: EventType::TaskStarted,
            runbook_id: RunbookId(runbook),
            task_id: Some("a".into()),
            idempotency_key: format!("key-{event_id}"),
            event: format!("{{\"n\":{event_id}}}"),
            event_at: 7,
        };
        let routed = [delivery(3, 1), delivery(4, 2), delivery(5, 1)];
        assert!(store.route_events(id, 2, 5, &routed, 8).await.expect("route"));
        assert!(!store.route_events(id, 2, 5, &routed, 8).await.expect("route twice"), "the cursor moved on");
        for (limit, expected) in [(2, vec![(5, 1), (4, 2)]), (9, vec![(5, 1), (4, 2), (3, 1)])] {
            let deliveries = store.event_integration_deliveries(id, limit).await.expect("latest deliveries");
            let latest: Vec<(i64, i64)> = deliveries.iter().map(|d| (d.event_id, d.runbook_id.0)).collect();
            assert_eq!(latest, expected, "the latest first, at most {limit}");
        }
        assert!(store.event_integration_deliveries(EventIntegrationId(id.0 + 1), 9).await.expect("none").is_empty());
        assert_eq!(store.event_integration(id, false).await.expect("read").expect("exists").last_event_id, 5);

        let claim =
            |owner: &str, now: i64| ClaimRequest { owner: owner.into(), now, lease_until: now + 100, limit: 10 };
        let first = store.claim_deliveries(&claim("a", 10)).await.expect("claim");
        assert_eq!(first.iter().map(|d| d.event_id).collect::<Vec<_>>(), [3, 4], "one per runbook, in order");
        assert!(store.claim_deliveries(&claim("b", 20)).await.expect("claim").is_empty(), "leased, and 5 waits for 3");
        let done = |event_id: i64, owner: &str| DeliveryUpdate {
            event_id,
            event_integration_id: id,
            part: 0,
            owner: owner.into(),
            status: DeliveryStatus::Done,
            outcome: Some(DeliveryOutcome::Delivered),
            state: None,
            entries: "[{\"note\":1}]".into(),
            due_at: 10,
        };
        assert!(!store.record_delivery(&done(3, "b"), 30).await.expect("record"), "b holds no lease");
        assert!(store.record_delivery(&done(3, "a"), 30).await.expect("record"));
        let next = store.claim_deliveries(&claim("b", 40)).await.expect("claim");
        assert_eq!(next.iter().map(|d| d.event_id).collect::<Vec<_>>(), [5], "3 done: 5 comes next");
        // Leases end: 4 is claimed again by another engine, with its key.
        let taken = store.claim_deliveries(&claim("c", 500)).await.expect("claim");
        assert_eq!(
            taken.iter().map(|d| (d.event_id, d.idempotency_key.as_str())).collect::<Vec<_>>(),
            [(4, "key-4"), (5, "key-5")]
        );

        assert!(store.delete_event_integration(id, 600).await.expect("delete"));
        let log = store.runbook_deliveries(RunbookId(1)).await.expect("deliveries");
        let summary: Vec<_> = log.iter().map(|d| (d.event_id, d.status, d.outcome)).collect();
        assert_eq!(
            summary,
            [
                (3, DeliveryStatus::Done, Some(DeliveryOutcome::Delivered)),
                (5, DeliveryStatus::Done, Some(DeliveryOutcome::Failed))
            ]
        );
        assert_eq!(log[0].entries, "[{\"note\":1}]");
        assert!(store.event_integration(EventIntegrationId(id.0), true).await.expect("read").is_none());
    }
}

/// Replacing an event integration by id is guarded by the version expected: the current one (or none) replaces it
/// and moves the version; a stale one is refused with `Stale` and nothing changed; an id that is not the one of the
/// definition's name is `NotFound`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_integration_is_replaced_only_at_the_version_expected() {
    use cutover_integrations_model::{
        AuthSettings, EventIntegration, EventScope, EventType, ExecutionMode, HttpMethod, RedirectPolicy, RequestSpec,
    };
    use cutover_integrations_store::{EventIntegrationId, StoreError};
    let definition = |name: &str, url: &str| EventIntegration {
        name: name.into(),
        events: vec![EventType::TaskStarted],
        scope: EventScope::All,
        enabled: true,
        execute_in_rehearsal: false,
        auth: AuthSettings::None,
        request: RequestSpec {
            method: HttpMethod::Post,
            url: url.into(),
            headers: Default::default(),
            payload: None,
            params: None,
            execution_mode: ExecutionMode::FireAndForget,
            timeout_seconds: None,
        },
        allowed_hosts: Vec::new(),
        redirects: RedirectPolicy::SameOrigin,
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    for store in stores("event_integration_replaced_if", dir.path()).await {
        let (audit, _) = store.put_event_integration(&definition("Audit", "https://a.test/1"), 1).await.expect("put");
        store.put_event_integration(&definition("Pager", "https://p.test/1"), 1).await.expect("put");
        let id = audit.id;
        // (what, id, name, expected version, the version after, the error)
        type Step<'a> = (&'a str, EventIntegrationId, &'a str, Option<i64>, i64, Option<&'a str>);
        let steps: [Step<'_>; 6] = [
            ("at the version read", id, "Audit", Some(1), 2, None),
            ("stale", id, "Audit", Some(1), 2, Some("stale")),
            ("from the future", id, "Audit", Some(9), 2, Some("stale")),
            ("another's name", id, "Pager", Some(2), 2, Some("not found")),
            ("an unknown id", EventIntegrationId(999), "Audit", None, 2, Some("not found")),
            ("at any version", id, "Audit", None, 3, None),
        ];
        for (n, (what, target, name, expected, version, error)) in steps.into_iter().enumerate() {
            let url = format!("https://a.test/{}", n + 2);
            let replaced = store.replace_event_integration(target, &definition(name, &url), expected, 2).await;
            let stored = store.event_integration(id, true).await.expect("read").expect("Audit");
            assert_eq!(stored.version, version, "{what}");
            match (error, replaced) {
                (None, Ok(record)) => {
                    assert_eq!((record.version, &record.definition.request.url), (version, &url), "{what}");
                    assert_eq!(stored.definition, definition("Audit", &url), "{what}");
                }
                (Some("stale"), Err(StoreError::Stale { what: "event integration", .. })) => {
                    assert_ne!(stored.definition.request.url, url, "{what}: nothing changed");
                }
                (Some("not found"), Err(StoreError::NotFound { what: "event integration", .. })) => {
                    assert_ne!(stored.definition.request.url, url, "{what}: nothing changed");
                }
                (error, replaced) => panic!("{what}: expected {error:?}, got {replaced:?}"),
            }
        }
        let pager = store.event_integrations(false).await.expect("list");
        assert_eq!(pager.iter().map(|record| record.version).collect::<Vec<_>>(), [3, 1], "Pager untouched");
    }
}
