//! Pages of runbook summaries for lists: keyset paging on the id (a stable order that inserts and deletes do not
//! shift), filters on stage, mode, workspace and name, and one query per page that reads only the summary's fields
//! out of the stored documents.

use crate::error::StoreError;
use crate::records::RunbookId;
use crate::sql::{Backend, SqlStore, get};
use cutover_integrations_model::{RunMode, RunbookStage};
use sqlx::Row as _;

/// Which runbooks a page holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunbookQuery {
    /// Only runbooks whose id is greater (the last id of the previous page).
    pub after: Option<RunbookId>,
    /// At most this many.
    pub limit: u32,
    /// Only runbooks at this stage.
    pub stage: Option<RunbookStage>,
    /// Only runbooks running (or last run) in this mode.
    pub mode: Option<RunMode>,
    /// Only runbooks of this workspace (exactly).
    pub workspace: Option<String>,
    /// Only runbooks whose name contains this text, ignoring ASCII case.
    pub name_contains: Option<String>,
}

/// A runbook as lists show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunbookListing {
    /// Its id.
    pub id: RunbookId,
    /// Its name.
    pub name: String,
    /// Its workspace, if its definition names one.
    pub workspace: Option<String>,
    /// Its stage.
    pub stage: RunbookStage,
    /// Its mode, once started.
    pub mode: Option<RunMode>,
    /// Its version (what its `ETag` encodes).
    pub version: i64,
}

/// One page: the runbooks, in id order, and whether more follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunbookPage {
    /// At most `limit` runbooks.
    pub runbooks: Vec<RunbookListing>,
    /// Whether runbooks after the last one match too.
    pub more: bool,
}

/// The SQL text of a member of a stored JSON document (`path` from the top, one key per level).
fn json_text(backend: Backend, column: &str, path: &[&str]) -> String {
    match backend {
        Backend::Sqlite => format!("json_extract({column}, '$.{}')", path.join(".")),
        Backend::Postgres => {
            let (last, parents) = path.split_last().map_or(("", &[][..]), |(last, parents)| (*last, parents));
            let parents: String = parents.iter().map(|key| format!(" -> '{key}'")).collect();
            format!("(({column})::jsonb{parents} ->> '{last}')")
        }
    }
}

/// A status read back from its snake_case name.
fn parse<T: serde::de::DeserializeOwned>(what: &'static str, text: Option<String>) -> Result<Option<T>, StoreError> {
    text.map(|text| {
        serde_json::from_value(serde_json::Value::String(text))
            .map_err(|error| StoreError::Corrupt { what, reason: error.to_string() })
    })
    .transpose()
}

/// The snake_case name a status serializes to.
fn wire_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|value| value.as_str().map(str::to_owned)).unwrap_or_default()
}

/// The SQL text of `column` with ASCII letters in lower case and every other character as it is, alike on both
/// backends (SQLite's `LOWER` folds ASCII only, PostgreSQL's folds every letter).
fn ascii_lower(backend: Backend, column: &str) -> String {
    match backend {
        Backend::Sqlite => format!("LOWER({column})"),
        Backend::Postgres => {
            format!("TRANSLATE({column}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')")
        }
    }
}

/// `text` for a `LIKE … ESCAPE '\'` pattern that matches it literally.
fn like_literal(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c.to_ascii_lowercase());
    }
    escaped
}

impl SqlStore {
    /// See [`crate::Store::runbook_page`].
    pub(crate) async fn select_runbook_page(&self, query: &RunbookQuery) -> Result<RunbookPage, StoreError> {
        let backend = self.backend();
        let stage = json_text(backend, "state", &["stage"]);
        let mode = json_text(backend, "state", &["mode"]);
        // Kept in a column at creation (the definition document is large and lives in a table of its own).
        let workspace = "workspace";
        let mut conditions = vec!["id > $1".to_owned()];
        let mut texts = Vec::new();
        let mut condition = |sql: String, value: String| {
            texts.push(value);
            conditions.push(sql.replace('?', &format!("${}", texts.len() + 1)));
        };
        if let Some(wanted) = query.stage {
            condition(format!("{stage} = ?"), wire_name(&wanted));
        }
        if let Some(wanted) = query.mode {
            condition(format!("{mode} = ?"), wire_name(&wanted));
        }
        if let Some(wanted) = &query.workspace {
            condition(format!("{workspace} = ?"), wanted.clone());
        }
        if let Some(wanted) = &query.name_contains {
            condition(
                format!("{} LIKE '%' || ? || '%' ESCAPE '\\'", ascii_lower(backend, "name")),
                like_literal(wanted),
            );
        }
        let limit_parameter = texts.len() + 2;
        let sql = format!(
            "SELECT id, name, version, {stage} AS stage, {mode} AS mode, {workspace} AS workspace FROM runbooks \
             WHERE {} ORDER BY id LIMIT ${limit_parameter}",
            conditions.join(" AND ")
        );
        let mut statement = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(query.after.map_or(0, |id| id.0));
        for text in texts {
            statement = statement.bind(text);
        }
        let rows = statement
            .bind(i64::from(query.limit) + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db("reading a page of runbooks"))?;
        let more = rows.len() > query.limit as usize;
        let runbooks = rows
            .iter()
            .take(query.limit as usize)
            .map(|row| {
                let status = |column: &'static str| -> Result<Option<String>, StoreError> {
                    row.try_get::<Option<String>, _>(column).map_err(StoreError::db(column))
                };
                Ok(RunbookListing {
                    id: RunbookId(get(row, "id")?),
                    name: get(row, "name")?,
                    workspace: status("workspace")?,
                    stage: parse("runbook stage", status("stage")?)?
                        .ok_or_else(|| StoreError::Corrupt { what: "runbook state", reason: "no stage".into() })?,
                    mode: parse("runbook mode", status("mode")?)?,
                    version: get(row, "version")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(RunbookPage { runbooks, more })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_members_are_read_on_each_backend() {
        let cases = [
            (Backend::Sqlite, &["stage"][..], "json_extract(state, '$.stage')"),
            (Backend::Sqlite, &["runbook", "workspace"][..], "json_extract(state, '$.runbook.workspace')"),
            (Backend::Postgres, &["stage"][..], "((state)::jsonb ->> 'stage')"),
            (Backend::Postgres, &["runbook", "workspace"][..], "((state)::jsonb -> 'runbook' ->> 'workspace')"),
        ];
        for (backend, path, expected) in cases {
            assert_eq!(json_text(backend, "state", path), expected);
        }
    }

    #[test]
    fn like_patterns_match_literally() {
        let cases = [("Release", "release"), ("50%_off", "50\\%\\_off"), ("a\\b", "a\\\\b")];
        for (text, expected) in cases {
            assert_eq!(like_literal(text), expected, "{text}");
        }
    }
}
