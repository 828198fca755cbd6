//! Signed webhooks: endpoints an account's admins register (`ACCOUNT_MANAGE`), each
//! receiving the account's domain events, signed per Standard Webhooks, from a
//! database-backed queue (`worker`).
//!
//! - An endpoint created by an `ACCOUNT_MANAGE` caller receives the whole account's events
//!   (that permission already governs the whole account), filtered by its event types.
//! - Its secret (`whsec_…`) is shown once, at creation and at each rotation, and stored
//!   sealed (`secrets`). For `ROTATION_WINDOW` after a rotation, deliveries carry both
//!   signatures, so receivers can switch without losing a message.
//! - URLs pass the SSRF guard (`guard`) when set and again at every send.
//! - Every change is audited (`webhook_endpoint.*` actions, target type `WebhookEndpoint`).

pub mod guard;
pub mod secrets;
pub mod source;
pub mod worker;

use std::time::Duration;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde_json::{Map, Value as Json, json};

use super::audit::{self, AuditAction, Change, Operation};
use super::ids::{EventId, Sent, WebhookEndpointId};
use super::page::{Listing, PageArgs, Sort, SortValue};
use super::{Db, Error, Result, access, now_ms};
use crate::auth::{Permission, Principal};
use crate::entity::webhook_delivery::Kind;
use crate::entity::{webhook_delivery, webhook_endpoint};
pub use secrets::SecretBox;

/// The audit target type of endpoints.
pub const TARGET_TYPE: &str = "WebhookEndpoint";

/// Longest description.
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// Most endpoints per account.
pub const MAX_ENDPOINTS: u64 = 20;
/// Most events one `redeliverWebhookEvents` call queues.
pub const MAX_REDELIVERY: u64 = 10_000;

/// How webhooks behave (configuration: README "Webhooks").
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    /// Seals secrets; `None` when no key is configured (creating endpoints is refused).
    pub secrets: Option<SecretBox>,
    /// `ROSTER_WEBHOOK_ALLOW_PRIVATE`: allow http and internal addresses (development, tests).
    pub allow_private: bool,
    /// How long the previous secret keeps signing after a rotation.
    pub rotation_window: Duration,
    /// Per-request timeout (`ROSTER_WEBHOOK_TIMEOUT_SECONDS`).
    pub timeout: Duration,
    /// Waits before each retry; an event gets `1 + len` attempts
    /// (`ROSTER_WEBHOOK_RETRY_SCHEDULE`).
    pub retry_schedule: Vec<Duration>,
    /// Relative jitter applied to each wait (0.2 = ±20 %).
    pub jitter: f64,
    /// An endpoint is disabled when an event is given up while the endpoint has failed
    /// without a success for this long (`ROSTER_WEBHOOK_DISABLE_AFTER`) ...
    pub disable_after: Duration,
    /// ... or when this many events in a row were given up
    /// (`ROSTER_WEBHOOK_DISABLE_AFTER_FAILED_EVENTS`).
    pub disable_after_failed_events: u32,
    /// How often the worker looks for work.
    pub poll_interval: Duration,
    /// How long a claimed endpoint stays reserved for the process that claimed it.
    pub lease: Duration,
    /// Most deliveries handled per endpoint per round.
    pub batch_size: u64,
    /// Most endpoints claimed in one statement (and served concurrently).
    pub max_endpoints: u64,
    /// How long delivered and given-up deliveries stay in the log (the event retention,
    /// `ROSTER_EVENT_RETENTION_DAYS`).
    pub delivery_retention: Duration,
}

/// The default retry schedule: 8 retries over about a day.
pub const DEFAULT_RETRY_SCHEDULE: &str = "5s,30s,2m,10m,1h,3h,8h,12h";

impl Default for WebhookSettings {
    /// Defaults. The secret key is a random one of this process: a router built in code
    /// (tests, embedding) can create endpoints, but their secrets do not survive a restart;
    /// `roster serve` always sets the key from configuration.
    fn default() -> Self {
        WebhookSettings {
            secrets: Some(SecretBox::derive(&rand::random::<[u8; 32]>(), "ephemeral")),
            allow_private: false,
            rotation_window: Duration::from_secs(24 * 3600),
            timeout: Duration::from_secs(10),
            retry_schedule: parse_schedule(DEFAULT_RETRY_SCHEDULE).unwrap_or_default(),
            jitter: 0.2,
            disable_after: Duration::from_secs(24 * 3600),
            disable_after_failed_events: 5,
            poll_interval: Duration::from_millis(200),
            lease: Duration::from_secs(60),
            batch_size: 500,
            max_endpoints: 64,
            delivery_retention: Duration::from_secs(30 * 86_400),
        }
    }
}

/// Parses a retry schedule such as `5s,30s,2m` (see `config::parse_duration`).
pub fn parse_schedule(s: &str) -> std::result::Result<Vec<Duration>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(crate::config::parse_duration)
        .collect()
}

/// The event types an endpoint may subscribe to.
pub fn known_event_types() -> &'static [&'static str] {
    source::EVENT_TYPES
}

const REFUSAL: &str = "your role may not manage webhooks (needs ACCOUNT_MANAGE)";

fn ensure_may_manage(actor: &Principal) -> Result<()> {
    if actor.can(Permission::AccountManage) {
        Ok(())
    } else {
        Err(Error::forbidden(REFUSAL))
    }
}

/// An endpoint id as sent: malformed ids do not exist.
fn endpoint_id(id: Sent<WebhookEndpointId>) -> Result<WebhookEndpointId> {
    id.ok_or(Error::NotFound("webhook endpoint"))
}

/// The endpoint `id` of the actor's account; another account's is `NOT_FOUND`.
async fn find<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    id: WebhookEndpointId,
) -> Result<webhook_endpoint::Model> {
    webhook_endpoint::Entity::find_by_id(id)
        .filter(webhook_endpoint::Column::AccountId.eq(actor.account_id))
        .one(db)
        .await?
        .ok_or(Error::NotFound("webhook endpoint"))
}

/// Checks an event-type filter against the known types; duplicates dropped, order kept.
pub fn parse_event_types(raw: &[String]) -> Result<Vec<String>> {
    let known = known_event_types();
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for t in raw {
        let t = t.trim();
        if !known.contains(&t) {
            return Err(Error::bad_input(
                "eventTypes",
                format!(
                    "`{t}` is not an event type; known types: {}",
                    known.join(", ")
                ),
            ));
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    }
    Ok(out)
}

fn parse_description(raw: &str) -> Result<String> {
    let d = raw.trim();
    if d.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(Error::bad_input(
            "description",
            format!("the description is longer than {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    if d.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::bad_input(
            "description",
            "the description contains control characters",
        ));
    }
    Ok(d.to_owned())
}

/// The stored event-type filter (empty = all).
pub fn event_types(endpoint: &webhook_endpoint::Model) -> Vec<String> {
    serde_json::from_str(&endpoint.event_types).unwrap_or_default()
}

async fn parse_checked_url(settings: &WebhookSettings, raw: &str) -> Result<String> {
    let url = guard::parse_url(raw, settings.allow_private)?;
    guard::check_destination(&url, settings.allow_private).await?;
    Ok(url.to_string())
}

fn sealer(settings: &WebhookSettings) -> Result<&SecretBox> {
    settings.secrets.as_ref().ok_or_else(|| {
        Error::Internal(anyhow::anyhow!(
            "no key to seal webhook secrets: set ROSTER_SECRET_KEY (or ROSTER_JWT_SECRET)"
        ))
    })
}

/// What an endpoint looks like in the audit log (never its secret).
fn audit_view(e: &webhook_endpoint::Model) -> Json {
    json!({
        "url": e.url,
        "description": e.description,
        "eventTypes": event_types(e),
        "enabled": e.disabled_at.is_none(),
    })
}

fn change(
    e: &webhook_endpoint::Model,
    action: AuditAction,
    before: Option<Json>,
    after: Option<Json>,
) -> Change {
    Change {
        action,
        target_type: TARGET_TYPE,
        target_id: e.id.into(),
        target_label: Some(e.url.clone()),
        target_team_id: None,
        before,
        after,
    }
}

/// What `createWebhookEndpoint` asks for.
pub struct NewEndpoint<'a> {
    pub url: &'a str,
    /// Empty or `None`: every event type.
    pub event_types: Option<&'a [String]>,
    pub description: Option<&'a str>,
}

/// Creates an endpoint; returns it and its secret, which is shown only now. It receives
/// the account's events from now on.
pub async fn create(
    db: &Db,
    settings: &WebhookSettings,
    actor: &Principal,
    input: NewEndpoint<'_>,
) -> Result<(webhook_endpoint::Model, String)> {
    ensure_may_manage(actor)?;
    let url = parse_checked_url(settings, input.url).await?;
    let types = parse_event_types(input.event_types.unwrap_or_default())?;
    let description = parse_description(input.description.unwrap_or_default())?;
    let sealer = sealer(settings)?;
    let id = WebhookEndpointId::new();
    let secret = secrets::new_secret();
    let sealed = sealer.seal(id, &secret)?;

    let txn = db.begin_write().await?;
    let actor = &access::recheck(&txn, actor, Permission::AccountManage, REFUSAL).await?;
    use sea_orm::PaginatorTrait;
    let existing = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::AccountId.eq(actor.account_id))
        .count(&txn)
        .await?;
    if existing >= MAX_ENDPOINTS {
        return Err(Error::LimitExceeded(format!(
            "an account may have at most {MAX_ENDPOINTS} webhook endpoints"
        )));
    }
    let cursor = source::latest_position(&txn, actor.account_id).await?;
    let op = Operation::start(actor);
    let endpoint = webhook_endpoint::Entity::insert(webhook_endpoint::ActiveModel {
        id: Set(id),
        account_id: Set(actor.account_id),
        url: Set(url),
        description: Set(description),
        event_types: Set(serde_json::to_string(&types).map_err(anyhow::Error::from)?),
        secret_sealed: Set(sealed),
        previous_secret_sealed: Set(None),
        previous_secret_until: Set(None),
        disabled_at: Set(None),
        disabled_reason: Set(None),
        cursor: Set(cursor),
        failing_since: Set(None),
        failed_events: Set(0),
        next_attempt_at: Set(0),
        locked_until: Set(None),
        lease: Set(None),
        created_at: Set(op.at),
        updated_at: Set(op.at),
    })
    .exec_with_returning(&txn)
    .await?;
    audit::record(
        &txn,
        &op,
        vec![change(
            &endpoint,
            AuditAction::WebhookEndpointCreated,
            None,
            Some(audit_view(&endpoint)),
        )],
    )
    .await?;
    txn.commit().await?;
    Ok((endpoint, secret))
}

/// What `updateWebhookEndpoint` changes; `None` leaves a field as it is.
#[derive(Default)]
pub struct EndpointChanges<'a> {
    pub url: Option<&'a str>,
    /// Replaces the filter; empty = every type.
    pub event_types: Option<&'a [String]>,
    pub description: Option<&'a str>,
    /// `false` disables the endpoint (nothing is queued or sent); `true` enables it again,
    /// from the current end of the event log (use redelivery for what happened meanwhile).
    pub enabled: Option<bool>,
}

/// Changes an endpoint. Nothing is written (or audited) when it already is as asked.
pub async fn update(
    db: &Db,
    settings: &WebhookSettings,
    actor: &Principal,
    id: Sent<WebhookEndpointId>,
    changes: EndpointChanges<'_>,
) -> Result<webhook_endpoint::Model> {
    ensure_may_manage(actor)?;
    let id = endpoint_id(id)?;
    let url = match changes.url {
        Some(u) => Some(parse_checked_url(settings, u).await?),
        None => None,
    };
    let types = changes.event_types.map(parse_event_types).transpose()?;
    let description = changes.description.map(parse_description).transpose()?;

    let txn = db.begin_write().await?;
    let actor = &access::recheck(&txn, actor, Permission::AccountManage, REFUSAL).await?;
    let endpoint = find(&txn, actor, id).await?;
    let mut row: webhook_endpoint::ActiveModel = endpoint.clone().into();
    let (mut before, mut after) = (Map::new(), Map::new());
    if let Some(url) = url
        && url != endpoint.url
    {
        before.insert("url".into(), json!(endpoint.url));
        after.insert("url".into(), json!(url));
        row.url = Set(url);
    }
    if let Some(types) = types {
        let current = event_types(&endpoint);
        if types != current {
            before.insert("eventTypes".into(), json!(current));
            after.insert("eventTypes".into(), json!(types));
            row.event_types = Set(serde_json::to_string(&types).map_err(anyhow::Error::from)?);
        }
    }
    if let Some(d) = description
        && d != endpoint.description
    {
        before.insert("description".into(), json!(endpoint.description));
        after.insert("description".into(), json!(d));
        row.description = Set(d);
    }
    let now = now_ms();
    if let Some(enabled) = changes.enabled
        && enabled != endpoint.disabled_at.is_none()
    {
        before.insert("enabled".into(), json!(!enabled));
        after.insert("enabled".into(), json!(enabled));
        if enabled {
            row.disabled_at = Set(None);
            row.disabled_reason = Set(None);
            row.failing_since = Set(None);
            row.failed_events = Set(0);
            row.next_attempt_at = Set(0);
            row.cursor = Set(source::latest_position(&txn, actor.account_id).await?);
        } else {
            row.disabled_at = Set(Some(now));
            row.disabled_reason = Set(Some("disabled by an administrator".into()));
        }
    }
    if after.is_empty() {
        return Ok(endpoint);
    }
    let op = Operation::start(actor);
    row.updated_at = Set(op.at);
    let updated = row.update(&txn).await?;
    audit::record(
        &txn,
        &op,
        vec![change(
            &updated,
            AuditAction::WebhookEndpointUpdated,
            Some(Json::Object(before)),
            Some(Json::Object(after)),
        )],
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

/// Deletes an endpoint and its delivery log; nothing more is sent to it.
pub async fn delete(
    db: &Db,
    actor: &Principal,
    id: Sent<WebhookEndpointId>,
) -> Result<WebhookEndpointId> {
    ensure_may_manage(actor)?;
    let id = endpoint_id(id)?;
    let txn = db.begin_write().await?;
    let actor = &access::recheck(&txn, actor, Permission::AccountManage, REFUSAL).await?;
    let endpoint = find(&txn, actor, id).await?;
    webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::EndpointId.eq(id))
        .exec(&txn)
        .await?;
    webhook_endpoint::Entity::delete_by_id(id)
        .exec(&txn)
        .await?;
    let op = Operation::start(actor);
    audit::record(
        &txn,
        &op,
        vec![change(
            &endpoint,
            AuditAction::WebhookEndpointDeleted,
            Some(audit_view(&endpoint)),
            None,
        )],
    )
    .await?;
    txn.commit().await?;
    Ok(id)
}

/// Gives an endpoint a new secret, shown only now. The old one keeps signing (beside the
/// new) for `settings.rotation_window`; a second rotation within the window ends the
/// first one's grace at once.
pub async fn rotate_secret(
    db: &Db,
    settings: &WebhookSettings,
    actor: &Principal,
    id: Sent<WebhookEndpointId>,
) -> Result<(webhook_endpoint::Model, String)> {
    ensure_may_manage(actor)?;
    let id = endpoint_id(id)?;
    let sealer = sealer(settings)?;
    let secret = secrets::new_secret();
    let sealed = sealer.seal(id, &secret)?;
    let txn = db.begin_write().await?;
    let actor = &access::recheck(&txn, actor, Permission::AccountManage, REFUSAL).await?;
    let endpoint = find(&txn, actor, id).await?;
    let op = Operation::start(actor);
    let until = op
        .at
        .saturating_add(i64::try_from(settings.rotation_window.as_millis()).unwrap_or(i64::MAX));
    let mut row: webhook_endpoint::ActiveModel = endpoint.clone().into();
    row.previous_secret_sealed = Set(Some(endpoint.secret_sealed.clone()));
    row.previous_secret_until = Set(Some(until));
    row.secret_sealed = Set(sealed);
    row.updated_at = Set(op.at);
    let updated = row.update(&txn).await?;
    audit::record(
        &txn,
        &op,
        vec![change(
            &updated,
            AuditAction::WebhookEndpointSecretRotated,
            None,
            Some(json!({ "previousSecretExpiresAt": until })),
        )],
    )
    .await?;
    txn.commit().await?;
    Ok((updated, secret))
}

/// What to send again.
pub enum Redeliver {
    /// One event, by its id (even when the endpoint's filter leaves its type out).
    Event(Sent<EventId>),
    /// The events created in `[from, to)` (ms) that the endpoint's filter matches.
    Range { from: i64, to: i64 },
}

/// Queues events for an endpoint again. They are sent with their original `webhook-id`, in
/// event order, before later events still waiting. Returns the endpoint and how many
/// deliveries were queued.
pub async fn redeliver(
    db: &Db,
    actor: &Principal,
    id: Sent<WebhookEndpointId>,
    what: Redeliver,
) -> Result<(webhook_endpoint::Model, u64)> {
    ensure_may_manage(actor)?;
    let id = endpoint_id(id)?;
    if let Redeliver::Range { from, to } = what
        && from >= to
    {
        return Err(Error::bad_input("to", "`to` must be later than `from`"));
    }
    let txn = db.begin_write().await?;
    let actor = &access::recheck(&txn, actor, Permission::AccountManage, REFUSAL).await?;
    let endpoint = find(&txn, actor, id).await?;
    let events = match what {
        Redeliver::Event(event_id) => {
            let event = source::by_id(&txn, actor.account_id, event_id)
                .await?
                .ok_or(Error::NotFound("event"))?;
            vec![event]
        }
        Redeliver::Range { from, to } => {
            let events = source::in_range(
                &txn,
                actor.account_id,
                from,
                to,
                &event_types(&endpoint),
                MAX_REDELIVERY + 1,
            )
            .await?;
            if events.len() as u64 > MAX_REDELIVERY {
                return Err(Error::LimitExceeded(format!(
                    "the range holds more than {MAX_REDELIVERY} events; redeliver a shorter one"
                )));
            }
            events
        }
    };
    let op = Operation::start(actor);
    let count = events.len() as u64;
    worker::queue(&txn, &endpoint, &events, Kind::Redelivery, op.at).await?;
    // Due now, whatever backoff the endpoint was in: the redelivered events go first.
    webhook_endpoint::Entity::update_many()
        .col_expr(webhook_endpoint::Column::NextAttemptAt, Expr::value(0i64))
        .filter(webhook_endpoint::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        &op,
        vec![change(
            &endpoint,
            AuditAction::WebhookEndpointRedeliveryRequested,
            None,
            Some(json!({
                "eventIds": events.iter().take(100).map(|e| e.id.clone()).collect::<Vec<_>>(),
                "count": count,
            })),
        )],
    )
    .await?;
    txn.commit().await?;
    Ok((endpoint, count))
}

/// The account's endpoints, oldest first.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    page: &PageArgs,
) -> Result<Listing<webhook_endpoint::Entity>> {
    ensure_may_manage(actor)?;
    page.validate()?;
    let select = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::AccountId.eq(actor.account_id));
    let sort = Sort {
        tag: "created",
        key: webhook_endpoint::Column::CreatedAt,
        id: webhook_endpoint::Column::Id,
        ascending: true,
    };
    Listing::fetch(db, select, &sort, page, |e| {
        (SortValue::Int(e.created_at), e.id)
    })
    .await
}

/// One endpoint's deliveries, newest first.
pub async fn deliveries<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    endpoint: &webhook_endpoint::Model,
    page: &PageArgs,
) -> Result<Listing<webhook_delivery::Entity>> {
    ensure_may_manage(actor)?;
    if endpoint.account_id != actor.account_id {
        return Err(Error::NotFound("webhook endpoint"));
    }
    page.validate()?;
    let select = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::EndpointId.eq(endpoint.id));
    let sort = Sort {
        tag: "queued",
        key: webhook_delivery::Column::CreatedAt,
        id: webhook_delivery::Column::Id,
        ascending: false,
    };
    Listing::fetch(db, select, &sort, page, |d| {
        (SortValue::Int(d.created_at), d.id)
    })
    .await
}

/// The external id of a delivery.
pub fn delivery_id(d: &webhook_delivery::Model) -> String {
    d.id.to_string()
}
