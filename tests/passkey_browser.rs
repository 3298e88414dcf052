//! Passkeys in a real browser: headless Chromium with a virtual authenticator uses the
//! service's passkey page (`GET /docs/passkeys`) as a person would, driven by
//! `.devstack/passkey_browser.mjs` with playwright-core: it registers a passkey and signs in
//! with it through `navigator.credentials` and the API, the access token it gets says `amr`
//! `["hwk", "mfa"]`, and once removed the passkey signs no one in.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use serde_json::{Value, json};
use service_tests::{api_url, new_user_session, token_claims};
use std::process::Command;

/// Chromium's path: `CHROMIUM`, else the one on `PATH` (make test installs Debian's).
fn chromium_path() -> String {
    let name = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".to_owned());
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .unwrap();
    String::from_utf8(found.stdout).unwrap().trim().to_owned()
}

#[test]
fn chromium_registers_a_passkey_and_signs_in_with_it() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let user = runtime.block_on(new_user_session("passkey-browser"));
    // The relying party is `localhost`: the page must be on that host, not 127.0.0.1.
    let base = api_url().replace("127.0.0.1", "localhost");
    let driver = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../.devstack/passkey_browser.mjs"
    );
    let output = Command::new("node")
        .args([driver, &base, &user.email, "correct horse battery"])
        .env("CHROMIUM_PATH", chromium_path())
        .output()
        .expect("node runs the browser driver");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let steps: Value = serde_json::from_str(printed.trim()).unwrap();
    assert_eq!(steps["errors"], json!([]), "the page ran without errors");
    assert_eq!(steps["signedIn"]["who"], "pwd", "{steps}");

    let added = &steps["added"];
    assert_eq!(added["answer"]["status"], 201, "{steps}");
    assert_eq!(added["answer"]["body"]["name"], "Chromium");
    assert_eq!(added["passkeys"].as_array().unwrap().len(), 1, "{steps}");
    assert_eq!(steps["signedOut"]["who"], Value::Null);

    let signed_in = &steps["passkeySignedIn"];
    assert_eq!(signed_in["answer"]["status"], 200, "{steps}");
    assert_eq!(signed_in["who"], "hwk mfa");
    let session = &signed_in["answer"]["body"];
    assert_eq!(session["user"]["id"], user.id.as_str());
    let claims = token_claims(session["access_token"].as_str().unwrap());
    assert_eq!(claims["amr"], json!(["hwk", "mfa"]));
    let listed = signed_in["passkeys"][0].as_str().unwrap();
    assert!(
        listed.contains("Chromium") && !listed.contains("not used yet"),
        "{listed}"
    );

    // Removed from the account, the passkey the authenticator still holds signs no one in.
    assert_eq!(steps["removed"]["answer"]["status"], 204, "{steps}");
    assert_eq!(steps["removed"]["passkeys"], json!([]));
    assert_eq!(steps["afterRemoval"]["answer"]["status"], 401, "{steps}");
    assert_eq!(steps["afterRemoval"]["who"], Value::Null);
}
