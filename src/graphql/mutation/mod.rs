//! The write API. Resolvers parse input, call `service`, and map the payload; every rule
//! (permission, scope, escalation, last Admin, all-or-nothing) is enforced in `service`.
//!
//! The mutations are split by aggregate and merged into one `Mutation` type.

mod invites;
mod org;
mod scim_tokens;
mod users;
mod webhooks;

use async_graphql::{Enum, ID, MergedObject, SimpleObject};

use crate::service::bulk::{ItemError, ItemErrorCode};

/// The write API.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    users::UserMutations,
    users::LifecycleMutations,
    invites::InviteMutations,
    org::OrgMutations,
    webhooks::WebhookMutations,
    scim_tokens::ScimTokenMutations,
);

/// Why one item of a bulk mutation was refused.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum BulkErrorCode {
    /// The id does not exist or is outside your reach.
    NotFound,
    /// Your role may not act on this item (for example, its holder outranks you).
    Forbidden,
    /// The role is wider or more powerful than yours, so you cannot grant it.
    RoleNotGrantable,
    /// The change would leave the account without an active Admin.
    LastAdmin,
    /// The email belongs to an active user already.
    AlreadyMember,
    /// The email has a pending invitation already.
    AlreadyInvited,
    /// The email address is not valid.
    InvalidEmail,
    /// The email's domain is not in the account's allowed domains.
    EmailDomainNotAllowed,
    /// The item is in a state that does not allow this change (for example, an accepted invitation cannot be resent).
    InvalidState,
    /// The same item appears more than once in the input.
    Duplicate,
    /// The account's seat limit would be exceeded (`Account.seatLimit`); the items past the
    /// free seats carry it.
    SeatLimit,
}

impl From<ItemErrorCode> for BulkErrorCode {
    fn from(c: ItemErrorCode) -> Self {
        match c {
            ItemErrorCode::NotFound => BulkErrorCode::NotFound,
            ItemErrorCode::Forbidden => BulkErrorCode::Forbidden,
            ItemErrorCode::RoleNotGrantable => BulkErrorCode::RoleNotGrantable,
            ItemErrorCode::LastAdmin => BulkErrorCode::LastAdmin,
            ItemErrorCode::AlreadyMember => BulkErrorCode::AlreadyMember,
            ItemErrorCode::AlreadyInvited => BulkErrorCode::AlreadyInvited,
            ItemErrorCode::InvalidEmail => BulkErrorCode::InvalidEmail,
            ItemErrorCode::EmailDomainNotAllowed => BulkErrorCode::EmailDomainNotAllowed,
            ItemErrorCode::InvalidState => BulkErrorCode::InvalidState,
            ItemErrorCode::Duplicate => BulkErrorCode::Duplicate,
            ItemErrorCode::SeatLimit => BulkErrorCode::SeatLimit,
        }
    }
}

/// One refused item of a bulk mutation. When any item is refused, nothing is written.
#[derive(SimpleObject, Clone, Debug)]
pub struct BulkItemError {
    /// Position of the item in the input list (0-based).
    pub index: i32,
    /// The item's id as sent, when the item is an id.
    pub id: Option<ID>,
    /// The item's email as sent, when the item is an invitation.
    pub email: Option<String>,
    /// Why it was refused.
    pub code: BulkErrorCode,
    /// A human-readable explanation.
    pub message: String,
}

impl From<ItemError> for BulkItemError {
    fn from(e: ItemError) -> Self {
        BulkItemError {
            index: e.index as i32,
            id: e.id.map(ID),
            email: e.email,
            code: e.code.into(),
            message: e.message,
        }
    }
}
