//! The team a directory puts users in when it names none (`default_team`), and — for an
//! organization-wide token's first sync — that team, the built-in Sender role and the seat
//! limit read in the statement that re-checks the token (`recheck_with_defaults`).

use sea_orm::sea_query::{Alias, Asterisk, Condition, Expr, ExprTrait, IntoIden, JoinType, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait,
};

use super::super::db::select_prefixed;
use super::super::ids::{ScimTokenId, TeamId};
use super::super::{access, locks, principal};
use super::Result;
use crate::auth::{BuiltInRole, Permission, Principal};
use crate::entity::{account, role, scim_token, team};

/// The team a directory puts users in when it names none — new users, and users removed
/// from a group (SCIM): the team its token is anchored in (for a user principal, their own
/// team), else the account's oldest team (the one it was created with).
pub async fn default_team<C: sea_orm::ConnectionTrait>(
    db: &C,
    actor: &Principal,
) -> Result<Option<TeamId>> {
    if !actor.team_id.is_nil() {
        return Ok(Some(actor.team_id));
    }
    // An organization-wide token reaches every team, so its principal names none; its
    // anchor team, when it has one, is still the directory's default.
    if let Some(token) = actor.scim_token_id {
        // One read: the token's anchor team, if it is live.
        let anchor = Query::select()
            .column(scim_token::Column::AnchorTeamId)
            .from(scim_token::Entity)
            .and_where(scim_token::Column::Id.eq(token))
            .to_owned();
        let live: Option<TeamId> = team::Entity::find()
            .select_only()
            .column(team::Column::Id)
            .filter(team::Column::AccountId.eq(actor.account_id))
            .filter(team::Column::DeletedAt.is_null())
            .filter(team::Column::Id.in_subquery(anchor))
            .into_tuple()
            .one(db)
            .await?;
        if live.is_some() {
            return Ok(live);
        }
    }
    Ok(team::Entity::find()
        .filter(team::Column::AccountId.eq(actor.account_id))
        .filter(team::Column::DeletedAt.is_null())
        .order_by_asc(team::Column::CreatedAt)
        .order_by_asc(team::Column::Id)
        .one(db)
        .await?
        .map(|t| t.id))
}

/// The account's live teams as an organization-wide directory picks its default from them:
/// the token's anchor team first, then the oldest. `CASE` rather than the bare `IN`: a token
/// without an anchor makes it NULL, which PostgreSQL would sort first.
fn directory_teams(actor: &Principal, token: ScimTokenId) -> sea_orm::Select<team::Entity> {
    let anchor = Query::select()
        .column(scim_token::Column::AnchorTeamId)
        .from(scim_token::Entity)
        .and_where(scim_token::Column::Id.eq(token))
        .to_owned();
    let anchor_first = Expr::case(
        Expr::col((team::Entity, team::Column::Id)).in_subquery(anchor),
        0,
    )
    .finally(1);
    team::Entity::find()
        .filter(team::Column::AccountId.eq(actor.account_id))
        .filter(team::Column::DeletedAt.is_null())
        .order_by(Expr::expr(anchor_first), sea_orm::Order::Asc)
        .order_by_asc(team::Column::CreatedAt)
        .order_by_asc(team::Column::Id)
}

/// The team a new user of an organization-wide directory token joins when the directory
/// names none — the token's live anchor team, or else the account's oldest live team (as
/// `default_team`) — share-locked on PostgreSQL like `teams::lock_for_reference`, in one
/// statement. Every team of the account is within such a token's reach.
pub(super) async fn directory_default_team_locked(
    txn: &DatabaseTransaction,
    actor: &Principal,
) -> Result<Option<team::Model>> {
    let Some(token) = actor.scim_token_id else {
        return Ok(None);
    };
    let team = super::super::dialect::locked(
        directory_teams(actor, token),
        txn.get_database_backend(),
        super::super::dialect::Lock::Share,
    )
    .one(txn)
    .await?;
    Ok(team.filter(|t| access::acts_in_team(actor, t.id)))
}

/// What an organization-wide directory's new user gets when the directory names neither
/// team nor role, and the account's seat limit.
pub(super) struct DirectoryDefaults {
    pub(super) team: team::Model,
    pub(super) role: role::Model,
    pub(super) seat_limit: Option<i64>,
}

/// The alias of `recheck_with_defaults`' subquery, the prefixes of its team's and role's
/// columns, and the alias of the seat limit.
const DEFAULTS: &str = "d";
const DEFAULT_TEAM: &str = "dt_";
const DEFAULT_ROLE: &str = "dr_";
const SEAT_LIMIT: &str = "d_seat_limit";

/// `access::recheck` for an organization-wide directory token (`token`) whose new user names
/// neither team nor role, reading in the same statement what that user gets: the team (as
/// `directory_default_team_locked`), the built-in Sender role and the account's seat limit.
/// One round trip fewer under the account lock for every create of a first sync.
///
/// Sound because the statement runs after the lock is taken: its snapshot holds every change
/// committed before, and every change of tokens, teams and roles takes the lock first, so
/// none can commit before this transaction does. The defaults are `None` when one is
/// missing (the caller then reads them one by one, to say which) or when the token is no
/// longer organization-wide.
pub(super) async fn recheck_with_defaults(
    txn: &DatabaseTransaction,
    actor: &Principal,
    token: ScimTokenId,
    permission: Permission,
    refusal: &str,
) -> Result<(Principal, Option<DirectoryDefaults>)> {
    locks::lock_account_users(txn, actor.account_id).await?;
    let mut defaults = directory_teams(actor, token).limit(1).into_query();
    defaults
        .clear_selects()
        .join(
            JoinType::InnerJoin,
            role::Entity,
            Condition::all()
                .add(
                    Expr::col((role::Entity, role::Column::AccountId))
                        .equals((team::Entity, team::Column::AccountId)),
                )
                .add(Expr::col((role::Entity, role::Column::DeletedAt)).is_null())
                .add(Expr::col((role::Entity, role::Column::Key)).eq(BuiltInRole::Sender.as_str())),
        )
        .join(
            JoinType::InnerJoin,
            account::Entity,
            Expr::col((account::Entity, account::Column::Id))
                .equals((team::Entity, team::Column::AccountId)),
        )
        .expr_as(
            Expr::col((account::Entity, account::Column::SeatLimit)),
            Alias::new(SEAT_LIMIT),
        );
    select_prefixed::<team::Entity>(&mut defaults, team::Entity.into_iden(), DEFAULT_TEAM);
    select_prefixed::<role::Entity>(&mut defaults, role::Entity.into_iden(), DEFAULT_ROLE);
    // The token's rows (one per reach team) with the defaults' one row beside each.
    let mut query = principal::scim_sign_in_query(principal::ScimTokenKey::Id(token));
    query
        .join_subquery(
            JoinType::LeftJoin,
            defaults,
            Alias::new(DEFAULTS),
            Expr::cust("1 = 1"),
        )
        .column((Alias::new(DEFAULTS), Asterisk));
    let backend = txn.get_database_backend();
    let rows = txn.query_all_raw(backend.build(&query)).await?;
    let (_, now) = principal::scim_principal(&rows)?;
    let now = access::still_may(actor, now, permission, refusal)?;
    let Some(row) = rows.first() else {
        return Ok((now, None));
    };
    let team = team::Model::from_query_result_optional(row, DEFAULT_TEAM)?;
    let role = role::Model::from_query_result_optional(row, DEFAULT_ROLE)?;
    let defaults = match (team, role) {
        (Some(team), Some(role)) if now.team_id.is_nil() && access::acts_in_team(&now, team.id) => {
            Some(DirectoryDefaults {
                team,
                role,
                seat_limit: row.try_get::<Option<i32>>("", SEAT_LIMIT)?.map(i64::from),
            })
        }
        _ => None,
    };
    Ok((now, defaults))
}
