//! A tenant. Every other row carries its id.

use sea_orm::entity::prelude::*;

use crate::service::ids::AccountId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: AccountId,
    pub name: String,
    pub allowed_email_domains: String,
    pub invite_expiry_days: i32,
    pub created_at: i64,
    pub updated_at: i64,
    /// Most seats (active users + pending invites); `None` = unlimited.
    pub seat_limit: Option<i32>,
    /// What SCIM `DELETE` does: `DELETE` (soft delete, the default) or `SUSPEND`.
    pub scim_deprovision: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
