//! Events end to end (API.md, "Events"): each change of a user and each order placed is
//! published once to the local bus, valid against its schema in docs/events/, with `version`
//! ordering a user's events; the local bus's rule delivers them to `user-events-local`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use application::ports::{Change, DomainEvent, PasswordChangedBy};
use domain::{Currency, Money, OrderId, PasskeyId, Role, UserId, UserStatus, Version};
use reqwest::Method;
use serde_json::{Value, json};
use service_tests::events::{assert_valid_against_their_schemas, detail_types, published_about};
use service_tests::{Api, mailed_tokens, new_user_session, unique_email};
use std::collections::BTreeSet;
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(30);

fn versions(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .map(|event| event["detail"]["version"].as_u64().unwrap())
        .collect()
}

/// No address, name, token or password in any event: only the fields its schema names.
fn assert_nothing_personal(events: &[Value], personal: &[&str]) {
    for event in events {
        let text = event.to_string();
        for secret in personal {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
}

#[test]
fn every_kind_of_change_has_a_schema_and_its_detail_is_valid() {
    let user_id = UserId::generate();
    let euro = Currency::parse("EUR").unwrap();
    let changes = [
        Change::UserRegistered {
            status: UserStatus::Active,
            role: Role::User,
        },
        Change::UserEmailChanged {
            email_verified: false,
        },
        Change::UserSuspended,
        Change::UserActivated,
        Change::UserDeleted,
        Change::UserRoleChanged {
            previous_role: Role::User,
            role: Role::Admin,
        },
        Change::UserPasswordChanged {
            by: PasswordChangedBy::Change,
        },
        Change::UserSecondFactorEnabled,
        Change::UserSecondFactorDisabled,
        Change::UserPasskeyAdded {
            passkey_id: PasskeyId::generate(),
        },
        Change::UserPasskeyRemoved {
            passkey_id: PasskeyId::generate(),
        },
        Change::OrderPlaced {
            order_id: OrderId::generate(),
            total: Money::parse("12.50", euro).unwrap(),
            lines: 2,
        },
    ];
    let events: Vec<Value> = changes
        .into_iter()
        .map(|change| {
            let detail_type = change.detail_type();
            let event = DomainEvent {
                user_id,
                version: Version::new(3),
                change,
            };
            let id = uuid::Uuid::now_v7().to_string();
            let detail =
                infrastructure::dynamodb::event_detail(&event, &id, domain::Timestamp::now());
            json!({"source": "user-service", "detail-type": detail_type, "detail": detail})
        })
        .collect();
    assert_valid_against_their_schemas(&events);
    let published: BTreeSet<String> = detail_types(&events)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let schemas: BTreeSet<String> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/events"))
            .unwrap()
            .map(|entry| {
                entry
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .trim_end_matches(".json")
                    .to_owned()
            })
            .collect();
    assert_eq!(published, schemas, "one schema per detail-type, no other");

    let broken = json!({"source": "user-service", "detail-type": "UserSuspended",
        "detail": {"event_id": "x", "user_id": "y", "version": 0, "email": "ada@example.com"}});
    let refused = std::panic::catch_unwind(|| assert_valid_against_their_schemas(&[broken]));
    assert!(
        refused.is_err(),
        "the validator refuses a detail that breaks its schema"
    );
}

#[tokio::test]
async fn an_admins_changes_and_an_order_each_publish_their_one_event_in_version_order() {
    let admin = Api::default();
    let email = unique_email("evented");
    let user = admin.create_user(&email, "Evented Person").await;
    let id = user["id"].as_str().unwrap().to_owned();
    admin
        .post(&format!("/users/{id}/suspend"))
        .await
        .expect_user(200);
    admin
        .post(&format!("/users/{id}/activate"))
        .await
        .expect_user(200);
    let moved = unique_email("evented-moved");
    admin
        .send_json(
            Method::PUT,
            &format!("/users/{id}/email"),
            &json!({"email": moved}),
        )
        .await
        .expect_user(200);
    let order = admin
        .send_json(
            Method::POST,
            &format!("/users/{id}/orders"),
            &json!({"items": [{"sku": "BOOK-1", "quantity": 2, "unit_price": {"amount": "12.50", "currency": "EUR"}}]}),
        )
        .await;
    assert_eq!(order.status, 201, "{}", order.body);

    let events = published_about(&id, 5, WITHIN).await;
    assert_eq!(
        detail_types(&events),
        [
            "UserRegistered",
            "UserSuspended",
            "UserActivated",
            "UserEmailChanged",
            "OrderPlaced"
        ],
        "exactly one event per change: {events:#?}"
    );
    let (user_events, order_events) = events.split_at(4);
    assert_eq!(
        versions(user_events),
        [1, 2, 3, 4],
        "the user's version after each change"
    );
    assert_eq!(
        order_events[0]["detail"]["version"], 1,
        "a placed order's version"
    );
    assert_eq!(order_events[0]["detail"]["order_id"], order.body["id"]);
    assert_eq!(
        order_events[0]["detail"]["total"],
        json!({"amount": "25.00", "currency": "EUR"})
    );
    assert_eq!(user_events[1]["detail"]["status"], "suspended");
    for event in &events {
        assert_eq!(event["source"], "user-service");
        assert_eq!(event["detail"]["user_id"], id.as_str());
    }
    let ids: BTreeSet<&str> = events
        .iter()
        .map(|event| event["detail"]["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), events.len(), "every event its own id");
    assert_valid_against_their_schemas(&events);
    assert_nothing_personal(&events, &[&email, &moved, "Evented Person"]);
}

#[tokio::test]
async fn a_users_own_email_change_publishes_when_confirmed_and_a_reset_password_too() {
    let ada = new_user_session("evented-self").await;
    let moved = unique_email("evented-self-moved");
    let reply = ada
        .api()
        .send_json(
            Method::PUT,
            &format!("/users/{}/email", ada.id),
            &json!({"email": moved}),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    // Asked for, not made: nothing is published until the token comes back.
    let before = published_about(&ada.id, 2, WITHIN).await;
    assert_eq!(
        detail_types(&before),
        ["UserRegistered", "UserPasswordChanged"]
    );
    assert_eq!(before[1]["detail"]["by"], "reset");

    let token = mailed_tokens(&moved, "Confirm your new email address")
        .await
        .pop()
        .unwrap();
    let confirmed = Api::anonymous()
        .send_json(
            Method::POST,
            "/email-change/confirm",
            &json!({"token": token}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let events = published_about(&ada.id, 3, WITHIN).await;
    assert_eq!(
        detail_types(&events),
        ["UserRegistered", "UserPasswordChanged", "UserEmailChanged"]
    );
    assert_eq!(events[2]["detail"]["email_verified"], true);
    let versions = versions(&events);
    assert!(
        versions.windows(2).all(|pair| pair[0] < pair[1]),
        "{versions:?}"
    );
    assert_eq!(
        confirmed.header("etag"),
        Some(format!("\"{}\"", events[2]["detail"]["version"]).as_str()),
        "the version the change left the user at"
    );
    assert_valid_against_their_schemas(&events);
    assert_nothing_personal(
        &events,
        &[&ada.email, &moved, &token, "correct horse battery"],
    );
}
