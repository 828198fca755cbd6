//! A search's `totalCount` is counted once per count version of the account (issue 12,
//! item 4): asked again with nothing changed it is not recounted, and after any change —
//! made through another server over the same database — the next answer is exact again.

mod common;
#[path = "common/invites.rs"]
mod invites;
#[path = "common/users.rs"]
mod users;

use common::{Org, TestApp, data, gid, insert_users};
use serde_json::{Value, json};
use uuid::Uuid;

const TOTAL: &str =
    "query($filter: UserFilter) { users(filter: $filter, first: 1) { totalCount } }";
const NODES: &str =
    "query($filter: UserFilter) { users(filter: $filter, first: 100) { nodes { id } } }";

/// `totalCount` of `users(filter:)` as `token` sees it.
async fn total(app: &TestApp, token: &str, filter: &Value) -> i64 {
    let body = app
        .gql(Some(token), TOTAL, json!({ "filter": filter }))
        .await;
    data(&body)["users"]["totalCount"]
        .as_i64()
        .unwrap_or_else(|| panic!("totalCount: {body:#}"))
}

/// How many users `users(filter:)` lists for `token` (all on one page in these tests).
async fn listed(app: &TestApp, token: &str, filter: &Value) -> i64 {
    let body = app
        .gql(Some(token), NODES, json!({ "filter": filter }))
        .await;
    let nodes = data(&body)["users"]["nodes"]
        .as_array()
        .expect("nodes")
        .len();
    assert!(nodes < 100, "one page holds them all");
    nodes as i64
}

/// The SQL of the statements one request runs.
async fn statements_of(app: &TestApp, token: &str, filter: &Value) -> Vec<String> {
    app.db.start_recording();
    total(app, token, filter).await;
    app.db.stop_recording().into_iter().map(|s| s.sql).collect()
}

fn counts_users(sql: &[String]) -> usize {
    sql.iter()
        .filter(|s| s.contains("COUNT(") && s.contains("\"users\""))
        .count()
}

#[tokio::test]
async fn a_repeated_search_count_is_not_recounted() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    insert_users(
        &app,
        o.account_id,
        o.platform,
        o.roles["SENDER"],
        "Load",
        30,
    )
    .await;
    let admin = app.token_for(o.admin);
    let search = json!({ "search": "load" });

    let first = statements_of(&app, &admin, &search).await;
    assert_eq!(
        counts_users(&first),
        1,
        "the first count counts: {first:#?}"
    );
    for _ in 0..3 {
        let again = statements_of(&app, &admin, &search).await;
        assert_eq!(
            counts_users(&again),
            0,
            "a repeated count is answered from the cache: {again:#?}"
        );
        // The version read replaces the count: no more statements than the first time.
        assert_eq!(again.len(), first.len(), "{again:#?}");
        assert!(
            again.iter().any(|s| s.contains("count_versions")),
            "{again:#?}"
        );
        assert_eq!(total(&app, &admin, &search).await, 30);
    }
    // Another search, another reach or another filter is another count.
    let other = json!({ "search": "load 00" });
    let sql = statements_of(&app, &admin, &other).await;
    assert_eq!(counts_users(&sql), 1, "{sql:#?}");
    assert_eq!(total(&app, &admin, &other).await, 10);
    let manager = app.token_for(o.manager);
    assert_eq!(
        counts_users(&statements_of(&app, &manager, &search).await),
        1
    );
    assert_eq!(
        total(&app, &manager, &search).await,
        30,
        "Load is in Platform"
    );
    let sender = json!({ "search": "load", "roleIds": [gid::role(o.roles["SENDER"])] });
    assert_eq!(counts_users(&statements_of(&app, &admin, &sender).await), 1);
    assert_eq!(
        counts_users(&statements_of(&app, &admin, &search).await),
        0,
        "the first count is still cached"
    );

    // A write the service never saw (SQL by hand) raises the version too: counted again.
    insert_users(
        &app,
        o.account_id,
        o.mobile,
        o.roles["SENDER"],
        "Load More",
        4,
    )
    .await;
    assert_eq!(counts_users(&statements_of(&app, &admin, &search).await), 1);
    assert_eq!(total(&app, &admin, &search).await, 34);
    assert_eq!(counts_users(&statements_of(&app, &admin, &search).await), 0);
}

fn ids(users: &[Uuid]) -> Vec<String> {
    users.iter().map(|u| gid::user(*u)).collect()
}

async fn ok(app: &TestApp, token: &str, query: &str, vars: Value, field: &str) {
    let body = app.gql(Some(token), query, vars).await;
    let payload = &data(&body)[field];
    assert_eq!(payload["errors"], json!([]), "{body:#}");
}

/// The searches the counting instance keeps answering, by who asks.
struct Views {
    cases: Vec<(String, String, Value)>,
}

impl Views {
    /// Asks every case on `counting` (so its counts are cached before the next change).
    async fn warm(&self, counting: &TestApp) {
        for (_, token, filter) in &self.cases {
            total(counting, token, filter).await;
        }
    }

    /// Every case's `totalCount` on `counting` equals the users it lists.
    async fn assert_exact(&self, counting: &TestApp, after: &str) {
        for (label, token, filter) in &self.cases {
            let expected = listed(counting, token, filter).await;
            let counted = total(counting, token, filter).await;
            assert_eq!(counted, expected, "{label}, after {after}");
        }
    }
}

#[tokio::test]
async fn search_counts_stay_exact_after_every_kind_of_change_from_another_instance() {
    // A counts and caches; every change goes through B, another server (own pool, own
    // cache) over the same database.
    let a = TestApp::spawn().await;
    let b = a.another_instance().await;
    let o = Org::create(&a).await;
    let load = insert_users(&a, o.account_id, o.platform, o.roles["SENDER"], "Load", 20).await;
    let admin = a.token_for(o.admin);
    let dept_admin = a.token_for(o.dept_admin);
    let search = json!({ "search": "load" });
    let views = Views {
        cases: vec![
            ("admin, search".into(), admin.clone(), search.clone()),
            (
                "admin, search with suspended".into(),
                admin.clone(),
                json!({ "search": "load", "statuses": ["ACTIVE", "SUSPENDED"] }),
            ),
            (
                "admin, search of Managers".into(),
                admin.clone(),
                json!({ "search": "load", "roleIds": [gid::role(o.roles["MANAGER"])] }),
            ),
            (
                "admin, search in Engineering".into(),
                admin.clone(),
                json!({ "search": "load", "departmentIds": [gid::dept(o.engineering)] }),
            ),
            (
                "department admin, search".into(),
                dept_admin.clone(),
                search.clone(),
            ),
        ],
    };
    views.warm(&a).await;
    views.assert_exact(&a, "loading users").await;
    assert_eq!(total(&a, &admin, &search).await, 20);

    let by_b = b.token_for(o.admin);
    // An invitation, accepted: a new user.
    let mail = invites::MailDir::new();
    views.warm(&a).await;
    invites::invite_one(
        &b,
        &by_b,
        "load.newcomer@a.test",
        o.platform,
        o.roles["SENDER"],
    )
    .await;
    views.assert_exact(&a, "an invitation").await;
    views.warm(&a).await;
    assert_eq!(mail.deliver(&b).await, 1);
    let raw = mail.wait_for(1).await.pop().expect("mail");
    data(&invites::accept(&b, &invites::token_from(&raw), "Load Newcomer").await);
    views.assert_exact(&a, "an accepted invitation").await;
    assert_eq!(total(&a, &admin, &search).await, 21);

    // Role and team changes.
    views.warm(&a).await;
    ok(
        &b,
        &by_b,
        users::CHANGE_ROLE,
        users::role_vars(&ids(&load[..5]), &gid::role(o.roles["MANAGER"]), false),
        "changeUsersRole",
    )
    .await;
    views.assert_exact(&a, "a role change").await;
    assert_eq!(
        total(
            &a,
            &admin,
            &json!({ "search": "load", "roleIds": [gid::role(o.roles["MANAGER"])] })
        )
        .await,
        5
    );
    views.warm(&a).await;
    ok(
        &b,
        &by_b,
        users::CHANGE_TEAM,
        users::team_vars(&ids(&load[3..8]), &gid::team(o.emea), false),
        "changeUsersTeam",
    )
    .await;
    views.assert_exact(&a, "a team change").await;
    assert_eq!(total(&a, &dept_admin, &search).await, 16);

    // Delete, suspend, reactivate.
    views.warm(&a).await;
    ok(
        &b,
        &by_b,
        users::DELETE,
        users::delete_vars(&ids(&load[8..10]), false),
        "deleteUsers",
    )
    .await;
    views.assert_exact(&a, "a delete").await;
    assert_eq!(total(&a, &admin, &search).await, 19);
    let suspend =
        "mutation($ids: [ID!]!) { suspendUsers(input: { userIds: $ids }) { errors { code } } }";
    let reactivate =
        "mutation($ids: [ID!]!) { reactivateUsers(input: { userIds: $ids }) { errors { code } } }";
    views.warm(&a).await;
    ok(
        &b,
        &by_b,
        suspend,
        json!({ "ids": ids(&load[10..13]) }),
        "suspendUsers",
    )
    .await;
    views.assert_exact(&a, "a suspension").await;
    assert_eq!(total(&a, &admin, &search).await, 16);
    views.warm(&a).await;
    ok(
        &b,
        &by_b,
        reactivate,
        json!({ "ids": ids(&load[10..11]) }),
        "reactivateUsers",
    )
    .await;
    views.assert_exact(&a, "a reactivation").await;
    assert_eq!(total(&a, &admin, &search).await, 17);

    // A deleted user restored by accepting a new invitation.
    views.warm(&a).await;
    invites::invite_one(&b, &by_b, "load.008@a.test", o.mobile, o.roles["SENDER"]).await;
    assert_eq!(mail.deliver(&b).await, 1);
    let raw = mail.wait_for(2).await;
    let newest = raw
        .iter()
        .find(|m| invites::recipient(m).contains("load.008"))
        .expect("the restore invitation")
        .clone();
    data(&invites::accept(&b, &invites::token_from(&newest), "Load Restored").await);
    views.assert_exact(&a, "a restore").await;
    assert_eq!(total(&a, &admin, &search).await, 18);

    // A team moved to another department changes who a Department Admin reaches and what
    // a department filter matches.
    views.warm(&a).await;
    let body = b
        .gql(
            Some(&by_b),
            "mutation($id: ID!, $dept: ID) { updateTeam(input: {id: $id, departmentId: $dept}) { team { id } } }",
            json!({ "id": gid::team(o.emea), "dept": gid::dept(o.engineering) }),
        )
        .await;
    data(&body);
    views
        .assert_exact(&a, "a team moved between departments")
        .await;

    // Nothing changed since the last answers: the counting instance counts nothing.
    a.db.start_recording();
    views.assert_exact(&a, "nothing").await;
    let sql: Vec<String> = a.db.stop_recording().into_iter().map(|s| s.sql).collect();
    // `assert_exact` lists (the page statement only) and counts (cached) each case.
    assert_eq!(counts_users(&sql), 0, "{sql:#?}");
}
