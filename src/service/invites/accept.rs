//! `acceptInvite`: the holder of a working link becomes a user of the account (or a deleted
//! user of that address comes back), once.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;

use super::super::audit::{self, AuditAction, Change, Operation};
use super::super::email::Email;
use super::super::text::{self, Name};
use super::super::{Db, Error, Result, accounts, is_unique_violation, now_ms, seats};
use super::token::MAX_TOKEN_LEN;
use super::{Status, invite_change, open_condition, snapshot, status, token_hash, user_snapshot};
use crate::entity::{invite, user};

/// Why an invitation link that did exist cannot be used.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AcceptRefusal {
    AlreadyAccepted,
    Withdrawn,
    Expired,
    /// The address belongs to an active user already.
    AlreadyMember,
    /// The account is over its seat limit (it was lowered below the seats in use).
    SeatLimit,
}

impl AcceptRefusal {
    /// The `reason` clients branch on.
    pub fn as_str(self) -> &'static str {
        match self {
            AcceptRefusal::AlreadyAccepted => "ALREADY_ACCEPTED",
            AcceptRefusal::Withdrawn => "WITHDRAWN",
            AcceptRefusal::Expired => "EXPIRED",
            AcceptRefusal::AlreadyMember => "ALREADY_MEMBER",
            AcceptRefusal::SeatLimit => "SEAT_LIMIT",
        }
    }

    /// What to tell the person holding the link.
    pub fn message(self) -> &'static str {
        match self {
            AcceptRefusal::AlreadyAccepted => "this invitation has already been accepted",
            AcceptRefusal::Withdrawn => "this invitation was withdrawn",
            AcceptRefusal::Expired => "this invitation has expired; ask for it to be sent again",
            AcceptRefusal::AlreadyMember => {
                "this email address belongs to a member of the organization already"
            }
            AcceptRefusal::SeatLimit => {
                "the organization has no free seats right now; ask an administrator"
            }
        }
    }
}

/// Why `accept` failed.
#[derive(Debug)]
pub enum AcceptError {
    /// No invitation has this token: it never existed, or a resend replaced it.
    UnknownToken,
    /// The invitation exists but cannot be accepted.
    Refused(AcceptRefusal),
    /// Anything else: a bad name, a database failure.
    Service(Error),
}

impl From<Error> for AcceptError {
    fn from(e: Error) -> Self {
        AcceptError::Service(e)
    }
}

impl From<DbErr> for AcceptError {
    fn from(e: DbErr) -> Self {
        AcceptError::Service(e.into())
    }
}

/// What accepting made.
#[derive(Debug)]
pub struct Accepted {
    pub user: user::Model,
    /// Whether an earlier, deleted user of that address came back (same id).
    pub restored: bool,
}

/// Why an invitation cannot be accepted now, if it cannot.
pub(super) fn refusal(i: &invite::Model, now: i64) -> Option<AcceptRefusal> {
    match status(i, now) {
        Status::Accepted => Some(AcceptRefusal::AlreadyAccepted),
        // A deleted invitation is gone for its holder too: to them it was withdrawn.
        _ if i.deleted_at.is_some() => Some(AcceptRefusal::Withdrawn),
        Status::Withdrawn => Some(AcceptRefusal::Withdrawn),
        Status::Expired => Some(AcceptRefusal::Expired),
        Status::Pending => None,
    }
}

fn is_active_email_violation(e: &Error) -> bool {
    match e {
        Error::Internal(cause) => cause
            .downcast_ref::<DbErr>()
            .is_some_and(|db| is_unique_violation(db, "users_account_email_active")),
        _ => false,
    }
}

/// `acceptInvite`: turns the invitation behind `token` into a user named `name` — the same
/// user as before when that address belonged to a deleted user of the account. Needs no
/// signed-in actor: the token is the credential, and it works once.
pub async fn accept(db: &Db, token: &str, name: &str) -> Result<Accepted, AcceptError> {
    let name = Name::parse("name", name)?;
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(AcceptError::UnknownToken);
    }
    let hash = token_hash(token);
    let txn = db.begin_write().await?;
    let found = invite::Entity::find()
        .filter(invite::Column::TokenHash.eq(hash.clone()))
        .one(&txn)
        .await?
        .ok_or(AcceptError::UnknownToken)?;
    let op = Operation::anonymous(found.account_id);
    let now = op.at;
    if let Some(reason) = refusal(&found, now) {
        return Err(AcceptError::Refused(reason));
    }
    // Seats: the invitation holds one, which becomes the user's; refused only while the
    // account is over its limit. The account lock (taken before any row of this account
    // is touched, as every user change does) orders this against concurrent seat takers.
    if seats::reserve(&txn, found.account_id, 0).await?.is_err() {
        return Err(AcceptError::Refused(AcceptRefusal::SeatLimit));
    }
    // The claim: of two concurrent accepts exactly one changes the row. The token hash is
    // part of the condition, so a link replaced by a resend in the meantime loses too.
    let claimed = invite::Entity::update_many()
        .col_expr(invite::Column::AcceptedAt, Expr::value(now))
        .col_expr(invite::Column::UpdatedAt, Expr::value(now))
        .filter(invite::Column::Id.eq(found.id))
        .filter(invite::Column::TokenHash.eq(hash.clone()))
        .filter(open_condition())
        .filter(invite::Column::ExpiresAt.gt(now))
        .exec(&txn)
        .await?
        .rows_affected;
    if claimed != 1 {
        txn.rollback().await?;
        // The winner has committed by now (PostgreSQL made us wait for it): say what it did.
        let current = invite::Entity::find_by_id(found.id).one(db.conn()).await?;
        return Err(match current {
            Some(i) if i.token_hash.as_deref() == Some(hash.as_slice()) => refusal(&i, now_ms())
                .map(AcceptError::Refused)
                .unwrap_or(AcceptError::UnknownToken),
            _ => AcceptError::UnknownToken,
        });
    }

    let same_email = user::Entity::find()
        .filter(user::Column::AccountId.eq(found.account_id))
        .filter(user::Column::Email.eq(found.email.clone()))
        .order_by_desc(user::Column::DeletedAt)
        .all(&txn)
        .await?;
    if same_email.iter().any(|u| u.deleted_at.is_none()) {
        return Err(AcceptError::Refused(AcceptRefusal::AlreadyMember));
    }
    let email = Email::parse(&found.email).ok_or_else(|| {
        Error::Internal(anyhow::anyhow!(
            "invite {} holds an invalid email",
            found.id
        ))
    })?;
    let (user, before) = match same_email.into_iter().next() {
        Some(old) => {
            let restored = user::Model {
                name: name.as_str().to_owned(),
                name_key: name.key(),
                search_text: text::search_text(name.as_str(), email.as_str()),
                team_id: found.team_id,
                role_id: found.role_id,
                updated_at: now,
                deleted_at: None,
                // Tokens from before the delete must not come back to life with the user.
                tokens_valid_after: Some(now - now.rem_euclid(1000)),
                ..old.clone()
            };
            let result = user::Entity::update_many()
                .col_expr(user::Column::Name, Expr::value(restored.name.clone()))
                .col_expr(
                    user::Column::NameKey,
                    Expr::value(restored.name_key.clone()),
                )
                .col_expr(
                    user::Column::SearchText,
                    Expr::value(restored.search_text.clone()),
                )
                .col_expr(user::Column::TeamId, Expr::value(restored.team_id))
                .col_expr(user::Column::RoleId, Expr::value(restored.role_id))
                .col_expr(user::Column::UpdatedAt, Expr::value(now))
                .col_expr(user::Column::DeletedAt, Expr::value(Option::<i64>::None))
                .col_expr(
                    user::Column::TokensValidAfter,
                    Expr::value(restored.tokens_valid_after),
                )
                .filter(user::Column::Id.eq(old.id))
                .exec(&txn)
                .await;
            match result {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e, "users_account_email_active") => {
                    return Err(AcceptError::Refused(AcceptRefusal::AlreadyMember));
                }
                Err(e) => return Err(e.into()),
            }
            (restored, Some(user_snapshot(&old)))
        }
        None => {
            let inserted = accounts::insert_user(
                &txn,
                found.account_id,
                &email,
                &name,
                found.team_id,
                found.role_id,
                now,
            )
            .await;
            match inserted {
                Ok(user) => (user, None),
                Err(e) if is_active_email_violation(&e) => {
                    return Err(AcceptError::Refused(AcceptRefusal::AlreadyMember));
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    invite::Entity::update_many()
        .col_expr(invite::Column::AcceptedUserId, Expr::value(user.id))
        .filter(invite::Column::Id.eq(found.id))
        .exec(&txn)
        .await?;

    let mut accepted = found.clone();
    accepted.accepted_at = Some(now);
    accepted.accepted_user_id = Some(user.id);
    accepted.updated_at = now;
    let mut invite_after = snapshot(&accepted, now);
    invite_after["acceptedUserId"] = json!(user.id.to_string());
    let restored = before.is_some();
    audit::record(
        &txn,
        &op,
        vec![
            invite_change(
                AuditAction::InviteAccepted,
                &found,
                Some(snapshot(&found, now)),
                Some(invite_after),
            ),
            Change {
                action: if restored {
                    AuditAction::UserRestored
                } else {
                    AuditAction::UserCreated
                },
                target_type: "User",
                target_id: user.id.into(),
                target_label: Some(user.email.clone()),
                target_team_id: Some(user.team_id),
                before,
                after: Some(user_snapshot(&user)),
            },
        ],
    )
    .await?;
    txn.commit().await?;
    Ok(Accepted { user, restored })
}
