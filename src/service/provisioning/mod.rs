//! Provisioning: the users a directory (SCIM) creates directly — active at once, no
//! invitation — and the profile fields (email, name, external id) it keeps in sync. Role,
//! team, suspension and deletion are `users`' rules: a directory's update of a user
//! (`update_user`) or a team (`update_group`) makes all its parts in one transaction by
//! calling their `_in(txn, …)` forms (`users::apply_in`, `teams::update_team_in`), so one
//! refused part leaves everything as it was and no rule has a second copy here.
//!
//! Rules (the same as an administrator inviting someone):
//! - creating needs `USERS_INVITE`; editing a profile needs it too (a directory that may
//!   create a person may keep their name and address current);
//! - the team is within the actor's reach; the role is one the actor could grant (no
//!   escalation), and a user whose current role the actor could not grant is not edited;
//! - the email is valid, unique among the account's users (deleted ones aside), and in the
//!   account's allowed domains unless the actor holds `INVITE_ANY_DOMAIN`;
//! - every change is audited with the actor, in the transaction of the change.
//!
//! Defaults for a created user: `default_team` (the directory token's anchor team, else the
//! account's oldest team) and the built-in Sender role — the least a new person can hold.
//!
//! One file per use case (docs/ARCHITECTURE.md, "Where a rule lives"):
//!
//! - `create`: a directory's new user (`create_user`);
//! - `defaults`: the team (and, for a first sync, the role and seat limit) a directory's
//!   user gets when it names none (`default_team`);
//! - `profile`: email, name and external id (`update_profile`);
//! - `update_user`: everything a SCIM PUT or PATCH changes on a user, in one transaction;
//! - `update_group`: everything a SCIM PUT or PATCH changes on a team, and its external id.
//!
//! This file holds what they share: the errors, a team or role as a directory names it and
//! finding it, and the checks of an email, an external id and a grant.

mod create;
mod defaults;
mod profile;
mod update_group;
mod update_user;

use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter};

use super::bulk::ItemError;
use super::email::Email;
use super::ids::{AccountId, RoleId, Sent, TeamId};
use super::text::Name;
use super::{Error, accounts, is_unique_violation};
use crate::auth::{Permission, PermissionSet, Principal};
use crate::entity::{role, team};

pub use create::{Created, NewUser, create_user};
pub use defaults::default_team;
pub use profile::{ProfileChanges, update_profile};
pub use update_group::{GroupChanges, set_team_external_id, update_group};
pub use update_user::{UserChanges, update_user};

/// Longest external id accepted.
pub const MAX_EXTERNAL_ID: usize = 255;

/// Why a provisioning request was refused, beyond the service's general errors.
#[derive(Debug)]
pub enum ProvisionError {
    /// The email is already used by another user of the account.
    Uniqueness(String),
    /// A value is not acceptable (`field`, message).
    Invalid(&'static str, String),
    /// The account has no free seat.
    SeatLimit(String),
    /// Anything else the service says (forbidden, not found, internal…).
    Service(Error),
    /// A bulk rule refused the user (last Admin, seat limit, no escalation, reach…).
    Refused(Vec<ItemError>),
    /// The change cannot be made in this state (e.g. removing a member of the default team).
    Mutability(String),
    /// Part of a multi-part change (named by the attribute it changes) was refused, so
    /// none of it was made.
    At(String, Box<ProvisionError>),
}

impl From<Error> for ProvisionError {
    fn from(e: Error) -> Self {
        match e {
            Error::BadInput { field, message, .. } => {
                ProvisionError::Invalid(field.unwrap_or("value"), message)
            }
            other => ProvisionError::Service(other),
        }
    }
}

impl From<sea_orm::DbErr> for ProvisionError {
    fn from(e: sea_orm::DbErr) -> Self {
        ProvisionError::Service(e.into())
    }
}

/// The result type of this module.
pub type Result<T, E = ProvisionError> = std::result::Result<T, E>;

/// A team (`Ref<TeamId>`) or role (`Ref<RoleId>`), named by id or by name (a role also by
/// its built-in key, e.g. `ADMIN`).
#[derive(Clone, Copy, Debug)]
pub enum Ref<'a, T> {
    /// By id, parsed where it came in (`None` when `sent` is no id of this kind: answered as
    /// an id of nothing); `sent` is the text as the directory sent it, for the answer.
    Id {
        id: Sent<T>,
        sent: &'a str,
    },
    Name(&'a str),
}

fn parse_email(raw: &str) -> Result<Email> {
    Email::parse(raw).ok_or_else(|| {
        ProvisionError::Invalid("userName", format!("{raw:?} is not a valid email address"))
    })
}

/// Checks an external id: 1–255 characters, no control characters.
pub fn check_external_id(raw: &str) -> Result<()> {
    if raw.is_empty() || raw.chars().count() > MAX_EXTERNAL_ID || raw.chars().any(char::is_control)
    {
        return Err(ProvisionError::Invalid(
            "externalId",
            format!("externalId must be 1–{MAX_EXTERNAL_ID} characters without control characters"),
        ));
    }
    Ok(())
}

async fn check_domain(txn: &DatabaseTransaction, actor: &Principal, email: &Email) -> Result<()> {
    if actor.can(Permission::InviteAnyDomain) {
        return Ok(());
    }
    let account = accounts::get(txn, actor).await?;
    let allowed = accounts::allowed_domains(&account)?;
    if !allowed.is_empty() && !allowed.iter().any(|d| d == email.domain()) {
        return Err(ProvisionError::Invalid(
            "userName",
            format!(
                "{} is outside the account's allowed email domains",
                email.domain()
            ),
        ));
    }
    Ok(())
}

fn uniqueness_or(e: Error, email: &Email) -> ProvisionError {
    if let Error::Internal(cause) = &e
        && cause
            .downcast_ref::<sea_orm::DbErr>()
            .is_some_and(|db| is_unique_violation(db, "users_account_external_id"))
    {
        return external_id_taken();
    }
    match &e {
        Error::Internal(cause)
            if cause
                .downcast_ref::<sea_orm::DbErr>()
                .is_some_and(|db| is_unique_violation(db, "users_account_email_active")) =>
        {
            ProvisionError::Uniqueness(format!(
                "{} is already a user of this account",
                email.as_str()
            ))
        }
        _ => e.into(),
    }
}

fn external_id_taken() -> ProvisionError {
    ProvisionError::Uniqueness("another user of this account has this externalId".into())
}

fn grantable(actor: &Principal, role: &role::Model) -> Result<bool> {
    Ok(actor.can_grant(role.scope, PermissionSet::from_bits(role.permissions)))
}

/// A live team of the account named by id or name (reach is checked by the caller).
async fn find_team(
    txn: &DatabaseTransaction,
    actor: &Principal,
    wanted: Ref<'_, TeamId>,
) -> Result<Option<TeamId>> {
    match wanted {
        Ref::Id { id, .. } => Ok(id),
        Ref::Name(raw) => {
            let key = Name::parse("team", raw)?.key();
            Ok(team::Entity::find()
                .filter(team::Column::AccountId.eq(actor.account_id))
                .filter(team::Column::DeletedAt.is_null())
                .filter(team::Column::NameKey.eq(key))
                .one(txn)
                .await?
                .map(|t| t.id))
        }
    }
}

fn no_team(wanted: Ref<'_, TeamId>) -> ProvisionError {
    let (Ref::Id { sent: raw, .. } | Ref::Name(raw)) = wanted;
    ProvisionError::Invalid("team", format!("no team {raw:?}"))
}

/// A live role of the account named by id, built-in key (e.g. `ADMIN`) or name,
/// share-locked on PostgreSQL (against a concurrent deleteRole) until the transaction ends.
async fn find_role(
    txn: &DatabaseTransaction,
    account_id: AccountId,
    wanted: Ref<'_, RoleId>,
) -> Result<Option<role::Model>> {
    let live = super::dialect::locked(
        role::Entity::find()
            .filter(role::Column::AccountId.eq(account_id))
            .filter(role::Column::DeletedAt.is_null()),
        txn.get_database_backend(),
        super::dialect::Lock::Share,
    );
    Ok(match wanted {
        Ref::Id { id: Some(id), .. } => live.filter(role::Column::Id.eq(id)).one(txn).await?,
        Ref::Id { id: None, .. } => None,
        Ref::Name(raw) => {
            let by_key = live
                .clone()
                .filter(role::Column::Key.eq(raw.trim().to_ascii_uppercase()))
                .one(txn)
                .await?;
            match by_key {
                Some(r) => Some(r),
                None => {
                    let key = Name::parse("role", raw)?.key();
                    live.filter(role::Column::NameKey.eq(key)).one(txn).await?
                }
            }
        }
    })
}
