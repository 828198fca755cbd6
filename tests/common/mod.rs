//! Test harness: starts the real router on an ephemeral port over a fresh database — a
//! SQLite file by default, or a brand-new PostgreSQL database when `DATABASE_URL` points
//! at a PostgreSQL server — and talks to it over HTTP with real JWTs.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use roster::app::{self, AppState, HttpSettings};
use roster::auth::jwt::{JwtKeys, KeySource};
use roster::graphql::Limits;
use roster::service::Db;
use roster::service::ids::UserId;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

/// The HS256 secret of test servers.
pub const SECRET: &[u8] = b"test-secret-that-is-at-least-32-bytes-long";

/// A running server over its own database.
pub struct TestApp {
    pub url: String,
    pub db: Db,
    pub keys: Arc<JwtKeys>,
    pub http: reqwest::Client,
    /// The database's URL, for a second instance over the same database.
    pub database_url: String,
    /// Last, so the database goes after the pool above it.
    _scratch: Scratch,
}

/// Whether the tests run against PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var("DATABASE_URL")
        .map(|u| u.starts_with("postgres"))
        .unwrap_or(false)
}

/// What a test's fresh database leaves behind, removed when the guard drops: the SQLite
/// file's temporary directory, or the PostgreSQL database (dropped `WITH (FORCE)`, so a
/// server still holding connections does not keep it alive). `ROSTER_KEEP_TEST_DBS=1`
/// keeps PostgreSQL databases for a post-mortem; CI drops leftovers before each run.
pub enum Scratch {
    Sqlite(tempfile::TempDir),
    Postgres {
        server: String,
        name: String,
    },
    /// Another instance's database: the first instance removes it.
    Shared,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let Scratch::Postgres { server, name } = self else {
            return;
        };
        if std::env::var_os("ROSTER_KEEP_TEST_DBS").is_some() {
            return;
        }
        let (server, name) = (server.clone(), name.clone());
        // Drop may run inside the test's runtime, which must not block on itself: a
        // short-lived runtime on its own thread does the work.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async move {
                let admin = Database::connect(server.as_str()).await.ok()?;
                let done = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .ok();
                let _ = admin.close().await;
                done
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("note: could not drop a test database (CI drops leftovers)");
        }
    }
}

/// A fresh database URL: a new PostgreSQL database, or a SQLite file in a temp dir. Keep the
/// guard alive as long as the database is used.
pub async fn fresh_database() -> (String, Scratch) {
    match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => {
            let name = format!("roster_test_{}", uuid::Uuid::now_v7().simple());
            let admin = Database::connect(url.as_str())
                .await
                .expect("connect to DATABASE_URL");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            let _ = admin.close().await;
            let base = match url.rfind('/') {
                Some(i) if url[..i].contains("//") && i > url.find("//").unwrap_or(0) + 1 => {
                    &url[..i]
                }
                _ => url.as_str(),
            };
            let database_url = format!("{base}/{name}");
            (database_url, Scratch::Postgres { server: url, name })
        }
        _ => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite:{}", dir.path().join("roster.db").display());
            (url, Scratch::Sqlite(dir))
        }
    }
}

pub fn test_keys() -> JwtKeys {
    JwtKeys::new(
        jsonwebtoken::Algorithm::HS256,
        KeySource::Secret(SECRET.to_vec()),
        vec![],
        "roster".into(),
        "roster".into(),
    )
    .expect("test keys")
}

impl TestApp {
    /// Starts a server with default limits.
    pub async fn spawn() -> Self {
        Self::spawn_with(Limits::default(), HttpSettings::default()).await
    }

    /// Starts a server with the given limits.
    pub async fn spawn_with(limits: Limits, http: HttpSettings) -> Self {
        Self::spawn_full(limits, http, test_keys()).await
    }

    /// Starts a server with the given limits and token keys.
    pub async fn spawn_full(limits: Limits, http: HttpSettings, keys: JwtKeys) -> Self {
        let (url, scratch) = fresh_database().await;
        let db = Db::connect(&url).await.expect("connect");
        db.migrate().await.expect("migrate");
        Self::serve(url, db, limits, http, keys, scratch).await
    }

    /// A second server over this one's database, with its own connection pool and caches
    /// (as another process would have), default limits and the same token keys. Keep this
    /// app alive while the second one is used.
    pub async fn another_instance(&self) -> Self {
        let db = Db::connect(&self.database_url).await.expect("connect");
        Self::serve(
            self.database_url.clone(),
            db,
            Limits::default(),
            HttpSettings::default(),
            test_keys(),
            Scratch::Shared,
        )
        .await
    }

    async fn serve(
        database_url: String,
        db: Db,
        limits: Limits,
        http: HttpSettings,
        keys: JwtKeys,
        scratch: Scratch,
    ) -> Self {
        let keys = Arc::new(keys);
        let state = AppState::new(db.clone(), keys.clone(), limits, http);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            axum::serve(listener, app::service(state))
                .await
                .expect("serve");
        });
        TestApp {
            url: format!("http://{addr}"),
            db,
            keys,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            database_url,
            _scratch: scratch,
        }
    }

    /// A token for a user id.
    pub fn token_for(&self, user_id: uuid::Uuid) -> String {
        self.keys
            .issue(&UserId(user_id).to_string(), Duration::from_secs(600))
            .expect("signing key")
            .expect("sign")
    }

    /// Posts a GraphQL request with an optional bearer token; returns the JSON body.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .http
            .post(format!("{}/graphql", self.url))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("request");
        res.json().await.expect("json body")
    }

    /// Posts raw bytes with headers; returns status and body text.
    pub async fn raw(
        &self,
        body: Vec<u8>,
        content_type: &str,
        token: Option<&str>,
    ) -> (u16, String) {
        let mut req = self
            .http
            .post(format!("{}/graphql", self.url))
            .header("content-type", content_type)
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        (status, res.text().await.expect("text"))
    }
}

/// The `extensions.code` of the first error, if any.
pub fn error_code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

/// Asserts there are no errors and returns `data`.
pub fn data(body: &Value) -> &Value {
    assert!(
        body.get("errors").is_none() || body["errors"].is_null(),
        "unexpected errors: {body:#}"
    );
    &body["data"]
}

/// A small organization with one user per built-in role, and a second account.
pub struct Org {
    pub account_id: uuid::Uuid,
    pub roles: std::collections::HashMap<&'static str, uuid::Uuid>,
    pub general: uuid::Uuid,
    pub engineering: uuid::Uuid,
    pub sales: uuid::Uuid,
    pub platform: uuid::Uuid,
    pub mobile: uuid::Uuid,
    pub emea: uuid::Uuid,
    pub admin: uuid::Uuid,
    pub dept_admin: uuid::Uuid,
    pub manager: uuid::Uuid,
    pub sender: uuid::Uuid,
    pub alice: uuid::Uuid,
    pub bob: uuid::Uuid,
    pub carol: uuid::Uuid,
    /// The other account and its admin and one of its users.
    pub other_account: uuid::Uuid,
    pub other_admin: uuid::Uuid,
    pub other_user: uuid::Uuid,
    pub other_team: uuid::Uuid,
}

impl Org {
    /// Creates the fixture in the app's database.
    pub async fn create(app: &TestApp) -> Org {
        use roster::service::email::Email;
        use roster::service::text::Name;
        use roster::service::{accounts, now_ms, teams};
        let db = &app.db;
        let now = now_ms();
        let a = accounts::create(db, "Org A", "admin@a.test", "Ada Admin")
            .await
            .expect("account");
        let roles: std::collections::HashMap<&'static str, uuid::Uuid> =
            ["ADMIN", "DEPARTMENT_ADMIN", "MANAGER", "SENDER"]
                .into_iter()
                .zip(a.roles.iter().map(|r| r.id.0))
                .collect();
        let conn = db.conn();
        let name = |s: &str| Name::parse("name", s).expect("name");
        let engineering = teams::insert_department(conn, a.account.id, &name("Engineering"), now)
            .await
            .expect("dept");
        let sales = teams::insert_department(conn, a.account.id, &name("Sales"), now)
            .await
            .expect("dept");
        let platform = teams::insert_team(
            conn,
            a.account.id,
            &name("Platform"),
            Some(engineering.id),
            now,
        )
        .await
        .expect("team");
        let mobile = teams::insert_team(
            conn,
            a.account.id,
            &name("Mobile"),
            Some(engineering.id),
            now,
        )
        .await
        .expect("team");
        let emea = teams::insert_team(conn, a.account.id, &name("EMEA"), Some(sales.id), now)
            .await
            .expect("team");
        let user =
            |email: &'static str, display: &'static str, team: uuid::Uuid, role: &'static str| {
                let roles = roles.clone();
                async move {
                    accounts::insert_user(
                        conn,
                        a.account.id,
                        &Email::parse(email).expect("email"),
                        &Name::parse("name", display).expect("name"),
                        team.into(),
                        roles[role].into(),
                        now_ms(),
                    )
                    .await
                    .expect("user")
                    .id
                    .0
                }
            };
        let dept_admin = user(
            "dana@a.test",
            "Dana Department",
            platform.id.0,
            "DEPARTMENT_ADMIN",
        )
        .await;
        let manager = user("manny@a.test", "Manny Manager", platform.id.0, "MANAGER").await;
        let sender = user("sam@a.test", "Sam Sender", platform.id.0, "SENDER").await;
        let alice = user("alice@a.test", "Alice Äpfelbaum", mobile.id.0, "SENDER").await;
        let bob = user("bob@a.test", "Bob 100%_Sure", emea.id.0, "SENDER").await;
        let carol = user("carol@a.test", "Carol Çelik", a.team.id.0, "SENDER").await;
        let b = accounts::create(db, "Org B", "admin@b.test", "Bea Admin")
            .await
            .expect("account b");
        let other_user = accounts::insert_user(
            conn,
            b.account.id,
            &Email::parse("alice@b.test").expect("email"),
            &Name::parse("name", "Alice Other").expect("name"),
            b.team.id,
            b.roles[3].id,
            now_ms(),
        )
        .await
        .expect("user b")
        .id
        .0;
        Org {
            account_id: a.account.id.0,
            roles,
            general: a.team.id.0,
            engineering: engineering.id.0,
            sales: sales.id.0,
            platform: platform.id.0,
            mobile: mobile.id.0,
            emea: emea.id.0,
            admin: a.admin.id.0,
            dept_admin,
            manager,
            sender,
            alice,
            bob,
            carol,
            other_account: b.account.id.0,
            other_admin: b.admin.id.0,
            other_user,
            other_team: b.team.id.0,
        }
    }
}

/// External ids, as the API shows them.
pub mod gid {
    use roster::service::ids::*;
    pub fn user(id: impl Into<uuid::Uuid>) -> String {
        UserId(id.into()).to_string()
    }
    pub fn team(id: impl Into<uuid::Uuid>) -> String {
        TeamId(id.into()).to_string()
    }
    pub fn role(id: impl Into<uuid::Uuid>) -> String {
        RoleId(id.into()).to_string()
    }
    pub fn dept(id: impl Into<uuid::Uuid>) -> String {
        DepartmentId(id.into()).to_string()
    }
    pub fn invite(id: impl Into<uuid::Uuid>) -> String {
        InviteId(id.into()).to_string()
    }
}

/// Inserts `n` active users into `team` with `role`, named `{prefix} {i:03}`; returns their ids.
pub async fn insert_users(
    app: &TestApp,
    org_account: uuid::Uuid,
    team: uuid::Uuid,
    role: uuid::Uuid,
    prefix: &str,
    n: usize,
) -> Vec<uuid::Uuid> {
    use roster::entity::user;
    use roster::service::{now_ms, text};
    use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel};
    let now = now_ms();
    let models: Vec<user::Model> = (0..n)
        .map(|i| {
            let name = format!("{prefix} {i:03}");
            let email = format!("{}.{i:03}@a.test", prefix.to_lowercase().replace(' ', "."));
            user::Model {
                id: uuid::Uuid::now_v7().into(),
                account_id: org_account.into(),
                name_key: text::fold(&name),
                search_text: text::search_text(&name, &email),
                email,
                name,
                team_id: team.into(),
                role_id: role.into(),
                // Distinct, shuffled creation times so CREATED_AT ordering is exercised.
                created_at: now - ((i * 7919) % 1000) as i64,
                updated_at: now,
                deleted_at: None,
                tokens_valid_after: None,
                status: user::Status::Active,
                external_id: None,
                version: 1,
            }
        })
        .collect();
    for chunk in models.chunks(200) {
        user::Entity::insert_many(
            chunk
                .iter()
                .map(|m| m.clone().into_active_model().reset_all()),
        )
        .exec(app.db.conn())
        .await
        .expect("insert users");
    }
    models.into_iter().map(|m| m.id.0).collect()
}

/// Inserts an invitation row directly (status is derived from the times given).
#[allow(clippy::too_many_arguments)]
pub async fn insert_invite(
    app: &TestApp,
    account: uuid::Uuid,
    email: &str,
    team: uuid::Uuid,
    role: uuid::Uuid,
    expires_in_ms: i64,
    accepted: bool,
    withdrawn: bool,
) -> uuid::Uuid {
    use roster::entity::invite;
    use roster::service::now_ms;
    use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel};
    let now = now_ms();
    let model = invite::Model {
        id: uuid::Uuid::now_v7().into(),
        account_id: account.into(),
        email: email.to_owned(),
        team_id: team.into(),
        role_id: role.into(),
        invited_by: None,
        token_hash: None,
        created_at: now,
        expires_at: now + expires_in_ms,
        last_sent_at: Some(now),
        send_count: 1,
        accepted_at: accepted.then_some(now),
        accepted_user_id: None,
        withdrawn_at: withdrawn.then_some(now),
        deleted_at: None,
        delivery: invite::Delivery::Sent,
        delivery_error: None,
        updated_at: now,
    };
    invite::Entity::insert(model.clone().into_active_model().reset_all())
        .exec(app.db.conn())
        .await
        .expect("insert invite");
    model.id.0
}
