//! Directory provisioning (issue 14): user lifecycle, seat limits and SCIM credentials.
//!
//! - `users.status`: `ACTIVE` or `SUSPENDED` (deleted stays `deleted_at`). A suspended user
//!   keeps their row, team and role but cannot sign in and is not counted in `user_counts`
//!   (the triggers are rewritten to count `deleted_at IS NULL AND status = 'ACTIVE'`).
//! - `users.external_id`: the directory's id for the user (SCIM `externalId`), unique per
//!   account among non-deleted users when set.
//! - `users.version`, `teams.version`: a counter raised by a trigger on every update of the
//!   row, whoever writes it — the stable version behind SCIM ETags.
//! - `accounts.seat_limit` (NULL = unlimited) and `accounts.scim_deprovision` (what SCIM
//!   `DELETE` does: `DELETE` or `SUSPEND`).
//! - `scim_tokens`: directory bearer tokens, stored only as the SHA-256 of the secret.
//! - `USERS_SUSPEND` for every role that holds `USERS_DELETE`.
//! - `audit_events.actor_token_id`: the SCIM token that made a change (its `actor_id` is
//!   then NULL).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000001_lifecycle"
    }
}

const COMMON_UP: &[&str] = &[
    "ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'SUSPENDED'))",
    "ALTER TABLE users ADD COLUMN external_id {key}",
    "ALTER TABLE users ADD COLUMN version BIGINT NOT NULL DEFAULT 1",
    "CREATE UNIQUE INDEX users_account_external_id ON users (account_id, external_id) WHERE external_id IS NOT NULL AND deleted_at IS NULL",
    "ALTER TABLE teams ADD COLUMN version BIGINT NOT NULL DEFAULT 1",
    "ALTER TABLE accounts ADD COLUMN seat_limit INTEGER CHECK (seat_limit >= 0)",
    "ALTER TABLE accounts ADD COLUMN scim_deprovision TEXT NOT NULL DEFAULT 'DELETE' CHECK (scim_deprovision IN ('DELETE', 'SUSPEND'))",
    "ALTER TABLE audit_events ADD COLUMN actor_token_id {uuid}",
    r#"CREATE TABLE scim_tokens (
        id {uuid} PRIMARY KEY,
        account_id {uuid} NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        description TEXT NOT NULL,
        token_hash {bytes} NOT NULL,
        role_id {uuid} NOT NULL REFERENCES roles (id),
        anchor_team_id {uuid} REFERENCES teams (id),
        created_by {uuid} REFERENCES users (id),
        created_at BIGINT NOT NULL,
        last_used_at BIGINT,
        revoked_at BIGINT
    )"#,
    "CREATE UNIQUE INDEX scim_tokens_token_hash ON scim_tokens (token_hash)",
    "CREATE INDEX scim_tokens_account ON scim_tokens (account_id, created_at, id)",
    // USERS_SUSPEND (bit 10) goes to every role that may delete users (bit 4): Admin,
    // Department Admin and custom roles with USERS_DELETE — suspending is the milder step.
    "UPDATE roles SET permissions = permissions | 1024 WHERE (permissions & 16) <> 0",
];

const COMMON_DOWN: &[&str] = &[
    "UPDATE roles SET permissions = permissions & ~1024",
    "DROP TABLE scim_tokens",
    "ALTER TABLE audit_events DROP COLUMN actor_token_id",
    "ALTER TABLE accounts DROP COLUMN scim_deprovision",
    "ALTER TABLE accounts DROP COLUMN seat_limit",
    "ALTER TABLE teams DROP COLUMN version",
    "DROP INDEX users_account_external_id",
    "ALTER TABLE users DROP COLUMN version",
    "ALTER TABLE users DROP COLUMN external_id",
    "ALTER TABLE users DROP COLUMN status",
];

/// SQLite: the counting triggers again, counting active users only and also firing on
/// status changes; the version triggers (SQLite's recursive triggers are off, and the
/// `WHEN` keeps a direct write of `version` as it is).
const SQLITE_UP: &[&str] = &[
    "DROP TRIGGER user_counts_insert",
    "DROP TRIGGER user_counts_delete",
    "DROP TRIGGER user_counts_update",
    r#"CREATE TRIGGER user_counts_insert AFTER INSERT ON users
    WHEN NEW.deleted_at IS NULL AND NEW.status = 'ACTIVE'
    BEGIN
        INSERT INTO user_counts (team_id, role_id, account_id, members)
        VALUES (NEW.team_id, NEW.role_id, NEW.account_id, 1)
        ON CONFLICT (team_id, role_id) DO UPDATE SET members = members + 1;
    END"#,
    r#"CREATE TRIGGER user_counts_delete AFTER DELETE ON users
    WHEN OLD.deleted_at IS NULL AND OLD.status = 'ACTIVE'
    BEGIN
        UPDATE user_counts SET members = members - 1
        WHERE team_id = OLD.team_id AND role_id = OLD.role_id;
    END"#,
    r#"CREATE TRIGGER user_counts_update AFTER UPDATE OF team_id, role_id, deleted_at, status ON users
    BEGIN
        UPDATE user_counts SET members = members - 1
        WHERE OLD.deleted_at IS NULL AND OLD.status = 'ACTIVE'
          AND team_id = OLD.team_id AND role_id = OLD.role_id;
        INSERT INTO user_counts (team_id, role_id, account_id, members)
        SELECT NEW.team_id, NEW.role_id, NEW.account_id, 1
        WHERE NEW.deleted_at IS NULL AND NEW.status = 'ACTIVE'
        ON CONFLICT (team_id, role_id) DO UPDATE SET members = members + 1;
    END"#,
    r#"CREATE TRIGGER users_version AFTER UPDATE ON users WHEN NEW.version = OLD.version
    BEGIN
        UPDATE users SET version = OLD.version + 1 WHERE rowid = NEW.rowid;
    END"#,
    r#"CREATE TRIGGER teams_version AFTER UPDATE ON teams WHEN NEW.version = OLD.version
    BEGIN
        UPDATE teams SET version = OLD.version + 1 WHERE rowid = NEW.rowid;
    END"#,
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER teams_version",
    "DROP TRIGGER users_version",
    "DROP TRIGGER user_counts_insert",
    "DROP TRIGGER user_counts_delete",
    "DROP TRIGGER user_counts_update",
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
];

/// PostgreSQL: the one counting function again, counting active users only (the triggers
/// that call it stay); the version triggers set the new row's version before it is written.
const POSTGRES_UP: &[&str] = &[
    r#"CREATE OR REPLACE FUNCTION user_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO user_counts AS c (team_id, role_id, account_id, members)
            SELECT team_id, role_id, account_id, COUNT(*) FROM new_rows
            WHERE deleted_at IS NULL AND status = 'ACTIVE'
            GROUP BY team_id, role_id, account_id ORDER BY team_id, role_id
            ON CONFLICT (team_id, role_id) DO UPDATE SET members = c.members + EXCLUDED.members;
        ELSIF TG_OP = 'DELETE' THEN
            UPDATE user_counts AS c SET members = c.members - d.n
            FROM (SELECT team_id, role_id, COUNT(*) AS n FROM old_rows
                  WHERE deleted_at IS NULL AND status = 'ACTIVE'
                  GROUP BY team_id, role_id) AS d
            WHERE c.team_id = d.team_id AND c.role_id = d.role_id;
        ELSE
            INSERT INTO user_counts AS c (team_id, role_id, account_id, members)
            SELECT team_id, role_id, account_id, SUM(delta) FROM (
                SELECT team_id, role_id, account_id, 1 AS delta FROM new_rows
                WHERE deleted_at IS NULL AND status = 'ACTIVE'
                UNION ALL
                SELECT team_id, role_id, account_id, -1 AS delta FROM old_rows
                WHERE deleted_at IS NULL AND status = 'ACTIVE'
            ) AS changes
            GROUP BY team_id, role_id, account_id HAVING SUM(delta) <> 0
            ORDER BY team_id, role_id
            ON CONFLICT (team_id, role_id) DO UPDATE SET members = c.members + EXCLUDED.members;
        END IF;
        RETURN NULL;
    END
    $$"#,
    r#"CREATE FUNCTION row_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.version = OLD.version THEN
            NEW.version := OLD.version + 1;
        END IF;
        RETURN NEW;
    END
    $$"#,
    "CREATE TRIGGER users_version BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION row_version_bump()",
    "CREATE TRIGGER teams_version BEFORE UPDATE ON teams FOR EACH ROW EXECUTE FUNCTION row_version_bump()",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP TRIGGER teams_version ON teams",
    "DROP TRIGGER users_version ON users",
    "DROP FUNCTION row_version_bump()",
    r#"CREATE OR REPLACE FUNCTION user_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
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
];

/// Recounts after a down migration: suspended users count again.
const RECOUNT: &[&str] = &[
    "DELETE FROM user_counts",
    r#"INSERT INTO user_counts (team_id, role_id, account_id, members)
    SELECT team_id, role_id, account_id, COUNT(*) FROM users
    WHERE deleted_at IS NULL GROUP BY team_id, role_id, account_id"#,
];

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let (uuid, key, bytes) = match db.get_database_backend() {
        DatabaseBackend::Postgres => ("UUID", "TEXT COLLATE \"C\"", "BYTEA"),
        _ => ("BLOB", "TEXT", "BLOB"),
    };
    for sql in statements {
        let sql = sql
            .replace("{uuid}", uuid)
            .replace("{key}", key)
            .replace("{bytes}", bytes);
        db.execute_unprepared(&sql).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on both databases: the triggers are swapped atomically, so no write
    /// is counted by neither or both.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    /// Every existing user is ACTIVE, so the kept counts stay exact without a recount.
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, COMMON_UP).await?;
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => run(manager, POSTGRES_UP).await,
            _ => run(manager, SQLITE_UP).await,
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => run(manager, POSTGRES_DOWN).await?,
            _ => run(manager, SQLITE_DOWN).await?,
        }
        run(manager, COMMON_DOWN).await?;
        run(manager, RECOUNT).await
    }
}
