//! Teams and roles are deleted softly.
//!
//! Users are soft-deleted and invites keep their row after they are accepted, withdrawn or
//! deleted, and both keep pointing at their team and role (`NOT NULL` foreign keys) so the
//! history stays readable. A team or role that anyone ever belonged to or was invited to can
//! therefore never lose its row: deleting one marks it with `deleted_at` instead, and the
//! name indexes only cover live rows, so a deleted team's or role's name can be used again.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261128_000001_org_soft_delete"
    }
}

const UP: &[&str] = &[
    "ALTER TABLE teams ADD COLUMN deleted_at BIGINT",
    "DROP INDEX teams_account_name_key",
    "CREATE UNIQUE INDEX teams_account_name_key ON teams (account_id, name_key) WHERE deleted_at IS NULL",
    "ALTER TABLE roles ADD COLUMN deleted_at BIGINT",
    "DROP INDEX roles_account_name_key",
    "CREATE UNIQUE INDEX roles_account_name_key ON roles (account_id, name_key) WHERE deleted_at IS NULL",
];

const DOWN: &[&str] = &[
    "DROP INDEX roles_account_name_key",
    "DELETE FROM roles WHERE deleted_at IS NOT NULL AND id NOT IN (SELECT role_id FROM users) AND id NOT IN (SELECT role_id FROM invites)",
    "CREATE UNIQUE INDEX roles_account_name_key ON roles (account_id, name_key)",
    "ALTER TABLE roles DROP COLUMN deleted_at",
    "DROP INDEX teams_account_name_key",
    "DELETE FROM teams WHERE deleted_at IS NOT NULL AND id NOT IN (SELECT team_id FROM users) AND id NOT IN (SELECT team_id FROM invites)",
    "CREATE UNIQUE INDEX teams_account_name_key ON teams (account_id, name_key)",
    "ALTER TABLE teams DROP COLUMN deleted_at",
];

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for sql in statements {
        db.execute_unprepared(sql).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on SQLite too: all statements then run on one connection (another
    /// pooled connection may still see the old index when the new one is created) and a
    /// failure leaves the schema as it was.
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
