use crate::ports::{Clock, CredentialRepository, PasswordHasher, RepositoryError, UserRepository};
use crate::users::UserChangeError;
use crate::users::modify::modify_user;
use crate::{UseCase, command};
use domain::{Changed, Email, LoginRefused, User, UserStatus};

pub struct LoginRequest {
    pub email: Email,
    pub password: String,
}

command!(LoginRequest => User, LoginError);

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown address, no password set, or a wrong password: one variant, one answer.
    #[error("the email or password is wrong")]
    InvalidCredentials,
    #[error("a {status} user cannot log in")]
    NotAllowed { status: UserStatus },
    #[error("the user kept changing; try again")]
    Contended,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Checks a password and records the login, by the same rule as `RecordLogin`.
pub struct Login<U, K, H, C> {
    users: U,
    credentials: K,
    hasher: H,
    clock: C,
}

impl<U, K, H, C> Login<U, K, H, C> {
    pub fn new(users: U, credentials: K, hasher: H, clock: C) -> Self {
        Self {
            users,
            credentials,
            hasher,
            clock,
        }
    }
}

impl<U, K, H, C> UseCase<LoginRequest> for Login<U, K, H, C>
where
    U: UserRepository,
    K: CredentialRepository,
    H: PasswordHasher,
    C: Clock,
{
    async fn execute(&self, request: LoginRequest) -> Result<User, LoginError> {
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
        modify_user(&self.users, user.id(), None, record)
            .await
            .map_err(|error| match error {
                UserChangeError::NotAllowed { status } => LoginError::NotAllowed { status },
                UserChangeError::NotFound => LoginError::InvalidCredentials,
                UserChangeError::Repository(error) => LoginError::Repository(error),
                _ => LoginError::Contended,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{
        FakeHasher, FixedClock, InMemoryCredentials, InMemoryUsers, user_with_email,
    };
    use domain::Password;

    struct World {
        users: InMemoryUsers,
        credentials: InMemoryCredentials,
        hasher: FakeHasher,
    }

    impl World {
        fn new() -> Self {
            Self {
                users: InMemoryUsers::default(),
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

        fn login(&self) -> Login<InMemoryUsers, InMemoryCredentials, FakeHasher, FixedClock> {
            Login::new(
                self.users.clone(),
                self.credentials.clone(),
                self.hasher.clone(),
                FixedClock::default(),
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
    async fn the_right_password_logs_in_and_records_the_login() {
        let world = World::new();
        let ada = world.with_password(user_with_email("ada@example.com"), "correct horse battery");
        let user = world
            .login()
            .execute(request("Ada@Example.com", "correct horse battery"))
            .await
            .unwrap();
        assert_eq!(user.id(), ada.id());
        assert_eq!(user.last_login(), Some(FixedClock::default().now()));
        assert_eq!(world.users.stored(ada.id()), Some(user));
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
            match login.execute(request(email, password)).await {
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
            .execute(request("ada@example.com", "correct horse battery"))
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
            .execute(request("ada@example.com", "wrong horse battery"))
            .await;
        assert!(
            matches!(wrong, Err(LoginError::InvalidCredentials)),
            "a wrong password reveals no status"
        );
    }
}
