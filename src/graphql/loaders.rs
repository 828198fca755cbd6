//! Dataloaders: every object reached from a list (a user's role and team, a team's member
//! count…) is fetched in one query per kind per request, whatever the page size.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::auth::Principal;
use crate::entity::{department, role, team, user, user_count};
use crate::service::ids::{AccountId, DepartmentId, RoleId, TeamId, UserId};
use crate::service::page::KEPT_SUM;
use crate::service::page::{Listing, PageArgs};
use crate::service::{self, Db, dialect};
use async_graphql::dataloader::Loader;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

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

/// A row asked for by id within one account: the by-id and count loaders never answer with
/// a row of another account, whatever id a stored reference holds. The account is the one of
/// the row that refers to it (a user's for `User.role`), which is the caller's for every row
/// the caller may see.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct InAccount<I> {
    pub account_id: AccountId,
    pub id: I,
}

impl<I> InAccount<I> {
    pub fn new(account_id: AccountId, id: I) -> Self {
        InAccount { account_id, id }
    }
}

/// Roles and teams a resolver of `Query` already read — a page of users joined with theirs,
/// the caller's own from signing in — which `User.role` and `User.team` take from here
/// instead of loading them again. Only `Query` resolvers fill it: a query changes nothing,
/// so a row kept here is as current as a loader's read in the same request (a mutation's
/// payload always loads).
#[derive(Default)]
pub struct Prefetched {
    roles: Mutex<HashMap<InAccount<RoleId>, role::Model>>,
    teams: Mutex<HashMap<InAccount<TeamId>, team::Model>>,
}

impl Prefetched {
    /// Keeps `roles` and `teams` for the rest of the request.
    pub fn keep(
        &self,
        roles: impl IntoIterator<Item = role::Model>,
        teams: impl IntoIterator<Item = team::Model>,
    ) {
        if let Ok(mut kept) = self.roles.lock() {
            kept.extend(
                roles
                    .into_iter()
                    .map(|r| (InAccount::new(r.account_id, r.id), r)),
            );
        }
        if let Ok(mut kept) = self.teams.lock() {
            kept.extend(
                teams
                    .into_iter()
                    .map(|t| (InAccount::new(t.account_id, t.id), t)),
            );
        }
    }

    /// The role `key` names, when it was read already.
    pub fn role(&self, key: InAccount<RoleId>) -> Option<role::Model> {
        self.roles.lock().ok()?.get(&key).cloned()
    }

    /// The team `key` names, when it was read already.
    pub fn team(&self, key: InAccount<TeamId>) -> Option<team::Model> {
        self.teams.lock().ok()?.get(&key).cloned()
    }
}

/// The ids of `keys`, per account (one statement per account: one in practice).
fn by_account<I: Copy>(keys: &[InAccount<I>]) -> HashMap<AccountId, Vec<I>> {
    let mut grouped: HashMap<AccountId, Vec<I>> = HashMap::new();
    for key in keys {
        grouped.entry(key.account_id).or_default().push(key.id);
    }
    grouped
}

/// `column` is one of `ids`, in one prepared statement for any number of ids on PostgreSQL
/// (`dialect::one_of`).
fn one_of<C: ColumnTrait, I: Into<uuid::Uuid>>(
    db: &Db,
    column: C,
    ids: Vec<I>,
) -> sea_orm::sea_query::SimpleExpr {
    dialect::one_of(db.backend(), column, ids)
}

macro_rules! by_id_loader {
    ($(#[$doc:meta])* $name:ident, $entity:ident, $id:ident) => {
        $(#[$doc])*
        pub struct $name(pub Db);

        impl Loader<InAccount<$id>> for $name {
            type Value = $entity::Model;
            type Error = LoadError;

            async fn load(
                &self,
                keys: &[InAccount<$id>],
            ) -> Result<HashMap<InAccount<$id>, Self::Value>, Self::Error> {
                let mut loaded = HashMap::with_capacity(keys.len());
                for (account_id, ids) in by_account(keys) {
                    let rows = $entity::Entity::find()
                        .filter($entity::Column::AccountId.eq(account_id))
                        .filter(one_of(&self.0, $entity::Column::Id, ids))
                        .all(self.0.conn())
                        .await?;
                    loaded.extend(rows.into_iter().map(|r| (InAccount::new(account_id, r.id), r)));
                }
                Ok(loaded)
            }
        }
    };
}

by_id_loader!(
    /// Roles by id.
    RoleLoader, role, RoleId
);
by_id_loader!(
    /// Teams by id.
    TeamLoader, team, TeamId
);
by_id_loader!(
    /// Departments by id.
    DepartmentLoader, department, DepartmentId
);
by_id_loader!(
    /// Users by id, deleted ones included (an audit event or invite still names them). The
    /// resolver decides with `access::sees_user` whether the caller may see the one loaded.
    UserLoader, user, UserId
);

/// Active members per team, from the counts the database keeps (`user_counts`). Resolvers
/// ask only for teams whose members the caller sees (`access::member_count`).
pub struct TeamMemberCountLoader(pub Db);

impl Loader<InAccount<TeamId>> for TeamMemberCountLoader {
    type Value = i64;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[InAccount<TeamId>],
    ) -> Result<HashMap<InAccount<TeamId>, i64>, Self::Error> {
        let mut loaded = HashMap::with_capacity(keys.len());
        for (account_id, teams) in by_account(keys) {
            let rows: Vec<(TeamId, i64)> = user_count::Entity::find()
                .select_only()
                .column(user_count::Column::TeamId)
                .column_as(Expr::cust(KEPT_SUM), "n")
                .filter(user_count::Column::AccountId.eq(account_id))
                .filter(one_of(&self.0, user_count::Column::TeamId, teams))
                .group_by(user_count::Column::TeamId)
                .into_tuple()
                .all(self.0.conn())
                .await?;
            loaded.extend(
                rows.into_iter()
                    .map(|(team, n)| (InAccount::new(account_id, team), n)),
            );
        }
        Ok(loaded)
    }
}

/// Which holders of a role a `Role.userCount` counts: those in `teams` (`None`: all), as
/// `access::holder_count` decides for the caller.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HoldersKey {
    pub account_id: AccountId,
    pub role_id: RoleId,
    pub teams: Teams,
}

/// The teams a `HoldersKey` counts in, shared by all the keys of one request.
type Teams = Option<Arc<Vec<TeamId>>>;

/// Active holders per role within the caller's reach, from the counts the database keeps
/// (`user_counts`): one statement per distinct reach (one per request).
pub struct RoleUserCountLoader(pub Db);

impl Loader<HoldersKey> for RoleUserCountLoader {
    type Value = i64;
    type Error = LoadError;

    async fn load(&self, keys: &[HoldersKey]) -> Result<HashMap<HoldersKey, i64>, Self::Error> {
        let mut grouped: HashMap<(AccountId, Teams), Vec<RoleId>> = HashMap::new();
        for key in keys {
            grouped
                .entry((key.account_id, key.teams.clone()))
                .or_default()
                .push(key.role_id);
        }
        let mut loaded = HashMap::with_capacity(keys.len());
        for ((account_id, teams), roles) in grouped {
            let mut select = user_count::Entity::find()
                .select_only()
                .column(user_count::Column::RoleId)
                .column_as(Expr::cust(KEPT_SUM), "n")
                .filter(user_count::Column::AccountId.eq(account_id))
                .filter(one_of(&self.0, user_count::Column::RoleId, roles));
            if let Some(teams) = &teams {
                select = select.filter(one_of(&self.0, user_count::Column::TeamId, teams.to_vec()));
            }
            let rows: Vec<(RoleId, i64)> = select
                .group_by(user_count::Column::RoleId)
                .into_tuple()
                .all(self.0.conn())
                .await?;
            loaded.extend(rows.into_iter().map(|(role_id, n)| {
                let key = HoldersKey {
                    account_id,
                    role_id,
                    teams: teams.clone(),
                };
                (key, n)
            }));
        }
        Ok(loaded)
    }
}

/// Which page of members a `Team.members` field asks for; teams asking for the same page
/// are loaded together.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MembersKey {
    pub team_id: TeamId,
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
        let mut by_args: HashMap<(Option<i32>, Option<String>), Vec<TeamId>> = HashMap::new();
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

impl Loader<DepartmentId> for DepartmentTeamsLoader {
    type Value = Vec<team::Model>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[DepartmentId],
    ) -> Result<HashMap<DepartmentId, Self::Value>, Self::Error> {
        let actor = self.actor.as_ref().ok_or(service::Error::Unauthenticated)?;
        let teams = service::teams::teams_of_departments(self.db.conn(), actor, keys).await?;
        let mut by_department: HashMap<DepartmentId, Vec<team::Model>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for team in teams {
            if let Some(department) = team.department_id {
                by_department.entry(department).or_default().push(team);
            }
        }
        Ok(by_department)
    }
}
