//! Decoding a statement's rows by column position instead of by name, for the hot read
//! paths (a page of users with their roles and teams; the caller's row).
//!
//! SeaORM's `FromQueryResult` finds every value by its column's name: with a prefix it
//! formats the name (`r_name`, one `String` per column per row), then looks it up in the
//! row's hash map of names, and a NULL value formats the name again into an error it then
//! discards. A page of 50 users with their roles and teams is ~1,800 values, and that lookup
//! was about a third of the instructions a users page cost (bench/ANALYSIS.md). Here a
//! statement's column names are checked once, against the same field lists the decoders are
//! generated from, and every row is then read by position.

use sea_orm::{DbErr, QueryResult};

use crate::entity::{role, team, user};

/// A model read from consecutive columns of a row, in the order of its field list.
pub(crate) trait Positional: Sized {
    /// The columns' names, in the order `decode_at` reads them.
    const NAMES: &'static [&'static str];

    /// The model from the columns starting at `at`.
    fn decode_at(row: &QueryResult, at: usize) -> Result<Self, DbErr>;
}

/// Implements `Positional` from one list of fields: the names checked and the order read
/// are the same list, so they cannot disagree.
macro_rules! positional {
    ($model:ty { $($field:ident),+ $(,)? }) => {
        impl Positional for $model {
            const NAMES: &'static [&'static str] = &[$(stringify!($field)),+];

            #[allow(unused_assignments)]
            fn decode_at(row: &QueryResult, at: usize) -> Result<Self, DbErr> {
                let mut i = at;
                Ok(Self {
                    $($field: {
                        let value = row.try_get_by_index(i)?;
                        i += 1;
                        value
                    }),+
                })
            }
        }
    };
}

positional!(user::Model {
    id,
    account_id,
    email,
    name,
    name_key,
    search_text,
    team_id,
    role_id,
    created_at,
    updated_at,
    deleted_at,
    tokens_valid_after,
    status,
    external_id,
    version,
});

positional!(role::Model {
    id,
    account_id,
    key,
    name,
    name_key,
    scope,
    permissions,
    built_in,
    created_at,
    updated_at,
    deleted_at,
});

positional!(team::Model {
    id,
    account_id,
    department_id,
    name,
    name_key,
    created_at,
    updated_at,
    deleted_at,
    version,
    external_id,
});

/// The names of a row's columns, borrowed from the statement's description (no copy).
pub(crate) fn names(row: &QueryResult) -> Vec<&str> {
    use sea_orm::sqlx::{Column, Row};
    if let Some(row) = row.try_as_pg_row() {
        row.columns().iter().map(|c| c.name()).collect()
    } else if let Some(row) = row.try_as_sqlite_row() {
        row.columns().iter().map(|c| c.name()).collect()
    } else {
        Vec::new()
    }
}

/// Where `M`'s columns, named `{prefix}{column}`, start among `names` (a statement's column
/// names, read once from its first row), when they all stand there in `M`'s order; an
/// error otherwise (a statement that does not select them: never a misread row).
pub(crate) fn block<M: Positional>(names: &[&str], prefix: &str) -> Result<usize, DbErr> {
    let matches = |name: &str, column: &str| name.strip_prefix(prefix) == Some(column);
    let first = M::NAMES[0];
    (0..names.len())
        .filter(|&at| matches(names[at], first))
        .find(|&at| {
            names.len() >= at + M::NAMES.len()
                && names[at..]
                    .iter()
                    .zip(M::NAMES)
                    .all(|(name, column)| matches(name, column))
        })
        .ok_or_else(|| {
            DbErr::Custom(format!(
                "the statement's columns {names:?} hold no block of {:?} prefixed {prefix:?}",
                M::NAMES
            ))
        })
}

/// Like `M::decode_at`, for a left-joined model: `None` when its first column (the id) is
/// NULL.
pub(crate) fn decode_optional_at<M: Positional>(
    row: &QueryResult,
    at: usize,
) -> Result<Option<M>, DbErr> {
    match row.try_get_by_index::<Option<uuid::Uuid>>(at)? {
        Some(_) => M::decode_at(row, at).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{IdenStatic, Iterable};

    /// Whether `M`'s field list names `E`'s columns in `E`'s order (what a statement
    /// selecting `E`'s columns returns).
    fn names_match<M: Positional, E: sea_orm::EntityTrait>() -> bool {
        let columns: Vec<&str> = E::Column::iter().map(|c| c.as_str()).collect();
        columns == M::NAMES
    }

    #[test]
    fn field_lists_follow_the_entities_columns() {
        assert!(names_match::<user::Model, user::Entity>());
        assert!(names_match::<role::Model, role::Entity>());
        assert!(names_match::<team::Model, team::Entity>());
    }

    #[test]
    fn a_block_is_found_by_its_prefixed_names_in_order() {
        let mut owned: Vec<String> = user::Model::NAMES.iter().map(|n| n.to_string()).collect();
        owned.extend(role::Model::NAMES.iter().map(|n| format!("r_{n}")));
        owned.extend(team::Model::NAMES.iter().map(|n| format!("t_{n}")));
        let mut names: Vec<&str> = owned.iter().map(String::as_str).collect();
        assert_eq!(block::<user::Model>(&names, "").ok(), Some(0));
        assert_eq!(block::<role::Model>(&names, "r_").ok(), Some(15));
        assert_eq!(block::<team::Model>(&names, "t_").ok(), Some(26));
        // A column missing or out of order is an error, never a misread row.
        names.swap(3, 4);
        assert!(block::<user::Model>(&names, "").is_err());
    }
}
