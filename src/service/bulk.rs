//! The shape every bulk mutation shares: all items are checked first; if any fails nothing
//! is written and every failure is reported with its index; `dry_run` stops after the checks.

use super::ids::{OperationId, TypedId};

/// One id of a bulk request, parsed once where it came in (GraphQL, SCIM): the typed id and
/// the text as the client sent it, which the item's errors echo. `id` is `None` when the text
/// is no id of this kind; the item is then `NOT_FOUND`, as an id of nothing would be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requested<T> {
    /// The id as sent.
    pub sent: String,
    /// The id, when `sent` is one of this kind.
    pub id: Option<T>,
}

impl<T: TypedId> Requested<T> {
    /// Parses one id as the client sent it.
    pub fn parse(sent: String) -> Self {
        let id = T::parse(&sent);
        Requested { sent, id }
    }

    /// Parses every id of a request, in order.
    pub fn parse_all(sent: impl IntoIterator<Item = String>) -> Vec<Self> {
        sent.into_iter().map(Self::parse).collect()
    }

    /// An id known already (a directory's change to one user): sent as its external form.
    pub fn known(id: T) -> Self {
        Requested {
            sent: id.to_string(),
            id: Some(id),
        }
    }
}

/// Why one item of a bulk request was refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ItemErrorCode {
    NotFound,
    Forbidden,
    RoleNotGrantable,
    LastAdmin,
    AlreadyMember,
    AlreadyInvited,
    InvalidEmail,
    EmailDomainNotAllowed,
    InvalidState,
    Duplicate,
    /// The account's seat limit would be exceeded.
    SeatLimit,
}

/// One refused item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemError {
    /// Position of the item in the request.
    pub index: usize,
    /// The id as the client sent it, when the item is an id.
    pub id: Option<String>,
    /// The email as the client sent it, when the item is an invitation.
    pub email: Option<String>,
    pub code: ItemErrorCode,
    pub message: String,
}

impl ItemError {
    /// An error about the item at `index` identified by `id`.
    pub fn for_id(index: usize, id: &str, code: ItemErrorCode, message: impl Into<String>) -> Self {
        ItemError {
            index,
            id: Some(id.to_owned()),
            email: None,
            code,
            message: message.into(),
        }
    }

    /// An error about the invitation at `index` for `email`.
    pub fn for_email(
        index: usize,
        email: &str,
        code: ItemErrorCode,
        message: impl Into<String>,
    ) -> Self {
        ItemError {
            index,
            id: None,
            email: Some(email.to_owned()),
            code,
            message: message.into(),
        }
    }
}

/// The result of a bulk mutation.
#[derive(Debug)]
pub struct Outcome<T> {
    /// The affected objects (empty when refused).
    pub items: Vec<T>,
    /// How many items were (or, in a dry run, would be) changed; unchanged repeats excluded.
    pub changed_count: usize,
    /// Every refused item; non-empty means nothing was written.
    pub errors: Vec<ItemError>,
    pub dry_run: bool,
    /// Set when something was written.
    pub operation_id: Option<OperationId>,
    /// For mutations that take seats (`inviteUsers`, `reactivateUsers`): the seats the
    /// account has left after this request (would have, in a dry run); `None` when the
    /// account has no seat limit or the mutation takes no seats.
    pub seats_remaining: Option<i64>,
}

impl<T> Outcome<T> {
    /// A refused request.
    pub fn refused(errors: Vec<ItemError>, dry_run: bool) -> Self {
        Outcome {
            items: Vec::new(),
            changed_count: 0,
            errors,
            dry_run,
            operation_id: None,
            seats_remaining: None,
        }
    }
}

/// Largest number of items one bulk request may carry (configurable with `ROSTER_MAX_BULK`).
pub const DEFAULT_MAX_ITEMS: usize = 1000;
