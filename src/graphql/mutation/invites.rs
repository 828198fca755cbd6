//! Mutations on invitations: invite, resend, withdraw, delete, accept.

use std::time::Duration;

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use super::BulkItemError;
use crate::graphql::types::{Invite, User};
use crate::graphql::{Shared, actor};
use crate::service::bulk::{Outcome, Requested};
use crate::service::ids::InviteId;
use crate::service::{self, Error};

/// How long the access token `acceptInvite` returns stays valid.
const ACCEPT_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// One person to invite.
#[derive(InputObject)]
pub struct InvitationInput {
    /// Their email address; compared and stored in lower case.
    pub email: String,
    /// The team they join when they accept; must be within your reach.
    pub team_id: ID,
    /// The role they get when they accept; must not be wider or more powerful than yours.
    pub role_id: ID,
}

/// Input of `inviteUsers`.
#[derive(InputObject)]
pub struct InviteUsersInput {
    /// The people to invite, at most the configured bulk limit (1,000 by default).
    pub invitations: Vec<InvitationInput>,
    /// Run every check and report what would happen, without writing anything.
    #[graphql(default_with = "Some(false)")]
    pub dry_run: Option<bool>,
}

/// Input of `resendInvites`, `withdrawInvites` and `deleteInvites`.
#[derive(InputObject)]
pub struct InviteIdsInput {
    /// The invitations to act on, at most the configured bulk limit (1,000 by default).
    pub invite_ids: Vec<ID>,
    /// Run every check and report what would happen, without writing anything.
    #[graphql(default_with = "Some(false)")]
    pub dry_run: Option<bool>,
}

/// Input of `acceptInvite`.
#[derive(InputObject)]
pub struct AcceptInviteInput {
    /// The token from the invitation email's link (`/accept-invite?token=…`).
    pub token: String,
    /// The name the new member wants to be shown with (1–100 characters).
    pub name: String,
}

/// The result of `inviteUsers`.
#[derive(SimpleObject)]
pub struct InviteUsersPayload {
    /// The new invitations (in a dry run, the ones that would be made; their ids are not
    /// kept). Empty when the request was refused.
    pub invites: Vec<Invite>,
    /// How many invitations were (or, in a dry run, would be) made.
    pub changed_count: i32,
    /// Every refused invitation. Non-empty means nothing was written.
    pub errors: Vec<BulkItemError>,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// The id shared by the audit events this mutation wrote; null when nothing was written.
    pub operation_id: Option<ID>,
    /// Seats the account has left after this request (would have, in a dry run; has now,
    /// when refused); null when the account has no seat limit.
    pub seats_remaining: Option<i32>,
}

/// The result of `resendInvites` and `withdrawInvites`.
#[derive(SimpleObject)]
pub struct InvitesPayload {
    /// The named invitations as they are now (in a dry run: as they would be), including
    /// those that were in the requested state already. Empty when the request was refused.
    pub invites: Vec<Invite>,
    /// How many invitations were (or would be) changed; those already in the requested
    /// state are not counted.
    pub changed_count: i32,
    /// Every refused item. Non-empty means nothing was written.
    pub errors: Vec<BulkItemError>,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// The id shared by the audit events this mutation wrote; null when nothing was written.
    pub operation_id: Option<ID>,
}

/// The result of `deleteInvites`.
#[derive(SimpleObject)]
pub struct DeleteInvitesPayload {
    /// The ids of the deleted invitations (in a dry run: those that would be deleted),
    /// including those deleted already. Empty when the request was refused.
    pub deleted_ids: Vec<ID>,
    /// How many invitations were (or would be) deleted; those deleted already are not
    /// counted.
    pub changed_count: i32,
    /// Every refused item. Non-empty means nothing was written.
    pub errors: Vec<BulkItemError>,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// The id shared by the audit events this mutation wrote; null when nothing was written.
    pub operation_id: Option<ID>,
}

/// The result of `acceptInvite`.
#[derive(SimpleObject)]
pub struct AcceptInvitePayload {
    /// The new member (or the earlier member of that address, brought back).
    pub user: User,
    /// An access token for the new member, valid for one hour; null when this service
    /// cannot sign tokens (it only verifies them).
    pub token: Option<String>,
}

/// The parts every bulk payload shares.
struct Common {
    changed_count: i32,
    errors: Vec<BulkItemError>,
    dry_run: bool,
    operation_id: Option<ID>,
}

fn split<T>(outcome: Outcome<T>) -> (Vec<T>, Common) {
    let common = Common {
        changed_count: i32::try_from(outcome.changed_count).unwrap_or(i32::MAX),
        errors: outcome.errors.into_iter().map(Into::into).collect(),
        dry_run: outcome.dry_run,
        operation_id: outcome.operation_id.map(|id| ID(id.to_string())),
    };
    (outcome.items, common)
}

fn invites_payload(outcome: Outcome<crate::entity::invite::Model>) -> InvitesPayload {
    let (items, c) = split(outcome);
    InvitesPayload {
        invites: items.into_iter().map(Invite).collect(),
        changed_count: c.changed_count,
        errors: c.errors,
        dry_run: c.dry_run,
        operation_id: c.operation_id,
    }
}

/// A seat count on the wire.
fn seats(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(if n < 0 { i32::MIN } else { i32::MAX })
}

fn shared<'a>(ctx: &'a Context<'_>) -> Result<&'a Shared, Error> {
    ctx.data::<Shared>()
        .map_err(|_| Error::Internal(anyhow::anyhow!("schema built without shared state")))
}

/// The invitations of a bulk request, parsed once here; an id that is no invitation's id
/// stays as sent and is that item's `NOT_FOUND`.
fn ids(input: &InviteIdsInput) -> Vec<Requested<InviteId>> {
    Requested::parse_all(input.invite_ids.iter().map(|id| id.0.clone()))
}

/// Invitation mutations.
#[derive(Default)]
pub struct InviteMutations;

#[Object]
impl InviteMutations {
    /// Invites people by email into a team with a role (needs `USERS_INVITE`). All or
    /// nothing: when any invitation is refused, none is made and `errors` lists every
    /// refused one. An address whose earlier invitation has EXPIRED gets a new one (the old
    /// one is withdrawn). The emails are sent in the background; see `Invite.delivery`.
    async fn invite_users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invitations and whether this is a dry run.")] input: InviteUsersInput,
    ) -> Result<InviteUsersPayload> {
        let shared = shared(ctx)?;
        let items: Vec<service::invites::Invitation> = input
            .invitations
            .into_iter()
            .map(|i| service::invites::Invitation {
                email: i.email,
                team_id: Requested::parse(i.team_id.0),
                role_id: Requested::parse(i.role_id.0),
            })
            .collect();
        let outcome = service::invites::invite_users(
            &shared.db,
            actor(ctx)?,
            &items,
            input.dry_run.unwrap_or(false),
            shared.limits.max_bulk,
        )
        .await?;
        let seats_remaining = outcome.seats_remaining.map(seats);
        let (items, c) = split(outcome);
        Ok(InviteUsersPayload {
            invites: items.into_iter().map(Invite).collect(),
            changed_count: c.changed_count,
            errors: c.errors,
            dry_run: c.dry_run,
            operation_id: c.operation_id,
            seats_remaining,
        })
    }

    /// Sends PENDING or EXPIRED invitations again (needs `USERS_INVITE`): each gets a new
    /// link — the old one stops working at once — a new expiry, and a new email. Accepted
    /// and withdrawn invitations are refused with `INVALID_STATE`. All or nothing.
    async fn resend_invites(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invitations and whether this is a dry run.")] input: InviteIdsInput,
    ) -> Result<InvitesPayload> {
        let shared = shared(ctx)?;
        let outcome = service::invites::resend(
            &shared.db,
            actor(ctx)?,
            &ids(&input),
            input.dry_run.unwrap_or(false),
            shared.limits.max_bulk,
        )
        .await?;
        Ok(invites_payload(outcome))
    }

    /// Withdraws PENDING or EXPIRED invitations (needs `USERS_INVITE`): their links stop
    /// working and unsent emails are cancelled. Withdrawn ones stay as they are; accepted
    /// ones are refused with `INVALID_STATE` (delete them instead). All or nothing.
    async fn withdraw_invites(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invitations and whether this is a dry run.")] input: InviteIdsInput,
    ) -> Result<InvitesPayload> {
        let shared = shared(ctx)?;
        let outcome = service::invites::withdraw(
            &shared.db,
            actor(ctx)?,
            &ids(&input),
            input.dry_run.unwrap_or(false),
            shared.limits.max_bulk,
        )
        .await?;
        Ok(invites_payload(outcome))
    }

    /// Deletes invitations in any state (needs `USERS_INVITE`): they disappear from every
    /// list, their links stop working and unsent emails are cancelled. The audit log keeps
    /// their history. Deleting one twice is harmless. All or nothing.
    async fn delete_invites(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invitations and whether this is a dry run.")] input: InviteIdsInput,
    ) -> Result<DeleteInvitesPayload> {
        let shared = shared(ctx)?;
        let outcome = service::invites::delete(
            &shared.db,
            actor(ctx)?,
            &ids(&input),
            input.dry_run.unwrap_or(false),
            shared.limits.max_bulk,
        )
        .await?;
        let (items, c) = split(outcome);
        Ok(DeleteInvitesPayload {
            deleted_ids: items.into_iter().map(|id| ID(id.to_string())).collect(),
            changed_count: c.changed_count,
            errors: c.errors,
            dry_run: c.dry_run,
            operation_id: c.operation_id,
        })
    }

    /// Accepts an invitation with the token from its email; needs no access token. Creates
    /// the member — or brings back the earlier, deleted member of that address with the
    /// same id — in the invitation's team and role. A link works once. An unknown or
    /// replaced link is `NOT_FOUND`; an accepted, withdrawn or expired one is
    /// `BAD_USER_INPUT` with `extensions.reason` = `ALREADY_ACCEPTED`, `WITHDRAWN` or
    /// `EXPIRED` (or `ALREADY_MEMBER` when the address belongs to a member already).
    async fn accept_invite(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The token from the email and the new member's name.")]
        input: AcceptInviteInput,
    ) -> Result<AcceptInvitePayload> {
        let shared = shared(ctx)?;
        let accepted = service::invites::accept(&shared.db, &input.token, &input.name).await?;
        let token = match shared
            .jwt
            .issue(&accepted.user.id.to_string(), ACCEPT_TOKEN_TTL)
        {
            Some(Ok(token)) => Some(token),
            // The invitation is accepted and committed: failing the request now would tell
            // the person the opposite. They can still sign in the usual way.
            Some(Err(e)) => {
                tracing::error!(error = %e, "could not sign the access token after acceptInvite");
                None
            }
            None => None,
        };
        Ok(AcceptInvitePayload {
            user: User(accepted.user),
            token,
        })
    }
}
