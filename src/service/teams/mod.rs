//! Teams and departments: the shape of an organization, who may see which part of it, and
//! changing it (create, rename, move, delete). One file per use case (docs/ARCHITECTURE.md,
//! "Where a rule lives"):
//!
//! - `query`: the `teams` and `departments` lists and lookups, within the actor's reach;
//! - `team_changes`: creating, renaming, moving and deleting teams;
//! - `department_changes`: creating, renaming and deleting departments;
//! - `in_the_way`: what stands in the way of deleting a team or a role.
//!
//! This file holds what they (and other aggregates) share: the account's live teams, the
//! `TEAMS_MANAGE` transaction, name races and the reference lock.

mod department_changes;
mod in_the_way;
mod query;
mod team_changes;

use super::db::WriteTxn;
use super::dialect::{Lock, locked};
use super::ids::{AccountId, TeamId};
use super::{Db, Error, Result, access};
use crate::auth::{Permission, Principal};
use crate::entity::team;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, QueryFilter, Select,
};

pub use department_changes::{
    create_department, delete_department, insert_department, update_department,
};
pub(crate) use in_the_way::{InTheWay, live_scim_tokens_clear};
pub use query::{Filter, get, get_department, list, list_departments, teams_of_departments};
pub(crate) use team_changes::update_team_in;
pub use team_changes::{TeamChanges, create_team, delete_team, insert_team, update_team};

/// The account's teams that are not deleted.
fn live(account_id: AccountId) -> Select<team::Entity> {
    team::Entity::find()
        .filter(team::Column::AccountId.eq(account_id))
        .filter(team::Column::DeletedAt.is_null())
}

// ---------------------------------------------------------------------------------------
// Changing the organization: teams and departments (`TEAMS_MANAGE`).
//
// `TEAMS_MANAGE` acts within the holder's structure reach (`access::manages_team`,
// `access::manages_department`): moving a team moves its people into or out of someone's
// reach, so a scoped holder may not pull teams in from outside or push them out. Every
// change runs in one write transaction together with its audit event, after the actor is
// re-read inside it (`access::recheck`).
// ---------------------------------------------------------------------------------------

const MANAGE_REFUSAL: &str = "your role may not manage teams and departments (needs TEAMS_MANAGE)";

fn require_manage(actor: &Principal) -> Result<()> {
    if actor.can(Permission::TeamsManage) {
        Ok(())
    } else {
        Err(Error::forbidden(MANAGE_REFUSAL))
    }
}

/// Opens the write transaction of a change and re-reads the actor inside it.
async fn begin(db: &Db, actor: &Principal) -> Result<(WriteTxn, Principal)> {
    let txn = db.begin_write().await?;
    let actor = access::recheck(&txn, actor, Permission::TeamsManage, MANAGE_REFUSAL).await?;
    Ok((txn, actor))
}

/// Turns a unique violation of `index` into `taken`, so a concurrent request that slipped
/// past the pre-check gets the same answer as one that did not.
pub(crate) fn name_race(err: DbErr, index: &str, taken: impl FnOnce() -> Error) -> Error {
    if super::is_unique_violation(&err, index) {
        taken()
    } else {
        err.into()
    }
}

/// A live team of the account by id, locked on PostgreSQL against a concurrent delete until
/// the caller's transaction ends. Use it inside a write transaction before pointing a user
/// or an invitation at the team.
pub async fn lock_for_reference<C: ConnectionTrait>(
    db: &C,
    backend: DatabaseBackend,
    account_id: AccountId,
    team_id: TeamId,
) -> Result<team::Model> {
    locked(
        live(account_id).filter(team::Column::Id.eq(team_id)),
        backend,
        Lock::Share,
    )
    .one(db)
    .await?
    .ok_or(Error::NotFound("team"))
}
