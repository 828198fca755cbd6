//! Webhook endpoints and their deliveries (issue 13).
//!
//! `webhook_endpoints` holds each endpoint's URL, event-type filter, its signing secret
//! sealed with AES-256-GCM (never in clear), the previous secret while a rotation lasts, the
//! position of the last event queued for it (`cursor`) and the worker's lease.
//! `webhook_deliveries` is the endpoint's outbox and log at once: one row per event queued
//! (or redelivery asked for), sent in event order, with its attempts and last result.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000004_webhooks"
    }
}

const UP: &[&str] = &[
    r#"CREATE TABLE webhook_endpoints (
        id {uuid} PRIMARY KEY,
        account_id {uuid} NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        url TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        event_types TEXT NOT NULL DEFAULT '[]',
        secret_sealed TEXT NOT NULL,
        previous_secret_sealed TEXT,
        previous_secret_until BIGINT,
        disabled_at BIGINT,
        disabled_reason TEXT,
        cursor BIGINT NOT NULL DEFAULT 0,
        failing_since BIGINT,
        failed_events INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT NOT NULL DEFAULT 0,
        locked_until BIGINT,
        lease {uuid},
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    )"#,
    "CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id, id)",
    "CREATE INDEX webhook_endpoints_due ON webhook_endpoints (next_attempt_at)",
    "CREATE INDEX webhook_endpoints_lease ON webhook_endpoints (lease)",
    r#"CREATE TABLE webhook_deliveries (
        id {uuid} PRIMARY KEY,
        account_id {uuid} NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        endpoint_id {uuid} NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('EVENT', 'REDELIVERY')),
        event_id TEXT NOT NULL,
        event_position BIGINT NOT NULL,
        event_type TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT NOT NULL,
        response_code INTEGER,
        latency_ms BIGINT,
        last_error TEXT,
        created_at BIGINT NOT NULL,
        finished_at BIGINT
    )"#,
    // The endpoint's queue (oldest event first) and its log, newest first.
    "CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (endpoint_id, status, event_position, id)",
    "CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint_id, id)",
];

const DOWN: &[&str] = &[
    "DROP TABLE webhook_deliveries",
    "DROP TABLE webhook_endpoints",
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
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, DOWN).await
    }
}
