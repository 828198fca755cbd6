//! Roster's database migrations. The same migrations run on SQLite (the embedded default)
//! and PostgreSQL; where the two dialects differ, the difference is spelled out in one
//! place (`Dialect`) so the table definitions read the same for both.

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_initial;
mod m20261128_000001_org_soft_delete;
mod m20261128_000002_user_token_cutoff;
mod m20261201_000001_scale;
mod m20261202_000001_lifecycle;
mod m20261202_000002_scim;
mod m20261202_000003_events;
mod m20261202_000004_webhooks;
mod m20261203_000001_count_versions;
mod m20261203_000002_version_trigger_when;

/// Applies Roster's schema.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_initial::Migration),
            Box::new(m20261128_000001_org_soft_delete::Migration),
            Box::new(m20261128_000002_user_token_cutoff::Migration),
            Box::new(m20261201_000001_scale::Migration),
            Box::new(m20261202_000001_lifecycle::Migration),
            Box::new(m20261202_000002_scim::Migration),
            Box::new(m20261202_000003_events::Migration),
            Box::new(m20261202_000004_webhooks::Migration),
            Box::new(m20261203_000001_count_versions::Migration),
            Box::new(m20261203_000002_version_trigger_when::Migration),
        ]
    }
}
