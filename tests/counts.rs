//! The counts the database keeps (`user_counts`, maintained by triggers) stay equal to
//! counting the users, whatever changes them — bulk role and team changes, deletes, a new
//! user and a restored user through accepted invitations, direct inserts — and the API's
//! `totalCount`, `Team.memberCount` and `Role.userCount` read them without counting users.

mod common;
#[path = "common/invites.rs"]
mod invites;
#[path = "common/users.rs"]
mod users;

use std::collections::BTreeMap;

use common::{Org, TestApp, data, gid, insert_users};
use roster::entity::{user, user_count};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

/// Active (not deleted, not suspended) users per (team, role), counted.
async fn counted(app: &TestApp) -> BTreeMap<(Uuid, Uuid), i64> {
    let mut counts = BTreeMap::new();
    for u in user::Entity::find()
        .filter(user::Column::DeletedAt.is_null())
        .filter(user::Column::Status.eq("ACTIVE"))
        .all(app.db.conn())
        .await
        .expect("users")
    {
        *counts.entry((u.team_id.0, u.role_id.0)).or_insert(0) += 1;
    }
    counts
}

/// Active users per (team, role), as kept (rows that dropped to zero left out).
async fn kept(app: &TestApp) -> BTreeMap<(Uuid, Uuid), i64> {
    user_count::Entity::find()
        .all(app.db.conn())
        .await
        .expect("user_counts")
        .into_iter()
        .filter(|c| c.members != 0)
        .map(|c| ((c.team_id.0, c.role_id.0), c.members))
        .collect()
}

async fn assert_counts_agree(app: &TestApp, after: &str) {
    assert_eq!(kept(app).await, counted(app).await, "after {after}");
}

fn ids(users: &[Uuid]) -> Vec<String> {
    users.iter().map(|u| gid::user(*u)).collect()
}

async fn ok(app: &TestApp, token: &str, query: &str, vars: Value, field: &str) {
    let body = app.gql(Some(token), query, vars).await;
    let payload = &data(&body)[field];
    assert_eq!(payload["errors"], json!([]), "{body:#}");
}

#[tokio::test]
async fn kept_counts_follow_every_kind_of_change() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let admin = app.token_for(o.admin);
    assert_counts_agree(&app, "creating the organization").await;

    let load = insert_users(
        &app,
        o.account_id,
        o.platform,
        o.roles["SENDER"],
        "Load",
        30,
    )
    .await;
    assert_counts_agree(&app, "a direct multi-row insert").await;

    let managers = gid::role(o.roles["MANAGER"]);
    ok(
        &app,
        &admin,
        users::CHANGE_ROLE,
        users::role_vars(&ids(&load[..12]), &managers, false),
        "changeUsersRole",
    )
    .await;
    assert_counts_agree(&app, "a bulk role change").await;

    // Overlaps the role change: some moved users are Managers, some Senders.
    ok(
        &app,
        &admin,
        users::CHANGE_TEAM,
        users::team_vars(&ids(&load[8..20]), &gid::team(o.mobile), false),
        "changeUsersTeam",
    )
    .await;
    assert_counts_agree(&app, "a bulk team change").await;

    // A dry run and a repeat write nothing and change no count.
    let before = kept(&app).await;
    ok(
        &app,
        &admin,
        users::CHANGE_TEAM,
        users::team_vars(&ids(&load[8..20]), &gid::team(o.emea), true),
        "changeUsersTeam",
    )
    .await;
    ok(
        &app,
        &admin,
        users::CHANGE_ROLE,
        users::role_vars(&ids(&load[..12]), &managers, false),
        "changeUsersRole",
    )
    .await;
    assert_eq!(kept(&app).await, before, "a dry run and a repeat");

    let deleted = [load[0], load[9], load[25], o.alice];
    ok(
        &app,
        &admin,
        users::DELETE,
        users::delete_vars(&ids(&deleted), false),
        "deleteUsers",
    )
    .await;
    assert_counts_agree(&app, "a bulk delete").await;

    // Suspended users leave the counts; what happens to them while suspended (a role or team
    // change, a delete) changes no count; reactivated ones come back in their team and role.
    let suspend =
        "mutation($ids: [ID!]!) { suspendUsers(input: { userIds: $ids }) { errors { code } } }";
    let reactivate =
        "mutation($ids: [ID!]!) { reactivateUsers(input: { userIds: $ids }) { errors { code } } }";
    let suspended = [load[1], load[10], load[20], load[21]];
    ok(
        &app,
        &admin,
        suspend,
        json!({ "ids": ids(&suspended) }),
        "suspendUsers",
    )
    .await;
    assert_counts_agree(&app, "a bulk suspension").await;
    ok(
        &app,
        &admin,
        users::CHANGE_ROLE,
        users::role_vars(&ids(&suspended[..2]), &gid::role(o.roles["SENDER"]), false),
        "changeUsersRole",
    )
    .await;
    ok(
        &app,
        &admin,
        users::CHANGE_TEAM,
        users::team_vars(&ids(&suspended[1..3]), &gid::team(o.emea), false),
        "changeUsersTeam",
    )
    .await;
    ok(
        &app,
        &admin,
        users::DELETE,
        users::delete_vars(&ids(&suspended[3..]), false),
        "deleteUsers",
    )
    .await;
    assert_counts_agree(&app, "changes to suspended users").await;
    ok(
        &app,
        &admin,
        reactivate,
        json!({ "ids": ids(&suspended[..3]) }),
        "reactivateUsers",
    )
    .await;
    assert_counts_agree(&app, "a bulk reactivation").await;

    // A new person and a deleted one come in through accepted invitations; the restored
    // user joins the invitation's team and role, not their old ones.
    let mail = invites::MailDir::new();
    invites::invite_one(&app, &admin, "newcomer@a.test", o.emea, o.roles["MANAGER"]).await;
    invites::invite_one(&app, &admin, "alice@a.test", o.general, o.roles["SENDER"]).await;
    assert_eq!(mail.deliver(&app).await, 2);
    for raw in mail.wait_for(2).await {
        let body = invites::accept(&app, &invites::token_from(&raw), "Someone New").await;
        data(&body);
    }
    assert_counts_agree(&app, "accepted invitations (a new and a restored user)").await;
}

const COUNTS: &str = r#"
query($filter: UserFilter) {
  users(filter: $filter, first: 1) { totalCount }
  teams(first: 100) { nodes { id memberCount } }
  roles { id userCount }
}"#;

/// `totalCount` of `users(filter:)` as `token` sees it.
async fn total(app: &TestApp, token: &str, filter: Value) -> i64 {
    let body = app
        .gql(Some(token), COUNTS, json!({ "filter": filter }))
        .await;
    data(&body)["users"]["totalCount"]
        .as_i64()
        .expect("totalCount")
}

#[tokio::test]
async fn total_count_member_count_and_user_count_answer_from_kept_counts() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    insert_users(&app, o.account_id, o.platform, o.roles["SENDER"], "Plat", 7).await;
    insert_users(&app, o.account_id, o.emea, o.roles["MANAGER"], "Emea", 5).await;
    let admin = app.token_for(o.admin);

    // Org A: admin, dept admin, manager, sender, alice, bob, carol + 12 loaded; org B's two
    // users are never counted.
    assert_eq!(total(&app, &admin, json!({})).await, 19);
    assert_eq!(
        total(&app, &admin, json!({ "teamIds": [gid::team(o.platform)] })).await,
        10
    );
    assert_eq!(
        total(
            &app,
            &admin,
            json!({ "roleIds": [gid::role(o.roles["MANAGER"])] })
        )
        .await,
        6
    );
    assert_eq!(
        total(
            &app,
            &admin,
            json!({ "departmentIds": [gid::dept(o.sales)], "roleIds": [gid::role(o.roles["SENDER"])] })
        )
        .await,
        1,
        "bob is the only Sender in Sales"
    );
    // A search still counts its matches.
    assert_eq!(total(&app, &admin, json!({ "search": "plat" })).await, 7);
    // Scoped actors count only what they reach: the manager's team, the department's teams.
    assert_eq!(total(&app, &app.token_for(o.manager), json!({})).await, 10);
    assert_eq!(
        total(&app, &app.token_for(o.dept_admin), json!({})).await,
        11,
        "platform (10) and mobile (alice)"
    );
    assert_eq!(
        total(
            &app,
            &app.token_for(o.manager),
            json!({ "teamIds": [gid::team(o.emea)] })
        )
        .await,
        0,
        "a team outside the manager's reach adds nothing"
    );

    // The counts come from `user_counts`, not from counting users: change a kept count
    // behind the service's back and the API shows it.
    use sea_orm::sea_query::{Expr, ExprTrait};
    user_count::Entity::update_many()
        .col_expr(
            user_count::Column::Members,
            Expr::col(user_count::Column::Members).add(1000),
        )
        .filter(user_count::Column::TeamId.eq(o.emea))
        .filter(user_count::Column::RoleId.eq(o.roles["MANAGER"]))
        .exec(app.db.conn())
        .await
        .expect("tamper");
    assert_eq!(total(&app, &admin, json!({})).await, 1019);
    let body = app.gql(Some(&admin), COUNTS, json!({})).await;
    let d = data(&body);
    let emea = d["teams"]["nodes"]
        .as_array()
        .expect("teams")
        .iter()
        .find(|t| t["id"] == gid::team(o.emea))
        .expect("emea")
        .clone();
    assert_eq!(emea["memberCount"], 1006);
    let manager_role = d["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .find(|r| r["id"] == gid::role(o.roles["MANAGER"]))
        .expect("manager role")
        .clone();
    assert_eq!(manager_role["userCount"], 1006);
}
