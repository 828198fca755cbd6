//! Event fan-out benchmark (issue 13): the time from a 1,000-user `changeUsersRole` on
//! server A to the last of its 1,000 events at a GraphQL subscriber on server B, both
//! `roster serve` processes on one PostgreSQL database. Run through `bench/fanout`, which
//! creates the database and builds the binaries; see bench/README.md.
//!
//! Environment: `FANOUT_DATABASE_URL` (an empty PostgreSQL database), `FANOUT_ROSTER` (the
//! `roster` binary), `FANOUT_USERS` (1000), `FANOUT_ROUNDS` (5).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use roster::auth::jwt::{JwtKeys, KeySource};
use roster::service::email::Email;
use roster::service::ids::{RoleId, UserId};
use roster::service::text::Name;
use roster::service::{Db, accounts, now_ms};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const SECRET: &str = "fanout-benchmark-secret-at-least-32-bytes";

struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn start(servers: &mut Servers, binary: &str, url: &str) -> anyhow::Result<String> {
    let port = free_port()?;
    let child = Command::new(binary)
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("ROSTER_JWT_SECRET", SECRET)
        .env("ROSTER_LISTEN", format!("127.0.0.1:{port}"))
        .env("ROSTER_RATE_LIMIT_PER_USER", "0")
        .env("ROSTER_RATE_LIMIT_PER_IP", "0")
        .env("ROSTER_COST_BUDGET_PER_USER", "0")
        .env("ROSTER_COST_BUDGET_PER_IP", "0")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()?;
    servers.0.push(child);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..240 {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            return Ok(base);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    anyhow::bail!("roster serve on {base} did not come up")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("FANOUT_DATABASE_URL")?;
    let binary = env("FANOUT_ROSTER", "target/release/roster");
    let n: usize = env("FANOUT_USERS", "1000").parse()?;
    let rounds: usize = env("FANOUT_ROUNDS", "5").parse()?;

    let db = Db::connect(&url).await?;
    db.migrate().await?;
    let created = accounts::create(&db, "Fan-out", "admin@fanout.test", "Fan Admin")
        .await
        .map_err(anyhow::Error::from)?;
    let roles: Vec<String> = [2, 3]
        .iter()
        .map(|&i| RoleId(created.roles[i].id.0).to_string())
        .collect();
    let mut users = Vec::with_capacity(n);
    for i in 0..n {
        let u = accounts::insert_user(
            db.conn(),
            created.account.id,
            &Email::parse(&format!("fan{i:05}@fanout.test"))
                .ok_or_else(|| anyhow::anyhow!("bad email"))?,
            &Name::parse("name", &format!("Fan {i:05}")).map_err(anyhow::Error::from)?,
            created.team.id,
            created.roles[3].id,
            now_ms(),
        )
        .await
        .map_err(anyhow::Error::from)?;
        users.push(UserId(u.id.0).to_string());
    }
    let keys = JwtKeys::new(
        jsonwebtoken::Algorithm::HS256,
        KeySource::Secret(SECRET.as_bytes().to_vec()),
        vec![],
        "roster".into(),
        "roster".into(),
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    let token = keys
        .issue(
            &UserId(created.admin.id.0).to_string(),
            Duration::from_secs(3600),
        )
        .ok_or_else(|| anyhow::anyhow!("no signing key"))?
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;

    let mut servers = Servers(Vec::new());
    let a = start(&mut servers, &binary, &url).await?;
    let b = start(&mut servers, &binary, &url).await?;

    // The subscriber on B.
    let mut request =
        format!("{}/graphql", b.replacen("http://", "ws://", 1)).into_client_request()?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await?;
    let send = |v: Value| Message::Text(v.to_string().into());
    ws.send(send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } })))
        .await?;
    ws.send(send(json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { events { id targetId } }" } })))
        .await?;
    ws.send(send(json!({ "type": "ping" }))).await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.as_str().contains("\"pong\"") => break,
            Some(Ok(_)) => {}
            other => anyhow::bail!("subscription failed: {other:?}"),
        }
    }

    let http = reqwest::Client::new();
    let query = "mutation($input: ChangeUsersRoleInput!) { changeUsersRole(input: $input) { changedCount } }";
    println!(
        "round\tmutation_ms\tfirst_event_after_response_ms\tlast_event_after_response_ms\tlast_event_after_request_ms"
    );
    let mut lasts = Vec::new();
    for round in 0..rounds {
        let role = &roles[round % 2];
        let t0 = Instant::now();
        let body: Value = http
            .post(format!("{a}/graphql"))
            .bearer_auth(&token)
            .json(&json!({ "query": query, "variables": { "input": { "userIds": users, "roleId": role } } }))
            .send()
            .await?
            .json()
            .await?;
        let t1 = Instant::now();
        if body["data"]["changeUsersRole"]["changedCount"] != json!(n) {
            anyhow::bail!("unexpected answer: {body}");
        }
        let mut got = 0;
        let mut first = None;
        while got < n {
            match tokio::time::timeout(Duration::from_secs(30), ws.next()).await? {
                Some(Ok(Message::Text(t))) => {
                    let m: Value = serde_json::from_str(t.as_str())?;
                    match m["type"].as_str() {
                        Some("next") => {
                            got += 1;
                            first.get_or_insert_with(Instant::now);
                        }
                        Some("ping") => ws.send(send(json!({ "type": "pong" }))).await?,
                        _ => anyhow::bail!("unexpected message {m}"),
                    }
                }
                Some(Ok(_)) => {}
                other => anyhow::bail!("subscription ended: {other:?}"),
            }
        }
        let t2 = Instant::now();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let first = first.unwrap_or(t2);
        println!(
            "{round}\t{:.1}\t{:.1}\t{:.1}\t{:.1}",
            ms(t1 - t0),
            ms(first.saturating_duration_since(t1)),
            ms(t2.saturating_duration_since(t1)),
            ms(t2 - t0)
        );
        lasts.push(ms(t2.saturating_duration_since(t1)));
    }
    lasts.sort_by(|x, y| x.total_cmp(y));
    let median = lasts[lasts.len() / 2];
    let max = lasts[lasts.len() - 1];
    println!(
        "summary\t{n} events\tcommit->last event at B: median {median:.1} ms, max {max:.1} ms (target <= 1000 ms)"
    );
    Ok(())
}
