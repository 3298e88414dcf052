//! Sessions: a login starts a session, a family of refresh tokens; each refresh uses one up
//! for the next and a fresh access token; a used token presented again, a logout, or a
//! revocation on the user (suspend, delete, a role change, a new password) ends the session.

use crate::audit::{self, Outcome};
use crate::ports::{
    AccessToken, AccessTokenIssuer, BoxError, Clock, RefreshTokenRecord, RepositoryError,
    ResetTokens, RotateError, SessionOrigin, SessionRecord, SessionRepository, TokenHash,
    UserRepository,
};
use crate::{Caller, Denied, Policy, UseCase, command};
use domain::{AuthMethods, SessionId, SessionProof, Timestamp, User, UserId};

/// What a login or a refresh answers.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub access: AccessToken,
    /// The secret for the next refresh; only its hash is stored.
    pub refresh_token: String,
}

#[derive(Debug, thiserror::Error)]
#[error("no token could be issued")]
pub struct IssuingError(#[source] pub BoxError);

/// Issues the tokens of a session: signed access tokens, and refresh tokens stored hashed.
pub struct Sessions<A, S, T> {
    access: A,
    store: S,
    secrets: T,
}

impl<A, S, T> Sessions<A, S, T> {
    pub fn new(access: A, store: S, secrets: T) -> Self {
        Self {
            access,
            store,
            secrets,
        }
    }
}

/// A session just started, for the sign-in to store with the sign-in itself.
pub(crate) struct Started {
    pub record: SessionRecord,
    pub refresh_token: String,
    pub first_token: RefreshTokenRecord,
}

impl Started {
    pub fn proof(&self) -> SessionProof {
        self.first_token.proof
    }
}

impl<A: AccessTokenIssuer, S: SessionRepository, T: ResetTokens> Sessions<A, S, T> {
    /// A new session for `user`, who proved who they are by `methods` at `now`, from
    /// `origin`: its record and its first refresh token (the secret and its record).
    pub(crate) fn start(
        &self,
        user: &User,
        methods: AuthMethods,
        origin: SessionOrigin,
        now: Timestamp,
    ) -> Result<Started, IssuingError> {
        let proof = SessionProof {
            session: SessionId::start(now),
            auth_time: now,
            methods,
        };
        let (refresh_token, first_token) = self.next_token(user, proof)?;
        let record = SessionRecord {
            user_id: user.id(),
            id: proof.session,
            methods,
            last_used_at: now,
            origin,
        };
        Ok(Started {
            record,
            refresh_token,
            first_token,
        })
    }

    /// A fresh secret of the kind refresh tokens are made of, and its hash: an `mfa_token`.
    pub(crate) fn new_secret(&self) -> Result<crate::ports::IssuedToken, IssuingError> {
        self.secrets.issue().map_err(IssuingError)
    }

    /// A refresh token names its owner before the secret (`<user id>.<secret>`), so a refresh
    /// reads the token and its user in one request; the whole string is what is hashed.
    fn next_token(
        &self,
        user: &User,
        proof: SessionProof,
    ) -> Result<(String, RefreshTokenRecord), IssuingError> {
        let secret = self.secrets.issue().map_err(IssuingError)?.token;
        let token = format!("{}{OWNER_SEPARATOR}{secret}", user.id());
        let record = RefreshTokenRecord {
            hash: self.secrets.hash(&token),
            user_id: user.id(),
            proof,
            used: false,
        };
        Ok((token, record))
    }

    /// The answer of a sign-in whose session `started` is now stored.
    pub(crate) fn answer(
        &self,
        user: User,
        started: Started,
        now: Timestamp,
    ) -> Result<Session, StartError> {
        let proof = started.proof();
        self.session(user, &proof, started.refresh_token, now)
    }

    /// The answer of a sign-in or a refresh: an access token of the session `proof` names.
    pub(crate) fn session(
        &self,
        user: User,
        proof: &SessionProof,
        refresh_token: String,
        now: Timestamp,
    ) -> Result<Session, StartError> {
        let access = self.access.issue(&user, proof, now).map_err(IssuingError)?;
        Ok(Session {
            user,
            access,
            refresh_token,
        })
    }

    pub(crate) fn hash(&self, token: &str) -> TokenHash {
        self.secrets.hash(token)
    }
}

const OWNER_SEPARATOR: char = '.';

/// The user a refresh token names; `None` for a token issued before tokens named their owner
/// (or for anything else that is not a token).
fn owner_named_by(token: &str) -> Option<UserId> {
    let (owner, _secret) = token.split_once(OWNER_SEPARATOR)?;
    UserId::parse(owner).ok()
}

/// How starting a session fails: never the client's fault.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Issuing(#[from] IssuingError),
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// `POST /token/refresh`: a refresh token for a new access token and the next refresh token.
pub struct RefreshRequest {
    pub refresh_token: String,
}

command!(RefreshRequest => Session, RefreshError);

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error(transparent)]
    Denied(#[from] Denied),
    /// Unknown, expired, revoked or used (which also revoked the family), or a user who can
    /// no longer log in: one variant, one answer.
    #[error("the refresh token is not valid")]
    InvalidToken,
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Renews a session, by the rules of refresh-token rotation with reuse detection.
pub struct RefreshSession<U, C, A, S, T> {
    users: U,
    clock: C,
    sessions: Sessions<A, S, T>,
}

impl<U, C, A, S, T> RefreshSession<U, C, A, S, T> {
    pub fn new(users: U, clock: C, sessions: Sessions<A, S, T>) -> Self {
        Self {
            users,
            clock,
            sessions,
        }
    }
}

impl<U, C, A, S, T> UseCase<RefreshRequest> for RefreshSession<U, C, A, S, T>
where
    U: UserRepository,
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
        request: RefreshRequest,
    ) -> Result<Session, RefreshError> {
        let mut owner = None;
        let result = self.renew(&request, &mut owner).await;
        audit::record("token_refresh", Outcome::of(&result), owner, owner);
        result
    }
}

impl<U, C, A, S, T> RefreshSession<U, C, A, S, T>
where
    U: UserRepository,
    C: Clock,
    A: AccessTokenIssuer,
    S: SessionRepository,
    T: ResetTokens,
{
    /// The rotation itself; `owner` learns whose token it is, once that is known.
    async fn renew(
        &self,
        request: &RefreshRequest,
        owner: &mut Option<UserId>,
    ) -> Result<Session, RefreshError> {
        let now = self.clock.now();
        let (record, user) = self.token_and_owner(&request.refresh_token).await?;
        let Some(record) = record else {
            return Err(RefreshError::InvalidToken);
        };
        *owner = Some(record.user_id);
        if record.used {
            // A used token again: whoever holds the family's tokens, one of them is a thief.
            return self.revoke_on_reuse(&record).await;
        }
        let expired = record
            .expires_at()
            .is_none_or(|expires_at| expires_at <= now);
        // The user is read anyway, for its status and current role: revocations of all its
        // sessions are checked here at no extra cost; a revoked family, by the rotation.
        let user = match user {
            Some(user)
                if !expired
                    && user.id() == record.user_id
                    && user.can_login()
                    && user.session_is_valid(record.session().started_at()) =>
            {
                user
            }
            _ => return Err(RefreshError::InvalidToken),
        };
        let (refresh_token, next) = self
            .sessions
            .next_token(&user, record.proof)
            .map_err(StartError::from)?;
        match self.sessions.store.rotate(&record, &next, now).await {
            Ok(()) => Ok(self
                .sessions
                .session(user, &record.proof, refresh_token, now)?),
            // A twin request used it first: a reuse like any other.
            Err(RotateError::Lost) => self.revoke_on_reuse(&record).await,
            Err(RotateError::Revoked) => Err(RefreshError::InvalidToken),
            Err(RotateError::Repository(error)) => Err(error.into()),
        }
    }

    /// The stored token and its user: one read for a token that names its owner, two for
    /// one issued before tokens did.
    async fn token_and_owner(
        &self,
        token: &str,
    ) -> Result<(Option<RefreshTokenRecord>, Option<User>), RepositoryError> {
        let hash = self.sessions.hash(token);
        if let Some(owner) = owner_named_by(token) {
            return self.sessions.store.find_with_owner(&hash, owner).await;
        }
        let Some(record) = self.sessions.store.find(&hash).await? else {
            return Ok((None, None));
        };
        let user = self.users.find(record.user_id).await?;
        Ok((Some(record), user))
    }

    async fn revoke_on_reuse(&self, record: &RefreshTokenRecord) -> Result<Session, RefreshError> {
        audit::record(
            "refresh_token_reuse",
            Outcome::Denied,
            None,
            Some(record.user_id),
        );
        self.sessions
            .store
            .end_session(record.user_id, record.session())
            .await?;
        Err(RefreshError::InvalidToken)
    }
}

/// `POST /logout`: ends the refresh token's family.
pub struct LogoutRequest {
    pub refresh_token: String,
}

command!(LogoutRequest => (), LogoutError);

#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Revokes a refresh token's family; an unknown token is not an error.
pub struct Logout<S, T> {
    store: S,
    secrets: T,
}

impl<S, T> Logout<S, T> {
    pub fn new(store: S, secrets: T) -> Self {
        Self { store, secrets }
    }
}

impl<S: SessionRepository, T: ResetTokens> UseCase<LogoutRequest> for Logout<S, T> {
    fn policy(&self) -> Policy {
        Policy::Anyone
    }

    async fn run(&self, _caller: &Caller, request: LogoutRequest) -> Result<(), LogoutError> {
        let hash = self.secrets.hash(&request.refresh_token);
        if let Some(record) = self.store.find(&hash).await? {
            self.store
                .end_session(record.user_id, record.session())
                .await?;
            let owner = Some(record.user_id);
            audit::record("logout", Outcome::Success, owner, owner);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{
        AuditLines, FakeAccessTokens, FakeTokens, FixedClock, InMemorySessions, InMemoryUsers,
        events_of, user_with_email,
    };
    use crate::ports::{ACCESS_TOKEN_SECONDS, AccessTokenVerifier, SESSION_SECONDS};
    use domain::Role;

    type Issuing = Sessions<FakeAccessTokens, InMemorySessions, FakeTokens>;

    struct World {
        users: InMemoryUsers,
        store: InMemorySessions,
        user: User,
    }

    impl World {
        fn new() -> Self {
            let users = InMemoryUsers::default();
            let user = users.add(user_with_email("ada@example.com"));
            Self {
                store: InMemorySessions::beside(&users),
                users,
                user,
            }
        }

        fn sessions(&self) -> Issuing {
            Sessions::new(FakeAccessTokens, self.store.clone(), FakeTokens)
        }

        async fn login(&self) -> Session {
            let now = FixedClock::default().now();
            let sessions = self.sessions();
            let started = sessions
                .start(
                    &self.user,
                    AuthMethods::Password,
                    SessionOrigin::default(),
                    now,
                )
                .unwrap();
            self.users.store_session(started.record.clone());
            self.store.add(&started.first_token);
            let proof = started.proof();
            sessions
                .session(self.user.clone(), &proof, started.refresh_token, now)
                .unwrap()
        }

        fn refresh_at(
            &self,
            now: Timestamp,
        ) -> RefreshSession<InMemoryUsers, FixedClock, FakeAccessTokens, InMemorySessions, FakeTokens>
        {
            RefreshSession::new(self.users.clone(), FixedClock::at(now), self.sessions())
        }

        async fn refresh(&self, token: &str) -> Result<Session, RefreshError> {
            self.refresh_at(FixedClock::default().now())
                .execute(&Caller::Anonymous, request(token))
                .await
        }
    }

    fn request(token: &str) -> RefreshRequest {
        RefreshRequest {
            refresh_token: token.to_owned(),
        }
    }

    fn logout(token: &str) -> LogoutRequest {
        LogoutRequest {
            refresh_token: token.to_owned(),
        }
    }

    #[tokio::test]
    async fn a_refresh_uses_the_token_up_for_a_new_pair_in_the_same_family() {
        let world = World::new();
        let login = world.login().await;
        let renewed = world.refresh(&login.refresh_token).await.unwrap();
        assert_ne!(renewed.refresh_token, login.refresh_token);
        let claims = FakeAccessTokens
            .verify(&renewed.access.token, FixedClock::default().now())
            .unwrap();
        assert_eq!(claims.user_id, world.user.id());
        assert_eq!(renewed.access.expires_in, ACCESS_TOKEN_SECONDS);
        let again = world.refresh(&renewed.refresh_token).await;
        assert!(again.is_ok(), "the new token works in turn");
    }

    #[tokio::test]
    async fn a_refresh_keeps_the_sessions_id_sign_in_time_and_methods_and_records_its_use() {
        let world = World::new();
        let login = world.login().await;
        let signed_in = FakeAccessTokens
            .verify(&login.access.token, FixedClock::default().now())
            .unwrap()
            .proof;
        let later = FixedClock::default().now().plus_seconds(600).unwrap();
        let renewed = world
            .refresh_at(later)
            .execute(&Caller::Anonymous, request(&login.refresh_token))
            .await
            .unwrap();
        let refreshed = FakeAccessTokens
            .verify(&renewed.access.token, later)
            .unwrap()
            .proof;
        assert_eq!(
            refreshed, signed_in,
            "sid, auth_time and amr are the sign-in's"
        );
        let session = world.users.stored_session(signed_in.session).unwrap();
        assert_eq!(session.last_used_at, later);
    }

    #[tokio::test]
    async fn a_token_names_its_owner_and_is_read_with_it_in_one_request() {
        let world = World::new();
        let login = world.login().await;
        let (owner, _secret) = login.refresh_token.split_once('.').unwrap();
        assert_eq!(owner, world.user.id().to_string());
        world.refresh(&login.refresh_token).await.unwrap();
        assert_eq!(world.store.reads(), (0, 1), "(by hash, with the owner)");

        let stranger = world.users.add(user_with_email("eve@example.com"));
        let renamed = login
            .refresh_token
            .replacen(owner, &stranger.id().to_string(), 1);
        assert!(matches!(
            world.refresh(&renamed).await,
            Err(RefreshError::InvalidToken)
        ));
    }

    #[tokio::test]
    async fn a_token_issued_before_tokens_named_their_owner_still_works() {
        let world = World::new();
        let legacy = "a-secret-with-no-owner";
        let now = FixedClock::default().now();
        let record = RefreshTokenRecord {
            hash: FakeTokens.hash(legacy),
            user_id: world.user.id(),
            proof: SessionProof {
                session: SessionId::start(now),
                auth_time: now,
                methods: AuthMethods::Password,
            },
            used: false,
        };
        world.store.add(&record);
        let renewed = world.refresh(legacy).await.unwrap();
        assert_eq!(renewed.user.id(), world.user.id());
        assert_eq!(world.store.reads(), (1, 0), "(by hash, with the owner)");
        assert!(
            renewed
                .refresh_token
                .starts_with(&world.user.id().to_string()),
            "its successor names the owner"
        );
        world.refresh(&renewed.refresh_token).await.unwrap();
    }

    #[tokio::test]
    async fn refreshes_reuse_and_logout_are_audit_lines_about_the_tokens_owner() {
        let (lines, _guard) = AuditLines::capture();
        let world = World::new();
        let login = world.login().await;
        let renewed = world.refresh(&login.refresh_token).await.unwrap();
        world.refresh(&login.refresh_token).await.unwrap_err();
        world.refresh("never issued").await.unwrap_err();
        Logout::new(world.store.clone(), FakeTokens)
            .execute(&Caller::Anonymous, logout(&renewed.refresh_token))
            .await
            .unwrap();
        let recorded = lines.take();
        let events = events_of(&recorded);
        assert_eq!(
            events,
            [
                ("token_refresh", "success"),
                ("refresh_token_reuse", "denied"),
                ("token_refresh", "failure"),
                ("token_refresh", "failure"),
                ("logout", "success"),
            ]
        );
        let owner = world.user.id().to_string();
        for index in [0, 1, 2, 4] {
            assert_eq!(recorded[index].get("target_id"), Some(&owner), "{index}");
        }
        assert_eq!(recorded[3].get("target_id"), None, "an unknown token");
    }

    #[tokio::test]
    async fn a_used_token_again_revokes_the_whole_family() {
        let world = World::new();
        let login = world.login().await;
        let renewed = world.refresh(&login.refresh_token).await.unwrap();
        let replayed = world.refresh(&login.refresh_token).await;
        assert!(matches!(replayed, Err(RefreshError::InvalidToken)));
        let descendant = world.refresh(&renewed.refresh_token).await;
        assert!(
            matches!(descendant, Err(RefreshError::InvalidToken)),
            "the thief's copy and the owner's both die"
        );
    }

    #[tokio::test]
    async fn of_two_racing_refreshes_with_one_token_one_wins_and_the_family_dies() {
        let world = World::new();
        let login = world.login().await;
        let (first, second) = futures::join!(
            world.refresh(&login.refresh_token),
            world.refresh(&login.refresh_token)
        );
        assert_eq!(usize::from(first.is_ok()) + usize::from(second.is_ok()), 1);
    }

    #[tokio::test]
    async fn unknown_and_expired_tokens_are_invalid() {
        let world = World::new();
        let login = world.login().await;
        assert!(matches!(
            world.refresh("made-up").await,
            Err(RefreshError::InvalidToken)
        ));
        let later = FixedClock::default()
            .now()
            .plus_seconds(SESSION_SECONDS)
            .unwrap();
        let expired = world
            .refresh_at(later)
            .execute(&Caller::Anonymous, request(&login.refresh_token))
            .await;
        assert!(matches!(expired, Err(RefreshError::InvalidToken)));
    }

    #[tokio::test]
    async fn revoking_the_users_sessions_or_suspending_it_ends_refreshes() {
        let world = World::new();
        let login = world.login().await;
        let mut revoked = world.user.clone();
        revoked.revoke_sessions(FixedClock::default().now().plus_seconds(1).unwrap());
        world.users.add(revoked.clone());
        assert!(matches!(
            world.refresh(&login.refresh_token).await,
            Err(RefreshError::InvalidToken)
        ));

        let world = World::new();
        let login = world.login().await;
        let mut suspended = world.user.clone();
        suspended.suspend().unwrap();
        world.users.add(suspended);
        assert!(matches!(
            world.refresh(&login.refresh_token).await,
            Err(RefreshError::InvalidToken)
        ));
    }

    #[tokio::test]
    async fn a_role_change_shows_in_the_next_refresh() {
        let world = World::new();
        let login = world.login().await;
        let mut promoted = world.user.clone();
        promoted.change_role(Role::Admin).unwrap();
        world.users.add(promoted);
        let renewed = world.refresh(&login.refresh_token).await.unwrap();
        let claims = FakeAccessTokens
            .verify(&renewed.access.token, FixedClock::default().now())
            .unwrap();
        assert_eq!(claims.role, Role::Admin);
    }

    #[tokio::test]
    async fn logout_revokes_the_family_and_an_unknown_token_is_fine() {
        let world = World::new();
        let login = world.login().await;
        let logout = Logout::new(world.store.clone(), FakeTokens);
        logout
            .execute(
                &Caller::Anonymous,
                LogoutRequest {
                    refresh_token: login.refresh_token.clone(),
                },
            )
            .await
            .unwrap();
        let (lines, _guard) = AuditLines::capture();
        assert!(matches!(
            world.refresh(&login.refresh_token).await,
            Err(RefreshError::InvalidToken)
        ));
        assert_eq!(
            events_of(&lines.take()),
            [("token_refresh", "failure")],
            "a logged-out token is refused, not taken for a reuse"
        );
        let unknown = LogoutRequest {
            refresh_token: "made-up".to_owned(),
        };
        assert!(logout.execute(&Caller::Anonymous, unknown).await.is_ok());
    }
}
