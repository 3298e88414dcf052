//! `POST /users/{id}/mfa/totp` (API.md, "Second factors"): a signed-in user, after step-up,
//! starts setting up a TOTP factor. It gets a fresh secret and its `otpauth://` URI; the
//! secret is stored only sealed, unconfirmed, until a code proves the authenticator holds it.
//! A new enrolment replaces an unconfirmed one; with a factor on, none starts (409).

use super::step_up::{StepUp, StepUpError};
use crate::ports::{
    Clock, CredentialRepository, OneTimePasswords, PasswordHasher, Provisioning, RepositoryError,
    SecretContext, SecretPurpose, SecretSealer, StartEnrolmentError, TotpEnrolment, TotpFactors,
    UserRepository,
};
use crate::standing::read_for;
use crate::{Caller, Denied, Policy, UseCase, command};
use domain::UserId;

pub struct TotpEnrolmentRequest {
    pub user_id: UserId,
    /// Step-up proof (else the token's `auth_time`).
    pub current_password: Option<String>,
}

command!(TotpEnrolmentRequest => Provisioning, TotpEnrolmentError; subject = user_id);

#[derive(Debug, thiserror::Error)]
pub enum TotpEnrolmentError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("no such user")]
    NotFound,
    #[error(transparent)]
    StepUp(#[from] StepUpError),
    #[error("a second factor is on already")]
    FactorOn,
    #[error("no secret could be drawn or encoded")]
    Secret(#[source] crate::ports::BoxError),
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

impl From<StartEnrolmentError> for TotpEnrolmentError {
    fn from(error: StartEnrolmentError) -> Self {
        match error {
            StartEnrolmentError::FactorOn => Self::FactorOn,
            StartEnrolmentError::Repository(error) => Self::Repository(error),
        }
    }
}

pub struct StartTotpEnrolment<U, F, O, S, C, K, H> {
    users: U,
    factors: F,
    otp: O,
    sealer: S,
    clock: C,
    step_up: StepUp<K, H>,
}

impl<U, F, O, S, C, K, H> StartTotpEnrolment<U, F, O, S, C, K, H> {
    pub fn new(users: U, factors: F, otp: O, sealer: S, clock: C, step_up: StepUp<K, H>) -> Self {
        Self {
            users,
            factors,
            otp,
            sealer,
            clock,
            step_up,
        }
    }
}

impl<U, F, O, S, C, K, H> UseCase<TotpEnrolmentRequest> for StartTotpEnrolment<U, F, O, S, C, K, H>
where
    U: UserRepository,
    F: TotpFactors,
    O: OneTimePasswords,
    S: SecretSealer,
    C: Clock,
    K: CredentialRepository,
    H: PasswordHasher,
{
    fn policy(&self) -> Policy {
        Policy::SelfOnly
    }

    fn audit_event(&self, _caller: &Caller) -> Option<&'static str> {
        Some("mfa_enrolment")
    }

    async fn run(
        &self,
        caller: &Caller,
        request: TotpEnrolmentRequest,
    ) -> Result<Provisioning, TotpEnrolmentError> {
        let user = read_for::<U, TotpEnrolmentError>(
            &self.users,
            caller,
            self.policy(),
            Some(request.user_id),
        )
        .await?
        .filter(|user| !user.is_deleted())
        .ok_or(TotpEnrolmentError::NotFound)?;
        if user.mfa_enabled() {
            return Err(TotpEnrolmentError::FactorOn);
        }
        let now = self.clock.now();
        self.step_up
            .check(caller, &user, request.current_password.as_deref(), now)
            .await?;
        let secret = self.otp.new_secret().map_err(TotpEnrolmentError::Secret)?;
        // The label an authenticator shows: the masked address, never the whole of it.
        let provisioning = self
            .otp
            .provisioning(&secret, &user.email().masked())
            .map_err(TotpEnrolmentError::Secret)?;
        let context = SecretContext {
            user_id: user.id(),
            purpose: SecretPurpose::TotpSecret,
        };
        let sealed = self
            .sealer
            .seal(secret.as_bytes(), context)
            .await
            .map_err(RepositoryError::from)?;
        let enrolment = TotpEnrolment {
            user_id: user.id(),
            secret: sealed,
            started_at: now,
        };
        self.factors.start_enrolment(&enrolment).await?;
        Ok(provisioning)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{
        FakeHasher, FakeSealer, FixedClock, InMemoryCredentials, InMemoryFactors, InMemoryUsers,
        user_with_email,
    };
    use crate::ports::TotpSecret;
    use domain::Timestamp;

    /// Secrets counted up from 1, so a test knows which one it got.
    #[derive(Clone, Default)]
    struct CountingOtp(std::sync::Arc<std::sync::atomic::AtomicU8>);

    impl OneTimePasswords for CountingOtp {
        fn new_secret(&self) -> Result<TotpSecret, crate::ports::BoxError> {
            let next = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            Ok(TotpSecret::from_bytes(vec![next; 20]))
        }

        fn provisioning(
            &self,
            secret: &TotpSecret,
            label: &str,
        ) -> Result<Provisioning, crate::ports::BoxError> {
            Ok(Provisioning {
                secret: format!("SECRET{}", secret.as_bytes()[0]),
                otpauth_uri: format!("otpauth://totp/Users:{label}"),
            })
        }

        fn verify(
            &self,
            _secret: &TotpSecret,
            _code: &str,
            _now: Timestamp,
            _last_accepted: Option<crate::ports::TotpStep>,
        ) -> Option<crate::ports::TotpStep> {
            None
        }

        fn recovery_codes(&self) -> Result<Vec<crate::ports::IssuedToken>, crate::ports::BoxError> {
            Ok(Vec::new())
        }

        fn recovery_code_hash(&self, code: &str) -> crate::ports::TokenHash {
            crate::ports::TokenHash::new(code)
        }
    }

    type Start = StartTotpEnrolment<
        InMemoryUsers,
        InMemoryFactors,
        CountingOtp,
        FakeSealer,
        FixedClock,
        InMemoryCredentials,
        FakeHasher,
    >;

    fn start(users: &InMemoryUsers, factors: &InMemoryFactors, sealer: FakeSealer) -> Start {
        let step_up = StepUp::new(InMemoryCredentials::default(), FakeHasher::default());
        StartTotpEnrolment::new(
            users.clone(),
            factors.clone(),
            CountingOtp::default(),
            sealer,
            FixedClock::default(),
            step_up,
        )
    }

    fn request(user_id: UserId) -> TotpEnrolmentRequest {
        TotpEnrolmentRequest {
            user_id,
            current_password: None,
        }
    }

    #[tokio::test]
    async fn a_fresh_sign_in_gets_a_secret_stored_only_sealed_under_a_masked_label() {
        let users = InMemoryUsers::default();
        let factors = InMemoryFactors::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let provisioning = start(&users, &factors, FakeSealer::default())
            .execute(&users.sign_in(&ada), request(ada.id()))
            .await
            .unwrap();
        assert_eq!(provisioning.secret, "SECRET1");
        assert_eq!(
            provisioning.otpauth_uri,
            "otpauth://totp/Users:a***@example.com"
        );
        let stored = factors.enrolment(ada.id()).unwrap();
        assert_eq!(stored.started_at, FixedClock::default().now());
        let context = SecretContext {
            user_id: ada.id(),
            purpose: SecretPurpose::TotpSecret,
        };
        assert_eq!(
            FakeSealer::default()
                .open_now(&stored.secret, context)
                .unwrap(),
            vec![1; 20],
            "the secret, sealed for this user and purpose"
        );
        assert!(!stored.secret.as_bytes().windows(20).any(|w| w == [1; 20]));
    }

    #[tokio::test]
    async fn a_new_enrolment_replaces_an_unconfirmed_one() {
        let users = InMemoryUsers::default();
        let factors = InMemoryFactors::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let start = start(&users, &factors, FakeSealer::default());
        start
            .execute(&users.sign_in(&ada), request(ada.id()))
            .await
            .unwrap();
        let second = start
            .execute(&users.sign_in(&ada), request(ada.id()))
            .await
            .unwrap();
        assert_eq!(second.secret, "SECRET2");
        let context = SecretContext {
            user_id: ada.id(),
            purpose: SecretPurpose::TotpSecret,
        };
        let stored = factors.enrolment(ada.id()).unwrap();
        assert_eq!(
            FakeSealer::default()
                .open_now(&stored.secret, context)
                .unwrap(),
            vec![2; 20]
        );
    }

    #[tokio::test]
    async fn with_a_factor_on_none_starts() {
        let users = InMemoryUsers::default();
        let factors = InMemoryFactors::default();
        let ada = users.add(user_with_email("ada@example.com"));
        factors.confirm_for_test(ada.id());
        let outcome = start(&users, &factors, FakeSealer::default())
            .execute(&users.sign_in(&ada), request(ada.id()))
            .await;
        assert!(matches!(outcome, Err(TotpEnrolmentError::FactorOn)));
    }

    #[tokio::test]
    async fn it_needs_step_up_and_is_the_users_own() {
        let users = InMemoryUsers::default();
        let factors = InMemoryFactors::default();
        let ada = users.add(user_with_email("ada@example.com"));
        // A sign-in of an hour ago.
        let stale = users.sign_in(&ada);
        let later = FixedClock::at(FixedClock::default().now().plus_seconds(3600).unwrap());
        let step_up = StepUp::new(InMemoryCredentials::default(), FakeHasher::default());
        let start_later = StartTotpEnrolment::new(
            users.clone(),
            factors.clone(),
            CountingOtp::default(),
            FakeSealer::default(),
            later,
            step_up,
        );
        let outcome = start_later.execute(&stale, request(ada.id())).await;
        assert!(matches!(
            outcome,
            Err(TotpEnrolmentError::StepUp(
                StepUpError::ReauthenticationRequired
            ))
        ));
        let admin = users.admin_caller();
        let outcome = start(&users, &factors, FakeSealer::default())
            .execute(&admin, request(ada.id()))
            .await;
        assert!(outcome.is_err(), "an admin cannot enrol someone else");
        assert!(factors.enrolment(ada.id()).is_none());
    }

    #[tokio::test]
    async fn with_the_key_service_down_nothing_is_stored() {
        let users = InMemoryUsers::default();
        let factors = InMemoryFactors::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let outcome = start(&users, &factors, FakeSealer::unavailable())
            .execute(&users.sign_in(&ada), request(ada.id()))
            .await;
        assert!(matches!(
            outcome,
            Err(TotpEnrolmentError::Repository(
                RepositoryError::Unavailable(_)
            ))
        ));
        assert!(factors.enrolment(ada.id()).is_none());
    }
}
