//! One domain event: a change to one object, numbered in commit order per account
//! (`seq`), read by the event feed, subscriptions and webhooks.

use sea_orm::entity::prelude::*;

use crate::service::ids::{AccountId, EventId, OperationId, TeamId, UserId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: EventId,
    pub account_id: AccountId,
    /// 1, 2, 3, … per account, in commit order.
    pub seq: i64,
    /// For example `user.role_changed`.
    pub event_type: String,
    pub operation_id: Option<OperationId>,
    pub actor_id: Option<UserId>,
    pub target_type: String,
    /// Stays a bare UUID: the target may be of any kind `target_type` names.
    pub target_id: Uuid,
    /// The team the target is in (after the change): the event's reach.
    pub target_team_id: Option<TeamId>,
    /// The payload: `{"before": …, "after": …, "targetLabel": …}`.
    pub data_json: String,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
