//! A person of an account; deleted users keep their row (`deleted_at`).

use sea_orm::entity::prelude::*;

use crate::service::ids::{AccountId, RoleId, TeamId, UserId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: UserId,
    pub account_id: AccountId,
    pub email: String,
    pub name: String,
    pub name_key: String,
    pub search_text: String,
    pub team_id: TeamId,
    pub role_id: RoleId,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    /// Tokens issued before this time (ms) are refused (set when a deleted user is restored).
    pub tokens_valid_after: Option<i64>,
    /// A suspended user cannot sign in and is not counted in `user_counts`.
    pub status: Status,
    /// The directory's id for the user (SCIM `externalId`), unique per account among
    /// non-deleted users when set.
    pub external_id: Option<String>,
    /// Raised by a database trigger on every update of the row (SCIM ETags).
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::role::Entity",
        from = "Column::RoleId",
        to = "super::role::Column::Id"
    )]
    Role,
    #[sea_orm(
        belongs_to = "super::team::Entity",
        from = "Column::TeamId",
        to = "super::team::Column::Id"
    )]
    Team,
}

impl Related<super::role::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Role.def()
    }
}

impl Related<super::team::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Team.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// Where a (not deleted) user stands (`users.status`): the one vocabulary the user rules,
/// the principal loader and the SCIM layer share. Deleted stays `deleted_at`.
#[derive(DeriveActiveEnum, EnumIter, Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum Status {
    /// Signs in and holds a seat.
    #[sea_orm(string_value = "ACTIVE")]
    Active,
    /// Keeps team, role and history, but cannot sign in and holds no seat.
    #[sea_orm(string_value = "SUSPENDED")]
    Suspended,
}

impl Status {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "ACTIVE",
            Status::Suspended => "SUSPENDED",
        }
    }
}
