//! Seat limits: an account may cap its seats (`accounts.seat_limit`, `None` = unlimited).
//! A seat is held by every active user (suspended and deleted users hold none) and every
//! pending invitation (open and not expired). What adds seats — `inviteUsers`,
//! `acceptInvite` (an invitation's seat becomes a user's; refused while the account is over
//! its limit), `reactivateUsers` and the directory's user creation (SCIM) — checks them with
//! `check`/`reserve` inside its write transaction, after taking the account lock
//! (`locks::lock_account_users`, which `access::recheck` takes): two administrators or a
//! directory racing for the last seat from two instances are serialized there, and the
//! second one counts the first one's seat.
//!
//! Lowering the limit below the seats in use is allowed: nobody loses access and pending
//! invitations keep working; only new seats are refused until usage falls below the limit.

use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};

use super::page::KEPT_SUM;
use super::{Error, Result, now_ms};
use crate::entity::{account, invite, user_count};
use crate::service::ids::AccountId;

/// An account's seats at one moment.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Seats {
    /// `None` = unlimited.
    pub limit: Option<i64>,
    /// Active users + pending invitations — counted only when there is a limit (0 without
    /// one: nothing needs the count then, and the hot paths skip it). For the number itself
    /// call `used`.
    pub used: i64,
}

impl Seats {
    /// Whether `n` more seats fit (always, without a limit).
    pub fn fits(self, n: i64) -> bool {
        self.limit.is_none_or(|limit| self.used + n <= limit)
    }

    /// Seats left after taking `n` more (`None` = unlimited); negative when over the limit.
    pub fn remaining_after(self, n: i64) -> Option<i64> {
        self.limit.map(|limit| limit - self.used - n)
    }

    /// How many more seats fit (`None` = unlimited), never below 0.
    pub fn free(self) -> Option<i64> {
        self.remaining_after(0).map(|r| r.max(0))
    }
}

/// Why `reserve` refused: the seats the account has and the ones asked for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SeatLimitExceeded {
    pub limit: i64,
    pub used: i64,
    pub requested: i64,
}

/// The number of seats in use: active users (the kept `user_counts`) plus pending
/// invitations (open, not expired at `now`).
pub async fn used<C: ConnectionTrait>(db: &C, account_id: AccountId, now: i64) -> Result<i64> {
    let query = Query::select()
        .expr_as(Expr::cust(KEPT_SUM), "n")
        .from(user_count::Entity)
        .and_where(user_count::Column::AccountId.eq(account_id))
        .to_owned();
    let users: i64 = match db.query_one(&query).await? {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    let pending = invite::Entity::find()
        .filter(invite::Column::AccountId.eq(account_id))
        .filter(invite::Column::AcceptedAt.is_null())
        .filter(invite::Column::WithdrawnAt.is_null())
        .filter(invite::Column::DeletedAt.is_null())
        .filter(invite::Column::ExpiresAt.gt(now))
        .count(db)
        .await?;
    Ok(users + i64::try_from(pending).unwrap_or(i64::MAX))
}

/// The account's seat limit and, when it has one, the seats in use now. Inside a write,
/// call it after taking the account lock.
pub async fn check<C: ConnectionTrait>(db: &C, account_id: AccountId) -> Result<Seats> {
    let limit: Option<Option<i32>> = account::Entity::find_by_id(account_id)
        .select_only()
        .column(account::Column::SeatLimit)
        .into_tuple()
        .one(db)
        .await?;
    let Some(limit) = limit else {
        return Err(Error::NotFound("account"));
    };
    let limit = limit.map(i64::from);
    let used = match limit {
        Some(_) => used(db, account_id, now_ms()).await?,
        None => 0,
    };
    Ok(Seats { limit, used })
}

/// Like `check`, for a seat limit the caller has already read in its write transaction
/// (after taking the account lock).
pub async fn check_with_limit<C: ConnectionTrait>(
    db: &C,
    account_id: AccountId,
    limit: Option<i64>,
) -> Result<Seats> {
    let used = match limit {
        Some(_) => used(db, account_id, now_ms()).await?,
        None => 0,
    };
    Ok(Seats { limit, used })
}

/// For the directory (SCIM): checks, inside the caller's write transaction, that `n` more
/// seats fit, taking the account lock first so a concurrent reservation on another
/// instance is counted. `Ok(Err(_))` when they do not fit (nothing is written; roll back);
/// `Ok(Ok(seats))` with the seats before the caller's change otherwise. The seat is "taken"
/// by what the caller then writes (an active user or a pending invitation) before commit.
pub async fn reserve(
    txn: &sea_orm::DatabaseTransaction,
    account_id: AccountId,
    n: i64,
) -> Result<std::result::Result<Seats, SeatLimitExceeded>> {
    super::locks::lock_account_users(txn, account_id).await?;
    let seats = check(txn, account_id).await?;
    Ok(match seats.limit {
        Some(limit) if !seats.fits(n) => Err(SeatLimitExceeded {
            limit,
            used: seats.used,
            requested: n,
        }),
        _ => Ok(seats),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seats_fit_up_to_the_limit_and_report_what_remains() {
        let unlimited = Seats {
            limit: None,
            used: 0,
        };
        assert!(unlimited.fits(1_000_000));
        assert_eq!(
            (unlimited.remaining_after(5), unlimited.free()),
            (None, None)
        );
        let limited = Seats {
            limit: Some(10),
            used: 8,
        };
        assert!(limited.fits(2) && !limited.fits(3));
        assert_eq!(limited.remaining_after(2), Some(0));
        assert_eq!(limited.free(), Some(2));
        // Lowered below use: nothing fits, and nothing is "free" below zero.
        let over = Seats {
            limit: Some(5),
            used: 8,
        };
        assert!(!over.fits(1) && !over.fits(0));
        assert_eq!((over.remaining_after(0), over.free()), (Some(-3), Some(0)));
    }
}
