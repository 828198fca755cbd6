//! `roster seed`: a small seeded dataset, read back through the API by the big account's
//! Admin (counts, every invite status, accented search, the role mix), its storage invariants
//! (unique emails per account, ASCII emails), and the command line that makes it.

mod common;

use std::process::Command;

use common::{TestApp, data};
use roster::seed::{SeedOptions, seed};
use roster::service::email::Email;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

fn small() -> SeedOptions {
    SeedOptions {
        users: 2_000,
        accounts: 3,
        big_account_users: 1_200,
        big_account_teams: 12,
        invite_percent: 10,
        seed_value: 7,
    }
}

#[tokio::test]
async fn seeded_big_account_reads_right_through_the_api() {
    let app = TestApp::spawn().await;
    let report = seed(&app.db, &small()).await.expect("seed");
    assert_eq!(report.accounts, 3);
    assert_eq!(report.users, 2_000);
    assert_eq!(report.big_account_users, 1_200);
    assert_eq!(report.invites, 200);
    assert_eq!(report.big_account_invites, 120);
    assert!(report.invites_by_status.iter().all(|&n| n > 0));
    // The load is timed apart from the index rebuild that follows it.
    assert!(report.load_elapsed > std::time::Duration::ZERO);
    assert!(report.load_elapsed <= report.elapsed);
    assert!(report.load_rows_per_sec() >= report.rows_per_sec());

    let admin = app.token_for(report.big_admin_id.0);
    let body = app
        .gql(
            Some(&admin),
            "{ viewer { email role { key } } users { totalCount } teams { totalCount }
               roles { key userCount } }",
            json!({}),
        )
        .await;
    let d = data(&body);
    assert_eq!(d["viewer"]["email"], report.big_admin_email.as_str());
    assert_eq!(d["viewer"]["role"]["key"], "ADMIN");
    assert_eq!(d["users"]["totalCount"], 1_200);
    assert_eq!(d["teams"]["totalCount"], 12);
    let count = |key: &str| {
        d["roles"]
            .as_array()
            .and_then(|roles| roles.iter().find(|r| r["key"] == key))
            .and_then(|r| r["userCount"].as_i64())
            .unwrap_or(-1)
    };
    assert_eq!(count("ADMIN"), 1, "one Admin per account");
    assert!(count("DEPARTMENT_ADMIN") > 0 && count("MANAGER") > 100);
    assert!(count("SENDER") > count("MANAGER"));
    assert_eq!(
        count("ADMIN") + count("DEPARTMENT_ADMIN") + count("MANAGER") + count("SENDER"),
        1_200
    );

    // Every status is there, and they add up to the account's invites.
    let mut total = 0;
    for status in ["PENDING", "ACCEPTED", "EXPIRED", "WITHDRAWN"] {
        let body = app
            .gql(
                Some(&admin),
                "query($s: [InviteStatus!]) {
                   invites(filter: { statuses: $s }, first: 5) { totalCount nodes { status } }
                 }",
                json!({ "s": [status] }),
            )
            .await;
        let invites = &data(&body)["invites"];
        let n = invites["totalCount"].as_i64().unwrap_or(0);
        assert!(n > 0, "no {status} invite");
        assert!(
            invites["nodes"]
                .as_array()
                .is_some_and(|nodes| nodes.iter().all(|i| i["status"] == status))
        );
        total += n;
    }
    assert_eq!(total, 120);

    // Accented search, case-insensitive: the API finds exactly the users whose name has it.
    let body = app
        .gql(
            Some(&admin),
            r#"{ users(filter: { search: "MÜLLER" }, first: 100) { totalCount nodes { name email } } }"#,
            json!({}),
        )
        .await;
    let found = &data(&body)["users"];
    let nodes = found["nodes"].as_array().cloned().unwrap_or_default();
    assert!(!nodes.is_empty(), "no Müller found");
    assert!(nodes.iter().all(|u| {
        u["name"].as_str().is_some_and(|n| n.contains("Müller"))
            && u["email"].as_str().is_some_and(|e| e.contains("muller"))
    }));
    let in_db = app
        .db
        .conn()
        .query_one_raw(Statement::from_sql_and_values(
            app.db.backend(),
            if common::on_postgres() {
                "SELECT COUNT(*) AS n FROM users WHERE account_id = $1 AND name LIKE '%Müller%'"
            } else {
                "SELECT COUNT(*) AS n FROM users WHERE account_id = ? AND name LIKE '%Müller%'"
            },
            [report.big_account_id.into()],
        ))
        .await
        .expect("count")
        .and_then(|row| row.try_get::<i64>("", "n").ok())
        .unwrap_or(-1);
    assert_eq!(found["totalCount"].as_i64(), Some(in_db));

    // A narrow search by a full email finds that one person.
    let body = app
        .gql(
            Some(&admin),
            "query($q: String) { users(filter: { search: $q }) { totalCount nodes { id } } }",
            json!({ "q": report.big_admin_email }),
        )
        .await;
    assert_eq!(data(&body)["users"]["totalCount"], 1);

    // Emails: valid, normalized ASCII, unique per account (invites' too, among open ones).
    let rows = app
        .db
        .conn()
        .query_all_raw(Statement::from_string(
            app.db.backend(),
            "SELECT email FROM users",
        ))
        .await
        .expect("emails");
    assert_eq!(rows.len(), 2_000);
    for row in rows {
        let email: String = row.try_get("", "email").expect("email");
        assert!(email.is_ascii(), "{email}");
        assert_eq!(
            Email::parse(&email).map(|e| e.as_str().to_owned()),
            Some(email)
        );
    }
    let duplicates = app
        .db
        .conn()
        .query_all_raw(Statement::from_string(
            app.db.backend(),
            "SELECT account_id, email FROM users GROUP BY account_id, email HAVING COUNT(*) > 1",
        ))
        .await
        .expect("duplicates");
    assert!(duplicates.is_empty(), "duplicate emails in an account");
}

const SECRET: &str = "seed-test-secret-that-is-32-bytes-long!";

fn roster(db: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(args)
        .env_clear()
        .env("DATABASE_URL", db)
        .env("ROSTER_JWT_SECRET", SECRET)
        .env("RUST_LOG", "error")
        .output()
        .expect("run roster")
}

#[tokio::test]
async fn seed_command_reports_the_big_account_and_its_admin_gets_a_token() {
    let (db, _dir) = common::fresh_database().await;
    let out = roster(
        &db,
        &[
            "seed",
            "--users",
            "300",
            "--accounts",
            "2",
            "--big-account-users",
            "200",
            "--big-account-teams",
            "5",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key}= in {stdout}"))
            .to_owned()
    };
    assert_eq!(value("accounts"), "2");
    assert_eq!(value("users"), "300");
    assert_eq!(value("invites"), "30");
    assert!(value("rows_per_sec").parse::<f64>().is_ok_and(|r| r > 0.0));
    let account = value("big_account_id");
    let email = value("big_admin_email");
    assert!(account.starts_with("acct_") && email.ends_with("@globex.example"));

    let out = roster(&db, &["token", "--email", &email, "--account", &account]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("eyJ"));
}
