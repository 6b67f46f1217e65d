//! Every entry as shipped and installed: valid, predefined, its settings in place, its secrets in system parameters,
//! its hosts pinned; and the refusals, with their messages.

use cutover_integrations_catalog::{
    CatalogError, ICON_PATH, InstallTarget, SettingKind, entries, entry, icon as icon_named, parameter_name,
};
use cutover_integrations_model::{AuthSettings, Definition, IntegrationKind, SourceFile, Validator};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// Settings that install every entry (required ones, and every optional one so that nothing is left unset).
fn sample_settings(name: &str) -> BTreeMap<String, String> {
    let pairs: &[(&str, &str)] = match name {
        "slack" => &[
            ("base_url", "https://slack.example.org/"),
            ("client_id", "123.456"),
            ("client_secret", "s3cret-client"),
            ("bot_token", "xoxb-1-2-3"),
            ("webhook_url", "https://hooks.slack.com/services/T0/B0/XYZ"),
        ],
        "microsoft-teams" => {
            &[("webhook_url", "https://prod-01.westeurope.logic.azure.com:443/workflows/abc/triggers")]
        }
        "jira-cloud" => {
            &[("site_url", "https://acme.atlassian.net"), ("email", "ops@acme.test"), ("api_token", "atl-token")]
        }
        "servicenow" => &[
            ("instance_url", "https://acme.service-now.com"),
            ("username", "cutover"),
            ("password", "pw-123"),
            ("client_id", "client-9"),
            ("client_secret", "cs-9"),
        ],
        "pagerduty" => &[("events_url", "https://events.eu.pagerduty.com"), ("routing_key", "R0UT1NGKEY")],
        "github-actions" => &[("api_url", "https://github.acme.test/api/v3"), ("token", "ghp_token")],
        "standard-webhooks" => {
            &[("url", "http://127.0.0.1:9000/hooks"), ("secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
        }
        other => panic!("no sample settings for {other}"),
    };
    pairs.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect()
}

#[test]
fn every_entry_is_valid_and_predefined_as_shipped() {
    assert_eq!(entries().len(), 7);
    for entry in entries() {
        let parsed = Validator::new().parse(&SourceFile::new(entry.file, entry.source));
        let parsed = parsed.unwrap_or_else(|errors| panic!("{}: {errors:?}", entry.name));
        let Definition::Integration(integration) = parsed.definition() else {
            panic!("{} is not an integration", entry.name)
        };
        assert_eq!(integration.integration_kind, IntegrationKind::Predefined, "{}", entry.name);
        assert_eq!(integration.name, entry.title, "{}", entry.name);
        assert!(!integration.actions.is_empty(), "{}", entry.name);
        for field in &integration.custom_fields {
            assert!(!field.restrict_to.is_empty(), "{}: field {} is restricted to its actions", entry.name, field.name);
        }
        for action in &integration.actions {
            assert!(!action.allowed_hosts.is_empty(), "{}: {} lists its hosts", entry.name, action.name);
        }
        // Every setting stands somewhere in the file, and every system parameter the file reads is a secret setting.
        for setting in entry.settings {
            let marker = if setting.kind.is_secret() {
                format!("{{{{SystemParameter['{}']}}}}", parameter_name(entry.title, setting.key))
            } else {
                setting.placeholder.to_owned()
            };
            assert!(entry.source.contains(&marker), "{}: setting {} stands as `{marker}`", entry.name, setting.key);
        }
        for reference in entry.source.split("SystemParameter['").skip(1) {
            let parameter = reference.split('\'').next().unwrap();
            assert!(
                entry.settings.iter().any(|s| s.kind.is_secret() && parameter_name(entry.title, s.key) == parameter),
                "{}: `{parameter}` is not a secret setting",
                entry.name
            );
        }
        assert!(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(entry.file).is_file());
    }
}

#[test]
fn every_entry_installs_with_its_settings_in_place() {
    for entry in entries() {
        let settings = sample_settings(entry.name);
        let installation = entry.install(None, &settings, InstallTarget::Engine).expect(entry.name);
        let integration = &installation.integration;
        assert_eq!(integration.integration_kind, IntegrationKind::Predefined);
        assert_eq!(integration.image_url.as_deref(), Some(entry.image_url().as_str()), "{}", entry.name);
        assert!(installation.unset_parameters.is_empty(), "{}: {:?}", entry.name, installation.unset_parameters);
        let text = installation.to_yaml();
        for setting in entry.settings {
            let value = &settings[setting.key];
            if setting.kind.is_secret() {
                assert!(
                    !text.contains(value.as_str()),
                    "{}: the secret {} is not in the definition",
                    entry.name,
                    setting.key
                );
                let parameter = installation
                    .system_parameters
                    .iter()
                    .find(|parameter| parameter.name == parameter_name(entry.title, setting.key))
                    .unwrap_or_else(|| panic!("{}: a parameter for {}", entry.name, setting.key));
                assert!(parameter.secret);
                assert_eq!(parameter.value.expose(), value);
            } else {
                assert!(text.contains(value.trim_end_matches('/')), "{}: {} is in place", entry.name, setting.key);
                assert!(
                    !text.contains(setting.placeholder) || setting.placeholder == value,
                    "{}: {}",
                    entry.name,
                    setting.key
                );
            }
        }
        // Every action may reach only the hosts of the URL settings it uses.
        for action in &integration.actions {
            let hosts: Vec<String> = action.allowed_hosts.iter().map(ToString::to_string).collect();
            for host in &hosts {
                assert!(
                    entry.settings.iter().filter(|s| s.kind.is_url()).any(|s| settings[s.key].contains(host.as_str())),
                    "{}: {} reaches {host}",
                    entry.name,
                    action.name
                );
            }
        }
    }
}

#[test]
fn a_second_install_under_another_name_has_its_own_parameters() {
    let jira = entry("jira-cloud").unwrap();
    let installation = jira.install(Some("Jira EU"), &sample_settings("jira-cloud"), InstallTarget::Engine).unwrap();
    assert_eq!(installation.integration.name, "Jira EU");
    assert_eq!(installation.system_parameters[0].name, "jira_eu_api_token");
    let AuthSettings::Basic { username, password } = &installation.integration.actions[0].auth else { panic!() };
    assert_eq!(username, "ops@acme.test");
    assert_eq!(password.expose(), "{{SystemParameter['jira_eu_api_token']}}");
    assert_eq!(
        installation.integration.actions[0].request.as_ref().unwrap().url,
        "https://acme.atlassian.net/rest/api/3/issue"
    );
}

#[test]
fn a_file_install_keeps_secrets_out_and_says_what_to_set() {
    let jira = entry("jira-cloud").unwrap();
    let mut settings = sample_settings("jira-cloud");
    settings.remove("api_token");
    let installation = jira.install(None, &settings, InstallTarget::File).unwrap();
    assert!(installation.system_parameters.is_empty());
    assert_eq!(installation.unset_parameters.len(), 1);
    assert!(installation.to_yaml().contains("cutover system-parameter set jira_cloud_api_token --secret"));

    settings.insert("api_token".into(), "atl-secret-value".into());
    let error = jira.install(None, &settings, InstallTarget::File).unwrap_err();
    assert!(matches!(error, CatalogError::SecretInFile { .. }), "{error}");
    assert!(!error.to_string().contains("atl-secret-value"));
}

#[test]
fn refusals_say_what_is_wrong() {
    let check = |entry_name: &str, settings: &[(&str, &str)], expected: &str| {
        let settings: BTreeMap<String, String> =
            settings.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect();
        let error = entry(entry_name).and_then(|entry| entry.install(None, &settings, InstallTarget::Engine));
        let message = error.expect_err(expected).to_string();
        assert_eq!(message, expected);
    };
    check(
        "jira",
        &[],
        "no catalog entry `jira`; entries: slack, microsoft-teams, jira-cloud, servicenow, pagerduty, github-actions, standard-webhooks",
    );
    check(
        "pagerdty",
        &[],
        "no catalog entry `pagerdty` (did you mean `pagerduty`?); entries: slack, microsoft-teams, jira-cloud, servicenow, pagerduty, github-actions, standard-webhooks",
    );
    check(
        "pagerduty",
        &[("routing_keys", "k")],
        "entry `pagerduty` has no setting `routing_keys` (did you mean `routing_key`?); settings: events_url, routing_key",
    );
    check(
        "pagerduty",
        &[],
        "entry `pagerduty` needs the setting `routing_key`: The integration key of an Events API v2 integration on a PagerDuty service.",
    );
    check(
        "jira-cloud",
        &[("site_url", "acme.atlassian.net"), ("email", "a@b.c"), ("api_token", "t")],
        "setting `site_url`: `acme.atlassian.net` is not an absolute URL: relative URL without a base",
    );
    check(
        "jira-cloud",
        &[("site_url", "ftp://acme.atlassian.net"), ("email", "a@b.c"), ("api_token", "t")],
        "setting `site_url`: `ftp://acme.atlassian.net` is not an http(s) URL with a host",
    );
    check(
        "jira-cloud",
        &[("site_url", "https://acme.atlassian.net"), ("email", "a\"@b.c"), ("api_token", "t")],
        "setting `email`: `a\"@b.c` may not contain quotes, backslashes, `{{` or `}}`",
    );
    check(
        "microsoft-teams",
        &[("webhook_url", "https://user:hunter2@x.test/hook")],
        "setting `webhook_url`: the value may not carry credentials or a fragment",
    );
    check(
        "standard-webhooks",
        &[("url", "https://r.test/"), ("secret", "hunter2hunter2")],
        "setting `secret`: a Standard Webhooks secret starts with `whsec_` (then the base64 of 24 to 64 bytes)",
    );
    let mut settings = BTreeMap::new();
    settings.insert("routing_key".to_owned(), "k".to_owned());
    let error = entry("pagerduty").unwrap().install(Some("a/b"), &settings, InstallTarget::Engine).unwrap_err();
    assert_eq!(error.to_string(), "invalid integration name: a name may not contain `/` or control characters");
}

/// Every entry has an icon of our own: a small, self-contained SVG (no script, no link to anything), named by the
/// entry's file as its `image_url` and found by the name the console serves it under.
#[test]
fn every_entry_has_its_own_icon() {
    let mut seen = std::collections::BTreeSet::new();
    for entry in entries() {
        let icon = entry.icon;
        assert!(icon.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32""#), "{}", entry.name);
        assert!(icon.trim_end().ends_with("</svg>"), "{}", entry.name);
        assert!(icon.len() < 2048, "{}: {} bytes", entry.name, icon.len());
        for refused in ["<script", "href", "url(", "<image", "<foreignObject", " on"] {
            assert!(!icon.contains(refused), "{}: holds `{refused}`", entry.name);
        }
        assert!(seen.insert(icon), "{}: the same icon as another entry", entry.name);
        assert_eq!(entry.image_url(), format!("{ICON_PATH}{}.svg", entry.name));
        assert_eq!(entry.integration().image_url, Some(entry.image_url()), "{}", entry.name);
        assert_eq!(icon_named(&format!("{}.svg", entry.name)), Some(icon));
    }
    for unknown in ["slack", "slack.png", "../slack.svg", "", ".svg"] {
        assert_eq!(icon_named(unknown), None, "{unknown}");
    }
}

#[test]
fn settings_kinds_are_consistent() {
    for entry in entries() {
        for setting in entry.settings {
            assert!(!setting.description.is_empty() && !setting.label.is_empty());
            if setting.kind.is_secret() {
                assert!(setting.placeholder.is_empty() && setting.default.is_none(), "{}: {}", entry.name, setting.key);
            } else {
                assert!(!setting.placeholder.is_empty(), "{}: {}", entry.name, setting.key);
            }
            if setting.kind == SettingKind::SecretUrl {
                assert!(!setting.hosts.is_empty(), "{}: {} has default hosts", entry.name, setting.key);
            }
        }
    }
}

proptest! {
    /// Any plain value of a text setting lands in the definition as it is, and the result validates.
    #[test]
    fn text_values_install_verbatim(email in "[a-zA-Z0-9._%+-]{1,20}@[a-z0-9-]{1,12}\\.[a-z]{2,6}", name in "[A-Za-z][A-Za-z0-9 ()-]{0,30}") {
        let mut settings = sample_settings("jira-cloud");
        settings.insert("email".into(), email.clone());
        let installation = entry("jira-cloud").unwrap().install(Some(&name), &settings, InstallTarget::Engine).unwrap();
        let AuthSettings::Basic { username, .. } = &installation.integration.actions[0].auth else { panic!() };
        prop_assert_eq!(username, &email);
        prop_assert_eq!(&installation.integration.name, name.trim());
    }
}
