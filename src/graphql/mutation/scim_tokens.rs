//! Mutations on SCIM credentials: create (the secret is returned once) and revoke. The rules
//! (ACCOUNT_MANAGE, two live tokens, no escalation, the anchor team) live in
//! `service::scim_tokens`.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use crate::graphql::types::ScimToken;
use crate::graphql::{actor, db};
use crate::service;
use crate::service::ids::{RoleId, ScimTokenId, TeamId};

/// Input of `createScimToken`.
#[derive(InputObject)]
pub struct CreateScimTokenInput {
    /// What the token is for, such as "Okta production": 1–100 characters.
    pub description: String,
    /// The role the directory acts with: its permissions bound what the directory may do
    /// and its scope which users it reaches. It must be a role you could grant yourself,
    /// and not SELF-scoped.
    pub role_id: ID,
    /// For a DEPARTMENT- or TEAM-scoped role, the team its reach is computed from (that
    /// team's department, or that team); left out, your own team. For an
    /// ORGANIZATION-scoped role (which reaches every team), optional: the directory's default
    /// team, where SCIM puts users it names no team for (left out: the account's oldest team).
    pub team_id: Option<ID>,
}

/// Input of `revokeScimToken`.
#[derive(InputObject)]
pub struct RevokeScimTokenInput {
    /// The token to revoke.
    pub id: ID,
}

/// A new SCIM token and its secret.
#[derive(SimpleObject)]
pub struct CreateScimTokenPayload {
    /// The token.
    pub scim_token: ScimToken,
    /// The bearer secret for the directory (`Authorization: Bearer <secret>`). Shown only
    /// now: Roster keeps only its hash.
    pub secret: String,
}

/// The token as it is after the mutation.
#[derive(SimpleObject)]
pub struct ScimTokenPayload {
    /// The token.
    pub scim_token: ScimToken,
}

/// SCIM credential mutations.
#[derive(Default)]
pub struct ScimTokenMutations;

#[Object]
impl ScimTokenMutations {
    /// Creates a SCIM bearer token for a directory such as Okta or Entra ID (needs
    /// `ACCOUNT_MANAGE`). At most two tokens are live at a time, so a directory's
    /// credential can be rotated: a third is refused with `LIMIT_EXCEEDED` until one is
    /// revoked. A role you could not grant is `FORBIDDEN`. The secret is in the payload,
    /// once.
    async fn create_scim_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The token's description, role and anchor team.")]
        input: CreateScimTokenInput,
    ) -> Result<CreateScimTokenPayload> {
        let created = service::scim_tokens::create(
            db(ctx)?,
            actor(ctx)?,
            &input.description,
            RoleId::parse(&input.role_id),
            input.team_id.as_ref().map(|t| TeamId::parse(t)),
        )
        .await?;
        Ok(CreateScimTokenPayload {
            scim_token: ScimToken(created.token),
            secret: created.secret,
        })
    }

    /// Revokes a SCIM token (needs `ACCOUNT_MANAGE`): the directory's next request with it
    /// is refused. Revoking a revoked token changes nothing.
    async fn revoke_scim_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The token to revoke.")] input: RevokeScimTokenInput,
    ) -> Result<ScimTokenPayload> {
        let token =
            service::scim_tokens::revoke(db(ctx)?, actor(ctx)?, ScimTokenId::parse(&input.id))
                .await?;
        Ok(ScimTokenPayload {
            scim_token: ScimToken(token),
        })
    }
}
