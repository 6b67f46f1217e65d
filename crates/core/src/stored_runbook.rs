//! How the engine keeps a runbook in the store's `definition` and `state` documents, and the cached form it works on.
//!
//! The state machine's state serialises with its plan (every task's action, predecessors, flags), about two thirds of
//! the document, and the plan never changes after the runbook is created. Every fire step commits the state, so the
//! plan is kept once, beside the definition (`{"runbook": …, "plan": …}`), and each committed state leaves it out. The
//! state's own serialisation is reused as it is: its text starts `{"version":N,"plan":PLAN,` and `PLAN` is exactly the
//! plan's own serialisation, which is cut out on writing and put back on reading. A state whose text does not have
//! that shape is stored whole, and a stored state that has its plan is read as it is, so the two forms mix safely.

use crate::error::EngineError;
use cutover_integrations_model::Runbook;
use cutover_integrations_runbook::RunbookState;
use cutover_integrations_store::RunbookRecord;
use serde::Deserialize;
use std::borrow::Cow;
use std::sync::Arc;

const PLAN_MEMBER: &str = ",\"plan\":";

/// A runbook as this engine last read or wrote it. Shared (`Arc`) with fire steps reading it; a command changes it in
/// place when nobody else holds it, and copies it otherwise.
#[derive(Clone)]
pub(crate) struct Loaded {
    pub(crate) state: RunbookState,
    pub(crate) version: i64,
    pub(crate) definition: Arc<Runbook>,
    /// The plan's serialisation, cut out of every state written.
    pub(crate) plan: Arc<str>,
    /// How many times the definition was replaced while planning (0 for one never edited); a cached definition is
    /// reused only for a stored one of the same edition.
    pub(crate) edition: u64,
}

/// A definition already read: its runbook, plan text and edition.
#[derive(Clone)]
pub(crate) struct CachedDefinition {
    pub(crate) definition: Arc<Runbook>,
    pub(crate) plan: Arc<str>,
    pub(crate) edition: u64,
}

const EDITION_PREFIX: &str = "{\"edition\":";

/// The edition a stored definition document starts with (`{"edition":N,…`), 0 when it has none.
fn edition_of(document: &str) -> u64 {
    document
        .strip_prefix(EDITION_PREFIX)
        .map(|rest| {
            rest.bytes()
                .take_while(u8::is_ascii_digit)
                .fold(0u64, |n, d| n.saturating_mul(10).saturating_add(u64::from(d - b'0')))
        })
        .unwrap_or(0)
}

/// The `definition` document: the runbook as defined, and the plan built from it at creation.
#[derive(Deserialize)]
struct DefinitionDocument {
    runbook: Runbook,
    plan: serde_json::Value,
}

impl Loaded {
    /// A new runbook's cached form.
    pub(crate) fn new(definition: Runbook, state: RunbookState) -> Result<Self, EngineError> {
        let plan = serde_json::to_string(state.plan()).map_err(EngineError::corrupt("runbook plan"))?;
        Ok(Self { state, version: 1, definition: Arc::new(definition), plan: plan.into(), edition: 0 })
    }

    /// This runbook's definition, to reuse when reading it again.
    pub(crate) fn cached_definition(&self) -> CachedDefinition {
        CachedDefinition { definition: self.definition.clone(), plan: self.plan.clone(), edition: self.edition }
    }

    /// The `definition` document to store.
    pub(crate) fn definition_document(&self) -> Result<String, EngineError> {
        let runbook = serde_json::to_string(&*self.definition).map_err(EngineError::corrupt("runbook definition"))?;
        if self.edition == 0 {
            return Ok(format!("{{\"runbook\":{runbook},\"plan\":{}}}", self.plan));
        }
        Ok(format!("{EDITION_PREFIX}{},\"runbook\":{runbook},\"plan\":{}}}", self.edition, self.plan))
    }

    /// The `state` document to store: the state without its plan (whole, should its text have another shape).
    pub(crate) fn state_document(&self) -> Result<String, EngineError> {
        let mut text = serde_json::to_string(&self.state).map_err(EngineError::corrupt("runbook state"))?;
        if let Some(start) = text.find(PLAN_MEMBER)
            && !text[..start].contains(',')
            && text[start + PLAN_MEMBER.len()..].starts_with(&*self.plan)
            && text[start + PLAN_MEMBER.len() + self.plan.len()..].starts_with(',')
        {
            // `{"version":1,"plan":PLAN,"stage":…` becomes `{"version":1,"stage":…`.
            text.replace_range(start..start + PLAN_MEMBER.len() + self.plan.len(), "");
        }
        Ok(text)
    }

    /// A stored runbook. A definition already cached is reused when the stored one has its edition (it changes only
    /// while the runbook is planned).
    pub(crate) fn from_record(record: &RunbookRecord, cached: Option<CachedDefinition>) -> Result<Self, EngineError> {
        let edition = edition_of(&record.definition);
        let (definition, stored_plan) = match cached.filter(|cached| cached.edition == edition) {
            Some(CachedDefinition { definition, plan, .. }) => (definition, Some(plan)),
            None => match serde_json::from_str::<DefinitionDocument>(&record.definition) {
                Ok(document) => {
                    let plan = serde_json::to_string(&document.plan).map_err(EngineError::corrupt("runbook plan"))?;
                    (Arc::new(document.runbook), Some(plan.into()))
                }
                // A runbook stored as its definition alone carries its plan in its state.
                Err(_) => (
                    Arc::new(
                        serde_json::from_str(&record.definition).map_err(EngineError::corrupt("runbook definition"))?,
                    ),
                    None,
                ),
            },
        };
        let text = match &stored_plan {
            Some(plan) => with_plan(&record.state, plan),
            None => Cow::Borrowed(record.state.as_str()),
        };
        let state: RunbookState = serde_json::from_str(&text).map_err(EngineError::corrupt("runbook state"))?;
        let plan = match stored_plan {
            Some(plan) => plan,
            None => serde_json::to_string(state.plan()).map_err(EngineError::corrupt("runbook plan"))?.into(),
        };
        Ok(Self { state, version: record.version, definition, plan, edition })
    }
}

/// A stored state with its plan put back (after its first member, `version`), unless it has one.
fn with_plan<'a>(stored: &'a str, plan: &str) -> Cow<'a, str> {
    match stored.find(',') {
        Some(first) if !stored[first..].starts_with(PLAN_MEMBER) => {
            Cow::Owned(format!("{}{PLAN_MEMBER}{plan}{}", &stored[..first], &stored[first..]))
        }
        _ => Cow::Borrowed(stored),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_integrations_model::{Action, ActionRef, RunMode};
    use cutover_integrations_runbook::{Actor, Command, RunbookPlan};
    use std::collections::BTreeMap;

    fn runbook() -> (Runbook, RunbookState) {
        let definition: Runbook = serde_json::from_value(serde_json::json!({
            "name": "Release \"42\", with commas",
            "tasks": [
                {"id": "a", "name": "A, first", "action": "Chat/Notify"},
                {"id": "b", "name": "B", "predecessors": ["a"]},
            ],
        }))
        .expect("runbook");
        let action: Action = serde_json::from_value(serde_json::json!({
            "name": "Notify",
            "request": {"method": "POST", "url": "https://chat.example.com/hook"},
        }))
        .expect("action");
        let catalog = BTreeMap::from([(ActionRef { integration: "Chat".into(), action: "Notify".into() }, action)]);
        let plan = RunbookPlan::build(&definition, &catalog, &[]).expect("plan");
        (definition, RunbookState::new(plan))
    }

    fn record(loaded: &Loaded, state: String) -> RunbookRecord {
        RunbookRecord {
            id: cutover_integrations_store::RunbookId(1),
            name: "Release".into(),
            definition: loaded.definition_document().expect("definition"),
            state,
            version: loaded.version,
        }
    }

    #[test]
    fn the_plan_is_stored_once_and_put_back() {
        let (definition, state) = runbook();
        let mut loaded = Loaded::new(definition, state).expect("loaded");
        let now = jiff::Timestamp::UNIX_EPOCH;
        loaded.state.apply(Command::StartRunbook { mode: RunMode::Live }, &Actor::engine(), now).expect("starts");
        let whole = serde_json::to_string(&loaded.state).expect("json");
        let stored = loaded.state_document().expect("state");
        assert!(!stored.contains("\"plan\""), "{stored}");
        assert_eq!(whole.len() - stored.len(), PLAN_MEMBER.len() + loaded.plan.len());

        let back = Loaded::from_record(&record(&loaded, stored.clone()), None).expect("read back");
        assert_eq!(back.state, loaded.state);
        assert_eq!(back.definition, loaded.definition);
        assert_eq!(back.plan, loaded.plan);
        let cached = Loaded::from_record(&record(&loaded, stored), Some(loaded.cached_definition()));
        assert_eq!(cached.expect("read back").state, loaded.state);
    }

    #[test]
    fn whole_states_and_bare_definitions_still_read() {
        let (definition, state) = runbook();
        let loaded = Loaded::new(definition, state).expect("loaded");
        let whole = serde_json::to_string(&loaded.state).expect("json");
        // A whole state beside the new definition document.
        let back = Loaded::from_record(&record(&loaded, whole.clone()), None).expect("whole state");
        assert_eq!(back.state, loaded.state);
        // A whole state beside a definition stored alone.
        let bare = RunbookRecord {
            definition: serde_json::to_string(&*loaded.definition).expect("json"),
            ..record(&loaded, whole)
        };
        let back = Loaded::from_record(&bare, None).expect("bare definition");
        assert_eq!((back.state, back.plan), (loaded.state.clone(), loaded.plan.clone()));
    }

    #[test]
    fn a_state_of_another_shape_is_stored_whole() {
        let (definition, state) = runbook();
        let mut loaded = Loaded::new(definition, state).expect("loaded");
        loaded.plan = "{\"not\":\"the plan\"}".into();
        let stored = loaded.state_document().expect("state");
        assert_eq!(stored, serde_json::to_string(&loaded.state).expect("json"));
    }
}
