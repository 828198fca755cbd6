//! Hostile documents, strings, cursors and batches, sent as an attacker would over real HTTP:
//! each gets a clean, coded answer within a second, no SQL runs for what is refused, nothing
//! reaches the database as an error, and the server is alive afterwards.

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Org, TestApp, data, error_code, insert_invite};
use roster::app::HttpSettings;
use roster::cost::CostBudgets;
use roster::graphql::Limits;
use serde_json::{Value, json};

/// Posts a raw JSON body; returns the status, the parsed body and how long it took.
async fn post_raw(app: &TestApp, body: String, token: Option<&str>) -> (u16, Value, Duration) {
    let started = Instant::now();
    let (status, text) = app.raw(body.into_bytes(), "application/json", token).await;
    let elapsed = started.elapsed();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, body, elapsed)
}

/// A document as a JSON request body, escaped by serde_json (the document itself may be
/// arbitrarily deep: it is one string).
fn body_of(query: &str) -> String {
    json!({ "query": query }).to_string()
}

async fn assert_alive(app: &TestApp) {
    let res = app
        .http
        .get(format!("{}/healthz", app.url))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .expect("healthz answers");
    assert_eq!(res.status(), 200);
    let body = app.gql(None, "{ __typename }", json!({})).await;
    assert_eq!(data(&body)["__typename"], "Query");
}

/// Sends `body`, expects `code` within a second with no SQL, then checks the server lives.
async fn refused(
    app: &TestApp,
    what: &str,
    body: String,
    token: Option<&str>,
    code: &str,
) -> Value {
    let before = app.db.statement_count();
    let (status, response, elapsed) = post_raw(app, body, token).await;
    assert!(status < 500, "{what}: HTTP {status}: {response}");
    assert_eq!(error_code(&response), Some(code), "{what}: {response:#}");
    assert!(
        response["errors"][0]["extensions"]["requestId"].is_string(),
        "{what}: {response:#}"
    );
    assert!(elapsed < Duration::from_secs(1), "{what} took {elapsed:?}");
    // A signed-in request loads its caller (one statement or a few); nothing else may run.
    let allowed = if token.is_some() { 5 } else { 0 };
    assert!(
        app.db.statement_count() - before <= allowed,
        "{what}: SQL ran for a refused request"
    );
    assert_alive(app).await;
    response
}

#[tokio::test]
async fn nesting_thousands_deep_is_refused_before_parsing() {
    let app = TestApp::spawn().await;
    let n = 5_000;
    let (open_l, close_l) = ("[".repeat(n), "]".repeat(n));
    let cases = [
        (
            "list literal",
            body_of(&format!(
                "{{ users(filter: {{ teamIds: {open_l}\"x\"{close_l} }}) {{ totalCount }} }}"
            )),
        ),
        (
            "object literal",
            body_of(&format!(
                "{{ users(filter: {}{}) {{ totalCount }} }}",
                "{ a: ".repeat(n),
                "}".repeat(n)
            )),
        ),
        (
            "selections",
            body_of(&format!(
                "{{ {}id{} }}",
                "viewer { team { ".repeat(n / 2),
                " } }".repeat(n / 2)
            )),
        ),
        (
            "variable default",
            body_of(&format!(
                "query($v: {open_l}ID{close_l} = {open_l}\"x\"{close_l}) {{ __typename }}"
            )),
        ),
        (
            "variable type",
            body_of(&format!("query($v: {open_l}ID{close_l}) {{ __typename }}")),
        ),
        (
            "JSON variables",
            format!(
                "{{\"query\": \"query($v: [ID]) {{ __typename }}\", \"variables\": {{\"v\": {open_l}{close_l}}}}}"
            ),
        ),
        (
            "JSON extensions",
            format!(
                "{{\"query\": \"{{ __typename }}\", \"extensions\": {{\"e\": {}{}}}}}",
                "{\"a\": ".repeat(n),
                "}".repeat(n)
            ),
        ),
        ("a batch nested in a batch", format!("{open_l}{close_l}")),
    ];
    for (what, body) in cases {
        refused(&app, what, body, None, "LIMIT_EXCEEDED").await;
    }
}

#[tokio::test]
async fn expanding_fragments_and_piling_up_tokens_or_directives_are_refused_fast() {
    let app = TestApp::spawn().await;
    // Each of 30 fragments spreads the next twice: 2^30 selections once expanded.
    let mut chain = String::from("query { ...F0 }\n");
    for i in 0..30 {
        chain.push_str(&format!(
            "fragment F{i} on Query {{ ...F{} ...F{} }}\n",
            i + 1,
            i + 1
        ));
    }
    chain.push_str("fragment F30 on Query { __typename }\n");
    refused(
        &app,
        "doubling fragments",
        body_of(&chain),
        None,
        "LIMIT_EXCEEDED",
    )
    .await;
    // A fragment cycle is a validation error, answered as fast.
    let cycle = "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
    let (_, body, elapsed) = post_raw(&app, body_of(cycle), None).await;
    assert_eq!(
        error_code(&body),
        Some("GRAPHQL_VALIDATION_FAILED"),
        "{body}"
    );
    assert!(elapsed < Duration::from_secs(1));
    let directives = format!("{{ __typename {} }}", "@skip(if: false) ".repeat(3_000));
    refused(
        &app,
        "directives",
        body_of(&directives),
        None,
        "LIMIT_EXCEEDED",
    )
    .await;
    let fields = format!("{{ {} }}", "__typename ".repeat(60_000));
    refused(&app, "tokens", body_of(&fields), None, "LIMIT_EXCEEDED").await;
    let wide = format!("{{ {} }}", "__typename ".repeat(2_500));
    refused(&app, "selections", body_of(&wide), None, "LIMIT_EXCEEDED").await;
    let fragments: String = (0..150)
        .map(|i| format!("fragment G{i} on Query {{ __typename }}\n"))
        .collect();
    refused(
        &app,
        "fragment definitions",
        body_of(&format!("{{ __typename }}\n{fragments}")),
        None,
        "LIMIT_EXCEEDED",
    )
    .await;
}

/// Every kind of string argument, as a literal placeholder `S` or through `$s`.
const STRING_ARGUMENTS: [(&str, &str); 10] = [
    ("search", "{ users(filter: { search: S }) { totalCount } }"),
    (
        "search",
        "{ invites(filter: { search: S }) { totalCount } }",
    ),
    ("search", "{ teams(filter: { search: S }) { totalCount } }"),
    (
        "actions",
        "{ auditEvents(filter: { actions: [S] }) { totalCount } }",
    ),
    ("id", "{ user(id: S) { id } }"),
    ("id", "{ node(id: S) { id } }"),
    ("after", "{ users(after: S) { totalCount } }"),
    (
        "name",
        "mutation { createTeam(input: { name: S }) { team { id } } }",
    ),
    (
        "email",
        "mutation { inviteUsers(input: { invitations: [{ email: S, teamId: \"team_x\", roleId: \"role_x\" }] }) { changedCount } }",
    ),
    (
        "token",
        "mutation { acceptInvite(input: { token: S, name: \"N\" }) { token } }",
    ),
];

#[tokio::test]
async fn nul_and_lone_surrogates_in_any_string_argument_are_bad_input_naming_it() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    for (argument, template) in STRING_ARGUMENTS {
        for literal in [r#""a\u0000b""#, r#""\uD800""#, r#""\udfff x""#] {
            let query = template.replace('S', literal);
            let body = refused(
                &app,
                &query,
                body_of(&query),
                Some(&admin),
                "BAD_USER_INPUT",
            )
            .await;
            let message = body["errors"][0]["message"].as_str().unwrap_or_default();
            assert!(
                message.contains(&format!("`{argument}`")),
                "{query}: {message}"
            );
        }
        // Through a variable: a NUL is refused naming the variable, a lone surrogate in the
        // JSON is refused before the body is read as a request.
        let declared = template.replace("S", "$s");
        let query = format!(
            "query Q($s: String) {}",
            declared.trim_start_matches("mutation ")
        );
        let query = if template.starts_with("mutation") {
            format!(
                "mutation M($s: String!) {}",
                declared.trim_start_matches("mutation ")
            )
        } else {
            query
        };
        let nul = json!({ "query": query, "variables": { "s": "a\u{0}b" } }).to_string();
        let body = refused(&app, &query, nul, Some(&admin), "BAD_USER_INPUT").await;
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("`$s`"), "{query}: {message}");
        let lone = json!({ "query": query, "variables": { "s": "SURROGATE" } })
            .to_string()
            .replace("SURROGATE", "\\ud800");
        refused(&app, &query, lone, Some(&admin), "BAD_USER_INPUT").await;
    }
    // Overlong strings, too.
    let long = "x".repeat(5_000);
    let query = format!("{{ users(filter: {{ search: \"{long}\" }}) {{ totalCount }} }}");
    refused(
        &app,
        "long literal",
        body_of(&query),
        Some(&admin),
        "BAD_USER_INPUT",
    )
    .await;
    let body = json!({ "query": "query($s: String) { users(filter: { search: $s }) { totalCount } }", "variables": { "s": long } });
    refused(
        &app,
        "long variable",
        body.to_string(),
        Some(&admin),
        "BAD_USER_INPUT",
    )
    .await;
    // A normal accented search still works.
    let body = app
        .gql(
            Some(&admin),
            "{ users(filter: { search: \"äpf\" }) { totalCount } }",
            json!({}),
        )
        .await;
    assert!(data(&body)["users"]["totalCount"].is_number());
}

/// A forged cursor of the given JSON.
fn forge(json: Value) -> String {
    URL_SAFE_NO_PAD.encode(json.to_string())
}

#[tokio::test]
async fn forged_foreign_and_truncated_cursors_are_bad_input_on_every_connection() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    for i in 0..3 {
        insert_invite(
            &app,
            org.account_id,
            &format!("i{i}@a.test"),
            org.platform,
            org.roles["SENDER"],
            86_400_000,
            false,
            false,
        )
        .await;
    }
    // Something in the audit log.
    let body = app
        .gql(
            Some(&admin),
            "mutation { createTeam(input: { name: \"Cursor Team\" }) { team { id } } }",
            json!({}),
        )
        .await;
    data(&body);
    // (connection, the query with `$after`, the path to its first cursor)
    let mut lists: Vec<(String, String)> = Vec::new();
    for field in ["NAME", "EMAIL", "CREATED_AT"] {
        for dir in ["ASC", "DESC"] {
            lists.push((
                format!("users {field} {dir}"),
                format!("query($after: String) {{ list: users(first: 1, after: $after, orderBy: {{ field: {field}, direction: {dir} }}) {{ edges {{ cursor }} }} }}"),
            ));
        }
    }
    for field in ["EMAIL", "CREATED_AT", "EXPIRES_AT"] {
        for dir in ["ASC", "DESC"] {
            lists.push((
                format!("invites {field} {dir}"),
                format!("query($after: String) {{ list: invites(first: 1, after: $after, orderBy: {{ field: {field}, direction: {dir} }}) {{ edges {{ cursor }} }} }}"),
            ));
        }
    }
    lists.push((
        "teams".into(),
        "query($after: String) { list: teams(first: 1, after: $after) { edges { cursor } } }"
            .into(),
    ));
    lists.push((
        "departments".into(),
        "query($after: String) { list: departments(first: 1, after: $after) { edges { cursor } } }"
            .into(),
    ));
    lists.push((
        "auditEvents".into(),
        "query($after: String) { list: auditEvents(first: 1, after: $after) { edges { cursor } } }"
            .into(),
    ));
    let mut genuine: Vec<(String, String, String)> = Vec::new();
    for (name, query) in &lists {
        let body = app.gql(Some(&admin), query, json!({})).await;
        let cursor = data(&body)["list"]["edges"][0]["cursor"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {body}"))
            .to_owned();
        // The genuine cursor works.
        let next = app
            .gql(Some(&admin), query, json!({ "after": cursor }))
            .await;
        data(&next);
        genuine.push((name.clone(), query.clone(), cursor));
    }
    // Team.members has its own cursors.
    let members = "query($after: String) { teams(first: 5) { nodes { members(first: 1, after: $after) { edges { cursor } } } } }";
    for (name, query, cursor) in &genuine {
        let decoded: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(cursor).unwrap()).unwrap();
        let mut forged = vec![
            ("truncated", cursor[..cursor.len() / 2].to_owned()),
            ("not base64", "!!!".to_owned()),
            ("not JSON", URL_SAFE_NO_PAD.encode("hello")),
            ("a number key for a text key or the reverse", {
                let mut c = decoded.clone();
                c["k"] = if c["k"].is_string() {
                    json!(12345)
                } else {
                    json!("Zed")
                };
                forge(c)
            }),
            ("a NUL in the key", {
                let mut c = decoded.clone();
                c["k"] = json!("a\u{0}b");
                forge(c)
            }),
            ("an id that is no uuid", {
                let mut c = decoded.clone();
                c["i"] = json!(7);
                forge(c)
            }),
            ("an unknown field", {
                let mut c = decoded.clone();
                c["x"] = json!(1);
                forge(c)
            }),
        ];
        // Every other list's genuine cursor is foreign here.
        for (other, _, foreign) in &genuine {
            if other != name {
                forged.push(("foreign", foreign.clone()));
            }
        }
        for (what, bad) in forged {
            let before = app.db.statement_count();
            let body = app.gql(Some(&admin), query, json!({ "after": bad })).await;
            assert_eq!(
                error_code(&body),
                Some("BAD_USER_INPUT"),
                "{name}, {what}: {body:#}"
            );
            // The caller's principal is loaded; no list statement runs.
            assert!(app.db.statement_count() - before <= 3, "{name}, {what}");
            let body = app
                .gql(Some(&admin), members, json!({ "after": bad }))
                .await;
            assert_eq!(
                error_code(&body),
                Some("BAD_USER_INPUT"),
                "members, {what}: {body:#}"
            );
        }
    }
}

fn budgets(per_user: u32, per_ip: u32) -> HttpSettings {
    HttpSettings {
        cost_budgets: CostBudgets { per_user, per_ip },
        ..HttpSettings::default()
    }
}

#[tokio::test]
async fn cost_is_reported_in_every_response_and_charged_per_request() {
    let app = TestApp::spawn_with(Limits::default(), budgets(3_000, 0)).await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let page = "{ users(first: 50) { nodes { id name role { name } team { name } } } }";
    let res = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(&admin)
        .json(&json!({ "query": page }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let remaining: u64 = res.headers()["ratelimit-remaining"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(res.headers()["ratelimit-limit"], "3000");
    let body: Value = res.json().await.unwrap();
    let cost = &body["extensions"]["cost"];
    let requested = cost["requested"].as_u64().unwrap();
    assert!(requested >= 50, "{cost}");
    assert_eq!(cost["maximum"], 10_000);
    assert_eq!(cost["budget"]["limit"], 3_000);
    assert_eq!(cost["budget"]["remaining"].as_u64(), Some(remaining));
    assert!(
        remaining <= 3_000 - requested && remaining + 60 >= 3_000 - requested,
        "{cost}"
    );
    // A batch is charged as a whole before any of it runs: ten pages do not fit what is left.
    let batch: Vec<Value> = (0..10).map(|_| json!({ "query": page })).collect();
    let before = app.db.statement_count();
    let res = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(&admin)
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), Some("RATE_LIMITED"), "{body:#}");
    assert!(app.db.statement_count() - before <= 3, "no list ran");
    // Cheap requests still fit.
    let body = app.gql(Some(&admin), "{ viewer { id } }", json!({})).await;
    data(&body);
    assert!(body["extensions"]["cost"]["requested"].as_u64().unwrap() < 10);
}

#[tokio::test]
async fn a_batch_costing_more_than_one_request_may_is_refused_before_any_sql() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    // Each operation is under the per-request maximum; together they are not.
    let op = "{ a: users(first: 100, filter: { search: \"a\" }) { nodes { id name email } } b: users(first: 100, filter: { search: \"e\" }) { nodes { id name email } } c: users(first: 100) { nodes { id name email } } }";
    let batch: Vec<Value> = (0..10).map(|_| json!({ "query": op })).collect();
    let one = app.gql(Some(&admin), op, json!({})).await;
    data(&one);
    let cost = one["extensions"]["cost"]["requested"].as_u64().unwrap();
    assert!(cost * 10 > 10_000 && cost <= 10_000, "{cost}");
    let before = app.db.statement_count();
    let (status, body, elapsed) =
        post_raw(&app, serde_json::to_string(&batch).unwrap(), Some(&admin)).await;
    assert_eq!(status, 200);
    assert_eq!(error_code(&body), Some("LIMIT_EXCEEDED"), "{body:#}");
    assert!(elapsed < Duration::from_secs(1));
    assert!(app.db.statement_count() - before <= 3);
    // A batch that fits runs, each response with its cost.
    let small: Vec<Value> = (0..3)
        .map(|_| json!({ "query": "{ viewer { id } }" }))
        .collect();
    let (_, body, _) = post_raw(&app, serde_json::to_string(&small).unwrap(), Some(&admin)).await;
    for r in body.as_array().unwrap() {
        data(r);
        assert!(r["extensions"]["cost"]["requested"].is_number(), "{r}");
    }
}

#[tokio::test]
async fn anonymous_callers_spend_their_address_budget() {
    let app = TestApp::spawn_with(Limits::default(), budgets(0, 100)).await;
    // Anonymous, so answered UNAUTHENTICATED: the cost is charged all the same.
    let q = "{ a: viewer { id name } b: viewer { id name } c: viewer { id name } }";
    let mut cost = None;
    let mut spent = 0;
    for n in 0..200 {
        let res = app
            .http
            .post(format!("{}/graphql", app.url))
            .json(&json!({ "query": q }))
            .send()
            .await
            .unwrap();
        if res.status() == 429 {
            let body: Value = res.json().await.unwrap();
            assert_eq!(error_code(&body), Some("RATE_LIMITED"));
            assert!(
                body["errors"][0]["extensions"]["retryAfter"]
                    .as_u64()
                    .unwrap()
                    >= 1
            );
            let c: u64 = cost.expect("one request fitted");
            assert_eq!(n as u64, 100 / c, "requests of cost {c} that fit in 100");
            return;
        }
        let body: Value = res.json().await.unwrap();
        let c = body["extensions"]["cost"]["requested"].as_u64().unwrap();
        assert!(c > 0, "{body}");
        cost = Some(c);
        spent += c;
        assert_eq!(
            body["extensions"]["cost"]["budget"]["remaining"].as_u64(),
            Some(100 - spent)
        );
    }
    panic!("the address budget never ran out");
}

#[tokio::test]
async fn with_introspection_off_validation_errors_name_only_what_the_document_named() {
    let limits = Limits {
        introspection: false,
        suggestions: false,
        ..Limits::default()
    };
    let app = TestApp::spawn_with(limits, HttpSettings::default()).await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let hidden = [
        "UserConnection",
        "Query",
        "Mutation",
        "User",
        "Team",
        "Role",
        "Invite",
        "String",
        "Int",
        "ID",
        "InviteConnection",
        "UserFilter",
        "Account",
    ];
    for (query, typed) in [
        ("{ users }", "users"),
        ("{ viewer }", "viewer"),
        ("{ viewr { id } }", "viewr"),
        ("{ users(bogus: 1) { totalCount } }", "bogus"),
        ("{ users(first: \"x\") { totalCount } }", "first"),
        ("{ viewer { id { x } } }", "id"),
        ("mutation { createTeam }", "createTeam"),
        ("{ invites { nodes { email { a } } } }", "email"),
    ] {
        for token in [None, Some(admin.as_str())] {
            let body = app.gql(token, query, json!({})).await;
            assert_eq!(
                error_code(&body),
                Some("GRAPHQL_VALIDATION_FAILED"),
                "{query}: {body:#}"
            );
            let text = body["errors"].to_string();
            // Every quoted name in every message is one the document used, or `…`.
            for error in body["errors"].as_array().unwrap() {
                let message = error["message"].as_str().unwrap();
                for quoted in message.split('"').skip(1).step_by(2) {
                    let ok = quoted == "…"
                        || quoted
                            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                            .filter(|w| !w.is_empty())
                            .all(|w| query.contains(w));
                    assert!(ok, "{query} revealed {quoted}: {message}");
                }
                for name in hidden {
                    assert!(
                        !message
                            .split(|c: char| !c.is_ascii_alphanumeric())
                            .any(|w| w == name),
                        "{query} revealed {name}: {message}"
                    );
                }
            }
            assert!(text.contains(typed), "{query}: {text}");
        }
    }
}

#[tokio::test]
async fn edge_request_ids_security_headers_and_crit_tokens() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let send = |id: Option<&'static str>| {
        let mut req = app
            .http
            .post(format!("{}/graphql", app.url))
            .json(&json!({ "query": "{ __typename }" }));
        if let Some(id) = id {
            req = req.header("x-request-id", id);
        }
        req.send()
    };
    let res = send(Some("abc-123_DEF.4:5")).await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123_DEF.4:5");
    for bad in [
        "has space",
        "<script>alert(1)</script>",
        "a\u{7f}b",
        "0123456789012345678901234567890123456789012345678901234567890123456789",
    ] {
        let res = app
            .http
            .post(format!("{}/graphql", app.url))
            .header("x-request-id", bad.as_bytes())
            .json(&json!({ "query": "{ nope }" }))
            .send()
            .await;
        let Ok(res) = res else { continue };
        let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_ne!(id, bad);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["requestId"], json!(id));
    }
    for path in ["/graphql", "/healthz", "/metrics"] {
        let res = if path == "/graphql" {
            send(None).await.unwrap()
        } else {
            app.http
                .get(format!("{}{path}", app.url))
                .send()
                .await
                .unwrap()
        };
        assert_eq!(res.headers()["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(res.headers()["cache-control"], "no-store", "{path}");
        assert_eq!(res.headers()["x-frame-options"], "DENY", "{path}");
        assert_eq!(res.headers()["referrer-policy"], "no-referrer", "{path}");
    }
    // A token with a critical header extension Roster does not understand is refused.
    use jsonwebtoken::{EncodingKey, Header};
    let now = jsonwebtoken::get_current_timestamp();
    let claims = json!({
        "sub": common::gid::user(org.admin), "iss": "roster", "aud": "roster",
        "iat": now, "exp": now + 600,
    });
    let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
    let good =
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(common::SECRET)).unwrap();
    data(&app.gql(Some(&good), "{ viewer { id } }", json!({})).await);
    header.crit = Some(vec!["exp".into()]);
    let crit =
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(common::SECRET)).unwrap();
    let body = app.gql(Some(&crit), "{ viewer { id } }", json!({})).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body:#}");
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    use roster::ratelimit::RateLimits;
    let limits = |trusted: Vec<ipnet::IpNet>| HttpSettings {
        rate_limits: RateLimits {
            per_user: 0,
            per_ip: 2,
            accept_invite_per_ip: 0,
        },
        trusted_proxies: trusted,
        ..HttpSettings::default()
    };
    let post = |app: &TestApp, xff: &'static str| {
        app.http
            .post(format!("{}/graphql", app.url))
            .header("x-forwarded-for", xff)
            .json(&json!({ "query": "{ __typename }" }))
            .send()
    };
    // Untrusted peer: the header is ignored, every request counts against 127.0.0.1.
    let app = TestApp::spawn_with(Limits::default(), limits(vec![])).await;
    let statuses: Vec<u16> =
        futures_util::future::join_all(["1.1.1.1", "2.2.2.2", "3.3.3.3"].map(|x| post(&app, x)))
            .await
            .into_iter()
            .map(|r| r.unwrap().status().as_u16())
            .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        1,
        "{statuses:?}"
    );
    // Trusted loopback proxy: each forwarded client has its own bucket, and what a client
    // writes itself left of the proxy's entry is not believed.
    let app = TestApp::spawn_with(
        Limits::default(),
        limits(vec!["127.0.0.0/8".parse().unwrap()]),
    )
    .await;
    for xff in ["9.9.9.1", "9.9.9.2", "6.6.6.6, 9.9.9.1", "7.7.7.7, 9.9.9.2"] {
        assert_eq!(post(&app, xff).await.unwrap().status(), 200, "{xff}");
    }
    assert_eq!(post(&app, "8.8.8.8, 9.9.9.1").await.unwrap().status(), 429);
    let res = app
        .http
        .post(format!("{}/graphql", app.url))
        .header("forwarded", "for=9.9.9.3;proto=https")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn the_address_limit_is_charged_before_the_body_is_read() {
    use roster::ratelimit::RateLimits;
    let http = HttpSettings {
        rate_limits: RateLimits {
            per_user: 0,
            per_ip: 1,
            accept_invite_per_ip: 0,
        },
        ..HttpSettings::default()
    };
    let app = TestApp::spawn_with(Limits::default(), http).await;
    let (status, _) = app
        .raw(
            b"{\"query\": \"{ __typename }\"}".to_vec(),
            "application/json",
            None,
        )
        .await;
    assert_eq!(status, 200);
    // The next request declares a 64 MiB body and sends none of it: a server that read the
    // body before counting would wait for it; this one answers 429 at once.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.url.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    socket
        .write_all(
            format!(
                "POST /graphql HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                64 << 20
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut head = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(2), socket.read_exact(&mut head))
        .await
        .expect("answered without the body")
        .unwrap();
    assert_eq!(&head, b"HTTP/1.1 429");
}

#[tokio::test]
async fn junk_operation_names_cannot_use_up_the_metrics_labels() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    for i in 0..150 {
        let q = format!("query Junk{i} {{ nope }}");
        app.gql(None, &q, json!({})).await;
        let q = format!("query Anon{i} {{ __typename }}");
        app.gql(None, &q, json!({})).await;
    }
    data(
        &app.gql(
            Some(&admin),
            "query RealViewer { viewer { id } }",
            json!({}),
        )
        .await,
    );
    let text = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"operation="RealViewer",outcome="ok""#),
        "{text}"
    );
    assert!(!text.contains("Junk"), "{text}");
    assert!(!text.contains("Anon1"), "{text}");
}
