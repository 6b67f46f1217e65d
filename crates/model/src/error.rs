//! The crate's error type for failures that are not definition diagnostics.

/// A failure of this crate other than an invalid definition (those are [`Diagnostic`](crate::Diagnostic)s).
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A definition could not be written out.
    #[error("cannot write the definition as {format}: {message}")]
    Serialize {
        /// `YAML` or `JSON`.
        format: &'static str,
        /// The serializer's message.
        message: String,
    },
}
