//! Prometheus metrics (text exposition format 0.0.4), written by hand: request counters by
//! operation and outcome, a request duration histogram, the database pool size and the
//! outbox backlog (counted on scrape).
//!
//! Label cardinality is bounded: operation names are client-chosen, so a name becomes a
//! label only once an operation of that name succeeded for a signed-in caller, and past
//! `MAX_OPERATIONS` distinct names every new one is counted as `other`.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use sea_orm::{EntityTrait, QuerySelect};

use crate::entity::outbox;
use crate::service::Db;

/// Most distinct operation names kept as labels.
pub const MAX_OPERATIONS: usize = 100;
/// Labels Roster itself uses, always kept.
const FIXED: [&str; 3] = ["anonymous", "rate_limited", "other"];
/// Upper bounds of the duration histogram, in seconds (5 ms … 10 s).
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Inner {
    operations: HashSet<String>,
    requests: BTreeMap<(String, String), u64>,
    /// Counts per bucket (not cumulative; summed on render), then the sum of seconds.
    buckets: [u64; BUCKETS.len()],
    over: u64,
    sum: f64,
    count: u64,
}

/// The process's request metrics.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// A label value made safe for the exposition format.
fn label(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect()
}

impl Metrics {
    /// Records one GraphQL operation: its name (or `anonymous`), its outcome (`ok` or the
    /// first error's code) and how long it took.
    ///
    /// A name becomes a label of its own only once an operation of that name succeeded
    /// (`ok`): junk names, which fail, cannot use up the label slots.
    pub fn record(&self, operation: &str, outcome: &str, duration: Duration) {
        self.record_as(operation, outcome, duration, outcome == "ok")
    }

    /// [`Metrics::record`], saying whether a name not seen before may become a label
    /// (the HTTP layer allows it for successful operations of signed-in callers).
    pub fn record_as(&self, operation: &str, outcome: &str, duration: Duration, may_add: bool) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let operation = label(operation);
        let operation =
            if inner.operations.contains(&operation) || FIXED.contains(&operation.as_str()) {
                operation
            } else if may_add && inner.operations.len() < MAX_OPERATIONS {
                inner.operations.insert(operation.clone());
                operation
            } else {
                "other".to_owned()
            };
        *inner
            .requests
            .entry((operation, label(outcome)))
            .or_default() += 1;
        let secs = duration.as_secs_f64();
        match BUCKETS.iter().position(|b| secs <= *b) {
            Some(i) => inner.buckets[i] += 1,
            None => inner.over += 1,
        }
        inner.sum += secs;
        inner.count += 1;
    }

    /// The exposition text; counts the outbox and reads the pool size on the way.
    pub async fn render(&self, db: &Db) -> String {
        let mut out = String::new();
        {
            let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            out.push_str("# HELP roster_requests_total GraphQL operations by operation name and outcome (ok or the first error's code).\n");
            out.push_str("# TYPE roster_requests_total counter\n");
            for ((operation, outcome), n) in &inner.requests {
                let _ = writeln!(
                    out,
                    "roster_requests_total{{operation=\"{operation}\",outcome=\"{outcome}\"}} {n}"
                );
            }
            out.push_str(
                "# HELP roster_request_duration_seconds Time to answer a GraphQL operation.\n",
            );
            out.push_str("# TYPE roster_request_duration_seconds histogram\n");
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(inner.buckets.iter()) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "roster_request_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "roster_request_duration_seconds_bucket{{le=\"+Inf\"}} {}",
                cumulative + inner.over
            );
            let _ = writeln!(out, "roster_request_duration_seconds_sum {}", inner.sum);
            let _ = writeln!(out, "roster_request_duration_seconds_count {}", inner.count);
        }
        let (size, idle) = pool_size(db);
        out.push_str("# HELP roster_db_pool_connections Database connections open in this instance's pool, by state.\n");
        out.push_str("# TYPE roster_db_pool_connections gauge\n");
        let _ = writeln!(
            out,
            "roster_db_pool_connections{{state=\"idle\"}} {idle}\nroster_db_pool_connections{{state=\"in_use\"}} {}",
            size.saturating_sub(idle)
        );
        match outbox_counts(db).await {
            Ok((pending, failed)) => {
                out.push_str(
                    "# HELP roster_outbox_pending Emails waiting to be sent (or retried).\n",
                );
                out.push_str("# TYPE roster_outbox_pending gauge\n");
                let _ = writeln!(out, "roster_outbox_pending {pending}");
                out.push_str("# HELP roster_outbox_failed_total Emails given up on.\n");
                out.push_str("# TYPE roster_outbox_failed_total gauge\n");
                let _ = writeln!(out, "roster_outbox_failed_total {failed}");
            }
            Err(e) => {
                // A scrape must still answer while the database is down; the gauges are
                // missing then, which alerting sees as absent data.
                tracing::warn!(error = %e, "metrics: cannot count the outbox");
            }
        }
        out
    }
}

/// Open and idle connections of the pool (cheap: read from the pool's counters).
fn pool_size(db: &Db) -> (usize, usize) {
    crate::service::dialect::pool_size(db.conn())
}

/// Pending and failed emails, in one grouped COUNT.
async fn outbox_counts(db: &Db) -> Result<(i64, i64), sea_orm::DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    let rows: Vec<(outbox::Status, i64)> = outbox::Entity::find()
        .select_only()
        .column(outbox::Column::Status)
        .column_as(Expr::col(outbox::Column::Id).count(), "n")
        .group_by(outbox::Column::Status)
        .into_tuple()
        .all(db.conn())
        .await?;
    let count = |s: outbox::Status| {
        rows.iter()
            .find(|(status, _)| *status == s)
            .map_or(0, |(_, n)| *n)
    };
    Ok((
        count(outbox::Status::Pending),
        count(outbox::Status::Failed),
    ))
}

/// The operation a request names: `operationName`, else the name of the document's first
/// operation (`query Name …`), else `anonymous`. A cheap scan, not a parse: it runs before
/// the document is parsed, and a wrong guess only mislabels a metric.
pub fn operation_name(operation_name: Option<&str>, query: &str) -> String {
    if let Some(name) = operation_name.filter(|n| !n.is_empty()) {
        return label(name);
    }
    let mut rest = query;
    // Skip whitespace, commas and comments.
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',' || c == '\u{feff}');
        if rest.starts_with('#') {
            rest = rest.find('\n').map_or("", |i| &rest[i..]);
        } else {
            break;
        }
    }
    for keyword in ["query", "mutation", "subscription"] {
        if let Some(after) = rest.strip_prefix(keyword) {
            let after = after.trim_start();
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && !after.starts_with(|c: char| c.is_ascii_digit()) {
                return label(&name);
            }
        }
    }
    "anonymous".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_come_from_the_request_or_the_document() {
        assert_eq!(
            operation_name(Some("Explicit"), "query Other { a }"),
            "Explicit"
        );
        assert_eq!(
            operation_name(None, "  # hi\n query Viewer($a: Int) { a }"),
            "Viewer"
        );
        assert_eq!(operation_name(None, "mutation Accept{ a }"), "Accept");
        assert_eq!(operation_name(None, "{ viewer { id } }"), "anonymous");
        assert_eq!(operation_name(None, "query { a }"), "anonymous");
        assert_eq!(operation_name(Some("a\"b"), ""), "a_b");
    }

    #[test]
    fn operation_labels_are_capped() {
        let m = Metrics::default();
        for i in 0..MAX_OPERATIONS + 5 {
            m.record(&format!("Op{i}"), "ok", Duration::from_millis(1));
        }
        let inner = m.inner.lock().unwrap();
        assert_eq!(inner.operations.len(), MAX_OPERATIONS);
        assert_eq!(
            inner.requests.get(&("other".to_owned(), "ok".to_owned())),
            Some(&5)
        );
        assert_eq!(inner.count, MAX_OPERATIONS as u64 + 5);
    }

    #[test]
    fn failing_names_do_not_take_label_slots() {
        let m = Metrics::default();
        for i in 0..MAX_OPERATIONS {
            m.record(
                &format!("Junk{i}"),
                "GRAPHQL_VALIDATION_FAILED",
                Duration::ZERO,
            );
        }
        m.record("Viewer", "ok", Duration::ZERO);
        m.record_as("Stranger", "ok", Duration::ZERO, false);
        let inner = m.inner.lock().unwrap();
        assert_eq!(inner.operations.iter().collect::<Vec<_>>(), vec!["Viewer"]);
        assert!(
            inner
                .requests
                .contains_key(&("Viewer".to_owned(), "ok".to_owned()))
        );
        assert!(
            inner
                .requests
                .contains_key(&("other".to_owned(), "ok".to_owned()))
        );
    }
}
