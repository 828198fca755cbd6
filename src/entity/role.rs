//! A role: a scope and a set of permissions (a bit set, see `auth::Permission`).

use sea_orm::entity::prelude::*;

use crate::service::ids::{AccountId, RoleId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "roles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: RoleId,
    pub account_id: AccountId,
    /// Set on the built-in roles only.
    pub key: Option<crate::auth::BuiltInRole>,
    pub name: String,
    pub name_key: String,
    pub scope: crate::auth::RoleScope,
    pub permissions: i64,
    pub built_in: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// Set when the role was deleted; its row stays for the history that names it.
    pub deleted_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
