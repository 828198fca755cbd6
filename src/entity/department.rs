//! An optional grouping of teams.

use sea_orm::entity::prelude::*;

use crate::service::ids::{AccountId, DepartmentId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "departments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: DepartmentId,
    pub account_id: AccountId,
    pub name: String,
    pub name_key: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
