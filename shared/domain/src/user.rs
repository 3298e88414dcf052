use crate::{Email, Timestamp, UserId, UserName};
use std::fmt;

/// An enum whose values have one lowercase name each: `ALL`, `as_str`, `parse` (the exact
/// name only) and `Display`.
macro_rules! named {
    ($type:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $type {
            pub const ALL: [$type; [$($name),+].len()] = [$(Self::$variant),+];

            pub fn as_str(&self) -> &'static str {
                match self {
                    $(Self::$variant => $name),+
                }
            }

            pub fn parse(raw: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|value| value.as_str() == raw)
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserStatus {
    Active,
    Suspended,
    Deleted,
}

named!(UserStatus {
    Active => "active",
    Suspended => "suspended",
    Deleted => "deleted",
});

/// What a user may do: `user` for everyone who registers, `admin` only by another admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    User,
    Admin,
}

named!(Role {
    User => "user",
    Admin => "admin",
});

/// The stored revision of a user: it starts at 1 and grows by one with every stored change,
/// so a writer can tell whether what it read is still current.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(u64);

impl Version {
    pub const FIRST: Version = Version(1);

    pub fn new(value: u64) -> Self {
        Self(value)
    }

    pub fn get(&self) -> u64 {
        self.0
    }

    pub fn next(&self) -> Self {
        Self(self.0.saturating_add(1))
    }
}

/// Whether an operation changed the user or found it already in the asked-for state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    Yes,
    No,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the user is deleted")]
pub struct UserIsDeleted;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {status} user cannot log in")]
pub struct LoginRefused {
    pub status: UserStatus,
}

/// A registered user. Its state changes only through the methods below, which keep the
/// rules: a deleted user stays deleted, only an active user can log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    id: UserId,
    email: Email,
    name: UserName,
    status: UserStatus,
    role: Role,
    email_verified: bool,
    /// A second factor is on: a right password alone does not sign in.
    mfa_enabled: bool,
    created_at: Timestamp,
    last_login: Option<Timestamp>,
    /// Sessions (refresh-token families) started before this instant are revoked.
    sessions_valid_after: Option<Timestamp>,
    version: Version,
}

/// Every field of a stored user, for repositories that rebuild one.
#[derive(Debug, Clone)]
pub struct UserSnapshot {
    pub id: UserId,
    pub email: Email,
    pub name: UserName,
    pub status: UserStatus,
    pub role: Role,
    pub email_verified: bool,
    pub mfa_enabled: bool,
    pub created_at: Timestamp,
    pub last_login: Option<Timestamp>,
    pub sessions_valid_after: Option<Timestamp>,
    pub version: Version,
}

impl User {
    /// A newly registered user: active, a `user`, address not yet proved, never logged in,
    /// at the first version.
    pub fn register(id: UserId, email: Email, name: UserName, now: Timestamp) -> Self {
        Self {
            id,
            email,
            name,
            status: UserStatus::Active,
            role: Role::User,
            email_verified: false,
            mfa_enabled: false,
            created_at: now,
            last_login: None,
            sessions_valid_after: None,
            version: Version::FIRST,
        }
    }

    pub fn restore(snapshot: UserSnapshot) -> Self {
        Self {
            id: snapshot.id,
            email: snapshot.email,
            name: snapshot.name,
            status: snapshot.status,
            role: snapshot.role,
            email_verified: snapshot.email_verified,
            mfa_enabled: snapshot.mfa_enabled,
            created_at: snapshot.created_at,
            last_login: snapshot.last_login,
            sessions_valid_after: snapshot.sessions_valid_after,
            version: snapshot.version,
        }
    }

    pub fn id(&self) -> UserId {
        self.id
    }
    pub fn email(&self) -> &Email {
        &self.email
    }
    pub fn name(&self) -> &UserName {
        &self.name
    }
    pub fn status(&self) -> UserStatus {
        self.status
    }
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }
    pub fn last_login(&self) -> Option<Timestamp> {
        self.last_login
    }
    pub fn version(&self) -> Version {
        self.version
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn email_verified(&self) -> bool {
        self.email_verified
    }

    pub fn mfa_enabled(&self) -> bool {
        self.mfa_enabled
    }

    pub fn sessions_valid_after(&self) -> Option<Timestamp> {
        self.sessions_valid_after
    }

    /// Whether a session started at `started_at` has survived every revocation since.
    pub fn session_is_valid(&self, started_at: Timestamp) -> bool {
        self.sessions_valid_after
            .is_none_or(|revoked_before| started_at >= revoked_before)
    }

    pub fn is_deleted(&self) -> bool {
        self.status == UserStatus::Deleted
    }

    pub fn can_login(&self) -> bool {
        self.status == UserStatus::Active
    }

    /// An administrator who can act: one of those the service must always keep.
    pub fn is_active_admin(&self) -> bool {
        self.role == Role::Admin && self.can_login()
    }

    /// The same user as stored at `version`; repositories call this after a successful write.
    pub fn stored_at(mut self, version: Version) -> Self {
        self.version = version;
        self
    }

    pub fn suspend(&mut self) -> Result<Changed, UserIsDeleted> {
        self.move_to(UserStatus::Suspended)
    }

    pub fn activate(&mut self) -> Result<Changed, UserIsDeleted> {
        self.move_to(UserStatus::Active)
    }

    /// Soft delete: the record stays, with status `deleted`.
    pub fn delete(&mut self) -> Result<(), UserIsDeleted> {
        self.move_to(UserStatus::Deleted).map(|_| ())
    }

    pub fn change_role(&mut self, role: Role) -> Result<Changed, UserIsDeleted> {
        self.refuse_if_deleted()?;
        Ok(replace(&mut self.role, role))
    }

    /// A second factor is on (or off): from now on a right password alone does not sign in.
    pub fn set_mfa(&mut self, enabled: bool) -> Result<Changed, UserIsDeleted> {
        self.refuse_if_deleted()?;
        Ok(replace(&mut self.mfa_enabled, enabled))
    }

    /// The user proved the address: it set a password through a token sent there.
    pub fn verify_email(&mut self) {
        self.email_verified = true;
    }

    /// Every session started before `now` stops working at its next refresh.
    pub fn revoke_sessions(&mut self, now: Timestamp) {
        self.sessions_valid_after = Some(now);
    }

    /// Moves the user to `email`, which nobody has proved yet (an administrator's change).
    pub fn change_email(&mut self, email: Email) -> Result<Changed, UserIsDeleted> {
        self.refuse_if_deleted()?;
        let changed = replace(&mut self.email, email);
        if changed == Changed::Yes {
            self.email_verified = false;
        }
        Ok(changed)
    }

    /// Moves the user to `email`, proved by a token that was sent there.
    pub fn change_to_proved_email(&mut self, email: Email) -> Result<Changed, UserIsDeleted> {
        self.change_email(email)?;
        Ok(replace(&mut self.email_verified, true))
    }

    pub fn record_login(&mut self, at: Timestamp) -> Result<(), LoginRefused> {
        if !self.can_login() {
            return Err(LoginRefused {
                status: self.status,
            });
        }
        self.last_login = Some(at);
        Ok(())
    }

    fn move_to(&mut self, status: UserStatus) -> Result<Changed, UserIsDeleted> {
        self.refuse_if_deleted()?;
        Ok(replace(&mut self.status, status))
    }

    /// A deleted user takes no further change.
    fn refuse_if_deleted(&self) -> Result<(), UserIsDeleted> {
        if self.is_deleted() {
            return Err(UserIsDeleted);
        }
        Ok(())
    }
}

/// Sets `field` to `value`, telling whether that changed anything.
fn replace<T: PartialEq>(field: &mut T, value: T) -> Changed {
    if *field == value {
        return Changed::No;
    }
    *field = value;
    Changed::Yes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ada() -> User {
        User::register(
            UserId::generate(),
            Email::parse("ada@example.com").unwrap(),
            UserName::parse("Ada Lovelace").unwrap(),
            Timestamp::from_millis(1_000).unwrap(),
        )
    }

    #[test]
    fn a_new_user_is_active_has_never_logged_in_and_can_log_in() {
        let user = ada();
        assert_eq!(user.status(), UserStatus::Active);
        assert_eq!(user.last_login(), None);
        assert_eq!(user.version(), Version::FIRST);
        assert!(user.can_login());
    }

    #[test]
    fn a_suspended_user_cannot_log_in_until_activated() {
        let mut user = ada();
        assert_eq!(user.suspend(), Ok(Changed::Yes));
        assert!(!user.can_login());
        let at = Timestamp::from_millis(2_000).unwrap();
        assert_eq!(
            user.record_login(at),
            Err(LoginRefused {
                status: UserStatus::Suspended
            })
        );
        assert_eq!(user.last_login(), None);
        assert_eq!(user.activate(), Ok(Changed::Yes));
        assert_eq!(user.record_login(at), Ok(()));
        assert_eq!(user.last_login(), Some(at));
    }

    #[test]
    fn suspending_twice_or_activating_an_active_user_changes_nothing() {
        let mut user = ada();
        assert_eq!(user.activate(), Ok(Changed::No));
        user.suspend().unwrap();
        assert_eq!(user.suspend(), Ok(Changed::No));
        assert_eq!(user.status(), UserStatus::Suspended);
    }

    #[test]
    fn a_deleted_user_refuses_every_change() {
        let mut user = ada();
        user.delete().unwrap();
        assert_eq!(user.status(), UserStatus::Deleted);
        assert_eq!(user.suspend(), Err(UserIsDeleted));
        assert_eq!(user.activate(), Err(UserIsDeleted));
        assert_eq!(user.delete(), Err(UserIsDeleted));
        assert_eq!(
            user.change_email(Email::parse("new@example.com").unwrap()),
            Err(UserIsDeleted)
        );
        assert!(user.record_login(Timestamp::now()).is_err());
        assert_eq!(user.status(), UserStatus::Deleted);
    }

    #[test]
    fn changing_to_the_same_email_is_a_no_op_but_a_new_case_is_kept() {
        let mut user = ada();
        assert_eq!(
            user.change_email(Email::parse("ada@example.com").unwrap()),
            Ok(Changed::No)
        );
        assert_eq!(
            user.change_email(Email::parse("Ada@Example.com").unwrap()),
            Ok(Changed::Yes)
        );
        assert_eq!(user.email().as_str(), "Ada@Example.com");
    }

    #[test]
    fn an_address_is_verified_only_when_proved() {
        let mut user = ada();
        user.verify_email();
        let new = Email::parse("ada@lovelace.org").unwrap();
        assert_eq!(user.change_email(new.clone()), Ok(Changed::Yes));
        assert!(
            !user.email_verified(),
            "an administrator's change proves nothing"
        );
        assert_eq!(user.change_to_proved_email(new.clone()), Ok(Changed::Yes));
        assert!(user.email_verified());
        assert_eq!(user.change_to_proved_email(new), Ok(Changed::No));
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in UserStatus::ALL {
            assert_eq!(UserStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(UserStatus::parse("Active"), None);
    }

    #[test]
    fn a_new_user_is_an_unverified_user_with_no_revocation() {
        let user = ada();
        assert_eq!((user.role(), user.email_verified()), (Role::User, false));
        assert!(user.session_is_valid(Timestamp::from_millis(0).unwrap()));
    }

    #[test]
    fn roles_read_back_from_their_names_only() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("Admin"), None);
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn a_revocation_ends_the_sessions_started_before_it_only() {
        let mut user = ada();
        let at = |millis| Timestamp::from_millis(millis).unwrap();
        user.revoke_sessions(at(5_000));
        assert!(!user.session_is_valid(at(4_999)));
        assert!(user.session_is_valid(at(5_000)));
        assert!(user.session_is_valid(at(6_000)));
    }

    #[test]
    fn a_role_change_is_refused_once_deleted() {
        let mut user = ada();
        assert_eq!(user.change_role(Role::Admin), Ok(Changed::Yes));
        assert_eq!(user.change_role(Role::Admin), Ok(Changed::No));
        user.delete().unwrap();
        assert_eq!(user.change_role(Role::User), Err(UserIsDeleted));
    }
}
