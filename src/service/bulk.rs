//! The shape every bulk mutation shares: all items are checked first; if any fails nothing
//! is written and every failure is reported with its index; `dry_run` stops after the checks.
//! `run` is that shape — check, plan, write, audit — and `BulkChange` is what each bulk
//! mutation brings to it (users' role, team, delete, suspend and reactivate; invitations'
//! create, resend, withdraw and delete).

use std::future::Future;

use sea_orm::{ConnectionTrait, DatabaseTransaction};

use super::audit::Operation;
use super::ids::{OperationId, TypedId};
use super::{Db, Error, Result, access, now_ms};
use crate::auth::{Permission, Principal};

/// One id of a bulk request, parsed once where it came in (GraphQL, SCIM): the typed id and
/// the text as the client sent it, which the item's errors echo. `id` is `None` when the text
/// is no id of this kind; the item is then `NOT_FOUND`, as an id of nothing would be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requested<T> {
    /// The id as sent.
    pub sent: String,
    /// The id, when `sent` is one of this kind.
    pub id: Option<T>,
}

impl<T: TypedId> Requested<T> {
    /// Parses one id as the client sent it.
    pub fn parse(sent: String) -> Self {
        let id = T::parse(&sent);
        Requested { sent, id }
    }

    /// Parses every id of a request, in order.
    pub fn parse_all(sent: impl IntoIterator<Item = String>) -> Vec<Self> {
        sent.into_iter().map(Self::parse).collect()
    }

    /// An id known already (a directory's change to one user): sent as its external form.
    pub fn known(id: T) -> Self {
        Requested {
            sent: id.to_string(),
            id: Some(id),
        }
    }
}

/// Why one item of a bulk request was refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ItemErrorCode {
    NotFound,
    Forbidden,
    RoleNotGrantable,
    LastAdmin,
    AlreadyMember,
    AlreadyInvited,
    InvalidEmail,
    EmailDomainNotAllowed,
    InvalidState,
    Duplicate,
    /// The account's seat limit would be exceeded.
    SeatLimit,
}

/// One refused item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemError {
    /// Position of the item in the request.
    pub index: usize,
    /// The id as the client sent it, when the item is an id.
    pub id: Option<String>,
    /// The email as the client sent it, when the item is an invitation.
    pub email: Option<String>,
    pub code: ItemErrorCode,
    pub message: String,
}

impl ItemError {
    /// An error about the item at `index` identified by `id`.
    pub fn for_id(index: usize, id: &str, code: ItemErrorCode, message: impl Into<String>) -> Self {
        ItemError {
            index,
            id: Some(id.to_owned()),
            email: None,
            code,
            message: message.into(),
        }
    }

    /// An error about the invitation at `index` for `email`.
    pub fn for_email(
        index: usize,
        email: &str,
        code: ItemErrorCode,
        message: impl Into<String>,
    ) -> Self {
        ItemError {
            index,
            id: None,
            email: Some(email.to_owned()),
            code,
            message: message.into(),
        }
    }
}

/// The result of a bulk mutation.
#[derive(Debug)]
pub struct Outcome<T> {
    /// The affected objects (empty when refused).
    pub items: Vec<T>,
    /// How many items were (or, in a dry run, would be) changed; unchanged repeats excluded.
    pub changed_count: usize,
    /// Every refused item; non-empty means nothing was written.
    pub errors: Vec<ItemError>,
    pub dry_run: bool,
    /// Set when something was written.
    pub operation_id: Option<OperationId>,
    /// For mutations that take seats (`inviteUsers`, `reactivateUsers`): the seats the
    /// account has left after this request (would have, in a dry run); `None` when the
    /// account has no seat limit or the mutation takes no seats.
    pub seats_remaining: Option<i64>,
}

impl<T> Outcome<T> {
    /// A refused request.
    pub fn refused(errors: Vec<ItemError>, dry_run: bool) -> Self {
        Outcome {
            items: Vec::new(),
            changed_count: 0,
            errors,
            dry_run,
            operation_id: None,
            seats_remaining: None,
        }
    }
}

/// Largest number of items one bulk request may carry (configurable with `ROSTER_MAX_BULK`).
pub const DEFAULT_MAX_ITEMS: usize = 1000;

/// What `BulkChange::write` did.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Written {
    /// The plan and its audit records are written.
    Done,
    /// A concurrent change won a race the checks could not see (on PostgreSQL: another
    /// transaction's row took a unique index first, or a row the plan counted on changed): the
    /// transaction is rolled back and `run` checks again in a fresh one, which sees that
    /// change (`BulkChange::ATTEMPTS`).
    Lost,
}

/// One bulk mutation's own parts: its permission and size rule, its checks and plan (per-item
/// errors included), its write with its audit records, and its outcome. `run` calls them in
/// the order every bulk mutation shares.
pub(crate) trait BulkChange: Sync {
    /// What the outcome lists.
    type Item: Send;
    /// What the checks decided: the refused items, or what changes and how.
    type Plan: Send + Sync;

    /// How many times `run` checks and writes, each time in a fresh transaction, while the
    /// write loses races (`Written::Lost`); a change that never loses needs one.
    const ATTEMPTS: usize = 1;

    /// The permission the actor needs, and the refusal without it.
    fn permission(&self) -> (Permission, &'static str);

    /// Refuses a request of more than `max` items (`LimitExceeded`) before anything is read.
    fn check_size(&self, max: usize) -> Result<()>;

    /// Whether a dry run is checked inside the write transaction, under the account lock, as
    /// the real change is (`true`), or with plain reads (`false`, the default).
    fn dry_run_locked(&self) -> bool {
        false
    }

    /// Checks every item and plans the write, reading through `db` as `actor` at `at`;
    /// `lock` takes the rows to change (PostgreSQL) until the transaction ends.
    fn plan<'a, C: ConnectionTrait>(
        &'a self,
        db: &'a C,
        actor: &'a Principal,
        at: i64,
        lock: bool,
    ) -> impl Future<Output = Result<Self::Plan>> + Send + 'a;

    /// Whether the plan writes nothing: an item was refused, or nothing changes.
    fn writes_nothing(plan: &Self::Plan) -> bool;

    /// Writes the plan and its audit records (and so its events) in `txn`, or finds that a
    /// concurrent change won a race (`Written::Lost`; `txn` is then only rolled back).
    fn write<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        op: &'a Operation,
        plan: &'a Self::Plan,
    ) -> impl Future<Output = Result<Written>> + Send + 'a;

    /// The mutation's result; `operation_id` is set when something was written.
    fn outcome(
        plan: Self::Plan,
        dry_run: bool,
        operation_id: Option<OperationId>,
    ) -> Outcome<Self::Item>;
}

/// A bulk mutation, all or nothing: the permission and the size; then — in one write
/// transaction holding the account lock, with the actor re-read inside it (`access::recheck`),
/// so the checks see a state no concurrent change can invalidate before the commit — every
/// item is checked and the write planned; any refused item, a dry run or nothing to change
/// rolls back; otherwise the plan is written with its audit records and committed. A dry run
/// of a mutation whose `dry_run_locked` is `false` is checked with plain reads instead.
///
/// A write that loses a race (`Written::Lost`, PostgreSQL only: SQLite's writers take turns)
/// is rolled back and the request checked and written again in a fresh transaction, up to
/// `BulkChange::ATTEMPTS` times; then the checks run once more with plain reads and answer
/// the items the concurrent changes refuse, or — when they still refuse none — an internal
/// error.
pub(crate) async fn run<B: BulkChange>(
    db: &Db,
    actor: &Principal,
    change: &B,
    dry_run: bool,
    max_items: usize,
) -> Result<Outcome<B::Item>> {
    let (permission, refusal) = change.permission();
    if !actor.can(permission) {
        return Err(Error::forbidden(refusal));
    }
    change.check_size(max_items)?;
    if dry_run && !change.dry_run_locked() {
        let plan = change.plan(db.conn(), actor, now_ms(), false).await?;
        return Ok(B::outcome(plan, true, None));
    }
    for attempt in 1..=B::ATTEMPTS {
        let txn = db.begin_write().await?;
        // The principal was loaded before the lock. A change that committed while we waited
        // may have demoted, moved or deleted the actor: act as who they are now.
        let actor = &access::recheck(&txn, actor, permission, refusal).await?;
        let op = Operation::start(actor);
        match attempt_in(&txn, actor, &op, change, dry_run).await? {
            Attempt::Finished(outcome) => {
                if outcome.operation_id.is_some() {
                    txn.commit().await?;
                } else {
                    txn.rollback().await?;
                }
                return Ok(outcome);
            }
            Attempt::Lost => {
                txn.rollback().await?;
                tracing::debug!(
                    attempt,
                    change = std::any::type_name::<B>(),
                    "a bulk change raced a concurrent change; re-checking"
                );
            }
        }
    }
    let plan = change.plan(db.conn(), actor, now_ms(), false).await?;
    if B::writes_nothing(&plan) {
        Ok(B::outcome(plan, false, None))
    } else {
        Err(Error::Internal(anyhow::anyhow!(
            "{} kept conflicting with concurrent changes",
            std::any::type_name::<B>()
        )))
    }
}

/// How one check-and-write inside a transaction ended.
enum Attempt<T> {
    /// Refused, a dry run, nothing to change, or written (`operation_id` set).
    Finished(Outcome<T>),
    /// The write lost a race; nothing is answered yet.
    Lost,
}

/// The part of `run` inside the write transaction, for callers that make several changes in
/// one (a SCIM PUT/PATCH): the caller has taken the account lock, re-read `actor` and started
/// `op`, and commits or rolls back. Writes only when no item is refused, something changes and
/// it is no dry run (then `operation_id` is set). A caller's transaction cannot be run again:
/// a write that loses a race is an internal error here (only `inviteUsers`, which runs alone,
/// can lose one).
pub(crate) async fn run_in<B: BulkChange>(
    txn: &DatabaseTransaction,
    actor: &Principal,
    op: &Operation,
    change: &B,
    dry_run: bool,
) -> Result<Outcome<B::Item>> {
    match attempt_in(txn, actor, op, change, dry_run).await? {
        Attempt::Finished(outcome) => Ok(outcome),
        Attempt::Lost => Err(Error::Internal(anyhow::anyhow!(
            "{} lost a race inside a caller's transaction",
            std::any::type_name::<B>()
        ))),
    }
}

/// Checks and plans in `txn`; writes when no item is refused, something changes and it is no
/// dry run.
async fn attempt_in<B: BulkChange>(
    txn: &DatabaseTransaction,
    actor: &Principal,
    op: &Operation,
    change: &B,
    dry_run: bool,
) -> Result<Attempt<B::Item>> {
    let plan = change.plan(txn, actor, op.at, true).await?;
    if dry_run || B::writes_nothing(&plan) {
        return Ok(Attempt::Finished(B::outcome(plan, dry_run, None)));
    }
    Ok(match change.write(txn, op, &plan).await? {
        Written::Done => Attempt::Finished(B::outcome(plan, false, Some(op.id))),
        Written::Lost => Attempt::Lost,
    })
}
