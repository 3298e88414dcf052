//! Changing a user's address: an administrator's change applies at once; the user's own
//! waits for proof that the new address is theirs, a token sent there
//! (`ConfirmEmailChange`), and is told to the current address at once. A change of one's own
//! address (an admin's included) needs step-up first. Either way the old address is told once
//! the change is made: the notice is recorded with the change.

use super::UserChangeError;
use super::modify::{ChangeOf, modify_user_and_tell};
use crate::credentials::StepUp;
use crate::messages;
use crate::ports::{
    Clock, CredentialRepository, EmailChangeRecord, EmailChangeRepository, EmailSecret, IfMatch,
    Outgoing, OutgoingEmail, PasswordHasher, RepositoryError, ResetTokens, SecretPurpose,
    SecretSealer, UserRepository,
};
use crate::standing::read_for;
use crate::{Caller, Policy, UseCase, command};
use domain::{Email, Timestamp, User, UserId, UserIsDeleted};

#[derive(Debug, Clone)]
pub struct ChangeEmail {
    pub id: UserId,
    pub email: Email,
    /// The `If-Match` precondition, when the client sent one.
    pub if_match: Option<IfMatch>,
    /// Step-up proof for a change of one's own address (else the token's `auth_time`).
    pub current_password: Option<String>,
}

command!(ChangeEmail => EmailChange, UserChangeError; subject = id);

/// What a change of address did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailChange {
    /// The user as it is now: changed (an administrator's change), or unchanged (the same
    /// address again).
    Applied(User),
    /// A token went to the new address; nothing changes until it comes back.
    Requested,
}

/// How long an email-change token works.
pub const EMAIL_CHANGE_TOKEN_LIFETIME_SECONDS: i64 = 60 * 60;

/// The token to the new address goes into the outbox sealed (`S`).
pub struct UpdateUserEmail<U, T, S, C, K, H> {
    users: U,
    tokens: T,
    sealer: S,
    clock: C,
    step_up: StepUp<K, H>,
}

impl<U, T, S, C, K, H> UpdateUserEmail<U, T, S, C, K, H> {
    pub fn new(users: U, tokens: T, sealer: S, clock: C, step_up: StepUp<K, H>) -> Self {
        Self {
            users,
            tokens,
            sealer,
            clock,
            step_up,
        }
    }
}

impl<U, T, S, C, K, H> UseCase<ChangeEmail> for UpdateUserEmail<U, T, S, C, K, H>
where
    U: UserRepository + EmailChangeRepository,
    T: ResetTokens,
    S: SecretSealer,
    C: Clock,
    K: CredentialRepository,
    H: PasswordHasher,
{
    fn policy(&self) -> Policy {
        Policy::SelfOrAdmin
    }

    fn audit_event(&self, caller: &Caller) -> Option<&'static str> {
        Some(if caller.is_admin() {
            "email_change"
        } else {
            "email_change_request"
        })
    }

    async fn run(
        &self,
        caller: &Caller,
        command: ChangeEmail,
    ) -> Result<EmailChange, UserChangeError> {
        if caller.user_id() != Some(command.id) {
            // An administrator on another user (the policy let no one else in): at once.
            return self
                .change_at_once(caller, command)
                .await
                .map(EmailChange::Applied);
        }
        let user =
            read_for::<U, UserChangeError>(&self.users, caller, self.policy(), Some(command.id))
                .await?
                .filter(|user| !user.is_deleted())
                .ok_or(UserChangeError::NotFound)?;
        if command
            .if_match
            .as_ref()
            .is_some_and(|expected| !expected.matches(user.version()))
        {
            return Err(UserChangeError::PreconditionFailed);
        }
        if user.email() == &command.email {
            return Ok(EmailChange::Applied(user));
        }
        let now = self.clock.now();
        let password = command.current_password.as_deref();
        self.step_up.check(caller, &user, password, now).await?;
        if caller.is_admin() {
            self.change_at_once(caller, command)
                .await
                .map(EmailChange::Applied)
        } else {
            self.ask_for_proof(&user, command.email, now).await
        }
    }
}

impl<U, T, S, C, K, H> UpdateUserEmail<U, T, S, C, K, H>
where
    U: UserRepository + EmailChangeRepository,
    T: ResetTokens,
    S: SecretSealer,
    C: Clock,
    K: CredentialRepository,
    H: PasswordHasher,
{
    async fn change_at_once(
        &self,
        caller: &Caller,
        command: ChangeEmail,
    ) -> Result<User, UserChangeError> {
        let ChangeEmail {
            id,
            email,
            if_match,
            ..
        } = command;
        // A deleted user has no address to change: as unknown as any other.
        let change = |user: &mut User| {
            user.change_email(email.clone())
                .map_err(|UserIsDeleted| UserChangeError::NotFound)
        };
        let of = ChangeOf {
            caller,
            policy: self.policy(),
            id,
        };
        modify_user_and_tell(&self.users, of, if_match.as_ref(), change, notices).await
    }

    /// The user's own change, proved by step-up: a token to the new address, and a word to
    /// the current one, recorded together.
    async fn ask_for_proof(
        &self,
        user: &User,
        email: Email,
        now: Timestamp,
    ) -> Result<EmailChange, UserChangeError> {
        // Checked again, in the same write, when the change is made.
        if let Some(holder) = self.users.find_by_email(&email).await?
            && holder.id() != user.id()
        {
            return Err(UserChangeError::EmailTaken);
        }
        let issued = self.tokens.issue().map_err(RepositoryError::Failed)?;
        let expires_at = now
            .plus_seconds(EMAIL_CHANGE_TOKEN_LIFETIME_SECONDS)
            .ok_or_else(|| RepositoryError::Failed("the clock is out of range".into()))?;
        let record = EmailChangeRecord {
            hash: issued.hash,
            user_id: user.id(),
            new_email: email,
            expires_at,
        };
        let secret = EmailSecret::seal(
            &self.sealer,
            &issued.token,
            user.id(),
            SecretPurpose::EmailChange,
        )
        .await?;
        let messages = [
            messages::email_change_token(
                &record.new_email,
                secret,
                EMAIL_CHANGE_TOKEN_LIFETIME_SECONDS / 60,
            ),
            messages::email_change_requested(user, &record.new_email),
        ];
        self.users
            .save_email_change(&record, &Outgoing::emails(messages.into()))
            .await?;
        Ok(EmailChange::Requested)
    }
}

/// "Your email was changed", to the address the user had before, when a change of `before`
/// into `after` moved the user to another address.
pub(crate) fn notices(before: &User, after: &User) -> Vec<OutgoingEmail> {
    if before.email() == after.email() {
        return Vec::new();
    }
    vec![messages::email_changed(after, before.email().clone())]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fakes::{
        AuditLines, FakeHasher, FakeSealer, FakeTokens, FixedClock, InMemoryCredentials,
    };
    use crate::fakes::{InMemoryUsers, user_with_email};
    use crate::ports::{OutgoingEmail, UserRepository};
    use domain::Version;

    pub(crate) type Update = UpdateUserEmail<
        InMemoryUsers,
        FakeTokens,
        FakeSealer,
        FixedClock,
        InMemoryCredentials,
        FakeHasher,
    >;

    pub(crate) fn update(users: &InMemoryUsers) -> Update {
        update_at(
            users,
            &InMemoryCredentials::default(),
            FixedClock::default(),
        )
    }

    pub(crate) fn update_at(
        users: &InMemoryUsers,
        credentials: &InMemoryCredentials,
        clock: FixedClock,
    ) -> Update {
        let step_up = StepUp::new(credentials.clone(), FakeHasher::default());
        UpdateUserEmail::new(
            users.clone(),
            FakeTokens,
            FakeSealer::default(),
            clock,
            step_up,
        )
    }

    pub(crate) fn change(id: UserId, email: &str, if_match: Option<IfMatch>) -> ChangeEmail {
        ChangeEmail {
            id,
            email: Email::parse(email).unwrap(),
            if_match,
            current_password: None,
        }
    }

    /// The token of the one email-change message recorded for `to`, as the mailer will send it.
    pub(crate) fn token_sent_to(users: &InMemoryUsers, to: &str) -> String {
        let sent: Vec<OutgoingEmail> = users
            .outbox()
            .revealed()
            .into_iter()
            .filter(|email| email.to.as_str() == to && email.text.contains("token="))
            .collect();
        assert_eq!(sent.len(), 1, "one token email to {to}");
        sent[0]
            .text
            .lines()
            .find_map(|line| line.strip_prefix("token="))
            .unwrap()
            .to_owned()
    }

    fn applied(outcome: Result<EmailChange, UserChangeError>) -> User {
        match outcome {
            Ok(EmailChange::Applied(user)) => user,
            other => panic!("expected an applied change, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_administrators_change_applies_at_once_unverified_and_tells_the_old_address() {
        let users = InMemoryUsers::default();
        let mut ada = user_with_email("ada@example.com");
        ada.verify_email();
        let ada = users.add(ada);
        let moved = applied(
            update(&users)
                .execute(
                    &users.admin_caller(),
                    change(ada.id(), "ada@lovelace.org", None),
                )
                .await,
        );

        assert_eq!(moved.email().as_str(), "ada@lovelace.org");
        assert_eq!(moved.version(), Version::new(2));
        assert!(!moved.email_verified(), "nobody proved the new address");
        assert!(
            users
                .insert(&user_with_email("ada@example.com"), &Outgoing::nothing())
                .await
                .is_ok()
        );
        assert!(
            users
                .insert(&user_with_email("ADA@lovelace.org"), &Outgoing::nothing())
                .await
                .is_err()
        );
        let sent = users.outbox().emails();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].to.as_str(), "ada@example.com");
        assert_eq!(sent[0].subject, "Your email address was changed");
        assert!(!sent[0].text.contains("token"));
    }

    #[tokio::test]
    async fn the_users_own_change_sends_a_token_to_the_new_address_and_changes_nothing() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let outcome = update(&users)
            .execute(
                &users.sign_in(&ada),
                change(ada.id(), "ada@lovelace.org", None),
            )
            .await
            .unwrap();
        assert_eq!(outcome, EmailChange::Requested);
        assert_eq!(users.stored(ada.id()), Some(ada));
        token_sent_to(&users, "ada@lovelace.org");
        let sent = users.outbox().emails();
        assert_eq!(
            sent.len(),
            2,
            "the token, and a word to the current address"
        );
        let told = sent
            .iter()
            .find(|email| email.to.as_str() == "ada@example.com")
            .unwrap();
        assert!(told.text.contains("a***@lovelace.org"), "{}", told.text);
        assert!(!told.text.contains("ada@lovelace.org") && !told.text.contains("token="));
    }

    /// Ada, whose password is "correct horse battery".
    fn ada_with_a_password() -> (InMemoryUsers, InMemoryCredentials, User) {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let credentials = InMemoryCredentials::default();
        let hash = domain::PasswordHash::new("fake:correct horse battery");
        credentials.set_password(ada.id(), hash);
        (users, credentials, ada)
    }

    #[tokio::test]
    async fn ones_own_change_needs_the_current_password_or_a_fresh_sign_in() {
        use crate::credentials::StepUpError;
        let (users, credentials, ada) = ada_with_a_password();
        let caller = users.sign_in(&ada);
        let six_minutes_later =
            FixedClock::at(FixedClock::default().now().plus_seconds(360).unwrap());
        let update = update_at(&users, &credentials, six_minutes_later);
        let with = |password: Option<&str>| ChangeEmail {
            current_password: password.map(str::to_owned),
            ..change(ada.id(), "ada@lovelace.org", None)
        };
        let stale = update.execute(&caller, with(None)).await;
        assert!(matches!(
            stale,
            Err(UserChangeError::StepUp(
                StepUpError::ReauthenticationRequired
            ))
        ));
        let wrong = update
            .execute(&caller, with(Some("wrong horse battery")))
            .await;
        assert!(matches!(
            wrong,
            Err(UserChangeError::StepUp(StepUpError::WrongPassword))
        ));
        assert_eq!(
            credentials
                .login_attempts(ada.email())
                .await
                .unwrap()
                .failures,
            1,
            "a wrong password counts toward the lockout"
        );
        assert!(
            users.outbox().emails().is_empty(),
            "nothing asked, nothing sent"
        );
        let right = update
            .execute(&caller, with(Some("correct horse battery")))
            .await;
        assert_eq!(right.unwrap(), EmailChange::Requested);
        assert_eq!(
            credentials.login_attempts(ada.email()).await.unwrap(),
            crate::credentials::LoginAttempts::default(),
            "the right one forgets the failures"
        );
        let fresh = update_at(&users, &credentials, FixedClock::default());
        let again = fresh.execute(&caller, with(None)).await;
        assert_eq!(
            again.unwrap(),
            EmailChange::Requested,
            "a sign-in of a minute ago"
        );
    }

    #[tokio::test]
    async fn while_the_address_is_locked_even_the_right_password_is_refused() {
        use crate::credentials::StepUpError;
        let (users, credentials, ada) = ada_with_a_password();
        crate::fakes::lock_the_address(&credentials, ada.email(), FixedClock::default().now())
            .await;
        let refused = update_at(&users, &credentials, FixedClock::default())
            .execute(
                &users.sign_in(&ada),
                ChangeEmail {
                    current_password: Some("correct horse battery".to_owned()),
                    ..change(ada.id(), "ada@lovelace.org", None)
                },
            )
            .await;
        assert!(matches!(
            refused,
            Err(UserChangeError::StepUp(StepUpError::Locked {
                retry_after: 1
            }))
        ));
    }

    #[tokio::test]
    async fn an_address_held_by_another_user_is_taken_for_anyone() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        users.add(user_with_email("grace@example.com"));
        for caller in [users.admin_caller(), users.sign_in(&ada)] {
            let result = update(&users)
                .execute(&caller, change(ada.id(), "Grace@Example.com", None))
                .await;
            assert!(matches!(result, Err(UserChangeError::EmailTaken)));
        }
        assert_eq!(users.stored(ada.id()), Some(ada));
        assert!(users.outbox().emails().is_empty());
    }

    #[tokio::test]
    async fn the_same_address_again_is_a_no_op_for_anyone() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        for caller in [users.admin_caller(), users.sign_in(&ada)] {
            let same = update(&users)
                .execute(&caller, change(ada.id(), "ada@example.com", None))
                .await;
            assert_eq!(applied(same), ada);
        }
        assert!(users.outbox().emails().is_empty());
    }

    #[tokio::test]
    async fn a_stale_if_match_fails_and_a_current_one_succeeds() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let stale = || Some(IfMatch::OneOf(vec![Version::new(7)]));
        for caller in [users.admin_caller(), users.sign_in(&ada)] {
            let result = update(&users)
                .execute(&caller, change(ada.id(), "new@example.com", stale()))
                .await;
            assert!(matches!(result, Err(UserChangeError::PreconditionFailed)));
        }
        let current = Some(IfMatch::OneOf(vec![ada.version()]));
        let result = update(&users)
            .execute(
                &users.admin_caller(),
                change(ada.id(), "new@example.com", current),
            )
            .await;
        assert!(result.is_ok());
    }

    #[tokio::test]
    async fn a_race_lost_under_if_match_is_a_failed_precondition_not_a_retry() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        users.conflict_on_next_updates(1);
        let result = update(&users)
            .execute(
                &users.admin_caller(),
                change(ada.id(), "new@example.com", Some(IfMatch::Any)),
            )
            .await;
        assert!(matches!(result, Err(UserChangeError::PreconditionFailed)));
    }

    #[tokio::test]
    async fn deleted_and_unknown_users_are_not_found() {
        let users = InMemoryUsers::default();
        let mut gone = user_with_email("gone@example.com");
        gone.delete().unwrap();
        let gone = users.add(gone);
        for id in [gone.id(), UserId::generate()] {
            let result = update(&users)
                .execute(&users.admin_caller(), change(id, "x@example.com", None))
                .await;
            assert!(matches!(result, Err(UserChangeError::NotFound)));
        }
        let own = update(&users)
            .execute(
                &users.sign_in(&gone),
                change(gone.id(), "x@example.com", None),
            )
            .await;
        assert!(matches!(own, Err(UserChangeError::NotFound)));
    }

    #[tokio::test]
    async fn a_request_and_an_administrators_change_are_audited_apart() {
        let (lines, _guard) = AuditLines::capture();
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let grace = users.add(user_with_email("grace@example.com"));
        let use_case = update(&users);
        use_case
            .execute(
                &users.sign_in(&ada),
                change(ada.id(), "ada@lovelace.org", None),
            )
            .await
            .unwrap();
        use_case
            .execute(
                &users.sign_in(&grace),
                change(ada.id(), "x@example.com", None),
            )
            .await
            .unwrap_err();
        use_case
            .execute(
                &users.admin_caller(),
                change(ada.id(), "ada@lovelace.org", None),
            )
            .await
            .unwrap();
        let events = lines.events();
        assert_eq!(
            events,
            [
                ("email_change_request".to_owned(), "success".to_owned()),
                ("email_change_request".to_owned(), "denied".to_owned()),
                ("email_change".to_owned(), "success".to_owned()),
            ]
        );
    }
}
