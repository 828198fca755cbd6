//! Dataloaders: every object reached from a list (a user's role and team, a team's member
//! count…) is fetched in one query per kind per request, whatever the page size.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::entity::{department, role, team, user};
use crate::service::Db;

/// A failed batch load. No `Display`: it becomes an internal error through `service::Error`.
#[derive(Clone, Debug)]
pub struct LoadError(pub Arc<DbErr>);

impl From<DbErr> for LoadError {
    fn from(e: DbErr) -> Self {
        LoadError(Arc::new(e))
    }
}

impl From<LoadError> for async_graphql::Error {
    fn from(e: LoadError) -> Self {
        crate::service::Error::Internal(anyhow::anyhow!("batch load failed: {}", e.0)).into()
    }
}

macro_rules! by_id_loader {
    ($(#[$doc:meta])* $name:ident, $entity:ident) => {
        $(#[$doc])*
        pub struct $name(pub Db);

        impl Loader<Uuid> for $name {
            type Value = $entity::Model;
            type Error = LoadError;

            async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
                let rows = $entity::Entity::find()
                    .filter($entity::Column::Id.is_in(keys.to_vec()))
                    .all(self.0.conn())
                    .await?;
                Ok(rows.into_iter().map(|r| (r.id, r)).collect())
            }
        }
    };
}

by_id_loader!(
    /// Roles by id.
    RoleLoader, role
);
by_id_loader!(
    /// Teams by id.
    TeamLoader, team
);
by_id_loader!(
    /// Departments by id.
    DepartmentLoader, department
);
by_id_loader!(
    /// Users by id, deleted ones included (an audit event or invite still names them).
    UserLoader, user
);

macro_rules! count_loader {
    ($(#[$doc:meta])* $name:ident, $column:expr) => {
        $(#[$doc])*
        pub struct $name(pub Db);

        impl Loader<Uuid> for $name {
            type Value = i64;
            type Error = LoadError;

            async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, i64>, Self::Error> {
                let rows: Vec<(Uuid, i64)> = user::Entity::find()
                    .select_only()
                    .column($column)
                    .column_as(user::Column::Id.count(), "n")
                    .filter($column.is_in(keys.to_vec()))
                    .filter(user::Column::DeletedAt.is_null())
                    .group_by($column)
                    .into_tuple()
                    .all(self.0.conn())
                    .await?;
                Ok(rows.into_iter().collect())
            }
        }
    };
}

count_loader!(
    /// Active members per team.
    TeamMemberCountLoader, user::Column::TeamId
);
count_loader!(
    /// Active holders per role.
    RoleUserCountLoader, user::Column::RoleId
);
