use super::sessions::{Session, Sessions, StartError};
use crate::ports::{
    AccessTokenIssuer, Clock, CredentialRepository, PasswordHasher, RepositoryError, ResetTokens,
    SessionRepository, UserRepository,
};
use crate::users::UserChangeError;
use crate::users::modify::modify_user;
use crate::{Caller, Denied, Policy, UseCase, command};
use domain::{Changed, Email, LoginRefused, User, UserStatus};

pub struct LoginRequest {
    pub email: Email,
    pub password: String,
}

command!(LoginRequest => Session, LoginError);

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(transparent)]
    Denied(#[from] Denied),
    /// Unknown address, no password set, or a wrong password: one variant, one answer.
    #[error("the email or password is wrong")]
    InvalidCredentials,
    #[error("a {status} user cannot log in")]
    NotAllowed { status: UserStatus },
    #[error("the user kept changing; try again")]
    Contended,
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Checks a password, records the login (by the same rule as `RecordLogin`) and starts a
/// session: an access token and the first refresh token of a new family.
pub struct Login<U, K, H, C, A, S, T> {
    users: U,
    credentials: K,
    hasher: H,
    clock: C,
    sessions: Sessions<A, S, T>,
}

impl<U, K, H, C, A, S, T> Login<U, K, H, C, A, S, T> {
    pub fn new(users: U, credentials: K, hasher: H, clock: C, sessions: Sessions<A, S, T>) -> Self {
        Self {
            users,
            credentials,
            hasher,
            clock,
            sessions,
        }
    }
}

impl<U, K, H, C, A, S, T> UseCase<LoginRequest> for Login<U, K, H, C, A, S, T>
where
    U: UserRepository,
    K: CredentialRepository,
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
        let Some(user) = self.users.find_by_email(&request.email).await? else {
            self.hasher.verify_dummy(&request.password);
            return Err(LoginError::InvalidCredentials);
        };
        let verified = match self.credentials.password_hash(user.id()).await? {
            Some(hash) => self.hasher.verify(&request.password, &hash),
            None => {
                self.hasher.verify_dummy(&request.password);
                false
            }
        };
        if !verified {
            return Err(LoginError::InvalidCredentials);
        }
        let now = self.clock.now();
        let record = |user: &mut User| {
            user.record_login(now)
                .map(|()| Changed::Yes)
                .map_err(|LoginRefused { status }| UserChangeError::NotAllowed { status })
        };
        let user = modify_user(&self.users, user.id(), None, record)
            .await
            .map_err(|error| match error {
                UserChangeError::NotAllowed { status } => LoginError::NotAllowed { status },
                UserChangeError::NotFound => LoginError::InvalidCredentials,
                UserChangeError::Repository(error) => LoginError::Repository(error),
                _ => LoginError::Contended,
            })?;
        Ok(self.sessions.start(user, now).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{
        FakeAccessTokens, FakeHasher, FakeTokens, FixedClock, InMemoryCredentials,
        InMemorySessions, InMemoryUsers, user_with_email,
    };
    use crate::ports::{AccessTokenVerifier, SessionRepository};
    use domain::Password;

    struct World {
        users: InMemoryUsers,
        credentials: InMemoryCredentials,
        hasher: FakeHasher,
        sessions: InMemorySessions,
    }

    type LogIn = crate::fakes::InMemoryLogin;

    impl World {
        fn new() -> Self {
            Self {
                users: InMemoryUsers::default(),
                credentials: InMemoryCredentials::default(),
                hasher: FakeHasher::default(),
                sessions: InMemorySessions::default(),
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
            Login::new(
                self.users.clone(),
                self.credentials.clone(),
                self.hasher.clone(),
                FixedClock::default(),
                Sessions::new(FakeAccessTokens, self.sessions.clone(), FakeTokens),
            )
        }
    }

    fn request(email: &str, password: &str) -> LoginRequest {
        LoginRequest {
            email: Email::parse(email).unwrap(),
            password: password.to_owned(),
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
            (stored.record.user_id, stored.record.family_started_at),
            (ada.id(), now)
        );
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
}
