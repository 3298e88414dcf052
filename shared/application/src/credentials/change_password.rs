//! `PUT /users/{id}/password`: a signed-in user changes its own password, proving the current
//! one. Every other session ends, and with them a pending email change and any reset token
//! (all issued before the revocation); the lockout of the address is lifted; the caller gets a
//! new session in the answer, and a notice goes to the address.

use super::sessions::{Session, Sessions, StartError};
use super::step_up::{StepUp, StepUpError};
use crate::messages;
use crate::ports::{
    AccessTokenIssuer, Change, Clock, CredentialRepository, DomainEvent, HashingError, LoginStore,
    NewPassword, Outgoing, PasswordChangedBy, PasswordHasher, RecordLoginError, RepositoryError,
    ResetTokens, SessionOrigin, SessionRepository, UserRepository,
};
use crate::standing::read_for;
use crate::{Caller, Denied, Policy, UseCase, command};
use domain::{AuthMethods, Password, UserId};

pub struct PasswordChange {
    pub user_id: UserId,
    pub current_password: String,
    pub new_password: Password,
    /// Where the caller signs in from, for its new session.
    pub origin: SessionOrigin,
}

command!(PasswordChange => Session, ChangePasswordError; subject = user_id);

#[derive(Debug, thiserror::Error)]
pub enum ChangePasswordError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("no such user")]
    NotFound,
    #[error(transparent)]
    StepUp(#[from] StepUpError),
    #[error("the user kept changing; try again")]
    Contended,
    #[error(transparent)]
    Hashing(#[from] HashingError),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// How often the change is written again when the user keeps changing under it.
const ATTEMPTS: usize = 3;

/// The ports it needs: the users (read for the caller), the store that writes the change
/// (the one table, beside the user), the credentials (step-up), and the rest.
pub struct ChangePassword<U, L, K, H, C, A, S, T> {
    users: U,
    store: L,
    step_up: StepUp<K, H>,
    hasher: H,
    clock: C,
    sessions: Sessions<A, S, T>,
}

impl<U, L, K, H: Clone, C, A, S, T> ChangePassword<U, L, K, H, C, A, S, T> {
    pub fn new(
        users: U,
        store: L,
        credentials: K,
        hasher: H,
        clock: C,
        sessions: Sessions<A, S, T>,
    ) -> Self {
        Self {
            users,
            store,
            step_up: StepUp::new(credentials, hasher.clone()),
            hasher,
            clock,
            sessions,
        }
    }
}

impl<U, L, K, H, C, A, S, T> ChangePassword<U, L, K, H, C, A, S, T>
where
    U: UserRepository,
{
    /// The caller's own account, read for it (see `standing`): unknown or deleted is 404.
    async fn own_account(
        &self,
        caller: &Caller,
        id: UserId,
    ) -> Result<domain::User, ChangePasswordError> {
        read_for::<U, ChangePasswordError>(&self.users, caller, Policy::SelfOnly, Some(id))
            .await?
            .filter(|user| !user.is_deleted())
            .ok_or(ChangePasswordError::NotFound)
    }
}

impl<U, L, K, H, C, A, S, T> UseCase<PasswordChange> for ChangePassword<U, L, K, H, C, A, S, T>
where
    U: UserRepository,
    L: LoginStore,
    K: CredentialRepository,
    H: PasswordHasher,
    C: Clock,
    A: AccessTokenIssuer,
    S: SessionRepository,
    T: ResetTokens,
{
    fn policy(&self) -> Policy {
        Policy::SelfOnly
    }

    fn audit_event(&self, _caller: &Caller) -> Option<&'static str> {
        Some("password_change")
    }

    async fn run(
        &self,
        caller: &Caller,
        command: PasswordChange,
    ) -> Result<Session, ChangePasswordError> {
        let now = self.clock.now();
        let mut current = self.own_account(caller, command.user_id).await?;
        self.step_up
            .check_password(&current, &command.current_password, now)
            .await?;
        let hash = self.hasher.hash(&command.new_password)?;
        let started = self
            .sessions
            .start(&current, AuthMethods::Password, command.origin.clone(), now)
            .map_err(StartError::from)?;
        for _ in 0..ATTEMPTS {
            let mut updated = current.clone();
            updated.revoke_sessions(now);
            let password = NewPassword {
                hash: &hash,
                session: &started.record,
                first_token: &started.first_token,
                at: now,
            };
            let outbox = Outgoing::of_update(
                &current,
                &updated,
                vec![messages::password_changed(&current)],
            )
            .and([DomainEvent::next_of(
                &current,
                Change::UserPasswordChanged {
                    by: PasswordChangedBy::Change,
                },
            )]);
            match self
                .store
                .replace_password(&current, updated, password, &outbox)
                .await
            {
                Ok(user) => return Ok(self.sessions.answer(user, started, now)?),
                // Changed meanwhile (an admin's edit, say): from a fresh read, which also
                // checks the caller again.
                Err(RecordLoginError::UserChanged) => {
                    current = self.own_account(caller, command.user_id).await?;
                }
                Err(RecordLoginError::Repository(error)) => return Err(error.into()),
                // A password change finishes no two-step login: a store that says so is broken.
                Err(error @ RecordLoginError::ChallengeUsed) => {
                    return Err(RepositoryError::Failed(error.into()).into());
                }
            }
        }
        Err(ChangePasswordError::Contended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::{LoginAttempts, RefreshRequest, RefreshSession};
    use crate::fakes::{
        FakeAccessTokens, FakeHasher, FakeTokens, FixedClock, InMemoryCredentials,
        InMemoryLoginStore, InMemorySessions, InMemoryUsers, lock_the_address, user_with_email,
    };
    use crate::ports::{AccessTokenVerifier, ResetTokenRecord};
    use crate::users::{GetUser, UserLookup};
    use domain::{PasswordHash, Timestamp, User};

    struct World {
        users: InMemoryUsers,
        credentials: InMemoryCredentials,
        sessions: InMemorySessions,
        ada: User,
    }

    type Change = ChangePassword<
        InMemoryUsers,
        InMemoryLoginStore,
        InMemoryCredentials,
        FakeHasher,
        FixedClock,
        FakeAccessTokens,
        InMemorySessions,
        FakeTokens,
    >;

    impl World {
        fn new() -> Self {
            let users = InMemoryUsers::default();
            let ada = users.add(user_with_email("ada@example.com"));
            let credentials = InMemoryCredentials::default();
            credentials.set_password(ada.id(), PasswordHash::new("fake:correct horse battery"));
            Self {
                sessions: InMemorySessions::beside(&users),
                users,
                credentials,
                ada,
            }
        }

        fn change(&self) -> Change {
            let store = InMemoryLoginStore::new(&self.users, &self.credentials, &self.sessions);
            ChangePassword::new(
                self.users.clone(),
                store,
                self.credentials.clone(),
                FakeHasher::default(),
                FixedClock::default(),
                Sessions::new(FakeAccessTokens, self.sessions.clone(), FakeTokens),
            )
        }
    }

    fn command(id: UserId, current: &str) -> PasswordChange {
        PasswordChange {
            user_id: id,
            current_password: current.to_owned(),
            new_password: Password::parse("a brand new password").unwrap(),
            origin: SessionOrigin::default(),
        }
    }

    #[tokio::test]
    async fn a_change_ends_every_other_session_starts_the_callers_and_lifts_the_lock() {
        let world = World::new();
        let (here, elsewhere) = (
            world.users.sign_in(&world.ada),
            world.users.sign_in(&world.ada),
        );
        let now = FixedClock::default().now();
        lock_the_address(&world.credentials, world.ada.email(), now).await;
        // Unlocked a second later, as a lock of one second would be.
        let later = now.plus_seconds(1).unwrap();
        let change = ChangePassword::new(
            world.users.clone(),
            InMemoryLoginStore::new(&world.users, &world.credentials, &world.sessions),
            world.credentials.clone(),
            FakeHasher::default(),
            FixedClock::at(later),
            Sessions::new(FakeAccessTokens, world.sessions.clone(), FakeTokens),
        );
        let session = change
            .execute(&here, command(world.ada.id(), "correct horse battery"))
            .await
            .unwrap();
        let stored = world.users.stored(world.ada.id()).unwrap();
        assert_eq!(stored.sessions_valid_after(), Some(later));
        assert_eq!(
            world
                .credentials
                .password_hash(world.ada.id())
                .await
                .unwrap(),
            Some(PasswordHash::new("fake:a brand new password"))
        );
        assert_eq!(
            world
                .credentials
                .login_attempts(world.ada.email())
                .await
                .unwrap(),
            LoginAttempts::default(),
            "the lock is lifted"
        );
        let get = GetUser::new(world.users.clone());
        for old in [&here, &elsewhere] {
            assert!(
                get.execute(old, UserLookup { id: world.ada.id() })
                    .await
                    .is_err()
            );
        }
        let claims = FakeAccessTokens
            .verify(&session.access.token, later)
            .unwrap();
        let new_caller = Caller::User {
            id: claims.user_id,
            role: claims.role,
            proof: claims.proof,
        };
        assert!(
            get.execute(&new_caller, UserLookup { id: world.ada.id() })
                .await
                .is_ok()
        );
        let refresh = RefreshSession::new(
            world.users.clone(),
            FixedClock::at(later),
            Sessions::new(FakeAccessTokens, world.sessions.clone(), FakeTokens),
        );
        let renewed = refresh
            .execute(
                &Caller::Anonymous,
                RefreshRequest {
                    refresh_token: session.refresh_token,
                },
            )
            .await;
        assert!(renewed.is_ok(), "the new session refreshes");
        let sent = world.users.outbox().emails();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].subject, "Your password was changed");
    }

    #[tokio::test]
    async fn a_wrong_current_password_changes_nothing_and_counts_toward_the_lockout() {
        let world = World::new();
        let caller = world.users.sign_in(&world.ada);
        let refused = world
            .change()
            .execute(&caller, command(world.ada.id(), "wrong horse battery"))
            .await;
        assert!(matches!(
            refused,
            Err(ChangePasswordError::StepUp(StepUpError::WrongPassword))
        ));
        assert_eq!(
            world
                .credentials
                .login_attempts(world.ada.email())
                .await
                .unwrap()
                .failures,
            1
        );
        assert_eq!(world.users.stored(world.ada.id()), Some(world.ada.clone()));
    }

    #[tokio::test]
    async fn only_the_user_itself_may_change_its_password() {
        let world = World::new();
        let admin = world.users.admin_caller();
        let refused = world
            .change()
            .execute(&admin, command(world.ada.id(), "correct horse battery"))
            .await;
        assert!(matches!(
            refused,
            Err(ChangePasswordError::Denied(Denied::NotFound))
        ));
    }

    #[tokio::test]
    async fn a_reset_token_issued_before_the_change_redeems_nothing() {
        let world = World::new();
        let issued = FixedClock::default().now();
        let token = ResetTokenRecord {
            hash: FakeTokens.hash("earlier-reset"),
            user_id: world.ada.id(),
            sent_to: world.ada.email().clone(),
            expires_at: issued
                .plus_seconds(crate::credentials::RESET_TOKEN_LIFETIME_SECONDS)
                .unwrap(),
        };
        world.credentials.save_reset_token(&token).await.unwrap();
        let later = FixedClock::at(issued.plus_seconds(10).unwrap());
        let change = ChangePassword::new(
            world.users.clone(),
            InMemoryLoginStore::new(&world.users, &world.credentials, &world.sessions),
            world.credentials.clone(),
            FakeHasher::default(),
            later,
            Sessions::new(FakeAccessTokens, world.sessions.clone(), FakeTokens),
        );
        change
            .execute(
                &world.users.sign_in(&world.ada),
                command(world.ada.id(), "correct horse battery"),
            )
            .await
            .unwrap();
        let confirm = crate::credentials::ConfirmPasswordReset::new(
            world.users.clone(),
            world.credentials.clone(),
            FakeHasher::default(),
            FakeTokens,
            FixedClock::at(Timestamp::from_millis(later_millis(issued, 20)).unwrap()),
        );
        let redeemed = confirm
            .execute(
                &Caller::Anonymous,
                crate::credentials::NewPasswordRequest {
                    token: "earlier-reset".to_owned(),
                    new_password: Password::parse("the thief's password").unwrap(),
                },
            )
            .await;
        assert!(redeemed.is_err(), "the reset token died with the change");
    }

    fn later_millis(at: Timestamp, seconds: i64) -> i64 {
        at.as_millis() + seconds * 1000
    }
}
