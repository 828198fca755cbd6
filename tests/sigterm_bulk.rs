//! SIGTERM never leaves half a bulk change: the real `roster serve` gets SIGTERM while a
//! `changeUsersRole` on 1,000 users is in flight. The server drains the request and exits 0;
//! the database (read directly afterwards) holds all 1,000 changes with their audit events,
//! or — had the request not been accepted — none.

mod common;
#[path = "common/users.rs"]
mod users;

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{SECRET, gid};
use roster::entity::{audit_event, user};
use roster::service::{Db, accounts};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use users::{CHANGE_ROLE, built_in_role, seed_users};
use uuid::Uuid;

const USERS: usize = 1000;

/// A `roster serve` process and what it writes to stderr.
struct Server {
    child: Child,
    base: String,
    log: Arc<Mutex<String>>,
}

impl Server {
    async fn start(database_url: &str) -> Server {
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port")
                .port();
            let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
                .arg("serve")
                .env("DATABASE_URL", database_url)
                .env(
                    "ROSTER_JWT_SECRET",
                    std::str::from_utf8(SECRET).expect("utf-8 secret"),
                )
                .env("ROSTER_LISTEN", format!("127.0.0.1:{port}"))
                // tower_http at debug logs "started processing request" when a request has
                // reached the service: from then on it is in flight.
                .env("RUST_LOG", "info,sqlx=warn,sea_orm=warn,tower_http=debug")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start roster serve");
            let stderr = child.stderr.take().expect("stderr");
            let log = Arc::new(Mutex::new(String::new()));
            let sink = log.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    let mut log = sink.lock().expect("log");
                    log.push_str(&line);
                    log.push('\n');
                }
            });
            let mut server = Server {
                child,
                base: format!("http://127.0.0.1:{port}"),
                log,
            };
            if server
                .wait_for_log("roster listening", Duration::from_secs(30))
                .await
            {
                return server;
            }
            // The port was taken between choosing and binding: try another.
            let _ = server.child.kill();
            let _ = server.child.wait();
        }
        panic!("roster serve did not start");
    }

    fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }

    /// Waits until the log contains `text`; false when the process ended or time ran out.
    async fn wait_for_log(&mut self, text: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.log().contains(text) {
                return true;
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                return self.log().contains(text);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        false
    }

    fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits for the process to exit; returns its exit code.
    async fn exit_code(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "roster serve did not exit within {within:?}:\n{}",
            self.log()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How many of `ids` hold `role`, and how many audit events record a role change of them.
async fn state_of(db: &Db, ids: &[Uuid], role: Uuid) -> (u64, u64) {
    let mut with_role = 0;
    let mut events = 0;
    for chunk in ids.chunks(500) {
        with_role += user::Entity::find()
            .filter(user::Column::Id.is_in(chunk.to_vec()))
            .filter(user::Column::RoleId.eq(role))
            .count(db.conn())
            .await
            .expect("count users");
        events += audit_event::Entity::find()
            .filter(audit_event::Column::TargetId.is_in(chunk.to_vec()))
            .filter(audit_event::Column::Action.eq("user.role_changed"))
            .count(db.conn())
            .await
            .expect("count audit events");
    }
    (with_role, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_bulk_role_change_leaves_all_or_nothing_and_exits_cleanly() {
    let (url, _dir) = common::fresh_database().await;
    let db = Db::connect(&url).await.expect("connect");
    db.migrate().await.expect("migrate");
    let created = accounts::create(&db, "Term Org", "admin@term.test", "Ada")
        .await
        .expect("account");
    let account = created.account.id;
    let sender = built_in_role(&db, account.0, "SENDER").await;
    let manager = built_in_role(&db, account.0, "MANAGER").await;
    let keys = common::test_keys();
    let token = keys
        .issue(&gid::user(created.admin.id), Duration::from_secs(600))
        .expect("signing key")
        .expect("sign");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");

    // SIGTERM at several moments after the request reached the server.
    for delay_ms in [0u64, 5, 25, 100] {
        let ids = seed_users(&db, account, created.team.id, sender, USERS).await;
        let user_ids: Vec<String> = ids.iter().map(|id| gid::user(*id)).collect();
        let mut server = Server::start(&url).await;
        let request = tokio::spawn({
            let (http, base, token) = (http.clone(), server.base.clone(), token.clone());
            let vars = json!({ "ids": user_ids, "roleId": gid::role(manager), "dryRun": false });
            async move {
                let res = http
                    .post(format!("{base}/graphql"))
                    .bearer_auth(token)
                    .json(&json!({ "query": CHANGE_ROLE, "variables": vars }))
                    .send()
                    .await?;
                res.json::<Value>().await
            }
        });
        assert!(
            server
                .wait_for_log("started processing request", Duration::from_secs(30))
                .await,
            "the request never reached the server:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        let in_flight = !request.is_finished();
        server.sigterm();
        let answer = request.await.expect("request task");
        let code = server.exit_code(Duration::from_secs(30)).await;
        let log = server.log();
        assert_eq!(code, Some(0), "exit code; log:\n{log}");
        assert!(log.contains("shutting down"), "{log}");

        let (with_role, events) = state_of(&db, &ids, manager).await;
        println!(
            "SIGTERM {delay_ms} ms after the request arrived (in flight: {in_flight}): {} of {USERS} changed, {events} audit events, exit code {code:?}",
            with_role
        );
        match answer {
            Ok(body) => {
                // Answered: the drained request finished its whole change.
                let payload = &body["data"]["changeUsersRole"];
                assert_eq!(payload["errors"], json!([]), "{body}");
                assert_eq!(payload["changedCount"], USERS, "{body}");
                assert!(payload["operationId"].is_string(), "{body}");
                assert_eq!((with_role, events), (USERS as u64, USERS as u64));
            }
            Err(e) => {
                // Cut off: then nothing may be half-done.
                println!("  the request got no answer: {e}");
                assert!(
                    (with_role, events) == (0, 0)
                        || (with_role, events) == (USERS as u64, USERS as u64),
                    "half a bulk change: {with_role} users, {events} events"
                );
            }
        }
    }
}
