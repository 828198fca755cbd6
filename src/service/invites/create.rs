//! `inviteUsers`: checking a request's invitations against the account as a whole, then
//! writing them, their emails and their audit events in one transaction — through
//! `bulk::run`, which checks again in a fresh transaction when a concurrent invitation of the
//! same address wins the race (`Written::Lost`).

use std::collections::{HashMap, HashSet};
use std::future::Future;

use super::super::audit::{self, AuditAction, Operation};
use super::super::bulk::{self, BulkChange, ItemError, ItemErrorCode, Outcome, Requested, Written};
use super::super::dialect;
use super::super::email::Email;
use super::super::ids::{InviteId, OperationId, RoleId, TeamId};
use super::super::{Db, Result, access, accounts, is_unique_violation, seats};
use super::{
    INVITE_REFUSAL, READ_CHUNK, Status, WRITE_CHUNK, cancel_emails, check_size, expiry, find_in,
    grantable, invite_change, locked, open_condition, queue_emails, snapshot, status,
};
use crate::auth::{Permission, Principal};
use crate::entity::{invite, role, team, user};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
};
use serde_json::json;

/// The name of the index that allows one open invitation per address.
const OPEN_INVITE_INDEX: &str = "invites_account_email_open";

/// One invitation as requested; `invite_users` checks every part.
#[derive(Clone, Debug)]
pub struct Invitation {
    pub email: String,
    /// The team's external id (`team_…`), parsed where it came in.
    pub team_id: Requested<TeamId>,
    /// The role's external id (`role_…`), parsed where it came in.
    pub role_id: Requested<RoleId>,
}

/// What `invite_users` would write.
struct InvitePlan {
    invites: Vec<invite::Model>,
    /// Expired open invitations that new ones replace, with the id of their replacement.
    superseded: Vec<(invite::Model, InviteId)>,
    errors: Vec<ItemError>,
    /// The account's seats before the request.
    seats: seats::Seats,
}

impl InvitePlan {
    fn into_outcome(
        self,
        dry_run: bool,
        operation_id: Option<OperationId>,
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

/// `ids` sorted, each once.
fn distinct<T: Ord>(mut ids: Vec<T>) -> Vec<T> {
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// An invitation whose address is valid and new to the request; its ids are `None` when
/// they are malformed (reported as NOT_FOUND, like ids that do not exist).
struct Parsed {
    email: Email,
    team_id: Option<TeamId>,
    role_id: Option<RoleId>,
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
            team_id: item.team_id.id,
            role_id: item.role_id.id,
        }));
    }

    // Everything the remaining checks need, a few set-based queries for the whole request.
    let team_ids = distinct(parsed.iter().flatten().filter_map(|p| p.team_id).collect());
    let role_ids = distinct(parsed.iter().flatten().filter_map(|p| p.role_id).collect());
    let emails: Vec<String> = parsed
        .iter()
        .flatten()
        .map(|p| p.email.as_str().to_owned())
        .collect();
    let teams: HashMap<TeamId, team::Model> = find_in(
        db,
        // Live teams only, share-locked on PostgreSQL against a concurrent deleteTeam.
        dialect::locked(
            team::Entity::find()
                .filter(team::Column::AccountId.eq(actor.account_id))
                .filter(team::Column::DeletedAt.is_null()),
            db.get_database_backend(),
            dialect::Lock::Share,
        ),
        team::Column::Id,
        &team_ids,
    )
    .await?
    .into_iter()
    .map(|t| (t.id, t))
    .collect();
    let roles: HashMap<RoleId, role::Model> = find_in(
        db,
        // Live roles only, share-locked on PostgreSQL against a concurrent deleteRole.
        dialect::locked(
            role::Entity::find()
                .filter(role::Column::AccountId.eq(actor.account_id))
                .filter(role::Column::DeletedAt.is_null()),
            db.get_database_backend(),
            dialect::Lock::Share,
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
                format!("team `{}` not found", item.team_id.sent),
            ));
            continue;
        };
        let Some(role) = role_id.and_then(|id| roles.get(&id)) else {
            errors.push(refuse(
                NotFound,
                format!("role `{}` not found", item.role_id.sent),
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
        let id = InviteId::new();
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
            delivery: invite::Delivery::Queued,
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

/// Writes the plan: withdraws the expired invitations it replaces, inserts the new ones,
/// queues their emails and records the audit. `Lost` when a concurrent change got there
/// first: one of the expired invitations changed, or another open invitation of an address
/// took the index (PostgreSQL; SQLite's writers take turns).
async fn write_invites<C: ConnectionTrait>(
    db: &C,
    op: &Operation,
    plan: &InvitePlan,
) -> Result<Written> {
    let now = op.at;
    let mut changes = Vec::with_capacity(plan.invites.len() + plan.superseded.len());
    if !plan.superseded.is_empty() {
        let ids: Vec<InviteId> = plan.superseded.iter().map(|(i, _)| i.id).collect();
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
            return Ok(Written::Lost);
        }
        cancel_emails(db, &ids).await?;
        for (old, replacement) in &plan.superseded {
            let mut after = old.clone();
            after.withdrawn_at = Some(now);
            after.updated_at = now;
            let mut after_json = snapshot(&after, now);
            after_json["supersededBy"] = json!(replacement.to_string());
            changes.push(invite_change(
                AuditAction::InviteWithdrawn,
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
            delivery: Set(i.delivery),
            delivery_error: Set(None),
            updated_at: Set(i.updated_at),
        });
        match invite::Entity::insert_many(rows).exec(db).await {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e, OPEN_INVITE_INDEX) => return Ok(Written::Lost),
            Err(e) => return Err(e.into()),
        }
    }
    queue_emails(db, &plan.invites.iter().collect::<Vec<_>>(), now).await?;
    changes.extend(
        plan.invites
            .iter()
            .map(|i| invite_change(AuditAction::InviteCreated, i, None, Some(snapshot(i, now)))),
    );
    audit::record(db, op, changes).await?;
    Ok(Written::Done)
}

/// `inviteUsers` as `bulk::run` takes it. A dry run is checked with plain reads; the real
/// change share-locks the teams and roles it names and locks the expired invitations it
/// replaces (PostgreSQL) from the check to the commit.
struct Invite<'a> {
    items: &'a [Invitation],
}

impl BulkChange for Invite<'_> {
    type Item = invite::Model;
    type Plan = InvitePlan;

    /// A concurrent invitation of the same address may win the race for the open-invitation
    /// index (PostgreSQL): checking again in a fresh transaction sees it and answers
    /// ALREADY_INVITED.
    const ATTEMPTS: usize = 3;

    fn permission(&self) -> (Permission, &'static str) {
        (Permission::UsersInvite, INVITE_REFUSAL)
    }

    fn check_size(&self, max: usize) -> Result<()> {
        check_size(self.items.len(), max)
    }

    fn plan<'a, C: ConnectionTrait>(
        &'a self,
        db: &'a C,
        actor: &'a Principal,
        at: i64,
        lock: bool,
    ) -> impl Future<Output = Result<InvitePlan>> + Send + 'a {
        plan_invites(db, actor, self.items, at, lock)
    }

    fn writes_nothing(plan: &InvitePlan) -> bool {
        !plan.errors.is_empty() || plan.invites.is_empty()
    }

    fn write<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        op: &'a Operation,
        plan: &'a InvitePlan,
    ) -> impl Future<Output = Result<Written>> + Send + 'a {
        write_invites(txn, op, plan)
    }

    fn outcome(
        plan: InvitePlan,
        dry_run: bool,
        operation_id: Option<OperationId>,
    ) -> Outcome<invite::Model> {
        plan.into_outcome(dry_run, operation_id)
    }
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
    bulk::run(db, actor, &Invite { items }, dry_run, max_items).await
}
