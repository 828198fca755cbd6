//! `changeUsersRole`, `changeUsersTeam` and `deleteUsers` through HTTP: permissions,
//! reach, escalation, the last Admin, all-or-nothing, dry runs, audit, and the number of
//! SQL statements a bulk change costs. Every test checks the answer and the stored state.

mod common;
#[path = "common/users.rs"]
mod users;

use common::{Org, TestApp, data, error_code, gid};
use roster::entity::invite;
use roster::service::now_ms;
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::{Value, json};
use users::*;
use uuid::Uuid;

const USERS: &str = "query { users(first: 100) { totalCount nodes { id } } }";

const AUDIT: &str = r#"
query($filter: AuditEventFilter) {
  auditEvents(filter: $filter, first: 100) {
    totalCount
    nodes { action targetType targetId targetLabel before after actor { id } operationId }
  }
}"#;

async fn setup() -> (TestApp, Org) {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    (app, org)
}

fn ids(users: &[Uuid]) -> Vec<String> {
    users.iter().map(|u| gid::user(*u)).collect()
}

async fn audit(app: &TestApp, token: &str, filter: Value) -> Value {
    let body = app
        .gql(Some(token), AUDIT, json!({ "filter": filter }))
        .await;
    data(&body)["auditEvents"].clone()
}

/// The ids a `users` list shows.
async fn listed(app: &TestApp, token: &str) -> Vec<String> {
    let body = app.gql(Some(token), USERS, json!({})).await;
    data(&body)["users"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn admin_changes_role_of_several_users_and_a_repeat_changes_nothing() {
    let (app, org) = setup().await;
    let admin = app.token_for(org.admin);
    let targets = [org.alice, org.bob, org.carol];
    let manager_role = gid::role(org.roles["MANAGER"]);

    let body = app
        .gql(
            Some(&admin),
            CHANGE_ROLE,
            role_vars(&ids(&targets), &manager_role, false),
        )
        .await;
    let p = &data(&body)["changeUsersRole"];
    assert_eq!(p["changedCount"], 3);
    assert_eq!(p["errors"], json!([]));
    assert_eq!(p["dryRun"], false);
    let returned: Vec<&str> = p["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(returned, ids(&targets), "users come back in input order");
    assert!(
        p["users"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["role"]["key"] == "MANAGER")
    );
    let op = p["operationId"].as_str().expect("operation id").to_owned();
    for t in targets {
        assert_eq!(row(&app.db, t).await.role_id, org.roles["MANAGER"].into());
    }

    // One audit event per user, with before and after.
    let events = audit(&app, &admin, json!({ "operationId": op })).await;
    assert_eq!(events["totalCount"], 3);
    for e in events["nodes"].as_array().unwrap() {
        assert_eq!(e["action"], "user.role_changed");
        assert_eq!(e["targetType"], "User");
        assert_eq!(e["actor"]["id"], gid::user(org.admin));
        assert_eq!(
            e["before"],
            json!({ "roleId": gid::role(org.roles["SENDER"]), "role": "Sender" })
        );
        assert_eq!(
            e["after"],
            json!({ "roleId": manager_role, "role": "Manager" })
        );
    }
    let mut labels: Vec<&str> = events["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["targetLabel"].as_str().unwrap())
        .collect();
    labels.sort();
    assert_eq!(labels, ["alice@a.test", "bob@a.test", "carol@a.test"]);

    // The same request again: nothing to do, nothing written.
    let audit_before = audit_rows(&app.db).await;
    let updated_before = row(&app.db, org.alice).await.updated_at;
    let body = app
        .gql(
            Some(&admin),
            CHANGE_ROLE,
            role_vars(&ids(&targets), &manager_role, false),
        )
        .await;
    let p = &data(&body)["changeUsersRole"];
    assert_eq!(p["changedCount"], 0);
    assert_eq!(p["errors"], json!([]));
    assert_eq!(p["operationId"], Value::Null);
    assert_eq!(p["users"].as_array().unwrap().len(), 3);
    assert_eq!(audit_rows(&app.db).await, audit_before);
    assert_eq!(row(&app.db, org.alice).await.updated_at, updated_before);
}

#[tokio::test]
async fn change_team_moves_users_counts_only_the_moved_and_audits_team_names() {
    let (app, org) = setup().await;
    let admin = app.token_for(org.admin);
    // Sam is in Platform already: unchanged, not counted.
    let targets = [org.alice, org.bob, org.sender];
    let body = app
        .gql(
            Some(&admin),
            CHANGE_TEAM,
            team_vars(&ids(&targets), &gid::team(org.platform), false),
        )
        .await;
    let p = &data(&body)["changeUsersTeam"];
    assert_eq!(p["changedCount"], 2);
    assert_eq!(p["errors"], json!([]));
    assert!(
        p["users"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["team"]["name"] == "Platform")
    );
    for t in targets {
        assert_eq!(row(&app.db, t).await.team_id, org.platform.into());
    }
    let events = audit(&app, &admin, json!({ "operationId": p["operationId"] })).await;
    assert_eq!(events["totalCount"], 2);
    let by_label = |label: &str| {
        events["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["targetLabel"] == label)
            .cloned()
            .expect("event")
    };
    let alice = by_label("alice@a.test");
    assert_eq!(alice["action"], "user.team_changed");
    assert_eq!(
        alice["before"],
        json!({ "teamId": gid::team(org.mobile), "team": "Mobile" })
    );
    assert_eq!(
        alice["after"],
        json!({ "teamId": gid::team(org.platform), "team": "Platform" })
    );
    assert_eq!(by_label("bob@a.test")["before"]["team"], "EMEA");
}

#[tokio::test]
async fn one_bad_id_among_many_refuses_the_whole_request() {
    let (app, org) = setup().await;
    let admin = app.token_for(org.admin);
    let unknown = gid::user(Uuid::now_v7());
    let request = vec![
        gid::user(org.alice),
        unknown.clone(),
        gid::user(org.bob),
        gid::user(org.other_user),
        "not-an-id".to_owned(),
        gid::team(org.platform),
        gid::user(org.carol),
    ];
    let body = app
        .gql(
            Some(&admin),
            CHANGE_ROLE,
            role_vars(&request, &gid::role(org.roles["MANAGER"]), false),
        )
        .await;
    let p = &data(&body)["changeUsersRole"];
    assert_eq!(
        item_codes(p),
        [
            (1, "NOT_FOUND".into()),
            (3, "NOT_FOUND".into()),
            (4, "NOT_FOUND".into()),
            (5, "NOT_FOUND".into())
        ]
    );
    assert_eq!(
        p["errors"][0]["id"],
        unknown.as_str(),
        "the id is echoed as sent"
    );
    assert_eq!(p["errors"][2]["id"], "not-an-id");
    assert_eq!(p["changedCount"], 0);
    assert_eq!(p["users"], json!([]));
    assert_eq!(p["operationId"], Value::Null);
    for u in [org.alice, org.bob, org.carol] {
        assert_eq!(
            row(&app.db, u).await.role_id,
            org.roles["SENDER"].into(),
            "nothing was changed"
        );
    }
    assert_eq!(row(&app.db, org.other_user).await.deleted_at, None);
    assert_eq!(audit_rows(&app.db).await, 0);

    // The same for the other two mutations.
    let body = app
        .gql(
            Some(&admin),
            CHANGE_TEAM,
            team_vars(&request, &gid::team(org.general), false),
        )
        .await;
    assert_eq!(item_codes(&data(&body)["changeUsersTeam"]).len(), 4);
    let body = app
        .gql(Some(&admin), DELETE, delete_vars(&request, false))
        .await;
    let p = &data(&body)["deleteUsers"];
    assert_eq!(item_codes(p).len(), 4);
    assert_eq!(p["deletedIds"], json!([]));
    assert_eq!(row(&app.db, org.alice).await.team_id, org.mobile.into());
    assert_eq!(row(&app.db, org.alice).await.deleted_at, None);
    assert_eq!(audit_rows(&app.db).await, 0);
}

#[tokio::test]
async fn a_thousand_users_change_in_one_request_and_more_is_limit_exceeded() {
    let (app, org) = setup().await;
    let admin = app.token_for(org.admin);
    let many = seed_users(&app.db, org.account_id, org.emea, org.roles["SENDER"], 1001).await;
    let (thousand, _) = many.split_at(1000);

    let body = app
        .gql(
            Some(&admin),
            CHANGE_ROLE,
            role_vars(&ids(&many), &gid::role(org.roles["MANAGER"]), false),
        )
        .await;
    assert_eq!(error_code(&body), Some("LIMIT_EXCEEDED"), "{body}");
    assert_eq!(
        row(&app.db, many[0]).await.role_id,
        org.roles["SENDER"].into()
    );
    assert_eq!(audit_rows(&app.db).await, 0);

    let query = r#"mutation($ids: [ID!]!, $roleId: ID!) {
        changeUsersRole(input: {userIds: $ids, roleId: $roleId}) { changedCount errors { code } operationId } }"#;
    let body = app
        .gql(
            Some(&admin),
            query,
            json!({ "ids": ids(thousand), "roleId": gid::role(org.roles["MANAGER"]) }),
        )
        .await;
    let p = &data(&body)["changeUsersRole"];
    assert_eq!(p["changedCount"], 1000);
    assert_eq!(p["errors"], json!([]));
    for u in [thousand[0], thousand[499], thousand[500], thousand[999]] {
        assert_eq!(row(&app.db, u).await.role_id, org.roles["MANAGER"].into());
    }
    assert_eq!(
        row(&app.db, many[1000]).await.role_id,
        org.roles["SENDER"].into()
    );
    assert_eq!(audit_rows(&app.db).await, 1000);
    let events = audit(&app, &admin, json!({ "operationId": p["operationId"] })).await;
    assert_eq!(events["totalCount"], 1000);

    // Deletes and moves of the same size work too, and above the limit they are refused.
    let body = app
        .gql(Some(&admin), DELETE, delete_vars(&ids(&many), false))
        .await;
    assert_eq!(error_code(&body), Some("LIMIT_EXCEEDED"));
    let body = app
        .gql(
            Some(&admin),
            CHANGE_TEAM,
            team_vars(&ids(&many), &gid::team(org.general), false),
        )
        .await;
    assert_eq!(error_code(&body), Some("LIMIT_EXCEEDED"));
    let body = app
        .gql(Some(&admin), DELETE, delete_vars(&ids(thousand), false))
        .await;
    assert_eq!(data(&body)["deleteUsers"]["changedCount"], 1000);
    assert!(row(&app.db, thousand[999]).await.deleted_at.is_some());
    assert_eq!(row(&app.db, many[1000]).await.deleted_at, None);
}

#[tokio::test]
async fn dry_run_answers_like_the_real_run_and_writes_nothing() {
    let (app, org) = setup().await;
    let admin = app.token_for(org.admin);
    let targets = ids(&[org.alice, org.bob]);
    let manager_role = gid::role(org.roles["MANAGER"]);

    let body = app
        .gql(
            Some(&admin),
            CHANGE_ROLE,
            role_vars(&targets, &manager_role, true),
        )
        .await;
    let preview = data(&body)["changeUsersRole"].clone();
    assert_eq!(preview["dryRun"], true);
    assert_eq!(preview["changedCount"], 2);
    assert_eq!(preview["operationId"], Value::Null);
    assert!(
        preview["users"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["role"]["key"] == "MANAGER"),
        "would-be values"
    );
    assert_eq!(
        row(&app.db, org.alice).await.role_id,
        org.roles["SENDER"].into()
    );
    assert_eq!(audit_rows(&app.db).await, 0);

    let body = app
        .gql(
            Some(&admin),
            CHANGE_TEAM,
            team_vars(&targets, &gid::team(org.general), true),
        )
        .await;
    let p = &data(&body)["changeUsersTeam"];
    assert_eq!(
        (
            p["changedCount"].clone(),
            p["dryRun"].clone(),
            p["operationId"].clone()
        ),
        (json!(2), json!(true), Value::Null)
    );
    assert!(
        p["users"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["team"]["name"] == "General")
    );
    assert_eq!(row(&app.db, org.bob).await.team_id, org.emea.into());

    let body = app
        .gql(Some(&admin), DELETE, delete_vars(&targets, true))
        .await;
    let p = &data(&body)["deleteUsers"];
    assert_eq!(p["deletedIds"], json!(targets));
    assert_eq!(
        (p["changedCount"].clone(), p["operationId"].clone()),
        (json!(2), Value::Null)
    );
    assert_eq!(row(&app.db, org.alice).await.deleted_at, None);
    assert_eq!(listed(&app, &admin).await.len(), 7);
    assert_eq!(audit_rows(&app.db).await, 0);

    // A refused dry run lists the same errors as the real run would.
    let bad = vec![gid::user(org.alice), gid::user(org.other_user)];
    let body = app
        .gql(
            Some(&admin),
            CHANGE_ROLE,
            role_vars(&bad, &manager_role, true),
        )
        .await;
    let dry = data(&body)["changeUsersRole"].clone();
    let body = app
        .gql(
            Some(&admin),
            CHANGE_ROLE,
            role_vars(&bad, &manager_role, false),
        )
        .await;
    let real = data(&body)["changeUsersRole"].clone();
    assert_eq!(dry["errors"], real["errors"]);
    assert_eq!(item_codes(&dry), [(1, "NOT_FOUND".into())]);
    assert_eq!(
        row(&app.db, org.alice).await.role_id,
        org.roles["SENDER"].into()
    );

    // Then the real run does what the dry run said.
    let body = app
        .gql(
            Some(&admin),
            CHANGE_ROLE,
            role_vars(&targets, &manager_role, false),
        )
        .await;
    let real = &data(&body)["changeUsersRole"];
    assert_eq!(real["changedCount"], 2);
    assert_eq!(real["users"], preview["users"], "the preview was right");
    assert_eq!(audit_rows(&app.db).await, 2);
}

/// What one built-in role may do with each mutation, on targets in its reach holding a
/// role it could grant (Manager, in Platform), moving to Mobile (same department).
#[tokio::test]
async fn permission_matrix_of_the_built_in_roles() {
    let (app, org) = setup().await;
    let cases = [
        ("ADMIN", org.admin, [true, true, true]),
        ("DEPARTMENT_ADMIN", org.dept_admin, [true, true, true]),
        ("MANAGER", org.manager, [true, false, false]),
        ("SENDER", org.sender, [false, false, false]),
    ];
    for (role, actor, [may_change_role, may_move, may_delete]) in cases {
        let token = app.token_for(actor);
        let t = seed_users(
            &app.db,
            org.account_id,
            org.platform,
            org.roles["MANAGER"],
            3,
        )
        .await;

        let body = app
            .gql(
                Some(&token),
                CHANGE_ROLE,
                role_vars(&ids(&t[..1]), &gid::role(org.roles["SENDER"]), false),
            )
            .await;
        if may_change_role {
            assert_eq!(
                data(&body)["changeUsersRole"]["changedCount"],
                1,
                "{role}: {body}"
            );
            assert_eq!(
                row(&app.db, t[0]).await.role_id,
                org.roles["SENDER"].into(),
                "{role}"
            );
        } else {
            assert_eq!(error_code(&body), Some("FORBIDDEN"), "{role}: {body}");
            assert_eq!(
                row(&app.db, t[0]).await.role_id,
                org.roles["MANAGER"].into(),
                "{role}"
            );
        }

        let body = app
            .gql(
                Some(&token),
                CHANGE_TEAM,
                team_vars(&ids(&t[1..2]), &gid::team(org.mobile), false),
            )
            .await;
        if may_move {
            assert_eq!(
                data(&body)["changeUsersTeam"]["changedCount"],
                1,
                "{role}: {body}"
            );
            assert_eq!(
                row(&app.db, t[1]).await.team_id,
                org.mobile.into(),
                "{role}"
            );
        } else {
            assert_eq!(error_code(&body), Some("FORBIDDEN"), "{role}: {body}");
            assert_eq!(
                row(&app.db, t[1]).await.team_id,
                org.platform.into(),
                "{role}"
            );
        }

        let body = app
            .gql(Some(&token), DELETE, delete_vars(&ids(&t[2..]), false))
            .await;
        if may_delete {
            assert_eq!(
                data(&body)["deleteUsers"]["deletedIds"],
                json!(ids(&t[2..])),
                "{role}: {body}"
            );
            assert!(row(&app.db, t[2]).await.deleted_at.is_some(), "{role}");
        } else {
            assert_eq!(error_code(&body), Some("FORBIDDEN"), "{role}: {body}");
            assert_eq!(row(&app.db, t[2]).await.deleted_at, None, "{role}");
        }
    }
}

#[tokio::test]
async fn manager_cannot_grant_admin() {
    let (app, org) = setup().await;
    let manager = app.token_for(org.manager);
    for role in ["ADMIN", "DEPARTMENT_ADMIN"] {
        let body = app
            .gql(
                Some(&manager),
                CHANGE_ROLE,
                role_vars(
                    &ids(&[org.sender, org.manager]),
                    &gid::role(org.roles[role]),
                    false,
                ),
            )
            .await;
        let p = &data(&body)["changeUsersRole"];
        assert_eq!(
            item_codes(p),
            [
                (0, "ROLE_NOT_GRANTABLE".into()),
                (1, "ROLE_NOT_GRANTABLE".into())
            ],
            "{role}"
        );
        assert_eq!(p["operationId"], Value::Null);
    }
    assert_eq!(
        row(&app.db, org.sender).await.role_id,
        org.roles["SENDER"].into()
    );
    assert_eq!(
        row(&app.db, org.manager).await.role_id,
        org.roles["MANAGER"].into()
    );
    assert_eq!(audit_rows(&app.db).await, 0);
}

#[tokio::test]
async fn department_admin_cannot_move_users_to_a_team_of_another_department() {
    let (app, org) = setup().await;
    let dept_admin = app.token_for(org.dept_admin);
    for team in [org.emea, org.general, org.other_team, Uuid::now_v7()] {
        let body = app
            .gql(
                Some(&dept_admin),
                CHANGE_TEAM,
                team_vars(&ids(&[org.sender]), &gid::team(team), false),
            )
            .await;
        assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
        assert_eq!(
            body["errors"][0]["message"], "team not found",
            "no hint which case it is"
        );
    }
    let body = app
        .gql(
            Some(&dept_admin),
            CHANGE_TEAM,
            team_vars(&ids(&[org.sender]), "garbage", false),
        )
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
    assert_eq!(row(&app.db, org.sender).await.team_id, org.platform.into());
    assert_eq!(audit_rows(&app.db).await, 0);

    // Within the department it works, and users of other departments are out of reach.
    let body = app
        .gql(
            Some(&dept_admin),
            CHANGE_TEAM,
            team_vars(&ids(&[org.sender, org.bob]), &gid::team(org.mobile), false),
        )
        .await;
    assert_eq!(
        item_codes(&data(&body)["changeUsersTeam"]),
        [(1, "NOT_FOUND".into())]
    );
    assert_eq!(row(&app.db, org.sender).await.team_id, org.platform.into());
}

#[tokio::test]
async fn manager_cannot_change_a_department_admin_in_their_team() {
    let (app, org) = setup().await;
    let manager = app.token_for(org.manager);
    let body = app
        .gql(
            Some(&manager),
            CHANGE_ROLE,
            role_vars(
                &ids(&[org.sender, org.dept_admin]),
                &gid::role(org.roles["MANAGER"]),
                false,
            ),
        )
        .await;
    let p = &data(&body)["changeUsersRole"];
    assert_eq!(item_codes(p), [(1, "FORBIDDEN".into())]);
    assert_eq!(
        row(&app.db, org.dept_admin).await.role_id,
        org.roles["DEPARTMENT_ADMIN"].into()
    );
    assert_eq!(
        row(&app.db, org.sender).await.role_id,
        org.roles["SENDER"].into(),
        "all or nothing"
    );
    assert_eq!(audit_rows(&app.db).await, 0);

    // One level up, the same rule: a Department Admin may delete a Manager of their
    // department, but not an Admin who is in it.
    let body = app
        .gql(
            Some(&app.token_for(org.dept_admin)),
            DELETE,
            delete_vars(&ids(&[org.manager]), false),
        )
        .await;
    assert_eq!(data(&body)["deleteUsers"]["changedCount"], 1, "{body}");
    let admin = app.token_for(org.admin);
    let body = app
        .gql(
            Some(&admin),
            CHANGE_TEAM,
            team_vars(&ids(&[org.admin]), &gid::team(org.platform), false),
        )
        .await;
    assert_eq!(data(&body)["changeUsersTeam"]["changedCount"], 1);
    let body = app
        .gql(
            Some(&app.token_for(org.dept_admin)),
            DELETE,
            delete_vars(&ids(&[org.admin]), false),
        )
        .await;
    assert_eq!(
        item_codes(&data(&body)["deleteUsers"]),
        [(0, "FORBIDDEN".into())]
    );
    assert_eq!(row(&app.db, org.admin).await.deleted_at, None);
}

#[tokio::test]
async fn manager_cannot_target_users_outside_their_team() {
    let (app, org) = setup().await;
    let manager = app.token_for(org.manager);
    let body = app
        .gql(
            Some(&manager),
            CHANGE_ROLE,
            role_vars(
                &ids(&[org.alice, org.sender, org.carol]),
                &gid::role(org.roles["MANAGER"]),
                false,
            ),
        )
        .await;
    let p = &data(&body)["changeUsersRole"];
    assert_eq!(
        item_codes(p),
        [(0, "NOT_FOUND".into()), (2, "NOT_FOUND".into())]
    );
    assert_eq!(p["errors"][0]["message"], "no such user");
    assert_eq!(
        row(&app.db, org.alice).await.role_id,
        org.roles["SENDER"].into()
    );
    assert_eq!(
        row(&app.db, org.sender).await.role_id,
        org.roles["SENDER"].into()
    );
    assert_eq!(audit_rows(&app.db).await, 0);
}

#[tokio::test]
async fn ids_of_another_account_are_not_found() {
    let (app, org) = setup().await;
    let admin = app.token_for(org.admin);
    let foreign = ids(&[org.other_user, org.other_admin]);
    let body = app
        .gql(
            Some(&admin),
            CHANGE_ROLE,
            role_vars(&foreign, &gid::role(org.roles["SENDER"]), false),
        )
        .await;
    assert_eq!(
        item_codes(&data(&body)["changeUsersRole"]),
        [(0, "NOT_FOUND".into()), (1, "NOT_FOUND".into())]
    );
    let body = app
        .gql(
            Some(&admin),
            CHANGE_TEAM,
            team_vars(&foreign, &gid::team(org.general), false),
        )
        .await;
    assert_eq!(item_codes(&data(&body)["changeUsersTeam"]).len(), 2);
    let body = app
        .gql(Some(&admin), DELETE, delete_vars(&foreign, false))
        .await;
    assert_eq!(item_codes(&data(&body)["deleteUsers"]).len(), 2);

    // The other account's role and team are unknown here too.
    let other_role = {
        use roster::entity::user;
        user::Entity::find_by_id(org.other_user)
            .one(app.db.conn())
            .await
            .unwrap()
            .unwrap()
            .role_id
    };
    let body = app
        .gql(
            Some(&admin),
            CHANGE_ROLE,
            role_vars(&ids(&[org.alice]), &gid::role(other_role), false),
        )
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
    let body = app
        .gql(
            Some(&admin),
            CHANGE_TEAM,
            team_vars(&ids(&[org.alice]), &gid::team(org.other_team), false),
        )
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"));

    assert_eq!(row(&app.db, org.other_user).await.deleted_at, None);
    assert_eq!(
        row(&app.db, org.other_admin).await.role_id.0,
        admin_role(&app.db, org.other_account).await
    );
    assert_eq!(row(&app.db, org.alice).await.team_id, org.mobile.into());
    assert_eq!(audit_rows(&app.db).await, 0);
}

#[tokio::test]
async fn the_last_admin_cannot_be_demoted_or_deleted() {
    let (app, org) = setup().await;
    let admin = app.token_for(org.admin);
    let body = app
        .gql(
            Some(&admin),
            CHANGE_ROLE,
            role_vars(&ids(&[org.admin]), &gid::role(org.roles["MANAGER"]), false),
        )
        .await;
    let p = &data(&body)["changeUsersRole"];
    assert_eq!(item_codes(p), [(0, "LAST_ADMIN".into())]);
    assert_eq!(
        row(&app.db, org.admin).await.role_id,
        org.roles["ADMIN"].into()
    );

    // With a second admin, demoting both at once is still refused, for both.
    let second = seed_users(&app.db, org.account_id, org.general, org.roles["ADMIN"], 1).await[0];
    let body = app
        .gql(
            Some(&admin),
            CHANGE_ROLE,
            role_vars(
                &ids(&[org.alice, org.admin, second]),
                &gid::role(org.roles["SENDER"]),
                false,
            ),
        )
        .await;
    assert_eq!(
        item_codes(&data(&body)["changeUsersRole"]),
        [(1, "LAST_ADMIN".into()), (2, "LAST_ADMIN".into())]
    );
    assert_eq!(active_admins(&app.db, org.account_id).await.len(), 2);

    // Deleting one of two is fine; then the remaining one can neither step down nor be deleted.
    let body = app
        .gql(Some(&admin), DELETE, delete_vars(&ids(&[second]), false))
        .await;
    assert_eq!(data(&body)["deleteUsers"]["changedCount"], 1);
    assert_eq!(active_admins(&app.db, org.account_id).await, [org.admin]);
    let body = app
        .gql(
            Some(&admin),
            CHANGE_ROLE,
            role_vars(
                &ids(&[org.admin]),
                &gid::role(org.roles["DEPARTMENT_ADMIN"]),
                true,
            ),
        )
        .await;
    assert_eq!(
        item_codes(&data(&body)["changeUsersRole"]),
        [(0, "LAST_ADMIN".into())],
        "dry runs check it too"
    );
    assert_eq!(active_admins(&app.db, org.account_id).await, [org.admin]);
    assert_eq!(audit_rows(&app.db).await, 1);
}

#[tokio::test]
async fn deleting_yourself_is_forbidden() {
    let (app, org) = setup().await;
    let second = seed_users(&app.db, org.account_id, org.general, org.roles["ADMIN"], 1).await[0];
    let admin = app.token_for(org.admin);
    let body = app
        .gql(
            Some(&admin),
            DELETE,
            delete_vars(&ids(&[org.alice, org.admin]), false),
        )
        .await;
    let p = &data(&body)["deleteUsers"];
    assert_eq!(item_codes(p), [(1, "FORBIDDEN".into())]);
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("yourself")
    );
    assert_eq!(row(&app.db, org.admin).await.deleted_at, None);
    assert_eq!(row(&app.db, org.alice).await.deleted_at, None);
    // Another admin may.
    let body = app
        .gql(
            Some(&app.token_for(second)),
            DELETE,
            delete_vars(&ids(&[org.admin]), false),
        )
        .await;
    assert_eq!(data(&body)["deleteUsers"]["changedCount"], 1);
    assert!(row(&app.db, org.admin).await.deleted_at.is_some());
}

#[tokio::test]
async fn duplicate_ids_are_refused_on_the_later_occurrence() {
    let (app, org) = setup().await;
    let admin = app.token_for(org.admin);
    let alice = gid::user(org.alice);
    // The same UUID spelled in upper case is the same user.
    let shouting = format!("user_{}", org.alice.simple().to_string().to_uppercase());
    let request = vec![
        alice.clone(),
        gid::user(org.bob),
        alice.clone(),
        shouting.clone(),
    ];
    let body = app
        .gql(
            Some(&admin),
            CHANGE_ROLE,
            role_vars(&request, &gid::role(org.roles["MANAGER"]), false),
        )
        .await;
    let p = &data(&body)["changeUsersRole"];
    assert_eq!(
        item_codes(p),
        [(2, "DUPLICATE".into()), (3, "DUPLICATE".into())]
    );
    assert_eq!(p["errors"][1]["id"], shouting.as_str());
    assert_eq!(
        row(&app.db, org.alice).await.role_id,
        org.roles["SENDER"].into()
    );
    assert_eq!(
        row(&app.db, org.bob).await.role_id,
        org.roles["SENDER"].into()
    );
    let body = app
        .gql(
            Some(&admin),
            DELETE,
            delete_vars(&[alice.clone(), alice], false),
        )
        .await;
    assert_eq!(
        item_codes(&data(&body)["deleteUsers"]),
        [(1, "DUPLICATE".into())]
    );
    assert_eq!(row(&app.db, org.alice).await.deleted_at, None);
    assert_eq!(audit_rows(&app.db).await, 0);
}

#[tokio::test]
async fn a_deleted_user_disappears_and_their_token_stops_working() {
    let (app, org) = setup().await;
    let admin = app.token_for(org.admin);
    let manny = app.token_for(org.manager);
    // An invitation Manny sent keeps naming him after he is gone.
    let now = now_ms();
    let invite_id = Uuid::now_v7();
    invite::Entity::insert(invite::ActiveModel {
        id: Set(invite_id.into()),
        account_id: Set(org.account_id.into()),
        email: Set("new@a.test".into()),
        team_id: Set(org.platform.into()),
        role_id: Set(org.roles["SENDER"].into()),
        invited_by: Set(Some(org.manager.into())),
        token_hash: Set(Some(vec![1; 32])),
        created_at: Set(now),
        expires_at: Set(now + 86_400_000),
        last_sent_at: Set(Some(now)),
        send_count: Set(1),
        accepted_at: Set(None),
        accepted_user_id: Set(None),
        withdrawn_at: Set(None),
        deleted_at: Set(None),
        delivery: Set(invite::Delivery::Sent),
        delivery_error: Set(None),
        updated_at: Set(now),
    })
    .exec(app.db.conn())
    .await
    .expect("invite");
    let viewer = app
        .gql(Some(&manny), "query { viewer { id } }", json!({}))
        .await;
    assert_eq!(data(&viewer)["viewer"]["id"], gid::user(org.manager));

    let body = app
        .gql(
            Some(&admin),
            DELETE,
            delete_vars(&ids(&[org.manager]), false),
        )
        .await;
    let p = &data(&body)["deleteUsers"];
    assert_eq!(p["deletedIds"], json!([gid::user(org.manager)]));
    assert_eq!(p["changedCount"], 1);

    assert!(!listed(&app, &admin).await.contains(&gid::user(org.manager)));
    assert_eq!(listed(&app, &admin).await.len(), 6);
    let viewer = app
        .gql(Some(&manny), "query { viewer { id } }", json!({}))
        .await;
    assert_eq!(error_code(&viewer), Some("UNAUTHENTICATED"), "{viewer}");
    let lookup = app
        .gql(
            Some(&admin),
            "query($id: ID!) { user(id: $id) { id } }",
            json!({ "id": gid::user(org.manager) }),
        )
        .await;
    assert_eq!(error_code(&lookup), Some("NOT_FOUND"), "{lookup}");
    // Repeating the delete is safe: the user is already deleted, so nothing changes.
    let events_before = audit_count(&app).await;
    let again = app
        .gql(
            Some(&admin),
            DELETE,
            delete_vars(&ids(&[org.manager]), false),
        )
        .await;
    let p = &data(&again)["deleteUsers"];
    assert_eq!(p["errors"], json!([]), "{again}");
    assert_eq!(p["changedCount"], 0);
    assert!(p["operationId"].is_null());
    assert_eq!(
        audit_count(&app).await,
        events_before,
        "a repeat writes no audit event"
    );
    // Other changes to a deleted user still find nobody.
    let body = app
        .gql(
            Some(&admin),
            "mutation($ids: [ID!]!, $t: ID!) { changeUsersTeam(input: { userIds: $ids, teamId: $t }) { errors { code } } }",
            json!({ "ids": ids(&[org.manager]), "t": gid::team(org.mobile) }),
        )
        .await;
    assert_eq!(
        data(&body)["changeUsersTeam"]["errors"][0]["code"],
        "NOT_FOUND"
    );
    let stored = row(&app.db, org.manager).await;
    assert!(stored.deleted_at.is_some());
    let stored_invite = invite::Entity::find_by_id(invite_id)
        .one(app.db.conn())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored_invite.invited_by, Some(org.manager.into()));

    let events = audit(&app, &admin, json!({ "targetId": gid::user(org.manager) })).await;
    assert_eq!(events["totalCount"], 1);
    let e = &events["nodes"][0];
    assert_eq!(e["action"], "user.deleted");
    assert_eq!(e["targetLabel"], "manny@a.test");
    assert_eq!(e["before"]["email"], "manny@a.test");
    assert_eq!(e["before"]["role"], "Manager");
    assert_eq!(e["before"]["team"], "Platform");
    assert_eq!(e["after"], Value::Null);

    // Deleting again is a repeat (no error, nothing changed); other mutations no longer
    // find the user.
    let body = app
        .gql(
            Some(&admin),
            DELETE,
            delete_vars(&ids(&[org.manager]), false),
        )
        .await;
    assert!(item_codes(&data(&body)["deleteUsers"]).is_empty());
    assert_eq!(data(&body)["deleteUsers"]["changedCount"], 0);
    let body = app
        .gql(
            Some(&admin),
            CHANGE_ROLE,
            role_vars(&ids(&[org.manager]), &gid::role(org.roles["SENDER"]), false),
        )
        .await;
    assert_eq!(
        item_codes(&data(&body)["changeUsersRole"]),
        [(0, "NOT_FOUND".into())]
    );
    assert_eq!(
        row(&app.db, org.manager).await.role_id,
        org.roles["MANAGER"].into()
    );
}

#[tokio::test]
async fn a_role_change_takes_effect_on_the_next_request() {
    let (app, org) = setup().await;
    let second = seed_users(&app.db, org.account_id, org.general, org.roles["ADMIN"], 1).await[0];
    let admin = app.token_for(org.admin);
    let demoted = app.token_for(second);
    assert_eq!(listed(&app, &demoted).await.len(), 8);

    let body = app
        .gql(
            Some(&admin),
            CHANGE_ROLE,
            role_vars(&ids(&[second]), &gid::role(org.roles["MANAGER"]), false),
        )
        .await;
    assert_eq!(data(&body)["changeUsersRole"]["changedCount"], 1);
    // Now a Manager of General: only General's members.
    let mut seen = listed(&app, &demoted).await;
    seen.sort();
    let mut general = ids(&[org.admin, org.carol, second]);
    general.sort();
    assert_eq!(seen, general);
    let body = app
        .gql(
            Some(&demoted),
            DELETE,
            delete_vars(&ids(&[org.carol]), false),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));

    let body = app
        .gql(
            Some(&admin),
            CHANGE_ROLE,
            role_vars(&ids(&[second]), &gid::role(org.roles["SENDER"]), false),
        )
        .await;
    assert_eq!(data(&body)["changeUsersRole"]["changedCount"], 1);
    let body = app.gql(Some(&demoted), USERS, json!({})).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    assert_eq!(row(&app.db, org.carol).await.deleted_at, None);
}

/// A bulk change costs a fixed number of statements, not one per user.
#[tokio::test]
async fn a_bulk_role_change_runs_a_bounded_number_of_statements() {
    let (app, org) = setup().await;
    let admin = app.token_for(org.admin);
    let small = seed_users(&app.db, org.account_id, org.emea, org.roles["SENDER"], 10).await;
    let large = seed_users(&app.db, org.account_id, org.emea, org.roles["SENDER"], 1000).await;
    let query = r#"mutation($ids: [ID!]!, $roleId: ID!) {
        changeUsersRole(input: {userIds: $ids, roleId: $roleId}) { changedCount } }"#;
    let role = gid::role(org.roles["MANAGER"]);

    let before = app.db.statement_count();
    let body = app
        .gql(
            Some(&admin),
            query,
            json!({ "ids": ids(&small), "roleId": role }),
        )
        .await;
    assert_eq!(data(&body)["changeUsersRole"]["changedCount"], 10);
    let for_small = app.db.statement_count() - before;

    let before = app.db.statement_count();
    let body = app
        .gql(
            Some(&admin),
            query,
            json!({ "ids": ids(&large), "roleId": role }),
        )
        .await;
    assert_eq!(data(&body)["changeUsersRole"]["changedCount"], 1000);
    let for_large = app.db.statement_count() - before;

    println!("statements: 10 users {for_small}, 1,000 users {for_large}");
    assert_eq!(
        for_large, for_small,
        "10 users: {for_small} statements, 1,000 users: {for_large}"
    );
    // 8, plus the domain events' three (issue 13): the sequence upsert, one multi-row insert
    // and, on PostgreSQL, the NOTIFY.
    assert!(for_large <= 11, "1,000 users took {for_large} statements");
    assert_eq!(
        row(&app.db, large[999]).await.role_id,
        org.roles["MANAGER"].into()
    );
    assert_eq!(audit_rows(&app.db).await, 1010);
}

/// How many audit events exist in all accounts.
async fn audit_count(app: &TestApp) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    roster::entity::audit_event::Entity::find()
        .count(app.db.conn())
        .await
        .expect("count")
}
