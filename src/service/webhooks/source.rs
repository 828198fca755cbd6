//! Where webhook deliveries come from: the domain event log (`service::events`), read in
//! event order per account (`seq`, which has no gaps for a reader resuming after a
//! position). This module is the one place that knows the event log's shape.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::super::ids::EventId;
use super::super::{Result, events};
use crate::entity::event;
use crate::service::ids::{AccountId, Sent};

/// The event types an endpoint may filter on.
pub const EVENT_TYPES: &[&str] = events::TYPES;

/// One event to deliver.
#[derive(Clone, Debug)]
pub struct SourceEvent {
    /// The external id, sent as `webhook-id`.
    pub id: String,
    /// Its place in the account's event order.
    pub position: i64,
    pub event_type: String,
    /// The JSON body: the event as every channel shows it (`events::to_json`).
    pub payload: String,
}

impl From<&event::Model> for SourceEvent {
    fn from(e: &event::Model) -> Self {
        SourceEvent {
            id: e.id.to_string(),
            position: e.seq,
            event_type: e.event_type.clone(),
            payload: events::to_json(e).to_string(),
        }
    }
}

/// The position of the account's latest event (0 when it has none).
pub async fn latest_position<C: ConnectionTrait>(db: &C, account_id: AccountId) -> Result<i64> {
    events::latest_position(db, account_id).await
}

/// Up to `limit` events after `after`, oldest first, of `types` (empty = all).
pub async fn after<C: ConnectionTrait>(
    db: &C,
    account_id: AccountId,
    after: i64,
    types: &[String],
    limit: u64,
) -> Result<Vec<SourceEvent>> {
    let types = (!types.is_empty()).then_some(types);
    Ok(events::after(db, account_id, after, types, limit)
        .await?
        .iter()
        .map(SourceEvent::from)
        .collect())
}

/// One event of the account by its external id.
pub async fn by_id<C: ConnectionTrait>(
    db: &C,
    account_id: AccountId,
    id: Sent<EventId>,
) -> Result<Option<SourceEvent>> {
    let Some(id) = id else {
        return Ok(None);
    };
    Ok(event::Entity::find_by_id(id)
        .filter(event::Column::AccountId.eq(account_id))
        .one(db)
        .await?
        .as_ref()
        .map(SourceEvent::from))
}

/// Up to `limit` events created in `[from, to)` (ms), oldest first, of `types` (empty = all).
pub async fn in_range<C: ConnectionTrait>(
    db: &C,
    account_id: AccountId,
    from: i64,
    to: i64,
    types: &[String],
    limit: u64,
) -> Result<Vec<SourceEvent>> {
    let mut select = event::Entity::find()
        .filter(event::Column::AccountId.eq(account_id))
        .filter(event::Column::CreatedAt.gte(from))
        .filter(event::Column::CreatedAt.lt(to));
    if !types.is_empty() {
        select = select.filter(event::Column::EventType.is_in(types.to_vec()));
    }
    Ok(select
        .order_by_asc(event::Column::Seq)
        .limit(limit)
        .all(db)
        .await?
        .iter()
        .map(SourceEvent::from)
        .collect())
}
