//! A webhook endpoint of an account: where its events are sent, and the worker's state for it.

use sea_orm::entity::prelude::*;

use crate::service::ids::{AccountId, WebhookEndpointId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: WebhookEndpointId,
    pub account_id: AccountId,
    pub url: String,
    pub description: String,
    /// JSON list of event types; empty = every type.
    pub event_types: String,
    /// The signing secret, sealed (see `service::webhooks::secrets`).
    pub secret_sealed: String,
    /// The secret before the last rotation, still signed with until `previous_secret_until`.
    pub previous_secret_sealed: Option<String>,
    pub previous_secret_until: Option<i64>,
    pub disabled_at: Option<i64>,
    pub disabled_reason: Option<String>,
    /// Position of the last event queued for this endpoint.
    pub cursor: i64,
    /// Since when every delivery attempt has failed (null while it succeeds).
    pub failing_since: Option<i64>,
    /// Events in a row given up on after their last attempt.
    pub failed_events: i32,
    /// Not looked at by the worker before this time (backoff of its oldest delivery).
    pub next_attempt_at: i64,
    pub locked_until: Option<i64>,
    /// The worker's claim on the endpoint: a random token, not a row's id, so a bare UUID.
    pub lease: Option<Uuid>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
