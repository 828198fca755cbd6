//! Query plans at scale. Seeds an organization with `roster seed` in the proportions of a
//! large deployment (the big account holds a tenth of all users), runs the API's main reads
//! and writes as the big account's Admin, a Department Admin and a Manager, and EXPLAINs
//! every statement each request ran. Fails when a plan reads a whole table that is not
//! tiny: a `Seq Scan` on PostgreSQL, a `SCAN <table>` on SQLite. Prints every plan.
//!
//! Size: `ROSTER_PLAN_USERS` users (default 100,000) in a hundredth as many accounts.
//! `ROSTER_PLAN_USERS=1000000 cargo test --release --test plans -- --nocapture` checks the
//! issue's full scale.

mod common;

use std::collections::HashMap;
use std::fmt::Write as _;

use common::{TestApp, data, gid};
use roster::entity::{department, invite, role, team, user};
use roster::seed::{SeedOptions, seed};
use roster::service::Db;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QuerySelect, Statement,
};
use serde_json::{Value, json};
use uuid::Uuid;

/// A table with fewer rows than this fits in a few pages: reading it whole is the right
/// plan, and planners rightly choose it.
const TINY_ROWS: i64 = 2_000;

/// Tables whose size follows the organization's structure (accounts × teams × roles), not
/// its people: a planner may read a few thousand such rows whole when a request asks
/// about a large share of them (all 200 teams' counts, say), which is cheaper than 200
/// index probes.
const STRUCTURE: &[&str] = &["accounts", "departments", "teams", "roles", "user_counts"];
const STRUCTURE_TINY_ROWS: i64 = 10_000;

const USER_FIELDS: &str = "id name email role { name } team { name department { name } }";
const INVITE_FIELDS: &str =
    "id email status expiresAt role { name } team { name } invitedBy { name }";

/// One request of the check.
struct Case {
    label: String,
    token: String,
    query: String,
    variables: Value,
}

struct Checker {
    backend: DatabaseBackend,
    rows: HashMap<String, i64>,
    report: String,
    violations: Vec<String>,
    statements: usize,
    /// Every plan line of each case, by label.
    plans: HashMap<String, Vec<String>>,
}

impl Checker {
    async fn table_rows(&mut self, db: &Db, table: &str) -> i64 {
        if let Some(n) = self.rows.get(table) {
            return *n;
        }
        let n = match db
            .conn()
            .query_one_raw(Statement::from_string(
                self.backend,
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
        {
            // Not a table (a subquery's alias, a CTE): nothing to check.
            Ok(Some(row)) => row.try_get::<i64>("", "n").unwrap_or(0),
            _ => 0,
        };
        self.rows.insert(table.to_owned(), n);
        n
    }

    /// The plan of `statement`, one line per node (one statement: see `batch_parts`).
    async fn plan(&self, db: &Db, statement: &Statement) -> Vec<String> {
        let prefix = match self.backend {
            DatabaseBackend::Postgres => "EXPLAIN ",
            _ => "EXPLAIN QUERY PLAN ",
        };
        let explain = Statement {
            sql: format!("{prefix}{}", statement.sql),
            values: statement.values.clone(),
            db_backend: statement.db_backend,
        };
        let rows = db
            .conn()
            .query_all_raw(explain)
            .await
            .unwrap_or_else(|e| panic!("EXPLAIN failed: {e}\n{}", statement.sql));
        rows.iter()
            .map(|row| match self.backend {
                DatabaseBackend::Postgres => row.try_get_by_index::<String>(0).expect("plan line"),
                _ => row.try_get::<String>("", "detail").expect("plan detail"),
            })
            .collect()
    }

    /// The tables a plan reads whole.
    fn full_scans(&self, plan: &[String]) -> Vec<String> {
        plan.iter()
            .filter_map(|line| {
                let rest = match self.backend {
                    DatabaseBackend::Postgres => {
                        line.split_once("Seq Scan on ").map(|(_, rest)| rest)?
                    }
                    _ => {
                        let rest = line.trim().strip_prefix("SCAN ")?;
                        // A virtual table (the FTS5 trigram index) answering a constraint
                        // (`INDEX 0:L0`: a LIKE on its column) is an index lookup.
                        if let Some((_, index)) = rest.split_once(" VIRTUAL TABLE INDEX ")
                            && index
                                .split_once(':')
                                .is_some_and(|(_, how)| !how.is_empty())
                        {
                            return None;
                        }
                        rest
                    }
                };
                let table = rest.split_whitespace().next()?;
                Some(table.trim_matches('"').to_owned())
            })
            .collect()
    }

    async fn check(&mut self, db: &Db, app: &TestApp, case: &Case) -> Value {
        db.start_recording();
        let body = app
            .gql(Some(&case.token), &case.query, case.variables.clone())
            .await;
        let statements = db.stop_recording();
        let answer = data(&body).clone();
        let _ = writeln!(self.report, "\n=== {} ===", case.label);
        for statement in statements.iter().flat_map(batch_parts) {
            let sql = statement.sql.trim();
            let verb = sql
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_uppercase();
            if !matches!(
                verb.as_str(),
                "SELECT" | "UPDATE" | "DELETE" | "INSERT" | "WITH"
            ) {
                continue;
            }
            self.statements += 1;
            let plan = self.plan(db, &statement).await;
            let short: String = sql.chars().take(220).collect();
            let _ = writeln!(self.report, "-- {short}");
            for line in &plan {
                let _ = writeln!(self.report, "   {line}");
            }
            self.plans
                .entry(case.label.clone())
                .or_default()
                .extend(plan.iter().cloned());
            for table in self.full_scans(&plan) {
                let rows = self.table_rows(db, &table).await;
                let tiny = if STRUCTURE.contains(&table.as_str()) {
                    STRUCTURE_TINY_ROWS
                } else {
                    TINY_ROWS
                };
                if rows >= tiny {
                    self.violations.push(format!(
                        "{}: full scan of {table} ({rows} rows)\n  {sql}\n  {}",
                        case.label,
                        plan.join("\n  ")
                    ));
                }
            }
        }
        answer
    }
}

fn case(label: &str, token: &str, query: &str, variables: Value) -> Case {
    Case {
        label: label.to_owned(),
        token: token.to_owned(),
        query: query.to_owned(),
        variables,
    }
}

/// Someone of the account holding the built-in role `key`.
async fn holder(db: &Db, account: Uuid, key: &str) -> Option<user::Model> {
    let role = role::Entity::find()
        .filter(role::Column::AccountId.eq(account))
        .filter(role::Column::Key.eq(key))
        .one(db.conn())
        .await
        .expect("role")?;
    user::Entity::find()
        .filter(user::Column::RoleId.eq(role.id))
        .filter(user::Column::DeletedAt.is_null())
        .one(db.conn())
        .await
        .expect("user")
}

#[tokio::test]
async fn the_main_queries_read_no_large_table_whole() {
    let users: u64 = std::env::var("ROSTER_PLAN_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let app = TestApp::spawn().await;
    let db = app.db.clone();
    let options = SeedOptions {
        users,
        accounts: (users / 1_000).max(10),
        big_account_users: users / 10,
        big_account_teams: (users / 500).clamp(10, 200),
        ..SeedOptions::default()
    };
    let seeded = seed(&db, &options).await.expect("seed");
    let account = seeded.big_account_id;
    println!(
        "seeded {} users, {} invites in {} accounts; the big account has {} users",
        seeded.users, seeded.invites, seeded.accounts, seeded.big_account_users
    );

    // What the requests refer to, all in the big account.
    let admin = app.token_for(seeded.big_admin_id.0);
    let team_with_department = team::Entity::find()
        .filter(team::Column::AccountId.eq(account))
        .filter(team::Column::DepartmentId.is_not_null())
        .one(db.conn())
        .await
        .expect("team")
        .expect("a team with a department");
    let department = department::Entity::find()
        .filter(department::Column::AccountId.eq(account))
        .one(db.conn())
        .await
        .expect("department")
        .expect("a department");
    let sender_role = role::Entity::find()
        .filter(role::Column::AccountId.eq(account))
        .filter(role::Column::Key.eq("SENDER"))
        .one(db.conn())
        .await
        .expect("role")
        .expect("Sender");
    let manager_role = role::Entity::find()
        .filter(role::Column::AccountId.eq(account))
        .filter(role::Column::Key.eq("MANAGER"))
        .one(db.conn())
        .await
        .expect("role")
        .expect("Manager");
    let senders: Vec<Uuid> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::AccountId.eq(account))
        .filter(user::Column::RoleId.eq(sender_role.id))
        .filter(user::Column::DeletedAt.is_null())
        .limit(130)
        .into_tuple()
        .all(db.conn())
        .await
        .expect("senders");
    assert_eq!(senders.len(), 130, "the big account has Senders");
    let someone = user::Entity::find_by_id(senders[0])
        .one(db.conn())
        .await
        .expect("user")
        .expect("user");
    let invited = invite::Entity::find()
        .filter(invite::Column::AccountId.eq(account))
        .one(db.conn())
        .await
        .expect("invite")
        .expect("an invite in the big account");
    let open_invites: Vec<Uuid> = invite::Entity::find()
        .select_only()
        .column(invite::Column::Id)
        .filter(invite::Column::AccountId.eq(account))
        .filter(invite::Column::AcceptedAt.is_null())
        .filter(invite::Column::WithdrawnAt.is_null())
        .filter(invite::Column::DeletedAt.is_null())
        .filter(invite::Column::ExpiresAt.gt(roster::service::now_ms()))
        .limit(15)
        .into_tuple()
        .all(db.conn())
        .await
        .expect("invites");
    assert_eq!(
        open_invites.len(),
        15,
        "the big account has pending invites"
    );

    let mut cases = vec![
        case(
            "viewer",
            &admin,
            "{ viewer { id name role { name permissions } team { name } } }",
            json!({}),
        ),
        case(
            "users(first: 50) by name, with role and team, totalCount",
            &admin,
            &format!(
                "{{ users(first: 50) {{ totalCount pageInfo {{ endCursor }} nodes {{ {USER_FIELDS} }} }} }}"
            ),
            json!({}),
        ),
        case(
            "users(last: 50) by email, descending",
            &admin,
            &format!(
                "{{ users(last: 50, orderBy: {{field: EMAIL, direction: DESC}}) {{ nodes {{ {USER_FIELDS} }} }} }}"
            ),
            json!({}),
        ),
        case(
            "users(first: 50) by creation",
            &admin,
            &format!(
                "{{ users(first: 50, orderBy: {{field: CREATED_AT, direction: ASC}}) {{ nodes {{ {USER_FIELDS} }} }} }}"
            ),
            json!({}),
        ),
        case(
            "users search broad (\"an\") with totalCount",
            &admin,
            &format!(
                "{{ users(first: 50, filter: {{search: \"an\"}}) {{ totalCount nodes {{ {USER_FIELDS} }} }} }}"
            ),
            json!({}),
        ),
        case(
            "users search narrow (a full email) with totalCount",
            &admin,
            &format!(
                "query($q: String) {{ users(first: 50, filter: {{search: $q}}) {{ totalCount nodes {{ {USER_FIELDS} }} }} }}"
            ),
            json!({ "q": someone.email }),
        ),
        case(
            "users filtered by team, role and department, with totalCount",
            &admin,
            &format!(
                "query($t: [ID!], $r: [ID!], $d: [ID!]) {{
                   byTeam: users(first: 50, filter: {{teamIds: $t}}) {{ totalCount nodes {{ {USER_FIELDS} }} }}
                   byRole: users(first: 50, filter: {{roleIds: $r}}) {{ totalCount nodes {{ id }} }}
                   byDepartment: users(first: 50, filter: {{departmentIds: $d}}) {{ totalCount nodes {{ id }} }}
                 }}"
            ),
            json!({
                "t": [gid::team(team_with_department.id)],
                "r": [gid::role(sender_role.id)],
                "d": [gid::dept(department.id)],
            }),
        ),
        case(
            "teams with member counts, departments and nested members",
            &admin,
            "{ teams(first: 50) { totalCount nodes { name memberCount department { name } members(first: 5) { totalCount nodes { name } } } }
               departments { nodes { name teams { name memberCount } } }
               roles { name userCount } }",
            json!({}),
        ),
        case(
            "one user, one team, one invite by id",
            &admin,
            "query($u: ID!, $i: ID!) { user(id: $u) { name team { name } } node(id: $u) { id } invite(id: $i) { email status } }",
            json!({ "u": gid::user(someone.id), "i": gid::invite(open_invites[0]) }),
        ),
    ];
    for status in ["PENDING", "ACCEPTED", "EXPIRED", "WITHDRAWN"] {
        cases.push(case(
            &format!("invites({status}) with totalCount"),
            &admin,
            &format!(
                "{{ invites(first: 50, filter: {{statuses: [{status}]}}) {{ totalCount nodes {{ {INVITE_FIELDS} }} }} }}"
            ),
            json!({}),
        ));
    }
    cases.push(case(
        "invites by expiry, and an invite search",
        &admin,
        &format!(
            "{{ soon: invites(first: 50, orderBy: {{field: EXPIRES_AT, direction: ASC}}) {{ nodes {{ {INVITE_FIELDS} }} }}
               found: invites(first: 50, filter: {{search: \"an\"}}) {{ totalCount nodes {{ id }} }} }}"
        ),
        json!({}),
    ));
    cases.push(case(
        "an invite found by its full email",
        &admin,
        "query($q: String) { invites(first: 50, filter: {search: $q}) { totalCount nodes { id } } }",
        json!({ "q": invited.email }),
    ));

    // Writes: bulk changes and invitations, then the audit log they produced.
    let ids = |users: &[Uuid]| users.iter().map(|u| gid::user(*u)).collect::<Vec<_>>();
    let invite_ids = |invites: &[Uuid]| invites.iter().map(|i| gid::invite(*i)).collect::<Vec<_>>();
    cases.push(case(
        "changeUsersRole on 100 users",
        &admin,
        "mutation($ids: [ID!]!, $role: ID!) { changeUsersRole(input: {userIds: $ids, roleId: $role}) { changedCount errors { code } } }",
        json!({ "ids": ids(&senders[..100]), "role": gid::role(manager_role.id) }),
    ));
    cases.push(case(
        "changeUsersTeam on 100 users (dry run)",
        &admin,
        "mutation($ids: [ID!]!, $team: ID!) { changeUsersTeam(input: {userIds: $ids, teamId: $team, dryRun: true}) { changedCount errors { code } } }",
        json!({ "ids": ids(&senders[..100]), "team": gid::team(team_with_department.id) }),
    ));
    cases.push(case(
        "deleteUsers on 10 users",
        &admin,
        "mutation($ids: [ID!]!) { deleteUsers(input: {userIds: $ids}) { changedCount errors { code } } }",
        json!({ "ids": ids(&senders[100..110]) }),
    ));
    let invitations: Vec<Value> = (0..20)
        .map(|i| {
            json!({
                "email": format!("plan.check.{i}@newcomers.example"),
                "teamId": gid::team(team_with_department.id),
                "roleId": gid::role(sender_role.id),
            })
        })
        .collect();
    cases.push(case(
        "inviteUsers with 20 emails",
        &admin,
        "mutation($inv: [InvitationInput!]!) { inviteUsers(input: {invitations: $inv}) { changedCount errors { code email } } }",
        json!({ "inv": invitations }),
    ));
    for (mutation, range) in [
        ("resendInvites", 0..5),
        ("withdrawInvites", 5..10),
        ("deleteInvites", 10..15),
    ] {
        cases.push(case(
            &format!("{mutation} on 5 invites"),
            &admin,
            &format!(
                "mutation($ids: [ID!]!) {{ {mutation}(input: {{inviteIds: $ids}}) {{ changedCount errors {{ code }} }} }}"
            ),
            json!({ "ids": invite_ids(&open_invites[range]) }),
        ));
    }
    cases.push(case(
        "auditEvents, newest first, with actors",
        &admin,
        "{ auditEvents(first: 50) { totalCount nodes { action targetLabel actor { name } } } }",
        json!({}),
    ));

    // The same lists through narrower scopes.
    for key in ["DEPARTMENT_ADMIN", "MANAGER"] {
        if let Some(who) = holder(&db, account.0, key).await {
            let token = app.token_for(who.id.0);
            cases.push(case(
                &format!("{key}: users page, search and pending invites"),
                &token,
                &format!(
                    "{{ users(first: 50) {{ totalCount nodes {{ {USER_FIELDS} }} }}
                       found: users(first: 50, filter: {{search: \"an\"}}) {{ nodes {{ id }} }}
                       invites(first: 50, filter: {{statuses: [PENDING]}}) {{ totalCount nodes {{ id }} }} }}"
                ),
                json!({}),
            ));
        }
    }

    let mut checker = Checker {
        backend: db.backend(),
        rows: HashMap::new(),
        report: String::new(),
        violations: Vec::new(),
        statements: 0,
        plans: HashMap::new(),
    };
    for case in &cases {
        let answer = checker.check(&db, &app, case).await;
        // Mutations must have done their work, or their plans prove nothing.
        if let Some(payload) = answer.as_object().and_then(|o| o.values().next())
            && let Some(errors) = payload.get("errors")
        {
            assert_eq!(errors, &json!([]), "{}: {answer:#}", case.label);
        }
    }
    println!("{}", checker.report);
    println!(
        "{} statements of {} requests explained on {:?}",
        checker.statements,
        cases.len(),
        checker.backend
    );
    assert!(
        checker.violations.is_empty(),
        "plans reading a large table whole:\n{}",
        checker.violations.join("\n\n")
    );

    // A full email is found from its trigram candidates, not by walking the account: on
    // PostgreSQL the trigram index is asked for the local part only (the domain's trigrams
    // list the whole account); on SQLite, with the statistics `roster seed` gathers, the
    // candidates' rowids drive the lookup instead of the account's name index.
    let narrow = &checker.plans["users search narrow (a full email) with totalCount"];
    let local = someone
        .email
        .split('@')
        .next()
        .unwrap_or_default()
        .to_owned();
    if checker.backend == DatabaseBackend::Postgres {
        let by_email = &checker.plans["an invite found by its full email"];
        let local = invited
            .email
            .split('@')
            .next()
            .unwrap_or_default()
            .to_owned();
        assert!(
            by_email.iter().any(|l| l.contains("invites_email_trgm"))
                && by_email
                    .iter()
                    .filter(|l| l.contains("Index Cond: (email ~~"))
                    .all(|l| l.contains(&local) && !l.contains('@')),
            "invite email search plan:\n{}",
            by_email.join("\n")
        );
    }
    match checker.backend {
        DatabaseBackend::Postgres => assert!(
            narrow.iter().any(|l| l.contains("users_search_trgm"))
                && narrow
                    .iter()
                    .filter(|l| l.contains("Index Cond: (search_text ~~"))
                    .all(|l| l.contains(&local) && !l.contains('@')),
            "narrow search plan:\n{}",
            narrow.join("\n")
        ),
        _ => assert!(
            narrow
                .iter()
                .any(|l| l.contains("SEARCH users USING INTEGER PRIMARY KEY (rowid=?)"))
                && !narrow
                    .iter()
                    .any(|l| l.contains("SEARCH users USING INDEX users_account")),
            "narrow search plan:\n{}",
            narrow.join("\n")
        ),
    }
}

/// The statements of a SQLite batch (`events::Batch`: statements joined by `; `, run in one
/// round trip), each with its own positional parameters, so that each is explained (an
/// `EXPLAIN` of the batch would explain the first and run the others). Any other statement
/// is itself.
fn batch_parts(statement: &Statement) -> Vec<Statement> {
    if statement.db_backend != DatabaseBackend::Sqlite || !statement.sql.contains("; ") {
        return vec![statement.clone()];
    }
    let values = statement.values.clone().map(|v| v.0).unwrap_or_default();
    let mut next = 0;
    statement
        .sql
        .split("; ")
        .map(|sql| {
            let n = sql.matches('?').count();
            let part = values[next..next + n].to_vec();
            next += n;
            Statement::from_sql_and_values(DatabaseBackend::Sqlite, sql, part)
        })
        .collect()
}
