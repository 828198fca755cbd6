//! Users, one file per use case (as `invites/` and `teams/`):
//!
//! - `query`: finding them within the actor's reach (one user, the viewer, the `users` list,
//!   members of teams);
//! - `changes`: the bulk changes an administrator makes to them (role, team, delete,
//!   suspend, reactivate): the checks, who changes, and the audit records;
//! - `write`: the set-based write of a bulk change.

mod changes;
mod query;
mod write;

pub use crate::entity::user::Status;
pub(crate) use changes::{Request, apply_in};
pub use changes::{change_role, change_team, delete, reactivate_users, suspend_users};
pub use query::{
    Filter, Include, Order, OrderField, Related, check_members_request, get, list, list_with,
    members_of_teams, viewer,
};

/// Ids per `IN (…)` list: a whole default-sized bulk change (1,000 users) in one statement,
/// well under SQLite's and PostgreSQL's bound-parameter limits.
const CHUNK: usize = 1_000;
