//! The whole data model: tenants, their organization (departments, teams, roles), people
//! (users, invites), the audit log and the mail outbox.
//!
//! Times are stored as integer milliseconds since the Unix epoch on both databases: SQLite
//! has no timestamp type and compares text, so one integer representation keeps ordering,
//! expiry checks and cursors identical everywhere. Ids are UUIDv7 (`UUID` on PostgreSQL,
//! 16-byte `BLOB` on SQLite). Columns that are compared or sorted as keys (`*_key`, emails,
//! search text) use byte order on PostgreSQL (`COLLATE "C"`), which is what SQLite does,
//! so both databases sort and page the same way.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000001_initial"
    }
}

/// The few type names that differ between the two databases.
struct Dialect {
    uuid: &'static str,
    key: &'static str,
    bytes: &'static str,
}

impl Dialect {
    fn of(backend: DatabaseBackend) -> Self {
        match backend {
            DatabaseBackend::Postgres => Dialect {
                uuid: "UUID",
                key: "TEXT COLLATE \"C\"",
                bytes: "BYTEA",
            },
            _ => Dialect {
                uuid: "BLOB",
                key: "TEXT",
                bytes: "BLOB",
            },
        }
    }

    fn render(&self, sql: &str) -> String {
        sql.replace("{uuid}", self.uuid)
            .replace("{key}", self.key)
            .replace("{bytes}", self.bytes)
    }
}

const UP: &[&str] = &[
    r#"CREATE TABLE accounts (
        id {uuid} PRIMARY KEY,
        name TEXT NOT NULL,
        allowed_email_domains TEXT NOT NULL DEFAULT '[]',
        invite_expiry_days INTEGER NOT NULL DEFAULT 7 CHECK (invite_expiry_days BETWEEN 1 AND 30),
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    )"#,
    r#"CREATE TABLE departments (
        id {uuid} PRIMARY KEY,
        account_id {uuid} NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        name_key {key} NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    )"#,
    "CREATE UNIQUE INDEX departments_account_name_key ON departments (account_id, name_key)",
    r#"CREATE TABLE teams (
        id {uuid} PRIMARY KEY,
        account_id {uuid} NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        department_id {uuid} REFERENCES departments (id),
        name TEXT NOT NULL,
        name_key {key} NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    )"#,
    "CREATE UNIQUE INDEX teams_account_name_key ON teams (account_id, name_key)",
    "CREATE INDEX teams_account_department ON teams (account_id, department_id)",
    r#"CREATE TABLE roles (
        id {uuid} PRIMARY KEY,
        account_id {uuid} NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        key {key},
        name TEXT NOT NULL,
        name_key {key} NOT NULL,
        scope TEXT NOT NULL CHECK (scope IN ('ORGANIZATION', 'DEPARTMENT', 'TEAM', 'SELF')),
        permissions BIGINT NOT NULL,
        built_in BOOLEAN NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    )"#,
    "CREATE UNIQUE INDEX roles_account_name_key ON roles (account_id, name_key)",
    "CREATE UNIQUE INDEX roles_account_key ON roles (account_id, key)",
    r#"CREATE TABLE users (
        id {uuid} PRIMARY KEY,
        account_id {uuid} NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        email {key} NOT NULL,
        name TEXT NOT NULL,
        name_key {key} NOT NULL,
        search_text {key} NOT NULL,
        team_id {uuid} NOT NULL REFERENCES teams (id),
        role_id {uuid} NOT NULL REFERENCES roles (id),
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        deleted_at BIGINT
    )"#,
    // One active user per email per account; deleted users keep their row for history.
    "CREATE UNIQUE INDEX users_account_email_active ON users (account_id, email) WHERE deleted_at IS NULL",
    "CREATE INDEX users_account_email ON users (account_id, email)",
    "CREATE INDEX users_account_name ON users (account_id, name_key, id) WHERE deleted_at IS NULL",
    "CREATE INDEX users_account_created ON users (account_id, created_at, id) WHERE deleted_at IS NULL",
    "CREATE INDEX users_team_name ON users (team_id, name_key, id) WHERE deleted_at IS NULL",
    "CREATE INDEX users_role ON users (role_id) WHERE deleted_at IS NULL",
    r#"CREATE TABLE invites (
        id {uuid} PRIMARY KEY,
        account_id {uuid} NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        email {key} NOT NULL,
        team_id {uuid} NOT NULL REFERENCES teams (id),
        role_id {uuid} NOT NULL REFERENCES roles (id),
        invited_by {uuid} REFERENCES users (id),
        token_hash {bytes},
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        last_sent_at BIGINT,
        send_count INTEGER NOT NULL DEFAULT 0,
        accepted_at BIGINT,
        accepted_user_id {uuid} REFERENCES users (id),
        withdrawn_at BIGINT,
        deleted_at BIGINT,
        delivery TEXT NOT NULL DEFAULT 'QUEUED' CHECK (delivery IN ('QUEUED', 'SENT', 'FAILED')),
        delivery_error TEXT,
        updated_at BIGINT NOT NULL
    )"#,
    // At most one open (not accepted, withdrawn or deleted) invite per email per account:
    // the backstop that turns a race between two admins into ALREADY_INVITED.
    "CREATE UNIQUE INDEX invites_account_email_open ON invites (account_id, email) WHERE accepted_at IS NULL AND withdrawn_at IS NULL AND deleted_at IS NULL",
    "CREATE UNIQUE INDEX invites_token_hash ON invites (token_hash)",
    "CREATE INDEX invites_account_created ON invites (account_id, created_at, id) WHERE deleted_at IS NULL",
    "CREATE INDEX invites_account_email ON invites (account_id, email, id) WHERE deleted_at IS NULL",
    "CREATE INDEX invites_account_expires ON invites (account_id, expires_at, id) WHERE deleted_at IS NULL",
    "CREATE INDEX invites_team ON invites (team_id) WHERE deleted_at IS NULL",
    "CREATE INDEX invites_role ON invites (role_id) WHERE deleted_at IS NULL",
    r#"CREATE TABLE audit_events (
        id {uuid} PRIMARY KEY,
        account_id {uuid} NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        operation_id {uuid} NOT NULL,
        actor_id {uuid},
        action TEXT NOT NULL,
        target_type TEXT NOT NULL,
        target_id {uuid} NOT NULL,
        target_label TEXT,
        target_team_id {uuid},
        before_json TEXT,
        after_json TEXT,
        created_at BIGINT NOT NULL
    )"#,
    "CREATE INDEX audit_account_id ON audit_events (account_id, id)",
    "CREATE INDEX audit_account_target ON audit_events (account_id, target_id, id)",
    "CREATE INDEX audit_account_actor ON audit_events (account_id, actor_id, id)",
    "CREATE INDEX audit_account_operation ON audit_events (account_id, operation_id)",
    r#"CREATE TABLE outbox (
        id {uuid} PRIMARY KEY,
        account_id {uuid} NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        invite_id {uuid} NOT NULL REFERENCES invites (id),
        kind TEXT NOT NULL,
        recipient TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SENT', 'FAILED', 'CANCELLED')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT NOT NULL,
        locked_until BIGINT,
        last_error TEXT,
        created_at BIGINT NOT NULL,
        sent_at BIGINT
    )"#,
    "CREATE INDEX outbox_due ON outbox (status, next_attempt_at)",
    "CREATE INDEX outbox_invite ON outbox (invite_id)",
];

const DOWN: &[&str] = &[
    "DROP TABLE outbox",
    "DROP TABLE audit_events",
    "DROP TABLE invites",
    "DROP TABLE users",
    "DROP TABLE roles",
    "DROP TABLE teams",
    "DROP TABLE departments",
    "DROP TABLE accounts",
];

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let dialect = Dialect::of(db.get_database_backend());
    for sql in statements {
        db.execute_unprepared(&dialect.render(sql)).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, DOWN).await
    }
}
