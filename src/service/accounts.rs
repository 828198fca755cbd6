//! Accounts (tenants): bootstrapping a new one with its built-in roles, first team and
//! Admin, and reading and changing its settings.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, TransactionTrait};
use serde_json::{Map, Value as Json, json};

use super::audit::{self, AuditAction, Change, Operation};
use super::dialect::{Lock, locked};
use super::email::{Email, normalize_domain};
use super::text::{self, Name};
use super::{Db, Error, Result, access, now_ms};
use crate::auth::{Permission, Principal};
use crate::entity::{account, team, user};
use crate::service::ids::{AccountId, RoleId, TeamId, UserId};

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
        id: Set(AccountId::new()),
        name: Set(name.into_string()),
        allowed_email_domains: Set("[]".into()),
        invite_expiry_days: Set(DEFAULT_INVITE_EXPIRY_DAYS),
        created_at: Set(now),
        updated_at: Set(now),
        seat_limit: Set(None),
        scim_deprovision: Set("DELETE".into()),
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
    account_id: AccountId,
    email: &Email,
    name: &Name,
    team_id: TeamId,
    role_id: RoleId,
    now: i64,
) -> Result<user::Model> {
    Ok(user::Entity::insert(user::ActiveModel {
        id: Set(UserId::new()),
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
        tokens_valid_after: Set(None),
        status: Set(user::Status::Active),
        external_id: Set(None),
        version: Set(1),
    })
    .exec_with_returning(db)
    .await?)
}

/// The actor's account.
pub async fn get<C: ConnectionTrait>(db: &C, actor: &Principal) -> Result<account::Model> {
    if !access::sees_account(actor) {
        return Err(Error::forbidden("your role sees only `viewer`"));
    }
    account::Entity::find_by_id(actor.account_id)
        .one(db)
        .await?
        .ok_or(Error::NotFound("account"))
}

/// The account's allowed email domains (empty = any). A stored value that is not a JSON list
/// of strings is an internal error, never "empty": read as "any domain", a damaged setting
/// would open invitations to every address (callers fail closed on it).
pub fn allowed_domains(account: &account::Model) -> Result<Vec<String>> {
    serde_json::from_str(&account.allowed_email_domains).map_err(|e| {
        Error::Internal(anyhow::anyhow!(
            "account {} has an unreadable allowed_email_domains value: {e}",
            account.id
        ))
    })
}

/// Whether any account exists (used by `roster demo` to decide whether to seed).
pub async fn any_exists<C: ConnectionTrait + TransactionTrait>(db: &C) -> Result<bool> {
    use sea_orm::{PaginatorTrait, QuerySelect};
    Ok(account::Entity::find().limit(1).count(db).await? > 0)
}

/// Shortest and longest invitation validity, in days.
pub const INVITE_EXPIRY_DAYS: std::ops::RangeInclusive<i32> = 1..=30;

/// What a directory's SCIM `DELETE` does to a user (`accounts.scim_deprovision`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Deprovision {
    /// Soft-delete, as `deleteUsers` does (the default).
    Delete,
    /// Suspend, as `suspendUsers` does.
    Suspend,
}

impl Deprovision {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Deprovision::Delete => "DELETE",
            Deprovision::Suspend => "SUSPEND",
        }
    }

    /// The account's setting; an unreadable value reads as the default, `Delete`.
    pub fn of(account: &account::Model) -> Self {
        match account.scim_deprovision.as_str() {
            "SUSPEND" => Deprovision::Suspend,
            _ => Deprovision::Delete,
        }
    }
}

/// What `update` changes; a `None` field stays as it is.
#[derive(Clone, Debug, Default)]
pub struct AccountChanges<'a> {
    pub name: Option<&'a str>,
    /// Replaces the list; empty allows any domain.
    pub allowed_email_domains: Option<&'a [String]>,
    pub invite_expiry_days: Option<i32>,
    /// `Some(None)` removes the limit. A limit below the seats in use is allowed: it only
    /// refuses new seats (`service::seats`).
    pub seat_limit: Option<Option<i32>>,
    pub scim_deprovision: Option<Deprovision>,
}

/// Normalizes a list of allowed domains: lower-cased, a leading `@` dropped, duplicates
/// removed (first one kept). The first invalid entry is a `BadInput` naming it.
pub fn parse_domains(raw: &[String]) -> Result<Vec<String>> {
    let mut domains: Vec<String> = Vec::with_capacity(raw.len());
    for entry in raw {
        let domain = normalize_domain(entry).ok_or_else(|| {
            Error::bad_input(
                "allowedEmailDomains",
                format!(
                    "allowedEmailDomains: `{entry}` is not a valid email domain (like example.com)"
                ),
            )
        })?;
        if !domains.contains(&domain) {
            domains.push(domain);
        }
    }
    Ok(domains)
}

/// Changes the actor's account settings (`ACCOUNT_MANAGE`). Nothing changes, and nothing is
/// audited, when the settings already are as asked.
pub async fn update(
    db: &Db,
    actor: &Principal,
    changes: AccountChanges<'_>,
) -> Result<account::Model> {
    const REFUSAL: &str = "your role may not change the account settings (needs ACCOUNT_MANAGE)";
    if !actor.can(Permission::AccountManage) {
        return Err(Error::forbidden(REFUSAL));
    }
    let name = changes.name.map(|n| Name::parse("name", n)).transpose()?;
    let domains = changes
        .allowed_email_domains
        .map(parse_domains)
        .transpose()?;
    if let Some(days) = changes.invite_expiry_days
        && !INVITE_EXPIRY_DAYS.contains(&days)
    {
        return Err(Error::bad_input(
            "inviteExpiryDays",
            format!(
                "inviteExpiryDays must be between {} and {} (got {days})",
                INVITE_EXPIRY_DAYS.start(),
                INVITE_EXPIRY_DAYS.end()
            ),
        ));
    }

    if let Some(Some(limit)) = changes.seat_limit
        && limit < 0
    {
        return Err(Error::bad_input(
            "seatLimit",
            format!("seatLimit must be 0 or more, or null for no limit (got {limit})"),
        ));
    }

    let txn = db.begin_write().await?;
    let actor = &super::access::recheck(&txn, actor, Permission::AccountManage, REFUSAL).await?;
    let account = locked(
        account::Entity::find_by_id(actor.account_id),
        db.backend(),
        Lock::Update,
    )
    .one(&txn)
    .await?
    .ok_or(Error::NotFound("account"))?;
    let mut row: account::ActiveModel = account.clone().into();
    let (mut before, mut after) = (Map::new(), Map::new());
    if let Some(name) = name
        && name.as_str() != account.name
    {
        before.insert("name".into(), json!(account.name));
        after.insert("name".into(), json!(name.as_str()));
        row.name = Set(name.into_string());
    }
    if let Some(domains) = domains {
        // An unreadable stored value is replaced by the new list (and audited as null).
        let current = allowed_domains(&account).ok();
        if Some(&domains) != current.as_ref() {
            let stored = serde_json::to_string(&domains).map_err(anyhow::Error::from)?;
            before.insert("allowedEmailDomains".into(), json!(current));
            after.insert("allowedEmailDomains".into(), json!(domains));
            row.allowed_email_domains = Set(stored);
        }
    }
    if let Some(days) = changes.invite_expiry_days
        && days != account.invite_expiry_days
    {
        before.insert("inviteExpiryDays".into(), json!(account.invite_expiry_days));
        after.insert("inviteExpiryDays".into(), json!(days));
        row.invite_expiry_days = Set(days);
    }
    if let Some(limit) = changes.seat_limit
        && limit != account.seat_limit
    {
        before.insert("seatLimit".into(), json!(account.seat_limit));
        after.insert("seatLimit".into(), json!(limit));
        row.seat_limit = Set(limit);
    }
    if let Some(mode) = changes.scim_deprovision
        && mode != Deprovision::of(&account)
    {
        before.insert(
            "scimDeprovision".into(),
            json!(Deprovision::of(&account).as_str()),
        );
        after.insert("scimDeprovision".into(), json!(mode.as_str()));
        row.scim_deprovision = Set(mode.as_str().to_owned());
    }
    if after.is_empty() {
        return Ok(account);
    }
    let op = Operation::start(actor);
    row.updated_at = Set(op.at);
    let updated = row.update(&txn).await?;
    audit::record(
        &txn,
        &op,
        vec![Change {
            action: AuditAction::AccountUpdated,
            target_type: "Account",
            target_id: updated.id.into(),
            target_label: Some(updated.name.clone()),
            target_team_id: None,
            before: Some(Json::Object(before)),
            after: Some(Json::Object(after)),
        }],
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}
