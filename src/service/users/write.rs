//! The set-based write of a bulk user change.

use super::super::ids::{AccountId, UserId};
use super::super::{Error, Result};
use super::changes::{Target, token_cutoff};
use super::{CHUNK, Status};
use crate::entity::user;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter};

/// The set-based write: one `UPDATE … WHERE id IN (…)` per chunk of ids (`= ANY($1)` with
/// one array parameter on PostgreSQL).
pub(super) async fn write(
    txn: &DatabaseTransaction,
    account_id: AccountId,
    ids: &[UserId],
    target: &Target,
    now: i64,
) -> Result<()> {
    let backend = txn.get_database_backend();
    for chunk in ids.chunks(CHUNK) {
        // Raising `version` here spares the row-version trigger one call per row (its `WHEN`
        // skips rows whose version the statement already raised).
        let update = user::Entity::update_many()
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .col_expr(
                user::Column::Version,
                Expr::col(user::Column::Version).add(1),
            )
            .filter(user::Column::AccountId.eq(account_id))
            .filter(user::Column::DeletedAt.is_null())
            .filter(super::super::dialect::id_in(
                backend,
                user::Column::Id,
                chunk,
            ));
        let update = match target {
            Target::Role(role) => update.col_expr(user::Column::RoleId, Expr::value(role.id)),
            Target::Team(team) => update.col_expr(user::Column::TeamId, Expr::value(team.id)),
            Target::Delete => update.col_expr(user::Column::DeletedAt, Expr::value(now)),
            Target::Status(Status::Suspended) => update
                .col_expr(
                    user::Column::Status,
                    Expr::value(Status::Suspended.as_str()),
                )
                .col_expr(
                    user::Column::TokensValidAfter,
                    Expr::value(token_cutoff(now)),
                ),
            Target::Status(Status::Active) => {
                update.col_expr(user::Column::Status, Expr::value(Status::Active.as_str()))
            }
        };
        let result = update.exec(txn).await?;
        // The account lock keeps the rows as checked; a mismatch means something changed
        // users without it, and the audit log must not claim changes that did not happen.
        if result.rows_affected != chunk.len() as u64 {
            return Err(Error::Internal(anyhow::anyhow!(
                "updated {} of {} users: rows changed outside the account lock",
                result.rows_affected,
                chunk.len()
            )));
        }
    }
    Ok(())
}
