//! Domain events: one per changed object, written in the transaction of the change and read
//! by three channels — the event feed (`events` query), GraphQL subscriptions and webhooks.
//!
//! Events are derived from the audit records (`audit::record` writes them beside its own), so every
//! mutation that audits emits its events without code of its own; a few changes without an
//! audit record (the mail worker's `invite.delivery_failed`) call `record` directly.
//!
//! **Order.** Each account's events are numbered 1, 2, 3, … (`seq`). The numbers come from
//! the account's row in `event_sequences`, taken with an upsert whose row lock lasts until the
//! writing transaction ends (on SQLite the write transaction itself is the lock:
//! `BEGIN IMMEDIATE` admits one writer). So a transaction holding larger numbers commits after
//! every transaction holding smaller ones, and a reader that saw number N and resumes after it
//! can never skip a row that becomes visible later. Rolled-back transactions hand their
//! numbers back with the counter; dry runs write nothing.
//!
//! **Wake-ups.** On PostgreSQL the writing transaction also sends `NOTIFY roster_events`
//! (delivered only at commit) so every instance's listener reads the new rows at once; on
//! SQLite (one process) an in-process broadcast (`local_wakes`) does the same. A wake-up only
//! says "read again": the table is the source of truth, so a lost wake-up loses nothing.

use std::sync::OnceLock;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement, Value,
};
use serde_json::{Value as Json, json};
use uuid::Uuid;

use super::dialect;
use super::ids::{AccountId, EventId, OperationId, TeamId, UserId};
use super::page::{self, Listing, PageArgs, Sort, SortValue};
use super::{Error, Result, access, now_ms};
use crate::auth::{Permission, Principal};
use crate::entity::event;

/// The event types Roster emits (docs/ARCHITECTURE.md, "Invariants"; `user.created` is a
/// new user made by accepting an invitation).
pub const TYPES: &[&str] = &[
    "user.invited",
    "user.created",
    "invite.resent",
    "invite.withdrawn",
    "invite.deleted",
    "invite.accepted",
    "invite.delivery_failed",
    "user.role_changed",
    "user.team_changed",
    "user.deleted",
    "user.restored",
    "user.suspended",
    "user.reactivated",
    "team.created",
    "team.updated",
    "team.deleted",
    "department.created",
    "department.updated",
    "department.deleted",
    "role.created",
    "role.updated",
    "role.deleted",
    "account.updated",
];

/// The PostgreSQL notification channel of new events; the payload is
/// `<account uuid>:<last seq>`.
pub const CHANNEL: &str = "roster_events";

/// The event type of an audit action: the action itself when it is a known event type,
/// `user.invited` for a created invitation, and none for everything else (webhook endpoint
/// changes, tokens, …), which stays in the audit log only.
pub fn type_of_action(action: &str) -> Option<&'static str> {
    let action = match action {
        "invite.created" => "user.invited",
        other => other,
    };
    TYPES.iter().copied().find(|t| *t == action)
}

/// One event to write.
pub struct NewEvent {
    pub event_type: &'static str,
    pub target_type: &'static str,
    /// A bare UUID: the target may be of any kind `target_type` names.
    pub target_id: Uuid,
    /// The team the target is in (after the change): who may see the event.
    pub target_team_id: Option<TeamId>,
    /// The payload.
    pub data: Json,
}

/// A new position of an account's event log (a wake-up for readers).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Wake {
    pub account_id: AccountId,
    /// The largest `seq` written.
    pub seq: i64,
}

impl Wake {
    /// Reads a notification payload (`<account uuid>:<seq>`).
    pub fn parse(payload: &str) -> Option<Self> {
        let (account, seq) = payload.split_once(':')?;
        Some(Wake {
            account_id: AccountId(Uuid::try_parse(account).ok()?),
            seq: seq.parse().ok()?,
        })
    }
}

fn local_sender() -> &'static tokio::sync::broadcast::Sender<Wake> {
    static SENDER: OnceLock<tokio::sync::broadcast::Sender<Wake>> = OnceLock::new();
    SENDER.get_or_init(|| tokio::sync::broadcast::channel(1024).0)
}

/// Wake-ups of SQLite writers in this process. They are sent before the writing transaction
/// commits, so a reader that finds nothing new yet looks again shortly (`Wake::seq` says
/// what to expect).
pub fn local_wakes() -> tokio::sync::broadcast::Receiver<Wake> {
    local_sender().subscribe()
}

/// Where events come from: the operation (mutation) that caused them.
#[derive(Clone, Debug)]
pub struct Origin {
    pub account_id: AccountId,
    /// The mutation's id (shared with its audit records); `None` for changes no mutation made.
    pub operation_id: Option<OperationId>,
    /// `None` for changes without a signed-in user.
    pub actor_id: Option<UserId>,
    pub at: i64,
}

/// Rows per insert statement (11 parameters a row, under both databases' limits).
const CHUNK: usize = 1_000;

/// Writes `events` of `op` in the caller's transaction: numbers them under the account's
/// sequence lock, inserts them set-based and sends the wake-up.
pub async fn record<C: ConnectionTrait>(db: &C, op: &Origin, events: Vec<NewEvent>) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    if dialect::has_json_recordset(backend) {
        // Numbering, rows and wake-up in one statement (one round trip per write).
        return record_postgres(db, op, events).await;
    }
    let mut batch = Batch::default();
    let last = sqlite_append(&mut batch, op, events);
    run_sqlite(db, batch, last).await
}

/// A batch of SQLite statements run in one round trip (`run_sqlite`): the statements' texts
/// joined, their `?` parameters in order (SQLite binds a batch's positional parameters
/// statement after statement).
#[derive(Default)]
pub struct Batch {
    sql: String,
    values: Vec<Value>,
}

impl Batch {
    /// Appends one statement.
    pub fn push(&mut self, sql: &str, values: impl IntoIterator<Item = Value>) {
        if !self.sql.is_empty() {
            self.sql.push_str("; ");
        }
        self.sql.push_str(sql);
        self.values.extend(values);
    }
}

/// Given to `run_sqlite` when its batch numbers events: the account whose last event number
/// it reads back (for the wake-up).
pub struct Numbered {
    account_id: AccountId,
}

/// Appends to `batch` the statements that number `events` and write them, on SQLite: the
/// account's sequence advanced by their number (`RETURNING` the last one, for the wake-up),
/// then their rows, each numbered from the sequence it just advanced. `None` when there are
/// no events.
pub fn sqlite_append(batch: &mut Batch, op: &Origin, events: Vec<NewEvent>) -> Option<Numbered> {
    const COLUMNS: &str = "INSERT INTO events (id, account_id, seq, event_type, operation_id, \
        actor_id, target_type, target_id, target_team_id, data_json, created_at) VALUES ";
    const ROW: &str = "(?, ?, (SELECT last_seq FROM event_sequences WHERE account_id = ?) - ?, \
        ?, ?, ?, ?, ?, ?, ?, ?)";
    if events.is_empty() {
        return None;
    }
    let n = events.len() as i64;
    batch.push(
        "INSERT INTO event_sequences (account_id, last_seq) VALUES (?, ?) \
         ON CONFLICT (account_id) DO UPDATE SET last_seq = event_sequences.last_seq + excluded.last_seq \
         RETURNING last_seq",
        [op.account_id.into(), n.into()],
    );
    let rows: Vec<(i64, NewEvent)> = (0..n).rev().zip(events).collect();
    for chunk in rows.chunks(CHUNK) {
        let mut sql = String::from(COLUMNS);
        let mut values = Vec::with_capacity(chunk.len() * 12);
        for (i, (behind_last, e)) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(ROW);
            values.extend([
                EventId::new().into(),
                op.account_id.into(),
                op.account_id.into(),
                (*behind_last).into(),
                e.event_type.into(),
                op.operation_id.into(),
                op.actor_id.into(),
                e.target_type.into(),
                e.target_id.into(),
                e.target_team_id.into(),
                e.data.to_string().into(),
                op.at.into(),
            ]);
        }
        batch.push(&sql, values);
    }
    Some(Numbered {
        account_id: op.account_id,
    })
}

/// Runs `batch` in one round trip on SQLite; when it numbered events (`last`), wakes this
/// process's subscribers with the account's last event number.
pub async fn run_sqlite<C: ConnectionTrait>(
    db: &C,
    batch: Batch,
    last: Option<Numbered>,
) -> Result<()> {
    if batch.sql.is_empty() {
        return Ok(());
    }
    let statement =
        Statement::from_sql_and_values(DatabaseBackend::Sqlite, batch.sql, batch.values);
    let Some(numbered) = last else {
        db.execute_raw(statement).await?;
        return Ok(());
    };
    let rows = db.query_all_raw(statement).await?;
    let seq = rows
        .first()
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("event sequence upsert returned no row")))?
        .try_get_by_index::<i64>(0)?;
    // No receivers is fine: nobody subscribes.
    let _ = local_sender().send(Wake {
        account_id: numbered.account_id,
        seq,
    });
    Ok(())
}

/// `events` of `op` on PostgreSQL, in one statement (see `postgres_statement`).
async fn record_postgres<C: ConnectionTrait>(
    db: &C,
    op: &Origin,
    events: Vec<NewEvent>,
) -> Result<()> {
    let (sql, values) = postgres_statement(None, op, events);
    run_postgres(db, sql, values).await
}

/// The one PostgreSQL statement that records `events` of `op`: the account's sequence upsert
/// (its row lock lasts until the caller's transaction ends, see the module's comment), an
/// `INSERT … SELECT … FROM json_to_recordset(…)` numbering the rows after it (one statement
/// text whatever the number of rows; a multi-row `VALUES` binds 11 parameters a row and is
/// planned anew per row count), and the `pg_notify` wake-up other instances receive at
/// commit. `before`, when given, is another data-modifying step of the same write — a
/// `name AS (…)` common table expression and its parameters, numbered from `$1` — run in the
/// same statement (the audit rows: one round trip for a change's audit and events).
pub(crate) fn postgres_statement(
    before: Option<(&str, Vec<Value>)>,
    op: &Origin,
    events: Vec<NewEvent>,
) -> (String, Vec<Value>) {
    let (prefix, mut values) = match before {
        Some((cte, values)) => (format!("{cte}, "), values),
        None => (String::new(), Vec::new()),
    };
    let p = |i: usize| format!("${}", values.len() + i);
    let sql = format!(
        "WITH {prefix}seq AS ( \
        INSERT INTO event_sequences (account_id, last_seq) VALUES ({account}, {n}) \
        ON CONFLICT (account_id) DO UPDATE SET last_seq = event_sequences.last_seq + excluded.last_seq \
        RETURNING last_seq), \
        inserted AS ( \
        INSERT INTO events (id, account_id, seq, event_type, operation_id, actor_id, target_type, \
        target_id, target_team_id, data_json, created_at) \
        SELECT r.id, {account}, seq.last_seq - {n} + r.n, r.event_type, {operation}, {actor}, \
        r.target_type, r.target_id, r.target_team_id, r.data_json, {at} \
        FROM seq, json_to_recordset(CAST({rows} AS json)) AS r (id uuid, n bigint, \
        event_type text, target_type text, target_id uuid, target_team_id uuid, data_json text)) \
        SELECT seq.last_seq FROM seq \
        CROSS JOIN LATERAL (SELECT pg_notify(CAST({channel} AS text), \
        CAST({wake} AS text) || ':' || CAST(seq.last_seq AS text))) AS wake",
        rows = p(1),
        account = p(2),
        operation = p(3),
        actor = p(4),
        at = p(5),
        n = p(6),
        channel = p(7),
        wake = p(8),
    );
    let n = events.len() as i64;
    let rows: Vec<Json> = events
        .into_iter()
        .zip(1_i64..)
        .map(|(e, n)| {
            json!({
                "id": Uuid::now_v7(),
                "n": n,
                "event_type": e.event_type,
                "target_type": e.target_type,
                "target_id": e.target_id,
                "target_team_id": e.target_team_id,
                "data_json": e.data.to_string(),
            })
        })
        .collect();
    values.extend([
        Json::Array(rows).to_string().into(),
        op.account_id.into(),
        op.operation_id.into(),
        op.actor_id.into(),
        op.at.into(),
        n.into(),
        CHANNEL.into(),
        // The wake-up's payload is `<account id without hyphens>:<last seq>` (`Wake::parse`).
        op.account_id.0.simple().to_string().into(),
    ]);
    (sql, values)
}

/// Runs a statement made by `postgres_statement`.
pub(crate) async fn run_postgres<C: ConnectionTrait>(
    db: &C,
    sql: String,
    values: Vec<Value>,
) -> Result<()> {
    db.query_one_raw(Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        sql,
        values,
    ))
    .await?
    .ok_or_else(|| Error::Internal(anyhow::anyhow!("event sequence upsert returned no row")))?;
    Ok(())
}

/// The event as every channel shows it (the feed's and subscription's `Event` fields, the
/// webhook body): `id`, `type`, `operationId`, `actorId`, `targetType`, `targetId`, `data`,
/// `createdAt` (RFC 3339).
pub fn to_json(e: &event::Model) -> Json {
    json!({
        "id": e.id.to_string(),
        "type": e.event_type,
        "operationId": e.operation_id.map(|id| id.to_string()),
        "actorId": e.actor_id.map(|id| id.to_string()),
        "targetType": e.target_type,
        "targetId": super::ids::external_id(&e.target_type, e.target_id),
        "data": data(e),
        "createdAt": chrono::DateTime::from_timestamp_millis(e.created_at)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}

/// The event's payload (`{}` for a row that cannot be read, which Roster never writes).
pub fn data(e: &event::Model) -> Json {
    serde_json::from_str(&e.data_json).unwrap_or_else(|_| json!({}))
}

// ---- Reading: internal (webhooks) ----------------------------------------------------------

/// Events of `account_id` after position `after`, oldest first, at most `limit`, optionally
/// only of `types`. Every row with a smaller number is already visible when a row is (see the
/// module's comment), so a reader resuming from the last position it saw misses nothing.
/// No reach: for the account's own machinery (webhooks).
pub async fn after<C: ConnectionTrait>(
    db: &C,
    account_id: AccountId,
    after: i64,
    types: Option<&[String]>,
    limit: u64,
) -> Result<Vec<event::Model>> {
    let mut select = event::Entity::find()
        .filter(event::Column::AccountId.eq(account_id))
        .filter(event::Column::Seq.gt(after));
    if let Some(types) = types {
        select = select.filter(event::Column::EventType.is_in(types.to_vec()));
    }
    Ok(select
        .order_by_asc(event::Column::Seq)
        .limit(limit)
        .all(db)
        .await?)
}

/// The position of the account's newest committed event (0 when it has none).
pub async fn latest_position<C: ConnectionTrait>(db: &C, account_id: AccountId) -> Result<i64> {
    let backend = db.get_database_backend();
    let sql = dialect::sql(
        backend,
        "SELECT last_seq FROM event_sequences WHERE account_id = $1",
    );
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [account_id.into()],
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get_by_index::<i64>(0)?,
        None => 0,
    })
}

// ---- Reading: the caller's view (feed, node, subscriptions) ----------------------------------

fn require_view(actor: &Principal) -> Result<()> {
    if actor.can(Permission::UsersView) {
        Ok(())
    } else {
        Err(Error::forbidden("your role may not read events"))
    }
}

/// Whether the actor may read events at all (`USERS_VIEW`; what they see of them is their
/// reach, `access::events`).
pub fn may_read(actor: &Principal) -> bool {
    actor.can(Permission::UsersView)
}

/// One event by id, when the actor may read it (`node(id:)`).
pub async fn get<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    id: EventId,
) -> Result<event::Model> {
    if !may_read(actor) {
        return Err(Error::NotFound("event"));
    }
    access::events(actor)
        .filter(event::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or(Error::NotFound("event"))
}

fn feed_sort() -> Sort<event::Column> {
    Sort {
        tag: "seq",
        key: event::Column::Seq,
        id: event::Column::Id,
        ascending: true,
    }
}

/// How long events are kept, in days.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;

/// The event feed, oldest first, resumable from a cursor for as long as events are kept
/// (`retention_days`): an older cursor is `BAD_USER_INPUT`, as events after it may be gone.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    types: Option<&[String]>,
    page: &PageArgs,
    retention_days: u32,
) -> Result<Listing<event::Entity>> {
    require_view(actor)?;
    page.validate()?;
    if page.last.is_some() || page.before.is_some() {
        return Err(Error::bad_input(
            "last",
            "the event feed pages forward only (`first`, `after`)",
        ));
    }
    let sort = feed_sort();
    if let Some((_, id)) = page::after_position(&sort, page)? {
        let written = id
            .get_timestamp()
            .map(|t| {
                let (secs, nanos) = t.to_unix();
                (secs as i64) * 1000 + i64::from(nanos / 1_000_000)
            })
            .unwrap_or(0);
        if written < retention_cutoff(now_ms(), retention_days) {
            return Err(Error::bad_input(
                "after",
                format!(
                    "this cursor is older than the event retention ({retention_days} days); \
                     events after it may have been pruned — start again without `after`"
                ),
            ));
        }
    }
    let mut select = access::events(actor);
    if let Some(types) = types {
        select = select.filter(event::Column::EventType.is_in(types.to_vec()));
    }
    Listing::fetch(db, select, &sort, page, |e| (SortValue::Int(e.seq), e.id.0)).await
}

/// Events the actor may see after position `after`, oldest first, at most `limit`, only
/// positions up to `upto` (subscriptions).
pub async fn visible_after<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    after: i64,
    upto: i64,
    types: Option<&[String]>,
    limit: u64,
) -> Result<Vec<event::Model>> {
    require_view(actor)?;
    let mut select = access::events(actor)
        .filter(event::Column::Seq.gt(after))
        .filter(event::Column::Seq.lte(upto));
    if let Some(types) = types {
        select = select.filter(event::Column::EventType.is_in(types.to_vec()));
    }
    Ok(select
        .order_by_asc(event::Column::Seq)
        .limit(limit)
        .all(db)
        .await?)
}

/// The oldest time (ms) still kept under `retention_days`.
fn retention_cutoff(now: i64, retention_days: u32) -> i64 {
    now.saturating_sub(i64::from(retention_days) * 86_400_000)
}

/// Deletes events older than `retention_days`; returns how many.
pub async fn prune<C: ConnectionTrait>(db: &C, retention_days: u32) -> Result<u64> {
    let result = event::Entity::delete_many()
        .filter(event::Column::CreatedAt.lt(retention_cutoff(now_ms(), retention_days)))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_actions_map_to_event_types() {
        assert_eq!(type_of_action("invite.created"), Some("user.invited"));
        assert_eq!(
            type_of_action("user.role_changed"),
            Some("user.role_changed")
        );
        assert_eq!(type_of_action("webhook_endpoint.created"), None);
    }

    #[test]
    fn wake_payload_round_trips() {
        let w = Wake {
            account_id: AccountId::new(),
            seq: 42,
        };
        // As `record_postgres` writes it: the account's id without hyphens, a colon, the seq.
        let payload = format!("{}:{}", w.account_id.0.simple(), w.seq);
        assert_eq!(Wake::parse(&payload), Some(w));
        assert_eq!(Wake::parse("nope"), None);
    }
}
