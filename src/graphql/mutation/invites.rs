//! Mutations on invitations: invite, resend, withdraw, delete, accept.

use async_graphql::Object;

/// Invitation mutations.
#[derive(Default)]
pub struct InviteMutations;

#[Object]
impl InviteMutations {
    /// Temporary: replaced by the invitation mutations.
    async fn placeholder_invites(&self) -> bool {
        false
    }
}
