//! Concurrency soak: many clients run random bulk mutations against two `roster serve`
//! processes sharing one PostgreSQL database (on SQLite: one process, since two processes
//! on one SQLite file is not a supported deployment) for a bounded time — default 20 s,
//! `ROSTER_SOAK_SECONDS` to change, at most 60. Emails go to `.eml` files (`ROSTER_MAIL=file:`)
//! and clients accept invitations with the tokens they carry, sometimes two at once.
//!
//! Afterwards, read from the database directly:
//! - every account still has an active Admin;
//! - no two active users of an account share an email;
//! - every successful payload's `changedCount` is matched by exactly that many audit events
//!   of its action under its `operationId`, and no audit event belongs to an operation no
//!   payload reported (a refused or dry-run one);
//! - every invitation was accepted at most once: one winner per token, one user per
//!   accepted invitation;
//! - no email was sent twice: one `.eml` file per sent outbox row, per recipient.

mod common;
#[path = "common/invites.rs"]
mod invites;
#[path = "common/users.rs"]
mod users;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{SECRET, gid};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use roster::auth::jwt::JwtKeys;
use roster::entity::{audit_event, invite, outbox, user};
use roster::service::ids::{OperationId, UserId};
use roster::service::text::Name;
use roster::service::{Db, accounts, now_ms, teams};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

const CLIENTS: usize = 16;
const ACCOUNTS: usize = 3;
/// Admins per account at the start (the one `accounts::create` makes, plus more).
const ADMINS: usize = 4;
const MEMBERS_PER_TEAM: usize = 8;
const TEAMS: usize = 3;
/// Invitable addresses per account: few, so invitations collide with each other and with
/// the users they became.
const ADDRESSES: usize = 25;

const INVITE: &str = r#"
mutation($input: InviteUsersInput!) {
  inviteUsers(input: $input) { invites { id email } changedCount errors { code } dryRun operationId }
}"#;
const CHANGE_ROLE: &str = r#"
mutation($ids: [ID!]!, $roleId: ID!, $dryRun: Boolean) {
  changeUsersRole(input: { userIds: $ids, roleId: $roleId, dryRun: $dryRun }) {
    users { id role { key } } changedCount errors { code } dryRun operationId
  }
}"#;
const CHANGE_TEAM: &str = r#"
mutation($ids: [ID!]!, $teamId: ID!, $dryRun: Boolean) {
  changeUsersTeam(input: { userIds: $ids, teamId: $teamId, dryRun: $dryRun }) {
    users { id } changedCount errors { code } dryRun operationId
  }
}"#;
const DELETE: &str = r#"
mutation($ids: [ID!]!, $dryRun: Boolean) {
  deleteUsers(input: { userIds: $ids, dryRun: $dryRun }) {
    deletedIds changedCount errors { code } dryRun operationId
  }
}"#;
const ACCEPT: &str = r#"
mutation($input: AcceptInviteInput!) { acceptInvite(input: $input) { user { id email } } }"#;

fn on_ids(mutation: &str) -> String {
    format!(
        "mutation($input: InviteIdsInput!) {{ {mutation}(input: $input) {{ invites {{ id }} changedCount errors {{ code }} dryRun operationId }} }}"
    )
}

/// One account of the soak and what the clients believe about it.
struct Account {
    id: Uuid,
    domain: String,
    teams: Vec<Uuid>,
    /// Built-in role ids by key.
    roles: BTreeMap<&'static str, Uuid>,
    state: Mutex<Belief>,
}

/// What the clients have seen: may lag behind the database (other clients race), which is
/// fine — it only steers what the next request picks.
#[derive(Default)]
struct Belief {
    users: Vec<Uuid>,
    admins: HashSet<Uuid>,
    invites: Vec<String>,
}

/// A payload that reported a write.
#[derive(Debug)]
struct Written {
    mutation: &'static str,
    operation_id: Uuid,
    changed: u64,
}

#[derive(Default)]
struct Ledger {
    written: Vec<Written>,
    /// Outcomes by mutation and outcome (`changed`, `unchanged`, item or top-level code).
    outcomes: BTreeMap<(String, String), usize>,
    /// acceptInvite winners per token.
    accept_winners: HashMap<String, usize>,
    /// Tokens two clients tried at the same moment.
    raced_tokens: usize,
}

struct Soak {
    http: reqwest::Client,
    servers: Vec<String>,
    keys: JwtKeys,
    accounts: Vec<Account>,
    mail_dir: PathBuf,
    ledger: Mutex<Ledger>,
}

fn audit_action(mutation: &str) -> &'static str {
    match mutation {
        "changeUsersRole" => "user.role_changed",
        "changeUsersTeam" => "user.team_changed",
        "deleteUsers" => "user.deleted",
        "inviteUsers" => "invite.created",
        "resendInvites" => "invite.resent",
        "withdrawInvites" => "invite.withdrawn",
        other => panic!("no audit action for {other}"),
    }
}

impl Soak {
    fn token(&self, user: Uuid) -> String {
        self.keys
            .issue(&UserId(user).to_string(), Duration::from_secs(3600))
            .expect("signing key")
            .expect("sign")
    }

    async fn post(&self, server: usize, token: Option<&str>, query: &str, vars: Value) -> Value {
        let mut req = self
            .http
            .post(format!("{}/graphql", self.servers[server]))
            .json(&json!({ "query": query, "variables": vars }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("request");
        res.json().await.expect("json body")
    }

    fn outcome(&self, mutation: &str, outcome: &str) {
        *self
            .ledger
            .lock()
            .expect("ledger")
            .outcomes
            .entry((mutation.to_owned(), outcome.to_owned()))
            .or_default() += 1;
    }

    /// Books a bulk payload; returns it when something was written.
    fn book(&self, mutation: &'static str, body: &Value, dry_run: bool) -> Option<Value> {
        if let Some(code) = common::error_code(body) {
            assert_ne!(code, "INTERNAL_SERVER_ERROR", "{mutation}: {body}");
            self.outcome(mutation, code);
            return None;
        }
        let payload = body["data"][mutation].clone();
        let errors = payload["errors"].as_array().expect("errors").clone();
        let changed = payload["changedCount"].as_u64().expect("changedCount");
        if !errors.is_empty() {
            // Refused: nothing written, nothing reported as written.
            assert!(payload["operationId"].is_null(), "{body}");
            assert_eq!(changed, 0, "{body}");
            self.outcome(mutation, errors[0]["code"].as_str().expect("code"));
            return None;
        }
        if dry_run || changed == 0 {
            assert!(payload["operationId"].is_null(), "{body}");
            self.outcome(mutation, if dry_run { "dry run" } else { "unchanged" });
            return None;
        }
        let op = payload["operationId"].as_str().expect("operationId");
        let op = OperationId::parse(op).expect("an operation id").0;
        self.outcome(mutation, "changed");
        self.ledger.lock().expect("ledger").written.push(Written {
            mutation,
            operation_id: op,
            changed,
        });
        Some(payload)
    }

    /// One random request of one client.
    async fn step(&self, rng: &mut StdRng) {
        let a = &self.accounts[rng.random_range(0..self.accounts.len())];
        let server = rng.random_range(0..self.servers.len());
        let dry_run = rng.random_bool(0.05);
        let (actor, users, invites) = {
            let b = a.state.lock().expect("belief");
            let admins: Vec<Uuid> = b.admins.iter().copied().collect();
            let actor = if !admins.is_empty() && rng.random_bool(0.9) {
                admins[rng.random_range(0..admins.len())]
            } else {
                b.users[rng.random_range(0..b.users.len())]
            };
            let n = rng.random_range(1..=4);
            // Often the admins themselves, so demotions run into the last Admin.
            let pool: &[Uuid] = if !admins.is_empty() && rng.random_bool(0.4) {
                &admins
            } else {
                &b.users
            };
            let users: Vec<Uuid> = (0..n)
                .map(|_| pool[rng.random_range(0..pool.len())])
                .collect();
            let invites: Vec<String> = if b.invites.is_empty() {
                Vec::new()
            } else {
                (0..rng.random_range(1..=3))
                    .map(|_| b.invites[rng.random_range(0..b.invites.len())].clone())
                    .collect()
            };
            (actor, users, invites)
        };
        let token = self.token(actor);
        let mut ids: Vec<String> = users.iter().map(|u| gid::user(*u)).collect();
        ids.dedup();
        match rng.random_range(0..100) {
            0..25 => {
                // Admins get promoted, and demoted more often than promoted.
                let keys = ["ADMIN", "MANAGER", "SENDER", "SENDER", "DEPARTMENT_ADMIN"];
                let key = keys[rng.random_range(0..keys.len())];
                let vars =
                    json!({ "ids": ids, "roleId": gid::role(a.roles[key]), "dryRun": dry_run });
                let body = self.post(server, Some(&token), CHANGE_ROLE, vars).await;
                if let Some(payload) = self.book("changeUsersRole", &body, dry_run) {
                    let mut b = a.state.lock().expect("belief");
                    for u in payload["users"].as_array().expect("users") {
                        let id = UserId::parse(u["id"].as_str().expect("id")).expect("id").0;
                        if u["role"]["key"] == "ADMIN" {
                            b.admins.insert(id);
                        } else {
                            b.admins.remove(&id);
                        }
                    }
                }
            }
            25..40 => {
                let team = a.teams[rng.random_range(0..a.teams.len())];
                let vars = json!({ "ids": ids, "teamId": gid::team(team), "dryRun": dry_run });
                let body = self.post(server, Some(&token), CHANGE_TEAM, vars).await;
                self.book("changeUsersTeam", &body, dry_run);
            }
            40..46 => {
                let ids = &ids[..1];
                let vars = json!({ "ids": ids, "dryRun": dry_run });
                let body = self.post(server, Some(&token), DELETE, vars).await;
                if let Some(payload) = self.book("deleteUsers", &body, dry_run) {
                    let mut b = a.state.lock().expect("belief");
                    for id in payload["deletedIds"].as_array().expect("deletedIds") {
                        let id = UserId::parse(id.as_str().expect("id")).expect("id").0;
                        b.admins.remove(&id);
                    }
                }
            }
            46..66 => {
                let n = rng.random_range(1..=3);
                let invitations: Vec<Value> = (0..n)
                    .map(|_| {
                        let key = ["MANAGER", "SENDER", "ADMIN"][rng.random_range(0..3)];
                        json!({
                            "email": format!("p{}@{}", rng.random_range(0..ADDRESSES), a.domain),
                            "teamId": gid::team(a.teams[rng.random_range(0..a.teams.len())]),
                            "roleId": gid::role(a.roles[key]),
                        })
                    })
                    .collect();
                let vars = json!({ "input": { "invitations": invitations, "dryRun": dry_run } });
                let body = self.post(server, Some(&token), INVITE, vars).await;
                if let Some(payload) = self.book("inviteUsers", &body, dry_run) {
                    let mut b = a.state.lock().expect("belief");
                    for i in payload["invites"].as_array().expect("invites") {
                        b.invites.push(i["id"].as_str().expect("id").to_owned());
                    }
                }
            }
            66..76 if !invites.is_empty() => {
                let vars = json!({ "input": { "inviteIds": invites, "dryRun": dry_run } });
                let body = self
                    .post(server, Some(&token), &on_ids("resendInvites"), vars)
                    .await;
                self.book("resendInvites", &body, dry_run);
            }
            76..82 if !invites.is_empty() => {
                let vars = json!({ "input": { "inviteIds": invites, "dryRun": dry_run } });
                let body = self
                    .post(server, Some(&token), &on_ids("withdrawInvites"), vars)
                    .await;
                self.book("withdrawInvites", &body, dry_run);
            }
            _ => self.accept(rng, a).await,
        }
    }

    /// Accepts an invitation with the token of one of the account's emails — sometimes two
    /// clients with the same token at once, through both servers.
    async fn accept(&self, rng: &mut StdRng, a: &Account) {
        let mine: Vec<PathBuf> = invites::eml_files(&self.mail_dir)
            .into_iter()
            .filter(|p| {
                std::fs::read_to_string(p)
                    .map(|raw| invites::recipient(&raw).ends_with(&a.domain))
                    .unwrap_or(false)
            })
            .collect();
        if mine.is_empty() {
            return;
        }
        // Newer emails more often: their links are the ones still alive.
        let pick = mine.len() - 1 - rng.random_range(0..mine.len().min(8));
        let raw = std::fs::read_to_string(&mine[pick]).expect("read .eml");
        let token = invites::token_from(&raw);
        let vars = json!({ "input": { "token": token, "name": "Soak Joiner" } });
        let bodies = if rng.random_bool(0.3) {
            self.ledger.lock().expect("ledger").raced_tokens += 1;
            let (x, y) = tokio::join!(
                self.post(0, None, ACCEPT, vars.clone()),
                self.post(self.servers.len() - 1, None, ACCEPT, vars.clone())
            );
            vec![x, y]
        } else {
            vec![
                self.post(rng.random_range(0..self.servers.len()), None, ACCEPT, vars)
                    .await,
            ]
        };
        for body in bodies {
            if let Some(code) = common::error_code(&body) {
                assert_ne!(code, "INTERNAL_SERVER_ERROR", "acceptInvite: {body}");
                let reason = invites::reason(&body).unwrap_or(code);
                self.outcome("acceptInvite", reason);
                continue;
            }
            let id = body["data"]["acceptInvite"]["user"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("acceptInvite: {body}"));
            let id = UserId::parse(id).expect("user id").0;
            self.outcome("acceptInvite", "accepted");
            *self
                .ledger
                .lock()
                .expect("ledger")
                .accept_winners
                .entry(token.clone())
                .or_default() += 1;
            let mut b = a.state.lock().expect("belief");
            if !b.users.contains(&id) {
                b.users.push(id);
            }
        }
    }
}

/// Server processes, killed when dropped — also when an assertion fails.
#[derive(Default)]
struct Servers {
    children: Vec<Child>,
    logs: Vec<tempfile::NamedTempFile>,
}

impl Servers {
    async fn start(&mut self, database_url: &str, mail_dir: &Path) -> String {
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
                std::str::from_utf8(SECRET).expect("utf-8 secret"),
            )
            .env("ROSTER_LISTEN", format!("127.0.0.1:{port}"))
            .env("ROSTER_MAIL", format!("file:{}", mail_dir.display()))
            .env("ROSTER_PUBLIC_URL", invites::PUBLIC_URL)
            // The soak is the only client: rate limits would only hide concurrency.
            .env("ROSTER_RATE_LIMIT_PER_USER", "0")
            .env("ROSTER_RATE_LIMIT_PER_IP", "0")
            .env("ROSTER_ACCEPT_INVITE_PER_IP", "0")
            .env("ROSTER_COST_BUDGET_PER_USER", "0")
            .env("ROSTER_COST_BUDGET_PER_IP", "0")
            .env("RUST_LOG", "warn")
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
                panic!(
                    "roster serve exited with {status}:\n{}",
                    self.log(self.logs.len() - 1)
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("roster serve did not answer /healthz within 30 s");
    }

    fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.logs[i].path()).unwrap_or_default()
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

/// Creates the accounts: admins, teams and members, directly in the database.
async fn organization(db: &Db) -> Vec<Account> {
    let mut out = Vec::new();
    for n in 0..ACCOUNTS {
        let domain = format!("acct{n}.test");
        let created = accounts::create(
            db,
            &format!("Soak {n}"),
            &format!("first@{domain}"),
            "First",
        )
        .await
        .expect("account");
        let roles: BTreeMap<&'static str, Uuid> =
            ["ADMIN", "DEPARTMENT_ADMIN", "MANAGER", "SENDER"]
                .into_iter()
                .map(|k| {
                    (
                        k,
                        created
                            .roles
                            .iter()
                            .find(|r| r.key.map(|b| b.as_str()) == Some(k))
                            .expect("role")
                            .id
                            .0,
                    )
                })
                .collect();
        let mut team_ids = vec![created.team.id.0];
        for t in 1..TEAMS {
            let name = Name::parse("name", &format!("Team {t}")).expect("name");
            let team = teams::insert_team(db.conn(), created.account.id, &name, None, now_ms())
                .await
                .expect("team");
            team_ids.push(team.id.0);
        }
        let mut belief = Belief::default();
        belief.users.push(created.admin.id.0);
        belief.admins.insert(created.admin.id.0);
        let admins = users::seed_users(
            db,
            created.account.id,
            created.team.id,
            roles["ADMIN"],
            ADMINS - 1,
        )
        .await;
        belief.users.extend(&admins);
        belief.admins.extend(&admins);
        for (t, team) in team_ids.iter().enumerate() {
            let role = if t == 0 {
                roles["MANAGER"]
            } else {
                roles["SENDER"]
            };
            belief.users.extend(
                users::seed_users(db, created.account.id, *team, role, MEMBERS_PER_TEAM).await,
            );
        }
        out.push(Account {
            id: created.account.id.0,
            domain,
            teams: team_ids,
            roles,
            state: Mutex::new(belief),
        });
    }
    out
}

fn soak_seconds() -> u64 {
    std::env::var("ROSTER_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
        .clamp(1, 60)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_bulk_mutations_on_two_servers_keep_every_invariant() {
    let (url, _dir) = common::fresh_database().await;
    let db = Db::connect(&url).await.expect("connect");
    db.migrate().await.expect("migrate");
    let accounts = organization(&db).await;
    let audit_before: HashSet<Uuid> = audit_event::Entity::find()
        .all(db.conn())
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.id.0)
        .collect();
    let mail = tempfile::tempdir().expect("mail dir");
    let mut servers = Servers::default();
    let mut bases = vec![servers.start(&url, mail.path()).await];
    if common::on_postgres() {
        bases.push(servers.start(&url, mail.path()).await);
    } else {
        eprintln!("SQLite: one server process (two processes need a shared PostgreSQL)");
    }
    let soak = Arc::new(Soak {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client"),
        servers: bases,
        keys: common::test_keys(),
        accounts,
        mail_dir: mail.path().to_path_buf(),
        ledger: Mutex::new(Ledger::default()),
    });

    let seconds = soak_seconds();
    let seed: u64 = std::env::var("ROSTER_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!(
        "soak: {seconds} s, {CLIENTS} clients, {} server(s), seed {seed} (ROSTER_SOAK_SEED to repeat the choices)",
        soak.servers.len()
    );
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let soak = soak.clone();
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(seed.wrapping_add(c as u64));
                let mut requests = 0usize;
                while Instant::now() < deadline {
                    soak.step(&mut rng).await;
                    requests += 1;
                }
                requests
            })
        })
        .collect();
    let mut requests = 0;
    for c in clients {
        requests += c.await.expect("client task");
    }
    println!("soak: {requests} requests in {seconds} s");

    // Let both workers deliver what is queued.
    let drained = Instant::now() + Duration::from_secs(30);
    loop {
        let pending = outbox::Entity::find()
            .filter(outbox::Column::Status.eq("PENDING"))
            .all(db.conn())
            .await
            .expect("outbox");
        if pending.is_empty() {
            break;
        }
        assert!(
            Instant::now() < drained,
            "{} emails still pending",
            pending.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The servers must have stayed healthy: no internal errors were logged.
    for i in 0..soak.servers.len() {
        let log = servers.log(i);
        assert!(!log.contains("internal error"), "server {i} log:\n{log}");
    }
    drop(servers);

    let ledger = std::mem::take(&mut *soak.ledger.lock().expect("ledger"));
    for ((mutation, outcome), n) in &ledger.outcomes {
        println!("  {mutation:16} {outcome:28} {n}");
    }

    let users = user::Entity::find().all(db.conn()).await.expect("users");
    for a in &soak.accounts {
        // Every account keeps an active Admin.
        let admins = users
            .iter()
            .filter(|u| {
                u.account_id.0 == a.id && u.deleted_at.is_none() && u.role_id.0 == a.roles["ADMIN"]
            })
            .count();
        println!("  account {}: {admins} active admins", a.domain);
        assert!(admins >= 1, "{} has no active Admin", a.domain);
    }
    // No two active users of an account share an email.
    let mut emails: HashMap<(Uuid, &str), usize> = HashMap::new();
    for u in users.iter().filter(|u| u.deleted_at.is_none()) {
        *emails
            .entry((u.account_id.0, u.email.as_str()))
            .or_default() += 1;
    }
    let shared: Vec<_> = emails.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        shared.is_empty(),
        "active users sharing an email: {shared:?}"
    );

    // Every reported change has its audit events, and nothing else has any.
    let events: Vec<audit_event::Model> = audit_event::Entity::find()
        .all(db.conn())
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| !audit_before.contains(&e.id.0))
        .collect();
    let mut by_op: HashMap<Uuid, BTreeMap<&str, u64>> = HashMap::new();
    for e in &events {
        *by_op
            .entry(e.operation_id.0)
            .or_default()
            .entry(e.action.as_str())
            .or_default() += 1;
    }
    let mut per_action: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for w in &ledger.written {
        let action = audit_action(w.mutation);
        let found = by_op.remove(&w.operation_id).unwrap_or_default();
        assert_eq!(
            found,
            BTreeMap::from([(action, w.changed)]),
            "{w:?}: audit events of its operation"
        );
        let entry = per_action.entry(action).or_default();
        entry.0 += w.changed;
        entry.1 += found[action];
    }
    for (action, (changed, events)) in &per_action {
        println!("  {action:20} changedCount sum {changed:5}, audit events {events:5}");
    }
    // What is left are the accepted invitations (no payload reports their operation): an
    // accept writes `invite.accepted` and `user.created` or `user.restored`, nothing else.
    let winners: usize = ledger.accept_winners.values().sum();
    for (op, actions) in &by_op {
        let accepted = actions.get("invite.accepted").copied().unwrap_or(0);
        let users = actions
            .get("user.created")
            .or(actions.get("user.restored"))
            .copied()
            .unwrap_or(0);
        assert!(
            accepted == 1 && users == 1 && actions.len() == 2,
            "audit events of an operation no payload reported: {op}: {actions:?}"
        );
    }
    assert_eq!(by_op.len(), winners, "accept operations vs. accept winners");

    // Every invitation was accepted at most once, by one winner, into one user.
    let losers_of_races = ledger.raced_tokens;
    for (token, n) in &ledger.accept_winners {
        assert_eq!(*n, 1, "token {token} was accepted {n} times");
    }
    let mut accepted_per_invite: HashMap<Uuid, usize> = HashMap::new();
    for e in events.iter().filter(|e| e.action == "invite.accepted") {
        *accepted_per_invite.entry(e.target_id).or_default() += 1;
    }
    assert!(
        accepted_per_invite.values().all(|n| *n == 1),
        "{accepted_per_invite:?}"
    );
    let invite_rows = invite::Entity::find()
        .all(db.conn())
        .await
        .expect("invites");
    let accepted: Vec<&invite::Model> = invite_rows
        .iter()
        .filter(|i| i.accepted_at.is_some())
        .collect();
    assert_eq!(accepted.len(), winners, "accepted invitations vs. winners");
    assert!(accepted.iter().all(|i| i.accepted_user_id.is_some()));
    let accepted_users: HashSet<Uuid> = accepted
        .iter()
        .filter_map(|i| i.accepted_user_id.map(|u| u.0))
        .collect();
    println!(
        "  {winners} invitations accepted ({losers_of_races} tokens raced by two clients), into {} distinct users",
        accepted_users.len()
    );

    // No email was sent twice: one .eml per sent outbox row, recipient by recipient.
    let rows = outbox::Entity::find().all(db.conn()).await.expect("outbox");
    let mut sent: BTreeMap<String, usize> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.status.as_str() == "SENT") {
        *sent.entry(r.recipient.clone()).or_default() += 1;
    }
    let mut files: BTreeMap<String, usize> = BTreeMap::new();
    let mut tokens = HashSet::new();
    for p in invites::eml_files(mail.path()) {
        let raw = std::fs::read_to_string(&p).expect("read .eml");
        *files.entry(invites::recipient(&raw)).or_default() += 1;
        assert!(
            tokens.insert(invites::token_from(&raw)),
            "one token in two emails"
        );
    }
    println!(
        "  {} emails written, {} outbox rows sent",
        files.values().sum::<usize>(),
        sent.values().sum::<usize>()
    );
    assert_eq!(files, sent, "emails per recipient vs. sent outbox rows");
}
