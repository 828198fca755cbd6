//! An invitation; its status is derived from its timestamps (`service::invites::status`).

use sea_orm::entity::prelude::*;

use crate::service::ids::{AccountId, InviteId, RoleId, TeamId, UserId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invites")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: InviteId,
    pub account_id: AccountId,
    pub email: String,
    pub team_id: TeamId,
    pub role_id: RoleId,
    pub invited_by: Option<UserId>,
    pub token_hash: Option<Vec<u8>>,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_sent_at: Option<i64>,
    pub send_count: i32,
    pub accepted_at: Option<i64>,
    pub accepted_user_id: Option<UserId>,
    pub withdrawn_at: Option<i64>,
    pub deleted_at: Option<i64>,
    pub delivery: Delivery,
    pub delivery_error: Option<String>,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Where the invitation email stands (`invites.delivery`), as the mail worker records it.
#[derive(DeriveActiveEnum, EnumIter, Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum Delivery {
    /// Waiting to be sent or retried.
    #[sea_orm(string_value = "QUEUED")]
    Queued,
    /// Handed to the mail server.
    #[sea_orm(string_value = "SENT")]
    Sent,
    /// Given up on.
    #[sea_orm(string_value = "FAILED")]
    Failed,
}

impl Delivery {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Queued => "QUEUED",
            Delivery::Sent => "SENT",
            Delivery::Failed => "FAILED",
        }
    }
}
