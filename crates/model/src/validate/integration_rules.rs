//! Rules within one integration file: names, custom field references, settings that exclude each other.

use super::FileContext;
use super::templates::declared_fields;
use crate::parse::path::FieldPath;
use crate::parse::reader::quoted_list;
use crate::{AuthSettings, Condition, Integration};
use std::collections::{BTreeMap, HashMap};

/// Checks one integration.
pub(crate) fn check(context: &mut FileContext<'_>, integration: &Integration) {
    let root = FieldPath::root();
    let name_path = root.key("name");
    if context.walker.is_clean(&name_path) {
        if integration.name.trim().is_empty() {
            context.error(&name_path, "must not be empty");
        } else if integration.name.contains('/') {
            context.error(&name_path, "an integration name may not contain `/`, which separates `INTEGRATION/ACTION`");
        }
    }
    image_url(context, &root.key("image_url"), integration.image_url.as_deref());
    let action_names: Vec<&str> = integration.actions.iter().map(|action| action.name.as_str()).collect();
    let field_names: Vec<&str> = integration.custom_fields.iter().map(|field| field.name.as_str()).collect();

    let fields_path = root.key("custom_fields");
    unique_values(context, &fields_path, "name", &field_names, "custom field name");
    for (index, field) in integration.custom_fields.iter().enumerate() {
        let field_path = fields_path.index(index);
        for (position, action) in field.restrict_to.iter().enumerate() {
            let path = field_path.key("restrict_to").index(position);
            if context.walker.is_clean(&path) && !action_names.contains(&action.as_str()) {
                let known = if action_names.is_empty() {
                    "the integration has no actions".to_owned()
                } else {
                    format!("the integration's actions are {}", quoted_list(action_names.iter().copied()))
                };
                context.error(&path, format!("unknown action `{action}`; {known}"));
            }
        }
        let mut seen = Vec::new();
        for (position, option) in field.options.iter().enumerate() {
            let path = field_path.key("options").index(position);
            if seen.contains(&option) && context.walker.is_clean(&path) {
                context.error(&path, format!("duplicate option `{option}`"));
            }
            seen.push(option);
        }
    }

    let actions_path = root.key("actions");
    unique_values(context, &actions_path, "name", &action_names, "action name");
    for (index, action) in integration.actions.iter().enumerate() {
        let action_path = actions_path.index(index);
        image_url(context, &action_path.key("image_url"), action.image_url.as_deref());
        let settings = &action.settings;
        let fixed_path = action_path.key("settings").key("fixed_start_time");
        if settings.auto_start && settings.fixed_start_time && context.walker.is_clean(&fixed_path) {
            context.error_at_key(&fixed_path, "`fixed_start_time` cannot be combined with `auto_start`");
        }
        if let AuthSettings::Oauth2(oauth) = &action.auth {
            let auth_path = action_path.key("auth");
            let endpoints = [
                ("provider_host", Some(&oauth.provider_host), true),
                ("token_endpoint", Some(&oauth.token_endpoint), false),
                ("authorization_endpoint", oauth.authorization_endpoint.as_ref(), false),
            ];
            for (key, value, absolute) in endpoints {
                let path = auth_path.key(key);
                if let Some(message) = value.and_then(|value| oauth_url_problem(value, absolute))
                    && context.walker.is_clean(&path)
                {
                    context.error(&path, message);
                }
            }
        }
        if let Some(request) = &action.request {
            header_names(context, &action_path.key("request"), &request.headers);
        }
        if let Some(webhook) = &settings.notify_webhook_on_cancel {
            header_names(context, &action_path.key("settings").key("notify_webhook_on_cancel"), &webhook.headers);
        }
        if let Some(response) = &action.response {
            let response_path = action_path.key("response");
            for (position, status) in response.success_statuses.iter().enumerate() {
                let path = response_path.key("success_statuses").index(position);
                if !(100..=599).contains(status) && context.walker.is_clean(&path) {
                    context.error(&path, format!("{status} is not an HTTP status (100 to 599)"));
                }
            }
            conditions(context, &response_path.key("success_when"), &response.success_when);
            conditions(context, &response_path.key("failure_when"), &response.failure_when);
            mapped_fields(context, &response_path.key("map"), &response.map, &field_names);
        }
        if let Some(polling) = &action.polling {
            let polling_path = action_path.key("polling");
            header_names(context, &polling_path, &polling.headers);
            conditions(context, &polling_path.key("complete_when"), &polling.complete_when);
            conditions(context, &polling_path.key("fail_when"), &polling.fail_when);
            mapped_fields(context, &polling_path.key("map"), &polling.map, &field_names);
        }
    }
}

/// An icon URL, when given, is an absolute `http(s)` URL or a path on this server (`/assets/catalog/slack.svg`, the
/// catalog's icons): pages show it as an image.
fn image_url(context: &mut FileContext<'_>, path: &FieldPath, value: Option<&str>) {
    let problem = value.and_then(|value| match value.strip_prefix('/') {
        Some(rest) => server_path_problem(value, rest),
        None => oauth_url_problem(value, true),
    });
    if let Some(message) = problem
        && context.walker.is_clean(path)
    {
        context.error(path, message);
    }
}

/// What is wrong with an image path on this server: `rest` (after the leading `/`) is a plain path, not `//host`
/// (which a browser reads as another host), with no backslash, space, control character, query or fragment.
fn server_path_problem(value: &str, rest: &str) -> Option<String> {
    let plain = !rest.starts_with('/')
        && !rest.is_empty()
        && !rest.chars().any(|c| c == '\\' || c == '?' || c == '#' || c.is_whitespace() || c.is_control());
    (!plain).then(|| format!("`{value}` is neither an absolute `http(s)` URL nor a plain path on this server"))
}

/// What is wrong with an OAuth URL: the provider host must be an absolute `http(s)` URL; an endpoint is a path under
/// it or an absolute `http(s)` URL. (The auth crate resolves them when tokens are requested; this catches `file:` and
/// the like when the file is saved.)
fn oauth_url_problem(value: &str, absolute: bool) -> Option<String> {
    let scheme = value.split_once(':').map(|(scheme, _)| scheme).filter(|scheme| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    });
    let rest = scheme.map(|scheme| &value[scheme.len() + 1..]);
    match (scheme, rest) {
        (Some(scheme), Some(rest)) if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") => {
            let host = rest.strip_prefix("//").map(|after| after.split(['/', '?', '#']).next().unwrap_or(""));
            match host {
                Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => None,
                _ => Some(format!("`{value}` is not an absolute URL with a host")),
            }
        }
        (Some(scheme), _) => Some(format!("only `http` and `https` URLs can be used; this one is `{scheme}`")),
        (None, _) if absolute => Some(format!("`{value}` is not an absolute `http(s)` URL")),
        (None, _) => None,
    }
}

/// Reports empty values of `key` in the items of a list, and every value used by an earlier item.
///
/// `label` names the value in messages, such as "action name" or "task id".
pub(crate) fn unique_values(
    context: &mut FileContext<'_>,
    list_path: &FieldPath,
    key: &str,
    values: &[&str],
    label: &str,
) {
    let mut first_index: HashMap<&str, usize> = HashMap::with_capacity(values.len());
    for (index, value) in values.iter().enumerate() {
        let path = list_path.index(index).key(key);
        if !context.walker.is_clean(&path) {
            continue;
        }
        if value.trim().is_empty() {
            context.error(&path, "must not be empty");
            continue;
        }
        let first = *first_index.entry(value).or_insert(index);
        if first != index {
            let first_position = context.walker.source_map.position(&list_path.index(first).key(key));
            let message =
                format!("duplicate {label} `{value}` (first at {}:{})", first_position.line, first_position.column);
            context.error(&path, message);
        }
    }
}

/// Header names must be HTTP tokens.
pub(crate) fn header_names(
    context: &mut FileContext<'_>,
    section_path: &FieldPath,
    headers: &BTreeMap<String, String>,
) {
    for name in headers.keys() {
        let path = section_path.key("headers").key(name);
        let is_token = !name.is_empty()
            && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte));
        if !is_token && context.walker.is_clean(&path) {
            context.error_at_key(&path, format!("`{name}` is not a valid header name"));
        }
    }
}

/// Condition paths must not be empty.
fn conditions(context: &mut FileContext<'_>, list_path: &FieldPath, conditions: &[Condition]) {
    for (index, condition) in conditions.iter().enumerate() {
        let path = list_path.index(index).key("path");
        if condition.path.trim().is_empty() && context.walker.is_clean(&path) {
            context.error(&path, "must not be empty");
        }
    }
}

/// Response mappings write custom fields, which the integration must declare.
fn mapped_fields(
    context: &mut FileContext<'_>,
    map_path: &FieldPath,
    map: &BTreeMap<String, String>,
    declared: &[&str],
) {
    for (field, json_path) in map {
        let path = map_path.key(field);
        if !context.walker.is_clean(&path) {
            continue;
        }
        if !declared.contains(&field.as_str()) {
            context.error_at_key(&path, format!("unknown custom field `{field}`; {}", declared_fields(declared)));
        } else if json_path.trim().is_empty() {
            context.error(&path, "must not be empty");
        }
    }
}
