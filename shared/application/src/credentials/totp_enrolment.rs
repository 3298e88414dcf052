//! Turning a TOTP factor on (API.md, "Second factors"), in two requests.
//!
//! `POST /users/{id}/mfa/totp`: a signed-in user, after step-up, starts setting up a factor.
//! It gets a fresh secret and its `otpauth://` URI; the secret is stored only sealed,
//! unconfirmed, until a code proves the authenticator holds it. A new enrolment replaces an
//! unconfirmed one; with a factor on, none starts (409).
//!
//! `POST /users/{id}/mfa/totp/confirm`: a code of the secret, within the enrolment's 10
//! minutes, turns the factor on (`mfa_enabled`), returns the recovery codes this once (only
//! their hashes are kept), and tells the address.

use super::step_up::{StepUp, StepUpError};
use crate::messages;
use crate::ports::{
    Clock, ConfirmFactorError, CredentialRepository, OneTimePasswords, Outgoing, PasswordHasher,
    Provisioning, RepositoryError, SecretContext, SecretSealer, StartEnrolmentError, TotpEnrolment,
    TotpFactors, TotpSecret, UserRepository,
};
use crate::standing::read_for;
use crate::{Caller, Denied, Policy, UseCase, command};
use domain::{User, UserId};

pub struct TotpEnrolmentRequest {
    pub user_id: UserId,
    /// Step-up proof (else the token's `auth_time`).
    pub current_password: Option<String>,
}

command!(TotpEnrolmentRequest => Provisioning, FactorError; subject = user_id);

#[derive(Debug, thiserror::Error)]
pub enum FactorError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("no such user")]
    NotFound,
    #[error(transparent)]
    StepUp(#[from] StepUpError),
    #[error("a second factor is on already")]
    FactorOn,
    /// No enrolment waits for a code: none started, or its 10 minutes passed.
    #[error("no enrolment is waiting for a code")]
    NoEnrolment,
    #[error("the code is not the authenticator's")]
    WrongCode,
    /// The account has no second factor on to manage.
    #[error("no second factor is on")]
    NoFactor,
    /// Turning one's own factor off takes a code.
    #[error("a code of the second factor is required")]
    CodeRequired,
    #[error("the user kept changing; try again")]
    Contended,
    #[error("no secret could be drawn or encoded")]
    Secret(#[source] crate::ports::BoxError),
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

impl From<StartEnrolmentError> for FactorError {
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
    ) -> Result<Provisioning, FactorError> {
        let user = own_account(&self.users, caller, request.user_id).await?;
        if user.mfa_enabled() {
            return Err(FactorError::FactorOn);
        }
        let now = self.clock.now();
        self.step_up
            .check(caller, &user, request.current_password.as_deref(), now)
            .await?;
        let secret = self.otp.new_secret().map_err(FactorError::Secret)?;
        // The label an authenticator shows: the masked address, never the whole of it.
        let provisioning = self
            .otp
            .provisioning(&secret, &user.email().masked())
            .map_err(FactorError::Secret)?;
        let sealed = self
            .sealer
            .seal(secret.as_bytes(), SecretContext::totp_secret(user.id()))
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

/// The user's own account, for a factor route: self only, not deleted.
pub(super) async fn own_account<U: UserRepository>(
    users: &U,
    caller: &Caller,
    id: UserId,
) -> Result<User, FactorError> {
    read_for::<U, FactorError>(users, caller, Policy::SelfOnly, Some(id))
        .await?
        .filter(|user| !user.is_deleted())
        .ok_or(FactorError::NotFound)
}

pub struct TotpConfirmation {
    pub user_id: UserId,
    pub code: String,
}

command!(TotpConfirmation => Vec<String>, FactorError; subject = user_id);

pub struct ConfirmTotpEnrolment<U, F, O, S, C> {
    users: U,
    factors: F,
    otp: O,
    sealer: S,
    clock: C,
}

impl<U, F, O, S, C> ConfirmTotpEnrolment<U, F, O, S, C> {
    pub fn new(users: U, factors: F, otp: O, sealer: S, clock: C) -> Self {
        Self {
            users,
            factors,
            otp,
            sealer,
            clock,
        }
    }
}

impl<U, F, O, S, C> UseCase<TotpConfirmation> for ConfirmTotpEnrolment<U, F, O, S, C>
where
    U: UserRepository,
    F: TotpFactors,
    O: OneTimePasswords,
    S: SecretSealer,
    C: Clock,
{
    fn policy(&self) -> Policy {
        Policy::SelfOnly
    }

    fn audit_event(&self, _caller: &Caller) -> Option<&'static str> {
        Some("mfa_enabled")
    }

    /// The recovery codes, shown this once.
    async fn run(
        &self,
        caller: &Caller,
        confirmation: TotpConfirmation,
    ) -> Result<Vec<String>, FactorError> {
        let user = own_account(&self.users, caller, confirmation.user_id).await?;
        if user.mfa_enabled() {
            return Err(FactorError::FactorOn);
        }
        let now = self.clock.now();
        let enrolment = self
            .factors
            .totp(user.id())
            .await?
            .filter(|factor| !factor.confirmed && factor.enrolment.is_open(now))
            .map(|factor| factor.enrolment)
            .ok_or(FactorError::NoEnrolment)?;
        let secret = self
            .sealer
            .open(&enrolment.secret, SecretContext::totp_secret(user.id()))
            .await
            .map_err(RepositoryError::from)?;
        let step = self
            .otp
            .verify(
                &TotpSecret::from_bytes(secret),
                &confirmation.code,
                now,
                None,
            )
            .ok_or(FactorError::WrongCode)?;
        let (codes, hashes) = fresh_recovery_codes(&self.otp)?;
        let mut updated = user.clone();
        updated.set_mfa(true).map_err(|_| FactorError::NotFound)?;
        let outbox =
            Outgoing::of_update(&user, &updated, vec![messages::two_step_sign_in_on(&user)]);
        self.factors
            .confirm(&enrolment, step, &hashes, &user, updated, &outbox)
            .await
            .map_err(|error| match error {
                ConfirmFactorError::EnrolmentChanged => FactorError::NoEnrolment,
                ConfirmFactorError::UserChanged => FactorError::Contended,
                ConfirmFactorError::Repository(error) => FactorError::Repository(error),
            })?;
        Ok(codes)
    }
}

/// A new set of recovery codes: the codes, shown once, and the hashes to store.
pub(super) fn fresh_recovery_codes<O: OneTimePasswords>(
    otp: &O,
) -> Result<(Vec<String>, Vec<crate::ports::TokenHash>), FactorError> {
    let issued = otp.recovery_codes().map_err(FactorError::Secret)?;
    Ok(issued
        .into_iter()
        .map(|code| (code.token, code.hash))
        .unzip())
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

        /// The right code of secret `n` is `n` in six digits, at any time.
        fn verify(
            &self,
            secret: &TotpSecret,
            code: &str,
            now: Timestamp,
            _last_accepted: Option<crate::ports::TotpStep>,
        ) -> Option<crate::ports::TotpStep> {
            let right = format!("{:06}", secret.as_bytes()[0]);
            let step = u64::try_from(now.as_millis() / 30_000).ok()?;
            (code == right).then(|| crate::ports::TotpStep::new(step))
        }

        fn recovery_codes(&self) -> Result<Vec<crate::ports::IssuedToken>, crate::ports::BoxError> {
            Ok((0..10)
                .map(|n| crate::ports::IssuedToken {
                    token: format!("CODE-{n}"),
                    hash: self.recovery_code_hash(&format!("CODE-{n}")),
                })
                .collect())
        }

        fn recovery_code_hash(&self, code: &str) -> crate::ports::TokenHash {
            crate::ports::TokenHash::new(format!("hashed:{code}"))
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
        let factors = InMemoryFactors::beside(&users);
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
        let context = SecretContext::totp_secret(ada.id());
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
        let factors = InMemoryFactors::beside(&users);
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
        let context = SecretContext::totp_secret(ada.id());
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
        let factors = InMemoryFactors::beside(&users);
        let ada = users.add(user_with_email("ada@example.com"));
        let mut on = ada.clone();
        on.set_mfa(true).unwrap();
        let ada = users.add(on);
        let outcome = start(&users, &factors, FakeSealer::default())
            .execute(&users.sign_in(&ada), request(ada.id()))
            .await;
        assert!(matches!(outcome, Err(FactorError::FactorOn)));
    }

    #[tokio::test]
    async fn it_needs_step_up_and_is_the_users_own() {
        let users = InMemoryUsers::default();
        let factors = InMemoryFactors::beside(&users);
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
            Err(FactorError::StepUp(StepUpError::ReauthenticationRequired))
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
        let factors = InMemoryFactors::beside(&users);
        let ada = users.add(user_with_email("ada@example.com"));
        let outcome = start(&users, &factors, FakeSealer::unavailable())
            .execute(&users.sign_in(&ada), request(ada.id()))
            .await;
        assert!(matches!(
            outcome,
            Err(FactorError::Repository(RepositoryError::Unavailable(_)))
        ));
        assert!(factors.enrolment(ada.id()).is_none());
    }

    fn confirm_at(users: &InMemoryUsers, factors: &InMemoryFactors, clock: FixedClock) -> Confirm {
        ConfirmTotpEnrolment::new(
            users.clone(),
            factors.clone(),
            CountingOtp::default(),
            FakeSealer::default(),
            clock,
        )
    }

    type Confirm =
        ConfirmTotpEnrolment<InMemoryUsers, InMemoryFactors, CountingOtp, FakeSealer, FixedClock>;

    /// Ada, enrolled (her secret is number 1, so her code is "000001").
    async fn enrolled() -> (InMemoryUsers, InMemoryFactors, domain::User) {
        let users = InMemoryUsers::default();
        let factors = InMemoryFactors::beside(&users);
        let ada = users.add(user_with_email("ada@example.com"));
        start(&users, &factors, FakeSealer::default())
            .execute(&users.sign_in(&ada), request(ada.id()))
            .await
            .unwrap();
        (users, factors, ada)
    }

    fn code(user_id: UserId, code: &str) -> TotpConfirmation {
        TotpConfirmation {
            user_id,
            code: code.to_owned(),
        }
    }

    #[tokio::test]
    async fn the_right_code_turns_the_factor_on_and_returns_the_codes_kept_only_hashed() {
        let (users, factors, ada) = enrolled().await;
        let codes = confirm_at(&users, &factors, FixedClock::default())
            .execute(&users.sign_in(&ada), code(ada.id(), "000001"))
            .await
            .unwrap();
        assert_eq!(codes.len(), 10);
        assert!(users.stored(ada.id()).unwrap().mfa_enabled());
        let stored = factors.stored(ada.id()).unwrap();
        assert!(stored.confirmed);
        assert!(stored.last_step.is_some(), "the first code is used up");
        assert_eq!(stored.recovery_codes.len(), 10);
        assert!(
            stored
                .recovery_codes
                .iter()
                .all(|hash| !codes.contains(&hash.as_str().to_owned())),
            "hashes only"
        );
        let notices = users.outbox().emails();
        assert!(
            notices
                .iter()
                .any(|email| email.subject == "Two-step sign-in is on")
        );
        let again = confirm_at(&users, &factors, FixedClock::default())
            .execute(&users.sign_in(&ada), code(ada.id(), "000001"))
            .await;
        assert!(matches!(again, Err(FactorError::FactorOn)));
    }

    #[tokio::test]
    async fn a_wrong_code_changes_nothing() {
        let (users, factors, ada) = enrolled().await;
        let outcome = confirm_at(&users, &factors, FixedClock::default())
            .execute(&users.sign_in(&ada), code(ada.id(), "000002"))
            .await;
        assert!(matches!(outcome, Err(FactorError::WrongCode)));
        assert!(!users.stored(ada.id()).unwrap().mfa_enabled());
        assert!(factors.enrolment(ada.id()).is_some());
    }

    #[tokio::test]
    async fn without_an_enrolment_or_after_its_ten_minutes_there_is_nothing_to_confirm() {
        let users = InMemoryUsers::default();
        let factors = InMemoryFactors::beside(&users);
        let grace = users.add(user_with_email("grace@example.com"));
        let outcome = confirm_at(&users, &factors, FixedClock::default())
            .execute(&users.sign_in(&grace), code(grace.id(), "000001"))
            .await;
        assert!(matches!(outcome, Err(FactorError::NoEnrolment)));

        let (users, factors, ada) = enrolled().await;
        let late = FixedClock::at(FixedClock::default().now().plus_seconds(600).unwrap());
        let outcome = confirm_at(&users, &factors, late)
            .execute(&users.sign_in(&ada), code(ada.id(), "000001"))
            .await;
        assert!(matches!(outcome, Err(FactorError::NoEnrolment)));
    }
}
