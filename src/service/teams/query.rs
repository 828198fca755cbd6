//! Reading the organization: the `teams` and `departments` lists and lookups, within the
//! actor's reach (`access::teams`, `access::departments`).

use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter, QuerySelect, Select};

use super::super::ids::{DepartmentId, TeamId};
use super::super::page::{Listing, PageArgs, Sort, SortValue};
use super::super::search::search_condition;
use super::super::{Error, Result, access};
use super::live;
use crate::auth::{Permission, Principal};
use crate::entity::{department, team};

/// Filters of the `teams` list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub search: Option<String>,
    pub department_ids: Option<Vec<DepartmentId>>,
}

/// Whether the actor may see teams at all: those who see users, and team managers.
fn may_read(actor: &Principal) -> bool {
    actor.can(Permission::UsersView) || actor.can(Permission::TeamsManage)
}

/// Teams of the account the actor sees (see `access::teams`).
fn visible(actor: &Principal) -> Select<team::Entity> {
    access::teams(actor)
}

/// One team by id, when the actor may see it.
pub async fn get<C: ConnectionTrait>(db: &C, actor: &Principal, id: TeamId) -> Result<team::Model> {
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
    id: DepartmentId,
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
    departments: &[DepartmentId],
) -> Result<Vec<team::Model>> {
    use sea_orm::QueryOrder;
    Ok(visible(actor)
        .filter(team::Column::DepartmentId.is_in(departments.to_vec()))
        .order_by_asc(team::Column::NameKey)
        .limit(10_000)
        .all(db)
        .await?)
}
