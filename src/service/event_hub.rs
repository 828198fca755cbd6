//! Live event streams (GraphQL subscriptions): one hub per server process that turns
//! "new events were committed" wake-ups into reads of the event table, and the stream of
//! one subscriber.
//!
//! - **Wake-ups.** On PostgreSQL a dedicated listener connection per process (`LISTEN
//!   roster_events`) hears the `NOTIFY` every event-writing transaction sends at commit, from
//!   whichever process wrote; on SQLite (one process) the writers' in-process broadcast does
//!   the same. Every stream also reads on a timer (`EventSettings::poll`), so a lost
//!   notification (a listener reconnecting) delays events, never loses them.
//! - **Source of truth.** A stream reads the rows after the last position it delivered, up
//!   to the account's committed end (`events::latest_position`): positions are handed out in
//!   commit order (see `events`), so nothing is skipped and nothing is delivered twice.
//! - **The subscriber is re-checked** before every batch it is sent and on every timer tick:
//!   a deleted (or suspended) user's stream ends with `UNAUTHENTICATED`, one who lost
//!   `USERS_VIEW` ends with `FORBIDDEN`, and one whose reach narrowed sees only the new reach.
//!   A stream also ends when its token expires.
//! - **Limits**: streams per user and per process (`EventSettings`), refused with
//!   `LIMIT_EXCEEDED` when full.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::broadcast;

use super::dialect;
use super::events::{self, Wake};
use super::ids::UserId;
use super::{Db, Error, Result, principal};
use crate::auth::Principal;
use crate::entity::event;

/// Settings of the event channels.
#[derive(Clone, Debug)]
pub struct EventSettings {
    /// How long events are kept (`ROSTER_EVENT_RETENTION_DAYS`).
    pub retention_days: u32,
    /// Open subscriptions per user (`ROSTER_MAX_SUBSCRIPTIONS_PER_USER`).
    pub max_per_user: usize,
    /// Open subscriptions per server process (`ROSTER_MAX_SUBSCRIPTIONS_PER_INSTANCE`).
    pub max_per_instance: usize,
    /// How often a stream reads and re-checks its subscriber without a wake-up.
    pub poll: Duration,
}

impl Default for EventSettings {
    fn default() -> Self {
        EventSettings {
            retention_days: events::DEFAULT_RETENTION_DAYS,
            max_per_user: 5,
            max_per_instance: 1_000,
            poll: Duration::from_secs(3),
        }
    }
}

/// Events read per statement by a stream.
const BATCH: u64 = 500;

/// How long a stream keeps looking for a position a SQLite wake-up announced before its
/// transaction committed (it may have been rolled back).
const ANNOUNCED_WAIT: Duration = Duration::from_secs(2);

/// The per-process hub.
pub struct EventHub {
    db: Db,
    settings: EventSettings,
    wakes: broadcast::Sender<Wake>,
    listening: std::sync::Once,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    total: usize,
    per_user: HashMap<UserId, usize>,
}

impl EventHub {
    /// A hub reading `db`. Nothing runs until the first subscription.
    pub fn new(db: Db, settings: EventSettings) -> Arc<Self> {
        Arc::new(EventHub {
            db,
            settings,
            wakes: broadcast::channel(4_096).0,
            listening: std::sync::Once::new(),
            open: Mutex::new(Open::default()),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &EventSettings {
        &self.settings
    }

    /// Starts the process's listener once: `LISTEN` on PostgreSQL, the in-process broadcast
    /// on SQLite, forwarded to every stream of this hub.
    fn listen(self: &Arc<Self>) {
        self.listening.call_once(|| {
            let hub = Arc::downgrade(self);
            let sender = self.wakes.clone();
            if dialect::notifies_other_processes(self.db.backend()) {
                let pool = self.db.conn().get_postgres_connection_pool().clone();
                tokio::spawn(listen_postgres(hub, pool, sender, self.settings.poll));
            } else {
                tokio::spawn(listen_local(hub, sender));
            }
        });
    }

    /// Admits one more stream of `user_id`, or refuses with `LIMIT_EXCEEDED`.
    fn admit(self: &Arc<Self>, user_id: UserId) -> Result<Admission> {
        let mut open = self
            .open
            .lock()
            .map_err(|_| Error::Internal(anyhow::anyhow!("subscription counter poisoned")))?;
        if open.total >= self.settings.max_per_instance {
            return Err(Error::LimitExceeded(format!(
                "this server holds its maximum of {} subscriptions; try again later or another instance",
                self.settings.max_per_instance
            )));
        }
        let mine = open.per_user.entry(user_id).or_default();
        if *mine >= self.settings.max_per_user {
            return Err(Error::LimitExceeded(format!(
                "at most {} open subscriptions per user",
                self.settings.max_per_user
            )));
        }
        *mine += 1;
        open.total += 1;
        Ok(Admission {
            hub: Arc::downgrade(self),
            user_id,
        })
    }

    /// How many streams are open in this process.
    pub fn open_count(&self) -> usize {
        self.open.lock().map(|o| o.total).unwrap_or(0)
    }

    /// The stream of new events `actor` may see, of `types` when given, from now on.
    /// `token_expires_at` (seconds) ends it when the subscriber's token expires.
    pub async fn subscribe(
        self: &Arc<Self>,
        actor: &Principal,
        types: Option<Vec<String>>,
        token_expires_at: Option<u64>,
    ) -> Result<impl Stream<Item = Result<event::Model>> + Send + 'static + use<>> {
        if !events::may_read(actor) {
            return Err(Error::forbidden("your role may not read events"));
        }
        let admission = self.admit(actor.user_id)?;
        self.listen();
        let wakes = self.wakes.subscribe();
        let after = events::latest_position(self.db.conn(), actor.account_id).await?;
        let state = StreamState {
            db: self.db.clone(),
            poll: self.settings.poll,
            actor: actor.clone(),
            types,
            expires_at_ms: token_expires_at.map(|s| s.saturating_mul(1000) as i64),
            after,
            announced: after,
            announced_at: tokio::time::Instant::now(),
            buffer: VecDeque::new(),
            wakes,
            ended: false,
            _admission: admission,
        };
        Ok(futures_util::stream::unfold(state, |mut s| async move {
            let item = s.next().await?;
            Some((item, s))
        }))
    }
}

/// One admitted stream; dropping it frees its place.
struct Admission {
    hub: Weak<EventHub>,
    user_id: UserId,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let Some(hub) = self.hub.upgrade() else {
            return;
        };
        if let Ok(mut open) = hub.open.lock() {
            open.total = open.total.saturating_sub(1);
            if let Some(n) = open.per_user.get_mut(&self.user_id) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    open.per_user.remove(&self.user_id);
                }
            }
        }
    }
}

struct StreamState {
    db: Db,
    poll: Duration,
    actor: Principal,
    types: Option<Vec<String>>,
    expires_at_ms: Option<i64>,
    /// The last position read (delivered or filtered out).
    after: i64,
    /// The largest position a wake-up announced.
    announced: i64,
    /// When `announced` last grew.
    announced_at: tokio::time::Instant,
    buffer: VecDeque<event::Model>,
    wakes: broadcast::Receiver<Wake>,
    ended: bool,
    _admission: Admission,
}

impl StreamState {
    /// The next event, an error that ends the stream, or `None` once it has ended.
    async fn next(&mut self) -> Option<Result<event::Model>> {
        loop {
            if self.ended {
                return None;
            }
            if let Some(e) = self.buffer.pop_front() {
                return Some(Ok(e));
            }
            // Waiting for a position a SQLite writer announced before it committed: look
            // again soon instead of waiting for the next wake-up.
            let pending =
                self.announced > self.after && self.announced_at.elapsed() < ANNOUNCED_WAIT;
            let wait = if pending {
                Duration::from_millis(20)
            } else {
                self.poll
            };
            tokio::select! {
                wake = self.wakes.recv() => match wake {
                    Ok(w) if w.account_id == self.actor.account_id => {
                        if w.seq > self.announced {
                            self.announced = w.seq;
                            self.announced_at = tokio::time::Instant::now();
                        }
                    }
                    // Another account's events: nothing to read.
                    Ok(_) => continue,
                    // Missed wake-ups: read anyway (the table has everything).
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => {
                        self.ended = true;
                        return None;
                    }
                },
                _ = tokio::time::sleep(wait) => {}
            }
            if let Err(e) = self.fill().await {
                self.ended = true;
                return Some(Err(e));
            }
        }
    }

    /// Re-checks the subscriber, then reads what they may see up to the committed end.
    async fn fill(&mut self) -> Result<()> {
        if self.expires_at_ms.is_some_and(|exp| exp <= super::now_ms()) {
            return Err(Error::Unauthenticated);
        }
        let conn = self.db.conn();
        // The end first, then the subscriber: every event up to the end committed before
        // the subscriber is read, so the reach applied is never older than the events (a
        // user moved into a team sees the events of their move).
        let end = events::latest_position(conn, self.actor.account_id).await?;
        let now =
            principal::load_user(conn, self.actor.user_id, self.actor.token_issued_at).await?;
        if now.account_id != self.actor.account_id {
            return Err(Error::Unauthenticated);
        }
        if !events::may_read(&now) {
            return Err(Error::forbidden("your role may no longer read events"));
        }
        self.actor = now;
        if end <= self.after {
            return Ok(());
        }
        let rows = events::visible_after(
            conn,
            &self.actor,
            self.after,
            end,
            self.types.as_deref(),
            BATCH,
        )
        .await?;
        // A full batch may have more behind it: continue after its last row next time
        // (announced stays ahead, so that is soon). Otherwise everything up to `end` is read.
        self.after = if rows.len() as u64 == BATCH {
            rows.last().map(|e| e.seq).unwrap_or(end)
        } else {
            end
        };
        if self.after < end {
            self.announced = self.announced.max(end);
            self.announced_at = tokio::time::Instant::now();
        }
        let rows = hide_unseen_actors(conn, &self.actor, rows).await?;
        self.buffer.extend(rows);
        Ok(())
    }
}

/// Blanks the actor of events whose actor the subscriber may not see now (`access::sees_user`):
/// the connection's resolvers still hold the principal of `connection_init`, which may have
/// been wider.
async fn hide_unseen_actors(
    conn: &sea_orm::DatabaseConnection,
    actor: &Principal,
    mut rows: Vec<event::Model>,
) -> Result<Vec<event::Model>> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let mut ids: Vec<UserId> = rows.iter().filter_map(|e| e.actor_id).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(rows);
    }
    let seen: std::collections::HashSet<UserId> = crate::entity::user::Entity::find()
        .filter(crate::entity::user::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .filter(|u| super::access::sees_user(actor, u))
        .map(|u| u.id)
        .collect();
    for e in &mut rows {
        if e.actor_id.is_some_and(|id| !seen.contains(&id)) {
            e.actor_id = None;
        }
    }
    Ok(rows)
}

/// Forwards the in-process (SQLite) wake-ups to the hub's streams while the hub lives.
async fn listen_local(hub: Weak<EventHub>, sender: broadcast::Sender<Wake>) {
    let mut local = events::local_wakes();
    loop {
        let wake = tokio::time::timeout(Duration::from_secs(5), local.recv()).await;
        if hub.upgrade().is_none() {
            return;
        }
        match wake {
            Ok(Ok(w)) => {
                let _ = sender.send(w);
            }
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(broadcast::error::RecvError::Closed)) => return,
            Err(_) => {}
        }
    }
}

/// Listens for `NOTIFY roster_events` on a dedicated connection while the hub lives,
/// reconnecting after a failure (streams keep reading on their timers meanwhile).
async fn listen_postgres(
    hub: Weak<EventHub>,
    pool: sea_orm::sqlx::PgPool,
    sender: broadcast::Sender<Wake>,
    retry: Duration,
) {
    use sea_orm::sqlx::postgres::PgListener;
    'connect: loop {
        if hub.upgrade().is_none() {
            return;
        }
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "event listener cannot connect; retrying");
                tokio::time::sleep(retry).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(events::CHANNEL).await {
            tracing::warn!(error = %e, "event listener cannot LISTEN; retrying");
            tokio::time::sleep(retry).await;
            continue;
        }
        // `recv` reconnects and listens again by itself after a lost connection; the
        // streams' timers cover notifications sent meanwhile. (It is not cancelled by a
        // timeout, which could cut a message in half: the task notices a dropped hub at
        // the next notification.)
        loop {
            let next = listener.recv().await;
            if hub.upgrade().is_none() {
                return;
            }
            match next {
                Ok(n) => {
                    if let Some(w) = Wake::parse(n.payload()) {
                        let _ = sender.send(w);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "event listener failed; reconnecting");
                    tokio::time::sleep(retry).await;
                    continue 'connect;
                }
            }
        }
    }
}
