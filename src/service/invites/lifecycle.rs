//! `resendInvites`, `withdrawInvites`, `deleteInvites`: the mutations that act on existing
//! invitations by id, all or nothing.

use std::collections::{HashMap, HashSet};
use std::future::Future;

use super::super::audit::{self, AuditAction, Operation};
use super::super::bulk::{self, BulkChange, ItemError, ItemErrorCode, Outcome, Requested, Written};
use super::super::ids::{InviteId, OperationId, RoleId};
use super::super::{Db, Result, accounts, seats};
use super::query::{reachable, visible};
use super::{
    INVITE_REFUSAL, READ_CHUNK, Status, cancel_emails, check_size, expiry, find_in, grantable,
    invite_change, locked, queue_emails, snapshot, status,
};
use crate::auth::{Permission, Principal};
use crate::entity::{invite, role};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter};

/// The id-based invitation mutations.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Action {
    Resend,
    Withdraw,
    Delete,
}

/// What an action does with one invitation.
enum Verdict {
    Change,
    Unchanged,
    Refuse(ItemErrorCode, &'static str),
}

impl Action {
    fn judge(self, i: &invite::Model, now: i64) -> Verdict {
        use Status::*;
        let invalid = |m| Verdict::Refuse(ItemErrorCode::InvalidState, m);
        match (self, status(i, now)) {
            (Action::Delete, _) if i.deleted_at.is_some() => Verdict::Unchanged,
            (Action::Delete, _) => Verdict::Change,
            (_, Pending | Expired) => Verdict::Change,
            (Action::Withdraw, Withdrawn) => Verdict::Unchanged,
            (Action::Withdraw, Accepted) => {
                invalid("an accepted invitation cannot be withdrawn; delete it instead")
            }
            (Action::Resend, Accepted) => invalid("an accepted invitation cannot be resent"),
            (Action::Resend, Withdrawn) => {
                invalid("a withdrawn invitation cannot be resent; invite the address again")
            }
        }
    }

    /// The invitation after the action, as the write leaves it.
    fn apply(self, i: &invite::Model, now: i64, expires_at: i64) -> invite::Model {
        let mut after = i.clone();
        after.updated_at = now;
        match self {
            Action::Resend => {
                after.token_hash = None;
                after.expires_at = expires_at;
                after.send_count += 1;
                after.last_sent_at = Some(now);
                after.delivery = invite::Delivery::Queued;
                after.delivery_error = None;
            }
            Action::Withdraw => after.withdrawn_at = Some(now),
            Action::Delete => after.deleted_at = Some(now),
        }
        after
    }

    fn audit_action(self) -> AuditAction {
        match self {
            Action::Resend => AuditAction::InviteResent,
            Action::Withdraw => AuditAction::InviteWithdrawn,
            Action::Delete => AuditAction::InviteDeleted,
        }
    }
}

/// What an id-based mutation would write.
struct IdPlan {
    /// Every named invitation as it is after the mutation, in input order.
    items: Vec<invite::Model>,
    /// `(before, after)` of the ones that change.
    changed: Vec<(invite::Model, invite::Model)>,
    errors: Vec<ItemError>,
}

impl IdPlan {
    fn into_outcome(
        self,
        dry_run: bool,
        operation_id: Option<OperationId>,
    ) -> Outcome<invite::Model> {
        if !self.errors.is_empty() {
            return Outcome::refused(self.errors, dry_run);
        }
        Outcome {
            changed_count: self.changed.len(),
            items: self.items,
            errors: Vec::new(),
            dry_run,
            operation_id,
            seats_remaining: None,
        }
    }
}

async fn plan_ids<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    ids: &[Requested<InviteId>],
    action: Action,
    now: i64,
    lock: bool,
) -> Result<IdPlan> {
    use ItemErrorCode::*;
    let mut errors = Vec::new();
    let mut wanted: Vec<(usize, &str, InviteId)> = Vec::with_capacity(ids.len());
    let mut seen = HashSet::new();
    for (index, requested) in ids.iter().enumerate() {
        let raw = requested.sent.as_str();
        match requested.id {
            None => errors.push(ItemError::for_id(
                index,
                raw,
                NotFound,
                format!("invitation `{raw}` not found"),
            )),
            Some(id) if !seen.insert(id) => errors.push(ItemError::for_id(
                index,
                raw,
                Duplicate,
                format!("invitation `{raw}` appears more than once in this request"),
            )),
            Some(id) => wanted.push((index, raw, id)),
        }
    }
    // Deleted invitations are gone for everything but a repeated delete.
    let base = if action == Action::Delete {
        reachable(actor)
    } else {
        visible(actor)
    };
    let keys: Vec<InviteId> = wanted.iter().map(|w| w.2).collect();
    let found: HashMap<InviteId, invite::Model> =
        find_in(db, locked(base, db, lock), invite::Column::Id, &keys)
            .await?
            .into_iter()
            .map(|i| (i.id, i))
            .collect();
    let mut role_ids: Vec<RoleId> = found.values().map(|i| i.role_id).collect();
    role_ids.sort_unstable();
    role_ids.dedup();
    let roles: HashMap<RoleId, role::Model> = find_in(
        db,
        role::Entity::find().filter(role::Column::AccountId.eq(actor.account_id)),
        role::Column::Id,
        &role_ids,
    )
    .await?
    .into_iter()
    .map(|r| (r.id, r))
    .collect();
    let expires_at = if action == Action::Resend {
        expiry(&accounts::get(db, actor).await?, now)
    } else {
        0
    };

    let mut items = Vec::new();
    let mut changed = Vec::new();
    // Resending an EXPIRED invitation makes it pending again: it takes a seat back.
    let mut revived: Vec<(usize, &str)> = Vec::new();
    for (index, raw, id) in wanted {
        let Some(invite) = found.get(&id) else {
            errors.push(ItemError::for_id(
                index,
                raw,
                NotFound,
                format!("invitation `{raw}` not found"),
            ));
            continue;
        };
        // No escalation (docs/ARCHITECTURE.md): what you could not have granted, you cannot act on either.
        let may = match roles.get(&invite.role_id) {
            Some(role) => grantable(actor, role)?,
            None => false,
        };
        if !may {
            errors.push(ItemError::for_id(
                index,
                raw,
                Forbidden,
                "the invitation's role is above yours",
            ));
            continue;
        }
        match action.judge(invite, now) {
            Verdict::Refuse(code, message) => {
                errors.push(ItemError::for_id(index, raw, code, message))
            }
            Verdict::Unchanged => items.push(invite.clone()),
            Verdict::Change => {
                if action == Action::Resend && status(invite, now) == Status::Expired {
                    revived.push((index, raw));
                }
                let after = action.apply(invite, now, expires_at);
                items.push(after.clone());
                changed.push((invite.clone(), after));
            }
        }
    }
    if !revived.is_empty() {
        let seats = seats::check(db, actor.account_id).await?;
        if let Some(free) = seats.free() {
            let free = usize::try_from(free).unwrap_or(0);
            for (index, raw) in revived.into_iter().skip(free) {
                errors.push(ItemError::for_id(
                    index,
                    raw,
                    SeatLimit,
                    format!(
                        "resending this expired invitation takes a seat; the account's seat \
                         limit ({}) would be exceeded",
                        seats.limit.unwrap_or_default()
                    ),
                ));
            }
        }
    }
    errors.sort_by_key(|e| e.index);
    Ok(IdPlan {
        items,
        changed,
        errors,
    })
}

async fn write_ids<C: ConnectionTrait>(
    db: &C,
    op: &Operation,
    action: Action,
    plan: &IdPlan,
) -> Result<()> {
    let now = op.at;
    let ids: Vec<InviteId> = plan.changed.iter().map(|(before, _)| before.id).collect();
    for chunk in ids.chunks(READ_CHUNK) {
        let update = invite::Entity::update_many()
            .col_expr(invite::Column::UpdatedAt, Expr::value(now))
            .filter(invite::Column::Id.is_in(chunk.to_vec()));
        let update = match action {
            Action::Resend => {
                // All changed rows share one account, so one expiry.
                let expires_at = plan
                    .changed
                    .first()
                    .map(|(_, a)| a.expires_at)
                    .unwrap_or(now);
                update
                    .col_expr(
                        invite::Column::TokenHash,
                        Expr::value(Option::<Vec<u8>>::None),
                    )
                    .col_expr(invite::Column::ExpiresAt, Expr::value(expires_at))
                    .col_expr(
                        invite::Column::SendCount,
                        Expr::col(invite::Column::SendCount).add(1),
                    )
                    .col_expr(invite::Column::LastSentAt, Expr::value(now))
                    .col_expr(
                        invite::Column::Delivery,
                        Expr::value(invite::Delivery::Queued),
                    )
                    .col_expr(
                        invite::Column::DeliveryError,
                        Expr::value(Option::<String>::None),
                    )
            }
            Action::Withdraw => update.col_expr(invite::Column::WithdrawnAt, Expr::value(now)),
            Action::Delete => update.col_expr(invite::Column::DeletedAt, Expr::value(now)),
        };
        update.exec(db).await?;
    }
    cancel_emails(db, &ids).await?;
    if action == Action::Resend {
        let afters: Vec<&invite::Model> = plan.changed.iter().map(|(_, a)| a).collect();
        queue_emails(db, &afters, now).await?;
    }
    let changes = plan
        .changed
        .iter()
        .map(|(before, after)| {
            let after_json = (action != Action::Delete).then(|| snapshot(after, now));
            invite_change(
                action.audit_action(),
                before,
                Some(snapshot(before, now)),
                after_json,
            )
        })
        .collect();
    audit::record(db, op, changes).await
}

/// One id-based invitation mutation as `bulk::run` takes it. A dry run is checked with plain
/// reads; the real change locks the rows (PostgreSQL) from the check to the commit, so a
/// concurrent accept, resend or worker cannot slip in between.
struct IdChange<'a> {
    ids: &'a [Requested<InviteId>],
    action: Action,
}

impl BulkChange for IdChange<'_> {
    type Item = invite::Model;
    type Plan = IdPlan;

    fn permission(&self) -> (Permission, &'static str) {
        (Permission::UsersInvite, INVITE_REFUSAL)
    }

    fn check_size(&self, max: usize) -> Result<()> {
        check_size(self.ids.len(), max)
    }

    fn plan<'a, C: ConnectionTrait>(
        &'a self,
        db: &'a C,
        actor: &'a Principal,
        at: i64,
        lock: bool,
    ) -> impl Future<Output = Result<IdPlan>> + Send + 'a {
        plan_ids(db, actor, self.ids, self.action, at, lock)
    }

    fn writes_nothing(plan: &IdPlan) -> bool {
        !plan.errors.is_empty() || plan.changed.is_empty()
    }

    async fn write<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        op: &'a Operation,
        plan: &'a IdPlan,
    ) -> Result<Written> {
        write_ids(txn, op, self.action, plan).await?;
        Ok(Written::Done)
    }

    fn outcome(
        plan: IdPlan,
        dry_run: bool,
        operation_id: Option<OperationId>,
    ) -> Outcome<invite::Model> {
        plan.into_outcome(dry_run, operation_id)
    }
}

async fn bulk_on_ids(
    db: &Db,
    actor: &Principal,
    ids: &[Requested<InviteId>],
    dry_run: bool,
    max_items: usize,
    action: Action,
) -> Result<Outcome<invite::Model>> {
    bulk::run(db, actor, &IdChange { ids, action }, dry_run, max_items).await
}

/// `resendInvites`: PENDING or EXPIRED invitations get a new link (the old one dies at
/// once), a new expiry and a queued email.
pub async fn resend(
    db: &Db,
    actor: &Principal,
    ids: &[Requested<InviteId>],
    dry_run: bool,
    max_items: usize,
) -> Result<Outcome<invite::Model>> {
    bulk_on_ids(db, actor, ids, dry_run, max_items, Action::Resend).await
}

/// `withdrawInvites`: PENDING or EXPIRED invitations become WITHDRAWN; their link dies.
pub async fn withdraw(
    db: &Db,
    actor: &Principal,
    ids: &[Requested<InviteId>],
    dry_run: bool,
    max_items: usize,
) -> Result<Outcome<invite::Model>> {
    bulk_on_ids(db, actor, ids, dry_run, max_items, Action::Withdraw).await
}

/// `deleteInvites`: invitations in any state disappear from every list. The items are the
/// ids of the deleted invitations.
pub async fn delete(
    db: &Db,
    actor: &Principal,
    ids: &[Requested<InviteId>],
    dry_run: bool,
    max_items: usize,
) -> Result<Outcome<InviteId>> {
    let outcome = bulk_on_ids(db, actor, ids, dry_run, max_items, Action::Delete).await?;
    Ok(Outcome {
        items: outcome.items.into_iter().map(|i| i.id).collect(),
        changed_count: outcome.changed_count,
        errors: outcome.errors,
        dry_run: outcome.dry_run,
        operation_id: outcome.operation_id,
        seats_remaining: None,
    })
}
