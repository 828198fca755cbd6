//! The database handle: one pool for SQLite or PostgreSQL, with the settings a server needs,
//! a statement counter (tests and benchmarks assert query counts with it), the process's
//! count cache (`service::counts`), and the one way to open a write transaction.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::counts::CountCache;
/// The id list condition lives with the other dialect differences; kept here under its old
/// name for callers that still ask `db::id_in`.
pub use super::dialect::id_in;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, ExecResult, QueryResult, SqliteTransactionMode, Statement,
    TransactionOptions, TransactionTrait,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a SQLite writer waits for the write lock before it fails.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLite's WAL size (pages) at which a commit checkpoints it itself (SQLite's default is
/// 1,000). A server checkpoints long before (`Db::checkpoint_wal`).
const WAL_AUTOCHECKPOINT_PAGES: u32 = 4_000;

/// A connected database.
#[derive(Clone)]
pub struct Db {
    conn: DatabaseConnection,
    statements: Arc<AtomicU64>,
    recorder: Arc<Recorder>,
    counts: Arc<CountCache>,
    /// SQLite's writers' queue (one turn); `None` on PostgreSQL, where writers to different
    /// accounts run side by side.
    write_turn: Option<Arc<Semaphore>>,
}

/// Keeps a copy of every statement run while recording is on (the plan checks EXPLAIN
/// what a request really ran). Off, it costs one atomic load per statement.
#[derive(Default)]
struct Recorder {
    on: AtomicBool,
    statements: Mutex<Vec<Statement>>,
}

/// A write transaction (`Db::begin_write`). On SQLite it also holds this process's turn to
/// write: writers queue here, in order, and each starts the moment the one before it ends,
/// instead of polling SQLite's lock with the busy handler's growing sleeps (1, 2, 5, 10 … ms)
/// while the lock may already be free. Dropped without `commit`, it rolls back.
pub struct WriteTxn {
    // Declared first so it is dropped (rolled back) before the turn is handed on.
    txn: DatabaseTransaction,
    _turn: Option<OwnedSemaphorePermit>,
}

impl WriteTxn {
    /// Commits the transaction and hands the turn to the next writer.
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    /// Rolls the transaction back and hands the turn to the next writer.
    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

impl std::ops::Deref for WriteTxn {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DatabaseBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }
}

impl Db {
    /// Connects to `url` (`sqlite:…` or `postgres://…`). A SQLite file is created when missing.
    pub async fn connect(url: &str) -> Result<Self, DbErr> {
        Self::connect_with_pool(url, None).await
    }

    /// Like `connect`, keeping at most `pool_size` PostgreSQL connections (`None`: the
    /// default, `default_pool_size`).
    pub async fn connect_with_pool(url: &str, pool_size: Option<u32>) -> Result<Self, DbErr> {
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10))
            // Shorter than the 10 s request timeout: while the database is down, a request
            // answers a masked INTERNAL_SERVER_ERROR instead of running into the timeout.
            .acquire_timeout(Duration::from_secs(5))
            // A connection idle for a second or more is checked before use, so connections
            // broken by a database restart are dropped and replaced instead of failing one
            // request each; busy connections skip the check, which would otherwise double
            // the round trips of every statement.
            .test_before_acquire_if_idle_for(Duration::from_secs(1));
        if url.starts_with("sqlite:") {
            // WAL lets readers run beside the writer; the busy timeout makes a second writer
            // wait for the first instead of failing with "database is locked"; foreign keys
            // are off by default in SQLite and must be enabled on every connection.
            options
                .max_connections(8)
                .min_connections(1)
                .map_sqlx_sqlite_opts(|o| {
                    o.create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                        .foreign_keys(true)
                        .busy_timeout(SQLITE_BUSY_TIMEOUT)
                        // A server checkpoints on a timer (`checkpoint_wal`), outside the
                        // writers' lock; this is the backstop for processes that do not.
                        .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string())
                });
        } else {
            // PostgreSQL's own plan cache (`plan_cache_mode = auto`): a prepared statement is
            // planned for its values a few times, then reuses a generic plan when that costs
            // no more. Planning a join costs more than running it on a primary key (sign-in:
            // 0.65 ms to plan, 0.16 ms to run, bench/ANALYSIS.md), so forcing a fresh plan on
            // every execution doubled PostgreSQL's CPU per request. The one statement whose
            // best plan depends on a value, the search, writes its pattern into the statement
            // (`search::trigram_search_condition`).
            //
            // The pool is sized for the cores, not for the clients: every statement wakes a
            // backend process, and on a 2-core machine 16 backends taking turns spent ~15%
            // more of PostgreSQL's CPU per request than 4 did, for no more throughput
            // (bench/ANALYSIS.md, "the pool"). Requests beyond the pool wait for a
            // connection (up to the acquire timeout) instead of for a core.
            options
                .max_connections(pool_size.unwrap_or_else(default_pool_size))
                .min_connections(1);
        }
        let mut conn = Database::connect(options).await?;
        let statements = Arc::new(AtomicU64::new(0));
        let recorder = Arc::new(Recorder::default());
        let (counter, record) = (statements.clone(), recorder.clone());
        conn.set_metric_callback(move |info| {
            counter.fetch_add(1, Ordering::Relaxed);
            if record.on.load(Ordering::Relaxed)
                && let Ok(mut kept) = record.statements.lock()
            {
                kept.push(info.statement.clone());
            }
        });
        Ok(Db {
            conn,
            statements,
            recorder,
            counts: Arc::default(),
            write_turn: url
                .starts_with("sqlite:")
                .then(|| Arc::new(Semaphore::new(1))),
        })
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), DbErr> {
        Migrator::up(&self.conn, None).await
    }

    /// Refreshes SQLite's planner statistics where they are missing or stale (`PRAGMA
    /// optimize`). Without statistics SQLite takes every `account_id = ?` for a handful of
    /// rows and walks a whole account's index even when a search's trigram candidates are
    /// one or two rows. PostgreSQL keeps its own (autovacuum), so this does nothing there.
    pub async fn refresh_statistics(&self) -> Result<(), DbErr> {
        self.sqlite_statistics("PRAGMA optimize = 0x10002").await
    }

    /// Copies SQLite's write-ahead log into the database every `every`, until the process
    /// ends; does nothing on PostgreSQL. Without it the commit that finds the log past
    /// `wal_autocheckpoint` pages does the copy (and its `fsync`) itself, while it still holds
    /// the write lock every other writer waits for: a few milliseconds, every few dozen
    /// writes. A `PASSIVE` checkpoint waits for no one and blocks no one; after it, the next
    /// writer starts the log over.
    pub async fn checkpoint_wal(self, every: Duration) {
        if !super::dialect::checkpoints_wal(self.backend()) {
            return;
        }
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self
                .conn
                .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
                .await
            {
                tracing::warn!(error = %e, "SQLite checkpoint failed; the next one retries");
            }
        }
    }

    /// Merges the search indexes' pending entries into their trees every `every`, until the
    /// process ends; does nothing on SQLite. PostgreSQL's GIN (trigram) indexes queue new
    /// entries in a pending list; the write that finds it past `gin_pending_list_limit`
    /// (4 MB) merges it itself, tens of milliseconds more for that one write (a role change
    /// of 1,000 users every few runs: the tail of its latency; a directory's create while it
    /// holds the account lock). Merging here, on a timer, keeps the list short, so writes
    /// rarely find it full. Searches read the pending list too, so results never depend on
    /// this.
    pub async fn merge_search_entries(self, every: Duration) {
        if !super::dialect::has_pending_index_entries(self.backend()) {
            return;
        }
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tick.tick().await;
            match self.merge_pending_search_entries().await {
                Ok(_) => failing = false,
                // Said once per run of failures (say, a role that does not own the indexes).
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "merging the search indexes' pending entries failed; retrying");
                }
                Err(_) => {}
            }
        }
    }

    /// Merges the pending entries of the search indexes (PostgreSQL: `users_search_trgm`,
    /// `invites_email_trgm`) into their trees now; returns the pending-list pages it
    /// removed (0 on SQLite).
    pub async fn merge_pending_search_entries(&self) -> Result<i64, DbErr> {
        if !super::dialect::has_pending_index_entries(self.backend()) {
            return Ok(0);
        }
        let row = self
            .conn
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                "SELECT gin_clean_pending_list('users_search_trgm'::regclass) \
                 + gin_clean_pending_list('invites_email_trgm'::regclass) AS pages",
            ))
            .await?;
        match row {
            Some(row) => row.try_get("", "pages"),
            None => Ok(0),
        }
    }

    /// Gathers SQLite's planner statistics for every table (`ANALYZE`), after a bulk load.
    /// Does nothing on PostgreSQL.
    pub async fn gather_statistics(&self) -> Result<(), DbErr> {
        self.sqlite_statistics("ANALYZE").await
    }

    /// Runs `statement` with at most 1,000 rows sampled per index, so it stays well under a
    /// second at a million users; on SQLite only.
    async fn sqlite_statistics(&self, statement: &'static str) -> Result<(), DbErr> {
        if !super::dialect::needs_planner_statistics(self.backend()) {
            return Ok(());
        }
        // Both on one connection: `analysis_limit` is a per-connection setting.
        let mut conn = self
            .conn
            .get_sqlite_connection_pool()
            .acquire()
            .await
            .map_err(|e| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into())))?;
        for pragma in ["PRAGMA analysis_limit = 1000", statement] {
            sea_orm::sqlx::query(pragma)
                .execute(&mut *conn)
                .await
                .map_err(|e| DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e.into())))?;
        }
        Ok(())
    }

    /// The connection pool, for reads.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// This process's cache of counts, checked against the accounts' count versions
    /// (`service::counts`).
    pub fn counts(&self) -> &CountCache {
        &self.counts
    }

    /// Which database this is.
    pub fn backend(&self) -> DatabaseBackend {
        self.conn.get_database_backend()
    }

    /// How many SQL statements this handle has run so far.
    pub fn statement_count(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Starts keeping a copy of every statement this handle runs (for plan checks).
    pub fn start_recording(&self) {
        if let Ok(mut kept) = self.recorder.statements.lock() {
            kept.clear();
        }
        self.recorder.on.store(true, Ordering::Relaxed);
    }

    /// Stops recording and returns the statements run since `start_recording`.
    pub fn stop_recording(&self) -> Vec<Statement> {
        self.recorder.on.store(false, Ordering::Relaxed);
        self.recorder
            .statements
            .lock()
            .map(|mut kept| std::mem::take(&mut *kept))
            .unwrap_or_default()
    }

    /// Begins a write transaction. On SQLite it first waits for this process's turn to write
    /// (`WriteTxn`), then takes the write lock at `BEGIN` (waiting up to the busy timeout for
    /// another process), so a transaction never fails half-way when it first writes.
    pub async fn begin_write(&self) -> Result<WriteTxn, DbErr> {
        let turn = match &self.write_turn {
            // Past the busy timeout, SQLite's own wait decides (and fails the same way).
            Some(queue) => tokio::time::timeout(SQLITE_BUSY_TIMEOUT, queue.clone().acquire_owned())
                .await
                .ok()
                .and_then(Result::ok),
            None => None,
        };
        let txn = self
            .conn
            .begin_with_options(TransactionOptions {
                isolation_level: None,
                access_mode: None,
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            })
            .await?;
        Ok(WriteTxn { txn, _turn: turn })
    }

    /// Whether the database answers within 2 s (a readiness probe must not hang while the
    /// pool waits for a database that is down).
    pub async fn ping(&self) -> bool {
        matches!(
            tokio::time::timeout(Duration::from_secs(2), self.conn.ping()).await,
            Ok(Ok(()))
        )
    }
}

/// The PostgreSQL pool's default size: twice this machine's cores, at least 4 (the usual
/// rule for a database on a machine like this one: a connection per core busy running a
/// statement, one per core waiting on the network or the disk).
pub fn default_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    u32::try_from(cores.saturating_mul(2))
        .unwrap_or(u32::MAX)
        .max(4)
}

/// Adds every column of `E`, read from `table` (its name or an alias), to `query`'s
/// selection as `{prefix}{column}`: a joined row read beside the main entity's own columns
/// (which keep their names, so the main row decodes without building prefixed names), and
/// decoded with `E::Model::from_query_result(row, prefix)` only where it is needed.
pub(crate) fn select_prefixed<E: sea_orm::EntityTrait>(
    query: &mut sea_orm::sea_query::SelectStatement,
    table: sea_orm::sea_query::DynIden,
    prefix: &str,
) {
    use sea_orm::sea_query::{Alias, Expr};
    use sea_orm::{IdenStatic, Iterable};
    for column in E::Column::iter() {
        query.expr_as(
            Expr::col((table.clone(), column)),
            Alias::new(format!("{prefix}{}", column.as_str())),
        );
    }
}
