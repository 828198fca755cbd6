//! Reach: which users, invitations, teams, departments, audit and domain events an actor may see and
//! act on — as query conditions for lists and lookups, and as checks on rows already loaded
//! (relation fields, counts) — and the re-check of the actor inside a write transaction.
//! Service modules and the GraphQL layer ask here instead of deciding reach themselves, so a
//! nested field cannot show what a lookup by id would refuse.
//!
//! The model (the product contract's roles, scopes and permissions, applied to reach):
//!
//! - **User reach** is the set of users an actor sees: with `USERS_VIEW`, the users of the
//!   teams their scope reaches (`Principal::reach`); without it, only themselves. Relation
//!   fields (`Invite.invitedBy`, `AuditEvent.actor`) show a user only within it (deleted
//!   users included: history keeps naming them), and counts count only within it.
//! - **Structure reach** is the part of the organization a `TEAMS_MANAGE` holder may change:
//!   everything for an organization-wide role; the teams of their own department and that
//!   department for a department-wide role (their own team when it has none); their own team
//!   for a team-wide role; nothing existing for a role of oneself. A team is moved only from
//!   and into that reach. New, empty structure (a department, a team outside any department)
//!   changes nobody's reach and may be created by every `TEAMS_MANAGE` holder.
//! - **Role reach**: a custom role is edited or deleted only by someone whose user reach
//!   covers every holder of it (active users and open invitations).
//! - **Re-check**: a principal is loaded when the request starts; a write re-reads it inside
//!   its transaction after taking the account lock (`recheck`), so rights taken away by a
//!   transaction that committed meanwhile (another instance) are not used.

use super::ids::{AccountId, DepartmentId, RoleId, TeamId, UserId};
use super::{Error, Result, locks, principal};
use crate::auth::{Permission, Principal, Reach, RoleScope};
use crate::entity::{audit_event, department, event, invite, team, user};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    Select,
};

// ---- Users -------------------------------------------------------------------------------

/// The users the actor sees: their scope's teams with `USERS_VIEW`, else only themselves.
pub fn user_reach(actor: &Principal) -> Reach {
    if actor.can(Permission::UsersView) {
        actor.reach.clone()
    } else {
        Reach::OnlySelf
    }
}

/// Whether a user in `team_id` (or the actor themselves) is within `reach`.
fn covers(actor: &Principal, reach: &Reach, user_id: UserId, team_id: TeamId) -> bool {
    user_id == actor.user_id
        || match reach {
            Reach::All => true,
            Reach::Teams(teams) => teams.contains(&team_id),
            Reach::OnlySelf => false,
        }
}

/// Whether the actor may read their account (`account`, `node` of it): every role that grants
/// any permission; a role without any (the built-in Sender) sees only `viewer`.
pub fn sees_account(actor: &Principal) -> bool {
    actor.permissions.bits() != 0
}

/// Active users of the account in the actor's scope (the lists and bulk changes of holders
/// of `USERS_VIEW`; callers check the permission).
pub fn users(actor: &Principal) -> Select<user::Entity> {
    users_within(actor, &actor.reach)
}

/// The users the actor may see listed: `users` narrowed to themselves when their role has no
/// `USERS_VIEW` (the same rule as `member_count`, so a list and its count agree).
pub fn visible_users(actor: &Principal) -> Select<user::Entity> {
    users_within(actor, &user_reach(actor))
}

/// `users`, with the account written into the statement as a constant instead of a bound
/// parameter: for a statement planned for its account (the `users` list on PostgreSQL).
/// Bound, PostgreSQL's generic plan assumes an average account (a thousand users): for a
/// search it walks the account's name index filtering each user against the pattern — all
/// 100,000 users of a large account for a narrow search — where, as a constant, the planner
/// sees the account's size and looks the pattern up in the trigram index first; for a plain
/// page its estimated cost never matches the plan made for a large account, so that page
/// was planned again on every execution instead of reusing one plan.
pub fn users_for_planning(actor: &Principal) -> Select<user::Entity> {
    let select = user::Entity::find()
        .filter(
            Expr::col((user::Entity, user::Column::AccountId))
                .eq(Expr::Constant(actor.account_id.into())),
        )
        .filter(user::Column::DeletedAt.is_null());
    within(select, actor, &actor.reach)
}

fn users_within(actor: &Principal, reach: &Reach) -> Select<user::Entity> {
    let select = user::Entity::find()
        .filter(user::Column::AccountId.eq(actor.account_id))
        .filter(user::Column::DeletedAt.is_null());
    within(select, actor, reach)
}

fn within(select: Select<user::Entity>, actor: &Principal, reach: &Reach) -> Select<user::Entity> {
    match reach {
        Reach::All => select,
        Reach::Teams(teams) => select.filter(user::Column::TeamId.is_in(teams.clone())),
        Reach::OnlySelf => select.filter(user::Column::Id.eq(actor.user_id)),
    }
}

/// Whether the actor's scope covers users and invitations in `team_id`: the team of an
/// invitation they create, the destination of a team change.
pub fn acts_in_team(actor: &Principal, team_id: TeamId) -> bool {
    actor.reach.covers_team(team_id)
}

/// Whether the actor's scope covers `user` (the row check matching `users`; the account and
/// the deleted mark are the caller's to check).
pub fn acts_on_user(actor: &Principal, user: &user::Model) -> bool {
    match &actor.reach {
        Reach::All => true,
        Reach::Teams(teams) => teams.contains(&user.team_id),
        Reach::OnlySelf => user.id == actor.user_id,
    }
}

/// Whether the actor may see `user` as a related object (who invited, who acted): a user of
/// their account within their user reach. Deleted users count, as history names them.
pub fn sees_user(actor: &Principal, user: &user::Model) -> bool {
    user.account_id == actor.account_id && covers(actor, &user_reach(actor), user.id, user.team_id)
}

/// How many of a team's active members the actor sees (`Team.memberCount`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberCount {
    /// All of them: the kept count.
    All,
    /// A fixed number: 0, or 1 for the actor's own team when they see only themselves.
    Exactly(i64),
}

/// How `Team.memberCount` of `team_id` is answered for the actor.
pub fn member_count(actor: &Principal, team_id: TeamId) -> MemberCount {
    match user_reach(actor) {
        Reach::All => MemberCount::All,
        Reach::Teams(teams) if teams.contains(&team_id) => MemberCount::All,
        Reach::Teams(_) => MemberCount::Exactly(0),
        Reach::OnlySelf => MemberCount::Exactly(i64::from(team_id == actor.team_id)),
    }
}

/// How `Role.userCount` is answered for the actor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HolderCount {
    /// The kept count of holders in these teams (`None`: every team).
    InTeams(Option<Vec<TeamId>>),
    /// A fixed number: 1 for the actor's own role when they see only themselves, else 0.
    Exactly(i64),
}

/// How `Role.userCount` of `role_id` is answered for the actor.
pub fn holder_count(actor: &Principal, role_id: RoleId) -> HolderCount {
    match user_reach(actor) {
        Reach::All => HolderCount::InTeams(None),
        Reach::Teams(teams) => HolderCount::InTeams(Some(teams)),
        Reach::OnlySelf => HolderCount::Exactly(i64::from(role_id == actor.role_id)),
    }
}

// ---- Invitations ---------------------------------------------------------------------------

/// Invitations of the account to teams in the actor's scope, deleted ones included (callers
/// check `USERS_VIEW` or `USERS_INVITE`). Nobody's invitations are within a reach of oneself.
pub fn invites(actor: &Principal) -> Select<invite::Entity> {
    let select = invite::Entity::find().filter(invite::Column::AccountId.eq(actor.account_id));
    match &actor.reach {
        Reach::All => select,
        Reach::Teams(teams) => select.filter(invite::Column::TeamId.is_in(teams.clone())),
        Reach::OnlySelf => select.filter(invite::Column::Id.is_null()),
    }
}

// ---- Teams and departments -----------------------------------------------------------------

/// Live teams of the account.
fn live_teams(account_id: AccountId) -> Select<team::Entity> {
    team::Entity::find()
        .filter(team::Column::AccountId.eq(account_id))
        .filter(team::Column::DeletedAt.is_null())
}

/// Teams the actor sees: those in their scope; every team for `TEAMS_MANAGE` holders, who
/// pick teams to organize (seeing a team shows nobody in it: members and counts follow the
/// user reach).
pub fn teams(actor: &Principal) -> Select<team::Entity> {
    let select = live_teams(actor.account_id);
    if actor.can(Permission::TeamsManage) {
        return select;
    }
    match &actor.reach {
        Reach::All => select,
        Reach::Teams(teams) => select.filter(team::Column::Id.is_in(teams.clone())),
        Reach::OnlySelf => select.filter(team::Column::Id.eq(actor.team_id)),
    }
}

/// Departments the actor sees: all for organization-wide roles and `TEAMS_MANAGE` holders,
/// otherwise the departments of the teams they reach.
pub fn departments(actor: &Principal) -> Select<department::Entity> {
    let select =
        department::Entity::find().filter(department::Column::AccountId.eq(actor.account_id));
    if actor.can(Permission::TeamsManage) || actor.reach == Reach::All {
        return select;
    }
    let teams = match &actor.reach {
        Reach::Teams(teams) => teams.clone(),
        _ => vec![actor.team_id],
    };
    select.filter(
        department::Column::Id.in_subquery(
            Query::select()
                .column(team::Column::DepartmentId)
                .from(team::Entity)
                .and_where(Expr::col(team::Column::Id).is_in(teams))
                .to_owned(),
        ),
    )
}

/// Whether the actor may change (rename, move, delete) `team`: a team in their structure
/// reach.
pub fn manages_team(actor: &Principal, team: &team::Model) -> bool {
    team.account_id == actor.account_id
        && match actor.scope {
            RoleScope::Organization => true,
            RoleScope::Department => match actor.department_id {
                Some(own) => team.department_id == Some(own),
                None => team.id == actor.team_id,
            },
            RoleScope::Team => team.id == actor.team_id,
            RoleScope::Self_ => false,
        }
}

/// Whether the actor may put a team into `department` (`None`: into no department) or
/// change that department (rename, delete): only an organization-wide role reaches every
/// department and "no department"; a department-wide role reaches its own department.
pub fn manages_department(actor: &Principal, department: Option<DepartmentId>) -> bool {
    match actor.scope {
        RoleScope::Organization => true,
        RoleScope::Department => department.is_some() && department == actor.department_id,
        RoleScope::Team | RoleScope::Self_ => false,
    }
}

/// The refusal for structure outside the actor's reach that they can see.
pub fn outside_structure_reach(what: &str) -> Error {
    Error::forbidden(format!(
        "{what} is outside the part of the organization your role reaches"
    ))
}

// ---- Roles ---------------------------------------------------------------------------------

/// Whether every holder of `role_id` — active users and open invitations — is within the
/// actor's user reach, so that editing or deleting the role changes nobody they may not act
/// on.
pub async fn reaches_holders_of<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    role_id: RoleId,
) -> Result<bool> {
    let teams = match user_reach(actor) {
        Reach::All => return Ok(true),
        Reach::Teams(teams) => Some(teams),
        Reach::OnlySelf => None,
    };
    let mut users = user::Entity::find()
        .filter(user::Column::AccountId.eq(actor.account_id))
        .filter(user::Column::RoleId.eq(role_id))
        .filter(user::Column::DeletedAt.is_null())
        .filter(user::Column::Id.ne(actor.user_id));
    let mut invites = invite::Entity::find()
        .filter(invite::Column::AccountId.eq(actor.account_id))
        .filter(invite::Column::RoleId.eq(role_id))
        .filter(invite::Column::AcceptedAt.is_null())
        .filter(invite::Column::WithdrawnAt.is_null())
        .filter(invite::Column::DeletedAt.is_null());
    if let Some(teams) = teams {
        users = users.filter(user::Column::TeamId.is_not_in(teams.clone()));
        invites = invites.filter(invite::Column::TeamId.is_not_in(teams));
    }
    Ok(users.count(db).await? == 0 && invites.count(db).await? == 0)
}

// ---- Audit events --------------------------------------------------------------------------

/// The audit events the actor reads (with `AUDIT_VIEW`, which callers check): all for an
/// organization-wide role; else events about objects in their teams and the events they
/// caused themselves.
pub fn audit_events(actor: &Principal) -> Select<audit_event::Entity> {
    let select =
        audit_event::Entity::find().filter(audit_event::Column::AccountId.eq(actor.account_id));
    match history_reach(
        actor,
        audit_event::Column::TargetTeamId,
        audit_event::Column::ActorId,
    ) {
        Some(condition) => select.filter(condition),
        None => select,
    }
}

/// The domain events the actor reads (event feed, `node(id:)`, subscriptions; with
/// `USERS_VIEW`, which callers check): the audit log's rule — all for an organization-wide
/// role; else events about objects in their teams and the events they caused themselves.
pub fn events(actor: &Principal) -> Select<event::Entity> {
    let select = event::Entity::find().filter(event::Column::AccountId.eq(actor.account_id));
    match history_reach(actor, event::Column::TargetTeamId, event::Column::ActorId) {
        Some(condition) => select.filter(condition),
        None => select,
    }
}

/// The reach rule of the change history (audit log and domain events), over a table's
/// target-team and actor columns: `None` when the actor sees every record of the account.
fn history_reach<C: ColumnTrait>(actor: &Principal, team: C, by: C) -> Option<Condition> {
    match &actor.reach {
        Reach::All => None,
        Reach::Teams(teams) => Some(
            Condition::any()
                .add(team.is_in(teams.clone()))
                .add(by.eq(actor.user_id)),
        ),
        Reach::OnlySelf => Some(Condition::all().add(by.eq(actor.user_id))),
    }
}

// ---- The re-check inside a write -----------------------------------------------------------

/// Takes the account's user-change lock in `txn` and re-reads the actor as they are now,
/// with the same token-age rule as when the request started (a token older than a restore
/// stays refused; a restored user's fresh token keeps working). Returns the actor as they
/// are now, refused with `refusal` when they lost `permission` meanwhile.
///
/// Every write that depends on who the actor is calls it before its checks, so an actor
/// demoted, moved or deleted by a transaction that committed while this one waited acts on
/// their current rights, never on the ones the request started with.
pub async fn recheck(
    txn: &DatabaseTransaction,
    actor: &Principal,
    permission: Permission,
    refusal: &str,
) -> Result<Principal> {
    locks::lock_account_users(txn, actor.account_id).await?;
    let now = match actor.scim_token_id {
        // A directory: its token may have been revoked, or its role changed, meanwhile.
        Some(token) => principal::load_for_scim_token(txn, token).await?,
        None => principal::load_user(txn, actor.user_id, actor.token_issued_at).await?,
    };
    still_may(actor, now, permission, refusal)
}

/// `recheck`'s verdict on `now`, the actor as re-read under the account lock (by `recheck`,
/// or by a statement that reads more with it): the same account, still holding `permission`.
pub fn still_may(
    actor: &Principal,
    now: Principal,
    permission: Permission,
    refusal: &str,
) -> Result<Principal> {
    if now.account_id != actor.account_id {
        return Err(Error::Unauthenticated);
    }
    if !now.can(permission) {
        return Err(Error::forbidden(refusal));
    }
    Ok(now)
}
