//! Signed webhooks (issue 13): deliveries to a real HTTP receiver on a loopback port, every
//! signature verified by the `standardwebhooks` package from PyPI (tests/webhooks/verify.py,
//! not Roster's signing code); a receiver that fails and recovers (retries, order kept,
//! nothing lost or duplicated once de-duplicated by `webhook-id`); secret rotation; the
//! SSRF guard at creation and at send time; disabling after repeated failure; redelivery;
//! other accounts' endpoints; permissions.
//!
//! Runs on SQLite by default and on PostgreSQL when `DATABASE_URL` points at one.

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use common::{Org, TestApp, data, error_code, gid};
use roster::app::HttpSettings;
use roster::graphql::Limits;
use roster::service::webhooks::{WebhookSettings, worker};
use serde_json::{Value, json};

// ---- A receiver on a loopback port ----------------------------------------------------------

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
    /// The status it answered (0: it stalled past the sender's timeout).
    answered: u16,
}

/// What the receiver does with the next requests.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Ok,
    /// Answer 500.
    Fail,
    /// Answer 500 to the next n requests, then stall one past the timeout, then succeed.
    FailThenStallThenOk(u32),
}

#[derive(Clone)]
struct Receiver {
    url: String,
    log: Arc<Mutex<Vec<Received>>>,
    mode: Arc<Mutex<Mode>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let log: Arc<Mutex<Vec<Received>>> = Arc::default();
        let mode = Arc::new(Mutex::new(Mode::Ok));
        let (l, m) = (log.clone(), mode.clone());
        let handler = move |headers: HeaderMap, body: Bytes| {
            let (log, mode) = (l.clone(), m.clone());
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                let now = {
                    let mut mode = mode.lock().unwrap();
                    let now = *mode;
                    if let Mode::FailThenStallThenOk(n) = now {
                        *mode = if n == 0 {
                            Mode::Ok
                        } else {
                            Mode::FailThenStallThenOk(n - 1)
                        };
                    }
                    now
                };
                let (status, stall) = match now {
                    Mode::Ok => (StatusCode::NO_CONTENT, None),
                    Mode::Fail => (StatusCode::INTERNAL_SERVER_ERROR, None),
                    Mode::FailThenStallThenOk(0) => (StatusCode::OK, Some(Duration::from_secs(3))),
                    Mode::FailThenStallThenOk(_) => (StatusCode::INTERNAL_SERVER_ERROR, None),
                };
                let mut received = Received {
                    id: header("webhook-id"),
                    timestamp: header("webhook-timestamp"),
                    signature: header("webhook-signature"),
                    body: String::from_utf8_lossy(&body).into_owned(),
                    answered: status.as_u16(),
                };
                if let Some(d) = stall {
                    // Recorded as stalled first: the sender gives up before we answer.
                    received.answered = 0;
                    log.lock().unwrap().push(received);
                    tokio::time::sleep(d).await;
                    return status;
                }
                log.lock().unwrap().push(received);
                status
            }
        };
        let router = axum::Router::new().route("/hook", axum::routing::post(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Receiver {
            url: format!("http://{addr}/hook"),
            log,
            mode,
        }
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn all(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    /// The receiver's de-duplicated view: each `webhook-id` once, in first-success order.
    fn accepted(&self) -> Vec<Received> {
        let mut seen = HashSet::new();
        self.all()
            .into_iter()
            .filter(|r| (200..300).contains(&r.answered))
            .filter(|r| seen.insert(r.id.clone()))
            .collect()
    }

    /// Waits until the de-duplicated view holds `n` events.
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..400 {
            let got = self.accepted();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the receiver accepted {} of {n} events; it saw {:#?}",
            self.accepted().len(),
            self.all()
        );
    }
}

// ---- The independent verifier (Python `standardwebhooks`) ------------------------------------

fn venv_python() -> &'static str {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let status = std::process::Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/webhooks/setup"
        ))
        .status()
        .expect("run tests/webhooks/setup");
        assert!(status.success(), "tests/webhooks/setup failed");
    });
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/webhooks/.venv/bin/python"
    )
}

/// Whether each message verifies with `secret`, according to the PyPI package.
fn verify(secret: &str, messages: &[Received]) -> Vec<bool> {
    use std::io::Write;
    let input = json!({
        "secret": secret,
        "messages": messages.iter().map(|m| json!({
            "id": m.id, "timestamp": m.timestamp, "signature": m.signature, "body": m.body,
        })).collect::<Vec<_>>(),
    });
    let mut child = std::process::Command::new(venv_python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/webhooks/verify.py"
        ))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the verifier");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("verifier output");
    assert!(out.status.success(), "the verifier failed");
    serde_json::from_slice(&out.stdout).expect("verifier JSON")
}

fn assert_all_verify(secret: &str, messages: &[Received]) {
    let results = verify(secret, messages);
    assert_eq!(results.len(), messages.len());
    for (m, ok) in messages.iter().zip(results) {
        assert!(ok, "signature does not verify: {m:#?}");
    }
}

// ---- The server and its worker ------------------------------------------------------------

/// Test settings: private addresses allowed, quick retries, a short timeout.
fn settings() -> WebhookSettings {
    WebhookSettings {
        allow_private: true,
        timeout: Duration::from_secs(1),
        retry_schedule: vec![Duration::from_millis(100); 8],
        poll_interval: Duration::from_millis(50),
        ..WebhookSettings::default()
    }
}

struct Hooks {
    app: TestApp,
    /// The key the server seals secrets with (a second worker needs the same one).
    secrets: Option<roster::service::webhooks::SecretBox>,
    org: Org,
    admin: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// A server whose API uses `api`, with a webhook worker using `worker_settings` (the same
/// secret key) running beside it.
async fn start_with(api: WebhookSettings, worker_settings: Option<WebhookSettings>) -> Hooks {
    // The worker's warnings (a failed pass, a lost lease) show in a failing test's output.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("roster=warn")
        .with_test_writer()
        .try_init();
    let http = HttpSettings {
        webhooks: api.clone(),
        ..HttpSettings::default()
    };
    let app = TestApp::spawn_with(Limits::default(), http).await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let secrets = api.secrets.clone();
    let worker_settings = WebhookSettings {
        secrets: api.secrets.clone(),
        ..worker_settings.unwrap_or(api)
    };
    tokio::spawn(worker::run(
        app.db.clone(),
        Arc::new(worker_settings),
        async move {
            let _ = stopped.await;
        },
    ));
    Hooks {
        app,
        secrets,
        org,
        admin,
        _stop: stop,
    }
}

async fn start() -> Hooks {
    start_with(settings(), None).await
}

const CREATE: &str = "mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret endpoint { id url eventTypes enabled description } } }";
const UPDATE: &str = "mutation($input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $input) { endpoint { id url eventTypes enabled disabledReason } } }";
const DELETE: &str =
    "mutation($input: DeleteInput!) { deleteWebhookEndpoint(input: $input) { deletedId } }";
const ROTATE: &str = "mutation($input: RotateWebhookSecretInput!) { rotateWebhookSecret(input: $input) { secret endpoint { id previousSecretExpiresAt } } }";
const REDELIVER: &str = "mutation($input: RedeliverWebhookEventsInput!) { redeliverWebhookEvents(input: $input) { queuedCount endpoint { id } } }";
const ENDPOINTS: &str = "{ webhookEndpoints(first: 5) { totalCount nodes { id url enabled disabledReason failingSince deliveries(first: 50) { totalCount nodes { eventId eventType status attempts responseCode latencyMs nextAttemptAt lastError redelivery } } } } }";

impl Hooks {
    async fn run(&self, token: &str, query: &str, input: Value) -> Value {
        self.app
            .gql(Some(token), query, json!({ "input": input }))
            .await
    }

    /// Creates an endpoint for `url`; returns its id and secret.
    async fn endpoint(&self, url: &str, types: Option<&[&str]>) -> (String, String) {
        let body = self
            .run(
                &self.admin,
                CREATE,
                json!({ "url": url, "eventTypes": types, "description": "test receiver" }),
            )
            .await;
        let p = &data(&body)["createWebhookEndpoint"];
        (
            p["endpoint"]["id"].as_str().expect("id").to_owned(),
            p["secret"].as_str().expect("secret").to_owned(),
        )
    }

    /// Creates teams `{prefix} 0..n` (one `team.created` event each).
    async fn teams(&self, prefix: &str, n: usize) {
        for i in 0..n {
            let body = self
                .run(
                    &self.admin,
                    "mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { id } } }",
                    json!({ "name": format!("{prefix} {i:02}") }),
                )
                .await;
            data(&body);
        }
    }

    async fn endpoints(&self) -> Value {
        let body = self.app.gql(Some(&self.admin), ENDPOINTS, json!({})).await;
        data(&body)["webhookEndpoints"].clone()
    }
}

/// The team names in the bodies, in the order received.
fn team_names(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_str(&r.body).expect("JSON body");
            body["data"]["after"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix} {i:02}")).collect()
}

// ---- Tests --------------------------------------------------------------------------------

#[tokio::test]
async fn deliveries_are_signed_per_standard_webhooks_and_in_event_order() {
    let h = start().await;
    let rx = Receiver::start().await;
    let (id, secret) = h.endpoint(&rx.url, None).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    h.teams("Signed", 5).await;
    // Another account's events never reach this endpoint.
    let other = h.app.token_for(h.org.other_admin);
    data(
        &h.run(
            &other,
            "mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { id } } }",
            json!({ "name": "Not yours" }),
        )
        .await,
    );

    let got = rx.wait_for(5).await;
    assert_eq!(team_names(&got), names("Signed", 5));
    assert_all_verify(&secret, &got);
    // A wrong secret does not verify: the verifier really checks.
    let wrong = roster::service::webhooks::secrets::new_secret();
    assert!(verify(&wrong, &got).iter().all(|ok| !ok));
    for r in &got {
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["id"], r.id, "webhook-id is the event id");
        assert_eq!(body["type"], "team.created");
    }

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.all().len(), 5, "nothing else arrives: {:#?}", rx.all());
    let endpoints = h.endpoints().await;
    assert_eq!(endpoints["totalCount"], 1);
    let e = &endpoints["nodes"][0];
    assert_eq!(e["id"], id);
    let deliveries = e["deliveries"]["nodes"].as_array().unwrap();
    assert_eq!(deliveries.len(), 5);
    for d in deliveries {
        assert_eq!(d["status"], "DELIVERED", "{d}");
        assert_eq!(d["attempts"], 1);
        assert_eq!(d["responseCode"], 204);
        assert!(d["latencyMs"].as_i64().is_some());
        assert!(d["nextAttemptAt"].is_null());
        assert_eq!(d["redelivery"], false);
    }

    // The delivery log keeps finished deliveries for the event retention, then prunes them.
    assert_eq!(
        worker::prune(&h.app.db, Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    assert_eq!(worker::prune(&h.app.db, Duration::ZERO).await.unwrap(), 5);
    assert_eq!(
        h.endpoints().await["nodes"][0]["deliveries"]["totalCount"],
        0
    );
}

#[tokio::test]
async fn event_type_filter_selects_what_is_sent() {
    let h = start().await;
    let rx = Receiver::start().await;
    h.endpoint(&rx.url, Some(&["team.updated"])).await;
    h.teams("Filtered", 2).await;
    let team = h
        .app
        .gql(
            Some(&h.admin),
            "{ teams(filter: { search: \"Filtered 01\" }) { nodes { id } } }",
            json!({}),
        )
        .await;
    let team_id = data(&team)["teams"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    data(
        &h.run(
            &h.admin,
            "mutation($input: UpdateTeamInput!) { updateTeam(input: $input) { team { id } } }",
            json!({ "id": team_id, "name": "Renamed" }),
        )
        .await,
    );
    let got = rx.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.all().len(), 1, "{:#?}", rx.all());
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["type"], "team.updated");

    // Unknown types are refused.
    let body = h
        .run(
            &h.admin,
            CREATE,
            json!({ "url": rx.url, "eventTypes": ["team.exploded"] }),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
}

#[tokio::test]
async fn a_failing_receiver_gets_retries_in_order_and_nothing_is_lost_or_duplicated() {
    let h = start().await;
    let rx = Receiver::start().await;
    // Three 500s, then a request that stalls past the 1 s timeout, then success.
    rx.set(Mode::FailThenStallThenOk(3));
    let (_, secret) = h.endpoint(&rx.url, None).await;
    h.teams("Retry", 8).await;

    let got = rx.wait_for(8).await;
    assert_eq!(team_names(&got), names("Retry", 8), "order kept");
    assert_all_verify(&secret, &got);
    let all = rx.all();
    // The first event was tried until it went through; nothing after it was sent before.
    let first = &got[0].id;
    let attempts_of_first = all.iter().filter(|r| &r.id == first).count();
    assert!(attempts_of_first >= 5, "retried: {all:#?}");
    let first_success = all
        .iter()
        .position(|r| &r.id == first && (200..300).contains(&r.answered))
        .unwrap();
    assert!(
        all[..first_success].iter().all(|r| &r.id == first),
        "{all:#?}"
    );
    // Every attempt (failed ones too) is signed.
    assert_all_verify(&secret, &all);

    tokio::time::sleep(Duration::from_millis(300)).await;
    let e = h.endpoints().await;
    let deliveries = e["nodes"][0]["deliveries"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(deliveries.len(), 8);
    assert!(
        deliveries.iter().all(|d| d["status"] == "DELIVERED"),
        "{deliveries:#?}"
    );
    let oldest = deliveries.last().unwrap();
    assert!(oldest["attempts"].as_i64().unwrap() >= 5, "{oldest}");
    assert!(e["nodes"][0]["failingSince"].is_null());
}

#[tokio::test]
async fn rotation_sends_both_signatures_during_the_window_and_only_the_new_one_after() {
    let api = WebhookSettings {
        rotation_window: Duration::from_secs(2),
        ..settings()
    };
    let h = start_with(api, None).await;
    let rx = Receiver::start().await;
    let (id, old) = h.endpoint(&rx.url, None).await;
    h.teams("Before", 1).await;
    let before = rx.wait_for(1).await;
    assert_all_verify(&old, &before);

    let body = h.run(&h.admin, ROTATE, json!({ "id": id })).await;
    let p = &data(&body)["rotateWebhookSecret"];
    let new = p["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(p["endpoint"]["previousSecretExpiresAt"].is_string());
    h.teams("During", 1).await;
    let during = rx.wait_for(2).await[1..].to_vec();
    assert_eq!(during[0].signature.split(' ').count(), 2, "{:?}", during[0]);
    assert_all_verify(&new, &during);
    assert_all_verify(&old, &during);

    // After the window only the new secret signs.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    h.teams("After", 1).await;
    let after = rx.wait_for(3).await[2..].to_vec();
    assert_eq!(after[0].signature.split(' ').count(), 1);
    assert_all_verify(&new, &after);
    assert_eq!(verify(&old, &after), vec![false]);
    // The old secret verified nothing sent with the new one only before the rotation either.
    assert_eq!(verify(&new, &before), vec![false]);
}

#[tokio::test]
async fn private_addresses_are_refused_without_the_flag() {
    let strict = WebhookSettings {
        allow_private: false,
        ..settings()
    };
    let h = start_with(strict, None).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:192.168.0.1]/hook",
        "https://100.64.1.1/hook",
        "ftp://example.com/hook",
        "http://example.com/hook",
    ] {
        let body = h.run(&h.admin, CREATE, json!({ "url": url })).await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{url}: {body}");
    }
    let e = h.endpoints().await;
    assert_eq!(e["totalCount"], 0, "nothing was created");

    // The send-time check: an endpoint accepted while the flag was on is refused by a worker
    // running without it, and the receiver sees nothing.
    let lenient_api = settings();
    let strict_worker = WebhookSettings {
        allow_private: false,
        ..settings()
    };
    let h = start_with(lenient_api, Some(strict_worker)).await;
    let rx = Receiver::start().await;
    h.endpoint(&rx.url, None).await;
    h.teams("Guarded", 1).await;
    let mut last_error = Value::Null;
    for _ in 0..100 {
        let e = h.endpoints().await;
        last_error = e["nodes"][0]["deliveries"]["nodes"][0]["lastError"].clone();
        if last_error.is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        last_error.as_str().unwrap_or_default().contains("refused"),
        "{last_error}"
    );
    assert!(rx.all().is_empty(), "{:#?}", rx.all());
}

#[tokio::test]
async fn an_endpoint_failing_every_attempt_is_disabled_and_it_is_recorded() {
    let api = WebhookSettings {
        retry_schedule: vec![Duration::from_millis(50)],
        disable_after_failed_events: 2,
        ..settings()
    };
    let h = start_with(api, None).await;
    let rx = Receiver::start().await;
    rx.set(Mode::Fail);
    let (id, _) = h.endpoint(&rx.url, None).await;
    h.teams("Doomed", 3).await;

    let mut e = Value::Null;
    for _ in 0..200 {
        e = h.endpoints().await["nodes"][0].clone();
        if e["enabled"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(e["enabled"], false, "{e:#}");
    assert!(e["disabledReason"].as_str().unwrap().contains("500"), "{e}");
    let deliveries = e["deliveries"]["nodes"].as_array().unwrap();
    let statuses: Vec<&str> = deliveries
        .iter()
        .rev()
        .map(|d| d["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["FAILED", "FAILED", "PENDING"], "{deliveries:#?}");
    assert_eq!(deliveries[2]["attempts"], 2);
    assert_eq!(deliveries[2]["responseCode"], 500);
    assert_eq!(deliveries[0]["attempts"], 0, "the third event waits");
    assert_eq!(rx.all().len(), 4, "two attempts for each of two events");

    let audit = h
        .app
        .gql(
            Some(&h.admin),
            "{ auditEvents(filter: { actions: [\"webhook_endpoint.disabled\"] }) { nodes { targetId actor { id } after } } }",
            json!({}),
        )
        .await;
    let rows = data(&audit)["auditEvents"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rows.len(), 1, "{audit}");
    assert!(rows[0]["actor"].is_null());

    // Enabled again, it resumes with what was waiting.
    rx.set(Mode::Ok);
    data(
        &h.run(&h.admin, UPDATE, json!({ "id": id, "enabled": true }))
            .await,
    );
    let got = rx.wait_for(1).await;
    assert_eq!(team_names(&got), ["Doomed 02"]);
}

#[tokio::test]
async fn redelivery_sends_an_event_or_a_range_again_with_the_same_id() {
    let h = start().await;
    let rx = Receiver::start().await;
    let start_time = chrono::Utc::now() - chrono::Duration::seconds(1);
    let (id, secret) = h.endpoint(&rx.url, None).await;
    h.teams("Again", 3).await;
    let got = rx.wait_for(3).await;

    let body = h
        .run(
            &h.admin,
            REDELIVER,
            json!({ "endpointId": id, "eventId": got[1].id }),
        )
        .await;
    assert_eq!(data(&body)["redeliverWebhookEvents"]["queuedCount"], 1);
    for _ in 0..100 {
        if rx.all().len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all = rx.all();
    assert_eq!(all.len(), 4, "{all:#?}");
    assert_eq!(all[3].id, got[1].id, "same webhook-id");
    assert_eq!(all[3].body, got[1].body, "same body");

    let body = h
        .run(
            &h.admin,
            REDELIVER,
            json!({ "endpointId": id, "from": start_time.to_rfc3339(), "to": (chrono::Utc::now() + chrono::Duration::seconds(1)).to_rfc3339() }),
        )
        .await;
    assert_eq!(data(&body)["redeliverWebhookEvents"]["queuedCount"], 3);
    for _ in 0..100 {
        if rx.all().len() >= 7 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all = rx.all();
    assert_eq!(all.len(), 7, "{all:#?}");
    assert_eq!(team_names(&all[4..]), names("Again", 3), "in event order");
    assert_all_verify(&secret, &all);
    // The receiver's de-duplicated view is unchanged.
    assert_eq!(rx.accepted().len(), 3);
    let e = h.endpoints().await;
    let redeliveries = e["nodes"][0]["deliveries"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["redelivery"] == true)
        .count();
    assert_eq!(redeliveries, 4);

    // Neither both nor none of eventId and the range.
    let body = h
        .run(&h.admin, REDELIVER, json!({ "endpointId": id }))
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    // An event of another account is not found.
    let body = h
        .run(
            &h.admin,
            REDELIVER,
            json!({ "endpointId": id, "eventId": "event_0193aaaaaaaaaaaaaaaaaaaaaaaaaaaa" }),
        )
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
}

#[tokio::test]
async fn other_accounts_endpoints_are_not_found_and_only_account_managers_manage() {
    let h = start().await;
    let rx = Receiver::start().await;
    let (id, _) = h.endpoint(&rx.url, None).await;
    let other = h.app.token_for(h.org.other_admin);
    for (query, input) in [
        (UPDATE, json!({ "id": id, "description": "mine now" })),
        (DELETE, json!({ "id": id })),
        (ROTATE, json!({ "id": id })),
        (
            REDELIVER,
            json!({ "endpointId": id, "from": "2020-01-01T00:00:00Z", "to": "2030-01-01T00:00:00Z" }),
        ),
    ] {
        let body = h.run(&other, query, input).await;
        assert_eq!(error_code(&body), Some("NOT_FOUND"), "{query}: {body}");
    }
    let body = h.app.gql(Some(&other), ENDPOINTS, json!({})).await;
    assert_eq!(data(&body)["webhookEndpoints"]["totalCount"], 0);

    // Without ACCOUNT_MANAGE: FORBIDDEN.
    for user in [h.org.dept_admin, h.org.manager, h.org.sender] {
        let token = h.app.token_for(user);
        let body = h.run(&token, CREATE, json!({ "url": rx.url })).await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
        let body = h.app.gql(Some(&token), ENDPOINTS, json!({})).await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
        let body = h.run(&token, ROTATE, json!({ "id": id })).await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    }

    // The owner can change and delete it; each change is audited without the secret.
    let body = h
        .run(
            &h.admin,
            UPDATE,
            json!({ "id": id, "description": "renamed", "eventTypes": ["user.deleted"] }),
        )
        .await;
    assert_eq!(
        data(&body)["updateWebhookEndpoint"]["endpoint"]["eventTypes"],
        json!(["user.deleted"])
    );
    let body = h.run(&h.admin, DELETE, json!({ "id": id })).await;
    assert_eq!(data(&body)["deleteWebhookEndpoint"]["deletedId"], id);
    assert_eq!(h.endpoints().await["totalCount"], 0);
    let audit = h
        .app
        .gql(
            Some(&h.admin),
            "{ auditEvents(filter: { targetId: null }) { nodes { action targetType before after } } }",
            json!({}),
        )
        .await;
    let actions: Vec<String> = data(&audit)["auditEvents"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["targetType"] == "WebhookEndpoint")
        .map(|n| n["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions,
        [
            "webhook_endpoint.deleted",
            "webhook_endpoint.updated",
            "webhook_endpoint.created"
        ]
    );
    assert!(!audit.to_string().contains("whsec_"));
    let _ = gid::user(h.org.admin);
}

// ---- Throughput (bench/webhooks runs it; ignored in normal test runs) ------------------------

/// Webhook deliveries per second to a local receiver: `BENCH_WEBHOOK_EVENTS` events (made
/// by 1,000-user `changeUsersRole` calls) queued for `BENCH_WEBHOOK_ENDPOINTS` endpoints
/// while no worker runs; then a worker starts and the time until the receiver has every
/// delivery is measured. Prints one `key=value` line per result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: bench/webhooks runs it"]
async fn webhook_throughput() {
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let events = env("BENCH_WEBHOOK_EVENTS", 10_000).div_ceil(1000) * 1000;
    let endpoints = env("BENCH_WEBHOOK_ENDPOINTS", 4).max(1);
    let api = settings();
    let http = HttpSettings {
        webhooks: api.clone(),
        ..HttpSettings::default()
    };
    let limits = Limits {
        max_complexity: 1_000_000,
        ..Limits::default()
    };
    let app = TestApp::spawn_with(limits, http).await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let users = common::insert_users(
        &app,
        org.account_id,
        org.platform,
        org.roles["SENDER"],
        "Bench",
        1000,
    )
    .await;
    let h = Hooks {
        app,
        secrets: api.secrets.clone(),
        org,
        admin,
        _stop: tokio::sync::oneshot::channel().0,
    };
    // A receiver that only counts (signatures are checked by the other tests).
    let received = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = received.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |_body: Bytes| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    for _ in 0..endpoints {
        h.endpoint(&url, None).await;
    }
    let ids: Vec<String> = users.iter().map(|u| gid::user(*u)).collect();
    let made = std::time::Instant::now();
    for round in 0..events / 1000 {
        let role = if round % 2 == 0 { "MANAGER" } else { "SENDER" };
        let body = h
            .run(
                &h.admin,
                "mutation($input: ChangeUsersRoleInput!) { changeUsersRole(input: $input) { changedCount } }",
                json!({ "userIds": ids, "roleId": gid::role(h.org.roles[role]) }),
            )
            .await;
        assert_eq!(
            data(&body)["changeUsersRole"]["changedCount"],
            1000,
            "{body}"
        );
    }
    let made = made.elapsed();

    let expected = events * endpoints;
    let started = std::time::Instant::now();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(worker::run(
        h.app.db.clone(),
        Arc::new(WebhookSettings {
            secrets: api.secrets.clone(),
            ..settings()
        }),
        async move {
            let _ = stopped.await;
        },
    ));
    while received.load(std::sync::atomic::Ordering::Relaxed) < expected {
        assert!(started.elapsed() < Duration::from_secs(600), "too slow");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    let _ = stop.send(());
    let per_second = expected as f64 / elapsed.as_secs_f64();
    println!(
        "database={} events={events} endpoints={endpoints} deliveries={expected} seconds={:.2} deliveries_per_second={per_second:.0} (events written in {:.2} s)",
        if common::on_postgres() {
            "postgres"
        } else {
            "sqlite"
        },
        elapsed.as_secs_f64(),
        made.as_secs_f64()
    );
}

#[tokio::test]
async fn two_workers_on_one_database_never_send_an_attempt_twice() {
    let h = start().await;
    // A second worker (as another `roster serve` process would run) on the same database.
    let (_stop_b, stopped_b) = tokio::sync::oneshot::channel::<()>();
    let api = h.app.db.clone();
    tokio::spawn(worker::run(
        api,
        Arc::new(WebhookSettings {
            secrets: h.secrets.clone(),
            ..settings()
        }),
        async move {
            let _ = stopped_b.await;
        },
    ));
    let rx = Receiver::start().await;
    let rx2 = Receiver::start().await;
    h.endpoint(&rx.url, None).await;
    h.endpoint(&rx2.url, None).await;
    let users = common::insert_users(
        &h.app,
        h.org.account_id,
        h.org.platform,
        h.org.roles["SENDER"],
        "Twice",
        200,
    )
    .await;
    let ids: Vec<String> = users.iter().map(|u| gid::user(*u)).collect();
    for role in ["MANAGER", "SENDER"] {
        let body = h
            .run(
                &h.admin,
                "mutation($input: ChangeUsersRoleInput!) { changeUsersRole(input: $input) { changedCount } }",
                json!({ "userIds": ids, "roleId": gid::role(h.org.roles[role]) }),
            )
            .await;
        assert_eq!(data(&body)["changeUsersRole"]["changedCount"], 200);
    }
    for r in [&rx, &rx2] {
        let got = r.wait_for(400).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let all = r.all();
        assert_eq!(all.len(), 400, "every event exactly once");
        // In event order: the first 200 are the changes to MANAGER.
        let roles: Vec<String> = got
            .iter()
            .map(|m| {
                let body: Value = serde_json::from_str(&m.body).unwrap();
                body["data"]["after"]["role"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        assert!(roles[..200].iter().all(|r| r == "Manager"), "{roles:?}");
        assert!(roles[200..].iter().all(|r| r == "Sender"), "{roles:?}");
    }
}

#[path = "common/servers.rs"]
mod servers;

#[tokio::test]
async fn roster_serve_runs_the_webhook_worker() {
    let (url, _scratch) = common::fresh_database().await;
    let mut procs = servers::Servers::default();
    let base = procs
        .start_with(&url, &[("ROSTER_WEBHOOK_ALLOW_PRIVATE", "true")])
        .await;
    let db = roster::service::Db::connect(&url).await.unwrap();
    let created = roster::service::accounts::create(&db, "Served", "admin@served.test", "Ada")
        .await
        .unwrap();
    let token = common::test_keys()
        .issue(&gid::user(created.admin.id), Duration::from_secs(600))
        .unwrap()
        .unwrap();
    let http = reqwest::Client::new();
    let gql = |query: &'static str, input: Value| {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        async move {
            http.post(format!("{base}/graphql"))
                .bearer_auth(token)
                .json(&json!({ "query": query, "variables": { "input": input } }))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let rx = Receiver::start().await;
    let body = gql(CREATE, json!({ "url": rx.url })).await;
    let secret = data(&body)["createWebhookEndpoint"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    data(
        &gql(
            "mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { id } } }",
            json!({ "name": "Served 00" }),
        )
        .await,
    );
    let got = rx.wait_for(1).await;
    assert_eq!(team_names(&got), names("Served", 1));
    assert_all_verify(&secret, &got);
}

#[tokio::test]
async fn an_endpoint_failing_for_longer_than_the_disable_window_is_disabled_at_its_first_given_up_event()
 {
    let api = WebhookSettings {
        retry_schedule: vec![Duration::from_millis(200); 2],
        jitter: 0.0,
        disable_after: Duration::from_millis(300),
        disable_after_failed_events: 100,
        ..settings()
    };
    let h = start_with(api, None).await;
    let rx = Receiver::start().await;
    rx.set(Mode::Fail);
    h.endpoint(&rx.url, None).await;
    h.teams("Long", 2).await;
    let mut e = Value::Null;
    for _ in 0..200 {
        e = h.endpoints().await["nodes"][0].clone();
        if e["enabled"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(e["enabled"], false, "{e:#}");
    let deliveries = e["deliveries"]["nodes"].as_array().unwrap();
    let statuses: Vec<&str> = deliveries
        .iter()
        .rev()
        .map(|d| d["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["FAILED", "PENDING"], "{deliveries:#?}");
    assert_eq!(
        rx.all().len(),
        3,
        "three attempts of the first event, none of the second"
    );
}
