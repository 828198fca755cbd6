//! Users: finding them within the actor's reach, and the bulk changes an administrator makes
//! to them (role, team, delete).

use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Select};
use uuid::Uuid;

use super::page::{Listing, PageArgs, Sort, SortValue};
use super::{Error, Result, text};
use crate::auth::{Permission, Principal, Reach};
use crate::entity::{team, user};

/// Filters of the `users` list; all given filters must match.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub search: Option<String>,
    pub team_ids: Option<Vec<Uuid>>,
    pub role_ids: Option<Vec<Uuid>>,
    pub department_ids: Option<Vec<Uuid>>,
}

/// What the `users` list is ordered by.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum OrderField {
    #[default]
    Name,
    Email,
    CreatedAt,
}

/// The order of the `users` list.
#[derive(Copy, Clone, Debug, Default)]
pub struct Order {
    pub field: OrderField,
    pub ascending: bool,
}

/// Active users of the account that the actor may see.
pub(crate) fn visible(actor: &Principal) -> Select<user::Entity> {
    let select = user::Entity::find()
        .filter(user::Column::AccountId.eq(actor.account_id))
        .filter(user::Column::DeletedAt.is_null());
    match &actor.reach {
        Reach::All => select,
        Reach::Teams(teams) => select.filter(user::Column::TeamId.is_in(teams.clone())),
        Reach::OnlySelf => select.filter(user::Column::Id.eq(actor.user_id)),
    }
}

/// The `search` condition shared by users and invites: a case-insensitive substring of the
/// stored search text (see `text`).
pub(crate) fn search_condition<C: ColumnTrait>(
    column: C,
    query: &str,
) -> sea_orm::sea_query::SimpleExpr {
    Expr::col(column)
        .like(sea_orm::sea_query::LikeExpr::new(text::like_pattern(query)).escape('\\'))
}

/// Teams of the given departments, as a subquery.
pub(crate) fn teams_of_departments(
    account_id: Uuid,
    departments: Vec<Uuid>,
) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(team::Column::Id)
        .from(team::Entity)
        .and_where(Expr::col(team::Column::AccountId).eq(account_id))
        .and_where(Expr::col(team::Column::DepartmentId).is_in(departments))
        .to_owned()
}

fn require_view(actor: &Principal) -> Result<()> {
    if actor.can(Permission::UsersView) {
        Ok(())
    } else {
        Err(Error::forbidden("your role may not list users"))
    }
}

/// One user by id, when the actor may see them (themselves always).
pub async fn get<C: ConnectionTrait>(db: &C, actor: &Principal, id: Uuid) -> Result<user::Model> {
    if id != actor.user_id && !actor.can(Permission::UsersView) {
        return Err(Error::NotFound("user"));
    }
    let select = if id == actor.user_id {
        user::Entity::find()
            .filter(user::Column::AccountId.eq(actor.account_id))
            .filter(user::Column::DeletedAt.is_null())
    } else {
        visible(actor)
    };
    select
        .filter(user::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or(Error::NotFound("user"))
}

/// The actor themselves.
pub async fn viewer<C: ConnectionTrait>(db: &C, actor: &Principal) -> Result<user::Model> {
    get(db, actor, actor.user_id).await
}

/// The `users` list.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    filter: &Filter,
    order: Order,
    page: &PageArgs,
) -> Result<Listing<user::Entity>> {
    require_view(actor)?;
    page.validate()?;
    let mut select = visible(actor);
    if let Some(q) = filter.search.as_deref().filter(|q| !q.is_empty()) {
        select = select.filter(search_condition(user::Column::SearchText, q));
    }
    if let Some(teams) = &filter.team_ids {
        select = select.filter(user::Column::TeamId.is_in(teams.clone()));
    }
    if let Some(roles) = &filter.role_ids {
        select = select.filter(user::Column::RoleId.is_in(roles.clone()));
    }
    if let Some(departments) = &filter.department_ids {
        select = select.filter(
            user::Column::TeamId
                .in_subquery(teams_of_departments(actor.account_id, departments.clone())),
        );
    }
    list_sorted(db, select, order, page).await
}

/// Members of one team, ordered by name (the actor must be able to see the team).
pub async fn members<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    team_id: Uuid,
    page: &PageArgs,
) -> Result<Listing<user::Entity>> {
    require_view(actor)?;
    let select = visible(actor).filter(user::Column::TeamId.eq(team_id));
    list_sorted(
        db,
        select,
        Order {
            field: OrderField::Name,
            ascending: true,
        },
        page,
    )
    .await
}

async fn list_sorted<C: ConnectionTrait>(
    db: &C,
    select: Select<user::Entity>,
    order: Order,
    page: &PageArgs,
) -> Result<Listing<user::Entity>> {
    let (tag, key) = match order.field {
        OrderField::Name => ("name", user::Column::NameKey),
        OrderField::Email => ("email", user::Column::Email),
        OrderField::CreatedAt => ("created", user::Column::CreatedAt),
    };
    let sort = Sort {
        tag,
        key,
        id: user::Column::Id,
        ascending: order.ascending,
    };
    let field = order.field;
    Listing::fetch(db, select, &sort, page, move |u| {
        let key = match field {
            OrderField::Name => SortValue::Text(u.name_key.clone()),
            OrderField::Email => SortValue::Text(u.email.clone()),
            OrderField::CreatedAt => SortValue::Int(u.created_at),
        };
        (key, u.id)
    })
    .await
}
