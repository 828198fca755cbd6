//! The read API. Resolvers parse arguments and call `service`; nothing here decides who
//! may see what.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result};

use std::sync::Arc;

use super::loaders::Prefetched;
use super::types::*;
use super::{actor, db, page_cost};
use crate::service::ids::{self, AnyId};
use crate::service::page::PageArgs;
use crate::service::principal::CallerRows;
use crate::service::{self, Error};

/// Filters of the event feed.
#[derive(InputObject, Default)]
pub struct EventFilter {
    /// Only events of these types, such as `user.role_changed`.
    pub types: Option<Vec<String>>,
}

/// Sort direction.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum OrderDirection {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// Fields users can be ordered by.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum UserOrderField {
    /// By name, case-insensitively.
    Name,
    /// By email address.
    Email,
    /// By when the user joined.
    CreatedAt,
}

/// How to order users.
#[derive(InputObject)]
pub struct UserOrder {
    /// The field to order by.
    pub field: UserOrderField,
    /// The direction.
    pub direction: OrderDirection,
}

/// Fields invitations can be ordered by.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum InviteOrderField {
    /// By email address.
    Email,
    /// By when the invitation was created.
    CreatedAt,
    /// By when the invitation expires.
    ExpiresAt,
}

/// How to order invitations.
#[derive(InputObject)]
pub struct InviteOrder {
    /// The field to order by.
    pub field: InviteOrderField,
    /// The direction.
    pub direction: OrderDirection,
}

/// Filters for `users`; all given filters must match.
#[derive(InputObject, Default)]
pub struct UserFilter {
    /// Case-insensitive substring of the name or email (`%` and `_` match themselves).
    pub search: Option<String>,
    /// Only users in these teams.
    pub team_ids: Option<Vec<ID>>,
    /// Only users with these roles.
    pub role_ids: Option<Vec<ID>>,
    /// Only users in teams of these departments.
    pub department_ids: Option<Vec<ID>>,
    /// Only users in these statuses (default: ACTIVE only; null or an empty list mean the
    /// same). Pass `[ACTIVE, SUSPENDED]` to see everyone who is not deleted.
    #[graphql(default_with = "Some(vec![UserStatus::Active])")]
    pub statuses: Option<Vec<UserStatus>>,
}

/// Filters for `invites`; all given filters must match.
#[derive(InputObject, Default)]
pub struct InviteFilter {
    /// Case-insensitive substring of the email.
    pub search: Option<String>,
    /// Only invitations in one of these states.
    pub statuses: Option<Vec<InviteStatus>>,
    /// Only invitations to these teams.
    pub team_ids: Option<Vec<ID>>,
    /// Only invitations with these roles.
    pub role_ids: Option<Vec<ID>>,
}

/// Filters for `teams`.
#[derive(InputObject, Default)]
pub struct TeamFilter {
    /// Case-insensitive substring of the team name.
    pub search: Option<String>,
    /// Only teams of these departments.
    pub department_ids: Option<Vec<ID>>,
}

/// Filters for `auditEvents`; all given filters must match.
#[derive(InputObject, Default)]
pub struct AuditEventFilter {
    /// Only events caused by this user — or, given a SCIM token's id (`scim_…`), only the
    /// changes a directory made with that token.
    pub actor_id: Option<ID>,
    /// Only events about this object.
    pub target_id: Option<ID>,
    /// Only these actions, for example `user.role_changed`.
    pub actions: Option<Vec<String>>,
    /// Only events of this mutation.
    pub operation_id: Option<ID>,
}

/// Parses a list of ids of one kind; a malformed id is a `BAD_USER_INPUT` naming `field`.
pub(crate) fn parse_ids<T: ids::TypedId>(
    field: &'static str,
    ids: Option<Vec<ID>>,
) -> Result<Option<Vec<T>>, Error> {
    ids.map(|ids| {
        ids.iter()
            .map(|id| {
                T::parse(id.as_str()).ok_or_else(|| {
                    Error::bad_input(
                        field,
                        format!("`{}` is not a valid id for {field}", id.as_str()),
                    )
                })
            })
            .collect()
    })
    .transpose()
}

/// Reads any id of one kind for a lookup: a malformed id simply does not exist.
fn lookup<T: ids::TypedId>(id: &ID, what: &'static str) -> Result<T, Error> {
    T::parse(id.as_str()).ok_or(Error::NotFound(what))
}

/// The read API.
pub struct QueryRoot;

/// The read API: everything is scoped to the caller's account and reach.
#[Object(name = "Query")]
impl QueryRoot {
    /// Fetches any object that implements `Node` by its id — users, invitations, teams,
    /// departments, roles, the account and audit events — with the same answer as the
    /// object's own lookup or list: objects outside the caller's reach are `NOT_FOUND`.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The object's id.")] id: ID,
    ) -> Result<Option<Node>> {
        let (conn, actor) = (db(ctx)?.conn(), actor(ctx)?);
        let Some(any) = AnyId::parse(id.as_str()) else {
            return Err(Error::NotFound("node").into());
        };
        Ok(Some(match any {
            AnyId::User(id) => Node::User(User(service::users::get(conn, actor, id).await?)),
            AnyId::Invite(id) => {
                Node::Invite(Invite(service::invites::get(conn, actor, id).await?))
            }
            AnyId::Team(id) => Node::Team(Team(service::teams::get(conn, actor, id).await?)),
            AnyId::Department(id) => Node::Department(Department(
                service::teams::get_department(conn, actor, id).await?,
            )),
            AnyId::Role(id) => Node::Role(Role(service::roles::get(conn, actor, id).await?)),
            AnyId::Account(id) => {
                if !service::access::sees_account(actor) {
                    return Err(Error::NotFound("node").into());
                }
                let account = service::accounts::get(conn, actor).await?;
                if account.id != id {
                    return Err(Error::NotFound("node").into());
                }
                Node::Account(Account(account))
            }
            AnyId::AuditEvent(id) => {
                Node::AuditEvent(AuditEvent(service::audit::get(conn, actor, id).await?))
            }
            AnyId::Event(id) => Node::Event(Event(service::events::get(conn, actor, id).await?)),
        }))
    }

    /// The signed-in user.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<User> {
        let actor = actor(ctx)?;
        // Signing in read the user, their role and their team at the start of this request:
        // the same rows `users::viewer` would read again.
        if let Some(rows) = ctx.data_opt::<Arc<CallerRows>>()
            && rows.user.id == actor.user_id
        {
            if let Some(prefetched) = ctx.data_opt::<Prefetched>() {
                prefetched.keep([rows.role.clone()], rows.team.clone());
            }
            return Ok(User(rows.user.clone()));
        }
        Ok(User(service::users::viewer(db(ctx)?.conn(), actor).await?))
    }

    /// The caller's organization. `FORBIDDEN` for a role that grants no permission (such a
    /// caller, like the built-in Sender, sees only `viewer`).
    async fn account(&self, ctx: &Context<'_>) -> Result<Account> {
        Ok(Account(
            service::accounts::get(db(ctx)?.conn(), actor(ctx)?).await?,
        ))
    }

    /// A user by id.
    async fn user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id.")] id: ID,
    ) -> Result<Option<User>> {
        let id: ids::UserId = lookup(&id, "user")?;
        Ok(Some(User(
            service::users::get(db(ctx)?.conn(), actor(ctx)?, id).await?,
        )))
    }

    /// Users the caller may see.
    ///
    /// `totalCount` is always exact. Without a search (active users) it is read from counts
    /// the database keeps per team and role. With a search (or other statuses) the matches
    /// are counted once and the number is kept, per server, with the account's count
    /// version — a counter the database raises in the same transaction as any change to the
    /// account's users or teams, from any server. Asked again while that version is
    /// unchanged, the kept number is answered without counting; after any change (an
    /// accepted invitation, a role or team change, a delete, a suspension, a restore, an
    /// edit) the next request counts again. So a broad search's first `totalCount` after a
    /// change costs a count of the account's users, and the ones after it cost nothing.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)] // one Rust argument per GraphQL argument
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Filters; all must match.")] filter: Option<UserFilter>,
        #[graphql(desc = "Order (default: name ascending).")] order_by: Option<UserOrder>,
        #[graphql(desc = "Page size from the start (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "End before this cursor.")] before: Option<String>,
    ) -> Result<UserConnection> {
        let filter = filter.unwrap_or_default();
        let filter = service::users::Filter {
            search: filter.search,
            team_ids: parse_ids::<ids::TeamId>("teamIds", filter.team_ids)?,
            role_ids: parse_ids::<ids::RoleId>("roleIds", filter.role_ids)?,
            department_ids: parse_ids::<ids::DepartmentId>("departmentIds", filter.department_ids)?,
            statuses: filter
                .statuses
                .map(|s| s.into_iter().map(Into::into).collect()),
        };
        let order = order_by
            .map(|o| service::users::Order {
                field: match o.field {
                    UserOrderField::Name => service::users::OrderField::Name,
                    UserOrderField::Email => service::users::OrderField::Email,
                    UserOrderField::CreatedAt => service::users::OrderField::CreatedAt,
                },
                ascending: o.direction == OrderDirection::Asc,
            })
            .unwrap_or(service::users::Order {
                field: service::users::OrderField::Name,
                ascending: true,
            });
        let page = PageArgs {
            first,
            after,
            last,
            before,
        };
        // A page's roles and teams are read with it, in one statement, when the selection
        // asks for them (through `nodes` or `edges.node`).
        let look = ctx.look_ahead();
        let nodes = [look.field("nodes"), look.field("edges").field("node")];
        let include = service::users::Include {
            roles: nodes.iter().any(|n| n.field("role").exists()),
            teams: nodes.iter().any(|n| n.field("team").exists()),
        };
        let (listing, related) =
            service::users::list_with(db(ctx)?.conn(), actor(ctx)?, &filter, order, &page, include)
                .await?;
        if let Some(prefetched) = ctx.data_opt::<Prefetched>() {
            prefetched.keep(related.roles, related.teams);
        }
        Ok(UserConnection::new(listing))
    }

    /// An invitation by id.
    async fn invite(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invitation's id.")] id: ID,
    ) -> Result<Option<Invite>> {
        let id: ids::InviteId = lookup(&id, "invite")?;
        Ok(Some(Invite(
            service::invites::get(db(ctx)?.conn(), actor(ctx)?, id).await?,
        )))
    }

    /// Invitations the caller may see (deleted ones never appear).
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)] // one Rust argument per GraphQL argument
    async fn invites(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Filters; all must match.")] filter: Option<InviteFilter>,
        #[graphql(desc = "Order (default: newest first).")] order_by: Option<InviteOrder>,
        #[graphql(desc = "Page size from the start (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "End before this cursor.")] before: Option<String>,
    ) -> Result<InviteConnection> {
        let filter = filter.unwrap_or_default();
        let filter = service::invites::Filter {
            search: filter.search,
            statuses: filter
                .statuses
                .map(|s| s.into_iter().map(Into::into).collect()),
            team_ids: parse_ids::<ids::TeamId>("teamIds", filter.team_ids)?,
            role_ids: parse_ids::<ids::RoleId>("roleIds", filter.role_ids)?,
        };
        let order = order_by
            .map(|o| service::invites::Order {
                field: match o.field {
                    InviteOrderField::Email => service::invites::OrderField::Email,
                    InviteOrderField::CreatedAt => service::invites::OrderField::CreatedAt,
                    InviteOrderField::ExpiresAt => service::invites::OrderField::ExpiresAt,
                },
                ascending: o.direction == OrderDirection::Asc,
            })
            .unwrap_or_default();
        let page = PageArgs {
            first,
            after,
            last,
            before,
        };
        let listing =
            service::invites::list(db(ctx)?.conn(), actor(ctx)?, &filter, order, &page).await?;
        Ok(InviteConnection::new(listing))
    }

    /// Teams the caller may see, by name.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn teams(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Filters; all must match.")] filter: Option<TeamFilter>,
        #[graphql(desc = "Page size from the start (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "End before this cursor.")] before: Option<String>,
    ) -> Result<TeamConnection> {
        let filter = filter.unwrap_or_default();
        let filter = service::teams::Filter {
            search: filter.search,
            department_ids: parse_ids::<ids::DepartmentId>("departmentIds", filter.department_ids)?,
        };
        let page = PageArgs {
            first,
            after,
            last,
            before,
        };
        let listing = service::teams::list(db(ctx)?.conn(), actor(ctx)?, &filter, &page).await?;
        Ok(TeamConnection::new(listing))
    }

    /// Departments the caller may see, by name.
    #[graphql(complexity = "page_cost(first, None, child_complexity)")]
    async fn departments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Start after this cursor.")] after: Option<String>,
    ) -> Result<DepartmentConnection> {
        let page = PageArgs {
            first,
            after,
            ..Default::default()
        };
        let listing = service::teams::list_departments(db(ctx)?.conn(), actor(ctx)?, &page).await?;
        Ok(DepartmentConnection::new(listing))
    }

    /// The account's SCIM tokens for directory provisioning, live and revoked, newest first
    /// (needs `ACCOUNT_MANAGE`). Secrets are never shown again after `createScimToken`.
    async fn scim_tokens(&self, ctx: &Context<'_>) -> Result<Vec<ScimToken>> {
        let tokens = service::scim_tokens::list(db(ctx)?.conn(), actor(ctx)?).await?;
        Ok(tokens.into_iter().map(ScimToken).collect())
    }

    /// The account's roles: built-in roles first, then custom roles by name.
    async fn roles(&self, ctx: &Context<'_>) -> Result<Vec<Role>> {
        let roles = service::roles::list(db(ctx)?.conn(), actor(ctx)?).await?;
        Ok(roles.into_iter().map(Role).collect())
    }

    /// The audit log, newest first, within the caller's scope (needs `AUDIT_VIEW`).
    #[graphql(complexity = "page_cost(first, None, child_complexity)")]
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Filters; all must match.")] filter: Option<AuditEventFilter>,
        #[graphql(desc = "Page size (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Start after this cursor.")] after: Option<String>,
    ) -> Result<AuditEventConnection> {
        let filter = filter.unwrap_or_default();
        let any = |field: &'static str, id: Option<ID>| -> Result<Option<uuid::Uuid>, Error> {
            id.map(|id| {
                ids::parse_any_uuid(id.as_str()).ok_or_else(|| {
                    Error::bad_input(field, format!("`{}` is not a valid id", id.as_str()))
                })
            })
            .transpose()
        };
        let token_actor = filter
            .actor_id
            .as_ref()
            .and_then(|id| ids::ScimTokenId::parse(id.as_str()));
        let filter = service::audit::Filter {
            actor_id: match token_actor {
                Some(_) => None,
                None => parse_ids::<ids::UserId>("actorId", filter.actor_id.map(|i| vec![i]))?
                    .and_then(|v| v.into_iter().next()),
            },
            actor_token_id: token_actor,
            target_id: any("targetId", filter.target_id)?,
            // An action Roster never writes matches nothing, as it did as a plain string.
            actions: filter.actions.map(|actions| {
                actions
                    .iter()
                    .filter_map(|a| service::audit::AuditAction::parse(a))
                    .collect()
            }),
            operation_id: parse_ids::<ids::OperationId>(
                "operationId",
                filter.operation_id.map(|i| vec![i]),
            )?
            .and_then(|v| v.into_iter().next()),
        };
        let page = PageArgs {
            first,
            after,
            ..Default::default()
        };
        let listing = service::audit::list(db(ctx)?.conn(), actor(ctx)?, &filter, &page).await?;
        Ok(AuditEventConnection::new(listing))
    }

    /// The account's webhook endpoints, oldest first (needs `ACCOUNT_MANAGE`).
    #[graphql(complexity = "page_cost(first, None, child_complexity)")]
    async fn webhook_endpoints(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Start after this cursor.")] after: Option<String>,
    ) -> Result<super::webhooks::WebhookEndpointConnection> {
        super::webhooks::endpoints(ctx, first, after).await
    }

    /// The event feed: domain events the caller may see (needs `USERS_VIEW`; the audit log's
    /// reach: everything for an organization-wide role, else events about the caller's teams
    /// and the caller's own changes), oldest first. Keep the last `endCursor` and pass it as
    /// `after` to resume: every event is seen exactly once, for as long as events are kept
    /// (`ROSTER_EVENT_RETENTION_DAYS`; an older cursor is `BAD_USER_INPUT`).
    #[graphql(complexity = "page_cost(first, None, child_complexity)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Start after this cursor (an `endCursor` of an earlier page).")]
        after: Option<String>,
        #[graphql(desc = "Page size (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Filters; all must match.")] filter: Option<EventFilter>,
    ) -> Result<EventConnection> {
        let page = PageArgs {
            first,
            after,
            ..Default::default()
        };
        let types = filter.and_then(|f| f.types);
        let shared = super::shared(ctx)?;
        let listing = service::events::list(
            shared.db.conn(),
            actor(ctx)?,
            types.as_deref(),
            &page,
            shared.events.settings().retention_days,
        )
        .await?;
        Ok(EventConnection::new(listing))
    }
}
