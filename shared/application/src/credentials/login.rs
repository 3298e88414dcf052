use super::lockout::Reservation;
use super::sessions::{Session, Sessions, StartError};
use crate::audit::{self, Outcome};
use crate::ports::{
    AccessTokenIssuer, Clock, LoginStore, MFA_CHALLENGE_SECONDS, MfaChallenge, PasswordHasher,
    RecordLoginError, RepositoryError, ResetTokens, SessionOrigin, SessionRepository, TokenHash,
};
use crate::{Caller, Denied, Policy, UseCase, command};
use domain::{AuthMethods, Email, LoginRefused, PasswordHash, Timestamp, User, UserId, UserStatus};

pub struct LoginRequest {
    pub email: Email,
    pub password: String,
    /// Where the client signs in from, for its list of sessions.
    pub origin: SessionOrigin,
}

command!(LoginRequest => Session, LoginError);

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(transparent)]
    Denied(#[from] Denied),
    /// Unknown address, no password set, or a wrong password: one variant, one answer.
    #[error("the email or password is wrong")]
    InvalidCredentials,
    /// The password was right and a second factor is on: the login finishes with a code.
    #[error("the password was right; a second factor is required")]
    SecondFactorRequired(MfaToken),
    /// A two-step login's second step failed: a wrong, replayed or used-up code, or an
    /// unknown, expired or used `mfa_token`; one variant, one answer.
    #[error("the code is wrong, or the sign-in timed out")]
    InvalidSecondFactor,
    /// A passkey sign-in failed: an unknown credential, a bad signature, a wrong challenge or
    /// origin, no user verification, a used or expired challenge, a counter gone back; one
    /// variant, one answer.
    #[error("the passkey could not sign in")]
    InvalidPasskey,
    #[error("a {status} user cannot log in")]
    NotAllowed { status: UserStatus },
    /// Too many failures for this address: no password was checked.
    #[error("too many failed logins; retry in {retry_after} seconds")]
    Locked { retry_after: i64 },
    #[error("the user kept changing; try again")]
    Contended,
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

impl From<RecordLoginError> for LoginError {
    fn from(error: RecordLoginError) -> Self {
        match error {
            RecordLoginError::UserChanged => Self::Contended,
            RecordLoginError::ChallengeUsed => Self::InvalidSecondFactor,
            RecordLoginError::Repository(error) => Self::Repository(error),
        }
    }
}

/// The `mfa_token` of a right password whose second factor is still to come: a secret,
/// so it never shows in a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct MfaToken {
    pub token: String,
    pub expires_in: i64,
}

impl std::fmt::Debug for MfaToken {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("MfaToken(<redacted>)")
    }
}

/// Checks a password, records the login (by the same rule as `RecordLogin`) and starts a
/// session: an access token and the first refresh token of a new family. Three round trips:
/// the address (the attempt reserved, counted as a failure in advance, and its holder), the
/// holder (user and password), and on success one write of the login, the refresh token and
/// the forgotten failures. A failure writes nothing more: it was counted by its reservation.
///
/// With a second factor on, the account's every attempt writes an `mfa_token` before the
/// password is checked, and a right password answers it instead of a session: so a right
/// password takes as long as a wrong one, and its reservation stays counted (only a finished
/// login forgets the failures, or a password would reopen the guessing of codes).
pub struct Login<L, H, C, A, S, T> {
    store: L,
    hasher: H,
    clock: C,
    sessions: Sessions<A, S, T>,
}

impl<L, H, C, A, S, T> Login<L, H, C, A, S, T> {
    pub fn new(store: L, hasher: H, clock: C, sessions: Sessions<A, S, T>) -> Self {
        Self {
            store,
            hasher,
            clock,
            sessions,
        }
    }
}

impl<L, H, C, A, S, T> UseCase<LoginRequest> for Login<L, H, C, A, S, T>
where
    L: LoginStore,
    H: PasswordHasher,
    C: Clock,
    A: AccessTokenIssuer,
    S: SessionRepository,
    T: ResetTokens,
{
    fn policy(&self) -> Policy {
        Policy::Anyone
    }

    async fn run(&self, _caller: &Caller, request: LoginRequest) -> Result<Session, LoginError> {
        let mut known = None;
        let result = self.log_in(&request, &mut known).await;
        let (event, outcome) = match &result {
            Err(LoginError::Locked { .. }) => ("login", Outcome::Denied),
            Err(LoginError::SecondFactorRequired(_)) => ("mfa_challenge", Outcome::Success),
            result => ("login", Outcome::of(result)),
        };
        // Whoever tried a wrong password or a locked address is not known to be the account's
        // user: only a finished login names an actor.
        let actor = known.filter(|_| result.is_ok());
        audit::record(event, outcome, actor, known);
        result
    }
}

impl<L, H, C, A, S, T> Login<L, H, C, A, S, T>
where
    L: LoginStore,
    H: PasswordHasher,
    C: Clock,
    A: AccessTokenIssuer,
    S: SessionRepository,
    T: ResetTokens,
{
    /// The login itself; `known` learns whose account the address is, once that is known.
    async fn log_in(
        &self,
        request: &LoginRequest,
        known: &mut Option<UserId>,
    ) -> Result<Session, LoginError> {
        let now = self.clock.now();
        let address = self.store.address(&request.email, now).await?;
        let counted = match address.reservation {
            Reservation::Granted(counted) => counted,
            Reservation::Locked { retry_after } => return Err(LoginError::Locked { retry_after }),
        };
        let (user, hash) = match address.holder {
            Some(id) => self.store.user_and_password(id).await?,
            None => (None, None),
        };
        *known = user.as_ref().map(User::id);
        let challenge = match user.as_ref().filter(|user| user.mfa_enabled()) {
            Some(user) => Some(self.issue_challenge(user, &request.email, now).await?),
            None => None,
        };
        let verified = verify_password(&self.hasher, &request.password, user.as_ref(), hash);
        let Some(user) = user.filter(|_| verified) else {
            // The reservation that counted this failure locked the address.
            if counted.locked_for(now).is_some() {
                audit::record("lockout", Outcome::Success, None, *known);
            }
            return Err(LoginError::InvalidCredentials);
        };
        if let Some(challenge) = challenge {
            if !user.can_login() {
                let status = user.status();
                return Err(LoginError::NotAllowed { status });
            }
            return Err(LoginError::SecondFactorRequired(challenge));
        }
        let finish = Finish {
            methods: AuthMethods::Password,
            origin: request.origin.clone(),
            address: &request.email,
            challenge: None,
            now,
        };
        sign_in(&self.store, &self.sessions, user, finish).await
    }

    /// A new `mfa_token` for `user`, stored by its hash.
    async fn issue_challenge(
        &self,
        user: &User,
        address: &Email,
        now: Timestamp,
    ) -> Result<MfaToken, LoginError> {
        let issued = self.sessions.new_secret().map_err(StartError::from)?;
        let challenge = MfaChallenge {
            hash: issued.hash,
            user_id: user.id(),
            address: address.clone(),
            issued_at: now,
        };
        self.store.issue_challenge(&challenge).await?;
        Ok(MfaToken {
            token: issued.token,
            expires_in: MFA_CHALLENGE_SECONDS,
        })
    }
}

/// Whether `password` is `user`'s; one Argon2 verification whatever the case (unknown
/// address, no password set, wrong password), so timing tells them not apart.
fn verify_password<H: PasswordHasher>(
    hasher: &H,
    password: &str,
    user: Option<&User>,
    hash: Option<PasswordHash>,
) -> bool {
    match (user, hash) {
        (Some(_), Some(hash)) => hasher.verify(password, &hash),
        _ => {
            hasher.verify_dummy(password);
            false
        }
    }
}

/// How a sign-in that proved who the user is gets recorded.
pub(crate) struct Finish<'a> {
    pub methods: AuthMethods,
    pub origin: SessionOrigin,
    /// The address whose failures the sign-in forgets.
    pub address: &'a Email,
    /// The `mfa_token` a two-step login uses up.
    pub challenge: Option<&'a TokenHash>,
    pub now: Timestamp,
}

/// Records the login of `user` and starts its session, in one write: retried on the user's
/// newer state when it changed meanwhile (an admin's edit, a twin login).
pub(crate) async fn sign_in<L, A, S, T>(
    store: &L,
    sessions: &Sessions<A, S, T>,
    user: User,
    finish: Finish<'_>,
) -> Result<Session, LoginError>
where
    L: LoginStore,
    A: AccessTokenIssuer,
    S: SessionRepository,
    T: ResetTokens,
{
    let Finish {
        methods,
        origin,
        address,
        challenge,
        now,
    } = finish;
    let started = sessions
        .start(&user, methods, origin, now)
        .map_err(StartError::from)?;
    let mut current = user;
    for _ in 0..ATTEMPTS_TO_RECORD {
        let mut updated = current.clone();
        updated
            .record_login(now)
            .map_err(|LoginRefused { status }| LoginError::NotAllowed { status })?;
        let recorded = store
            .record_login(
                &current,
                updated,
                &started.record,
                &started.first_token,
                address,
                challenge,
            )
            .await;
        match recorded {
            Ok(user) => return Ok(sessions.answer(user, started, now)?),
            Err(RecordLoginError::UserChanged) => {
                let (user, _) = store.user_and_password(current.id()).await?;
                current = user.ok_or(LoginError::InvalidCredentials)?;
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(LoginError::Contended)
}

/// How often a login is recorded again when the user keeps changing under it.
const ATTEMPTS_TO_RECORD: usize = 3;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::LoginAttempts;
    use crate::fakes::{
        AuditLines, FakeAccessTokens, FakeHasher, FakeTokens, FixedClock, InMemoryCredentials,
        InMemoryLoginStore, InMemorySessions, InMemoryUsers, events_of, user_with_email,
    };
    use crate::ports::{AccessTokenVerifier, CredentialRepository, SessionRepository};
    use domain::{Password, Timestamp};

    struct World {
        users: InMemoryUsers,
        credentials: InMemoryCredentials,
        hasher: FakeHasher,
        sessions: InMemorySessions,
    }

    type LogIn = crate::fakes::InMemoryLogin;

    impl World {
        fn new() -> Self {
            let users = InMemoryUsers::default();
            Self {
                sessions: InMemorySessions::beside(&users),
                users,
                credentials: InMemoryCredentials::default(),
                hasher: FakeHasher::default(),
            }
        }

        fn with_password(&self, user: User, password: &str) -> User {
            let user = self.users.add(user);
            let hash = self
                .hasher
                .hash(&Password::parse(password).unwrap())
                .unwrap();
            self.credentials.set_password(user.id(), hash);
            user
        }

        fn login(&self) -> LogIn {
            self.login_at(FixedClock::default().now())
        }

        fn login_at(&self, now: Timestamp) -> LogIn {
            Login::new(
                InMemoryLoginStore::new(&self.users, &self.credentials, &self.sessions),
                self.hasher.clone(),
                FixedClock::at(now),
                Sessions::new(FakeAccessTokens, self.sessions.clone(), FakeTokens),
            )
        }
    }

    fn request(email: &str, password: &str) -> LoginRequest {
        LoginRequest {
            email: Email::parse(email).unwrap(),
            password: password.to_owned(),
            origin: SessionOrigin::new(Some("curl/8.5.0"), Some("203.0.113.7")),
        }
    }

    #[tokio::test]
    async fn the_right_password_records_the_login_and_starts_a_session() {
        let world = World::new();
        let ada = world.with_password(user_with_email("ada@example.com"), "correct horse battery");
        let session = world
            .login()
            .execute(
                &Caller::Anonymous,
                request("Ada@Example.com", "correct horse battery"),
            )
            .await
            .unwrap();
        let now = FixedClock::default().now();
        assert_eq!(session.user.id(), ada.id());
        assert_eq!(session.user.last_login(), Some(now));
        assert_eq!(world.users.stored(ada.id()), Some(session.user.clone()));

        let claims = FakeAccessTokens.verify(&session.access.token, now).unwrap();
        assert_eq!((claims.user_id, claims.role), (ada.id(), ada.role()));
        assert_eq!(session.access.expires_in, 900);
        let stored = world
            .sessions
            .find(&FakeTokens.hash(&session.refresh_token))
            .await
            .unwrap()
            .expect("the refresh token is stored by its hash");
        assert_eq!(
            (stored.user_id, stored.session().started_at()),
            (ada.id(), now)
        );
        let proof = claims.proof;
        assert_eq!(
            (proof.session, proof.auth_time, proof.methods),
            (stored.session(), now, AuthMethods::Password)
        );
        let listed = world.sessions.list(ada.id()).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].id, listed[0].last_used_at), (proof.session, now));
        assert_eq!(
            listed[0].origin,
            SessionOrigin::new(Some("curl/8.5.0"), Some("203.0.113.7"))
        );
    }

    #[tokio::test]
    async fn a_login_that_races_a_change_to_the_user_is_recorded_on_the_changed_user() {
        let world = World::new();
        let ada = world.with_password(user_with_email("ada@example.com"), "correct horse battery");
        let right = || request("ada@example.com", "correct horse battery");
        world.users.conflict_on_next_updates(2);
        let session = world
            .login()
            .execute(&Caller::Anonymous, right())
            .await
            .unwrap();
        assert_eq!(world.users.stored(ada.id()), Some(session.user));

        world.users.conflict_on_next_updates(3);
        let contended = world.login().execute(&Caller::Anonymous, right()).await;
        assert!(matches!(contended, Err(LoginError::Contended)));
        let next = world.login().execute(&Caller::Anonymous, right()).await;
        assert!(next.is_ok(), "and the next login works");
    }

    #[tokio::test]
    async fn unknown_address_wrong_password_and_no_password_are_one_and_the_same_refusal() {
        let world = World::new();
        world.with_password(user_with_email("ada@example.com"), "correct horse battery");
        world.users.add(user_with_email("nopass@example.com"));
        let login = world.login();
        let mut messages = Vec::new();
        for (email, password) in [
            ("nobody@example.com", "correct horse battery"),
            ("ada@example.com", "wrong horse battery"),
            ("nopass@example.com", "correct horse battery"),
        ] {
            let before = world.hasher.verifications();
            match login
                .execute(&Caller::Anonymous, request(email, password))
                .await
            {
                Err(error @ LoginError::InvalidCredentials) => messages.push(error.to_string()),
                other => panic!("expected InvalidCredentials for {email}, got {other:?}"),
            }
            // One Argon2 verification on every path, so timing does not tell them apart.
            assert_eq!(world.hasher.verifications() - before, 1, "{email}");
        }
        assert!(messages.windows(2).all(|pair| pair[0] == pair[1]));
    }

    #[tokio::test]
    async fn a_right_password_for_a_suspended_user_is_forbidden_not_unauthorized() {
        let world = World::new();
        let mut ada = user_with_email("ada@example.com");
        ada.suspend().unwrap();
        let ada = world.with_password(ada, "correct horse battery");
        let result = world
            .login()
            .execute(
                &Caller::Anonymous,
                request("ada@example.com", "correct horse battery"),
            )
            .await;
        assert!(matches!(
            result,
            Err(LoginError::NotAllowed {
                status: UserStatus::Suspended
            })
        ));
        assert_eq!(world.users.stored(ada.id()).unwrap().last_login(), None);

        let wrong = world
            .login()
            .execute(
                &Caller::Anonymous,
                request("ada@example.com", "wrong horse battery"),
            )
            .await;
        assert!(
            matches!(wrong, Err(LoginError::InvalidCredentials)),
            "a wrong password reveals no status"
        );
    }

    #[tokio::test]
    async fn five_failures_lock_the_address_and_a_locked_attempt_checks_no_password() {
        let world = World::new();
        world.with_password(user_with_email("ada@example.com"), "correct horse battery");
        let login = world.login();
        for _ in 0..5 {
            let wrong = login
                .execute(&Caller::Anonymous, request("ada@example.com", "wrong one"))
                .await;
            assert!(matches!(wrong, Err(LoginError::InvalidCredentials)));
        }
        let before = world.hasher.verifications();
        let locked = login
            .execute(
                &Caller::Anonymous,
                request("ADA@example.com", "correct horse battery"),
            )
            .await;
        assert!(matches!(locked, Err(LoginError::Locked { retry_after: 1 })));
        assert_eq!(world.hasher.verifications(), before, "no password checked");

        let later = FixedClock::default().now().plus_seconds(1).unwrap();
        let unlocked = world
            .login_at(later)
            .execute(
                &Caller::Anonymous,
                request("ada@example.com", "correct horse battery"),
            )
            .await;
        assert!(
            unlocked.is_ok(),
            "the lock lifted and the right password works"
        );
        let email = Email::parse("ada@example.com").unwrap();
        assert_eq!(
            world.credentials.login_attempts(&email).await.unwrap(),
            LoginAttempts::default(),
            "a success forgets the failures"
        );
    }

    #[tokio::test]
    async fn of_twenty_simultaneous_wrong_passwords_five_are_checked_and_the_rest_find_the_lock() {
        let world = World::new();
        world.with_password(user_with_email("ada@example.com"), "correct horse battery");
        let login = world.login();
        let attempts = (0..20)
            .map(|_| login.execute(&Caller::Anonymous, request("ada@example.com", "wrong one")));
        let results = futures::future::join_all(attempts).await;
        let checked = results
            .iter()
            .filter(|result| matches!(result, Err(LoginError::InvalidCredentials)))
            .count();
        let locked = results
            .iter()
            .filter(|result| matches!(result, Err(LoginError::Locked { .. })))
            .count();
        assert_eq!((checked, locked), (5, 15));
        assert_eq!(world.hasher.verifications(), 5, "five passwords checked");
    }

    #[tokio::test]
    async fn every_attempt_is_one_audit_line_naming_the_account_by_id_only() {
        let (lines, _guard) = AuditLines::capture();
        let world = World::new();
        let ada = world.with_password(user_with_email("ada@example.com"), "correct horse battery");
        let login = world.login();
        for _ in 0..5 {
            login
                .execute(&Caller::Anonymous, request("ada@example.com", "wrong one"))
                .await
                .unwrap_err();
        }
        login
            .execute(&Caller::Anonymous, request("ada@example.com", "wrong one"))
            .await
            .unwrap_err();
        let later = FixedClock::default().now().plus_seconds(1).unwrap();
        world
            .login_at(later)
            .execute(
                &Caller::Anonymous,
                request("ada@example.com", "correct horse battery"),
            )
            .await
            .unwrap();
        login
            .execute(&Caller::Anonymous, request("nobody@example.com", "guess"))
            .await
            .unwrap_err();

        let recorded = lines.take();
        let events = events_of(&recorded);
        let mut expected = vec![("login", "failure"); 4];
        expected.extend([
            ("lockout", "success"),
            ("login", "failure"),
            ("login", "denied"),
            ("login", "success"),
            ("login", "failure"),
        ]);
        assert_eq!(events, expected);
        let ada_id = ada.id().to_string();
        assert_eq!(recorded[0].get("target_id"), Some(&ada_id), "a failure");
        assert_eq!(
            recorded[0].get("actor_id"),
            None,
            "a failure names no actor"
        );
        assert_eq!(recorded[7].get("target_id"), Some(&ada_id));
        assert_eq!(recorded[7].get("actor_id"), Some(&ada_id), "a success");
        assert_eq!(recorded[4].get("target_id"), Some(&ada_id), "the lockout");
        assert_eq!(recorded[8].get("target_id"), None, "an unknown address");
        for line in &recorded {
            let text = format!("{line:?}");
            assert!(
                !text.contains("example.com") && !text.contains("horse"),
                "{text}"
            );
        }
    }

    #[tokio::test]
    async fn an_unknown_address_locks_exactly_like_a_known_one() {
        let world = World::new();
        let login = world.login();
        for _ in 0..5 {
            login
                .execute(&Caller::Anonymous, request("nobody@example.com", "guess"))
                .await
                .unwrap_err();
        }
        let locked = login
            .execute(&Caller::Anonymous, request("nobody@example.com", "guess"))
            .await;
        assert!(matches!(locked, Err(LoginError::Locked { retry_after: 1 })));
    }
}
