use super::errors::repository_error;
use super::items::{self, Item, ListingShards};
use super::listing;
use super::outbox::outbox_writes;
use super::sessions::session_key;
use super::transactions::{TransactionError, transact};
use application::ports::{
    CallerRecord, InsertUserError, Outgoing, Page, PageError, RepositoryError, UpdateUserError,
    UserListQuery, UserRepository,
};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use domain::{Email, SessionId, User, UserId};

const ITEM_ABSENT: &str = "attribute_not_exists(pk)";
const VERSION_IS: &str = "#version = :expected_version";
const CLAIM_ABSENT_OR_OWNED: &str = "attribute_not_exists(pk) OR user_id = :owner";

/// Users and their email claims in the one table. Every write that touches a claim goes in
/// the same transaction as the user, so no two live users can hold one address.
#[derive(Debug, Clone)]
pub struct DynamoUserRepository {
    pub(super) client: Client,
    pub(super) table: String,
    shards: ListingShards,
}

impl DynamoUserRepository {
    /// Users in `table`, listed over `ListingShards::DEFAULT` shards.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            shards: ListingShards::DEFAULT,
        }
    }

    /// The same, listed over `shards` shards: every writer and reader of a table must agree.
    pub fn with_listing_shards(self, shards: ListingShards) -> Self {
        Self { shards, ..self }
    }

    fn put(&self, item: Item, condition: &str) -> Result<Put, RepositoryError> {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .build()
            .map_err(|error| RepositoryError::Failed(error.into()))
    }

    /// The stored user, written only if the stored version is still `expected`'s.
    pub(super) fn versioned_put(
        &self,
        stored: &User,
        expected: &User,
    ) -> Result<Put, RepositoryError> {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(items::to_item(stored, self.shards)?))
            .condition_expression(VERSION_IS)
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":expected_version", number(expected.version().get()))
            .build()
            .map_err(|error| RepositoryError::Failed(error.into()))
    }
}

impl DynamoUserRepository {
    /// The writes that store `stored` in place of `current` and move the email claim with
    /// it: the versioned user first, then the old claim's release, then the new claim, whose
    /// position is returned (to tell a taken address from the other refusals; `usize::MAX`
    /// when no new claim is written).
    pub(super) fn writes_moving_the_claim(
        &self,
        current: &User,
        stored: &User,
    ) -> Result<(Vec<TransactWriteItem>, usize), RepositoryError> {
        let (old_claim, new_claim) = claims(current, stored);
        let mut writes = vec![
            TransactWriteItem::builder()
                .put(self.versioned_put(stored, current)?)
                .build(),
        ];
        if old_claim.map(Email::normalized) == new_claim.map(Email::normalized) {
            return Ok((writes, usize::MAX));
        }
        if let Some(old) = old_claim {
            let release = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(items::email_claim_key(old)))
                .condition_expression(CLAIM_ABSENT_OR_OWNED)
                .expression_attribute_values(":owner", AttributeValue::S(current.id().to_string()))
                .build()
                .map_err(|error| RepositoryError::Failed(error.into()))?;
            writes.push(TransactWriteItem::builder().delete(release).build());
        }
        let Some(new) = new_claim else {
            return Ok((writes, usize::MAX));
        };
        let claim_index = writes.len();
        let claim = self.put(items::email_claim(new, stored.id()), ITEM_ABSENT)?;
        writes.push(TransactWriteItem::builder().put(claim).build());
        Ok((writes, claim_index))
    }
}

/// The addresses `current` and `stored` claim: none for a deleted user.
fn claims<'a>(current: &'a User, stored: &'a User) -> (Option<&'a Email>, Option<&'a Email>) {
    let claim = |user: &'a User| (!user.is_deleted()).then(|| user.email());
    (claim(current), claim(stored))
}

/// What a refused `writes_moving_the_claim` transaction means (`admins_index`: where the
/// active-admin count's update is, past the end when there is none).
pub(super) fn update_error(
    error: TransactionError,
    claim_index: usize,
    admins_index: usize,
) -> UpdateUserError {
    match error {
        // A concurrent writer on the same items is a lost race like a stale version.
        TransactionError::ConditionFailed { index: 0 } | TransactionError::Conflict => {
            UpdateUserError::VersionConflict
        }
        TransactionError::ConditionFailed { index } if index == claim_index => {
            UpdateUserError::EmailTaken
        }
        TransactionError::ConditionFailed { index } if index == admins_index => {
            UpdateUserError::LastAdmin
        }
        TransactionError::ConditionFailed { .. } => {
            RepositoryError::Failed("the old email claim belongs to another user".into()).into()
        }
        TransactionError::Repository(error) => error.into(),
    }
}

fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The one item that counts the active administrators: the rule "there is always an active
/// admin" is a condition on it, in the transaction of the change that would break it.
pub(crate) fn active_admins_key() -> Item {
    items::key("ADMINS".to_owned(), "ACTIVE")
}

/// The count's update when a write makes an active admin of `current` (+1) or takes one away
/// (-1, on the condition that another is left); `None` when neither.
fn active_admins_change(
    table: &str,
    current: &User,
    stored: &User,
) -> Result<Option<Update>, RepositoryError> {
    let one = || AttributeValue::N("1".to_owned());
    let builder = Update::builder()
        .table_name(table)
        .set_key(Some(active_admins_key()));
    let update = match (current.is_active_admin(), stored.is_active_admin()) {
        (false, true) => builder
            .update_expression("SET entity = :entity ADD active_admins :one")
            .expression_attribute_values(":entity", AttributeValue::S("active_admins".to_owned()))
            .expression_attribute_values(":one", one()),
        (true, false) => builder
            .update_expression("ADD active_admins :minus_one")
            .condition_expression("active_admins > :one")
            .expression_attribute_values(":one", one())
            .expression_attribute_values(":minus_one", AttributeValue::N("-1".to_owned())),
        _ => return Ok(None),
    };
    update
        .build()
        .map(Some)
        .map_err(|error| RepositoryError::Failed(error.into()))
}

impl UserRepository for DynamoUserRepository {
    async fn insert(&self, user: &User, outbox: &Outgoing) -> Result<(), InsertUserError> {
        let mut writes = vec![
            TransactWriteItem::builder()
                .put(self.put(items::to_item(user, self.shards)?, ITEM_ABSENT)?)
                .build(),
            TransactWriteItem::builder()
                .put(self.put(items::email_claim(user.email(), user.id()), ITEM_ABSENT)?)
                .build(),
        ];
        writes.extend(outbox_writes(&self.table, outbox)?);
        match transact(&self.client, writes).await {
            Ok(()) => Ok(()),
            Err(TransactionError::ConditionFailed { index: 1 }) => Err(InsertUserError::EmailTaken),
            Err(TransactionError::ConditionFailed { .. }) => {
                Err(RepositoryError::Failed("a user with this id exists".into()).into())
            }
            Err(TransactionError::Conflict) => Err(RepositoryError::Unavailable(
                "a concurrent write held the email claim".into(),
            )
            .into()),
            Err(TransactionError::Repository(error)) => Err(error.into()),
        }
    }

    async fn find(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        let item = items::read(&self.client, &self.table, items::user_key(id)).await?;
        item.map(items::to_user).transpose()
    }

    /// One `BatchGetItem`: the subject (when it is not the caller), the caller's user item
    /// and its session item.
    async fn find_with_caller(
        &self,
        subject: Option<UserId>,
        caller: UserId,
        session: SessionId,
    ) -> Result<(Option<User>, CallerRecord), RepositoryError> {
        let (client, table) = (&self.client, self.table.as_str());
        let own = [items::user_key(caller), session_key(caller, session)];
        let (subject_item, [account, session]) = match subject.filter(|id| *id != caller) {
            Some(subject) => {
                let [subject, account, session] = items::read_all(
                    client,
                    table,
                    [items::user_key(subject), own[0].clone(), own[1].clone()],
                )
                .await?;
                (subject, [account, session])
            }
            None => (None, items::read_all(client, table, own).await?),
        };
        let account = account.map(items::to_user).transpose()?;
        let user = match subject {
            Some(id) if id == caller => account.clone(),
            Some(_) => subject_item.map(items::to_user).transpose()?,
            None => None,
        };
        let record = CallerRecord {
            account,
            session_stored: session.is_some(),
        };
        Ok((user, record))
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, RepositoryError> {
        let claim = items::read(&self.client, &self.table, items::email_claim_key(email)).await?;
        match items::claim_holder(claim.as_ref())? {
            Some(id) => self.find(id).await,
            None => Ok(None),
        }
    }

    async fn update(
        &self,
        current: &User,
        updated: User,
        outbox: &Outgoing,
    ) -> Result<User, UpdateUserError> {
        let stored = updated.stored_at(current.version().next());
        let (old_claim, new_claim) = claims(current, &stored);
        let admins = active_admins_change(&self.table, current, &stored)?;
        if old_claim.map(Email::normalized) == new_claim.map(Email::normalized)
            && outbox.is_empty()
            && admins.is_none()
        {
            // No claim changes hands: one conditional put, half the cost of a transaction.
            let put = self.versioned_put(&stored, current)?;
            let result = self
                .client
                .put_item()
                .table_name(put.table_name())
                .set_item(Some(put.item().clone()))
                .set_condition_expression(put.condition_expression().map(str::to_owned))
                .set_expression_attribute_names(put.expression_attribute_names().cloned())
                .set_expression_attribute_values(put.expression_attribute_values().cloned())
                .send()
                .await;
            return match result {
                Ok(_) => Ok(stored),
                Err(SdkError::ServiceError(service))
                    if matches!(
                        service.err(),
                        PutItemError::ConditionalCheckFailedException(_)
                    ) =>
                {
                    Err(UpdateUserError::VersionConflict)
                }
                Err(error) => Err(repository_error(error).into()),
            };
        }

        let (mut writes, claim_index) = self.writes_moving_the_claim(current, &stored)?;
        let mut admins_index = usize::MAX;
        if let Some(admins) = admins {
            admins_index = writes.len();
            writes.push(TransactWriteItem::builder().update(admins).build());
        }
        writes.extend(outbox_writes(&self.table, outbox)?);
        match transact(&self.client, writes).await {
            Ok(()) => Ok(stored),
            Err(error) => Err(update_error(error, claim_index, admins_index)),
        }
    }

    async fn list(&self, query: &UserListQuery) -> Result<Page<User>, PageError> {
        listing::users_page(&self.client, &self.table, self.shards, query).await
    }
}
