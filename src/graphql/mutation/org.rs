//! Mutations on the organization: teams, departments, custom roles, account settings.
//!
//! Resolvers only translate: every rule (permission, uniqueness, no escalation, what blocks
//! a delete, audit) is in `service::{teams, roles, accounts}`.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};

use crate::auth::{Permission, PermissionSet, RoleScope};
use crate::graphql::types::{Account, Department, Role, ScimDeprovision, Team};
use crate::graphql::{actor, db};
use crate::service::ids::{DepartmentId, RoleId, TeamId};
use crate::service::{accounts, roles, teams};

/// Creates a team.
#[derive(InputObject)]
pub struct CreateTeamInput {
    /// The team's name: 1–100 characters, unique in the account regardless of case.
    pub name: String,
    /// The department the team belongs to; leave out or null for none.
    pub department_id: Option<ID>,
}

/// Changes a team. A field left out stays as it is.
#[derive(InputObject)]
pub struct UpdateTeamInput {
    /// The team to change.
    pub id: ID,
    /// The new name: 1–100 characters, unique in the account regardless of case.
    pub name: Option<String>,
    /// The department to move the team to; null takes it out of its department. Who a
    /// Department Admin acts on changes with it at once.
    pub department_id: MaybeUndefined<ID>,
}

/// Creates a department.
#[derive(InputObject)]
pub struct CreateDepartmentInput {
    /// The department's name: 1–100 characters, unique in the account regardless of case.
    pub name: String,
}

/// Changes a department. A field left out stays as it is.
#[derive(InputObject)]
pub struct UpdateDepartmentInput {
    /// The department to change.
    pub id: ID,
    /// The new name: 1–100 characters, unique in the account regardless of case.
    pub name: Option<String>,
}

/// Creates a custom role. It may be no wider and no more powerful than your own role.
#[derive(InputObject)]
pub struct CreateRoleInput {
    /// The role's name: 1–100 characters, unique in the account regardless of case
    /// (built-in names included).
    pub name: String,
    /// Which users and invitations a holder acts on; not wider than your own scope.
    pub scope: RoleScope,
    /// What a holder may do; only permissions your own role has.
    pub permissions: Vec<Permission>,
}

/// Changes a custom role. A field left out stays as it is. Built-in roles and the role you
/// hold cannot be changed; the result may be no wider and no more powerful than your own
/// role. Holders act under the new definition from their next request.
#[derive(InputObject)]
pub struct UpdateRoleInput {
    /// The role to change.
    pub id: ID,
    /// The new name: 1–100 characters, unique in the account regardless of case.
    pub name: Option<String>,
    /// The new scope; not wider than your own.
    pub scope: Option<RoleScope>,
    /// The new permissions, replacing the old ones; only permissions your own role has.
    pub permissions: Option<Vec<Permission>>,
}

/// Changes the account's settings. A field left out stays as it is.
#[derive(InputObject)]
pub struct UpdateAccountInput {
    /// The organization's name: 1–100 characters.
    pub name: Option<String>,
    /// Email domains invitations may go to, replacing the list (`@Example.COM` is stored as
    /// `example.com`; duplicates are dropped). An empty list allows any domain.
    pub allowed_email_domains: Option<Vec<String>>,
    /// How many days a new or resent invitation stays valid (1–30).
    pub invite_expiry_days: Option<i32>,
    /// The most seats (active users + pending invitations), 0 or more; null removes the
    /// limit. A limit below `seatsUsed` is accepted: nobody loses access, but nothing that
    /// takes a seat goes through until enough seats are free.
    pub seat_limit: MaybeUndefined<i32>,
    /// What a directory's SCIM `DELETE` of a user does.
    pub scim_deprovision: Option<ScimDeprovision>,
}

/// Names the object to delete.
#[derive(InputObject)]
pub struct DeleteInput {
    /// The id of the object to delete.
    pub id: ID,
}

/// The team as it is after the mutation.
#[derive(SimpleObject)]
pub struct TeamPayload {
    /// The created or changed team.
    pub team: Team,
}

/// The department as it is after the mutation.
#[derive(SimpleObject)]
pub struct DepartmentPayload {
    /// The created or changed department.
    pub department: Department,
}

/// The role as it is after the mutation.
#[derive(SimpleObject)]
pub struct RolePayload {
    /// The created or changed role.
    pub role: Role,
}

/// The account as it is after the mutation.
#[derive(SimpleObject)]
pub struct AccountPayload {
    /// The account with its new settings.
    pub account: Account,
}

/// What a delete removed.
#[derive(SimpleObject)]
pub struct DeletePayload {
    /// The id of the deleted object; it no longer appears anywhere but in the audit log.
    pub deleted_id: ID,
}

/// Organization mutations.
#[derive(Default)]
pub struct OrgMutations;

#[Object]
impl OrgMutations {
    /// Creates a team (needs `TEAMS_MANAGE`).
    async fn create_team(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The team's name and department.")] input: CreateTeamInput,
    ) -> Result<TeamPayload> {
        let team = teams::create_team(
            db(ctx)?,
            actor(ctx)?,
            &input.name,
            input
                .department_id
                .as_ref()
                .map(|id| DepartmentId::parse(id)),
        )
        .await?;
        Ok(TeamPayload { team: Team(team) })
    }

    /// Renames a team or moves it between departments (needs `TEAMS_MANAGE`).
    async fn update_team(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The team and what to change.")] input: UpdateTeamInput,
    ) -> Result<TeamPayload> {
        let department_id = match &input.department_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(id) => Some(Some(DepartmentId::parse(id))),
        };
        let changes = teams::TeamChanges {
            name: input.name.as_deref(),
            department_id,
        };
        let team =
            teams::update_team(db(ctx)?, actor(ctx)?, TeamId::parse(&input.id), changes).await?;
        Ok(TeamPayload { team: Team(team) })
    }

    /// Deletes a team that no active user and no pending invitation is in (needs
    /// `TEAMS_MANAGE`). When refused, the error's `users` and `pendingInvites` extensions
    /// say what is in the way.
    async fn delete_team(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The team to delete.")] input: DeleteInput,
    ) -> Result<DeletePayload> {
        let id = teams::delete_team(db(ctx)?, actor(ctx)?, TeamId::parse(&input.id)).await?;
        Ok(DeletePayload {
            deleted_id: ID(id.to_string()),
        })
    }

    /// Creates a department (needs `TEAMS_MANAGE`).
    async fn create_department(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The department's name.")] input: CreateDepartmentInput,
    ) -> Result<DepartmentPayload> {
        let department = teams::create_department(db(ctx)?, actor(ctx)?, &input.name).await?;
        Ok(DepartmentPayload {
            department: Department(department),
        })
    }

    /// Renames a department (needs `TEAMS_MANAGE`).
    async fn update_department(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The department and its new name.")] input: UpdateDepartmentInput,
    ) -> Result<DepartmentPayload> {
        let department = teams::update_department(
            db(ctx)?,
            actor(ctx)?,
            DepartmentId::parse(&input.id),
            input.name.as_deref(),
        )
        .await?;
        Ok(DepartmentPayload {
            department: Department(department),
        })
    }

    /// Deletes a department that no team belongs to (needs `TEAMS_MANAGE`). When refused,
    /// the error's `teams` extension says how many teams are in the way.
    async fn delete_department(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The department to delete.")] input: DeleteInput,
    ) -> Result<DeletePayload> {
        let id =
            teams::delete_department(db(ctx)?, actor(ctx)?, DepartmentId::parse(&input.id)).await?;
        Ok(DeletePayload {
            deleted_id: ID(id.to_string()),
        })
    }

    /// Creates a custom role (needs `ROLES_MANAGE`).
    async fn create_role(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The role's name, scope and permissions.")] input: CreateRoleInput,
    ) -> Result<RolePayload> {
        let permissions: PermissionSet = input.permissions.into_iter().collect();
        let role =
            roles::create(db(ctx)?, actor(ctx)?, &input.name, input.scope, permissions).await?;
        Ok(RolePayload { role: Role(role) })
    }

    /// Changes a custom role (needs `ROLES_MANAGE`).
    async fn update_role(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The role and what to change.")] input: UpdateRoleInput,
    ) -> Result<RolePayload> {
        let changes = roles::RoleChanges {
            name: input.name.as_deref(),
            scope: input.scope,
            permissions: input.permissions.map(|p| p.into_iter().collect()),
        };
        let role = roles::update(db(ctx)?, actor(ctx)?, RoleId::parse(&input.id), changes).await?;
        Ok(RolePayload { role: Role(role) })
    }

    /// Deletes a custom role that no active user and no pending invitation holds (needs
    /// `ROLES_MANAGE`). When refused, the error's `users` and `pendingInvites` extensions
    /// say what is in the way.
    async fn delete_role(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The role to delete.")] input: DeleteInput,
    ) -> Result<DeletePayload> {
        let id = roles::delete(db(ctx)?, actor(ctx)?, RoleId::parse(&input.id)).await?;
        Ok(DeletePayload {
            deleted_id: ID(id.to_string()),
        })
    }

    /// Changes the account's settings (needs `ACCOUNT_MANAGE`).
    async fn update_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The settings to change.")] input: UpdateAccountInput,
    ) -> Result<AccountPayload> {
        let changes = accounts::AccountChanges {
            name: input.name.as_deref(),
            allowed_email_domains: input.allowed_email_domains.as_deref(),
            invite_expiry_days: input.invite_expiry_days,
            seat_limit: match input.seat_limit {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(n) => Some(Some(n)),
            },
            scim_deprovision: input.scim_deprovision.map(Into::into),
        };
        let account = accounts::update(db(ctx)?, actor(ctx)?, changes).await?;
        Ok(AccountPayload {
            account: Account(account),
        })
    }
}
