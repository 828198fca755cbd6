//! Authentication: every kind of bad token gets the same UNAUTHENTICATED answer, and the user
//! behind a token is re-read on every request.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Org, SECRET, TestApp, data, error_code, gid};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

const VIEWER: &str = "{ viewer { id email } }";

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn sign(claims: Value, secret: &[u8]) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn claims(sub: &str) -> Value {
    json!({ "sub": sub, "iss": "roster", "aud": "roster", "iat": now(), "exp": now() + 600 })
}

async fn assert_rejected(app: &TestApp, token: &str, why: &str) {
    let body = app.gql(Some(token), VIEWER, json!({})).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{why}: {body}");
    assert_eq!(
        body["errors"][0]["message"], "Authentication required",
        "{why}: no detail may leak"
    );
    assert!(body["data"].is_null(), "{why}: no data");
}

#[tokio::test]
async fn valid_token_answers_viewer() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let body = app
        .gql(Some(&app.token_for(org.admin)), VIEWER, json!({}))
        .await;
    assert_eq!(data(&body)["viewer"]["id"], gid::user(org.admin));
}

#[tokio::test]
async fn missing_token_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let body = app.gql(None, VIEWER, json!({})).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
}

#[tokio::test]
async fn every_bad_token_is_rejected_alike() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let sub = gid::user(org.admin);

    let good = sign(claims(&sub), SECRET);
    let (head, rest) = good.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();

    assert_rejected(&app, "not-a-jwt", "malformed").await;
    assert_rejected(&app, &format!("{head}.{payload}"), "two segments").await;
    assert_rejected(
        &app,
        &sign(claims(&sub), b"another-secret-that-is-32-bytes-long!!"),
        "wrong key",
    )
    .await;

    // alg: none, with and without a signature, in several spellings.
    for alg in ["none", "None", "NONE", "nOnE"] {
        let h = URL_SAFE_NO_PAD.encode(json!({ "alg": alg, "typ": "JWT" }).to_string());
        assert_rejected(&app, &format!("{h}.{payload}."), alg).await;
        assert_rejected(&app, &format!("{h}.{payload}.{signature}"), alg).await;
    }
    // Algorithms outside the allow-list (HS256 only here).
    let hs512 = encode(
        &Header::new(Algorithm::HS512),
        &claims(&sub),
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    assert_rejected(&app, &hs512, "HS512 not allowed").await;

    // A tampered payload keeps the old signature.
    let mut evil = claims(&sub);
    evil["sub"] = json!(gid::user(org.other_admin));
    let tampered = format!(
        "{head}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(evil.to_string())
    );
    assert_rejected(&app, &tampered, "tampered payload").await;
    // Truncated and flipped signatures.
    assert_rejected(
        &app,
        &format!("{head}.{payload}.{}", &signature[..signature.len() - 4]),
        "truncated",
    )
    .await;
    let mut flipped = signature.as_bytes().to_vec();
    flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
    assert_rejected(
        &app,
        &format!("{head}.{payload}.{}", String::from_utf8(flipped).unwrap()),
        "flipped",
    )
    .await;

    // Claims: expired beyond the 30 s leeway, future nbf, wrong or missing aud/iss/exp/sub.
    let mut c = claims(&sub);
    c["exp"] = json!(now() - 31 - 5);
    assert_rejected(&app, &sign(c, SECRET), "expired").await;
    let mut c = claims(&sub);
    c["nbf"] = json!(now() + 120);
    assert_rejected(&app, &sign(c, SECRET), "future nbf").await;
    let mut c = claims(&sub);
    c["aud"] = json!("someone-else");
    assert_rejected(&app, &sign(c, SECRET), "wrong aud").await;
    let mut c = claims(&sub);
    c["iss"] = json!("evil");
    assert_rejected(&app, &sign(c, SECRET), "wrong iss").await;
    for missing in ["aud", "iss", "exp", "sub"] {
        let mut c = claims(&sub);
        c.as_object_mut().unwrap().remove(missing);
        assert_rejected(&app, &sign(c, SECRET), missing).await;
    }
    // A subject that is not a user id, or a user that does not exist.
    assert_rejected(&app, &sign(claims("admin"), SECRET), "bad subject").await;
    assert_rejected(
        &app,
        &sign(claims(&gid::user(uuid::Uuid::now_v7())), SECRET),
        "unknown user",
    )
    .await;
    // Oversized and non-UTF-8 tokens.
    assert_rejected(
        &app,
        &format!("{head}.{}.{signature}", "A".repeat(20_000)),
        "oversized",
    )
    .await;
    let res = app
        .http
        .post(format!("{}/graphql", app.url))
        .header("content-type", "application/json")
        .header(
            "authorization",
            reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        )
        .body(json!({ "query": VIEWER }).to_string())
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    // Not a bearer token at all.
    let res = app
        .http
        .post(format!("{}/graphql", app.url))
        .header("content-type", "application/json")
        .header("authorization", format!("Basic {good}"))
        .body(json!({ "query": VIEWER }).to_string())
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
}

#[tokio::test]
async fn expiry_within_the_leeway_is_accepted() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let mut c = claims(&gid::user(org.admin));
    c["exp"] = json!(now() - 10);
    let body = app.gql(Some(&sign(c, SECRET)), VIEWER, json!({})).await;
    assert_eq!(data(&body)["viewer"]["id"], gid::user(org.admin));
}

#[tokio::test]
async fn deleted_users_lose_access_on_the_next_request() {
    use roster::entity::user;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let token = app.token_for(org.sender);
    assert!(app.gql(Some(&token), VIEWER, json!({})).await["errors"].is_null());
    user::Entity::update_many()
        .col_expr(
            user::Column::DeletedAt,
            Expr::value(roster::service::now_ms()),
        )
        .filter(user::Column::Id.eq(org.sender))
        .exec(app.db.conn())
        .await
        .unwrap();
    assert_rejected(&app, &token, "deleted user").await;
}
