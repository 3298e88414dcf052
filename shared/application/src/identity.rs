//! Who is calling, and the one policy every use case applies: anyone, self or admin, or
//! admin only. Authentication (a token into a `Caller`) is the edge's job; deciding what a
//! caller may do is the use case's, in one line, through `Policy`.

use domain::{Role, SessionProof, User, UserId};

/// The caller of a use case, as its access token proved it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// No token, or one a public route ignores.
    Anonymous,
    User {
        id: UserId,
        /// The role the token claims; an admin route checks it against the stored account.
        role: Role,
        proof: SessionProof,
    },
}

impl Caller {
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Self::Anonymous => None,
            Self::User { id, .. } => Some(*id),
        }
    }

    pub fn proof(&self) -> Option<&SessionProof> {
        match self {
            Self::Anonymous => None,
            Self::User { proof, .. } => Some(proof),
        }
    }

    /// Whether the caller's token still speaks for `account` (its own record, as stored now):
    /// the account is there, no revocation of its sessions came after the token's session
    /// started, and the session was not ended (`session_stored`). Acting as an administrator
    /// (on someone else, or on an admin route) needs an active admin account too.
    pub fn vouched_by(
        &self,
        account: Option<&User>,
        session_stored: bool,
        as_admin: bool,
    ) -> Result<(), Denied> {
        let Self::User { id, proof, .. } = self else {
            return Ok(());
        };
        let honoured = account.is_some_and(|account| {
            account.id() == *id
                && session_stored
                && account.session_is_valid(proof.session.started_at())
                && (!as_admin || (account.role() == Role::Admin && account.can_login()))
        });
        if honoured {
            Ok(())
        } else {
            Err(Denied::Revoked)
        }
    }

    /// Whether running a use case of `policy` on `subject` uses administrator power: an admin
    /// route, or another user's resources.
    pub fn acts_as_admin(&self, policy: Policy, subject: Option<UserId>) -> bool {
        match self {
            Self::Anonymous => false,
            Self::User { id, .. } => policy == Policy::Admin || subject != Some(*id),
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(
            self,
            Self::User {
                role: Role::Admin,
                ..
            }
        )
    }
}

/// Who may run a use case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Anyone,
    /// The user the command is about, or an admin.
    SelfOrAdmin,
    /// The user the command is about, and nobody else: an admin on another user's is told
    /// what an unknown id is told.
    SelfOnly,
    Admin,
}

/// Why a caller may not run a use case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// No valid access token on a route that needs one.
    #[error("an access token is required")]
    Unauthenticated,
    /// A user on an admin route.
    #[error("only an administrator may do this")]
    Forbidden,
    /// A user on another user's resources: told exactly what an unknown id is told, so ids
    /// cannot be probed.
    #[error("no such user")]
    NotFound,
    /// A valid token whose session was ended or revoked, or an admin's token whose account
    /// is no longer an active admin: refused as an invalid token.
    #[error("the access token no longer holds")]
    Revoked,
    /// Administrator power without a second factor in the sign-in, where the stack's admin
    /// MFA setting requires one.
    #[error("administrator routes need a sign-in with a second factor")]
    MfaRequired,
}

/// The stack's admin MFA setting (API.md, "Roles"): whether administrator power needs a
/// sign-in with a second factor (`mfa` in the token's `amr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminMfa {
    /// The deployed default.
    Required,
    /// The local stack's, so the README's admin works with a password alone.
    Optional,
}

impl AdminMfa {
    /// `required` or `optional`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "required" => Some(Self::Required),
            "optional" => Some(Self::Optional),
            _ => None,
        }
    }

    /// Whether `caller` may run a use case of `policy` on `subject` as far as this setting
    /// goes: its own account always; administrator power (see `Caller::acts_as_admin`),
    /// under `Required`, only with a multi-factor sign-in.
    pub fn check(
        self,
        caller: &Caller,
        policy: Policy,
        subject: Option<UserId>,
    ) -> Result<(), Denied> {
        let multi_factor = caller
            .proof()
            .is_some_and(|proof| proof.methods.is_multi_factor());
        if self == Self::Required && caller.acts_as_admin(policy, subject) && !multi_factor {
            Err(Denied::MfaRequired)
        } else {
            Ok(())
        }
    }
}

impl Policy {
    /// Whether `caller` may act on `subject` (the user the command is about, if any).
    pub fn check(self, caller: &Caller, subject: Option<UserId>) -> Result<(), Denied> {
        match (self, caller) {
            (Self::Anyone, _) => Ok(()),
            (_, Caller::Anonymous) => Err(Denied::Unauthenticated),
            (Self::SelfOnly, Caller::User { id, .. }) if subject == Some(*id) => Ok(()),
            (Self::SelfOnly, Caller::User { .. }) => Err(Denied::NotFound),
            (
                _,
                Caller::User {
                    role: Role::Admin, ..
                },
            ) => Ok(()),
            (Self::Admin, Caller::User { .. }) => Err(Denied::Forbidden),
            (Self::SelfOrAdmin, Caller::User { id, .. }) if subject == Some(*id) => Ok(()),
            (Self::SelfOrAdmin, Caller::User { .. }) => Err(Denied::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn user(id: UserId) -> Caller {
        crate::fakes::caller_with(id, Role::User)
    }

    fn admin() -> Caller {
        crate::fakes::caller_with(UserId::generate(), Role::Admin)
    }

    #[test]
    fn anyone_lets_everyone_in() {
        for caller in [Caller::Anonymous, user(UserId::generate()), admin()] {
            assert_eq!(Policy::Anyone.check(&caller, None), Ok(()));
        }
    }

    #[test]
    fn protected_policies_refuse_the_anonymous_first() {
        for policy in [Policy::SelfOrAdmin, Policy::Admin] {
            let subject = Some(UserId::generate());
            assert_eq!(
                policy.check(&Caller::Anonymous, subject),
                Err(Denied::Unauthenticated)
            );
        }
    }

    #[test]
    fn self_or_admin_hides_other_users_behind_a_not_found() {
        let (me, other) = (UserId::generate(), UserId::generate());
        assert_eq!(Policy::SelfOrAdmin.check(&user(me), Some(me)), Ok(()));
        assert_eq!(
            Policy::SelfOrAdmin.check(&user(me), Some(other)),
            Err(Denied::NotFound)
        );
        assert_eq!(Policy::SelfOrAdmin.check(&admin(), Some(other)), Ok(()));
    }

    #[test]
    fn self_only_hides_other_users_even_from_an_admin() {
        let me = UserId::generate();
        assert_eq!(Policy::SelfOnly.check(&user(me), Some(me)), Ok(()));
        for caller in [user(me), admin()] {
            assert_eq!(
                Policy::SelfOnly.check(&caller, Some(UserId::generate())),
                Err(Denied::NotFound)
            );
        }
    }

    #[test]
    fn admin_routes_forbid_users_even_on_themselves() {
        let me = UserId::generate();
        assert_eq!(
            Policy::Admin.check(&user(me), Some(me)),
            Err(Denied::Forbidden)
        );
        assert_eq!(Policy::Admin.check(&admin(), None), Ok(()));
    }

    fn admin_with(methods: domain::AuthMethods) -> Caller {
        let Caller::User {
            id,
            role,
            mut proof,
        } = admin()
        else {
            unreachable!("admin() is a user");
        };
        proof.methods = methods;
        Caller::User { id, role, proof }
    }

    #[test]
    fn required_admin_mfa_refuses_admin_power_without_a_second_factor_and_nothing_else() {
        let password = admin_with(domain::AuthMethods::Password);
        let own = password.user_id();
        let other = Some(UserId::generate());
        let required = AdminMfa::Required;
        assert_eq!(
            required.check(&password, Policy::Admin, None),
            Err(Denied::MfaRequired)
        );
        assert_eq!(
            required.check(&password, Policy::SelfOrAdmin, other),
            Err(Denied::MfaRequired),
            "another user's resources"
        );
        assert_eq!(
            required.check(&password, Policy::SelfOrAdmin, own),
            Ok(()),
            "its own account"
        );
        assert_eq!(required.check(&password, Policy::SelfOnly, own), Ok(()));
        for methods in [
            domain::AuthMethods::PasswordAndOneTimeCode,
            domain::AuthMethods::Passkey,
        ] {
            let strong = admin_with(methods);
            assert_eq!(required.check(&strong, Policy::Admin, None), Ok(()));
            assert_eq!(required.check(&strong, Policy::SelfOrAdmin, other), Ok(()));
        }
        assert_eq!(
            AdminMfa::Optional.check(&password, Policy::Admin, None),
            Ok(())
        );
        assert_eq!(AdminMfa::parse("required"), Some(AdminMfa::Required));
        assert_eq!(AdminMfa::parse("optional"), Some(AdminMfa::Optional));
        assert_eq!(AdminMfa::parse("Optional"), None);
    }

    proptest! {
        #[test]
        fn only_an_admin_or_the_subject_itself_ever_passes_a_protected_policy(
            is_admin in any::<bool>(), is_self in any::<bool>(), admin_only in any::<bool>(),
        ) {
            let me = UserId::generate();
            let subject = if is_self { me } else { UserId::generate() };
            let role = if is_admin { Role::Admin } else { Role::User };
            let policy = if admin_only { Policy::Admin } else { Policy::SelfOrAdmin };
            let allowed = policy.check(&crate::fakes::caller_with(me, role), Some(subject)).is_ok();
            prop_assert_eq!(allowed, is_admin || (is_self && !admin_only));
        }
    }
}
