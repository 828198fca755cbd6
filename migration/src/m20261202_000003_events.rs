//! The event log (issue 13): one domain event per changed object, written in the
//! transaction of the change, read by the event feed, the GraphQL subscription and the
//! webhook outbox.
//!
//! - `events.seq` numbers an account's events 1, 2, 3, … in commit order: it is taken from
//!   `event_sequences` (one row per account) with an upsert that holds the row's lock until
//!   the writing transaction ends, so a transaction with a larger number commits after every
//!   one with a smaller number, and a reader that resumes after number N never skips a row
//!   that becomes visible later. The counter lives apart from the events so pruning old
//!   events (retention) never lets a number be handed out twice.
//! - `target_team_id` and `actor_id` carry the reach of the event (the same rule as the audit
//!   log's); `data_json` is the event's payload (`before`/`after` as the API shows them).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000003_events"
    }
}

const UP: &[&str] = &[
    r#"CREATE TABLE events (
        id {uuid} PRIMARY KEY,
        account_id {uuid} NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        seq BIGINT NOT NULL,
        event_type TEXT NOT NULL,
        operation_id {uuid},
        actor_id {uuid},
        target_type TEXT NOT NULL,
        target_id {uuid} NOT NULL,
        target_team_id {uuid},
        data_json TEXT NOT NULL,
        created_at BIGINT NOT NULL
    )"#,
    "CREATE UNIQUE INDEX events_account_seq ON events (account_id, seq)",
    "CREATE INDEX events_created ON events (created_at)",
    r#"CREATE TABLE event_sequences (
        account_id {uuid} PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
        last_seq BIGINT NOT NULL
    )"#,
];

const DOWN: &[&str] = &["DROP TABLE event_sequences", "DROP TABLE events"];

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
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, DOWN).await
    }
}
