//! What stands in the way of deleting a team or a role: its active users, its open
//! invitations and the live SCIM tokens that act from or with it.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

use super::super::{Error, Result};
use crate::entity::{invite, user};

/// Active users and open invitations that stand in the way of deleting a team or role.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct InTheWay {
    pub users: u64,
    pub pending_invites: u64,
}

impl InTheWay {
    /// Counts the active users whose `user_column` and the open invitations whose
    /// `invite_column` is `id`. Open means not accepted, withdrawn or deleted, so an expired
    /// invitation counts: it can still be resent and would then point at nothing.
    pub(crate) async fn count<C: ConnectionTrait>(
        db: &C,
        user_column: user::Column,
        invite_column: invite::Column,
        id: impl Into<Uuid>,
    ) -> Result<Self> {
        // A team's or a role's id, as the columns say.
        let id: Uuid = id.into();
        let users = user::Entity::find()
            .filter(user_column.eq(id))
            .filter(user::Column::DeletedAt.is_null())
            .count(db)
            .await?;
        let pending_invites = invite::Entity::find()
            .filter(invite_column.eq(id))
            .filter(invite::Column::AcceptedAt.is_null())
            .filter(invite::Column::WithdrawnAt.is_null())
            .filter(invite::Column::DeletedAt.is_null())
            .count(db)
            .await?;
        Ok(InTheWay {
            users,
            pending_invites,
        })
    }

    /// Whether nothing is in the way.
    pub(crate) fn is_clear(self) -> bool {
        self.users == 0 && self.pending_invites == 0
    }

    /// The refusal: `message` followed by the counts, which also become error extensions.
    pub(crate) fn refusal(self, message: String, remedy: &str) -> Error {
        Error::BadInput {
            field: Some("id"),
            message: format!(
                "{message} {} and {}; {remedy}",
                plural(self.users, "active user", "active users"),
                plural(
                    self.pending_invites,
                    "pending invitation",
                    "pending invitations"
                ),
            ),
            details: vec![
                ("users", clamp(self.users)),
                ("pendingInvites", clamp(self.pending_invites)),
            ],
        }
    }
}

/// Refuses to delete a team or role that a live SCIM token still acts from or with: the
/// directory would stop working without anyone having revoked it.
pub(crate) async fn live_scim_tokens_clear<C: ConnectionTrait>(
    db: &C,
    column: crate::entity::scim_token::Column,
    id: impl Into<Uuid>,
) -> Result<()> {
    let id: Uuid = id.into();
    use crate::entity::scim_token;
    let live = scim_token::Entity::find()
        .filter(column.eq(id))
        .filter(scim_token::Column::RevokedAt.is_null())
        .count(db)
        .await?;
    if live == 0 {
        return Ok(());
    }
    Err(Error::BadInput {
        field: Some("id"),
        message: format!(
            "{} still uses it; revoke the token first (scimTokens, revokeScimToken)",
            plural(live, "live SCIM token", "live SCIM tokens")
        ),
        details: vec![("scimTokens", clamp(live))],
    })
}

/// "1 team", "2 teams".
pub(crate) fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub(super) fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
