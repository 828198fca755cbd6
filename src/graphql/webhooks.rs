//! Webhook endpoints and their deliveries in the schema (thin: `service::webhooks` decides).

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::types::{PageInfo, time};
use super::{actor, db, page_cost};
use crate::entity::webhook_delivery::{Kind, Status};
use crate::entity::{webhook_delivery, webhook_endpoint};
use crate::service::page::{Listing, PageArgs};
use crate::service::webhooks;

/// Where an account's events are sent, signed per Standard Webhooks.
#[derive(Clone)]
pub struct WebhookEndpoint(pub webhook_endpoint::Model);

/// Where an account's events are sent, signed per Standard Webhooks.
#[Object]
impl WebhookEndpoint {
    /// The endpoint's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The URL events are POSTed to.
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// What the endpoint is for.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// The event types sent to it; empty means every type.
    async fn event_types(&self) -> Vec<String> {
        webhooks::event_types(&self.0)
    }
    /// Whether events are queued and sent to it.
    async fn enabled(&self) -> bool {
        self.0.disabled_at.is_none()
    }
    /// When it was disabled (by an administrator, or after repeated failure).
    async fn disabled_at(&self) -> Option<DateTime<Utc>> {
        self.0.disabled_at.map(time)
    }
    /// Why it was disabled.
    async fn disabled_reason(&self) -> Option<&str> {
        self.0.disabled_reason.as_deref()
    }
    /// Until when deliveries also carry a signature with the previous secret (after a
    /// rotation); null when only the current secret signs.
    async fn previous_secret_expires_at(&self) -> Option<DateTime<Utc>> {
        self.0
            .previous_secret_until
            .filter(|until| *until > crate::service::now_ms())
            .map(time)
    }
    /// Since when every attempt to reach it has failed; null while it succeeds.
    async fn failing_since(&self) -> Option<DateTime<Utc>> {
        self.0.failing_since.map(time)
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        time(self.0.created_at)
    }
    /// When it was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        time(self.0.updated_at)
    }
    /// Its deliveries, newest first: each queued event or redelivery with its status,
    /// attempts and last result.
    #[graphql(complexity = "page_cost(first, None, child_complexity)")]
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Start after this cursor.")] after: Option<String>,
    ) -> Result<WebhookDeliveryConnection> {
        let page = PageArgs {
            first,
            after,
            ..Default::default()
        };
        let listing = webhooks::deliveries(db(ctx)?.conn(), actor(ctx)?, &self.0, &page).await?;
        Ok(WebhookDeliveryConnection(Arc::new(listing)))
    }
}

/// Where a delivery stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum WebhookDeliveryStatus {
    /// Queued, or waiting for its next attempt.
    Pending,
    /// The endpoint answered with a 2xx status.
    Delivered,
    /// Every attempt failed; given up.
    Failed,
}

/// One event queued for one endpoint.
pub struct WebhookDelivery(pub webhook_delivery::Model);

/// One event queued for one endpoint.
#[Object]
impl WebhookDelivery {
    /// The delivery's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The event's id, sent as the `webhook-id` header (the same on every attempt and
    /// redelivery, so receivers can de-duplicate).
    async fn event_id(&self) -> ID {
        ID(self.0.event_id.clone())
    }
    /// The event's type, such as `user.role_changed`.
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    /// Whether an administrator asked for this delivery (`redeliverWebhookEvents`).
    async fn redelivery(&self) -> bool {
        self.0.kind == Kind::Redelivery
    }
    /// Where it stands.
    async fn status(&self) -> WebhookDeliveryStatus {
        match self.0.status {
            Status::Delivered => WebhookDeliveryStatus::Delivered,
            Status::Failed => WebhookDeliveryStatus::Failed,
            Status::Pending => WebhookDeliveryStatus::Pending,
        }
    }
    /// Attempts made so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// The HTTP status of the last attempt; null when none was received.
    async fn response_code(&self) -> Option<i32> {
        self.0.response_code
    }
    /// How long the last attempt took, in milliseconds.
    async fn latency_ms(&self) -> Option<i64> {
        self.0.latency_ms
    }
    /// When the next attempt is due; null once delivered or given up.
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.0.status == Status::Pending).then(|| time(self.0.next_attempt_at))
    }
    /// Why the last attempt failed.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// When it was queued.
    async fn created_at(&self) -> DateTime<Utc> {
        time(self.0.created_at)
    }
    /// When it was delivered or given up.
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at.map(time)
    }
}

macro_rules! webhook_connection {
    ($(#[$doc:meta])* $conn:ident, $edge:ident, $node:ident, $entity:path) => {
        /// An edge: one item and its cursor.
        #[derive(SimpleObject)]
        pub struct $edge {
            /// Pass as `after` to page from this item.
            pub cursor: String,
            /// The item.
            pub node: $node,
        }

        $(#[$doc])*
        pub struct $conn(pub Arc<Listing<$entity>>);

        $(#[$doc])*
        #[Object]
        impl $conn {
            /// The items of this page with their cursors.
            async fn edges(&self) -> Vec<$edge> {
                self.0
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
                self.0.page.edges.iter().map(|(_, row)| $node(row.clone())).collect()
            }
            /// Paging state.
            async fn page_info(&self) -> PageInfo {
                let edges = &self.0.page.edges;
                PageInfo {
                    has_next_page: self.0.page.has_next_page,
                    has_previous_page: self.0.page.has_previous_page,
                    start_cursor: edges.first().map(|(c, _)| c.encode()),
                    end_cursor: edges.last().map(|(c, _)| c.encode()),
                }
            }
            /// How many items there are, across all pages.
            async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
                Ok(self.0.total_count(db(ctx)?.conn()).await? as i64)
            }
        }
    };
}

webhook_connection!(
    /// A page of webhook endpoints, oldest first.
    WebhookEndpointConnection, WebhookEndpointEdge, WebhookEndpoint, webhook_endpoint::Entity
);
webhook_connection!(
    /// A page of webhook deliveries, newest first.
    WebhookDeliveryConnection, WebhookDeliveryEdge, WebhookDelivery, webhook_delivery::Entity
);

/// The account's webhook endpoints (`webhookEndpoints`; needs `ACCOUNT_MANAGE`).
pub async fn endpoints(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<WebhookEndpointConnection> {
    let page = PageArgs {
        first,
        after,
        ..Default::default()
    };
    let listing = webhooks::list(db(ctx)?.conn(), actor(ctx)?, &page).await?;
    Ok(WebhookEndpointConnection(Arc::new(listing)))
}
