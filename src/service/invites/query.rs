//! Finding invitations within the actor's reach: one by id, and the `invites` list.

use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter, Select};

use super::super::dialect;
use super::super::ids::{InviteId, RoleId, TeamId};
use super::super::page::{Listing, PageArgs, Sort, SortValue};
use super::super::search::{search_condition, trigram_search_condition};
use super::super::{Error, Result, access, now_ms};
use super::Status;
use crate::auth::{Permission, Principal};
use crate::entity::invite;

/// The SQL condition equivalent to `status(invite, now) == s`.
fn status_condition(s: Status, now: i64) -> Condition {
    let open = Condition::all()
        .add(invite::Column::AcceptedAt.is_null())
        .add(invite::Column::WithdrawnAt.is_null());
    match s {
        Status::Accepted => Condition::all().add(invite::Column::AcceptedAt.is_not_null()),
        Status::Withdrawn => Condition::all()
            .add(invite::Column::AcceptedAt.is_null())
            .add(invite::Column::WithdrawnAt.is_not_null()),
        Status::Expired => open.add(invite::Column::ExpiresAt.lte(now)),
        Status::Pending => open.add(invite::Column::ExpiresAt.gt(now)),
    }
}

/// Filters of the `invites` list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub search: Option<String>,
    pub statuses: Option<Vec<Status>>,
    pub team_ids: Option<Vec<TeamId>>,
    pub role_ids: Option<Vec<RoleId>>,
}

/// What the `invites` list is ordered by.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum OrderField {
    Email,
    #[default]
    CreatedAt,
    ExpiresAt,
}

/// The order of the `invites` list.
#[derive(Copy, Clone, Debug)]
pub struct Order {
    pub field: OrderField,
    pub ascending: bool,
}

impl Default for Order {
    fn default() -> Self {
        Order {
            field: OrderField::CreatedAt,
            ascending: false,
        }
    }
}

/// Invites (not deleted) of the account in the actor's reach.
pub(crate) fn visible(actor: &Principal) -> Select<invite::Entity> {
    reachable(actor).filter(invite::Column::DeletedAt.is_null())
}

/// Invites of the account in the actor's reach, deleted ones included (so that deleting an
/// invite twice is "unchanged", not "not found").
pub(super) fn reachable(actor: &Principal) -> Select<invite::Entity> {
    access::invites(actor)
}

/// One invite by id, when the actor may see it.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    id: InviteId,
) -> Result<invite::Model> {
    if !actor.can(Permission::UsersView) {
        return Err(Error::NotFound("invite"));
    }
    visible(actor)
        .filter(invite::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or(Error::NotFound("invite"))
}

/// The `invites` list.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    filter: &Filter,
    order: Order,
    page: &PageArgs,
) -> Result<Listing<invite::Entity>> {
    if !actor.can(Permission::UsersView) {
        return Err(Error::forbidden("your role may not list invites"));
    }
    page.validate()?;
    let now = now_ms();
    let mut select = visible(actor);
    if let Some(q) = filter.search.as_deref().filter(|q| !q.is_empty()) {
        // The trigram index on invites' emails is PostgreSQL's; SQLite tests the account's
        // invitations (at most a few per cent of its users) one by one.
        select = select.filter(
            if dialect::has_invite_email_trigrams(db.get_database_backend()) {
                trigram_search_condition(invite::Column::Email, q)
            } else {
                Condition::all().add(search_condition(invite::Column::Email, q))
            },
        );
    }
    if let Some(statuses) = &filter.statuses {
        let any = statuses
            .iter()
            .fold(Condition::any(), |c, s| c.add(status_condition(*s, now)));
        select = select.filter(any);
    }
    if let Some(teams) = &filter.team_ids {
        select = select.filter(invite::Column::TeamId.is_in(teams.clone()));
    }
    if let Some(roles) = &filter.role_ids {
        select = select.filter(invite::Column::RoleId.is_in(roles.clone()));
    }
    let (tag, key) = match order.field {
        OrderField::Email => ("email", invite::Column::Email),
        OrderField::CreatedAt => ("created", invite::Column::CreatedAt),
        OrderField::ExpiresAt => ("expires", invite::Column::ExpiresAt),
    };
    let sort = Sort {
        tag,
        key,
        id: invite::Column::Id,
        ascending: order.ascending,
    };
    let field = order.field;
    Listing::fetch(db, select, &sort, page, move |i| {
        let key = match field {
            OrderField::Email => SortValue::Text(i.email.clone()),
            OrderField::CreatedAt => SortValue::Int(i.created_at),
            OrderField::ExpiresAt => SortValue::Int(i.expires_at),
        };
        (key, i.id)
    })
    .await
}
