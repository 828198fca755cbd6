//! Teams and departments: the shape of an organization, who may see which part of it, and
//! changing it (create, rename, move, delete).

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend,
    DatabaseTransaction, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, Select,
};
use serde_json::{Map, Value as Json, json};
use uuid::Uuid;

use super::audit::{self, Change, Operation};
use super::dialect::{Lock, locked};
use super::ids::{DepartmentId, TeamId};
use super::page::{Listing, PageArgs, Sort, SortValue};
use super::search::search_condition;
use super::text::Name;
use super::{Db, Error, Result, access};
use crate::auth::{Permission, Principal};
use crate::entity::{department, invite, team, user};

/// Filters of the `teams` list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub search: Option<String>,
    pub department_ids: Option<Vec<Uuid>>,
}

/// Whether the actor may see teams at all: those who see users, and team managers.
fn may_read(actor: &Principal) -> bool {
    actor.can(Permission::UsersView) || actor.can(Permission::TeamsManage)
}

/// The account's teams that are not deleted.
fn live(account_id: Uuid) -> Select<team::Entity> {
    team::Entity::find()
        .filter(team::Column::AccountId.eq(account_id))
        .filter(team::Column::DeletedAt.is_null())
}

/// Teams of the account the actor sees (see `access::teams`).
fn visible(actor: &Principal) -> Select<team::Entity> {
    access::teams(actor)
}

/// Inserts a team row, unchecked (for seeding: `accounts::create`, the demo, tests).
pub async fn insert_team<C: ConnectionTrait>(
    db: &C,
    account_id: Uuid,
    name: &Name,
    department_id: Option<Uuid>,
    now: i64,
) -> Result<team::Model> {
    Ok(insert_team_row(db, account_id, name, department_id, now).await?)
}

/// The insert itself, keeping the database error so a name race can be recognized.
async fn insert_team_row<C: ConnectionTrait>(
    db: &C,
    account_id: Uuid,
    name: &Name,
    department_id: Option<Uuid>,
    now: i64,
) -> Result<team::Model, DbErr> {
    team::Entity::insert(team::ActiveModel {
        id: Set(Uuid::now_v7()),
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

/// Inserts a department row, unchecked (for seeding).
pub async fn insert_department<C: ConnectionTrait>(
    db: &C,
    account_id: Uuid,
    name: &Name,
    now: i64,
) -> Result<department::Model> {
    Ok(insert_department_row(db, account_id, name, now).await?)
}

async fn insert_department_row<C: ConnectionTrait>(
    db: &C,
    account_id: Uuid,
    name: &Name,
    now: i64,
) -> Result<department::Model, DbErr> {
    department::Entity::insert(department::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(account_id),
        name: Set(name.as_str().to_owned()),
        name_key: Set(name.key()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_with_returning(db)
    .await
}

/// One team by id, when the actor may see it.
pub async fn get<C: ConnectionTrait>(db: &C, actor: &Principal, id: Uuid) -> Result<team::Model> {
    if !may_read(actor) && id != actor.team_id {
        return Err(Error::NotFound("team"));
    }
    let select = if id == actor.team_id {
        live(actor.account_id)
    } else {
        visible(actor)
    };
    select
        .filter(team::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or(Error::NotFound("team"))
}

/// The `teams` list, by name.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    filter: &Filter,
    page: &PageArgs,
) -> Result<Listing<team::Entity>> {
    if !may_read(actor) {
        return Err(Error::forbidden("your role may not list teams"));
    }
    page.validate()?;
    let mut select = visible(actor);
    if let Some(q) = filter.search.as_deref().filter(|q| !q.is_empty()) {
        select = select.filter(search_condition(team::Column::NameKey, q));
    }
    if let Some(departments) = &filter.department_ids {
        select = select.filter(team::Column::DepartmentId.is_in(departments.clone()));
    }
    let sort = Sort {
        tag: "name",
        key: team::Column::NameKey,
        id: team::Column::Id,
        ascending: true,
    };
    Listing::fetch(db, select, &sort, page, |t| {
        (SortValue::Text(t.name_key.clone()), t.id)
    })
    .await
}

/// Departments the actor sees (see `access::departments`).
fn visible_departments(actor: &Principal) -> Select<department::Entity> {
    access::departments(actor)
}

/// One department by id, when the actor may see it.
pub async fn get_department<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    id: Uuid,
) -> Result<department::Model> {
    if !may_read(actor) {
        return Err(Error::NotFound("department"));
    }
    visible_departments(actor)
        .filter(department::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or(Error::NotFound("department"))
}

/// The `departments` list, by name.
pub async fn list_departments<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    page: &PageArgs,
) -> Result<Listing<department::Entity>> {
    if !may_read(actor) {
        return Err(Error::forbidden("your role may not list departments"));
    }
    page.validate()?;
    let sort = Sort {
        tag: "name",
        key: department::Column::NameKey,
        id: department::Column::Id,
        ascending: true,
    };
    Listing::fetch(db, visible_departments(actor), &sort, page, |d| {
        (SortValue::Text(d.name_key.clone()), d.id)
    })
    .await
}

/// The teams of several departments that the actor may see, for `Department.teams`.
pub async fn teams_of_departments<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    departments: &[Uuid],
) -> Result<Vec<team::Model>> {
    use sea_orm::QueryOrder;
    Ok(visible(actor)
        .filter(team::Column::DepartmentId.is_in(departments.to_vec()))
        .order_by_asc(team::Column::NameKey)
        .limit(10_000)
        .all(db)
        .await?)
}

// ---------------------------------------------------------------------------------------
// Changing the organization: teams and departments (`TEAMS_MANAGE`).
//
// `TEAMS_MANAGE` acts within the holder's structure reach (`access::manages_team`,
// `access::manages_department`): moving a team moves its people into or out of someone's
// reach, so a scoped holder may not pull teams in from outside or push them out. Every
// change runs in one write transaction together with its audit event, after the actor is
// re-read inside it (`access::recheck`).
// ---------------------------------------------------------------------------------------

/// Active users and open invitations that stand in the way of deleting a team or role.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct InTheWay {
    pub users: u64,
    pub pending_invites: u64,
}

impl InTheWay {
    /// Counts the active users whose `user_column` and the open invitations whose
    /// `invite_column` is `id`. Open means not accepted, withdrawn or deleted, so an expired
    /// invitation counts: it can still be resent and would then point at nothing.
    pub(crate) async fn count<C: ConnectionTrait>(
        db: &C,
        user_column: user::Column,
        invite_column: invite::Column,
        id: Uuid,
    ) -> Result<Self> {
        let users = user::Entity::find()
            .filter(user_column.eq(id))
            .filter(user::Column::DeletedAt.is_null())
            .count(db)
            .await?;
        let pending_invites = invite::Entity::find()
            .filter(invite_column.eq(id))
            .filter(invite::Column::AcceptedAt.is_null())
            .filter(invite::Column::WithdrawnAt.is_null())
            .filter(invite::Column::DeletedAt.is_null())
            .count(db)
            .await?;
        Ok(InTheWay {
            users,
            pending_invites,
        })
    }

    /// Whether nothing is in the way.
    pub(crate) fn is_clear(self) -> bool {
        self.users == 0 && self.pending_invites == 0
    }

    /// The refusal: `message` followed by the counts, which also become error extensions.
    pub(crate) fn refusal(self, message: String, remedy: &str) -> Error {
        Error::BadInput {
            field: Some("id"),
            message: format!(
                "{message} {} and {}; {remedy}",
                plural(self.users, "active user", "active users"),
                plural(
                    self.pending_invites,
                    "pending invitation",
                    "pending invitations"
                ),
            ),
            details: vec![
                ("users", clamp(self.users)),
                ("pendingInvites", clamp(self.pending_invites)),
            ],
        }
    }
}

/// Refuses to delete a team or role that a live SCIM token still acts from or with: the
/// directory would stop working without anyone having revoked it.
pub(crate) async fn live_scim_tokens_clear<C: ConnectionTrait>(
    db: &C,
    column: crate::entity::scim_token::Column,
    id: Uuid,
) -> Result<()> {
    use crate::entity::scim_token;
    let live = scim_token::Entity::find()
        .filter(column.eq(id))
        .filter(scim_token::Column::RevokedAt.is_null())
        .count(db)
        .await?;
    if live == 0 {
        return Ok(());
    }
    Err(Error::BadInput {
        field: Some("id"),
        message: format!(
            "{} still uses it; revoke the token first (scimTokens, revokeScimToken)",
            plural(live, "live SCIM token", "live SCIM tokens")
        ),
        details: vec![("scimTokens", clamp(live))],
    })
}

/// "1 team", "2 teams".
pub(crate) fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

const MANAGE_REFUSAL: &str = "your role may not manage teams and departments (needs TEAMS_MANAGE)";

fn require_manage(actor: &Principal) -> Result<()> {
    if actor.can(Permission::TeamsManage) {
        Ok(())
    } else {
        Err(Error::forbidden(MANAGE_REFUSAL))
    }
}

/// Opens the write transaction of a change and re-reads the actor inside it.
async fn begin(db: &Db, actor: &Principal) -> Result<(DatabaseTransaction, Principal)> {
    let txn = db.begin_write().await?;
    let actor = access::recheck(&txn, actor, Permission::TeamsManage, MANAGE_REFUSAL).await?;
    Ok((txn, actor))
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

/// `Forbidden` unless the actor may put a team into `department` (or into none), or change
/// that department.
fn ensure_manages_department(
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

/// What `update_team` changes; a `None` field stays as it is.
#[derive(Clone, Debug, Default)]
pub struct TeamChanges<'a> {
    pub name: Option<&'a str>,
    /// `Some(None)` takes the team out of its department.
    pub department_id: Option<Option<&'a str>>,
}

/// A team as the audit log records it.
fn team_json(t: &team::Model) -> Json {
    json!({
        "id": TeamId(t.id).to_string(),
        "name": t.name,
        "departmentId": t.department_id.map(|d| DepartmentId(d).to_string()),
    })
}

/// A department as the audit log records it.
fn department_json(d: &department::Model) -> Json {
    json!({ "id": DepartmentId(d.id).to_string(), "name": d.name })
}

fn team_change(
    action: &'static str,
    team: &team::Model,
    before: Option<Json>,
    after: Option<Json>,
) -> Change {
    Change {
        action,
        target_type: "Team",
        target_id: team.id,
        target_label: Some(team.name.clone()),
        target_team_id: Some(team.id),
        before,
        after,
    }
}

fn department_change(
    action: &'static str,
    department: &department::Model,
    before: Option<Json>,
    after: Option<Json>,
) -> Change {
    Change {
        action,
        target_type: "Department",
        target_id: department.id,
        target_label: Some(department.name.clone()),
        target_team_id: None,
        before,
        after,
    }
}

fn team_name_taken(existing: &str) -> Error {
    Error::bad_input("name", format!("a team named `{existing}` already exists"))
}

fn department_name_taken(existing: &str) -> Error {
    Error::bad_input(
        "name",
        format!("a department named `{existing}` already exists"),
    )
}

/// Refuses `name` when another live team of the account has it, in any case. The unique
/// index is the backstop for a race that passes this check (see `name_race`).
async fn ensure_team_name_free<C: ConnectionTrait>(
    db: &C,
    account_id: Uuid,
    name: &Name,
    except: Option<Uuid>,
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

async fn ensure_department_name_free<C: ConnectionTrait>(
    db: &C,
    account_id: Uuid,
    name: &Name,
    except: Option<Uuid>,
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

/// Turns a unique violation of `index` into `taken`, so a concurrent request that slipped
/// past the pre-check gets the same answer as one that did not.
pub(crate) fn name_race(err: DbErr, index: &str, taken: impl FnOnce() -> Error) -> Error {
    if super::is_unique_violation(&err, index) {
        taken()
    } else {
        err.into()
    }
}

/// A live team of the account by its external id, locked as asked; anything else
/// (malformed, another account's, deleted) is `NOT_FOUND`.
async fn find_team<C: ConnectionTrait>(
    db: &C,
    backend: DatabaseBackend,
    account_id: Uuid,
    id: &str,
    lock: Lock,
) -> Result<team::Model> {
    let id = TeamId::parse(id).ok_or(Error::NotFound("team"))?;
    locked(
        live(account_id).filter(team::Column::Id.eq(id.0)),
        backend,
        lock,
    )
    .one(db)
    .await?
    .ok_or(Error::NotFound("team"))
}

/// A department of the account by its external id, locked as asked, or `NOT_FOUND`.
async fn find_department<C: ConnectionTrait>(
    db: &C,
    backend: DatabaseBackend,
    account_id: Uuid,
    id: &str,
    lock: Lock,
) -> Result<department::Model> {
    let id = DepartmentId::parse(id).ok_or(Error::NotFound("department"))?;
    locked(
        department::Entity::find()
            .filter(department::Column::AccountId.eq(account_id))
            .filter(department::Column::Id.eq(id.0)),
        backend,
        lock,
    )
    .one(db)
    .await?
    .ok_or(Error::NotFound("department"))
}

/// A live team of the account by id, locked on PostgreSQL against a concurrent delete until
/// the caller's transaction ends. Use it inside a write transaction before pointing a user
/// or an invitation at the team.
pub async fn lock_for_reference<C: ConnectionTrait>(
    db: &C,
    backend: DatabaseBackend,
    account_id: Uuid,
    team_id: Uuid,
) -> Result<team::Model> {
    locked(
        live(account_id).filter(team::Column::Id.eq(team_id)),
        backend,
        Lock::Share,
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
    department_id: Option<&str>,
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
            "team.created",
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
    id: &str,
    changes: TeamChanges<'_>,
) -> Result<team::Model> {
    require_manage(actor)?;
    let name = changes.name.map(|n| Name::parse("name", n)).transpose()?;
    let (txn, actor) = begin(db, actor).await?;
    let actor = &actor;
    let team = find_team(&txn, db.backend(), actor.account_id, id, Lock::Update).await?;
    ensure_manages_team(actor, &team)?;
    let mut row: team::ActiveModel = team.clone().into();
    let (mut before, mut after) = (Map::new(), Map::new());
    if let Some(name) = &name
        && name.as_str() != team.name
    {
        if name.key() != team.name_key {
            ensure_team_name_free(&txn, actor.account_id, name, Some(team.id)).await?;
        }
        before.insert("name".into(), json!(team.name));
        after.insert("name".into(), json!(name.as_str()));
        row.name = Set(name.as_str().to_owned());
        row.name_key = Set(name.key());
    }
    if let Some(department_id) = changes.department_id {
        let department = match department_id {
            Some(id) => {
                Some(find_department(&txn, db.backend(), actor.account_id, id, Lock::Share).await?)
            }
            None => None,
        };
        let department_id = department.as_ref().map(|d| d.id);
        if department_id != team.department_id {
            // The destination must be in the actor's reach too, or the move would hand the
            // team's people to someone else's reach (or out of every scoped reach).
            ensure_manages_department(actor, department.as_ref())?;
            let external = |d: Option<Uuid>| json!(d.map(|d| DepartmentId(d).to_string()));
            before.insert("departmentId".into(), external(team.department_id));
            after.insert("departmentId".into(), external(department_id));
            row.department_id = Set(department_id);
        }
    }
    if after.is_empty() {
        return Ok(team);
    }
    let op = Operation::start(actor);
    row.updated_at = Set(op.at);
    let updated = row.update(&txn).await.map_err(|e| {
        name_race(e, "teams_account_name_key", || {
            team_name_taken(name.as_ref().map(Name::as_str).unwrap_or_default())
        })
    })?;
    audit::record(
        &txn,
        &op,
        vec![team_change(
            "team.updated",
            &updated,
            Some(Json::Object(before)),
            Some(Json::Object(after)),
        )],
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

/// Deletes a team that no active user and no open invitation is in. The row stays (marked
/// deleted, out of its department) because history — deleted users, past invitations —
/// still names it; its name becomes free again.
pub async fn delete_team(db: &Db, actor: &Principal, id: &str) -> Result<TeamId> {
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
            "team.deleted",
            &team,
            Some(team_json(&team)),
            None,
        )],
    )
    .await?;
    txn.commit().await?;
    Ok(TeamId(team.id))
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
            "department.created",
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
    id: &str,
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
            "department.updated",
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
pub async fn delete_department(db: &Db, actor: &Principal, id: &str) -> Result<DepartmentId> {
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
            "department.deleted",
            &department,
            Some(department_json(&department)),
            None,
        )],
    )
    .await?;
    txn.commit().await?;
    Ok(DepartmentId(department.id))
}
