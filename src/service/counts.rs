//! Exact counts that are not recounted while nothing they count has changed (issue 12,
//! item 4): a broad search's `totalCount` (tens of thousands of matches) costs a scan of
//! the account's users; asked again, it costs one primary-key read.
//!
//! Every account has a **count version** (`count_versions`), raised by triggers in the same
//! transaction as any insert, update or delete of its users or teams — whoever writes
//! (GraphQL, SCIM, the CLI, SQL by hand). A count is cached per process together with the
//! version it was counted at, and both come from **one statement** (one snapshot), so the
//! cached number is the exact count of the state that version names. Before answering from
//! the cache, the current version is read: equal means nothing the count reads has changed
//! since, on any instance; different means count again. So a cached count is never stale,
//! and a change made through another server process shows on the very next request.
//!
//! The cache key is the count statement itself (SHA-256 of its SQL and its values), which holds everything that decides the number: the account, the actor's reach
//! (its teams), the filters and the folded search text. See docs/ARCHITECTURE.md.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, QueryStatementBuilder, SelectStatement};
use sea_orm::{ConnectionTrait, EntityTrait, QueryTrait, Select};
use sha2::{Digest, Sha256};

use super::Result;
use crate::service::ids::AccountId;

/// How many distinct counts a process keeps (each entry is ~50 bytes).
const CAPACITY: usize = 4_096;

type Key = [u8; 32];

/// The per-process cache of counts, by count statement, with the version each was counted at.
pub struct CountCache {
    entries: Mutex<LruCache<Key, Cached>>,
}

#[derive(Copy, Clone, Debug)]
struct Cached {
    version: i64,
    count: u64,
}

impl Default for CountCache {
    fn default() -> Self {
        CountCache {
            entries: Mutex::new(LruCache::new(
                NonZeroUsize::new(CAPACITY).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }
}

impl CountCache {
    fn get(&self, key: &Key) -> Option<Cached> {
        // A poisoned lock only loses the cache: count again.
        self.entries.lock().ok()?.get(key).copied()
    }

    fn put(&self, key: Key, cached: Cached) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.put(key, cached);
        }
    }
}

/// The count version of `account_id` (0 before its first counted write).
fn version_query(account_id: AccountId) -> SelectStatement {
    Query::select()
        .column(Alias::new("version"))
        .from(Alias::new("count_versions"))
        .and_where(Expr::col(Alias::new("account_id")).eq(account_id))
        .to_owned()
}

/// How many rows `select` matches, within `account_id`: from `cache` when the account's
/// count version is still the one the cached number was counted at, else counted (with the
/// version, in one statement) and cached.
///
/// Statements: a cached count costs one (the version); a first count one (count and
/// version together); a count after a change two.
pub async fn count<C, E>(
    db: &C,
    cache: &CountCache,
    account_id: AccountId,
    select: &Select<E>,
) -> Result<u64>
where
    C: ConnectionTrait,
    E: EntityTrait,
{
    let rows = select.as_query().clone();
    // The statement as this database runs it, with its values: the same text and values
    // count the same rows.
    let statement = db.get_database_backend().build(&rows);
    let mut hasher = Sha256::new();
    hasher.update(statement.sql.as_bytes());
    hasher.update(format!("{:?}", statement.values).as_bytes());
    let key: Key = hasher.finalize().into();
    if let Some(cached) = cache.get(&key) {
        let current: Option<i64> = match db.query_one(&version_query(account_id)).await? {
            Some(row) => row.try_get("", "version")?,
            None => None,
        };
        if current.unwrap_or(0) == cached.version {
            return Ok(cached.count);
        }
    }
    let counted = Query::select()
        .expr_as(Expr::cust("COUNT(*)"), "n")
        .from_subquery(rows, Alias::new("matching"))
        .to_owned();
    let both = Query::select()
        .expr_as(
            Expr::SubQuery(None, Box::new(counted.into_sub_query_statement())),
            "n",
        )
        .expr_as(
            Expr::SubQuery(
                None,
                Box::new(version_query(account_id).into_sub_query_statement()),
            ),
            "version",
        )
        .to_owned();
    let (n, version): (i64, Option<i64>) = match db.query_one(&both).await? {
        Some(row) => (row.try_get("", "n")?, row.try_get("", "version")?),
        None => (0, None),
    };
    let cached = Cached {
        version: version.unwrap_or(0),
        count: u64::try_from(n).unwrap_or(0),
    };
    cache.put(key, cached);
    Ok(cached.count)
}
