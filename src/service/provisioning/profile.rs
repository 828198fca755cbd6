//! A user's profile as a directory keeps it in sync: email, name and external id.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use serde_json::json;

use super::super::audit::{self, AuditAction, Change, Operation};
use super::super::email::Email;
use super::super::ids::{AccountId, UserId};
use super::super::text::{self, Name};
use super::super::{Db, Error, access, is_unique_violation};
use super::{
    ProvisionError, Result, check_domain, check_external_id, external_id_taken, grantable,
    parse_email, uniqueness_or,
};
use crate::auth::{Permission, Principal};
use crate::entity::{role, user};

/// Profile fields to change; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct ProfileChanges<'a> {
    pub email: Option<&'a str>,
    pub name: Option<&'a str>,
    /// `Some(None)` removes the external id.
    pub external_id: Option<Option<&'a str>>,
}

/// Changes a user's email, name and/or external id, audited as `user.updated` with the fields that
/// changed. Unchanged values write nothing.
pub async fn update_profile(
    db: &Db,
    actor: &Principal,
    user_id: UserId,
    changes: ProfileChanges<'_>,
) -> Result<user::Model> {
    if !actor.can(Permission::UsersInvite) {
        return Err(Error::forbidden("your role may not edit users").into());
    }
    let txn = db.begin_write().await?;
    let actor = &access::recheck(
        &txn,
        actor,
        Permission::UsersInvite,
        "your role may not edit users",
    )
    .await?;
    let op = Operation::start(actor);
    let updated = update_profile_in(&txn, actor, &op, user_id, changes).await?;
    txn.commit().await?;
    Ok(updated)
}

/// `update_profile` inside the caller's write transaction: the caller has rechecked
/// `actor` (`access::recheck`) and commits.
pub(super) async fn update_profile_in(
    txn: &DatabaseTransaction,
    actor: &Principal,
    op: &Operation,
    user_id: UserId,
    changes: ProfileChanges<'_>,
) -> Result<user::Model> {
    if !actor.can(Permission::UsersInvite) {
        return Err(Error::forbidden("your role may not edit users").into());
    }
    let email = changes.email.map(parse_email).transpose()?;
    let name = changes.name.map(|n| Name::parse("name", n)).transpose()?;
    if let Some(Some(x)) = changes.external_id {
        check_external_id(x)?;
    }
    let current = access::users(actor)
        .filter(user::Column::Id.eq(user_id))
        .one(txn)
        .await?
        .ok_or(Error::NotFound("user"))?;
    let role = role::Entity::find_by_id(current.role_id)
        .one(txn)
        .await?
        .ok_or(Error::NotFound("role"))?;
    if !grantable(actor, &role)? {
        return Err(Error::forbidden(
            "this user's role is wider or more powerful than yours, so you cannot change them",
        )
        .into());
    }
    let email = email.filter(|e| e.as_str() != current.email);
    let name = name.filter(|n| n.as_str() != current.name);
    let external_id = changes
        .external_id
        .filter(|x| x.map(str::to_owned) != current.external_id);
    if email.is_none() && name.is_none() && external_id.is_none() {
        return Ok(current);
    }
    if let Some(e) = &email {
        check_domain(txn, actor, e).await?;
        check_unique(txn, actor.account_id, e, Some(current.id)).await?;
    }
    if let Some(Some(x)) = external_id {
        check_external_unique(txn, actor.account_id, x, Some(current.id)).await?;
    }
    let mut after = current.clone();
    let (mut before_json, mut after_json) = (json!({}), json!({}));
    if let Some(e) = &email {
        after.email = e.as_str().to_owned();
        before_json["email"] = json!(current.email);
        after_json["email"] = json!(after.email);
    }
    if let Some(n) = &name {
        after.name = n.as_str().to_owned();
        after.name_key = n.key();
        before_json["name"] = json!(current.name);
        after_json["name"] = json!(after.name);
    }
    if let Some(x) = external_id {
        after.external_id = x.map(str::to_owned);
        before_json["externalId"] = json!(current.external_id);
        after_json["externalId"] = json!(after.external_id);
    }
    after.search_text = text::search_text(&after.name, &after.email);
    after.updated_at = op.at;
    let written = user::Entity::update_many()
        .col_expr(user::Column::Email, Expr::value(after.email.clone()))
        .col_expr(user::Column::Name, Expr::value(after.name.clone()))
        .col_expr(user::Column::NameKey, Expr::value(after.name_key.clone()))
        .col_expr(
            user::Column::SearchText,
            Expr::value(after.search_text.clone()),
        )
        .col_expr(
            user::Column::ExternalId,
            Expr::value(after.external_id.clone()),
        )
        .col_expr(user::Column::UpdatedAt, Expr::value(op.at))
        .filter(user::Column::Id.eq(current.id))
        .exec(txn)
        .await;
    if let Err(e) = written {
        if is_unique_violation(&e, "users_account_external_id") {
            return Err(external_id_taken());
        }
        return Err(match &email {
            Some(addr) => uniqueness_or(e.into(), addr),
            None => ProvisionError::Service(e.into()),
        });
    }
    audit::record(
        txn,
        op,
        vec![Change {
            action: AuditAction::UserUpdated,
            target_type: "User",
            target_id: current.id.into(),
            target_label: Some(after.email.clone()),
            target_team_id: Some(current.team_id),
            before: Some(before_json),
            after: Some(after_json),
        }],
    )
    .await?;
    Ok(after)
}

async fn check_unique(
    txn: &DatabaseTransaction,
    account_id: AccountId,
    email: &Email,
    except: Option<UserId>,
) -> Result<()> {
    let mut select = user::Entity::find()
        .filter(user::Column::AccountId.eq(account_id))
        .filter(user::Column::Email.eq(email.as_str()))
        .filter(user::Column::DeletedAt.is_null());
    if let Some(id) = except {
        select = select.filter(user::Column::Id.ne(id));
    }
    if select.one(txn).await?.is_some() {
        return Err(ProvisionError::Uniqueness(format!(
            "{} is already a user of this account",
            email.as_str()
        )));
    }
    Ok(())
}

async fn check_external_unique(
    txn: &DatabaseTransaction,
    account_id: AccountId,
    external_id: &str,
    except: Option<UserId>,
) -> Result<()> {
    let mut select = user::Entity::find()
        .filter(user::Column::AccountId.eq(account_id))
        .filter(user::Column::ExternalId.eq(external_id))
        .filter(user::Column::DeletedAt.is_null());
    if let Some(id) = except {
        select = select.filter(user::Column::Id.ne(id));
    }
    if select.one(txn).await?.is_some() {
        return Err(external_id_taken());
    }
    Ok(())
}
