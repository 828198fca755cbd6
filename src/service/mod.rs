//! The rules of Roster: one module per aggregate. Transactions, authorization, invariants
//! and audit live here, so every entry point (GraphQL, the CLI, later SCIM or webhooks)
//! gets the same behaviour. Nothing in here knows about GraphQL or HTTP.

pub mod access;
pub mod accounts;
pub mod audit;
pub mod bulk;
pub mod counts;
pub mod db;
pub mod dialect;
pub mod email;
pub mod event_hub;
pub mod events;
pub mod ids;
pub mod invite_mail;
pub mod invites;
pub mod locks;
pub mod outbox;
pub mod page;
pub mod principal;
pub mod provisioning;
pub mod roles;
pub(crate) mod rows;
pub mod scim_tokens;
pub mod search;
pub mod seats;
pub mod teams;
pub mod text;
pub mod users;
pub mod webhooks;

use sea_orm::{DbErr, RuntimeErr, SqlErr};

pub use db::Db;

/// What can go wrong in a service call. Mapped once to the wire in `graphql::error`.
///
/// It deliberately does not implement `Display`: every conversion to a client-visible error
/// must go through that mapping, so an internal cause can never leak as a message.
#[derive(Debug)]
pub enum Error {
    /// No valid credentials, or the user behind them is gone.
    Unauthenticated,
    /// The actor may not perform this kind of action at all.
    Forbidden(String),
    /// The object does not exist, or the actor may not know that it does.
    NotFound(&'static str),
    /// The input is wrong; `field` names the input field when there is one.
    BadInput {
        field: Option<&'static str>,
        message: String,
        details: Vec<(&'static str, i64)>,
    },
    /// A configured limit was exceeded.
    LimitExceeded(String),
    /// Anything else: logged in full, shown to clients as a masked internal error.
    Internal(anyhow::Error),
}

impl Error {
    /// A `BadInput` naming a field.
    pub fn bad_input(field: &'static str, message: impl Into<String>) -> Self {
        Error::BadInput {
            field: Some(field),
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// A `Forbidden` with a message.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Error::Forbidden(message.into())
    }

    /// A short description for logs and the CLI (never the internal cause for clients).
    pub fn describe(&self) -> String {
        match self {
            Error::Unauthenticated => "authentication required".into(),
            Error::Forbidden(m) | Error::LimitExceeded(m) => m.clone(),
            Error::NotFound(what) => format!("{what} not found"),
            Error::BadInput { message, .. } => message.clone(),
            Error::Internal(e) => format!("internal error: {e:#}"),
        }
    }
}

impl From<DbErr> for Error {
    fn from(e: DbErr) -> Self {
        Error::Internal(e.into())
    }
}

impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Self {
        Error::Internal(e)
    }
}

impl From<Error> for anyhow::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Internal(e) => e,
            other => anyhow::anyhow!(other.describe()),
        }
    }
}

/// The service's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Whether a database error is a unique-constraint violation of the named index, so a race
/// that slipped past a check can be answered as the user error it is.
pub fn is_unique_violation(err: &DbErr, index: &str) -> bool {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(message)) => {
            // PostgreSQL names the index; SQLite names the columns, so match either.
            message.contains(index) || sqlite_columns_match(&message, index)
        }
        _ => {
            let text = match err {
                DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
                    e.to_string()
                }
                _ => return false,
            };
            text.contains(index)
        }
    }
}

/// SQLite reports `UNIQUE constraint failed: users.account_id, users.email`; our index names
/// start with the table name, which is enough to tell our few unique indexes apart.
fn sqlite_columns_match(message: &str, index: &str) -> bool {
    let Some(columns) = message.split("UNIQUE constraint failed:").nth(1) else {
        return false;
    };
    let table = index.split('_').next().unwrap_or_default();
    let known: &[(&str, &[&str])] = &[
        (
            "users_account_email_active",
            &["users.account_id", "users.email"],
        ),
        (
            "invites_account_email_open",
            &["invites.account_id", "invites.email"],
        ),
        (
            "teams_account_name_key",
            &["teams.account_id", "teams.name_key"],
        ),
        (
            "departments_account_name_key",
            &["departments.account_id", "departments.name_key"],
        ),
        (
            "roles_account_name_key",
            &["roles.account_id", "roles.name_key"],
        ),
        ("invites_token_hash", &["invites.token_hash"]),
        (
            "users_account_external_id",
            &["users.account_id", "users.external_id"],
        ),
        ("scim_tokens_token_hash", &["scim_tokens.token_hash"]),
    ];
    known
        .iter()
        .find(|(name, _)| *name == index)
        .map(|(_, cols)| cols.iter().all(|c| columns.contains(c)))
        .unwrap_or_else(|| columns.contains(&format!("{table}.")))
}

/// Milliseconds since the Unix epoch: the one time representation stored everywhere.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
