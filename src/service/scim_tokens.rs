//! SCIM credentials: the per-account bearer tokens a directory (Okta, Entra ID, …) uses at
//! `/scim/v2`. Created, listed and revoked by `ACCOUNT_MANAGE` holders; the secret is shown
//! once and only its SHA-256 is stored; at most `MAX_LIVE` live tokens per account (two, so
//! a directory's credential can be rotated without downtime).
//!
//! A token is mapped to a role: the directory acts with that role's permissions and the
//! reach its scope gives (`principal::load_for_scim_token`). A DEPARTMENT- or TEAM-scoped
//! role needs an anchor team, the team its reach is computed from, as a user's own team
//! would be: given at creation (`teamId`) or, left out, the creator's own team. The role must
//! be one the creator could grant (no escalation), and a SELF-scoped role reaches nobody,
//! so it is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::audit::{self, AuditAction, Change, Operation};
use super::ids::{AccountId, RoleId, ScimTokenId, Sent, TeamId};
use super::text::Name;
use super::{Db, Error, Result, access, now_ms, principal, roles, teams};
use crate::auth::{Permission, PermissionSet, Principal, RoleScope};
use crate::entity::scim_token;

/// Live (not revoked) tokens an account may hold at once.
pub const MAX_LIVE: u64 = 2;

/// Every secret starts with this, so secret scanners and people can tell what it is.
pub const SECRET_PREFIX: &str = "roster_scim_";

/// `last_used_at` is written at most this often per token (ms), so a directory's sync does
/// not turn every request into a write.
const LAST_USED_GRANULARITY_MS: i64 = 60_000;

const REFUSAL: &str = "your role may not manage the account's SCIM tokens";

/// A token just created, with its secret: the only time the secret exists outside the
/// directory that receives it.
pub struct Created {
    pub token: scim_token::Model,
    pub secret: String,
}

/// The SHA-256 of a secret: what the database keeps. The secret has 256 bits of entropy, so
/// an unsalted fast hash is enough.
pub fn secret_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

fn new_secret() -> String {
    format!(
        "{SECRET_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
    )
}

fn require_manage(actor: &Principal) -> Result<()> {
    // A directory never manages directory credentials, whatever its role.
    if actor.can(Permission::AccountManage) && actor.scim_token_id.is_none() {
        Ok(())
    } else {
        Err(Error::forbidden(REFUSAL))
    }
}

/// Creates a token for the directory, acting with `role_id` (anchored at `team_id`, or the
/// creator's team, for DEPARTMENT and TEAM scopes; an ORGANIZATION token keeps a given
/// `team_id` as the directory's default team). Refused: without `ACCOUNT_MANAGE`
/// (`Forbidden`); an unknown role or a team outside the creator's reach (`NotFound`); a role
/// the creator could not grant (`Forbidden`); a SELF-scoped role (`BadInput`); a third live
/// token (`LimitExceeded`). Audited as `scim_token.created`.
pub async fn create(
    db: &Db,
    actor: &Principal,
    description: &str,
    role_id: Sent<RoleId>,
    team_id: Option<Sent<TeamId>>,
) -> Result<Created> {
    require_manage(actor)?;
    let description = Name::parse("description", description)?;
    let txn = db.begin_write().await?;
    // The account lock also serializes creations, so two cannot both pass the live count.
    let actor = &access::recheck(&txn, actor, Permission::AccountManage, REFUSAL).await?;
    let role_id = role_id.ok_or(Error::NotFound("role"))?;
    let role = roles::lock_for_reference(&txn, db.backend(), actor.account_id, role_id).await?;
    let scope = role.scope;
    if !actor.can_grant(scope, PermissionSet::from_bits(role.permissions)) {
        return Err(Error::forbidden(
            "this role is wider or more powerful than yours, so a token cannot act with it",
        ));
    }
    let anchor = match scope {
        RoleScope::Self_ => {
            return Err(Error::bad_input(
                "roleId",
                "a SELF-scoped role reaches nobody; choose a role with a wider scope",
            ));
        }
        // An organization-wide token reaches every team; a team given with it is still its
        // anchor: where the directory puts users it names no team for.
        RoleScope::Organization => match team_id {
            None => None,
            Some(sent) => {
                let id = sent.ok_or(Error::NotFound("team"))?;
                Some(
                    teams::lock_for_reference(&txn, db.backend(), actor.account_id, id)
                        .await?
                        .id,
                )
            }
        },
        RoleScope::Department | RoleScope::Team => {
            let id = match team_id {
                Some(sent) => sent.ok_or(Error::NotFound("team"))?,
                None => actor.team_id,
            };
            if !access::acts_in_team(actor, id) {
                return Err(Error::NotFound("team"));
            }
            Some(
                teams::lock_for_reference(&txn, db.backend(), actor.account_id, id)
                    .await?
                    .id,
            )
        }
    };
    let live = scim_token::Entity::find()
        .filter(scim_token::Column::AccountId.eq(actor.account_id))
        .filter(scim_token::Column::RevokedAt.is_null())
        .count(&txn)
        .await?;
    if live >= MAX_LIVE {
        return Err(Error::LimitExceeded(format!(
            "an account has at most {MAX_LIVE} live SCIM tokens; revoke one first"
        )));
    }
    let op = Operation::start(actor);
    let secret = new_secret();
    let token = scim_token::Entity::insert(scim_token::ActiveModel {
        id: Set(ScimTokenId::new()),
        account_id: Set(actor.account_id),
        description: Set(description.into_string()),
        token_hash: Set(secret_hash(&secret)),
        role_id: Set(role.id),
        anchor_team_id: Set(anchor),
        created_by: Set(actor.acting_user()),
        created_at: Set(op.at),
        last_used_at: Set(None),
        revoked_at: Set(None),
    })
    .exec_with_returning(&txn)
    .await?;
    audit::record(
        &txn,
        &op,
        vec![change(
            AuditAction::ScimTokenCreated,
            &token,
            None,
            Some(json!({
                "description": token.description,
                "roleId": role.id.to_string(),
                "role": role.name,
                "teamId": anchor.map(|t| t.to_string()),
            })),
        )],
    )
    .await?;
    txn.commit().await?;
    Ok(Created { token, secret })
}

/// Revokes a token: the directory's next request with it is refused, and a change it has in
/// progress fails its re-check. Revoking a revoked token changes nothing. Audited as
/// `scim_token.revoked`.
pub async fn revoke(
    db: &Db,
    actor: &Principal,
    id: Sent<ScimTokenId>,
) -> Result<scim_token::Model> {
    require_manage(actor)?;
    let id = id.ok_or(Error::NotFound("SCIM token"))?;
    let txn = db.begin_write().await?;
    let actor = &access::recheck(&txn, actor, Permission::AccountManage, REFUSAL).await?;
    let token = scim_token::Entity::find_by_id(id)
        .filter(scim_token::Column::AccountId.eq(actor.account_id))
        .one(&txn)
        .await?
        .ok_or(Error::NotFound("SCIM token"))?;
    if token.revoked_at.is_some() {
        txn.rollback().await?;
        return Ok(token);
    }
    let op = Operation::start(actor);
    scim_token::Entity::update_many()
        .col_expr(scim_token::Column::RevokedAt, Expr::value(op.at))
        .filter(scim_token::Column::Id.eq(token.id))
        .exec(&txn)
        .await?;
    let token = scim_token::Model {
        revoked_at: Some(op.at),
        ..token
    };
    audit::record(
        &txn,
        &op,
        vec![change(
            AuditAction::ScimTokenRevoked,
            &token,
            Some(json!({ "revokedAt": null })),
            Some(json!({ "revokedAt": op.at })),
        )],
    )
    .await?;
    txn.commit().await?;
    Ok(token)
}

/// The account's tokens, live and revoked, newest first (`ACCOUNT_MANAGE`).
pub async fn list<C: ConnectionTrait>(db: &C, actor: &Principal) -> Result<Vec<scim_token::Model>> {
    require_manage(actor)?;
    Ok(scim_token::Entity::find()
        .filter(scim_token::Column::AccountId.eq(actor.account_id))
        .order_by_desc(scim_token::Column::CreatedAt)
        .order_by_desc(scim_token::Column::Id)
        .all(db)
        .await?)
}

/// One token of the actor's account by id, for whoever may see the audit event it made
/// (no secret is ever readable).
pub async fn get_in_account<C: ConnectionTrait>(
    db: &C,
    account_id: AccountId,
    id: ScimTokenId,
) -> Result<Option<scim_token::Model>> {
    Ok(scim_token::Entity::find_by_id(id)
        .filter(scim_token::Column::AccountId.eq(account_id))
        .one(db)
        .await?)
}

/// Authenticates a directory's bearer token (the secret as sent after `Bearer `): the
/// principal the directory acts as (see `principal::load_for_scim_token`). An unknown or
/// revoked token, or one whose role or anchor team was deleted, is `Unauthenticated`.
/// Records when the token was last used (at most once a minute).
pub async fn authenticate<C: ConnectionTrait>(db: &C, secret: &str) -> Result<Principal> {
    if !secret.starts_with(SECRET_PREFIX) {
        return Err(Error::Unauthenticated);
    }
    let hash = secret_hash(secret);
    let (token, principal) =
        principal::sign_in_scim(db, principal::ScimTokenKey::Hash(&hash)).await?;
    let now = now_ms();
    if token
        .last_used_at
        .is_none_or(|t| now - t >= LAST_USED_GRANULARITY_MS)
    {
        scim_token::Entity::update_many()
            .col_expr(scim_token::Column::LastUsedAt, Expr::value(now))
            .filter(scim_token::Column::Id.eq(token.id))
            .filter(
                Condition::any()
                    .add(scim_token::Column::LastUsedAt.is_null())
                    .add(scim_token::Column::LastUsedAt.lt(now - LAST_USED_GRANULARITY_MS)),
            )
            .exec(db)
            .await?;
    }
    Ok(principal)
}

fn change(
    action: AuditAction,
    token: &scim_token::Model,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Change {
    Change {
        action,
        target_type: "ScimToken",
        target_id: token.id.into(),
        target_label: Some(token.description.clone()),
        target_team_id: None,
        before,
        after,
    }
}
