//! The catalog of predefined integrations: ready definitions of the services runbooks talk to (Slack, Microsoft
//! Teams, Jira Cloud, ServiceNow, PagerDuty, GitHub Actions, a Standard Webhooks receiver), each with the few settings
//! an admin supplies.
//!
//! # Entries
//!
//! An [`Entry`] is a definition file under `catalog/` at the repository root (for people to read and copy), embedded
//! here with `include_str!`, plus its [`Setting`]s. The file is a valid definition as it stands (a test validates
//! every entry): its settings appear in it as placeholders, either an example value (`https://your-domain.atlassian.net`,
//! `you@example.com`) or, for secrets, a `{{SystemParameter['…']}}` reference.
//!
//! Each entry has an icon of our own (`catalog/icons/NAME.svg`, embedded too), which the console serves at
//! `/assets/catalog/NAME.svg` ([`Entry::image_url`]); the entry's file names that path as its `image_url`.
//!
//! # Installing
//!
//! [`Entry::install`] takes the admin's settings and returns an [`Installation`]: a normal `type: predefined`
//! integration, and the secret system parameters to store. It does no I/O (the engine or the CLI stores what it
//! returns) and is all or nothing:
//!
//! - every setting is checked by its [`SettingKind`] (a URL is an absolute `http(s)` URL; no value may hold a quote, a
//!   backslash, `{{`, `}}` or a control character, so that it can stand in any template place unchanged);
//! - non-secret settings replace their placeholder wherever it appears (URLs, the OAuth provider host, the basic auth
//!   user name, payloads);
//! - secret settings become secret system parameters named after the integration (`jira_cloud_api_token` for
//!   `Jira Cloud`, `jira_eu_api_token` when installed as `Jira EU`), and the references follow the name;
//! - each action's `allowed_hosts` becomes the hosts of the URL settings it uses (the base URL given, or the default),
//!   so a request, a poll or a redirect can reach only the site the admin chose;
//! - the result is validated again by the same validator as any definition file.
//!
//! [`InstallTarget::File`] is for `cutover catalog add`: secrets are never written into files, so a secret setting
//! given there is refused and the installation lists the system parameters still to set.

mod entries;
mod error;
mod install;

pub use entries::{Entry, ICON_CONTENT_TYPE, ICON_PATH, Setting, SettingKind, entries, entry, icon};
pub use error::CatalogError;
pub use install::{InstallTarget, Installation, parameter_name, slug};
