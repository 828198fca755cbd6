//! Active users per (team, role), kept by database triggers on `users` (see the
//! `m20261201_000001_scale` migration). Read-only for the service.

use sea_orm::entity::prelude::*;

use crate::service::ids::{AccountId, RoleId, TeamId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_counts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub team_id: TeamId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub role_id: RoleId,
    pub account_id: AccountId,
    pub members: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
