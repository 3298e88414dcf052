//! Domain events (API.md, "Events"): what other systems hear of a change. An event is recorded
//! like an email: the write that stores a change takes an `Outgoing` (its emails and its
//! events) and the adapter MUST record all of it in the same atomic write, so a change and
//! its events happen together or not at all. The publisher (`PublishEvents`) sends recorded
//! events to the bus afterwards and forgets each once published.

use super::{OutgoingEmail, RepositoryError};
use domain::{Money, OrderId, PasskeyId, Role, Timestamp, User, UserId, UserStatus, Version};
use std::future::Future;

/// What a change sends out, recorded in the atomic write that stores it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outgoing {
    pub emails: Vec<OutgoingEmail>,
    pub events: Vec<DomainEvent>,
}

impl Outgoing {
    /// Nothing: a write that tells no one.
    pub fn nothing() -> Self {
        Self::default()
    }

    pub fn email(email: OutgoingEmail) -> Self {
        Self::emails(vec![email])
    }

    pub fn emails(emails: Vec<OutgoingEmail>) -> Self {
        Self {
            emails,
            events: Vec::new(),
        }
    }

    /// `emails`, and the events of storing `updated` in place of `current`.
    pub fn of_update(current: &User, updated: &User, emails: Vec<OutgoingEmail>) -> Self {
        Self::emails(emails).and(DomainEvent::of_update(current, updated))
    }

    /// Whether the write records nothing beside its change.
    pub fn is_empty(&self) -> bool {
        self.emails.is_empty() && self.events.is_empty()
    }

    /// These, and `events` too.
    pub fn and(mut self, events: impl IntoIterator<Item = DomainEvent>) -> Self {
        self.events.extend(events);
        self
    }
}

/// One change, as published: whose, the version it left the user at, and what it was.
/// The adapter gives it its `event_id` and `occurred_at` when it records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainEvent {
    pub user_id: UserId,
    /// The user's version after the change; for an order event, the order's version.
    pub version: Version,
    pub change: Change,
}

/// What changed. Ids, statuses, roles and amounts only: never an address, a name, a token or
/// a password, since every consumer of the bus reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    UserRegistered {
        status: UserStatus,
        role: Role,
    },
    UserEmailChanged {
        email_verified: bool,
    },
    UserSuspended,
    UserActivated,
    UserDeleted,
    UserRoleChanged {
        previous_role: Role,
        role: Role,
    },
    UserPasswordChanged {
        by: PasswordChangedBy,
    },
    UserSecondFactorEnabled,
    UserSecondFactorDisabled,
    UserPasskeyAdded {
        passkey_id: PasskeyId,
    },
    UserPasskeyRemoved {
        passkey_id: PasskeyId,
    },
    OrderPlaced {
        order_id: OrderId,
        total: Money,
        lines: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordChangedBy {
    /// The user, giving the current password.
    Change,
    /// A reset token sent to the user's address.
    Reset,
}

impl PasswordChangedBy {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Change => "change",
            Self::Reset => "reset",
        }
    }
}

impl Change {
    /// The event's `detail-type`; `docs/events/<detail-type>.json` is its schema.
    pub fn detail_type(&self) -> &'static str {
        match self {
            Self::UserRegistered { .. } => "UserRegistered",
            Self::UserEmailChanged { .. } => "UserEmailChanged",
            Self::UserSuspended => "UserSuspended",
            Self::UserActivated => "UserActivated",
            Self::UserDeleted => "UserDeleted",
            Self::UserRoleChanged { .. } => "UserRoleChanged",
            Self::UserPasswordChanged { .. } => "UserPasswordChanged",
            Self::UserSecondFactorEnabled => "UserSecondFactorEnabled",
            Self::UserSecondFactorDisabled => "UserSecondFactorDisabled",
            Self::UserPasskeyAdded { .. } => "UserPasskeyAdded",
            Self::UserPasskeyRemoved { .. } => "UserPasskeyRemoved",
            Self::OrderPlaced { .. } => "OrderPlaced",
        }
    }
}

impl DomainEvent {
    /// `change` of `user`, which the write stores at its next version.
    pub fn next_of(user: &User, change: Change) -> Self {
        Self {
            user_id: user.id(),
            version: user.version().next(),
            change,
        }
    }

    /// A new user, at its first version.
    pub fn registered(user: &User) -> Self {
        Self {
            user_id: user.id(),
            version: user.version(),
            change: Change::UserRegistered {
                status: user.status(),
                role: user.role(),
            },
        }
    }

    /// The events of storing `updated` in place of `current`: one per published field that
    /// differs (address, status, role, second factor), each at the version the write stores.
    /// Every write of a user derives its events here, so none can forget one.
    pub fn of_update(current: &User, updated: &User) -> Vec<Self> {
        let mut changes = Vec::new();
        if current.email() != updated.email() {
            changes.push(Change::UserEmailChanged {
                email_verified: updated.email_verified(),
            });
        }
        if current.status() != updated.status() {
            changes.push(match updated.status() {
                UserStatus::Active => Change::UserActivated,
                UserStatus::Suspended => Change::UserSuspended,
                UserStatus::Deleted => Change::UserDeleted,
            });
        }
        if current.role() != updated.role() {
            changes.push(Change::UserRoleChanged {
                previous_role: current.role(),
                role: updated.role(),
            });
        }
        if current.mfa_enabled() != updated.mfa_enabled() {
            changes.push(if updated.mfa_enabled() {
                Change::UserSecondFactorEnabled
            } else {
                Change::UserSecondFactorDisabled
            });
        }
        changes
            .into_iter()
            .map(|change| Self::next_of(current, change))
            .collect()
    }
}

/// An event item of the outbox, waiting for the publisher: its `detail-type` and `detail`
/// as recorded (the JSON the bus delivers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEvent {
    /// The outbox item's id, which is also the event's `event_id`.
    pub id: String,
    pub detail_type: String,
    pub detail: String,
    pub recorded_at: Timestamp,
    /// The trace of the request that recorded it (an X-Ray header), which publishing it joins.
    pub trace_header: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Throttled, timed out or unreachable: the batch is retried later as a whole.
    #[error("the event bus is unavailable")]
    Unavailable(#[source] super::BoxError),
}

/// The publisher's side of the outbox's event items.
pub trait EventOutbox: Send + Sync + 'static {
    /// Which of `ids` are still waiting (not published and forgotten yet), in one read.
    fn pending(
        &self,
        ids: &[&str],
    ) -> impl Future<Output = Result<Vec<String>, RepositoryError>> + Send;

    /// Forgets published items; an item forgotten already is no error.
    fn forget(&self, ids: &[&str]) -> impl Future<Output = Result<(), RepositoryError>> + Send;
}

/// The event bus.
pub trait EventBus: Send + Sync + 'static {
    /// Whether the bus answers now, asked with a call that publishes nothing: an event handed
    /// to a bus that stopped answering may still be published when it recovers, after its
    /// retry has been published too.
    fn ready(&self) -> impl Future<Output = Result<(), PublishError>> + Send;

    /// Puts `events` (at most `MAX_EVENTS_PER_PUT`) on the bus; answers, in their order,
    /// whether each was accepted. `Err` when the call as a whole failed.
    fn put(
        &self,
        events: &[PendingEvent],
    ) -> impl Future<Output = Result<Vec<bool>, PublishError>> + Send;
}

/// EventBridge's limit of entries per `PutEvents`.
pub const MAX_EVENTS_PER_PUT: usize = 10;

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{Email, UserName};

    fn ada() -> User {
        User::register(
            UserId::generate(),
            Email::parse("ada@example.com").unwrap(),
            UserName::parse("Ada").unwrap(),
            Timestamp::now(),
        )
    }

    #[test]
    fn an_update_publishes_one_event_per_changed_field_at_the_stored_version() {
        let current = ada();
        let mut updated = current.clone();
        updated.suspend().unwrap();
        updated.change_role(Role::Admin).unwrap();
        let events = DomainEvent::of_update(&current, &updated);
        let changes: Vec<_> = events.iter().map(|event| event.change.clone()).collect();
        assert_eq!(
            changes,
            [
                Change::UserSuspended,
                Change::UserRoleChanged {
                    previous_role: Role::User,
                    role: Role::Admin
                }
            ]
        );
        assert!(
            events
                .iter()
                .all(|event| event.version == Version::new(2) && event.user_id == current.id())
        );
    }

    #[test]
    fn a_write_that_changes_no_published_field_publishes_nothing() {
        let current = ada();
        let mut updated = current.clone();
        updated.revoke_sessions(Timestamp::now());
        updated.verify_email();
        assert!(DomainEvent::of_update(&current, &updated).is_empty());
    }

    #[test]
    fn every_status_and_factor_change_has_its_event() {
        let current = ada();
        let mut deleted = current.clone();
        deleted.delete().unwrap();
        let mut with_factor = current.clone();
        with_factor.set_mfa(true).unwrap();
        let mut moved = current.clone();
        moved
            .change_email(Email::parse("ada@example.org").unwrap())
            .unwrap();
        let detail_types = |updated: &User| {
            DomainEvent::of_update(&current, updated)
                .into_iter()
                .map(|event| event.change.detail_type())
                .collect::<Vec<_>>()
        };
        assert_eq!(detail_types(&deleted), ["UserDeleted"]);
        assert_eq!(detail_types(&with_factor), ["UserSecondFactorEnabled"]);
        assert_eq!(detail_types(&moved), ["UserEmailChanged"]);
        let mut suspended = current.clone();
        suspended.suspend().unwrap();
        let stored = suspended.clone().stored_at(Version::new(2));
        let mut active = stored.clone();
        active.activate().unwrap();
        let events = DomainEvent::of_update(&stored, &active);
        assert_eq!(events[0].change, Change::UserActivated);
        assert_eq!(events[0].version, Version::new(3));
    }
}
