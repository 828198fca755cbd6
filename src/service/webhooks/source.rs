//! Where webhook deliveries come from: the domain event log (`service::events`), read in
//! event order per account. This module is the one place that knows the event log's shape.

use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::super::Result;

/// The event types an endpoint may filter on (DESIGN.md "Additions").
pub const EVENT_TYPES: &[&str] = &[
    "user.invited",
    "invite.resent",
    "invite.withdrawn",
    "invite.deleted",
    "invite.accepted",
    "invite.delivery_failed",
    "user.role_changed",
    "user.team_changed",
    "user.deleted",
    "user.restored",
    "user.suspended",
    "user.reactivated",
    "team.created",
    "team.updated",
    "team.deleted",
    "department.created",
    "department.updated",
    "department.deleted",
    "role.created",
    "role.updated",
    "role.deleted",
    "account.updated",
];

/// One event to deliver.
#[derive(Clone, Debug)]
pub struct SourceEvent {
    /// The external id, sent as `webhook-id`.
    pub id: String,
    /// Its place in the account's event order.
    pub position: i64,
    pub event_type: String,
    /// The JSON body, as the API shows the event.
    pub payload: String,
}

/// The position of the account's latest event (0 when it has none).
pub async fn latest_position<C: ConnectionTrait>(_db: &C, _account_id: Uuid) -> Result<i64> {
    Ok(0)
}

/// Up to `limit` events after `after`, oldest first, of `types` (empty = all).
pub async fn after<C: ConnectionTrait>(
    _db: &C,
    _account_id: Uuid,
    _after: i64,
    _types: &[String],
    _limit: u64,
) -> Result<Vec<SourceEvent>> {
    Ok(Vec::new())
}

/// One event of the account by its external id.
pub async fn by_id<C: ConnectionTrait>(
    _db: &C,
    _account_id: Uuid,
    _id: &str,
) -> Result<Option<SourceEvent>> {
    Ok(None)
}

/// Up to `limit` events created in `[from, to)` (ms), oldest first, of `types` (empty = all).
pub async fn in_range<C: ConnectionTrait>(
    _db: &C,
    _account_id: Uuid,
    _from: i64,
    _to: i64,
    _types: &[String],
    _limit: u64,
) -> Result<Vec<SourceEvent>> {
    Ok(Vec::new())
}
