//! Everything a directory asks to change on one user in one request (a SCIM PUT or PATCH),
//! in one transaction, through the rule code of the GraphQL mutations.

use super::super::audit::Operation;
use super::super::bulk::Requested;
use super::super::ids::{RoleId, TeamId, UserId};
use super::super::users::{self, Request};
use super::super::{Db, Error, access};
use super::profile::{ProfileChanges, update_profile_in};
use super::{ProvisionError, Ref, Result, find_role, find_team, no_team};
use crate::auth::{Permission, Principal};
use crate::entity::user;

/// Everything a directory asks to change on one user in one request (a SCIM PUT or
/// PATCH); `None` leaves a part as it is.
#[derive(Clone, Debug, Default)]
pub struct UserChanges<'a> {
    pub profile: ProfileChanges<'a>,
    pub team: Option<Ref<'a, TeamId>>,
    pub role: Option<Ref<'a, RoleId>>,
    /// `Some(true)` reactivates a suspended user, `Some(false)` suspends an active one.
    pub active: Option<bool>,
}

impl UserChanges<'_> {
    /// The profile fields asked for, as the directory names them (for error messages).
    fn profile_fields(&self) -> String {
        let p = &self.profile;
        [
            p.email.map(|_| "email"),
            p.name.map(|_| "name"),
            p.external_id.map(|_| "externalId"),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
    }

    /// The permissions the changes need, the first one taken for the recheck.
    fn permissions(&self) -> Vec<(&'static str, Permission)> {
        let p = &self.profile;
        let mut needed = Vec::new();
        if self.active.is_some() {
            needed.push(("active", Permission::UsersSuspend));
        }
        if p.email.is_some() || p.name.is_some() || p.external_id.is_some() {
            needed.push(("profile", Permission::UsersInvite));
        }
        if self.team.is_some() {
            needed.push(("team", Permission::UsersReassign));
        }
        if self.role.is_some() {
            needed.push(("role", Permission::UsersChangeRole));
        }
        needed
    }
}

/// Applies all of `changes` to one user in ONE write transaction — reactivation first,
/// then the profile, the team, the role, and suspension last — through the same rule code
/// as the GraphQL mutations (`users::apply_in`: permission, reach, no escalation, last
/// Admin, seats on reactivation; `update_profile_in`), audited as one operation with the
/// actor. If any part is refused nothing changes, and the error names the part
/// (`ProvisionError::At`).
pub async fn update_user(
    db: &Db,
    actor: &Principal,
    user_id: UserId,
    changes: UserChanges<'_>,
) -> Result<()> {
    let needed = changes.permissions();
    let Some((_, first)) = needed.first().copied() else {
        return Ok(());
    };
    let refusal = "your role may not make this change to users";
    let txn = db.begin_write().await?;
    let actor = &access::recheck(&txn, actor, first, refusal).await?;
    let op = Operation::start(actor);
    let ids = [Requested::known(user_id)];
    let at = |part: &str, e: ProvisionError| ProvisionError::At(part.to_owned(), Box::new(e));
    let bulk = |part: &'static str, outcome: super::super::bulk::Outcome<user::Model>| {
        if outcome.errors.is_empty() {
            Ok(())
        } else {
            Err(at(part, ProvisionError::Refused(outcome.errors)))
        }
    };
    if changes.active == Some(true) {
        let outcome = users::apply_in(&txn, actor, &op, &ids, Request::Reactivate, false)
            .await
            .map_err(|e| at("active", e.into()))?;
        bulk("active", outcome)?;
    }
    let fields = changes.profile_fields();
    if !fields.is_empty() {
        update_profile_in(&txn, actor, &op, user_id, changes.profile.clone())
            .await
            .map_err(|e| match e {
                // Already names its field.
                ProvisionError::Invalid(..) | ProvisionError::Uniqueness(_) => e,
                other => at(&fields, other),
            })?;
    }
    if let Some(wanted) = changes.team {
        let team = find_team(&txn, actor, wanted)
            .await?
            .ok_or_else(|| no_team(wanted))?;
        let outcome = users::apply_in(&txn, actor, &op, &ids, Request::Team(Some(team)), false)
            .await
            .map_err(|e| match e {
                Error::NotFound(_) => {
                    ProvisionError::Invalid("team", "no such team within your reach".into())
                }
                other => at("team", other.into()),
            })?;
        bulk("team", outcome)?;
    }
    if let Some(wanted) = changes.role {
        let role = find_role(&txn, actor.account_id, wanted)
            .await?
            .ok_or_else(|| ProvisionError::Invalid("role", "no such role".into()))?;
        let outcome = users::apply_in(&txn, actor, &op, &ids, Request::Role(Some(role.id)), false)
            .await
            .map_err(|e| match e {
                Error::NotFound(_) => ProvisionError::Invalid("role", "no such role".into()),
                other => at("role", other.into()),
            })?;
        bulk("role", outcome)?;
    }
    if changes.active == Some(false) {
        let outcome = users::apply_in(&txn, actor, &op, &ids, Request::Suspend, false)
            .await
            .map_err(|e| at("active", e.into()))?;
        bulk("active", outcome)?;
    }
    txn.commit().await?;
    Ok(())
}
