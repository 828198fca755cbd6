//! A user a directory creates: active at once (or suspended, holding no seat), no
//! invitation, in the team and role it names or the directory's defaults (`defaults`).

use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use serde_json::{Value as Json, json};

use super::super::audit::{self, AuditAction, Change, Operation};
use super::super::ids::{RoleId, TeamId, UserId};
use super::super::text::{self, Name};
use super::super::users::Status;
use super::super::{Db, Error, access, dialect, seats, teams};
use super::defaults::{default_team, directory_default_team_locked, recheck_with_defaults};
use super::{
    ProvisionError, Ref, Result, check_domain, check_external_id, find_role, find_team, grantable,
    no_team, parse_email, uniqueness_or,
};
use crate::auth::{BuiltInRole, Permission, Principal};
use crate::entity::{role, team, user};

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

/// A user `create_user` made, with their team and role.
#[derive(Debug)]
pub struct Created {
    pub user: user::Model,
    pub team: team::Model,
    pub role: role::Model,
}

/// Why `create_user` refuses an actor without `USERS_INVITE`.
const REFUSAL: &str = "your role may not create users";

/// Creates an active user directly (no invitation), in one transaction, audited as
/// `user.created` with the actor.
pub async fn create_user(db: &Db, actor: &Principal, new: NewUser<'_>) -> Result<Created> {
    if !actor.can(Permission::UsersInvite) {
        return Err(Error::forbidden(REFUSAL).into());
    }
    let email = parse_email(new.email)?;
    let name = Name::parse("name", new.name)?;
    if let Some(x) = new.external_id {
        check_external_id(x)?;
    }
    let txn = db.begin_write().await?;
    // A first sync's creates name no team and no role: an organization-wide token's re-check
    // reads the directory's defaults and the seat limit too, in one statement. Anything
    // else (or a missing default, to say which) reads them one by one.
    let (actor, defaults) = match (new.team, new.role, actor.scim_token_id) {
        (None, None, Some(token)) if actor.team_id.is_nil() => {
            recheck_with_defaults(&txn, actor, token, Permission::UsersInvite, REFUSAL).await?
        }
        _ => (
            access::recheck(&txn, actor, Permission::UsersInvite, REFUSAL).await?,
            None,
        ),
    };
    let actor = &actor;
    check_domain(&txn, actor, &email).await?;
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
            super::super::dialect::locked(
                role::Entity::find()
                    .filter(role::Column::AccountId.eq(actor.account_id))
                    .filter(role::Column::DeletedAt.is_null())
                    .filter(role::Column::Key.eq(BuiltInRole::Sender.as_str())),
                db.backend(),
                super::super::dialect::Lock::Share,
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
