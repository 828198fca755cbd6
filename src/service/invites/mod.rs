//! Invitations: their lifecycle (invite, resend, withdraw, delete, accept) and finding them
//! within the actor's reach. One file per use case (docs/ARCHITECTURE.md, "Where a rule
//! lives"):
//!
//! - `query`: the `invites` list and one invite by id, within the actor's reach;
//! - `create`: `inviteUsers`;
//! - `lifecycle`: `resendInvites`, `withdrawInvites`, `deleteInvites`;
//! - `accept`: `acceptInvite`;
//! - `token`: what the holder of a link may see before accepting (the accept page).
//!
//! This file holds what they share: the derived status, the audit snapshots, the outbox
//! rows and the row locks.
//!
//! The accept token exists only in the email: the outbox worker (`service::outbox`) makes it
//! when it sends, and the database keeps only its SHA-256 (`invites.token_hash`). Resending
//! clears the hash at once, so the old link dies even before the new email goes out.

mod accept;
mod create;
mod lifecycle;
mod query;
mod token;

use super::audit::{AuditAction, Change};
use super::dialect;
use super::ids::{InviteId, OutboxId};
use super::{Error, Result};
use crate::auth::{PermissionSet, Principal};
use crate::entity::{account, invite, outbox, role, user};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Select,
};
use serde_json::{Value as Json, json};

pub use accept::{AcceptError, AcceptRefusal, Accepted, accept};
pub use create::{Invitation, invite_users};
pub use lifecycle::{delete, resend, withdraw};
pub use query::{Filter, Order, OrderField, get, list};
pub use token::{Preview, preview_by_token};

/// Where an invitation stands. EXPIRED is never stored: it is a pending invite read after
/// its `expires_at`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Pending,
    Accepted,
    Expired,
    Withdrawn,
}

impl Status {
    /// The name clients see (`InviteStatus`), also used in audit snapshots.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Accepted => "ACCEPTED",
            Status::Expired => "EXPIRED",
            Status::Withdrawn => "WITHDRAWN",
        }
    }
}

/// The status of an invite at time `now` (ms). The one place status is derived.
pub fn status(invite: &invite::Model, now: i64) -> Status {
    if invite.accepted_at.is_some() {
        Status::Accepted
    } else if invite.withdrawn_at.is_some() {
        Status::Withdrawn
    } else if invite.expires_at <= now {
        Status::Expired
    } else {
        Status::Pending
    }
}

// ---------------------------------------------------------------------------------------
// What the use cases share.

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;
/// Ids or emails per `IN (…)` list: well under both databases' bound-parameter limits.
const READ_CHUNK: usize = 500;
/// Rows per multi-row insert (an invite row binds 18 values).
const WRITE_CHUNK: usize = 200;

/// The outbox `kind` of invitation emails.
pub const OUTBOX_KIND: &str = "invite";

pub use super::invite_mail::{new_token, token_hash};

/// When an invitation made or resent at `now` stops working.
fn expiry(account: &account::Model, now: i64) -> i64 {
    now + i64::from(account.invite_expiry_days) * DAY_MS
}

/// Not accepted, withdrawn or deleted: the rows `invites_account_email_open` covers.
fn open_condition() -> Condition {
    Condition::all()
        .add(invite::Column::AcceptedAt.is_null())
        .add(invite::Column::WithdrawnAt.is_null())
        .add(invite::Column::DeletedAt.is_null())
}

const INVITE_REFUSAL: &str = "your role may not manage invitations";

fn check_size(n: usize, max: usize) -> Result<()> {
    if n > max {
        Err(Error::LimitExceeded(format!(
            "a bulk request may carry at most {max} items (this one has {n})"
        )))
    } else {
        Ok(())
    }
}

/// Adds `FOR UPDATE` on PostgreSQL when `lock` is set, taking the invite rows in id order so
/// two requests locking overlapping sets cannot deadlock. SQLite has no row locks (and needs
/// none: `begin_write` serializes its writers).
fn locked<C: ConnectionTrait>(
    select: Select<invite::Entity>,
    db: &C,
    lock: bool,
) -> Select<invite::Entity> {
    if lock {
        dialect::locked_in_order(select, db.get_database_backend(), invite::Column::Id)
    } else {
        select
    }
}

/// `select` restricted to `column IN keys`, in chunks.
async fn find_in<C, E, V>(
    db: &C,
    select: Select<E>,
    column: E::Column,
    keys: &[V],
) -> Result<Vec<E::Model>, DbErr>
where
    C: ConnectionTrait,
    E: EntityTrait,
    V: Into<sea_orm::Value> + Clone,
{
    let mut rows = Vec::new();
    for chunk in keys.chunks(READ_CHUNK) {
        rows.extend(
            select
                .clone()
                .filter(column.is_in(chunk.iter().cloned()))
                .all(db)
                .await?,
        );
    }
    Ok(rows)
}

fn iso(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// An invitation as the audit log records it.
fn snapshot(i: &invite::Model, now: i64) -> Json {
    json!({
        "email": i.email,
        "teamId": i.team_id.to_string(),
        "roleId": i.role_id.to_string(),
        "status": status(i, now).as_str(),
        "expiresAt": iso(i.expires_at),
        "sendCount": i.send_count,
        "delivery": i.delivery.as_str(),
        "deleted": i.deleted_at.is_some(),
    })
}

/// A user as the audit log records it.
fn user_snapshot(u: &user::Model) -> Json {
    json!({
        "email": u.email,
        "name": u.name,
        "teamId": u.team_id.to_string(),
        "roleId": u.role_id.to_string(),
        "deleted": u.deleted_at.is_some(),
    })
}

fn invite_change(
    action: AuditAction,
    i: &invite::Model,
    before: Option<Json>,
    after: Option<Json>,
) -> Change {
    Change {
        action,
        target_type: "Invite",
        target_id: i.id.into(),
        target_label: Some(i.email.clone()),
        target_team_id: Some(i.team_id),
        before,
        after,
    }
}

/// A queued invitation email. It carries no secret: the worker makes the token when it sends.
fn outbox_row(i: &invite::Model, now: i64) -> outbox::ActiveModel {
    outbox::ActiveModel {
        id: Set(OutboxId::new()),
        account_id: Set(i.account_id),
        invite_id: Set(i.id),
        kind: Set(OUTBOX_KIND.to_owned()),
        recipient: Set(i.email.clone()),
        status: Set(outbox::Status::Pending),
        attempts: Set(0),
        next_attempt_at: Set(now),
        locked_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
    }
}

async fn queue_emails<C: ConnectionTrait>(
    db: &C,
    invites: &[&invite::Model],
    now: i64,
) -> Result<()> {
    for chunk in invites.chunks(WRITE_CHUNK) {
        outbox::Entity::insert_many(chunk.iter().map(|i| outbox_row(i, now)))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Cancels the not-yet-sent emails of these invites (a resend queues a fresh one).
async fn cancel_emails<C: ConnectionTrait>(db: &C, invite_ids: &[InviteId]) -> Result<()> {
    for chunk in invite_ids.chunks(READ_CHUNK) {
        outbox::Entity::update_many()
            .col_expr(
                outbox::Column::Status,
                Expr::value(outbox::Status::Cancelled),
            )
            .filter(outbox::Column::InviteId.is_in(chunk.to_vec()))
            .filter(outbox::Column::Status.eq(outbox::Status::Pending))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Whether the actor may grant `role` (and so act on invitations carrying it).
fn grantable(actor: &Principal, role: &role::Model) -> Result<bool> {
    Ok(actor.can_grant(role.scope, PermissionSet::from_bits(role.permissions)))
}
