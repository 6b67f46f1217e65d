//! The entries: each a definition file under `catalog/` (embedded here) and the settings an admin supplies.

use crate::CatalogError;
use cutover_integrations_model::{Definition, Integration, SourceFile, Validator};

/// What a setting holds, which decides how it is checked and where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SettingKind {
    /// An absolute `http(s)` URL written into the definition (a site or API base URL); its host becomes the actions'
    /// `allowed_hosts`.
    Url,
    /// A plain value written into the definition (a user name, a client id).
    Text,
    /// A secret kept in a secret system parameter (a token, a password, a routing key).
    Secret,
    /// A secret URL kept in a secret system parameter (a webhook URL that is itself the credential); its host becomes
    /// the actions' `allowed_hosts`.
    SecretUrl,
    /// A Standard Webhooks signing secret (`whsec_…`) kept in a secret system parameter.
    WebhookSecret,
}

impl SettingKind {
    /// Whether the value is a secret: kept in a secret system parameter, never written into a file or shown.
    pub fn is_secret(self) -> bool {
        matches!(self, Self::Secret | Self::SecretUrl | Self::WebhookSecret)
    }

    /// Whether the value is a URL whose host the actions may reach.
    pub fn is_url(self) -> bool {
        matches!(self, Self::Url | Self::SecretUrl)
    }
}

/// One value an admin supplies when installing an entry.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Setting {
    /// The key, as in `--set KEY=VALUE`.
    pub key: &'static str,
    /// A short label for forms.
    pub label: &'static str,
    /// What the value is and where to find it.
    pub description: &'static str,
    /// How the value is checked and where it goes.
    pub kind: SettingKind,
    /// The value used when none is given; `None` with `optional: false` means the setting is required.
    pub default: Option<&'static str>,
    /// Whether the setting may be left out (it serves some actions only).
    pub optional: bool,
    /// The text standing for the value in the entry's file (non-secret settings only; a secret stands as a reference
    /// to its system parameter).
    pub placeholder: &'static str,
    /// The hosts the actions may reach while a URL setting has no value (its default's host otherwise).
    pub hosts: &'static [&'static str],
}

/// A predefined integration of the catalog.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    /// The entry's name, as in `cutover catalog show NAME`.
    pub name: &'static str,
    /// The integration's default name.
    pub title: &'static str,
    /// One sentence on what it does.
    pub summary: &'static str,
    /// The file under the repository root.
    pub file: &'static str,
    /// The definition, as shipped.
    #[serde(skip)]
    pub source: &'static str,
    /// Our own icon (an SVG document, a coloured tile with a glyph), served at [`Entry::image_url`].
    #[serde(skip)]
    pub icon: &'static str,
    /// What the admin supplies.
    pub settings: &'static [Setting],
}

impl Entry {
    /// The entry's integration as shipped.
    ///
    /// # Panics
    ///
    /// Never for a shipped entry: a test validates every one.
    pub fn integration(&self) -> Integration {
        let parsed = Validator::new()
            .parse(&SourceFile::new(self.file, self.source))
            .unwrap_or_else(|errors| panic!("catalog entry {} is invalid: {errors:?}", self.name));
        match parsed.definition() {
            Definition::Integration(integration) => integration.clone(),
            Definition::Runbook(_) | Definition::EventIntegration(_) => {
                panic!("catalog entry {} is not an integration", self.name)
            }
        }
    }

    /// Where the console (mounted at `/` by the server) serves the entry's icon: `/assets/catalog/NAME.svg`, a stable
    /// path that the entry's file names as its `image_url`, so an installed integration shows it.
    pub fn image_url(&self) -> String {
        format!("{ICON_PATH}{}.svg", self.name)
    }

    /// The setting `key`.
    pub fn setting(&self, key: &str) -> Option<&'static Setting> {
        self.settings.iter().find(|setting| setting.key == key)
    }
}

/// The path under which the entries' icons are served, each as `NAME.svg`.
pub const ICON_PATH: &str = "/assets/catalog/";

/// The content type of the entries' icons.
pub const ICON_CONTENT_TYPE: &str = "image/svg+xml";

/// The icon named by a path's last segment (`slack.svg`), if an entry has it.
pub fn icon(file_name: &str) -> Option<&'static str> {
    let name = file_name.strip_suffix(".svg")?;
    ENTRIES.iter().find(|entry| entry.name == name).map(|entry| entry.icon)
}

/// Every entry, by name.
pub fn entries() -> &'static [Entry] {
    ENTRIES
}

/// The entry named `name`, or an error naming the closest one.
pub fn entry(name: &str) -> Result<&'static Entry, CatalogError> {
    ENTRIES.iter().find(|entry| entry.name == name).ok_or_else(|| CatalogError::UnknownEntry {
        name: name.to_owned(),
        suggestion: crate::install::closest(name, ENTRIES.iter().map(|entry| entry.name)),
        known: ENTRIES.iter().map(|entry| entry.name).collect::<Vec<_>>().join(", "),
    })
}

const fn url(key: &'static str, label: &'static str, description: &'static str) -> Setting {
    Setting {
        key,
        label,
        description,
        kind: SettingKind::Url,
        default: None,
        optional: false,
        placeholder: "",
        hosts: &[],
    }
}

const fn text(key: &'static str, label: &'static str, description: &'static str) -> Setting {
    Setting {
        key,
        label,
        description,
        kind: SettingKind::Text,
        default: None,
        optional: false,
        placeholder: "",
        hosts: &[],
    }
}

const fn secret(key: &'static str, label: &'static str, description: &'static str) -> Setting {
    Setting {
        key,
        label,
        description,
        kind: SettingKind::Secret,
        default: None,
        optional: false,
        placeholder: "",
        hosts: &[],
    }
}

impl Setting {
    const fn placeholder(mut self, placeholder: &'static str) -> Self {
        self.placeholder = placeholder;
        self
    }

    const fn default(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self.placeholder = value;
        self
    }

    const fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    const fn kind(mut self, kind: SettingKind) -> Self {
        self.kind = kind;
        self
    }

    const fn hosts(mut self, hosts: &'static [&'static str]) -> Self {
        self.hosts = hosts;
        self
    }
}

static ENTRIES: &[Entry] = &[
    Entry {
        name: "slack",
        title: "Slack",
        summary: "Post a message to a channel (chat.postMessage with OAuth or a bot token), or through an incoming webhook.",
        file: "catalog/slack.yaml",
        source: include_str!("../../../catalog/slack.yaml"),
        icon: include_str!("../../../catalog/icons/slack.svg"),
        settings: &[
            url("base_url", "Slack URL", "Base URL of Slack's Web API and OAuth endpoints.").default("https://slack.com"),
            text("client_id", "OAuth client ID", "Client ID of your Slack app (Basic Information), for `Post a message (OAuth)`.")
                .placeholder("0000000000.0000000000000")
                .optional(),
            secret("client_secret", "OAuth client secret", "Client secret of your Slack app, for `Post a message (OAuth)`.")
                .optional(),
            secret("bot_token", "Bot token", "A bot token (`xoxb-…`) with the `chat:write` scope, for `Post a message (bot token)`.")
                .optional(),
            secret("webhook_url", "Incoming webhook URL", "The URL of an incoming webhook (`https://hooks.slack.com/services/…`), for `Post via incoming webhook`.")
                .kind(SettingKind::SecretUrl)
                .hosts(&["hooks.slack.com"])
                .optional(),
        ],
    },
    Entry {
        name: "microsoft-teams",
        title: "Microsoft Teams",
        summary: "Post an Adaptive Card to a channel through a Teams Workflows webhook.",
        file: "catalog/microsoft-teams.yaml",
        source: include_str!("../../../catalog/microsoft-teams.yaml"),
        icon: include_str!("../../../catalog/icons/microsoft-teams.svg"),
        settings: &[secret(
            "webhook_url",
            "Workflows webhook URL",
            "The HTTP POST URL of a Teams workflow \"Post to a channel when a webhook request is received\".",
        )
        .kind(SettingKind::SecretUrl)
        .hosts(&["*.logic.azure.com", "*.powerplatform.com", "*.webhook.office.com"])],
    },
    Entry {
        name: "jira-cloud",
        title: "Jira Cloud",
        summary: "Create an issue (its key mapped to a custom field), add a comment, transition an issue.",
        file: "catalog/jira-cloud.yaml",
        source: include_str!("../../../catalog/jira-cloud.yaml"),
        icon: include_str!("../../../catalog/icons/jira-cloud.svg"),
        settings: &[
            url("site_url", "Site URL", "Your Jira Cloud site, such as `https://your-domain.atlassian.net`.")
                .placeholder("https://your-domain.atlassian.net"),
            text("email", "Account email", "Email address of the Atlassian account the API token belongs to.")
                .placeholder("you@example.com"),
            secret("api_token", "API token", "An API token of that account (id.atlassian.com, Security, API tokens)."),
        ],
    },
    Entry {
        name: "servicenow",
        title: "ServiceNow",
        summary: "Create a change request (Table API), then poll it until it reaches a chosen state or is cancelled.",
        file: "catalog/servicenow.yaml",
        source: include_str!("../../../catalog/servicenow.yaml"),
        icon: include_str!("../../../catalog/icons/servicenow.svg"),
        settings: &[
            url("instance_url", "Instance URL", "Your instance, such as `https://your-instance.service-now.com`.")
                .placeholder("https://your-instance.service-now.com"),
            text("username", "User name", "A user with the `itil` role, for basic auth (`Create a change request`).")
                .placeholder("cutover.integration")
                .optional(),
            secret("password", "Password", "That user's password, for basic auth.").optional(),
            text("client_id", "OAuth client ID", "Client ID of an OAuth application registry entry, for `Create a change request (OAuth)`.")
                .placeholder("your-oauth-client-id")
                .optional(),
            secret("client_secret", "OAuth client secret", "Its client secret (client credentials grant).").optional(),
        ],
    },
    Entry {
        name: "pagerduty",
        title: "PagerDuty",
        summary: "Trigger and resolve an alert with the Events API v2; the dedup key is derived from the task.",
        file: "catalog/pagerduty.yaml",
        source: include_str!("../../../catalog/pagerduty.yaml"),
        icon: include_str!("../../../catalog/icons/pagerduty.svg"),
        settings: &[
            url("events_url", "Events API URL", "`https://events.pagerduty.com`, or `https://events.eu.pagerduty.com` for the EU service region.")
                .default("https://events.pagerduty.com"),
            secret("routing_key", "Routing key", "The integration key of an Events API v2 integration on a PagerDuty service."),
        ],
    },
    Entry {
        name: "github-actions",
        title: "GitHub Actions",
        summary: "Dispatch a workflow and poll its run until it completes; success only if it concluded `success`.",
        file: "catalog/github-actions.yaml",
        source: include_str!("../../../catalog/github-actions.yaml"),
        icon: include_str!("../../../catalog/icons/github-actions.svg"),
        settings: &[
            url("api_url", "API URL", "`https://api.github.com`, or `https://HOST/api/v3` for GitHub Enterprise Server.")
                .default("https://api.github.com"),
            secret("token", "Token", "A fine-grained personal access token (or app token) with Actions read and write on the repositories."),
        ],
    },
    Entry {
        name: "standard-webhooks",
        title: "Standard Webhooks",
        summary: "POST a JSON event signed per the Standard Webhooks specification.",
        file: "catalog/standard-webhooks.yaml",
        source: include_str!("../../../catalog/standard-webhooks.yaml"),
        icon: include_str!("../../../catalog/icons/standard-webhooks.svg"),
        settings: &[
            url("url", "Receiver URL", "Where events are posted.").placeholder("https://receiver.example.com/webhooks/cutover"),
            secret("secret", "Signing secret", "`whsec_` followed by the base64 of 24 to 64 random bytes, shared with the receiver.")
                .kind(SettingKind::WebhookSecret),
        ],
    },
];
