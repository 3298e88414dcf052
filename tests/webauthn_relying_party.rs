//! The WebAuthn relying party against the authenticator built in `service_tests`: an Ed25519
//! passkey answering as a browser's `toJSON()` would, with what a test wants wrong.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use application::ports::{PasskeyCeremonies, PasskeyCredential, PasskeyRefused};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use domain::{Email, Timestamp, User, UserId, UserName};
use infrastructure::webauthn::WebAuthnRelyingParty;
use serde_json::json;
use service_tests::authenticator::{Authenticator, ORIGIN, UP};

fn relying_party() -> WebAuthnRelyingParty {
    WebAuthnRelyingParty::new("localhost", &[ORIGIN.to_owned()]).unwrap()
}

fn ada() -> User {
    User::register(
        UserId::generate(),
        Email::parse("ada@example.com").unwrap(),
        UserName::parse("Ada Lovelace").unwrap(),
        Timestamp::now(),
    )
}

/// Ada's passkey, registered with `authenticator`.
fn registered(
    rp: &WebAuthnRelyingParty,
    user: &User,
    authenticator: &Authenticator,
) -> PasskeyCredential {
    let ceremony = rp.start_registration(user, &[]).unwrap();
    rp.finish_registration(
        &ceremony.state,
        &authenticator.create(&ceremony.options_json),
    )
    .unwrap()
}

#[test]
fn a_passkey_registers_and_signs_in_and_its_counter_moves_on() {
    let rp = relying_party();
    let user = ada();
    let authenticator = Authenticator::new();
    let ceremony = rp.start_registration(&user, &[]).unwrap();
    let options: serde_json::Value = serde_json::from_str(&ceremony.options_json).unwrap();
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(
        options["user"]["id"],
        BASE64URL.encode(user.id().to_string()),
        "the user handle is the UTF-8 of the user's id"
    );
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    let algorithms: Vec<i64> = options["pubKeyCredParams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|param| param["alg"].as_i64().unwrap())
        .collect();
    assert!(
        algorithms.contains(&-8) && algorithms.contains(&-7),
        "EdDSA and ES256"
    );

    let passkey = rp
        .finish_registration(
            &ceremony.state,
            &authenticator.create(&ceremony.options_json),
        )
        .unwrap();
    assert_eq!(passkey.id.as_bytes(), authenticator.credential_id);
    assert_eq!(passkey.user_id, user.id());

    let sign_in = rp.start_sign_in().unwrap();
    let request: serde_json::Value = serde_json::from_str(&sign_in.options_json).unwrap();
    assert_eq!(request["userVerification"], "required");
    assert_eq!(
        request["allowCredentials"],
        json!([]),
        "discoverable: none named"
    );
    let assertion = authenticator.get(&sign_in.options_json, user.id(), 1);
    let claim = rp.claim_of(&assertion).unwrap();
    assert_eq!(
        (claim.credential_id, claim.user_id),
        (passkey.id.clone(), user.id())
    );
    let moved_on = rp
        .finish_sign_in(&sign_in.state, &assertion, &passkey)
        .unwrap();
    assert_ne!(moved_on, passkey.dynamic_state, "the counter is 1 now");
}

#[test]
fn a_wrong_origin_or_no_user_verification_fails_registration() {
    let rp = relying_party();
    let user = ada();
    let mut elsewhere = Authenticator::new();
    elsewhere.origin = "https://evil.example".to_owned();
    let ceremony = rp.start_registration(&user, &[]).unwrap();
    assert_eq!(
        rp.finish_registration(&ceremony.state, &elsewhere.create(&ceremony.options_json)),
        Err(PasskeyRefused::Failed)
    );
    let mut unverified = Authenticator::new();
    unverified.flags = UP;
    let ceremony = rp.start_registration(&user, &[]).unwrap();
    assert_eq!(
        rp.finish_registration(&ceremony.state, &unverified.create(&ceremony.options_json)),
        Err(PasskeyRefused::Failed)
    );
    assert_eq!(
        rp.finish_registration(&ceremony.state, "{\"id\": 1}"),
        Err(PasskeyRefused::Malformed)
    );
}

#[test]
fn an_answer_to_another_ceremonys_challenge_fails() {
    let rp = relying_party();
    let user = ada();
    let authenticator = Authenticator::new();
    let first = rp.start_registration(&user, &[]).unwrap();
    let second = rp.start_registration(&user, &[]).unwrap();
    assert_eq!(
        rp.finish_registration(&second.state, &authenticator.create(&first.options_json)),
        Err(PasskeyRefused::Failed)
    );
    let passkey = registered(&rp, &user, &authenticator);
    let one = rp.start_sign_in().unwrap();
    let other = rp.start_sign_in().unwrap();
    let assertion = authenticator.get(&one.options_json, user.id(), 1);
    assert_eq!(
        rp.finish_sign_in(&other.state, &assertion, &passkey),
        Err(PasskeyRefused::Failed)
    );
}

#[test]
fn a_counter_that_goes_backwards_or_stands_still_is_refused() {
    let rp = relying_party();
    let user = ada();
    let authenticator = Authenticator::new();
    let mut passkey = registered(&rp, &user, &authenticator);
    let sign_in = rp.start_sign_in().unwrap();
    passkey.dynamic_state = rp
        .finish_sign_in(
            &sign_in.state,
            &authenticator.get(&sign_in.options_json, user.id(), 5),
            &passkey,
        )
        .unwrap();
    for counter in [3, 5] {
        let again = rp.start_sign_in().unwrap();
        assert_eq!(
            rp.finish_sign_in(
                &again.state,
                &authenticator.get(&again.options_json, user.id(), counter),
                &passkey
            ),
            Err(PasskeyRefused::CounterWentBack),
            "counter {counter}"
        );
    }
}

#[test]
fn another_key_or_another_users_handle_fails_sign_in() {
    let rp = relying_party();
    let user = ada();
    let authenticator = Authenticator::new();
    let passkey = registered(&rp, &user, &authenticator);
    let mut impostor = Authenticator::new();
    impostor.credential_id = authenticator.credential_id.clone();
    let sign_in = rp.start_sign_in().unwrap();
    assert_eq!(
        rp.finish_sign_in(
            &sign_in.state,
            &impostor.get(&sign_in.options_json, user.id(), 1),
            &passkey
        ),
        Err(PasskeyRefused::Failed),
        "a signature of another key"
    );
    let sign_in = rp.start_sign_in().unwrap();
    let someone_else = authenticator.get(&sign_in.options_json, UserId::generate(), 1);
    assert_eq!(
        rp.finish_sign_in(&sign_in.state, &someone_else, &passkey),
        Err(PasskeyRefused::Failed),
        "the handle of another user"
    );
    let mut unverified = Authenticator::new();
    unverified.key = authenticator.key.clone();
    unverified.credential_id = authenticator.credential_id.clone();
    unverified.flags = UP;
    let sign_in = rp.start_sign_in().unwrap();
    assert_eq!(
        rp.finish_sign_in(
            &sign_in.state,
            &unverified.get(&sign_in.options_json, user.id(), 1),
            &passkey
        ),
        Err(PasskeyRefused::Failed),
        "no user verification"
    );
}

#[test]
fn a_relying_party_needs_a_domain_and_real_origins() {
    assert!(WebAuthnRelyingParty::new("localhost", &[]).is_err());
    assert!(WebAuthnRelyingParty::new("localhost", &["not an origin".to_owned()]).is_err());
    assert!(WebAuthnRelyingParty::new("", &[ORIGIN.to_owned()]).is_err());
}

#[test]
fn an_authenticator_without_a_counter_signs_in_with_zero_again_and_again() {
    let rp = relying_party();
    let user = ada();
    let authenticator = Authenticator::new();
    let mut passkey = registered(&rp, &user, &authenticator);
    for _ in 0..2 {
        let sign_in = rp.start_sign_in().unwrap();
        let assertion = authenticator.get(&sign_in.options_json, user.id(), 0);
        passkey.dynamic_state = rp
            .finish_sign_in(&sign_in.state, &assertion, &passkey)
            .expect("a counter of 0 is no counter (synced passkeys)");
    }
}
