//! The HTTP executor: what happens when an integration action fires.
//!
//! TODO crate docs

mod callback;
mod config;
mod error;
mod executor;
mod fire;
mod outbound;
mod prepared;
mod record;
mod redaction;
mod response_path;
mod retry;
mod timer;
mod transport;

pub use callback::{CallbackAuthority, CallbackReport, CallbackStatus, CallbackTicket};
pub use config::{ExecutorConfig, RetryPolicy};
pub use error::{ErrorKind, HttpError};
pub use executor::{CancelNotice, Executor, HttpExecutor};
pub use fire::{FireContext, FirePhase, FireState, Step, StepOutcome};
pub use outbound::{AddressClass, OutboundPolicy, OutboundRefusal};
pub use prepared::{OutgoingRequest, PreparedAction, RequestRenderer};
pub use record::{
    AttemptError, AttemptRecord, FireLog, FireResult, HeaderRecord, LogEntry, NoteRecord, RequestPurpose,
    RequestRecord, ResponseRecord,
};
pub use redaction::{REDACTED, Redaction};
pub use response_path::{FieldMapping, ResponseCondition, ResponsePath};
pub use timer::{ManualTimer, SystemTimer, Timer};
