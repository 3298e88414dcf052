//! In-memory fakes of the ports, held to the contracts written on the traits. Public, so the
//! http and infrastructure crates test against them too.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a poisoned lock is a failed test

use crate::ports::{
    ApplyEmailChangeError, Clock, ConfirmFactorError, CredentialRepository, Cursor, DomainEvent,
    EmailChangeRecord, EmailChangeRepository, EmailSendError, EmailSender, EventBus, EventOutbox,
    HashingError, IdGenerator, InsertUserError, IssuedToken, OneTimePasswords, OrderRepository,
    Outbox, Outgoing, OutgoingEmail, Page, PageError, PageLimit, PasskeyWriteError, PasswordHasher,
    PendingEmail, PendingEvent, Provisioning, PublishError, RedeemTokenError, RepositoryError,
    ResetTokenRecord, ResetTokens, SealError, SealedSecret, SecretContext, SecretSealer,
    SessionRepository, StartEnrolmentError, StoredTotp, TokenHash, TotpEnrolment, TotpFactors,
    TotpSecret, TotpStep, UpdateUserError, UserListQuery, UserRepository,
};
use domain::{
    Email, Order, OrderId, Password, PasswordHash, Timestamp, User, UserId, UserName, UserStatus,
};
use std::collections::BTreeMap;
use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;

/// An administrator calling: every policy lets it in (its account is not stored anywhere,
/// so use cases that check it refuse it: see `InMemoryUsers::add_admin`).
pub fn admin_caller() -> crate::Caller {
    caller_with(UserId::generate(), domain::Role::Admin)
}

/// `user` calling for itself, in a session signed in with a password at the fixed clock's
/// instant.
pub fn caller_for(user: &User) -> crate::Caller {
    caller_with(user.id(), user.role())
}

/// A caller with this id and role, in a password session started at the fixed clock's
/// instant.
pub fn caller_with(id: UserId, role: domain::Role) -> crate::Caller {
    let now = FixedClock::default().now();
    crate::Caller::User {
        id,
        role,
        proof: domain::SessionProof {
            session: domain::SessionId::start(now),
            auth_time: now,
            methods: domain::AuthMethods::Password,
        },
    }
}

pub fn user_with_email(email: &str) -> User {
    User::register(
        UserId::generate(),
        Email::parse(email).unwrap(),
        UserName::parse("Ada Lovelace").unwrap(),
        Timestamp::from_millis(1_000).unwrap(),
    )
}

/// Five failed logins at `email` by `now`, reserved through `credentials` (a fake or the
/// real store): the address is locked.
pub async fn lock_the_address(
    credentials: &impl CredentialRepository,
    email: &Email,
    now: Timestamp,
) {
    for _ in 0..crate::credentials::FAILURES_BEFORE_LOCK {
        let reservation = credentials.reserve_login_attempt(email, now).await.unwrap();
        assert!(matches!(
            reservation,
            crate::credentials::Reservation::Granted(_)
        ));
    }
    let attempts = credentials.login_attempts(email).await.unwrap();
    assert!(attempts.locked_for(now).is_some());
}

/// A one-line order of one JPY item for this user.
pub fn order_for(user_id: UserId) -> Order {
    let line = domain::LineRequest {
        sku: domain::Sku::parse("A").unwrap(),
        quantity: domain::Quantity::new(1).unwrap(),
        unit_price: domain::Money::parse("1", domain::Currency::parse("JPY").unwrap()).unwrap(),
    };
    Order::place(OrderId::generate(), user_id, vec![line], Timestamp::now()).unwrap()
}

/// How a fake store answers: as it should, or like a store that is down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StoreHealth {
    #[default]
    Up,
    /// Throttled or unreachable: worth a retry (503).
    Unavailable,
    /// Failed for good, say a denied permission (500).
    Failing,
}

impl StoreHealth {
    fn check(self) -> Result<(), RepositoryError> {
        match self {
            Self::Up => Ok(()),
            Self::Unavailable => Err(RepositoryError::Unavailable(
                "the fake store is down".into(),
            )),
            Self::Failing => Err(RepositoryError::Failed(
                "the fake store refused: arn:aws:dynamodb:fake AccessDenied".into(),
            )),
        }
    }
}

/// Returns control to the executor once, so racing futures interleave at this point.
async fn yield_once() {
    let mut yielded = false;
    poll_fn(|context| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            context.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}

#[derive(Default)]
struct UsersState {
    /// Ordered by id, so by creation time.
    users: BTreeMap<UserId, User>,
    /// normalized email -> owner
    claims: BTreeMap<String, UserId>,
    conflicts_to_inject: usize,
    /// The administrator `admin_caller_once` calls as.
    standing_admin: Option<UserId>,
    /// The sessions stored (in DynamoDB, in their users' item collections).
    sessions: BTreeMap<domain::SessionId, crate::ports::SessionRecord>,
    /// Pending email changes by token hash, and each user's one pending token.
    email_changes: BTreeMap<String, EmailChangeRecord>,
    pending_email_change: BTreeMap<UserId, String>,
}

impl UsersState {
    /// `UserRepository::update`'s contract, on the state held.
    fn write(&mut self, current: &User, updated: User) -> Result<User, UpdateUserError> {
        let state = self;
        if state.conflicts_to_inject > 0 {
            state.conflicts_to_inject -= 1;
            return Err(UpdateUserError::VersionConflict);
        }
        if state.users.get(&current.id()).map(User::version) != Some(current.version()) {
            return Err(UpdateUserError::VersionConflict);
        }
        let others_active = state
            .users
            .values()
            .any(|user| user.id() != current.id() && user.is_active_admin());
        if current.is_active_admin() && !updated.is_active_admin() && !others_active {
            return Err(UpdateUserError::LastAdmin);
        }
        let old_claim = (!current.is_deleted()).then(|| current.email().normalized().to_owned());
        let new_claim = (!updated.is_deleted()).then(|| updated.email().normalized().to_owned());
        if old_claim != new_claim {
            if let Some(new) = &new_claim
                && state
                    .claims
                    .get(new)
                    .is_some_and(|owner| *owner != current.id())
            {
                return Err(UpdateUserError::EmailTaken);
            }
            if let Some(old) = &old_claim {
                state.claims.remove(old);
            }
            if let Some(new) = new_claim {
                state.claims.insert(new, current.id());
            }
        }
        let stored = updated.stored_at(current.version().next());
        state.users.insert(stored.id(), stored.clone());
        Ok(stored)
    }
}

#[derive(Clone, Default)]
pub struct InMemoryUsers {
    state: Arc<Mutex<UsersState>>,
    health: StoreHealth,
    outbox: InMemoryOutbox,
}

impl InMemoryUsers {
    /// Moves `owner` to its next version if it is still stored at the version read, in a
    /// status `allowed`: what a passkey write does to its owner.
    fn next_version(
        &self,
        owner: &User,
        allowed: impl Fn(UserStatus) -> bool,
    ) -> Result<(), PasskeyWriteError> {
        let mut state = self.lock();
        let stored = state
            .users
            .get_mut(&owner.id())
            .filter(|stored| stored.version() == owner.version() && allowed(stored.status()))
            .ok_or(PasskeyWriteError::UserChanged)?;
        *stored = stored.clone().stored_at(owner.version().next());
        Ok(())
    }

    pub fn unavailable() -> Self {
        Self::with_health(StoreHealth::Unavailable)
    }

    pub fn with_health(health: StoreHealth) -> Self {
        Self {
            health,
            ..Self::default()
        }
    }

    fn lock(&self) -> MutexGuard<'_, UsersState> {
        self.state.lock().unwrap()
    }

    /// Stores a user as if registered earlier; returns it as stored.
    pub fn add(&self, user: User) -> User {
        let mut state = self.lock();
        if !user.is_deleted() {
            state
                .claims
                .insert(user.email().normalized().to_owned(), user.id());
        }
        state.users.insert(user.id(), user.clone());
        user
    }

    pub fn stored(&self, id: UserId) -> Option<User> {
        self.lock().users.get(&id).cloned()
    }

    /// Stores a session of `user` (stored already), signed in with a password at the fixed
    /// clock's instant, and answers `user` calling in it.
    pub fn sign_in(&self, user: &User) -> crate::Caller {
        let caller = caller_with(user.id(), user.role());
        if let Some(proof) = caller.proof() {
            self.store_session(crate::ports::SessionRecord {
                user_id: user.id(),
                id: proof.session,
                methods: proof.methods,
                last_used_at: proof.auth_time,
                origin: crate::ports::SessionOrigin::default(),
            });
        }
        caller
    }

    /// A new active administrator, stored and signed in: the caller of admin routes.
    pub fn admin_caller(&self) -> crate::Caller {
        let mut admin = user_with_email(&format!("admin-{}@example.com", UserId::generate()));
        admin.change_role(domain::Role::Admin).unwrap();
        let admin = self.add(admin);
        self.sign_in(&admin)
    }

    /// One administrator for every call: stored by the first, signed in again by the next.
    pub fn admin_caller_once(&self) -> crate::Caller {
        let standing = self.lock().standing_admin;
        match standing.and_then(|id| self.stored(id)) {
            Some(admin) => self.sign_in(&admin),
            None => {
                let caller = self.admin_caller();
                self.lock().standing_admin = caller.user_id();
                caller
            }
        }
    }

    pub fn store_session(&self, session: crate::ports::SessionRecord) {
        self.lock().sessions.insert(session.id, session);
    }

    pub fn stored_session(&self, id: domain::SessionId) -> Option<crate::ports::SessionRecord> {
        self.lock().sessions.get(&id).cloned()
    }

    /// The emails recorded with this store's writes.
    pub fn outbox(&self) -> &InMemoryOutbox {
        &self.outbox
    }

    pub fn count(&self) -> usize {
        self.lock().users.len()
    }

    /// Makes the next `n` updates fail as if another writer got there first.
    pub fn conflict_on_next_updates(&self, n: usize) {
        self.lock().conflicts_to_inject = n;
    }

    fn check_available(&self) -> Result<(), RepositoryError> {
        self.health.check()
    }
}

impl UserRepository for InMemoryUsers {
    async fn insert(&self, user: &User, outbox: &Outgoing) -> Result<(), InsertUserError> {
        self.check_available()?;
        let mut state = self.lock();
        if state.claims.contains_key(user.email().normalized()) {
            return Err(InsertUserError::EmailTaken);
        }
        self.outbox.record(outbox);
        state
            .claims
            .insert(user.email().normalized().to_owned(), user.id());
        state.users.insert(user.id(), user.clone());
        Ok(())
    }

    async fn find(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        self.check_available()?;
        Ok(self.stored(id))
    }

    async fn find_with_caller(
        &self,
        subject: Option<UserId>,
        caller: UserId,
        session: domain::SessionId,
    ) -> Result<(Option<User>, crate::ports::CallerRecord), RepositoryError> {
        self.check_available()?;
        let state = self.lock();
        let record = crate::ports::CallerRecord {
            account: state.users.get(&caller).cloned(),
            session_stored: state
                .sessions
                .get(&session)
                .is_some_and(|stored| stored.user_id == caller),
        };
        let user = subject.and_then(|id| state.users.get(&id).cloned());
        Ok((user, record))
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, RepositoryError> {
        self.check_available()?;
        let state = self.lock();
        Ok(state
            .claims
            .get(email.normalized())
            .and_then(|id| state.users.get(id))
            .cloned())
    }

    async fn update(
        &self,
        current: &User,
        updated: User,
        outbox: &Outgoing,
    ) -> Result<User, UpdateUserError> {
        self.check_available()?;
        let stored = self.lock().write(current, updated)?;
        self.outbox.record(outbox);
        Ok(stored)
    }

    async fn list(&self, query: &UserListQuery) -> Result<Page<User>, PageError> {
        self.check_available()?;
        let after = match &query.cursor {
            None => None,
            Some(cursor) => {
                Some(UserId::parse(cursor.as_str()).map_err(|_| PageError::InvalidCursor)?)
            }
        };
        let state = self.lock();
        let mut matching = state
            .users
            .values()
            .rev()
            .filter(|user| query.status.includes(user.status()))
            .filter(|user| after.is_none_or(|after| user.id() < after));
        let items: Vec<User> = matching.by_ref().take(query.limit.get()).cloned().collect();
        let next_cursor = match (matching.next(), items.last()) {
            (Some(_), Some(last)) => Some(Cursor::new(last.id().to_string())),
            _ => None,
        };
        Ok(Page { items, next_cursor })
    }
}

impl EmailChangeRepository for InMemoryUsers {
    async fn save_email_change(
        &self,
        record: &EmailChangeRecord,
        outbox: &Outgoing,
    ) -> Result<(), RepositoryError> {
        self.check_available()?;
        let mut state = self.lock();
        self.outbox.record(outbox);
        let hash = record.hash.as_str().to_owned();
        if let Some(earlier) = state
            .pending_email_change
            .insert(record.user_id, hash.clone())
        {
            state.email_changes.remove(&earlier);
        }
        state.email_changes.insert(hash, record.clone());
        Ok(())
    }

    async fn find_email_change(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<EmailChangeRecord>, RepositoryError> {
        self.check_available()?;
        Ok(self.lock().email_changes.get(hash.as_str()).cloned())
    }

    async fn apply_email_change(
        &self,
        record: &EmailChangeRecord,
        current: &User,
        updated: User,
        outbox: &Outgoing,
    ) -> Result<User, ApplyEmailChangeError> {
        self.check_available()?;
        let mut state = self.lock();
        if !state.email_changes.contains_key(record.hash.as_str()) {
            return Err(ApplyEmailChangeError::TokenGone);
        }
        let stored = state.write(current, updated).map_err(|error| match error {
            UpdateUserError::EmailTaken => ApplyEmailChangeError::EmailTaken,
            UpdateUserError::VersionConflict | UpdateUserError::LastAdmin => {
                ApplyEmailChangeError::VersionConflict
            }
            UpdateUserError::Repository(error) => ApplyEmailChangeError::Repository(error),
        })?;
        state.email_changes.remove(record.hash.as_str());
        state.pending_email_change.remove(&record.user_id);
        self.outbox.record(outbox);
        Ok(stored)
    }
}

#[derive(Clone, Default)]
pub struct RecordingMailer {
    sent: Arc<Mutex<Vec<OutgoingEmail>>>,
    failing: bool,
    /// Addresses containing this are refused, as SES refuses a message for good.
    refusing: Option<String>,
}

impl RecordingMailer {
    pub fn failing() -> Self {
        Self {
            failing: true,
            ..Self::default()
        }
    }

    pub fn refusing(part_of_address: &str) -> Self {
        Self {
            refusing: Some(part_of_address.to_owned()),
            ..Self::default()
        }
    }

    pub fn sent(&self) -> Vec<OutgoingEmail> {
        self.sent.lock().unwrap().clone()
    }

    /// The messages sent so far, forgotten.
    pub fn take(&self) -> Vec<OutgoingEmail> {
        std::mem::take(&mut self.sent.lock().unwrap())
    }
}

impl EmailSender for RecordingMailer {
    async fn ready(&self) -> Result<(), EmailSendError> {
        if self.failing {
            return Err(EmailSendError::Unavailable(
                "the fake mail service is down".into(),
            ));
        }
        Ok(())
    }

    async fn send(&self, email: &OutgoingEmail) -> Result<(), EmailSendError> {
        if self.failing {
            return Err(EmailSendError::Unavailable(
                "the fake mail service is down".into(),
            ));
        }
        if let Some(refused) = &self.refusing
            && email.to.as_str().contains(refused.as_str())
        {
            return Err(EmailSendError::Rejected(
                "the fake mail service rejects this message".into(),
            ));
        }
        self.sent.lock().unwrap().push(email.clone());
        Ok(())
    }
}

#[derive(Clone)]
pub struct FixedClock(Timestamp);

impl FixedClock {
    pub fn at(now: Timestamp) -> Self {
        Self(now)
    }
}

impl Default for FixedClock {
    fn default() -> Self {
        Self(Timestamp::parse_rfc3339("2026-11-24T10:15:30.123Z").unwrap())
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

#[derive(Default)]
pub struct SequentialIds;

impl IdGenerator for SequentialIds {
    fn new_user_id(&self) -> UserId {
        // UUIDv7 is monotonic within one process, which is what the contract asks.
        UserId::generate()
    }

    fn new_order_id(&self) -> OrderId {
        OrderId::generate()
    }
}

/// Orders by (user, order id); ids sort by creation, so reverse order is newest first.
#[derive(Clone, Default)]
pub struct InMemoryOrders {
    orders: Arc<Mutex<BTreeMap<(UserId, OrderId), Order>>>,
    health: StoreHealth,
    outbox: InMemoryOutbox,
}

impl InMemoryOrders {
    pub fn unavailable() -> Self {
        Self {
            health: StoreHealth::Unavailable,
            ..Self::default()
        }
    }

    pub fn all(&self) -> Vec<Order> {
        self.orders.lock().unwrap().values().cloned().collect()
    }

    /// The emails recorded with this store's writes.
    pub fn outbox(&self) -> &InMemoryOutbox {
        &self.outbox
    }
}

impl OrderRepository for InMemoryOrders {
    async fn insert(&self, order: &Order, outbox: &Outgoing) -> Result<(), RepositoryError> {
        self.health.check()?;
        self.orders
            .lock()
            .unwrap()
            .insert((order.user_id(), order.id()), order.clone());
        self.outbox.record(outbox);
        Ok(())
    }

    async fn find(
        &self,
        user_id: UserId,
        order_id: OrderId,
    ) -> Result<Option<Order>, RepositoryError> {
        self.health.check()?;
        Ok(self
            .orders
            .lock()
            .unwrap()
            .get(&(user_id, order_id))
            .cloned())
    }

    async fn list(
        &self,
        user_id: UserId,
        limit: PageLimit,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Order>, PageError> {
        self.health.check()?;
        let after = match cursor {
            None => None,
            Some(cursor) => {
                let (owner, after) = cursor
                    .as_str()
                    .split_once('/')
                    .ok_or(PageError::InvalidCursor)?;
                if owner != user_id.to_string() {
                    return Err(PageError::InvalidCursor);
                }
                Some(OrderId::parse(after).map_err(|_| PageError::InvalidCursor)?)
            }
        };
        let orders = self.orders.lock().unwrap();
        let mut matching = orders
            .values()
            .rev()
            .filter(|order| order.user_id() == user_id)
            .filter(|order| after.is_none_or(|after| order.id() < after));
        let items: Vec<Order> = matching.by_ref().take(limit.get()).cloned().collect();
        let next_cursor = match (matching.next(), items.last()) {
            (Some(_), Some(last)) => Some(Cursor::new(format!("{user_id}/{}", last.id()))),
            _ => None,
        };
        Ok(Page { items, next_cursor })
    }
}

#[derive(Default)]
struct CredentialsState {
    tokens: BTreeMap<String, ResetTokenRecord>,
    passwords: BTreeMap<UserId, PasswordHash>,
    /// By normalized address.
    attempts: BTreeMap<String, crate::credentials::LoginAttempts>,
    /// Each user's current reset token and when it was issued.
    latest_reset: BTreeMap<UserId, (String, Timestamp)>,
}

#[derive(Clone, Default)]
pub struct InMemoryCredentials {
    state: Arc<Mutex<CredentialsState>>,
    health: StoreHealth,
    /// The users whose addresses a redeemed token verifies, when the test has any.
    users: Option<InMemoryUsers>,
    outbox: InMemoryOutbox,
}

impl InMemoryCredentials {
    /// Credentials beside `users`: redeeming a token updates its user as the store would.
    pub fn beside(users: &InMemoryUsers) -> Self {
        Self {
            users: Some(users.clone()),
            outbox: users.outbox.clone(),
            ..Self::default()
        }
    }

    /// The emails recorded with this store's writes (the users' outbox, when `beside` them).
    pub fn outbox(&self) -> &InMemoryOutbox {
        &self.outbox
    }

    pub fn with_health(health: StoreHealth) -> Self {
        Self {
            health,
            ..Self::default()
        }
    }

    pub fn reset_tokens(&self) -> Vec<ResetTokenRecord> {
        self.state
            .lock()
            .unwrap()
            .tokens
            .values()
            .cloned()
            .collect()
    }

    pub fn set_password(&self, user_id: UserId, hash: PasswordHash) {
        self.state.lock().unwrap().passwords.insert(user_id, hash);
    }
}

impl CredentialRepository for InMemoryCredentials {
    async fn save_reset_token(&self, record: &ResetTokenRecord) -> Result<(), RepositoryError> {
        self.health.check()?;
        self.state
            .lock()
            .unwrap()
            .tokens
            .insert(record.hash.as_str().to_owned(), record.clone());
        Ok(())
    }

    async fn replace_reset_token(
        &self,
        record: &ResetTokenRecord,
        now: Timestamp,
        outbox: &Outgoing,
    ) -> Result<crate::ports::ResetTokenIssued, RepositoryError> {
        self.health.check()?;
        let mut state = self.state.lock().unwrap();
        if let Some((earlier, issued_at)) = state.latest_reset.get(&record.user_id).cloned() {
            let interval = crate::ports::RESET_EMAIL_INTERVAL_SECONDS;
            if issued_at
                .plus_seconds(interval)
                .is_some_and(|next| now < next)
            {
                return Ok(crate::ports::ResetTokenIssued::TooSoon);
            }
            state.tokens.remove(&earlier);
        }
        let hash = record.hash.as_str().to_owned();
        state.tokens.insert(hash.clone(), record.clone());
        state.latest_reset.insert(record.user_id, (hash, now));
        self.outbox.record(outbox);
        Ok(crate::ports::ResetTokenIssued::Issued)
    }

    async fn find_reset_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<ResetTokenRecord>, RepositoryError> {
        self.health.check()?;
        Ok(self
            .state
            .lock()
            .unwrap()
            .tokens
            .get(hash.as_str())
            .cloned())
    }

    async fn redeem_reset_token(
        &self,
        record: &ResetTokenRecord,
        read: &User,
        password: &PasswordHash,
        now: Timestamp,
        outbox: &Outgoing,
    ) -> Result<(), RedeemTokenError> {
        // Yield first, so racing redemptions interleave between their reads and this write.
        yield_once().await;
        self.health.check()?;
        let mut state = self.state.lock().unwrap();
        if !state.tokens.contains_key(record.hash.as_str()) {
            return Err(RedeemTokenError::TokenGone);
        }
        let mut users = self.users.as_ref().map(InMemoryUsers::lock);
        let user = match users.as_mut() {
            Some(users) => Some(
                users
                    .users
                    .get_mut(&record.user_id)
                    .filter(|user| user.version() == read.version() && record.redeemable_for(user))
                    .ok_or(RedeemTokenError::UserChanged)?,
            ),
            None => None,
        };
        state.tokens.remove(record.hash.as_str());
        if let Some(user) = user {
            let mut verified = user.clone();
            verified.verify_email();
            verified.revoke_sessions(now);
            *user = verified.stored_at(user.version().next());
        }
        state.passwords.insert(record.user_id, password.clone());
        state.attempts.remove(record.sent_to.normalized());
        self.outbox.record(outbox);
        Ok(())
    }

    async fn login_attempts(
        &self,
        email: &Email,
    ) -> Result<crate::credentials::LoginAttempts, RepositoryError> {
        self.health.check()?;
        let state = self.state.lock().unwrap();
        Ok(state
            .attempts
            .get(email.normalized())
            .copied()
            .unwrap_or_default())
    }

    async fn reserve_login_attempt(
        &self,
        email: &Email,
        now: Timestamp,
    ) -> Result<crate::credentials::Reservation, RepositoryError> {
        // Yield first, so racing reservations interleave before they reach the record.
        yield_once().await;
        self.health.check()?;
        let mut state = self.state.lock().unwrap();
        let stored = state
            .attempts
            .get(email.normalized())
            .copied()
            .unwrap_or_default();
        let reservation = stored.reserve(now);
        if let crate::credentials::Reservation::Granted(counted) = reservation {
            state
                .attempts
                .insert(email.normalized().to_owned(), counted);
        }
        Ok(reservation)
    }

    async fn forget_login_attempts(&self, email: &Email) -> Result<(), RepositoryError> {
        self.health.check()?;
        self.state
            .lock()
            .unwrap()
            .attempts
            .remove(email.normalized());
        Ok(())
    }

    async fn password_hash(
        &self,
        user_id: UserId,
    ) -> Result<Option<PasswordHash>, RepositoryError> {
        self.health.check()?;
        Ok(self.state.lock().unwrap().passwords.get(&user_id).cloned())
    }
}

/// Tokens numbered in order; the "hash" is reversible on purpose, which is fine in a fake.
pub struct FakeTokens;

static NEXT_TOKEN: AtomicUsize = AtomicUsize::new(1);

impl ResetTokens for FakeTokens {
    fn issue(&self) -> Result<IssuedToken, crate::ports::BoxError> {
        let token = format!("token-{}", NEXT_TOKEN.fetch_add(1, Ordering::Relaxed));
        Ok(IssuedToken {
            hash: self.hash(&token),
            token,
        })
    }

    fn hash(&self, token: &str) -> TokenHash {
        TokenHash::new(format!("hashed:{token}"))
    }
}

/// Second factors by user, beside the users: a confirmation updates its user as the store
/// would.
#[derive(Clone)]
pub struct InMemoryFactors {
    factors: Arc<Mutex<BTreeMap<UserId, StoredTotp>>>,
    users: InMemoryUsers,
}

impl InMemoryFactors {
    pub fn beside(users: &InMemoryUsers) -> Self {
        Self {
            factors: Arc::default(),
            users: users.clone(),
        }
    }

    /// The user's factor as stored.
    pub fn stored(&self, user_id: UserId) -> Option<StoredTotp> {
        self.factors.lock().unwrap().get(&user_id).cloned()
    }

    /// Turns `user`'s factor on as a confirmed enrolment would: the secret `StepCodes`
    /// expects, sealed by `FakeSealer`, step 1 used up, and `recovery_codes` (as typed).
    pub async fn turn_on(&self, user: &User, recovery_codes: &[&str]) -> User {
        let context = SecretContext::totp_secret(user.id());
        let secret = FakeSealer::default()
            .seal(StepCodes::SECRET, context)
            .await
            .unwrap();
        let enrolment = TotpEnrolment {
            user_id: user.id(),
            secret,
            started_at: FixedClock::default().now(),
        };
        self.start_enrolment(&enrolment).await.unwrap();
        let mut on = user.clone();
        on.set_mfa(true).unwrap();
        let hashes: Vec<_> = recovery_codes
            .iter()
            .map(|code| StepCodes::default().recovery_code_hash(code))
            .collect();
        self.confirm(
            &enrolment,
            TotpStep::new(1),
            &hashes,
            user,
            on,
            &Outgoing::nothing(),
        )
        .await
        .unwrap()
    }

    /// The user's write beside a factor's, as the store's one transaction would refuse it.
    async fn update_user(
        &self,
        current: &User,
        updated: User,
        outbox: &Outgoing,
    ) -> Result<User, ConfirmFactorError> {
        self.users
            .update(current, updated, outbox)
            .await
            .map_err(|error| match error {
                UpdateUserError::Repository(error) => ConfirmFactorError::Repository(error),
                _ => ConfirmFactorError::UserChanged,
            })
    }

    /// The user's unconfirmed enrolment, if any.
    pub fn enrolment(&self, user_id: UserId) -> Option<TotpEnrolment> {
        self.stored(user_id)
            .filter(|factor| !factor.confirmed)
            .map(|factor| factor.enrolment)
    }
}

impl TotpFactors for InMemoryFactors {
    async fn start_enrolment(&self, enrolment: &TotpEnrolment) -> Result<(), StartEnrolmentError> {
        let mut factors = self.factors.lock().unwrap();
        if factors
            .get(&enrolment.user_id)
            .is_some_and(|factor| factor.confirmed)
        {
            return Err(StartEnrolmentError::FactorOn);
        }
        let factor = StoredTotp {
            enrolment: enrolment.clone(),
            confirmed: false,
            last_step: None,
            recovery_codes: Vec::new(),
        };
        factors.insert(enrolment.user_id, factor);
        Ok(())
    }

    async fn totp(&self, user_id: UserId) -> Result<Option<StoredTotp>, RepositoryError> {
        Ok(self.stored(user_id))
    }

    async fn confirm(
        &self,
        enrolment: &TotpEnrolment,
        step: TotpStep,
        recovery_codes: &[TokenHash],
        current: &User,
        updated: User,
        outbox: &Outgoing,
    ) -> Result<User, ConfirmFactorError> {
        let still_open = |factors: &BTreeMap<UserId, StoredTotp>| {
            factors
                .get(&enrolment.user_id)
                .is_some_and(|factor| !factor.confirmed && factor.enrolment == *enrolment)
        };
        if !still_open(&self.factors.lock().unwrap()) {
            return Err(ConfirmFactorError::EnrolmentChanged);
        }
        let stored = self.update_user(current, updated, outbox).await?;
        let mut factors = self.factors.lock().unwrap();
        if let Some(factor) = factors.get_mut(&enrolment.user_id) {
            factor.confirmed = true;
            factor.last_step = Some(step);
            factor.recovery_codes = recovery_codes.to_vec();
        }
        Ok(stored)
    }

    async fn accept_step(&self, user_id: UserId, step: TotpStep) -> Result<bool, RepositoryError> {
        let mut factors = self.factors.lock().unwrap();
        let Some(factor) = factors.get_mut(&user_id).filter(|factor| factor.confirmed) else {
            return Ok(false);
        };
        if factor.last_step.is_some_and(|last| last >= step) {
            return Ok(false);
        }
        factor.last_step = Some(step);
        Ok(true)
    }

    async fn use_recovery_code(
        &self,
        user_id: UserId,
        hash: &TokenHash,
    ) -> Result<bool, RepositoryError> {
        let mut factors = self.factors.lock().unwrap();
        let Some(factor) = factors.get_mut(&user_id).filter(|factor| factor.confirmed) else {
            return Ok(false);
        };
        let before = factor.recovery_codes.len();
        factor.recovery_codes.retain(|stored| stored != hash);
        Ok(factor.recovery_codes.len() < before)
    }

    async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        recovery_codes: &[TokenHash],
    ) -> Result<bool, RepositoryError> {
        let mut factors = self.factors.lock().unwrap();
        let Some(factor) = factors.get_mut(&user_id).filter(|factor| factor.confirmed) else {
            return Ok(false);
        };
        factor.recovery_codes = recovery_codes.to_vec();
        Ok(true)
    }

    async fn remove(
        &self,
        current: &User,
        updated: User,
        outbox: &Outgoing,
    ) -> Result<User, ConfirmFactorError> {
        let stored = self.update_user(current, updated, outbox).await?;
        self.factors.lock().unwrap().remove(&current.id());
        Ok(stored)
    }
}

/// One-time passwords a test can compute: the code of a step is the step in six digits (so
/// `StepCodes::code_at(now)`), the secret is always `SECRET`, recovery codes hash to
/// themselves uppercased, and each new set of recovery codes is `R<n>-1` to `R<n>-10`.
#[derive(Clone, Default)]
pub struct StepCodes {
    sets: Arc<std::sync::atomic::AtomicU32>,
}

impl StepCodes {
    pub const SECRET: &'static [u8] = &[7; 20];

    /// The right code at `now`.
    pub fn code_at(now: Timestamp) -> String {
        format!("{:06}", now.as_millis() / 30_000)
    }
}

impl OneTimePasswords for StepCodes {
    fn new_secret(&self) -> Result<TotpSecret, crate::ports::BoxError> {
        Ok(TotpSecret::from_bytes(Self::SECRET.to_vec()))
    }

    fn provisioning(
        &self,
        _: &TotpSecret,
        label: &str,
    ) -> Result<Provisioning, crate::ports::BoxError> {
        Ok(Provisioning {
            secret: "SECRET".to_owned(),
            otpauth_uri: format!("otpauth://totp/Users:{label}"),
        })
    }

    fn verify(
        &self,
        secret: &TotpSecret,
        code: &str,
        now: Timestamp,
        last_accepted: Option<TotpStep>,
    ) -> Option<TotpStep> {
        assert_eq!(secret.as_bytes(), Self::SECRET, "the opened secret");
        let current = u64::try_from(now.as_millis() / 30_000).ok()?;
        let step: u64 = code.parse().ok()?;
        let in_window = step + 1 >= current && step <= current + 1;
        let later = last_accepted.is_none_or(|last| step > last.get());
        (in_window && later).then(|| TotpStep::new(step))
    }

    fn recovery_codes(&self) -> Result<Vec<IssuedToken>, crate::ports::BoxError> {
        let set = self.sets.fetch_add(1, Ordering::SeqCst) + 1;
        Ok((1..=crate::ports::RECOVERY_CODES)
            .map(|n| {
                let token = format!("R{set}-{n}");
                let hash = self.recovery_code_hash(&token);
                IssuedToken { token, hash }
            })
            .collect())
    }

    fn recovery_code_hash(&self, code: &str) -> TokenHash {
        TokenHash::new(code.to_uppercase())
    }
}

/// A sealer whose "ciphertext" is the context and the plaintext with every byte flipped: not
/// secret, but it holds no plaintext token and opens only under its own context, as the
/// contract asks. `unavailable()` makes it answer like a key service that does not.
#[derive(Clone, Default)]
pub struct FakeSealer {
    unavailable: Arc<std::sync::atomic::AtomicBool>,
}

impl FakeSealer {
    pub fn unavailable() -> Self {
        let sealer = Self::default();
        sealer.unavailable.store(true, Ordering::SeqCst);
        sealer
    }

    fn label(context: SecretContext) -> String {
        format!("{}/{}:", context.purpose.as_str(), context.user_id)
    }

    fn check(&self) -> Result<(), SealError> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(SealError::Unavailable(
                "the fake key service is down".into(),
            ));
        }
        Ok(())
    }

    /// `open`, without the future: for tests reading what a message will say.
    pub fn open_now(
        &self,
        sealed: &SealedSecret,
        context: SecretContext,
    ) -> Result<Vec<u8>, SealError> {
        self.check()?;
        let label = Self::label(context);
        let flipped = sealed
            .as_bytes()
            .strip_prefix(label.as_bytes())
            .ok_or_else(|| SealError::Refused("sealed under another context".into()))?;
        Ok(flipped.iter().map(|byte| !byte).collect())
    }

    /// The message as the mailer will send it: its secret opened into its slot.
    pub fn reveal(&self, email: OutgoingEmail) -> OutgoingEmail {
        let Some(secret) = email.secret.clone() else {
            return email;
        };
        let plaintext = self.open_now(&secret.sealed, secret.context).unwrap();
        email
            .revealed(&String::from_utf8(plaintext).unwrap())
            .unwrap()
    }
}

impl SecretSealer for FakeSealer {
    async fn seal(
        &self,
        plaintext: &[u8],
        context: SecretContext,
    ) -> Result<SealedSecret, SealError> {
        self.check()?;
        let mut bytes = Self::label(context).into_bytes();
        bytes.extend(plaintext.iter().map(|byte| !byte));
        Ok(SealedSecret::from_bytes(bytes))
    }

    async fn open(
        &self,
        sealed: &SealedSecret,
        context: SecretContext,
    ) -> Result<Vec<u8>, SealError> {
        self.open_now(sealed, context)
    }
}

/// A transparent "hash" that counts verifications, so tests can check every login path does one.
#[derive(Clone, Default)]
pub struct FakeHasher {
    verifications: Arc<AtomicUsize>,
}

impl FakeHasher {
    pub fn verifications(&self) -> usize {
        self.verifications.load(Ordering::SeqCst)
    }
}

impl PasswordHasher for FakeHasher {
    fn hash(&self, password: &Password) -> Result<PasswordHash, HashingError> {
        Ok(PasswordHash::new(format!("fake:{}", password.expose())))
    }

    fn verify(&self, candidate: &str, hash: &PasswordHash) -> bool {
        self.verifications.fetch_add(1, Ordering::SeqCst);
        hash.as_phc() == format!("fake:{candidate}")
    }

    fn verify_dummy(&self, _candidate: &str) {
        self.verifications.fetch_add(1, Ordering::SeqCst);
    }
}

/// Access tokens that are readable on purpose: `access:<user id>:<role>:<expires, ms>`.
/// The real signed ones are the infrastructure's; this fake keeps the contract (expiry,
/// refusal of anything it did not issue).
#[derive(Clone, Copy, Default)]
pub struct FakeAccessTokens;

impl crate::ports::AccessTokenIssuer for FakeAccessTokens {
    fn issue(
        &self,
        user: &User,
        proof: &domain::SessionProof,
        now: Timestamp,
    ) -> Result<crate::ports::AccessToken, crate::ports::BoxError> {
        let seconds = crate::ports::ACCESS_TOKEN_SECONDS;
        let expires = now.plus_seconds(seconds).ok_or("clock out of range")?;
        Ok(crate::ports::AccessToken {
            token: format!(
                "access:{}:{}:{}:{}:{}:{}",
                user.id(),
                user.role(),
                expires.as_millis(),
                proof.session,
                proof.auth_time.as_millis(),
                proof.methods.names().join("+"),
            ),
            expires_in: seconds,
        })
    }
}

impl crate::ports::AccessTokenVerifier for FakeAccessTokens {
    fn verify(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<crate::ports::AccessClaims, crate::ports::InvalidAccessToken> {
        let invalid = crate::ports::InvalidAccessToken;
        let parts: Vec<&str> = token.split(':').collect();
        let ["access", id, role, expires, session, auth_time, methods] = parts[..] else {
            return Err(invalid("malformed"));
        };
        let millis = |raw: &str| raw.parse::<i64>().map_err(|_| invalid("malformed"));
        if millis(expires)? <= now.as_millis() {
            return Err(invalid("expired"));
        }
        let methods: Vec<&str> = methods.split('+').collect();
        Ok(crate::ports::AccessClaims {
            user_id: UserId::parse(id).map_err(|_| invalid("malformed"))?,
            role: domain::Role::parse(role).ok_or(invalid("malformed"))?,
            proof: domain::SessionProof {
                session: domain::SessionId::parse(session).map_err(|_| invalid("malformed"))?,
                auth_time: Timestamp::from_millis(millis(auth_time)?)
                    .ok_or(invalid("malformed"))?,
                methods: domain::AuthMethods::from_names(&methods).ok_or(invalid("malformed"))?,
            },
        })
    }
}

#[derive(Default)]
struct SessionsState {
    tokens: BTreeMap<String, crate::ports::RefreshTokenRecord>,
}

/// Refresh tokens in memory, with the rotation contract of the trait; the sessions
/// themselves live beside their users, as in the table.
#[derive(Clone)]
pub struct InMemorySessions {
    state: Arc<Mutex<SessionsState>>,
    users: InMemoryUsers,
    /// Reads by hash alone, and reads with the owner.
    reads: Arc<Mutex<(usize, usize)>>,
}

impl InMemorySessions {
    /// Sessions beside `users`: a token is read with its owner, as the store would.
    pub fn beside(users: &InMemoryUsers) -> Self {
        Self {
            state: Arc::default(),
            users: users.clone(),
            reads: Arc::default(),
        }
    }

    pub fn session_ended(&self, session: domain::SessionId) -> bool {
        self.users.stored_session(session).is_none()
    }

    /// How many reads were by hash alone, and how many with the owner.
    pub fn reads(&self) -> (usize, usize) {
        *self.reads.lock().unwrap()
    }

    /// Stores a token and its session, as a login does.
    pub fn add(&self, token: &crate::ports::RefreshTokenRecord) {
        let proof = token.proof;
        if self.users.stored_session(proof.session).is_none() {
            self.users.store_session(crate::ports::SessionRecord {
                user_id: token.user_id,
                id: proof.session,
                methods: proof.methods,
                last_used_at: proof.auth_time,
                origin: crate::ports::SessionOrigin::default(),
            });
        }
        self.state
            .lock()
            .unwrap()
            .tokens
            .insert(token.hash.as_str().to_owned(), token.clone());
    }

    fn stored(&self, hash: &TokenHash) -> Option<crate::ports::RefreshTokenRecord> {
        self.state
            .lock()
            .unwrap()
            .tokens
            .get(hash.as_str())
            .cloned()
    }
}

impl SessionRepository for InMemorySessions {
    async fn find(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<crate::ports::RefreshTokenRecord>, RepositoryError> {
        self.reads.lock().unwrap().0 += 1;
        Ok(self.stored(hash))
    }

    async fn find_with_owner(
        &self,
        hash: &TokenHash,
        owner: UserId,
    ) -> Result<(Option<crate::ports::RefreshTokenRecord>, Option<User>), RepositoryError> {
        self.reads.lock().unwrap().1 += 1;
        Ok((self.stored(hash), self.users.stored(owner)))
    }

    async fn rotate(
        &self,
        used: &crate::ports::RefreshTokenRecord,
        next: &crate::ports::RefreshTokenRecord,
        now: Timestamp,
    ) -> Result<(), crate::ports::RotateError> {
        yield_once().await;
        let mut state = self.state.lock().unwrap();
        let mut users = self.users.lock();
        let Some(session) = users.sessions.get_mut(&used.session()) else {
            return Err(crate::ports::RotateError::Revoked);
        };
        let current = state.tokens.get(used.hash.as_str());
        if current.is_none_or(|current| current.used) {
            return Err(crate::ports::RotateError::Lost);
        }
        session.last_used_at = now;
        let mut spent = used.clone();
        spent.used = true;
        state.tokens.insert(spent.hash.as_str().to_owned(), spent);
        state
            .tokens
            .insert(next.hash.as_str().to_owned(), next.clone());
        Ok(())
    }

    async fn end_session(
        &self,
        user_id: UserId,
        session: domain::SessionId,
    ) -> Result<Option<crate::ports::SessionRecord>, RepositoryError> {
        let mut users = self.users.lock();
        let owned = users
            .sessions
            .get(&session)
            .is_some_and(|stored| stored.user_id == user_id);
        Ok(owned.then(|| users.sessions.remove(&session)).flatten())
    }

    async fn list(
        &self,
        user_id: UserId,
    ) -> Result<Vec<crate::ports::SessionRecord>, RepositoryError> {
        self.users.check_available()?;
        Ok(self
            .users
            .lock()
            .sessions
            .values()
            .filter(|session| session.user_id == user_id)
            .cloned()
            .collect())
    }
}

/// What a login reads and writes, over the users, credentials and sessions in memory.
#[derive(Clone)]
pub struct InMemoryLoginStore {
    users: InMemoryUsers,
    credentials: InMemoryCredentials,
    sessions: InMemorySessions,
    /// Two-step logins' challenges, by the hash of their `mfa_token`.
    challenges: Arc<Mutex<BTreeMap<String, crate::ports::MfaChallenge>>>,
}

impl InMemoryLoginStore {
    pub fn new(
        users: &InMemoryUsers,
        credentials: &InMemoryCredentials,
        sessions: &InMemorySessions,
    ) -> Self {
        Self {
            users: users.clone(),
            credentials: credentials.clone(),
            sessions: sessions.clone(),
            challenges: Arc::default(),
        }
    }

    /// How many challenges are stored (used up ones are gone).
    pub fn challenges(&self) -> usize {
        self.challenges.lock().unwrap().len()
    }
}

impl crate::ports::LoginStore for InMemoryLoginStore {
    async fn issue_challenge(
        &self,
        challenge: &crate::ports::MfaChallenge,
    ) -> Result<(), RepositoryError> {
        yield_once().await;
        self.users.check_available()?;
        self.challenges
            .lock()
            .unwrap()
            .insert(challenge.hash.as_str().to_owned(), challenge.clone());
        Ok(())
    }

    async fn challenge(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<crate::ports::MfaChallenge>, RepositoryError> {
        self.users.check_available()?;
        Ok(self.challenges.lock().unwrap().get(hash.as_str()).cloned())
    }

    async fn address(
        &self,
        email: &Email,
        now: Timestamp,
    ) -> Result<crate::ports::AddressRecord, RepositoryError> {
        let reservation = self.credentials.reserve_login_attempt(email, now).await?;
        let holder = self.users.find_by_email(email).await?.map(|user| user.id());
        Ok(crate::ports::AddressRecord {
            reservation,
            holder,
        })
    }

    async fn user_and_password(
        &self,
        id: UserId,
    ) -> Result<(Option<User>, Option<PasswordHash>), RepositoryError> {
        Ok((
            self.users.find(id).await?,
            self.credentials.password_hash(id).await?,
        ))
    }

    async fn record_login(
        &self,
        current: &User,
        updated: User,
        session: &crate::ports::SessionRecord,
        first_token: &crate::ports::RefreshTokenRecord,
        address: &Email,
        challenge: Option<&TokenHash>,
    ) -> Result<User, crate::ports::RecordLoginError> {
        // Taken first, put back if the login is not written: one write, as the store's.
        let taken = match challenge {
            Some(hash) => match self.challenges.lock().unwrap().remove(hash.as_str()) {
                Some(taken) => Some(taken),
                None => return Err(crate::ports::RecordLoginError::ChallengeUsed),
            },
            None => None,
        };
        let written = self
            .sign_in_with(current, updated, session, first_token)
            .await;
        if let (Err(_), Some(taken)) = (&written, taken) {
            let mut challenges = self.challenges.lock().unwrap();
            challenges.insert(taken.hash.as_str().to_owned(), taken);
        }
        let stored = written?;
        let mut credentials = self.credentials.state.lock().unwrap();
        credentials.attempts.remove(address.normalized());
        Ok(stored)
    }

    async fn replace_password(
        &self,
        current: &User,
        updated: User,
        password: crate::ports::NewPassword<'_>,
        outbox: &Outgoing,
    ) -> Result<User, crate::ports::RecordLoginError> {
        let stored = self
            .sign_in_with(current, updated, password.session, password.first_token)
            .await?;
        let mut credentials = self.credentials.state.lock().unwrap();
        credentials
            .passwords
            .insert(current.id(), password.hash.clone());
        credentials.attempts.remove(current.email().normalized());
        self.users.outbox.record(outbox);
        Ok(stored)
    }
}

impl InMemoryLoginStore {
    /// The write both a login and a password change make: `updated` in place of `current`
    /// (as `UserRepository::update` would), and the new session with its first token.
    async fn sign_in_with(
        &self,
        current: &User,
        updated: User,
        session: &crate::ports::SessionRecord,
        first_token: &crate::ports::RefreshTokenRecord,
    ) -> Result<User, crate::ports::RecordLoginError> {
        yield_once().await;
        self.users.check_available()?;
        let stored = self
            .users
            .lock()
            .write(current, updated)
            .map_err(|error| match error {
                UpdateUserError::Repository(error) => error.into(),
                _ => crate::ports::RecordLoginError::UserChanged,
            })?;
        self.users.store_session(session.clone());
        self.sessions.add(first_token);
        Ok(stored)
    }
}

/// `Login` over the fakes, as the tests of several crates build it.
pub type InMemoryLogin = crate::credentials::Login<
    InMemoryLoginStore,
    FakeHasher,
    FixedClock,
    FakeAccessTokens,
    InMemorySessions,
    FakeTokens,
>;

/// `ConfirmPasswordReset` over the fakes.
pub type InMemoryConfirmReset = crate::credentials::ConfirmPasswordReset<
    InMemoryUsers,
    InMemoryCredentials,
    FakeHasher,
    FakeTokens,
    FixedClock,
>;

/// The outbox of the in-memory stores: the emails recorded with their writes, as pending
/// items the mailer can send and forget, and the events recorded with them.
#[derive(Clone, Default)]
pub struct InMemoryOutbox {
    pending: Arc<Mutex<Vec<PendingEmail>>>,
    events: Arc<Mutex<Vec<DomainEvent>>>,
    /// Event items waiting for the publisher.
    pending_events: Arc<Mutex<Vec<PendingEvent>>>,
    /// How many `forget`s to fail, as a crash between sending and forgetting would.
    failing_forgets: Arc<AtomicUsize>,
}

static NEXT_OUTBOX_ID: AtomicUsize = AtomicUsize::new(1);

impl InMemoryOutbox {
    /// Records `outbox` as pending; called inside a store's write, so atomic with it.
    fn record(&self, outbox: &Outgoing) {
        self.events
            .lock()
            .unwrap()
            .extend(outbox.events.iter().cloned());
        let mut pending = self.pending.lock().unwrap();
        for email in &outbox.emails {
            let id = format!("outbox-{}", NEXT_OUTBOX_ID.fetch_add(1, Ordering::Relaxed));
            pending.push(PendingEmail {
                id,
                email: email.clone(),
                recorded_at: Timestamp::now(),
                trace_header: None,
            });
        }
    }

    /// The events recorded, oldest first.
    pub fn events(&self) -> Vec<DomainEvent> {
        self.events.lock().unwrap().clone()
    }

    /// Records an event item for the publisher, as a store's write would.
    pub fn record_event(&self, event: PendingEvent) {
        self.pending_events.lock().unwrap().push(event);
    }

    /// The event items not published and forgotten yet, oldest first.
    pub fn pending_events(&self) -> Vec<PendingEvent> {
        self.pending_events.lock().unwrap().clone()
    }

    /// The pending items, oldest first.
    pub fn pending(&self) -> Vec<PendingEmail> {
        self.pending.lock().unwrap().clone()
    }

    /// The pending messages, oldest first.
    pub fn emails(&self) -> Vec<OutgoingEmail> {
        self.pending().into_iter().map(|item| item.email).collect()
    }

    /// The pending messages as they will be sent: secrets sealed by a `FakeSealer` opened.
    pub fn revealed(&self) -> Vec<OutgoingEmail> {
        let sealer = FakeSealer::default();
        self.emails()
            .into_iter()
            .map(|email| sealer.reveal(email))
            .collect()
    }

    /// The pending messages, oldest first, forgotten.
    pub fn take(&self) -> Vec<OutgoingEmail> {
        let taken = std::mem::take(&mut *self.pending.lock().unwrap());
        taken.into_iter().map(|item| item.email).collect()
    }

    /// Makes the next `n` forgets fail.
    pub fn fail_next_forgets(&self, n: usize) {
        self.failing_forgets.store(n, Ordering::Relaxed);
    }
}

impl EventOutbox for InMemoryOutbox {
    async fn pending(&self, ids: &[&str]) -> Result<Vec<String>, RepositoryError> {
        let events = self.pending_events.lock().unwrap();
        Ok(ids
            .iter()
            .filter(|id| events.iter().any(|event| event.id == **id))
            .map(|id| (*id).to_owned())
            .collect())
    }

    async fn forget(&self, ids: &[&str]) -> Result<(), RepositoryError> {
        self.pending_events
            .lock()
            .unwrap()
            .retain(|event| !ids.contains(&event.id.as_str()));
        Ok(())
    }
}

/// An event bus that keeps what it accepts, refuses named entries a number of times, and
/// can be down.
#[derive(Clone, Default)]
pub struct RecordingBus {
    published: Arc<Mutex<Vec<PendingEvent>>>,
    puts: Arc<Mutex<Vec<usize>>>,
    refusals: Arc<Mutex<BTreeMap<String, usize>>>,
    down: Arc<std::sync::atomic::AtomicBool>,
}

impl RecordingBus {
    /// Refuses the entry with this outbox id the next `times` puts.
    pub fn refuse(&self, id: &str, times: usize) {
        self.refusals.lock().unwrap().insert(id.to_owned(), times);
    }

    pub fn go_down(&self) {
        self.down.store(true, Ordering::Relaxed);
    }

    pub fn come_back(&self) {
        self.down.store(false, Ordering::Relaxed);
    }

    /// The outbox ids of the events accepted, in order.
    pub fn published_ids(&self) -> Vec<String> {
        let published = self.published.lock().unwrap();
        published.iter().map(|event| event.id.clone()).collect()
    }

    pub fn published(&self) -> Vec<PendingEvent> {
        self.published.lock().unwrap().clone()
    }

    /// How many entries each put carried.
    pub fn put_sizes(&self) -> Vec<usize> {
        self.puts.lock().unwrap().clone()
    }

    fn check_up(&self) -> Result<(), PublishError> {
        if self.down.load(Ordering::Relaxed) {
            return Err(PublishError::Unavailable("the fake bus is down".into()));
        }
        Ok(())
    }
}

impl EventBus for RecordingBus {
    async fn ready(&self) -> Result<(), PublishError> {
        self.check_up()
    }

    async fn put(&self, events: &[PendingEvent]) -> Result<Vec<bool>, PublishError> {
        self.check_up()?;
        self.puts.lock().unwrap().push(events.len());
        let mut refusals = self.refusals.lock().unwrap();
        Ok(events
            .iter()
            .map(|event| {
                if let Some(left) = refusals.get_mut(&event.id).filter(|left| **left > 0) {
                    *left -= 1;
                    return false;
                }
                self.published.lock().unwrap().push(event.clone());
                true
            })
            .collect())
    }
}

impl Outbox for InMemoryOutbox {
    async fn is_pending(&self, id: &str) -> Result<bool, RepositoryError> {
        Ok(self
            .pending
            .lock()
            .unwrap()
            .iter()
            .any(|item| item.id == id))
    }

    async fn forget(&self, id: &str) -> Result<(), RepositoryError> {
        let failing = self.failing_forgets.load(Ordering::Relaxed);
        if failing > 0 {
            self.failing_forgets.store(failing - 1, Ordering::Relaxed);
            return Err(RepositoryError::Unavailable(
                "the fake outbox is down".into(),
            ));
        }
        self.pending.lock().unwrap().retain(|item| item.id != id);
        Ok(())
    }
}

/// One audit line as recorded: its fields by name.
pub type AuditLine = BTreeMap<String, String>;

/// Collects the audit lines recorded on this thread while the guard lives: enough for
/// `#[tokio::test]`, which runs its futures on the test's thread.
#[derive(Clone, Default)]
pub struct AuditLines(Arc<Mutex<Vec<AuditLine>>>);

thread_local! {
    static CAPTURING: std::cell::RefCell<Option<AuditLines>> = const { std::cell::RefCell::new(None) };
}

/// Stops the capture of its thread when dropped.
#[must_use = "the capture ends when the guard is dropped"]
pub struct CaptureGuard(());

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        CAPTURING.with(|capturing| capturing.borrow_mut().take());
    }
}

impl AuditLines {
    /// One process-wide subscriber hands each audit line to its thread's capture. A
    /// thread-scoped subscriber per test (`set_default`) races: tracing caches a callsite's
    /// interest process-wide, so a test thread without one could turn the audit callsite off
    /// for a test that has one.
    pub fn capture() -> (Self, CaptureGuard) {
        static ROUTER: std::sync::Once = std::sync::Once::new();
        ROUTER.call_once(|| {
            tracing::subscriber::set_global_default(AuditRouter)
                .expect("no other subscriber in the application's tests");
        });
        let lines = Self::default();
        CAPTURING.with(|capturing| *capturing.borrow_mut() = Some(lines.clone()));
        (lines, CaptureGuard(()))
    }

    pub fn take(&self) -> Vec<AuditLine> {
        std::mem::take(&mut self.0.lock().expect("audit lines poisoned"))
    }

    /// The `event`/`outcome` pairs recorded so far, in order, taken.
    pub fn events(&self) -> Vec<(String, String)> {
        self.take()
            .into_iter()
            .map(|line| (line["event"].clone(), line["outcome"].clone()))
            .collect()
    }
}

/// The `event`/`outcome` pair of each line.
pub fn events_of(lines: &[AuditLine]) -> Vec<(&str, &str)> {
    lines
        .iter()
        .map(|line| (line["event"].as_str(), line["outcome"].as_str()))
        .collect()
}

struct FieldsOf<'a>(&'a mut AuditLine);

impl tracing::field::Visit for FieldsOf<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

struct AuditRouter;

impl tracing::Subscriber for AuditRouter {
    fn register_callsite(
        &self,
        metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if self.enabled(metadata) {
            tracing::subscriber::Interest::always()
        } else {
            tracing::subscriber::Interest::never()
        }
    }

    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target() == crate::audit::TARGET
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        CAPTURING.with(|capturing| {
            if let Some(lines) = capturing.borrow().as_ref() {
                let mut line = AuditLine::new();
                event.record(&mut FieldsOf(&mut line));
                lines.0.lock().expect("audit lines poisoned").push(line);
            }
        });
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// Passkeys by user, beside the users (notices go to their outbox), and the ceremonies under
/// way.
#[derive(Clone)]
pub struct InMemoryPasskeys {
    passkeys: Arc<Mutex<Vec<(UserId, crate::ports::Passkey)>>>,
    ceremonies: Arc<Mutex<BTreeMap<domain::CeremonyId, crate::ports::PendingCeremony>>>,
    users: InMemoryUsers,
}

impl InMemoryPasskeys {
    pub fn beside(users: &InMemoryUsers) -> Self {
        Self {
            passkeys: Arc::default(),
            ceremonies: Arc::default(),
            users: users.clone(),
        }
    }

    /// The ceremonies still stored.
    pub fn ceremonies(&self) -> usize {
        self.ceremonies.lock().unwrap().len()
    }
}

impl crate::ports::PasskeyStore for InMemoryPasskeys {
    async fn passkeys(
        &self,
        user_id: UserId,
    ) -> Result<Vec<crate::ports::Passkey>, RepositoryError> {
        self.users.check_available()?;
        let passkeys = self.passkeys.lock().unwrap();
        Ok(passkeys
            .iter()
            .filter(|(owner, _)| *owner == user_id)
            .map(|(_, passkey)| passkey.clone())
            .collect())
    }

    async fn start_ceremony(
        &self,
        ceremony: &crate::ports::PendingCeremony,
    ) -> Result<(), RepositoryError> {
        self.users.check_available()?;
        self.ceremonies
            .lock()
            .unwrap()
            .insert(ceremony.id, ceremony.clone());
        Ok(())
    }

    async fn take_ceremony(
        &self,
        id: domain::CeremonyId,
    ) -> Result<Option<crate::ports::PendingCeremony>, RepositoryError> {
        self.users.check_available()?;
        Ok(self.ceremonies.lock().unwrap().remove(&id))
    }

    async fn add(
        &self,
        passkey: &crate::ports::Passkey,
        owner: &User,
        outbox: &Outgoing,
    ) -> Result<(), PasskeyWriteError> {
        self.users.check_available()?;
        let mut passkeys = self.passkeys.lock().unwrap();
        if passkeys
            .iter()
            .any(|(_, stored)| stored.credential.id == passkey.credential.id)
        {
            return Err(PasskeyWriteError::CredentialTaken);
        }
        self.users
            .next_version(owner, |status| status == UserStatus::Active)?;
        passkeys.push((passkey.credential.user_id, passkey.clone()));
        self.users.outbox.record(outbox);
        Ok(())
    }

    async fn remove(
        &self,
        removed: &crate::ports::Passkey,
        owner: &User,
        outbox: &Outgoing,
    ) -> Result<bool, PasskeyWriteError> {
        self.users.check_available()?;
        let mut passkeys = self.passkeys.lock().unwrap();
        let owner_of_removed = removed.credential.user_id;
        let Some(position) = passkeys
            .iter()
            .position(|(owner, passkey)| *owner == owner_of_removed && passkey.id == removed.id)
        else {
            return Ok(false);
        };
        self.users
            .next_version(owner, |status| status != UserStatus::Deleted)?;
        passkeys.remove(position);
        self.users.outbox.record(outbox);
        Ok(true)
    }

    async fn by_credential(
        &self,
        credential_id: &crate::ports::CredentialId,
    ) -> Result<Option<crate::ports::Passkey>, RepositoryError> {
        self.users.check_available()?;
        let passkeys = self.passkeys.lock().unwrap();
        Ok(passkeys
            .iter()
            .map(|(_, passkey)| passkey)
            .find(|passkey| passkey.credential.id == *credential_id)
            .cloned())
    }

    async fn record_use(
        &self,
        passkey: &crate::ports::Passkey,
        dynamic_state: &[u8],
        at: Timestamp,
    ) -> Result<bool, RepositoryError> {
        self.users.check_available()?;
        let mut passkeys = self.passkeys.lock().unwrap();
        let Some((_, stored)) = passkeys.iter_mut().find(|(_, stored)| {
            stored.id == passkey.id
                && stored.credential.dynamic_state == passkey.credential.dynamic_state
        }) else {
            return Ok(false);
        };
        stored.credential.dynamic_state = dynamic_state.to_vec();
        stored.last_used_at = Some(at);
        Ok(true)
    }
}

/// WebAuthn ceremonies a test can answer by hand. A state is `registration:<user id>:<n>` or
/// `sign-in:<n>`; the options are `{"challenge": "<state>"}`. A credential or an assertion is
/// `credential=<id>;user=<user id>;state=<state>;verified=<yes|no>;counter=<n>`, and a passkey's
/// dynamic state is its counter in decimal.
#[derive(Clone, Copy, Default)]
pub struct FakeCeremonies;

/// Numbers the fake ceremonies of the whole test run, so no two share a state.
static NEXT_CEREMONY: AtomicUsize = AtomicUsize::new(1);

impl FakeCeremonies {
    /// The answer an authenticator holding credential `id` of `user` gives to `ceremony`.
    pub fn answer(
        ceremony: &crate::ports::Ceremony,
        id: &str,
        user: UserId,
        verified: bool,
        counter: u32,
    ) -> String {
        let state = String::from_utf8_lossy(&ceremony.state);
        let verified = if verified { "yes" } else { "no" };
        format!("credential={id};user={user};state={state};verified={verified};counter={counter}")
    }

    /// The ceremony whose options a use case handed out: the state is the challenge.
    pub fn ceremony_of(options_json: &str) -> crate::ports::Ceremony {
        let state = options_json
            .trim_start_matches("{\"challenge\": \"")
            .trim_end_matches("\"}");
        crate::ports::Ceremony {
            options_json: options_json.to_owned(),
            state: state.as_bytes().to_vec(),
        }
    }

    fn ceremony(&self, state: String) -> crate::ports::Ceremony {
        crate::ports::Ceremony {
            options_json: format!("{{\"challenge\": \"{state}\"}}"),
            state: state.into_bytes(),
        }
    }

    fn fields(answer: &str) -> Option<BTreeMap<&str, &str>> {
        answer
            .split(';')
            .map(|field| field.split_once('='))
            .collect::<Option<BTreeMap<_, _>>>()
    }

    /// The checks every answer passes: well formed, of this state, verified.
    fn checked<'a>(
        state: &[u8],
        answer: &'a str,
    ) -> Result<BTreeMap<&'a str, &'a str>, crate::ports::PasskeyRefused> {
        let fields = Self::fields(answer).ok_or(crate::ports::PasskeyRefused::Malformed)?;
        let of_state = fields.get("state").map(|s| s.as_bytes()) == Some(state);
        if !of_state || fields.get("verified") != Some(&"yes") {
            return Err(crate::ports::PasskeyRefused::Failed);
        }
        Ok(fields)
    }
}

impl crate::ports::PasskeyCeremonies for FakeCeremonies {
    fn start_registration(
        &self,
        user: &User,
        _exclude: &[crate::ports::CredentialId],
    ) -> Result<crate::ports::Ceremony, crate::ports::BoxError> {
        let n = NEXT_CEREMONY.fetch_add(1, Ordering::SeqCst);
        Ok(self.ceremony(format!("registration:{}:{n}", user.id())))
    }

    fn finish_registration(
        &self,
        state: &[u8],
        credential_json: &str,
    ) -> Result<crate::ports::PasskeyCredential, crate::ports::PasskeyRefused> {
        let fields = Self::checked(state, credential_json)?;
        let user = fields
            .get("user")
            .and_then(|user| UserId::parse(user).ok())
            .ok_or(crate::ports::PasskeyRefused::Malformed)?;
        Ok(crate::ports::PasskeyCredential {
            id: crate::ports::CredentialId::new(fields["credential"].as_bytes().to_vec()),
            user_id: user,
            static_state: b"public key".to_vec(),
            dynamic_state: b"0".to_vec(),
        })
    }

    fn start_sign_in(&self) -> Result<crate::ports::Ceremony, crate::ports::BoxError> {
        let n = NEXT_CEREMONY.fetch_add(1, Ordering::SeqCst);
        Ok(self.ceremony(format!("sign-in:{n}")))
    }

    fn claim_of(
        &self,
        assertion_json: &str,
    ) -> Result<crate::ports::AssertionClaim, crate::ports::PasskeyRefused> {
        let fields = Self::fields(assertion_json).ok_or(crate::ports::PasskeyRefused::Malformed)?;
        let user = fields
            .get("user")
            .and_then(|user| UserId::parse(user).ok())
            .ok_or(crate::ports::PasskeyRefused::Malformed)?;
        let id = fields
            .get("credential")
            .ok_or(crate::ports::PasskeyRefused::Malformed)?;
        Ok(crate::ports::AssertionClaim {
            credential_id: crate::ports::CredentialId::new(id.as_bytes().to_vec()),
            user_id: user,
        })
    }

    fn finish_sign_in(
        &self,
        state: &[u8],
        assertion_json: &str,
        stored: &crate::ports::PasskeyCredential,
    ) -> Result<Vec<u8>, crate::ports::PasskeyRefused> {
        let fields = Self::checked(state, assertion_json)?;
        let counter: u32 = fields
            .get("counter")
            .and_then(|counter| counter.parse().ok())
            .ok_or(crate::ports::PasskeyRefused::Malformed)?;
        let stored_counter: u32 = std::str::from_utf8(&stored.dynamic_state)
            .ok()
            .and_then(|counter| counter.parse().ok())
            .ok_or(crate::ports::PasskeyRefused::Malformed)?;
        // 0 after 0 is an authenticator without a counter (a synced passkey), as WebAuthn has it.
        let counterless = counter == 0 && stored_counter == 0;
        if counter <= stored_counter && !counterless {
            return Err(crate::ports::PasskeyRefused::CounterWentBack);
        }
        Ok(counter.to_string().into_bytes())
    }
}
