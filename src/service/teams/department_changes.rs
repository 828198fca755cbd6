//! Changing departments (`TEAMS_MANAGE`): create, rename, delete; and the unchecked insert
//! that seeding uses.

use super::super::audit::{self, AuditAction, Change, Operation};
use super::super::dialect::{Lock, locked};
use super::super::ids::{AccountId, DepartmentId, Sent};
use super::super::text::Name;
use super::super::{Db, Error, Result, access};
use super::in_the_way::{clamp, plural};
use super::{begin, live, name_race, require_manage};
use crate::auth::Principal;
use crate::entity::{department, team};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter,
};
use serde_json::{Value as Json, json};

/// Inserts a department row, unchecked (for seeding).
pub async fn insert_department<C: ConnectionTrait>(
    db: &C,
    account_id: AccountId,
    name: &Name,
    now: i64,
) -> Result<department::Model> {
    Ok(insert_department_row(db, account_id, name, now).await?)
}

async fn insert_department_row<C: ConnectionTrait>(
    db: &C,
    account_id: AccountId,
    name: &Name,
    now: i64,
) -> Result<department::Model, DbErr> {
    department::Entity::insert(department::ActiveModel {
        id: Set(DepartmentId::new()),
        account_id: Set(account_id),
        name: Set(name.as_str().to_owned()),
        name_key: Set(name.key()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_with_returning(db)
    .await
}

/// `Forbidden` unless the actor may put a team into `department` (or into none), or change
/// that department.
pub(super) fn ensure_manages_department(
    actor: &Principal,
    department: Option<&department::Model>,
) -> Result<()> {
    if access::manages_department(actor, department.map(|d| d.id)) {
        return Ok(());
    }
    Err(match department {
        Some(d) => access::outside_structure_reach(&format!("department `{}`", d.name)),
        None => access::outside_structure_reach("a team outside every department"),
    })
}

/// A department as the audit log records it.
fn department_json(d: &department::Model) -> Json {
    json!({ "id": d.id.to_string(), "name": d.name })
}

fn department_change(
    action: AuditAction,
    department: &department::Model,
    before: Option<Json>,
    after: Option<Json>,
) -> Change {
    Change {
        action,
        target_type: "Department",
        target_id: department.id.into(),
        target_label: Some(department.name.clone()),
        target_team_id: None,
        before,
        after,
    }
}

fn department_name_taken(existing: &str) -> Error {
    Error::bad_input(
        "name",
        format!("a department named `{existing}` already exists"),
    )
}

async fn ensure_department_name_free<C: ConnectionTrait>(
    db: &C,
    account_id: AccountId,
    name: &Name,
    except: Option<DepartmentId>,
) -> Result<()> {
    let mut select = department::Entity::find()
        .filter(department::Column::AccountId.eq(account_id))
        .filter(department::Column::NameKey.eq(name.key()));
    if let Some(id) = except {
        select = select.filter(department::Column::Id.ne(id));
    }
    match select.one(db).await? {
        Some(existing) => Err(department_name_taken(&existing.name)),
        None => Ok(()),
    }
}

/// A department of the account by its external id, locked as asked, or `NOT_FOUND`.
pub(super) async fn find_department<C: ConnectionTrait>(
    db: &C,
    backend: DatabaseBackend,
    account_id: AccountId,
    id: Sent<DepartmentId>,
    lock: Lock,
) -> Result<department::Model> {
    let id = id.ok_or(Error::NotFound("department"))?;
    locked(
        department::Entity::find()
            .filter(department::Column::AccountId.eq(account_id))
            .filter(department::Column::Id.eq(id)),
        backend,
        lock,
    )
    .one(db)
    .await?
    .ok_or(Error::NotFound("department"))
}

/// Creates a department.
pub async fn create_department(
    db: &Db,
    actor: &Principal,
    name: &str,
) -> Result<department::Model> {
    require_manage(actor)?;
    let name = Name::parse("name", name)?;
    // A new department is empty: it changes nobody's reach, so every holder of TEAMS_MANAGE
    // may create one.
    let (txn, actor) = begin(db, actor).await?;
    let actor = &actor;
    ensure_department_name_free(&txn, actor.account_id, &name, None).await?;
    let op = Operation::start(actor);
    let department = insert_department_row(&txn, actor.account_id, &name, op.at)
        .await
        .map_err(|e| {
            name_race(e, "departments_account_name_key", || {
                department_name_taken(name.as_str())
            })
        })?;
    audit::record(
        &txn,
        &op,
        vec![department_change(
            AuditAction::DepartmentCreated,
            &department,
            None,
            Some(department_json(&department)),
        )],
    )
    .await?;
    txn.commit().await?;
    Ok(department)
}

/// Renames a department; a `None` name leaves it as it is.
pub async fn update_department(
    db: &Db,
    actor: &Principal,
    id: Sent<DepartmentId>,
    name: Option<&str>,
) -> Result<department::Model> {
    require_manage(actor)?;
    let name = name.map(|n| Name::parse("name", n)).transpose()?;
    let (txn, actor) = begin(db, actor).await?;
    let actor = &actor;
    let department =
        find_department(&txn, db.backend(), actor.account_id, id, Lock::Update).await?;
    ensure_manages_department(actor, Some(&department))?;
    let Some(name) = name.filter(|n| n.as_str() != department.name) else {
        return Ok(department);
    };
    if name.key() != department.name_key {
        ensure_department_name_free(&txn, actor.account_id, &name, Some(department.id)).await?;
    }
    let op = Operation::start(actor);
    let mut row: department::ActiveModel = department.clone().into();
    row.name = Set(name.as_str().to_owned());
    row.name_key = Set(name.key());
    row.updated_at = Set(op.at);
    let updated = row.update(&txn).await.map_err(|e| {
        name_race(e, "departments_account_name_key", || {
            department_name_taken(name.as_str())
        })
    })?;
    audit::record(
        &txn,
        &op,
        vec![department_change(
            AuditAction::DepartmentUpdated,
            &updated,
            Some(json!({ "name": department.name })),
            Some(json!({ "name": updated.name })),
        )],
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

/// Deletes a department that no team belongs to.
pub async fn delete_department(
    db: &Db,
    actor: &Principal,
    id: Sent<DepartmentId>,
) -> Result<DepartmentId> {
    require_manage(actor)?;
    let (txn, actor) = begin(db, actor).await?;
    let actor = &actor;
    let department =
        find_department(&txn, db.backend(), actor.account_id, id, Lock::Update).await?;
    ensure_manages_department(actor, Some(&department))?;
    let teams = live(actor.account_id)
        .filter(team::Column::DepartmentId.eq(department.id))
        .count(&txn)
        .await?;
    if teams > 0 {
        return Err(Error::BadInput {
            field: Some("id"),
            message: format!(
                "department `{}` still has {}; move or delete them first",
                department.name,
                plural(teams, "team", "teams"),
            ),
            details: vec![("teams", clamp(teams))],
        });
    }
    let op = Operation::start(actor);
    department::Entity::delete_by_id(department.id)
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        &op,
        vec![department_change(
            AuditAction::DepartmentDeleted,
            &department,
            Some(department_json(&department)),
            None,
        )],
    )
    .await?;
    txn.commit().await?;
    Ok(department.id)
}
