//! Roles: the four built-in roles every account starts with, custom roles, and reading them.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use super::{Error, Result};
use crate::auth::{Permission, PermissionSet, Principal, RoleScope};
use crate::entity::role;

/// A built-in role's definition.
pub struct BuiltIn {
    pub key: &'static str,
    pub name: &'static str,
    pub scope: RoleScope,
    pub permissions: &'static [Permission],
}

/// The built-in roles (DESIGN.md), widest first.
pub const BUILT_INS: [BuiltIn; 4] = [
    BuiltIn {
        key: "ADMIN",
        name: "Admin",
        scope: RoleScope::Organization,
        permissions: &Permission::ALL,
    },
    BuiltIn {
        key: "DEPARTMENT_ADMIN",
        name: "Department Admin",
        scope: RoleScope::Department,
        permissions: &[
            Permission::UsersView,
            Permission::UsersInvite,
            Permission::UsersChangeRole,
            Permission::UsersReassign,
            Permission::UsersDelete,
            Permission::AuditView,
        ],
    },
    BuiltIn {
        key: "MANAGER",
        name: "Manager",
        scope: RoleScope::Team,
        permissions: &[
            Permission::UsersView,
            Permission::UsersInvite,
            Permission::UsersChangeRole,
        ],
    },
    BuiltIn {
        key: "SENDER",
        name: "Sender",
        scope: RoleScope::Self_,
        permissions: &[],
    },
];

/// The key of the Admin role, the one an account must always keep a holder of.
pub const ADMIN_KEY: &str = "ADMIN";

/// Creates the built-in roles of a new account; returns them in `BUILT_INS` order.
pub async fn create_built_ins<C: ConnectionTrait>(
    db: &C,
    account_id: Uuid,
    now: i64,
) -> Result<Vec<role::Model>> {
    let mut created = Vec::new();
    for b in &BUILT_INS {
        let model = role::ActiveModel {
            id: Set(Uuid::now_v7()),
            account_id: Set(account_id),
            key: Set(Some(b.key.to_owned())),
            name: Set(b.name.to_owned()),
            name_key: Set(super::text::fold(b.name)),
            scope: Set(b.scope.as_str().to_owned()),
            permissions: Set(b
                .permissions
                .iter()
                .copied()
                .collect::<PermissionSet>()
                .bits()),
            built_in: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
        };
        created.push(role::Entity::insert(model).exec_with_returning(db).await?);
    }
    Ok(created)
}

/// The scope stored on a role row.
pub fn scope_of(role: &role::Model) -> Result<RoleScope> {
    RoleScope::parse(&role.scope).ok_or_else(|| {
        Error::Internal(anyhow::anyhow!(
            "role {} has unknown scope {:?}",
            role.id,
            role.scope
        ))
    })
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
    let mut roles = role::Entity::find()
        .filter(role::Column::AccountId.eq(actor.account_id))
        .order_by_asc(role::Column::NameKey)
        .all(db)
        .await?;
    let rank = |r: &role::Model| {
        BUILT_INS
            .iter()
            .position(|b| Some(b.key) == r.key.as_deref())
            .unwrap_or(BUILT_INS.len())
    };
    roles.sort_by_key(|r| rank(r));
    Ok(roles)
}

/// One role by id (the actor's own role is always readable).
pub async fn get<C: ConnectionTrait>(db: &C, actor: &Principal, id: Uuid) -> Result<role::Model> {
    if id != actor.role_id && !may_read(actor) {
        return Err(Error::NotFound("role"));
    }
    role::Entity::find_by_id(id)
        .filter(role::Column::AccountId.eq(actor.account_id))
        .one(db)
        .await?
        .ok_or(Error::NotFound("role"))
}
