//! Keyset pagination for every list: Relay-style `first/after` and `last/before` over a sort
//! key with the row id as tie-breaker, so pages stay stable while rows are added and every
//! page is an index range scan, however deep.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use sea_orm::sea_query::{
    Alias, Asterisk, Condition, Expr, ExprTrait, Query, SelectStatement, UnionType,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Select, Value,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ids::{AccountId, TeamId};
use super::{Error, Result};

/// Default page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE: u64 = 20;
/// Largest page a client may ask for.
pub const MAX_PAGE: u64 = 100;

/// What the client asked for.
#[derive(Clone, Debug, Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

impl PageArgs {
    /// The first `n` rows.
    pub fn first(n: i32) -> Self {
        PageArgs {
            first: Some(n),
            ..Default::default()
        }
    }

    /// Checks the arguments: at most one of `first`/`last`, neither negative nor above the limit.
    pub fn validate(&self) -> Result<()> {
        if self.first.is_some() && self.last.is_some() {
            return Err(Error::bad_input(
                "first",
                "pass either `first` or `last`, not both",
            ));
        }
        for (field, n) in [("first", self.first), ("last", self.last)] {
            match n {
                Some(n) if n < 0 => {
                    return Err(Error::bad_input(
                        field,
                        format!("`{field}` must not be negative"),
                    ));
                }
                Some(n) if n as u64 > MAX_PAGE => {
                    return Err(Error::LimitExceeded(format!(
                        "`{field}` must be at most {MAX_PAGE}"
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// A sort key value, as stored in a cursor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SortValue {
    Int(i64),
    Text(String),
}

impl From<SortValue> for Value {
    fn from(v: SortValue) -> Value {
        match v {
            SortValue::Int(i) => i.into(),
            SortValue::Text(s) => s.into(),
        }
    }
}

/// How a list is ordered: a key column (for example `name_key`), then the id.
pub struct Sort<C> {
    /// A short name of the ordering, stored in cursors so a cursor of one ordering is not
    /// silently applied to another.
    pub tag: &'static str,
    pub key: C,
    pub id: C,
    pub ascending: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cursor<'a> {
    o: Cow<'a, str>,
    k: Cow<'a, SortValue>,
    i: Uuid,
}

/// Longest text sort key a cursor may carry (names and emails are far shorter).
const MAX_CURSOR_KEY: usize = 1_024;

impl<C: ColumnTrait> Sort<C> {
    /// What a cursor of this list and ordering says it belongs to: the table, the ordering's
    /// tag and its direction, so a cursor of another list, another ordering or the other
    /// direction is refused instead of silently applied.
    fn cursor_tag(&self) -> String {
        format!(
            "{}.{}.{}",
            self.key.entity_name(),
            self.tag,
            if self.ascending { "asc" } else { "desc" }
        )
    }

    /// Whether `key` has the type of this ordering's key column.
    fn fits(&self, key: &SortValue) -> bool {
        use sea_orm::sea_query::ColumnType as T;
        let integer = matches!(
            self.key.def().get_column_type(),
            T::BigInteger | T::Integer | T::SmallInteger | T::TinyInteger | T::BigUnsigned
        );
        match key {
            SortValue::Int(_) => integer,
            SortValue::Text(s) => !integer && s.len() <= MAX_CURSOR_KEY && !s.contains('\0'),
        }
    }
}

fn encode_cursor(tag: &str, key: &SortValue, id: Uuid) -> String {
    // Serializing this plain struct cannot fail.
    let json = serde_json::to_vec(&Cursor {
        o: Cow::Borrowed(tag),
        k: Cow::Borrowed(key),
        i: id,
    })
    .unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// A row's cursor, encoded only when a client asks for it (`edges.cursor`, `pageInfo`'s
/// start and end): a page of 50 whose selection names neither builds none, or two.
#[derive(Clone, Debug)]
pub struct EdgeCursor {
    tag: Arc<str>,
    key: SortValue,
    id: Uuid,
}

impl EdgeCursor {
    /// The opaque cursor a client passes back as `after` or `before`.
    pub fn encode(&self) -> String {
        encode_cursor(&self.tag, &self.key, self.id)
    }
}

/// Reads a cursor of `sort`'s list and ordering. Anything else — not base64, not the
/// cursor's JSON, another list's or ordering's, a key of the wrong type — is
/// `BAD_USER_INPUT`, so nothing a client forges reaches the database as a value of the
/// wrong type.
fn decode_cursor<C: ColumnTrait>(
    field: &'static str,
    sort: &Sort<C>,
    raw: &str,
) -> Result<(SortValue, Uuid)> {
    let invalid = || {
        Error::bad_input(
            field,
            format!("`{field}` is not a valid cursor for this list"),
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if cursor.o != sort.cursor_tag() || !sort.fits(&cursor.k) {
        return Err(invalid());
    }
    Ok((cursor.k.into_owned(), cursor.i))
}

/// One page of rows with their cursors.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub edges: Vec<(EdgeCursor, T)>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

impl<T> Page<T> {
    /// Maps the rows, keeping cursors and flags.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        let mut f = f;
        Page {
            edges: self.edges.into_iter().map(|(c, t)| (c, f(t))).collect(),
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
        }
    }
}

/// The rows after (`forward`) or before a cursor position in the sort order.
fn beyond<C: ColumnTrait>(sort: &Sort<C>, key: SortValue, id: Uuid, forward: bool) -> Condition {
    let greater = forward == sort.ascending;
    let key_value: Value = key.into();
    // Qualified with the table: a page may join other tables that have the same columns.
    let (k, i) = (
        Expr::col(sort.key.as_column_ref()),
        Expr::col(sort.id.as_column_ref()),
    );
    let (strict_key, strict_id) = if greater {
        (k.clone().gt(key_value.clone()), i.gt(id))
    } else {
        (k.clone().lt(key_value.clone()), i.lt(id))
    };
    Condition::any()
        .add(strict_key)
        .add(Condition::all().add(k.eq(key_value)).add(strict_id))
}

/// A page request turned into SQL terms: the cursor conditions, the order and the limit.
struct Plan {
    /// Rows after/before the given cursors.
    condition: Condition,
    order: Order,
    /// The page size; one more row is read to learn whether more follow.
    limit: u64,
    /// `last`/`before`: rows are read in reverse order and turned around.
    backward: bool,
}

impl Plan {
    fn new<C: ColumnTrait>(sort: &Sort<C>, args: &PageArgs) -> Result<Plan> {
        args.validate()?;
        let mut condition = Condition::all();
        if let Some(after) = &args.after {
            let (k, i) = decode_cursor("after", sort, after)?;
            condition = condition.add(beyond(sort, k, i, true));
        }
        if let Some(before) = &args.before {
            let (k, i) = decode_cursor("before", sort, before)?;
            condition = condition.add(beyond(sort, k, i, false));
        }
        let backward = args.last.is_some();
        let limit = args
            .last
            .or(args.first)
            .map(|n| n as u64)
            .unwrap_or(DEFAULT_PAGE);
        let order = if sort.ascending != backward {
            Order::Asc
        } else {
            Order::Desc
        };
        Ok(Plan {
            condition,
            order,
            limit,
            backward,
        })
    }

    /// `select` restricted to this page, one extra row included.
    fn apply<E: EntityTrait>(&self, select: Select<E>, sort: &Sort<E::Column>) -> Select<E> {
        select
            .filter(self.condition.clone())
            .order_by(sort.key, self.order.clone())
            .order_by(sort.id, self.order.clone())
            .limit(self.limit + 1)
    }

    /// The page made of the rows `apply` read.
    fn page<M, I: Into<Uuid>>(
        &self,
        mut rows: Vec<M>,
        sort_tag: &str,
        args: &PageArgs,
        key_of: impl Fn(&M) -> (SortValue, I),
    ) -> Page<M> {
        let more = rows.len() as u64 > self.limit;
        rows.truncate(self.limit as usize);
        if self.backward {
            rows.reverse();
        }
        let tag: Arc<str> = Arc::from(sort_tag);
        let edges = rows
            .into_iter()
            .map(|row| {
                let (key, id) = key_of(&row);
                let cursor = EdgeCursor {
                    tag: tag.clone(),
                    key,
                    id: id.into(),
                };
                (cursor, row)
            })
            .collect();
        // Flags follow the Relay spec: the far side of the cursor the client came from is
        // reported as existing when a cursor was given, without another query.
        Page {
            edges,
            has_next_page: if self.backward {
                args.before.is_some()
            } else {
                more
            },
            has_previous_page: if self.backward {
                more
            } else {
                args.after.is_some()
            },
        }
    }
}

/// The position the `after` cursor of `args` names in a list ordered by `sort` (checked as
/// `fetch` checks it), for lists with rules about how old a cursor may be.
pub fn after_position<C: ColumnTrait>(
    sort: &Sort<C>,
    args: &PageArgs,
) -> Result<Option<(SortValue, Uuid)>> {
    args.after
        .as_deref()
        .map(|raw| decode_cursor("after", sort, raw))
        .transpose()
}

/// Checks `args` (sizes and cursors) for a list ordered by `sort`, without running anything.
pub fn check<C: ColumnTrait>(sort: &Sort<C>, args: &PageArgs) -> Result<()> {
    Plan::new(sort, args).map(|_| ())
}

/// Runs `select` as one page. `key_of` reads a row's sort key and id (for its cursor; a
/// cursor holds the id's UUID, whatever the table).
pub async fn fetch<E, C, I>(
    db: &C,
    select: Select<E>,
    sort: &Sort<E::Column>,
    args: &PageArgs,
    key_of: impl Fn(&E::Model) -> (SortValue, I),
) -> Result<Page<E::Model>>
where
    E: EntityTrait,
    C: ConnectionTrait,
    I: Into<Uuid>,
{
    let plan = Plan::new(sort, args)?;
    let statement = super::dialect::with_constant_limit(
        db.get_database_backend()
            .build(&plan.apply(select, sort).into_query()),
    );
    let rows = E::find().from_raw_sql(statement).all(db).await?;
    Ok(plan.page(rows, &sort.cursor_tag(), args, key_of))
}

/// Runs `select` as one page like `fetch`, reading the rows with `run` — for example with
/// related rows joined in, a row then being more than `E::Model`.
pub async fn fetch_with<E, R, F, I>(
    select: Select<E>,
    sort: &Sort<E::Column>,
    args: &PageArgs,
    key_of: impl Fn(&R) -> (SortValue, I),
    run: impl FnOnce(Select<E>) -> F,
) -> Result<Page<R>>
where
    E: EntityTrait,
    I: Into<Uuid>,
    F: std::future::Future<Output = std::result::Result<Vec<R>, sea_orm::DbErr>>,
{
    let plan = Plan::new(sort, args)?;
    let rows = run(plan.apply(select, sort)).await?;
    Ok(plan.page(rows, &sort.cursor_tag(), args, key_of))
}

/// The same page of `select` for each value of `part` (for example the first 20 members of
/// each of 50 teams), in one statement: a `UNION ALL` of one bounded index range per value,
/// so nested connections cost one query whatever their number.
///
/// `parts` names the column, its values and how to read a row's value.
pub async fn fetch_each<E, C, P, I>(
    db: &C,
    select: Select<E>,
    parts: (E::Column, &[P], impl Fn(&E::Model) -> P),
    sort: &Sort<E::Column>,
    args: &PageArgs,
    key_of: impl Fn(&E::Model) -> (SortValue, I) + Copy,
) -> Result<HashMap<P, Page<E::Model>>>
where
    E: EntityTrait,
    C: ConnectionTrait,
    P: Copy + Eq + std::hash::Hash + Into<sea_orm::Value>,
    I: Into<Uuid>,
{
    let (part, values, part_of) = parts;
    let plan = Plan::new(sort, args)?;
    let mut union: Option<SelectStatement> = None;
    for (i, value) in values.iter().enumerate() {
        let one = plan
            .apply(select.clone().filter(part.eq(*value)), sort)
            .into_query();
        // Each part is wrapped so its ORDER BY and LIMIT stay its own in the union.
        let wrapped = Query::select()
            .column(Asterisk)
            .from_subquery(one, Alias::new(format!("part{i}")))
            .to_owned();
        union = Some(match union {
            None => wrapped,
            Some(mut all) => {
                all.union(UnionType::All, wrapped);
                all
            }
        });
    }
    let mut rows_by_part: HashMap<P, Vec<E::Model>> = HashMap::new();
    if let Some(union) = union {
        let statement = db.get_database_backend().build(&union);
        for row in E::find().from_raw_sql(statement).all(db).await? {
            rows_by_part.entry(part_of(&row)).or_default().push(row);
        }
    }
    Ok(values
        .iter()
        .map(|value| {
            let rows = rows_by_part.remove(value).unwrap_or_default();
            (*value, plan.page(rows, &sort.cursor_tag(), args, key_of))
        })
        .collect())
}

/// A page plus what it takes to count the whole filtered list, which is only run when the
/// client asks for `totalCount`.
pub struct Listing<E: EntityTrait> {
    pub page: Page<E::Model>,
    count: Count<E>,
}

/// How a list's `totalCount` is answered.
enum Count<E: EntityTrait> {
    /// Counting the matching rows.
    Rows(Select<E>),
    /// One row, one integer column `n`, read from counts kept elsewhere (for example
    /// `user_counts`), so an unfiltered list of a large account costs no scan.
    Kept(SelectStatement),
    /// Counting the matching rows of one account once per count version of the account
    /// (`service::counts`): asked again with nothing changed, it is not recounted.
    Versioned {
        rows: Select<E>,
        account_id: AccountId,
    },
    /// All active members of one team (`Team.memberCount`), which callers may batch.
    TeamMembers(TeamId),
    /// Known without a query.
    Exactly(u64),
}

impl<E: EntityTrait> Listing<E>
where
    E::Model: Sync,
{
    /// Runs `select` as one page and keeps it for counting.
    pub async fn fetch<C: ConnectionTrait, I: Into<Uuid>>(
        db: &C,
        select: Select<E>,
        sort: &Sort<E::Column>,
        args: &PageArgs,
        key_of: impl Fn(&E::Model) -> (SortValue, I),
    ) -> Result<Self> {
        let page = fetch(db, select.clone(), sort, args, key_of).await?;
        Ok(Listing {
            page,
            count: Count::Rows(select),
        })
    }

    /// A page read from `select` (`fetch_with`), counted as `fetch` counts it.
    pub fn of_select(page: Page<E::Model>, select: Select<E>) -> Self {
        Listing {
            page,
            count: Count::Rows(select),
        }
    }

    /// A page of a team's members whose total is the team's member count.
    pub fn of_team_members(page: Page<E::Model>, team_id: TeamId) -> Self {
        Listing {
            page,
            count: Count::TeamMembers(team_id),
        }
    }

    /// A page whose total is known.
    pub fn with_total(page: Page<E::Model>, total: u64) -> Self {
        Listing {
            page,
            count: Count::Exactly(total),
        }
    }

    /// The team whose member count is this list's total, when it is one: the GraphQL layer
    /// answers it through a batching loader instead of one query per team.
    pub fn team_members(&self) -> Option<TeamId> {
        match self.count {
            Count::TeamMembers(team) => Some(team),
            _ => None,
        }
    }

    /// Answers `totalCount` with `query` instead of counting rows: it must select exactly
    /// one integer column named `n` and count what the page's filters match.
    pub fn counted_by(self, query: SelectStatement) -> Self {
        Listing {
            page: self.page,
            count: Count::Kept(query),
        }
    }

    /// Answers `totalCount` by counting the rows of `account_id` that the page's filters
    /// match, cached per count version of the account (`service::counts`).
    pub fn counted_per_version(self, account_id: AccountId) -> Self {
        let count = match self.count {
            Count::Rows(rows) => Count::Versioned { rows, account_id },
            other => other,
        };
        Listing {
            page: self.page,
            count,
        }
    }

    /// How many rows match the filters, across all pages, through the database's count cache
    /// where the listing allows it.
    pub async fn total_count_cached(&self, db: &super::Db) -> Result<u64> {
        match &self.count {
            Count::Versioned { rows, account_id } => {
                super::counts::count(db.conn(), db.counts(), *account_id, rows).await
            }
            _ => self.total_count(db.conn()).await,
        }
    }

    /// How many rows match the filters, across all pages.
    pub async fn total_count<C: ConnectionTrait>(&self, db: &C) -> Result<u64> {
        use sea_orm::PaginatorTrait;
        match &self.count {
            Count::Rows(select) | Count::Versioned { rows: select, .. } => {
                Ok(select.clone().count(db).await?)
            }
            Count::Kept(query) => kept(db, query).await,
            Count::TeamMembers(team) => {
                let query = Query::select()
                    .expr_as(Expr::cust(KEPT_SUM), "n")
                    .from(crate::entity::user_count::Entity)
                    .and_where(crate::entity::user_count::Column::TeamId.eq(*team))
                    .to_owned();
                kept(db, &query).await
            }
            Count::Exactly(n) => Ok(*n),
        }
    }
}

/// The sum of kept counts, as one integer on both databases (PostgreSQL's `SUM` of a
/// `BIGINT` is a `NUMERIC`).
pub const KEPT_SUM: &str = "CAST(COALESCE(SUM(members), 0) AS BIGINT)";

async fn kept<C: ConnectionTrait>(db: &C, query: &SelectStatement) -> Result<u64> {
    let n: i64 = match db.query_one(query).await? {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}
