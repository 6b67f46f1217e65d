//! What every stored name and value must satisfy on every backend: no NUL character (PostgreSQL text cannot hold one,
//! and SQLite would cut some readers short). Definitions are checked while they are read; the engine checks the names
//! and values it receives otherwise (users, system parameters, custom field values).

/// The message for a text holding a NUL character.
pub const NUL_MESSAGE: &str = "a NUL character (`\\0`, `\\u0000`) is not allowed: names and values are stored as text";

/// Refuses a text that cannot be stored: `Err` is the message, as a sentence fragment.
///
/// ```
/// use cutover_integrations_model::storable_text;
/// assert!(storable_text("Release 42 🎉").is_ok());
/// assert!(storable_text("Release\u{0}42").is_err());
/// ```
pub fn storable_text(text: &str) -> Result<(), &'static str> {
    if text.contains('\0') { Err(NUL_MESSAGE) } else { Ok(()) }
}
