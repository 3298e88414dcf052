//! `/docs` in a real browser: headless Chromium loads the page from the running local stack,
//! with its network cut off from everything else, and must render every operation.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::path::PathBuf;
use std::process::Command;

fn chromium(user_data_dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".to_owned());
    Command::new(&binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            // Let the page's scripts run to completion before dumping or capturing.
            "--virtual-time-budget=20000",
        ])
        .arg(format!("--user-data-dir={}", user_data_dir.display()))
        .args(extra)
        .arg(format!("{}/docs", service_tests::api_url()))
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run {binary} ({error}); make test installs Debian's chromium")
        })
}

#[test]
fn the_docs_page_renders_every_operation_in_a_headless_browser() {
    let profile = std::env::temp_dir().join(format!("docs-browser-{}", uuid::Uuid::new_v4()));
    let rendered = chromium(&profile, &["--dump-dom"]);
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let dom = String::from_utf8(rendered.stdout).unwrap();

    let document: serde_json::Value =
        serde_json::from_str(&http_api::openapi::document_json()).unwrap();
    let operations: usize = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|ops| ops.as_object().unwrap().len())
        .sum();
    assert_eq!(
        dom.matches("class=\"opblock-summary-path\"").count(),
        operations,
        "every operation is rendered"
    );
    for path in [
        "/users/{id}/orders/{order_id}",
        "/password-reset/confirm",
        "/openapi.json",
    ] {
        assert!(
            dom.contains(&format!("data-path=\"{path}\"")),
            "{path} is not rendered"
        );
    }
    assert!(dom.contains("User service"), "the title is rendered");

    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target");
    let screenshot = target.join("docs-page.png");
    let _ = std::fs::remove_file(&screenshot);
    let captured = chromium(
        &profile,
        &[
            &format!("--screenshot={}", screenshot.display()),
            "--window-size=1280,1800",
        ],
    );
    assert!(
        captured.status.success(),
        "{}",
        String::from_utf8_lossy(&captured.stderr)
    );
    let size = std::fs::metadata(&screenshot)
        .map(|meta| meta.len())
        .unwrap_or(0);
    assert!(
        size > 20_000,
        "a screenshot of a rendered page, not a blank one ({size} bytes)"
    );
    let _ = std::fs::remove_dir_all(profile);
}
