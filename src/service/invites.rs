//! Invitations: their lifecycle (invite, resend, withdraw, delete, accept) and finding them
//! within the actor's reach.
//!
//! The accept token exists only in the email: the outbox worker (`service::outbox`) makes it
//! when it sends, and the database keeps only its SHA-256 (`invites.token_hash`). Resending
//! clears the hash at once, so the old link dies even before the new email goes out.

use std::collections::{HashMap, HashSet};

use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde_json::{Value as Json, json};
use uuid::Uuid;

use super::audit::{self, Change, Operation};
use super::bulk::{ItemError, ItemErrorCode, Outcome};
use super::email::Email;
use super::ids::{InviteId, RoleId, TeamId, UserId};
use super::page::{Listing, PageArgs, Sort, SortValue};
use super::search::{search_condition, trigram_search_condition};
use super::text::{self, Name};
use super::{Db, Error, Result, access, accounts, is_unique_violation, now_ms, roles, seats};
use crate::auth::{Permission, PermissionSet, Principal};
use crate::entity::{account, invite, outbox, role, team, user};

/// Where an invitation stands. EXPIRED is never stored: it is a pending invite read after
/// its `expires_at`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Pending,
    Accepted,
    Expired,
    Withdrawn,
}

impl Status {
    /// The name clients see (`InviteStatus`), also used in audit snapshots.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Accepted => "ACCEPTED",
            Status::Expired => "EXPIRED",
            Status::Withdrawn => "WITHDRAWN",
        }
    }
}

/// The status of an invite at time `now` (ms). The one place status is derived.
pub fn status(invite: &invite::Model, now: i64) -> Status {
    if invite.accepted_at.is_some() {
        Status::Accepted
    } else if invite.withdrawn_at.is_some() {
        Status::Withdrawn
    } else if invite.expires_at <= now {
        Status::Expired
    } else {
        Status::Pending
    }
}

/// The SQL condition equivalent to `status(invite, now) == s`.
fn status_condition(s: Status, now: i64) -> Condition {
    let open = Condition::all()
        .add(invite::Column::AcceptedAt.is_null())
        .add(invite::Column::WithdrawnAt.is_null());
    match s {
        Status::Accepted => Condition::all().add(invite::Column::AcceptedAt.is_not_null()),
        Status::Withdrawn => Condition::all()
            .add(invite::Column::AcceptedAt.is_null())
            .add(invite::Column::WithdrawnAt.is_not_null()),
        Status::Expired => open.add(invite::Column::ExpiresAt.lte(now)),
        Status::Pending => open.add(invite::Column::ExpiresAt.gt(now)),
    }
}

/// Filters of the `invites` list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub search: Option<String>,
    pub statuses: Option<Vec<Status>>,
    pub team_ids: Option<Vec<Uuid>>,
    pub role_ids: Option<Vec<Uuid>>,
}

/// What the `invites` list is ordered by.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum OrderField {
    Email,
    #[default]
    CreatedAt,
    ExpiresAt,
}

/// The order of the `invites` list.
#[derive(Copy, Clone, Debug)]
pub struct Order {
    pub field: OrderField,
    pub ascending: bool,
}

impl Default for Order {
    fn default() -> Self {
        Order {
            field: OrderField::CreatedAt,
            ascending: false,
        }
    }
}

/// Invites (not deleted) of the account in the actor's reach.
pub(crate) fn visible(actor: &Principal) -> Select<invite::Entity> {
    reachable(actor).filter(invite::Column::DeletedAt.is_null())
}

/// Invites of the account in the actor's reach, deleted ones included (so that deleting an
/// invite twice is "unchanged", not "not found").
fn reachable(actor: &Principal) -> Select<invite::Entity> {
    access::invites(actor)
}

/// One invite by id, when the actor may see it.
pub async fn get<C: ConnectionTrait>(db: &C, actor: &Principal, id: Uuid) -> Result<invite::Model> {
    if !actor.can(Permission::UsersView) {
        return Err(Error::NotFound("invite"));
    }
    visible(actor)
        .filter(invite::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or(Error::NotFound("invite"))
}

/// The `invites` list.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    filter: &Filter,
    order: Order,
    page: &PageArgs,
) -> Result<Listing<invite::Entity>> {
    if !actor.can(Permission::UsersView) {
        return Err(Error::forbidden("your role may not list invites"));
    }
    page.validate()?;
    let now = now_ms();
    let mut select = visible(actor);
    if let Some(q) = filter.search.as_deref().filter(|q| !q.is_empty()) {
        select = select.filter(match db.get_database_backend() {
            // The trigram index on invites' emails is PostgreSQL's; SQLite tests the account's
            // invitations (at most a few per cent of its users) one by one.
            DatabaseBackend::Postgres => trigram_search_condition(invite::Column::Email, q),
            _ => Condition::all().add(search_condition(invite::Column::Email, q)),
        });
    }
    if let Some(statuses) = &filter.statuses {
        let any = statuses
            .iter()
            .fold(Condition::any(), |c, s| c.add(status_condition(*s, now)));
        select = select.filter(any);
    }
    if let Some(teams) = &filter.team_ids {
        select = select.filter(invite::Column::TeamId.is_in(teams.clone()));
    }
    if let Some(roles) = &filter.role_ids {
        select = select.filter(invite::Column::RoleId.is_in(roles.clone()));
    }
    let (tag, key) = match order.field {
        OrderField::Email => ("email", invite::Column::Email),
        OrderField::CreatedAt => ("created", invite::Column::CreatedAt),
        OrderField::ExpiresAt => ("expires", invite::Column::ExpiresAt),
    };
    let sort = Sort {
        tag,
        key,
        id: invite::Column::Id,
        ascending: order.ascending,
    };
    let field = order.field;
    Listing::fetch(db, select, &sort, page, move |i| {
        let key = match field {
            OrderField::Email => SortValue::Text(i.email.clone()),
            OrderField::CreatedAt => SortValue::Int(i.created_at),
            OrderField::ExpiresAt => SortValue::Int(i.expires_at),
        };
        (key, i.id)
    })
    .await
}

// ---------------------------------------------------------------------------------------
// The lifecycle: invite, resend, withdraw, delete, accept.

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;
/// Ids or emails per `IN (…)` list: well under both databases' bound-parameter limits.
const READ_CHUNK: usize = 500;
/// Rows per multi-row insert (an invite row binds 18 values).
const WRITE_CHUNK: usize = 200;
/// How often `invite_users` re-checks and retries after losing a race to a concurrent
/// invitation of the same address.
const ATTEMPTS: usize = 3;
/// Longer "tokens" are not ours; they are refused before hashing.
const MAX_TOKEN_LEN: usize = 256;
/// The name of the index that allows one open invitation per address.
const OPEN_INVITE_INDEX: &str = "invites_account_email_open";

/// The outbox `kind` of invitation emails.
pub const OUTBOX_KIND: &str = "invite";

pub use super::invite_mail::{delivery, new_token, token_hash};

/// When an invitation made or resent at `now` stops working.
fn expiry(account: &account::Model, now: i64) -> i64 {
    now + i64::from(account.invite_expiry_days) * DAY_MS
}

/// Not accepted, withdrawn or deleted: the rows `invites_account_email_open` covers.
fn open_condition() -> Condition {
    Condition::all()
        .add(invite::Column::AcceptedAt.is_null())
        .add(invite::Column::WithdrawnAt.is_null())
        .add(invite::Column::DeletedAt.is_null())
}

const INVITE_REFUSAL: &str = "your role may not manage invitations";

fn require_invite(actor: &Principal) -> Result<()> {
    if actor.can(Permission::UsersInvite) {
        Ok(())
    } else {
        Err(Error::forbidden(INVITE_REFUSAL))
    }
}

fn check_size(n: usize, max: usize) -> Result<()> {
    if n > max {
        Err(Error::LimitExceeded(format!(
            "a bulk request may carry at most {max} items (this one has {n})"
        )))
    } else {
        Ok(())
    }
}

/// Adds `FOR UPDATE` on PostgreSQL when `lock` is set, taking the invite rows in id order so
/// two requests locking overlapping sets cannot deadlock. SQLite has no row locks (and needs
/// none: `begin_write` serializes its writers).
fn locked<C: ConnectionTrait>(
    select: Select<invite::Entity>,
    db: &C,
    lock: bool,
) -> Select<invite::Entity> {
    if lock && db.get_database_backend() == DatabaseBackend::Postgres {
        select.order_by_asc(invite::Column::Id).lock_exclusive()
    } else {
        select
    }
}

/// `select` restricted to `column IN keys`, in chunks.
async fn find_in<C, E, V>(
    db: &C,
    select: Select<E>,
    column: E::Column,
    keys: &[V],
) -> Result<Vec<E::Model>, DbErr>
where
    C: ConnectionTrait,
    E: EntityTrait,
    V: Into<sea_orm::Value> + Clone,
{
    let mut rows = Vec::new();
    for chunk in keys.chunks(READ_CHUNK) {
        rows.extend(
            select
                .clone()
                .filter(column.is_in(chunk.iter().cloned()))
                .all(db)
                .await?,
        );
    }
    Ok(rows)
}

fn iso(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// An invitation as the audit log records it.
fn snapshot(i: &invite::Model, now: i64) -> Json {
    json!({
        "email": i.email,
        "teamId": TeamId(i.team_id).to_string(),
        "roleId": RoleId(i.role_id).to_string(),
        "status": status(i, now).as_str(),
        "expiresAt": iso(i.expires_at),
        "sendCount": i.send_count,
        "delivery": i.delivery,
        "deleted": i.deleted_at.is_some(),
    })
}

/// A user as the audit log records it.
fn user_snapshot(u: &user::Model) -> Json {
    json!({
        "email": u.email,
        "name": u.name,
        "teamId": TeamId(u.team_id).to_string(),
        "roleId": RoleId(u.role_id).to_string(),
        "deleted": u.deleted_at.is_some(),
    })
}

fn invite_change(
    action: &'static str,
    i: &invite::Model,
    before: Option<Json>,
    after: Option<Json>,
) -> Change {
    Change {
        action,
        target_type: "Invite",
        target_id: i.id,
        target_label: Some(i.email.clone()),
        target_team_id: Some(i.team_id),
        before,
        after,
    }
}

/// A queued invitation email. It carries no secret: the worker makes the token when it sends.
fn outbox_row(i: &invite::Model, now: i64) -> outbox::ActiveModel {
    outbox::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(i.account_id),
        invite_id: Set(i.id),
        kind: Set(OUTBOX_KIND.to_owned()),
        recipient: Set(i.email.clone()),
        status: Set(super::outbox::status::PENDING.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        locked_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
    }
}

async fn queue_emails<C: ConnectionTrait>(
    db: &C,
    invites: &[&invite::Model],
    now: i64,
) -> Result<()> {
    for chunk in invites.chunks(WRITE_CHUNK) {
        outbox::Entity::insert_many(chunk.iter().map(|i| outbox_row(i, now)))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Cancels the not-yet-sent emails of these invites (a resend queues a fresh one).
async fn cancel_emails<C: ConnectionTrait>(db: &C, invite_ids: &[Uuid]) -> Result<()> {
    use super::outbox::status;
    for chunk in invite_ids.chunks(READ_CHUNK) {
        outbox::Entity::update_many()
            .col_expr(outbox::Column::Status, Expr::value(status::CANCELLED))
            .filter(outbox::Column::InviteId.is_in(chunk.to_vec()))
            .filter(outbox::Column::Status.eq(status::PENDING))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Whether the actor may grant `role` (and so act on invitations carrying it).
fn grantable(actor: &Principal, role: &role::Model) -> Result<bool> {
    Ok(actor.can_grant(
        roles::scope_of(role)?,
        PermissionSet::from_bits(role.permissions),
    ))
}

// ---- inviteUsers ----

/// One invitation as requested; `invite_users` checks every part.
#[derive(Clone, Debug)]
pub struct Invitation {
    pub email: String,
    /// The team's external id (`team_…`).
    pub team_id: String,
    /// The role's external id (`role_…`).
    pub role_id: String,
}

/// What `invite_users` would write.
struct InvitePlan {
    invites: Vec<invite::Model>,
    /// Expired open invitations that new ones replace, with the id of their replacement.
    superseded: Vec<(invite::Model, Uuid)>,
    errors: Vec<ItemError>,
    /// The account's seats before the request.
    seats: seats::Seats,
}

impl InvitePlan {
    fn into_outcome(
        self,
        dry_run: bool,
        operation_id: Option<super::ids::OperationId>,
    ) -> Outcome<invite::Model> {
        if !self.errors.is_empty() {
            let mut refused = Outcome::refused(self.errors, dry_run);
            refused.seats_remaining = self.seats.remaining_after(0);
            return refused;
        }
        Outcome {
            changed_count: self.invites.len(),
            seats_remaining: self.seats.remaining_after(self.invites.len() as i64),
            items: self.invites,
            errors: Vec::new(),
            dry_run,
            operation_id,
        }
    }
}

/// An invitation whose address is valid and new to the request; its ids are `None` when
/// they are malformed (reported as NOT_FOUND, like ids that do not exist).
struct Parsed {
    email: Email,
    team_id: Option<Uuid>,
    role_id: Option<Uuid>,
}

/// Checks every invitation against the database as `db` sees it; `lock` takes row locks on
/// the open invitations it may supersede.
async fn plan_invites<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    items: &[Invitation],
    now: i64,
    lock: bool,
) -> Result<InvitePlan> {
    use ItemErrorCode::*;
    let account = accounts::get(db, actor).await?;
    // Fail closed: a damaged stored list allows no domain (the actor's INVITE_ANY_DOMAIN
    // still applies: it never depended on the list).
    let allowed = match accounts::allowed_domains(&account) {
        Ok(domains) => Some(domains),
        Err(e) => {
            tracing::error!(error = %e.describe(), "refusing invitations to listed domains");
            None
        }
    };
    let any_domain = actor.can(Permission::InviteAnyDomain);
    let expires_at = expiry(&account, now);

    // What the input alone decides: the address, repeats, well-formed ids.
    let mut errors = Vec::new();
    let mut parsed: Vec<Option<Parsed>> = Vec::with_capacity(items.len());
    let mut seen = HashSet::new();
    for (index, item) in items.iter().enumerate() {
        let Some(email) = Email::parse(&item.email) else {
            errors.push(ItemError::for_email(
                index,
                &item.email,
                InvalidEmail,
                format!("`{}` is not a valid email address", item.email),
            ));
            parsed.push(None);
            continue;
        };
        if !seen.insert(email.as_str().to_owned()) {
            errors.push(ItemError::for_email(
                index,
                &item.email,
                Duplicate,
                format!("{} appears more than once in this request", email.as_str()),
            ));
            parsed.push(None);
            continue;
        }
        parsed.push(Some(Parsed {
            email,
            team_id: TeamId::parse(&item.team_id).map(|t| t.0),
            role_id: RoleId::parse(&item.role_id).map(|r| r.0),
        }));
    }

    // Everything the remaining checks need, a few set-based queries for the whole request.
    let distinct = |ids: Vec<Uuid>| -> Vec<Uuid> {
        let mut ids = ids;
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    let team_ids = distinct(parsed.iter().flatten().filter_map(|p| p.team_id).collect());
    let role_ids = distinct(parsed.iter().flatten().filter_map(|p| p.role_id).collect());
    let emails: Vec<String> = parsed
        .iter()
        .flatten()
        .map(|p| p.email.as_str().to_owned())
        .collect();
    let teams: HashMap<Uuid, team::Model> = find_in(
        db,
        // Live teams only, share-locked on PostgreSQL against a concurrent deleteTeam.
        super::teams::locked(
            team::Entity::find()
                .filter(team::Column::AccountId.eq(actor.account_id))
                .filter(team::Column::DeletedAt.is_null()),
            db.get_database_backend(),
            super::teams::Lock::Share,
        ),
        team::Column::Id,
        &team_ids,
    )
    .await?
    .into_iter()
    .map(|t| (t.id, t))
    .collect();
    let roles: HashMap<Uuid, role::Model> = find_in(
        db,
        // Live roles only, share-locked on PostgreSQL against a concurrent deleteRole.
        super::teams::locked(
            role::Entity::find()
                .filter(role::Column::AccountId.eq(actor.account_id))
                .filter(role::Column::DeletedAt.is_null()),
            db.get_database_backend(),
            super::teams::Lock::Share,
        ),
        role::Column::Id,
        &role_ids,
    )
    .await?
    .into_iter()
    .map(|r| (r.id, r))
    .collect();
    let members: HashSet<String> = find_in(
        db,
        user::Entity::find()
            .filter(user::Column::AccountId.eq(actor.account_id))
            .filter(user::Column::DeletedAt.is_null()),
        user::Column::Email,
        &emails,
    )
    .await?
    .into_iter()
    .map(|u| u.email)
    .collect();
    let open: HashMap<String, invite::Model> = find_in(
        db,
        locked(
            invite::Entity::find()
                .filter(invite::Column::AccountId.eq(actor.account_id))
                .filter(open_condition()),
            db,
            lock,
        ),
        invite::Column::Email,
        &emails,
    )
    .await?
    .into_iter()
    .map(|i| (i.email.clone(), i))
    .collect();

    let mut invites = Vec::new();
    let mut invite_index = Vec::new();
    let mut superseded = Vec::new();
    for (index, (item, parsed)) in items.iter().zip(parsed).enumerate() {
        let Some(Parsed {
            email,
            team_id,
            role_id,
        }) = parsed
        else {
            continue;
        };
        let refuse =
            |code, message: String| ItemError::for_email(index, &item.email, code, message);
        let team = team_id
            .and_then(|id| teams.get(&id))
            .filter(|t| access::acts_in_team(actor, t.id));
        let Some(team) = team else {
            errors.push(refuse(
                NotFound,
                format!("team `{}` not found", item.team_id),
            ));
            continue;
        };
        let Some(role) = role_id.and_then(|id| roles.get(&id)) else {
            errors.push(refuse(
                NotFound,
                format!("role `{}` not found", item.role_id),
            ));
            continue;
        };
        if !grantable(actor, role)? {
            errors.push(refuse(
                RoleNotGrantable,
                format!("the role {} is above yours; you cannot grant it", role.name),
            ));
            continue;
        }
        if !any_domain && allowed.is_none() {
            errors.push(refuse(
                EmailDomainNotAllowed,
                "the account's allowed email domains cannot be read, so no domain is allowed; \
                 ask an administrator to set them again"
                    .to_owned(),
            ));
            continue;
        }
        if let Some(allowed) = allowed.as_ref().filter(|a| !a.is_empty() && !any_domain)
            && !allowed.iter().any(|d| d == email.domain())
        {
            errors.push(refuse(
                EmailDomainNotAllowed,
                format!(
                    "{} is not one of the account's allowed email domains",
                    email.domain()
                ),
            ));
            continue;
        }
        if members.contains(email.as_str()) {
            errors.push(refuse(
                AlreadyMember,
                format!("{} is already a member", email.as_str()),
            ));
            continue;
        }
        let id = Uuid::now_v7();
        if let Some(existing) = open.get(email.as_str()) {
            if status(existing, now) != Status::Expired {
                errors.push(refuse(
                    AlreadyInvited,
                    format!("{} has a pending invitation already", email.as_str()),
                ));
                continue;
            }
            superseded.push((existing.clone(), id));
        }
        invite_index.push(index);
        invites.push(invite::Model {
            id,
            account_id: actor.account_id,
            email: email.into_string(),
            team_id: team.id,
            role_id: role.id,
            invited_by: actor.acting_user(),
            token_hash: None,
            created_at: now,
            expires_at,
            last_sent_at: Some(now),
            send_count: 1,
            accepted_at: None,
            accepted_user_id: None,
            withdrawn_at: None,
            deleted_at: None,
            delivery: delivery::QUEUED.to_owned(),
            delivery_error: None,
            updated_at: now,
        });
    }
    // Seats: every new invitation takes one (a superseded expired one held none). The
    // invitations past the free seats are refused, so the client sees how many fit.
    let seats = seats::check(db, actor.account_id).await?;
    if let Some(free) = seats.free() {
        let free = usize::try_from(free).unwrap_or(0);
        for (&index, i) in invite_index.iter().zip(&invites).skip(free) {
            errors.push(ItemError::for_email(
                index,
                &i.email,
                SeatLimit,
                format!(
                    "the account's seat limit ({}) would be exceeded; {free} seat(s) free",
                    seats.limit.unwrap_or_default()
                ),
            ));
        }
    }
    errors.sort_by_key(|e| e.index);
    Ok(InvitePlan {
        invites,
        superseded,
        errors,
        seats,
    })
}

/// Whether a write went through or lost a race and must be checked again.
enum Step {
    Done,
    Conflict,
}

async fn write_invites<C: ConnectionTrait>(
    db: &C,
    op: &Operation,
    plan: &InvitePlan,
) -> Result<Step> {
    let now = op.at;
    let mut changes = Vec::with_capacity(plan.invites.len() + plan.superseded.len());
    if !plan.superseded.is_empty() {
        let ids: Vec<Uuid> = plan.superseded.iter().map(|(i, _)| i.id).collect();
        let mut withdrawn = 0;
        for chunk in ids.chunks(READ_CHUNK) {
            withdrawn += invite::Entity::update_many()
                .col_expr(invite::Column::WithdrawnAt, Expr::value(now))
                .col_expr(invite::Column::UpdatedAt, Expr::value(now))
                .filter(invite::Column::Id.is_in(chunk.to_vec()))
                .filter(open_condition())
                .filter(invite::Column::ExpiresAt.lte(now))
                .exec(db)
                .await?
                .rows_affected;
        }
        if withdrawn != ids.len() as u64 {
            // Someone resent, withdrew or deleted one of them since we looked.
            return Ok(Step::Conflict);
        }
        cancel_emails(db, &ids).await?;
        for (old, replacement) in &plan.superseded {
            let mut after = old.clone();
            after.withdrawn_at = Some(now);
            after.updated_at = now;
            let mut after_json = snapshot(&after, now);
            after_json["supersededBy"] = json!(InviteId(*replacement).to_string());
            changes.push(invite_change(
                "invite.withdrawn",
                old,
                Some(snapshot(old, now)),
                Some(after_json),
            ));
        }
    }
    for chunk in plan.invites.chunks(WRITE_CHUNK) {
        let rows = chunk.iter().map(|i| invite::ActiveModel {
            id: Set(i.id),
            account_id: Set(i.account_id),
            email: Set(i.email.clone()),
            team_id: Set(i.team_id),
            role_id: Set(i.role_id),
            invited_by: Set(i.invited_by),
            token_hash: Set(None),
            created_at: Set(i.created_at),
            expires_at: Set(i.expires_at),
            last_sent_at: Set(i.last_sent_at),
            send_count: Set(i.send_count),
            accepted_at: Set(None),
            accepted_user_id: Set(None),
            withdrawn_at: Set(None),
            deleted_at: Set(None),
            delivery: Set(i.delivery.clone()),
            delivery_error: Set(None),
            updated_at: Set(i.updated_at),
        });
        match invite::Entity::insert_many(rows).exec(db).await {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e, OPEN_INVITE_INDEX) => return Ok(Step::Conflict),
            Err(e) => return Err(e.into()),
        }
    }
    queue_emails(db, &plan.invites.iter().collect::<Vec<_>>(), now).await?;
    changes.extend(
        plan.invites
            .iter()
            .map(|i| invite_change("invite.created", i, None, Some(snapshot(i, now)))),
    );
    audit::record(db, op, changes).await?;
    Ok(Step::Done)
}

/// `inviteUsers`: invites every address, or — if any item is refused — none.
///
/// An address with an EXPIRED open invitation gets a new one; the old one is withdrawn in
/// the same transaction. The emails are queued in the outbox, also in that transaction.
pub async fn invite_users(
    db: &Db,
    actor: &Principal,
    items: &[Invitation],
    dry_run: bool,
    max_items: usize,
) -> Result<Outcome<invite::Model>> {
    require_invite(actor)?;
    check_size(items.len(), max_items)?;
    if dry_run {
        let plan = plan_invites(db.conn(), actor, items, now_ms(), false).await?;
        return Ok(plan.into_outcome(true, None));
    }
    for attempt in 1..=ATTEMPTS {
        let txn = db.begin_write().await?;
        let actor = &access::recheck(&txn, actor, Permission::UsersInvite, INVITE_REFUSAL).await?;
        let op = Operation::start(actor);
        let plan = plan_invites(&txn, actor, items, op.at, true).await?;
        if !plan.errors.is_empty() || plan.invites.is_empty() {
            txn.rollback().await?;
            return Ok(plan.into_outcome(false, None));
        }
        match write_invites(&txn, &op, &plan).await? {
            Step::Done => {
                txn.commit().await?;
                return Ok(plan.into_outcome(false, Some(op.id)));
            }
            Step::Conflict => {
                // Only PostgreSQL gets here (SQLite writers are serialized): a concurrent
                // request invited one of these addresses after we checked. Checking again
                // in a fresh transaction sees its invitation and answers ALREADY_INVITED.
                txn.rollback().await?;
                tracing::debug!(
                    attempt,
                    "inviteUsers raced a concurrent change; re-checking"
                );
            }
        }
    }
    let plan = plan_invites(db.conn(), actor, items, now_ms(), false).await?;
    if plan.errors.is_empty() {
        Err(Error::Internal(anyhow::anyhow!(
            "inviteUsers kept conflicting with concurrent changes"
        )))
    } else {
        Ok(plan.into_outcome(false, None))
    }
}

// ---- resendInvites, withdrawInvites, deleteInvites ----

/// The id-based invitation mutations.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Action {
    Resend,
    Withdraw,
    Delete,
}

/// What an action does with one invitation.
enum Verdict {
    Change,
    Unchanged,
    Refuse(ItemErrorCode, &'static str),
}

impl Action {
    fn judge(self, i: &invite::Model, now: i64) -> Verdict {
        use Status::*;
        let invalid = |m| Verdict::Refuse(ItemErrorCode::InvalidState, m);
        match (self, status(i, now)) {
            (Action::Delete, _) if i.deleted_at.is_some() => Verdict::Unchanged,
            (Action::Delete, _) => Verdict::Change,
            (_, Pending | Expired) => Verdict::Change,
            (Action::Withdraw, Withdrawn) => Verdict::Unchanged,
            (Action::Withdraw, Accepted) => {
                invalid("an accepted invitation cannot be withdrawn; delete it instead")
            }
            (Action::Resend, Accepted) => invalid("an accepted invitation cannot be resent"),
            (Action::Resend, Withdrawn) => {
                invalid("a withdrawn invitation cannot be resent; invite the address again")
            }
        }
    }

    /// The invitation after the action, as the write leaves it.
    fn apply(self, i: &invite::Model, now: i64, expires_at: i64) -> invite::Model {
        let mut after = i.clone();
        after.updated_at = now;
        match self {
            Action::Resend => {
                after.token_hash = None;
                after.expires_at = expires_at;
                after.send_count += 1;
                after.last_sent_at = Some(now);
                after.delivery = delivery::QUEUED.to_owned();
                after.delivery_error = None;
            }
            Action::Withdraw => after.withdrawn_at = Some(now),
            Action::Delete => after.deleted_at = Some(now),
        }
        after
    }

    fn audit_action(self) -> &'static str {
        match self {
            Action::Resend => "invite.resent",
            Action::Withdraw => "invite.withdrawn",
            Action::Delete => "invite.deleted",
        }
    }
}

/// What an id-based mutation would write.
struct IdPlan {
    /// Every named invitation as it is after the mutation, in input order.
    items: Vec<invite::Model>,
    /// `(before, after)` of the ones that change.
    changed: Vec<(invite::Model, invite::Model)>,
    errors: Vec<ItemError>,
}

impl IdPlan {
    fn into_outcome(
        self,
        dry_run: bool,
        operation_id: Option<super::ids::OperationId>,
    ) -> Outcome<invite::Model> {
        if !self.errors.is_empty() {
            return Outcome::refused(self.errors, dry_run);
        }
        Outcome {
            changed_count: self.changed.len(),
            items: self.items,
            errors: Vec::new(),
            dry_run,
            operation_id,
            seats_remaining: None,
        }
    }
}

async fn plan_ids<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    ids: &[String],
    action: Action,
    now: i64,
    lock: bool,
) -> Result<IdPlan> {
    use ItemErrorCode::*;
    let mut errors = Vec::new();
    let mut wanted: Vec<(usize, &str, Uuid)> = Vec::with_capacity(ids.len());
    let mut seen = HashSet::new();
    for (index, raw) in ids.iter().enumerate() {
        match InviteId::parse(raw) {
            None => errors.push(ItemError::for_id(
                index,
                raw,
                NotFound,
                format!("invitation `{raw}` not found"),
            )),
            Some(id) if !seen.insert(id.0) => errors.push(ItemError::for_id(
                index,
                raw,
                Duplicate,
                format!("invitation `{raw}` appears more than once in this request"),
            )),
            Some(id) => wanted.push((index, raw, id.0)),
        }
    }
    // Deleted invitations are gone for everything but a repeated delete.
    let base = if action == Action::Delete {
        reachable(actor)
    } else {
        visible(actor)
    };
    let keys: Vec<Uuid> = wanted.iter().map(|w| w.2).collect();
    let found: HashMap<Uuid, invite::Model> =
        find_in(db, locked(base, db, lock), invite::Column::Id, &keys)
            .await?
            .into_iter()
            .map(|i| (i.id, i))
            .collect();
    let mut role_ids: Vec<Uuid> = found.values().map(|i| i.role_id).collect();
    role_ids.sort_unstable();
    role_ids.dedup();
    let roles: HashMap<Uuid, role::Model> = find_in(
        db,
        role::Entity::find().filter(role::Column::AccountId.eq(actor.account_id)),
        role::Column::Id,
        &role_ids,
    )
    .await?
    .into_iter()
    .map(|r| (r.id, r))
    .collect();
    let expires_at = if action == Action::Resend {
        expiry(&accounts::get(db, actor).await?, now)
    } else {
        0
    };

    let mut items = Vec::new();
    let mut changed = Vec::new();
    // Resending an EXPIRED invitation makes it pending again: it takes a seat back.
    let mut revived: Vec<(usize, &str)> = Vec::new();
    for (index, raw, id) in wanted {
        let Some(invite) = found.get(&id) else {
            errors.push(ItemError::for_id(
                index,
                raw,
                NotFound,
                format!("invitation `{raw}` not found"),
            ));
            continue;
        };
        // No escalation (docs/ARCHITECTURE.md): what you could not have granted, you cannot act on either.
        let may = match roles.get(&invite.role_id) {
            Some(role) => grantable(actor, role)?,
            None => false,
        };
        if !may {
            errors.push(ItemError::for_id(
                index,
                raw,
                Forbidden,
                "the invitation's role is above yours",
            ));
            continue;
        }
        match action.judge(invite, now) {
            Verdict::Refuse(code, message) => {
                errors.push(ItemError::for_id(index, raw, code, message))
            }
            Verdict::Unchanged => items.push(invite.clone()),
            Verdict::Change => {
                if action == Action::Resend && status(invite, now) == Status::Expired {
                    revived.push((index, raw));
                }
                let after = action.apply(invite, now, expires_at);
                items.push(after.clone());
                changed.push((invite.clone(), after));
            }
        }
    }
    if !revived.is_empty() {
        let seats = seats::check(db, actor.account_id).await?;
        if let Some(free) = seats.free() {
            let free = usize::try_from(free).unwrap_or(0);
            for (index, raw) in revived.into_iter().skip(free) {
                errors.push(ItemError::for_id(
                    index,
                    raw,
                    SeatLimit,
                    format!(
                        "resending this expired invitation takes a seat; the account's seat \
                         limit ({}) would be exceeded",
                        seats.limit.unwrap_or_default()
                    ),
                ));
            }
        }
    }
    errors.sort_by_key(|e| e.index);
    Ok(IdPlan {
        items,
        changed,
        errors,
    })
}

async fn write_ids<C: ConnectionTrait>(
    db: &C,
    op: &Operation,
    action: Action,
    plan: &IdPlan,
) -> Result<()> {
    let now = op.at;
    let ids: Vec<Uuid> = plan.changed.iter().map(|(before, _)| before.id).collect();
    for chunk in ids.chunks(READ_CHUNK) {
        let update = invite::Entity::update_many()
            .col_expr(invite::Column::UpdatedAt, Expr::value(now))
            .filter(invite::Column::Id.is_in(chunk.to_vec()));
        let update = match action {
            Action::Resend => {
                // All changed rows share one account, so one expiry.
                let expires_at = plan
                    .changed
                    .first()
                    .map(|(_, a)| a.expires_at)
                    .unwrap_or(now);
                update
                    .col_expr(
                        invite::Column::TokenHash,
                        Expr::value(Option::<Vec<u8>>::None),
                    )
                    .col_expr(invite::Column::ExpiresAt, Expr::value(expires_at))
                    .col_expr(
                        invite::Column::SendCount,
                        Expr::col(invite::Column::SendCount).add(1),
                    )
                    .col_expr(invite::Column::LastSentAt, Expr::value(now))
                    .col_expr(invite::Column::Delivery, Expr::value(delivery::QUEUED))
                    .col_expr(
                        invite::Column::DeliveryError,
                        Expr::value(Option::<String>::None),
                    )
            }
            Action::Withdraw => update.col_expr(invite::Column::WithdrawnAt, Expr::value(now)),
            Action::Delete => update.col_expr(invite::Column::DeletedAt, Expr::value(now)),
        };
        update.exec(db).await?;
    }
    cancel_emails(db, &ids).await?;
    if action == Action::Resend {
        let afters: Vec<&invite::Model> = plan.changed.iter().map(|(_, a)| a).collect();
        queue_emails(db, &afters, now).await?;
    }
    let changes = plan
        .changed
        .iter()
        .map(|(before, after)| {
            let after_json = (action != Action::Delete).then(|| snapshot(after, now));
            invite_change(
                action.audit_action(),
                before,
                Some(snapshot(before, now)),
                after_json,
            )
        })
        .collect();
    audit::record(db, op, changes).await
}

async fn bulk_on_ids(
    db: &Db,
    actor: &Principal,
    ids: &[String],
    dry_run: bool,
    max_items: usize,
    action: Action,
) -> Result<Outcome<invite::Model>> {
    require_invite(actor)?;
    check_size(ids.len(), max_items)?;
    if dry_run {
        let plan = plan_ids(db.conn(), actor, ids, action, now_ms(), false).await?;
        return Ok(plan.into_outcome(true, None));
    }
    let txn = db.begin_write().await?;
    let actor = &access::recheck(&txn, actor, Permission::UsersInvite, INVITE_REFUSAL).await?;
    let op = Operation::start(actor);
    // The rows are locked (PostgreSQL) from the check to the commit, so a concurrent accept,
    // resend or worker cannot slip in between.
    let plan = plan_ids(&txn, actor, ids, action, op.at, true).await?;
    if !plan.errors.is_empty() || plan.changed.is_empty() {
        txn.rollback().await?;
        return Ok(plan.into_outcome(false, None));
    }
    write_ids(&txn, &op, action, &plan).await?;
    txn.commit().await?;
    Ok(plan.into_outcome(false, Some(op.id)))
}

/// `resendInvites`: PENDING or EXPIRED invitations get a new link (the old one dies at
/// once), a new expiry and a queued email.
pub async fn resend(
    db: &Db,
    actor: &Principal,
    ids: &[String],
    dry_run: bool,
    max_items: usize,
) -> Result<Outcome<invite::Model>> {
    bulk_on_ids(db, actor, ids, dry_run, max_items, Action::Resend).await
}

/// `withdrawInvites`: PENDING or EXPIRED invitations become WITHDRAWN; their link dies.
pub async fn withdraw(
    db: &Db,
    actor: &Principal,
    ids: &[String],
    dry_run: bool,
    max_items: usize,
) -> Result<Outcome<invite::Model>> {
    bulk_on_ids(db, actor, ids, dry_run, max_items, Action::Withdraw).await
}

/// `deleteInvites`: invitations in any state disappear from every list. The items are the
/// ids of the deleted invitations.
pub async fn delete(
    db: &Db,
    actor: &Principal,
    ids: &[String],
    dry_run: bool,
    max_items: usize,
) -> Result<Outcome<Uuid>> {
    let outcome = bulk_on_ids(db, actor, ids, dry_run, max_items, Action::Delete).await?;
    Ok(Outcome {
        items: outcome.items.into_iter().map(|i| i.id).collect(),
        changed_count: outcome.changed_count,
        errors: outcome.errors,
        dry_run: outcome.dry_run,
        operation_id: outcome.operation_id,
        seats_remaining: None,
    })
}

// ---- acceptInvite ----

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
fn refusal(i: &invite::Model, now: i64) -> Option<AcceptRefusal> {
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
    invite_after["acceptedUserId"] = json!(UserId(user.id).to_string());
    let restored = before.is_some();
    audit::record(
        &txn,
        &op,
        vec![
            invite_change(
                "invite.accepted",
                &found,
                Some(snapshot(&found, now)),
                Some(invite_after),
            ),
            Change {
                action: if restored {
                    "user.restored"
                } else {
                    "user.created"
                },
                target_type: "User",
                target_id: user.id,
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

// ---- the accept page's preview ----

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
