//! Webhook endpoint mutations. Every rule (`ACCOUNT_MANAGE`, URL and SSRF checks, event
//! types, audit) is in `service::webhooks`.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::org::{DeleteInput, DeletePayload};
use crate::graphql::webhooks::WebhookEndpoint;
use crate::graphql::{actor, db, webhooks as settings};
use crate::service::ids::{EventId, WebhookEndpointId};
use crate::service::webhooks::{self, EndpointChanges, NewEndpoint, Redeliver};

/// Registers a webhook endpoint.
#[derive(InputObject)]
pub struct CreateWebhookEndpointInput {
    /// Where to POST events: an `https` URL on a public address (http and internal
    /// addresses only when the server runs with `ROSTER_WEBHOOK_ALLOW_PRIVATE=true`).
    pub url: String,
    /// The event types to send, such as `user.role_changed`; null or empty sends every type.
    pub event_types: Option<Vec<String>>,
    /// What the endpoint is for (at most 500 characters).
    pub description: Option<String>,
}

/// Changes a webhook endpoint. A field left out stays as it is.
#[derive(InputObject)]
pub struct UpdateWebhookEndpointInput {
    /// The endpoint to change.
    pub id: ID,
    /// The new URL (checked like at creation).
    pub url: Option<String>,
    /// The event types to send, replacing the list; empty sends every type.
    pub event_types: Option<Vec<String>>,
    /// The new description.
    pub description: Option<String>,
    /// `false` stops queuing and sending; `true` enables the endpoint again (also after it
    /// was disabled for repeated failure) from the newest event on — redeliver a time range
    /// for what happened meanwhile.
    pub enabled: Option<bool>,
}

/// Names a webhook endpoint.
#[derive(InputObject)]
pub struct RotateWebhookSecretInput {
    /// The endpoint whose secret to replace.
    pub id: ID,
}

/// Sends events to an endpoint again: one event, or every event of a time range that the
/// endpoint's filter matches.
#[derive(InputObject)]
pub struct RedeliverWebhookEventsInput {
    /// The endpoint.
    pub endpoint_id: ID,
    /// One event to send again (its type need not match the endpoint's filter).
    pub event_id: Option<ID>,
    /// Start of the time range (inclusive); with `to`, instead of `eventId`.
    pub from: Option<DateTime<Utc>>,
    /// End of the time range (exclusive).
    pub to: Option<DateTime<Utc>>,
}

/// A new endpoint and its secret.
#[derive(SimpleObject)]
pub struct CreateWebhookEndpointPayload {
    /// The endpoint.
    pub endpoint: WebhookEndpoint,
    /// The signing secret (`whsec_…`). Shown only now: store it where your receiver reads it.
    pub secret: String,
}

/// The endpoint as it is after the mutation.
#[derive(SimpleObject)]
pub struct WebhookEndpointPayload {
    /// The endpoint.
    pub endpoint: WebhookEndpoint,
}

/// An endpoint's new secret.
#[derive(SimpleObject)]
pub struct RotateWebhookSecretPayload {
    /// The endpoint.
    pub endpoint: WebhookEndpoint,
    /// The new signing secret (`whsec_…`), shown only now. Until
    /// `endpoint.previousSecretExpiresAt`, deliveries carry a signature with each secret.
    pub secret: String,
}

/// What a redelivery queued.
#[derive(SimpleObject)]
pub struct RedeliverWebhookEventsPayload {
    /// The endpoint.
    pub endpoint: WebhookEndpoint,
    /// How many deliveries were queued.
    pub queued_count: i32,
}

/// Webhook mutations (all need `ACCOUNT_MANAGE`).
#[derive(Default)]
pub struct WebhookMutations;

#[Object]
impl WebhookMutations {
    /// Registers a webhook endpoint; it receives the account's events from now on, signed
    /// with the secret returned here (needs `ACCOUNT_MANAGE`).
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The URL, event types and description.")]
        input: CreateWebhookEndpointInput,
    ) -> Result<CreateWebhookEndpointPayload> {
        let (endpoint, secret) = webhooks::create(
            db(ctx)?,
            settings(ctx)?,
            actor(ctx)?,
            NewEndpoint {
                url: &input.url,
                event_types: input.event_types.as_deref(),
                description: input.description.as_deref(),
            },
        )
        .await?;
        Ok(CreateWebhookEndpointPayload {
            endpoint: WebhookEndpoint(endpoint),
            secret,
        })
    }

    /// Changes an endpoint's URL, event types or description, or disables or enables it
    /// (needs `ACCOUNT_MANAGE`).
    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint and what to change.")] input: UpdateWebhookEndpointInput,
    ) -> Result<WebhookEndpointPayload> {
        let endpoint = webhooks::update(
            db(ctx)?,
            settings(ctx)?,
            actor(ctx)?,
            WebhookEndpointId::parse(&input.id),
            EndpointChanges {
                url: input.url.as_deref(),
                event_types: input.event_types.as_deref(),
                description: input.description.as_deref(),
                enabled: input.enabled,
            },
        )
        .await?;
        Ok(WebhookEndpointPayload {
            endpoint: WebhookEndpoint(endpoint),
        })
    }

    /// Deletes an endpoint and its delivery log (needs `ACCOUNT_MANAGE`).
    async fn delete_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint to delete.")] input: DeleteInput,
    ) -> Result<DeletePayload> {
        let id =
            webhooks::delete(db(ctx)?, actor(ctx)?, WebhookEndpointId::parse(&input.id)).await?;
        Ok(DeletePayload {
            deleted_id: ID(id.to_string()),
        })
    }

    /// Gives an endpoint a new secret, returned only here; the old one keeps signing beside
    /// it for a while (24 hours by default) so receivers can switch without losing a
    /// message (needs `ACCOUNT_MANAGE`).
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint.")] input: RotateWebhookSecretInput,
    ) -> Result<RotateWebhookSecretPayload> {
        let (endpoint, secret) = webhooks::rotate_secret(
            db(ctx)?,
            settings(ctx)?,
            actor(ctx)?,
            WebhookEndpointId::parse(&input.id),
        )
        .await?;
        Ok(RotateWebhookSecretPayload {
            endpoint: WebhookEndpoint(endpoint),
            secret,
        })
    }

    /// Sends one event, or a time range of events, to an endpoint again, with their original
    /// `webhook-id` (needs `ACCOUNT_MANAGE`).
    async fn redeliver_webhook_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint and the event or time range.")]
        input: RedeliverWebhookEventsInput,
    ) -> Result<RedeliverWebhookEventsPayload> {
        let what = match (&input.event_id, input.from, input.to) {
            (Some(id), None, None) => Redeliver::Event(EventId::parse(id)),
            (None, Some(from), Some(to)) => Redeliver::Range {
                from: from.timestamp_millis(),
                to: to.timestamp_millis(),
            },
            _ => {
                return Err(crate::service::Error::bad_input(
                    "eventId",
                    "pass either `eventId`, or both `from` and `to`",
                )
                .into());
            }
        };
        let (endpoint, count) = webhooks::redeliver(
            db(ctx)?,
            actor(ctx)?,
            WebhookEndpointId::parse(&input.endpoint_id),
            what,
        )
        .await?;
        Ok(RedeliverWebhookEventsPayload {
            endpoint: WebhookEndpoint(endpoint),
            queued_count: i32::try_from(count).unwrap_or(i32::MAX),
        })
    }
}
