//! The database handle: one pool for SQLite or PostgreSQL, with the settings a server needs,
//! a statement counter (tests and benchmarks assert query counts with it), and the one way
//! to open a write transaction.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

/// A connected database.
#[derive(Clone)]
pub struct Db {
    conn: DatabaseConnection,
    statements: Arc<AtomicU64>,
}

impl Db {
    /// Connects to `url` (`sqlite:…` or `postgres://…`). A SQLite file is created when missing.
    pub async fn connect(url: &str) -> Result<Self, DbErr> {
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10))
            // Shorter than the 10 s request timeout: while the database is down, a request
            // answers a masked INTERNAL_SERVER_ERROR instead of running into the timeout.
            .acquire_timeout(Duration::from_secs(5))
            // Every connection is checked before use, so connections broken by a database
            // restart are dropped and replaced instead of failing one request each.
            .test_before_acquire(true);
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
                        .busy_timeout(Duration::from_secs(10))
                });
        } else {
            options.max_connections(16).min_connections(1);
        }
        let mut conn = Database::connect(options).await?;
        let statements = Arc::new(AtomicU64::new(0));
        let counter = statements.clone();
        conn.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        Ok(Db { conn, statements })
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), DbErr> {
        Migrator::up(&self.conn, None).await
    }

    /// The connection pool, for reads.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Which database this is.
    pub fn backend(&self) -> DatabaseBackend {
        self.conn.get_database_backend()
    }

    /// How many SQL statements this handle has run so far.
    pub fn statement_count(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Begins a write transaction. On SQLite it takes the write lock at `BEGIN` (waiting up to
    /// the busy timeout), so a transaction never fails half-way when it first writes.
    pub async fn begin_write(&self) -> Result<DatabaseTransaction, DbErr> {
        self.conn
            .begin_with_options(TransactionOptions {
                isolation_level: None,
                access_mode: None,
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            })
            .await
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
