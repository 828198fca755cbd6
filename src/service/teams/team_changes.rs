//! Changing teams (`TEAMS_MANAGE`): create, rename, move between departments, delete; and
//! the unchecked insert that seeding uses.

use super::super::audit::{self, AuditAction, Change, Operation};
use super::super::dialect::{Lock, locked};
use super::super::ids::{AccountId, DepartmentId, Sent, TeamId};
use super::super::text::Name;
use super::super::{Db, Error, Result, access};
use super::department_changes::{ensure_manages_department, find_department};
use super::{InTheWay, begin, live, live_scim_tokens_clear, name_race, require_manage};
use crate::auth::Principal;
use crate::entity::{invite, team, user};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend,
    DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
};
use serde_json::{Map, Value as Json, json};

/// Inserts a team row, unchecked (for seeding: `accounts::create`, the demo, tests).
pub async fn insert_team<C: ConnectionTrait>(
    db: &C,
    account_id: AccountId,
    name: &Name,
    department_id: Option<DepartmentId>,
    now: i64,
) -> Result<team::Model> {
    Ok(insert_team_row(db, account_id, name, department_id, now).await?)
}

/// The insert itself, keeping the database error so a name race can be recognized.
async fn insert_team_row<C: ConnectionTrait>(
    db: &C,
    account_id: AccountId,
    name: &Name,
    department_id: Option<DepartmentId>,
    now: i64,
) -> Result<team::Model, DbErr> {
    team::Entity::insert(team::ActiveModel {
        id: Set(TeamId::new()),
        account_id: Set(account_id),
        department_id: Set(department_id),
        name: Set(name.as_str().to_owned()),
        name_key: Set(name.key()),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
        version: Set(1),
        external_id: Set(None),
    })
    .exec_with_returning(db)
    .await
}

/// `Forbidden` unless the actor may change `team`.
fn ensure_manages_team(actor: &Principal, team: &team::Model) -> Result<()> {
    if access::manages_team(actor, team) {
        Ok(())
    } else {
        Err(access::outside_structure_reach(&format!(
            "team `{}`",
            team.name
        )))
    }
}

/// What `update_team` changes; a `None` field stays as it is.
#[derive(Clone, Debug, Default)]
pub struct TeamChanges<'a> {
    pub name: Option<&'a str>,
    /// `Some(None)` takes the team out of its department.
    pub department_id: Option<Option<Sent<DepartmentId>>>,
}

/// A team as the audit log records it.
fn team_json(t: &team::Model) -> Json {
    json!({
        "id": t.id.to_string(),
        "name": t.name,
        "departmentId": t.department_id.map(|d| d.to_string()),
    })
}

fn team_change(
    action: AuditAction,
    team: &team::Model,
    before: Option<Json>,
    after: Option<Json>,
) -> Change {
    Change {
        action,
        target_type: "Team",
        target_id: team.id.into(),
        target_label: Some(team.name.clone()),
        target_team_id: Some(team.id),
        before,
        after,
    }
}

fn team_name_taken(existing: &str) -> Error {
    Error::bad_input("name", format!("a team named `{existing}` already exists"))
}

/// Refuses `name` when another live team of the account has it, in any case. The unique
/// index is the backstop for a race that passes this check (see `name_race`).
async fn ensure_team_name_free<C: ConnectionTrait>(
    db: &C,
    account_id: AccountId,
    name: &Name,
    except: Option<TeamId>,
) -> Result<()> {
    let mut select = live(account_id).filter(team::Column::NameKey.eq(name.key()));
    if let Some(id) = except {
        select = select.filter(team::Column::Id.ne(id));
    }
    match select.one(db).await? {
        Some(existing) => Err(team_name_taken(&existing.name)),
        None => Ok(()),
    }
}

/// A live team of the account by its external id, locked as asked; anything else
/// (malformed, another account's, deleted) is `NOT_FOUND`.
async fn find_team<C: ConnectionTrait>(
    db: &C,
    backend: DatabaseBackend,
    account_id: AccountId,
    id: Sent<TeamId>,
    lock: Lock,
) -> Result<team::Model> {
    let id = id.ok_or(Error::NotFound("team"))?;
    locked(
        live(account_id).filter(team::Column::Id.eq(id)),
        backend,
        lock,
    )
    .one(db)
    .await?
    .ok_or(Error::NotFound("team"))
}

/// Creates a team, optionally in a department.
pub async fn create_team(
    db: &Db,
    actor: &Principal,
    name: &str,
    department_id: Option<Sent<DepartmentId>>,
) -> Result<team::Model> {
    require_manage(actor)?;
    let name = Name::parse("name", name)?;
    let (txn, actor) = begin(db, actor).await?;
    let actor = &actor;
    let department = match department_id {
        Some(id) => {
            let department =
                find_department(&txn, db.backend(), actor.account_id, id, Lock::Share).await?;
            // A new team outside every department is in nobody's reach but organization-wide
            // roles; one inside a department enters that department's reach.
            ensure_manages_department(actor, Some(&department))?;
            Some(department)
        }
        None => None,
    };
    ensure_team_name_free(&txn, actor.account_id, &name, None).await?;
    let op = Operation::start(actor);
    let team = insert_team_row(
        &txn,
        actor.account_id,
        &name,
        department.map(|d| d.id),
        op.at,
    )
    .await
    .map_err(|e| {
        name_race(e, "teams_account_name_key", || {
            team_name_taken(name.as_str())
        })
    })?;
    audit::record(
        &txn,
        &op,
        vec![team_change(
            AuditAction::TeamCreated,
            &team,
            None,
            Some(team_json(&team)),
        )],
    )
    .await?;
    txn.commit().await?;
    Ok(team)
}

/// Renames a team and/or moves it to another department (or out of its department).
/// Nothing changes, and nothing is audited, when the team already is as asked.
pub async fn update_team(
    db: &Db,
    actor: &Principal,
    id: Sent<TeamId>,
    changes: TeamChanges<'_>,
) -> Result<team::Model> {
    require_manage(actor)?;
    let (txn, actor) = begin(db, actor).await?;
    let op = Operation::start(&actor);
    let updated = update_team_in(&txn, &actor, &op, id, changes).await?;
    txn.commit().await?;
    Ok(updated)
}

/// `update_team` inside the caller's write transaction (a SCIM Group PATCH makes it with
/// its member changes): the caller has rechecked `actor` (`access::recheck`) and commits.
pub(crate) async fn update_team_in(
    txn: &DatabaseTransaction,
    actor: &Principal,
    op: &Operation,
    id: Sent<TeamId>,
    changes: TeamChanges<'_>,
) -> Result<team::Model> {
    require_manage(actor)?;
    let name = changes.name.map(|n| Name::parse("name", n)).transpose()?;
    let backend = txn.get_database_backend();
    let team = find_team(txn, backend, actor.account_id, id, Lock::Update).await?;
    ensure_manages_team(actor, &team)?;
    let mut row: team::ActiveModel = team.clone().into();
    let (mut before, mut after) = (Map::new(), Map::new());
    if let Some(name) = &name
        && name.as_str() != team.name
    {
        if name.key() != team.name_key {
            ensure_team_name_free(txn, actor.account_id, name, Some(team.id)).await?;
        }
        before.insert("name".into(), json!(team.name));
        after.insert("name".into(), json!(name.as_str()));
        row.name = Set(name.as_str().to_owned());
        row.name_key = Set(name.key());
    }
    if let Some(department_id) = changes.department_id {
        let department = match department_id {
            Some(id) => {
                Some(find_department(txn, backend, actor.account_id, id, Lock::Share).await?)
            }
            None => None,
        };
        let department_id = department.as_ref().map(|d| d.id);
        if department_id != team.department_id {
            // The destination must be in the actor's reach too, or the move would hand the
            // team's people to someone else's reach (or out of every scoped reach).
            ensure_manages_department(actor, department.as_ref())?;
            let external = |d: Option<DepartmentId>| json!(d.map(|d| d.to_string()));
            before.insert("departmentId".into(), external(team.department_id));
            after.insert("departmentId".into(), external(department_id));
            row.department_id = Set(department_id);
        }
    }
    if after.is_empty() {
        return Ok(team);
    }
    row.updated_at = Set(op.at);
    let updated = row.update(txn).await.map_err(|e| {
        name_race(e, "teams_account_name_key", || {
            team_name_taken(name.as_ref().map(Name::as_str).unwrap_or_default())
        })
    })?;
    audit::record(
        txn,
        op,
        vec![team_change(
            AuditAction::TeamUpdated,
            &updated,
            Some(Json::Object(before)),
            Some(Json::Object(after)),
        )],
    )
    .await?;
    Ok(updated)
}

/// Deletes a team that no active user and no open invitation is in. The row stays (marked
/// deleted, out of its department) because history — deleted users, past invitations —
/// still names it; its name becomes free again.
pub async fn delete_team(db: &Db, actor: &Principal, id: Sent<TeamId>) -> Result<TeamId> {
    require_manage(actor)?;
    let (txn, actor) = begin(db, actor).await?;
    let actor = &actor;
    let team = find_team(&txn, db.backend(), actor.account_id, id, Lock::Update).await?;
    ensure_manages_team(actor, &team)?;
    let way = InTheWay::count(&txn, user::Column::TeamId, invite::Column::TeamId, team.id).await?;
    if !way.is_clear() {
        return Err(way.refusal(
            format!("team `{}` still has", team.name),
            "move the users and withdraw or delete the invitations first",
        ));
    }
    live_scim_tokens_clear(
        &txn,
        crate::entity::scim_token::Column::AnchorTeamId,
        team.id,
    )
    .await?;
    let op = Operation::start(actor);
    let mut row: team::ActiveModel = team.clone().into();
    row.deleted_at = Set(Some(op.at));
    row.department_id = Set(None);
    row.updated_at = Set(op.at);
    row.update(&txn).await?;
    audit::record(
        &txn,
        &op,
        vec![team_change(
            AuditAction::TeamDeleted,
            &team,
            Some(team_json(&team)),
            None,
        )],
    )
    .await?;
    txn.commit().await?;
    Ok(team.id)
}
