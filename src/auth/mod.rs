//! Who is calling and what they may do: JWT verification and issuing (`jwt`), the
//! permission and scope vocabulary, and the `Principal` every service call receives.
//!
//! The enums here derive `async_graphql::Enum` only so the schema can name them; they carry
//! no GraphQL behaviour and the rules that use them live in `service/`.

pub mod jwt;

use crate::service::ids::{AccountId, DepartmentId, RoleId, ScimTokenId, TeamId, UserId};

/// One thing a role may allow. The discriminant is the bit stored in `roles.permissions`;
/// never renumber.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Permission {
    /// See users, invites, teams and roles within the role's scope.
    UsersView = 0,
    /// Create, resend, withdraw and delete invitations.
    UsersInvite = 1,
    /// Change the role of users.
    UsersChangeRole = 2,
    /// Move users to another team.
    UsersReassign = 3,
    /// Delete users.
    UsersDelete = 4,
    /// Create, rename, move and delete teams and departments.
    TeamsManage = 5,
    /// Create, edit and delete custom roles.
    RolesManage = 6,
    /// Read the audit log within the role's scope.
    AuditView = 7,
    /// Invite addresses outside the account's allowed email domains.
    InviteAnyDomain = 8,
    /// Change the account's settings and manage its SCIM tokens.
    AccountManage = 9,
    /// Suspend and reactivate users (a suspended user keeps team, role and history but
    /// cannot sign in).
    UsersSuspend = 10,
}

impl Permission {
    /// Every permission, in a stable order.
    pub const ALL: [Permission; 11] = [
        Permission::UsersView,
        Permission::UsersInvite,
        Permission::UsersChangeRole,
        Permission::UsersReassign,
        Permission::UsersDelete,
        Permission::TeamsManage,
        Permission::RolesManage,
        Permission::AuditView,
        Permission::InviteAnyDomain,
        Permission::AccountManage,
        Permission::UsersSuspend,
    ];

    fn bit(self) -> i64 {
        1 << (self as u8)
    }
}

/// A set of permissions, stored as a bit set.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct PermissionSet(i64);

impl PermissionSet {
    /// All permissions.
    pub fn all() -> Self {
        Self::from_iter(Permission::ALL)
    }

    /// Reads the stored bits, ignoring any bit no permission uses.
    pub fn from_bits(bits: i64) -> Self {
        PermissionSet(bits & Self::all().0)
    }

    /// The stored form.
    pub fn bits(self) -> i64 {
        self.0
    }

    /// Whether `p` is in the set.
    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    /// Whether every permission of `self` is also in `other`.
    pub fn is_subset(self, other: PermissionSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// The permissions, in the order of `Permission::ALL`.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .filter(move |p| self.contains(*p))
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        PermissionSet(iter.into_iter().fold(0, |acc, p| acc | p.bit()))
    }
}

// Stored as its name in `roles.scope` (the entity field's type): a value type over its
// stored string (`Display`/`FromStr`) rather than `DeriveActiveEnum`, whose generated
// identifiers cannot spell `SELF` (`Self` is a keyword). The doc comment below is the
// schema's description: keep it as it is.
/// How far a role reaches. Declared narrowest first, so "not wider than" is `<=`.
#[derive(
    async_graphql::Enum,
    sea_orm::DeriveValueType,
    Copy,
    Clone,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
)]
#[sea_orm(value_type = "String")]
pub enum RoleScope {
    /// Only the holder themselves.
    #[graphql(name = "SELF")]
    Self_,
    /// The holder's own team.
    Team,
    /// The teams of the holder's department (only their own team when it has none).
    Department,
    /// Every team of the account.
    Organization,
}

/// A stored value that names no variant of the enum read.
#[derive(Debug)]
pub struct UnknownValue(pub String);

impl std::fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown stored value {:?}", self.0)
    }
}

impl std::error::Error for UnknownValue {}

impl std::fmt::Display for RoleScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RoleScope {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        RoleScope::parse(s).ok_or_else(|| UnknownValue(s.to_owned()))
    }
}

impl RoleScope {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            RoleScope::Self_ => "SELF",
            RoleScope::Team => "TEAM",
            RoleScope::Department => "DEPARTMENT",
            RoleScope::Organization => "ORGANIZATION",
        }
    }

    /// Reads the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "SELF" => RoleScope::Self_,
            "TEAM" => RoleScope::Team,
            "DEPARTMENT" => RoleScope::Department,
            "ORGANIZATION" => RoleScope::Organization,
            _ => return None,
        })
    }
}

/// The stable key of a built-in role (`roles.key`, `Role.key`); custom roles have none.
#[derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter, Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(sea_orm::sea_query::StringLen::None)"
)]
pub enum BuiltInRole {
    /// Admin: every permission over the whole account; an account always keeps one.
    #[sea_orm(string_value = "ADMIN")]
    Admin,
    /// Department Admin.
    #[sea_orm(string_value = "DEPARTMENT_ADMIN")]
    DepartmentAdmin,
    /// Manager.
    #[sea_orm(string_value = "MANAGER")]
    Manager,
    /// Sender: no permission at all.
    #[sea_orm(string_value = "SENDER")]
    Sender,
}

impl BuiltInRole {
    /// The stored (and client-visible) form.
    pub fn as_str(self) -> &'static str {
        match self {
            BuiltInRole::Admin => "ADMIN",
            BuiltInRole::DepartmentAdmin => "DEPARTMENT_ADMIN",
            BuiltInRole::Manager => "MANAGER",
            BuiltInRole::Sender => "SENDER",
        }
    }
}

/// The teams an actor acts on, resolved from their role's scope when the request starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Every team of the account.
    All,
    /// These teams only.
    Teams(Vec<TeamId>),
    /// Nobody but the actor.
    OnlySelf,
}

impl Reach {
    /// Whether a user or invite in `team_id` is within reach.
    pub fn covers_team(&self, team_id: TeamId) -> bool {
        match self {
            Reach::All => true,
            Reach::Teams(teams) => teams.contains(&team_id),
            Reach::OnlySelf => false,
        }
    }
}

/// The authenticated caller, loaded from the database on every request.
#[derive(Clone, Debug)]
pub struct Principal {
    pub account_id: AccountId,
    pub user_id: UserId,
    pub team_id: TeamId,
    pub department_id: Option<DepartmentId>,
    pub role_id: RoleId,
    pub role_key: Option<BuiltInRole>,
    pub scope: RoleScope,
    pub permissions: PermissionSet,
    pub reach: Reach,
    /// When the request's token was issued (seconds since the epoch), if it came with one:
    /// re-reading the principal inside a write applies the same token-age rule again
    /// (`service::access::recheck`).
    pub token_issued_at: Option<u64>,
    /// Set when the caller is a directory acting through a SCIM token
    /// (`service::scim_tokens::authenticate`): then `user_id` is the nil UUID (no user is
    /// ever "themselves" for it) and `team_id` is the token's anchor team.
    pub scim_token_id: Option<ScimTokenId>,
}

impl Principal {
    /// The signed-in user acting, `None` for a directory (SCIM token): what audit events
    /// and `invitedBy` record.
    pub fn acting_user(&self) -> Option<UserId> {
        match self.scim_token_id {
            Some(_) => None,
            None => Some(self.user_id),
        }
    }

    /// Whether the caller's role grants `p`.
    pub fn can(&self, p: Permission) -> bool {
        self.permissions.contains(p)
    }

    /// Whether the caller may grant a role with this scope and these permissions: not wider
    /// and not more powerful than their own (docs/ARCHITECTURE.md, "The scope and permission model").
    pub fn can_grant(&self, scope: RoleScope, permissions: PermissionSet) -> bool {
        scope <= self.scope && permissions.is_subset(self.permissions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_ordered_widest_last() {
        assert!(RoleScope::Self_ < RoleScope::Team);
        assert!(RoleScope::Team < RoleScope::Department);
        assert!(RoleScope::Department < RoleScope::Organization);
    }

    #[test]
    fn permission_sets_round_trip_and_compare() {
        let manager: PermissionSet = [Permission::UsersView, Permission::UsersInvite]
            .into_iter()
            .collect();
        assert_eq!(PermissionSet::from_bits(manager.bits()), manager);
        assert!(manager.is_subset(PermissionSet::all()));
        assert!(!PermissionSet::all().is_subset(manager));
        assert_eq!(PermissionSet::from_bits(1 << 40), PermissionSet::default());
        assert_eq!(manager.iter().count(), 2);
    }
}
