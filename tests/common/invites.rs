//! Helpers for the invitation tests: the invite mutations over HTTP, the mail outbox (a file
//! transport in a temp dir, a tiny SMTP sink), reading tokens out of `.eml` files, and
//! looking at the stored rows.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use roster::entity::{audit_event, invite, outbox, user};
use roster::mail::{MailError, MailSpec, MailTransport, OutgoingEmail, build_transport};
use roster::service::ids::InviteId;
use roster::service::outbox::{self as worker, OutboxSettings};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::common::{TestApp, gid};

/// The base of accept links in test emails.
pub const PUBLIC_URL: &str = "http://roster.test";

pub const INVITE_USERS: &str = r#"
mutation($input: InviteUsersInput!) {
  inviteUsers(input: $input) {
    invites { id email status delivery sendCount expiresAt team { id } role { id } invitedBy { id } }
    changedCount
    errors { index id email code message }
    dryRun
    operationId
  }
}"#;

const INVITES_FIELDS: &str = r#"
    invites { id email status delivery sendCount expiresAt lastSentAt withdrawnAt acceptedAt }
    changedCount
    errors { index id email code message }
    dryRun
    operationId"#;

const DELETE_FIELDS: &str = r#"
    deletedIds
    changedCount
    errors { index id email code message }
    dryRun
    operationId"#;

pub const ACCEPT: &str = r#"
mutation($input: AcceptInviteInput!) {
  acceptInvite(input: $input) { user { id email name team { id } role { id } } token }
}"#;

/// One invitation input.
pub fn invitation(email: &str, team: impl Into<uuid::Uuid>, role: impl Into<uuid::Uuid>) -> Value {
    json!({ "email": email, "teamId": gid::team(team), "roleId": gid::role(role) })
}

/// Calls `inviteUsers`; returns the whole response body.
pub async fn invite(app: &TestApp, token: &str, invitations: Vec<Value>, dry_run: bool) -> Value {
    app.gql(
        Some(token),
        INVITE_USERS,
        json!({ "input": { "invitations": invitations, "dryRun": dry_run } }),
    )
    .await
}

/// Calls `inviteUsers` with one invitation that must succeed; returns the invite's id.
pub async fn invite_one(
    app: &TestApp,
    token: &str,
    email: &str,
    team: uuid::Uuid,
    role: uuid::Uuid,
) -> String {
    let body = invite(app, token, vec![invitation(email, team, role)], false).await;
    let payload = &crate::common::data(&body)["inviteUsers"];
    assert_eq!(payload["errors"], json!([]), "{body:#}");
    payload["invites"][0]["id"]
        .as_str()
        .expect("invite id")
        .to_owned()
}

/// Calls `resendInvites`, `withdrawInvites` or `deleteInvites` (by mutation name).
pub async fn on_ids(
    app: &TestApp,
    token: Option<&str>,
    mutation: &str,
    ids: &[&str],
    dry_run: bool,
) -> Value {
    let fields = if mutation == "deleteInvites" {
        DELETE_FIELDS
    } else {
        INVITES_FIELDS
    };
    let query =
        format!("mutation($input: InviteIdsInput!) {{ {mutation}(input: $input) {{ {fields} }} }}");
    app.gql(
        token,
        &query,
        json!({ "input": { "inviteIds": ids, "dryRun": dry_run } }),
    )
    .await
}

/// Calls `acceptInvite` without an access token.
pub async fn accept(app: &TestApp, token: &str, name: &str) -> Value {
    app.gql(
        None,
        ACCEPT,
        json!({ "input": { "token": token, "name": name } }),
    )
    .await
}

/// `extensions.reason` of the first error.
pub fn reason(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["reason"].as_str()
}

/// Reads one invite through the API (`invite(id:)`); `None` when it is not found.
pub async fn invite_via_api(app: &TestApp, token: &str, id: &str) -> Option<Value> {
    let body = app
        .gql(
            Some(token),
            "query($id: ID!) { invite(id: $id) { id email status delivery sendCount expiresAt acceptedAt withdrawnAt } }",
            json!({ "id": id }),
        )
        .await;
    if crate::common::error_code(&body) == Some("NOT_FOUND") {
        return None;
    }
    Some(crate::common::data(&body)["invite"].clone())
}

// ---- stored rows ----

/// The uuid inside an external invite id.
pub fn uuid_of(invite_id: &str) -> uuid::Uuid {
    InviteId::parse(invite_id).expect("invite id").0
}

pub async fn invite_rows(app: &TestApp) -> Vec<invite::Model> {
    invite::Entity::find()
        .order_by_asc(invite::Column::CreatedAt)
        .order_by_asc(invite::Column::Id)
        .all(app.db.conn())
        .await
        .expect("invites")
}

pub async fn invite_row(app: &TestApp, invite_id: &str) -> invite::Model {
    invite::Entity::find_by_id(uuid_of(invite_id))
        .one(app.db.conn())
        .await
        .expect("query")
        .expect("invite row")
}

pub async fn outbox_rows(app: &TestApp) -> Vec<outbox::Model> {
    outbox::Entity::find()
        .order_by_asc(outbox::Column::CreatedAt)
        .order_by_asc(outbox::Column::Id)
        .all(app.db.conn())
        .await
        .expect("outbox")
}

pub async fn outbox_of(app: &TestApp, invite_id: &str) -> Vec<outbox::Model> {
    outbox::Entity::find()
        .filter(outbox::Column::InviteId.eq(uuid_of(invite_id)))
        .order_by_asc(outbox::Column::CreatedAt)
        .order_by_asc(outbox::Column::Id)
        .all(app.db.conn())
        .await
        .expect("outbox")
}

pub async fn audit_rows(app: &TestApp) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .order_by_asc(audit_event::Column::Id)
        .all(app.db.conn())
        .await
        .expect("audit")
}

pub async fn users_with_email(app: &TestApp, email: &str) -> Vec<user::Model> {
    user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .all(app.db.conn())
        .await
        .expect("users")
}

/// Moves an invite's expiry into the past, as time passing would.
pub async fn expire(app: &TestApp, invite_id: &str) {
    invite::Entity::update_many()
        .col_expr(
            invite::Column::ExpiresAt,
            Expr::value(roster::service::now_ms() - 60_000),
        )
        .filter(invite::Column::Id.eq(uuid_of(invite_id)))
        .exec(app.db.conn())
        .await
        .expect("expire");
}

// ---- mail ----

/// A file transport writing into its own temp dir.
pub struct MailDir {
    pub dir: tempfile::TempDir,
    pub transport: Arc<dyn MailTransport>,
}

impl MailDir {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let transport = build_transport(
            &MailSpec::File(dir.path().to_path_buf()),
            "Roster <no-reply@roster.test>",
        )
        .expect("file transport");
        MailDir { dir, transport }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The `.eml` files, oldest first.
    pub fn files(&self) -> Vec<PathBuf> {
        eml_files(self.path())
    }

    /// The newest message, raw.
    pub fn newest(&self) -> String {
        let files = self.files();
        let path = files.last().expect("an .eml file");
        std::fs::read_to_string(path).expect("read .eml")
    }

    /// Waits until at least `n` messages exist; returns them, oldest first.
    pub async fn wait_for(&self, n: usize) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let files = self.files();
            if files.len() >= n {
                return files
                    .iter()
                    .map(|p| std::fs::read_to_string(p).expect("read .eml"))
                    .collect();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {n} emails, found {}",
                files.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Runs one worker pass with this transport; returns how many emails went out.
    pub async fn deliver(&self, app: &TestApp) -> usize {
        worker::deliver_due(&app.db, self.transport.as_ref(), &settings())
            .await
            .expect("deliver_due")
    }
}

pub fn eml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read mail dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
}

/// Worker settings for tests: fast polling, short backoff.
pub fn settings() -> OutboxSettings {
    let mut s = OutboxSettings::new(PUBLIC_URL);
    s.poll_interval = Duration::from_millis(50);
    s.base_backoff = Duration::from_millis(300);
    s.max_attempts = 3;
    s
}

/// A running outbox worker.
pub struct Worker {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<()>,
}

impl Worker {
    pub fn spawn(
        app: &TestApp,
        transport: Arc<dyn MailTransport>,
        settings: OutboxSettings,
    ) -> Self {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(worker::run(
            app.db.clone(),
            transport,
            settings,
            async move {
                let _ = rx.await;
            },
        ));
        Worker {
            stop: Some(tx),
            handle,
        }
    }

    /// Asks the worker to stop and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(5), &mut self.handle)
            .await
            .expect("worker stops within 5 s")
            .expect("worker task");
    }
}

/// The decoded text parts of a formatted `multipart/alternative` message.
pub fn decoded_parts(raw: &str) -> Vec<(String, String)> {
    let start = raw.find("boundary=\"").expect("multipart") + "boundary=\"".len();
    let boundary = &raw[start..start + raw[start..].find('"').expect("boundary end")];
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    for chunk in raw.split(delimiter.as_str()).skip(1) {
        if chunk.starts_with("--") {
            break;
        }
        let (headers, body) = chunk.split_once("\r\n\r\n").expect("part headers");
        let lower = headers.to_ascii_lowercase();
        let kind = if lower.contains("text/plain") {
            "text/plain"
        } else if lower.contains("text/html") {
            "text/html"
        } else {
            "other"
        };
        let body = if lower.contains("content-transfer-encoding: quoted-printable") {
            decode_quoted_printable(body)
        } else if lower.contains("content-transfer-encoding: base64") {
            decode_base64(body)
        } else {
            body.to_owned()
        };
        parts.push((kind.to_owned(), body.replace("\r\n", "\n")));
    }
    parts
}

fn decode_quoted_printable(body: &str) -> String {
    let bytes = body.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes[i + 1..].starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if bytes[i + 1..].starts_with(b"\n") {
                i += 2;
                continue;
            }
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("hex");
            out.push(u8::from_str_radix(hex, 16).expect("hex digit"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf-8")
}

fn decode_base64(body: &str) -> String {
    use base64::Engine;
    let clean: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(clean)
        .expect("base64");
    String::from_utf8(bytes).expect("utf-8")
}

/// The recipient (`To:`) of a raw message.
pub fn recipient(raw: &str) -> String {
    raw.lines()
        .find_map(|l| l.strip_prefix("To: "))
        .expect("To header")
        .trim()
        .to_owned()
}

/// The token of the accept link in a raw message's text part.
pub fn token_from(raw: &str) -> String {
    let parts = decoded_parts(raw);
    let (_, text) = parts
        .iter()
        .find(|(kind, _)| kind == "text/plain")
        .expect("text part");
    let marker = format!("{PUBLIC_URL}/accept-invite?token=");
    let start = text.find(&marker).expect("accept link") + marker.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// A transport that records every recipient and passes the email on, slowly enough that
/// concurrent workers interleave.
pub struct Recording {
    pub inner: Arc<dyn MailTransport>,
    pub sent: Mutex<Vec<String>>,
}

#[async_trait]
impl MailTransport for Recording {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        tokio::time::sleep(Duration::from_millis(3)).await;
        self.inner.send(email).await?;
        self.sent.lock().expect("lock").push(email.to.clone());
        Ok(())
    }

    fn describe(&self) -> String {
        "recording".into()
    }
}

/// A port nothing listens on.
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// An SMTP transport to `127.0.0.1:port`.
pub fn smtp_transport(port: u16) -> Arc<dyn MailTransport> {
    let spec: MailSpec = format!("smtp://127.0.0.1:{port}")
        .parse()
        .expect("smtp spec");
    build_transport(&spec, "Roster <no-reply@roster.test>").expect("smtp transport")
}

/// A minimal SMTP server on 127.0.0.1: answers RCPT with `rcpt_reply` and forwards each
/// message received through DATA.
pub async fn smtp_sink(rcpt_reply: &'static str) -> (u16, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut reader = BufReader::new(read);
                if write.write_all(b"220 sink ESMTP ready\r\n").await.is_err() {
                    return;
                }
                let mut line = String::new();
                loop {
                    line.clear();
                    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply: &str = match verb.as_str() {
                        "EHLO" | "HELO" => "250 sink\r\n",
                        "MAIL" | "RSET" | "NOOP" => "250 OK\r\n",
                        "RCPT" => rcpt_reply,
                        "DATA" => {
                            if write
                                .write_all(b"354 end with <CRLF>.<CRLF>\r\n")
                                .await
                                .is_err()
                            {
                                return;
                            }
                            let mut data = String::new();
                            loop {
                                line.clear();
                                if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                                    return;
                                }
                                if line == ".\r\n" {
                                    break;
                                }
                                data.push_str(line.strip_prefix('.').unwrap_or(&line));
                            }
                            let _ = tx.send(data);
                            "250 queued\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => "500 unrecognised command\r\n",
                    };
                    if write.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, rx)
}
