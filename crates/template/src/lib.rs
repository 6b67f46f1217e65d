//! The payload templating engine: Cutover's dynamic fields (`{{CustomField['Slack Channel']}}`) rendered on handlebars.
//!
//! This crate will own the template dialect of contract section 3: our own parser with positions for bracket keys,
//! dotted paths and Liquid-style filter chains, mapped onto handlebars; escaping by the context a template lands in
//! (JSON payload, JSON params, URL, header value, plain text), so that a rendered JSON payload always parses; strict
//! resolution of missing values; and the validation hook `cutover validate` uses to check templates at save time.
