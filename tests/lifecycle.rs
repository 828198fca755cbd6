//! User lifecycle (issue 14, item 1): suspend and reactivate through GraphQL and through the
//! service functions the SCIM layer calls, with the five bulk rules applied to both; and the
//! directory's credentials (item 5): SCIM tokens created, listed, revoked, bounded by their
//! role, and named in the audit log.
//!
//! Runs on SQLite by default and on PostgreSQL when `DATABASE_URL` points at one.

mod common;
#[path = "common/org.rs"]
mod org;

use common::{data, error_code, gid};
use org::*;
use roster::auth::Principal;
use roster::entity::{audit_event, user};
use roster::service::audit::AuditAction;
use roster::service::bulk::Requested;
use roster::service::ids::{ScimTokenId, UserId};
use roster::service::{Error, principal, scim_tokens, users};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use uuid::Uuid;

const SUSPEND: &str = r#"
mutation($input: SuspendUsersInput!) {
  suspendUsers(input: $input) {
    users { id status team { id } role { id } }
    changedCount errors { index id code message } dryRun operationId seatsRemaining
  }
}"#;

const REACTIVATE: &str = r#"
mutation($input: ReactivateUsersInput!) {
  reactivateUsers(input: $input) {
    users { id status team { id } role { id } }
    changedCount errors { index id code message } dryRun operationId seatsRemaining
  }
}"#;

const CREATE_TOKEN: &str = r#"
mutation($input: CreateScimTokenInput!) {
  createScimToken(input: $input) {
    scimToken { id description role { key } team { id } createdBy { id } revokedAt }
    secret
  }
}"#;

const REVOKE_TOKEN: &str = r#"
mutation($input: RevokeScimTokenInput!) {
  revokeScimToken(input: $input) { scimToken { id revokedAt } }
}"#;

fn codes(payload: &Value) -> Vec<(i64, String)> {
    payload["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["index"].as_i64().expect("index"),
                e["code"].as_str().expect("code").to_owned(),
            )
        })
        .collect()
}

async fn row(t: &OrgApp, id: Uuid) -> user::Model {
    user::Entity::find_by_id(id)
        .one(t.app.db.conn())
        .await
        .expect("read")
        .expect("user row")
}

async fn events(t: &OrgApp, action: &str) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(action))
        .all(t.app.db.conn())
        .await
        .expect("audit")
}

async fn as_principal(t: &OrgApp, user: Uuid) -> Principal {
    principal::load(t.app.db.conn(), &UserId(user).to_string())
        .await
        .expect("principal")
}

async fn emails(t: &OrgApp, filter: Value) -> Vec<String> {
    let body = t
        .query(
            t.org.admin,
            "query($f: UserFilter) { users(filter: $f, first: 100) { totalCount nodes { email status } } }",
            json!({ "f": filter }),
        )
        .await;
    let users = &data(&body)["users"];
    let nodes = users["nodes"].as_array().expect("nodes");
    assert_eq!(
        users["totalCount"].as_u64(),
        Some(nodes.len() as u64),
        "{body}"
    );
    let mut list: Vec<String> = nodes
        .iter()
        .map(|n| n["email"].as_str().expect("email").to_owned())
        .collect();
    list.sort();
    list
}

async fn member_count(t: &OrgApp, team: Uuid) -> i64 {
    let body = t
        .query(
            t.org.admin,
            "query($id: ID!) { node(id: $id) { ... on Team { memberCount members { totalCount } } } }",
            json!({ "id": gid::team(team) }),
        )
        .await;
    let team = &data(&body)["node"];
    assert_eq!(team["memberCount"], team["members"]["totalCount"], "{body}");
    team["memberCount"].as_i64().expect("count")
}

#[tokio::test]
async fn suspended_user_is_locked_out_hidden_and_comes_back_as_they_were() {
    let t = OrgApp::spawn().await;
    let o = &t.org;
    let alice_token = t.app.token_for(o.alice);
    let viewer = "{ viewer { id } }";
    assert!(data(&t.app.gql(Some(&alice_token), viewer, json!({})).await)["viewer"].is_object());
    let before = row(&t, o.alice).await;
    let mobile_members = member_count(&t, o.mobile).await;

    // A dry run reports and writes nothing.
    let body = t
        .run(
            o.admin,
            SUSPEND,
            json!({ "userIds": [gid::user(o.alice)], "dryRun": true }),
        )
        .await;
    let p = &data(&body)["suspendUsers"];
    assert_eq!(p["users"][0]["status"], "SUSPENDED", "{body}");
    assert_eq!(
        (p["changedCount"].as_i64(), p["dryRun"].as_bool()),
        (Some(1), Some(true))
    );
    assert!(p["operationId"].is_null());
    assert_eq!(row(&t, o.alice).await, before);
    assert!(events(&t, "user.suspended").await.is_empty());

    let body = t
        .run(o.admin, SUSPEND, json!({ "userIds": [gid::user(o.alice)] }))
        .await;
    let p = &data(&body)["suspendUsers"];
    assert_eq!(p["changedCount"], 1, "{body}");
    assert!(p["operationId"].is_string());
    let suspended = row(&t, o.alice).await;
    assert_eq!(suspended.status.as_str(), "SUSPENDED");
    assert_eq!(
        (suspended.team_id, suspended.role_id),
        (before.team_id, before.role_id)
    );
    // Every update of the row raises its version (the SCIM ETag), on both databases.
    assert_eq!(suspended.version, before.version + 1);

    // Their token stops working on the very next request.
    let refused = t.app.gql(Some(&alice_token), viewer, json!({})).await;
    assert_eq!(error_code(&refused), Some("UNAUTHENTICATED"), "{refused}");

    // Gone from default lists and counts; shown with `statuses`.
    assert!(
        !emails(&t, json!(null))
            .await
            .contains(&"alice@a.test".to_owned())
    );
    assert_eq!(
        emails(&t, json!({ "statuses": ["SUSPENDED"] })).await,
        vec!["alice@a.test"]
    );
    let everyone = emails(&t, json!({ "statuses": ["ACTIVE", "SUSPENDED"] })).await;
    assert!(everyone.contains(&"alice@a.test".to_owned()));
    assert_eq!(everyone.len(), emails(&t, json!(null)).await.len() + 1);
    assert_eq!(member_count(&t, o.mobile).await, mobile_members - 1);
    // Not among the team's members either, nor found by a search without `statuses`.
    let body = t
        .query(
            o.admin,
            "query($id: ID!) { node(id: $id) { ... on Team { members { nodes { email } } } } }",
            json!({ "id": gid::team(o.mobile) }),
        )
        .await;
    assert!(!body.to_string().contains("alice@a.test"), "{body}");
    assert!(emails(&t, json!({ "search": "alice" })).await.is_empty());
    assert_eq!(
        emails(&t, json!({ "search": "alice", "statuses": ["SUSPENDED"] })).await,
        vec!["alice@a.test"]
    );
    // Still found by id, with their status.
    let body = t
        .query(
            o.admin,
            "query($id: ID!) { user(id: $id) { status team { id } } }",
            json!({ "id": gid::user(o.alice) }),
        )
        .await;
    assert_eq!(data(&body)["user"]["status"], "SUSPENDED");

    // Repeating is safe: unchanged, nothing audited twice.
    let body = t
        .run(o.admin, SUSPEND, json!({ "userIds": [gid::user(o.alice)] }))
        .await;
    assert_eq!(data(&body)["suspendUsers"]["changedCount"], 0, "{body}");
    assert_eq!(events(&t, "user.suspended").await.len(), 1);

    let body = t
        .run(
            o.admin,
            REACTIVATE,
            json!({ "userIds": [gid::user(o.alice)] }),
        )
        .await;
    let p = &data(&body)["reactivateUsers"];
    assert_eq!(p["changedCount"], 1, "{body}");
    assert_eq!(p["users"][0]["status"], "ACTIVE");
    assert_eq!(p["users"][0]["team"]["id"], gid::team(o.mobile));
    let back = row(&t, o.alice).await;
    assert_eq!(back.status.as_str(), "ACTIVE");
    assert_eq!(
        (back.team_id, back.role_id, back.email.clone()),
        (before.team_id, before.role_id, before.email.clone())
    );
    assert_eq!(member_count(&t, o.mobile).await, mobile_members);
    assert_eq!(back.version, before.version + 2);
    assert!(
        emails(&t, json!(null))
            .await
            .contains(&"alice@a.test".to_owned())
    );

    // A token from before the suspension stays dead; a new one works.
    let stale = t.app.gql(Some(&alice_token), viewer, json!({})).await;
    assert_eq!(error_code(&stale), Some("UNAUTHENTICATED"), "{stale}");
    // JWT times have whole seconds: a token issued after the suspension's second works.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let fresh = t.app.token_for(o.alice);
    assert!(data(&t.app.gql(Some(&fresh), viewer, json!({})).await)["viewer"].is_object());

    // Both are domain events too (issue 13).
    let kinds: Vec<String> = roster::entity::event::Entity::find()
        .order_by_asc(roster::entity::event::Column::Seq)
        .all(t.app.db.conn())
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.event_type)
        .filter(|k| k.starts_with("user.s") || k.starts_with("user.r"))
        .collect();
    assert_eq!(kinds, vec!["user.suspended", "user.reactivated"]);
    // Audited both ways, with the status before and after.
    let suspended = events(&t, "user.suspended").await;
    let reactivated = events(&t, "user.reactivated").await;
    assert_eq!((suspended.len(), reactivated.len()), (1, 1));
    assert_eq!(suspended[0].actor_id, Some(o.admin.into()));
    assert_eq!(suspended[0].target_id, o.alice);
    assert_eq!(
        suspended[0].after_json.as_deref(),
        Some(r#"{"status":"SUSPENDED"}"#)
    );
    assert_eq!(
        reactivated[0].after_json.as_deref(),
        Some(r#"{"status":"ACTIVE"}"#)
    );
}

#[tokio::test]
async fn suspend_applies_reach_escalation_permission_and_all_or_nothing() {
    let t = OrgApp::spawn().await;
    let o = &t.org;
    // The Department Admin (Engineering: Platform, Mobile) cannot reach bob (EMEA) nor the
    // other account: NOT_FOUND; with alice (Mobile) in the same request nothing happens.
    let body = t
        .run(
            o.dept_admin,
            SUSPEND,
            json!({ "userIds": [gid::user(o.alice), gid::user(o.bob), gid::user(o.other_user), "user_nonsense"] }),
        )
        .await;
    let p = &data(&body)["suspendUsers"];
    assert_eq!(
        codes(p),
        vec![
            (1, "NOT_FOUND".into()),
            (2, "NOT_FOUND".into()),
            (3, "NOT_FOUND".into())
        ],
        "{body}"
    );
    assert!(p["users"].as_array().expect("users").is_empty());
    assert_eq!(row(&t, o.alice).await.status.as_str(), "ACTIVE");

    // No escalation: the Department Admin cannot suspend the Admin (outranks them) — and
    // cannot suspend themselves.
    let body = t
        .run(
            o.dept_admin,
            SUSPEND,
            json!({ "userIds": [gid::user(o.admin), gid::user(o.dept_admin)] }),
        )
        .await;
    // The Admin is in General, outside the department: NOT_FOUND, not a hint.
    assert_eq!(
        codes(&data(&body)["suspendUsers"]),
        vec![(0, "NOT_FOUND".into()), (1, "FORBIDDEN".into())],
        "{body}"
    );
    let dora = t
        .insert_user("dora@a.test", o.platform, o.roles["ADMIN"])
        .await;
    let body = t
        .run(
            o.dept_admin,
            SUSPEND,
            json!({ "userIds": [gid::user(dora)] }),
        )
        .await;
    assert_eq!(
        codes(&data(&body)["suspendUsers"]),
        vec![(0, "FORBIDDEN".into())],
        "{body}"
    );
    assert_eq!(row(&t, dora).await.status.as_str(), "ACTIVE");

    // Without USERS_SUSPEND: refused outright.
    for who in [o.manager, o.sender] {
        let body = t
            .run(who, SUSPEND, json!({ "userIds": [gid::user(o.alice)] }))
            .await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    }
    let body = t
        .run(
            o.manager,
            REACTIVATE,
            json!({ "userIds": [gid::user(o.alice)] }),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");

    // Within reach the Department Admin suspends, and a suspended user stays theirs to
    // reactivate.
    let body = t
        .run(
            o.dept_admin,
            SUSPEND,
            json!({ "userIds": [gid::user(o.alice)] }),
        )
        .await;
    assert_eq!(data(&body)["suspendUsers"]["changedCount"], 1, "{body}");
    let body = t
        .run(
            o.dept_admin,
            REACTIVATE,
            json!({ "userIds": [gid::user(o.alice)] }),
        )
        .await;
    assert_eq!(data(&body)["reactivateUsers"]["changedCount"], 1, "{body}");
}

#[tokio::test]
async fn an_account_always_keeps_an_active_admin() {
    let t = OrgApp::spawn().await;
    let o = &t.org;
    // A second Admin, suspended: a suspended Admin keeps nobody in charge.
    let second = t
        .insert_user("second@a.test", o.general, o.roles["ADMIN"])
        .await;
    let body = t
        .run(o.admin, SUSPEND, json!({ "userIds": [gid::user(second)] }))
        .await;
    assert_eq!(data(&body)["suspendUsers"]["changedCount"], 1, "{body}");
    // The Admin cannot suspend themselves…
    let body = t
        .run(o.admin, SUSPEND, json!({ "userIds": [gid::user(o.admin)] }))
        .await;
    assert_eq!(
        codes(&data(&body)["suspendUsers"]),
        vec![(0, "FORBIDDEN".into())],
        "{body}"
    );
    // …nor demote or delete themselves while the other Admin is suspended.
    let body = t
        .run(
            o.admin,
            "mutation($input: ChangeUsersRoleInput!) { changeUsersRole(input: $input) { errors { code } } }",
            json!({ "userIds": [gid::user(o.admin)], "roleId": gid::role(o.roles["SENDER"]) }),
        )
        .await;
    assert_eq!(
        data(&body)["changeUsersRole"]["errors"][0]["code"],
        "LAST_ADMIN",
        "{body}"
    );

    // A directory acting with the Admin role (no self to protect) meets the last-Admin rule.
    let admin = as_principal(&t, o.admin).await;
    let created = scim_tokens::create(
        &t.app.db,
        &admin,
        "Okta",
        Some(o.roles["ADMIN"].into()),
        None,
    )
    .await
    .expect("token");
    let directory = scim_tokens::authenticate(t.app.db.conn(), &created.secret)
        .await
        .expect("authenticate");
    let outcome = users::suspend_users(
        &t.app.db,
        &directory,
        &[Requested::parse(gid::user(o.admin))],
        false,
        100,
    )
    .await
    .expect("suspend");
    assert_eq!(outcome.errors.len(), 1);
    assert_eq!(
        outcome.errors[0].code,
        roster::service::bulk::ItemErrorCode::LastAdmin
    );
    assert_eq!(row(&t, o.admin).await.status.as_str(), "ACTIVE");
    // With the second Admin back, the directory may suspend the first.
    let back = users::reactivate_users(
        &t.app.db,
        &directory,
        &[Requested::parse(gid::user(second))],
        false,
        100,
    )
    .await
    .expect("reactivate");
    assert!(back.errors.is_empty(), "{:?}", back.errors);
    let outcome = users::suspend_users(
        &t.app.db,
        &directory,
        &[Requested::parse(gid::user(o.admin))],
        false,
        100,
    )
    .await
    .expect("suspend");
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_eq!(row(&t, o.admin).await.status.as_str(), "SUSPENDED");
}

#[tokio::test]
async fn scim_tokens_are_shown_once_capped_at_two_and_revoked_at_once() {
    let t = OrgApp::spawn().await;
    let o = &t.org;
    let body = t
        .run(
            o.admin,
            CREATE_TOKEN,
            json!({ "description": "Okta", "roleId": gid::role(o.roles["DEPARTMENT_ADMIN"]), "teamId": gid::team(o.platform) }),
        )
        .await;
    let created = &data(&body)["createScimToken"];
    let secret = created["secret"].as_str().expect("secret").to_owned();
    assert!(
        secret.starts_with(scim_tokens::SECRET_PREFIX) && secret.len() > 50,
        "{secret}"
    );
    assert_eq!(created["scimToken"]["role"]["key"], "DEPARTMENT_ADMIN");
    assert_eq!(created["scimToken"]["team"]["id"], gid::team(o.platform));
    assert_eq!(created["scimToken"]["createdBy"]["id"], gid::user(o.admin));
    let id = created["scimToken"]["id"].as_str().expect("id").to_owned();

    // Stored only as a hash; listed without a secret.
    let stored = roster::entity::scim_token::Entity::find()
        .all(t.app.db.conn())
        .await
        .expect("tokens");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].token_hash, scim_tokens::secret_hash(&secret));
    assert_ne!(stored[0].token_hash, secret.as_bytes());
    let body = t
        .query(
            o.admin,
            "{ scimTokens { id description lastUsedAt revokedAt } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&body)["scimTokens"][0]["id"], id.as_str(), "{body}");
    assert!(!body.to_string().contains(&secret));

    // The directory acts as the token's role, reaching from its anchor team.
    let directory = scim_tokens::authenticate(t.app.db.conn(), &secret)
        .await
        .expect("authenticate");
    assert_eq!(directory.scim_token_id, ScimTokenId::parse(&id));
    assert_eq!(directory.acting_user(), None);
    let outcome = users::suspend_users(
        &t.app.db,
        &directory,
        &[
            Requested::parse(gid::user(o.alice)),
            Requested::parse(gid::user(o.bob)),
        ],
        false,
        100,
    )
    .await
    .expect("suspend");
    // bob is in Sales: outside the department the token reaches.
    assert_eq!(outcome.errors.len(), 1);
    assert_eq!(outcome.errors[0].index, 1);
    assert_eq!(
        outcome.errors[0].code,
        roster::service::bulk::ItemErrorCode::NotFound
    );
    let outcome = users::suspend_users(
        &t.app.db,
        &directory,
        &[Requested::parse(gid::user(o.alice))],
        false,
        100,
    )
    .await
    .expect("suspend");
    assert_eq!(outcome.changed_count, 1);
    // Audited with the token as the actor: `actor` null, `actorScimToken` the token.
    let event = &events(&t, "user.suspended").await[0];
    assert_eq!(
        (event.actor_id, event.actor_token_id),
        (None, directory.scim_token_id)
    );
    let body = t
        .query(
            o.admin,
            r#"{ auditEvents(filter: { actions: ["user.suspended"] }) { nodes { actor { id } actorScimToken { id description } } } }"#,
            json!({}),
        )
        .await;
    let node = &data(&body)["auditEvents"]["nodes"][0];
    assert!(node["actor"].is_null(), "{body}");
    assert_eq!(node["actorScimToken"]["id"], id.as_str());
    assert_eq!(node["actorScimToken"]["description"], "Okta");
    // The log answers "what did this directory do" and "what happened to this token".
    let body = t
        .query(
            o.admin,
            "query($id: ID!) { by: auditEvents(filter: { actorId: $id }) { nodes { action } } about: auditEvents(filter: { targetId: $id }) { nodes { action targetId } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        data(&body)["by"]["nodes"],
        json!([{ "action": "user.suspended" }]),
        "{body}"
    );
    assert_eq!(
        data(&body)["about"]["nodes"],
        json!([{ "action": "scim_token.created", "targetId": id }]),
        "{body}"
    );
    // Used: recorded (at most once a minute).
    let used = roster::entity::scim_token::Entity::find_by_id(directory.scim_token_id.expect("id"))
        .one(t.app.db.conn())
        .await
        .expect("read")
        .expect("row");
    assert!(used.last_used_at.is_some());

    // Two live tokens at most, for rotation.
    let second = t
        .run(
            o.admin,
            CREATE_TOKEN,
            json!({ "description": "Okta next", "roleId": gid::role(o.roles["ADMIN"]) }),
        )
        .await;
    assert!(
        data(&second)["createScimToken"]["scimToken"]["team"].is_null(),
        "{second}"
    );
    let third = t
        .run(
            o.admin,
            CREATE_TOKEN,
            json!({ "description": "One too many", "roleId": gid::role(o.roles["ADMIN"]) }),
        )
        .await;
    assert_eq!(error_code(&third), Some("LIMIT_EXCEEDED"), "{third}");

    // Revoked: refused at once — also a principal loaded before the revocation, whose
    // change re-checks the token inside its transaction.
    let body = t.run(o.admin, REVOKE_TOKEN, json!({ "id": id })).await;
    assert!(
        data(&body)["revokeScimToken"]["scimToken"]["revokedAt"].is_string(),
        "{body}"
    );
    assert!(matches!(
        scim_tokens::authenticate(t.app.db.conn(), &secret).await,
        Err(Error::Unauthenticated)
    ));
    assert!(matches!(
        users::reactivate_users(
            &t.app.db,
            &directory,
            &[Requested::parse(gid::user(o.alice))],
            false,
            100
        )
        .await,
        Err(Error::Unauthenticated)
    ));
    assert_eq!(row(&t, o.alice).await.status.as_str(), "SUSPENDED");
    assert!(matches!(
        scim_tokens::authenticate(t.app.db.conn(), "roster_scim_made-up").await,
        Err(Error::Unauthenticated)
    ));
    // With one revoked, a new one may be made.
    let again = t
        .run(
            o.admin,
            CREATE_TOKEN,
            json!({ "description": "Okta rotated", "roleId": gid::role(o.roles["ADMIN"]) }),
        )
        .await;
    assert!(
        data(&again)["createScimToken"]["secret"].is_string(),
        "{again}"
    );
    let revocations = events(&t, AuditAction::ScimTokenRevoked.as_str()).await;
    let creations = events(&t, AuditAction::ScimTokenCreated.as_str()).await;
    assert_eq!((creations.len(), revocations.len()), (3, 1));
}

#[tokio::test]
async fn scim_tokens_need_account_manage_and_a_grantable_role() {
    let t = OrgApp::spawn().await;
    let o = &t.org;
    for who in [o.dept_admin, o.manager, o.sender] {
        let body = t
            .run(
                who,
                CREATE_TOKEN,
                json!({ "description": "Mine", "roleId": gid::role(o.roles["SENDER"]) }),
            )
            .await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
        let body = t.query(who, "{ scimTokens { id } }", json!({})).await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    }
    // An account manager without the Admin's powers cannot mint an Admin directory.
    let manager_of_account = t
        .create_role(
            "Account Keeper",
            "ORGANIZATION",
            &["ACCOUNT_MANAGE", "USERS_VIEW"],
        )
        .await;
    let keeper = t
        .insert_user(
            "keeper@a.test",
            o.general,
            org::uuid_of(&manager_of_account),
        )
        .await;
    let body = t
        .run(
            keeper,
            CREATE_TOKEN,
            json!({ "description": "Escalate", "roleId": gid::role(o.roles["ADMIN"]) }),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    // A SELF-scoped role reaches nobody; another account's role and team are not found.
    let body = t
        .run(
            o.admin,
            CREATE_TOKEN,
            json!({ "description": "Nobody", "roleId": gid::role(o.roles["SENDER"]) }),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    let other_role = t.roles_of(o.other_account).await[0].id;
    let body = t
        .run(
            o.admin,
            CREATE_TOKEN,
            json!({ "description": "Foreign", "roleId": gid::role(other_role) }),
        )
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    let body = t
        .run(
            o.admin,
            CREATE_TOKEN,
            json!({ "description": "Foreign team", "roleId": gid::role(o.roles["MANAGER"]), "teamId": gid::team(o.other_team) }),
        )
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    let none = roster::entity::scim_token::Entity::find()
        .all(t.app.db.conn())
        .await
        .expect("tokens");
    assert!(none.is_empty());
}

#[tokio::test]
async fn a_role_or_team_a_live_token_uses_is_not_deleted_under_it() {
    let t = OrgApp::spawn().await;
    let o = &t.org;
    let role = t
        .create_role("Directory", "TEAM", &["USERS_VIEW", "USERS_SUSPEND"])
        .await;
    let team = t.create_team("Provisioned", Some(o.engineering)).await;
    let body = t
        .run(
            o.admin,
            CREATE_TOKEN,
            json!({ "description": "Okta", "roleId": role, "teamId": team }),
        )
        .await;
    let id = data(&body)["createScimToken"]["scimToken"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let body = t.run(o.admin, DELETE_ROLE, json!({ "id": role })).await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["scimTokens"], 1, "{body}");
    let body = t.run(o.admin, DELETE_TEAM, json!({ "id": team })).await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    let body = t.run(o.admin, REVOKE_TOKEN, json!({ "id": id })).await;
    assert!(data(&body)["revokeScimToken"].is_object());
    let body = t.run(o.admin, DELETE_ROLE, json!({ "id": role })).await;
    assert!(data(&body)["deleteRole"]["deletedId"].is_string(), "{body}");
    let body = t.run(o.admin, DELETE_TEAM, json!({ "id": team })).await;
    assert!(data(&body)["deleteTeam"]["deletedId"].is_string(), "{body}");
}
