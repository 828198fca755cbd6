//! Keyset pagination for every list: Relay-style `first/after` and `last/before` over a sort
//! key with the row id as tie-breaker, so pages stay stable while rows are added and every
//! page is an index range scan, however deep.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select,
    Value,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
struct Cursor {
    o: String,
    k: SortValue,
    i: Uuid,
}

fn encode_cursor(tag: &str, key: SortValue, id: Uuid) -> String {
    let cursor = Cursor {
        o: tag.to_owned(),
        k: key,
        i: id,
    };
    // Serializing this plain struct cannot fail.
    let json = serde_json::to_vec(&cursor).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

fn decode_cursor(field: &'static str, tag: &str, raw: &str) -> Result<(SortValue, Uuid)> {
    let invalid = || {
        Error::bad_input(
            field,
            format!("`{field}` is not a valid cursor for this list"),
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if cursor.o != tag {
        return Err(invalid());
    }
    Ok((cursor.k, cursor.i))
}

/// One page of rows with their cursors.
pub struct Page<T> {
    pub edges: Vec<(String, T)>,
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
    let (k, i) = (Expr::col(sort.key), Expr::col(sort.id));
    let (strict_key, strict_id) = if greater {
        (k.clone().gt(key_value.clone()), i.gt(id))
    } else {
        (k.clone().lt(key_value.clone()), i.lt(id))
    };
    Condition::any()
        .add(strict_key)
        .add(Condition::all().add(k.eq(key_value)).add(strict_id))
}

/// Runs `select` as one page. `key_of` reads a row's sort key and id (for its cursor).
pub async fn fetch<E, C>(
    db: &C,
    select: Select<E>,
    sort: &Sort<E::Column>,
    args: &PageArgs,
    key_of: impl Fn(&E::Model) -> (SortValue, Uuid),
) -> Result<Page<E::Model>>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    args.validate()?;
    let mut select = select;
    if let Some(after) = &args.after {
        let (k, i) = decode_cursor("after", sort.tag, after)?;
        select = select.filter(beyond(sort, k, i, true));
    }
    if let Some(before) = &args.before {
        let (k, i) = decode_cursor("before", sort.tag, before)?;
        select = select.filter(beyond(sort, k, i, false));
    }
    let backward = args.last.is_some();
    let limit = args
        .last
        .or(args.first)
        .map(|n| n as u64)
        .unwrap_or(DEFAULT_PAGE);
    let ascending = sort.ascending != backward;
    let order = if ascending { Order::Asc } else { Order::Desc };
    let mut rows = select
        .order_by(sort.key, order.clone())
        .order_by(sort.id, order)
        .limit(limit + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    if backward {
        rows.reverse();
    }
    let edges = rows
        .into_iter()
        .map(|row| {
            let (k, i) = key_of(&row);
            (encode_cursor(sort.tag, k, i), row)
        })
        .collect();
    // Flags follow the Relay spec: the far side of the cursor the client came from is
    // reported as existing when a cursor was given, without another query.
    Ok(Page {
        edges,
        has_next_page: if backward {
            args.before.is_some()
        } else {
            more
        },
        has_previous_page: if backward { more } else { args.after.is_some() },
    })
}

/// A page plus what it takes to count the whole filtered list, which is only run when the
/// client asks for `totalCount`.
pub struct Listing<E: EntityTrait> {
    pub page: Page<E::Model>,
    count: Select<E>,
}

impl<E: EntityTrait> Listing<E>
where
    E::Model: Sync,
{
    /// Runs `select` as one page and keeps it for counting.
    pub async fn fetch<C: ConnectionTrait>(
        db: &C,
        select: Select<E>,
        sort: &Sort<E::Column>,
        args: &PageArgs,
        key_of: impl Fn(&E::Model) -> (SortValue, Uuid),
    ) -> Result<Self> {
        let page = fetch(db, select.clone(), sort, args, key_of).await?;
        Ok(Listing {
            page,
            count: select,
        })
    }

    /// How many rows match the filters, across all pages.
    pub async fn total_count<C: ConnectionTrait>(&self, db: &C) -> Result<u64> {
        use sea_orm::PaginatorTrait;
        Ok(self.count.clone().count(db).await?)
    }
}
