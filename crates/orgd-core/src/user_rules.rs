//! Who may manage which user (model §3): role limits of user managers, self-service limits of users,
//! and the rule that every org keeps an enabled administrator.

use crate::error::{ApiError, ErrorCode};
use crate::model::{Role, User};

fn refuse(message: &str) -> ApiError {
    ApiError::new(ErrorCode::InsufficientRole).with_message(message.to_string())
}

fn conflict(message: &str) -> ApiError {
    ApiError::new(ErrorCode::Conflict).with_message(message.to_string())
}

/// How many enabled administrators are among `users` (an org must keep one).
pub fn enabled_admins(users: &[User]) -> usize {
    users.iter().filter(|u| u.role == Role::Administrator && u.enabled).count()
}

/// What an update touches, for the permission check.
#[derive(Debug, Clone, Default)]
pub struct Touches {
    /// New role, if any.
    pub role: Option<Role>,
    /// Enabled/disabled or expiry.
    pub account_state: bool,
    /// `token_access` or `allowed_subnets`.
    pub admin_only: bool,
    /// `locked: false`.
    pub unlock: bool,
}

/// May `actor` read `target` (same org already ensured)?
pub fn check_read(actor: &User, target: &User) -> Result<(), ApiError> {
    if actor.psk == target.psk || matches!(actor.role, Role::Administrator | Role::UserManager) {
        Ok(())
    } else {
        Err(refuse("Your role can only read your own user."))
    }
}

/// May `actor` create a user with `role`, touching admin-only fields or not?
pub fn check_create(actor: &User, role: Role, admin_only: bool) -> Result<(), ApiError> {
    match actor.role {
        Role::Administrator => Ok(()),
        Role::UserManager if admin_only => Err(refuse("Only administrators set token_access and allowed_subnets.")),
        Role::UserManager if role == Role::Administrator => Err(refuse("User managers cannot create administrators.")),
        Role::UserManager => Ok(()),
        Role::User => Err(refuse("Your role cannot create users.")),
    }
}

/// May `actor` apply `touches` to `target`? `enabled_admins` = enabled administrators of the org.
pub fn check_update(actor: &User, target: &User, t: &Touches, enabled_admins: usize) -> Result<(), ApiError> {
    let own = actor.psk == target.psk;
    match actor.role {
        Role::Administrator => {}
        Role::UserManager => {
            if target.role == Role::Administrator || t.role == Some(Role::Administrator) {
                return Err(refuse("User managers manage only user and user_manager accounts."));
            }
            if t.admin_only || t.unlock {
                return Err(refuse("Only administrators set token_access, allowed_subnets or unlock accounts."));
            }
        }
        Role::User => {
            if !own {
                return Err(refuse("Your role can only change your own user."));
            }
            if t.role.is_some() || t.account_state || t.admin_only || t.unlock {
                return Err(refuse("You can change only your names, e-mail, phone, password and custom metadata."));
            }
        }
    }
    if own && (t.role.is_some_and(|r| r != actor.role) || t.account_state) {
        return Err(conflict("Nobody changes their own role or disables or expires their own account."));
    }
    let demotes = target.role == Role::Administrator
        && target.enabled
        && (t.role.is_some_and(|r| r != Role::Administrator) || t.account_state);
    if demotes && enabled_admins <= 1 {
        return Err(conflict("Every org keeps at least one enabled administrator."));
    }
    Ok(())
}

/// May `actor` delete `target`?
pub fn check_delete(actor: &User, target: &User, enabled_admins: usize) -> Result<(), ApiError> {
    if actor.psk == target.psk {
        return Err(conflict("Nobody deletes their own user."));
    }
    match actor.role {
        Role::Administrator => {}
        Role::UserManager if target.role != Role::Administrator => {}
        Role::UserManager => return Err(refuse("User managers manage only user and user_manager accounts.")),
        Role::User => return Err(refuse("Your role cannot delete users.")),
    }
    if target.role == Role::Administrator && target.enabled && enabled_admins <= 1 {
        return Err(conflict("Every org keeps at least one enabled administrator."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::tests::{org_for_tests, user};

    fn u(role: Role, psk: i64) -> User {
        User { psk, ..user(&org_for_tests(), role) }
    }

    #[test]
    fn user_managers_stay_below_administrators() {
        let um = u(Role::UserManager, 1);
        assert!(check_create(&um, Role::User, false).is_ok());
        assert_eq!(check_create(&um, Role::Administrator, false).unwrap_err().code, ErrorCode::InsufficientRole);
        assert!(check_create(&um, Role::User, true).is_err());
        let admin = u(Role::Administrator, 2);
        assert!(check_update(&um, &admin, &Touches::default(), 2).is_err());
        assert!(check_delete(&um, &admin, 2).is_err());
        assert!(check_delete(&um, &u(Role::User, 3), 2).is_ok());
    }

    #[test]
    fn users_change_only_themselves_and_only_some_fields() {
        let me = u(Role::User, 1);
        assert!(check_update(&me, &me, &Touches::default(), 1).is_ok());
        assert!(check_update(&me, &u(Role::User, 2), &Touches::default(), 1).is_err());
        let role = Touches { role: Some(Role::Administrator), ..Touches::default() };
        assert_eq!(check_update(&me, &me, &role, 1).unwrap_err().code, ErrorCode::InsufficientRole);
        assert!(check_read(&me, &u(Role::User, 2)).is_err());
    }

    #[test]
    fn the_last_enabled_administrator_stays() {
        let a = u(Role::Administrator, 1);
        let b = u(Role::Administrator, 2);
        let disable = Touches { account_state: true, ..Touches::default() };
        assert_eq!(check_update(&a, &b, &disable, 1).unwrap_err().code, ErrorCode::Conflict);
        assert!(check_update(&a, &b, &disable, 2).is_ok());
        assert_eq!(check_update(&a, &a, &disable, 2).unwrap_err().code, ErrorCode::Conflict);
        assert_eq!(check_delete(&a, &a, 2).unwrap_err().code, ErrorCode::Conflict);
        assert_eq!(check_delete(&a, &b, 1).unwrap_err().code, ErrorCode::Conflict);
    }
}
