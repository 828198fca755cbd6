//! The bulk changes an administrator makes to users (role, team, delete, suspend,
//! reactivate): permission, reach, no escalation, the last Admin, seats, the plan of who
//! changes, and the audit records; the write itself is `write.rs`.

use std::collections::{HashMap, HashSet};

use super::super::audit::{self, AuditAction, Operation};
use super::super::bulk::{self, BulkChange, ItemError, ItemErrorCode, Outcome, Requested, Written};
use super::super::ids::{AccountId, OperationId, RoleId, TeamId, UserId};
use super::super::{Db, Error, Result, access};
use super::write::write;
use super::{CHUNK, Status};
use crate::auth::{BuiltInRole, Permission, PermissionSet, Principal};
use crate::entity::{role, team, user};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QuerySelect,
};
use serde_json::{Value as Json, json};

/// Gives every selected user `role_id` (`None`: the client sent no role id, answered as an
/// unknown role). All-or-nothing; see `apply` for the checks.
pub async fn change_role(
    db: &Db,
    actor: &Principal,
    user_ids: &[Requested<UserId>],
    role_id: Option<RoleId>,
    dry_run: bool,
    max_bulk: usize,
) -> Result<Outcome<user::Model>> {
    apply(
        db,
        actor,
        user_ids,
        Request::Role(role_id),
        dry_run,
        max_bulk,
    )
    .await
}

/// Moves every selected user to `team_id` (`None`: the client sent no team id, answered as an
/// unknown team). All-or-nothing; see `apply` for the checks.
pub async fn change_team(
    db: &Db,
    actor: &Principal,
    user_ids: &[Requested<UserId>],
    team_id: Option<TeamId>,
    dry_run: bool,
    max_bulk: usize,
) -> Result<Outcome<user::Model>> {
    apply(
        db,
        actor,
        user_ids,
        Request::Team(team_id),
        dry_run,
        max_bulk,
    )
    .await
}

/// Soft-deletes every selected user: they vanish from every list, their tokens stop working
/// (`principal::load` skips deleted users), and the audit log keeps naming them. Their
/// invitations keep `invited_by` as history. All-or-nothing; see `apply` for the checks.
pub async fn delete(
    db: &Db,
    actor: &Principal,
    user_ids: &[Requested<UserId>],
    dry_run: bool,
    max_bulk: usize,
) -> Result<Outcome<user::Model>> {
    apply(db, actor, user_ids, Request::Delete, dry_run, max_bulk).await
}

/// Suspends every selected user (`USERS_SUSPEND`): they keep their row, team, role and
/// history, but cannot sign in — `principal::load` refuses a suspended user, so their tokens
/// stop working on the very next request, and tokens issued before the suspension stay
/// refused after a reactivation (they sign in again). They leave the default lists and
/// counts and hold no seat. Suspending yourself is `FORBIDDEN`; suspending the last active
/// Admin is `LAST_ADMIN`; users already suspended count as unchanged. All-or-nothing; see
/// `apply` for the checks. Usable by any principal (GraphQL user or SCIM directory).
pub async fn suspend_users(
    db: &Db,
    actor: &Principal,
    user_ids: &[Requested<UserId>],
    dry_run: bool,
    max_bulk: usize,
) -> Result<Outcome<user::Model>> {
    apply(db, actor, user_ids, Request::Suspend, dry_run, max_bulk).await
}

/// Reactivates every selected suspended user (`USERS_SUSPEND`), as they were (team, role).
/// Each takes a seat: past the account's free seats the request is refused with
/// `SEAT_LIMIT` on the users that do not fit. Active users count as unchanged.
/// All-or-nothing; `seats_remaining` reports the seats left (that would be, in a dry run).
pub async fn reactivate_users(
    db: &Db,
    actor: &Principal,
    user_ids: &[Requested<UserId>],
    dry_run: bool,
    max_bulk: usize,
) -> Result<Outcome<user::Model>> {
    apply(db, actor, user_ids, Request::Reactivate, dry_run, max_bulk).await
}

/// The change requested, with its parameter as parsed where it came in (`None`: the text
/// sent was no id of that kind, answered as an unknown role or team after the checks that
/// come first).
#[derive(Copy, Clone)]
pub(crate) enum Request {
    Role(Option<RoleId>),
    Team(Option<TeamId>),
    Delete,
    Suspend,
    Reactivate,
}

impl Request {
    fn permission(self) -> Permission {
        match self {
            Request::Role(_) => Permission::UsersChangeRole,
            Request::Team(_) => Permission::UsersReassign,
            Request::Delete => Permission::UsersDelete,
            Request::Suspend | Request::Reactivate => Permission::UsersSuspend,
        }
    }

    fn refusal(self) -> &'static str {
        match self {
            Request::Role(_) => "your role may not change the role of users",
            Request::Team(_) => "your role may not move users to another team",
            Request::Delete => "your role may not delete users",
            Request::Suspend | Request::Reactivate => {
                "your role may not suspend or reactivate users"
            }
        }
    }
}

/// The checked parameter of a request.
pub(super) enum Target {
    Role(role::Model),
    Team(team::Model),
    Delete,
    /// Set the status.
    Status(Status),
}

/// A requested user found within the actor's reach.
struct Selected {
    index: usize,
    /// The id as the client sent it, echoed in item errors.
    id: String,
    user: user::Model,
}

/// One bulk user change as `bulk::run` takes it: the users as sent and the change.
struct Change<'a> {
    user_ids: &'a [Requested<UserId>],
    request: Request,
}

/// What the checks of a user change decided.
struct Plan {
    target: Target,
    /// The account's roles, by id.
    roles: HashMap<RoleId, role::Model>,
    /// The users that change, as they are before.
    changing: Vec<user::Model>,
    /// Every selected user as they are (or would be) afterwards, in request order; for a
    /// delete only the deleted ones.
    items: Vec<user::Model>,
    errors: Vec<ItemError>,
    seats_remaining: Option<i64>,
}

/// The one path of the user changes (`bulk::run`):
///
/// 1. permission (else `Forbidden`) and size (else `LimitExceeded`);
/// 2. one write transaction holding the account's user-change lock, also for dry runs, so
///    the checks see a state no concurrent change can invalidate before the commit;
/// 3. the parameter: a role of the account (else `NotFound("role")`), a team of the account
///    within reach (else `NotFound("team")`, the same answer for both cases);
/// 4. per item: `NOT_FOUND`, `DUPLICATE`, `ROLE_NOT_GRANTABLE`, `FORBIDDEN`, then
///    "already so" (unchanged, not an error), then `LAST_ADMIN` across the whole request;
/// 5. any item error, or a dry run: roll back; otherwise write set-based, audit, commit.
async fn apply(
    db: &Db,
    actor: &Principal,
    user_ids: &[Requested<UserId>],
    request: Request,
    dry_run: bool,
    max_bulk: usize,
) -> Result<Outcome<user::Model>> {
    bulk::run(db, actor, &Change { user_ids, request }, dry_run, max_bulk).await
}

/// Steps 3–5 of `apply` inside the caller's write transaction, for callers that make
/// several changes atomically (a SCIM PUT/PATCH). The caller has taken the account lock
/// and rechecked `actor` (`access::recheck`); the permission of `request` is checked here.
/// Writes only when the outcome has no errors and is no dry run (then `operation_id` is
/// set); the caller commits or rolls back.
pub(crate) async fn apply_in(
    txn: &DatabaseTransaction,
    actor: &Principal,
    op: &Operation,
    user_ids: &[Requested<UserId>],
    request: Request,
    dry_run: bool,
) -> Result<Outcome<user::Model>> {
    bulk::run_in(txn, actor, op, &Change { user_ids, request }, dry_run).await
}

impl BulkChange for Change<'_> {
    type Item = user::Model;
    type Plan = Plan;

    fn permission(&self) -> (Permission, &'static str) {
        (self.request.permission(), self.request.refusal())
    }

    fn check_size(&self, max: usize) -> Result<()> {
        if self.user_ids.len() > max {
            return Err(Error::LimitExceeded(format!(
                "at most {max} users per request, got {}",
                self.user_ids.len()
            )));
        }
        Ok(())
    }

    fn dry_run_locked(&self) -> bool {
        true
    }

    async fn plan<'a, C: ConnectionTrait>(
        &'a self,
        db: &'a C,
        actor: &'a Principal,
        at: i64,
        _lock: bool,
    ) -> Result<Plan> {
        let request = self.request;
        if !actor.can(request.permission()) {
            return Err(Error::forbidden(request.refusal()));
        }
        let backend = db.get_database_backend();

        let roles: HashMap<RoleId, role::Model> = role::Entity::find()
            .filter(role::Column::AccountId.eq(actor.account_id))
            .all(db)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        let target = match request {
            Request::Role(id) => {
                let id = id.ok_or(Error::NotFound("role"))?;
                // A live role, share-locked on PostgreSQL so a concurrent deleteRole
                // cannot remove it under the users it is being granted to.
                let live =
                    super::super::roles::lock_for_reference(db, backend, actor.account_id, id)
                        .await?;
                Target::Role(roles.get(&live.id).ok_or(Error::NotFound("role"))?.clone())
            }
            Request::Team(id) => Target::Team(destination_team(db, backend, actor, id).await?),
            Request::Delete => Target::Delete,
            Request::Suspend => Target::Status(Status::Suspended),
            Request::Reactivate => Target::Status(Status::Active),
        };
        let role_grantable = match &target {
            Target::Role(role) => grantable(actor, role)?,
            _ => true,
        };

        // Deleting an already-deleted user is a repeat, not an error (rule 5): only deletes see
        // deleted users, and count them as unchanged.
        let is_delete = matches!(target, Target::Delete);
        let (selected, mut errors) = select_targets(db, actor, self.user_ids, is_delete).await?;
        let mut changing: Vec<&Selected> = Vec::new();
        let mut removes_admin: Vec<&Selected> = Vec::new();
        for s in &selected {
            let current = role_of(&roles, &s.user)?;
            let refuse = |code, message: &str| ItemError::for_id(s.index, &s.id, code, message);
            if s.user.deleted_at.is_some() {
                continue;
            }
            if !role_grantable {
                errors.push(refuse(
                    ItemErrorCode::RoleNotGrantable,
                    "this role is wider or more powerful than yours, so you cannot grant it",
                ));
                continue;
            }
            if matches!(target, Target::Delete) && s.user.id == actor.user_id {
                errors.push(refuse(
                    ItemErrorCode::Forbidden,
                    "you cannot delete yourself; ask another administrator",
                ));
                continue;
            }
            if matches!(target, Target::Status(Status::Suspended)) && s.user.id == actor.user_id {
                errors.push(refuse(
                    ItemErrorCode::Forbidden,
                    "you cannot suspend yourself; ask another administrator",
                ));
                continue;
            }
            if !grantable(actor, current)? {
                errors.push(refuse(
                    ItemErrorCode::Forbidden,
                    "this user's role is wider or more powerful than yours, so you cannot change them",
                ));
                continue;
            }
            let unchanged = match &target {
                Target::Role(role) => s.user.role_id == role.id,
                Target::Team(team) => s.user.team_id == team.id,
                Target::Delete => false,
                Target::Status(status) => s.user.status == *status,
            };
            if unchanged {
                continue;
            }
            // Only an active Admin counts: a suspended one keeps nobody in charge.
            let loses_admin = is_admin(current)
                && s.user.status == Status::Active
                && match &target {
                    Target::Role(role) => !is_admin(role),
                    Target::Team(_) => false,
                    Target::Delete => true,
                    Target::Status(status) => *status == Status::Suspended,
                };
            if loses_admin {
                removes_admin.push(s);
            }
            changing.push(s);
        }
        if !removes_admin.is_empty() {
            let admins = count_active_admins(db, actor.account_id, &roles).await?;
            if admins <= removes_admin.len() as u64 {
                for s in removes_admin {
                    errors.push(ItemError::for_id(
                        s.index,
                        &s.id,
                        ItemErrorCode::LastAdmin,
                        "the account would be left without an active Admin",
                    ));
                }
            }
        }
        // Reactivated users take seats (the account lock, taken by `recheck`, orders this
        // against every other seat taker); the ones past the free seats are refused.
        let mut seats_remaining = None;
        if matches!(target, Target::Status(Status::Active)) {
            let seats = super::super::seats::check(db, actor.account_id).await?;
            if let Some(free) = seats.free() {
                let free = usize::try_from(free).unwrap_or(0);
                for s in changing.iter().skip(free) {
                    errors.push(ItemError::for_id(
                        s.index,
                        &s.id,
                        ItemErrorCode::SeatLimit,
                        format!(
                            "the account's seat limit ({}) would be exceeded; {free} seat(s) free",
                            seats.limit.unwrap_or_default()
                        ),
                    ));
                }
            }
            seats_remaining = seats.remaining_after(if errors.is_empty() {
                changing.len() as i64
            } else {
                0
            });
        }

        if !errors.is_empty() {
            errors.sort_by_key(|e| e.index);
            return Ok(Plan {
                target,
                roles,
                changing: Vec::new(),
                items: Vec::new(),
                errors,
                seats_remaining,
            });
        }

        let changed: HashSet<UserId> = changing.iter().map(|s| s.user.id).collect();
        // The result: every selected user as they are (or would be) afterwards, in request
        // order; for a delete only the deleted ones.
        let items: Vec<user::Model> = selected
            .iter()
            .filter(|s| changed.contains(&s.user.id) || !matches!(target, Target::Delete))
            .map(|s| {
                let mut u = s.user.clone();
                if changed.contains(&u.id) {
                    match &target {
                        Target::Role(role) => u.role_id = role.id,
                        Target::Team(team) => u.team_id = team.id,
                        Target::Delete => u.deleted_at = Some(at),
                        Target::Status(status) => {
                            u.status = *status;
                            if *status == Status::Suspended {
                                u.tokens_valid_after = Some(token_cutoff(at));
                            }
                        }
                    }
                    u.updated_at = at;
                }
                u
            })
            .collect();

        let changing = changing.iter().map(|s| s.user.clone()).collect();
        Ok(Plan {
            target,
            roles,
            changing,
            items,
            errors,
            seats_remaining,
        })
    }

    fn writes_nothing(plan: &Plan) -> bool {
        !plan.errors.is_empty() || plan.changing.is_empty()
    }

    async fn write<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        op: &'a Operation,
        plan: &'a Plan,
    ) -> Result<Written> {
        let ids: Vec<UserId> = plan.changing.iter().map(|u| u.id).collect();
        write(txn, op.account_id, &ids, &plan.target, op.at).await?;
        let changes = match &plan.target {
            Target::Role(role) => plan
                .changing
                .iter()
                .map(|u| {
                    let before = role_of(&plan.roles, u)?;
                    Ok(audit_change(
                        AuditAction::UserRoleChanged,
                        u,
                        u.team_id,
                        Some(role_json(before)),
                        Some(role_json(role)),
                    ))
                })
                .collect::<Result<Vec<_>>>()?,
            Target::Team(team) => {
                let names = team_names(txn, plan.changing.iter().map(|u| u.team_id)).await?;
                plan.changing
                    .iter()
                    .map(|u| {
                        audit_change(
                            AuditAction::UserTeamChanged,
                            u,
                            team.id,
                            Some(team_json(u.team_id, &names)),
                            Some(json!({ "teamId": team.id.to_string(), "team": team.name })),
                        )
                    })
                    .collect()
            }
            Target::Delete => {
                let names = team_names(txn, plan.changing.iter().map(|u| u.team_id)).await?;
                plan.changing
                    .iter()
                    .map(|u| {
                        let role = role_of(&plan.roles, u)?;
                        let mut before = json!({ "email": u.email, "name": u.name });
                        merge(&mut before, role_json(role));
                        merge(&mut before, team_json(u.team_id, &names));
                        Ok(audit_change(
                            AuditAction::UserDeleted,
                            u,
                            u.team_id,
                            Some(before),
                            None,
                        ))
                    })
                    .collect::<Result<Vec<_>>>()?
            }
            Target::Status(status) => {
                let action = match status {
                    Status::Suspended => AuditAction::UserSuspended,
                    Status::Active => AuditAction::UserReactivated,
                };
                plan.changing
                    .iter()
                    .map(|u| {
                        audit_change(
                            action,
                            u,
                            u.team_id,
                            Some(json!({ "status": u.status.as_str() })),
                            Some(json!({ "status": status.as_str() })),
                        )
                    })
                    .collect()
            }
        };

        audit::record(txn, op, changes).await?;
        Ok(Written::Done)
    }

    fn outcome(
        plan: Plan,
        dry_run: bool,
        operation_id: Option<OperationId>,
    ) -> Outcome<user::Model> {
        if !plan.errors.is_empty() {
            let mut refused = Outcome::refused(plan.errors, dry_run);
            refused.seats_remaining = plan.seats_remaining;
            return refused;
        }
        Outcome {
            changed_count: plan.changing.len(),
            items: plan.items,
            errors: Vec::new(),
            dry_run,
            operation_id,
            seats_remaining: plan.seats_remaining,
        }
    }
}

/// The destination of a team change: a team of the account within the actor's reach.
/// Unknown, foreign and unreachable teams get the same answer, so the answer hints nothing.
async fn destination_team<C: ConnectionTrait>(
    txn: &C,
    backend: sea_orm::DatabaseBackend,
    actor: &Principal,
    id: Option<TeamId>,
) -> Result<team::Model> {
    let Some(id) = id else {
        return Err(Error::NotFound("team"));
    };
    if !access::acts_in_team(actor, id) {
        return Err(Error::NotFound("team"));
    }
    // A live team, share-locked on PostgreSQL against a concurrent deleteTeam.
    super::super::teams::lock_for_reference(txn, backend, actor.account_id, id).await
}

/// Loads the requested users with set-based queries and sorts the items into the users
/// found within reach (request order) and the refused ones (`DUPLICATE`, `NOT_FOUND`).
async fn select_targets<C: ConnectionTrait>(
    txn: &C,
    actor: &Principal,
    user_ids: &[Requested<UserId>],
    include_deleted: bool,
) -> Result<(Vec<Selected>, Vec<ItemError>)> {
    let mut wanted: Vec<UserId> = user_ids.iter().filter_map(|r| r.id).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut found: HashMap<UserId, user::Model> = HashMap::with_capacity(wanted.len());
    let backend = txn.get_database_backend();
    for chunk in wanted.chunks(CHUNK) {
        let mut select = user::Entity::find()
            .filter(user::Column::AccountId.eq(actor.account_id))
            .filter(super::super::dialect::id_in(
                backend,
                user::Column::Id,
                chunk,
            ));
        if !include_deleted {
            select = select.filter(user::Column::DeletedAt.is_null());
        }
        let rows = select.all(txn).await?;
        found.extend(rows.into_iter().map(|u| (u.id, u)));
    }

    // Two spellings of one UUID are one user; unparseable ids are compared as sent.
    #[derive(PartialEq, Eq, Hash)]
    enum Key<'a> {
        Id(UserId),
        Raw(&'a str),
    }
    let mut first_seen: HashMap<Key<'_>, usize> = HashMap::with_capacity(user_ids.len());
    let mut selected = Vec::with_capacity(found.len());
    let mut errors = Vec::new();
    for (index, requested) in user_ids.iter().enumerate() {
        let (raw, parsed) = (&requested.sent, requested.id);
        let key = match parsed {
            Some(id) => Key::Id(id),
            None => Key::Raw(raw.as_str()),
        };
        if let Some(first) = first_seen.get(&key) {
            errors.push(ItemError::for_id(
                index,
                raw,
                ItemErrorCode::Duplicate,
                format!("this user is already listed at index {first}"),
            ));
            continue;
        }
        first_seen.insert(key, index);
        match parsed
            .and_then(|id| found.get(&id))
            .filter(|u| access::acts_on_user(actor, u))
        {
            Some(user) => selected.push(Selected {
                index,
                id: raw.clone(),
                user: user.clone(),
            }),
            None => errors.push(ItemError::for_id(
                index,
                raw,
                ItemErrorCode::NotFound,
                "no such user",
            )),
        }
    }
    Ok((selected, errors))
}

fn role_of<'a>(
    roles: &'a HashMap<RoleId, role::Model>,
    user: &user::Model,
) -> Result<&'a role::Model> {
    roles.get(&user.role_id).ok_or_else(|| {
        Error::Internal(anyhow::anyhow!(
            "user {} holds role {} outside their account",
            user.id,
            user.role_id
        ))
    })
}

/// Whether the actor may grant `role` (and so also act on a holder of it).
fn grantable(actor: &Principal, role: &role::Model) -> Result<bool> {
    Ok(actor.can_grant(role.scope, PermissionSet::from_bits(role.permissions)))
}

fn is_admin(role: &role::Model) -> bool {
    role.key == Some(BuiltInRole::Admin)
}

/// Active users of the account holding the Admin role.
async fn count_active_admins<C: ConnectionTrait>(
    txn: &C,
    account_id: AccountId,
    roles: &HashMap<RoleId, role::Model>,
) -> Result<u64> {
    let admin_roles: Vec<RoleId> = roles
        .values()
        .filter(|r| is_admin(r))
        .map(|r| r.id)
        .collect();
    Ok(user::Entity::find()
        .filter(user::Column::AccountId.eq(account_id))
        .filter(user::Column::DeletedAt.is_null())
        .filter(user::Column::Status.eq(Status::Active))
        .filter(user::Column::RoleId.is_in(admin_roles))
        .count(txn)
        .await?)
}

/// The token cutoff a suspension at `now` sets: the next whole second, so every token
/// issued before the suspension (JWT `iat` has whole seconds) stays refused after a
/// reactivation, and a token issued after the reactivation works.
pub(super) fn token_cutoff(now: i64) -> i64 {
    now - now.rem_euclid(1000) + 1000
}

/// Names of the given teams, for audit snapshots.
async fn team_names(
    txn: &DatabaseTransaction,
    ids: impl Iterator<Item = TeamId>,
) -> Result<HashMap<TeamId, String>> {
    let mut ids: Vec<TeamId> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    let mut names = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(TeamId, String)> = team::Entity::find()
            .select_only()
            .column(team::Column::Id)
            .column(team::Column::Name)
            .filter(team::Column::Id.is_in(chunk.to_vec()))
            .into_tuple()
            .all(txn)
            .await?;
        names.extend(rows);
    }
    Ok(names)
}

fn role_json(role: &role::Model) -> Json {
    json!({ "roleId": role.id.to_string(), "role": role.name })
}

fn team_json(team_id: TeamId, names: &HashMap<TeamId, String>) -> Json {
    json!({ "teamId": team_id.to_string(), "team": names.get(&team_id) })
}

/// Adds the fields of `extra` (an object) to `into` (an object).
fn merge(into: &mut Json, extra: Json) {
    if let (Json::Object(into), Json::Object(extra)) = (into, extra) {
        into.extend(extra);
    }
}

fn audit_change(
    action: AuditAction,
    user: &user::Model,
    team_id: TeamId,
    before: Option<Json>,
    after: Option<Json>,
) -> audit::Change {
    audit::Change {
        action,
        target_type: "User",
        target_id: user.id.into(),
        target_label: Some(user.email.clone()),
        target_team_id: Some(team_id),
        before,
        after,
    }
}
