//! One event queued for one webhook endpoint: its body, attempts and last result.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub account_id: Uuid,
    pub endpoint_id: Uuid,
    /// `EVENT` (queued from the event log) or `REDELIVERY` (asked for by an admin).
    pub kind: String,
    /// The event's external id, sent as `webhook-id`.
    pub event_id: String,
    pub event_position: i64,
    pub event_type: String,
    /// The JSON body sent, exactly as signed.
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub response_code: Option<i32>,
    pub latency_ms: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
