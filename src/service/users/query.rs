//! Finding users within the actor's reach: one user, the viewer, the `users` list (with its
//! joined roles and teams and its kept counts) and the members of teams.

use std::collections::HashSet;

use sea_orm::sea_query::{Expr, ExprTrait, IntoIden, JoinType, Query, SelectStatement};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryTrait, Select};
use uuid::Uuid;

use super::super::ids::{AccountId, DepartmentId, RoleId, TeamId, UserId};
use super::super::page::{self, KEPT_SUM, Listing, Page, PageArgs, Sort, SortValue};
use super::super::rows::{self, Positional};
use super::super::{Error, Result, access, dialect};
use super::Status;
use crate::auth::{Permission, Principal, Reach};
use crate::entity::{role, team, user, user_count};

/// Filters of the `users` list; all given filters must match.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub search: Option<String>,
    pub team_ids: Option<Vec<TeamId>>,
    pub role_ids: Option<Vec<RoleId>>,
    pub department_ids: Option<Vec<DepartmentId>>,
    /// `None` (or empty): active users only.
    pub statuses: Option<Vec<Status>>,
}

impl Filter {
    /// The statuses listed: the given ones, or only ACTIVE.
    fn statuses(&self) -> Vec<Status> {
        let mut statuses = match &self.statuses {
            Some(s) if !s.is_empty() => s.clone(),
            _ => vec![Status::Active],
        };
        statuses.sort_by_key(|s| s.as_str());
        statuses.dedup();
        statuses
    }
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

/// Teams of the given departments, as a subquery.
pub(super) fn teams_of_departments(
    account_id: AccountId,
    departments: Vec<DepartmentId>,
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
pub async fn get<C: ConnectionTrait>(db: &C, actor: &Principal, id: UserId) -> Result<user::Model> {
    if id != actor.user_id && !actor.can(Permission::UsersView) {
        return Err(Error::NotFound("user"));
    }
    let select = if id == actor.user_id {
        user::Entity::find()
            .filter(user::Column::AccountId.eq(actor.account_id))
            .filter(user::Column::DeletedAt.is_null())
    } else {
        access::users(actor)
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

/// Which related rows a page of users reads with it, joined in the page's statement.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Include {
    pub roles: bool,
    pub teams: bool,
}

/// The roles and teams of a page's users, read with the page (`Include`), each once. Only
/// rows of the users' own account: a user whose stored role or team is not in their
/// account finds none here, as the loaders find none.
#[derive(Debug, Default)]
pub struct Related {
    pub roles: Vec<role::Model>,
    pub teams: Vec<team::Model>,
}

/// The `users` list.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    filter: &Filter,
    order: Order,
    page: &PageArgs,
) -> Result<Listing<user::Entity>> {
    list_with(db, actor, filter, order, page, Include::default())
        .await
        .map(|(listing, _)| listing)
}

/// The `users` list, with the page's roles and teams read in the same statement when
/// `include` asks for them (a left join each: the page's rows and order are the same).
pub async fn list_with<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    filter: &Filter,
    order: Order,
    page: &PageArgs,
    include: Include,
) -> Result<(Listing<user::Entity>, Related)> {
    require_view(actor)?;
    page.validate()?;
    let search = filter.search.as_deref().filter(|q| !q.is_empty());
    let backend = db.get_database_backend();
    // On PostgreSQL the list's statement is planned for its account (`users_for_planning`),
    // and with its statuses and limit written in too, the plan made once is reused.
    let mut select = match dialect::plans_users_per_account(backend) {
        true => access::users_for_planning(actor),
        false => access::users(actor),
    };
    if let Some(q) = search {
        select = dialect::users_search(backend, select, q);
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
    let statuses = filter.statuses();
    let only_active = statuses == [Status::Active];
    if statuses.len() < 2 {
        select = select.filter(
            Expr::col((user::Entity, user::Column::Status))
                .is_in(statuses.iter().map(|s| Expr::Constant(s.as_str().into()))),
        );
    }
    let (listing, related) = list_sorted(db, select, order, page, include).await?;
    // Without a search every filter is a set of teams or roles, which the kept counts
    // answer exactly; a search has to count its matches, and the kept counts count active
    // users only.
    // Any other count (a search, other statuses) is counted once per count version of the
    // account (`service::counts`): repeated while nothing changed, it is not recounted.
    let listing = match (search, only_active, kept_count(actor, filter)) {
        (None, true, Some(count)) => listing.counted_by(count),
        _ => listing.counted_per_version(actor.account_id),
    };
    Ok((listing, related))
}

/// The number of users the actor sees through `filter` (its search aside), from
/// `user_counts`: a sum over at most (teams × roles) counter rows instead of a count of
/// the account's users. `None` for a reach of the actor alone, which counts one row anyway.
fn kept_count(actor: &Principal, filter: &Filter) -> Option<SelectStatement> {
    let mut query = Query::select()
        .expr_as(Expr::cust(KEPT_SUM), "n")
        .from(user_count::Entity)
        .and_where(user_count::Column::AccountId.eq(actor.account_id))
        .to_owned();
    match &actor.reach {
        Reach::All => {}
        Reach::Teams(teams) => {
            query.and_where(user_count::Column::TeamId.is_in(teams.clone()));
        }
        Reach::OnlySelf => return None,
    }
    if let Some(teams) = &filter.team_ids {
        query.and_where(user_count::Column::TeamId.is_in(teams.clone()));
    }
    if let Some(roles) = &filter.role_ids {
        query.and_where(user_count::Column::RoleId.is_in(roles.clone()));
    }
    if let Some(departments) = &filter.department_ids {
        query.and_where(
            user_count::Column::TeamId
                .in_subquery(teams_of_departments(actor.account_id, departments.clone())),
        );
    }
    Some(query)
}

/// The order of `Team.members`.
fn members_sort() -> Sort<user::Column> {
    Sort {
        tag: "members",
        key: user::Column::NameKey,
        id: user::Column::Id,
        ascending: true,
    }
}

/// Checks the arguments of `Team.members` (sizes, cursor) without running a query: a
/// batching loader can then only fail internally. Anyone may ask; the list holds only whom
/// the caller may see (`access::visible_users`).
pub fn check_members_request(page: &PageArgs) -> Result<()> {
    page::check(&members_sort(), page)
}

/// The same page of members, by name, of each of `team_ids`, in one statement. A team
/// outside the actor's reach shows only what the actor may see of it (nothing, or the
/// actor alone for a reach of oneself).
pub async fn members_of_teams<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    team_ids: &[TeamId],
    page: &PageArgs,
) -> Result<std::collections::HashMap<TeamId, Listing<user::Entity>>> {
    let sort = members_sort();
    let pages = page::fetch_each(
        db,
        // Active members only, as `Team.memberCount` counts them.
        access::visible_users(actor).filter(user::Column::Status.eq(Status::Active)),
        (user::Column::TeamId, team_ids, |u: &user::Model| u.team_id),
        &sort,
        page,
        |u| (SortValue::Text(u.name_key.clone()), u.id),
    )
    .await?;
    Ok(pages
        .into_iter()
        .map(|(team, page): (TeamId, Page<user::Model>)| {
            // The same answer as `Team.memberCount` (one rule: `access::member_count`).
            let listing = match access::member_count(actor, team) {
                access::MemberCount::All => Listing::of_team_members(page, team),
                access::MemberCount::Exactly(n) => {
                    Listing::with_total(page, u64::try_from(n).unwrap_or(0))
                }
            };
            (team, listing)
        })
        .collect())
}

async fn list_sorted<C: ConnectionTrait>(
    db: &C,
    select: Select<user::Entity>,
    order: Order,
    page: &PageArgs,
    include: Include,
) -> Result<(Listing<user::Entity>, Related)> {
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
    let key_of = move |u: &user::Model| {
        let key = match field {
            OrderField::Name => SortValue::Text(u.name_key.clone()),
            OrderField::Email => SortValue::Text(u.email.clone()),
            OrderField::CreatedAt => SortValue::Int(u.created_at),
        };
        (key, u.id)
    };
    if include == Include::default() {
        let listing = Listing::fetch(db, select, &sort, page, key_of).await?;
        return Ok((listing, Related::default()));
    }
    // The users' own columns keep their names; a role's and a team's columns, prefixed, are
    // decoded once per distinct role or team of the page (a page has a few of each).
    type Row = (user::Model, Option<role::Model>, Option<team::Model>);
    const ROLE: &str = "r_";
    const TEAM: &str = "t_";
    let joined = page::fetch_with(
        select.clone(),
        &sort,
        page,
        |row: &Row| key_of(&row.0),
        |rows| async move {
            let mut query = rows.into_query();
            if include.roles {
                query.join(
                    JoinType::LeftJoin,
                    role::Entity,
                    Expr::col((role::Entity, role::Column::Id))
                        .equals((user::Entity, user::Column::RoleId)),
                );
                super::super::db::select_prefixed::<role::Entity>(
                    &mut query,
                    role::Entity.into_iden(),
                    ROLE,
                );
            }
            if include.teams {
                query.join(
                    JoinType::LeftJoin,
                    team::Entity,
                    Expr::col((team::Entity, team::Column::Id))
                        .equals((user::Entity, user::Column::TeamId)),
                );
                super::super::db::select_prefixed::<team::Entity>(
                    &mut query,
                    team::Entity.into_iden(),
                    TEAM,
                );
            }
            let rows = db
                .query_all_raw(dialect::with_constant_limit(
                    db.get_database_backend().build(&query),
                ))
                .await?;
            // Each model's columns are found once, from the first row's names; every row is
            // then read by position (`service::rows`).
            let (user_at, role_at, team_at) = match rows.first().map(rows::names) {
                None => (0, None, None),
                Some(names) => (
                    rows::block::<user::Model>(&names, "")?,
                    include
                        .roles
                        .then(|| rows::block::<role::Model>(&names, ROLE))
                        .transpose()?,
                    include
                        .teams
                        .then(|| rows::block::<team::Model>(&names, TEAM))
                        .transpose()?,
                ),
            };
            let (mut roles, mut teams) = (HashSet::new(), HashSet::new());
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let user = user::Model::decode_at(row, user_at)?;
                let once = |at: usize, seen: &mut HashSet<Uuid>| {
                    row.try_get_by_index::<Option<Uuid>>(at)
                        .map(|id| id.is_some_and(|id| seen.insert(id)))
                };
                let role = match role_at {
                    Some(at) if once(at, &mut roles)? => Some(role::Model::decode_at(row, at)?),
                    _ => None,
                };
                let team = match team_at {
                    Some(at) if once(at, &mut teams)? => Some(team::Model::decode_at(row, at)?),
                    _ => None,
                };
                out.push((user, role, team));
            }
            Ok(out)
        },
    )
    .await?;
    let mut related = Related::default();
    let (mut roles, mut teams) = (HashSet::new(), HashSet::new());
    let page = joined.map(|(user, role, team)| {
        if let Some(role) = role.filter(|r| r.account_id == user.account_id)
            && roles.insert(role.id)
        {
            related.roles.push(role);
        }
        if let Some(team) = team.filter(|t| t.account_id == user.account_id)
            && teams.insert(team.id)
        {
            related.teams.push(team);
        }
        user
    });
    Ok((Listing::of_select(page, select), related))
}
