//! The fire document: what a fire row is for, where its executor state is, and how it ended. Stored as the row's
//! JSON `state`, free of secrets. A leaf: it knows the executor's state and the runbook's fire numbers, nothing of the
//! engine.

use crate::error::EngineError;
use cutover_integrations_http::FireState;
use cutover_integrations_runbook::{Delivery, FireNumber};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a fire row is for, and where its executor state is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FireDoc {
    pub(crate) work: FireWork,
    /// The executor's state between steps; absent before the first step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) executor: Option<FireState>,
    /// How the fire ended, once it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) outcome: Option<FireOutcome>,
}

/// The kind of work of a fire row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "work", rename_all = "snake_case")]
pub(crate) enum FireWork {
    /// A fire of the task's action.
    Action { delivery: Delivery },
    /// The cancel message for fire `of` of the same task, at its `attempt`-th try.
    CancelNotice { of: FireNumber, attempt: u32 },
}

/// How a fire row ended. Stored as its snake_case name; an unknown name in a stored row is an error, never a guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FireOutcome {
    /// The action's fire succeeded.
    Succeeded,
    /// The action's fire failed (or could not be prepared).
    Failed,
    /// A rehearsal fire: rendered and logged, not sent.
    NotSent,
    /// The task stopped running the fire (cancelled, skipped, refired) before it ended.
    Cancelled,
    /// A cancel notice reached the third party.
    Delivered,
    /// A cancel notice could not be sent or was refused for good.
    Undelivered,
}

impl FireOutcome {
    /// Every outcome, in declaration order.
    pub const ALL: [Self; 6] =
        [Self::Succeeded, Self::Failed, Self::NotSent, Self::Cancelled, Self::Delivered, Self::Undelivered];

    /// The stored and shown name: `succeeded`, `failed`, `not_sent`, `cancelled`, `delivered`, `undelivered`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::NotSent => "not_sent",
            Self::Cancelled => "cancelled",
            Self::Delivered => "delivered",
            Self::Undelivered => "undelivered",
        }
    }
}

impl fmt::Display for FireOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FireDoc {
    pub(crate) fn new(delivery: Delivery) -> Self {
        Self { work: FireWork::Action { delivery }, executor: None, outcome: None }
    }

    pub(crate) fn cancel_notice(of: FireNumber) -> Self {
        Self { work: FireWork::CancelNotice { of, attempt: 1 }, executor: None, outcome: None }
    }

    /// The stored form; an error (never an empty text) if it cannot be written.
    pub(crate) fn to_json(&self) -> Result<String, EngineError> {
        serde_json::to_string(self).map_err(EngineError::corrupt("fire state"))
    }

    /// Reads the stored form; an unknown work kind or outcome is a corrupt row.
    pub(crate) fn parse(text: &str) -> Result<Self, EngineError> {
        serde_json::from_str(text).map_err(EngineError::corrupt("fire state"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each outcome is stored as its name and read back; the name is what `as_str` and `Display` give.
    #[test]
    fn outcomes_are_stored_by_name_and_read_back() {
        for outcome in FireOutcome::ALL {
            let doc = FireDoc { outcome: Some(outcome), ..FireDoc::new(Delivery::Send) };
            let json = doc.to_json().expect("stored");
            assert!(json.contains(&format!("\"outcome\":\"{}\"", outcome.as_str())), "{json}");
            assert_eq!(FireDoc::parse(&json).expect("read back"), doc);
            assert_eq!(outcome.to_string(), outcome.as_str());
        }
        let stored = FireDoc::cancel_notice(FireNumber::new(4).expect("not 0")).to_json().expect("stored");
        assert_eq!(stored, r#"{"work":{"work":"cancel_notice","of":4,"attempt":1}}"#);
    }

    /// Stored documents of earlier versions read as before; unknown outcomes and kinds are refused as corrupt.
    #[test]
    fn stored_documents_read_back_or_are_refused() {
        let check = |text: &str, expected: Result<FireDoc, &str>| match (FireDoc::parse(text), expected) {
            (Ok(doc), Ok(expected)) => assert_eq!(doc, expected, "{text}"),
            (Err(error), Err(start)) => {
                assert!(matches!(error, EngineError::Corrupt { what: "fire state", .. }), "{text}: {error:?}");
                assert!(error.to_string().contains(start), "{text}: {error}");
            }
            (read, expected) => panic!("{text}: {read:?}, expected {expected:?}"),
        };
        check(r#"{"work":{"work":"action","delivery":"send"}}"#, Ok(FireDoc::new(Delivery::Send)));
        check(
            r#"{"work":{"work":"action","delivery":"record_only"},"outcome":"not_sent"}"#,
            Ok(FireDoc { outcome: Some(FireOutcome::NotSent), ..FireDoc::new(Delivery::RecordOnly) }),
        );
        check(
            r#"{"work":{"work":"cancel_notice","of":2,"attempt":3},"outcome":"undelivered"}"#,
            Ok(FireDoc {
                work: FireWork::CancelNotice { of: FireNumber::new(2).expect("not 0"), attempt: 3 },
                executor: None,
                outcome: Some(FireOutcome::Undelivered),
            }),
        );
        check(r#"{"work":{"work":"action","delivery":"send"},"outcome":"done"}"#, Err("unknown variant `done`"));
        check(r#"{"work":{"work":"action","delivery":"send"},"outcome":""}"#, Err("unknown variant ``"));
        check(r#"{"work":{"work":"retry","delivery":"send"}}"#, Err("unknown variant `retry`"));
        check(r#"{"work":{"work":"cancel_notice","of":-1,"attempt":1}}"#, Err("invalid value"));
    }
}
