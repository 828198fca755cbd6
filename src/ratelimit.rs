//! In-memory token buckets that refuse callers who send too much: per user, per client IP,
//! and `acceptInvite` attempts per IP (so invite tokens cannot be guessed by brute force).
//!
//! The buckets live in this process: with several instances behind a load balancer, each
//! one allows the configured rate, so the effective limit is that rate times the number of
//! instances. Memory is bounded: idle buckets (refilled to full) are swept out, and past
//! `MAX_KEYS` the least recently seen ones are dropped.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most distinct keys one limiter remembers.
const MAX_KEYS: usize = 100_000;
/// How often idle buckets are swept out.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Requests per minute of each limit; `0` switches a limit off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    pub per_user: u32,
    pub per_ip: u32,
    pub accept_invite_per_ip: u32,
}

impl RateLimits {
    /// No limits at all: what a router built in code (tests, embedding) gets unless it asks.
    pub const OFF: RateLimits = RateLimits {
        per_user: 0,
        per_ip: 0,
        accept_invite_per_ip: 0,
    };
}

/// The production defaults, which `roster serve` also uses (see `config.rs`).
impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            per_user: 600,
            per_ip: 1200,
            accept_invite_per_ip: 10,
        }
    }
}

/// Requests per minute to `/scim/v2`; `0` switches a limit off. A directory provisions in
/// bursts (a first sync is a lookup and a create per user), so these are separate from the
/// GraphQL limits: per SCIM token (counted after the token is verified), and per client
/// address (counted before authentication, so guessing tokens costs the guesser).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScimRateLimits {
    pub per_token: u32,
    pub per_ip: u32,
}

impl ScimRateLimits {
    /// No limits (routers built in code, tests).
    pub const OFF: ScimRateLimits = ScimRateLimits {
        per_token: 0,
        per_ip: 0,
    };
}

/// The production defaults, which `roster serve` also uses (see `config.rs`): 300 requests
/// a second per token sustained (a first sync of 10,000 users at 150 users a second), and
/// twice that per address (one IdP's egress address serves many tenants).
impl Default for ScimRateLimits {
    fn default() -> Self {
        ScimRateLimits {
            per_token: 18_000,
            per_ip: 36_000,
        }
    }
}

/// What a caller has left of a limit, for `RateLimit-*` headers and `extensions.cost`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// The whole allowance per minute.
    pub limit: u32,
    /// What is left now.
    pub remaining: u32,
    /// Seconds until the allowance is whole again.
    pub reset_secs: u64,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

struct Buckets<K> {
    map: HashMap<K, Bucket>,
    last_sweep: Instant,
}

/// A token bucket per key: `per_minute` tokens at most, refilled continuously.
pub struct Limiter<K> {
    per_minute: u32,
    buckets: Mutex<Buckets<K>>,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    /// A limiter allowing `per_minute` requests per key (`0` = unlimited).
    pub fn new(per_minute: u32) -> Self {
        Limiter {
            per_minute,
            buckets: Mutex::new(Buckets {
                map: HashMap::new(),
                last_sweep: Instant::now(),
            }),
        }
    }

    /// Takes `n` tokens for `key`, or says after how many whole seconds they would be there.
    pub fn take(&self, key: &K, n: u32) -> Result<(), u64> {
        self.take_at(key, n, Instant::now()).map(|_| ())
    }

    /// Whether the limit is switched on.
    pub fn is_on(&self) -> bool {
        self.per_minute != 0
    }

    /// Takes `n` tokens for `key` like [`Limiter::take`], and reports what is left. `None`
    /// when the limit is off.
    pub fn take_reporting(&self, key: &K, n: u32) -> Result<Option<Budget>, u64> {
        let now = Instant::now();
        self.take_at(key, n, now)
            .map(|left| left.map(|tokens| self.budget(tokens)))
    }

    /// What is left for `key` without taking anything. `None` when the limit is off.
    pub fn peek(&self, key: &K) -> Option<Budget> {
        if self.per_minute == 0 {
            return None;
        }
        let capacity = f64::from(self.per_minute);
        let per_sec = capacity / 60.0;
        let guard = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let tokens = guard.map.get(key).map_or(capacity, |b| {
            (b.tokens
                + Instant::now()
                    .saturating_duration_since(b.last)
                    .as_secs_f64()
                    * per_sec)
                .min(capacity)
        });
        Some(self.budget(tokens))
    }

    /// Gives `n` tokens back to `key` (a charge another limit then refused).
    pub fn give_back(&self, key: &K, n: u32) {
        if self.per_minute == 0 {
            return;
        }
        let capacity = f64::from(self.per_minute);
        let mut guard = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bucket) = guard.map.get_mut(key) {
            bucket.tokens = (bucket.tokens + f64::from(n)).min(capacity);
        }
    }

    fn budget(&self, tokens: f64) -> Budget {
        let capacity = f64::from(self.per_minute);
        let per_sec = capacity / 60.0;
        Budget {
            limit: self.per_minute,
            remaining: tokens.max(0.0).floor() as u32,
            reset_secs: ((capacity - tokens).max(0.0) / per_sec).ceil() as u64,
        }
    }

    /// Takes `n` tokens; `Ok` carries the tokens left (`None`: the limit is off).
    fn take_at(&self, key: &K, n: u32, now: Instant) -> Result<Option<f64>, u64> {
        if self.per_minute == 0 {
            return Ok(None);
        }
        let capacity = f64::from(self.per_minute);
        let per_sec = capacity / 60.0;
        // A poisoned lock only means another request panicked mid-update; the counts are
        // still usable.
        let mut guard = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let state = &mut *guard;
        if now.saturating_duration_since(state.last_sweep) >= SWEEP_EVERY
            || state.map.len() >= MAX_KEYS
        {
            Self::sweep(&mut state.map, now, capacity, per_sec);
            state.last_sweep = now;
        }
        let bucket = state.map.entry(key.clone()).or_insert(Bucket {
            tokens: capacity,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_sec).min(capacity);
        bucket.last = now;
        let want = f64::from(n);
        if bucket.tokens >= want {
            bucket.tokens -= want;
            Ok(Some(bucket.tokens))
        } else if want > capacity {
            // More than a whole minute's worth at once never fits.
            Err(60)
        } else {
            Err((((want - bucket.tokens) / per_sec).ceil() as u64).max(1))
        }
    }

    /// Drops buckets that have refilled (a fresh one is identical), then, if that was not
    /// enough, the least recently seen half.
    fn sweep(map: &mut HashMap<K, Bucket>, now: Instant, capacity: f64, per_sec: f64) {
        map.retain(|_, b| {
            b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * per_sec < capacity
        });
        if map.len() >= MAX_KEYS {
            let mut seen: Vec<Instant> = map.values().map(|b| b.last).collect();
            seen.sort_unstable();
            let cutoff = seen[seen.len() / 2];
            map.retain(|_, b| b.last > cutoff);
        }
    }

    /// How many keys are remembered (for tests).
    pub fn len(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map
            .len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How many `acceptInvite` attempts a request body makes: every mention counts, so aliases
/// and batches cannot multiply the guesses one allowance buys.
pub fn accept_invite_attempts<'a>(queries: impl IntoIterator<Item = &'a str>) -> u32 {
    queries
        .into_iter()
        .map(|q| q.matches("acceptInvite").count() as u32)
        .fold(0u32, u32::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refuses_past_its_capacity_and_refills() {
        let limiter = Limiter::new(60);
        let t0 = Instant::now();
        for _ in 0..60 {
            assert!(limiter.take_at(&"a", 1, t0).is_ok());
        }
        assert_eq!(limiter.take_at(&"a", 1, t0), Err(1));
        // Another key has its own bucket.
        assert_eq!(limiter.take_at(&"b", 1, t0), Ok(Some(59.0)));
        // One token per second comes back.
        assert!(
            limiter
                .take_at(&"a", 1, t0 + Duration::from_secs(1))
                .is_ok()
        );
        assert_eq!(limiter.take_at(&"a", 61, t0), Err(60));
    }

    #[test]
    fn budgets_report_what_is_left_and_take_refunds() {
        let limiter = Limiter::new(600);
        assert_eq!(
            limiter.take_reporting(&"a", 100),
            Ok(Some(Budget {
                limit: 600,
                remaining: 500,
                reset_secs: 10
            }))
        );
        limiter.give_back(&"a", 100);
        assert_eq!(limiter.peek(&"a").map(|b| b.remaining), Some(600));
        assert_eq!(Limiter::<u8>::new(0).take_reporting(&1, 5), Ok(None));
    }

    #[test]
    fn zero_disables_the_limit() {
        let limiter = Limiter::new(0);
        for _ in 0..10_000 {
            assert_eq!(limiter.take(&1u8, 1), Ok(()));
        }
        assert!(limiter.is_empty());
    }

    #[test]
    fn idle_buckets_are_swept() {
        let limiter = Limiter::new(60);
        let t0 = Instant::now();
        for i in 0..100 {
            assert!(limiter.take_at(&i, 1, t0).is_ok());
        }
        assert_eq!(limiter.len(), 100);
        let later = t0 + SWEEP_EVERY + Duration::from_secs(1);
        assert!(limiter.take_at(&1000, 1, later).is_ok());
        assert_eq!(limiter.len(), 1);
    }

    #[test]
    fn every_accept_invite_mention_counts() {
        assert_eq!(accept_invite_attempts(["{ viewer { id } }"]), 0);
        assert_eq!(
            accept_invite_attempts([
                "mutation { a: acceptInvite(input: {}) { token } b: acceptInvite(input: {}) { token } }",
                "mutation { acceptInvite(input: {}) { token } }",
            ]),
            3
        );
    }
}
