//! Everything a directory asks to change on one team in one request (a SCIM Group PUT or
//! PATCH), in one transaction, and the team's external id.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use serde_json::json;

use super::super::audit::{self, AuditAction, Change, Operation};
use super::super::bulk::Requested;
use super::super::ids::{TeamId, UserId};
use super::super::users::{self, Request};
use super::super::{Db, Error, access, teams};
use super::defaults::default_team;
use super::{ProvisionError, Result, check_external_id};
use crate::auth::{Permission, Principal};
use crate::entity::team;

/// What a directory asks to change on a team in one request (a SCIM Group PUT or PATCH).
#[derive(Clone, Debug, Default)]
pub struct GroupChanges<'a> {
    /// The new name.
    pub name: Option<&'a str>,
    /// `Some(None)` removes the external id.
    pub external_id: Option<Option<&'a str>>,
    /// Users (ids as sent, parsed) to move into the team.
    pub add: Vec<Requested<UserId>>,
    /// Users (ids as sent, parsed) to move out of it, to the directory's default team.
    pub remove: Vec<Requested<UserId>>,
}

/// Applies all of `changes` to one team in ONE write transaction — rename
/// (`teams::update_team_in`), external id, members added (moved in), members removed
/// (moved to `default_team`; members of the default team cannot be removed, `Mutability`)
/// — with the rules of the GraphQL mutations, audited as one operation. If any part is
/// refused nothing changes.
pub async fn update_group(
    db: &Db,
    actor: &Principal,
    team_id: TeamId,
    changes: GroupChanges<'_>,
) -> Result<()> {
    let structure = changes.name.is_some() || changes.external_id.is_some();
    let members = !changes.add.is_empty() || !changes.remove.is_empty();
    let first = if structure {
        Permission::TeamsManage
    } else if members {
        Permission::UsersReassign
    } else {
        return Ok(());
    };
    let txn = db.begin_write().await?;
    let actor = &access::recheck(
        &txn,
        actor,
        first,
        "your role may not make this change to teams",
    )
    .await?;
    let op = Operation::start(actor);
    let at = |part: &str, e: ProvisionError| ProvisionError::At(part.to_owned(), Box::new(e));
    if let Some(name) = changes.name {
        teams::update_team_in(
            &txn,
            actor,
            &op,
            Some(team_id),
            teams::TeamChanges {
                name: Some(name),
                department_id: None,
            },
        )
        .await
        .map_err(|e| match e {
            Error::BadInput { message, .. } if message.contains("already exists") => {
                ProvisionError::Uniqueness(message)
            }
            other => at("displayName", other.into()),
        })?;
    }
    if let Some(x) = changes.external_id {
        set_team_external_id_in(&txn, actor, &op, team_id, x).await?;
    }
    let move_into = |ids: Vec<Requested<UserId>>, into: TeamId, part: &'static str| {
        let (txn, op) = (&txn, &op);
        async move {
            if ids.is_empty() {
                return Ok(());
            }
            let outcome = users::apply_in(txn, actor, op, &ids, Request::Team(Some(into)), false)
                .await
                .map_err(|e| at(part, e.into()))?;
            if outcome.errors.is_empty() {
                Ok(())
            } else {
                Err(at(part, ProvisionError::Refused(outcome.errors)))
            }
        }
    };
    move_into(changes.add, team_id, "members").await?;
    if !changes.remove.is_empty() {
        let fallback = default_team(&txn, actor)
            .await?
            .filter(|f| *f != team_id)
            .ok_or_else(|| {
                ProvisionError::Mutability(
                    "members of the account's default team cannot be removed; add them to another group instead"
                        .into(),
                )
            })?;
        move_into(changes.remove, fallback, "members").await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Sets (or, with `None`, removes) the directory's id of a team (SCIM Group `externalId`):
/// `TEAMS_MANAGE` on a team within the actor's structure reach, audited as `team.updated`.
pub async fn set_team_external_id(
    db: &Db,
    actor: &Principal,
    team_id: TeamId,
    external_id: Option<&str>,
) -> Result<()> {
    if !actor.can(Permission::TeamsManage) {
        return Err(Error::forbidden("your role may not change teams").into());
    }
    let txn = db.begin_write().await?;
    let actor = &access::recheck(
        &txn,
        actor,
        Permission::TeamsManage,
        "your role may not change teams",
    )
    .await?;
    let op = Operation::start(actor);
    set_team_external_id_in(&txn, actor, &op, team_id, external_id).await?;
    txn.commit().await?;
    Ok(())
}

/// `set_team_external_id` inside the caller's write transaction (rechecked `actor`).
async fn set_team_external_id_in(
    txn: &DatabaseTransaction,
    actor: &Principal,
    op: &Operation,
    team_id: TeamId,
    external_id: Option<&str>,
) -> Result<()> {
    if !actor.can(Permission::TeamsManage) {
        return Err(Error::forbidden("your role may not change teams").into());
    }
    if let Some(x) = external_id {
        check_external_id(x)?;
    }
    let backend = txn.get_database_backend();
    let team = teams::lock_for_reference(txn, backend, actor.account_id, team_id).await?;
    if !access::manages_team(actor, &team) {
        return Err(access::outside_structure_reach("this team").into());
    }
    if team.external_id.as_deref() == external_id {
        return Ok(());
    }
    team::Entity::update_many()
        .col_expr(
            team::Column::ExternalId,
            Expr::value(external_id.map(str::to_owned)),
        )
        .col_expr(team::Column::UpdatedAt, Expr::value(op.at))
        .filter(team::Column::Id.eq(team.id))
        .exec(txn)
        .await?;
    audit::record(
        txn,
        op,
        vec![Change {
            action: AuditAction::TeamUpdated,
            target_type: "Team",
            target_id: team.id.into(),
            target_label: Some(team.name.clone()),
            target_team_id: Some(team.id),
            before: Some(json!({ "externalId": team.external_id })),
            after: Some(json!({ "externalId": external_id })),
        }],
    )
    .await?;
    Ok(())
}
