//! The HTTP surface: GraphiQL from embedded assets, health endpoints, content types, error
//! codes on every error, and masked internal errors that carry the request id.

mod common;

use common::{Org, TestApp, error_code};
use serde_json::{Value, json};

#[tokio::test]
async fn graphiql_is_served_from_embedded_assets() {
    let app = TestApp::spawn().await;
    let res = app
        .http
        .get(format!("{}/graphql", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("/graphiql/graphiql.min.js"), "{html}");
    // No CDN: every script and stylesheet comes from this server.
    for line in html
        .lines()
        .filter(|l| l.contains("src=") || l.contains("href="))
    {
        assert!(
            !line.contains("http://") && !line.contains("https://") && !line.contains("//cdn"),
            "{line}"
        );
    }
    for (file, kind) in [
        ("graphiql.min.js", "javascript"),
        ("graphiql.min.css", "css"),
        ("react.production.min.js", "javascript"),
        ("react-dom.production.min.js", "javascript"),
    ] {
        let res = app
            .http
            .get(format!("{}/graphiql/{file}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{file}");
        let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.contains(kind), "{file}: {ct}");
        assert!(res.bytes().await.unwrap().len() > 1000, "{file}");
    }
    let res = app
        .http
        .get(format!("{}/graphiql/../Cargo.toml", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn get_never_executes_operations() {
    let app = TestApp::spawn().await;
    let res = app
        .http
        .get(format!("{}/graphql?query=%7B__typename%7D", app.url))
        .send()
        .await
        .unwrap();
    let text = res.text().await.unwrap();
    assert!(text.contains("<html"), "GET serves GraphiQL, not results");
}

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    let res = app
        .http
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .http
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn posts_must_be_json() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .raw(
            b"query={__typename}".to_vec(),
            "application/x-www-form-urlencoded",
            None,
        )
        .await;
    assert_eq!(status, 415);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    let (status, _) = app
        .raw(b"{not json".to_vec(), "application/json", None)
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn every_error_has_a_code_and_request_id() {
    let app = TestApp::spawn().await;
    for (query, code) in [
        ("{ viewer { id ", "GRAPHQL_PARSE_FAILED"),
        ("{ nope }", "GRAPHQL_VALIDATION_FAILED"),
        (
            "{ users(first: \"x\") { totalCount } }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        ("{ viewer { id } }", "UNAUTHENTICATED"),
    ] {
        let body = app.gql(None, query, json!({})).await;
        assert_eq!(error_code(&body), Some(code), "{query}: {body}");
        assert!(
            body["errors"][0]["extensions"]["requestId"].is_string(),
            "{body}"
        );
    }
}

#[tokio::test]
async fn internal_errors_are_masked_and_carry_the_request_id() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    // Break the storage under the running server.
    app.db
        .conn()
        .execute_unprepared("DROP TABLE audit_events")
        .await
        .unwrap();
    let res = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(app.token_for(o.admin))
        .json(&json!({ "query": "{ auditEvents { totalCount } }" }))
        .send()
        .await
        .unwrap();
    let header_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), Some("INTERNAL_SERVER_ERROR"));
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert_eq!(message, "Internal server error");
    assert!(
        !body.to_string().contains("audit_events"),
        "the cause must not leak: {body}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["requestId"],
        header_id.as_str()
    );
}
