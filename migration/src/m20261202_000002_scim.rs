//! SCIM Groups (issue 14): `teams.external_id`, the directory's id of a team pushed as a
//! group (SCIM `externalId`; informational, not unique).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000002_scim"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // Case-exact like `users.external_id` (RFC 7643: externalId is caseExact).
        let column = match db.get_database_backend() {
            DatabaseBackend::Postgres => "TEXT COLLATE \"C\"",
            _ => "TEXT",
        };
        db.execute_unprepared(&format!(
            "ALTER TABLE teams ADD COLUMN external_id {column}"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE teams DROP COLUMN external_id")
            .await?;
        Ok(())
    }
}
