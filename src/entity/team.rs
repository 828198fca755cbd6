//! A team; every user belongs to exactly one.

use sea_orm::entity::prelude::*;

use crate::service::ids::{AccountId, DepartmentId, TeamId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "teams")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: TeamId,
    pub account_id: AccountId,
    pub department_id: Option<DepartmentId>,
    pub name: String,
    pub name_key: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// Set when the team was deleted; its row stays for the history that names it.
    pub deleted_at: Option<i64>,
    /// Raised by a database trigger on every update of the row (SCIM ETags).
    pub version: i64,
    /// The directory's id of the team (SCIM Group `externalId`).
    pub external_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
