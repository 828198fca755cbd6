//! `roster serve` processes for tests that need more than one server on one database.

#![allow(dead_code)]

use std::fs::File;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::SECRET;

/// Server processes, killed when dropped — also when an assertion fails.
#[derive(Default)]
pub struct Servers {
    children: Vec<Child>,
    logs: Vec<tempfile::NamedTempFile>,
}

impl Servers {
    /// Starts `roster serve` on a free port over `database_url`; returns its base URL once
    /// `/healthz` answers.
    pub async fn start(&mut self, database_url: &str) -> String {
        self.start_with(database_url, &[]).await
    }

    /// Like `start`, with extra environment variables for the server.
    pub async fn start_with(&mut self, database_url: &str, env: &[(&str, &str)]) -> String {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let log = tempfile::NamedTempFile::new().expect("log file");
        let stderr = File::create(log.path()).expect("open log");
        let child = Command::new(env!("CARGO_BIN_EXE_roster"))
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env(
                "ROSTER_JWT_SECRET",
                String::from_utf8(SECRET.to_vec()).expect("utf-8 secret"),
            )
            .env("ROSTER_LISTEN", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start roster serve");
        self.children.push(child);
        self.logs.push(log);
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..120 {
            if let Ok(res) = http.get(format!("{base}/healthz")).send().await
                && res.status().is_success()
            {
                return base;
            }
            let child = self.children.last_mut().expect("child");
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(self.logs.last().expect("log").path())
                    .unwrap_or_default();
                panic!("roster serve exited with {status}:\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let log =
            std::fs::read_to_string(self.logs.last().expect("log").path()).unwrap_or_default();
        panic!("roster serve did not answer /healthz within 30 s:\n{log}");
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
