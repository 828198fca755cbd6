//! Dataloaders: every object reached from a list (a user's role and team, a team's member
//! count…) is fetched in one query per kind per request, whatever the page size.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::auth::Principal;
use crate::entity::{department, role, team, user, user_count};
use crate::service::page::KEPT_SUM;
use crate::service::page::{Listing, PageArgs};
use crate::service::{self, Db};

/// A failed batch load. No `Display`: it becomes an internal error through `service::Error`.
/// Loaders only fail for internal reasons: resolvers check their arguments before loading.
#[derive(Clone, Debug)]
pub struct LoadError(pub Arc<anyhow::Error>);

impl From<DbErr> for LoadError {
    fn from(e: DbErr) -> Self {
        LoadError(Arc::new(e.into()))
    }
}

impl From<service::Error> for LoadError {
    fn from(e: service::Error) -> Self {
        LoadError(Arc::new(anyhow::anyhow!(e.describe())))
    }
}

impl From<LoadError> for async_graphql::Error {
    fn from(e: LoadError) -> Self {
        service::Error::Internal(anyhow::anyhow!("batch load failed: {:#}", e.0)).into()
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
                let rows: Vec<(Uuid, i64)> = user_count::Entity::find()
                    .select_only()
                    .column($column)
                    .column_as(Expr::cust(KEPT_SUM), "n")
                    .filter($column.is_in(keys.to_vec()))
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
    /// Active members per team, from the counts the database keeps (`user_counts`).
    TeamMemberCountLoader, user_count::Column::TeamId
);
count_loader!(
    /// Active holders per role, from the counts the database keeps (`user_counts`).
    RoleUserCountLoader, user_count::Column::RoleId
);

/// Which page of members a `Team.members` field asks for; teams asking for the same page
/// are loaded together.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MembersKey {
    pub team_id: Uuid,
    pub first: Option<i32>,
    pub after: Option<String>,
}

/// Pages of team members as the caller sees them: one statement per distinct page
/// arguments, however many teams a request lists.
pub struct TeamMembersLoader {
    pub db: Db,
    pub actor: Option<Principal>,
}

impl Loader<MembersKey> for TeamMembersLoader {
    type Value = Arc<Listing<user::Entity>>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[MembersKey],
    ) -> Result<HashMap<MembersKey, Self::Value>, Self::Error> {
        let actor = self.actor.as_ref().ok_or(service::Error::Unauthenticated)?;
        let mut by_args: HashMap<(Option<i32>, Option<String>), Vec<Uuid>> = HashMap::new();
        for key in keys {
            by_args
                .entry((key.first, key.after.clone()))
                .or_default()
                .push(key.team_id);
        }
        let mut loaded = HashMap::new();
        for ((first, after), teams) in by_args {
            let args = PageArgs {
                first,
                after: after.clone(),
                ..Default::default()
            };
            let pages =
                service::users::members_of_teams(self.db.conn(), actor, &teams, &args).await?;
            for (team_id, listing) in pages {
                let key = MembersKey {
                    team_id,
                    first,
                    after: after.clone(),
                };
                loaded.insert(key, Arc::new(listing));
            }
        }
        Ok(loaded)
    }
}

/// The teams of departments that the caller may see, by name: one statement for all the
/// departments of a request.
pub struct DepartmentTeamsLoader {
    pub db: Db,
    pub actor: Option<Principal>,
}

impl Loader<Uuid> for DepartmentTeamsLoader {
    type Value = Vec<team::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let actor = self.actor.as_ref().ok_or(service::Error::Unauthenticated)?;
        let teams = service::teams::teams_of_departments(self.db.conn(), actor, keys).await?;
        let mut by_department: HashMap<Uuid, Vec<team::Model>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for team in teams {
            if let Some(department) = team.department_id {
                by_department.entry(department).or_default().push(team);
            }
        }
        Ok(by_department)
    }
}
