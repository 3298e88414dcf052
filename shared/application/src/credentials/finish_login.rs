//! `POST /login/mfa`: the second step of a two-step login (API.md, "Second factors"). The
//! `mfa_token` a right password got names the user and the address; a code of the user's
//! factor (a TOTP code, accepted once, or a recovery code, used up) finishes the login with
//! `amr` `["pwd", "otp", "mfa"]` and uses the token up in the same write.
//!
//! A code is checked like a password: the attempt is reserved at the address first (locked:
//! 429, nothing checked), so wrong codes count toward the same lockout.

use super::lockout::Reservation;
use super::login::{Finish, LoginError, sign_in};
use super::second_factor::{FactorCheck, FactorProof, SecondFactor};
use super::sessions::{Session, Sessions};
use crate::audit::{self, Outcome};
use crate::ports::{
    AccessTokenIssuer, Clock, LoginStore, OneTimePasswords, ResetTokens, SecretSealer,
    SessionOrigin, SessionRepository, TotpFactors,
};
use crate::{Caller, Policy, UseCase, command};
use domain::{AuthMethods, UserId};
use futures::future::join;

pub struct FinishLoginRequest {
    /// From the 403 `/problems/mfa-required` answer of `POST /login`.
    pub mfa_token: String,
    pub proof: FactorProof,
    /// Where the client signs in from, for its list of sessions.
    pub origin: SessionOrigin,
}

command!(FinishLoginRequest => Session, LoginError);

/// `L` the login's reads and writes, `F`/`O`/`K` the factor's store, codes and key.
pub struct FinishLogin<L, C, A, S, T, F, O, K> {
    store: L,
    clock: C,
    sessions: Sessions<A, S, T>,
    factor: SecondFactor<F, O, K>,
}

impl<L, C, A, S, T, F, O, K> FinishLogin<L, C, A, S, T, F, O, K> {
    pub fn new(
        store: L,
        clock: C,
        sessions: Sessions<A, S, T>,
        factor: SecondFactor<F, O, K>,
    ) -> Self {
        Self {
            store,
            clock,
            sessions,
            factor,
        }
    }
}

impl<L, C, A, S, T, F, O, K> UseCase<FinishLoginRequest> for FinishLogin<L, C, A, S, T, F, O, K>
where
    L: LoginStore,
    C: Clock,
    A: AccessTokenIssuer,
    S: SessionRepository,
    T: ResetTokens,
    F: TotpFactors,
    O: OneTimePasswords,
    K: SecretSealer,
{
    fn policy(&self) -> Policy {
        Policy::Anyone
    }

    async fn run(
        &self,
        _caller: &Caller,
        request: FinishLoginRequest,
    ) -> Result<Session, LoginError> {
        let mut known = None;
        let result = self.finish(&request, &mut known).await;
        let outcome = match &result {
            Err(LoginError::Locked { .. }) => Outcome::Denied,
            result => Outcome::of(result),
        };
        let actor = known.filter(|_| result.is_ok());
        audit::record("login", outcome, actor, known);
        result
    }
}

impl<L, C, A, S, T, F, O, K> FinishLogin<L, C, A, S, T, F, O, K>
where
    L: LoginStore,
    C: Clock,
    A: AccessTokenIssuer,
    S: SessionRepository,
    T: ResetTokens,
    F: TotpFactors,
    O: OneTimePasswords,
    K: SecretSealer,
{
    async fn finish(
        &self,
        request: &FinishLoginRequest,
        known: &mut Option<UserId>,
    ) -> Result<Session, LoginError> {
        let now = self.clock.now();
        let hash = self.sessions.hash(&request.mfa_token);
        let challenge = self
            .store
            .challenge(&hash)
            .await?
            .filter(|challenge| challenge.is_open(now))
            .ok_or(LoginError::InvalidSecondFactor)?;
        *known = Some(challenge.user_id);
        // The reservation and the user at once; the code waits for both.
        let (address, user) = join(
            self.store.address(&challenge.address, now),
            self.store.user_and_password(challenge.user_id),
        )
        .await;
        let counted = match address?.reservation {
            Reservation::Granted(counted) => counted,
            Reservation::Locked { retry_after } => return Err(LoginError::Locked { retry_after }),
        };
        // A password set (or sessions revoked) after the password step voids its token.
        let user = user?
            .0
            .filter(|user| user.session_is_valid(challenge.issued_at))
            .ok_or(LoginError::InvalidSecondFactor)?;
        if self.factor.check(user.id(), &request.proof, now).await? == FactorCheck::Refused {
            if counted.locked_for(now).is_some() {
                audit::record("lockout", Outcome::Success, None, *known);
            }
            return Err(LoginError::InvalidSecondFactor);
        }
        let finish = Finish {
            methods: AuthMethods::PasswordAndOneTimeCode,
            origin: request.origin.clone(),
            address: &challenge.address,
            challenge: Some(&challenge.hash),
            now,
        };
        sign_in(&self.store, &self.sessions, user, finish).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::{Login, LoginRequest, MfaToken};
    use crate::fakes::{
        AuditLines, FakeAccessTokens, FakeHasher, FakeSealer, FakeTokens, FixedClock,
        InMemoryCredentials, InMemoryFactors, InMemoryLoginStore, InMemorySessions, InMemoryUsers,
        StepCodes, events_of, user_with_email,
    };
    use crate::ports::Outgoing;
    use crate::ports::{
        AccessTokenVerifier, CredentialRepository, MFA_CHALLENGE_SECONDS, PasswordHasher,
        UserRepository,
    };
    use domain::{Password, Timestamp, User};

    const PASSWORD: &str = "correct horse battery";

    /// Ada, with a password and a factor on (recovery codes "AAAA-1" and "BBBB-2").
    struct World {
        users: InMemoryUsers,
        credentials: InMemoryCredentials,
        sessions: InMemorySessions,
        factors: InMemoryFactors,
        store: InMemoryLoginStore,
        ada: User,
    }

    type Finisher = FinishLogin<
        InMemoryLoginStore,
        FixedClock,
        FakeAccessTokens,
        InMemorySessions,
        FakeTokens,
        InMemoryFactors,
        StepCodes,
        FakeSealer,
    >;

    impl World {
        async fn new() -> Self {
            let users = InMemoryUsers::default();
            let credentials = InMemoryCredentials::default();
            let sessions = InMemorySessions::beside(&users);
            let factors = InMemoryFactors::beside(&users);
            let store = InMemoryLoginStore::new(&users, &credentials, &sessions);
            let ada = users.add(user_with_email("ada@example.com"));
            let hash = FakeHasher::default()
                .hash(&Password::parse(PASSWORD).unwrap())
                .unwrap();
            credentials.set_password(ada.id(), hash);
            let ada = factors.turn_on(&ada, &["AAAA-1", "BBBB-2"]).await;
            Self {
                users,
                credentials,
                sessions,
                factors,
                store,
                ada,
            }
        }

        fn sessions(&self) -> Sessions<FakeAccessTokens, InMemorySessions, FakeTokens> {
            Sessions::new(FakeAccessTokens, self.sessions.clone(), FakeTokens)
        }

        /// The first step at `now`: the password.
        async fn log_in(&self, password: &str, now: Timestamp) -> Result<Session, LoginError> {
            let login = Login::new(
                self.store.clone(),
                FakeHasher::default(),
                FixedClock::at(now),
                self.sessions(),
            );
            let request = LoginRequest {
                email: self.ada.email().clone(),
                password: password.to_owned(),
                origin: SessionOrigin::default(),
            };
            login.execute(&Caller::Anonymous, request).await
        }

        /// The `mfa_token` of a right password at `now`.
        async fn mfa_token(&self, now: Timestamp) -> MfaToken {
            match self.log_in(PASSWORD, now).await {
                Err(LoginError::SecondFactorRequired(token)) => token,
                other => panic!("expected an mfa_token, got {other:?}"),
            }
        }

        fn finisher(&self, now: Timestamp) -> Finisher {
            let factor = SecondFactor::new(
                self.factors.clone(),
                StepCodes::default(),
                FakeSealer::default(),
            );
            FinishLogin::new(
                self.store.clone(),
                FixedClock::at(now),
                self.sessions(),
                factor,
            )
        }

        async fn finish(
            &self,
            token: &MfaToken,
            proof: FactorProof,
            now: Timestamp,
        ) -> Result<Session, LoginError> {
            let request = FinishLoginRequest {
                mfa_token: token.token.clone(),
                proof,
                origin: SessionOrigin::default(),
            };
            self.finisher(now)
                .execute(&Caller::Anonymous, request)
                .await
        }
    }

    fn now() -> Timestamp {
        FixedClock::default().now()
    }

    fn code_at(at: Timestamp) -> FactorProof {
        FactorProof::Code(StepCodes::code_at(at))
    }

    #[tokio::test]
    async fn a_right_password_answers_an_mfa_token_and_starts_no_session() {
        let world = World::new().await;
        let token = world.mfa_token(now()).await;
        assert_eq!(token.expires_in, MFA_CHALLENGE_SECONDS);
        assert!(
            world
                .sessions
                .list(world.ada.id())
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            world.users.stored(world.ada.id()).unwrap().last_login(),
            None
        );
        assert!(!format!("{token:?}").contains(&token.token), "never logged");
    }

    #[tokio::test]
    async fn a_wrong_password_does_the_same_work_as_a_right_one_and_answers_401() {
        let world = World::new().await;
        let wrong = world.log_in("wrong horse battery", now()).await;
        assert!(matches!(wrong, Err(LoginError::InvalidCredentials)));
        world.mfa_token(now()).await;
        // Both wrote a challenge before the password was checked: no timing tells them apart.
        assert_eq!(world.store.challenges(), 2);
    }

    #[tokio::test]
    async fn the_token_and_a_code_finish_the_login_with_otp_and_mfa_once() {
        let world = World::new().await;
        let token = world.mfa_token(now()).await;
        let session = world.finish(&token, code_at(now()), now()).await.unwrap();
        let claims = FakeAccessTokens
            .verify(&session.access.token, now())
            .unwrap();
        assert_eq!(claims.user_id, world.ada.id());
        assert_eq!(claims.proof.methods, AuthMethods::PasswordAndOneTimeCode);
        assert_eq!(session.user.last_login(), Some(now()));
        let sessions = world.sessions.list(world.ada.id()).await.unwrap();
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions[0].methods, AuthMethods::PasswordAndOneTimeCode);

        let next = now().plus_seconds(30).unwrap();
        let again = world.finish(&token, code_at(next), next).await;
        assert!(
            matches!(again, Err(LoginError::InvalidSecondFactor)),
            "the token is used up"
        );
    }

    #[tokio::test]
    async fn a_code_is_accepted_once_and_one_step_of_drift_either_way() {
        let world = World::new().await;
        let step = Timestamp::from_millis(now().as_millis() - 30_000).unwrap();
        let token = world.mfa_token(now()).await;
        world.finish(&token, code_at(step), now()).await.unwrap();
        let token = world.mfa_token(now()).await;
        let replayed = world.finish(&token, code_at(step), now()).await;
        assert!(matches!(replayed, Err(LoginError::InvalidSecondFactor)));
        let ahead = now().plus_seconds(30).unwrap();
        world.finish(&token, code_at(ahead), now()).await.unwrap();
        let token = world.mfa_token(now()).await;
        let far = now().plus_seconds(60).unwrap();
        let too_far = world.finish(&token, code_at(far), now()).await;
        assert!(matches!(too_far, Err(LoginError::InvalidSecondFactor)));
    }

    #[tokio::test]
    async fn a_recovery_code_finishes_a_login_once() {
        let world = World::new().await;
        let recovery = || FactorProof::RecoveryCode("aaaa-1".to_owned());
        let token = world.mfa_token(now()).await;
        let session = world.finish(&token, recovery(), now()).await.unwrap();
        let claims = FakeAccessTokens
            .verify(&session.access.token, now())
            .unwrap();
        assert_eq!(claims.proof.methods, AuthMethods::PasswordAndOneTimeCode);
        let token = world.mfa_token(now()).await;
        let used = world.finish(&token, recovery(), now()).await;
        assert!(matches!(used, Err(LoginError::InvalidSecondFactor)));
        let other = FactorProof::RecoveryCode("BBBB-2".to_owned());
        world.finish(&token, other, now()).await.unwrap();
    }

    #[tokio::test]
    async fn the_token_expires_after_five_minutes() {
        let world = World::new().await;
        let token = world.mfa_token(now()).await;
        let late = now().plus_seconds(MFA_CHALLENGE_SECONDS).unwrap();
        let expired = world.finish(&token, code_at(late), late).await;
        assert!(matches!(expired, Err(LoginError::InvalidSecondFactor)));
        let just = now().plus_seconds(MFA_CHALLENGE_SECONDS - 1).unwrap();
        world.finish(&token, code_at(just), just).await.unwrap();
    }

    #[tokio::test]
    async fn an_unknown_token_and_a_password_set_since_refuse_with_the_same_answer() {
        let world = World::new().await;
        let forged = MfaToken {
            token: "token-forged".to_owned(),
            expires_in: 300,
        };
        let unknown = world.finish(&forged, code_at(now()), now()).await;
        assert!(matches!(unknown, Err(LoginError::InvalidSecondFactor)));

        let token = world.mfa_token(now()).await;
        let later = now().plus_seconds(10).unwrap();
        let mut reset = world.users.stored(world.ada.id()).unwrap();
        reset.revoke_sessions(later);
        world
            .users
            .update(
                &world.users.stored(world.ada.id()).unwrap(),
                reset,
                &Outgoing::nothing(),
            )
            .await
            .unwrap();
        let revoked = world.finish(&token, code_at(later), later).await;
        assert!(matches!(revoked, Err(LoginError::InvalidSecondFactor)));
    }

    #[tokio::test]
    async fn wrong_codes_lock_the_address_like_wrong_passwords() {
        let world = World::new().await;
        let token = world.mfa_token(now()).await;
        // The password step counted one attempt; four wrong codes make five.
        for _ in 0..4 {
            let wrong = world
                .finish(&token, FactorProof::Code("000000".to_owned()), now())
                .await;
            assert!(matches!(wrong, Err(LoginError::InvalidSecondFactor)));
        }
        let locked = world.finish(&token, code_at(now()), now()).await;
        assert!(matches!(locked, Err(LoginError::Locked { retry_after: 1 })));
        let attempts = world
            .credentials
            .login_attempts(world.ada.email())
            .await
            .unwrap();
        assert_eq!(attempts.failures, 5);

        let later = now().plus_seconds(1).unwrap();
        world.finish(&token, code_at(later), later).await.unwrap();
        let attempts = world
            .credentials
            .login_attempts(world.ada.email())
            .await
            .unwrap();
        assert_eq!(
            attempts.failures, 0,
            "a finished login forgets the failures"
        );
    }

    #[tokio::test]
    async fn of_racing_finishes_with_one_token_exactly_one_signs_in() {
        let world = World::new().await;
        let token = world.mfa_token(now()).await;
        let proofs = [
            code_at(now()),
            FactorProof::RecoveryCode("AAAA-1".to_owned()),
            FactorProof::RecoveryCode("BBBB-2".to_owned()),
        ];
        let finishes = proofs
            .into_iter()
            .map(|proof| world.finish(&token, proof, now()));
        let results = futures::future::join_all(finishes).await;
        let signed_in = results.iter().filter(|result| result.is_ok()).count();
        assert_eq!(signed_in, 1, "{results:?}");
        assert_eq!(world.sessions.list(world.ada.id()).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_suspended_user_is_refused_before_any_token() {
        let world = World::new().await;
        let mut suspended = world.ada.clone();
        suspended.suspend().unwrap();
        world
            .users
            .update(&world.ada, suspended, &Outgoing::nothing())
            .await
            .unwrap();
        let refused = world.log_in(PASSWORD, now()).await;
        assert!(matches!(refused, Err(LoginError::NotAllowed { .. })));
    }

    #[tokio::test]
    async fn each_step_is_an_audit_line_and_none_holds_a_secret() {
        let (lines, _guard) = AuditLines::capture();
        let world = World::new().await;
        let token = world.mfa_token(now()).await;
        world
            .finish(&token, FactorProof::Code("000000".to_owned()), now())
            .await
            .unwrap_err();
        world.finish(&token, code_at(now()), now()).await.unwrap();
        let recorded = lines.take();
        assert_eq!(
            events_of(&recorded),
            vec![
                ("mfa_challenge", "success"),
                ("mfa_code", "failure"),
                ("login", "failure"),
                ("mfa_code", "success"),
                ("login", "success"),
            ]
        );
        for line in &recorded {
            let text = format!("{line:?}");
            assert!(
                !text.contains(&token.token) && !text.contains("example.com"),
                "{text}"
            );
        }
    }
}
