//! Turning a verified token subject into the `Principal` every service call receives. The
//! user, their role and their team (and a department's teams) are read from the database on
//! every request, in one statement, so a role change, a team move, a suspension or a delete
//! takes effect on the very next request, on every instance.
//! A directory's SCIM token becomes a principal here too (`load_for_scim_token`).

use std::sync::OnceLock;

use super::ids::{ScimTokenId, TeamId, UserId};
use super::rows::{self, Positional};
use super::{Error, Result, dialect};
use crate::auth::{PermissionSet, Principal, Reach, RoleScope};
use crate::entity::{role, scim_token, team, user};
use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, IntoIden, JoinType, SelectStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, FromQueryResult, QueryFilter,
    QueryTrait, Statement, Value,
};

/// Loads the active (not deleted, not suspended) user named by `subject` (a user id) as a
/// principal.
pub async fn load<C: ConnectionTrait>(db: &C, subject: &str) -> Result<Principal> {
    load_for_token(db, subject, None).await
}

/// Like `load`, for a token issued at `issued_at` (seconds): a token older than the user's
/// `tokens_valid_after` (a restored user's old tokens) is refused.
pub async fn load_for_token<C: ConnectionTrait>(
    db: &C,
    subject: &str,
    issued_at: Option<u64>,
) -> Result<Principal> {
    sign_in(db, subject, issued_at).await.map(|s| s.principal)
}

/// Like `load_for_token`, for a user already named by their id (the re-check of a signed-in
/// actor inside a write: nothing to parse again).
pub async fn load_user<C: ConnectionTrait>(
    db: &C,
    user_id: UserId,
    issued_at: Option<u64>,
) -> Result<Principal> {
    sign_in_user(db, user_id, issued_at)
        .await
        .map(|s| s.principal)
}

/// A signed-in caller: the principal, and the rows it was made of, read in the same
/// statement (a request's `viewer` answers from them instead of reading them again).
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub principal: Principal,
    pub rows: CallerRows,
}

/// The rows a signed-in caller's principal was made of, as read when the request started.
#[derive(Clone, Debug)]
pub struct CallerRows {
    pub user: user::Model,
    pub role: role::Model,
    /// The user's team, when it is in the user's account (it always is).
    pub team: Option<team::Model>,
}

/// The alias of the department's teams in `sign_in`'s statement, and of their ids' column;
/// the prefixes of the role's and the team's columns.
const REACH: &str = "reach";
const REACH_TEAM: &str = "reach_team";
const ROLE: &str = "r_";
const TEAM: &str = "t_";

/// Like `load_for_token`, keeping the rows: the user, their role, their team and — for a
/// DEPARTMENT-scoped role — the teams of their team's department, in one statement (one
/// round trip per request, whatever the scope). A department's teams come as one row each,
/// the user's and role's columns repeated; every other scope reads one row.
pub async fn sign_in<C: ConnectionTrait>(
    db: &C,
    subject: &str,
    issued_at: Option<u64>,
) -> Result<SignedIn> {
    // A token's subject is the one client-sent text parsed here: the user's external id.
    let user_id = UserId::parse(subject).ok_or(Error::Unauthenticated)?;
    sign_in_user(db, user_id, issued_at).await
}

/// `sign_in` for the user `user_id`.
pub async fn sign_in_user<C: ConnectionTrait>(
    db: &C,
    user_id: UserId,
    issued_at: Option<u64>,
) -> Result<SignedIn> {
    let statement = sign_in_statement(db.get_database_backend(), user_id);
    let rows = db.query_all_raw(statement).await?;
    let first = rows.first().ok_or(Error::Unauthenticated)?;
    // Read by position (`service::rows`): the columns are found once per request.
    let names = rows::names(first);
    let user = user::Model::decode_at(first, rows::block::<user::Model>(&names, "")?)?;
    let role = role::Model::decode_at(first, rows::block::<role::Model>(&names, ROLE)?)?;
    let team =
        rows::decode_optional_at::<team::Model>(first, rows::block::<team::Model>(&names, TEAM)?)?;
    if let Some(cutoff) = user.tokens_valid_after {
        let issued_ms = issued_at.map(|s| s.saturating_mul(1000) as i64);
        if issued_ms.is_none_or(|t| t < cutoff) {
            return Err(Error::Unauthenticated);
        }
    }
    let scope = role.scope;
    let department = team.as_ref().and_then(|t| t.department_id);
    let (department_id, reach) = match (scope, department) {
        (RoleScope::Organization, _) => (None, Reach::All),
        (RoleScope::Self_, _) => (None, Reach::OnlySelf),
        (RoleScope::Team, _) | (RoleScope::Department, None) => {
            (None, Reach::Teams(vec![user.team_id]))
        }
        (RoleScope::Department, Some(department_id)) => {
            let mut teams = Vec::with_capacity(rows.len());
            for row in &rows {
                if let Some(id) = row.try_get::<Option<TeamId>>("", REACH_TEAM)? {
                    teams.push(id);
                }
            }
            (Some(department_id), Reach::Teams(teams))
        }
    };
    let principal = Principal {
        account_id: user.account_id,
        user_id: user.id,
        team_id: user.team_id,
        department_id,
        role_id: role.id,
        role_key: role.key,
        scope,
        permissions: PermissionSet::from_bits(role.permissions),
        reach,
        token_issued_at: issued_at,
        scim_token_id: None,
    };
    let team = team.filter(|t| t.account_id == user.account_id);
    Ok(SignedIn {
        principal,
        rows: CallerRows { user, role, team },
    })
}

/// `sign_in`'s statement for `user_id`: the user, their role (required), their team and the
/// teams of that team's department when the role is DEPARTMENT-scoped, one row each.
fn sign_in_query(user_id: UserId) -> SelectStatement {
    let mut query = user::Entity::find_by_id(user_id)
        .filter(user::Column::DeletedAt.is_null())
        .filter(user::Column::Status.eq(user::Status::Active))
        .into_query();
    query
        .join(
            JoinType::InnerJoin,
            role::Entity,
            Expr::col((role::Entity, role::Column::Id))
                .equals((user::Entity, user::Column::RoleId)),
        )
        .join(
            JoinType::LeftJoin,
            team::Entity,
            Expr::col((team::Entity, team::Column::Id))
                .equals((user::Entity, user::Column::TeamId)),
        );
    with_department_reach(&mut query, (user::Entity, user::Column::AccountId));
    query
}

/// The end of both sign-in statements, whose `FROM` already joins `roles` and `teams` (the
/// caller's team, or a token's anchor): the teams of that team's department when the role is
/// DEPARTMENT-scoped (aliased `reach`, one row each, their ids as `reach_team`), and the role's
/// and the team's columns, prefixed.
fn with_department_reach(query: &mut SelectStatement, account: (impl IntoIden, impl IntoIden)) {
    let reach = Alias::new(REACH);
    let (table, column) = (account.0.into_iden(), account.1.into_iden());
    query
        .join_as(
            JoinType::LeftJoin,
            team::Entity,
            reach.clone(),
            Condition::all()
                .add(
                    Expr::col((role::Entity, role::Column::Scope))
                        .eq(RoleScope::Department.as_str()),
                )
                .add(Expr::col((reach.clone(), team::Column::AccountId)).equals((table, column)))
                .add(
                    Expr::col((reach.clone(), team::Column::DepartmentId))
                        .equals((team::Entity, team::Column::DepartmentId)),
                ),
        )
        .expr_as(Expr::col((reach, team::Column::Id)), Alias::new(REACH_TEAM));
    super::db::select_prefixed::<role::Entity>(query, role::Entity.into_iden(), ROLE);
    super::db::select_prefixed::<team::Entity>(query, team::Entity.into_iden(), TEAM);
}

/// `sign_in`'s statement on `backend`: its SQL text is built once (it is the same for every
/// user), the user's id is bound for each request.
fn sign_in_statement(backend: DatabaseBackend, user_id: UserId) -> Statement {
    static POSTGRES: OnceLock<Statement> = OnceLock::new();
    static SQLITE: OnceLock<Statement> = OnceLock::new();
    let cell = dialect::per_backend(backend, &POSTGRES, &SQLITE);
    // Built for the nil id, which no user has; the one value that is that id is replaced.
    let mut statement = cell
        .get_or_init(|| backend.build(&sign_in_query(UserId::NIL)))
        .clone();
    let placeholder = Value::from(UserId::NIL);
    if let Some(values) = &mut statement.values {
        for value in values.0.iter_mut().filter(|v| **v == placeholder) {
            *value = Value::from(user_id);
        }
    }
    statement
}

/// Which SCIM token `sign_in_scim` reads: the one whose secret hashes to the given bytes (a
/// request's bearer token), or the one with the given id (the re-check inside a write).
#[derive(Clone, Copy, Debug)]
pub enum ScimTokenKey<'a> {
    Hash(&'a [u8]),
    Id(ScimTokenId),
}

/// The principal of a live (not revoked) SCIM token: the directory acts with the token's
/// role — its permissions, and the reach its scope gives from the token's anchor team (the
/// whole account for an ORGANIZATION-scoped role). It is nobody: `user_id` is the nil UUID.
/// A revoked token, a deleted role or a deleted anchor team refuses it (`Unauthenticated`).
pub async fn load_for_scim_token<C: ConnectionTrait>(
    db: &C,
    token_id: ScimTokenId,
) -> Result<Principal> {
    sign_in_scim(db, ScimTokenKey::Id(token_id))
        .await
        .map(|(_, principal)| principal)
}

/// Like `load_for_scim_token`, for the token `key` names, keeping the token's row: the token,
/// its role, its anchor team and — for a DEPARTMENT-scoped role — the teams of the anchor's
/// department, in one statement (one round trip per SCIM request, as `sign_in` for users).
pub async fn sign_in_scim<C: ConnectionTrait>(
    db: &C,
    key: ScimTokenKey<'_>,
) -> Result<(scim_token::Model, Principal)> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(backend.build(&scim_sign_in_query(key)))
        .await?;
    scim_principal(&rows)
}

/// The token and its principal from the rows of `scim_sign_in_query` (or of a statement that
/// extends it with columns of its own); `Unauthenticated` without a row.
pub(super) fn scim_principal(
    rows: &[sea_orm::QueryResult],
) -> Result<(scim_token::Model, Principal)> {
    let first = rows.first().ok_or(Error::Unauthenticated)?;
    let token = scim_token::Model::from_query_result(first, "")?;
    let role = role::Model::from_query_result(first, ROLE)?;
    let anchor = team::Model::from_query_result_optional(first, TEAM)?;
    let scope = role.scope;
    let (team_id, department_id, reach) = match (scope, token.anchor_team_id) {
        (RoleScope::Organization, _) => (TeamId::NIL, None, Reach::All),
        (RoleScope::Self_, _) | (_, None) => (TeamId::NIL, None, Reach::Teams(Vec::new())),
        // The anchor team was deleted (or is not the account's): the token no longer works.
        (_, Some(_)) => {
            let anchor = anchor.ok_or(Error::Unauthenticated)?;
            match (scope, anchor.department_id) {
                (RoleScope::Department, Some(department_id)) => {
                    let mut teams = Vec::with_capacity(rows.len());
                    for row in rows {
                        if let Some(id) = row.try_get::<Option<TeamId>>("", REACH_TEAM)? {
                            teams.push(id);
                        }
                    }
                    (anchor.id, Some(department_id), Reach::Teams(teams))
                }
                _ => (anchor.id, None, Reach::Teams(vec![anchor.id])),
            }
        }
    };
    let principal = Principal {
        account_id: token.account_id,
        user_id: UserId::NIL,
        team_id,
        department_id,
        role_id: role.id,
        role_key: role.key,
        scope,
        permissions: PermissionSet::from_bits(role.permissions),
        reach,
        token_issued_at: None,
        scim_token_id: Some(token.id),
    };
    Ok((token, principal))
}

/// `sign_in_scim`'s statement: the live token, its live role of the same account (required),
/// its anchor team when live and of the same account, and the teams of the anchor's
/// department when the role is DEPARTMENT-scoped, one row each.
pub(super) fn scim_sign_in_query(key: ScimTokenKey<'_>) -> SelectStatement {
    let find = scim_token::Entity::find().filter(scim_token::Column::RevokedAt.is_null());
    let mut query = match key {
        ScimTokenKey::Hash(hash) => find.filter(scim_token::Column::TokenHash.eq(hash.to_vec())),
        ScimTokenKey::Id(id) => find.filter(scim_token::Column::Id.eq(id)),
    }
    .into_query();
    query
        .join(
            JoinType::InnerJoin,
            role::Entity,
            Condition::all()
                .add(
                    Expr::col((role::Entity, role::Column::Id))
                        .equals((scim_token::Entity, scim_token::Column::RoleId)),
                )
                .add(
                    Expr::col((role::Entity, role::Column::AccountId))
                        .equals((scim_token::Entity, scim_token::Column::AccountId)),
                )
                .add(Expr::col((role::Entity, role::Column::DeletedAt)).is_null()),
        )
        .join(
            JoinType::LeftJoin,
            team::Entity,
            Condition::all()
                .add(
                    Expr::col((team::Entity, team::Column::Id))
                        .equals((scim_token::Entity, scim_token::Column::AnchorTeamId)),
                )
                .add(
                    Expr::col((team::Entity, team::Column::AccountId))
                        .equals((scim_token::Entity, scim_token::Column::AccountId)),
                )
                .add(Expr::col((team::Entity, team::Column::DeletedAt)).is_null()),
        );
    with_department_reach(
        &mut query,
        (scim_token::Entity, scim_token::Column::AccountId),
    );
    query
}
