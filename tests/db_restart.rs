//! The database goes away while Roster serves, and comes back. A small TCP proxy stands
//! between Roster and PostgreSQL (the shared server itself is never stopped): "down" cuts
//! every connection and refuses new ones, as a stopped database does; "up" accepts again.
//! Requests during the outage fail fast with a masked INTERNAL_SERVER_ERROR, `/readyz` says
//! not ready, and once the database is back the same process serves again.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{data, gid, test_keys};
use roster::app::{self, AppState, HttpSettings};
use roster::graphql::Limits;
use roster::service::{Db, accounts};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Whether the proxy forwards, holds traffic, or plays a database that is down.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Mode {
    Up,
    /// Connections stay open but no byte passes: queries hang in flight.
    Stalled,
    /// Every connection is cut; new ones are accepted and closed at once (a server that is
    /// shutting down).
    Down,
    /// Every connection is cut and nothing listens on the port (a server that is gone):
    /// connecting is refused.
    Refused,
}

/// A TCP proxy to PostgreSQL that can play a database outage.
struct Proxy {
    port: u16,
    mode: watch::Sender<Mode>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let first = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = first.local_addr().expect("proxy addr").port();
        let (mode, _) = watch::channel(Mode::Up);
        let modes = mode.clone();
        tokio::spawn(async move {
            let mut listener = Some(first);
            loop {
                let mut changes = modes.subscribe();
                let Some(l) = listener.take() else {
                    // Refused: listen again once the database is "started".
                    if changes.wait_for(|m| *m != Mode::Refused).await.is_err() {
                        return;
                    }
                    match TcpListener::bind(("127.0.0.1", port)).await {
                        Ok(l) => listener = Some(l),
                        Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                    continue;
                };
                tokio::select! {
                    accepted = l.accept() => {
                        let Ok((client, _)) = accepted else { return };
                        listener = Some(l);
                        if *modes.borrow() == Mode::Down {
                            // A database shutting down: the connection ends before any answer.
                            drop(client);
                            continue;
                        }
                        tokio::spawn(forward(client, upstream.clone(), modes.subscribe()));
                    }
                    _ = changes.wait_for(|m| *m == Mode::Refused) => drop(l),
                }
            }
        });
        Proxy { port, mode }
    }

    fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

/// Forwards one connection until either side ends it or the database goes down.
async fn forward(client: TcpStream, upstream: String, mode: watch::Receiver<Mode>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    // Dropping the halves closes both sockets.
    tokio::select! {
        _ = pump(cr, sw, mode.clone()) => {}
        _ = pump(sr, cw, mode.clone()) => {}
        _ = until_down(mode) => {}
    }
}

/// Copies bytes from `from` to `to`, holding them while the proxy is stalled.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if mode.wait_for(|m| *m == Mode::Up).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

async fn until_down(mut mode: watch::Receiver<Mode>) {
    let _ = mode
        .wait_for(|m| matches!(m, Mode::Down | Mode::Refused))
        .await;
}

/// The proxied URL: the same database, reached through `port`.
fn through(url: &str, port: u16) -> String {
    url.replacen("127.0.0.1:5432", &format!("127.0.0.1:{port}"), 1)
        .replacen("localhost:5432", &format!("127.0.0.1:{port}"), 1)
}

async fn ready(http: &reqwest::Client, base: &str) -> u16 {
    http.get(format!("{base}/readyz"))
        .send()
        .await
        .expect("readyz")
        .status()
        .as_u16()
}

async fn viewer(http: &reqwest::Client, base: &str, token: &str) -> (u16, Value, Duration) {
    let started = Instant::now();
    let res = http
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": "{ viewer { id email } }" }))
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    let body: Value = res.json().await.expect("json body");
    (status, body, started.elapsed())
}

/// A masked internal error that names the request but not the cause.
fn assert_masked_internal(body: &Value) {
    let error = &body["errors"][0];
    assert_eq!(
        error["extensions"]["code"], "INTERNAL_SERVER_ERROR",
        "{body:#}"
    );
    assert_eq!(error["message"], "Internal server error", "{body:#}");
    assert!(error["extensions"]["requestId"].is_string(), "{body:#}");
    let text = body.to_string().to_lowercase();
    for leak in ["sqlx", "connection", "pool", "postgres", "io error"] {
        assert!(!text.contains(leak), "the cause leaked ({leak}): {body:#}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_fails_requests_cleanly_and_serving_resumes_when_it_is_back() {
    if !common::on_postgres() {
        eprintln!(
            "skipped: a database restart needs a database server (DATABASE_URL=postgres://…); SQLite is a file in the process"
        );
        return;
    }
    let (url, _dir) = common::fresh_database().await;
    let upstream = url
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("host:port in DATABASE_URL")
        .replace("localhost", "127.0.0.1");
    assert!(
        upstream.ends_with(":5432"),
        "the proxy expects the server on port 5432: {url}"
    );
    {
        let direct = Db::connect(&url).await.expect("connect");
        direct.migrate().await.expect("migrate");
    }
    let proxy = Proxy::start(upstream).await;
    let db = Db::connect(&through(&url, proxy.port))
        .await
        .expect("connect through the proxy");
    let created = accounts::create(&db, "Outage Org", "admin@outage.test", "Ada")
        .await
        .expect("account");
    let keys = Arc::new(test_keys());
    let state = AppState::new(
        db.clone(),
        keys.clone(),
        Limits::default(),
        HttpSettings::default(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        axum::serve(listener, app::service(state))
            .await
            .expect("serve");
    });
    let token = keys
        .issue(&gid::user(created.admin.id), Duration::from_secs(600))
        .expect("signing key")
        .expect("sign");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");

    let (_, body, healthy) = viewer(&http, &base, &token).await;
    assert_eq!(data(&body)["viewer"]["email"], "admin@outage.test");
    assert_eq!(ready(&http, &base).await, 200);

    // A request in flight when the database goes away.
    proxy.set(Mode::Stalled);
    let in_flight = tokio::spawn({
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        async move { viewer(&http, &base, &token).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !in_flight.is_finished(),
        "the request should wait on the stalled database"
    );
    proxy.set(Mode::Down);
    let (status, body, took) = in_flight.await.expect("in-flight task");
    println!("in-flight request during the outage: HTTP {status} after {took:?}");
    assert_masked_internal(&body);
    assert!(took < Duration::from_secs(10), "{took:?}");

    // Requests while it is down: masked errors, well within the request timeout.
    let mut outage = Vec::new();
    for _ in 0..3 {
        let (status, body, took) = viewer(&http, &base, &token).await;
        assert_masked_internal(&body);
        assert_eq!(status, 503, "{body:#}");
        outage.push(took);
    }
    println!("requests while the database is down took {outage:?}");
    assert!(
        outage.iter().all(|t| *t < Duration::from_secs(9)),
        "{outage:?}"
    );
    let started = Instant::now();
    assert_eq!(ready(&http, &base).await, 503);
    let probe = started.elapsed();
    println!("/readyz while down answered in {probe:?}");
    assert!(probe < Duration::from_secs(5), "{probe:?}");

    // Back: the same process serves again, reads and writes, without a restart.
    proxy.set(Mode::Up);
    let deadline = Instant::now() + Duration::from_secs(30);
    while ready(&http, &base).await != 200 {
        assert!(Instant::now() < deadline, "/readyz stayed not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..20 {
        let (status, body, _) = viewer(&http, &base, &token).await;
        assert_eq!(status, 200, "{body:#}");
        assert_eq!(data(&body)["viewer"]["email"], "admin@outage.test");
    }
    let res = http
        .post(format!("{base}/graphql"))
        .bearer_auth(&token)
        .json(&json!({ "query": "mutation { createTeam(input: { name: \"After the outage\" }) { team { id name } } }" }))
        .send()
        .await
        .expect("request");
    let body: Value = res.json().await.expect("json body");
    assert_eq!(
        data(&body)["createTeam"]["team"]["name"],
        "After the outage"
    );

    // Gone altogether (connections refused): the pool retries connecting until its acquire
    // timeout, which is shorter than the request timeout, so the answer is still a masked
    // error rather than a timeout.
    proxy.set(Mode::Refused);
    let (status, body, took) = viewer(&http, &base, &token).await;
    println!("request while connections are refused: HTTP {status} after {took:?}");
    assert_masked_internal(&body);
    assert!(took < Duration::from_secs(9), "{took:?}");
    let started = Instant::now();
    assert_eq!(ready(&http, &base).await, 503);
    println!("/readyz while refused answered in {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(5));
    proxy.set(Mode::Up);
    let deadline = Instant::now() + Duration::from_secs(30);
    while ready(&http, &base).await != 200 {
        assert!(Instant::now() < deadline, "/readyz stayed not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body, _) = viewer(&http, &base, &token).await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(data(&body)["viewer"]["email"], "admin@outage.test");
    println!("healthy request before the outage took {healthy:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roster_serve_waits_for_a_database_that_is_not_up_yet() {
    if !common::on_postgres() {
        eprintln!("skipped: needs a database server (DATABASE_URL=postgres://…)");
        return;
    }
    let (url, _dir) = common::fresh_database().await;
    let upstream = url
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("host:port in DATABASE_URL")
        .replace("localhost", "127.0.0.1");
    let proxy = Proxy::start(upstream).await;
    proxy.set(Mode::Refused);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let log = tempfile::NamedTempFile::new().expect("log file");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
        .arg("serve")
        .env("DATABASE_URL", through(&url, proxy.port))
        .env(
            "ROSTER_JWT_SECRET",
            std::str::from_utf8(common::SECRET).expect("utf-8"),
        )
        .env("ROSTER_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log.path()).expect("log"))
        .spawn()
        .expect("start roster serve");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "roster serve gave up at once: {}",
        std::fs::read_to_string(log.path()).unwrap_or_default()
    );
    assert!(
        http.get(format!("{base}/healthz")).send().await.is_err(),
        "it must not serve before it has its database"
    );
    let child = Kill(child);
    let started = Instant::now();
    proxy.set(Mode::Up);
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if let Ok(res) = http.get(format!("{base}/readyz")).send().await
            && res.status() == 200
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not ready 40 s after the database came up: {}",
            std::fs::read_to_string(log.path()).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("ready {:?} after the database came up", started.elapsed());
    drop(child);
}
