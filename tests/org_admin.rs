//! Organization administration through HTTP: teams, departments, custom roles and account
//! settings — uniqueness, what blocks a delete, no escalation through roles, immediate
//! effect on reach and permissions, validation, permissions, tenancy and audit.
//!
//! Runs on SQLite by default and on PostgreSQL when `DATABASE_URL` points at one.

mod common;
#[path = "common/org.rs"]
mod org;

use std::collections::HashSet;

use common::{data, error_code, gid};
use org::*;
use serde_json::{Value, json};

fn assert_bad_input(body: &Value, field: &str) {
    assert_eq!(error_code(body), Some("BAD_USER_INPUT"), "{body:#}");
    assert_eq!(extensions(body)["field"], field, "{body:#}");
    assert!(body["data"].is_null(), "{body:#}");
}

fn assert_code(body: &Value, code: &str) {
    assert_eq!(error_code(body), Some(code), "{body:#}");
    assert!(body["data"].is_null(), "{body:#}");
}

// ------------------------------------------------------------------------------ teams

#[tokio::test]
async fn admin_creates_team_in_department_with_trimmed_name() {
    let t = OrgApp::spawn().await;
    let body = t
        .run(
            t.org.admin,
            CREATE_TEAM,
            json!({ "name": "  Data  ", "departmentId": gid::dept(t.org.engineering) }),
        )
        .await;
    let team = &data(&body)["createTeam"]["team"];
    assert_eq!(team["name"], "Data");
    assert_eq!(team["department"]["name"], "Engineering");

    let row = t
        .team_row(uuid_of(team["id"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(row.name, "Data");
    assert_eq!(row.name_key, "data");
    assert_eq!(row.department_id, Some(t.org.engineering.into()));
    assert_eq!(row.account_id, t.org.account_id.into());

    // Without a department.
    let body = t
        .run(t.org.admin, CREATE_TEAM, json!({ "name": "Loners" }))
        .await;
    assert!(data(&body)["createTeam"]["team"]["department"].is_null());
    assert_eq!(
        t.team_names().await,
        ["Data", "EMEA", "General", "Loners", "Mobile", "Platform"]
    );
}

#[tokio::test]
async fn team_names_are_unique_regardless_of_case() {
    let t = OrgApp::spawn().await;
    for name in ["platform", "  PLATFORM ", "Platform"] {
        let body = t
            .run(t.org.admin, CREATE_TEAM, json!({ "name": name }))
            .await;
        assert_bad_input(&body, "name");
        assert!(
            message(&body).contains("`Platform` already exists"),
            "{body:#}"
        );
    }
    assert_eq!(
        t.team_names().await,
        ["EMEA", "General", "Mobile", "Platform"]
    );
    assert!(t.audit_events().await.is_empty());
}

#[tokio::test]
async fn renaming_a_team_into_a_taken_name_is_refused_but_changing_its_case_is_not() {
    let t = OrgApp::spawn().await;
    let body = t
        .run(
            t.org.admin,
            UPDATE_TEAM,
            json!({ "id": gid::team(t.org.mobile), "name": "platform" }),
        )
        .await;
    assert_bad_input(&body, "name");
    assert_eq!(t.team_row(t.org.mobile).await.unwrap().name, "Mobile");

    let body = t
        .run(
            t.org.admin,
            UPDATE_TEAM,
            json!({ "id": gid::team(t.org.mobile), "name": "MOBILE" }),
        )
        .await;
    assert_eq!(data(&body)["updateTeam"]["team"]["name"], "MOBILE");
    let row = t.team_row(t.org.mobile).await.unwrap();
    assert_eq!(
        (row.name.as_str(), row.name_key.as_str()),
        ("MOBILE", "mobile")
    );
}

#[tokio::test]
async fn invalid_names_are_refused_naming_the_field() {
    let t = OrgApp::spawn().await;
    let too_long = "x".repeat(101);
    for bad in ["", "   ", too_long.as_str(), "Bell\u{7}Team", "Two\nLines"] {
        let body = t
            .run(t.org.admin, CREATE_TEAM, json!({ "name": bad }))
            .await;
        assert_bad_input(&body, "name");
        let body = t
            .run(t.org.admin, CREATE_DEPARTMENT, json!({ "name": bad }))
            .await;
        assert_bad_input(&body, "name");
        let body = t
            .run(
                t.org.admin,
                CREATE_ROLE,
                json!({ "name": bad, "scope": "SELF", "permissions": [] }),
            )
            .await;
        assert_bad_input(&body, "name");
        let body = t
            .run(
                t.org.admin,
                UPDATE_DEPARTMENT,
                json!({ "id": gid::dept(t.org.sales), "name": bad }),
            )
            .await;
        assert_bad_input(&body, "name");
    }
    // 100 characters (not bytes) is fine.
    let body = t
        .run(t.org.admin, CREATE_TEAM, json!({ "name": "é".repeat(100) }))
        .await;
    data(&body);
    assert_eq!(t.team_names().await.len(), 5);
    assert_eq!(t.department_names().await, ["Engineering", "Sales"]);
    assert_eq!(t.roles_of(t.org.account_id).await.len(), 4);
    assert_eq!(t.audit_events().await.len(), 1);
}

#[tokio::test]
async fn update_team_keeps_left_out_fields_and_null_removes_the_department() {
    let t = OrgApp::spawn().await;
    let platform = gid::team(t.org.platform);

    // Only the name: the department stays.
    let body = t
        .run(
            t.org.admin,
            UPDATE_TEAM,
            json!({ "id": platform, "name": "Core" }),
        )
        .await;
    let team = &data(&body)["updateTeam"]["team"];
    assert_eq!(team["name"], "Core");
    assert_eq!(team["department"]["name"], "Engineering");
    assert_eq!(
        t.team_row(t.org.platform).await.unwrap().department_id,
        Some(t.org.engineering.into())
    );

    // Another department: the name stays.
    let body = t
        .run(
            t.org.admin,
            UPDATE_TEAM,
            json!({ "id": platform, "departmentId": gid::dept(t.org.sales) }),
        )
        .await;
    let team = &data(&body)["updateTeam"]["team"];
    assert_eq!(team["name"], "Core");
    assert_eq!(team["department"]["name"], "Sales");

    // Explicit null: no department.
    let body = t
        .run(
            t.org.admin,
            UPDATE_TEAM,
            json!({ "id": platform, "departmentId": null }),
        )
        .await;
    assert!(data(&body)["updateTeam"]["team"]["department"].is_null());
    let row = t.team_row(t.org.platform).await.unwrap();
    assert_eq!((row.name.as_str(), row.department_id), ("Core", None));
}

#[tokio::test]
async fn team_with_active_users_cannot_be_deleted() {
    let t = OrgApp::spawn().await;
    let body = t
        .run(
            t.org.admin,
            DELETE_TEAM,
            json!({ "id": gid::team(t.org.platform) }),
        )
        .await;
    assert_bad_input(&body, "id");
    assert_eq!(extensions(&body)["users"], 3);
    assert_eq!(extensions(&body)["pendingInvites"], 0);
    assert!(
        message(&body).contains("3 active users and 0 pending invitations"),
        "{body:#}"
    );
    let row = t.team_row(t.org.platform).await.unwrap();
    assert!(row.deleted_at.is_none());
    assert_eq!(row.department_id, Some(t.org.engineering.into()));
    assert!(t.audit_events().await.is_empty());
}

#[tokio::test]
async fn team_with_open_invitations_cannot_be_deleted_until_they_are_closed() {
    let t = OrgApp::spawn().await;
    let id = t.create_team("Recruiting", Some(t.org.sales)).await;
    let team = uuid_of(&id);
    let sender = t.org.roles["SENDER"];
    let pending = t
        .insert_invite("p@a.test", team, sender, InviteState::Pending)
        .await;
    let expired = t
        .insert_invite("e@a.test", team, sender, InviteState::Expired)
        .await;
    // Closed invitations and deleted users are history: they do not block the delete.
    t.insert_invite("a@a.test", team, sender, InviteState::Accepted)
        .await;
    t.insert_invite("w@a.test", team, sender, InviteState::Withdrawn)
        .await;
    t.insert_invite("d@a.test", team, sender, InviteState::Deleted)
        .await;
    let gone = t.insert_user("gone@a.test", team, sender).await;
    t.soft_delete_user(gone).await;

    let body = t.run(t.org.admin, DELETE_TEAM, json!({ "id": id })).await;
    assert_bad_input(&body, "id");
    assert_eq!(extensions(&body)["users"], 0);
    assert_eq!(extensions(&body)["pendingInvites"], 2);
    assert!(message(&body).contains("0 active users and 2 pending invitations"));
    assert!(t.team_row(team).await.unwrap().deleted_at.is_none());

    t.withdraw_invite(pending).await;
    t.withdraw_invite(expired).await;
    let body = t.run(t.org.admin, DELETE_TEAM, json!({ "id": id })).await;
    assert_eq!(data(&body)["deleteTeam"]["deletedId"], id.as_str());

    // Gone from every list and lookup; its row stays for the history that names it.
    let row = t.team_row(team).await.unwrap();
    assert!(row.deleted_at.is_some());
    assert_eq!(row.department_id, None);
    assert!(!t.team_names().await.contains(&"Recruiting".to_owned()));
    let body = t
        .query(
            t.org.admin,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
    let body = t
        .query(
            t.org.admin,
            "{ teams(first: 100) { nodes { name } totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&body)["teams"]["totalCount"], 4);
    let body = t.run(t.org.admin, DELETE_TEAM, json!({ "id": id })).await;
    assert_code(&body, "NOT_FOUND");

    // The name is free again.
    let again = t.create_team("recruiting", None).await;
    assert_ne!(again, id);
}

#[tokio::test]
async fn moving_a_team_changes_what_a_department_admin_sees_at_once() {
    let t = OrgApp::spawn().await;
    let dana = t.org.dept_admin;
    let sees_bob = |emails: Vec<String>| emails.contains(&"bob@a.test".to_owned());
    let before = t.visible_emails(dana).await.unwrap();
    assert!(before.contains(&"alice@a.test".to_owned()));
    assert!(!sees_bob(before));

    // EMEA moves into Engineering: Dana acts on Bob on her very next request.
    let body = t
        .run(
            t.org.admin,
            UPDATE_TEAM,
            json!({ "id": gid::team(t.org.emea), "departmentId": gid::dept(t.org.engineering) }),
        )
        .await;
    assert_eq!(
        data(&body)["updateTeam"]["team"]["department"]["name"],
        "Engineering"
    );
    assert!(sees_bob(t.visible_emails(dana).await.unwrap()));
    let body = t
        .query(
            dana,
            "query($id: ID!) { user(id: $id) { email team { name } } }",
            json!({ "id": gid::user(t.org.bob) }),
        )
        .await;
    assert_eq!(data(&body)["user"]["team"]["name"], "EMEA");

    // And out again: Bob is out of reach at once.
    let body = t
        .run(
            t.org.admin,
            UPDATE_TEAM,
            json!({ "id": gid::team(t.org.emea), "departmentId": null }),
        )
        .await;
    data(&body);
    assert!(!sees_bob(t.visible_emails(dana).await.unwrap()));
    let body = t
        .query(
            dana,
            "query($id: ID!) { user(id: $id) { email } }",
            json!({ "id": gid::user(t.org.bob) }),
        )
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
}

#[tokio::test]
async fn concurrent_creates_of_one_team_name_make_one_team() {
    let t = OrgApp::spawn().await;
    let names = ["Race", "race", "RACE", "Race ", " race", "rAce"];
    let bodies = futures_util::future::join_all(
        names
            .iter()
            .map(|n| t.run(t.org.admin, CREATE_TEAM, json!({ "name": n }))),
    )
    .await;
    let created = bodies.iter().filter(|b| error_code(b).is_none()).count();
    assert_eq!(created, 1, "{bodies:#?}");
    for body in bodies.iter().filter(|b| error_code(b).is_some()) {
        assert_bad_input(body, "name");
    }
    let races: Vec<_> = t
        .team_names()
        .await
        .into_iter()
        .filter(|n| n.to_lowercase() == "race")
        .collect();
    assert_eq!(races.len(), 1);
    let created = t
        .audit_events()
        .await
        .into_iter()
        .filter(|e| e.action == "team.created")
        .count();
    assert_eq!(created, 1);
}

// ------------------------------------------------------------------------ departments

#[tokio::test]
async fn departments_are_created_and_renamed_with_unique_names() {
    let t = OrgApp::spawn().await;
    let body = t
        .run(
            t.org.admin,
            CREATE_DEPARTMENT,
            json!({ "name": " Research " }),
        )
        .await;
    let dept = &data(&body)["createDepartment"]["department"];
    assert_eq!(dept["name"], "Research");
    assert_eq!(dept["teams"], json!([]));
    let research = dept["id"].as_str().unwrap().to_owned();

    let body = t
        .run(t.org.admin, CREATE_DEPARTMENT, json!({ "name": "SALES" }))
        .await;
    assert_bad_input(&body, "name");
    assert!(message(&body).contains("`Sales` already exists"));

    let body = t
        .run(
            t.org.admin,
            UPDATE_DEPARTMENT,
            json!({ "id": research, "name": "engineering" }),
        )
        .await;
    assert_bad_input(&body, "name");

    let body = t
        .run(
            t.org.admin,
            UPDATE_DEPARTMENT,
            json!({ "id": research, "name": "R&D" }),
        )
        .await;
    assert_eq!(data(&body)["updateDepartment"]["department"]["name"], "R&D");

    let body = t
        .run(
            t.org.admin,
            UPDATE_DEPARTMENT,
            json!({ "id": gid::dept(t.org.engineering), "name": "Product Engineering" }),
        )
        .await;
    assert_eq!(
        data(&body)["updateDepartment"]["department"]["teams"],
        json!([{ "name": "Mobile" }, { "name": "Platform" }])
    );
    assert_eq!(
        t.department_names().await,
        ["Product Engineering", "R&D", "Sales"]
    );
}

#[tokio::test]
async fn department_with_teams_cannot_be_deleted() {
    let t = OrgApp::spawn().await;
    let body = t
        .run(
            t.org.admin,
            DELETE_DEPARTMENT,
            json!({ "id": gid::dept(t.org.engineering) }),
        )
        .await;
    assert_bad_input(&body, "id");
    assert_eq!(extensions(&body)["teams"], 2);
    assert!(message(&body).contains("still has 2 teams"), "{body:#}");
    assert!(t.department_row(t.org.engineering).await.is_some());

    // Once its only team has moved out, Sales can go; EMEA stays, without a department.
    let body = t
        .run(
            t.org.admin,
            UPDATE_TEAM,
            json!({ "id": gid::team(t.org.emea), "departmentId": null }),
        )
        .await;
    data(&body);
    let body = t
        .run(
            t.org.admin,
            DELETE_DEPARTMENT,
            json!({ "id": gid::dept(t.org.sales) }),
        )
        .await;
    assert_eq!(
        data(&body)["deleteDepartment"]["deletedId"],
        gid::dept(t.org.sales)
    );
    assert!(t.department_row(t.org.sales).await.is_none());
    assert_eq!(t.team_row(t.org.emea).await.unwrap().department_id, None);
    assert_eq!(t.department_names().await, ["Engineering"]);

    // A department whose teams were all deleted can go too.
    let body = t
        .run(t.org.admin, CREATE_DEPARTMENT, json!({ "name": "Temp" }))
        .await;
    let temp = data(&body)["createDepartment"]["department"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let team = t.create_team("Temp Team", Some(uuid_of(&temp))).await;
    data(&t.run(t.org.admin, DELETE_TEAM, json!({ "id": team })).await);
    let body = t
        .run(t.org.admin, DELETE_DEPARTMENT, json!({ "id": temp }))
        .await;
    assert_eq!(data(&body)["deleteDepartment"]["deletedId"], temp.as_str());
}

// ------------------------------------------------------------------------------ roles

#[tokio::test]
async fn role_names_are_unique_including_built_in_names() {
    let t = OrgApp::spawn().await;
    for name in ["ADMIN", "admin", " Department admin "] {
        let body = t
            .run(
                t.org.admin,
                CREATE_ROLE,
                json!({ "name": name, "scope": "SELF", "permissions": [] }),
            )
            .await;
        assert_bad_input(&body, "name");
    }
    let auditor = t
        .create_role("Auditor", "ORGANIZATION", &["AUDIT_VIEW"])
        .await;
    let body = t
        .run(
            t.org.admin,
            CREATE_ROLE,
            json!({ "name": "AUDITOR", "scope": "SELF", "permissions": [] }),
        )
        .await;
    assert_bad_input(&body, "name");
    let body = t
        .run(
            t.org.admin,
            UPDATE_ROLE,
            json!({ "id": auditor, "name": "manager" }),
        )
        .await;
    assert_bad_input(&body, "name");
    assert!(
        message(&body).contains("`Manager` already exists"),
        "{body:#}"
    );

    let names: Vec<_> = t
        .roles_of(t.org.account_id)
        .await
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(
        names,
        ["Admin", "Auditor", "Department Admin", "Manager", "Sender"]
    );
}

#[tokio::test]
async fn admin_creates_and_edits_a_custom_role() {
    let t = OrgApp::spawn().await;
    let body = t
        .run(
            t.org.admin,
            CREATE_ROLE,
            json!({ "name": "Recruiter", "scope": "DEPARTMENT", "permissions": ["USERS_INVITE", "USERS_VIEW", "USERS_VIEW"] }),
        )
        .await;
    let role = &data(&body)["createRole"]["role"];
    assert_eq!(role["key"], Value::Null);
    assert_eq!(role["builtIn"], false);
    assert_eq!(role["scope"], "DEPARTMENT");
    assert_eq!(role["permissions"], json!(["USERS_VIEW", "USERS_INVITE"]));
    assert_eq!(role["userCount"], 0);
    let id = role["id"].as_str().unwrap().to_owned();

    // Only the scope: the name and permissions stay.
    let body = t
        .run(
            t.org.admin,
            UPDATE_ROLE,
            json!({ "id": id, "scope": "TEAM" }),
        )
        .await;
    let role = &data(&body)["updateRole"]["role"];
    assert_eq!(role["name"], "Recruiter");
    assert_eq!(role["scope"], "TEAM");
    assert_eq!(role["permissions"], json!(["USERS_VIEW", "USERS_INVITE"]));

    let body = t
        .run(
            t.org.admin,
            UPDATE_ROLE,
            json!({ "id": id, "name": "Talent", "permissions": [] }),
        )
        .await;
    let role = &data(&body)["updateRole"]["role"];
    assert_eq!(role["name"], "Talent");
    assert_eq!(role["permissions"], json!([]));
    let row = t.role_row(uuid_of(&id)).await.unwrap();
    assert_eq!(
        (row.name.as_str(), row.scope.as_str(), row.permissions),
        ("Talent", "TEAM", 0)
    );
}

/// A custom role that manages roles, held by Carol (team General, no department).
async fn role_steward(t: &OrgApp) -> String {
    let steward = t
        .create_role(
            "Role Steward",
            "DEPARTMENT",
            &["USERS_VIEW", "USERS_INVITE", "ROLES_MANAGE"],
        )
        .await;
    t.set_role(t.org.carol, uuid_of(&steward)).await;
    steward
}

#[tokio::test]
async fn role_manager_cannot_create_a_role_with_a_permission_they_lack_or_a_wider_scope() {
    let t = OrgApp::spawn().await;
    role_steward(&t).await;
    let carol = t.org.carol;

    let body = t
        .run(
            carol,
            CREATE_ROLE,
            json!({ "name": "Deleter", "scope": "TEAM", "permissions": ["USERS_VIEW", "USERS_DELETE"] }),
        )
        .await;
    assert_code(&body, "FORBIDDEN");
    assert!(message(&body).contains("USERS_DELETE"), "{body:#}");

    let body = t
        .run(
            carol,
            CREATE_ROLE,
            json!({ "name": "Viewer", "scope": "ORGANIZATION", "permissions": ["USERS_VIEW"] }),
        )
        .await;
    assert_code(&body, "FORBIDDEN");
    assert!(
        message(&body).contains("ORGANIZATION is wider than your DEPARTMENT"),
        "{body:#}"
    );
    assert_eq!(t.roles_of(t.org.account_id).await.len(), 5);

    // Within her own scope and permissions she may.
    let body = t
        .run(
            carol,
            CREATE_ROLE,
            json!({ "name": "Viewer", "scope": "DEPARTMENT", "permissions": ["USERS_VIEW", "ROLES_MANAGE"] }),
        )
        .await;
    assert_eq!(data(&body)["createRole"]["role"]["name"], "Viewer");
    assert_eq!(t.roles_of(t.org.account_id).await.len(), 6);
}

#[tokio::test]
async fn role_manager_cannot_widen_or_empower_a_role_beyond_their_own() {
    let t = OrgApp::spawn().await;
    role_steward(&t).await;
    let carol = t.org.carol;
    let body = t
        .run(
            carol,
            CREATE_ROLE,
            json!({ "name": "Helper", "scope": "TEAM", "permissions": ["USERS_VIEW"] }),
        )
        .await;
    let helper = data(&body)["createRole"]["role"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let body = t
        .run(
            carol,
            UPDATE_ROLE,
            json!({ "id": helper, "scope": "ORGANIZATION" }),
        )
        .await;
    assert_code(&body, "FORBIDDEN");
    let body = t
        .run(
            carol,
            UPDATE_ROLE,
            json!({ "id": helper, "permissions": ["USERS_VIEW", "USERS_CHANGE_ROLE"] }),
        )
        .await;
    assert_code(&body, "FORBIDDEN");
    assert!(message(&body).contains("USERS_CHANGE_ROLE"), "{body:#}");
    let row = t.role_row(uuid_of(&helper)).await.unwrap();
    assert_eq!(row.scope.as_str(), "TEAM");
    assert_eq!(row.permissions, 1); // USERS_VIEW

    // A role she could not grant as it is now is out of her hands, even to narrow it.
    let powerful = t
        .create_role("Powerful", "ORGANIZATION", &["USERS_VIEW", "USERS_DELETE"])
        .await;
    let body = t
        .run(
            carol,
            UPDATE_ROLE,
            json!({ "id": powerful, "scope": "SELF", "permissions": [] }),
        )
        .await;
    assert_code(&body, "FORBIDDEN");
    let body = t.run(carol, DELETE_ROLE, json!({ "id": powerful })).await;
    assert_code(&body, "FORBIDDEN");
    let row = t.role_row(uuid_of(&powerful)).await.unwrap();
    assert_eq!((row.scope.as_str(), row.deleted_at), ("ORGANIZATION", None));

    // Narrowing a role she could grant is fine.
    let body = t
        .run(carol, UPDATE_ROLE, json!({ "id": helper, "scope": "SELF" }))
        .await;
    assert_eq!(data(&body)["updateRole"]["role"]["scope"], "SELF");
    let events: Vec<_> = t
        .audit_events()
        .await
        .into_iter()
        .filter(|e| e.actor_id == Some(carol.into()))
        .map(|e| e.action.as_str().to_owned())
        .collect();
    assert_eq!(events, ["role.created", "role.updated"]);
}

#[tokio::test]
async fn nobody_edits_the_role_they_hold() {
    let t = OrgApp::spawn().await;
    let steward = role_steward(&t).await;
    let body = t
        .run(
            t.org.carol,
            UPDATE_ROLE,
            json!({ "id": steward, "permissions": ["USERS_VIEW", "USERS_INVITE", "ROLES_MANAGE", "USERS_DELETE"] }),
        )
        .await;
    assert_code(&body, "FORBIDDEN");
    assert!(message(&body).contains("the role you hold"), "{body:#}");
    // Not even a harmless rename or narrowing.
    let body = t
        .run(
            t.org.carol,
            UPDATE_ROLE,
            json!({ "id": steward, "name": "Steward", "scope": "SELF" }),
        )
        .await;
    assert_code(&body, "FORBIDDEN");
    let row = t.role_row(uuid_of(&steward)).await.unwrap();
    assert_eq!(
        (row.name.as_str(), row.scope.as_str()),
        ("Role Steward", "DEPARTMENT")
    );
    assert_eq!(
        t.visible_emails(t.org.carol).await.unwrap(),
        ["admin@a.test", "carol@a.test"],
        "Carol still reaches only her own team, General"
    );
}

#[tokio::test]
async fn built_in_roles_can_be_neither_edited_nor_deleted() {
    let t = OrgApp::spawn().await;
    for key in ["ADMIN", "DEPARTMENT_ADMIN", "MANAGER", "SENDER"] {
        let id = gid::role(t.org.roles[key]);
        let body = t
            .run(
                t.org.admin,
                UPDATE_ROLE,
                json!({ "id": id, "name": "Renamed" }),
            )
            .await;
        assert_code(&body, "FORBIDDEN");
        assert!(message(&body).contains("built-in role"), "{body:#}");
        let body = t
            .run(
                t.org.admin,
                UPDATE_ROLE,
                json!({ "id": id, "permissions": ["USERS_VIEW"] }),
            )
            .await;
        assert_code(&body, "FORBIDDEN");
        let body = t.run(t.org.admin, DELETE_ROLE, json!({ "id": id })).await;
        assert_code(&body, "FORBIDDEN");
        assert!(message(&body).contains("built-in role"), "{body:#}");
    }
    let names: Vec<_> = t
        .roles_of(t.org.account_id)
        .await
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["Admin", "Department Admin", "Manager", "Sender"]);
    let sender = t.role_row(t.org.roles["SENDER"]).await.unwrap();
    assert_eq!(sender.permissions, 0);
    assert!(t.audit_events().await.is_empty());
}

#[tokio::test]
async fn role_held_by_users_or_open_invitations_cannot_be_deleted() {
    let t = OrgApp::spawn().await;
    let id = t.create_role("Contractor", "TEAM", &["USERS_VIEW"]).await;
    let role = uuid_of(&id);
    t.set_role(t.org.bob, role).await;
    let invite = t
        .insert_invite("new@a.test", t.org.emea, role, InviteState::Expired)
        .await;
    t.insert_invite("old@a.test", t.org.emea, role, InviteState::Accepted)
        .await;

    let body = t.run(t.org.admin, DELETE_ROLE, json!({ "id": id })).await;
    assert_bad_input(&body, "id");
    assert_eq!(extensions(&body)["users"], 1);
    assert_eq!(extensions(&body)["pendingInvites"], 1);
    assert!(
        message(&body).contains("1 active user and 1 pending invitation"),
        "{body:#}"
    );
    assert!(t.role_row(role).await.unwrap().deleted_at.is_none());

    t.set_role(t.org.bob, t.org.roles["SENDER"]).await;
    let body = t.run(t.org.admin, DELETE_ROLE, json!({ "id": id })).await;
    assert_eq!(extensions(&body)["users"], 0);
    assert_eq!(extensions(&body)["pendingInvites"], 1);

    t.withdraw_invite(invite).await;
    let body = t.run(t.org.admin, DELETE_ROLE, json!({ "id": id })).await;
    assert_eq!(data(&body)["deleteRole"]["deletedId"], id.as_str());
    assert!(t.role_row(role).await.unwrap().deleted_at.is_some());
    let body = t.query(t.org.admin, "{ roles { name } }", json!({})).await;
    let names: Vec<_> = data(&body)["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["Admin", "Department Admin", "Manager", "Sender"]);
    let body = t
        .run(
            t.org.admin,
            UPDATE_ROLE,
            json!({ "id": id, "name": "Back" }),
        )
        .await;
    assert_code(&body, "NOT_FOUND");
    // The name is free again.
    t.create_role("contractor", "SELF", &[]).await;
}

#[tokio::test]
async fn a_role_edit_takes_effect_on_the_holders_next_request() {
    let t = OrgApp::spawn().await;
    let observer = t.create_role("Observer", "SELF", &[]).await;
    t.set_role(t.org.alice, uuid_of(&observer)).await;
    assert_eq!(t.visible_emails(t.org.alice).await, Err("FORBIDDEN".into()));

    let body = t
        .run(
            t.org.admin,
            UPDATE_ROLE,
            json!({ "id": observer, "scope": "DEPARTMENT", "permissions": ["USERS_VIEW"] }),
        )
        .await;
    data(&body);
    let seen = t.visible_emails(t.org.alice).await.unwrap();
    assert!(seen.contains(&"manny@a.test".to_owned()), "{seen:?}");
    assert!(!seen.contains(&"bob@a.test".to_owned()), "{seen:?}");

    let body = t
        .run(
            t.org.admin,
            UPDATE_ROLE,
            json!({ "id": observer, "permissions": [] }),
        )
        .await;
    data(&body);
    assert_eq!(t.visible_emails(t.org.alice).await, Err("FORBIDDEN".into()));
}

// --------------------------------------------------------------------- account settings

#[tokio::test]
async fn account_settings_are_normalized() {
    let t = OrgApp::spawn().await;
    let body = t
        .run(
            t.org.admin,
            UPDATE_ACCOUNT,
            json!({
                "name": "  Org A Renamed ",
                "allowedEmailDomains": [" @Example.COM ", "example.com", "Bücher.DE", "@sub.example.org"],
                "inviteExpiryDays": 14,
            }),
        )
        .await;
    let account = &data(&body)["updateAccount"]["account"];
    assert_eq!(account["name"], "Org A Renamed");
    assert_eq!(
        account["allowedEmailDomains"],
        json!(["example.com", "bücher.de", "sub.example.org"])
    );
    assert_eq!(account["inviteExpiryDays"], 14);
    let row = t.account_row().await;
    assert_eq!(row.name, "Org A Renamed");
    assert_eq!(
        serde_json::from_str::<Value>(&row.allowed_email_domains).unwrap(),
        json!(["example.com", "bücher.de", "sub.example.org"])
    );
    assert_eq!(row.invite_expiry_days, 14);

    // Left-out fields stay; an empty list allows any domain again.
    let body = t
        .run(
            t.org.admin,
            UPDATE_ACCOUNT,
            json!({ "allowedEmailDomains": [] }),
        )
        .await;
    let account = &data(&body)["updateAccount"]["account"];
    assert_eq!(account["allowedEmailDomains"], json!([]));
    assert_eq!(account["name"], "Org A Renamed");
    assert_eq!(account["inviteExpiryDays"], 14);
    assert_eq!(t.account_row().await.allowed_email_domains, "[]");
}

#[tokio::test]
async fn invalid_account_settings_are_refused_naming_the_field() {
    let t = OrgApp::spawn().await;
    let body = t
        .run(
            t.org.admin,
            UPDATE_ACCOUNT,
            json!({ "allowedEmailDomains": ["example.com", "not a domain"], "inviteExpiryDays": 10 }),
        )
        .await;
    assert_bad_input(&body, "allowedEmailDomains");
    assert!(message(&body).contains("`not a domain`"), "{body:#}");
    for bad in ["localhost", "", "a@b.com", "-x.com"] {
        let body = t
            .run(
                t.org.admin,
                UPDATE_ACCOUNT,
                json!({ "allowedEmailDomains": [bad] }),
            )
            .await;
        assert_bad_input(&body, "allowedEmailDomains");
    }
    for days in [0, 31, -1] {
        let body = t
            .run(
                t.org.admin,
                UPDATE_ACCOUNT,
                json!({ "inviteExpiryDays": days }),
            )
            .await;
        assert_bad_input(&body, "inviteExpiryDays");
        assert!(message(&body).contains("between 1 and 30"), "{body:#}");
    }
    let body = t
        .run(t.org.admin, UPDATE_ACCOUNT, json!({ "name": " " }))
        .await;
    assert_bad_input(&body, "name");

    let row = t.account_row().await;
    assert_eq!(
        (
            row.name.as_str(),
            row.allowed_email_domains.as_str(),
            row.invite_expiry_days
        ),
        ("Org A", "[]", 7)
    );
    assert!(t.audit_events().await.is_empty());

    for days in [1, 30] {
        let body = t
            .run(
                t.org.admin,
                UPDATE_ACCOUNT,
                json!({ "inviteExpiryDays": days }),
            )
            .await;
        assert_eq!(
            data(&body)["updateAccount"]["account"]["inviteExpiryDays"],
            days
        );
    }
    assert_eq!(t.account_row().await.invite_expiry_days, 30);
}

// ------------------------------------------------------------ permissions and tenancy

#[tokio::test]
async fn roles_without_the_permission_are_forbidden_for_every_org_mutation() {
    let t = OrgApp::spawn().await;
    let custom = t.create_role("Custom", "SELF", &[]).await;
    let events_before = t.audit_events().await.len();
    let calls: Vec<(&str, Value)> = vec![
        (CREATE_TEAM, json!({ "name": "New" })),
        (
            UPDATE_TEAM,
            json!({ "id": gid::team(t.org.platform), "name": "New" }),
        ),
        (DELETE_TEAM, json!({ "id": gid::team(t.org.general) })),
        (CREATE_DEPARTMENT, json!({ "name": "New" })),
        (
            UPDATE_DEPARTMENT,
            json!({ "id": gid::dept(t.org.sales), "name": "New" }),
        ),
        (DELETE_DEPARTMENT, json!({ "id": gid::dept(t.org.sales) })),
        (
            CREATE_ROLE,
            json!({ "name": "New", "scope": "SELF", "permissions": [] }),
        ),
        (UPDATE_ROLE, json!({ "id": custom, "name": "New" })),
        (DELETE_ROLE, json!({ "id": custom })),
        (UPDATE_ACCOUNT, json!({ "name": "New" })),
    ];
    for user in [t.org.manager, t.org.sender, t.org.dept_admin] {
        for (query, input) in &calls {
            let body = t.run(user, query, input.clone()).await;
            assert_code(&body, "FORBIDDEN");
        }
        // An id that does not exist is still FORBIDDEN: the permission is checked first.
        let body = t.run(user, DELETE_TEAM, json!({ "id": "team_nope" })).await;
        assert_code(&body, "FORBIDDEN");
    }
    assert_eq!(
        t.team_names().await,
        ["EMEA", "General", "Mobile", "Platform"]
    );
    assert_eq!(t.department_names().await, ["Engineering", "Sales"]);
    assert_eq!(t.roles_of(t.org.account_id).await.len(), 5);
    assert_eq!(t.account_row().await.name, "Org A");
    assert_eq!(t.audit_events().await.len(), events_before);
}

#[tokio::test]
async fn each_permission_guards_only_its_own_mutations() {
    let t = OrgApp::spawn().await;
    let teams_only = t.create_role("Organizer", "SELF", &["TEAMS_MANAGE"]).await;
    t.set_role(t.org.carol, uuid_of(&teams_only)).await;
    let carol = t.org.carol;
    data(
        &t.run(carol, CREATE_TEAM, json!({ "name": "Carol's" }))
            .await,
    );
    data(
        &t.run(carol, CREATE_DEPARTMENT, json!({ "name": "Carol's" }))
            .await,
    );
    let body = t
        .run(
            carol,
            CREATE_ROLE,
            json!({ "name": "X", "scope": "SELF", "permissions": [] }),
        )
        .await;
    assert_code(&body, "FORBIDDEN");
    assert_code(
        &t.run(carol, UPDATE_ACCOUNT, json!({ "name": "X" })).await,
        "FORBIDDEN",
    );

    let account_only = t.create_role("Owner", "SELF", &["ACCOUNT_MANAGE"]).await;
    t.set_role(t.org.alice, uuid_of(&account_only)).await;
    let alice = t.org.alice;
    data(
        &t.run(alice, UPDATE_ACCOUNT, json!({ "inviteExpiryDays": 3 }))
            .await,
    );
    assert_code(
        &t.run(alice, CREATE_TEAM, json!({ "name": "Y" })).await,
        "FORBIDDEN",
    );
    assert_eq!(t.account_row().await.invite_expiry_days, 3);
}

#[tokio::test]
async fn ids_of_other_accounts_and_malformed_ids_are_not_found() {
    let t = OrgApp::spawn().await;
    let other_dept = t.insert_department(t.org.other_account, "Elsewhere").await;
    let other_roles = t.roles_of(t.org.other_account).await;
    let other_role = other_roles.iter().find(|r| r.name == "Sender").unwrap().id;
    let admin = t.org.admin;
    let cases: Vec<(&str, Value)> = vec![
        (
            UPDATE_TEAM,
            json!({ "id": gid::team(t.org.other_team), "name": "Mine" }),
        ),
        (DELETE_TEAM, json!({ "id": gid::team(t.org.other_team) })),
        (
            CREATE_TEAM,
            json!({ "name": "Mine", "departmentId": gid::dept(other_dept) }),
        ),
        (
            UPDATE_TEAM,
            json!({ "id": gid::team(t.org.platform), "departmentId": gid::dept(other_dept) }),
        ),
        (
            UPDATE_DEPARTMENT,
            json!({ "id": gid::dept(other_dept), "name": "Mine" }),
        ),
        (DELETE_DEPARTMENT, json!({ "id": gid::dept(other_dept) })),
        (
            UPDATE_ROLE,
            json!({ "id": gid::role(other_role), "name": "Mine" }),
        ),
        (DELETE_ROLE, json!({ "id": gid::role(other_role) })),
        // Malformed, or an id of another kind.
        (UPDATE_TEAM, json!({ "id": "team_xyz", "name": "Mine" })),
        (DELETE_TEAM, json!({ "id": gid::user(t.org.alice) })),
        (DELETE_TEAM, json!({ "id": gid::dept(t.org.sales) })),
        (
            CREATE_TEAM,
            json!({ "name": "Mine", "departmentId": "nonsense" }),
        ),
        (DELETE_DEPARTMENT, json!({ "id": gid::team(t.org.emea) })),
        (UPDATE_ROLE, json!({ "id": "role_", "name": "Mine" })),
        (DELETE_ROLE, json!({ "id": gid::team(t.org.general) })),
    ];
    for (query, input) in cases {
        let body = t.run(admin, query, input.clone()).await;
        assert_code(&body, "NOT_FOUND");
    }
    let other_team = t.team_row(t.org.other_team).await.unwrap();
    assert_eq!(
        (other_team.name.as_str(), other_team.deleted_at),
        ("General", None)
    );
    assert_eq!(
        t.department_row(other_dept).await.unwrap().name,
        "Elsewhere"
    );
    assert_eq!(t.role_row(other_role.0).await.unwrap().name, "Sender");
    assert_eq!(
        t.team_row(t.org.platform).await.unwrap().department_id,
        Some(t.org.engineering.into())
    );
    assert!(!t.team_names().await.contains(&"Mine".to_owned()));
    assert!(t.audit_events().await.is_empty());

    // The other account's admin does not see this account's changes either.
    let body = t
        .run(
            t.org.other_admin,
            DELETE_TEAM,
            json!({ "id": gid::team(t.org.general) }),
        )
        .await;
    assert_code(&body, "NOT_FOUND");
}

// ------------------------------------------------------------------------------ audit

#[tokio::test]
async fn every_change_is_audited_with_one_operation_per_mutation() {
    let t = OrgApp::spawn().await;
    let admin = t.org.admin;
    let dept = data(
        &t.run(admin, CREATE_DEPARTMENT, json!({ "name": "Ops" }))
            .await,
    )["createDepartment"]["department"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    data(
        &t.run(
            admin,
            UPDATE_DEPARTMENT,
            json!({ "id": dept, "name": "Operations" }),
        )
        .await,
    );
    let team = data(
        &t.run(
            admin,
            CREATE_TEAM,
            json!({ "name": "Infra", "departmentId": dept }),
        )
        .await,
    )["createTeam"]["team"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    data(
        &t.run(
            admin,
            UPDATE_TEAM,
            json!({ "id": team, "name": "Infrastructure", "departmentId": null }),
        )
        .await,
    );
    // Nothing to change: no event.
    data(
        &t.run(
            admin,
            UPDATE_TEAM,
            json!({ "id": team, "name": "Infrastructure" }),
        )
        .await,
    );
    data(&t.run(admin, DELETE_TEAM, json!({ "id": team })).await);
    data(&t.run(admin, DELETE_DEPARTMENT, json!({ "id": dept })).await);
    let role = t.create_role("Helper", "TEAM", &["USERS_VIEW"]).await;
    data(
        &t.run(
            admin,
            UPDATE_ROLE,
            json!({ "id": role, "permissions": ["USERS_VIEW", "USERS_INVITE"] }),
        )
        .await,
    );
    data(&t.run(admin, DELETE_ROLE, json!({ "id": role })).await);
    data(
        &t.run(
            admin,
            UPDATE_ACCOUNT,
            json!({ "inviteExpiryDays": 10, "allowedEmailDomains": ["A.test"] }),
        )
        .await,
    );

    let events = t.audit_events().await;
    let summary: Vec<_> = events
        .iter()
        .map(|e| (e.action.as_str(), e.target_type.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("department.created", "Department"),
            ("department.updated", "Department"),
            ("team.created", "Team"),
            ("team.updated", "Team"),
            ("team.deleted", "Team"),
            ("department.deleted", "Department"),
            ("role.created", "Role"),
            ("role.updated", "Role"),
            ("role.deleted", "Role"),
            ("account.updated", "Account"),
        ]
    );
    let operations: HashSet<_> = events.iter().map(|e| e.operation_id).collect();
    assert_eq!(operations.len(), events.len(), "one operation per mutation");
    assert!(events.iter().all(|e| e.actor_id == Some(admin.into())));

    let json = |s: &Option<String>| {
        s.as_deref()
            .map(|s| serde_json::from_str::<Value>(s).unwrap())
    };
    let e = &events[3];
    assert_eq!(e.target_id, uuid_of(&team));
    assert_eq!(e.target_team_id, Some(uuid_of(&team).into()));
    assert_eq!(
        json(&e.before_json),
        Some(json!({ "name": "Infra", "departmentId": dept }))
    );
    assert_eq!(
        json(&e.after_json),
        Some(json!({ "name": "Infrastructure", "departmentId": null }))
    );
    let e = &events[4];
    assert_eq!(e.target_label.as_deref(), Some("Infrastructure"));
    assert_eq!(
        json(&e.before_json),
        Some(json!({ "id": team, "name": "Infrastructure", "departmentId": null }))
    );
    assert_eq!(e.after_json, None);
    let e = &events[7];
    assert_eq!(
        json(&e.before_json),
        Some(json!({ "permissions": ["USERS_VIEW"] }))
    );
    assert_eq!(
        json(&e.after_json),
        Some(json!({ "permissions": ["USERS_VIEW", "USERS_INVITE"] }))
    );
    let e = &events[9];
    assert_eq!(e.target_id, t.org.account_id);
    assert_eq!(
        json(&e.before_json),
        Some(json!({ "allowedEmailDomains": [], "inviteExpiryDays": 7 }))
    );
    assert_eq!(
        json(&e.after_json),
        Some(json!({ "allowedEmailDomains": ["a.test"], "inviteExpiryDays": 10 }))
    );

    // The API shows them too, grouped by operation.
    let body = t
        .query(
            admin,
            "query($id: ID!) { auditEvents(filter: { targetId: $id }) { nodes { action operationId targetId actor { email } } } }",
            json!({ "id": team }),
        )
        .await;
    let nodes = data(&body)["auditEvents"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    let actions: Vec<_> = nodes
        .iter()
        .map(|n| n["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["team.deleted", "team.updated", "team.created"]);
    assert!(nodes.iter().all(|n| n["targetId"] == team.as_str()));
    assert!(nodes.iter().all(|n| n["actor"]["email"] == "admin@a.test"));
}

#[tokio::test]
async fn a_failed_mutation_writes_no_audit_event() {
    let t = OrgApp::spawn().await;
    let admin = t.org.admin;
    let failures: Vec<(&str, Value)> = vec![
        (CREATE_TEAM, json!({ "name": "platform" })),
        (
            UPDATE_TEAM,
            json!({ "id": gid::team(t.org.mobile), "name": "EMEA" }),
        ),
        (DELETE_TEAM, json!({ "id": gid::team(t.org.platform) })),
        (CREATE_DEPARTMENT, json!({ "name": "sales" })),
        (
            DELETE_DEPARTMENT,
            json!({ "id": gid::dept(t.org.engineering) }),
        ),
        (
            CREATE_ROLE,
            json!({ "name": "Admin", "scope": "SELF", "permissions": [] }),
        ),
        (
            UPDATE_ROLE,
            json!({ "id": gid::role(t.org.roles["MANAGER"]), "name": "Boss" }),
        ),
        (
            DELETE_ROLE,
            json!({ "id": gid::role(t.org.roles["SENDER"]) }),
        ),
        (
            UPDATE_ACCOUNT,
            json!({ "name": "Fine", "inviteExpiryDays": 99 }),
        ),
        (
            UPDATE_ACCOUNT,
            json!({ "name": "Fine", "allowedEmailDomains": ["ok.test", "bad domain"] }),
        ),
    ];
    for (query, input) in failures {
        let body = t.run(admin, query, input.clone()).await;
        assert!(error_code(&body).is_some(), "{input}: {body:#}");
    }
    assert!(t.audit_events().await.is_empty());
    assert_eq!(t.account_row().await.name, "Org A");
    assert_eq!(t.team_row(t.org.mobile).await.unwrap().name, "Mobile");
}
