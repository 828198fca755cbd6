//! The webhook worker: queues each enabled endpoint's new events and delivers them.
//!
//! Like the mail outbox (`service::outbox`), it coordinates through the database, so several
//! `roster serve` processes can run it against one PostgreSQL. A pass claims up to
//! `max_endpoints` due endpoints in one conditional `UPDATE` that sets a lease (a random
//! token and `locked_until`); only the process holding an endpoint's lease queues or sends
//! for it, and every write it makes afterwards is conditional on still holding it. While a
//! process lives, no attempt is made twice; a process that dies mid-send leaves its lease
//! to expire and the delivery is attempted again (at least once).
//!
//! Per endpoint, deliveries go out strictly in event order: the oldest pending one is sent
//! first, and when it fails, the endpoint waits (exponential backoff with jitter, the
//! retry schedule) before anything newer is tried. An event whose every attempt failed is
//! given up (FAILED) and the next one starts; repeated give-ups disable the endpoint.
//! Endpoints are served concurrently; each keeps its HTTP connection alive between sends.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::Url;
use sea_orm::sea_query::{Condition, Expr, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement, Value,
};
use uuid::Uuid;

use super::super::dialect;
use super::secrets::Signer;
use super::source::{self, SourceEvent};
use super::{WebhookSettings, event_types, guard};
use crate::entity::webhook_delivery::{Kind, Status};
use crate::entity::{webhook_delivery, webhook_endpoint};
use crate::service::audit::{self, AuditAction, Change, Operation};
use crate::service::ids::{WebhookDeliveryId, WebhookEndpointId};
use crate::service::{Db, Error, Result, now_ms};

/// Longest `last_error` kept.
const MAX_ERROR_CHARS: usize = 500;
/// Most bytes of a response body read (and dropped) so the connection can be reused.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Rows per queue insert (15 parameters a row).
const INSERT_CHUNK: usize = 1_000;
/// Rows per result update (8 parameters a row).
const UPDATE_CHUNK: usize = 500;

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn clip(s: &str) -> String {
    s.chars().take(MAX_ERROR_CHARS).collect()
}

/// The HTTP client deliveries use: no redirects, no proxies from the environment, names
/// resolved through the SSRF guard, connections kept alive.
pub fn client(settings: &WebhookSettings) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(guard::GuardedResolver {
            allow_private: settings.allow_private,
        }))
        .connect_timeout(Ord::min(settings.timeout, Duration::from_secs(5)))
        .timeout(settings.timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("Roster-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Internal(anyhow::anyhow!("building the webhook HTTP client: {e}")))
}

/// Queues `events` for `endpoint` (in the caller's transaction).
pub async fn queue<C: ConnectionTrait>(
    db: &C,
    endpoint: &webhook_endpoint::Model,
    events: &[SourceEvent],
    kind: Kind,
    now: i64,
) -> Result<()> {
    let rows: Vec<webhook_delivery::ActiveModel> = events
        .iter()
        .map(|e| webhook_delivery::ActiveModel {
            id: Set(WebhookDeliveryId::new()),
            account_id: Set(endpoint.account_id),
            endpoint_id: Set(endpoint.id),
            kind: Set(kind),
            event_id: Set(e.id.clone()),
            event_position: Set(e.position),
            event_type: Set(e.event_type.clone()),
            payload: Set(e.payload.clone()),
            status: Set(Status::Pending),
            attempts: Set(0),
            next_attempt_at: Set(now),
            response_code: Set(None),
            latency_ms: Set(None),
            last_error: Set(None),
            created_at: Set(now),
            finished_at: Set(None),
        })
        .collect();
    for chunk in rows.chunks(INSERT_CHUNK) {
        webhook_delivery::Entity::insert_many(chunk.to_vec())
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Runs the worker until `shutdown` completes; sends under way are finished and recorded.
pub async fn run(db: Db, settings: Arc<WebhookSettings>, shutdown: impl Future<Output = ()>) {
    let worker = match Worker::new(db, settings) {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(error = %e.describe(), "webhook worker not started");
            return;
        }
    };
    tracing::info!("webhook worker started");
    let mut shutdown = std::pin::pin!(shutdown);
    let mut pruned: Option<Instant> = None;
    loop {
        if pruned.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            pruned = Some(Instant::now());
            match prune(&worker.db, worker.settings.delivery_retention).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "old webhook deliveries pruned"),
                Err(e) => {
                    tracing::warn!(error = %e.describe(), "pruning webhook deliveries failed")
                }
            }
        }
        {
            let pass = worker.pass();
            let mut pass = std::pin::pin!(pass);
            loop {
                tokio::select! {
                    result = &mut pass => {
                        if let Err(e) = result {
                            tracing::warn!(error = %e.describe(), "webhook pass failed; retrying on the next poll");
                        }
                        break;
                    }
                    _ = &mut shutdown, if !worker.stop.load(Ordering::Relaxed) => {
                        worker.stop.store(true, Ordering::Relaxed);
                    }
                }
            }
        }
        if worker.stop.load(Ordering::Relaxed) {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(worker.settings.poll_interval) => {}
            _ = &mut shutdown => break,
        }
    }
    tracing::info!("webhook worker stopped");
}

/// How often finished deliveries past their retention are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Deletes delivered and given-up deliveries older than `retention`; pending ones stay.
pub async fn prune(db: &Db, retention: Duration) -> Result<u64> {
    let cutoff = now_ms().saturating_sub(millis(retention));
    Ok(webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::Status.ne(Status::Pending))
        .filter(webhook_delivery::Column::FinishedAt.lt(cutoff))
        .exec(db.conn())
        .await?
        .rows_affected)
}

/// The worker's parts.
pub struct Worker {
    db: Db,
    settings: Arc<WebhookSettings>,
    client: reqwest::Client,
    stop: AtomicBool,
}

/// The result of one attempt.
struct Attempt {
    ok: bool,
    response_code: Option<i32>,
    latency_ms: Option<i64>,
    error: Option<String>,
}

/// A delivery's new state after an attempt.
struct Recorded {
    id: WebhookDeliveryId,
    status: Status,
    attempts: i32,
    attempt: Attempt,
    next_attempt_at: i64,
    finished_at: Option<i64>,
}

/// How one round ended for an endpoint.
enum RoundEnd {
    /// More may be waiting: go on.
    More,
    /// Nothing left now; the endpoint is next due at this time (0: whenever polled).
    Idle(i64),
    /// Disabled, lease lost or stopping.
    Stop,
}

impl Worker {
    /// A worker with its HTTP client.
    pub fn new(db: Db, settings: Arc<WebhookSettings>) -> Result<Self> {
        Ok(Worker {
            client: client(&settings)?,
            db,
            settings,
            stop: AtomicBool::new(false),
        })
    }

    /// One pass: claims the due endpoints and serves each. Returns how many deliveries
    /// succeeded.
    pub async fn pass(&self) -> Result<usize> {
        let now = now_ms();
        let lease = Uuid::now_v7();
        let until = now.saturating_add(millis(self.settings.lease));
        let due = Query::select()
            .column(webhook_endpoint::Column::Id)
            .from(webhook_endpoint::Entity)
            .and_where(webhook_endpoint::Column::DisabledAt.is_null())
            .and_where(webhook_endpoint::Column::NextAttemptAt.lte(now))
            .cond_where(unleased(now))
            // Only endpoints with something to do: events after their cursor, or deliveries
            // waiting (an idle endpoint costs this indexed probe, nothing more).
            .and_where(Expr::cust(
                "(EXISTS (SELECT 1 FROM events e WHERE e.account_id = webhook_endpoints.account_id \
                 AND e.seq > webhook_endpoints.cursor) \
                 OR EXISTS (SELECT 1 FROM webhook_deliveries d \
                 WHERE d.endpoint_id = webhook_endpoints.id AND d.status = 'PENDING'))",
            ))
            .order_by(webhook_endpoint::Column::NextAttemptAt, sea_orm::Order::Asc)
            .limit(self.settings.max_endpoints)
            .to_owned();
        // The claim: whichever process changes a row owns it until the lease ends. The
        // conditions are repeated outside the sub-select, so a row another process claimed
        // in between is left alone (PostgreSQL re-checks them on the locked row).
        let claimed = webhook_endpoint::Entity::update_many()
            .col_expr(webhook_endpoint::Column::LockedUntil, Expr::value(until))
            .col_expr(webhook_endpoint::Column::Lease, Expr::value(lease))
            .col_expr(
                webhook_endpoint::Column::NextAttemptAt,
                Expr::value(now.max(1)),
            )
            .filter(webhook_endpoint::Column::Id.in_subquery(due))
            .filter(webhook_endpoint::Column::DisabledAt.is_null())
            .filter(unleased(now))
            .exec(self.db.conn())
            .await?
            .rows_affected;
        if claimed == 0 {
            return Ok(0);
        }
        let endpoints = webhook_endpoint::Entity::find()
            .filter(webhook_endpoint::Column::Lease.eq(lease))
            .all(self.db.conn())
            .await?;
        let results: Vec<usize> = futures_util::stream::iter(endpoints)
            .map(|e| async move {
                let id = e.id;
                match self.serve(e, lease).await {
                    Ok(n) => n,
                    Err(err) => {
                        tracing::warn!(endpoint = %id, error = %err.describe(), "webhook endpoint pass failed");
                        // The lease runs out and the endpoint is served again later.
                        0
                    }
                }
            })
            .buffer_unordered(self.settings.max_endpoints.max(1) as usize)
            .collect()
            .await;
        Ok(results.into_iter().sum())
    }

    /// Serves one claimed endpoint: rounds of queue-then-send until nothing is due.
    async fn serve(&self, mut endpoint: webhook_endpoint::Model, lease: Uuid) -> Result<usize> {
        let now = now_ms();
        let signer = match self.signer(&endpoint, now) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(endpoint = %endpoint.id, error = %e.describe(), "webhook secret unusable; rotate it");
                self.release(endpoint.id, lease, now.saturating_add(60_000))
                    .await?;
                return Ok(0);
            }
        };
        let url = Url::parse(&endpoint.url)
            .map_err(|e| Error::Internal(anyhow::anyhow!("stored webhook URL is invalid: {e}")))?;
        let mut delivered = 0;
        loop {
            match self
                .round(&mut endpoint, lease, &signer, &url, &mut delivered)
                .await?
            {
                RoundEnd::More if !self.stop.load(Ordering::Relaxed) => continue,
                RoundEnd::More => {
                    self.release(endpoint.id, lease, 0).await?;
                    break;
                }
                RoundEnd::Idle(next) => {
                    self.release(endpoint.id, lease, next).await?;
                    break;
                }
                RoundEnd::Stop => break,
            }
        }
        Ok(delivered)
    }

    fn signer(&self, endpoint: &webhook_endpoint::Model, now: i64) -> Result<Signer> {
        let sealer = self.settings.secrets.as_ref().ok_or_else(|| {
            Error::Internal(anyhow::anyhow!(
                "no key to open webhook secrets: set ROSTER_SECRET_KEY (or ROSTER_JWT_SECRET)"
            ))
        })?;
        let mut secrets = vec![sealer.open(endpoint.id, &endpoint.secret_sealed)?];
        if let (Some(previous), Some(until)) = (
            &endpoint.previous_secret_sealed,
            endpoint.previous_secret_until,
        ) && until > now
        {
            secrets.push(sealer.open(endpoint.id, previous)?);
        }
        Signer::new(&secrets)
    }

    /// Lets go of an endpoint: due again at `next` (0: at the next poll), unless a
    /// redelivery asked for it meanwhile (which set `next_attempt_at` to 0).
    async fn release(&self, id: WebhookEndpointId, lease: Uuid, next: i64) -> Result<()> {
        webhook_endpoint::Entity::update_many()
            .col_expr(
                webhook_endpoint::Column::LockedUntil,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(
                webhook_endpoint::Column::Lease,
                Expr::value(Option::<Uuid>::None),
            )
            .col_expr(
                webhook_endpoint::Column::NextAttemptAt,
                // An integer of ours, not input: inlined, so one text serves both dialects.
                Expr::cust(format!(
                    "CASE WHEN next_attempt_at = 0 THEN 0 ELSE {next} END"
                )),
            )
            .filter(webhook_endpoint::Column::Id.eq(id))
            .filter(webhook_endpoint::Column::Lease.eq(lease))
            .exec(self.db.conn())
            .await?;
        Ok(())
    }

    /// One round: queue new events, send pending deliveries in order, record the results.
    async fn round(
        &self,
        endpoint: &mut webhook_endpoint::Model,
        lease: Uuid,
        signer: &Signer,
        url: &Url,
        delivered: &mut usize,
    ) -> Result<RoundEnd> {
        let batch = self.settings.batch_size.max(1);
        let conn = self.db.conn();
        let now = now_ms();
        // 1. Queue what the event log has after the cursor.
        let events = source::after(
            conn,
            endpoint.account_id,
            endpoint.cursor,
            &event_types(endpoint),
            batch,
        )
        .await?;
        let mut more = events.len() as u64 >= batch;
        if let Some(last) = events.last() {
            let txn = self.db.begin_write().await?;
            let held = webhook_endpoint::Entity::update_many()
                .col_expr(webhook_endpoint::Column::Cursor, Expr::value(last.position))
                .col_expr(
                    webhook_endpoint::Column::LockedUntil,
                    Expr::value(now.saturating_add(millis(self.settings.lease))),
                )
                .filter(webhook_endpoint::Column::Id.eq(endpoint.id))
                .filter(webhook_endpoint::Column::Lease.eq(lease))
                .exec(&txn)
                .await?
                .rows_affected
                == 1;
            if !held {
                txn.rollback().await?;
                return Ok(RoundEnd::Stop);
            }
            queue(&txn, endpoint, &events, Kind::Event, now).await?;
            txn.commit().await?;
            endpoint.cursor = last.position;
        }

        // 2. Send the pending ones, oldest event first, until one fails.
        let pending = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::EndpointId.eq(endpoint.id))
            .filter(webhook_delivery::Column::Status.eq(Status::Pending))
            .order_by_asc(webhook_delivery::Column::EventPosition)
            .order_by_asc(webhook_delivery::Column::Id)
            .limit(batch)
            .all(conn)
            .await?;
        more |= pending.len() as u64 >= batch;
        let schedule = &self.settings.retry_schedule;
        let mut recorded: Vec<Recorded> = Vec::with_capacity(pending.len());
        let mut next_due = 0;
        let mut failing_since = endpoint.failing_since;
        let mut failed_events = endpoint.failed_events;
        let mut disable: Option<String> = None;
        // Results are recorded (and the lease extended) at least every half lease, so a
        // slow receiver never lets the lease run out mid-round.
        let started = Instant::now();
        let budget = self.settings.lease / 2;
        for d in &pending {
            if self.stop.load(Ordering::Relaxed) || started.elapsed() >= budget {
                more = true;
                break;
            }
            let now = now_ms();
            if d.next_attempt_at > now {
                next_due = d.next_attempt_at;
                more = false;
                break;
            }
            let attempt = self.send(url, signer, d).await;
            let now = now_ms();
            let attempts = d.attempts.saturating_add(1);
            if attempt.ok {
                *delivered += 1;
                failing_since = None;
                failed_events = 0;
                recorded.push(Recorded {
                    id: d.id,
                    status: Status::Delivered,
                    attempts,
                    attempt,
                    next_attempt_at: d.next_attempt_at,
                    finished_at: Some(now),
                });
                continue;
            }
            let since = *failing_since.get_or_insert(now);
            let retry = usize::try_from(attempts - 1)
                .ok()
                .and_then(|i| schedule.get(i));
            if let Some(wait) = retry {
                let next = now.saturating_add(self.jittered(*wait));
                recorded.push(Recorded {
                    id: d.id,
                    status: Status::Pending,
                    attempts,
                    attempt,
                    next_attempt_at: next,
                    finished_at: None,
                });
                next_due = next;
                more = false;
                break;
            }
            // Every attempt failed: give the event up; the next one starts.
            failed_events = failed_events.saturating_add(1);
            let error = attempt.error.clone().unwrap_or_default();
            recorded.push(Recorded {
                id: d.id,
                status: Status::Failed,
                attempts,
                attempt,
                next_attempt_at: d.next_attempt_at,
                finished_at: Some(now),
            });
            let threshold = self.settings.disable_after_failed_events.max(1);
            if failed_events as u32 >= threshold
                || now.saturating_sub(since) >= millis(self.settings.disable_after)
            {
                disable = Some(clip(&format!(
                    "disabled after {failed_events} event(s) in a row failed every attempt (failing since {}); last error: {error}",
                    chrono::DateTime::from_timestamp_millis(since)
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_default()
                )));
                break;
            }
        }

        // 3. Record, if the lease is still ours.
        let now = now_ms();
        let txn = self.db.begin_write().await?;
        // Extends the lease, or (when disabling) lets go of the endpoint.
        let locked_until = match disable {
            Some(_) => None,
            None => Some(now.saturating_add(millis(self.settings.lease))),
        };
        let mut update = webhook_endpoint::Entity::update_many()
            .col_expr(
                webhook_endpoint::Column::LockedUntil,
                Expr::value(locked_until),
            )
            .col_expr(
                webhook_endpoint::Column::FailingSince,
                Expr::value(failing_since),
            )
            .col_expr(
                webhook_endpoint::Column::FailedEvents,
                Expr::value(failed_events),
            );
        if let Some(reason) = &disable {
            update = update
                .col_expr(webhook_endpoint::Column::DisabledAt, Expr::value(now))
                .col_expr(
                    webhook_endpoint::Column::DisabledReason,
                    Expr::value(reason.clone()),
                )
                .col_expr(
                    webhook_endpoint::Column::Lease,
                    Expr::value(Option::<Uuid>::None),
                )
                .col_expr(webhook_endpoint::Column::UpdatedAt, Expr::value(now));
        }
        let held = update
            .filter(webhook_endpoint::Column::Id.eq(endpoint.id))
            .filter(webhook_endpoint::Column::Lease.eq(lease))
            .exec(&txn)
            .await?
            .rows_affected
            == 1;
        if !held {
            tracing::warn!(endpoint = %endpoint.id, "webhook lease expired during a round; another worker owns the endpoint");
            txn.rollback().await?;
            return Ok(RoundEnd::Stop);
        }
        record(&txn, &recorded).await?;
        if let Some(reason) = &disable {
            let mut op = Operation::anonymous(endpoint.account_id);
            op.at = now;
            audit::record(
                &txn,
                &op,
                vec![Change {
                    action: AuditAction::WebhookEndpointDisabled,
                    target_type: super::TARGET_TYPE,
                    target_id: endpoint.id.into(),
                    target_label: Some(endpoint.url.clone()),
                    target_team_id: None,
                    before: Some(serde_json::json!({ "enabled": true })),
                    after: Some(serde_json::json!({ "enabled": false, "reason": reason })),
                }],
            )
            .await?;
        }
        txn.commit().await?;
        endpoint.failing_since = failing_since;
        endpoint.failed_events = failed_events;
        if disable.is_some() {
            tracing::warn!(endpoint = %endpoint.id, "webhook endpoint disabled after repeated failure");
            return Ok(RoundEnd::Stop);
        }
        Ok(if more {
            RoundEnd::More
        } else {
            RoundEnd::Idle(next_due)
        })
    }

    /// `wait` ± the configured jitter.
    fn jittered(&self, wait: Duration) -> i64 {
        let j = self.settings.jitter.clamp(0.0, 1.0);
        let factor = 1.0 + j * (rand::random::<f64>() * 2.0 - 1.0);
        ((millis(wait) as f64) * factor).max(0.0) as i64
    }

    /// One HTTP attempt.
    async fn send(&self, url: &Url, signer: &Signer, d: &webhook_delivery::Model) -> Attempt {
        let failed = |error: String| Attempt {
            ok: false,
            response_code: None,
            latency_ms: None,
            error: Some(clip(&error)),
        };
        if let Some(reason) = guard::refused_literal(url, self.settings.allow_private) {
            return failed(format!("refused: the URL points to {reason}"));
        }
        let timestamp = chrono::Utc::now().timestamp();
        let signature = match signer.signature(&d.event_id, timestamp, &d.payload) {
            Ok(s) => s,
            Err(e) => return failed(e.describe()),
        };
        let started = Instant::now();
        let sent = self
            .client
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &d.event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(d.payload.clone())
            .send()
            .await;
        let mut response = match sent {
            Ok(r) => r,
            Err(e) => {
                let mut attempt = failed(describe(&e, self.settings.timeout));
                attempt.latency_ms = Some(millis(started.elapsed()));
                return attempt;
            }
        };
        let code = response.status();
        // Read (a bounded part of) the body so the connection can be reused.
        let mut read = 0usize;
        while read < MAX_RESPONSE_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                _ => break,
            }
        }
        let latency = millis(started.elapsed());
        Attempt {
            ok: code.is_success(),
            response_code: Some(i32::from(code.as_u16())),
            latency_ms: Some(latency),
            error: (!code.is_success()).then(|| format!("the endpoint answered {code}")),
        }
    }
}

/// Endpoints no live lease holds.
fn unleased(now: i64) -> Condition {
    Condition::any()
        .add(webhook_endpoint::Column::LockedUntil.is_null())
        .add(webhook_endpoint::Column::LockedUntil.lt(now))
}

/// An HTTP client error with its causes (the resolver's refusal is among them).
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("timed out after {} s", timeout.as_secs_f64());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Writes the results of a round in one statement per 500 deliveries.
async fn record<C: ConnectionTrait>(db: &C, rows: &[Recorded]) -> Result<()> {
    let backend = db.get_database_backend();
    for chunk in rows.chunks(UPDATE_CHUNK) {
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 8);
        let mut tuples = Vec::with_capacity(chunk.len());
        for (i, r) in chunk.iter().enumerate() {
            let base = i * 8;
            let params: Vec<String> = (1..=8).map(|k| dialect::param(backend, base + k)).collect();
            tuples.push(format!("({})", params.join(", ")));
            values.extend([
                Value::Uuid(Some(r.id.0)),
                Value::String(Some(r.status.as_str().to_owned())),
                Value::Int(Some(r.attempts)),
                Value::Int(r.attempt.response_code),
                Value::BigInt(r.attempt.latency_ms),
                Value::String(r.attempt.error.clone()),
                Value::BigInt(Some(r.next_attempt_at)),
                Value::BigInt(r.finished_at),
            ]);
        }
        let sql = format!(
            "UPDATE webhook_deliveries SET status = v.column2, attempts = v.column3, \
             response_code = v.column4, latency_ms = v.column5, last_error = v.column6, \
             next_attempt_at = v.column7, finished_at = v.column8 \
             FROM (VALUES {}) AS v WHERE webhook_deliveries.id = v.column1",
            tuples.join(", ")
        );
        db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}
