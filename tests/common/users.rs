//! Helpers for the user-mutation tests: the three mutations as GraphQL documents, quick
//! bulk seeding, and direct reads of the database to prove what was (not) written.

#![allow(dead_code)]

use roster::entity::{audit_event, role, user};
use roster::service::text::search_text;
use roster::service::{Db, now_ms};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

pub const CHANGE_ROLE: &str = r#"
mutation($ids: [ID!]!, $roleId: ID!, $dryRun: Boolean) {
  changeUsersRole(input: {userIds: $ids, roleId: $roleId, dryRun: $dryRun}) {
    users { id email role { key name } team { id name } }
    changedCount
    errors { index id code message }
    dryRun
    operationId
  }
}"#;

pub const CHANGE_TEAM: &str = r#"
mutation($ids: [ID!]!, $teamId: ID!, $dryRun: Boolean) {
  changeUsersTeam(input: {userIds: $ids, teamId: $teamId, dryRun: $dryRun}) {
    users { id email role { key } team { id name } }
    changedCount
    errors { index id code message }
    dryRun
    operationId
  }
}"#;

pub const DELETE: &str = r#"
mutation($ids: [ID!]!, $dryRun: Boolean) {
  deleteUsers(input: {userIds: $ids, dryRun: $dryRun}) {
    deletedIds
    changedCount
    errors { index id code message }
    dryRun
    operationId
  }
}"#;

/// Variables of `CHANGE_ROLE`.
pub fn role_vars(ids: &[String], role_id: &str, dry_run: bool) -> Value {
    json!({ "ids": ids, "roleId": role_id, "dryRun": dry_run })
}

/// Variables of `CHANGE_TEAM`.
pub fn team_vars(ids: &[String], team_id: &str, dry_run: bool) -> Value {
    json!({ "ids": ids, "teamId": team_id, "dryRun": dry_run })
}

/// Variables of `DELETE`.
pub fn delete_vars(ids: &[String], dry_run: bool) -> Value {
    json!({ "ids": ids, "dryRun": dry_run })
}

/// `(index, code)` of every item error of a payload.
pub fn item_codes(payload: &Value) -> Vec<(i64, String)> {
    payload["errors"]
        .as_array()
        .expect("errors list")
        .iter()
        .map(|e| {
            (
                e["index"].as_i64().expect("index"),
                e["code"].as_str().expect("code").to_owned(),
            )
        })
        .collect()
}

/// Inserts `n` active users into one team with one role, a few statements in all.
pub async fn seed_users(
    db: &Db,
    account_id: impl Into<Uuid>,
    team_id: impl Into<Uuid>,
    role_id: impl Into<Uuid>,
    n: usize,
) -> Vec<Uuid> {
    let (account_id, team_id, role_id) = (account_id.into(), team_id.into(), role_id.into());
    let now = now_ms();
    let rows: Vec<user::ActiveModel> = (0..n)
        .map(|i| {
            let id = Uuid::now_v7();
            let email = format!("seed{i}-{}@a.test", id.simple());
            let name = format!("Seed User {i}");
            user::ActiveModel {
                id: Set(id.into()),
                account_id: Set(account_id.into()),
                email: Set(email.clone()),
                name: Set(name.clone()),
                name_key: Set(roster::service::text::fold(&name)),
                search_text: Set(search_text(&name, &email)),
                team_id: Set(team_id.into()),
                role_id: Set(role_id.into()),
                created_at: Set(now),
                updated_at: Set(now),
                deleted_at: Set(None),
                tokens_valid_after: Set(None),
                status: Set(user::Status::Active),
                external_id: Set(None),
                version: Set(1),
            }
        })
        .collect();
    let ids = rows.iter().map(|r| r.id.as_ref().0).collect();
    for chunk in rows.chunks(200) {
        user::Entity::insert_many(chunk.to_vec())
            .exec(db.conn())
            .await
            .expect("seed users");
    }
    ids
}

/// The user row as stored, deleted or not.
pub async fn row(db: &Db, id: Uuid) -> user::Model {
    user::Entity::find_by_id(id)
        .one(db.conn())
        .await
        .expect("query")
        .expect("user row")
}

/// How many audit events the database holds (all accounts).
pub async fn audit_rows(db: &Db) -> u64 {
    audit_event::Entity::find()
        .count(db.conn())
        .await
        .expect("count audit")
}

/// How many active (not deleted, not suspended) users hold the Admin role in the account.
pub async fn active_admins(db: &Db, account_id: Uuid) -> Vec<Uuid> {
    let admin_role = admin_role(db, account_id).await;
    user::Entity::find()
        .filter(user::Column::AccountId.eq(account_id))
        .filter(user::Column::DeletedAt.is_null())
        .filter(user::Column::Status.eq("ACTIVE"))
        .filter(user::Column::RoleId.eq(admin_role))
        .all(db.conn())
        .await
        .expect("query admins")
        .into_iter()
        .map(|u| u.id.0)
        .collect()
}

/// The account's Admin role.
pub async fn admin_role(db: &Db, account_id: Uuid) -> Uuid {
    built_in_role(db, account_id, "ADMIN").await
}

/// The account's built-in role with this key.
pub async fn built_in_role(db: &Db, account_id: Uuid, key: &str) -> Uuid {
    role::Entity::find()
        .filter(role::Column::AccountId.eq(account_id))
        .filter(role::Column::Key.eq(key))
        .one(db.conn())
        .await
        .expect("query role")
        .expect("built-in role")
        .id
        .0
}

/// Makes the users active Admins again (resets a race round), bypassing the API.
pub async fn make_admins(db: &Db, account_id: Uuid, ids: &[Uuid]) {
    let admin_role = admin_role(db, account_id).await;
    user::Entity::update_many()
        .col_expr(user::Column::RoleId, Expr::value(admin_role))
        .col_expr(user::Column::DeletedAt, Expr::value(Option::<i64>::None))
        .col_expr(user::Column::Status, Expr::value("ACTIVE"))
        .filter(user::Column::Id.is_in(ids.to_vec()))
        .exec(db.conn())
        .await
        .expect("reset admins");
}

/// Posts a GraphQL request to a server at `base` (for servers the harness did not start).
pub async fn gql_at(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    query: &str,
    variables: Value,
) -> Value {
    http.post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json body")
}
