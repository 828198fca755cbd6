//! Provisioning: the users a directory (SCIM) creates directly — active at once, no
//! invitation — and the profile fields (email, name, external id) it keeps in sync. Role,
//! team, suspension and deletion are `users`' rules: a directory's update of a user
//! (`update_user`) or a team (`update_group`) makes all its parts in one transaction by
//! calling their `_in(txn, …)` forms (`users::apply_in`, `teams::update_team_in`), so one
//! refused part leaves everything as it was and no rule has a second copy here.
//!
//! Rules (the same as an administrator inviting someone):
//! - creating needs `USERS_INVITE`; editing a profile needs it too (a directory that may
//!   create a person may keep their name and address current);
//! - the team is within the actor's reach; the role is one the actor could grant (no
//!   escalation), and a user whose current role the actor could not grant is not edited;
//! - the email is valid, unique among the account's users (deleted ones aside), and in the
//!   account's allowed domains unless the actor holds `INVITE_ANY_DOMAIN`;
//! - every change is audited with the actor, in the transaction of the change.
//!
//! Defaults for a created user: `default_team` (the directory token's anchor team, else the
//! account's oldest team) and the built-in Sender role — the least a new person can hold.

use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, IntoIden, JoinType, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait,
};
use serde_json::{Value as Json, json};

use super::audit::{self, AuditAction, Change, Operation};
use super::bulk::{ItemError, Requested};
use super::email::Email;
use super::ids::{AccountId, RoleId, ScimTokenId, Sent, TeamId, UserId};
use super::text::{self, Name};
use super::users::{self, Request, Status};
use super::{Db, Error, access, accounts, dialect, is_unique_violation, seats, teams};
use crate::auth::{BuiltInRole, Permission, PermissionSet, Principal};
use crate::entity::{account, role, scim_token, team, user};

/// Longest external id accepted.
pub const MAX_EXTERNAL_ID: usize = 255;

/// Why a provisioning request was refused, beyond the service's general errors.
#[derive(Debug)]
pub enum ProvisionError {
    /// The email is already used by another user of the account.
    Uniqueness(String),
    /// A value is not acceptable (`field`, message).
    Invalid(&'static str, String),
    /// The account has no free seat.
    SeatLimit(String),
    /// Anything else the service says (forbidden, not found, internal…).
    Service(Error),
    /// A bulk rule refused the user (last Admin, seat limit, no escalation, reach…).
    Refused(Vec<ItemError>),
    /// The change cannot be made in this state (e.g. removing a member of the default team).
    Mutability(String),
    /// Part of a multi-part change (named by the attribute it changes) was refused, so
    /// none of it was made.
    At(String, Box<ProvisionError>),
}

impl From<Error> for ProvisionError {
    fn from(e: Error) -> Self {
        match e {
            Error::BadInput { field, message, .. } => {
                ProvisionError::Invalid(field.unwrap_or("value"), message)
            }
            other => ProvisionError::Service(other),
        }
    }
}

impl From<sea_orm::DbErr> for ProvisionError {
    fn from(e: sea_orm::DbErr) -> Self {
        ProvisionError::Service(e.into())
    }
}

/// The result type of this module.
pub type Result<T, E = ProvisionError> = std::result::Result<T, E>;

/// A team (`Ref<TeamId>`) or role (`Ref<RoleId>`), named by id or by name (a role also by
/// its built-in key, e.g. `ADMIN`).
#[derive(Clone, Copy, Debug)]
pub enum Ref<'a, T> {
    /// By id, parsed where it came in (`None` when `sent` is no id of this kind: answered as
    /// an id of nothing); `sent` is the text as the directory sent it, for the answer.
    Id {
        id: Sent<T>,
        sent: &'a str,
    },
    Name(&'a str),
}

/// What a directory sends for a new user.
#[derive(Clone, Debug, Default)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub external_id: Option<&'a str>,
    pub team: Option<Ref<'a, TeamId>>,
    pub role: Option<Ref<'a, RoleId>>,
    /// `false` creates the user suspended (no seat taken).
    pub active: bool,
}

/// Profile fields to change; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct ProfileChanges<'a> {
    pub email: Option<&'a str>,
    pub name: Option<&'a str>,
    /// `Some(None)` removes the external id.
    pub external_id: Option<Option<&'a str>>,
}

fn parse_email(raw: &str) -> Result<Email> {
    Email::parse(raw).ok_or_else(|| {
        ProvisionError::Invalid("userName", format!("{raw:?} is not a valid email address"))
    })
}

/// Checks an external id: 1–255 characters, no control characters.
pub fn check_external_id(raw: &str) -> Result<()> {
    if raw.is_empty() || raw.chars().count() > MAX_EXTERNAL_ID || raw.chars().any(char::is_control)
    {
        return Err(ProvisionError::Invalid(
            "externalId",
            format!("externalId must be 1–{MAX_EXTERNAL_ID} characters without control characters"),
        ));
    }
    Ok(())
}

async fn check_domain(txn: &DatabaseTransaction, actor: &Principal, email: &Email) -> Result<()> {
    if actor.can(Permission::InviteAnyDomain) {
        return Ok(());
    }
    let account = accounts::get(txn, actor).await?;
    let allowed = accounts::allowed_domains(&account)?;
    if !allowed.is_empty() && !allowed.iter().any(|d| d == email.domain()) {
        return Err(ProvisionError::Invalid(
            "userName",
            format!(
                "{} is outside the account's allowed email domains",
                email.domain()
            ),
        ));
    }
    Ok(())
}

async fn check_unique(
    txn: &DatabaseTransaction,
    account_id: AccountId,
    email: &Email,
    except: Option<UserId>,
) -> Result<()> {
    let mut select = user::Entity::find()
        .filter(user::Column::AccountId.eq(account_id))
        .filter(user::Column::Email.eq(email.as_str()))
        .filter(user::Column::DeletedAt.is_null());
    if let Some(id) = except {
        select = select.filter(user::Column::Id.ne(id));
    }
    if select.one(txn).await?.is_some() {
        return Err(ProvisionError::Uniqueness(format!(
            "{} is already a user of this account",
            email.as_str()
        )));
    }
    Ok(())
}

fn uniqueness_or(e: Error, email: &Email) -> ProvisionError {
    if let Error::Internal(cause) = &e
        && cause
            .downcast_ref::<sea_orm::DbErr>()
            .is_some_and(|db| is_unique_violation(db, "users_account_external_id"))
    {
        return external_id_taken();
    }
    match &e {
        Error::Internal(cause)
            if cause
                .downcast_ref::<sea_orm::DbErr>()
                .is_some_and(|db| is_unique_violation(db, "users_account_email_active")) =>
        {
            ProvisionError::Uniqueness(format!(
                "{} is already a user of this account",
                email.as_str()
            ))
        }
        _ => e.into(),
    }
}

fn external_id_taken() -> ProvisionError {
    ProvisionError::Uniqueness("another user of this account has this externalId".into())
}

async fn check_external_unique(
    txn: &DatabaseTransaction,
    account_id: AccountId,
    external_id: &str,
    except: Option<UserId>,
) -> Result<()> {
    let mut select = user::Entity::find()
        .filter(user::Column::AccountId.eq(account_id))
        .filter(user::Column::ExternalId.eq(external_id))
        .filter(user::Column::DeletedAt.is_null());
    if let Some(id) = except {
        select = select.filter(user::Column::Id.ne(id));
    }
    if select.one(txn).await?.is_some() {
        return Err(external_id_taken());
    }
    Ok(())
}

/// The team a new user joins: named, or the actor's own; within the actor's reach.
async fn resolve_team(
    txn: &DatabaseTransaction,
    db: &Db,
    actor: &Principal,
    wanted: Option<Ref<'_, TeamId>>,
) -> Result<team::Model> {
    let id = match wanted {
        // An organization-wide directory token: its anchor team, or else the account's
        // oldest team, read and share-locked in one statement (the common case of a first
        // sync: thousands of creates naming no team).
        None if actor.team_id.is_nil() && actor.scim_token_id.is_some() => {
            return directory_default_team_locked(txn, actor)
                .await?
                .ok_or_else(|| ProvisionError::Invalid("team", "the account has no team".into()));
        }
        None => default_team(txn, actor)
            .await?
            .ok_or_else(|| ProvisionError::Invalid("team", "the account has no team".into()))?,
        Some(r) => find_team(txn, actor, r).await?.ok_or_else(|| no_team(r))?,
    };
    if !access::acts_in_team(actor, id) {
        return Err(ProvisionError::Invalid(
            "team",
            "no such team within your reach".into(),
        ));
    }
    match teams::lock_for_reference(txn, db.backend(), actor.account_id, id).await {
        Ok(team) => Ok(team),
        Err(Error::NotFound(_)) => Err(ProvisionError::Invalid("team", "no such team".into())),
        Err(e) => Err(e.into()),
    }
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
async fn directory_default_team_locked(
    txn: &DatabaseTransaction,
    actor: &Principal,
) -> Result<Option<team::Model>> {
    let Some(token) = actor.scim_token_id else {
        return Ok(None);
    };
    let team = super::dialect::locked(
        directory_teams(actor, token),
        txn.get_database_backend(),
        super::dialect::Lock::Share,
    )
    .one(txn)
    .await?;
    Ok(team.filter(|t| access::acts_in_team(actor, t.id)))
}

/// What an organization-wide directory's new user gets when the directory names neither
/// team nor role, and the account's seat limit.
struct DirectoryDefaults {
    team: team::Model,
    role: role::Model,
    seat_limit: Option<i64>,
}

/// The prefix of the role's columns in `directory_defaults`' statement, and the alias
/// of the seat limit.
const DEFAULT_ROLE: &str = "r_";
const SEAT_LIMIT: &str = "seat_limit";

/// For an organization-wide directory token: the team (as `directory_default_team_locked`),
/// the built-in Sender role and the account's seat limit, in one statement. Called under the
/// account lock (`access::recheck`), which every change of teams and roles takes first, so
/// neither can be deleted before the commit without locking their rows as well.
/// `None` for any other actor, or when a default is missing (the caller then reads them one
/// by one, to say which).
async fn directory_defaults(
    txn: &DatabaseTransaction,
    actor: &Principal,
) -> Result<Option<DirectoryDefaults>> {
    let Some(token) = actor.scim_token_id.filter(|_| actor.team_id.is_nil()) else {
        return Ok(None);
    };
    let mut query = directory_teams(actor, token).limit(1).into_query();
    query
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
    super::db::select_prefixed::<role::Entity>(&mut query, role::Entity.into_iden(), DEFAULT_ROLE);
    let backend = txn.get_database_backend();
    let Some(row) = txn.query_one_raw(backend.build(&query)).await? else {
        return Ok(None);
    };
    let team = team::Model::from_query_result(&row, "")?;
    if !access::acts_in_team(actor, team.id) {
        return Ok(None);
    }
    Ok(Some(DirectoryDefaults {
        team,
        role: role::Model::from_query_result(&row, DEFAULT_ROLE)?,
        seat_limit: row.try_get::<Option<i32>>("", SEAT_LIMIT)?.map(i64::from),
    }))
}

/// The role of a new user: named (id, name or built-in key), or the built-in Sender.
async fn resolve_role(
    txn: &DatabaseTransaction,
    db: &Db,
    actor: &Principal,
    wanted: Option<Ref<'_, RoleId>>,
) -> Result<role::Model> {
    // Share-locked against a concurrent deleteRole, like every grant, in the read itself.
    let role = match wanted {
        None => {
            super::dialect::locked(
                role::Entity::find()
                    .filter(role::Column::AccountId.eq(actor.account_id))
                    .filter(role::Column::DeletedAt.is_null())
                    .filter(role::Column::Key.eq(BuiltInRole::Sender.as_str())),
                db.backend(),
                super::dialect::Lock::Share,
            )
            .one(txn)
            .await?
        }
        Some(r) => find_role(txn, actor.account_id, r).await?,
    };
    let role = role.ok_or_else(|| ProvisionError::Invalid("role", "no such role".into()))?;
    if !grantable(actor, &role)? {
        return Err(ProvisionError::Service(Error::forbidden(
            "this role is wider or more powerful than yours, so you cannot grant it",
        )));
    }
    Ok(role)
}

fn grantable(actor: &Principal, role: &role::Model) -> Result<bool> {
    Ok(actor.can_grant(role.scope, PermissionSet::from_bits(role.permissions)))
}

fn snapshot(u: &user::Model, team: Option<&team::Model>, role: Option<&role::Model>) -> Json {
    let mut s = json!({ "email": u.email, "name": u.name });
    if let Some(t) = team {
        s["teamId"] = json!(t.id.to_string());
        s["team"] = json!(t.name);
    }
    if let Some(r) = role {
        s["roleId"] = json!(r.id.to_string());
        s["role"] = json!(r.name);
    }
    s
}

/// The insert of `user` as one statement, for `audit::record_with`: on PostgreSQL with its
/// row as one JSON parameter (`json_populate_record`), so the statement's text is always the
/// same.
fn insert_user(backend: sea_orm::DatabaseBackend, user: &user::Model) -> audit::Write<'static> {
    if !dialect::has_json_recordset(backend) {
        let insert = sea_orm::QueryTrait::build(
            &user::Entity::insert(user::ActiveModel::from(user.clone())),
            backend,
        );
        return audit::Write {
            sql: insert.sql.into(),
            values: insert.values.map(|v| v.0).unwrap_or_default(),
        };
    }
    const SQL: &str = "INSERT INTO users (id, account_id, email, name, name_key, search_text, \
        team_id, role_id, created_at, updated_at, deleted_at, tokens_valid_after, status, \
        external_id, version) \
        SELECT id, account_id, email, name, name_key, search_text, team_id, role_id, created_at, \
        updated_at, deleted_at, tokens_valid_after, status, external_id, version \
        FROM json_populate_record(NULL::users, CAST($1 AS json))";
    let row = json!({
        "id": user.id,
        "account_id": user.account_id,
        "email": user.email,
        "name": user.name,
        "name_key": user.name_key,
        "search_text": user.search_text,
        "team_id": user.team_id,
        "role_id": user.role_id,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
        "deleted_at": user.deleted_at,
        "tokens_valid_after": user.tokens_valid_after,
        "status": user.status.as_str(),
        "external_id": user.external_id,
        "version": user.version,
    });
    audit::Write {
        sql: SQL.into(),
        values: vec![row.to_string().into()],
    }
}

/// Creates an active user directly (no invitation), in one transaction, audited as
/// `user.created` with the actor.
pub async fn create_user(db: &Db, actor: &Principal, new: NewUser<'_>) -> Result<Created> {
    if !actor.can(Permission::UsersInvite) {
        return Err(Error::forbidden("your role may not create users").into());
    }
    let email = parse_email(new.email)?;
    let name = Name::parse("name", new.name)?;
    if let Some(x) = new.external_id {
        check_external_id(x)?;
    }
    let txn = db.begin_write().await?;
    let actor = &access::recheck(
        &txn,
        actor,
        Permission::UsersInvite,
        "your role may not create users",
    )
    .await?;
    check_domain(&txn, actor, &email).await?;
    // A first sync's creates name no team and no role: read the directory's defaults and the
    // seat limit in one statement. Anything else (or a missing default, to say which) reads
    // them one by one.
    let defaults = match (new.team, new.role) {
        (None, None) => directory_defaults(&txn, actor).await?,
        _ => None,
    };
    let (team, role, seat_limit) = match defaults {
        Some(d) => {
            if !grantable(actor, &d.role)? {
                return Err(ProvisionError::Service(Error::forbidden(
                    "this role is wider or more powerful than yours, so you cannot grant it",
                )));
            }
            (d.team, d.role, Some(d.seat_limit))
        }
        None => (
            resolve_team(&txn, db, actor, new.team).await?,
            resolve_role(&txn, db, actor, new.role).await?,
            None,
        ),
    };
    // An active user takes a seat; a suspended one does not. `recheck` holds the account
    // lock already, so the count cannot change before the commit.
    if new.active {
        let seats = match seat_limit {
            Some(limit) => seats::check_with_limit(&txn, actor.account_id, limit).await?,
            None => seats::check(&txn, actor.account_id).await?,
        };
        if !seats.fits(1) {
            return Err(ProvisionError::SeatLimit(format!(
                "the account's seat limit ({}) is reached: {} seats are in use",
                seats.limit.unwrap_or_default(),
                seats.used
            )));
        }
    }
    let op = Operation::start(actor);
    let status = if new.active {
        Status::Active
    } else {
        Status::Suspended
    };
    let created = user::Model {
        id: UserId::new(),
        account_id: actor.account_id,
        email: email.as_str().to_owned(),
        name: name.as_str().to_owned(),
        name_key: name.key(),
        search_text: text::search_text(name.as_str(), email.as_str()),
        team_id: team.id,
        role_id: role.id,
        created_at: op.at,
        updated_at: op.at,
        deleted_at: None,
        tokens_valid_after: None,
        status,
        external_id: new.external_id.map(str::to_owned),
        version: 1,
    };
    let mut after = snapshot(&created, Some(&team), Some(&role));
    after["status"] = json!(status.as_str());
    if let Some(x) = &created.external_id {
        after["externalId"] = json!(x);
    }
    let changes = vec![Change {
        action: AuditAction::UserCreated,
        target_type: "User",
        target_id: created.id.into(),
        target_label: Some(created.email.clone()),
        target_team_id: Some(team.id),
        before: None,
        after: Some(after),
    }];
    // Uniqueness of the email and the external id: the unique indexes answer at the insert
    // (`uniqueness_or`), one statement fewer each than asking first.
    // The user, its audit row and its event in one round trip (every column is known here,
    // so nothing needs to be returned).
    audit::record_with(
        &txn,
        &op,
        changes,
        insert_user(txn.get_database_backend(), &created),
    )
    .await
    .map_err(|e| uniqueness_or(e, &email))?;
    txn.commit().await?;
    Ok(Created {
        user: created,
        team,
        role,
    })
}

/// A user `create_user` made, with their team and role.
#[derive(Debug)]
pub struct Created {
    pub user: user::Model,
    pub team: team::Model,
    pub role: role::Model,
}

/// Changes a user's email, name and/or external id, audited as `user.updated` with the fields that
/// changed. Unchanged values write nothing.
pub async fn update_profile(
    db: &Db,
    actor: &Principal,
    user_id: UserId,
    changes: ProfileChanges<'_>,
) -> Result<user::Model> {
    if !actor.can(Permission::UsersInvite) {
        return Err(Error::forbidden("your role may not edit users").into());
    }
    let txn = db.begin_write().await?;
    let actor = &access::recheck(
        &txn,
        actor,
        Permission::UsersInvite,
        "your role may not edit users",
    )
    .await?;
    let op = Operation::start(actor);
    let updated = update_profile_in(&txn, actor, &op, user_id, changes).await?;
    txn.commit().await?;
    Ok(updated)
}

/// `update_profile` inside the caller's write transaction: the caller has rechecked
/// `actor` (`access::recheck`) and commits.
async fn update_profile_in(
    txn: &DatabaseTransaction,
    actor: &Principal,
    op: &Operation,
    user_id: UserId,
    changes: ProfileChanges<'_>,
) -> Result<user::Model> {
    if !actor.can(Permission::UsersInvite) {
        return Err(Error::forbidden("your role may not edit users").into());
    }
    let email = changes.email.map(parse_email).transpose()?;
    let name = changes.name.map(|n| Name::parse("name", n)).transpose()?;
    if let Some(Some(x)) = changes.external_id {
        check_external_id(x)?;
    }
    let current = access::users(actor)
        .filter(user::Column::Id.eq(user_id))
        .one(txn)
        .await?
        .ok_or(Error::NotFound("user"))?;
    let role = role::Entity::find_by_id(current.role_id)
        .one(txn)
        .await?
        .ok_or(Error::NotFound("role"))?;
    if !grantable(actor, &role)? {
        return Err(Error::forbidden(
            "this user's role is wider or more powerful than yours, so you cannot change them",
        )
        .into());
    }
    let email = email.filter(|e| e.as_str() != current.email);
    let name = name.filter(|n| n.as_str() != current.name);
    let external_id = changes
        .external_id
        .filter(|x| x.map(str::to_owned) != current.external_id);
    if email.is_none() && name.is_none() && external_id.is_none() {
        return Ok(current);
    }
    if let Some(e) = &email {
        check_domain(txn, actor, e).await?;
        check_unique(txn, actor.account_id, e, Some(current.id)).await?;
    }
    if let Some(Some(x)) = external_id {
        check_external_unique(txn, actor.account_id, x, Some(current.id)).await?;
    }
    let mut after = current.clone();
    let (mut before_json, mut after_json) = (json!({}), json!({}));
    if let Some(e) = &email {
        after.email = e.as_str().to_owned();
        before_json["email"] = json!(current.email);
        after_json["email"] = json!(after.email);
    }
    if let Some(n) = &name {
        after.name = n.as_str().to_owned();
        after.name_key = n.key();
        before_json["name"] = json!(current.name);
        after_json["name"] = json!(after.name);
    }
    if let Some(x) = external_id {
        after.external_id = x.map(str::to_owned);
        before_json["externalId"] = json!(current.external_id);
        after_json["externalId"] = json!(after.external_id);
    }
    after.search_text = text::search_text(&after.name, &after.email);
    after.updated_at = op.at;
    let written = user::Entity::update_many()
        .col_expr(user::Column::Email, Expr::value(after.email.clone()))
        .col_expr(user::Column::Name, Expr::value(after.name.clone()))
        .col_expr(user::Column::NameKey, Expr::value(after.name_key.clone()))
        .col_expr(
            user::Column::SearchText,
            Expr::value(after.search_text.clone()),
        )
        .col_expr(
            user::Column::ExternalId,
            Expr::value(after.external_id.clone()),
        )
        .col_expr(user::Column::UpdatedAt, Expr::value(op.at))
        .filter(user::Column::Id.eq(current.id))
        .exec(txn)
        .await;
    if let Err(e) = written {
        if is_unique_violation(&e, "users_account_external_id") {
            return Err(external_id_taken());
        }
        return Err(match &email {
            Some(addr) => uniqueness_or(e.into(), addr),
            None => ProvisionError::Service(e.into()),
        });
    }
    audit::record(
        txn,
        op,
        vec![Change {
            action: AuditAction::UserUpdated,
            target_type: "User",
            target_id: current.id.into(),
            target_label: Some(after.email.clone()),
            target_team_id: Some(current.team_id),
            before: Some(before_json),
            after: Some(after_json),
        }],
    )
    .await?;
    Ok(after)
}

/// Everything a directory asks to change on one user in one request (a SCIM PUT or
/// PATCH); `None` leaves a part as it is.
#[derive(Clone, Debug, Default)]
pub struct UserChanges<'a> {
    pub profile: ProfileChanges<'a>,
    pub team: Option<Ref<'a, TeamId>>,
    pub role: Option<Ref<'a, RoleId>>,
    /// `Some(true)` reactivates a suspended user, `Some(false)` suspends an active one.
    pub active: Option<bool>,
}

impl UserChanges<'_> {
    /// The profile fields asked for, as the directory names them (for error messages).
    fn profile_fields(&self) -> String {
        let p = &self.profile;
        [
            p.email.map(|_| "email"),
            p.name.map(|_| "name"),
            p.external_id.map(|_| "externalId"),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
    }

    /// The permissions the changes need, the first one taken for the recheck.
    fn permissions(&self) -> Vec<(&'static str, Permission)> {
        let p = &self.profile;
        let mut needed = Vec::new();
        if self.active.is_some() {
            needed.push(("active", Permission::UsersSuspend));
        }
        if p.email.is_some() || p.name.is_some() || p.external_id.is_some() {
            needed.push(("profile", Permission::UsersInvite));
        }
        if self.team.is_some() {
            needed.push(("team", Permission::UsersReassign));
        }
        if self.role.is_some() {
            needed.push(("role", Permission::UsersChangeRole));
        }
        needed
    }
}

/// Applies all of `changes` to one user in ONE write transaction — reactivation first,
/// then the profile, the team, the role, and suspension last — through the same rule code
/// as the GraphQL mutations (`users::apply_in`: permission, reach, no escalation, last
/// Admin, seats on reactivation; `update_profile_in`), audited as one operation with the
/// actor. If any part is refused nothing changes, and the error names the part
/// (`ProvisionError::At`).
pub async fn update_user(
    db: &Db,
    actor: &Principal,
    user_id: UserId,
    changes: UserChanges<'_>,
) -> Result<()> {
    let needed = changes.permissions();
    let Some((_, first)) = needed.first().copied() else {
        return Ok(());
    };
    let refusal = "your role may not make this change to users";
    let txn = db.begin_write().await?;
    let actor = &access::recheck(&txn, actor, first, refusal).await?;
    let op = Operation::start(actor);
    let ids = [Requested::known(user_id)];
    let at = |part: &str, e: ProvisionError| ProvisionError::At(part.to_owned(), Box::new(e));
    let bulk = |part: &'static str, outcome: super::bulk::Outcome<user::Model>| {
        if outcome.errors.is_empty() {
            Ok(())
        } else {
            Err(at(part, ProvisionError::Refused(outcome.errors)))
        }
    };
    if changes.active == Some(true) {
        let outcome = users::apply_in(&txn, actor, &op, &ids, Request::Reactivate, false)
            .await
            .map_err(|e| at("active", e.into()))?;
        bulk("active", outcome)?;
    }
    let fields = changes.profile_fields();
    if !fields.is_empty() {
        update_profile_in(&txn, actor, &op, user_id, changes.profile.clone())
            .await
            .map_err(|e| match e {
                // Already names its field.
                ProvisionError::Invalid(..) | ProvisionError::Uniqueness(_) => e,
                other => at(&fields, other),
            })?;
    }
    if let Some(wanted) = changes.team {
        let team = find_team(&txn, actor, wanted)
            .await?
            .ok_or_else(|| no_team(wanted))?;
        let outcome = users::apply_in(&txn, actor, &op, &ids, Request::Team(Some(team)), false)
            .await
            .map_err(|e| match e {
                Error::NotFound(_) => {
                    ProvisionError::Invalid("team", "no such team within your reach".into())
                }
                other => at("team", other.into()),
            })?;
        bulk("team", outcome)?;
    }
    if let Some(wanted) = changes.role {
        let role = find_role(&txn, actor.account_id, wanted)
            .await?
            .ok_or_else(|| ProvisionError::Invalid("role", "no such role".into()))?;
        let outcome = users::apply_in(&txn, actor, &op, &ids, Request::Role(Some(role.id)), false)
            .await
            .map_err(|e| match e {
                Error::NotFound(_) => ProvisionError::Invalid("role", "no such role".into()),
                other => at("role", other.into()),
            })?;
        bulk("role", outcome)?;
    }
    if changes.active == Some(false) {
        let outcome = users::apply_in(&txn, actor, &op, &ids, Request::Suspend, false)
            .await
            .map_err(|e| at("active", e.into()))?;
        bulk("active", outcome)?;
    }
    txn.commit().await?;
    Ok(())
}

/// A live team of the account named by id or name (reach is checked by the caller).
async fn find_team(
    txn: &DatabaseTransaction,
    actor: &Principal,
    wanted: Ref<'_, TeamId>,
) -> Result<Option<TeamId>> {
    match wanted {
        Ref::Id { id, .. } => Ok(id),
        Ref::Name(raw) => {
            let key = Name::parse("team", raw)?.key();
            Ok(team::Entity::find()
                .filter(team::Column::AccountId.eq(actor.account_id))
                .filter(team::Column::DeletedAt.is_null())
                .filter(team::Column::NameKey.eq(key))
                .one(txn)
                .await?
                .map(|t| t.id))
        }
    }
}

fn no_team(wanted: Ref<'_, TeamId>) -> ProvisionError {
    let (Ref::Id { sent: raw, .. } | Ref::Name(raw)) = wanted;
    ProvisionError::Invalid("team", format!("no team {raw:?}"))
}

/// A live role of the account named by id, built-in key (e.g. `ADMIN`) or name,
/// share-locked on PostgreSQL (against a concurrent deleteRole) until the transaction ends.
async fn find_role(
    txn: &DatabaseTransaction,
    account_id: AccountId,
    wanted: Ref<'_, RoleId>,
) -> Result<Option<role::Model>> {
    let live = super::dialect::locked(
        role::Entity::find()
            .filter(role::Column::AccountId.eq(account_id))
            .filter(role::Column::DeletedAt.is_null()),
        txn.get_database_backend(),
        super::dialect::Lock::Share,
    );
    Ok(match wanted {
        Ref::Id { id: Some(id), .. } => live.filter(role::Column::Id.eq(id)).one(txn).await?,
        Ref::Id { id: None, .. } => None,
        Ref::Name(raw) => {
            let by_key = live
                .clone()
                .filter(role::Column::Key.eq(raw.trim().to_ascii_uppercase()))
                .one(txn)
                .await?;
            match by_key {
                Some(r) => Some(r),
                None => {
                    let key = Name::parse("role", raw)?.key();
                    live.filter(role::Column::NameKey.eq(key)).one(txn).await?
                }
            }
        }
    })
}

/// What a directory asks to change on a team in one request (a SCIM Group PUT or PATCH).
#[derive(Clone, Debug, Default)]
pub struct GroupChanges<'a> {
    /// The new name.
    pub name: Option<&'a str>,
    /// `Some(None)` removes the external id.
    pub external_id: Option<Option<&'a str>>,
    /// Users (ids as sent, parsed) to move into the team.
    pub add: Vec<Requested<UserId>>,
    /// Users (ids as sent, parsed) to move out of it, to the directory's default team.
    pub remove: Vec<Requested<UserId>>,
}

/// Applies all of `changes` to one team in ONE write transaction — rename
/// (`teams::update_team_in`), external id, members added (moved in), members removed
/// (moved to `default_team`; members of the default team cannot be removed, `Mutability`)
/// — with the rules of the GraphQL mutations, audited as one operation. If any part is
/// refused nothing changes.
pub async fn update_group(
    db: &Db,
    actor: &Principal,
    team_id: TeamId,
    changes: GroupChanges<'_>,
) -> Result<()> {
    let structure = changes.name.is_some() || changes.external_id.is_some();
    let members = !changes.add.is_empty() || !changes.remove.is_empty();
    let first = if structure {
        Permission::TeamsManage
    } else if members {
        Permission::UsersReassign
    } else {
        return Ok(());
    };
    let txn = db.begin_write().await?;
    let actor = &access::recheck(
        &txn,
        actor,
        first,
        "your role may not make this change to teams",
    )
    .await?;
    let op = Operation::start(actor);
    let at = |part: &str, e: ProvisionError| ProvisionError::At(part.to_owned(), Box::new(e));
    if let Some(name) = changes.name {
        teams::update_team_in(
            &txn,
            actor,
            &op,
            Some(team_id),
            teams::TeamChanges {
                name: Some(name),
                department_id: None,
            },
        )
        .await
        .map_err(|e| match e {
            Error::BadInput { message, .. } if message.contains("already exists") => {
                ProvisionError::Uniqueness(message)
            }
            other => at("displayName", other.into()),
        })?;
    }
    if let Some(x) = changes.external_id {
        set_team_external_id_in(&txn, actor, &op, team_id, x).await?;
    }
    let move_into = |ids: Vec<Requested<UserId>>, into: TeamId, part: &'static str| {
        let (txn, op) = (&txn, &op);
        async move {
            if ids.is_empty() {
                return Ok(());
            }
            let outcome = users::apply_in(txn, actor, op, &ids, Request::Team(Some(into)), false)
                .await
                .map_err(|e| at(part, e.into()))?;
            if outcome.errors.is_empty() {
                Ok(())
            } else {
                Err(at(part, ProvisionError::Refused(outcome.errors)))
            }
        }
    };
    move_into(changes.add, team_id, "members").await?;
    if !changes.remove.is_empty() {
        let fallback = default_team(&txn, actor)
            .await?
            .filter(|f| *f != team_id)
            .ok_or_else(|| {
                ProvisionError::Mutability(
                    "members of the account's default team cannot be removed; add them to another group instead"
                        .into(),
                )
            })?;
        move_into(changes.remove, fallback, "members").await?;
    }
    txn.commit().await?;
    Ok(())
}

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

/// Sets (or, with `None`, removes) the directory's id of a team (SCIM Group `externalId`):
/// `TEAMS_MANAGE` on a team within the actor's structure reach, audited as `team.updated`.
pub async fn set_team_external_id(
    db: &Db,
    actor: &Principal,
    team_id: TeamId,
    external_id: Option<&str>,
) -> Result<()> {
    if !actor.can(Permission::TeamsManage) {
        return Err(Error::forbidden("your role may not change teams").into());
    }
    let txn = db.begin_write().await?;
    let actor = &access::recheck(
        &txn,
        actor,
        Permission::TeamsManage,
        "your role may not change teams",
    )
    .await?;
    let op = Operation::start(actor);
    set_team_external_id_in(&txn, actor, &op, team_id, external_id).await?;
    txn.commit().await?;
    Ok(())
}

/// `set_team_external_id` inside the caller's write transaction (rechecked `actor`).
async fn set_team_external_id_in(
    txn: &DatabaseTransaction,
    actor: &Principal,
    op: &Operation,
    team_id: TeamId,
    external_id: Option<&str>,
) -> Result<()> {
    if !actor.can(Permission::TeamsManage) {
        return Err(Error::forbidden("your role may not change teams").into());
    }
    if let Some(x) = external_id {
        check_external_id(x)?;
    }
    let backend = txn.get_database_backend();
    let team = teams::lock_for_reference(txn, backend, actor.account_id, team_id).await?;
    if !access::manages_team(actor, &team) {
        return Err(access::outside_structure_reach("this team").into());
    }
    if team.external_id.as_deref() == external_id {
        return Ok(());
    }
    team::Entity::update_many()
        .col_expr(
            team::Column::ExternalId,
            Expr::value(external_id.map(str::to_owned)),
        )
        .col_expr(team::Column::UpdatedAt, Expr::value(op.at))
        .filter(team::Column::Id.eq(team.id))
        .exec(txn)
        .await?;
    audit::record(
        txn,
        op,
        vec![Change {
            action: AuditAction::TeamUpdated,
            target_type: "Team",
            target_id: team.id.into(),
            target_label: Some(team.name.clone()),
            target_team_id: Some(team.id),
            before: Some(json!({ "externalId": team.external_id })),
            after: Some(json!({ "externalId": external_id })),
        }],
    )
    .await?;
    Ok(())
}
