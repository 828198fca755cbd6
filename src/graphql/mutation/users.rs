//! Mutations on users: change role, change team, delete.

use async_graphql::Object;

/// User mutations.
#[derive(Default)]
pub struct UserMutations;

#[Object]
impl UserMutations {
    /// Temporary: replaced by the user mutations.
    async fn placeholder_users(&self) -> bool {
        false
    }
}
