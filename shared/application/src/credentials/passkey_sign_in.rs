//! Signing in with a passkey (API.md, "Passkeys"), in two requests and no password.
//!
//! `POST /login/passkey/options` answers request options naming no credential (the passkey
//! is discoverable: the authenticator offers the user's own) and keeps the ceremony's state
//! for 5 minutes under a `challenge_id`. `POST /login/passkey` takes that state (used up
//! whatever the outcome), finds the passkey the assertion names, verifies the assertion and
//! moves its counter on in a write conditional on the counter read, then signs in as a login
//! does, with `amr` `["hwk", "mfa"]`.

use super::login::{Finish, LoginError, sign_in};
use super::passkeys::CeremonyStarted;
use super::sessions::{Session, Sessions};
use crate::audit::{self, Outcome};
use crate::ports::{
    AccessTokenIssuer, Clock, LoginStore, PasskeyCeremonies, PasskeyRefused, PasskeyStore,
    PendingCeremony, RepositoryError, ResetTokens, SessionOrigin, SessionRepository,
};
use crate::{Caller, Policy, UseCase, command};
use domain::{AuthMethods, CeremonyId, UserId};

pub struct PasskeySignInOptions;

command!(PasskeySignInOptions => CeremonyStarted, StartSignInError);

#[derive(Debug, thiserror::Error)]
pub enum StartSignInError {
    #[error(transparent)]
    Denied(#[from] crate::Denied),
    #[error("no ceremony could be started")]
    Ceremony(#[source] crate::ports::BoxError),
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

pub struct StartPasskeySignIn<P, W, C> {
    passkeys: P,
    ceremonies: W,
    clock: C,
}

impl<P, W, C> StartPasskeySignIn<P, W, C> {
    pub fn new(passkeys: P, ceremonies: W, clock: C) -> Self {
        Self {
            passkeys,
            ceremonies,
            clock,
        }
    }
}

impl<P: PasskeyStore, W: PasskeyCeremonies, C: Clock> UseCase<PasskeySignInOptions>
    for StartPasskeySignIn<P, W, C>
{
    fn policy(&self) -> Policy {
        Policy::Anyone
    }

    async fn run(
        &self,
        _caller: &Caller,
        _request: PasskeySignInOptions,
    ) -> Result<CeremonyStarted, StartSignInError> {
        let ceremony = self
            .ceremonies
            .start_sign_in()
            .map_err(StartSignInError::Ceremony)?;
        let pending = PendingCeremony {
            id: CeremonyId::generate(),
            user_id: None,
            state: ceremony.state,
            started_at: self.clock.now(),
        };
        self.passkeys.start_ceremony(&pending).await?;
        Ok(CeremonyStarted {
            id: pending.id,
            options_json: ceremony.options_json,
        })
    }
}

pub struct PasskeySignInRequest {
    pub challenge_id: CeremonyId,
    /// The browser's `credential.toJSON()` of the assertion.
    pub assertion_json: String,
    /// Where the client signs in from, for its list of sessions.
    pub origin: SessionOrigin,
}

command!(PasskeySignInRequest => Session, LoginError);

pub struct PasskeySignIn<L, P, W, C, A, S, T> {
    store: L,
    passkeys: P,
    ceremonies: W,
    clock: C,
    sessions: Sessions<A, S, T>,
}

impl<L, P, W, C, A, S, T> PasskeySignIn<L, P, W, C, A, S, T> {
    pub fn new(
        store: L,
        passkeys: P,
        ceremonies: W,
        clock: C,
        sessions: Sessions<A, S, T>,
    ) -> Self {
        Self {
            store,
            passkeys,
            ceremonies,
            clock,
            sessions,
        }
    }
}

impl<L, P, W, C, A, S, T> UseCase<PasskeySignInRequest> for PasskeySignIn<L, P, W, C, A, S, T>
where
    L: LoginStore,
    P: PasskeyStore,
    W: PasskeyCeremonies,
    C: Clock,
    A: AccessTokenIssuer,
    S: SessionRepository,
    T: ResetTokens,
{
    fn policy(&self) -> Policy {
        Policy::Anyone
    }

    async fn run(
        &self,
        _caller: &Caller,
        request: PasskeySignInRequest,
    ) -> Result<Session, LoginError> {
        let mut known = None;
        let result = self.sign_in(&request, &mut known).await;
        let actor = known.filter(|_| result.is_ok());
        audit::record("passkey_login", Outcome::of(&result), actor, known);
        result
    }
}

impl<L, P, W, C, A, S, T> PasskeySignIn<L, P, W, C, A, S, T>
where
    L: LoginStore,
    P: PasskeyStore,
    W: PasskeyCeremonies,
    C: Clock,
    A: AccessTokenIssuer,
    S: SessionRepository,
    T: ResetTokens,
{
    async fn sign_in(
        &self,
        request: &PasskeySignInRequest,
        known: &mut Option<UserId>,
    ) -> Result<Session, LoginError> {
        let now = self.clock.now();
        let claim = self.ceremonies.claim_of(&request.assertion_json);
        let passkey = async {
            match &claim {
                Ok(claim) => self.passkeys.by_credential(&claim.credential_id).await,
                Err(_) => Ok(None),
            }
        };
        // The ceremony is taken (used up) whatever the answer, so an assertion cannot be tried
        // twice; the passkey is looked up beside it, in the same round trip.
        let (ceremony, passkey) =
            futures::join!(self.passkeys.take_ceremony(request.challenge_id), passkey);
        let ceremony = ceremony?
            .filter(|ceremony| ceremony.user_id.is_none() && ceremony.is_open(now))
            .ok_or(LoginError::InvalidPasskey)?;
        let claim = claim.map_err(|_| LoginError::InvalidPasskey)?;
        let passkey = passkey?
            .filter(|passkey| passkey.credential.user_id == claim.user_id)
            .ok_or(LoginError::InvalidPasskey)?;
        let user_id = passkey.credential.user_id;
        *known = Some(user_id);
        let dynamic_state = self
            .ceremonies
            .finish_sign_in(
                &ceremony.state,
                &request.assertion_json,
                &passkey.credential,
            )
            .map_err(|refused| {
                if refused == PasskeyRefused::CounterWentBack {
                    // A cloned authenticator, or a replay: for the operator to look into.
                    audit::record("passkey_counter", Outcome::Denied, None, Some(user_id));
                }
                LoginError::InvalidPasskey
            })?;
        let (user, _) = self.store.user_and_password(user_id).await?;
        let user = user.ok_or(LoginError::InvalidPasskey)?;
        if !user.can_login() {
            let status = user.status();
            return Err(LoginError::NotAllowed { status });
        }
        if !self
            .passkeys
            .record_use(&passkey, &dynamic_state, now)
            .await?
        {
            // Another sign-in with this passkey's counter won the write.
            return Err(LoginError::InvalidPasskey);
        }
        let address = user.email().clone();
        let finish = Finish {
            methods: AuthMethods::Passkey,
            origin: request.origin.clone(),
            address: &address,
            challenge: None,
            now,
        };
        sign_in(&self.store, &self.sessions, user, finish).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{
        AuditLines, FakeAccessTokens, FakeCeremonies, FakeTokens, FixedClock, InMemoryCredentials,
        InMemoryLoginStore, InMemoryPasskeys, InMemorySessions, InMemoryUsers, events_of,
        user_with_email,
    };
    use crate::ports::Outgoing;
    use crate::ports::{
        AccessTokenVerifier, Ceremony, CredentialId, Passkey, PasskeyCredential, UserRepository,
    };
    use domain::{PasskeyId, PasskeyName, Timestamp, User};

    struct World {
        users: InMemoryUsers,
        sessions: InMemorySessions,
        store: InMemoryLoginStore,
        passkeys: InMemoryPasskeys,
        ada: User,
        laptop: Passkey,
    }

    impl World {
        /// Ada with one passkey, `cred-1`, its counter at 0.
        async fn new() -> Self {
            let users = InMemoryUsers::default();
            let sessions = InMemorySessions::beside(&users);
            let store = InMemoryLoginStore::new(&users, &InMemoryCredentials::default(), &sessions);
            let passkeys = InMemoryPasskeys::beside(&users);
            let ada = users.add(user_with_email("ada@example.com"));
            let laptop = Passkey {
                id: PasskeyId::generate(),
                name: PasskeyName::parse("Laptop").unwrap(),
                credential: PasskeyCredential {
                    id: CredentialId::new(b"cred-1".to_vec()),
                    user_id: ada.id(),
                    static_state: b"public key".to_vec(),
                    dynamic_state: b"0".to_vec(),
                },
                created_at: now(),
                last_used_at: None,
            };
            crate::ports::PasskeyStore::add(&passkeys, &laptop, &ada, &Outgoing::nothing())
                .await
                .unwrap();
            // The passkey moved Ada to her next version.
            let ada = users.stored(ada.id()).unwrap();
            Self {
                users,
                sessions,
                store,
                passkeys,
                ada,
                laptop,
            }
        }

        /// The options of a new sign-in at `at`, and the ceremony they came from.
        async fn options(&self, at: Timestamp) -> (CeremonyId, Ceremony) {
            let start =
                StartPasskeySignIn::new(self.passkeys.clone(), FakeCeremonies, FixedClock::at(at));
            let started = start
                .execute(&Caller::Anonymous, PasskeySignInOptions)
                .await
                .unwrap();
            (
                started.id,
                FakeCeremonies::ceremony_of(&started.options_json),
            )
        }

        async fn sign_in(
            &self,
            challenge_id: CeremonyId,
            assertion: String,
            at: Timestamp,
        ) -> Result<Session, LoginError> {
            let sign_in = PasskeySignIn::new(
                self.store.clone(),
                self.passkeys.clone(),
                FakeCeremonies,
                FixedClock::at(at),
                Sessions::new(FakeAccessTokens, self.sessions.clone(), FakeTokens),
            );
            let request = PasskeySignInRequest {
                challenge_id,
                assertion_json: assertion,
                origin: SessionOrigin::default(),
            };
            sign_in.execute(&Caller::Anonymous, request).await
        }

        fn answer(&self, ceremony: &Ceremony, counter: u32) -> String {
            FakeCeremonies::answer(ceremony, "cred-1", self.ada.id(), true, counter)
        }
    }

    fn now() -> Timestamp {
        FixedClock::default().now()
    }

    /// An assertion for a ceremony of its own, given another ceremony and the user.
    type Answer = fn(&Ceremony, &Ceremony, UserId) -> String;

    #[tokio::test]
    async fn a_passkey_signs_in_with_hwk_and_mfa_and_its_counter_moves_on() {
        let world = World::new().await;
        let (challenge, ceremony) = world.options(now()).await;
        let session = world
            .sign_in(challenge, world.answer(&ceremony, 1), now())
            .await
            .unwrap();
        let claims = FakeAccessTokens
            .verify(&session.access.token, now())
            .unwrap();
        assert_eq!(claims.user_id, world.ada.id());
        assert_eq!(claims.proof.methods, AuthMethods::Passkey);
        assert!(
            claims.proof.methods.is_multi_factor(),
            "it satisfies the admin MFA setting"
        );
        assert_eq!(session.user.last_login(), Some(now()));
        let stored = crate::ports::PasskeyStore::passkeys(&world.passkeys, world.ada.id())
            .await
            .unwrap();
        assert_eq!(stored[0].credential.dynamic_state, b"1");
        assert_eq!(stored[0].last_used_at, Some(now()));

        let replayed = world
            .sign_in(challenge, world.answer(&ceremony, 2), now())
            .await;
        assert!(
            matches!(replayed, Err(LoginError::InvalidPasskey)),
            "the challenge is used up"
        );
    }

    #[tokio::test]
    async fn a_counter_that_goes_backwards_is_refused_and_audited() {
        let (lines, _guard) = AuditLines::capture();
        let world = World::new().await;
        let (challenge, ceremony) = world.options(now()).await;
        world
            .sign_in(challenge, world.answer(&ceremony, 5), now())
            .await
            .unwrap();
        let (challenge, ceremony) = world.options(now()).await;
        let cloned = world
            .sign_in(challenge, world.answer(&ceremony, 3), now())
            .await;
        assert!(matches!(cloned, Err(LoginError::InvalidPasskey)));
        let recorded = lines.take();
        let events = events_of(&recorded);
        assert!(
            events.contains(&("passkey_counter", "denied")),
            "{events:?}"
        );
        assert_eq!(events.last(), Some(&("passkey_login", "failure")));
    }

    #[tokio::test]
    async fn every_failed_assertion_is_the_same_refusal() {
        let world = World::new().await;
        let ada = world.ada.id();
        let (_, elsewhere) = world.options(now()).await;
        let cases: [(&str, Answer); 5] = [
            ("another ceremony's challenge", |_, other, ada| {
                FakeCeremonies::answer(other, "cred-1", ada, true, 1)
            }),
            ("no user verification", |own, _, ada| {
                FakeCeremonies::answer(own, "cred-1", ada, false, 1)
            }),
            ("an unknown credential", |own, _, ada| {
                FakeCeremonies::answer(own, "cred-9", ada, true, 1)
            }),
            ("another user's handle", |own, _, _| {
                FakeCeremonies::answer(own, "cred-1", UserId::generate(), true, 1)
            }),
            ("not an assertion", |_, _, _| "garbage".to_owned()),
        ];
        for (what, assertion) in cases {
            let (challenge, own) = world.options(now()).await;
            let refused = world
                .sign_in(challenge, assertion(&own, &elsewhere, ada), now())
                .await;
            assert!(matches!(refused, Err(LoginError::InvalidPasskey)), "{what}");
        }
        let (challenge, ceremony) = world.options(now()).await;
        let late = now().plus_seconds(crate::ports::CEREMONY_SECONDS).unwrap();
        let expired = world
            .sign_in(challenge, world.answer(&ceremony, 1), late)
            .await;
        assert!(
            matches!(expired, Err(LoginError::InvalidPasskey)),
            "expired"
        );
        let (challenge, ceremony) = world.options(now()).await;
        world
            .sign_in(challenge, world.answer(&ceremony, 1), now())
            .await
            .expect("and the passkey still signs in");
    }

    #[tokio::test]
    async fn a_deleted_passkey_or_a_suspended_user_signs_in_no_more() {
        let world = World::new().await;
        let mut suspended = world.ada.clone();
        suspended.suspend().unwrap();
        world
            .users
            .update(&world.ada, suspended, &Outgoing::nothing())
            .await
            .unwrap();
        let (challenge, ceremony) = world.options(now()).await;
        let refused = world
            .sign_in(challenge, world.answer(&ceremony, 1), now())
            .await;
        assert!(matches!(refused, Err(LoginError::NotAllowed { .. })));

        let world = World::new().await;
        crate::ports::PasskeyStore::remove(
            &world.passkeys,
            &world.laptop,
            &world.ada,
            &Outgoing::nothing(),
        )
        .await
        .unwrap();
        let (challenge, ceremony) = world.options(now()).await;
        let gone = world
            .sign_in(challenge, world.answer(&ceremony, 1), now())
            .await;
        assert!(matches!(gone, Err(LoginError::InvalidPasskey)));
    }
}
