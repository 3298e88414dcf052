//! Checking a second factor (API.md, "Second factors"): a TOTP code of the user's sealed
//! secret, accepted once, or one of the user's recovery codes, used up. Shared by the routes
//! that ask for a code: the two-step login, regenerating the recovery codes, and removing the
//! factor.

use crate::audit::{self, Outcome};
use crate::ports::{
    OneTimePasswords, RepositoryError, SecretContext, SecretSealer, TotpFactors, TotpSecret,
};
use domain::{Timestamp, UserId};

/// What the user offers as its second factor.
#[derive(Clone, PartialEq, Eq)]
pub enum FactorProof {
    /// The authenticator's current code.
    Code(String),
    /// One of the recovery codes, however it is typed.
    RecoveryCode(String),
}

impl FactorProof {
    /// A code typed where either kind is taken (`{code}` of the routes that manage the
    /// factor): six digits are the authenticator's, anything else a recovery code.
    pub fn either(code: String) -> Self {
        let digits = code.trim();
        if digits.len() == 6 && digits.bytes().all(|byte| byte.is_ascii_digit()) {
            Self::Code(code)
        } else {
            Self::RecoveryCode(code)
        }
    }

    /// The audit event of checking it.
    fn event(&self) -> &'static str {
        match self {
            Self::Code(_) => "mfa_code",
            Self::RecoveryCode(_) => "mfa_recovery_code",
        }
    }
}

/// A code is a secret: it never shows in a log line.
impl std::fmt::Debug for FactorProof {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Code(_) => formatter.write_str("Code(<redacted>)"),
            Self::RecoveryCode(_) => formatter.write_str("RecoveryCode(<redacted>)"),
        }
    }
}

/// Whether a proof held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorCheck {
    Accepted,
    /// A wrong, replayed or used-up code, or no factor on: one answer for all.
    Refused,
}

/// Checks proofs against the users' factors; `O` computes codes, `S` opens the secret.
pub struct SecondFactor<F, O, S> {
    factors: F,
    otp: O,
    sealer: S,
}

impl<F, O, S> SecondFactor<F, O, S> {
    pub fn new(factors: F, otp: O, sealer: S) -> Self {
        Self {
            factors,
            otp,
            sealer,
        }
    }
}

impl<F: TotpFactors, O: OneTimePasswords, S: SecretSealer> SecondFactor<F, O, S> {
    /// Whether `proof` is the user's at `now`, using it up if it is: a TOTP code's step is
    /// recorded as the last accepted, a recovery code is deleted, each in the write that checks
    /// it, so a proof works once however many requests carry it. Each check is an audit line
    /// (`mfa_code` or `mfa_recovery_code`, success or failure).
    pub async fn check(
        &self,
        user_id: UserId,
        proof: &FactorProof,
        now: Timestamp,
    ) -> Result<FactorCheck, RepositoryError> {
        let checked = self.check_unaudited(user_id, proof, now).await?;
        let (outcome, actor) = match checked {
            FactorCheck::Accepted => (Outcome::Success, Some(user_id)),
            FactorCheck::Refused => (Outcome::Failure, None),
        };
        audit::record(proof.event(), outcome, actor, Some(user_id));
        Ok(checked)
    }

    async fn check_unaudited(
        &self,
        user_id: UserId,
        proof: &FactorProof,
        now: Timestamp,
    ) -> Result<FactorCheck, RepositoryError> {
        let accepted = match proof {
            FactorProof::Code(code) => self.check_code(user_id, code, now).await?,
            FactorProof::RecoveryCode(code) => {
                let hash = self.otp.recovery_code_hash(code);
                self.factors.use_recovery_code(user_id, &hash).await?
            }
        };
        Ok(if accepted {
            FactorCheck::Accepted
        } else {
            FactorCheck::Refused
        })
    }

    async fn check_code(
        &self,
        user_id: UserId,
        code: &str,
        now: Timestamp,
    ) -> Result<bool, RepositoryError> {
        let Some(factor) = self
            .factors
            .totp(user_id)
            .await?
            .filter(|factor| factor.confirmed)
        else {
            return Ok(false);
        };
        let context = SecretContext::totp_secret(user_id);
        let secret = self.sealer.open(&factor.enrolment.secret, context).await?;
        let secret = TotpSecret::from_bytes(secret);
        match self.otp.verify(&secret, code, now, factor.last_step) {
            Some(step) => self.factors.accept_step(user_id, step).await,
            None => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{
        FakeSealer, FixedClock, InMemoryFactors, InMemoryUsers, StepCodes, user_with_email,
    };
    use crate::ports::{Clock, StoredTotp, TotpStep};
    use domain::User;

    fn current_step() -> u64 {
        u64::try_from(FixedClock::default().now().as_millis() / 30_000).unwrap()
    }

    /// Ada with a factor on: recovery codes "CODE-1" and "CODE-2".
    async fn with_factor() -> (InMemoryFactors, User) {
        let users = InMemoryUsers::default();
        let factors = InMemoryFactors::beside(&users);
        let ada = users.add(user_with_email("ada@example.com"));
        let ada = factors.turn_on(&ada, &["CODE-1", "CODE-2"]).await;
        (factors, ada)
    }

    fn checker(factors: &InMemoryFactors) -> SecondFactor<InMemoryFactors, StepCodes, FakeSealer> {
        SecondFactor::new(factors.clone(), StepCodes::default(), FakeSealer::default())
    }

    #[tokio::test]
    async fn a_code_works_once_within_one_step_of_drift() {
        let (factors, ada) = with_factor().await;
        let check = checker(&factors);
        let now = FixedClock::default().now();
        let code = |step: u64| FactorProof::Code(format!("{step:06}"));
        let step = current_step();
        assert_eq!(
            check.check(ada.id(), &code(step - 2), now).await.unwrap(),
            FactorCheck::Refused,
            "two steps old"
        );
        assert_eq!(
            check.check(ada.id(), &code(step - 1), now).await.unwrap(),
            FactorCheck::Accepted
        );
        assert_eq!(
            check.check(ada.id(), &code(step - 1), now).await.unwrap(),
            FactorCheck::Refused,
            "replayed"
        );
        assert_eq!(
            check.check(ada.id(), &code(step), now).await.unwrap(),
            FactorCheck::Accepted
        );
        let stored: StoredTotp = factors.stored(ada.id()).unwrap();
        assert_eq!(stored.last_step, Some(TotpStep::new(step)));
    }

    #[tokio::test]
    async fn a_recovery_code_works_once_however_it_is_typed() {
        let (factors, ada) = with_factor().await;
        let check = checker(&factors);
        let now = FixedClock::default().now();
        let typed = FactorProof::RecoveryCode("code-1".to_owned());
        assert_eq!(
            check.check(ada.id(), &typed, now).await.unwrap(),
            FactorCheck::Accepted
        );
        assert_eq!(
            check.check(ada.id(), &typed, now).await.unwrap(),
            FactorCheck::Refused
        );
        assert_eq!(factors.stored(ada.id()).unwrap().recovery_codes.len(), 1);
    }

    #[tokio::test]
    async fn without_a_factor_on_nothing_is_accepted_and_a_key_service_down_is_an_error() {
        let users = InMemoryUsers::default();
        let factors = InMemoryFactors::beside(&users);
        let grace = users.add(user_with_email("grace@example.com"));
        let now = FixedClock::default().now();
        let code = FactorProof::Code(format!("{:06}", current_step()));
        assert_eq!(
            checker(&factors)
                .check(grace.id(), &code, now)
                .await
                .unwrap(),
            FactorCheck::Refused
        );

        let (factors, ada) = with_factor().await;
        let down = SecondFactor::new(
            factors.clone(),
            StepCodes::default(),
            FakeSealer::unavailable(),
        );
        assert!(matches!(
            down.check(ada.id(), &code, now).await,
            Err(RepositoryError::Unavailable(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn any_typed_code_is_one_kind_or_the_other_and_checking_it_never_panics(
            typed in "\\PC{0,40}|[0-9]{6}",
        ) {
            let proof = FactorProof::either(typed.clone());
            let six_digits = typed.trim().len() == 6 && typed.trim().bytes().all(|b| b.is_ascii_digit());
            proptest::prop_assert_eq!(matches!(proof, FactorProof::Code(_)), six_digits);
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let checked = runtime.block_on(async {
                let (factors, ada) = with_factor().await;
                checker(&factors).check(ada.id(), &proof, FixedClock::default().now()).await
            });
            proptest::prop_assert!(checked.is_ok());
        }
    }
}
