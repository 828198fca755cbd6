//! The subscription root: live domain events over WebSocket (`graphql-transport-ws` at
//! `/graphql`, see `app::subscriptions`). The stream itself — wake-ups, re-checks, limits —
//! is `service::event_hub`.

use async_graphql::{Context, Result, Subscription};
use futures_util::{Stream, StreamExt};

use super::types::Event;
use super::{actor, shared};

/// When the subscriber's token expires (seconds since the epoch), put into the
/// connection's data at `connection_init`; the stream ends then.
#[derive(Copy, Clone, Debug)]
pub struct TokenExpiry(pub u64);

/// Live updates.
pub struct SubscriptionRoot;

/// Live updates.
#[Subscription]
impl SubscriptionRoot {
    /// New domain events the subscriber may see (the event feed's rule: needs `USERS_VIEW`;
    /// everything for an organization-wide role, else events about their teams and their
    /// own changes), from the moment of subscribing, in commit order. The subscriber is
    /// re-checked before every batch and every few seconds: a deleted or suspended user's
    /// stream ends with `UNAUTHENTICATED`, one who lost `USERS_VIEW` with `FORBIDDEN`, and a
    /// narrowed reach narrows the stream. To catch up after a disconnect, read the `events`
    /// feed.
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only events of these types, such as `user.role_changed`.")] types: Option<
            Vec<String>,
        >,
    ) -> Result<impl Stream<Item = Result<Event>> + use<>> {
        let hub = shared(ctx)?.events.clone();
        let expires = ctx.data_opt::<TokenExpiry>().map(|t| t.0);
        let stream = hub.subscribe(actor(ctx)?, types, expires).await?;
        Ok(stream.map(|item| item.map(Event).map_err(async_graphql::Error::from)))
    }
}
