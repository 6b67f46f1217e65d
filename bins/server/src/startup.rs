//! Start-up configuration: the database (a SQLite file under `./data/` unless told otherwise), the secret key (from
//! `CUTOVER_SECRET_KEY`, or generated once and kept beside the SQLite database with mode 0600), the public URL, and
//! the bootstrap admin.

use anyhow::{Context, bail};
use cutover_integrations_core::model::Role;
use cutover_integrations_core::store::NewUser;
use cutover_integrations_core::{Engine, hash_token, secret_key_beside_database, secret_key_path};
use secrecy::{ExposeSecret, SecretString};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The database to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Database {
    /// The URL given to the engine.
    pub(crate) url: String,
    /// The SQLite file's directory, where the key file lives; `None` for PostgreSQL.
    pub(crate) directory: Option<PathBuf>,
}

impl Database {
    /// The database of `--database` / `CUTOVER_DATABASE_URL`, or `DATA_DIR/cutover.db`.
    pub(crate) fn resolve(url: Option<&str>, data_dir: &Path) -> anyhow::Result<Self> {
        let url = match url {
            Some(url) => url.trim().to_owned(),
            None => format!("sqlite://{}", data_dir.join("cutover.db").display()),
        };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self { url, directory: None });
        }
        let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) else {
            bail!("unsupported database URL: use sqlite://PATH or postgres://…");
        };
        let path = Path::new(path.split('?').next().unwrap_or(path));
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        create_private_dir(&directory)?;
        Ok(Self { url, directory: Some(directory) })
    }

    /// The URL without any password, for logs.
    pub(crate) fn display(&self) -> String {
        match url::Url::parse(&self.url) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("[REDACTED]"));
                url.to_string()
            }
            _ => self.url.clone(),
        }
    }
}

/// The secret key: `CUTOVER_SECRET_KEY`, else the key file beside a SQLite database (created once with mode 0600;
/// the convention `cutover run --database` shares, so either can open a database the other created).
pub(crate) fn secret_key(configured: Option<SecretString>, database: &Database) -> anyhow::Result<SecretString> {
    if let Some(key) = configured {
        return Ok(key);
    }
    if database.directory.is_none() {
        bail!("CUTOVER_SECRET_KEY is required with PostgreSQL (base64 of 32 random bytes)");
    }
    let existed = secret_key_path(&database.url).is_some_and(|path| path.exists());
    let key = secret_key_beside_database(&database.url)?;
    if !existed {
        tracing::info!(
            path = %secret_key_path(&database.url).unwrap_or_default().display(),
            "generated the secret key that encrypts secrets at rest; keep it with the database"
        );
    }
    Ok(key)
}

/// Creates the admin of `CUTOVER_BOOTSTRAP_TOKEN` unless it exists; without it, on a first start (no user yet),
/// creates an admin and prints its token once on stdout.
pub(crate) async fn bootstrap_admin(engine: &Engine, token: Option<SecretString>) -> anyhow::Result<()> {
    if let Some(token) = token {
        let token = token.expose_secret();
        if token.len() < 16 {
            bail!("CUTOVER_BOOTSTRAP_TOKEN must be at least 16 characters");
        }
        // One admin per bootstrap token, told apart by a prefix of the token's hash (never the token).
        let email = format!("bootstrap-{}@localhost", &hash_token(token)[..12]);
        let admin = engine.ensure_admin_token(&email, token).await?;
        tracing::info!(user = admin.id.0, email = %admin.email, "bootstrap admin ready");
        return Ok(());
    }
    if !engine.users().await?.is_empty() {
        return Ok(());
    }
    let admin = NewUser { name: "Administrator".into(), email: "admin@localhost".into(), roles: vec![Role::Admin] };
    let created = engine.create_user(&admin).await?;
    tracing::info!(user = created.user.id.0, "created the first admin; its API token is printed once below");
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "bootstrap admin API token (shown once): {}", created.token.expose_secret())?;
    stdout.flush()?;
    Ok(())
}

fn create_private_dir(directory: &Path) -> anyhow::Result<()> {
    if directory.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(directory).with_context(|| format!("creating the data directory {}", directory.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_integrations_core::SECRET_KEY_FILE;

    #[test]
    fn databases_resolve_to_a_url_and_a_key_directory() {
        let dir = tempfile::tempdir().expect("dir");
        let data = dir.path().join("data");
        let default = Database::resolve(None, &data).expect("default");
        assert_eq!(default.url, format!("sqlite://{}", data.join("cutover.db").display()));
        assert_eq!(default.directory.as_deref(), Some(data.as_path()));
        assert!(data.is_dir(), "the data directory is created");
        let postgres = Database::resolve(Some("postgres://u:pw@db/cutover"), &data).expect("postgres");
        assert_eq!(postgres.directory, None);
        assert!(!postgres.display().contains("pw"), "{}", postgres.display());
        let custom = dir.path().join("elsewhere").join("x.db");
        let sqlite =
            Database::resolve(Some(&format!("sqlite://{}?mode=rwc", custom.display())), &data).expect("sqlite");
        assert_eq!(sqlite.directory.as_deref(), custom.parent());
        assert!(Database::resolve(Some("mysql://x"), &data).is_err());
    }

    #[test]
    fn the_key_is_generated_once_with_mode_0600() {
        let dir = tempfile::tempdir().expect("dir");
        let database = Database::resolve(None, dir.path()).expect("database");
        let first = secret_key(None, &database).expect("generated");
        let second = secret_key(None, &database).expect("read back");
        assert_eq!(first.expose_secret(), second.expose_secret());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(SECRET_KEY_FILE)).expect("key file").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let configured = secret_key(Some(SecretString::from("configured")), &database).expect("configured");
        assert_eq!(configured.expose_secret(), "configured");
        let postgres = Database { url: "postgres://db/x".into(), directory: None };
        assert!(secret_key(None, &postgres).is_err(), "PostgreSQL needs a configured key");
    }
}
