//! Cost budgets: what a request may buy, and how much per minute a caller may spend.
//!
//! A request's cost is the sum of its operations' complexity (a connection costs its page
//! size times its items' cost; see `graphql::page_cost`), batches included. It is checked
//! against the per-request maximum and charged to two leaky buckets — the signed-in user's
//! and the client address's — after validation and before any SQL runs. A request that does
//! not fit answers `RATE_LIMITED` with the seconds until it would; every response reports
//! its cost and what is left (`extensions.cost`, `RateLimit-*` headers).
//!
//! The request-count limits (`ratelimit`) still apply beside these: they stop floods of
//! cheap requests, the budgets stop a few expensive ones. See `docs/ARCHITECTURE.md`.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use async_graphql::{ErrorExtensionValues, ServerError, Value};

use crate::graphql::error::code;
use crate::graphql::limits::CostGate;
use crate::ratelimit::{Budget, Limiter};

/// Cost points per minute of each budget; `0` switches a budget off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CostBudgets {
    pub per_user: u32,
    pub per_ip: u32,
}

impl CostBudgets {
    /// No budgets: what a router built in code (tests, embedding) gets unless it asks.
    pub const OFF: CostBudgets = CostBudgets {
        per_user: 0,
        per_ip: 0,
    };
}

/// The production defaults, which `roster serve` also uses (see `config.rs`). A users page
/// of 50 with role and team costs about 400 points, `viewer` under 10, the most expensive
/// request allowed 10,000: a user can spend a page every quarter second for a minute, or ten
/// maximal requests, and cheap requests stay bounded by the request-count limit long before
/// the budget.
impl Default for CostBudgets {
    fn default() -> Self {
        CostBudgets {
            per_user: 100_000,
            per_ip: 200_000,
        }
    }
}

/// The buckets of this process, shared by every request.
pub struct Budgets {
    per_user: Limiter<String>,
    per_ip: Limiter<IpAddr>,
    /// The most one request (all its operations together) may cost.
    pub max_per_request: usize,
}

impl Budgets {
    pub fn new(budgets: CostBudgets, max_per_request: usize) -> Self {
        Budgets {
            per_user: Limiter::new(budgets.per_user),
            per_ip: Limiter::new(budgets.per_ip),
            max_per_request,
        }
    }
}

/// How a [`Meter`] treats the operations it is asked about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Only learn each operation's cost; refuse to run it (a batch's first pass).
    Preflight,
    /// Charge each operation as it comes (a single operation).
    Charge,
    /// The whole request was charged already (a batch's second pass).
    Prepaid,
}

/// The error a preflight pass answers with; never shown to a client.
const PREFLIGHT: &str = "ROSTER_PREFLIGHT";

/// Whom a request is charged to, and what it has cost so far.
pub struct Meter {
    budgets: Arc<Budgets>,
    user: Option<String>,
    ip: Option<IpAddr>,
    mode: Mode,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Each operation's cost, in the order they were admitted.
    costs: Vec<usize>,
    /// What the tighter budget has left after the last charge.
    left: Option<Budget>,
}

/// A refusal by a budget: which one, and in how many seconds the cost would fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverBudget {
    pub which: &'static str,
    pub retry_after: u64,
}

impl Meter {
    pub fn new(
        budgets: Arc<Budgets>,
        user: Option<String>,
        ip: Option<IpAddr>,
        mode: Mode,
    ) -> Self {
        Meter {
            budgets,
            user,
            ip,
            mode,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Charges `cost` to the user's and the address's budgets, both or neither.
    pub fn charge(&self, cost: usize) -> Result<(), OverBudget> {
        let n = u32::try_from(cost).unwrap_or(u32::MAX);
        let mut tightest: Option<Budget> = None;
        let mut keep = |b: Option<Budget>| {
            if let Some(b) = b
                && tightest.is_none_or(|t| b.remaining < t.remaining)
            {
                tightest = Some(b);
            }
        };
        if let Some(user) = &self.user {
            match self.budgets.per_user.take_reporting(user, n) {
                Ok(b) => keep(b),
                Err(retry_after) => {
                    return Err(OverBudget {
                        which: "per user",
                        retry_after,
                    });
                }
            }
        }
        if let Some(ip) = &self.ip {
            match self.budgets.per_ip.take_reporting(ip, n) {
                Ok(b) => keep(b),
                Err(retry_after) => {
                    if let Some(user) = &self.user {
                        self.budgets.per_user.give_back(user, n);
                    }
                    return Err(OverBudget {
                        which: "per client address",
                        retry_after,
                    });
                }
            }
        }
        self.state().left = tightest;
        Ok(())
    }

    /// Records the cost of every operation of a request charged as a whole.
    pub fn record(&self, cost: usize) {
        self.state().costs.push(cost);
    }

    /// The operations' costs seen so far.
    pub fn costs(&self) -> Vec<usize> {
        self.state().costs.clone()
    }

    /// What the tighter budget has left: after the last charge, or now.
    pub fn left(&self) -> Option<Budget> {
        if let Some(b) = self.state().left {
            return Some(b);
        }
        let user = self
            .user
            .as_ref()
            .and_then(|u| self.budgets.per_user.peek(u));
        let ip = self.ip.as_ref().and_then(|ip| self.budgets.per_ip.peek(ip));
        match (user, ip) {
            (Some(u), Some(i)) => Some(if u.remaining <= i.remaining { u } else { i }),
            (u, i) => u.or(i),
        }
    }

    /// `extensions.cost` of a response whose operation cost `requested`.
    pub fn report(&self, requested: usize) -> Value {
        let budget = match self.left() {
            Some(b) => serde_json::json!({
                "limit": b.limit,
                "remaining": b.remaining,
                "resetSeconds": b.reset_secs,
            }),
            None => serde_json::Value::Null,
        };
        let json = serde_json::json!({
            "requested": requested,
            "maximum": self.budgets.max_per_request,
            "budget": budget,
        });
        Value::from_json(json).unwrap_or(Value::Null)
    }
}

/// The `RATE_LIMITED` error of an operation that does not fit its budget.
pub fn over_budget_error(over: OverBudget) -> ServerError {
    let mut err = ServerError::new(
        format!(
            "this request's cost exceeds the remaining budget ({}); retry in {} s",
            over.which, over.retry_after
        ),
        None,
    );
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", code::RATE_LIMITED);
    ext.set("retryAfter", over.retry_after);
    err.extensions = Some(ext);
    err
}

impl CostGate for Meter {
    fn admit(&self, cost: usize) -> Result<(), ServerError> {
        match self.mode {
            Mode::Preflight => {
                self.record(cost);
                Err(ServerError::new(PREFLIGHT, None))
            }
            Mode::Prepaid => {
                self.record(cost);
                Ok(())
            }
            Mode::Charge => {
                self.charge(cost).map_err(over_budget_error)?;
                self.record(cost);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_charge_takes_from_both_budgets_or_neither() {
        let budgets = Arc::new(Budgets::new(
            CostBudgets {
                per_user: 1_000,
                per_ip: 500,
            },
            10_000,
        ));
        let ip: IpAddr = [127, 0, 0, 1].into();
        let meter = Meter::new(budgets.clone(), Some("u".into()), Some(ip), Mode::Charge);
        assert_eq!(meter.charge(400), Ok(()));
        assert_eq!(meter.left().map(|b| b.remaining), Some(100));
        let refused = meter.charge(400).unwrap_err();
        assert_eq!(refused.which, "per client address");
        // The user's budget got its 400 back: 600 left, not 200.
        let other = Meter::new(budgets, Some("u".into()), None, Mode::Charge);
        assert_eq!(other.left().map(|b| b.remaining), Some(600));
    }
}
