//! Bulk user changes without a trigger call per row (issue 12, item 6): on PostgreSQL the
//! `users_version` trigger fires only `WHEN (NEW.version = OLD.version)`, so a writer that
//! raises `version` itself (the bulk changes in `service/users.rs` set `version = version + 1`)
//! skips one PL/pgSQL call per row — 1,000 of them in a 1,000-user change. Every other writer
//! still gets its version raised by the trigger, as before. (SQLite's trigger already has
//! that `WHEN`.)

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000002_version_trigger_when"
    }
}

const UP: &[&str] = &[
    "DROP TRIGGER users_version ON users",
    "CREATE TRIGGER users_version BEFORE UPDATE ON users FOR EACH ROW \
     WHEN (NEW.version = OLD.version) EXECUTE FUNCTION row_version_bump()",
];

const DOWN: &[&str] = &[
    "DROP TRIGGER users_version ON users",
    "CREATE TRIGGER users_version BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION row_version_bump()",
];

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let db = manager.get_connection();
    for sql in statements {
        db.execute_unprepared(sql).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, DOWN).await
    }
}
