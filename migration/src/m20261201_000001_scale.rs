//! What 100,000-user organizations need from the database.
//!
//! - `user_counts`: active users per (team, role), kept by triggers on `users`, so
//!   `totalCount` of an unfiltered list, `Team.memberCount` and `Role.userCount` read a few
//!   counter rows instead of counting the account's users. Triggers (not service code) keep
//!   it, so every write path — the API, the CLI, `roster seed`, bulk SQL — stays consistent.
//!   PostgreSQL uses statement-level triggers over transition tables (one upsert per
//!   statement, whatever the number of rows); SQLite has only row-level triggers.
//! - Trigram indexes for `search`, so a narrow search finds its rows through an index
//!   instead of reading the whole account: on PostgreSQL `pg_trgm` GIN indexes on the users'
//!   search text and the invites' emails; on SQLite an FTS5 table with the trigram
//!   tokenizer (`users_search`, one row per active user, its rowid the user's rowid), kept
//!   by triggers. Roster never runs `VACUUM`, which could renumber the users' rowids; after
//!   one, rebuild it with `DELETE FROM users_search; INSERT INTO users_search (rowid,
//!   search_text) SELECT rowid, search_text FROM users WHERE deleted_at IS NULL`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000001_scale"
    }
}

const COUNTS_TABLE: &[&str] = &[
    r#"CREATE TABLE user_counts (
        team_id {uuid} NOT NULL,
        role_id {uuid} NOT NULL,
        account_id {uuid} NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        members BIGINT NOT NULL,
        PRIMARY KEY (team_id, role_id)
    )"#,
    "CREATE INDEX user_counts_account ON user_counts (account_id)",
    "CREATE INDEX user_counts_role ON user_counts (role_id)",
    // Counting a broad search's matches (`totalCount` of "an": a quarter of a 100,000-user
    // account) reads this index alone instead of every user row of the account: 290 ms ->
    // 28 ms on SQLite.
    "CREATE INDEX users_account_search ON users (account_id, search_text) WHERE deleted_at IS NULL",
];

/// Counts the users that exist already. Runs after the triggers are installed: on
/// PostgreSQL `CREATE TRIGGER` locks `users` against writes until this transaction commits,
/// so no row is counted twice or missed.
const COUNTS_FILL: &str = r#"INSERT INTO user_counts (team_id, role_id, account_id, members)
    SELECT team_id, role_id, account_id, COUNT(*) FROM users
    WHERE deleted_at IS NULL GROUP BY team_id, role_id, account_id"#;

const SQLITE_UP: &[&str] = &[
    r#"CREATE TRIGGER user_counts_insert AFTER INSERT ON users WHEN NEW.deleted_at IS NULL
    BEGIN
        INSERT INTO user_counts (team_id, role_id, account_id, members)
        VALUES (NEW.team_id, NEW.role_id, NEW.account_id, 1)
        ON CONFLICT (team_id, role_id) DO UPDATE SET members = members + 1;
    END"#,
    r#"CREATE TRIGGER user_counts_delete AFTER DELETE ON users WHEN OLD.deleted_at IS NULL
    BEGIN
        UPDATE user_counts SET members = members - 1
        WHERE team_id = OLD.team_id AND role_id = OLD.role_id;
    END"#,
    r#"CREATE TRIGGER user_counts_update AFTER UPDATE OF team_id, role_id, deleted_at ON users
    BEGIN
        UPDATE user_counts SET members = members - 1
        WHERE OLD.deleted_at IS NULL AND team_id = OLD.team_id AND role_id = OLD.role_id;
        INSERT INTO user_counts (team_id, role_id, account_id, members)
        SELECT NEW.team_id, NEW.role_id, NEW.account_id, 1 WHERE NEW.deleted_at IS NULL
        ON CONFLICT (team_id, role_id) DO UPDATE SET members = members + 1;
    END"#,
    // A pre-filter: `LIKE` can use a trigram index only when it folds case, and the
    // exact, Unicode-aware match is checked again on `users` (see `service::text`).
    "CREATE VIRTUAL TABLE users_search USING fts5(search_text, tokenize = 'trigram case_sensitive 0')",
    r#"CREATE TRIGGER users_search_insert AFTER INSERT ON users WHEN NEW.deleted_at IS NULL
    BEGIN
        INSERT INTO users_search (rowid, search_text) VALUES (NEW.rowid, NEW.search_text);
    END"#,
    r#"CREATE TRIGGER users_search_update AFTER UPDATE OF search_text, deleted_at ON users
    BEGIN
        DELETE FROM users_search WHERE rowid = OLD.rowid;
        INSERT INTO users_search (rowid, search_text)
        SELECT NEW.rowid, NEW.search_text WHERE NEW.deleted_at IS NULL;
    END"#,
    r#"CREATE TRIGGER users_search_delete AFTER DELETE ON users
    BEGIN
        DELETE FROM users_search WHERE rowid = OLD.rowid;
    END"#,
    "INSERT INTO users_search (rowid, search_text) SELECT rowid, search_text FROM users WHERE deleted_at IS NULL",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP INDEX users_account_search",
    "DROP TRIGGER users_search_delete",
    "DROP TRIGGER users_search_update",
    "DROP TRIGGER users_search_insert",
    "DROP TABLE users_search",
    "DROP TRIGGER user_counts_update",
    "DROP TRIGGER user_counts_delete",
    "DROP TRIGGER user_counts_insert",
    "DROP TABLE user_counts",
];

/// One function applies a statement's net change per (team, role); the rows are upserted
/// in key order so two concurrent statements lock counter rows in the same order.
const POSTGRES_UP: &[&str] = &[
    r#"CREATE FUNCTION user_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO user_counts AS c (team_id, role_id, account_id, members)
            SELECT team_id, role_id, account_id, COUNT(*) FROM new_rows
            WHERE deleted_at IS NULL
            GROUP BY team_id, role_id, account_id ORDER BY team_id, role_id
            ON CONFLICT (team_id, role_id) DO UPDATE SET members = c.members + EXCLUDED.members;
        ELSIF TG_OP = 'DELETE' THEN
            UPDATE user_counts AS c SET members = c.members - d.n
            FROM (SELECT team_id, role_id, COUNT(*) AS n FROM old_rows WHERE deleted_at IS NULL
                  GROUP BY team_id, role_id) AS d
            WHERE c.team_id = d.team_id AND c.role_id = d.role_id;
        ELSE
            INSERT INTO user_counts AS c (team_id, role_id, account_id, members)
            SELECT team_id, role_id, account_id, SUM(delta) FROM (
                SELECT team_id, role_id, account_id, 1 AS delta FROM new_rows
                WHERE deleted_at IS NULL
                UNION ALL
                SELECT team_id, role_id, account_id, -1 AS delta FROM old_rows
                WHERE deleted_at IS NULL
            ) AS changes
            GROUP BY team_id, role_id, account_id HAVING SUM(delta) <> 0
            ORDER BY team_id, role_id
            ON CONFLICT (team_id, role_id) DO UPDATE SET members = c.members + EXCLUDED.members;
        END IF;
        RETURN NULL;
    END
    $$"#,
    // A trigger with transition tables takes one event, hence three triggers.
    r#"CREATE TRIGGER user_counts_insert AFTER INSERT ON users
       REFERENCING NEW TABLE AS new_rows
       FOR EACH STATEMENT EXECUTE FUNCTION user_counts_apply()"#,
    r#"CREATE TRIGGER user_counts_update AFTER UPDATE ON users
       REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
       FOR EACH STATEMENT EXECUTE FUNCTION user_counts_apply()"#,
    r#"CREATE TRIGGER user_counts_delete AFTER DELETE ON users
       REFERENCING OLD TABLE AS old_rows
       FOR EACH STATEMENT EXECUTE FUNCTION user_counts_apply()"#,
    // pg_trgm is a trusted extension: a database owner may create it without superuser.
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX users_search_trgm ON users USING gin (search_text gin_trgm_ops) WHERE deleted_at IS NULL",
    "CREATE INDEX invites_email_trgm ON invites USING gin (email gin_trgm_ops) WHERE deleted_at IS NULL",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP INDEX users_account_search",
    "DROP INDEX invites_email_trgm",
    "DROP INDEX users_search_trgm",
    "DROP TRIGGER user_counts_delete ON users",
    "DROP TRIGGER user_counts_update ON users",
    "DROP TRIGGER user_counts_insert ON users",
    "DROP FUNCTION user_counts_apply()",
    "DROP TABLE user_counts",
];

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let uuid = match db.get_database_backend() {
        DatabaseBackend::Postgres => "UUID",
        _ => "BLOB",
    };
    for sql in statements {
        db.execute_unprepared(&sql.replace("{uuid}", uuid)).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on both databases: the counts are filled from a consistent snapshot
    /// of `users` in the same transaction that installs the triggers keeping them.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, COUNTS_TABLE).await?;
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => run(manager, POSTGRES_UP).await?,
            _ => run(manager, SQLITE_UP).await?,
        }
        run(manager, &[COUNTS_FILL]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => run(manager, POSTGRES_DOWN).await,
            _ => run(manager, SQLITE_DOWN).await,
        }
    }
}
