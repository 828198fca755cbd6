//! GraphQL over HTTP: the response's media type is negotiated from `Accept`, and under
//! `application/graphql-response+json` a request that never reached execution answers 400
//! without a `data` entry (the graphql-http audit, `tests/http-audit/run`, checks the rest).

mod common;

use common::{TestApp, error_code};
use serde_json::{Value, json};

async fn post(app: &TestApp, accept: Option<&str>, query: &str) -> (u16, String, Value) {
    let mut req = app
        .http
        .post(format!("{}/graphql", app.url))
        .json(&json!({ "query": query }));
    if let Some(accept) = accept {
        req = req.header("accept", accept);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    (status, ct, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_response_media_type_follows_accept() {
    let app = TestApp::spawn().await;
    let grj = "application/graphql-response+json";
    for (accept, expected) in [
        (None, "application/json"),
        (Some("*/*"), "application/json"),
        (Some("application/json"), "application/json"),
        (Some(grj), grj),
        (
            Some("application/graphql-response+json, application/json;q=0.9"),
            grj,
        ),
        (
            Some("application/json, application/graphql-response+json;q=0.5"),
            "application/json",
        ),
    ] {
        let (status, ct, body) = post(&app, accept, "{ __typename }").await;
        assert_eq!(status, 200, "{accept:?}");
        assert!(ct.starts_with(expected), "{accept:?}: {ct}");
        assert_eq!(body["data"]["__typename"], "Query");
    }
    let (status, _, body) = post(&app, Some("text/html"), "{ __typename }").await;
    assert_eq!(status, 406);
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
}

#[tokio::test]
async fn request_errors_are_400_without_data_under_graphql_response_json() {
    let app = TestApp::spawn().await;
    let grj = Some("application/graphql-response+json");
    for (query, code) in [
        ("{ __typename", "GRAPHQL_PARSE_FAILED"),
        ("{ nope }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ users(first: 1000) { totalCount } }", "LIMIT_EXCEEDED"),
    ] {
        let (status, _, body) = post(&app, grj, query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(error_code(&body), Some(code));
        assert!(body.get("data").is_none(), "{query}: {body}");
        // Under application/json the same answer is 200, as before.
        let (status, _, body) = post(&app, None, query).await;
        assert_eq!(status, 200, "{query}");
        assert_eq!(error_code(&body), Some(code));
    }
    // A field error happens during execution: 200, with `data`.
    let (status, _, body) = post(&app, grj, "{ viewer { id } }").await;
    assert_eq!(status, 200);
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    assert!(body.get("data").is_some(), "{body}");
}
