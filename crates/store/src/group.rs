//! Group commit: commits that arrive while another is being written wait in one queue, and the next writer takes
//! them all and writes them in one transaction, so that the cost of a transaction (on SQLite a round trip to the
//! writing connection's thread and a WAL append, on PostgreSQL a commit's flush) is shared by every runbook whose
//! change was ready, and fires per second grow with concurrent work instead of waiting on one commit per runbook.
//!
//! - Who writes: each caller queues its commit, then waits either for its answer or to become the writer (on SQLite,
//!   holding the writing connection; on PostgreSQL, this store's group lock). The writer takes everything queued (up
//!   to [`MAX_GROUP`]) and answers every commit it took. A commit found alone is written by its own caller; a group
//!   is written by a spawned task, so that a caller that stops waiting never leaves the others without an answer.
//! - Order: commits are written in the order they were queued (on PostgreSQL, ordered by runbook, which keeps each
//!   runbook's order and locks runbooks in one order everywhere), and the engine has at most one commit of a runbook
//!   in flight, so the changes of a runbook land in the order they were made.
//! - Failure: a group's transaction either lands whole or not at all. When one of its commits fails a guard (a stale
//!   runbook version, a fire lease) nothing of the group lands; on SQLite every commit is then written alone, so that
//!   the others land and the failing one gets its own outcome; on PostgreSQL each caller writes its commit again on
//!   its own, as it would without grouping. `None` from [`SqlStore::commit_grouped`] means exactly that: not written,
//!   write it step by step (which says precisely what failed).
//! - Lock order on PostgreSQL: runbook rows in runbook order, then the event sequence row, in a group as in a commit
//!   written alone (a group writes every commit's changes before any commit's events), so no two transactions wait
//!   for each other. A commit written alone that PostgreSQL still rolls back to break a deadlock or a serialization
//!   conflict is written again (a few times) rather than failed.

use crate::commit::{Plan, Steps, write_sqlite_batch};
use crate::error::StoreError;
use crate::records::{Commit, Committed};
use crate::sql::{Backend, SqlStore};
use crate::writer::{SqliteWriter, Writer};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::oneshot::{self, error::TryRecvError};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// At most this many commits go into one transaction (a SQLite batch takes a bounded number of parameters).
pub(crate) const MAX_GROUP: usize = 64;

/// What a queued commit learns: written (`Some`), not written and to be written alone (`None`), or an error.
type Answer = Result<Option<Committed>, StoreError>;

/// A commit waiting to be written, with its plan (built by its caller) and where its answer goes.
struct Queued {
    commit: Arc<Commit>,
    plan: Plan,
    reply: oneshot::Sender<Answer>,
}

/// The commits waiting to be written.
#[derive(Default)]
pub(crate) struct CommitGroup {
    queue: Mutex<Vec<Queued>>,
    /// PostgreSQL: held while a group is written (on SQLite the writing connection's lock plays this part).
    postgres_writer: Arc<AsyncMutex<()>>,
    /// How many transactions landed more than one commit (for tests and diagnostics).
    groups_written: std::sync::atomic::AtomicU64,
}

impl CommitGroup {
    fn push(&self, queued: Queued) {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner).push(queued);
    }

    fn take(&self) -> Vec<Queued> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let take = queue.len().min(MAX_GROUP);
        queue.drain(..take).collect()
    }
}

/// The right to write a group.
enum Leader {
    Sqlite(OwnedMutexGuard<SqliteWriter>),
    Postgres(OwnedMutexGuard<()>),
}

fn abandoned() -> StoreError {
    StoreError::Corrupt { what: "commit", reason: "the group commit carrying it was abandoned".to_owned() }
}

impl SqlStore {
    /// Writes `commit` in one transaction together with whatever other commits are waiting (see the module
    /// documentation). `None`: not written; the caller writes it alone, step by step.
    pub(crate) async fn commit_grouped(&self, commit: &Arc<Commit>) -> Answer {
        if self.backend() == Backend::Postgres && commit.runbook.is_none() {
            // Lone fire writes lock fire rows outside any runbook order: written alone, they cannot deadlock a group.
            return Ok(None);
        }
        let plan = Plan::of(commit)?;
        if plan.is_empty() {
            return Ok(Some(Committed::default()));
        }
        let (reply, mut answer) = oneshot::channel();
        self.group.push(Queued { commit: commit.clone(), plan, reply });
        loop {
            tokio::select! {
                biased;
                answered = &mut answer => return answered.unwrap_or_else(|_| Err(abandoned())),
                leader = self.lead() => {
                    let leader = leader?;
                    // Written by the writer before, which answered before letting go.
                    match answer.try_recv() {
                        Ok(answered) => return answered,
                        Err(TryRecvError::Closed) => return Err(abandoned()),
                        Err(TryRecvError::Empty) => {}
                    }
                    let group = self.group.take();
                    if group.len() <= 1 {
                        // This caller's own commit alone.
                        self.write_group(leader, group).await;
                    } else {
                        let store = self.clone();
                        tokio::spawn(async move { store.write_group(leader, group).await });
                    }
                }
            }
        }
    }

    /// How many transactions so far landed more than one commit.
    pub fn group_commits(&self) -> u64 {
        self.group.groups_written.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn lead(&self) -> Result<Leader, StoreError> {
        match &self.writer {
            Writer::Sqlite(writer) => {
                let mut writer = writer.clone().lock_owned().await;
                writer.settle().await?;
                Ok(Leader::Sqlite(writer))
            }
            Writer::Pool(_) => Ok(Leader::Postgres(self.group.postgres_writer.clone().lock_owned().await)),
        }
    }

    /// Writes a group and answers each of its commits.
    async fn write_group(&self, leader: Leader, mut group: Vec<Queued>) {
        if group.is_empty() {
            return;
        }
        match leader {
            Leader::Sqlite(mut writer) => {
                let plans: Vec<(&Commit, &Plan)> = group.iter().map(|queued| (&*queued.commit, &queued.plan)).collect();
                match write_sqlite_batch(&mut writer, &plans).await {
                    Ok(Some(results)) => {
                        self.count_group(group.len());
                        for (queued, result) in group.into_iter().zip(results) {
                            let _ = queued.reply.send(result.map(Some));
                        }
                    }
                    Ok(None) if group.len() > 1 => {
                        // One of them failed: each alone, so that the others land.
                        for queued in group {
                            let answer = match write_sqlite_batch(&mut writer, &[(&*queued.commit, &queued.plan)]).await
                            {
                                Ok(Some(mut results)) => results.pop().unwrap_or_else(|| Err(abandoned())).map(Some),
                                Ok(None) => Ok(None),
                                Err(error) => Err(error),
                            };
                            let _ = queued.reply.send(answer);
                        }
                    }
                    Ok(None) => answer_all(group, || Ok(None)),
                    Err(error) => {
                        let reason = error.to_string();
                        answer_all(group, || Err(StoreError::Corrupt { what: "commit", reason: reason.clone() }));
                    }
                }
            }
            Leader::Postgres(_writing) => {
                // Runbook order: each runbook's commits keep their order, and every group locks runbooks in the same
                // order, so two engines' groups cannot deadlock each other.
                group.sort_by_key(|queued| queued.commit.runbook.as_ref().map(|write| write.id.0));
                let written = self.write_postgres_group(&group).await;
                match written {
                    Ok(Some(results)) => {
                        self.count_group(group.len());
                        for (queued, committed) in group.into_iter().zip(results) {
                            let _ = queued.reply.send(Ok(Some(committed)));
                        }
                    }
                    // Rolled back: each caller writes its own commit again.
                    Ok(None) => answer_all(group, || Ok(None)),
                    Err(error) => {
                        let reason = error.to_string();
                        answer_all(group, || {
                            Err(StoreError::Database {
                                operation: "committing a group of commits",
                                source: sqlx::Error::Protocol(reason.clone()),
                            })
                        });
                    }
                }
            }
        }
    }

    fn count_group(&self, commits: usize) {
        if commits > 1 {
            self.group.groups_written.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Every commit of a group step by step in one PostgreSQL transaction. `None` if one of them failed (rolled
    /// back); an error only if the final `COMMIT` failed.
    async fn write_postgres_group(&self, group: &[Queued]) -> Result<Option<Vec<Committed>>, StoreError> {
        let Ok(mut tx) = self.begin().await else { return Ok(None) };
        let mut rows: Vec<Vec<_>> = group.iter().map(|_| Vec::new()).collect();
        // Every commit's changes (runbook rows locked in runbook order), then every commit's events (the sequence row
        // last, as in a commit written alone), so that no two transactions lock them in opposite orders.
        for which in [Steps::Changes, Steps::Events] {
            for (queued, rows) in group.iter().zip(&mut rows) {
                if self.write_steps(&mut tx, &queued.commit, &queued.plan, which, rows).await.is_err() {
                    let _ = tx.rollback().await;
                    return Ok(None);
                }
            }
        }
        let results = group
            .iter()
            .zip(&rows)
            .map(|(queued, rows)| Plan::committed(&queued.commit, rows))
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit().await.map_err(StoreError::db("committing a group of commits"))?;
        Ok(Some(results))
    }
}

fn answer_all(group: Vec<Queued>, answer: impl Fn() -> Answer) {
    for queued in group {
        let _ = queued.reply.send(answer());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::*;
    use crate::{SqlStoreOptions, Store};
    use cutover_integrations_auth::{Cipher, Key, KeyId, KeyRing};

    async fn store(url: &str) -> SqlStore {
        let cipher = Arc::new(Cipher::new(KeyRing::new(KeyId(1), Key::from_bytes([5u8; 32]))));
        SqlStore::connect(SqlStoreOptions::new(url), cipher).await.expect("store")
    }

    /// A commit of runbook `id` at `version`: its task 1, a new fire and a timer.
    fn commit(id: RunbookId, version: i64, key: &str) -> Commit {
        Commit {
            runbook: Some(RunbookWrite {
                id,
                expected_version: version,
                state: format!("{{\"v\":{}}}", version + 1),
                tasks: vec![TaskRow { position: 1, state: format!("{{\"by\":\"{key}\"}}") }],
            }),
            new_fires: vec![NewFire {
                task_id: "t1".into(),
                runbook_id: None,
                kind: FireKind::Action(
                    cutover_integrations_runbook::FireNumber::new(version as u32).expect("versions from 1"),
                ),
                idempotency_key: key.to_owned(),
                status: FireStatus::Due,
                state: "{}".into(),
                due_at: 0,
                lease: None,
                callback_token_hash: None,
            }],
            new_timers: vec![NewTimer { runbook_id: id, task_id: None, kind: "fixed_start".into(), due_at: version }],
            now: 1,
            ..Default::default()
        }
    }

    /// Commits of several runbooks queued while the writing side is busy land in one transaction, each answered with
    /// its own fire and timer ids; a stale one among them fails alone and the others land.
    async fn check(store: SqlStore) {
        let tasks = vec!["{}".to_owned(), "{}".to_owned()];
        let mut ids = Vec::new();
        for n in 0..8 {
            let name = format!("r{n}");
            let new = NewRunbook { name: &name, definition: "{}", state: "{}", tasks: &tasks, events: &[] };
            ids.push(store.create_runbook(&new, 1).await.expect("runbook").id);
        }
        for (round, stale) in [(1, true), (2, false)] {
            let held = store.lead().await.expect("the writing side");
            let mut writes = tokio::task::JoinSet::new();
            let mut queued = ids.len();
            for (n, &id) in ids.iter().enumerate() {
                let (store, key) = (store.clone(), format!("r{n}-v{round}"));
                writes.spawn(async move { (id, key.clone(), store.commit(commit(id, round, &key)).await) });
            }
            if stale {
                let store = store.clone();
                let id = ids[0];
                writes.spawn(async move { (id, "stale".into(), store.commit(commit(id, 7, "stale")).await) });
                queued += 1;
            }
            while store.group.queue.lock().unwrap_or_else(PoisonError::into_inner).len() < queued {
                tokio::task::yield_now().await;
            }
            let groups_before = store.group_commits();
            drop(held);
            let mut timers = Vec::new();
            while let Some(written) = writes.join_next().await {
                let (id, key, written) = written.expect("a commit task");
                if key == "stale" {
                    assert!(matches!(written, Err(StoreError::VersionConflict { .. })), "{written:?}");
                    continue;
                }
                let (fire_ids, timer_ids) = written.expect("committed");
                let fire = store.fire(fire_ids[0]).await.expect("read").expect("fire");
                assert_eq!((fire.idempotency_key, fire.runbook_id), (key.clone(), id), "its own fire id came back");
                timers.extend(timer_ids);
                let stored = store.runbook(id).await.expect("read").expect("runbook");
                assert_eq!(stored.version, round + 1);
                assert_eq!(stored.tasks[1].state, format!("{{\"by\":\"{key}\"}}"));
            }
            timers.sort_unstable();
            timers.dedup();
            assert_eq!(timers.len(), ids.len(), "one timer each, none shared");
            if !stale {
                assert!(store.group_commits() > groups_before, "round {round} landed as a group");
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commits_of_many_runbooks_land_together_on_sqlite() {
        let dir = tempfile::tempdir().expect("temporary directory");
        check(store(&cutover_integrations_test_support::fresh_sqlite_url(dir.path())).await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commits_of_many_runbooks_land_together_on_postgres() {
        let Some(url) = cutover_integrations_test_support::fresh_postgres_url("group commit").await else { return };
        check(store(&url).await).await;
    }
    /// A group on PostgreSQL locks the event sequence only after every runbook it writes: while it waits for a
    /// runbook another transaction holds, that transaction can still number its events (in the order of a commit
    /// written alone: runbook, then sequence). Before, the group held the sequence from its first commit's events, the
    /// two waited for each other, PostgreSQL broke the deadlock after a second, and a fire's outcome written alone
    /// could fail with it (a fire sent twice by three engines).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_locks_the_event_sequence_after_its_runbooks_on_postgres() {
        use sqlx::Connection as _;
        let Some(url) = cutover_integrations_test_support::fresh_postgres_url("group lock order").await else {
            return;
        };
        let store = store(&url).await;
        let tasks = vec!["{}".to_owned(), "{}".to_owned()];
        let mut ids = Vec::new();
        for n in 0..2 {
            let name = format!("r{n}");
            let new = NewRunbook { name: &name, definition: "{}", state: "{}", tasks: &tasks, events: &[] };
            ids.push(store.create_runbook(&new, 1).await.expect("runbook").id);
        }
        // Another writer holds the second runbook's row.
        let mut other = sqlx::AnyConnection::connect(&url).await.expect("a second connection");
        sqlx::raw_sql("BEGIN").execute(&mut other).await.expect("begin");
        let lock = format!("SELECT id FROM runbooks WHERE id = {} FOR UPDATE", ids[1].0);
        sqlx::raw_sql(sqlx::AssertSqlSafe(lock)).execute(&mut other).await.expect("lock the runbook");

        let held = store.lead().await.expect("the writing side");
        let mut writes = tokio::task::JoinSet::new();
        for (n, &id) in ids.iter().enumerate() {
            let key = format!("r{n}");
            let mut commit = commit(id, 1, &key);
            commit.events = vec![NewEvent { runbook_id: id, body: "{}".to_owned() }];
            let store = store.clone();
            writes.spawn(async move { store.commit(commit).await });
        }
        while store.group.queue.lock().unwrap_or_else(PoisonError::into_inner).len() < ids.len() {
            tokio::task::yield_now().await;
        }
        let groups_before = store.group_commits();
        drop(held);
        // The group is now waiting for the second runbook's row.
        let waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                       AND wait_event_type = 'Lock'";
        loop {
            let (count,): (i64,) = sqlx::query_as(waiting).fetch_one(&mut other).await.expect("activity");
            if count > 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
        // The other writer numbers its events: the sequence row is free, so this does not wait.
        sqlx::raw_sql("SET LOCAL lock_timeout = '5s'").execute(&mut other).await.expect("timeout");
        sqlx::raw_sql("UPDATE event_sequence SET last_id = last_id + 1 WHERE id = 1")
            .execute(&mut other)
            .await
            .expect("the event sequence is not held by a group waiting for a runbook");
        sqlx::raw_sql("COMMIT").execute(&mut other).await.expect("commit");
        while let Some(written) = writes.join_next().await {
            written.expect("a commit task").expect("committed");
        }
        assert_eq!(store.group_commits(), groups_before + 1, "both commits landed as one group, not rolled back");
    }
    /// A commit that PostgreSQL rolls back to break a deadlock is written again, not failed: the engine would
    /// otherwise leave a fire whose outcome it could not record until its lease ran out, and another engine would
    /// send it again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_rolled_back_by_a_deadlock_is_written_again_on_postgres() {
        use sqlx::Connection as _;
        let Some(url) = cutover_integrations_test_support::fresh_postgres_url("deadlock retry").await else {
            return;
        };
        let store = store(&url).await;
        let tasks = vec!["{}".to_owned(), "{}".to_owned()];
        let new = NewRunbook { name: "r", definition: "{}", state: "{}", tasks: &tasks, events: &[] };
        let id = store.create_runbook(&new, 1).await.expect("runbook").id;
        let (fire_ids, _) = store.commit(commit(id, 1, "k")).await.expect("a fire");
        let fire = fire_ids[0];

        // Another writer takes the event sequence first, and gives way to nobody: its deadlock check waits longest.
        let mut other = sqlx::AnyConnection::connect(&url).await.expect("a second connection");
        sqlx::raw_sql("BEGIN").execute(&mut other).await.expect("begin");
        sqlx::raw_sql("SET LOCAL deadlock_timeout = '20s'").execute(&mut other).await.expect("deadlock timeout");
        sqlx::raw_sql("UPDATE event_sequence SET last_id = last_id WHERE id = 1")
            .execute(&mut other)
            .await
            .expect("take the sequence");
        // A lone fire write with an event: it locks the fire, then waits for the sequence.
        let lone = Commit {
            fire_updates: vec![FireUpdate {
                id: fire,
                guard: FireGuard::Status(FireStatus::Due),
                status: FireStatus::Due,
                state: "{\"written\":true}".to_owned(),
                due_at: 5,
                lease: None,
            }],
            events: vec![NewEvent { runbook_id: id, body: "{}".to_owned() }],
            now: 2,
            ..Default::default()
        };
        let write = tokio::spawn({
            let store = store.clone();
            async move { store.commit(lone).await }
        });
        let waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                       AND wait_event_type = 'Lock'";
        loop {
            let (count,): (i64,) = sqlx::query_as(waiting).fetch_one(&mut other).await.expect("activity");
            if count > 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
        // The other writer now wants the fire: a deadlock, which PostgreSQL breaks by rolling the lone write back.
        let touch = format!("UPDATE fires SET due_at = due_at WHERE id = {}", fire.0);
        sqlx::raw_sql(sqlx::AssertSqlSafe(touch)).execute(&mut other).await.expect("the other writer goes on");
        sqlx::raw_sql("COMMIT").execute(&mut other).await.expect("commit");
        write.await.expect("the write task").expect("written again after the deadlock");
        let stored = store.fire(fire).await.expect("read").expect("fire");
        assert_eq!((stored.state.as_str(), stored.due_at), ("{\"written\":true}", 5));
    }
}
