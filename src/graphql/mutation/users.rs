//! Mutations on users: change role, change team, delete — in bulk, all-or-nothing. The
//! rules live in `service::users`; these resolvers only translate.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use super::BulkItemError;
use crate::entity::user;
use crate::graphql::types::User;
use crate::graphql::{Shared, actor, db};
use crate::service::bulk::{Outcome, Requested};
use crate::service::ids::{RoleId, TeamId, UserId};
use crate::service::{self, Error};

/// Input of `changeUsersRole`.
#[derive(InputObject)]
pub struct ChangeUsersRoleInput {
    /// The users to change (at most the configured bulk limit, 1,000 by default).
    pub user_ids: Vec<ID>,
    /// The role they get. You can grant only roles not wider or more powerful than yours.
    pub role_id: ID,
    /// Run every check and return what would happen, without writing anything.
    #[graphql(default_with = "Some(false)")]
    pub dry_run: Option<bool>,
}

/// Input of `changeUsersTeam`.
#[derive(InputObject)]
pub struct ChangeUsersTeamInput {
    /// The users to move (at most the configured bulk limit, 1,000 by default).
    pub user_ids: Vec<ID>,
    /// The team they move to; it must be within your reach.
    pub team_id: ID,
    /// Run every check and return what would happen, without writing anything.
    #[graphql(default_with = "Some(false)")]
    pub dry_run: Option<bool>,
}

/// Input of `deleteUsers`.
#[derive(InputObject)]
pub struct DeleteUsersInput {
    /// The users to delete (at most the configured bulk limit, 1,000 by default).
    pub user_ids: Vec<ID>,
    /// Run every check and return what would happen, without writing anything.
    #[graphql(default_with = "Some(false)")]
    pub dry_run: Option<bool>,
}

/// Input of `suspendUsers`.
#[derive(InputObject)]
pub struct SuspendUsersInput {
    /// The users to suspend (at most the configured bulk limit, 1,000 by default).
    pub user_ids: Vec<ID>,
    /// Run every check and return what would happen, without writing anything.
    #[graphql(default_with = "Some(false)")]
    pub dry_run: Option<bool>,
}

/// Input of `reactivateUsers`.
#[derive(InputObject)]
pub struct ReactivateUsersInput {
    /// The suspended users to reactivate (at most the configured bulk limit).
    pub user_ids: Vec<ID>,
    /// Run every check (seats included) and return what would happen, without writing.
    #[graphql(default_with = "Some(false)")]
    pub dry_run: Option<bool>,
}

/// Result of `changeUsersRole`, `changeUsersTeam`, `suspendUsers` and `reactivateUsers`.
#[derive(SimpleObject)]
pub struct ChangeUsersPayload {
    /// The selected users as they are after the change (or would be, in a dry run), in
    /// input order, unchanged ones included; empty when the request was refused.
    pub users: Vec<User>,
    /// How many users were (or would be) changed; users already in the requested state
    /// are not counted.
    pub changed_count: i32,
    /// Every refused item. Non-empty means nothing was written.
    pub errors: Vec<BulkItemError>,
    /// Whether this was a dry run (nothing written).
    pub dry_run: bool,
    /// The id of this change in the audit log (`auditEvents(filter: {operationId})`); null
    /// when nothing was written.
    pub operation_id: Option<ID>,
    /// For `reactivateUsers`: the seats the account has left after the request (would have,
    /// in a dry run; has now, when refused). Null when the account has no seat limit and
    /// for the mutations that take no seats.
    pub seats_remaining: Option<i32>,
}

/// Result of `deleteUsers`.
#[derive(SimpleObject)]
pub struct DeleteUsersPayload {
    /// Ids of the users deleted (or that would be, in a dry run); empty when the request
    /// was refused.
    pub deleted_ids: Vec<ID>,
    /// How many users were (or would be) deleted.
    pub changed_count: i32,
    /// Every refused item. Non-empty means nothing was written.
    pub errors: Vec<BulkItemError>,
    /// Whether this was a dry run (nothing written).
    pub dry_run: bool,
    /// The id of this change in the audit log (`auditEvents(filter: {operationId})`); null
    /// when nothing was written.
    pub operation_id: Option<ID>,
}

/// User mutations.
#[derive(Default)]
pub struct UserMutations;

#[Object]
impl UserMutations {
    /// Gives every listed user the same role (needs `USERS_CHANGE_ROLE`). All-or-nothing:
    /// if any user is refused (`NOT_FOUND`, `DUPLICATE`, `ROLE_NOT_GRANTABLE`, `FORBIDDEN`,
    /// `LAST_ADMIN`), nothing changes and `errors` lists every refused user. Users who hold
    /// the role already count as unchanged, so repeating a request is safe.
    async fn change_users_role(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The users and the role they get.")] input: ChangeUsersRoleInput,
    ) -> Result<ChangeUsersPayload> {
        let outcome = service::users::change_role(
            db(ctx)?,
            actor(ctx)?,
            &ids(input.user_ids),
            RoleId::parse(input.role_id.as_str()),
            input.dry_run.unwrap_or(false),
            max_bulk(ctx)?,
        )
        .await?;
        Ok(change_payload(outcome))
    }

    /// Moves every listed user to the same team (needs `USERS_REASSIGN`). All-or-nothing:
    /// if any user is refused (`NOT_FOUND`, `DUPLICATE`, `FORBIDDEN`), nothing changes and
    /// `errors` lists every refused user. Users in the team already count as unchanged.
    async fn change_users_team(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The users and the team they move to.")] input: ChangeUsersTeamInput,
    ) -> Result<ChangeUsersPayload> {
        let outcome = service::users::change_team(
            db(ctx)?,
            actor(ctx)?,
            &ids(input.user_ids),
            TeamId::parse(input.team_id.as_str()),
            input.dry_run.unwrap_or(false),
            max_bulk(ctx)?,
        )
        .await?;
        Ok(change_payload(outcome))
    }

    /// Deletes the listed users (needs `USERS_DELETE`): they disappear from every list and
    /// their sessions end at once; the audit log keeps naming them, and accepting a new
    /// invitation to the same email restores them. All-or-nothing: if any user is refused
    /// (`NOT_FOUND`, `DUPLICATE`, `FORBIDDEN` — including yourself —, `LAST_ADMIN`),
    /// nothing is deleted and `errors` lists every refused user.
    async fn delete_users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The users to delete.")] input: DeleteUsersInput,
    ) -> Result<DeleteUsersPayload> {
        let outcome = service::users::delete(
            db(ctx)?,
            actor(ctx)?,
            &ids(input.user_ids),
            input.dry_run.unwrap_or(false),
            max_bulk(ctx)?,
        )
        .await?;
        Ok(DeleteUsersPayload {
            deleted_ids: outcome.items.iter().map(|u| ID(u.id.to_string())).collect(),
            changed_count: count(outcome.changed_count),
            errors: outcome.errors.into_iter().map(Into::into).collect(),
            dry_run: outcome.dry_run,
            operation_id: outcome.operation_id.map(|op| ID(op.to_string())),
        })
    }
}

#[Object]
impl LifecycleMutations {
    /// Suspends the listed users (needs `USERS_SUSPEND`): their sessions end at once, they
    /// leave the default lists and counts and hold no seat, and they keep team, role and
    /// history. All-or-nothing: if any user is refused (`NOT_FOUND`, `DUPLICATE`,
    /// `FORBIDDEN` — including yourself and users whose role outranks yours —,
    /// `LAST_ADMIN`), nothing changes and `errors` lists every refused user. Users already
    /// suspended count as unchanged.
    async fn suspend_users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The users to suspend.")] input: SuspendUsersInput,
    ) -> Result<ChangeUsersPayload> {
        let outcome = service::users::suspend_users(
            db(ctx)?,
            actor(ctx)?,
            &ids(input.user_ids),
            input.dry_run.unwrap_or(false),
            max_bulk(ctx)?,
        )
        .await?;
        Ok(change_payload(outcome))
    }

    /// Reactivates the listed suspended users as they were (needs `USERS_SUSPEND`); they
    /// sign in again (tokens from before the suspension stay refused). Each takes a seat.
    /// All-or-nothing: if any user is refused (`NOT_FOUND`, `DUPLICATE`, `FORBIDDEN`,
    /// `SEAT_LIMIT` on the users past the free seats), nothing changes. Active users count
    /// as unchanged.
    async fn reactivate_users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The users to reactivate.")] input: ReactivateUsersInput,
    ) -> Result<ChangeUsersPayload> {
        let outcome = service::users::reactivate_users(
            db(ctx)?,
            actor(ctx)?,
            &ids(input.user_ids),
            input.dry_run.unwrap_or(false),
            max_bulk(ctx)?,
        )
        .await?;
        Ok(change_payload(outcome))
    }
}

/// Suspend and reactivate (user lifecycle).
#[derive(Default)]
pub struct LifecycleMutations;

/// The users of a bulk request, parsed once here; an id that is no user's id stays as sent
/// and is that item's `NOT_FOUND`.
fn ids(ids: Vec<ID>) -> Vec<Requested<UserId>> {
    Requested::parse_all(ids.into_iter().map(|id| id.0))
}

fn max_bulk(ctx: &Context<'_>) -> Result<usize, Error> {
    ctx.data::<Shared>()
        .map(|s| s.limits.max_bulk)
        .map_err(|_| Error::Internal(anyhow::anyhow!("schema built without shared state")))
}

/// Counts are bounded by the bulk limit; saturate rather than wrap if that were ever huge.
fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn change_payload(outcome: Outcome<user::Model>) -> ChangeUsersPayload {
    ChangeUsersPayload {
        users: outcome.items.into_iter().map(User).collect(),
        changed_count: count(outcome.changed_count),
        errors: outcome.errors.into_iter().map(Into::into).collect(),
        dry_run: outcome.dry_run,
        operation_id: outcome.operation_id.map(|op| ID(op.to_string())),
        seats_remaining: outcome
            .seats_remaining
            .map(|n| i32::try_from(n).unwrap_or(if n < 0 { i32::MIN } else { i32::MAX })),
    }
}
