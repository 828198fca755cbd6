//! A directory's (SCIM) bearer token: only the SHA-256 of the secret is stored.

use sea_orm::entity::prelude::*;

use crate::service::ids::{AccountId, RoleId, ScimTokenId, TeamId, UserId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: ScimTokenId,
    pub account_id: AccountId,
    pub description: String,
    pub token_hash: Vec<u8>,
    /// The role whose scope and permissions bound what the directory may do.
    pub role_id: RoleId,
    /// The team a DEPARTMENT- or TEAM-scoped role's reach is computed from.
    pub anchor_team_id: Option<TeamId>,
    pub created_by: Option<UserId>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
