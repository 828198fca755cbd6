//! Reach everywhere (`service::access`): a restored user keeps their powers, nested objects
//! and counts show nobody outside the caller's reach, team and role management stays
//! inside the manager's reach, every mutation re-checks its actor after taking the account
//! lock, a damaged domain list refuses invitations, and `node(id:)` finds audit events.
//!
//! Runs on SQLite by default and on PostgreSQL when `DATABASE_URL` points at one.

mod common;
#[path = "common/invites.rs"]
mod invites;
#[path = "common/org.rs"]
mod org;
#[path = "common/servers.rs"]
mod servers;
#[path = "common/users.rs"]
mod users;

use std::time::Duration;

use common::{data, error_code, gid};
use org::*;
use roster::entity::{account, user};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

fn assert_code(body: &Value, code: &str) {
    assert_eq!(error_code(body), Some(code), "{body:#}");
}

/// The payload's item errors as (index, code).
fn item_codes(payload: &Value) -> Vec<(i64, String)> {
    users::item_codes(payload)
}

/// Deletes `user` through the API as the Admin, re-invites the address with `role` into
/// `team`, and accepts it: the same user comes back, restored, with a token cutoff.
async fn delete_and_restore(t: &OrgApp, user: Uuid, email: &str, team: Uuid, role: Uuid) {
    let app = &t.app;
    let admin = app.token_for(t.org.admin);
    let body = app
        .gql(
            Some(&admin),
            users::DELETE,
            users::delete_vars(&[gid::user(user)], false),
        )
        .await;
    assert_eq!(data(&body)["deleteUsers"]["changedCount"], 1, "{body:#}");
    let mail = invites::MailDir::new();
    invites::invite_one(app, &admin, email, team, role).await;
    assert_eq!(mail.deliver(app).await, 1);
    let raw = mail.wait_for(1).await;
    let body = invites::accept(app, &invites::token_from(&raw[0]), "Back Again").await;
    assert_eq!(
        data(&body)["acceptInvite"]["user"]["id"],
        gid::user(user),
        "the same user is restored"
    );
    let row = users::row(&app.db, user).await;
    assert!(row.tokens_valid_after.is_some(), "a restore sets a cutoff");
}

// ---- 1. Restored users keep their powers ------------------------------------------------

#[tokio::test]
async fn a_restored_admin_runs_every_bulk_mutation() {
    let t = OrgApp::spawn().await;
    let o = &t.org;
    let admin2 = t
        .insert_user("second@a.test", o.general, o.roles["ADMIN"])
        .await;
    delete_and_restore(&t, admin2, "second@a.test", o.general, o.roles["ADMIN"]).await;
    // A token issued after the restore.
    let token = t.app.token_for(admin2);
    let app = &t.app;

    let alice = [gid::user(o.alice)];
    let body = app
        .gql(
            Some(&token),
            users::CHANGE_ROLE,
            users::role_vars(&alice, &gid::role(o.roles["MANAGER"]), false),
        )
        .await;
    assert_eq!(
        data(&body)["changeUsersRole"]["changedCount"],
        1,
        "{body:#}"
    );
    let body = app
        .gql(
            Some(&token),
            users::CHANGE_TEAM,
            users::team_vars(&alice, &gid::team(o.emea), false),
        )
        .await;
    assert_eq!(
        data(&body)["changeUsersTeam"]["changedCount"],
        1,
        "{body:#}"
    );
    let body = app
        .gql(
            Some(&token),
            users::DELETE,
            users::delete_vars(&alice, false),
        )
        .await;
    assert_eq!(data(&body)["deleteUsers"]["changedCount"], 1, "{body:#}");

    // The invitation mutations too.
    let invite = invites::invite_one(app, &token, "fresh@a.test", o.emea, o.roles["SENDER"]).await;
    for mutation in ["resendInvites", "withdrawInvites", "deleteInvites"] {
        let body = invites::on_ids(app, Some(&token), mutation, &[invite.as_str()], false).await;
        assert_eq!(
            data(&body)[mutation]["changedCount"],
            1,
            "{mutation}: {body:#}"
        );
    }
}

#[tokio::test]
async fn a_restored_manager_runs_the_bulk_mutations_of_a_manager() {
    let t = OrgApp::spawn().await;
    let o = &t.org;
    let manager2 = t
        .insert_user("lead@a.test", o.platform, o.roles["MANAGER"])
        .await;
    delete_and_restore(&t, manager2, "lead@a.test", o.platform, o.roles["MANAGER"]).await;
    let token = t.app.token_for(manager2);
    let app = &t.app;
    let body = app
        .gql(
            Some(&token),
            users::CHANGE_ROLE,
            users::role_vars(
                &[gid::user(o.sender)],
                &gid::role(o.roles["MANAGER"]),
                false,
            ),
        )
        .await;
    assert_eq!(
        data(&body)["changeUsersRole"]["changedCount"],
        1,
        "{body:#}"
    );
    let invite =
        invites::invite_one(app, &token, "new@a.test", o.platform, o.roles["SENDER"]).await;
    let body = invites::on_ids(
        app,
        Some(&token),
        "withdrawInvites",
        &[invite.as_str()],
        false,
    )
    .await;
    assert_eq!(
        data(&body)["withdrawInvites"]["changedCount"],
        1,
        "{body:#}"
    );
}

// ---- 2. Nested objects and counts stay within reach --------------------------------------

const INVITES_WITH_SENDER: &str =
    "{ invites(first: 50) { nodes { email invitedBy { email role { key } team { name } } } } }";

/// `invitedBy` per invited email, as `user` sees the invitations.
async fn invited_by(t: &OrgApp, user: Uuid) -> Vec<(String, Value)> {
    let body = t.query(user, INVITES_WITH_SENDER, json!({})).await;
    let mut seen: Vec<(String, Value)> = data(&body)["invites"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| {
            (
                n["email"].as_str().expect("email").to_owned(),
                n["invitedBy"]["email"].clone(),
            )
        })
        .collect();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    seen
}

#[tokio::test]
async fn manager_and_department_admin_see_no_out_of_reach_user_through_invited_by_or_actor() {
    let t = OrgApp::spawn().await;
    let o = &t.org;
    let app = &t.app;
    // The Admin (team General) invites into Platform; the Manager (Platform) invites too.
    invites::invite_one(
        app,
        &app.token_for(o.admin),
        "from.admin@a.test",
        o.platform,
        o.roles["SENDER"],
    )
    .await;
    invites::invite_one(
        app,
        &app.token_for(o.manager),
        "from.manager@a.test",
        o.platform,
        o.roles["SENDER"],
    )
    .await;

    // The Admin is NOT_FOUND to both by id, and so null through `invitedBy`.
    for who in [o.manager, o.dept_admin] {
        let body = t
            .query(
                who,
                "query($id: ID!) { user(id: $id) { email } }",
                json!({ "id": gid::user(o.admin) }),
            )
            .await;
        assert_code(&body, "NOT_FOUND");
        assert_eq!(
            invited_by(&t, who).await,
            [
                ("from.admin@a.test".to_owned(), Value::Null),
                ("from.manager@a.test".to_owned(), json!("manny@a.test")),
            ],
            "as {who}"
        );
    }
    // The Admin sees both senders.
    assert_eq!(
        invited_by(&t, o.admin).await,
        [
            ("from.admin@a.test".to_owned(), json!("admin@a.test")),
            ("from.manager@a.test".to_owned(), json!("manny@a.test")),
        ]
    );

    // The audit log: the Department Admin reads the events about Platform, the Admin's
    // included, without learning who the Admin is.
    let body = t
        .query(
            o.dept_admin,
            "{ auditEvents(first: 50) { nodes { action targetLabel actor { email } } } }",
            json!({}),
        )
        .await;
    let nodes = data(&body)["auditEvents"]["nodes"]
        .as_array()
        .expect("nodes")
        .clone();
    let actor_of = |label: &str| {
        nodes
            .iter()
            .find(|n| n["targetLabel"] == label)
            .unwrap_or_else(|| panic!("an event about {label}: {nodes:?}"))["actor"]
            .clone()
    };
    assert_eq!(actor_of("from.admin@a.test"), Value::Null);
    assert_eq!(actor_of("from.manager@a.test")["email"], "manny@a.test");
    let body = t
        .query(
            o.admin,
            "{ auditEvents(first: 50) { nodes { targetLabel actor { email } } } }",
            json!({}),
        )
        .await;
    let admin_sees = data(&body)["auditEvents"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["targetLabel"] == "from.admin@a.test")
        .expect("event")
        .clone();
    assert_eq!(admin_sees["actor"]["email"], "admin@a.test");
}

const COUNTS: &str = "{ viewer { team { memberCount } role { userCount } }
    roles { key userCount }
    teams(first: 50) { nodes { name memberCount members(first: 50) { totalCount nodes { email } } } } }";

/// (`viewer.team.memberCount`, `viewer.role.userCount`, userCount per built-in role key,
/// (memberCount, members.totalCount, members shown) per team name) as `user` sees them.
type Counts = (
    i64,
    i64,
    Vec<(String, i64)>,
    Vec<(String, (i64, i64, usize))>,
);

async fn counts(t: &OrgApp, user: Uuid) -> Counts {
    let body = t.query(user, COUNTS, json!({})).await;
    let d = data(&body);
    let roles = d["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .filter(|r| r["key"].is_string())
        .map(|r| {
            (
                r["key"].as_str().expect("key").to_owned(),
                r["userCount"].as_i64().expect("count"),
            )
        })
        .collect();
    let teams = d["teams"]["nodes"]
        .as_array()
        .expect("teams")
        .iter()
        .map(|n| {
            (
                n["name"].as_str().expect("name").to_owned(),
                (
                    n["memberCount"].as_i64().expect("memberCount"),
                    n["members"]["totalCount"].as_i64().expect("totalCount"),
                    n["members"]["nodes"].as_array().expect("nodes").len(),
                ),
            )
        })
        .collect();
    (
        d["viewer"]["team"]["memberCount"]
            .as_i64()
            .expect("memberCount"),
        d["viewer"]["role"]["userCount"]
            .as_i64()
            .expect("userCount"),
        roles,
        teams,
    )
}

fn pairs<T: Clone>(items: &[(&str, T)]) -> Vec<(String, T)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

#[tokio::test]
async fn counts_count_only_the_users_the_caller_may_see() {
    let t = OrgApp::spawn().await;
    let o = &t.org;
    // Org A: General (admin, carol), Platform (dana, manny, sam), Mobile (alice), EMEA (bob).
    let (team, role, roles, teams) = counts(&t, o.admin).await;
    assert_eq!((team, role), (2, 1));
    assert_eq!(
        roles,
        pairs(&[
            ("ADMIN", 1),
            ("DEPARTMENT_ADMIN", 1),
            ("MANAGER", 1),
            ("SENDER", 4)
        ])
    );
    assert_eq!(teams.len(), 4);

    // The Manager reaches Platform only.
    let (team, role, roles, teams) = counts(&t, o.manager).await;
    assert_eq!((team, role), (3, 1));
    assert_eq!(
        roles,
        pairs(&[
            ("ADMIN", 0),
            ("DEPARTMENT_ADMIN", 1),
            ("MANAGER", 1),
            ("SENDER", 1)
        ])
    );
    assert_eq!(teams, pairs(&[("Platform", (3, 3, 3))]));

    // The Department Admin reaches Platform and Mobile.
    let (team, role, roles, teams) = counts(&t, o.dept_admin).await;
    assert_eq!((team, role), (3, 1));
    assert_eq!(
        roles,
        pairs(&[
            ("ADMIN", 0),
            ("DEPARTMENT_ADMIN", 1),
            ("MANAGER", 1),
            ("SENDER", 2)
        ])
    );
    assert_eq!(
        teams,
        pairs(&[("Mobile", (1, 1, 1)), ("Platform", (3, 3, 3))])
    );

    // A department-wide organizer sees every team (to organize them) but counts and lists
    // only the people of their department.
    let organizer = t
        .create_role("Organizer", "DEPARTMENT", &["USERS_VIEW", "TEAMS_MANAGE"])
        .await;
    t.set_role(o.sender, uuid_of(&organizer)).await;
    let (_, _, roles, teams) = counts(&t, o.sender).await;
    assert_eq!(
        roles,
        pairs(&[
            ("ADMIN", 0),
            ("DEPARTMENT_ADMIN", 1),
            ("MANAGER", 1),
            ("SENDER", 1)
        ])
    );
    assert_eq!(
        teams,
        pairs(&[
            ("EMEA", (0, 0, 0)),
            ("General", (0, 0, 0)),
            ("Mobile", (1, 1, 1)),
            ("Platform", (3, 3, 3)),
        ])
    );

    // A Sender sees only themselves: their team and their role count one user.
    let body = t
        .query(
            o.bob,
            "{ viewer { team { memberCount } role { userCount } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&body)["viewer"],
        json!({ "team": { "memberCount": 1 }, "role": { "userCount": 1 } })
    );
}

// ---- 3. Team and role management stay within reach ---------------------------------------

#[tokio::test]
async fn a_department_scoped_team_manager_cannot_move_teams_across_its_reach() {
    let t = OrgApp::spawn().await;
    let o = &t.org;
    // Alice (Mobile, Engineering) manages teams within her department.
    let role = t
        .create_role(
            "Department Organizer",
            "DEPARTMENT",
            &["USERS_VIEW", "USERS_DELETE", "TEAMS_MANAGE"],
        )
        .await;
    t.set_role(o.alice, uuid_of(&role)).await;
    let alice = o.alice;
    let empty_in_sales = t.create_team("Vacant Sales", Some(o.sales)).await;
    let empty_department = t.insert_department(o.account_id, "Vacant").await;
    let events_before = t.audit_events().await.len();

    let refused: Vec<(&str, Value)> = vec![
        // Pulling a team in from another department.
        (
            UPDATE_TEAM,
            json!({ "id": gid::team(o.emea), "departmentId": gid::dept(o.engineering) }),
        ),
        // Pushing one of hers out, or out of every department.
        (
            UPDATE_TEAM,
            json!({ "id": gid::team(o.mobile), "departmentId": gid::dept(o.sales) }),
        ),
        (
            UPDATE_TEAM,
            json!({ "id": gid::team(o.mobile), "departmentId": null }),
        ),
        // Changing teams and departments outside her department.
        (
            UPDATE_TEAM,
            json!({ "id": gid::team(o.emea), "name": "Mine" }),
        ),
        (
            UPDATE_TEAM,
            json!({ "id": gid::team(o.general), "departmentId": gid::dept(o.engineering) }),
        ),
        (DELETE_TEAM, json!({ "id": empty_in_sales })),
        (
            CREATE_TEAM,
            json!({ "name": "Sales Two", "departmentId": gid::dept(o.sales) }),
        ),
        (
            UPDATE_DEPARTMENT,
            json!({ "id": gid::dept(o.sales), "name": "Mine" }),
        ),
        (
            DELETE_DEPARTMENT,
            json!({ "id": gid::dept(empty_department) }),
        ),
    ];
    for (query, input) in refused {
        let body = t.run(alice, query, input.clone()).await;
        assert_code(&body, "FORBIDDEN");
        assert!(body["data"].is_null(), "{input}: {body:#}");
    }
    assert_eq!(
        t.team_row(o.emea).await.unwrap().department_id,
        Some(o.sales.into())
    );
    assert_eq!(
        t.team_row(o.mobile).await.unwrap().department_id,
        Some(o.engineering.into())
    );
    assert!(
        t.team_row(uuid_of(&empty_in_sales))
            .await
            .unwrap()
            .deleted_at
            .is_none()
    );
    assert!(t.department_row(empty_department).await.is_some());
    assert_eq!(t.audit_events().await.len(), events_before);

    // Bob (EMEA) stays out of her reach.
    let body = t
        .query(
            alice,
            users::DELETE,
            users::delete_vars(&[gid::user(o.bob)], false),
        )
        .await;
    assert_eq!(
        item_codes(&data(&body)["deleteUsers"]),
        [(0, "NOT_FOUND".to_owned())]
    );

    // Within her department she organizes freely.
    data(
        &t.run(
            alice,
            UPDATE_TEAM,
            json!({ "id": gid::team(o.mobile), "name": "Mobile Apps" }),
        )
        .await,
    );
    let body = t
        .run(
            alice,
            CREATE_TEAM,
            json!({ "name": "Data", "departmentId": gid::dept(o.engineering) }),
        )
        .await;
    let data_team = data(&body)["createTeam"]["team"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    data(
        &t.run(
            alice,
            UPDATE_DEPARTMENT,
            json!({ "id": gid::dept(o.engineering), "name": "Eng" }),
        )
        .await,
    );
    data(&t.run(alice, DELETE_TEAM, json!({ "id": data_team })).await);
    // New, empty structure moves nobody: a team outside every department, a department.
    data(&t.run(alice, CREATE_TEAM, json!({ "name": "Loose" })).await);
    data(
        &t.run(alice, CREATE_DEPARTMENT, json!({ "name": "New" }))
            .await,
    );
}

#[tokio::test]
async fn a_role_manager_cannot_change_a_role_held_outside_their_reach() {
    let t = OrgApp::spawn().await;
    let o = &t.org;
    // Manny (Platform, Engineering) manages roles within his department.
    let steward = t
        .create_role("Steward", "DEPARTMENT", &["USERS_VIEW", "ROLES_MANAGE"])
        .await;
    t.set_role(o.manager, uuid_of(&steward)).await;
    let manny = o.manager;

    // Held by Bob, in EMEA (Sales).
    let held_outside = t.create_role("Field", "TEAM", &["USERS_VIEW"]).await;
    t.set_role(o.bob, uuid_of(&held_outside)).await;
    // Carried by an open invitation to EMEA.
    let invited_outside = t.create_role("Visitor", "TEAM", &["USERS_VIEW"]).await;
    t.insert_invite(
        "guest@a.test",
        o.emea,
        uuid_of(&invited_outside),
        InviteState::Pending,
    )
    .await;
    // Held by Alice, in Mobile (Engineering).
    let held_inside = t.create_role("Local", "TEAM", &["USERS_VIEW"]).await;
    t.set_role(o.alice, uuid_of(&held_inside)).await;
    let events_before = t.audit_events().await.len();

    for role in [&held_outside, &invited_outside] {
        let body = t
            .run(manny, UPDATE_ROLE, json!({ "id": role, "name": "Renamed" }))
            .await;
        assert_code(&body, "FORBIDDEN");
        assert!(message(&body).contains("outside your reach"), "{body:#}");
        let body = t
            .run(manny, UPDATE_ROLE, json!({ "id": role, "permissions": [] }))
            .await;
        assert_code(&body, "FORBIDDEN");
        let body = t.run(manny, DELETE_ROLE, json!({ "id": role })).await;
        assert_code(&body, "FORBIDDEN");
        let row = t.role_row(uuid_of(role)).await.unwrap();
        assert_eq!((row.permissions, row.deleted_at), (1, None));
    }
    assert_eq!(t.audit_events().await.len(), events_before);

    let body = t
        .run(
            manny,
            UPDATE_ROLE,
            json!({ "id": held_inside, "name": "Local Viewer" }),
        )
        .await;
    assert_eq!(data(&body)["updateRole"]["role"]["name"], "Local Viewer");
    // The Admin reaches everyone.
    let body = t
        .run(
            o.admin,
            UPDATE_ROLE,
            json!({ "id": held_outside, "name": "Field Viewer" }),
        )
        .await;
    assert_eq!(data(&body)["updateRole"]["role"]["name"], "Field Viewer");
}

// ---- 4. Stale rights: every mutation re-checks its actor after the lock -------------------

#[tokio::test]
async fn every_mutation_refuses_an_admin_demoted_while_it_waited_for_the_lock() {
    let t = OrgApp::spawn().await;
    let o = &t.org;
    // Alice is a second Admin, so demoting her is allowed.
    t.set_role(o.alice, o.roles["ADMIN"]).await;
    let custom = t.create_role("Custom", "TEAM", &["USERS_VIEW"]).await;
    let spare = t.create_team("Spare", None).await;
    let vacant = t.insert_department(o.account_id, "Vacant").await;
    let invite = invites::invite_one(
        &t.app,
        &t.app.token_for(o.admin),
        "pending@a.test",
        o.emea,
        o.roles["SENDER"],
    )
    .await;
    let ids = |query: &str| {
        format!(
            "mutation($input: InviteIdsInput!) {{ {query}(input: $input) {{ changedCount errors {{ code }} }} }}"
        )
    };
    let cases: Vec<(String, Value)> = vec![
        (
            CREATE_ROLE.into(),
            json!({ "name": "New", "scope": "SELF", "permissions": [] }),
        ),
        (
            UPDATE_ROLE.into(),
            json!({ "id": custom, "name": "Renamed" }),
        ),
        (DELETE_ROLE.into(), json!({ "id": custom })),
        (CREATE_TEAM.into(), json!({ "name": "New" })),
        (
            UPDATE_TEAM.into(),
            json!({ "id": spare, "name": "Renamed" }),
        ),
        (DELETE_TEAM.into(), json!({ "id": spare })),
        (CREATE_DEPARTMENT.into(), json!({ "name": "New" })),
        (
            UPDATE_DEPARTMENT.into(),
            json!({ "id": gid::dept(vacant), "name": "Renamed" }),
        ),
        (DELETE_DEPARTMENT.into(), json!({ "id": gid::dept(vacant) })),
        (UPDATE_ACCOUNT.into(), json!({ "inviteExpiryDays": 3 })),
        (
            invites::INVITE_USERS.into(),
            json!({ "invitations": [invites::invitation("late@a.test", o.emea, o.roles["SENDER"])] }),
        ),
        (ids("resendInvites"), json!({ "inviteIds": [invite] })),
        (ids("withdrawInvites"), json!({ "inviteIds": [invite] })),
        (ids("deleteInvites"), json!({ "inviteIds": [invite] })),
    ];
    let sender_role = o.roles["SENDER"];
    for (query, input) in cases {
        // Another transaction holds the account lock (on SQLite: the write lock) while the
        // request starts, demotes Alice and commits.
        let txn = t.app.db.begin_write().await.expect("begin");
        roster::service::locks::lock_account_users(&txn, o.account_id.into())
            .await
            .expect("lock");
        let request = t.run(o.alice, &query, input.clone());
        let demote = async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            user::Entity::update_many()
                .col_expr(user::Column::RoleId, Expr::value(sender_role))
                .filter(user::Column::Id.eq(o.alice))
                .exec(&txn)
                .await
                .expect("demote");
            txn.commit().await.expect("commit");
        };
        let (body, ()) = tokio::join!(request, demote);
        assert_code(&body, "FORBIDDEN");
        assert!(body["data"].is_null(), "{query} {input}: {body:#}");
        t.set_role(o.alice, o.roles["ADMIN"]).await;
    }
    let by_alice = t
        .audit_events()
        .await
        .into_iter()
        .filter(|e| e.actor_id == Some(o.alice.into()))
        .count();
    assert_eq!(by_alice, 0, "nothing was written on stale rights");
    assert_eq!(t.account_row().await.invite_expiry_days, 7);
    assert!(
        t.role_row(uuid_of(&custom))
            .await
            .unwrap()
            .deleted_at
            .is_none()
    );
    assert!(t.department_row(vacant).await.is_some());
}

#[tokio::test]
async fn a_mutation_on_one_server_refuses_an_admin_demoted_through_another() {
    if !common::on_postgres() {
        eprintln!("skipped: two server processes need a shared PostgreSQL (DATABASE_URL)");
        return;
    }
    let (url, _scratch) = common::fresh_database().await;
    let db = roster::service::Db::connect(&url).await.expect("connect");
    db.migrate().await.expect("migrate");
    let created = roster::service::accounts::create(&db, "Two", "first@two.test", "First")
        .await
        .expect("account");
    let account = created.account.id;
    let (admin_role, sender_role) = (created.roles[0].id, created.roles[3].id);
    let first = created.admin.id;
    let second = users::seed_users(&db, account, created.team.id, admin_role, 1).await[0];
    let mut servers = servers::Servers::default();
    let (a, b) = (servers.start(&url).await, servers.start(&url).await);
    let keys = common::test_keys();
    let token = |id: Uuid| {
        keys.issue(
            &roster::service::ids::UserId(id).to_string(),
            Duration::from_secs(600),
        )
        .expect("signing key")
        .expect("sign")
    };
    let (first_token, second_token) = (token(first.0), token(second));
    let http = reqwest::Client::new();
    let team = gid::team(created.team.id);
    let cases: Vec<(&str, Value)> = vec![
        (
            CREATE_ROLE,
            json!({ "input": { "name": "New", "scope": "SELF", "permissions": [] } }),
        ),
        (
            UPDATE_TEAM,
            json!({ "input": { "id": team, "name": "Renamed" } }),
        ),
        (CREATE_DEPARTMENT, json!({ "input": { "name": "New" } })),
        (
            UPDATE_ACCOUNT,
            json!({ "input": { "inviteExpiryDays": 3 } }),
        ),
        (
            invites::INVITE_USERS,
            json!({ "input": { "invitations": [invites::invitation("late@two.test", created.team.id, sender_role)] } }),
        ),
    ];
    for (query, variables) in cases {
        users::make_admins(&db, account.0, &[first.0, second]).await;
        // Hold the account lock so both requests queue behind it: the demotion (server A)
        // first, then the second admin's mutation (server B), whose principal is read while
        // they are still an Admin.
        let txn = db.begin_write().await.expect("begin");
        roster::service::locks::lock_account_users(&txn, account)
            .await
            .expect("lock");
        let demote = users::gql_at(
            &http,
            &a,
            &first_token,
            users::CHANGE_ROLE,
            users::role_vars(&[gid::user(second)], &gid::role(sender_role), false),
        );
        let act = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            users::gql_at(&http, &b, &second_token, query, variables.clone()).await
        };
        let release = async {
            tokio::time::sleep(Duration::from_millis(700)).await;
            txn.commit().await.expect("release");
        };
        let (demoted, acted, ()) = tokio::join!(demote, act, release);
        assert_eq!(
            data(&demoted)["changeUsersRole"]["changedCount"],
            1,
            "{demoted:#}"
        );
        assert_code(&acted, "FORBIDDEN");
        assert!(acted["data"].is_null(), "{query}: {acted:#}");
    }
    let written_by_second = audit_event_count(&db, second).await;
    assert_eq!(written_by_second, 0, "nothing was written on stale rights");
}

/// Audit events caused by `actor`.
async fn audit_event_count(db: &roster::service::Db, actor: Uuid) -> usize {
    roster::entity::audit_event::Entity::find()
        .filter(roster::entity::audit_event::Column::ActorId.eq(actor))
        .all(db.conn())
        .await
        .expect("audit events")
        .len()
}

// ---- 5. A damaged domain list fails closed ------------------------------------------------

#[tokio::test]
async fn a_malformed_stored_domain_list_refuses_invitations() {
    let t = OrgApp::spawn().await;
    let o = &t.org;
    data(
        &t.run(
            o.admin,
            UPDATE_ACCOUNT,
            json!({ "allowedEmailDomains": ["a.test"] }),
        )
        .await,
    );
    let dana = t.app.token_for(o.dept_admin);
    for damaged in ["not json", "{\"a.test\": true}", "\"a.test\"", "[1, 2]"] {
        account::Entity::update_many()
            .col_expr(account::Column::AllowedEmailDomains, Expr::value(damaged))
            .filter(account::Column::Id.eq(o.account_id))
            .exec(t.app.db.conn())
            .await
            .expect("damage the column");
        for email in ["someone@a.test", "someone@elsewhere.test"] {
            let body = invites::invite(
                &t.app,
                &dana,
                vec![invites::invitation(email, o.platform, o.roles["SENDER"])],
                false,
            )
            .await;
            let payload = &data(&body)["inviteUsers"];
            assert_eq!(
                item_codes(payload),
                [(0, "EMAIL_DOMAIN_NOT_ALLOWED".to_owned())],
                "{damaged}: {body:#}"
            );
            assert_eq!(payload["changedCount"], 0);
        }
    }
    assert!(invites::invite_rows(&t.app).await.is_empty());
    // Setting the list again repairs it.
    data(
        &t.run(
            o.admin,
            UPDATE_ACCOUNT,
            json!({ "allowedEmailDomains": ["a.test"] }),
        )
        .await,
    );
    invites::invite_one(
        &t.app,
        &dana,
        "someone@a.test",
        o.platform,
        o.roles["SENDER"],
    )
    .await;
}

// ---- 6. Relay refetch of audit events -----------------------------------------------------

const NODE: &str =
    "query($id: ID!) { node(id: $id) { id ... on AuditEvent { action targetLabel } } }";

#[tokio::test]
async fn node_returns_the_audit_events_the_caller_may_read() {
    let t = OrgApp::spawn().await;
    let o = &t.org;
    // One event about a team in the Department Admin's reach, one about a team outside it.
    data(
        &t.run(
            o.admin,
            UPDATE_TEAM,
            json!({ "id": gid::team(o.mobile), "name": "Mobile Apps" }),
        )
        .await,
    );
    data(
        &t.run(
            o.admin,
            UPDATE_TEAM,
            json!({ "id": gid::team(o.emea), "name": "EMEA North" }),
        )
        .await,
    );
    let body = t
        .query(
            o.admin,
            "{ auditEvents(first: 10) { nodes { id targetLabel } } }",
            json!({}),
        )
        .await;
    let listed = data(&body)["auditEvents"]["nodes"]
        .as_array()
        .expect("nodes")
        .clone();
    let id_of = |label: &str| {
        listed
            .iter()
            .find(|n| n["targetLabel"] == label)
            .expect("event")["id"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    let (mobile_event, emea_event) = (id_of("Mobile Apps"), id_of("EMEA North"));

    for id in [&mobile_event, &emea_event] {
        let body = t.query(o.admin, NODE, json!({ "id": id })).await;
        assert_eq!(data(&body)["node"]["id"], id.as_str());
        assert_eq!(data(&body)["node"]["action"], "team.updated");
    }
    let body = t
        .query(o.dept_admin, NODE, json!({ "id": mobile_event }))
        .await;
    assert_eq!(data(&body)["node"]["targetLabel"], "Mobile Apps");
    // Outside the reader's scope, or without AUDIT_VIEW, or of another account: NOT_FOUND.
    let body = t
        .query(o.dept_admin, NODE, json!({ "id": emea_event }))
        .await;
    assert_code(&body, "NOT_FOUND");
    let body = t
        .query(o.manager, NODE, json!({ "id": mobile_event }))
        .await;
    assert_code(&body, "NOT_FOUND");
    let body = t
        .query(o.other_admin, NODE, json!({ "id": mobile_event }))
        .await;
    assert_code(&body, "NOT_FOUND");

    // Every other kind still answers.
    let invite = invites::invite_one(
        &t.app,
        &t.app.token_for(o.admin),
        "someone@a.test",
        o.platform,
        o.roles["SENDER"],
    )
    .await;
    for id in [
        invite,
        gid::user(o.alice),
        gid::team(o.platform),
        gid::dept(o.engineering),
        gid::role(o.roles["MANAGER"]),
        roster::service::ids::AccountId(o.account_id).to_string(),
    ] {
        let body = t.query(o.admin, NODE, json!({ "id": id })).await;
        assert_eq!(data(&body)["node"]["id"], id.as_str());
    }
}
