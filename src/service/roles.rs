//! Roles: the four built-in roles every account starts with, custom roles, reading them,
//! and creating, editing and deleting custom roles.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait,
    QueryFilter, QueryOrder, Select,
};
use serde_json::{Map, Value as Json, json};

use super::audit::{self, AuditAction, Change, Operation};
use super::db::WriteTxn;
use super::dialect::{Lock, locked};
use super::ids::{AccountId, RoleId, Sent};
use super::teams::{InTheWay, name_race};
use super::text::Name;
use super::{Db, Error, Result, access};
use crate::auth::{BuiltInRole, Permission, PermissionSet, Principal, RoleScope};
use crate::entity::{invite, role, user};

/// A built-in role's definition.
pub struct BuiltIn {
    pub key: BuiltInRole,
    pub name: &'static str,
    pub scope: RoleScope,
    pub permissions: &'static [Permission],
}

/// The built-in roles (docs/ARCHITECTURE.md), widest first.
pub const BUILT_INS: [BuiltIn; 4] = [
    BuiltIn {
        key: BuiltInRole::Admin,
        name: "Admin",
        scope: RoleScope::Organization,
        permissions: &Permission::ALL,
    },
    BuiltIn {
        key: BuiltInRole::DepartmentAdmin,
        name: "Department Admin",
        scope: RoleScope::Department,
        permissions: &[
            Permission::UsersView,
            Permission::UsersInvite,
            Permission::UsersChangeRole,
            Permission::UsersReassign,
            Permission::UsersDelete,
            Permission::AuditView,
            Permission::UsersSuspend,
        ],
    },
    BuiltIn {
        key: BuiltInRole::Manager,
        name: "Manager",
        scope: RoleScope::Team,
        permissions: &[
            Permission::UsersView,
            Permission::UsersInvite,
            Permission::UsersChangeRole,
        ],
    },
    BuiltIn {
        key: BuiltInRole::Sender,
        name: "Sender",
        scope: RoleScope::Self_,
        permissions: &[],
    },
];

/// The rows of an account's built-in roles, in `BUILT_INS` order, with fresh ids; the one
/// place their stored shape is spelled out (`create_built_ins` and `roster seed` insert them).
pub fn built_in_rows(account_id: AccountId, now: i64) -> Vec<role::Model> {
    BUILT_INS
        .iter()
        .map(|b| role::Model {
            id: RoleId::new(),
            account_id,
            key: Some(b.key),
            name: b.name.to_owned(),
            name_key: super::text::fold(b.name),
            scope: b.scope,
            permissions: b
                .permissions
                .iter()
                .copied()
                .collect::<PermissionSet>()
                .bits(),
            built_in: true,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        })
        .collect()
}

/// Creates the built-in roles of a new account; returns them in `BUILT_INS` order.
pub async fn create_built_ins<C: ConnectionTrait>(
    db: &C,
    account_id: AccountId,
    now: i64,
) -> Result<Vec<role::Model>> {
    let mut created = Vec::new();
    for row in built_in_rows(account_id, now) {
        let model = role::ActiveModel::from(row).reset_all();
        created.push(role::Entity::insert(model).exec_with_returning(db).await?);
    }
    Ok(created)
}

/// The account's roles that are not deleted.
fn live(account_id: AccountId) -> Select<role::Entity> {
    role::Entity::find()
        .filter(role::Column::AccountId.eq(account_id))
        .filter(role::Column::DeletedAt.is_null())
}

/// Whether the actor may list roles: anyone who sees users (to pick a role) or manages roles.
fn may_read(actor: &Principal) -> bool {
    actor.can(Permission::UsersView) || actor.can(Permission::RolesManage)
}

/// All roles of the actor's account, built-ins first, then custom roles by name.
pub async fn list<C: ConnectionTrait>(db: &C, actor: &Principal) -> Result<Vec<role::Model>> {
    if !may_read(actor) {
        return Err(Error::forbidden("your role may not list roles"));
    }
    let mut roles = live(actor.account_id)
        .order_by_asc(role::Column::NameKey)
        .all(db)
        .await?;
    let rank = |r: &role::Model| {
        BUILT_INS
            .iter()
            .position(|b| Some(b.key) == r.key)
            .unwrap_or(BUILT_INS.len())
    };
    roles.sort_by_key(|r| rank(r));
    Ok(roles)
}

/// One role by id (the actor's own role is always readable).
pub async fn get<C: ConnectionTrait>(db: &C, actor: &Principal, id: RoleId) -> Result<role::Model> {
    if id != actor.role_id && !may_read(actor) {
        return Err(Error::NotFound("role"));
    }
    live(actor.account_id)
        .filter(role::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or(Error::NotFound("role"))
}

// ---------------------------------------------------------------------------------------
// Custom roles (`ROLES_MANAGE`).
//
// No escalation: nobody defines a role they could not grant (`Principal::can_grant`), edits
// a role they could not grant as it is now, or edits the role they hold — that last one
// would be the shortest way to give oneself more power. Built-in roles never change.
// ---------------------------------------------------------------------------------------

/// The wire name of a permission, for messages and the audit log.
pub fn permission_name(p: Permission) -> &'static str {
    match p {
        Permission::UsersView => "USERS_VIEW",
        Permission::UsersInvite => "USERS_INVITE",
        Permission::UsersChangeRole => "USERS_CHANGE_ROLE",
        Permission::UsersReassign => "USERS_REASSIGN",
        Permission::UsersDelete => "USERS_DELETE",
        Permission::TeamsManage => "TEAMS_MANAGE",
        Permission::RolesManage => "ROLES_MANAGE",
        Permission::AuditView => "AUDIT_VIEW",
        Permission::InviteAnyDomain => "INVITE_ANY_DOMAIN",
        Permission::AccountManage => "ACCOUNT_MANAGE",
        Permission::UsersSuspend => "USERS_SUSPEND",
    }
}

fn permission_names(set: PermissionSet) -> Vec<&'static str> {
    set.iter().map(permission_name).collect()
}

/// A role as the audit log records it.
fn role_json(r: &role::Model) -> Json {
    json!({
        "id": r.id.to_string(),
        "name": r.name,
        "scope": r.scope.as_str(),
        "permissions": permission_names(PermissionSet::from_bits(r.permissions)),
    })
}

fn role_change(
    action: AuditAction,
    role: &role::Model,
    before: Option<Json>,
    after: Option<Json>,
) -> Change {
    Change {
        action,
        target_type: "Role",
        target_id: role.id.into(),
        target_label: Some(role.name.clone()),
        target_team_id: None,
        before,
        after,
    }
}

const MANAGE_REFUSAL: &str = "your role may not manage roles (needs ROLES_MANAGE)";

fn require_manage(actor: &Principal) -> Result<()> {
    if actor.can(Permission::RolesManage) {
        Ok(())
    } else {
        Err(Error::forbidden(MANAGE_REFUSAL))
    }
}

/// Opens the write transaction of a change and re-reads the actor inside it.
async fn begin(db: &Db, actor: &Principal) -> Result<(WriteTxn, Principal)> {
    let txn = db.begin_write().await?;
    let actor = access::recheck(&txn, actor, Permission::RolesManage, MANAGE_REFUSAL).await?;
    Ok((txn, actor))
}

/// `Forbidden` when someone outside the actor's reach holds `role`: changing it would
/// change what people they may not act on can do.
async fn ensure_holders_in_reach<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    role: &role::Model,
    verb: &str,
) -> Result<()> {
    if access::reaches_holders_of(db, actor, role.id).await? {
        Ok(())
    } else {
        Err(Error::forbidden(format!(
            "you cannot {verb} `{}`: users or invitations outside your reach hold it",
            role.name
        )))
    }
}

/// `Forbidden` when the actor could not grant a role with this scope and these permissions,
/// saying what exceeds their own role; `what` starts the message.
fn ensure_grantable(
    actor: &Principal,
    scope: RoleScope,
    permissions: PermissionSet,
    what: &str,
) -> Result<()> {
    if actor.can_grant(scope, permissions) {
        return Ok(());
    }
    let mut reasons = Vec::new();
    if scope > actor.scope {
        reasons.push(format!(
            "its scope {} is wider than your {}",
            scope.as_str(),
            actor.scope.as_str()
        ));
    }
    let lacking: Vec<_> = permissions
        .iter()
        .filter(|p| !actor.can(*p))
        .map(permission_name)
        .collect();
    if !lacking.is_empty() {
        reasons.push(format!(
            "it has permissions your role lacks: {}",
            lacking.join(", ")
        ));
    }
    Err(Error::forbidden(format!(
        "{what}: {}",
        reasons.join(" and ")
    )))
}

fn role_name_taken(existing: &str) -> Error {
    Error::bad_input("name", format!("a role named `{existing}` already exists"))
}

/// Refuses `name` when another live role of the account (built-in ones included) has it,
/// in any case.
async fn ensure_name_free<C: ConnectionTrait>(
    db: &C,
    account_id: AccountId,
    name: &Name,
    except: Option<RoleId>,
) -> Result<()> {
    let mut select = live(account_id).filter(role::Column::NameKey.eq(name.key()));
    if let Some(id) = except {
        select = select.filter(role::Column::Id.ne(id));
    }
    match select.one(db).await? {
        Some(existing) => Err(role_name_taken(&existing.name)),
        None => Ok(()),
    }
}

/// A live role of the account by its external id, locked as asked; anything else is
/// `NOT_FOUND`.
async fn find<C: ConnectionTrait>(
    db: &C,
    backend: DatabaseBackend,
    account_id: AccountId,
    id: Sent<RoleId>,
    lock: Lock,
) -> Result<role::Model> {
    let id = id.ok_or(Error::NotFound("role"))?;
    locked(
        live(account_id).filter(role::Column::Id.eq(id)),
        backend,
        lock,
    )
    .one(db)
    .await?
    .ok_or(Error::NotFound("role"))
}

/// A live role of the account by id, locked on PostgreSQL against a concurrent delete or
/// edit until the caller's transaction ends. Use it inside a write transaction before
/// granting the role to a user or an invitation.
pub async fn lock_for_reference<C: ConnectionTrait>(
    db: &C,
    backend: DatabaseBackend,
    account_id: AccountId,
    role_id: RoleId,
) -> Result<role::Model> {
    locked(
        live(account_id).filter(role::Column::Id.eq(role_id)),
        backend,
        Lock::Share,
    )
    .one(db)
    .await?
    .ok_or(Error::NotFound("role"))
}

/// A built-in role, which is never edited or deleted.
fn ensure_custom(role: &role::Model, verb: &str) -> Result<()> {
    if role.built_in {
        Err(Error::forbidden(format!(
            "`{}` is a built-in role and cannot be {verb}; create a custom role instead",
            role.name
        )))
    } else {
        Ok(())
    }
}

/// Creates a custom role no wider and no more powerful than the actor's own.
pub async fn create(
    db: &Db,
    actor: &Principal,
    name: &str,
    scope: RoleScope,
    permissions: PermissionSet,
) -> Result<role::Model> {
    require_manage(actor)?;
    let name = Name::parse("name", name)?;
    ensure_grantable(
        actor,
        scope,
        permissions,
        "you cannot create a role wider or more powerful than your own",
    )?;
    let (txn, actor) = begin(db, actor).await?;
    let actor = &actor;
    ensure_grantable(
        actor,
        scope,
        permissions,
        "you cannot create a role wider or more powerful than your own",
    )?;
    ensure_name_free(&txn, actor.account_id, &name, None).await?;
    let op = Operation::start(actor);
    let role = role::Entity::insert(role::ActiveModel {
        id: Set(RoleId::new()),
        account_id: Set(actor.account_id),
        key: Set(None),
        name: Set(name.as_str().to_owned()),
        name_key: Set(name.key()),
        scope: Set(scope),
        permissions: Set(permissions.bits()),
        built_in: Set(false),
        created_at: Set(op.at),
        updated_at: Set(op.at),
        deleted_at: Set(None),
    })
    .exec_with_returning(&txn)
    .await
    .map_err(|e| {
        name_race(e, "roles_account_name_key", || {
            role_name_taken(name.as_str())
        })
    })?;
    audit::record(
        &txn,
        &op,
        vec![role_change(
            AuditAction::RoleCreated,
            &role,
            None,
            Some(role_json(&role)),
        )],
    )
    .await?;
    txn.commit().await?;
    Ok(role)
}

/// What `update` changes; a `None` field stays as it is.
#[derive(Clone, Debug, Default)]
pub struct RoleChanges<'a> {
    pub name: Option<&'a str>,
    pub scope: Option<RoleScope>,
    pub permissions: Option<PermissionSet>,
}

/// Edits a custom role. Its holders act under the new definition from their next request.
/// Nothing changes, and nothing is audited, when the role already is as asked.
pub async fn update(
    db: &Db,
    actor: &Principal,
    id: Sent<RoleId>,
    changes: RoleChanges<'_>,
) -> Result<role::Model> {
    require_manage(actor)?;
    let name = changes.name.map(|n| Name::parse("name", n)).transpose()?;
    let (txn, actor) = begin(db, actor).await?;
    let actor = &actor;
    let role = find(&txn, db.backend(), actor.account_id, id, Lock::Update).await?;
    ensure_custom(&role, "edited")?;
    if role.id == actor.role_id {
        return Err(Error::forbidden(format!(
            "you cannot edit `{}`, the role you hold yourself; ask someone else who manages roles",
            role.name
        )));
    }
    let (scope, permissions) = (role.scope, PermissionSet::from_bits(role.permissions));
    ensure_grantable(
        actor,
        scope,
        permissions,
        &format!(
            "you cannot edit `{}`, a role wider or more powerful than your own",
            role.name
        ),
    )?;
    ensure_holders_in_reach(&txn, actor, &role, "edit").await?;
    let new_scope = changes.scope.unwrap_or(scope);
    let new_permissions = changes.permissions.unwrap_or(permissions);
    ensure_grantable(
        actor,
        new_scope,
        new_permissions,
        "you cannot make a role wider or more powerful than your own",
    )?;

    let mut row: role::ActiveModel = role.clone().into();
    let (mut before, mut after) = (Map::new(), Map::new());
    if let Some(name) = &name
        && name.as_str() != role.name
    {
        if name.key() != role.name_key {
            ensure_name_free(&txn, actor.account_id, name, Some(role.id)).await?;
        }
        before.insert("name".into(), json!(role.name));
        after.insert("name".into(), json!(name.as_str()));
        row.name = Set(name.as_str().to_owned());
        row.name_key = Set(name.key());
    }
    if new_scope != scope {
        before.insert("scope".into(), json!(scope.as_str()));
        after.insert("scope".into(), json!(new_scope.as_str()));
        row.scope = Set(new_scope);
    }
    if new_permissions != permissions {
        before.insert("permissions".into(), json!(permission_names(permissions)));
        after.insert(
            "permissions".into(),
            json!(permission_names(new_permissions)),
        );
        row.permissions = Set(new_permissions.bits());
    }
    if after.is_empty() {
        return Ok(role);
    }
    let op = Operation::start(actor);
    row.updated_at = Set(op.at);
    let updated = row.update(&txn).await.map_err(|e| {
        name_race(e, "roles_account_name_key", || {
            role_name_taken(name.as_ref().map(Name::as_str).unwrap_or_default())
        })
    })?;
    audit::record(
        &txn,
        &op,
        vec![role_change(
            AuditAction::RoleUpdated,
            &updated,
            Some(Json::Object(before)),
            Some(Json::Object(after)),
        )],
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

/// Deletes a custom role that no active user and no open invitation holds. The row stays
/// (marked deleted) for the history that names it; its name becomes free again.
pub async fn delete(db: &Db, actor: &Principal, id: Sent<RoleId>) -> Result<RoleId> {
    require_manage(actor)?;
    let (txn, actor) = begin(db, actor).await?;
    let actor = &actor;
    let role = find(&txn, db.backend(), actor.account_id, id, Lock::Update).await?;
    ensure_custom(&role, "deleted")?;
    ensure_grantable(
        actor,
        role.scope,
        PermissionSet::from_bits(role.permissions),
        &format!(
            "you cannot delete `{}`, a role wider or more powerful than your own",
            role.name
        ),
    )?;
    ensure_holders_in_reach(&txn, actor, &role, "delete").await?;
    let way = InTheWay::count(&txn, user::Column::RoleId, invite::Column::RoleId, role.id).await?;
    if !way.is_clear() {
        return Err(way.refusal(
            format!("role `{}` is still held by", role.name),
            "give them another role or withdraw the invitations first",
        ));
    }
    super::teams::live_scim_tokens_clear(&txn, crate::entity::scim_token::Column::RoleId, role.id)
        .await?;
    let op = Operation::start(actor);
    let mut row: role::ActiveModel = role.clone().into();
    row.deleted_at = Set(Some(op.at));
    row.updated_at = Set(op.at);
    row.update(&txn).await?;
    audit::record(
        &txn,
        &op,
        vec![role_change(
            AuditAction::RoleDeleted,
            &role,
            Some(role_json(&role)),
            None,
        )],
    )
    .await?;
    txn.commit().await?;
    Ok(role.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_names_are_the_schema_names() {
        for p in Permission::ALL {
            assert_eq!(
                async_graphql::InputType::to_value(&p),
                async_graphql::Value::Enum(async_graphql::Name::new(permission_name(p))),
            );
        }
    }
}
