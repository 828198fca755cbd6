//! The one place service errors become GraphQL errors with `extensions.code`.

use async_graphql::ErrorExtensions;

use crate::service::Error;

/// Wire codes of top-level errors (README "Errors").
pub mod code {
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const LIMIT_EXCEEDED: &str = "LIMIT_EXCEEDED";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";
    pub const GRAPHQL_PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    pub const GRAPHQL_VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
}

/// The message every internal error shows; the cause is only in the log.
pub const INTERNAL_MESSAGE: &str = "Internal server error";

/// A GraphQL error with a code.
pub fn coded(code: &'static str, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code))
}

impl From<Error> for async_graphql::Error {
    fn from(err: Error) -> Self {
        match err {
            Error::Unauthenticated => coded(code::UNAUTHENTICATED, "Authentication required"),
            Error::Forbidden(m) => coded(code::FORBIDDEN, m),
            Error::NotFound(what) => coded(code::NOT_FOUND, format!("{what} not found")),
            Error::BadInput {
                field,
                message,
                details,
            } => async_graphql::Error::new(message).extend_with(|_, e| {
                e.set("code", code::BAD_USER_INPUT);
                if let Some(field) = field {
                    e.set("field", field);
                }
                for (k, v) in &details {
                    e.set(*k, *v);
                }
            }),
            Error::LimitExceeded(m) => coded(code::LIMIT_EXCEEDED, m),
            Error::Internal(cause) => {
                // The request id is on the current span (see app.rs); the HTTP handler also
                // puts it in the response.
                tracing::error!(error = format!("{cause:#}"), "internal error");
                coded(code::INTERNAL_SERVER_ERROR, INTERNAL_MESSAGE)
            }
        }
    }
}

impl From<crate::service::invites::AcceptError> for async_graphql::Error {
    fn from(err: crate::service::invites::AcceptError) -> Self {
        use crate::service::invites::{AcceptError, AcceptRefusal};
        match err {
            AcceptError::UnknownToken => coded(
                code::NOT_FOUND,
                "this invitation link is not valid; it may have been replaced by a newer one",
            ),
            // `reason` lets clients tell an accepted, withdrawn or expired link apart.
            AcceptError::Refused(reason) => async_graphql::Error::new(reason.message())
                .extend_with(|_, e| {
                    e.set("code", code::BAD_USER_INPUT);
                    if reason != AcceptRefusal::AlreadyMember {
                        e.set("field", "token");
                    }
                    e.set("reason", reason.as_str());
                }),
            AcceptError::Service(e) => e.into(),
        }
    }
}
