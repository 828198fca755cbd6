//! What differs between the two databases Roster runs on, in one place: row locks, bind
//! parameters, id lists (arrays on PostgreSQL), the users search, statements kept per
//! dialect, the pool's type, the cross-process wake-up and the indexes only PostgreSQL has.
//! Services ask these functions instead of matching on `DatabaseBackend` themselves (docs/ARCHITECTURE.md,
//! "Storage and dialects").
//!
//! SQLite needs no row locks: every write transaction is `BEGIN IMMEDIATE` (`Db::begin_write`),
//! so one writer runs at a time. PostgreSQL runs writers concurrently and locks rows.
//! Anything that is not PostgreSQL is treated as SQLite.

use std::borrow::Cow;

use sea_orm::sea_query::{Expr, ExprTrait, LockType, SimpleExpr};
use sea_orm::{
    ColumnTrait, DatabaseBackend, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Select, Statement, Value,
};
use uuid::Uuid;

use super::search::trigram_search_condition;
use super::text;
use crate::entity::user;

/// Whether the database locks rows (PostgreSQL). Where it does not (SQLite), a lock-only
/// statement has nothing to do and is not sent at all.
pub fn has_row_locks(backend: DatabaseBackend) -> bool {
    backend == DatabaseBackend::Postgres
}

/// How a row read for a change is locked on PostgreSQL.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Lock {
    /// The row is referenced (a team put into a department): it must not be deleted
    /// meanwhile (`FOR SHARE`).
    Share,
    /// The row is changed or deleted (`FOR UPDATE`).
    Update,
    /// The row stands for a set of others and is not itself changed in a key column
    /// (`FOR NO KEY UPDATE`: the account lock, `service::locks`).
    NoKeyUpdate,
}

/// `select` with the locking clause of `lock` on PostgreSQL; unchanged on SQLite.
pub fn locked<E: EntityTrait>(
    select: Select<E>,
    backend: DatabaseBackend,
    lock: Lock,
) -> Select<E> {
    if !has_row_locks(backend) {
        return select;
    }
    match lock {
        Lock::Share => select.lock_shared(),
        Lock::Update => select.lock_exclusive(),
        Lock::NoKeyUpdate => select.lock(LockType::NoKeyUpdate),
    }
}

/// `select` locked `FOR UPDATE` in the order of `column` on PostgreSQL, so two requests
/// locking overlapping sets of rows take them in the same order and cannot deadlock;
/// unchanged (and unordered) on SQLite.
pub fn locked_in_order<E: EntityTrait>(
    select: Select<E>,
    backend: DatabaseBackend,
    column: E::Column,
) -> Select<E> {
    if has_row_locks(backend) {
        select.order_by_asc(column).lock_exclusive()
    } else {
        select
    }
}

/// The `n`th (from 1) bind parameter of a raw statement: `$n` on PostgreSQL, `?` on SQLite.
pub fn param(backend: DatabaseBackend, n: usize) -> String {
    if backend == DatabaseBackend::Postgres {
        format!("${n}")
    } else {
        "?".to_owned()
    }
}

/// A raw statement written with PostgreSQL's `$1, $2, …` parameters, for `backend`: as it
/// is on PostgreSQL, with each `$n` replaced by `?` on SQLite. The parameters must appear in
/// order, each once (SQLite's `?` binds by position).
pub fn sql(backend: DatabaseBackend, postgres: &'static str) -> Cow<'static, str> {
    if backend == DatabaseBackend::Postgres {
        return Cow::Borrowed(postgres);
    }
    let mut out = String::with_capacity(postgres.len());
    let mut chars = postgres.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('?');
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Whether the database can wake other processes when events commit (`LISTEN`/`NOTIFY` on
/// PostgreSQL). SQLite serves one process, which wakes its own subscribers in memory.
pub fn notifies_other_processes(backend: DatabaseBackend) -> bool {
    backend == DatabaseBackend::Postgres
}

/// Whether the database has trigram indexes for substring search beyond `users`
/// (`invites.email` on PostgreSQL, `pg_trgm`); SQLite's FTS5 trigram table covers users only.
pub fn has_invite_email_trigrams(backend: DatabaseBackend) -> bool {
    backend == DatabaseBackend::Postgres
}

/// Whether many rows can go in as one JSON parameter (`json_to_recordset`, PostgreSQL): one
/// statement text and a fixed number of parameters whatever the row count. SQLite gets
/// multi-row `VALUES` instead.
pub fn has_json_recordset(backend: DatabaseBackend) -> bool {
    backend == DatabaseBackend::Postgres
}

/// Whether the planner's statistics must be gathered by Roster (`ANALYZE`, `PRAGMA
/// optimize` on SQLite); PostgreSQL keeps its own (autovacuum).
pub fn needs_planner_statistics(backend: DatabaseBackend) -> bool {
    backend == DatabaseBackend::Sqlite
}

/// Whether the database keeps a write-ahead log that Roster checkpoints itself (SQLite's
/// WAL, `Db::checkpoint_wal`); PostgreSQL checkpoints on its own.
pub fn checkpoints_wal(backend: DatabaseBackend) -> bool {
    backend == DatabaseBackend::Sqlite
}

/// Whether the search indexes are GIN indexes with a pending list that Roster merges itself
/// (`Db::merge_search_entries`); SQLite's trigram tables (FTS5) have none.
pub fn has_pending_index_entries(backend: DatabaseBackend) -> bool {
    backend == DatabaseBackend::Postgres
}

/// `column IN (ids)` as one condition. On PostgreSQL it is `column = ANY($1::uuid[])` with
/// all ids in one array parameter: one statement text (and one prepared statement) for any
/// number of ids, and one parameter to bind instead of a thousand. SQLite has no arrays:
/// `IN (…)` there.
pub fn id_in<C: ColumnTrait, I: Copy + Into<Uuid>>(
    backend: DatabaseBackend,
    column: C,
    ids: &[I],
) -> SimpleExpr {
    if backend == DatabaseBackend::Postgres {
        Expr::cust_with_exprs(
            "$1 = ANY(CAST($2 AS uuid[]))",
            [
                Expr::col((column.entity_name(), column)),
                Expr::val(uuid_array(ids)),
            ],
        )
    } else {
        Expr::col((column.entity_name(), column))
            .is_in(ids.iter().map(|id| Into::<Uuid>::into(*id)))
    }
}

/// PostgreSQL's text form of a `uuid[]`: `{…,…}` (UUIDs need no quoting).
fn uuid_array<I: Copy + Into<Uuid>>(ids: &[I]) -> String {
    let mut out = String::with_capacity(2 + ids.len() * 37);
    out.push('{');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Into::<Uuid>::into(*id).hyphenated().to_string());
    }
    out.push('}');
    out
}

/// `column` is one of `ids`, as the dataloaders ask: on PostgreSQL `= ANY($1)` with the ids
/// as one array, so one prepared statement serves every number of ids (`IN ($1, …, $n)`
/// would be a new statement, parsed and planned anew, for each list length); `IN (…)` on
/// SQLite.
pub fn one_of<C: ColumnTrait, I: Into<Uuid>>(
    backend: DatabaseBackend,
    column: C,
    ids: Vec<I>,
) -> SimpleExpr {
    let ids: Vec<Uuid> = ids.into_iter().map(Into::into).collect();
    match backend {
        DatabaseBackend::Postgres => column.eq_any(ids),
        _ => column.is_in(ids),
    }
}

/// Of two things kept once per dialect (such as a statement built once), the one for
/// `backend`.
pub fn per_backend<'a, T>(backend: DatabaseBackend, postgres: &'a T, sqlite: &'a T) -> &'a T {
    if backend == DatabaseBackend::Postgres {
        postgres
    } else {
        sqlite
    }
}

/// Whether a users list is written with its account in the statement (PostgreSQL, so its
/// plan is made for that account and reused; see `access::users_for_planning`). SQLite binds
/// it. A search's pattern is written in on PostgreSQL too (`search::trigram_search_condition`).
pub fn plans_users_per_account(backend: DatabaseBackend) -> bool {
    backend == DatabaseBackend::Postgres
}

/// `statement` (a page: a `SELECT` ending in its `LIMIT`) with the limit written in as a
/// number on PostgreSQL instead of bound (a page size is one of a hundred values).
///
/// PostgreSQL reuses a prepared statement's generic plan only when that plan's estimated cost
/// is no higher than the plans made for the values. A bound `LIMIT` is unknown to the generic
/// plan, which then costs reading a tenth of the rows instead of 51: the generic plan never
/// won, and every execution of every page was planned again (0.2–0.6 ms of PostgreSQL's CPU
/// per users page at 100,000 users; bench/ANALYSIS.md, "planning every page").
pub fn with_constant_limit(mut statement: Statement) -> Statement {
    if statement.db_backend != DatabaseBackend::Postgres {
        return statement;
    }
    let Some(values) = &mut statement.values else {
        return statement;
    };
    let suffix = format!(" LIMIT ${}", values.0.len());
    let Some(Value::BigUnsigned(Some(limit))) = values.0.last().cloned() else {
        return statement;
    };
    if !statement.sql.ends_with(&suffix) {
        return statement;
    }
    values.0.pop();
    statement.sql.truncate(statement.sql.len() - suffix.len());
    statement.sql.push_str(&format!(" LIMIT {limit}"));
    statement
}

/// `users` narrowed to those whose name or email contains `q`. On PostgreSQL the trigram
/// index (`pg_trgm`) serves the substring test (`search::trigram_search_condition`). On
/// SQLite the search text and the query are folded alike, so a plain substring test is the
/// same match as `LIKE '%q%'`, and SQLite's `instr` runs several times faster than its
/// `LIKE` (a broad search's `totalCount` tests every user of the account); candidates come
/// from the FTS5 trigram table first when the query has a trigram.
pub fn users_search(
    backend: DatabaseBackend,
    select: Select<user::Entity>,
    q: &str,
) -> Select<user::Entity> {
    if backend != DatabaseBackend::Sqlite {
        return select.filter(trigram_search_condition(user::Column::SearchText, q));
    }
    let mut select = select.filter(Expr::cust_with_values(
        "instr(users.search_text, ?) > 0",
        [text::fold(q)],
    ));
    if let Some(pattern) = text::trigram_pattern(q) {
        select = select.filter(Expr::cust_with_values(
            "users.rowid IN (SELECT rowid FROM users_search WHERE search_text LIKE ?)",
            [pattern],
        ));
    }
    select
}

/// Open and idle connections of the pool (cheap: read from the pool's counters); `(0, 0)`
/// for a connection that is neither SQLite nor PostgreSQL.
pub fn pool_size(conn: &DatabaseConnection) -> (usize, usize) {
    match conn.get_database_backend() {
        DatabaseBackend::Sqlite => {
            let pool = conn.get_sqlite_connection_pool();
            (pool.size() as usize, pool.num_idle())
        }
        DatabaseBackend::Postgres => {
            let pool = conn.get_postgres_connection_pool();
            (pool.size() as usize, pool.num_idle())
        }
        _ => (0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_parameters_become_positional_on_sqlite() {
        let pg = "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3) AND d = '$x'";
        assert_eq!(sql(DatabaseBackend::Postgres, pg), pg);
        assert_eq!(
            sql(DatabaseBackend::Sqlite, pg),
            "SELECT a FROM t WHERE b = ? AND c IN (?, ?) AND d = '$x'"
        );
        assert_eq!(param(DatabaseBackend::Postgres, 12), "$12");
        assert_eq!(param(DatabaseBackend::Sqlite, 12), "?");
    }
}
