//! Who may do what: the role rules that the REST server and the web console both apply.
//!
//! An operation's [`Access`] names the roles that qualify; `admin` always qualifies. The server checks a route's access
//! before its handler runs; the console checks the same access before a write and offers no control its user may not
//! use.

use cutover_integrations_model::Role;

/// What a caller needs to perform an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Nothing: health, metrics, the OpenAPI document, and the OAuth callback (its one-time `state` authenticates it).
    Public,
    /// The bearer token of a callback fire (`{{Callback.token}}`), checked by the engine in constant time.
    CallbackToken,
    /// A user holding one of these roles; `admin` always qualifies.
    AnyOf(&'static [Role]),
}

/// Every role: reading needs any role at all.
pub const READ: Access = Access::AnyOf(&[
    Role::Viewer,
    Role::Operator,
    Role::RunbookAdmin,
    Role::CustomFieldsAdmin,
    Role::IntegrationsAdmin,
]);
/// Users: admins only.
pub const ADMIN: Access = Access::AnyOf(&[]);
/// Integrations, actions, system parameters.
pub const INTEGRATIONS: Access = Access::AnyOf(&[Role::IntegrationsAdmin]);
/// Custom fields.
pub const CUSTOM_FIELDS: Access = Access::AnyOf(&[Role::CustomFieldsAdmin]);
/// Runbooks: create, start, pause, resume, cancel, duplicate; skip tasks; force a fixed start.
pub const RUNBOOKS: Access = Access::AnyOf(&[Role::RunbookAdmin]);
/// Task operations: start, finish, cancel, refire, set custom field values.
pub const TASKS: Access = Access::AnyOf(&[Role::Operator, Role::RunbookAdmin]);
/// Definition files: integrations need `integrations_admin`, runbooks `runbook_admin` (checked per document).
pub const DEFINITIONS: Access = Access::AnyOf(&[Role::IntegrationsAdmin, Role::RunbookAdmin]);
/// OAuth authorization: the functional user needs `integrations_admin`; a task user authorizes their own task.
pub const OAUTH: Access = Access::AnyOf(&[Role::IntegrationsAdmin, Role::RunbookAdmin, Role::Operator]);

impl Access {
    /// Whether a user holding `roles` may perform an operation with this access.
    pub fn admits(self, roles: &[Role]) -> bool {
        match self {
            Self::Public | Self::CallbackToken => true,
            Self::AnyOf(allowed) => roles.iter().any(|role| *role == Role::Admin || allowed.contains(role)),
        }
    }

    /// The roles that qualify, `admin` first, for messages and the OpenAPI document.
    pub fn roles(self) -> Vec<Role> {
        match self {
            Self::Public | Self::CallbackToken => Vec::new(),
            Self::AnyOf(allowed) => std::iter::once(Role::Admin).chain(allowed.iter().copied()).collect(),
        }
    }
}

/// Whether `roles` include `role` or `admin`.
pub fn holds(roles: &[Role], role: Role) -> bool {
    roles.iter().any(|held| *held == role || *held == Role::Admin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_qualifies_everywhere_and_other_roles_where_listed() {
        let cases = [
            (TASKS, vec![Role::Operator], true),
            (TASKS, vec![Role::Viewer], false),
            (TASKS, vec![Role::Viewer, Role::Admin], true),
            (ADMIN, vec![Role::IntegrationsAdmin], false),
            (ADMIN, vec![Role::Admin], true),
            (READ, vec![], false),
            (READ, vec![Role::Viewer], true),
            (INTEGRATIONS, vec![Role::Viewer], false),
            (INTEGRATIONS, vec![Role::IntegrationsAdmin], true),
            (CUSTOM_FIELDS, vec![Role::IntegrationsAdmin], false),
            (Access::Public, vec![], true),
        ];
        for (access, roles, expected) in cases {
            assert_eq!(access.admits(&roles), expected, "{access:?} {roles:?}");
        }
    }

    #[test]
    fn holding_a_role_includes_admin() {
        assert!(holds(&[Role::Admin], Role::Operator));
        assert!(holds(&[Role::Operator], Role::Operator));
        assert!(!holds(&[Role::Viewer], Role::Operator));
    }
}
