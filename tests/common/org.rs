//! Helpers for the organization-administration tests: the mutations' documents, a client
//! that sends them as a given user, and direct database access for setting up what other
//! features own (invitations, role assignments) and for checking the state afterwards.

#![allow(dead_code)]

use roster::entity::{account, audit_event, department, invite, role, team, user};
use roster::service::email::Email;
use roster::service::text::Name;
use roster::service::{accounts, now_ms};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{self, Org, TestApp};

pub const CREATE_TEAM: &str = "mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { id name department { id name } } } }";
pub const UPDATE_TEAM: &str = "mutation($input: UpdateTeamInput!) { updateTeam(input: $input) { team { id name department { id name } } } }";
pub const DELETE_TEAM: &str =
    "mutation($input: DeleteInput!) { deleteTeam(input: $input) { deletedId } }";
pub const CREATE_DEPARTMENT: &str = "mutation($input: CreateDepartmentInput!) { createDepartment(input: $input) { department { id name teams { name } } } }";
pub const UPDATE_DEPARTMENT: &str = "mutation($input: UpdateDepartmentInput!) { updateDepartment(input: $input) { department { id name teams { name } } } }";
pub const DELETE_DEPARTMENT: &str =
    "mutation($input: DeleteInput!) { deleteDepartment(input: $input) { deletedId } }";
pub const CREATE_ROLE: &str = "mutation($input: CreateRoleInput!) { createRole(input: $input) { role { id key name builtIn scope permissions userCount } } }";
pub const UPDATE_ROLE: &str = "mutation($input: UpdateRoleInput!) { updateRole(input: $input) { role { id key name builtIn scope permissions userCount } } }";
pub const DELETE_ROLE: &str =
    "mutation($input: DeleteInput!) { deleteRole(input: $input) { deletedId } }";
pub const UPDATE_ACCOUNT: &str = "mutation($input: UpdateAccountInput!) { updateAccount(input: $input) { account { id name allowedEmailDomains inviteExpiryDays } } }";

/// The test server with the `Org` fixture in its database.
pub struct OrgApp {
    pub app: TestApp,
    pub org: Org,
}

impl OrgApp {
    pub async fn spawn() -> Self {
        let app = TestApp::spawn().await;
        let org = Org::create(&app).await;
        OrgApp { app, org }
    }

    /// Runs `query` as `user` with `{ input }` as its variables.
    pub async fn run(&self, user: Uuid, query: &str, input: Value) -> Value {
        let token = self.app.token_for(user);
        self.app
            .gql(Some(&token), query, json!({ "input": input }))
            .await
    }

    /// Runs a query as `user` with the given variables.
    pub async fn query(&self, user: Uuid, query: &str, variables: Value) -> Value {
        let token = self.app.token_for(user);
        self.app.gql(Some(&token), query, variables).await
    }

    /// Creates a role through the API as the fixture's Admin; returns its external id.
    pub async fn create_role(&self, name: &str, scope: &str, permissions: &[&str]) -> String {
        let body = self
            .run(
                self.org.admin,
                CREATE_ROLE,
                json!({ "name": name, "scope": scope, "permissions": permissions }),
            )
            .await;
        common::data(&body)["createRole"]["role"]["id"]
            .as_str()
            .expect("role id")
            .to_owned()
    }

    /// Creates a team through the API as the fixture's Admin; returns its external id.
    pub async fn create_team(&self, name: &str, department: Option<Uuid>) -> String {
        let body = self
            .run(
                self.org.admin,
                CREATE_TEAM,
                json!({ "name": name, "departmentId": department.map(common::gid::dept) }),
            )
            .await;
        common::data(&body)["createTeam"]["team"]["id"]
            .as_str()
            .expect("team id")
            .to_owned()
    }

    /// The emails of the users `user` sees, or the error code when refused.
    pub async fn visible_emails(&self, user: Uuid) -> Result<Vec<String>, String> {
        let body = self
            .query(user, "{ users(first: 100) { nodes { email } } }", json!({}))
            .await;
        if let Some(code) = common::error_code(&body) {
            return Err(code.to_owned());
        }
        Ok(body["data"]["users"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| n["email"].as_str().expect("email").to_owned())
            .collect())
    }

    // ---- direct database access ----

    /// Gives `user` the role directly (changing roles through the API is another feature).
    pub async fn set_role(&self, user: Uuid, role: Uuid) {
        user::Entity::update_many()
            .col_expr(user::Column::RoleId, Expr::value(role))
            .filter(user::Column::Id.eq(user))
            .exec(self.app.db.conn())
            .await
            .expect("set role");
    }

    /// Inserts an active user.
    pub async fn insert_user(&self, email: &str, team: Uuid, role: Uuid) -> Uuid {
        accounts::insert_user(
            self.app.db.conn(),
            self.org.account_id.into(),
            &Email::parse(email).expect("email"),
            &Name::parse("name", email).expect("name"),
            team.into(),
            role.into(),
            now_ms(),
        )
        .await
        .expect("user")
        .id
        .0
    }

    /// Soft-deletes a user the way deleting one does.
    pub async fn soft_delete_user(&self, user: Uuid) {
        user::Entity::update_many()
            .col_expr(user::Column::DeletedAt, Expr::value(now_ms()))
            .filter(user::Column::Id.eq(user))
            .exec(self.app.db.conn())
            .await
            .expect("soft delete");
    }

    /// Inserts an invitation row (the invitation mutations are another feature).
    pub async fn insert_invite(
        &self,
        email: &str,
        team: Uuid,
        role: Uuid,
        state: InviteState,
    ) -> Uuid {
        let now = now_ms();
        let day = 86_400_000;
        let id = Uuid::now_v7();
        let model = invite::ActiveModel {
            id: sea_orm::Set(id.into()),
            account_id: sea_orm::Set(self.org.account_id.into()),
            email: sea_orm::Set(email.to_owned()),
            team_id: sea_orm::Set(team.into()),
            role_id: sea_orm::Set(role.into()),
            invited_by: sea_orm::Set(Some(self.org.admin.into())),
            token_hash: sea_orm::Set(Some(id.as_bytes().to_vec())),
            created_at: sea_orm::Set(now - 10 * day),
            expires_at: sea_orm::Set(match state {
                InviteState::Expired => now - day,
                _ => now + day,
            }),
            last_sent_at: sea_orm::Set(Some(now - 10 * day)),
            send_count: sea_orm::Set(1),
            accepted_at: sea_orm::Set((state == InviteState::Accepted).then_some(now)),
            accepted_user_id: sea_orm::Set(None),
            withdrawn_at: sea_orm::Set((state == InviteState::Withdrawn).then_some(now)),
            deleted_at: sea_orm::Set((state == InviteState::Deleted).then_some(now)),
            delivery: sea_orm::Set(invite::Delivery::Sent),
            delivery_error: sea_orm::Set(None),
            updated_at: sea_orm::Set(now),
        };
        invite::Entity::insert(model)
            .exec(self.app.db.conn())
            .await
            .expect("insert invite");
        id
    }

    /// Withdraws an invitation directly.
    pub async fn withdraw_invite(&self, invite: Uuid) {
        invite::Entity::update_many()
            .col_expr(invite::Column::WithdrawnAt, Expr::value(now_ms()))
            .filter(invite::Column::Id.eq(invite))
            .exec(self.app.db.conn())
            .await
            .expect("withdraw");
    }

    pub async fn team_row(&self, id: Uuid) -> Option<team::Model> {
        team::Entity::find_by_id(id)
            .one(self.app.db.conn())
            .await
            .expect("team")
    }

    pub async fn department_row(&self, id: Uuid) -> Option<department::Model> {
        department::Entity::find_by_id(id)
            .one(self.app.db.conn())
            .await
            .expect("department")
    }

    pub async fn role_row(&self, id: Uuid) -> Option<role::Model> {
        role::Entity::find_by_id(id)
            .one(self.app.db.conn())
            .await
            .expect("role")
    }

    pub async fn account_row(&self) -> account::Model {
        account::Entity::find_by_id(self.org.account_id)
            .one(self.app.db.conn())
            .await
            .expect("account")
            .expect("account exists")
    }

    /// Live (not deleted) team names of the fixture's account, by name.
    pub async fn team_names(&self) -> Vec<String> {
        team::Entity::find()
            .filter(team::Column::AccountId.eq(self.org.account_id))
            .filter(team::Column::DeletedAt.is_null())
            .order_by_asc(team::Column::NameKey)
            .all(self.app.db.conn())
            .await
            .expect("teams")
            .into_iter()
            .map(|t| t.name)
            .collect()
    }

    /// Department names of the fixture's account, by name.
    pub async fn department_names(&self) -> Vec<String> {
        department::Entity::find()
            .filter(department::Column::AccountId.eq(self.org.account_id))
            .order_by_asc(department::Column::NameKey)
            .all(self.app.db.conn())
            .await
            .expect("departments")
            .into_iter()
            .map(|d| d.name)
            .collect()
    }

    /// Live role rows of an account, by name.
    pub async fn roles_of(&self, account: Uuid) -> Vec<role::Model> {
        role::Entity::find()
            .filter(role::Column::AccountId.eq(account))
            .filter(role::Column::DeletedAt.is_null())
            .order_by_asc(role::Column::NameKey)
            .all(self.app.db.conn())
            .await
            .expect("roles")
    }

    /// Every audit event of the fixture's account, oldest first.
    pub async fn audit_events(&self) -> Vec<audit_event::Model> {
        audit_event::Entity::find()
            .filter(audit_event::Column::AccountId.eq(self.org.account_id))
            .order_by_asc(audit_event::Column::Id)
            .all(self.app.db.conn())
            .await
            .expect("audit events")
    }

    /// Inserts a department into another account.
    pub async fn insert_department(&self, account: Uuid, name: &str) -> Uuid {
        roster::service::teams::insert_department(
            self.app.db.conn(),
            account.into(),
            &Name::parse("name", name).expect("name"),
            now_ms(),
        )
        .await
        .expect("department")
        .id
        .0
    }
}

/// Which state an inserted invitation is in.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum InviteState {
    Pending,
    /// Past `expiresAt` but neither accepted nor withdrawn: still open.
    Expired,
    Accepted,
    Withdrawn,
    Deleted,
}

/// The UUID inside an external id such as `team_0192…`.
pub fn uuid_of(external: &str) -> Uuid {
    roster::service::ids::parse_any_uuid(external).expect("external id")
}

/// The first error's extensions.
pub fn extensions(body: &Value) -> &Value {
    &body["errors"][0]["extensions"]
}

/// The first error's message.
pub fn message(body: &Value) -> &str {
    body["errors"][0]["message"].as_str().unwrap_or_default()
}
