//! Managing a second factor that is on (API.md, "Second factors").
//!
//! `POST /users/{id}/mfa/recovery-codes`: the user, after step-up and with a code, gets ten
//! new recovery codes; the earlier ones are void.
//!
//! `DELETE /users/{id}/mfa`: the user (step-up and a code) or an administrator (an
//! account-recovery reset, for a user who lost both the authenticator and the codes) turns
//! the factor off; the user's sessions are revoked and the address is told.

use super::second_factor::{FactorProof, SecondFactor};
use super::step_up::StepUp;
use super::totp_enrolment::{FactorError, fresh_recovery_codes, own_account};
use crate::audit::{self, Outcome};
use crate::messages;
use crate::ports::{
    Clock, ConfirmFactorError, CredentialRepository, OneTimePasswords, Outgoing, PasswordHasher,
    SecretSealer, TotpFactors, UserRepository,
};
use crate::standing::read_for;
use crate::{Caller, Policy, UseCase, command};
use domain::UserId;

pub struct RecoveryCodesRequest {
    pub user_id: UserId,
    /// Step-up proof (else the token's `auth_time`).
    pub current_password: Option<String>,
    pub code: FactorProof,
}

command!(RecoveryCodesRequest => Vec<String>, FactorError; subject = user_id);

pub struct ReplaceRecoveryCodes<U, F, O, S, C, K, H> {
    users: U,
    factors: F,
    otp: O,
    factor: SecondFactor<F, O, S>,
    clock: C,
    step_up: StepUp<K, H>,
}

impl<U, F: Clone, O: Clone, S, C, K, H> ReplaceRecoveryCodes<U, F, O, S, C, K, H> {
    pub fn new(users: U, factors: F, otp: O, sealer: S, clock: C, step_up: StepUp<K, H>) -> Self {
        Self {
            users,
            factor: SecondFactor::new(factors.clone(), otp.clone(), sealer),
            factors,
            otp,
            clock,
            step_up,
        }
    }
}

impl<U, F, O, S, C, K, H> UseCase<RecoveryCodesRequest>
    for ReplaceRecoveryCodes<U, F, O, S, C, K, H>
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
        Some("mfa_recovery_codes_replaced")
    }

    /// The new codes, shown this once.
    async fn run(
        &self,
        caller: &Caller,
        request: RecoveryCodesRequest,
    ) -> Result<Vec<String>, FactorError> {
        let user = own_account(&self.users, caller, request.user_id).await?;
        if !user.mfa_enabled() {
            return Err(FactorError::NoFactor);
        }
        let now = self.clock.now();
        self.step_up
            .check(caller, &user, request.current_password.as_deref(), now)
            .await?;
        self.step_up
            .check_code(&user, &self.factor, &request.code, now)
            .await?;
        let (codes, hashes) = fresh_recovery_codes(&self.otp)?;
        if !self
            .factors
            .replace_recovery_codes(user.id(), &hashes)
            .await?
        {
            // Turned off since it was read.
            return Err(FactorError::NoFactor);
        }
        Ok(codes)
    }
}

pub struct RemoveFactorRequest {
    pub user_id: UserId,
    /// Step-up proof (else the token's `auth_time`); for one's own factor only.
    pub current_password: Option<String>,
    /// A current code or a recovery code; for one's own factor only.
    pub code: Option<FactorProof>,
}

command!(RemoveFactorRequest => (), FactorError; subject = user_id);

pub struct RemoveSecondFactor<U, F, O, S, C, K, H> {
    users: U,
    factors: F,
    factor: SecondFactor<F, O, S>,
    clock: C,
    step_up: StepUp<K, H>,
}

impl<U, F: Clone, O, S, C, K, H> RemoveSecondFactor<U, F, O, S, C, K, H> {
    pub fn new(users: U, factors: F, otp: O, sealer: S, clock: C, step_up: StepUp<K, H>) -> Self {
        Self {
            users,
            factor: SecondFactor::new(factors.clone(), otp, sealer),
            factors,
            clock,
            step_up,
        }
    }
}

impl<U, F, O, S, C, K, H> UseCase<RemoveFactorRequest> for RemoveSecondFactor<U, F, O, S, C, K, H>
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
        Policy::SelfOrAdmin
    }

    async fn run(&self, caller: &Caller, request: RemoveFactorRequest) -> Result<(), FactorError> {
        let subject = request.user_id;
        let own = caller.user_id() == Some(subject);
        // Removal by the user, or an administrator's account-recovery reset.
        let event = if own { "mfa_removed" } else { "mfa_reset" };
        let result = self.remove(caller, request, own).await;
        let outcome = match &result {
            Err(FactorError::Denied(_)) => Outcome::Denied,
            result => Outcome::of(result),
        };
        audit::record(event, outcome, caller.user_id(), Some(subject));
        result
    }
}

impl<U, F, O, S, C, K, H> RemoveSecondFactor<U, F, O, S, C, K, H>
where
    U: UserRepository,
    F: TotpFactors,
    O: OneTimePasswords,
    S: SecretSealer,
    C: Clock,
    K: CredentialRepository,
    H: PasswordHasher,
{
    async fn remove(
        &self,
        caller: &Caller,
        request: RemoveFactorRequest,
        own: bool,
    ) -> Result<(), FactorError> {
        let user = read_for::<U, FactorError>(
            &self.users,
            caller,
            Policy::SelfOrAdmin,
            Some(request.user_id),
        )
        .await?
        .filter(|user| !user.is_deleted())
        .ok_or(FactorError::NotFound)?;
        if !user.mfa_enabled() {
            return Err(FactorError::NoFactor);
        }
        let now = self.clock.now();
        if own {
            self.step_up
                .check(caller, &user, request.current_password.as_deref(), now)
                .await?;
            let code = request.code.as_ref().ok_or(FactorError::CodeRequired)?;
            self.step_up
                .check_code(&user, &self.factor, code, now)
                .await?;
        }
        let mut updated = user.clone();
        updated.set_mfa(false).map_err(|_| FactorError::NotFound)?;
        updated.revoke_sessions(now);
        let outbox =
            Outgoing::of_update(&user, &updated, vec![messages::two_step_sign_in_off(&user)]);
        self.factors
            .remove(&user, updated, &outbox)
            .await
            .map_err(|error| match error {
                ConfirmFactorError::UserChanged | ConfirmFactorError::EnrolmentChanged => {
                    FactorError::Contended
                }
                ConfirmFactorError::Repository(error) => FactorError::Repository(error),
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Denied;
    use crate::credentials::StepUpError;
    use crate::fakes::{
        AuditLines, FakeHasher, FakeSealer, FixedClock, InMemoryCredentials, InMemoryFactors,
        InMemoryUsers, StepCodes, events_of, user_with_email,
    };
    use crate::ports::{Clock, TokenHash};
    use domain::{Timestamp, User};

    /// Ada with a factor on (recovery codes "AAAA-1", "BBBB-2"), signed in just now.
    struct World {
        users: InMemoryUsers,
        credentials: InMemoryCredentials,
        factors: InMemoryFactors,
        ada: User,
    }

    impl World {
        async fn new() -> Self {
            let users = InMemoryUsers::default();
            let factors = InMemoryFactors::beside(&users);
            let ada = users.add(user_with_email("ada@example.com"));
            let ada = factors.turn_on(&ada, &["AAAA-1", "BBBB-2"]).await;
            Self {
                users,
                credentials: InMemoryCredentials::default(),
                factors,
                ada,
            }
        }

        fn step_up(&self) -> StepUp<InMemoryCredentials, FakeHasher> {
            StepUp::new(self.credentials.clone(), FakeHasher::default())
        }

        fn replace(
            &self,
            at: Timestamp,
        ) -> ReplaceRecoveryCodes<
            InMemoryUsers,
            InMemoryFactors,
            StepCodes,
            FakeSealer,
            FixedClock,
            InMemoryCredentials,
            FakeHasher,
        > {
            ReplaceRecoveryCodes::new(
                self.users.clone(),
                self.factors.clone(),
                StepCodes::default(),
                FakeSealer::default(),
                FixedClock::at(at),
                self.step_up(),
            )
        }

        fn remove(
            &self,
        ) -> RemoveSecondFactor<
            InMemoryUsers,
            InMemoryFactors,
            StepCodes,
            FakeSealer,
            FixedClock,
            InMemoryCredentials,
            FakeHasher,
        > {
            RemoveSecondFactor::new(
                self.users.clone(),
                self.factors.clone(),
                StepCodes::default(),
                FakeSealer::default(),
                FixedClock::default(),
                self.step_up(),
            )
        }

        fn recovery_code_works(&self, code: &str) -> bool {
            let hash = TokenHash::new(code.to_uppercase());
            self.factors
                .stored(self.ada.id())
                .is_some_and(|factor| factor.recovery_codes.contains(&hash))
        }
    }

    fn now() -> Timestamp {
        FixedClock::default().now()
    }

    fn current_code() -> FactorProof {
        FactorProof::Code(StepCodes::code_at(now()))
    }

    fn codes_request(user_id: UserId, code: FactorProof) -> RecoveryCodesRequest {
        RecoveryCodesRequest {
            user_id,
            current_password: None,
            code,
        }
    }

    #[tokio::test]
    async fn new_recovery_codes_void_the_earlier_ones() {
        let world = World::new().await;
        let caller = world.users.sign_in(&world.ada);
        let codes = world
            .replace(now())
            .execute(&caller, codes_request(world.ada.id(), current_code()))
            .await
            .unwrap();
        assert_eq!(codes.len(), 10);
        assert!(codes.iter().all(|code| world.recovery_code_works(code)));
        assert!(!world.recovery_code_works("AAAA-1"));
        assert!(!world.recovery_code_works("BBBB-2"));
    }

    #[tokio::test]
    async fn replacing_codes_needs_step_up_and_a_right_code_that_counts_toward_the_lockout() {
        let world = World::new().await;
        let caller = world.users.sign_in(&world.ada);
        let hour_later = now().plus_seconds(3600).unwrap();
        let stale = world
            .replace(hour_later)
            .execute(&caller, codes_request(world.ada.id(), current_code()))
            .await;
        assert!(matches!(
            stale,
            Err(FactorError::StepUp(StepUpError::ReauthenticationRequired))
        ));
        for _ in 0..5 {
            let wrong = world
                .replace(now())
                .execute(
                    &caller,
                    codes_request(world.ada.id(), FactorProof::Code("000000".into())),
                )
                .await;
            assert!(matches!(
                wrong,
                Err(FactorError::StepUp(StepUpError::WrongCode))
            ));
        }
        let locked = world
            .replace(now())
            .execute(&caller, codes_request(world.ada.id(), current_code()))
            .await;
        assert!(matches!(
            locked,
            Err(FactorError::StepUp(StepUpError::Locked { .. }))
        ));
        assert!(world.recovery_code_works("AAAA-1"), "nothing replaced");
    }

    #[tokio::test]
    async fn without_a_factor_there_is_nothing_to_replace_or_remove() {
        let users = InMemoryUsers::default();
        let world = World {
            factors: InMemoryFactors::beside(&users),
            ada: users.add(user_with_email("ada@example.com")),
            credentials: InMemoryCredentials::default(),
            users,
        };
        let caller = world.users.sign_in(&world.ada);
        let replaced = world
            .replace(now())
            .execute(&caller, codes_request(world.ada.id(), current_code()))
            .await;
        assert!(matches!(replaced, Err(FactorError::NoFactor)));
        let request = RemoveFactorRequest {
            user_id: world.ada.id(),
            current_password: None,
            code: None,
        };
        let admin = world.users.admin_caller();
        let removed = world.remove().execute(&admin, request).await;
        assert!(matches!(removed, Err(FactorError::NoFactor)));
    }

    #[tokio::test]
    async fn the_user_turns_it_off_with_a_code_and_every_session_ends() {
        let (lines, _guard) = AuditLines::capture();
        let world = World::new().await;
        let caller = world.users.sign_in(&world.ada);
        let without_code = RemoveFactorRequest {
            user_id: world.ada.id(),
            current_password: None,
            code: None,
        };
        let refused = world.remove().execute(&caller, without_code).await;
        assert!(matches!(refused, Err(FactorError::CodeRequired)));
        let with_recovery_code = RemoveFactorRequest {
            user_id: world.ada.id(),
            current_password: None,
            code: Some(FactorProof::either("aaaa-1".to_owned())),
        };
        world
            .remove()
            .execute(&caller, with_recovery_code)
            .await
            .unwrap();
        let stored = world.users.stored(world.ada.id()).unwrap();
        assert!(!stored.mfa_enabled());
        assert!(world.factors.stored(world.ada.id()).is_none());
        assert_eq!(
            stored.sessions_valid_after(),
            Some(now()),
            "every session started before now ended, the caller's own too"
        );
        let emails = world.users.outbox().emails();
        assert_eq!(emails.last().unwrap().subject, "Two-step sign-in is off");
        let recorded = lines.take();
        let events = events_of(&recorded);
        assert!(events.contains(&("mfa_recovery_code", "success")));
        assert_eq!(events.last(), Some(&("mfa_removed", "success")));
    }

    #[tokio::test]
    async fn an_admin_resets_another_users_factor_without_a_body_and_a_user_cannot() {
        let (lines, _guard) = AuditLines::capture();
        let world = World::new().await;
        let request = || RemoveFactorRequest {
            user_id: world.ada.id(),
            current_password: None,
            code: None,
        };
        let grace = world.users.add(user_with_email("grace@example.com"));
        let other = world
            .remove()
            .execute(&world.users.sign_in(&grace), request())
            .await;
        assert!(matches!(other, Err(FactorError::Denied(Denied::NotFound))));
        let admin = world.users.admin_caller();
        world.remove().execute(&admin, request()).await.unwrap();
        let stored = world.users.stored(world.ada.id()).unwrap();
        assert!(!stored.mfa_enabled());
        assert_eq!(stored.sessions_valid_after(), Some(now()));
        let recorded = lines.take();
        let events = events_of(&recorded);
        assert_eq!(events.last(), Some(&("mfa_reset", "success")));
    }
}
