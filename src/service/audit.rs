//! The audit log: one event per changed object, written in the transaction of the change,
//! and read newest first within the reader's scope.

use std::borrow::Cow;

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter,
    QueryTrait, Statement, Value,
};
use serde_json::Value as Json;
use uuid::Uuid;

use super::dialect;
use super::ids::{AccountId, AuditEventId, OperationId, ScimTokenId, TeamId, UserId};
use super::page::{Listing, PageArgs, Sort, SortValue};
use super::{Error, Result, access, events, now_ms};
use crate::auth::{Permission, Principal};
use crate::entity::audit_event;
pub use crate::entity::audit_event::Action as AuditAction;

/// One mutation in progress: its id (shared by all its audit events), account, actor and
/// time.
#[derive(Clone, Debug)]
pub struct Operation {
    pub id: OperationId,
    pub account_id: AccountId,
    /// `None` for changes without a signed-in user (accepting an invitation, a directory).
    pub actor_id: Option<UserId>,
    /// The SCIM token acting as the directory, when it is one (`actor_id` is then `None`).
    pub actor_token_id: Option<ScimTokenId>,
    pub at: i64,
}

impl Operation {
    /// Starts an operation by `actor`, now.
    pub fn start(actor: &Principal) -> Self {
        Operation {
            id: OperationId::new(),
            account_id: actor.account_id,
            actor_id: actor.acting_user(),
            actor_token_id: actor.scim_token_id,
            at: now_ms(),
        }
    }

    /// Starts an operation in `account_id` with no signed-in actor, now.
    pub fn anonymous(account_id: AccountId) -> Self {
        Operation {
            id: OperationId::new(),
            account_id,
            actor_id: None,
            actor_token_id: None,
            at: now_ms(),
        }
    }
}

/// What changed on one object.
pub struct Change {
    pub action: AuditAction,
    pub target_type: &'static str,
    /// A bare UUID: the target may be of any kind `target_type` names.
    pub target_id: Uuid,
    pub target_label: Option<String>,
    /// The team the target is in (after the change), so scoped readers see the event.
    pub target_team_id: Option<TeamId>,
    pub before: Option<Json>,
    pub after: Option<Json>,
}

/// Rows per insert statement: a whole default-sized bulk change (1,000 items) in one
/// statement; 12 parameters a row stay well under SQLite's (32,766) and PostgreSQL's
/// (65,535) bound-parameter limits.
const CHUNK: usize = 1_000;

/// Writes the events of `op`, in the caller's transaction.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    op: &Operation,
    changes: Vec<Change>,
) -> Result<()> {
    if dialect::has_json_recordset(db.get_database_backend()) {
        record_postgres(db, op, changes, None).await
    } else {
        record_sqlite(db, op, changes, None).await
    }
}

/// On SQLite, the change (`write`, first), the events' numbering and rows and the audit rows
/// as one batch of statements: one round trip, as PostgreSQL's one statement.
async fn record_sqlite<C: ConnectionTrait>(
    db: &C,
    op: &Operation,
    changes: Vec<Change>,
    write: Option<Write<'_>>,
) -> Result<()> {
    let mut batch = events::Batch::default();
    if let Some(w) = write {
        batch.push(&w.sql, w.values);
    }
    let numbered = events::sqlite_append(&mut batch, &origin(op), events_of(&changes));
    let rows: Vec<audit_event::ActiveModel> = changes
        .into_iter()
        .map(|c| audit_event::ActiveModel {
            id: Set(AuditEventId::new()),
            account_id: Set(op.account_id),
            operation_id: Set(op.id),
            actor_id: Set(op.actor_id),
            action: Set(c.action),
            target_type: Set(c.target_type.to_owned()),
            target_id: Set(c.target_id),
            target_label: Set(c.target_label),
            target_team_id: Set(c.target_team_id),
            before_json: Set(c.before.map(|j| j.to_string())),
            after_json: Set(c.after.map(|j| j.to_string())),
            created_at: Set(op.at),
            actor_token_id: Set(op.actor_token_id),
        })
        .collect();
    for chunk in rows.chunks(CHUNK) {
        let insert =
            audit_event::Entity::insert_many(chunk.to_vec()).build(DatabaseBackend::Sqlite);
        batch.push(&insert.sql, insert.values.map(|v| v.0).unwrap_or_default());
    }
    events::run_sqlite(db, batch, numbered).await
}

/// A change that is a single data-modifying statement (an `INSERT` without `RETURNING`), for
/// `record_with` to run in the round trip that writes the change's audit rows and events. On
/// PostgreSQL its parameters are `$1…`, its own; on SQLite they are positional (`?`).
pub struct Write<'a> {
    pub sql: Cow<'a, str>,
    pub values: Vec<Value>,
}

/// Like `record`, with the change itself written in the same round trip: on PostgreSQL in the
/// same statement (a data-modifying CTE), on SQLite first in the same batch. Errors of the
/// change (a unique violation) are this call's.
pub async fn record_with<C: ConnectionTrait>(
    db: &C,
    op: &Operation,
    changes: Vec<Change>,
    write: Write<'_>,
) -> Result<()> {
    if dialect::has_json_recordset(db.get_database_backend()) {
        record_postgres(db, op, changes, Some(write)).await
    } else {
        record_sqlite(db, op, changes, Some(write)).await
    }
}

/// All rows of `op` in one `INSERT … SELECT … FROM json_to_recordset($1)`: one statement
/// text and six parameters whatever the number of rows, where a multi-row `VALUES` binds 13
/// parameters a row and is parsed and planned anew for every row count. When the changes are
/// also events, the same statement records them (`events::postgres_statement`): a change's
/// audit and events cost one round trip; with `write`, the change itself too.
async fn record_postgres<C: ConnectionTrait>(
    db: &C,
    op: &Operation,
    changes: Vec<Change>,
    write: Option<Write<'_>>,
) -> Result<()> {
    const INSERT: &str = "INSERT INTO audit_events (id, account_id, operation_id, actor_id, \
        action, target_type, target_id, target_label, target_team_id, before_json, after_json, \
        created_at, actor_token_id) \
        SELECT r.id, $2, $3, $4, r.action, r.target_type, r.target_id, r.target_label, \
        r.target_team_id, r.before_json, r.after_json, $5, $6 \
        FROM json_to_recordset(CAST($1 AS json)) AS r (id uuid, action text, target_type text, \
        target_id uuid, target_label text, target_team_id uuid, before_json text, after_json text)";
    let events = events_of(&changes);
    let rows: Vec<Json> = changes
        .into_iter()
        .map(|c| {
            serde_json::json!({
                "id": Uuid::now_v7(),
                "action": c.action.as_str(),
                "target_type": c.target_type,
                "target_id": c.target_id,
                "target_label": c.target_label,
                "target_team_id": c.target_team_id,
                "before_json": c.before.map(|j| j.to_string()),
                "after_json": c.after.map(|j| j.to_string()),
            })
        })
        .collect();
    let audited = !rows.is_empty();
    let mut values: Vec<Value> = vec![
        Json::Array(rows).to_string().into(),
        op.account_id.into(),
        op.id.into(),
        op.actor_id.into(),
        op.at.into(),
        op.actor_token_id.into(),
    ];
    // The change's own statement, its parameters numbered after the audit's six.
    let written = write.map(|w| {
        let cte = format!("written AS ({})", renumber(&w.sql, values.len()));
        values.extend(w.values);
        cte
    });
    if !audited {
        return match written {
            Some(_) => Err(Error::Internal(anyhow::anyhow!(
                "a change written with its audit has no audit row"
            ))),
            None => Ok(()),
        };
    }
    if events.is_empty() {
        let sql = match &written {
            Some(cte) => format!("WITH {cte} {INSERT}"),
            None => INSERT.to_owned(),
        };
        db.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            sql,
            values,
        ))
        .await?;
        return Ok(());
    }
    let steps = match &written {
        Some(cte) => format!("audit AS ({INSERT}), {cte}"),
        None => format!("audit AS ({INSERT})"),
    };
    let (sql, values) = events::postgres_statement(Some((&steps, values)), &origin(op), events);
    events::run_postgres(db, sql, values).await
}

/// `sql` with each parameter `$n` renumbered `$(n + by)`, to run it after `by` other
/// parameters in one statement. For Roster's own statement texts, which hold no `$` in
/// literals.
fn renumber(sql: &str, by: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        out.push(c);
        if c != '$' {
            continue;
        }
        let mut digits = String::new();
        while let Some(&(_, d)) = chars.peek().filter(|(_, d)| d.is_ascii_digit()) {
            digits.push(d);
            chars.next();
        }
        match digits.parse::<usize>() {
            Ok(n) => out.push_str(&(n + by).to_string()),
            Err(_) => out.push_str(&digits),
        }
    }
    out
}

/// The event log's view of `op`.
fn origin(op: &Operation) -> events::Origin {
    events::Origin {
        account_id: op.account_id,
        operation_id: Some(op.id),
        actor_id: op.actor_id,
        at: op.at,
    }
}

/// The domain events of the audited `changes` (issue 13), written in the same transaction:
/// one per change whose action is an event type (`events::type_of_action`), carrying the
/// change's before/after as its data.
fn events_of(changes: &[Change]) -> Vec<events::NewEvent> {
    changes
        .iter()
        .filter_map(|c| {
            Some(events::NewEvent {
                event_type: events::type_of_action(c.action.as_str())?,
                target_type: c.target_type,
                target_id: c.target_id,
                target_team_id: c.target_team_id,
                data: serde_json::json!({
                    "before": c.before,
                    "after": c.after,
                    "targetLabel": c.target_label,
                }),
            })
        })
        .collect()
}

/// One audit event by id, when the actor may read it in the log (`node(id:)`).
pub async fn get<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    id: AuditEventId,
) -> Result<audit_event::Model> {
    if !actor.can(Permission::AuditView) {
        return Err(Error::NotFound("audit event"));
    }
    access::audit_events(actor)
        .filter(audit_event::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or(Error::NotFound("audit event"))
}

/// Filters of the audit log.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub actor_id: Option<UserId>,
    /// Only the changes a directory made with this SCIM token.
    pub actor_token_id: Option<ScimTokenId>,
    /// A bare UUID: an id of any kind names a target.
    pub target_id: Option<Uuid>,
    /// Only these actions (an empty list matches nothing).
    pub actions: Option<Vec<AuditAction>>,
    pub operation_id: Option<OperationId>,
}

/// The audit log, newest first. Scoped readers see events about objects in their teams and
/// the events they caused themselves.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    filter: &Filter,
    page: &PageArgs,
) -> Result<Listing<audit_event::Entity>> {
    if !actor.can(Permission::AuditView) {
        return Err(Error::forbidden("your role may not read the audit log"));
    }
    page.validate()?;
    let mut select = access::audit_events(actor);
    if let Some(id) = filter.actor_id {
        select = select.filter(audit_event::Column::ActorId.eq(id));
    }
    if let Some(id) = filter.actor_token_id {
        select = select.filter(audit_event::Column::ActorTokenId.eq(id));
    }
    if let Some(id) = filter.target_id {
        select = select.filter(audit_event::Column::TargetId.eq(id));
    }
    if let Some(id) = filter.operation_id {
        select = select.filter(audit_event::Column::OperationId.eq(id));
    }
    if let Some(actions) = &filter.actions {
        select = select.filter(audit_event::Column::Action.is_in(actions.clone()));
    }
    let sort = Sort {
        tag: "created",
        key: audit_event::Column::CreatedAt,
        id: audit_event::Column::Id,
        ascending: false,
    };
    Listing::fetch(db, select, &sort, page, |e| {
        (SortValue::Int(e.created_at), e.id.0)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::renumber;

    #[test]
    fn renumber_shifts_every_parameter() {
        assert_eq!(
            renumber("SELECT $1, $2 FROM t WHERE a = $10 AND b = 'x'", 6),
            "SELECT $7, $8 FROM t WHERE a = $16 AND b = 'x'"
        );
        assert_eq!(renumber("no parameters", 3), "no parameters");
    }
}
