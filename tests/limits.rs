//! Abusive queries are refused with LIMIT_EXCEEDED before any database work.

mod common;

use common::{Org, TestApp, data, error_code, insert_users};
use serde_json::{Value, json};

/// Runs an anonymous request and checks it was refused without touching the database.
async fn refused_before_db(app: &TestApp, query: &str, variables: Value) -> Value {
    let before = app.db.statement_count();
    let body = app.gql(None, query, variables).await;
    assert_eq!(error_code(&body), Some("LIMIT_EXCEEDED"), "{query}: {body}");
    assert_eq!(
        app.db.statement_count(),
        before,
        "no SQL may run for a refused query"
    );
    body
}

#[tokio::test]
async fn depth_complexity_aliases_and_page_size_are_limited() {
    let app = TestApp::spawn().await;
    // Deep nesting through the Team -> members -> User -> team cycle.
    let deep = "{ teams { nodes { members { nodes { team { members { nodes { team { members { nodes { team { name } } } } } } } } } } } }";
    refused_before_db(&app, deep, json!({})).await;
    // Each connection multiplies the cost of what it contains.
    let costly = "{ users(first: 100) { nodes { team { members(first: 100) { nodes { id name email } } } } } }";
    refused_before_db(&app, costly, json!({})).await;
    // Alias overloading.
    let aliases: String = (0..16).map(|i| format!("a{i}: viewer {{ id }} ")).collect();
    refused_before_db(&app, &format!("{{ {aliases} }}"), json!({})).await;
    // Page sizes, literal and through variables (also defaults).
    refused_before_db(&app, "{ users(first: 100000) { totalCount } }", json!({})).await;
    refused_before_db(
        &app,
        "query($n: Int) { users(first: $n) { totalCount } }",
        json!({ "n": 101 }),
    )
    .await;
    refused_before_db(
        &app,
        "query($n: Int = 500) { users(last: $n) { totalCount } }",
        json!({}),
    )
    .await;
    refused_before_db(
        &app,
        "query { ...F } fragment F on Query { teams(first: 1000) { totalCount } }",
        json!({}),
    )
    .await;
}

#[tokio::test]
async fn fifteen_aliases_and_a_full_page_are_fine() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    insert_users(
        &app,
        o.account_id,
        o.general,
        o.roles["SENDER"],
        "Many",
        120,
    )
    .await;
    let t = app.token_for(o.admin);
    let aliases: String = (0..15).map(|i| format!("a{i}: viewer {{ id }} ")).collect();
    let body = app
        .gql(Some(&t), &format!("{{ {aliases} }}"), json!({}))
        .await;
    assert_eq!(data(&body)["a14"]["id"], data(&body)["a0"]["id"]);
    let body = app
        .gql(
            Some(&t),
            "{ users(first: 100) { nodes { id role { name } team { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&body)["users"]["nodes"].as_array().unwrap().len(), 100);
}

#[tokio::test]
async fn batches_and_bodies_are_limited() {
    let app = TestApp::spawn().await;
    let batch: Vec<Value> = (0..11)
        .map(|_| json!({ "query": "{ __typename }" }))
        .collect();
    let (status, body) = app
        .raw(
            serde_json::to_vec(&batch).unwrap(),
            "application/json",
            None,
        )
        .await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status, 200);
    assert_eq!(error_code(&body), Some("LIMIT_EXCEEDED"));

    let batch: Vec<Value> = (0..10)
        .map(|_| json!({ "query": "{ __typename }" }))
        .collect();
    let (_, body) = app
        .raw(
            serde_json::to_vec(&batch).unwrap(),
            "application/json",
            None,
        )
        .await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body.as_array().unwrap().len(), 10);
    assert_eq!(body[9]["data"]["__typename"], "Query");

    let huge = json!({ "query": format!("{{ __typename }} # {}", "x".repeat(1024 * 1024)) });
    let (status, body) = app
        .raw(serde_json::to_vec(&huge).unwrap(), "application/json", None)
        .await;
    assert_eq!(status, 413);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error_code(&body), Some("LIMIT_EXCEEDED"));
}

#[tokio::test]
async fn slow_requests_hit_the_timeout() {
    use roster::app::HttpSettings;
    use roster::graphql::Limits;
    let app = TestApp::spawn_with(
        Limits::default(),
        HttpSettings {
            request_timeout: std::time::Duration::from_millis(1),
            ..Default::default()
        },
    )
    .await;
    let o = Org::create(&app).await;
    insert_users(
        &app,
        o.account_id,
        o.general,
        o.roles["SENDER"],
        "Slow",
        300,
    )
    .await;
    let q = "{ a: users(first: 100) { totalCount nodes { role { name } team { name memberCount } } } b: users(last: 100) { totalCount nodes { name } } }";
    let body = app.gql(Some(&app.token_for(o.admin)), q, json!({})).await;
    assert_eq!(error_code(&body), Some("LIMIT_EXCEEDED"), "{body}");
}

/// The introspection query GraphiQL sends on load (graphql-js 16 `getIntrospectionQuery`,
/// with `inputValueDeprecation`): its `ofType` chain nests nine levels deep.
const GRAPHIQL_INTROSPECTION: &str = concat!(
    "query IntrospectionQuery { __schema { queryType { name kind } mutationType { ",
    "name kind } subscriptionType { name kind } types { ...FullType } directives { ",
    "name description locations args(includeDeprecated: true) { ...InputValue } } } } ",
    "fragment FullType on __Type { kind name description fields(includeDeprecated: ",
    "true) { name description args(includeDeprecated: true) { ...InputValue } type { ",
    "...TypeRef } isDeprecated deprecationReason } inputFields(includeDeprecated: ",
    "true) { ...InputValue } interfaces { ...TypeRef } enumValues(includeDeprecated: ",
    "true) { name description isDeprecated deprecationReason } possibleTypes { ",
    "...TypeRef } } fragment InputValue on __InputValue { name description type { ",
    "...TypeRef } defaultValue isDeprecated deprecationReason } fragment TypeRef on ",
    "__Type { kind name ofType { name kind ofType { name kind ofType { name kind ",
    "ofType { name kind ofType { name kind ofType { name kind ofType { name kind ",
    "ofType { name kind ofType { name kind } } } } } } } } } }",
);

#[tokio::test]
async fn graphiql_introspection_passes_the_depth_limit_but_deep_fan_out_does_not() {
    let app = TestApp::spawn().await;
    let body = app.gql(None, GRAPHIQL_INTROSPECTION, json!({})).await;
    let types = data(&body)["__schema"]["types"].as_array().expect("types");
    assert!(types.iter().any(|t| t["name"] == "User"), "{body}");
    // `ofType` adds no level, but the fields around it still do.
    let fan_out = "{ __schema { types { fields { type { ofType { fields { type { ofType { fields { type { fields { type { name } } } } } } } } } } } } }";
    let body = refused_before_db(&app, fan_out, json!({})).await;
    let message = body["errors"][0]["message"].as_str().expect("message");
    assert!(message.contains("nested too deep"), "{message}");
    // Depth counts through named fragments, also fragments spreading each other.
    let fragments = "query { ...A } fragment A on Query { teams { nodes { ...B } } } fragment B on Team { members { nodes { ...C } } } fragment C on User { team { members { nodes { team { members { nodes { team { name } } } } } } } }";
    let body = refused_before_db(&app, fragments, json!({})).await;
    let message = body["errors"][0]["message"].as_str().expect("message");
    assert!(message.contains("nested too deep"), "{message}");
}
