//! The secret key of an embedded SQLite database, kept in a file beside it: generated at the first start, read at
//! every later one, so that secrets sealed in the database stay readable across restarts without configuration.
//!
//! The server and `cutover run --database` share this convention (`secret.key` in the database's directory), so either can open a database the other created.
//! The file is created with mode 0600 and refused when others may read it; a deployment that manages its keys sets
//! `CUTOVER_SECRET_KEY` instead and never touches the file.

use crate::config::generate_secret_key;
use crate::error::EngineError;
use secrecy::{ExposeSecret, SecretString};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

/// The name of the key file in the directory of a SQLite database.
pub const SECRET_KEY_FILE: &str = "secret.key";

/// Where the secret key of a SQLite database URL is kept: [`SECRET_KEY_FILE`] in the database file's directory
/// (`sqlite://data/cutover.db` keeps its key in `data/secret.key`, where the server keeps it too). `None` for other
/// databases and in-memory SQLite, which have no directory to keep a key in.
pub fn secret_key_path(database_url: &str) -> Option<PathBuf> {
    let rest = database_url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    let directory = Path::new(path).parent().unwrap_or_else(|| Path::new(""));
    Some(directory.join(SECRET_KEY_FILE))
}

/// The secret key kept beside a SQLite database: read from [`secret_key_path`], or generated and written there
/// (mode 0600, its directory created) when the file does not exist yet. Fails for databases that have no such file
/// (PostgreSQL: give the key explicitly), when the file cannot be read or written, and when its permissions let
/// others read it.
pub fn secret_key_beside_database(database_url: &str) -> Result<SecretString, EngineError> {
    let path = secret_key_path(database_url).ok_or_else(|| EngineError::Config {
        message: "only a SQLite database file keeps its secret key beside it; give the key explicitly \
                  (CUTOVER_SECRET_KEY)"
            .to_owned(),
    })?;
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|error| file_error(parent, "cannot create the directory of", error))?;
    }
    let key = generate_secret_key();
    match create_private(&path) {
        Ok(mut file) => {
            file.write_all(key.expose_secret().as_bytes())
                .and_then(|()| file.write_all(b"\n"))
                .and_then(|()| file.sync_all())
                .map_err(|error| file_error(&path, "cannot write", error))?;
            Ok(key)
        }
        Err(error) if error.kind() == ErrorKind::AlreadyExists => read_private(&path),
        Err(error) => Err(file_error(&path, "cannot create", error)),
    }
}

/// Reads a key file: mode 0600 (refused when others may read it), the key as its only content (base64 of 32 bytes,
/// or a ring `ID:BASE64,…`).
pub fn read_secret_key_file(path: &Path) -> Result<SecretString, EngineError> {
    read_private(path)
}

/// Replaces the key in the key file at `path` (written beside it with mode 0600, synced, then renamed over it, so the
/// file holds the old key or the new one, never a part).
pub fn replace_secret_key_file(path: &Path, key: &SecretString) -> Result<(), EngineError> {
    let mut staged = path.as_os_str().to_owned();
    staged.push(".new");
    let staged = PathBuf::from(staged);
    match std::fs::remove_file(&staged) {
        Err(error) if error.kind() != ErrorKind::NotFound => return Err(file_error(&staged, "cannot remove", error)),
        _ => {}
    }
    let mut file = create_private(&staged).map_err(|error| file_error(&staged, "cannot create", error))?;
    file.write_all(key.expose_secret().as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(|error| file_error(&staged, "cannot write", error))?;
    std::fs::rename(&staged, path).map_err(|error| file_error(path, "cannot replace", error))
}

fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

fn read_private(path: &Path) -> Result<SecretString, EngineError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let metadata = std::fs::metadata(path).map_err(|error| file_error(path, "cannot read", error))?;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(EngineError::Config {
                message: format!(
                    "secret key file {}: mode {mode:03o} lets others read it; run `chmod 600 {}`",
                    path.display(),
                    path.display()
                ),
            });
        }
    }
    let text = std::fs::read_to_string(path).map_err(|error| file_error(path, "cannot read", error))?;
    let key = text.trim();
    if key.is_empty() {
        return Err(EngineError::Config { message: format!("secret key file {} is empty", path.display()) });
    }
    Ok(SecretString::from(key.to_owned()))
}

fn file_error(path: &Path, what: &'static str, error: std::io::Error) -> EngineError {
    EngineError::SecretKeyFile { what, path: path.to_owned(), source: error }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_follow_the_database_file() {
        let cases: &[(&str, Option<&str>)] = &[
            ("sqlite://data/cutover.db", Some("data/secret.key")),
            ("sqlite:///var/lib/cutover/db.sqlite?mode=rwc", Some("/var/lib/cutover/secret.key")),
            ("sqlite:cutover.db", Some("secret.key")),
            ("sqlite::memory:", None),
            ("sqlite://:memory:", None),
            ("postgres://user@localhost/cutover", None),
        ];
        for (url, expected) in cases {
            assert_eq!(secret_key_path(url), expected.map(PathBuf::from), "{url}");
        }
    }

    #[test]
    fn a_key_is_generated_once_then_read_back() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", directory.path().join("nested/cutover.db").display());
        let first = secret_key_beside_database(&url).expect("a new key");
        let second = secret_key_beside_database(&url).expect("the same key");
        assert_eq!(first.expose_secret(), second.expose_secret());
        assert!(cutover_integrations_auth::KeyRing::parse(first.expose_secret()).is_ok(), "a valid key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = secret_key_path(&url).expect("a path");
            let mode = std::fs::metadata(&path).expect("the key file").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            let refused = secret_key_beside_database(&url).expect_err("a readable key file is refused");
            assert!(refused.to_string().contains("chmod 600"), "{refused}");
        }
    }

    #[test]
    fn databases_without_a_file_need_an_explicit_key() {
        let refused = secret_key_beside_database("postgres://localhost/cutover").expect_err("no file");
        assert!(refused.to_string().contains("CUTOVER_SECRET_KEY"), "{refused}");
    }
}
