//! What differs between the two databases Roster runs on, in one place: row locks, bind
//! parameters, the cross-process wake-up and the indexes only PostgreSQL has. Services ask
//! these functions instead of matching on `DatabaseBackend` themselves (docs/ARCHITECTURE.md,
//! "Storage and dialects").
//!
//! SQLite needs no row locks: every write transaction is `BEGIN IMMEDIATE` (`Db::begin_write`),
//! so one writer runs at a time. PostgreSQL runs writers concurrently and locks rows.
//! Anything that is not PostgreSQL is treated as SQLite.

use std::borrow::Cow;

use sea_orm::sea_query::LockType;
use sea_orm::{DatabaseBackend, EntityTrait, QueryOrder, QuerySelect, Select};

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
