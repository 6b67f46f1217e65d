//! `cutover render FILE --action NAME --context CONTEXT.json [--show-secrets]`: prints the request an action would send.
//!
//! The output is JSON `{"method","url","headers","body"}` (`body` null without a payload). Secrets print as
//! `[REDACTED]` unless `--show-secrets`: the credential values (`Authorization` of token and basic auth, API keys),
//! the value of every system parameter a secret-bearing auth field reads, and the system parameters the context marks
//! `{"value": "…", "secret": true}`.

use crate::terminal::complain;
use clap::Args;
use cutover_integrations_model::{Action, AuthSettings, Definition, SourceFile, Validator};
use cutover_integrations_template::{Checker, RequestTemplate, TemplateContext, TemplateError};
use std::path::PathBuf;
use std::process::ExitCode;

/// What an OAuth 2 action's `Authorization` header shows: the token only exists when the action fires.
const OAUTH2_AUTHORIZATION: &str = "Bearer <OAuth 2 access token, obtained when the action fires>";

/// Arguments of `cutover render`.
#[derive(Debug, Args)]
pub(crate) struct RenderArgs {
    /// The integration definition file; `.json` files are read as JSON, others as YAML.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The name of the action whose request to render.
    #[arg(long, value_name = "NAME")]
    action: String,
    /// The template context: `{"CustomField":{…},"Task":{…},"Runbook":{…},"SystemParameter":{…}}`; a system
    /// parameter written `{"value": "…", "secret": true}` is a secret.
    #[arg(long, value_name = "CONTEXT.json")]
    context: PathBuf,
    /// Print secrets instead of `[REDACTED]`.
    #[arg(long)]
    show_secrets: bool,
}

/// Renders the action's request; exit 0 with the JSON on stdout, 1 with one error per line on stderr.
pub(crate) fn run(args: &RenderArgs) -> ExitCode {
    match render(args) {
        Ok(json) => {
            crate::terminal::out_raw(&format!("{json}\n"));
            ExitCode::SUCCESS
        }
        Err(lines) => {
            for line in lines {
                complain!("{line}");
            }
            ExitCode::FAILURE
        }
    }
}

fn read(path: &PathBuf) -> Result<String, Vec<String>> {
    std::fs::read_to_string(path).map_err(|error| vec![format!("{}: cannot read: {error}", path.display())])
}

fn render(args: &RenderArgs) -> Result<String, Vec<String>> {
    let file = args.file.display().to_string();
    let text = read(&args.file)?;
    let checker = Checker;
    let set = Validator::with_checker(&checker)
        .validate(&[SourceFile::new(&file, &text)])
        .map_err(|diagnostics| diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    let (index, action) = find_action(set.definitions().iter().map(|d| d.definition()), &args.action)
        .map_err(|message| vec![format!("{file}: {message}")])?;

    let context_file = args.context.display().to_string();
    let context = TemplateContext::parse_document(&read(&args.context)?)
        .map_err(|error| vec![format!("{context_file}: {}", error.message())])?;

    let field_error = |error: TemplateError| vec![format!("{file}: {}", located(index, &error))];
    let spec = action.request.as_ref().ok_or_else(|| {
        vec![format!("{file}: actions[{index}]: action `{}` is a draft: it has no request to render", action.name)]
    })?;
    let request =
        RequestTemplate::compile(spec).and_then(|request| request.with_auth(&action.auth)).map_err(field_error)?;
    let rendered = request.render(&context).map_err(field_error)?;
    let shown = if args.show_secrets { rendered } else { rendered.redacted() };
    let mut json = shown.to_json();
    if matches!(action.auth, AuthSettings::Oauth2(_))
        && let Some(headers) = json["headers"].as_object_mut()
    {
        headers.insert("Authorization".to_owned(), OAUTH2_AUTHORIZATION.into());
    }
    Ok(serde_json::to_string_pretty(&json).unwrap_or_default())
}

/// The action named `name` in the file's integration, with its index.
fn find_action<'a>(
    definitions: impl Iterator<Item = &'a Definition>,
    name: &str,
) -> Result<(usize, &'a Action), String> {
    let mut known = Vec::new();
    for definition in definitions {
        if let Definition::Integration(integration) = definition {
            if let Some(found) = integration.actions.iter().enumerate().find(|(_, a)| a.name == name) {
                return Ok(found);
            }
            known.extend(integration.actions.iter().map(|a| format!("`{}`", a.name)));
        }
    }
    if known.is_empty() {
        Err("the file defines no integration actions".to_owned())
    } else {
        Err(format!("no action named `{name}`; the actions are {}", known.join(", ")))
    }
}

/// `actions[N].request.payload: 1:9: message` for an error in a request field.
fn located(index: usize, error: &TemplateError) -> String {
    let (field, inner) = match error {
        TemplateError::InField { field, error } => (field.as_str(), error.as_ref()),
        other => ("request", other),
    };
    let path = match field.strip_prefix("auth.") {
        Some(auth_field) => format!("actions[{index}].auth.{auth_field}"),
        None => format!("actions[{index}].request.{field}"),
    };
    match inner.location() {
        Some(at) => format!("{path}: {}:{}: {}", at.line, at.column, inner.message()),
        None => format!("{path}: {}", inner.message()),
    }
}
