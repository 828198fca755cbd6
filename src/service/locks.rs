//! Locks that serialize changes which must see each other: every change to an account's
//! users (role, team, delete) takes the account lock first, so invariants that span many
//! rows — above all "an account keeps at least one active Admin" — hold even when two
//! server processes change users of one account at the same moment.

use sea_orm::{DatabaseTransaction, EntityTrait, QuerySelect};
use uuid::Uuid;

use super::dialect::{self, Lock};
use super::{Error, Result};
use crate::entity::account;
use crate::service::ids::AccountId;

/// Takes the account's user-change lock for the rest of `txn`.
///
/// On PostgreSQL this locks the account row (`SELECT … FOR NO KEY UPDATE`): a second
/// transaction waits here until the first commits, and — READ COMMITTED taking a fresh
/// snapshot per statement — then reads what the first wrote. `NO KEY UPDATE`, not `UPDATE`:
/// every insert of a row that references the account (an audit event, an invite, an
/// accepted invitation's user) takes a `KEY SHARE` lock on it for its foreign key, which
/// `FOR UPDATE` would block. An `acceptInvite` waiting there while holding the counter row
/// of its new user's team and role (`user_counts`) deadlocked with a bulk change holding
/// the account lock and waiting for that counter row. SQLite has no row locks, and needs none:
/// `Db::begin_write` opens transactions with `BEGIN IMMEDIATE`, which already admits one
/// writer at a time.
pub async fn lock_account_users(txn: &DatabaseTransaction, account_id: AccountId) -> Result<()> {
    use sea_orm::ConnectionTrait;
    let backend = txn.get_database_backend();
    if !dialect::has_row_locks(backend) {
        return Ok(());
    }
    let select = account::Entity::find_by_id(account_id)
        .select_only()
        .column(account::Column::Id);
    dialect::locked(select, backend, Lock::NoKeyUpdate)
        .into_tuple::<Uuid>()
        .one(txn)
        .await?
        .map(|_| ())
        .ok_or(Error::NotFound("account"))
}
