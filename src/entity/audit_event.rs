//! An append-only record of one change to one object.

use sea_orm::entity::prelude::*;

use crate::service::ids::{AccountId, AuditEventId, OperationId, ScimTokenId, TeamId, UserId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: AuditEventId,
    pub account_id: AccountId,
    pub operation_id: OperationId,
    pub actor_id: Option<UserId>,
    pub action: Action,
    pub target_type: String,
    /// Stays a bare UUID: the target is a user, invitation, team, department, role, account,
    /// SCIM token or webhook endpoint, as `target_type` says (`ids::external_id`).
    pub target_id: Uuid,
    pub target_label: Option<String>,
    pub target_team_id: Option<TeamId>,
    pub before_json: Option<String>,
    pub after_json: Option<String>,
    pub created_at: i64,
    /// The SCIM token that made the change (then `actor_id` is `None`).
    pub actor_token_id: Option<ScimTokenId>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// What one audit event records (`audit_events.action`, `AuditEvent.action`): one variant per
/// kind of change, stored as the same dotted string clients read and filter by.
#[derive(DeriveActiveEnum, EnumIter, Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum Action {
    /// A directory created a user, or an accepted invitation made a new one.
    #[sea_orm(string_value = "user.created")]
    UserCreated,
    /// A directory changed a user's email, name or external id.
    #[sea_orm(string_value = "user.updated")]
    UserUpdated,
    #[sea_orm(string_value = "user.role_changed")]
    UserRoleChanged,
    #[sea_orm(string_value = "user.team_changed")]
    UserTeamChanged,
    #[sea_orm(string_value = "user.deleted")]
    UserDeleted,
    /// An accepted invitation brought a deleted user back.
    #[sea_orm(string_value = "user.restored")]
    UserRestored,
    #[sea_orm(string_value = "user.suspended")]
    UserSuspended,
    #[sea_orm(string_value = "user.reactivated")]
    UserReactivated,
    #[sea_orm(string_value = "invite.created")]
    InviteCreated,
    #[sea_orm(string_value = "invite.resent")]
    InviteResent,
    #[sea_orm(string_value = "invite.withdrawn")]
    InviteWithdrawn,
    #[sea_orm(string_value = "invite.deleted")]
    InviteDeleted,
    #[sea_orm(string_value = "invite.accepted")]
    InviteAccepted,
    #[sea_orm(string_value = "team.created")]
    TeamCreated,
    #[sea_orm(string_value = "team.updated")]
    TeamUpdated,
    #[sea_orm(string_value = "team.deleted")]
    TeamDeleted,
    #[sea_orm(string_value = "department.created")]
    DepartmentCreated,
    #[sea_orm(string_value = "department.updated")]
    DepartmentUpdated,
    #[sea_orm(string_value = "department.deleted")]
    DepartmentDeleted,
    #[sea_orm(string_value = "role.created")]
    RoleCreated,
    #[sea_orm(string_value = "role.updated")]
    RoleUpdated,
    #[sea_orm(string_value = "role.deleted")]
    RoleDeleted,
    #[sea_orm(string_value = "account.updated")]
    AccountUpdated,
    #[sea_orm(string_value = "scim_token.created")]
    ScimTokenCreated,
    #[sea_orm(string_value = "scim_token.revoked")]
    ScimTokenRevoked,
    #[sea_orm(string_value = "webhook_endpoint.created")]
    WebhookEndpointCreated,
    #[sea_orm(string_value = "webhook_endpoint.updated")]
    WebhookEndpointUpdated,
    #[sea_orm(string_value = "webhook_endpoint.deleted")]
    WebhookEndpointDeleted,
    #[sea_orm(string_value = "webhook_endpoint.secret_rotated")]
    WebhookEndpointSecretRotated,
    #[sea_orm(string_value = "webhook_endpoint.redelivery_requested")]
    WebhookEndpointRedeliveryRequested,
    /// Written by the webhook worker (no actor) when repeated failure disables an endpoint.
    #[sea_orm(string_value = "webhook_endpoint.disabled")]
    WebhookEndpointDisabled,
}

impl Action {
    /// The stored (and client-visible) form.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::UserCreated => "user.created",
            Action::UserUpdated => "user.updated",
            Action::UserRoleChanged => "user.role_changed",
            Action::UserTeamChanged => "user.team_changed",
            Action::UserDeleted => "user.deleted",
            Action::UserRestored => "user.restored",
            Action::UserSuspended => "user.suspended",
            Action::UserReactivated => "user.reactivated",
            Action::InviteCreated => "invite.created",
            Action::InviteResent => "invite.resent",
            Action::InviteWithdrawn => "invite.withdrawn",
            Action::InviteDeleted => "invite.deleted",
            Action::InviteAccepted => "invite.accepted",
            Action::TeamCreated => "team.created",
            Action::TeamUpdated => "team.updated",
            Action::TeamDeleted => "team.deleted",
            Action::DepartmentCreated => "department.created",
            Action::DepartmentUpdated => "department.updated",
            Action::DepartmentDeleted => "department.deleted",
            Action::RoleCreated => "role.created",
            Action::RoleUpdated => "role.updated",
            Action::RoleDeleted => "role.deleted",
            Action::AccountUpdated => "account.updated",
            Action::ScimTokenCreated => "scim_token.created",
            Action::ScimTokenRevoked => "scim_token.revoked",
            Action::WebhookEndpointCreated => "webhook_endpoint.created",
            Action::WebhookEndpointUpdated => "webhook_endpoint.updated",
            Action::WebhookEndpointDeleted => "webhook_endpoint.deleted",
            Action::WebhookEndpointSecretRotated => "webhook_endpoint.secret_rotated",
            Action::WebhookEndpointRedeliveryRequested => "webhook_endpoint.redelivery_requested",
            Action::WebhookEndpointDisabled => "webhook_endpoint.disabled",
        }
    }

    /// Reads the stored form; `None` for any other text (an `auditEvents` filter naming no
    /// action Roster writes matches nothing).
    pub fn parse(s: &str) -> Option<Self> {
        use sea_orm::Iterable;
        Action::iter().find(|a| a.as_str() == s)
    }
}

impl PartialEq<&str> for Action {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::Action;
    use sea_orm::{ActiveEnum, Iterable};

    #[test]
    fn actions_are_stored_and_read_as_their_names() {
        for action in Action::iter() {
            assert_eq!(action.to_value(), action.as_str());
            assert_eq!(Action::parse(action.as_str()), Some(action));
        }
        // An event type that is no audit action, and anything else, parses to nothing.
        assert_eq!(Action::parse("user.invited"), None);
        assert_eq!(Action::parse("USER.CREATED"), None);
    }
}
