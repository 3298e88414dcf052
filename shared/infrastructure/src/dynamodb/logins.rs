//! A login in three round trips: the reservation of the attempt on the address's
//! failed-login item together with a read of its email claim, a batch read of the holder's
//! user and password items, and one transaction that records the login, stores the new
//! session and its first refresh token, and forgets the address's failures.
//!
//! A two-step login's challenge (`mfa_token`) is an item of its own, `MFA#<token hash>` /
//! `CHALLENGE`, that expires by TTL; the login that finishes it deletes it in its transaction,
//! on the condition that it is still there.

use super::credentials::{
    attempts_key, password_from, password_key, password_put, reserve_attempt,
};
use super::errors::{build_failed, corrupt_item};
use super::items::{self, put_new};
use super::outbox::outbox_writes;
use super::sessions::{session_item, token_item};
use super::transactions::{TransactionError, transact};
use super::users::DynamoUserRepository;
use application::ports::{
    AddressRecord, LoginStore, MfaChallenge, NewPassword, Outgoing, RecordLoginError,
    RefreshTokenRecord, RepositoryError, SessionRecord, TokenHash,
};
use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};
use domain::{Email, PasswordHash, Timestamp, User, UserId};
use serde::{Deserialize, Serialize};

const CHALLENGE_PREFIX: &str = "MFA#";
const CHALLENGE_SORT_KEY: &str = "CHALLENGE";

fn challenge_key(hash: &TokenHash) -> items::Item {
    items::key(
        format!("{CHALLENGE_PREFIX}{}", hash.as_str()),
        CHALLENGE_SORT_KEY,
    )
}

/// A challenge item as stored.
#[derive(Debug, Serialize, Deserialize)]
struct ChallengeItem {
    pk: String,
    sk: String,
    entity: String,
    user_id: String,
    /// The address the password was typed at, whose lockout the codes count toward.
    address: String,
    issued_at: String,
    /// TTL.
    expires_at: i64,
}

impl ChallengeItem {
    fn of(challenge: &MfaChallenge) -> Result<Self, RepositoryError> {
        let pk = format!("{CHALLENGE_PREFIX}{}", challenge.hash.as_str());
        let expires_at = challenge
            .expires_at()
            .ok_or_else(|| RepositoryError::Failed("a challenge expires out of range".into()))?;
        Ok(Self {
            pk,
            sk: CHALLENGE_SORT_KEY.to_owned(),
            entity: "mfa_challenge".to_owned(),
            user_id: challenge.user_id.to_string(),
            address: challenge.address.as_str().to_owned(),
            issued_at: challenge.issued_at.to_rfc3339(),
            expires_at: (expires_at.as_millis() + 999).div_euclid(1000),
        })
    }

    fn into_challenge(self, hash: &TokenHash) -> Option<MfaChallenge> {
        Some(MfaChallenge {
            hash: hash.clone(),
            user_id: UserId::parse(&self.user_id).ok()?,
            address: Email::parse(&self.address).ok()?,
            issued_at: Timestamp::parse_rfc3339(&self.issued_at)?,
        })
    }
}

/// Where a login's transaction deletes the challenge it finishes.
const USED_UP_CHALLENGE: usize = 4;

impl LoginStore for DynamoUserRepository {
    async fn address(
        &self,
        email: &Email,
        now: Timestamp,
    ) -> Result<AddressRecord, RepositoryError> {
        let (reservation, claim) = tokio::join!(
            reserve_attempt(&self.client, &self.table, email, now),
            items::read(&self.client, &self.table, items::email_claim_key(email)),
        );
        Ok(AddressRecord {
            reservation: reservation?,
            holder: items::claim_holder(claim?.as_ref())?,
        })
    }

    async fn user_and_password(
        &self,
        id: UserId,
    ) -> Result<(Option<User>, Option<PasswordHash>), RepositoryError> {
        let [user, password] = items::read_all(
            &self.client,
            &self.table,
            [items::user_key(id), password_key(id)],
        )
        .await?;
        Ok((
            user.map(items::to_user).transpose()?,
            password_from(password.as_ref())?,
        ))
    }

    async fn record_login(
        &self,
        current: &User,
        updated: User,
        session: &SessionRecord,
        first_token: &RefreshTokenRecord,
        address: &Email,
        challenge: Option<&TokenHash>,
    ) -> Result<User, RecordLoginError> {
        let stored = updated.stored_at(current.version().next());
        let forget = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(attempts_key(address)))
            .build()
            .map_err(build_failed)?;
        let mut writes = vec![
            TransactWriteItem::builder()
                .put(self.versioned_put(&stored, current)?)
                .build(),
            put_new(&self.table, token_item(first_token))?,
            TransactWriteItem::builder().delete(forget).build(),
            put_new(&self.table, session_item(session))?,
        ];
        if let Some(hash) = challenge {
            let use_up = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(challenge_key(hash)))
                .condition_expression("attribute_exists(pk)")
                .build()
                .map_err(build_failed)?;
            writes.push(TransactWriteItem::builder().delete(use_up).build());
        }
        match transact(&self.client, writes).await {
            Ok(()) => Ok(stored),
            // A stale version, or another write on the user at that moment.
            Err(TransactionError::ConditionFailed { index: 0 } | TransactionError::Conflict) => {
                Err(RecordLoginError::UserChanged)
            }
            Err(TransactionError::ConditionFailed {
                index: USED_UP_CHALLENGE,
            }) => Err(RecordLoginError::ChallengeUsed),
            Err(TransactionError::ConditionFailed { .. }) => {
                Err(RepositoryError::Failed("a refresh token with this hash exists".into()).into())
            }
            Err(TransactionError::Repository(error)) => Err(error.into()),
        }
    }

    async fn issue_challenge(&self, challenge: &MfaChallenge) -> Result<(), RepositoryError> {
        let item = serde_dynamo::to_item(ChallengeItem::of(challenge)?)
            .map_err(|error| RepositoryError::Failed(error.into()))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(super::errors::repository_error)?;
        Ok(())
    }

    async fn challenge(&self, hash: &TokenHash) -> Result<Option<MfaChallenge>, RepositoryError> {
        let Some(item) = items::read(&self.client, &self.table, challenge_key(hash)).await? else {
            return Ok(None);
        };
        let corrupt = || corrupt_item("a two-step login challenge is not well formed");
        let stored: ChallengeItem = serde_dynamo::from_item(item).map_err(|_| corrupt())?;
        stored.into_challenge(hash).map(Some).ok_or_else(corrupt)
    }

    async fn replace_password(
        &self,
        current: &User,
        updated: User,
        password: NewPassword<'_>,
        outbox: &Outgoing,
    ) -> Result<User, RecordLoginError> {
        let stored = updated.stored_at(current.version().next());
        let forget = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(attempts_key(current.email())))
            .build()
            .map_err(build_failed)?;
        let hash = password_put(&self.table, current.id(), password.hash, password.at)?;
        let mut writes = vec![
            TransactWriteItem::builder()
                .put(self.versioned_put(&stored, current)?)
                .build(),
            TransactWriteItem::builder().put(hash).build(),
            put_new(&self.table, session_item(password.session))?,
            put_new(&self.table, token_item(password.first_token))?,
            TransactWriteItem::builder().delete(forget).build(),
        ];
        writes.extend(outbox_writes(&self.table, outbox)?);
        match transact(&self.client, writes).await {
            Ok(()) => Ok(stored),
            Err(TransactionError::ConditionFailed { index: 0 } | TransactionError::Conflict) => {
                Err(RecordLoginError::UserChanged)
            }
            Err(TransactionError::ConditionFailed { .. }) => Err(RepositoryError::Failed(
                "a session or refresh token with this key exists".into(),
            )
            .into()),
            Err(TransactionError::Repository(error)) => Err(error.into()),
        }
    }
}
