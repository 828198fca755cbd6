//! Hardening: rate limits (per user, per client address, acceptInvite attempts), production
//! switches (introspection, suggestions, GraphiQL, CORS), Prometheus metrics and the
//! structured request log of the real binary.

mod common;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Org, SECRET, TestApp, data, error_code};
use roster::app::HttpSettings;
use roster::graphql::Limits;
use roster::ratelimit::RateLimits;
use serde_json::{Value, json};

fn limits(per_user: u32, per_ip: u32, accept_invite_per_ip: u32) -> HttpSettings {
    HttpSettings {
        rate_limits: RateLimits {
            per_user,
            per_ip,
            accept_invite_per_ip,
        },
        ..HttpSettings::default()
    }
}

async fn post(app: &TestApp, token: Option<&str>, body: Value) -> reqwest::Response {
    let mut req = app.http.post(format!("{}/graphql", app.url)).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

async fn assert_rate_limited(res: reqwest::Response) {
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1, "{retry}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), Some("RATE_LIMITED"), "{body:#}");
    assert_eq!(body["errors"][0]["extensions"]["retryAfter"], json!(retry));
    assert!(body["errors"][0]["extensions"]["requestId"].is_string());
}

#[tokio::test]
async fn a_user_past_their_limit_gets_429_while_others_go_on() {
    let app = TestApp::spawn_with(Limits::default(), limits(3, 0, 0)).await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let carol = app.token_for(org.carol);
    let viewer = json!({ "query": "{ viewer { id } }" });
    for _ in 0..3 {
        let res = post(&app, Some(&admin), viewer.clone()).await;
        assert_eq!(res.status(), 200);
    }
    assert_rate_limited(post(&app, Some(&admin), viewer.clone()).await).await;
    // Another user has their own allowance.
    let body: Value = post(&app, Some(&carol), viewer.clone())
        .await
        .json()
        .await
        .unwrap();
    assert!(data(&body)["viewer"]["id"].is_string());
    // A refused mutation wrote nothing: the limit applies before any database work.
    let res = post(
        &app,
        Some(&admin),
        json!({ "query": "mutation { createTeam(input: { name: \"Refused\" }) { team { id } } }" }),
    )
    .await;
    assert_rate_limited(res).await;
    let body = app
        .gql(
            Some(&carol),
            "{ teams(filter: { search: \"Refused\" }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"],
        Value::Null,
        "carol may not list teams: {body}"
    );
    let count: i64 = {
        use roster::entity::team;
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        team::Entity::find()
            .filter(team::Column::Name.eq("Refused"))
            .count(app.db.conn())
            .await
            .unwrap() as i64
    };
    assert_eq!(count, 0);
}

#[tokio::test]
async fn a_client_address_past_its_limit_gets_429() {
    let app = TestApp::spawn_with(Limits::default(), limits(0, 2, 0)).await;
    let q = json!({ "query": "{ __typename }" });
    assert_eq!(post(&app, None, q.clone()).await.status(), 200);
    assert_eq!(post(&app, None, q.clone()).await.status(), 200);
    assert_rate_limited(post(&app, None, q.clone()).await).await;
    // Health checks are not GraphQL requests and stay reachable.
    let res = app
        .http
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn accept_invite_guesses_are_limited_per_address_even_in_aliases_and_batches() {
    let app = TestApp::spawn_with(Limits::default(), limits(0, 0, 3)).await;
    let accept = "mutation Accept($t: String!) { acceptInvite(input: { token: $t, name: \"X\" }) { token } }";
    let body: Value = post(
        &app,
        None,
        json!({ "query": accept, "variables": { "t": "guess-1" } }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body:#}");
    // Two guesses in one document (aliases) use two attempts: three in all.
    let two = "mutation { a: acceptInvite(input: { token: \"g2\", name: \"X\" }) { token } b: acceptInvite(input: { token: \"g3\", name: \"X\" }) { token } }";
    let res = post(&app, None, json!({ "query": two })).await;
    assert_eq!(res.status(), 200);
    // The fourth guess, even inside a batch, is refused before it runs.
    let batch = json!([
        { "query": "{ __typename }" },
        { "query": accept, "variables": { "t": "guess-4" } },
    ]);
    assert_rate_limited(post(&app, None, batch).await).await;
    // Other operations from the same address are not affected.
    let body: Value = post(&app, None, json!({ "query": "{ __typename }" }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(data(&body)["__typename"], "Query");
}

#[tokio::test]
async fn zero_disables_every_limit() {
    let app = TestApp::spawn_with(Limits::default(), limits(0, 0, 0)).await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    for _ in 0..30 {
        let res = post(&app, Some(&admin), json!({ "query": "{ viewer { id } }" })).await;
        assert_eq!(res.status(), 200);
    }
}

#[tokio::test]
async fn cors_allows_only_listed_origins() {
    let http = HttpSettings {
        cors_origins: vec!["https://app.example.com".parse().unwrap()],
        ..HttpSettings::default()
    };
    let app = TestApp::spawn_with(Limits::default(), http).await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.url))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,authorization",
            )
            .send()
    };
    let res = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let allowed = res.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        allowed.contains("content-type") && allowed.contains("authorization"),
        "{allowed}"
    );
    let res = preflight("https://evil.example").await.unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    // The actual request: the allowed origin may read the answer, a foreign one may not.
    for (origin, allowed) in [
        ("https://app.example.com", true),
        ("https://evil.example", false),
    ] {
        let res = app
            .http
            .post(format!("{}/graphql", app.url))
            .header("origin", origin)
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers().get("access-control-allow-origin").is_some(),
            allowed,
            "{origin}"
        );
    }
}

#[tokio::test]
async fn without_cors_origins_no_cors_headers_are_sent() {
    let app = TestApp::spawn().await;
    let res = app
        .http
        .post(format!("{}/graphql", app.url))
        .header("origin", "https://app.example.com")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn graphiql_can_be_switched_off() {
    let http = HttpSettings {
        graphiql: false,
        ..HttpSettings::default()
    };
    let app = TestApp::spawn_with(Limits::default(), http).await;
    for path in ["/graphql", "/graphiql/graphiql.min.js"] {
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

fn line_value(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_by_operation_and_outcome() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    for _ in 0..2 {
        let body = app
            .gql(Some(&admin), "query Viewer { viewer { id } }", json!({}))
            .await;
        assert!(data(&body)["viewer"]["id"].is_string());
    }
    let body = app
        .gql(None, "query Viewer { viewer { id } }", json!({}))
        .await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    let body = app.gql(None, "{ __typename }", json!({})).await;
    assert_eq!(data(&body)["__typename"], "Query");
    let res = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = res.text().await.unwrap();
    assert_eq!(
        line_value(
            &text,
            r#"roster_requests_total{operation="Viewer",outcome="ok"}"#
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        line_value(
            &text,
            r#"roster_requests_total{operation="Viewer",outcome="UNAUTHENTICATED"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        line_value(
            &text,
            r#"roster_requests_total{operation="anonymous",outcome="ok"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        line_value(
            &text,
            r#"roster_request_duration_seconds_bucket{le="+Inf"}"#
        ),
        Some(4.0),
        "{text}"
    );
    assert_eq!(
        line_value(&text, "roster_request_duration_seconds_count"),
        Some(4.0)
    );
    assert!(
        line_value(
            &text,
            r#"roster_request_duration_seconds_bucket{le="0.005"}"#
        )
        .is_some()
    );
    assert!(line_value(&text, r#"roster_db_pool_connections{state="idle"}"#).is_some());
    assert_eq!(
        line_value(&text, "roster_outbox_pending"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(line_value(&text, "roster_outbox_failed_total"), Some(0.0));
}

#[tokio::test]
async fn metrics_count_the_outbox_backlog() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let body = app
        .gql(
            Some(&admin),
            "mutation($t: ID!, $r: ID!) { inviteUsers(input: { invitations: [{ email: \"new@example.com\", teamId: $t, roleId: $r }] }) { changedCount errors { code } } }",
            json!({ "t": common::gid::team(org.general), "r": common::gid::role(org.roles["MANAGER"]) }),
        )
        .await;
    assert_eq!(data(&body)["inviteUsers"]["changedCount"], 1, "{body:#}");
    let text = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // No worker runs in the test server, so the email stays pending.
    assert_eq!(
        line_value(&text, "roster_outbox_pending"),
        Some(1.0),
        "{text}"
    );
}

/// A running `roster serve` whose stderr is collected.
struct Server {
    child: std::process::Child,
    url: String,
    log: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// The binary with a temp SQLite database, a known secret and JSON logs.
fn roster(dir: &std::path::Path, port: u16) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_roster"));
    cmd.env_clear()
        .env(
            "DATABASE_URL",
            format!("sqlite:{}", dir.join("roster.db").display()),
        )
        .env("ROSTER_LISTEN", format!("127.0.0.1:{port}"))
        .env("ROSTER_JWT_SECRET", std::str::from_utf8(SECRET).unwrap())
        .env("ROSTER_LOG_FORMAT", "json")
        .env("RUST_LOG", "info");
    cmd
}

impl Server {
    /// Starts `roster serve` on `port`, or on a fresh port when another process took it
    /// first (the port is only known to be free when it is chosen).
    async fn start(dir: tempfile::TempDir, port: u16, extra_env: &[(&str, &str)]) -> Server {
        let mut port = port;
        for _ in 0..5 {
            let mut cmd = roster(dir.path(), port);
            cmd.arg("serve")
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            for (k, v) in extra_env {
                cmd.env(k, v);
            }
            let mut child = cmd.spawn().unwrap();
            let log = Arc::new(Mutex::new(String::new()));
            let stderr = child.stderr.take().unwrap();
            let sink = log.clone();
            let reader = std::thread::spawn(move || {
                for line in std::io::BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    let mut log = sink.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            });
            // "roster listening" is logged once the socket is bound: by this process.
            for _ in 0..400 {
                if log.lock().unwrap().contains("roster listening") {
                    return Server {
                        child,
                        url: format!("http://127.0.0.1:{port}"),
                        log,
                        reader: Some(reader),
                        _dir: dir,
                    };
                }
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            let _ = child.kill();
            let _ = child.wait();
            port = free_port();
        }
        panic!("roster serve did not start");
    }

    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.log.lock().unwrap().clone()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn request_log_has_ids_user_and_operation_but_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // A real account, so the log can name a signed-in user.
    let out = roster(dir.path(), port)
        .args([
            "account",
            "create",
            "--name",
            "Org",
            "--admin-email",
            "a@example.com",
            "--admin-name",
            "A",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {name} in {stdout}"))
            .to_owned()
    };
    let admin_id = field("admin_user_id");
    let token = field("token");
    let server = Server::start(dir, port, &[]).await;
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{}/graphql", server.url))
        .bearer_auth(&token)
        .json(&json!({ "query": "query WhoAmI { viewer { id } }" }))
        .send()
        .await
        .unwrap();
    let viewer_rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(data(&body)["viewer"]["id"], admin_id.as_str());
    let invite_token = "fake-invite-token-0123456789abcdefXYZ";
    let res = client
        .post(format!("{}/graphql", server.url))
        .json(&json!({
            "query": "mutation AcceptIt($t: String!) { acceptInvite(input: { token: $t, name: \"Eve\" }) { token } }",
            "variables": { "t": invite_token },
        }))
        .send()
        .await
        .unwrap();
    let accept_rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
    let log = server.stop();
    let lines: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|l: &Value| l["fields"]["message"] == "graphql request")
        .collect();
    let find = |rid: &str| {
        lines
            .iter()
            .find(|l| l["fields"]["request_id"] == rid)
            .unwrap_or_else(|| panic!("no log line for {rid}: {log}"))
            .clone()
    };
    let viewer = find(&viewer_rid);
    assert_eq!(viewer["fields"]["operation"], "WhoAmI");
    assert_eq!(viewer["fields"]["outcome"], "ok");
    assert_eq!(viewer["fields"]["user"], admin_id.as_str());
    assert!(viewer["fields"]["duration_ms"].is_number());
    let accept = find(&accept_rid);
    assert_eq!(accept["fields"]["operation"], "AcceptIt");
    assert_eq!(accept["fields"]["outcome"], "NOT_FOUND");
    assert_eq!(accept["fields"]["user"], "anonymous");
    assert!(!log.contains(&token), "the bearer token leaked: {log}");
    assert!(
        !log.contains(invite_token),
        "the invite token leaked: {log}"
    );
    assert!(!log.to_lowercase().contains("bearer"), "{log}");
}

#[tokio::test]
async fn production_switches_turn_off_introspection_suggestions_graphiql_and_set_limits_and_cors() {
    let server = Server::start(
        tempfile::tempdir().unwrap(),
        free_port(),
        &[
            ("ROSTER_INTROSPECTION", "false"),
            ("ROSTER_GRAPHIQL", "false"),
            ("ROSTER_ACCEPT_INVITE_PER_IP", "1"),
            (
                "ROSTER_CORS_ORIGINS",
                "https://app.example.com, https://admin.example.com",
            ),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let gql = |query: &'static str| {
        client
            .post(format!("{}/graphql", server.url))
            .json(&json!({ "query": query }))
            .send()
    };
    let body: Value = gql("{ __schema { types { name } } }")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        error_code(&body),
        Some("GRAPHQL_VALIDATION_FAILED"),
        "{body:#}"
    );
    assert!(body["data"].is_null(), "{body:#}");
    // Also when hidden in a fragment or asked through `__type`.
    let body: Value = gql("query { ...F } fragment F on Query { __type(name: \"User\") { name } }")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        error_code(&body),
        Some("GRAPHQL_VALIDATION_FAILED"),
        "{body:#}"
    );
    assert!(body["data"].is_null(), "{body:#}");
    let body: Value = gql("{ viewr { id } }").await.unwrap().json().await.unwrap();
    let message = body["errors"][0]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("viewr"), "{message}");
    assert!(!message.contains("Did you mean"), "{message}");
    for path in ["/graphql", "/graphiql/graphiql.min.js"] {
        let res = client
            .get(format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    // The configured limits reach the server, which counts per client address.
    let accept = json!({ "query": "mutation { acceptInvite(input: { token: \"x\", name: \"X\" }) { token } }" });
    for expected in [200, 429] {
        let res = client
            .post(format!("{}/graphql", server.url))
            .json(&accept)
            .send()
            .await
            .unwrap();
        let status = res.status();
        assert_eq!(status, expected, "{}", res.text().await.unwrap());
    }
    let res = client
        .post(format!("{}/graphql", server.url))
        .header("origin", "https://admin.example.com")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://admin.example.com"
    );
    server.stop();
}

#[test]
fn a_bad_cors_origin_stops_start_up_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = roster(dir.path(), free_port())
        .arg("serve")
        .env("ROSTER_CORS_ORIGINS", "app.example.com")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ROSTER_CORS_ORIGINS"), "{err}");
}

#[tokio::test]
async fn by_default_misspelled_fields_get_suggestions() {
    // The contrast to the production switch: suggestions exist and are what it removes.
    let app = TestApp::spawn().await;
    let body = app.gql(None, "{ viewr { id } }", json!({})).await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("Did you mean"), "{message}");
}
