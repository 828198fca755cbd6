//! The GraphQL API: schema types and resolvers (thin: parse input, call `service`, map the
//! output), dataloaders, query limits and the error mapping.

pub mod error;
pub mod limits;
pub mod loaders;
pub mod mutation;
pub mod prescan;
pub mod query;
pub mod subscription;
pub mod types;
pub mod webhooks;

use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Schema};

use crate::auth::Principal;
use crate::auth::jwt::JwtKeys;
use crate::service::{Db, Error};

/// The schema type.
pub type RosterSchema =
    Schema<query::QueryRoot, mutation::MutationRoot, subscription::SubscriptionRoot>;

/// Query limits (README "Configuration"; docs/ARCHITECTURE.md "How a request flows").
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_page: usize,
    pub max_bulk: usize,
    /// Selections per document once fragments are expanded (see `limits`).
    pub max_selections: usize,
    /// What a document may be before it is parsed (see `prescan`).
    pub scan: prescan::ScanLimits,
    pub introspection: bool,
    pub suggestions: bool,
    /// How long a dataloader waits to collect keys before it queries. Longer batches more
    /// reliably on a loaded machine; shorter answers sooner.
    pub loader_delay: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 10,
            max_complexity: 10_000,
            max_aliases: 15,
            max_page: 100,
            max_bulk: crate::service::bulk::DEFAULT_MAX_ITEMS,
            max_selections: 2_000,
            scan: prescan::ScanLimits::default(),
            introspection: true,
            suggestions: true,
            loader_delay: std::time::Duration::from_millis(1),
        }
    }
}

/// What resolvers share across requests.
#[derive(Clone)]
pub struct Shared {
    pub db: Db,
    pub jwt: Arc<JwtKeys>,
    pub limits: Limits,
    pub webhooks: Arc<crate::service::webhooks::WebhookSettings>,
    /// The process's live event streams (subscriptions) and the event settings.
    pub events: Arc<crate::service::event_hub::EventHub>,
}

/// Who is calling, decided by the HTTP layer before the query runs.
#[derive(Clone)]
pub enum Caller {
    /// No credentials were sent.
    Anonymous,
    /// Credentials were sent but are not valid (or name a deleted user).
    Invalid,
    /// A signed-in user.
    User(Principal),
}

/// Builds the schema. `sdl` builds it without data (for `roster schema`).
pub fn build(shared: Option<Shared>, limits: Limits) -> RosterSchema {
    let mut builder = Schema::build(
        query::QueryRoot,
        mutation::MutationRoot::default(),
        subscription::SubscriptionRoot,
    )
    // Depth is limited by `limits::QueryLimits`, which lets introspection's `ofType` chains
    // through; it also parses documents itself, with the nesting and per-field directive
    // limits async-graphql's own parse step would check (exponentially, on fragment chains).
    .limit_complexity(limits.max_complexity)
    .extension(limits::QueryLimits {
        max_depth: limits.max_depth,
        max_aliases: limits.max_aliases,
        max_page: limits.max_page as i64,
        max_selections: limits.max_selections,
        scan: limits.scan,
        introspection: limits.introspection,
    });
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    if !limits.suggestions {
        builder = builder.disable_suggestions();
    }
    if let Some(shared) = shared {
        builder = builder.data(shared);
    }
    builder.finish()
}

/// Builds the executor: the schema without the document guard, for operations the guarded
/// schema (`build`) has already parsed, checked, validated and priced. It has no extension,
/// so async-graphql resolves each field on its direct path (any registered extension puts
/// every field through `Extension::resolve`). Its own validation pass is the light one
/// (`ValidationMode::Fast`), and it never sees a document the guard refused.
pub fn build_executor(shared: Shared, limits: Limits) -> RosterSchema {
    let mut builder = Schema::build(
        query::QueryRoot,
        mutation::MutationRoot::default(),
        subscription::SubscriptionRoot,
    )
    // The guard validated the document with every rule (Strict); the executor's own pass
    // only walks it for what execution needs.
    .validation_mode(async_graphql::ValidationMode::Fast);
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    builder.data(shared).finish()
}

/// The SDL of the schema, as `schema.graphql` holds it.
pub fn sdl() -> String {
    build(None, Limits::default()).sdl()
}

/// Adds the per-request data: the caller and fresh dataloaders.
pub fn request_data(
    request: async_graphql::Request,
    db: &Db,
    caller: Caller,
    delay: std::time::Duration,
) -> async_graphql::Request {
    with_caller(request, db, caller, delay)
}

/// The data of a WebSocket connection (subscriptions): the caller, the token's expiry and
/// dataloaders, as `request_data` gives a request.
pub fn connection_data(
    db: &Db,
    caller: Caller,
    expires: Option<u64>,
    delay: std::time::Duration,
) -> async_graphql::Data {
    let mut data = with_caller(async_graphql::Data::default(), db, caller, delay);
    if let Some(exp) = expires {
        data.insert(subscription::TokenExpiry(exp));
    }
    data
}

/// Something request data can be put into (a request, a connection's data).
trait Put {
    fn put<D: std::any::Any + Send + Sync>(self, data: D) -> Self;
}

impl Put for async_graphql::Request {
    fn put<D: std::any::Any + Send + Sync>(self, data: D) -> Self {
        self.data(data)
    }
}

impl Put for async_graphql::Data {
    fn put<D: std::any::Any + Send + Sync>(mut self, data: D) -> Self {
        self.insert(data);
        self
    }
}

fn with_caller<T: Put>(target: T, db: &Db, caller: Caller, delay: std::time::Duration) -> T {
    use loaders::*;
    fn loader<L: Send + Sync + 'static>(l: L, delay: std::time::Duration) -> DataLoader<L> {
        DataLoader::new(l, tokio::spawn).delay(delay)
    }
    let actor = match &caller {
        Caller::User(p) => Some(p.clone()),
        _ => None,
    };
    target
        .put(caller)
        .put(Prefetched::default())
        .put(loader(
            TeamMembersLoader {
                db: db.clone(),
                actor: actor.clone(),
            },
            delay,
        ))
        .put(loader(
            DepartmentTeamsLoader {
                db: db.clone(),
                actor,
            },
            delay,
        ))
        .put(loader(RoleLoader(db.clone()), delay))
        .put(loader(TeamLoader(db.clone()), delay))
        .put(loader(DepartmentLoader(db.clone()), delay))
        .put(loader(UserLoader(db.clone()), delay))
        .put(loader(TeamMemberCountLoader(db.clone()), delay))
        .put(loader(RoleUserCountLoader(db.clone()), delay))
}

pub(crate) fn shared<'a>(ctx: &'a Context<'_>) -> Result<&'a Shared, Error> {
    ctx.data::<Shared>()
        .map_err(|_| Error::Internal(anyhow::anyhow!("schema built without shared state")))
}

/// The database.
pub fn db<'a>(ctx: &'a Context<'_>) -> Result<&'a Db, Error> {
    shared(ctx).map(|s| &s.db)
}

/// The webhook settings.
pub fn webhooks<'a>(
    ctx: &'a Context<'_>,
) -> Result<&'a crate::service::webhooks::WebhookSettings, Error> {
    shared(ctx).map(|s| s.webhooks.as_ref())
}

/// The signed-in caller, or `UNAUTHENTICATED`.
pub fn actor<'a>(ctx: &'a Context<'_>) -> Result<&'a Principal, Error> {
    match ctx.data::<Caller>() {
        Ok(Caller::User(p)) => Ok(p),
        _ => Err(Error::Unauthenticated),
    }
}

/// The complexity of a connection field: its page size times the cost of one item.
pub fn page_cost(first: Option<i32>, last: Option<i32>, child: usize) -> usize {
    let n = first
        .or(last)
        .unwrap_or(crate::service::page::DEFAULT_PAGE as i32)
        .max(0) as usize;
    n.max(1).saturating_mul(child)
}
