//! A login in three round trips: a batch read of the address's failed-login item and its
//! email claim, a batch read of the holder's user and password items, and one transaction
//! that records the login, stores the new family's first refresh token and forgets the
//! address's failures.

use super::credentials::{attempts_from, attempts_key, password_from, password_key};
use super::errors::build_failed;
use super::items::{self, put_new};
use super::sessions::token_item;
use super::transactions::{TransactionError, transact};
use super::users::DynamoUserRepository;
use application::ports::{
    AddressRecord, LoginStore, RecordLoginError, RefreshTokenRecord, RepositoryError,
};
use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};
use domain::{Email, PasswordHash, User, UserId};

impl LoginStore for DynamoUserRepository {
    async fn address(&self, email: &Email) -> Result<AddressRecord, RepositoryError> {
        let [attempts, claim] = items::read_all(
            &self.client,
            &self.table,
            [attempts_key(email), items::email_claim_key(email)],
        )
        .await?;
        Ok(AddressRecord {
            attempts: attempts_from(attempts.as_ref())?,
            holder: items::claim_holder(claim.as_ref())?,
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
        first_token: &RefreshTokenRecord,
        forget_attempts_of: Option<&Email>,
    ) -> Result<User, RecordLoginError> {
        let stored = updated.stored_at(current.version().next());
        let mut writes = vec![
            TransactWriteItem::builder()
                .put(self.versioned_put(&stored, current)?)
                .build(),
            put_new(&self.table, token_item(first_token))?,
        ];
        if let Some(email) = forget_attempts_of {
            let forget = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(attempts_key(email)))
                .build()
                .map_err(build_failed)?;
            writes.push(TransactWriteItem::builder().delete(forget).build());
        }
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
}
