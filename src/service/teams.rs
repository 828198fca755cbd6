//! Teams and departments: the shape of an organization, and who may see which part of it.

use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Select,
};
use uuid::Uuid;

use super::page::{Listing, PageArgs, Sort, SortValue};
use super::text::Name;
use super::users::search_condition;
use super::{Error, Result};
use crate::auth::{Permission, Principal, Reach};
use crate::entity::{department, team};

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

/// Teams of the account the actor reaches. Team managers see every team.
pub(crate) fn visible(actor: &Principal) -> Select<team::Entity> {
    let select = team::Entity::find().filter(team::Column::AccountId.eq(actor.account_id));
    if actor.can(Permission::TeamsManage) {
        return select;
    }
    match &actor.reach {
        Reach::All => select,
        Reach::Teams(teams) => select.filter(team::Column::Id.is_in(teams.clone())),
        Reach::OnlySelf => select.filter(team::Column::Id.eq(actor.team_id)),
    }
}

/// Inserts a team row, unchecked (for seeding: `accounts::create`, the demo, tests).
pub async fn insert_team<C: ConnectionTrait>(
    db: &C,
    account_id: Uuid,
    name: &Name,
    department_id: Option<Uuid>,
    now: i64,
) -> Result<team::Model> {
    Ok(team::Entity::insert(team::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(account_id),
        department_id: Set(department_id),
        name: Set(name.as_str().to_owned()),
        name_key: Set(name.key()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_with_returning(db)
    .await?)
}

/// Inserts a department row, unchecked (for seeding).
pub async fn insert_department<C: ConnectionTrait>(
    db: &C,
    account_id: Uuid,
    name: &Name,
    now: i64,
) -> Result<department::Model> {
    Ok(department::Entity::insert(department::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(account_id),
        name: Set(name.as_str().to_owned()),
        name_key: Set(name.key()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_with_returning(db)
    .await?)
}

/// One team by id, when the actor may see it.
pub async fn get<C: ConnectionTrait>(db: &C, actor: &Principal, id: Uuid) -> Result<team::Model> {
    if !may_read(actor) && id != actor.team_id {
        return Err(Error::NotFound("team"));
    }
    let select = if id == actor.team_id {
        team::Entity::find().filter(team::Column::AccountId.eq(actor.account_id))
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

/// Departments the actor may see: all for organization-wide roles and team managers,
/// otherwise the departments of the teams they reach.
pub(crate) fn visible_departments(actor: &Principal) -> Select<department::Entity> {
    let select =
        department::Entity::find().filter(department::Column::AccountId.eq(actor.account_id));
    if actor.can(Permission::TeamsManage) || actor.reach == Reach::All {
        return select;
    }
    let teams = match &actor.reach {
        Reach::Teams(teams) => teams.clone(),
        _ => vec![actor.team_id],
    };
    select.filter(
        department::Column::Id.in_subquery(
            sea_orm::sea_query::Query::select()
                .column(team::Column::DepartmentId)
                .from(team::Entity)
                .and_where(sea_orm::sea_query::Expr::col(team::Column::Id).is_in(teams))
                .to_owned(),
        ),
    )
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
