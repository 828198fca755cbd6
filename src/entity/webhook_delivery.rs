//! One event queued for one webhook endpoint: its body, attempts and last result.

use sea_orm::entity::prelude::*;

use crate::service::ids::{AccountId, WebhookDeliveryId, WebhookEndpointId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: WebhookDeliveryId,
    pub account_id: AccountId,
    pub endpoint_id: WebhookEndpointId,
    /// `EVENT` (queued from the event log) or `REDELIVERY` (asked for by an admin).
    pub kind: Kind,
    /// The event's external id, sent as `webhook-id`.
    pub event_id: String,
    pub event_position: i64,
    pub event_type: String,
    /// The JSON body sent, exactly as signed.
    pub payload: String,
    pub status: Status,
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

/// Where one queued webhook event stands (`webhook_deliveries.status`).
#[derive(DeriveActiveEnum, EnumIter, Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum Status {
    /// Queued, or waiting for its next attempt.
    #[sea_orm(string_value = "PENDING")]
    Pending,
    /// The endpoint answered 2xx.
    #[sea_orm(string_value = "DELIVERED")]
    Delivered,
    /// Every attempt failed; given up.
    #[sea_orm(string_value = "FAILED")]
    Failed,
}

impl Status {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Delivered => "DELIVERED",
            Status::Failed => "FAILED",
        }
    }
}

/// Why a webhook event was queued (`webhook_deliveries.kind`).
#[derive(DeriveActiveEnum, EnumIter, Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum Kind {
    /// Queued from the event log.
    #[sea_orm(string_value = "EVENT")]
    Event,
    /// Asked for with `redeliverWebhookEvents`.
    #[sea_orm(string_value = "REDELIVERY")]
    Redelivery,
}

impl Kind {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Event => "EVENT",
            Kind::Redelivery => "REDELIVERY",
        }
    }
}
