//! What each built-in role sees: the whole account, a department, a team, or only itself;
//! and nothing of another account, not even through `node(id:)`.

mod common;

use common::{Org, TestApp, data, error_code, gid, insert_invite};
use serde_json::{Value, json};

const USERS: &str = "{ users(first: 100) { totalCount nodes { id } } }";

fn ids(body: &Value, path: &str) -> Vec<String> {
    let mut v: Vec<String> = data(body)[path]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn each_role_sees_its_scope_of_users() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let everyone = [
        o.admin,
        o.dept_admin,
        o.manager,
        o.sender,
        o.alice,
        o.bob,
        o.carol,
    ];

    let admin = app
        .gql(Some(&app.token_for(o.admin)), USERS, json!({}))
        .await;
    assert_eq!(
        ids(&admin, "users"),
        sorted(everyone.iter().map(|u| gid::user(*u)).collect())
    );
    assert_eq!(data(&admin)["users"]["totalCount"], 7);

    // Department Admin of Engineering: Platform and Mobile.
    let dept = app
        .gql(Some(&app.token_for(o.dept_admin)), USERS, json!({}))
        .await;
    let expected = [o.dept_admin, o.manager, o.sender, o.alice];
    assert_eq!(
        ids(&dept, "users"),
        sorted(expected.iter().map(|u| gid::user(*u)).collect())
    );
    assert_eq!(data(&dept)["users"]["totalCount"], 4);

    // Manager of Platform: Platform only.
    let manager = app
        .gql(Some(&app.token_for(o.manager)), USERS, json!({}))
        .await;
    let expected = [o.dept_admin, o.manager, o.sender];
    assert_eq!(
        ids(&manager, "users"),
        sorted(expected.iter().map(|u| gid::user(*u)).collect())
    );

    // Sender: no list at all, but `viewer` works.
    let sender = app
        .gql(Some(&app.token_for(o.sender)), USERS, json!({}))
        .await;
    assert_eq!(error_code(&sender), Some("FORBIDDEN"));
    let viewer = app
        .gql(
            Some(&app.token_for(o.sender)),
            "{ viewer { id team { name } role { key } } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&viewer)["viewer"]["id"], gid::user(o.sender));
    assert_eq!(data(&viewer)["viewer"]["role"]["key"], "SENDER");
}

#[tokio::test]
async fn out_of_scope_and_foreign_ids_are_not_found() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let q = "query($id: ID!) { user(id: $id) { id } }";
    let node = "query($id: ID!) { node(id: $id) { id } }";
    let cases = [
        (o.manager, o.alice, "manager cannot see Mobile"),
        (o.manager, o.carol, "manager cannot see General"),
        (o.dept_admin, o.bob, "dept admin cannot see Sales"),
        (o.sender, o.manager, "sender sees nobody else"),
        (o.admin, o.other_user, "admin cannot see another account"),
    ];
    for (actor, target, why) in cases {
        let token = app.token_for(actor);
        for query in [q, node] {
            let body = app
                .gql(Some(&token), query, json!({ "id": gid::user(target) }))
                .await;
            assert_eq!(error_code(&body), Some("NOT_FOUND"), "{why}: {body}");
        }
    }
    // Teams and invites of another account, and malformed ids, are NOT_FOUND too.
    let admin = app.token_for(o.admin);
    for id in [
        gid::team(o.other_team),
        "team_zzz".into(),
        "nonsense".into(),
    ] {
        let body = app.gql(Some(&admin), node, json!({ "id": id })).await;
        assert_eq!(error_code(&body), Some("NOT_FOUND"), "{id}");
    }
    // In reach, node() resolves every kind.
    for id in [
        gid::user(o.alice),
        gid::team(o.mobile),
        gid::dept(o.engineering),
        gid::role(o.roles["MANAGER"]),
    ] {
        let body = app.gql(Some(&admin), node, json!({ "id": id })).await;
        assert_eq!(data(&body)["node"]["id"], id);
    }
}

#[tokio::test]
async fn teams_departments_and_invites_follow_the_same_scope() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let day = 86_400_000;
    let sender_role = o.roles["SENDER"];
    insert_invite(
        &app,
        o.account_id,
        "p@a.test",
        o.platform,
        sender_role,
        day,
        false,
        false,
    )
    .await;
    insert_invite(
        &app,
        o.account_id,
        "m@a.test",
        o.mobile,
        sender_role,
        day,
        false,
        false,
    )
    .await;
    insert_invite(
        &app,
        o.account_id,
        "e@a.test",
        o.emea,
        sender_role,
        day,
        false,
        false,
    )
    .await;
    insert_invite(
        &app,
        o.other_account,
        "x@b.test",
        o.other_team,
        sender_role,
        day,
        false,
        false,
    )
    .await;

    let q =
        "{ teams { nodes { name } } departments { nodes { name } } invites { nodes { email } } }";
    let names = |body: &Value, field: &str, key: &str| -> Vec<String> {
        let mut v: Vec<String> = data(body)[field]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n[key].as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    let admin = app.gql(Some(&app.token_for(o.admin)), q, json!({})).await;
    assert_eq!(
        names(&admin, "teams", "name"),
        ["EMEA", "General", "Mobile", "Platform"]
    );
    assert_eq!(
        names(&admin, "departments", "name"),
        ["Engineering", "Sales"]
    );
    assert_eq!(
        names(&admin, "invites", "email"),
        ["e@a.test", "m@a.test", "p@a.test"]
    );

    let dept = app
        .gql(Some(&app.token_for(o.dept_admin)), q, json!({}))
        .await;
    assert_eq!(names(&dept, "teams", "name"), ["Mobile", "Platform"]);
    assert_eq!(names(&dept, "departments", "name"), ["Engineering"]);
    assert_eq!(names(&dept, "invites", "email"), ["m@a.test", "p@a.test"]);

    let manager = app.gql(Some(&app.token_for(o.manager)), q, json!({})).await;
    assert_eq!(names(&manager, "teams", "name"), ["Platform"]);
    assert_eq!(names(&manager, "invites", "email"), ["p@a.test"]);

    // A Manager's view of their department lists only the teams they reach.
    let body = app
        .gql(
            Some(&app.token_for(o.manager)),
            "{ departments { nodes { name teams { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&body)["departments"]["nodes"][0]["teams"],
        json!([{ "name": "Platform" }])
    );

    for field in ["teams", "invites", "departments", "roles"] {
        let q = if field == "roles" {
            "{ roles { id } }".to_string()
        } else {
            format!("{{ {field} {{ totalCount }} }}")
        };
        let body = app.gql(Some(&app.token_for(o.sender)), &q, json!({})).await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "sender {field}");
    }
}

#[tokio::test]
async fn invite_statuses_are_derived_and_filterable() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let (day, role) = (86_400_000, o.roles["SENDER"]);
    insert_invite(
        &app,
        o.account_id,
        "pending@a.test",
        o.platform,
        role,
        day,
        false,
        false,
    )
    .await;
    insert_invite(
        &app,
        o.account_id,
        "expired@a.test",
        o.platform,
        role,
        -day,
        false,
        false,
    )
    .await;
    insert_invite(
        &app,
        o.account_id,
        "accepted@a.test",
        o.platform,
        role,
        -day,
        true,
        false,
    )
    .await;
    insert_invite(
        &app,
        o.account_id,
        "withdrawn@a.test",
        o.platform,
        role,
        day,
        false,
        true,
    )
    .await;
    let token = app.token_for(o.admin);
    let q = "query($s: [InviteStatus!]) { invites(filter: { statuses: $s }, orderBy: { field: EMAIL, direction: ASC }) { nodes { email status } } }";
    let all = app.gql(Some(&token), q, json!({ "s": null })).await;
    assert_eq!(
        data(&all)["invites"]["nodes"],
        json!([
            { "email": "accepted@a.test", "status": "ACCEPTED" },
            { "email": "expired@a.test", "status": "EXPIRED" },
            { "email": "pending@a.test", "status": "PENDING" },
            { "email": "withdrawn@a.test", "status": "WITHDRAWN" },
        ])
    );
    for status in ["PENDING", "EXPIRED", "ACCEPTED", "WITHDRAWN"] {
        let body = app.gql(Some(&token), q, json!({ "s": [status] })).await;
        let nodes = data(&body)["invites"]["nodes"].as_array().unwrap().clone();
        assert_eq!(nodes.len(), 1, "{status}");
        assert_eq!(nodes[0]["status"], status);
    }
    let both = app
        .gql(Some(&token), q, json!({ "s": ["PENDING", "EXPIRED"] }))
        .await;
    assert_eq!(data(&both)["invites"]["nodes"].as_array().unwrap().len(), 2);
}
