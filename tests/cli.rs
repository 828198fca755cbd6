//! The `roster` command line: schema export, account bootstrap on a brand-new database,
//! token minting, the statements of one request, configuration errors that name the variable, and the demo.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_roster");
const SECRET: &str = "cli-test-secret-that-is-32-bytes-long!";

fn roster(db: &str, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env_clear()
        .env("DATABASE_URL", db)
        .env("ROSTER_JWT_SECRET", SECRET)
        .env("RUST_LOG", "error")
        .output()
        .expect("run roster")
}

#[test]
fn schema_command_prints_the_committed_sdl() {
    let out = Command::new(BIN).arg("schema").output().unwrap();
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), committed);
}

#[tokio::test]
async fn account_create_bootstraps_a_fresh_database_and_token_mints() {
    let (db, _dir) = common::fresh_database().await;
    let out = roster(
        &db,
        &[
            "account",
            "create",
            "--name",
            "Initech",
            "--admin-email",
            "Bill@Initech.example",
            "--admin-name",
            "Bill",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let field = |k: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k} missing in {stdout}"))
            .to_owned()
    };
    assert!(field("account_id").starts_with("acct_"));
    let user_id = field("admin_user_id");
    let token = field("token");

    // The printed token works against a server on that database.
    let keys = roster::auth::jwt::JwtKeys::new(
        jsonwebtoken::Algorithm::HS256,
        roster::auth::jwt::KeySource::Secret(SECRET.as_bytes().to_vec()),
        vec![],
        "roster".into(),
        "roster".into(),
    )
    .unwrap();
    assert_eq!(keys.verify(&token).unwrap(), user_id);

    let out = roster(
        &db,
        &["token", "--email", "bill@initech.example", "--ttl", "5m"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let minted = String::from_utf8(out.stdout).unwrap();
    assert_eq!(keys.verify(minted.trim()).unwrap(), user_id);

    let out = roster(&db, &["token", "--email", "nobody@initech.example"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no active user"));

    let out = roster(&db, &["migrate"]);
    assert!(out.status.success());
}

#[tokio::test]
async fn statements_prints_the_sql_one_request_sends_with_its_values() {
    let (db, _dir) = common::fresh_database().await;
    let create = [
        "account",
        "create",
        "--name",
        "Initech",
        "--admin-email",
        "bill@initech.example",
        "--admin-name",
        "Bill",
    ];
    let out = roster(&db, &create);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout
        .lines()
        .find_map(|l| l.strip_prefix("token="))
        .unwrap();
    let user = stdout
        .lines()
        .find_map(|l| l.strip_prefix("admin_user_id="))
        .unwrap();
    let uuid = uuid::Uuid::parse_str(user.rsplit('_').next().unwrap()).unwrap();

    let query = "query($n: Int!) { viewer { email } users(first: $n) { nodes { name } } }";
    let out = roster(
        &db,
        &[
            "statements",
            "--token",
            token,
            "--query",
            query,
            "--variables",
            r#"{"n": 5}"#,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let statements: Vec<&str> = printed
        .split("\n;\n")
        .filter(|s| !s.trim().is_empty())
        .collect();
    assert!(statements.len() >= 2, "{printed}");
    assert!(
        statements
            .iter()
            .all(|s| s.trim_start().starts_with("SELECT")),
        "a read request only reads: {printed}"
    );
    // Values are inlined (no `$1`/`?` placeholders), so pgbench can replay them as they are.
    assert!(printed.contains(&uuid.to_string()), "{printed}");
    assert!(
        !printed.contains("$1") && !printed.contains(" ? "),
        "{printed}"
    );

    // A request that fails prints no statements and says why.
    let out = roster(
        &db,
        &[
            "statements",
            "--token",
            "not-a-token",
            "--query",
            "{ viewer { id } }",
        ],
    );
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("the request failed"));
}

#[test]
fn bad_configuration_names_the_variable() {
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);
    let cases: &[Case] = &[
        (
            &[("ROSTER_LISTEN", "not-an-address")],
            &["serve"],
            "ROSTER_LISTEN",
        ),
        (
            &[("ROSTER_JWT_SECRET", "short")],
            &["serve"],
            "ROSTER_JWT_SECRET",
        ),
        (&[], &["serve"], "ROSTER_JWT_SECRET"),
        (
            &[
                ("ROSTER_JWT_ALGORITHM", "HS999"),
                ("ROSTER_JWT_SECRET", SECRET),
            ],
            &["serve"],
            "ROSTER_JWT_ALGORITHM",
        ),
        (
            &[("ROSTER_JWT_ALGORITHM", "RS256")],
            &["serve"],
            "ROSTER_JWT_PUBLIC_KEY_FILE",
        ),
        (
            &[("ROSTER_LOG_FORMAT", "xml")],
            &["schema"],
            "ROSTER_LOG_FORMAT",
        ),
        (
            &[("ROSTER_REQUEST_TIMEOUT", "soon")],
            &["schema"],
            "ROSTER_REQUEST_TIMEOUT",
        ),
        (
            &[("ROSTER_MAX_DEPTH", "-1")],
            &["schema"],
            "ROSTER_MAX_DEPTH",
        ),
    ];
    for (env, args, variable) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(*args)
            .env_clear()
            .env(
                "DATABASE_URL",
                format!("sqlite:{}", dir.path().join("x.db").display()),
            )
            .env("ROSTER_LISTEN", "127.0.0.1:0");
        for (k, v) in *env {
            cmd.env(k, v);
        }
        let out = cmd.stdout(Stdio::null()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{env:?} should fail");
        assert!(
            stderr.contains(variable),
            "{env:?}: stderr should name {variable}: {stderr}"
        );
    }
}

#[tokio::test]
async fn demo_serves_graphiql_with_the_admin_token_and_prints_one_token_per_role() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(BIN)
        .arg("demo")
        .env_clear()
        .env("ROSTER_LISTEN", format!("127.0.0.1:{port}"))
        .env("ROSTER_DEMO_DB", dir.path().join("demo.db"))
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = child.stdout.take().unwrap();
    let _child = Kill(child);
    // Keep draining stdout for the life of the process: a closed pipe would break its prints.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let lines: Vec<String> = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
            let last = line.starts_with("Sender");
            lines.push(line);
            if last {
                break;
            }
        }
        lines
    })
    .await
    .unwrap();
    let text = lines.join("\n");
    for role in ["Admin", "Department Admin", "Manager", "Sender"] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(role) && l.contains("Bearer ")),
            "{role} token missing: {text}"
        );
    }
    assert!(text.contains(&format!("http://127.0.0.1:{port}/graphql")));

    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}");
    let mut ready = false;
    for _ in 0..100 {
        if http
            .get(format!("{url}/readyz"))
            .send()
            .await
            .map(|r| r.status() == 200)
            .unwrap_or(false)
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "demo server did not become ready");
    let page = http
        .get(format!("{url}/graphql"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Authorization") && page.contains("Bearer "),
        "GraphiQL opens with the Admin token"
    );

    let admin_token = lines
        .iter()
        .find(|l| l.starts_with("Admin "))
        .and_then(|l| l.split("Bearer ").nth(1))
        .unwrap()
        .to_owned();
    let body: serde_json::Value = http
        .post(format!("{url}/graphql"))
        .bearer_auth(&admin_token)
        .json(&serde_json::json!({ "query": "{ viewer { role { key } } users { totalCount } departments { totalCount } roles { builtIn } invites(first: 100) { nodes { status } } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let data = common::data(&body);
    assert_eq!(data["viewer"]["role"]["key"], "ADMIN");
    assert!(
        data["users"]["totalCount"].as_i64().unwrap() >= 200,
        "a few hundred users"
    );
    assert!(data["departments"]["totalCount"].as_i64().unwrap() >= 3);
    assert!(
        data["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["builtIn"] == false),
        "a custom role"
    );
    let statuses: std::collections::HashSet<&str> = data["invites"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), 4, "invites in every status: {statuses:?}");
}
