//! The page frame: head with our stylesheet and module, the top navigation, the Settings side navigation, and small
//! shared pieces (problem lists, the CSRF field).

use crate::assets;
use crate::guard::{CSRF_FIELD, Signed};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

/// The top navigation's sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Runbooks,
    Settings,
    None,
}

/// The Settings pages, in the side navigation's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SettingsPage {
    Integrations,
    CustomFields,
    SystemParameters,
    EventIntegrations,
    Users,
}

impl SettingsPage {
    const ALL: [Self; 5] =
        [Self::Integrations, Self::CustomFields, Self::SystemParameters, Self::EventIntegrations, Self::Users];

    fn label(self) -> &'static str {
        match self {
            Self::Integrations => "Integrations",
            Self::CustomFields => "Custom Fields",
            Self::SystemParameters => "System Parameters",
            Self::EventIntegrations => "Event Integrations",
            Self::Users => "Users",
        }
    }

    fn href(self) -> &'static str {
        match self {
            Self::Integrations => "/settings/integrations",
            Self::CustomFields => "/settings/custom-fields",
            Self::SystemParameters => "/settings/system-parameters",
            Self::EventIntegrations => "/settings/event-integrations",
            Self::Users => "/settings/users",
        }
    }
}

/// The hidden CSRF field of a form.
pub(crate) fn csrf(signed: &Signed) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(signed.0.csrf); }
}

/// A whole page.
pub(crate) fn page(title: &str, signed: Option<&Signed>, section: Section, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Cutover Integrations" }
                link rel="stylesheet" href=(assets::url("console", "css"));
                link rel="icon" href=(assets::url("integration", "svg"));
                script type="module" src=(assets::url("console", "js")) {}
                @if let Some(signed) = signed {
                    meta name="csrf-token" content=(signed.0.csrf);
                }
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header class="topbar" {
                    a class="brand" href="/" {
                        img src=(assets::url("integration", "svg")) alt="" width="24" height="24";
                        span { "Cutover Integrations" }
                    }
                    @if let Some(signed) = signed {
                        nav aria-label="Main" {
                            a href="/runbooks" aria-current=[(section == Section::Runbooks).then_some("page")] { "Runbooks" }
                            a href="/settings" aria-current=[(section == Section::Settings).then_some("page")] { "Settings" }
                        }
                        div class="who" {
                            span class="user" { (signed.0.user.name) }
                            form method="post" action="/sign-out" {
                                (csrf(signed))
                                button type="submit" class="link" { "Sign out" }
                            }
                        }
                    }
                }
                main id="main" { (content) }
            }
        }
    }
}

/// A Settings page: the side navigation beside `content`.
pub(crate) fn settings(title: &str, signed: &Signed, current: SettingsPage, content: Markup) -> Markup {
    let body = html! {
        div class="settings" {
            nav class="side" aria-label="Settings" {
                h2 { "Settings" }
                ul {
                    @for item in SettingsPage::ALL {
                        li { a href=(item.href()) aria-current=[(item == current).then_some("page")] { (item.label()) } }
                    }
                }
            }
            section class="content" { (content) }
        }
    };
    page(title, Some(signed), Section::Settings, body)
}

/// A list of problems, announced to screen readers.
pub(crate) fn problems(lines: &[String]) -> Markup {
    html! {
        @if !lines.is_empty() {
            div class="problems" role="alert" {
                p { strong { "Not saved:" } }
                ul { @for line in lines { li { (line) } } }
            }
        }
    }
}

/// A page as an HTML answer with a status.
pub(crate) fn respond(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

/// The page of an error that has no better place.
pub(crate) fn error_page(status: StatusCode, lines: &[String]) -> Html<String> {
    let title = status.canonical_reason().unwrap_or("Error");
    let body = html! {
        div class="narrow" {
            h1 { (status.as_u16()) " " (title) }
            ul class="problems" role="alert" { @for line in lines { li { (line) } } }
            p { a href="/" { "Back to the console" } }
        }
    };
    Html(page(title, None, Section::None, body).into_string())
}
