//! Mutations on the organization: teams, departments, roles, account settings.

use async_graphql::Object;

/// Organization mutations.
#[derive(Default)]
pub struct OrgMutations;

#[Object]
impl OrgMutations {
    /// Temporary: replaced by the organization mutations.
    async fn placeholder_org(&self) -> bool {
        false
    }
}
