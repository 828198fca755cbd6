//! The accept page's preview: what the holder of a working invitation link may see, with
//! the token as the only credential. The token itself is made and hashed in
//! `service::invite_mail`.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::super::{Error, Result, now_ms};
use super::accept::refusal;
use super::token_hash;
use crate::entity::{account, invite, role, team, user};

/// Longer "tokens" are not ours; they are refused before hashing.
pub(super) const MAX_TOKEN_LEN: usize = 256;

/// What the holder of a working invitation link is shown before accepting: who invited
/// them, into which organization, team and role, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// The organization (tenant) they join.
    pub account_name: String,
    /// The invited address.
    pub email: String,
    /// The member who sent the invitation, unless unknown or deleted since.
    pub inviter_name: Option<String>,
    /// The team they will belong to.
    pub team_name: String,
    /// The role they will have.
    pub role_name: String,
    /// When the link stops working (ms since the epoch).
    pub expires_at: i64,
}

/// The invitation behind `token`, as its holder may see it — or `None` when the link does
/// not work: unknown, replaced by a resend, accepted, withdrawn, deleted or expired. Every
/// one of those answers the same `None`, so a guessed or stale token learns nothing. Like
/// `accept`, it needs no signed-in actor: the token is the credential. Read-only.
pub async fn preview_by_token<C: ConnectionTrait>(db: &C, token: &str) -> Result<Option<Preview>> {
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Ok(None);
    }
    let Some(found) = invite::Entity::find()
        .filter(invite::Column::TokenHash.eq(token_hash(token)))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if refusal(&found, now_ms()).is_some() {
        return Ok(None);
    }
    let missing = |what: &str| {
        Error::Internal(anyhow::anyhow!(
            "invite {} references a missing {what}",
            found.id
        ))
    };
    let account = account::Entity::find_by_id(found.account_id)
        .one(db)
        .await?
        .ok_or_else(|| missing("account"))?;
    let team = team::Entity::find_by_id(found.team_id)
        .filter(team::Column::AccountId.eq(found.account_id))
        .one(db)
        .await?
        .ok_or_else(|| missing("team"))?;
    let role = role::Entity::find_by_id(found.role_id)
        .filter(role::Column::AccountId.eq(found.account_id))
        .one(db)
        .await?
        .ok_or_else(|| missing("role"))?;
    let inviter = match found.invited_by {
        Some(id) => user::Entity::find_by_id(id)
            .filter(user::Column::AccountId.eq(found.account_id))
            .filter(user::Column::DeletedAt.is_null())
            .one(db)
            .await?
            .map(|u| u.name),
        None => None,
    };
    Ok(Some(Preview {
        account_name: account.name,
        email: found.email,
        inviter_name: inviter,
        team_name: team.name,
        role_name: role.name,
        expires_at: found.expires_at,
    }))
}
