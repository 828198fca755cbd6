//! The mail outbox worker: delivers the emails that mutations queued in `outbox`, with
//! retries and backoff, and records the result on the invitation.
//!
//! Several server processes may run the worker against one PostgreSQL database. Each due
//! row is claimed with a conditional update that sets a lease (`locked_until`); only the
//! process whose update changed the row sends it, so while a process lives, no message goes
//! out twice. A process that dies mid-send leaves its lease to expire, and the row is sent
//! again later (at-least-once, the best any mail outbox can promise).
//!
//! The accept token is made here, at send time: the worker stores its hash on the invite
//! (only if the invitation is still open and this row is still its latest email) and puts
//! the token into the email, which is then its only copy.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::dialect::{self, Lock};
use super::invite_mail;
use super::{Db, Result, events, now_ms};
use crate::entity::invite::Delivery;
use crate::entity::outbox::Status;
use crate::entity::{account, invite, outbox, role, team, user};
use crate::mail::template::{self, InviteEmail};
use crate::mail::{MailError, MailTransport};
use crate::service::ids::{InviteId, OutboxId};

/// Longest `last_error` / `delivery_error` kept.
const MAX_ERROR_CHARS: usize = 1000;

/// How the worker runs.
#[derive(Clone, Debug)]
pub struct OutboxSettings {
    /// Base of the accept link (`ROSTER_PUBLIC_URL`).
    pub public_url: String,
    /// How often the worker looks for due emails.
    pub poll_interval: Duration,
    /// Attempts per email before it is marked FAILED.
    pub max_attempts: u32,
    /// Wait before the first retry; doubled for each further one.
    pub base_backoff: Duration,
    /// Longest wait between retries.
    pub max_backoff: Duration,
    /// How long a claimed email stays reserved for the process that claimed it. Longer than
    /// any send may take (the SMTP transport gives up after 10 s).
    pub lease: Duration,
    /// Most emails claimed in one pass.
    pub batch_size: u64,
}

impl OutboxSettings {
    /// Defaults: poll every 500 ms, 5 attempts, retries after 30 s, 1 min, 2 min, 4 min.
    pub fn new(public_url: impl Into<String>) -> Self {
        OutboxSettings {
            public_url: public_url.into(),
            poll_interval: Duration::from_millis(500),
            max_attempts: 5,
            base_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(3600),
            lease: Duration::from_secs(60),
            batch_size: 50,
        }
    }

    /// The wait after the `attempts`-th failed attempt: base × 2^(attempts − 1), capped.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1u32 << Ord::min(attempts.saturating_sub(1), 20);
        Ord::min(self.base_backoff.saturating_mul(factor), self.max_backoff)
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn clip(message: &str) -> String {
    message.chars().take(MAX_ERROR_CHARS).collect()
}

/// Runs the worker until `shutdown` completes. An email being sent when it does is finished
/// (and its result recorded) first; nothing new is started.
pub async fn run(
    db: Db,
    transport: Arc<dyn MailTransport>,
    settings: OutboxSettings,
    shutdown: impl Future<Output = ()>,
) {
    tracing::info!(transport = %transport.describe(), "outbox worker started");
    let stop = AtomicBool::new(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        {
            let pass = deliver_pass(&db, transport.as_ref(), &settings, &stop);
            let mut pass = std::pin::pin!(pass);
            loop {
                tokio::select! {
                    result = &mut pass => {
                        if let Err(e) = result {
                            tracing::warn!(error = %e.describe(), "outbox pass failed; retrying on the next poll");
                        }
                        break;
                    }
                    _ = &mut shutdown, if !stop.load(Ordering::Relaxed) => {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            }
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(settings.poll_interval) => {}
            _ = &mut shutdown => break,
        }
    }
    tracing::info!("outbox worker stopped");
}

/// One pass over the due emails: claims and sends each. Returns how many were sent.
pub async fn deliver_due(
    db: &Db,
    transport: &dyn MailTransport,
    settings: &OutboxSettings,
) -> Result<usize> {
    deliver_pass(db, transport, settings, &AtomicBool::new(false)).await
}

/// Rows that are due and not leased by a live claim.
fn due_condition(now: i64) -> Condition {
    Condition::all()
        .add(outbox::Column::Status.eq(Status::Pending))
        .add(outbox::Column::NextAttemptAt.lte(now))
        .add(
            Condition::any()
                .add(outbox::Column::LockedUntil.is_null())
                .add(outbox::Column::LockedUntil.lt(now)),
        )
}

async fn deliver_pass(
    db: &Db,
    transport: &dyn MailTransport,
    settings: &OutboxSettings,
    stop: &AtomicBool,
) -> Result<usize> {
    let due: Vec<OutboxId> = outbox::Entity::find()
        .select_only()
        .column(outbox::Column::Id)
        .filter(due_condition(now_ms()))
        .order_by_asc(outbox::Column::NextAttemptAt)
        .order_by_asc(outbox::Column::Id)
        .limit(settings.batch_size)
        .into_tuple()
        .all(db.conn())
        .await?;
    let mut sent = 0;
    for id in due {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let now = now_ms();
        let lease_until = now.saturating_add(millis(settings.lease));
        // The claim: whichever process changes the row owns it until the lease ends.
        let claimed = outbox::Entity::update_many()
            .col_expr(outbox::Column::LockedUntil, Expr::value(lease_until))
            .filter(outbox::Column::Id.eq(id))
            .filter(due_condition(now))
            .exec(db.conn())
            .await?
            .rows_affected
            == 1;
        if !claimed {
            continue;
        }
        match deliver_one(db, transport, settings, id, lease_until).await {
            Ok(true) => sent += 1,
            Ok(false) => {}
            // The lease runs out and the row is tried again on a later pass.
            Err(e) => {
                tracing::warn!(outbox_id = %id, error = %e.describe(), "outbox delivery failed")
            }
        }
    }
    Ok(sent)
}

/// Writes the `invite.delivery_failed` event of `invite` (no audit record: no one acted).
async fn delivery_failed(
    txn: &impl ConnectionTrait,
    invite: &invite::Model,
    error: &str,
) -> Result<()> {
    let origin = events::Origin {
        account_id: invite.account_id,
        operation_id: None,
        actor_id: None,
        at: now_ms(),
    };
    let event = events::NewEvent {
        event_type: "invite.delivery_failed",
        target_type: "Invite",
        target_id: invite.id.into(),
        target_team_id: Some(invite.team_id),
        data: serde_json::json!({
            "before": { "delivery": invite.delivery.as_str() },
            "after": { "delivery": Delivery::Failed.as_str(), "deliveryError": error },
            "targetLabel": invite.email,
        }),
    };
    events::record(txn, &origin, vec![event]).await
}

/// Locks the invite row on PostgreSQL, so the worker and the invite mutations (which lock
/// it too) take turns; the lock order (invite, then outbox) is the same everywhere.
fn invite_for_update(db: &impl ConnectionTrait, id: InviteId) -> sea_orm::Select<invite::Entity> {
    dialect::locked(
        invite::Entity::find_by_id(id),
        db.get_database_backend(),
        Lock::Update,
    )
}

/// What to do with a claimed row before sending.
enum Prepared {
    /// Send this email.
    Send(Box<invite::Model>, String),
    /// Nothing to send (cancelled now, or no longer ours).
    Skip,
}

/// Sends one claimed row. Returns whether an email went out.
async fn deliver_one(
    db: &Db,
    transport: &dyn MailTransport,
    settings: &OutboxSettings,
    id: OutboxId,
    lease_until: i64,
) -> Result<bool> {
    let (invite, token) = match prepare(db, id, lease_until).await? {
        Prepared::Send(invite, token) => (invite, token),
        Prepared::Skip => return Ok(false),
    };
    let email = render(db, &invite, &settings.public_url, &token).await?;
    drop(token);
    let result = transport.send(&email).await;
    record(db, settings, id, lease_until, result).await
}

/// In one short transaction: checks that the invitation is still open and this row is
/// still its latest email, and stores the hash of a fresh token on the invitation.
async fn prepare(db: &Db, id: OutboxId, lease_until: i64) -> Result<Prepared> {
    let txn = db.begin_write().await?;
    let Some(row) = outbox::Entity::find_by_id(id).one(&txn).await? else {
        return Ok(Prepared::Skip);
    };
    let invite = invite_for_update(&txn, row.invite_id).one(&txn).await?;
    // Read again after the invite lock: a resend that committed meanwhile cancelled it.
    let Some(row) = outbox::Entity::find_by_id(id).one(&txn).await? else {
        return Ok(Prepared::Skip);
    };
    if row.status != Status::Pending || row.locked_until != Some(lease_until) {
        txn.rollback().await?;
        return Ok(Prepared::Skip);
    }
    let now = now_ms();
    let reason = match &invite {
        None => Some("the invitation no longer exists"),
        Some(i) if i.deleted_at.is_some() => Some("the invitation was deleted"),
        Some(i) if i.withdrawn_at.is_some() => Some("the invitation was withdrawn"),
        Some(i) if i.accepted_at.is_some() => Some("the invitation was accepted"),
        Some(i) if i.expires_at <= now => Some("the invitation expired before it was sent"),
        Some(_) => None,
    };
    if let Some(reason) = reason {
        outbox::Entity::update_many()
            .col_expr(outbox::Column::Status, Expr::value(Status::Cancelled))
            .col_expr(
                outbox::Column::LockedUntil,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(outbox::Column::LastError, Expr::value(reason))
            .filter(outbox::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        if let Some(i) = invite
            .as_ref()
            .filter(|i| i.expires_at <= now && i.deleted_at.is_none())
        {
            // An expired invitation's email is never coming: say so where admins look.
            if i.accepted_at.is_none() && i.withdrawn_at.is_none() {
                invite::Entity::update_many()
                    .col_expr(invite::Column::Delivery, Expr::value(Delivery::Failed))
                    .col_expr(invite::Column::DeliveryError, Expr::value(reason))
                    .filter(invite::Column::Id.eq(i.id))
                    .exec(&txn)
                    .await?;
                delivery_failed(&txn, i, reason).await?;
            }
        }
        txn.commit().await?;
        tracing::debug!(outbox_id = %id, reason, "email cancelled");
        return Ok(Prepared::Skip);
    }
    let Some(invite) = invite else {
        return Ok(Prepared::Skip);
    };
    let token = invite_mail::new_token();
    invite::Entity::update_many()
        .col_expr(
            invite::Column::TokenHash,
            Expr::value(invite_mail::token_hash(&token)),
        )
        .filter(invite::Column::Id.eq(invite.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(Prepared::Send(Box::new(invite), token))
}

async fn render(
    db: &Db,
    invite: &invite::Model,
    public_url: &str,
    token: &str,
) -> Result<crate::mail::OutgoingEmail> {
    let conn = db.conn();
    let missing = |what: &str| {
        super::Error::Internal(anyhow::anyhow!(
            "invite {} references a missing {what}",
            invite.id
        ))
    };
    let account = account::Entity::find_by_id(invite.account_id)
        .one(conn)
        .await?
        .ok_or_else(|| missing("account"))?;
    let team = team::Entity::find_by_id(invite.team_id)
        .one(conn)
        .await?
        .ok_or_else(|| missing("team"))?;
    let role = role::Entity::find_by_id(invite.role_id)
        .one(conn)
        .await?
        .ok_or_else(|| missing("role"))?;
    let inviter = match invite.invited_by {
        Some(id) => user::Entity::find_by_id(id).one(conn).await?,
        None => None,
    };
    let url = template::accept_url(public_url, token);
    Ok(template::invite_email(
        &invite.email,
        &InviteEmail {
            account_name: &account.name,
            inviter_name: inviter.as_ref().map(|u| u.name.as_str()),
            team_name: &team.name,
            role_name: &role.name,
            accept_url: &url,
            expires_at: chrono::DateTime::from_timestamp_millis(invite.expires_at)
                .unwrap_or_default(),
        },
    ))
}

/// Records the result of a send on the row and, when the row is still the invitation's
/// latest email, on the invitation.
async fn record(
    db: &Db,
    settings: &OutboxSettings,
    id: OutboxId,
    lease_until: i64,
    result: std::result::Result<(), MailError>,
) -> Result<bool> {
    let txn = db.begin_write().await?;
    let Some(row) = outbox::Entity::find_by_id(id).one(&txn).await? else {
        return Ok(result.is_ok());
    };
    let invite = invite_for_update(&txn, row.invite_id).one(&txn).await?;
    let Some(row) = outbox::Entity::find_by_id(id).one(&txn).await? else {
        return Ok(result.is_ok());
    };
    if row.locked_until != Some(lease_until) {
        // Our lease ran out mid-send and another process took the row over.
        tracing::warn!(outbox_id = %id, "outbox lease expired during a send; another worker owns the row");
        txn.rollback().await?;
        return Ok(result.is_ok());
    }
    // A resend during the send cancelled this row: its result no longer describes the
    // invitation's delivery.
    let latest = row.status == Status::Pending;
    let attempts = row.attempts.saturating_add(1);
    let now = now_ms();
    let release = outbox::Entity::update_many()
        .col_expr(outbox::Column::Attempts, Expr::value(attempts))
        .col_expr(
            outbox::Column::LockedUntil,
            Expr::value(Option::<i64>::None),
        )
        .filter(outbox::Column::Id.eq(id));
    let (invite_delivery, invite_error) = match &result {
        Ok(()) => {
            release
                .col_expr(outbox::Column::Status, Expr::value(Status::Sent))
                .col_expr(outbox::Column::SentAt, Expr::value(now))
                .col_expr(
                    outbox::Column::LastError,
                    Expr::value(Option::<String>::None),
                )
                .exec(&txn)
                .await?;
            (Delivery::Sent, None)
        }
        Err(e) if e.is_transient() && (attempts as u32) < settings.max_attempts && latest => {
            let next = now.saturating_add(millis(settings.backoff(attempts as u32)));
            release
                .col_expr(outbox::Column::NextAttemptAt, Expr::value(next))
                .col_expr(outbox::Column::LastError, Expr::value(clip(&e.to_string())))
                .exec(&txn)
                .await?;
            tracing::info!(outbox_id = %id, attempts, error = %e, "email not sent; will retry");
            txn.commit().await?;
            return Ok(false);
        }
        Err(e) => {
            let final_status = if latest {
                Status::Failed
            } else {
                Status::Cancelled
            };
            release
                .col_expr(outbox::Column::Status, Expr::value(final_status))
                .col_expr(outbox::Column::LastError, Expr::value(clip(&e.to_string())))
                .exec(&txn)
                .await?;
            tracing::warn!(outbox_id = %id, attempts, error = %e, "email not sent; giving up");
            (Delivery::Failed, Some(clip(&e.to_string())))
        }
    };
    if latest {
        invite::Entity::update_many()
            .col_expr(invite::Column::Delivery, Expr::value(invite_delivery))
            .col_expr(
                invite::Column::DeliveryError,
                Expr::value(invite_error.clone()),
            )
            .filter(invite::Column::Id.eq(row.invite_id))
            .exec(&txn)
            .await?;
        if let (Some(invite), Some(error)) = (&invite, invite_error) {
            delivery_failed(&txn, invite, &error).await?;
        }
    }
    txn.commit().await?;
    Ok(result.is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let mut s = OutboxSettings::new("http://x");
        s.base_backoff = Duration::from_secs(30);
        assert_eq!(s.backoff(1), Duration::from_secs(30));
        assert_eq!(s.backoff(2), Duration::from_secs(60));
        assert_eq!(s.backoff(4), Duration::from_secs(240));
        assert_eq!(s.backoff(30), Duration::from_secs(3600));
        assert_eq!(s.backoff(u32::MAX), Duration::from_secs(3600));
    }
}
