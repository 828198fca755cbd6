//! Count versions (issue 12, item 4): one counter per account, raised by triggers in the
//! transaction of every write that can change how many users a list counts — any insert,
//! update or delete of the account's users, and of its teams (the `departmentIds` filter and
//! a department-wide reach go through teams). A count the server cached together with the
//! version it was counted at is exact as long as the version is unchanged, on every
//! instance: the triggers fire for every writer (GraphQL, SCIM, `roster seed`, SQL by hand).
//!
//! A missing row is version 0; the first bump inserts 1. The counter row stays locked by
//! the writing transaction until it ends (on PostgreSQL), so two writers of one account
//! raise it one after the other and no two committed states share a version.
//!
//! PostgreSQL uses statement-level triggers over transition tables: one upsert per
//! statement, whatever the number of rows (a 1,000-user change raises the version once).
//! SQLite has only row-level triggers; its `UPDATE OF` lists keep the `version` column's own
//! trigger (`users_version`) from raising the count version a second time.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000001_count_versions"
    }
}

const TABLE_UP: &str = r#"CREATE TABLE count_versions (
    account_id {uuid} PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    version BIGINT NOT NULL
)"#;

const POSTGRES_UP: &[&str] = &[
    r#"CREATE FUNCTION count_versions_bump() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO count_versions AS c (account_id, version)
            SELECT DISTINCT account_id, 1 FROM new_rows ORDER BY account_id
            ON CONFLICT (account_id) DO UPDATE SET version = c.version + 1;
        ELSIF TG_OP = 'DELETE' THEN
            INSERT INTO count_versions AS c (account_id, version)
            SELECT DISTINCT account_id, 1 FROM old_rows ORDER BY account_id
            ON CONFLICT (account_id) DO UPDATE SET version = c.version + 1;
        ELSE
            INSERT INTO count_versions AS c (account_id, version)
            SELECT account_id, 1 FROM (
                SELECT account_id FROM new_rows UNION SELECT account_id FROM old_rows
            ) AS changed ORDER BY account_id
            ON CONFLICT (account_id) DO UPDATE SET version = c.version + 1;
        END IF;
        RETURN NULL;
    END
    $$"#,
    // A trigger with transition tables takes one event, hence three per table.
    r#"CREATE TRIGGER count_versions_users_insert AFTER INSERT ON users
       REFERENCING NEW TABLE AS new_rows
       FOR EACH STATEMENT EXECUTE FUNCTION count_versions_bump()"#,
    r#"CREATE TRIGGER count_versions_users_update AFTER UPDATE ON users
       REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
       FOR EACH STATEMENT EXECUTE FUNCTION count_versions_bump()"#,
    r#"CREATE TRIGGER count_versions_users_delete AFTER DELETE ON users
       REFERENCING OLD TABLE AS old_rows
       FOR EACH STATEMENT EXECUTE FUNCTION count_versions_bump()"#,
    r#"CREATE TRIGGER count_versions_teams_insert AFTER INSERT ON teams
       REFERENCING NEW TABLE AS new_rows
       FOR EACH STATEMENT EXECUTE FUNCTION count_versions_bump()"#,
    r#"CREATE TRIGGER count_versions_teams_update AFTER UPDATE ON teams
       REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
       FOR EACH STATEMENT EXECUTE FUNCTION count_versions_bump()"#,
    r#"CREATE TRIGGER count_versions_teams_delete AFTER DELETE ON teams
       REFERENCING OLD TABLE AS old_rows
       FOR EACH STATEMENT EXECUTE FUNCTION count_versions_bump()"#,
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP TRIGGER count_versions_teams_delete ON teams",
    "DROP TRIGGER count_versions_teams_update ON teams",
    "DROP TRIGGER count_versions_teams_insert ON teams",
    "DROP TRIGGER count_versions_users_delete ON users",
    "DROP TRIGGER count_versions_users_update ON users",
    "DROP TRIGGER count_versions_users_insert ON users",
    "DROP FUNCTION count_versions_bump()",
    "DROP TABLE count_versions",
];

/// One upsert of the version of `{row}.account_id`.
const SQLITE_BUMP: &str = "INSERT INTO count_versions (account_id, version) VALUES ({row}.account_id, 1) \
     ON CONFLICT (account_id) DO UPDATE SET version = version + 1;";

/// SQLite triggers: (name, event, table, the row whose account is bumped).
const SQLITE_TRIGGERS: &[(&str, &str, &str, &str)] = &[
    ("count_versions_users_insert", "INSERT", "users", "NEW"),
    (
        "count_versions_users_update",
        "UPDATE OF account_id, team_id, role_id, status, deleted_at, search_text, name_key, email",
        "users",
        "NEW",
    ),
    ("count_versions_users_delete", "DELETE", "users", "OLD"),
    ("count_versions_teams_insert", "INSERT", "teams", "NEW"),
    (
        "count_versions_teams_update",
        "UPDATE OF account_id, department_id, deleted_at",
        "teams",
        "NEW",
    ),
    ("count_versions_teams_delete", "DELETE", "teams", "OLD"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction: the table and its triggers appear together.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared(&TABLE_UP.replace("{uuid}", "UUID"))
                    .await?;
                for sql in POSTGRES_UP {
                    db.execute_unprepared(sql).await?;
                }
            }
            _ => {
                db.execute_unprepared(&TABLE_UP.replace("{uuid}", "BLOB"))
                    .await?;
                for (name, event, table, row) in SQLITE_TRIGGERS {
                    let bump = SQLITE_BUMP.replace("{row}", row);
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {bump} END"
                    ))
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                for sql in POSTGRES_DOWN {
                    db.execute_unprepared(sql).await?;
                }
            }
            _ => {
                for (name, ..) in SQLITE_TRIGGERS {
                    db.execute_unprepared(&format!("DROP TRIGGER {name}"))
                        .await?;
                }
                db.execute_unprepared("DROP TABLE count_versions").await?;
            }
        }
        Ok(())
    }
}
