//! A login in three round trips: the reservation of the attempt on the address's
//! failed-login item together with a read of its email claim, a batch read of the holder's
//! user and password items, and one transaction that records the login, stores the new
//! session and its first refresh token, and forgets the address's failures.

use super::credentials::{
    attempts_key, password_from, password_key, password_put, reserve_attempt,
};
use super::errors::build_failed;
use super::items::{self, put_new};
use super::outbox::outbox_writes;
use super::sessions::{session_item, token_item};
use super::transactions::{TransactionError, transact};
use super::users::DynamoUserRepository;
use application::ports::{
    AddressRecord, LoginStore, NewPassword, OutgoingEmail, RecordLoginError, RefreshTokenRecord,
    RepositoryError, SessionRecord,
};
use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};
use domain::{Email, PasswordHash, Timestamp, User, UserId};

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
    ) -> Result<User, RecordLoginError> {
        let stored = updated.stored_at(current.version().next());
        let forget = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(attempts_key(address)))
            .build()
            .map_err(build_failed)?;
        let writes = vec![
            TransactWriteItem::builder()
                .put(self.versioned_put(&stored, current)?)
                .build(),
            put_new(&self.table, token_item(first_token))?,
            TransactWriteItem::builder().delete(forget).build(),
            put_new(&self.table, session_item(session))?,
        ];
        match transact(&self.client, writes).await {
            Ok(()) => Ok(stored),
            // A stale version, or another write on the user at that moment.
            Err(TransactionError::ConditionFailed { index: 0 } | TransactionError::Conflict) => {
                Err(RecordLoginError::UserChanged)
            }
            Err(TransactionError::ConditionFailed { .. }) => {
                Err(RepositoryError::Failed("a refresh token with this hash exists".into()).into())
            }
            Err(TransactionError::Repository(error)) => Err(error.into()),
        }
    }

    async fn replace_password(
        &self,
        current: &User,
        updated: User,
        password: NewPassword<'_>,
        outbox: &[OutgoingEmail],
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
