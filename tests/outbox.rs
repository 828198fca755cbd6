//! The mail outbox: retries with backoff while SMTP is down, giving up after the last
//! attempt, recovering with a resend, cancelled emails, racing workers that never send one
//! message twice, graceful stop, and start-up refusing a bad `ROSTER_MAIL`.

mod common;
#[path = "common/invites.rs"]
mod invites;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Org, TestApp, data};
use invites::*;
use roster::service::outbox::deliver_due;
use serde_json::Value;

async fn delivery_via_api(app: &TestApp, token: &str, id: &str) -> Value {
    invite_via_api(app, token, id).await.expect("invite")["delivery"].clone()
}

#[tokio::test]
async fn smtp_down_retries_with_backoff_fails_after_the_last_attempt_and_resend_recovers() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let down = smtp_transport(closed_port());
    let s = settings(); // 3 attempts, 300 ms base backoff
    let id = invite_one(
        &app,
        &admin,
        "patient@a.test",
        org.platform,
        org.roles["SENDER"],
    )
    .await;
    assert_eq!(
        invite_via_api(&app, &admin, &id).await.unwrap()["status"],
        "PENDING"
    );

    // Attempt 1 fails; the next one is due after the base backoff, not before.
    let before = roster::service::now_ms();
    assert_eq!(deliver_due(&app.db, down.as_ref(), &s).await.unwrap(), 0);
    let row = &outbox_of(&app, &id).await[0];
    assert_eq!((row.status.as_str(), row.attempts), ("PENDING", 1));
    assert_eq!(row.locked_until, None, "the lease is released");
    assert!(
        row.last_error.as_deref().unwrap().contains("transient"),
        "{row:?}"
    );
    assert!(row.next_attempt_at >= before + 300, "{row:?}");
    let first_gap = row.next_attempt_at;
    assert_eq!(deliver_due(&app.db, down.as_ref(), &s).await.unwrap(), 0);
    assert_eq!(outbox_of(&app, &id).await[0].attempts, 1, "not due yet");
    assert_eq!(delivery_via_api(&app, &admin, &id).await, "QUEUED");

    // Attempt 2 fails; the wait doubles.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let at = roster::service::now_ms();
    deliver_due(&app.db, down.as_ref(), &s).await.unwrap();
    let row = &outbox_of(&app, &id).await[0];
    assert_eq!((row.status.as_str(), row.attempts), ("PENDING", 2));
    assert!(row.next_attempt_at >= at + 600, "{row:?}");
    assert!(row.next_attempt_at > first_gap);

    // Attempt 3 is the last.
    tokio::time::sleep(Duration::from_millis(650)).await;
    deliver_due(&app.db, down.as_ref(), &s).await.unwrap();
    let row = &outbox_of(&app, &id).await[0];
    assert_eq!((row.status.as_str(), row.attempts), ("FAILED", 3));
    assert_eq!(delivery_via_api(&app, &admin, &id).await, "FAILED");
    let stored = invite_row(&app, &id).await;
    assert!(stored.delivery_error.as_deref().unwrap().contains("SMTP"));
    assert_eq!(
        invite_via_api(&app, &admin, &id).await.unwrap()["status"],
        "PENDING"
    );
    assert_eq!(
        deliver_due(&app.db, down.as_ref(), &s).await.unwrap(),
        0,
        "given up"
    );

    // SMTP is back: a resend queues a fresh email and it goes out.
    let (port, mut received) = smtp_sink("250 OK\r\n").await;
    let up = smtp_transport(port);
    let body = on_ids(&app, Some(&admin), "resendInvites", &[&id], false).await;
    assert_eq!(
        data(&body)["resendInvites"]["invites"][0]["delivery"],
        "QUEUED"
    );
    assert_eq!(deliver_due(&app.db, up.as_ref(), &s).await.unwrap(), 1);
    let raw = tokio::time::timeout(Duration::from_secs(5), received.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(raw.contains("To: patient@a.test"), "{raw}");
    let token = token_from(&raw);
    assert_eq!(delivery_via_api(&app, &admin, &id).await, "SENT");
    let statuses: Vec<String> = outbox_of(&app, &id)
        .await
        .into_iter()
        .map(|o| o.status.as_str().to_owned())
        .collect();
    assert_eq!(statuses, ["FAILED", "SENT"]);
    assert_eq!(invite_row(&app, &id).await.delivery_error, None);
    let body = accept(&app, &token, "Patient Person").await;
    assert_eq!(
        data(&body)["acceptInvite"]["user"]["email"],
        "patient@a.test"
    );
}

#[tokio::test]
async fn a_refused_recipient_fails_at_once() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let (port, _received) = smtp_sink("550 5.1.1 no such user\r\n").await;
    let transport = smtp_transport(port);
    let id = invite_one(
        &app,
        &admin,
        "nobody@a.test",
        org.platform,
        org.roles["SENDER"],
    )
    .await;
    assert_eq!(
        deliver_due(&app.db, transport.as_ref(), &settings())
            .await
            .unwrap(),
        0
    );
    let row = &outbox_of(&app, &id).await[0];
    assert_eq!((row.status.as_str(), row.attempts), ("FAILED", 1));
    assert!(row.last_error.as_deref().unwrap().contains("550"));
    assert_eq!(delivery_via_api(&app, &admin, &id).await, "FAILED");
}

#[tokio::test]
async fn withdrawn_deleted_and_expired_invitations_are_not_emailed() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let mail = MailDir::new();
    let keep = invite_one(
        &app,
        &admin,
        "keep@a.test",
        org.platform,
        org.roles["SENDER"],
    )
    .await;
    let withdrawn = invite_one(&app, &admin, "w@a.test", org.platform, org.roles["SENDER"]).await;
    let deleted = invite_one(&app, &admin, "d@a.test", org.platform, org.roles["SENDER"]).await;
    let expired = invite_one(&app, &admin, "e@a.test", org.platform, org.roles["SENDER"]).await;
    on_ids(&app, Some(&admin), "withdrawInvites", &[&withdrawn], false).await;
    on_ids(&app, Some(&admin), "deleteInvites", &[&deleted], false).await;
    expire(&app, &expired).await;

    assert_eq!(mail.deliver(&app).await, 1);
    let files = mail.files();
    assert_eq!(files.len(), 1);
    assert_eq!(recipient(&mail.newest()), "keep@a.test");
    for (id, status) in [
        (&keep, "SENT"),
        (&withdrawn, "CANCELLED"),
        (&deleted, "CANCELLED"),
        (&expired, "CANCELLED"),
    ] {
        assert_eq!(outbox_of(&app, id).await[0].status.as_str(), status, "{id}");
    }
    for id in [&withdrawn, &deleted, &expired] {
        assert_eq!(
            invite_row(&app, id).await.token_hash,
            None,
            "no link was made"
        );
    }
    assert_eq!(delivery_via_api(&app, &admin, &expired).await, "FAILED");
    assert_eq!(mail.deliver(&app).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_racing_never_send_one_message_twice() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let mail = MailDir::new();
    let recording = Arc::new(Recording {
        inner: mail.transport.clone(),
        sent: Mutex::new(Vec::new()),
    });
    let mut expected = Vec::new();
    for round in 0..3 {
        let items: Vec<Value> = (0..25)
            .map(|i| {
                invitation(
                    &format!("r{round}-{i}@a.test"),
                    org.platform,
                    org.roles["SENDER"],
                )
            })
            .collect();
        expected.extend((0..25).map(|i| format!("r{round}-{i}@a.test")));
        let body = invite(&app, &admin, items, false).await;
        assert_eq!(data(&body)["inviteUsers"]["changedCount"], 25);

        let run = |t: Arc<Recording>| {
            let db = app.db.clone();
            tokio::spawn(async move {
                let s = settings();
                let mut total = 0;
                for _ in 0..5 {
                    total += deliver_due(&db, t.as_ref(), &s).await.expect("pass");
                }
                total
            })
        };
        let (a, b) = (run(recording.clone()), run(recording.clone()));
        let (a, b) = (a.await.unwrap(), b.await.unwrap());
        assert_eq!(a + b, 25, "round {round}: {a} + {b}");
    }
    let mut sent = recording.sent.lock().unwrap().clone();
    sent.sort();
    expected.sort();
    assert_eq!(sent, expected, "every email exactly once");
    assert_eq!(mail.files().len(), 75);
    let outbox = outbox_rows(&app).await;
    assert!(
        outbox
            .iter()
            .all(|o| o.status.as_str() == "SENT" && o.attempts == 1 && o.locked_until.is_none())
    );
    assert!(
        invite_rows(&app)
            .await
            .iter()
            .all(|i| i.delivery.as_str() == "SENT")
    );
}

#[tokio::test]
async fn the_worker_sends_promptly_and_stops_when_asked() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let mail = MailDir::new();
    let worker = Worker::spawn(&app, mail.transport.clone(), settings());
    let started = std::time::Instant::now();
    let id = invite_one(
        &app,
        &admin,
        "soon@a.test",
        org.platform,
        org.roles["SENDER"],
    )
    .await;
    mail.wait_for(1).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    worker.stop().await;
    assert_eq!(outbox_of(&app, &id).await[0].status.as_str(), "SENT");

    // Stopped means stopped: nothing more goes out.
    invite_one(
        &app,
        &admin,
        "later@a.test",
        org.platform,
        org.roles["SENDER"],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(mail.files().len(), 1);
}

/// Runs `roster serve` with extra environment; returns (success, stderr).
fn serve_with(env: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_roster"));
    cmd.arg("serve")
        .env_clear()
        .env(
            "DATABASE_URL",
            format!("sqlite:{}", dir.path().join("r.db").display()),
        )
        .env("ROSTER_LISTEN", "127.0.0.1:0")
        .env(
            "ROSTER_JWT_SECRET",
            "a-secret-that-is-at-least-32-bytes-long!!",
        );
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run roster");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bad_mail_setting_stops_start_up_naming_the_variable() {
    let (ok, stderr) = serve_with(&[("ROSTER_MAIL", "carrier-pigeon")]);
    assert!(!ok);
    assert!(stderr.contains("ROSTER_MAIL:"), "{stderr}");
    let (ok, stderr) = serve_with(&[("ROSTER_MAIL", "smtp://mail.example.com?tls=sometimes")]);
    assert!(!ok);
    assert!(stderr.contains("ROSTER_MAIL:"), "{stderr}");
    let (ok, stderr) = serve_with(&[("ROSTER_MAIL", "log"), ("ROSTER_MAIL_FROM", "nobody")]);
    assert!(!ok);
    assert!(stderr.contains("ROSTER_MAIL_FROM"), "{stderr}");
}
