//! One client attacks — abusive queries (depth, complexity, aliases, page size, batch size,
//! oversized bodies) flooded fast enough to trip its address's rate limit — while another
//! user goes on with ordinary requests. The victim's requests all succeed, every attack
//! request is refused with LIMIT_EXCEEDED or RATE_LIMITED, and the refused attack runs no SQL
//! at all: the database only sees the victim's statements.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Org, TestApp, data, error_code, insert_users};
use roster::app::HttpSettings;
use roster::graphql::Limits;
use roster::ratelimit::RateLimits;
use serde_json::{Value, json};

const VIEWER: &str = "query Viewer { viewer { id name email } }";
/// No nested role or team: those go through dataloaders, whose batches (and so statement
/// counts) depend on timing, and the test counts the victim's statements exactly.
const USERS_PAGE: &str = "query UsersPage { users(first: 50, orderBy: { field: NAME, direction: ASC }) { totalCount nodes { id name email createdAt } } }";

/// Requests per minute the attacker's address may send before it is refused outright.
const PER_IP: u32 = 240;

/// The attacker's requests: each one is refused by a limit before it reaches the database.
fn attacks() -> Vec<(&'static str, Vec<u8>)> {
    let body = |v: Value| serde_json::to_vec(&v).expect("json");
    let deep = "{ teams { nodes { members { nodes { team { members { nodes { team { members { nodes { team { name } } } } } } } } } } } }";
    let costly = "{ users(first: 100) { nodes { team { members(first: 100) { nodes { id name email } } } } } }";
    let aliases: String = (0..50).map(|i| format!("a{i}: viewer {{ id }} ")).collect();
    let batch: Vec<Value> = (0..11)
        .map(|_| json!({ "query": "{ viewer { id } }" }))
        .collect();
    let oversized = format!("{{ __typename }} # {}", "x".repeat(1024 * 1024));
    vec![
        ("deep", body(json!({ "query": deep }))),
        ("complexity", body(json!({ "query": costly }))),
        (
            "aliases",
            body(json!({ "query": format!("{{ {aliases} }}") })),
        ),
        (
            "page size",
            body(json!({ "query": "{ users(first: 100000) { totalCount } }" })),
        ),
        ("batch size", body(json!(batch))),
        ("oversized body", body(json!({ "query": oversized }))),
    ]
}

/// p50, p95 and max of some durations, in milliseconds.
fn summary(samples: &[Duration]) -> (f64, f64, f64) {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.95), at(1.0))
}

/// The victim: one ordinary request; returns how long it took.
async fn victim_request(app: &TestApp, token: &str, query: &str) -> Duration {
    let started = Instant::now();
    let body = app.gql(Some(token), query, json!({})).await;
    let took = started.elapsed();
    let data = data(&body);
    if query == VIEWER {
        assert!(data["viewer"]["id"].is_string(), "{body}");
    } else {
        assert_eq!(data["users"]["nodes"].as_array().expect("nodes").len(), 50);
    }
    took
}

/// How many statements one victim request of each kind runs (the same every time).
async fn statements_per_request(app: &TestApp, token: &str, query: &str) -> u64 {
    let mut counts = Vec::new();
    for _ in 0..3 {
        let before = app.db.statement_count();
        victim_request(app, token, query).await;
        counts.push(app.db.statement_count() - before);
    }
    assert!(
        counts.windows(2).all(|w| w[0] == w[1]),
        "{query}: statements per request vary: {counts:?}"
    );
    counts[0]
}

#[derive(Default, Debug)]
struct Tally {
    limit_exceeded: usize,
    rate_limited: usize,
}

/// Floods the server from 127.0.0.2 until `stop` is set (or `max` requests were sent).
async fn attack(url: String, stop: Arc<AtomicBool>, max: usize) -> Tally {
    let http = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("attacker client");
    let attacks = attacks();
    let mut tally = Tally::default();
    for i in 0..max {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let (what, body) = &attacks[i % attacks.len()];
        let res = http
            .post(format!("{url}/graphql"))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("attack request");
        let status = res.status().as_u16();
        let body: Value = res.json().await.expect("json body");
        match error_code(&body) {
            Some("LIMIT_EXCEEDED") => tally.limit_exceeded += 1,
            Some("RATE_LIMITED") => {
                assert_eq!(status, 429, "{what}: {body}");
                tally.rate_limited += 1
            }
            other => panic!("{what}: the attack was not refused ({other:?}): {body}"),
        }
    }
    tally
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attacking_client_is_refused_without_sql_while_other_users_keep_being_served() {
    let http = HttpSettings {
        rate_limits: RateLimits {
            per_user: 600,
            per_ip: PER_IP,
            accept_invite_per_ip: 10,
        },
        ..HttpSettings::default()
    };
    let app = Arc::new(TestApp::spawn_with(Limits::default(), http).await);
    let org = Org::create(&app).await;
    insert_users(
        &app,
        org.account_id,
        org.general,
        org.roles["SENDER"],
        "Member",
        200,
    )
    .await;
    let victim = app.token_for(org.admin);

    // Baseline: the victim alone (this also fixes how many statements each request runs).
    let per_viewer = statements_per_request(&app, &victim, VIEWER).await;
    let per_page = statements_per_request(&app, &victim, USERS_PAGE).await;
    let mut baseline = Vec::new();
    for i in 0..40 {
        let query = if i % 2 == 0 { VIEWER } else { USERS_PAGE };
        baseline.push(victim_request(&app, &victim, query).await);
    }

    // The attack alone: a burst that runs into the address's limit (200 past it, more than
    // a slow machine could refill while sending), and no SQL at all.
    let before = app.db.statement_count();
    let burst = attack(
        app.url.clone(),
        Arc::new(AtomicBool::new(false)),
        PER_IP as usize + 200,
    )
    .await;
    assert_eq!(
        app.db.statement_count(),
        before,
        "the refused attack ran SQL"
    );
    assert!(burst.limit_exceeded >= 1, "{burst:?}");
    assert!(burst.rate_limited >= 1, "{burst:?}");

    // Both at once: four attacking tasks flood while the victim goes on.
    let stop = Arc::new(AtomicBool::new(false));
    let attackers: Vec<_> = (0..4)
        .map(|_| tokio::spawn(attack(app.url.clone(), stop.clone(), 100_000)))
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = app.db.statement_count();
    let (mut viewers, mut pages) = (0u64, 0u64);
    let mut during = Vec::new();
    for i in 0..100 {
        let query = if i % 2 == 0 { VIEWER } else { USERS_PAGE };
        during.push(victim_request(&app, &victim, query).await);
        if query == VIEWER {
            viewers += 1;
        } else {
            pages += 1;
        }
    }
    let statements = app.db.statement_count() - before;
    stop.store(true, Ordering::Relaxed);
    let mut total = Tally::default();
    for a in attackers {
        let t = a.await.expect("attacker task");
        total.limit_exceeded += t.limit_exceeded;
        total.rate_limited += t.rate_limited;
    }

    let (b50, b95, bmax) = summary(&baseline);
    let (d50, d95, dmax) = summary(&during);
    println!(
        "victim latency alone:        p50 {b50:.1} ms, p95 {b95:.1} ms, max {bmax:.1} ms ({} requests)",
        baseline.len()
    );
    println!(
        "victim latency under attack: p50 {d50:.1} ms, p95 {d95:.1} ms, max {dmax:.1} ms ({} requests)",
        during.len()
    );
    println!(
        "attack requests refused: {} LIMIT_EXCEEDED, {} RATE_LIMITED (burst alone: {burst:?})",
        total.limit_exceeded, total.rate_limited
    );
    // Only the victim's statements ran while the attack went on.
    assert_eq!(
        statements,
        viewers * per_viewer + pages * per_page,
        "statements beyond the victim's {viewers} × {per_viewer} + {pages} × {per_page}"
    );
    assert!(total.rate_limited > 0, "{total:?}");
    // Very generous: a loaded 2-core CI machine must never flake here.
    assert!(d95 < 2000.0, "victim p95 under attack: {d95:.1} ms");
}
