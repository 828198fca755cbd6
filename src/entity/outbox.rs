//! An email waiting to be sent, written in the transaction that caused it.

use sea_orm::entity::prelude::*;

use crate::service::ids::{AccountId, InviteId, OutboxId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: OutboxId,
    pub account_id: AccountId,
    pub invite_id: InviteId,
    pub kind: String,
    pub recipient: String,
    pub status: Status,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub locked_until: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Where an email of the outbox stands (`outbox.status`).
#[derive(DeriveActiveEnum, EnumIter, Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum Status {
    /// Waiting to be sent (or retried).
    #[sea_orm(string_value = "PENDING")]
    Pending,
    /// Accepted by the transport.
    #[sea_orm(string_value = "SENT")]
    Sent,
    /// Given up on: a permanent error, or the last attempt failed.
    #[sea_orm(string_value = "FAILED")]
    Failed,
    /// Not to be sent: the invitation was resent, withdrawn, deleted or accepted.
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
}

impl Status {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Sent => "SENT",
            Status::Failed => "FAILED",
            Status::Cancelled => "CANCELLED",
        }
    }
}
