//! The admin console at `/console`: served from the binary's own files with a policy that
//! runs only them, switched off by `ROSTER_CONSOLE=false`, and the demo's role tokens
//! served only when `roster demo` gives them. (What the console does is proven in real
//! Chromium by tests/browser/console.mjs.)

mod common;

use common::{TestApp, data};
use roster::app::HttpSettings;
use roster::graphql::Limits;
use serde_json::json;

#[tokio::test]
async fn console_is_served_with_its_files_and_a_strict_policy() {
    let app = TestApp::spawn_with(Limits::default(), HttpSettings::default()).await;
    let page = app
        .http
        .get(format!("{}/console", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains("<div id=\"console\">"), "{html}");
    for (file, content_type) in [
        ("console.js", "text/javascript; charset=utf-8"),
        ("console.css", "text/css; charset=utf-8"),
    ] {
        assert!(html.contains(&format!("/console/{file}")), "{html}");
        let res = app
            .http
            .get(format!("{}/console/{file}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{file}");
        assert_eq!(res.headers()["content-type"], content_type, "{file}");
        assert!(!res.bytes().await.unwrap().is_empty(), "{file}");
    }
    let missing = app
        .http
        .get(format!("{}/console/nope.js", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn demo_tokens_exist_only_in_the_demo() {
    let app = TestApp::spawn_with(Limits::default(), HttpSettings::default()).await;
    let res = app
        .http
        .get(format!("{}/console/demo-tokens", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    let tokens = json!({ "Admin": "a.b.c", "Sender": "d.e.f" }).to_string();
    let demo = TestApp::spawn_with(
        Limits::default(),
        HttpSettings {
            console_demo_tokens: Some(tokens.clone()),
            ..HttpSettings::default()
        },
    )
    .await;
    let res = demo
        .http
        .get(format!("{}/console/demo-tokens", demo.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.text().await.unwrap(), tokens);
}

#[tokio::test]
async fn console_can_be_switched_off() {
    let http = HttpSettings {
        console: false,
        console_demo_tokens: Some("{}".into()),
        ..HttpSettings::default()
    };
    let app = TestApp::spawn_with(Limits::default(), http).await;
    for path in [
        "/console",
        "/console/console.js",
        "/console/console.css",
        "/console/demo-tokens",
    ] {
        let res = app
            .http
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    // The API itself still answers.
    let body = app.gql(None, "{ __typename }", json!({})).await;
    assert_eq!(data(&body)["__typename"], "Query");
}
