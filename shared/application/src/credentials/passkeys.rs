//! Passkeys of one's account (API.md, "Passkeys"): registering one in two requests, listing
//! them, removing one.
//!
//! `POST /users/{id}/passkeys/registration` (self, step-up) starts a registration: creation
//! options for the browser, the ceremony's state kept for 5 minutes under a `registration_id`.
//! `POST /users/{id}/passkeys` verifies the browser's credential against that state (used up
//! whatever the outcome) and stores the passkey, telling the address.

use super::step_up::{StepUp, StepUpError};
use crate::audit::{self, Outcome};
use crate::messages;
use crate::ports::{
    BoxError, Change, Clock, CredentialRepository, DomainEvent, Outgoing, Passkey,
    PasskeyCeremonies, PasskeyStore, PasskeyWriteError, PasswordHasher, PendingCeremony,
    RepositoryError, UserRepository,
};
use crate::standing::read_for;
use crate::{Caller, Denied, Policy, UseCase, command};
use domain::{CeremonyId, PasskeyId, PasskeyName, User, UserId};

/// How often a passkey write that met a concurrent change of its owner is tried again.
const ATTEMPTS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    #[error(transparent)]
    Denied(#[from] Denied),
    /// No such user.
    #[error("no such user")]
    NotFound,
    /// The user has no passkey with this id.
    #[error("no such passkey")]
    PasskeyNotFound,
    #[error(transparent)]
    StepUp(#[from] StepUpError),
    /// The credential failed verification, or its registration is unknown, used, expired or
    /// another user's: one answer for all.
    #[error("the passkey could not be verified")]
    VerificationFailed,
    #[error("this passkey is registered already")]
    CredentialTaken,
    #[error("no ceremony could be started")]
    Ceremony(#[source] BoxError),
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// A ceremony started: the id its answer names (`registration_id`, `challenge_id`) and the
/// options for the browser (WebAuthn JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CeremonyStarted {
    pub id: CeremonyId,
    pub options_json: String,
}

pub struct PasskeyRegistrationRequest {
    pub user_id: UserId,
    /// Step-up proof (else the token's `auth_time`).
    pub current_password: Option<String>,
}

command!(PasskeyRegistrationRequest => CeremonyStarted, PasskeyError; subject = user_id);

pub struct StartPasskeyRegistration<U, P, W, C, K, H> {
    users: U,
    passkeys: P,
    ceremonies: W,
    clock: C,
    step_up: StepUp<K, H>,
}

impl<U, P, W, C, K, H> StartPasskeyRegistration<U, P, W, C, K, H> {
    pub fn new(users: U, passkeys: P, ceremonies: W, clock: C, step_up: StepUp<K, H>) -> Self {
        Self {
            users,
            passkeys,
            ceremonies,
            clock,
            step_up,
        }
    }
}

impl<U, P, W, C, K, H> UseCase<PasskeyRegistrationRequest>
    for StartPasskeyRegistration<U, P, W, C, K, H>
where
    U: UserRepository,
    P: PasskeyStore,
    W: PasskeyCeremonies,
    C: Clock,
    K: CredentialRepository,
    H: PasswordHasher,
{
    fn policy(&self) -> Policy {
        Policy::SelfOnly
    }

    async fn run(
        &self,
        caller: &Caller,
        request: PasskeyRegistrationRequest,
    ) -> Result<CeremonyStarted, PasskeyError> {
        let user = account(&self.users, caller, Policy::SelfOnly, request.user_id).await?;
        let now = self.clock.now();
        self.step_up
            .check(caller, &user, request.current_password.as_deref(), now)
            .await?;
        // The user's passkeys are excluded, so an authenticator holding one says so.
        let registered: Vec<_> = self
            .passkeys
            .passkeys(user.id())
            .await?
            .into_iter()
            .map(|passkey| passkey.credential.id)
            .collect();
        let ceremony = self
            .ceremonies
            .start_registration(&user, &registered)
            .map_err(PasskeyError::Ceremony)?;
        let pending = PendingCeremony {
            id: CeremonyId::generate(),
            user_id: Some(user.id()),
            state: ceremony.state,
            started_at: now,
        };
        self.passkeys.start_ceremony(&pending).await?;
        Ok(CeremonyStarted {
            id: pending.id,
            options_json: ceremony.options_json,
        })
    }
}

pub struct NewPasskeyRequest {
    pub user_id: UserId,
    pub registration_id: CeremonyId,
    pub name: PasskeyName,
    /// The browser's `credential.toJSON()`.
    pub credential_json: String,
}

command!(NewPasskeyRequest => Passkey, PasskeyError; subject = user_id);

pub struct RegisterPasskey<U, P, W, C> {
    users: U,
    passkeys: P,
    ceremonies: W,
    clock: C,
}

impl<U, P, W, C> RegisterPasskey<U, P, W, C> {
    pub fn new(users: U, passkeys: P, ceremonies: W, clock: C) -> Self {
        Self {
            users,
            passkeys,
            ceremonies,
            clock,
        }
    }
}

impl<U, P, W, C> UseCase<NewPasskeyRequest> for RegisterPasskey<U, P, W, C>
where
    U: UserRepository,
    P: PasskeyStore,
    W: PasskeyCeremonies,
    C: Clock,
{
    fn policy(&self) -> Policy {
        Policy::SelfOnly
    }

    fn audit_event(&self, _caller: &Caller) -> Option<&'static str> {
        Some("passkey_added")
    }

    async fn run(
        &self,
        caller: &Caller,
        request: NewPasskeyRequest,
    ) -> Result<Passkey, PasskeyError> {
        let user = account(&self.users, caller, Policy::SelfOnly, request.user_id).await?;
        let now = self.clock.now();
        // Taken (used up) before it is checked: a failed answer cannot be retried.
        let ceremony = self
            .passkeys
            .take_ceremony(request.registration_id)
            .await?
            .filter(|ceremony| ceremony.user_id == Some(user.id()) && ceremony.is_open(now))
            .ok_or(PasskeyError::VerificationFailed)?;
        let credential = self
            .ceremonies
            .finish_registration(&ceremony.state, &request.credential_json)
            .map_err(|_| PasskeyError::VerificationFailed)?;
        if credential.user_id != user.id() {
            return Err(PasskeyError::VerificationFailed);
        }
        let passkey = Passkey {
            id: PasskeyId::generate(),
            name: request.name,
            credential,
            created_at: now,
            last_used_at: None,
        };
        let mut owner = user;
        for _ in 0..ATTEMPTS {
            let outbox = Outgoing::email(messages::passkey_added(&owner, &passkey.name)).and([
                DomainEvent::next_of(
                    &owner,
                    Change::UserPasskeyAdded {
                        passkey_id: passkey.id,
                    },
                ),
            ]);
            match self.passkeys.add(&passkey, &owner, &outbox).await {
                Ok(()) => return Ok(passkey),
                Err(PasskeyWriteError::CredentialTaken) => {
                    return Err(PasskeyError::CredentialTaken);
                }
                // A login or an edit meanwhile: the verified passkey is stored from a fresh
                // read, which also checks the caller again.
                Err(PasskeyWriteError::UserChanged) => {
                    owner = account(&self.users, caller, Policy::SelfOnly, owner.id()).await?;
                }
                Err(PasskeyWriteError::Repository(error)) => return Err(error.into()),
            }
        }
        Err(RepositoryError::Unavailable("the user kept changing".into()).into())
    }
}

pub struct PasskeysQuery {
    pub user_id: UserId,
}

command!(PasskeysQuery => Vec<Passkey>, PasskeyError; subject = user_id);

pub struct ListPasskeys<U, P> {
    users: U,
    passkeys: P,
}

impl<U, P> ListPasskeys<U, P> {
    pub fn new(users: U, passkeys: P) -> Self {
        Self { users, passkeys }
    }
}

impl<U: UserRepository, P: PasskeyStore> UseCase<PasskeysQuery> for ListPasskeys<U, P> {
    fn policy(&self) -> Policy {
        Policy::SelfOrAdmin
    }

    async fn run(
        &self,
        caller: &Caller,
        query: PasskeysQuery,
    ) -> Result<Vec<Passkey>, PasskeyError> {
        let user = account(&self.users, caller, Policy::SelfOrAdmin, query.user_id).await?;
        Ok(self.passkeys.passkeys(user.id()).await?)
    }
}

pub struct PasskeyRemoval {
    pub user_id: UserId,
    pub passkey_id: PasskeyId,
    /// Step-up proof for one's own passkey (else the token's `auth_time`).
    pub current_password: Option<String>,
}

command!(PasskeyRemoval => (), PasskeyError; subject = user_id);

pub struct RemovePasskey<U, P, C, K, H> {
    users: U,
    passkeys: P,
    clock: C,
    step_up: StepUp<K, H>,
}

impl<U, P, C, K, H> RemovePasskey<U, P, C, K, H> {
    pub fn new(users: U, passkeys: P, clock: C, step_up: StepUp<K, H>) -> Self {
        Self {
            users,
            passkeys,
            clock,
            step_up,
        }
    }
}

impl<U, P, C, K, H> UseCase<PasskeyRemoval> for RemovePasskey<U, P, C, K, H>
where
    U: UserRepository,
    P: PasskeyStore,
    C: Clock,
    K: CredentialRepository,
    H: PasswordHasher,
{
    fn policy(&self) -> Policy {
        Policy::SelfOrAdmin
    }

    async fn run(&self, caller: &Caller, removal: PasskeyRemoval) -> Result<(), PasskeyError> {
        let own = caller.user_id() == Some(removal.user_id);
        let result = async {
            let user = account(&self.users, caller, Policy::SelfOrAdmin, removal.user_id).await?;
            if own {
                let now = self.clock.now();
                self.step_up
                    .check(caller, &user, removal.current_password.as_deref(), now)
                    .await?;
            }
            let mut owner = user;
            for _ in 0..ATTEMPTS {
                let passkey = self
                    .passkeys
                    .passkeys(owner.id())
                    .await?
                    .into_iter()
                    .find(|passkey| passkey.id == removal.passkey_id)
                    .ok_or(PasskeyError::PasskeyNotFound)?;
                let removed = Change::UserPasskeyRemoved {
                    passkey_id: passkey.id,
                };
                let outbox = Outgoing::email(messages::passkey_removed(&owner, &passkey.name))
                    .and([DomainEvent::next_of(&owner, removed)]);
                match self.passkeys.remove(&passkey, &owner, &outbox).await {
                    Ok(true) => return Ok(()),
                    Ok(false) => return Err(PasskeyError::PasskeyNotFound),
                    Err(PasskeyWriteError::UserChanged) => {
                        owner =
                            account(&self.users, caller, Policy::SelfOrAdmin, owner.id()).await?;
                    }
                    Err(PasskeyWriteError::CredentialTaken) => {
                        return Err(PasskeyError::PasskeyNotFound);
                    }
                    Err(PasskeyWriteError::Repository(error)) => return Err(error.into()),
                }
            }
            Err(RepositoryError::Unavailable("the user kept changing".into()).into())
        }
        .await;
        let outcome = match &result {
            Err(PasskeyError::Denied(_)) => Outcome::Denied,
            result => Outcome::of(result),
        };
        audit::record(
            "passkey_removed",
            outcome,
            caller.user_id(),
            Some(removal.user_id),
        );
        result
    }
}

/// The account a passkey route is about, read with the caller's standing; not deleted.
async fn account<U: UserRepository>(
    users: &U,
    caller: &Caller,
    policy: Policy,
    id: UserId,
) -> Result<User, PasskeyError> {
    read_for::<U, PasskeyError>(users, caller, policy, Some(id))
        .await?
        .filter(|user| !user.is_deleted())
        .ok_or(PasskeyError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{
        AuditLines, FakeCeremonies, FakeHasher, FixedClock, InMemoryCredentials, InMemoryPasskeys,
        InMemoryUsers, events_of, user_with_email,
    };
    use crate::ports::{CEREMONY_SECONDS, Ceremony};
    use domain::Timestamp;

    struct World {
        users: InMemoryUsers,
        passkeys: InMemoryPasskeys,
        ada: User,
    }

    impl World {
        fn new() -> Self {
            let users = InMemoryUsers::default();
            let ada = users.add(user_with_email("ada@example.com"));
            Self {
                passkeys: InMemoryPasskeys::beside(&users),
                users,
                ada,
            }
        }

        fn step_up(&self) -> StepUp<InMemoryCredentials, FakeHasher> {
            StepUp::new(InMemoryCredentials::default(), FakeHasher::default())
        }

        async fn start(
            &self,
            caller: &Caller,
            at: Timestamp,
        ) -> Result<(CeremonyStarted, Ceremony), PasskeyError> {
            let start = StartPasskeyRegistration::new(
                self.users.clone(),
                self.passkeys.clone(),
                FakeCeremonies,
                FixedClock::at(at),
                self.step_up(),
            );
            let request = PasskeyRegistrationRequest {
                user_id: self.ada.id(),
                current_password: None,
            };
            let started = start.execute(caller, request).await?;
            let ceremony = FakeCeremonies::ceremony_of(&started.options_json);
            Ok((started, ceremony))
        }

        async fn register(
            &self,
            caller: &Caller,
            started: &CeremonyStarted,
            answer: String,
            at: Timestamp,
        ) -> Result<Passkey, PasskeyError> {
            let register = RegisterPasskey::new(
                self.users.clone(),
                self.passkeys.clone(),
                FakeCeremonies,
                FixedClock::at(at),
            );
            let request = NewPasskeyRequest {
                user_id: self.ada.id(),
                registration_id: started.id,
                name: PasskeyName::parse("Laptop").unwrap(),
                credential_json: answer,
            };
            register.execute(caller, request).await
        }

        fn list(&self) -> ListPasskeys<InMemoryUsers, InMemoryPasskeys> {
            ListPasskeys::new(self.users.clone(), self.passkeys.clone())
        }

        fn remove(
            &self,
        ) -> RemovePasskey<
            InMemoryUsers,
            InMemoryPasskeys,
            FixedClock,
            InMemoryCredentials,
            FakeHasher,
        > {
            RemovePasskey::new(
                self.users.clone(),
                self.passkeys.clone(),
                FixedClock::default(),
                self.step_up(),
            )
        }
    }

    fn now() -> Timestamp {
        FixedClock::default().now()
    }

    #[tokio::test]
    async fn a_passkey_registers_in_two_requests_and_the_address_is_told() {
        let world = World::new();
        let ada = world.users.sign_in(&world.ada);
        let (started, ceremony) = world.start(&ada, now()).await.unwrap();
        let answer = FakeCeremonies::answer(&ceremony, "cred-1", world.ada.id(), true, 0);
        let passkey = world.register(&ada, &started, answer, now()).await.unwrap();
        assert_eq!(passkey.name.as_str(), "Laptop");
        assert_eq!((passkey.created_at, passkey.last_used_at), (now(), None));
        assert_eq!(passkey.credential.user_id, world.ada.id());
        let listed = world
            .list()
            .execute(
                &ada,
                PasskeysQuery {
                    user_id: world.ada.id(),
                },
            )
            .await
            .unwrap();
        assert_eq!(listed, vec![passkey]);
        let emails = world.users.outbox().emails();
        assert_eq!(
            emails.last().unwrap().subject,
            "A passkey was added to your account"
        );
        assert_eq!(
            world.passkeys.ceremonies(),
            0,
            "the registration is used up"
        );
    }

    #[tokio::test]
    async fn a_registration_works_once_within_five_minutes_and_only_verified() {
        let world = World::new();
        let ada = world.users.sign_in(&world.ada);
        let (started, ceremony) = world.start(&ada, now()).await.unwrap();
        let unverified = FakeCeremonies::answer(&ceremony, "cred-1", world.ada.id(), false, 0);
        let failed = world.register(&ada, &started, unverified, now()).await;
        assert!(matches!(failed, Err(PasskeyError::VerificationFailed)));
        let verified = FakeCeremonies::answer(&ceremony, "cred-1", world.ada.id(), true, 0);
        let used = world.register(&ada, &started, verified, now()).await;
        assert!(
            matches!(used, Err(PasskeyError::VerificationFailed)),
            "a failed answer used the registration up"
        );

        let (started, ceremony) = world.start(&ada, now()).await.unwrap();
        let late = now().plus_seconds(CEREMONY_SECONDS).unwrap();
        let answer = FakeCeremonies::answer(&ceremony, "cred-1", world.ada.id(), true, 0);
        let expired = world.register(&ada, &started, answer, late).await;
        assert!(matches!(expired, Err(PasskeyError::VerificationFailed)));
        let none = world
            .list()
            .execute(
                &ada,
                PasskeysQuery {
                    user_id: world.ada.id(),
                },
            )
            .await
            .unwrap();
        assert!(none.is_empty());
    }

    #[tokio::test]
    async fn a_credential_registers_once_and_for_its_own_user_only() {
        let world = World::new();
        let ada = world.users.sign_in(&world.ada);
        let (started, ceremony) = world.start(&ada, now()).await.unwrap();
        let answer = FakeCeremonies::answer(&ceremony, "cred-1", world.ada.id(), true, 0);
        world.register(&ada, &started, answer, now()).await.unwrap();
        let (again, ceremony) = world.start(&ada, now()).await.unwrap();
        let answer = FakeCeremonies::answer(&ceremony, "cred-1", world.ada.id(), true, 0);
        let taken = world.register(&ada, &again, answer, now()).await;
        assert!(matches!(taken, Err(PasskeyError::CredentialTaken)));
        let (other, ceremony) = world.start(&ada, now()).await.unwrap();
        let answer = FakeCeremonies::answer(&ceremony, "cred-2", UserId::generate(), true, 0);
        let foreign = world.register(&ada, &other, answer, now()).await;
        assert!(matches!(foreign, Err(PasskeyError::VerificationFailed)));
    }

    #[tokio::test]
    async fn a_passkey_added_or_removed_moves_its_owner_on_and_is_published_at_that_version() {
        let world = World::new();
        let ada = world.users.sign_in(&world.ada);
        let (started, ceremony) = world.start(&ada, now()).await.unwrap();
        let answer = FakeCeremonies::answer(&ceremony, "cred-1", world.ada.id(), true, 0);
        // Ada's account changed since the ceremony started (a login, say): the passkey moves
        // her on from the version after that change.
        let read = world.users.stored(world.ada.id()).unwrap();
        let mut verified = read.clone();
        verified.verify_email();
        world
            .users
            .update(&read, verified, &crate::ports::Outgoing::nothing())
            .await
            .unwrap();
        let passkey = world.register(&ada, &started, answer, now()).await.unwrap();
        let after_add = world.users.stored(world.ada.id()).unwrap();
        assert_eq!(after_add.version(), read.version().next().next());
        world
            .remove()
            .execute(
                &world.users.admin_caller(),
                PasskeyRemoval {
                    user_id: world.ada.id(),
                    passkey_id: passkey.id,
                    current_password: None,
                },
            )
            .await
            .unwrap();
        let after_remove = world.users.stored(world.ada.id()).unwrap();
        let published: Vec<_> = world
            .users
            .outbox()
            .events()
            .into_iter()
            .map(|event| (event.change, event.version))
            .collect();
        assert_eq!(
            published,
            [
                (
                    Change::UserPasskeyAdded {
                        passkey_id: passkey.id
                    },
                    after_add.version()
                ),
                (
                    Change::UserPasskeyRemoved {
                        passkey_id: passkey.id
                    },
                    after_remove.version()
                ),
            ]
        );
        assert_eq!(after_remove.version(), after_add.version().next());
    }

    #[tokio::test]
    async fn registering_is_the_users_own_and_needs_step_up() {
        let world = World::new();
        let admin = world.users.admin_caller();
        let for_ada = world.start(&admin, now()).await;
        assert!(matches!(
            for_ada,
            Err(PasskeyError::Denied(Denied::NotFound))
        ));
        let ada = world.users.sign_in(&world.ada);
        let hour_later = now().plus_seconds(3600).unwrap();
        let stale = world.start(&ada, hour_later).await;
        assert!(matches!(
            stale,
            Err(PasskeyError::StepUp(StepUpError::ReauthenticationRequired))
        ));
    }

    #[tokio::test]
    async fn a_passkey_is_removed_by_its_user_or_an_admin_and_the_address_is_told() {
        let (lines, _guard) = AuditLines::capture();
        let world = World::new();
        let ada = world.users.sign_in(&world.ada);
        for credential in ["cred-1", "cred-2"] {
            let (started, ceremony) = world.start(&ada, now()).await.unwrap();
            let answer = FakeCeremonies::answer(&ceremony, credential, world.ada.id(), true, 0);
            world.register(&ada, &started, answer, now()).await.unwrap();
        }
        let query = || PasskeysQuery {
            user_id: world.ada.id(),
        };
        let listed = world.list().execute(&ada, query()).await.unwrap();
        let removal = |passkey: &Passkey| PasskeyRemoval {
            user_id: world.ada.id(),
            passkey_id: passkey.id,
            current_password: None,
        };
        world
            .remove()
            .execute(&ada, removal(&listed[0]))
            .await
            .unwrap();
        let again = world.remove().execute(&ada, removal(&listed[0])).await;
        assert!(matches!(again, Err(PasskeyError::PasskeyNotFound)));
        let grace = world.users.add(user_with_email("grace@example.com"));
        let other = world
            .remove()
            .execute(&world.users.sign_in(&grace), removal(&listed[1]))
            .await;
        assert!(matches!(other, Err(PasskeyError::Denied(Denied::NotFound))));
        let admin = world.users.admin_caller();
        world
            .remove()
            .execute(&admin, removal(&listed[1]))
            .await
            .unwrap();
        assert!(
            world
                .list()
                .execute(&ada, query())
                .await
                .unwrap()
                .is_empty()
        );
        let emails = world.users.outbox().emails();
        let removed = emails
            .iter()
            .filter(|email| email.subject == "A passkey was removed from your account")
            .count();
        assert_eq!(removed, 2);
        let recorded = lines.take();
        let events = events_of(&recorded);
        assert!(events.contains(&("passkey_added", "success")));
        assert_eq!(events.last(), Some(&("passkey_removed", "success")));
    }
}
