//! The newcomer's first minutes with the `roster` command: the demo checks its port before
//! printing anything, prints the port it really got, prints each role's header as the
//! JSON GraphiQL wants, keeps ANSI colours out of redirected output, and a database setting
//! that cannot work fails at once, naming `DATABASE_URL`, instead of being retried.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_roster");

/// Kills the child when the test ends, however it ends.
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn demo_refuses_a_busy_port_before_printing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let db = dir.path().join("demo.db");
    let out = Command::new(BIN)
        .arg("demo")
        .env_clear()
        .env("ROSTER_LISTEN", format!("127.0.0.1:{port}"))
        .env("ROSTER_DEMO_DB", &db)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stdout.trim().is_empty(), "nothing printed: {stdout}");
    assert!(stderr.contains("ROSTER_LISTEN"), "{stderr}");
    assert!(!db.exists(), "no demo database was made");
}

#[tokio::test]
async fn demo_on_port_zero_prints_the_real_port_json_headers_and_plain_logs() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .arg("demo")
        .env_clear()
        .env("ROSTER_LISTEN", "127.0.0.1:0")
        .env("ROSTER_DEMO_DB", dir.path().join("demo.db"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let child = Kill(child);
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let logs = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let lines: Vec<String> = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        let mut after_sender = false;
        while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
            let done = after_sender;
            after_sender = line.starts_with("Sender");
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    })
    .await
    .unwrap();
    let text = lines.join("\n");

    let url = lines
        .iter()
        .find_map(|l| l.split_once("GraphiQL (opens with the Admin's token): "))
        .map(|(_, url)| url.trim().to_owned())
        .unwrap_or_else(|| panic!("no GraphiQL URL: {text}"));
    let base = url.strip_suffix("/graphql").unwrap().to_owned();
    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(port, 0, "{text}");
    assert!(text.contains(&format!("{base}/demo/mail")), "{text}");

    // Each role's line is followed by its header as GraphiQL's JSON.
    let json_lines: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l.trim()).ok())
        .collect();
    assert_eq!(json_lines.len(), 4, "{text}");
    for role in ["Admin ", "Department Admin", "Manager", "Sender"] {
        let at = lines.iter().position(|l| l.starts_with(role)).unwrap();
        let token = lines[at].split("Bearer ").nth(1).unwrap().trim();
        let json: serde_json::Value = serde_json::from_str(lines[at + 1].trim())
            .unwrap_or_else(|_| panic!("{role}: no JSON header line: {text}"));
        assert_eq!(json["Authorization"], format!("Bearer {token}"), "{role}");
    }

    let http = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..100 {
        if http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "nothing answers on the printed port {port}");
    let admin = json_lines[0]["Authorization"].as_str().unwrap();
    let body: serde_json::Value = http
        .post(format!("{base}/graphql"))
        .header("authorization", admin)
        .json(&serde_json::json!({ "query": "{ viewer { role { key } } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(common::data(&body)["viewer"]["role"]["key"], "ADMIN");
    assert_eq!(
        http.get(format!("{base}/demo/mail"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    drop(child);
    let logs = logs.join().unwrap();
    assert!(logs.contains("roster listening"), "{logs}");
    assert!(logs.contains(&format!("127.0.0.1:{port}")), "{logs}");
    assert!(
        !logs.contains('\u{1b}'),
        "no ANSI escape codes when redirected: {logs}"
    );
}

/// Runs `roster migrate` with this `DATABASE_URL`; returns how long it took and stderr.
fn migrate_with(url: &str) -> (Duration, bool, String) {
    let started = Instant::now();
    let out = Command::new(BIN)
        .arg("migrate")
        .env_clear()
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        started.elapsed(),
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn database_settings_that_cannot_work_fail_at_once_naming_database_url() {
    let dir = tempfile::tempdir().unwrap();
    let missing_dir = format!(
        "sqlite:{}",
        dir.path().join("no/such/dir/roster.db").display()
    );
    let mut cases = vec![
        ("malformed", "mysql://root:hunter2@localhost/db".to_owned()),
        ("missing SQLite directory", missing_dir),
        (
            "malformed PostgreSQL URL",
            "postgres://u:p@localhost:notaport/db".to_owned(),
        ),
    ];
    if let Ok(url) = std::env::var("DATABASE_URL")
        && url.starts_with("postgres")
    {
        // A user that does not exist: authentication fails; no retry can fix that.
        let rest = url
            .split_once('@')
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        cases.push((
            "authentication failure",
            format!("postgres://no_such_roster_user:wrong@{rest}"),
        ));
    }
    for (what, url) in cases {
        let (took, ok, stderr) = migrate_with(&url);
        assert!(!ok, "{what} should fail");
        assert!(stderr.contains("DATABASE_URL"), "{what}: {stderr}");
        assert!(
            !stderr.contains("not reachable yet"),
            "{what} was retried: {stderr}"
        );
        assert!(
            !stderr.contains("hunter2"),
            "{what}: the password leaked: {stderr}"
        );
        assert!(
            took < Duration::from_secs(5),
            "{what} took {took:?}: {stderr}"
        );
    }
}
