//! Accounts (tenants): bootstrapping a new one with its built-in roles, first team and
//! Admin, and reading its settings.

use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, TransactionTrait};
use uuid::Uuid;

use super::email::Email;
use super::text::{self, Name};
use super::{Db, Error, Result, now_ms};
use crate::auth::Principal;
use crate::entity::{account, team, user};

/// Default number of days an invitation stays valid.
pub const DEFAULT_INVITE_EXPIRY_DAYS: i32 = 7;

/// What `create` made.
pub struct Created {
    pub account: account::Model,
    pub admin: user::Model,
    pub team: team::Model,
    /// The built-in roles, in `roles::BUILT_INS` order.
    pub roles: Vec<crate::entity::role::Model>,
}

/// Creates an account with its built-in roles, a first team ("General") and its first Admin,
/// in one transaction.
pub async fn create(db: &Db, name: &str, admin_email: &str, admin_name: &str) -> Result<Created> {
    let name = Name::parse("name", name)?;
    let admin_name = Name::parse("adminName", admin_name)?;
    let email = Email::parse_field("adminEmail", admin_email)?;
    let now = now_ms();
    let txn = db.begin_write().await?;
    let account = account::Entity::insert(account::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name.into_string()),
        allowed_email_domains: Set("[]".into()),
        invite_expiry_days: Set(DEFAULT_INVITE_EXPIRY_DAYS),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_with_returning(&txn)
    .await?;
    let roles = super::roles::create_built_ins(&txn, account.id, now).await?;
    let admin_role = roles
        .first()
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("no built-in roles were created")))?;
    let team = super::teams::insert_team(
        &txn,
        account.id,
        &Name::parse("name", "General")?,
        None,
        now,
    )
    .await?;
    let admin = insert_user(
        &txn,
        account.id,
        &email,
        &admin_name,
        team.id,
        admin_role.id,
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(Created {
        account,
        admin,
        team,
        roles,
    })
}

/// Inserts an active user row, unchecked (for seeding: the demo, `roster seed`, tests).
pub async fn insert_user<C: ConnectionTrait>(
    db: &C,
    account_id: Uuid,
    email: &Email,
    name: &Name,
    team_id: Uuid,
    role_id: Uuid,
    now: i64,
) -> Result<user::Model> {
    Ok(user::Entity::insert(user::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(account_id),
        email: Set(email.as_str().to_owned()),
        name: Set(name.as_str().to_owned()),
        name_key: Set(name.key()),
        search_text: Set(text::search_text(name.as_str(), email.as_str())),
        team_id: Set(team_id),
        role_id: Set(role_id),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    })
    .exec_with_returning(db)
    .await?)
}

/// The actor's account.
pub async fn get<C: ConnectionTrait>(db: &C, actor: &Principal) -> Result<account::Model> {
    account::Entity::find_by_id(actor.account_id)
        .one(db)
        .await?
        .ok_or(Error::NotFound("account"))
}

/// The account's allowed email domains (empty = any).
pub fn allowed_domains(account: &account::Model) -> Vec<String> {
    serde_json::from_str(&account.allowed_email_domains).unwrap_or_default()
}

/// Whether any account exists (used by `roster demo` to decide whether to seed).
pub async fn any_exists<C: ConnectionTrait + TransactionTrait>(db: &C) -> Result<bool> {
    use sea_orm::{PaginatorTrait, QuerySelect};
    Ok(account::Entity::find().limit(1).count(db).await? > 0)
}
