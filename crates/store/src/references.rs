//! Which runbooks name an integration or an action in their tasks, found by one query over the stored definitions:
//! an edit that would leave tasks pointing at nothing (a rename, an action made a draft) asks this first.

use crate::error::StoreError;
use crate::records::RunbookId;
use crate::sql::{Backend, SqlStore, get};
use cutover_integrations_model::ActionRef;

/// What the tasks are looked through for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskReference<'a> {
    /// Any action of the integration of this name.
    Integration(&'a str),
    /// This one action.
    Action(&'a ActionRef),
}

/// A runbook found naming what was looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamingRunbook {
    /// Its id.
    pub id: RunbookId,
    /// Its name.
    pub name: String,
}

impl TaskReference<'_> {
    /// The text a task's `action` member must equal (an action) or start with (an integration).
    fn pattern(&self) -> String {
        match self {
            TaskReference::Integration(name) => format!("{name}/"),
            TaskReference::Action(reference) => reference.to_string(),
        }
    }
}

/// The SQL condition on the definition `d` of a runbook: a task's `action` equals `$1` or, with `prefix`, starts with it.
fn condition(backend: Backend, prefix: bool) -> String {
    match (backend, prefix) {
        (Backend::Sqlite, false) => "EXISTS (SELECT 1 FROM json_each(d.definition, '$.runbook.tasks') AS t \
             WHERE json_extract(t.value, '$.action') = $1)"
            .to_owned(),
        (Backend::Sqlite, true) => "EXISTS (SELECT 1 FROM json_each(d.definition, '$.runbook.tasks') AS t \
             WHERE substr(json_extract(t.value, '$.action'), 1, length($1)) = $1)"
            .to_owned(),
        (Backend::Postgres, false) => "EXISTS (SELECT 1 FROM jsonb_array_elements((d.definition)::jsonb -> 'runbook' \
             -> 'tasks') AS t(value) WHERE t.value ->> 'action' = $1)"
            .to_owned(),
        (Backend::Postgres, true) => "EXISTS (SELECT 1 FROM jsonb_array_elements((d.definition)::jsonb -> 'runbook' \
             -> 'tasks') AS t(value) WHERE left(t.value ->> 'action', char_length($1)) = $1)"
            .to_owned(),
    }
}

impl SqlStore {
    /// See [`crate::Store::runbooks_naming`].
    pub(crate) async fn select_runbooks_naming(
        &self,
        reference: TaskReference<'_>,
    ) -> Result<Vec<NamingRunbook>, StoreError> {
        let prefix = matches!(reference, TaskReference::Integration(_));
        let sql = format!(
            "SELECT r.id, r.name FROM runbooks r JOIN runbook_definitions d ON d.runbook_id = r.id WHERE {} \
             ORDER BY r.id",
            condition(self.backend(), prefix)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(reference.pattern())
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db("finding the runbooks that name an action"))?;
        rows.iter().map(|row| Ok(NamingRunbook { id: RunbookId(get(row, "id")?), name: get(row, "name")? })).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_integration_is_looked_for_by_its_prefix_and_an_action_whole() {
        let action = ActionRef { integration: "Slack".into(), action: "Post/Message".into() };
        assert_eq!(TaskReference::Integration("Slack").pattern(), "Slack/");
        assert_eq!(TaskReference::Action(&action).pattern(), "Slack/Post/Message");
    }
}
