//! An append-only record of one change to one object.

use sea_orm::entity::prelude::*;

use crate::service::ids::{AccountId, AuditEventId, OperationId, ScimTokenId, TeamId, UserId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: AuditEventId,
    pub account_id: AccountId,
    pub operation_id: OperationId,
    pub actor_id: Option<UserId>,
    pub action: String,
    pub target_type: String,
    /// Stays a bare UUID: the target is a user, invitation, team, department, role, account,
    /// SCIM token or webhook endpoint, as `target_type` says (`ids::external_id`).
    pub target_id: Uuid,
    pub target_label: Option<String>,
    pub target_team_id: Option<TeamId>,
    pub before_json: Option<String>,
    pub after_json: Option<String>,
    pub created_at: i64,
    /// The SCIM token that made the change (then `actor_id` is `None`).
    pub actor_token_id: Option<ScimTokenId>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
