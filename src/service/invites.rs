//! Invitations: their lifecycle (invite, resend, withdraw, delete, accept) and finding them
//! within the actor's reach.

use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Select};
use uuid::Uuid;

use super::page::{Listing, PageArgs, Sort, SortValue};
use super::users::search_condition;
use super::{Error, Result, now_ms};
use crate::auth::{Permission, Principal, Reach};
use crate::entity::invite;

/// Where an invitation stands. EXPIRED is never stored: it is a pending invite read after
/// its `expires_at`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Pending,
    Accepted,
    Expired,
    Withdrawn,
}

/// The status of an invite at time `now` (ms). The one place status is derived.
pub fn status(invite: &invite::Model, now: i64) -> Status {
    if invite.accepted_at.is_some() {
        Status::Accepted
    } else if invite.withdrawn_at.is_some() {
        Status::Withdrawn
    } else if invite.expires_at <= now {
        Status::Expired
    } else {
        Status::Pending
    }
}

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
    pub team_ids: Option<Vec<Uuid>>,
    pub role_ids: Option<Vec<Uuid>>,
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
    let select = invite::Entity::find()
        .filter(invite::Column::AccountId.eq(actor.account_id))
        .filter(invite::Column::DeletedAt.is_null());
    match &actor.reach {
        Reach::All => select,
        Reach::Teams(teams) => select.filter(invite::Column::TeamId.is_in(teams.clone())),
        Reach::OnlySelf => select.filter(invite::Column::Id.is_null()),
    }
}

/// One invite by id, when the actor may see it.
pub async fn get<C: ConnectionTrait>(db: &C, actor: &Principal, id: Uuid) -> Result<invite::Model> {
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
        select = select.filter(search_condition(invite::Column::Email, q));
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
