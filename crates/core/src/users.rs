//! The rules of a new user, in one place for the REST API and the console: a name, an email address, at least one
//! role; names and addresses trimmed, roles sorted without repeats.

use crate::error::{EngineError, InputProblem};
use cutover_integrations_store::NewUser;

/// The longest name or email address accepted, in characters.
pub const MAX_USER_TEXT: usize = 320;

/// `user` as it is stored (trimmed, roles sorted and deduplicated), or every problem with it, each at its field
/// (`name`, `email`, `roles`).
pub fn checked_new_user(user: &NewUser) -> Result<NewUser, EngineError> {
    let name = user.name.trim();
    let email = user.email.trim();
    let mut problems = Vec::new();
    if name.is_empty() {
        problems.push(InputProblem::new("name", "must not be empty"));
    }
    let address = email.split_once('@').filter(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !email.contains(char::is_whitespace) && !domain.contains('@')
    });
    if address.is_none() {
        problems.push(InputProblem::new("email", format!("`{email}` is not an email address")));
    }
    // Counted as sent (before trimming): the documented limit holds for the text a client sends.
    for (field, text) in [("name", user.name.as_str()), ("email", user.email.as_str())] {
        if text.chars().count() > MAX_USER_TEXT {
            problems.push(InputProblem::new(field, format!("is longer than {MAX_USER_TEXT} characters")));
        }
    }
    if user.roles.is_empty() {
        problems.push(InputProblem::new("roles", "give at least one role"));
    }
    if !problems.is_empty() {
        return Err(EngineError::InvalidInput { problems });
    }
    let mut roles = user.roles.clone();
    roles.sort();
    roles.dedup();
    Ok(NewUser { name: name.to_owned(), email: email.to_owned(), roles })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_integrations_model::Role;

    fn user(name: &str, email: &str, roles: &[Role]) -> NewUser {
        NewUser { name: name.to_owned(), email: email.to_owned(), roles: roles.to_vec() }
    }

    #[test]
    fn new_users_are_checked_and_normalised() {
        let long = "x".repeat(MAX_USER_TEXT + 1);
        let cases: Vec<(NewUser, Result<NewUser, Vec<&str>>)> = vec![
            (
                user(" Ada ", " ada@example.com ", &[Role::Viewer, Role::Admin, Role::Viewer]),
                Ok(user("Ada", "ada@example.com", &[Role::Admin, Role::Viewer])),
            ),
            (
                user("  ", "ada", &[]),
                Err(vec![
                    "name: must not be empty",
                    "email: `ada` is not an email address",
                    "roles: give at least one role",
                ]),
            ),
            (user("A", "@example.com", &[Role::Viewer]), Err(vec!["email: `@example.com` is not an email address"])),
            (
                user("A", "a b@example.com", &[Role::Viewer]),
                Err(vec!["email: `a b@example.com` is not an email address"]),
            ),
            (user("A", "a@b@c", &[Role::Viewer]), Err(vec!["email: `a@b@c` is not an email address"])),
            (user(&long, "a@example.com", &[Role::Viewer]), Err(vec!["name: is longer than 320 characters"])),
            (
                user("A", &format!("\u{2007}{}@example.com", "x".repeat(MAX_USER_TEXT - 12)), &[Role::Viewer]),
                Err(vec!["email: is longer than 320 characters"]),
            ),
        ];
        for (input, expected) in cases {
            let found = checked_new_user(&input).map_err(|error| match error {
                EngineError::InvalidInput { problems } => problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
                other => vec![other.to_string()],
            });
            let expected = expected.map_err(|lines| lines.iter().map(|line| (*line).to_owned()).collect::<Vec<_>>());
            assert_eq!(found, expected, "{input:?}");
        }
    }
}
