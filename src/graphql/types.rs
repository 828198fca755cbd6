//! The schema's object types. Each wraps a storage row and resolves related objects through
//! the request's dataloaders.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Enum, ID, Interface, Json, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use std::sync::Arc;

use super::loaders::{
    DepartmentLoader, DepartmentTeamsLoader, HoldersKey, InAccount, MembersKey, Prefetched,
    RoleLoader, RoleUserCountLoader, TeamLoader, TeamMemberCountLoader, TeamMembersLoader,
    UserLoader,
};
use super::{actor, db, page_cost};
use crate::auth::{BuiltInRole, Permission, RoleScope};
use crate::entity::{
    account, audit_event, department, event, invite, role, scim_token, team, user,
};
use crate::service::ids::{AccountId, TypedId, UserId};
use crate::service::page::{Listing, PageArgs};
use crate::service::{self, Error, access, invites, now_ms};

/// Milliseconds since the epoch as a GraphQL `DateTime`.
pub fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn loader<'a, L: Send + Sync + 'static>(ctx: &'a Context<'_>) -> Result<&'a DataLoader<L>> {
    Ok(ctx
        .data::<DataLoader<L>>()
        .map_err(|_| Error::Internal(anyhow::anyhow!("dataloader missing")))?)
}

/// The rows `Query` resolvers already read for this request (see `Prefetched`).
fn prefetched<'a>(ctx: &'a Context<'_>) -> Option<&'a Prefetched> {
    ctx.data_opt::<Prefetched>()
}

/// A row another row refers to: it exists, in the referring row's account.
async fn load<L, I, V>(ctx: &Context<'_>, key: InAccount<I>, what: &'static str) -> Result<V>
where
    L: async_graphql::dataloader::Loader<
            InAccount<I>,
            Value = V,
            Error = super::loaders::LoadError,
        >,
    I: TypedId + Send + Sync + 'static,
    V: Send + Sync + Clone + 'static,
{
    loader::<L>(ctx)?.load_one(key).await?.ok_or_else(|| {
        Error::Internal(anyhow::anyhow!("{what} {} referenced but missing", key.id)).into()
    })
}

/// A user another row names (who invited, who acted), when the caller may see them:
/// `None` for a user outside the caller's reach, as for one that no longer exists.
async fn related_user(
    ctx: &Context<'_>,
    account_id: AccountId,
    id: Option<UserId>,
) -> Result<Option<User>> {
    let Some(id) = id else {
        return Ok(None);
    };
    let Ok(actor) = actor(ctx) else {
        return Ok(None);
    };
    let user = loader::<UserLoader>(ctx)?
        .load_one(InAccount::new(account_id, id))
        .await?;
    Ok(user.filter(|u| access::sees_user(actor, u)).map(User))
}

/// Any object that can be fetched by its id with `node(id:)`.
#[derive(Interface)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "The object's opaque, globally unique id."
))]
pub enum Node {
    User(User),
    Invite(Invite),
    Team(Team),
    Department(Department),
    Role(Role),
    Account(Account),
    AuditEvent(AuditEvent),
    Event(Event),
}

/// A person in the organization.
pub struct User(pub user::Model);

/// A person in the organization.
#[Object]
impl User {
    /// The user's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Email address, normalized to lower case; unique among the account's active users.
    async fn email(&self) -> &str {
        &self.0.email
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The role that decides what the user may do.
    async fn role(&self, ctx: &Context<'_>) -> Result<Role> {
        let key = InAccount::new(self.0.account_id, self.0.role_id);
        if let Some(role) = prefetched(ctx).and_then(|p| p.role(key)) {
            return Ok(Role(role));
        }
        load::<RoleLoader, _, _>(ctx, key, "role").await.map(Role)
    }
    /// The team the user belongs to.
    async fn team(&self, ctx: &Context<'_>) -> Result<Team> {
        let key = InAccount::new(self.0.account_id, self.0.team_id);
        if let Some(team) = prefetched(ctx).and_then(|p| p.team(key)) {
            return Ok(Team(team));
        }
        load::<TeamLoader, _, _>(ctx, key, "team").await.map(Team)
    }
    /// When the user joined.
    async fn created_at(&self) -> DateTime<Utc> {
        time(self.0.created_at)
    }
    /// When the user's name, role, team or status last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        time(self.0.updated_at)
    }
    /// ACTIVE, or SUSPENDED: a suspended user keeps team, role and history but cannot sign
    /// in, holds no seat, and is left out of lists unless `statuses` asks for them.
    async fn status(&self) -> UserStatus {
        self.0.status.into()
    }
}

/// Where a user stands (deleted users appear nowhere).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum UserStatus {
    /// Signs in and holds a seat.
    Active,
    /// Cannot sign in; keeps team, role and history; holds no seat. `reactivateUsers`
    /// brings them back as they were.
    Suspended,
}

impl From<service::users::Status> for UserStatus {
    fn from(s: service::users::Status) -> Self {
        match s {
            service::users::Status::Active => UserStatus::Active,
            service::users::Status::Suspended => UserStatus::Suspended,
        }
    }
}

impl From<UserStatus> for service::users::Status {
    fn from(s: UserStatus) -> Self {
        match s {
            UserStatus::Active => service::users::Status::Active,
            UserStatus::Suspended => service::users::Status::Suspended,
        }
    }
}

/// Where an invitation stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum InviteStatus {
    /// Sent and waiting to be accepted.
    Pending,
    /// Accepted; the person is now a user.
    Accepted,
    /// Not accepted before `expiresAt`; can be resent.
    Expired,
    /// Withdrawn by an administrator; its link no longer works.
    Withdrawn,
}

impl From<invites::Status> for InviteStatus {
    fn from(s: invites::Status) -> Self {
        match s {
            invites::Status::Pending => InviteStatus::Pending,
            invites::Status::Accepted => InviteStatus::Accepted,
            invites::Status::Expired => InviteStatus::Expired,
            invites::Status::Withdrawn => InviteStatus::Withdrawn,
        }
    }
}

impl From<InviteStatus> for invites::Status {
    fn from(s: InviteStatus) -> Self {
        match s {
            InviteStatus::Pending => invites::Status::Pending,
            InviteStatus::Accepted => invites::Status::Accepted,
            InviteStatus::Expired => invites::Status::Expired,
            InviteStatus::Withdrawn => invites::Status::Withdrawn,
        }
    }
}

/// Whether the invitation email went out.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting to be sent (or retried).
    Queued,
    /// Handed to the mail server.
    Sent,
    /// Gave up after the last retry; resend to try again.
    Failed,
}

/// An invitation to join a team with a role.
pub struct Invite(pub invite::Model);

/// An invitation to join a team with a role.
#[Object]
impl Invite {
    /// The invitation's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The invited address, lower-cased.
    async fn email(&self) -> &str {
        &self.0.email
    }
    /// The role the person gets on accepting.
    async fn role(&self, ctx: &Context<'_>) -> Result<Role> {
        load::<RoleLoader, _, _>(
            ctx,
            InAccount::new(self.0.account_id, self.0.role_id),
            "role",
        )
        .await
        .map(Role)
    }
    /// The team the person joins on accepting.
    async fn team(&self, ctx: &Context<'_>) -> Result<Team> {
        load::<TeamLoader, _, _>(
            ctx,
            InAccount::new(self.0.account_id, self.0.team_id),
            "team",
        )
        .await
        .map(Team)
    }
    /// Where the invitation stands now; EXPIRED is derived from `expiresAt`.
    async fn status(&self) -> InviteStatus {
        invites::status(&self.0, now_ms()).into()
    }
    /// Who sent the invitation. Null when the caller may not see that user (outside their
    /// reach, exactly as `user(id:)` would answer NOT_FOUND), and when no user is recorded.
    /// A deleted sender within reach is still shown: history keeps naming them.
    async fn invited_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        related_user(ctx, self.0.account_id, self.0.invited_by).await
    }
    /// When the invitation was created.
    async fn created_at(&self) -> DateTime<Utc> {
        time(self.0.created_at)
    }
    /// When the link stops working.
    async fn expires_at(&self) -> DateTime<Utc> {
        time(self.0.expires_at)
    }
    /// When the email was last sent.
    async fn last_sent_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_sent_at.map(time)
    }
    /// How many times the email was queued (1 + resends).
    async fn send_count(&self) -> i32 {
        self.0.send_count
    }
    /// When the invitation was accepted.
    async fn accepted_at(&self) -> Option<DateTime<Utc>> {
        self.0.accepted_at.map(time)
    }
    /// When the invitation was withdrawn.
    async fn withdrawn_at(&self) -> Option<DateTime<Utc>> {
        self.0.withdrawn_at.map(time)
    }
    /// Delivery state of the latest email.
    async fn delivery(&self) -> DeliveryStatus {
        match self.0.delivery {
            invite::Delivery::Sent => DeliveryStatus::Sent,
            invite::Delivery::Failed => DeliveryStatus::Failed,
            invite::Delivery::Queued => DeliveryStatus::Queued,
        }
    }
}

/// A team. Every user belongs to exactly one.
pub struct Team(pub team::Model);

/// A team. Every user belongs to exactly one.
#[Object]
impl Team {
    /// The team's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The team's name, unique in the account regardless of case.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The department the team belongs to, if any.
    async fn department(&self, ctx: &Context<'_>) -> Result<Option<Department>> {
        match self.0.department_id {
            Some(id) => load::<DepartmentLoader, _, _>(
                ctx,
                InAccount::new(self.0.account_id, id),
                "department",
            )
            .await
            .map(|d| Some(Department(d))),
            None => Ok(None),
        }
    }
    /// How many of the team's active users the caller may see: all of them for a team in
    /// the caller's reach, 0 for a team outside it, and 1 (the caller) for their own team
    /// when they see only themselves. The same number as `members { totalCount }`.
    async fn member_count(&self, ctx: &Context<'_>) -> Result<i64> {
        match access::member_count(actor(ctx)?, self.0.id) {
            access::MemberCount::Exactly(n) => Ok(n),
            access::MemberCount::All => Ok(loader::<TeamMemberCountLoader>(ctx)?
                .load_one(InAccount::new(self.0.account_id, self.0.id))
                .await?
                .unwrap_or(0)),
        }
    }
    /// The team's active users that the caller may see, by name.
    #[graphql(complexity = "page_cost(first, None, child_complexity)")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Return users after this cursor.")] after: Option<String>,
    ) -> Result<UserConnection> {
        // Signed in (the loader reads the caller again for reach).
        actor(ctx)?;
        service::users::check_members_request(&PageArgs {
            first,
            after: after.clone(),
            ..Default::default()
        })?;
        let key = MembersKey {
            team_id: self.0.id,
            first,
            after,
        };
        let listing = ctx
            .data::<DataLoader<TeamMembersLoader>>()
            .map_err(|_| Error::Internal(anyhow::anyhow!("dataloader missing")))?
            .load_one(key)
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("no members page loaded")))?;
        Ok(UserConnection::shared(listing))
    }
}

/// A grouping of teams. A Department Admin acts on the teams of their department.
pub struct Department(pub department::Model);

/// A grouping of teams. A Department Admin acts on the teams of their department.
#[Object]
impl Department {
    /// The department's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The department's name, unique in the account regardless of case.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The department's teams that the caller may see, by name.
    async fn teams(&self, ctx: &Context<'_>) -> Result<Vec<Team>> {
        actor(ctx)?;
        let teams = ctx
            .data::<DataLoader<DepartmentTeamsLoader>>()
            .map_err(|_| Error::Internal(anyhow::anyhow!("dataloader missing")))?
            .load_one(self.0.id)
            .await?
            .unwrap_or_default();
        Ok(teams.into_iter().map(Team).collect())
    }
}

/// A role: a scope and a set of permissions. Four built-in roles exist in every account.
pub struct Role(pub role::Model);

/// A role: a scope and a set of permissions. Four built-in roles exist in every account.
#[Object]
impl Role {
    /// The role's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The stable key of a built-in role (`ADMIN`, `DEPARTMENT_ADMIN`, `MANAGER`, `SENDER`); null for custom roles.
    async fn key(&self) -> Option<&str> {
        self.0.key.map(BuiltInRole::as_str)
    }
    /// The role's display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Whether this is a built-in role (which cannot be edited or deleted).
    async fn built_in(&self) -> bool {
        self.0.built_in
    }
    /// Which users and invites a holder acts on.
    async fn scope(&self) -> Result<RoleScope> {
        Ok(self.0.scope)
    }
    /// What a holder may do.
    async fn permissions(&self) -> Vec<Permission> {
        crate::auth::PermissionSet::from_bits(self.0.permissions)
            .iter()
            .collect()
    }
    /// How many of the role's active holders the caller may see: those in the teams whose
    /// users the caller sees (every team for an organization-wide role with `USERS_VIEW`);
    /// for a caller who sees only themselves, 1 for their own role and 0 for any other.
    async fn user_count(&self, ctx: &Context<'_>) -> Result<i64> {
        match access::holder_count(actor(ctx)?, self.0.id) {
            access::HolderCount::Exactly(n) => Ok(n),
            access::HolderCount::InTeams(teams) => Ok(loader::<RoleUserCountLoader>(ctx)?
                .load_one(HoldersKey {
                    account_id: self.0.account_id,
                    role_id: self.0.id,
                    teams: teams.map(Arc::new),
                })
                .await?
                .unwrap_or(0)),
        }
    }
}

/// The customer organization (tenant) and its settings.
pub struct Account(pub account::Model);

/// The customer organization (tenant) and its settings.
#[Object]
impl Account {
    /// The account's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The organization's name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Email domains invitations may go to (lower-case); empty means any domain. A stored
    /// list that cannot be read is an error here, and allows no domain to invitations.
    async fn allowed_email_domains(&self) -> Result<Vec<String>> {
        Ok(service::accounts::allowed_domains(&self.0)?)
    }
    /// How many days a new or resent invitation stays valid (1–30).
    async fn invite_expiry_days(&self) -> i32 {
        self.0.invite_expiry_days
    }
    /// The most seats the account may use (active users + pending invitations); null means
    /// unlimited. It may be below `seatsUsed` after it was lowered: then nobody loses
    /// access, but nothing that takes a seat goes through until enough seats are free.
    async fn seat_limit(&self) -> Option<i32> {
        self.0.seat_limit
    }
    /// Seats in use: active users plus pending (unexpired) invitations. Suspended and
    /// deleted users hold none.
    async fn seats_used(&self, ctx: &Context<'_>) -> Result<i32> {
        actor(ctx)?;
        let used = service::seats::used(db(ctx)?.conn(), self.0.id, now_ms()).await?;
        Ok(i32::try_from(used).unwrap_or(i32::MAX))
    }
    /// What a directory's SCIM `DELETE` of a user does: DELETE (the default) or SUSPEND.
    async fn scim_deprovision(&self) -> ScimDeprovision {
        service::accounts::Deprovision::of(&self.0).into()
    }
}

/// What a directory's SCIM `DELETE` of a user does.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ScimDeprovision {
    /// Deletes the user, as `deleteUsers` does (the default).
    Delete,
    /// Suspends the user, as `suspendUsers` does.
    Suspend,
}

impl From<service::accounts::Deprovision> for ScimDeprovision {
    fn from(d: service::accounts::Deprovision) -> Self {
        match d {
            service::accounts::Deprovision::Delete => ScimDeprovision::Delete,
            service::accounts::Deprovision::Suspend => ScimDeprovision::Suspend,
        }
    }
}

impl From<ScimDeprovision> for service::accounts::Deprovision {
    fn from(d: ScimDeprovision) -> Self {
        match d {
            ScimDeprovision::Delete => service::accounts::Deprovision::Delete,
            ScimDeprovision::Suspend => service::accounts::Deprovision::Suspend,
        }
    }
}

/// A directory's (SCIM) bearer token. The secret was shown once, by `createScimToken`.
pub struct ScimToken(pub scim_token::Model);

/// A directory's (SCIM) bearer token. The secret was shown once, by `createScimToken`.
#[Object]
impl ScimToken {
    /// The token's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// What the token is for, such as "Okta production".
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// The role the directory acts with: its permissions, and the reach its scope gives
    /// from `team`.
    async fn role(&self, ctx: &Context<'_>) -> Result<Role> {
        load::<RoleLoader, _, _>(
            ctx,
            InAccount::new(self.0.account_id, self.0.role_id),
            "role",
        )
        .await
        .map(Role)
    }
    /// For a DEPARTMENT- or TEAM-scoped role: the team its reach is computed from (the
    /// department of that team, or that team). For an ORGANIZATION-scoped role: the
    /// directory's default team when one was given, else null.
    async fn team(&self, ctx: &Context<'_>) -> Result<Option<Team>> {
        match self.0.anchor_team_id {
            Some(id) => {
                load::<TeamLoader, _, _>(ctx, InAccount::new(self.0.account_id, id), "team")
                    .await
                    .map(|t| Some(Team(t)))
            }
            None => Ok(None),
        }
    }
    /// Who created the token (null when the caller may not see that user).
    async fn created_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        related_user(ctx, self.0.account_id, self.0.created_by).await
    }
    /// When the token was created.
    async fn created_at(&self) -> DateTime<Utc> {
        time(self.0.created_at)
    }
    /// When a directory last used the token (to the minute).
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at.map(time)
    }
    /// When the token was revoked; a revoked token is refused at once.
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at.map(time)
    }
}

/// One recorded change to one object.
pub struct AuditEvent(pub audit_event::Model);

/// The external id of an audit target, from its type.
fn target_id(target_type: &str, id: uuid::Uuid) -> String {
    service::ids::external_id(target_type, id)
}

/// One recorded change to one object.
#[Object]
impl AuditEvent {
    /// The event's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The mutation that caused the event; all events of one mutation share it.
    async fn operation_id(&self) -> ID {
        ID(self.0.operation_id.to_string())
    }
    /// What happened, for example `user.role_changed`.
    async fn action(&self) -> &str {
        self.0.action.as_str()
    }
    /// Who did it. Null for actions without a signed-in user (such as accepting an invite,
    /// or a directory's change through SCIM: see `actorScimToken`), and when the caller may
    /// not see that user (outside their reach, exactly as `user(id:)` would answer
    /// NOT_FOUND). A deleted actor within reach is still shown.
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        related_user(ctx, self.0.account_id, self.0.actor_id).await
    }
    /// The SCIM token a directory made this change with (then `actor` is null); null for
    /// every other change.
    async fn actor_scim_token(&self, ctx: &Context<'_>) -> Result<Option<ScimToken>> {
        let Some(id) = self.0.actor_token_id else {
            return Ok(None);
        };
        actor(ctx)?;
        Ok(
            service::scim_tokens::get_in_account(db(ctx)?.conn(), self.0.account_id, id)
                .await?
                .map(ScimToken),
        )
    }
    /// The type of the changed object: `User`, `Invite`, `Team`, `Department`, `Role`,
    /// `Account` or `ScimToken`.
    async fn target_type(&self) -> &str {
        &self.0.target_type
    }
    /// The changed object's id (it may no longer exist).
    async fn target_id(&self) -> ID {
        ID(target_id(&self.0.target_type, self.0.target_id))
    }
    /// A label of the target as it was, such as the user's email.
    async fn target_label(&self) -> Option<&str> {
        self.0.target_label.as_deref()
    }
    /// The changed fields before the change.
    async fn before(&self) -> Option<Json<serde_json::Value>> {
        self.0
            .before_json
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
            .map(Json)
    }
    /// The changed fields after the change.
    async fn after(&self) -> Option<Json<serde_json::Value>> {
        self.0
            .after_json
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
            .map(Json)
    }
    /// When it happened.
    async fn created_at(&self) -> DateTime<Utc> {
        time(self.0.created_at)
    }
}

/// A domain event: one change to one object, as the event feed, subscriptions and webhooks
/// deliver it. Events of an account are ordered by when their change committed.
pub struct Event(pub event::Model);

/// A domain event: one change to one object, as the event feed, subscriptions and webhooks
/// deliver it. Events of an account are ordered by when their change committed.
#[Object]
impl Event {
    /// The event's id (the same in the feed, subscriptions and webhooks' `webhook-id`).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// What happened, for example `user.role_changed` (README "Events" lists the types).
    #[graphql(name = "type")]
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    /// The mutation that caused the event (its audit events share it); null for changes no
    /// mutation made, such as a failed invitation email.
    async fn operation_id(&self) -> Option<ID> {
        self.0.operation_id.map(|id| ID(id.to_string()))
    }
    /// Who did it: null without a signed-in actor, and when the caller may not see that user.
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        related_user(ctx, self.0.account_id, self.0.actor_id).await
    }
    /// The type of the changed object: `User`, `Invite`, `Team`, `Department`, `Role` or `Account`.
    async fn target_type(&self) -> &str {
        &self.0.target_type
    }
    /// The changed object's id (it may no longer exist).
    async fn target_id(&self) -> ID {
        ID(target_id(&self.0.target_type, self.0.target_id))
    }
    /// The change: `before` and `after` (the changed fields as the API shows them, null
    /// where the object did not exist) and `targetLabel` (such as the user's email).
    async fn data(&self) -> Json<serde_json::Value> {
        Json(service::events::data(&self.0))
    }
    /// When the change was made.
    async fn created_at(&self) -> DateTime<Utc> {
        time(self.0.created_at)
    }
}

/// Where a page sits in the whole list.
#[derive(SimpleObject)]
pub struct PageInfo {
    /// Whether more items follow this page.
    pub has_next_page: bool,
    /// Whether items precede this page.
    pub has_previous_page: bool,
    /// Cursor of the first item of the page.
    pub start_cursor: Option<String>,
    /// Cursor of the last item of the page.
    pub end_cursor: Option<String>,
}

macro_rules! connection {
    ($(#[$doc:meta])* $conn:ident, $edge:ident, $node:ident, $entity:path) => {
        /// An edge: one item and its cursor.
        #[derive(SimpleObject)]
        pub struct $edge {
            /// Pass as `after` or `before` to page from this item.
            pub cursor: String,
            /// The item.
            pub node: $node,
        }

        $(#[$doc])*
        pub struct $conn {
            listing: Arc<Listing<$entity>>,
        }

        impl $conn {
            pub fn new(listing: Listing<$entity>) -> Self {
                $conn { listing: Arc::new(listing) }
            }

            /// A listing a dataloader shares between fields asking for the same page.
            pub fn shared(listing: Arc<Listing<$entity>>) -> Self {
                $conn { listing }
            }
        }

        $(#[$doc])*
        #[Object]
        impl $conn {
            /// The items of this page with their cursors.
            async fn edges(&self) -> Vec<$edge> {
                self.listing
                    .page
                    .edges
                    .iter()
                    .map(|(cursor, row)| $edge {
                        cursor: cursor.encode(),
                        node: $node(row.clone()),
                    })
                    .collect()
            }
            /// The items of this page.
            async fn nodes(&self) -> Vec<$node> {
                self.listing.page.edges.iter().map(|(_, row)| $node(row.clone())).collect()
            }
            /// Paging state.
            async fn page_info(&self) -> PageInfo {
                let edges = &self.listing.page.edges;
                PageInfo {
                    has_next_page: self.listing.page.has_next_page,
                    has_previous_page: self.listing.page.has_previous_page,
                    start_cursor: edges.first().map(|(c, _)| c.encode()),
                    end_cursor: edges.last().map(|(c, _)| c.encode()),
                }
            }
            /// How many items match the filters, across all pages.
            async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
                // A team's members are counted with every other team's of the request.
                if let Some(team) = self.listing.team_members() {
                    return Ok(loader::<TeamMemberCountLoader>(ctx)?
                        .load_one(InAccount::new(actor(ctx)?.account_id, team))
                        .await?
                        .unwrap_or(0));
                }
                Ok(self.listing.total_count_cached(db(ctx)?).await? as i64)
            }
        }
    };
}

connection!(
    /// A page of users.
    UserConnection, UserEdge, User, user::Entity
);
connection!(
    /// A page of invitations.
    InviteConnection, InviteEdge, Invite, invite::Entity
);
connection!(
    /// A page of teams.
    TeamConnection, TeamEdge, Team, team::Entity
);
connection!(
    /// A page of departments.
    DepartmentConnection, DepartmentEdge, Department, department::Entity
);
connection!(
    /// A page of audit events, newest first.
    AuditEventConnection, AuditEventEdge, AuditEvent, audit_event::Entity
);
connection!(
    /// A page of domain events, oldest first.
    EventConnection, EventEdge, Event, event::Entity
);
