//! Dataloaders keep the number of SQL statements per request fixed, whatever the page size.

mod common;

use common::{Org, TestApp, data, insert_users};
use serde_json::json;

async fn statements_for(app: &TestApp, token: &str, query: &str) -> u64 {
    // The caller is loaded before the query runs; measure the whole request.
    let before = app.db.statement_count();
    let body = app.gql(Some(token), query, json!({})).await;
    data(&body);
    app.db.statement_count() - before
}

#[tokio::test]
async fn a_page_of_users_with_role_and_team_costs_a_fixed_number_of_statements() {
    // A generous batching window keeps the count exact even on a loaded CI machine; the
    // production default (1 ms) batches the same way when the machine is not starved.
    let limits = roster::graphql::Limits {
        loader_delay: std::time::Duration::from_millis(25),
        ..Default::default()
    };
    let app = TestApp::spawn_with(limits, Default::default()).await;
    let o = Org::create(&app).await;
    for (i, team) in [o.general, o.platform, o.mobile, o.emea]
        .into_iter()
        .enumerate()
    {
        insert_users(
            &app,
            o.account_id,
            team,
            o.roles["SENDER"],
            &format!("Load {i}"),
            40,
        )
        .await;
    }
    let t = app.token_for(o.admin);
    let page = |n: usize| {
        format!(
            "{{ users(first: {n}) {{ totalCount nodes {{ id name role {{ name userCount }} team {{ name memberCount department {{ name }} }} }} }} }}"
        )
    };
    let small = statements_for(&app, &t, &page(5)).await;
    let large = statements_for(&app, &t, &page(100)).await;
    assert_eq!(small, large, "statements must not grow with the page size");
    // principal + page + count + roles + role counts + teams + member counts + departments
    assert!(large <= 8, "{large} statements for one page");

    let invites = "{ invites(first: 100) { nodes { email role { name } team { name } invitedBy { name } } } }";
    let n = statements_for(&app, &t, invites).await;
    assert!(n <= 6, "{n} statements for a page of invites");
}

#[tokio::test]
async fn nested_team_members_and_department_teams_cost_the_same_for_two_teams_or_eight() {
    let limits = roster::graphql::Limits {
        loader_delay: std::time::Duration::from_millis(25),
        ..Default::default()
    };
    let app = TestApp::spawn_with(limits, Default::default()).await;
    let o = Org::create(&app).await;
    let admin = app.token_for(o.admin);
    // Eight teams in two departments, with 6 members each.
    let mut teams = Vec::new();
    for i in 0..6 {
        let body = app
            .gql(
                Some(&admin),
                "mutation($name: String!, $dept: ID) { createTeam(input: {name: $name, departmentId: $dept}) { team { id } } }",
                json!({ "name": format!("Squad {i}"), "dept": common::gid::dept(if i % 2 == 0 { o.engineering } else { o.sales }) }),
            )
            .await;
        let id = data(&body)["createTeam"]["team"]["id"]
            .as_str()
            .expect("team id")
            .to_owned();
        teams.push(id);
    }
    for (i, team) in [o.general, o.platform, o.mobile, o.emea]
        .into_iter()
        .enumerate()
    {
        insert_users(
            &app,
            o.account_id,
            team,
            o.roles["SENDER"],
            &format!("Member {i}"),
            6,
        )
        .await;
    }
    let nested = |n: usize| {
        format!(
            "{{ teams(first: {n}) {{ nodes {{ name memberCount members(first: 3) {{ totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ name role {{ name }} team {{ name }} }} }} }} }}
               departments {{ nodes {{ name teams {{ name memberCount }} }} }} }}"
        )
    };
    let two = statements_for(&app, &admin, &nested(2)).await;
    let eight = statements_for(&app, &admin, &nested(8)).await;
    // Loads of the same kind at different depths may or may not share a batching window,
    // so the count can move by one or two; what matters is a bound that holds for any
    // number of teams (one query per team would already cost more than 8 here).
    // principal + teams page + members pages + member counts (loaded at up to three depths)
    // + roles + teams (of members) + departments page + department teams
    assert!(
        two <= 10 && eight <= 10,
        "{two} / {eight} statements for 2 / 8 teams"
    );

    // The batched pages are the same as asking for each team on its own.
    let body = app.gql(Some(&admin), &nested(8), json!({})).await;
    let d = data(&body);
    let listed = d["teams"]["nodes"].as_array().expect("teams");
    assert_eq!(listed.len(), 8);
    for team in listed {
        let members = &team["members"];
        let count = team["memberCount"].as_i64().expect("memberCount");
        assert_eq!(members["totalCount"].as_i64(), Some(count));
        let names: Vec<&str> = members["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| n["name"].as_str().expect("name"))
            .collect();
        assert_eq!(names.len() as i64, count.min(3), "{team:#}");
        assert!(
            names
                .windows(2)
                .all(|w| w[0].to_lowercase() <= w[1].to_lowercase())
        );
        for node in members["nodes"].as_array().expect("nodes") {
            assert_eq!(node["team"]["name"], team["name"]);
        }
        assert_eq!(members["pageInfo"]["hasNextPage"], count > 3);
    }
    // The next page of one team continues where its first page ended.
    let platform = listed
        .iter()
        .find(|t| t["name"] == "Platform")
        .expect("platform");
    let cursor = platform["members"]["pageInfo"]["endCursor"].clone();
    let body = app
        .gql(
            Some(&admin),
            "query($after: String) { teams(first: 1, filter: {search: \"platform\"}) { nodes { members(first: 50, after: $after) { nodes { name } } } } }",
            json!({ "after": cursor }),
        )
        .await;
    let rest = data(&body)["teams"]["nodes"][0]["members"]["nodes"]
        .as_array()
        .expect("rest")
        .len() as i64;
    assert_eq!(
        rest,
        platform["memberCount"].as_i64().expect("count") - 3,
        "the second page holds the remaining members"
    );
    // A team's members as a Manager of another team: nothing, and a total of 0.
    let manager = app.token_for(o.manager);
    let body = app
        .gql(
            Some(&manager),
            "{ teams(first: 100) { nodes { name members { totalCount nodes { name } } } } }",
            json!({}),
        )
        .await;
    for team in data(&body)["teams"]["nodes"].as_array().expect("teams") {
        let total = team["members"]["totalCount"].as_i64().expect("total");
        let shown = team["members"]["nodes"].as_array().expect("nodes").len() as i64;
        assert_eq!(total, shown, "{team:#}");
        if team["name"] != "Platform" {
            assert_eq!(total, 0, "{team:#}");
        }
    }
}

#[tokio::test]
async fn a_bulk_change_writes_its_1000_events_in_a_handful_of_statements() {
    use roster::entity::event;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let change = |ids: &[uuid::Uuid], role: uuid::Uuid| {
        json!({ "input": {
            "userIds": ids.iter().map(|id| common::gid::user(*id)).collect::<Vec<_>>(),
            "roleId": common::gid::role(role),
        } })
    };
    let query = "mutation($input: ChangeUsersRoleInput!) { changeUsersRole(input: $input) { changedCount } }";
    let t = app.token_for(o.admin);
    let mut counts = Vec::new();
    for n in [10, 1000] {
        let ids = insert_users(
            &app,
            o.account_id,
            o.mobile,
            o.roles["SENDER"],
            &format!("Bulk{n}"),
            n,
        )
        .await;
        let before = app.db.statement_count();
        let body = app
            .gql(Some(&t), query, change(&ids, o.roles["MANAGER"]))
            .await;
        counts.push(app.db.statement_count() - before);
        assert_eq!(data(&body)["changeUsersRole"]["changedCount"], n);
        let events = event::Entity::find()
            .filter(event::Column::TargetId.is_in(ids))
            .filter(event::Column::EventType.eq("user.role_changed"))
            .count(app.db.conn())
            .await
            .expect("count");
        assert_eq!(events, n as u64);
    }
    // The events cost the same statements whatever the size: on PostgreSQL one (the
    // sequence upsert, the rows from one JSON parameter and the NOTIFY, in one statement), on
    // SQLite two (the sequence upsert, one multi-row insert).
    assert_eq!(
        counts[0], counts[1],
        "statements must not grow with the bulk size"
    );
    assert!(counts[1] <= 11, "{} statements for 1,000 users", counts[1]);
}

/// The names of the users a `users` page shows `token`'s caller.
async fn names_seen(app: &TestApp, token: &str) -> Vec<String> {
    let body = app
        .gql(
            Some(token),
            "{ users(first: 100) { nodes { name } } }",
            json!({}),
        )
        .await;
    data(&body)["users"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["name"].as_str().expect("name").to_owned())
        .collect()
}

#[tokio::test]
async fn signing_in_is_one_statement_whatever_the_scope_and_still_sees_every_change() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    // An Admin (organization), a Department Admin (the teams of Engineering: Platform and
    // Mobile), a Manager (Platform) and a Sender (only themselves).
    for user in [o.admin, o.dept_admin, o.manager, o.sender] {
        let t = app.token_for(user);
        let n = statements_for(&app, &t, "{ __typename }").await;
        assert_eq!(n, 1, "{n} statements to sign in");
    }
    let dana = app.token_for(o.dept_admin);
    let seen = names_seen(&app, &dana).await;
    assert!(seen.iter().any(|n| n == "Alice Äpfelbaum"), "{seen:?}");
    assert!(!seen.iter().any(|n| n == "Bob 100%_Sure"), "{seen:?}");

    // Mobile leaves Engineering: the Department Admin's next request no longer reaches Alice.
    let admin = app.token_for(o.admin);
    let body = app
        .gql(
            Some(&admin),
            "mutation($input: UpdateTeamInput!) { updateTeam(input: $input) { team { id } } }",
            json!({ "input": { "id": common::gid::team(o.mobile), "departmentId": common::gid::dept(o.sales) } }),
        )
        .await;
    data(&body);
    let seen = names_seen(&app, &dana).await;
    assert!(!seen.iter().any(|n| n == "Alice Äpfelbaum"), "{seen:?}");

    // The Department Admin moves to EMEA (Sales, which now holds Mobile too): their next
    // request reaches Bob and Alice, and no longer Platform's Manager.
    let body = app
        .gql(
            Some(&admin),
            "mutation($input: ChangeUsersTeamInput!) { changeUsersTeam(input: $input) { changedCount } }",
            json!({ "input": { "userIds": [common::gid::user(o.dept_admin)], "teamId": common::gid::team(o.emea) } }),
        )
        .await;
    assert_eq!(data(&body)["changeUsersTeam"]["changedCount"], 1);
    let seen = names_seen(&app, &dana).await;
    assert!(seen.iter().any(|n| n == "Bob 100%_Sure"), "{seen:?}");
    assert!(seen.iter().any(|n| n == "Alice Äpfelbaum"), "{seen:?}");
    assert!(!seen.iter().any(|n| n == "Manny Manager"), "{seen:?}");
    let n = statements_for(&app, &dana, "{ __typename }").await;
    assert_eq!(n, 1, "{n} statements to sign in");

    // Suspended: the very next request is refused.
    let body = app
        .gql(
            Some(&admin),
            "mutation($input: SuspendUsersInput!) { suspendUsers(input: $input) { changedCount } }",
            json!({ "input": { "userIds": [common::gid::user(o.dept_admin)] } }),
        )
        .await;
    assert_eq!(data(&body)["suspendUsers"]["changedCount"], 1);
    let body = app.gql(Some(&dana), "{ viewer { id } }", json!({})).await;
    assert_eq!(
        common::error_code(&body),
        Some("UNAUTHENTICATED"),
        "{body:#}"
    );
}

#[tokio::test]
async fn the_viewer_with_role_and_team_is_answered_from_the_sign_in_statement() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let query = "{ viewer { id name email role { name scope permissions } team { name department { name } } } }";
    let dana = app.token_for(o.dept_admin);
    let before = app.db.statement_count();
    let body = app.gql(Some(&dana), query, json!({})).await;
    let n = app.db.statement_count() - before;
    let viewer = &data(&body)["viewer"];
    assert_eq!(viewer["id"], common::gid::user(o.dept_admin));
    assert_eq!(viewer["name"], "Dana Department");
    assert_eq!(viewer["email"], "dana@a.test");
    assert_eq!(viewer["role"]["scope"], "DEPARTMENT");
    assert_eq!(viewer["team"]["name"], "Platform");
    assert_eq!(viewer["team"]["department"]["name"], "Engineering");
    // signing in (user, role, team) + the team's department
    assert_eq!(n, 2, "{n} statements for the viewer");
    let n = statements_for(
        &app,
        &dana,
        "{ viewer { id name role { name } team { name } } }",
    )
    .await;
    assert_eq!(n, 1, "{n} statements for the viewer with role and team");

    // A role renamed in one request shows in the next one's viewer.
    let admin = app.token_for(o.admin);
    let body = app
        .gql(
            Some(&admin),
            "mutation($input: UpdateTeamInput!) { updateTeam(input: $input) { team { id } } }",
            json!({ "input": { "id": common::gid::team(o.platform), "name": "Platform Core" } }),
        )
        .await;
    data(&body);
    let body = app.gql(Some(&dana), query, json!({})).await;
    assert_eq!(data(&body)["viewer"]["team"]["name"], "Platform Core");
}

#[tokio::test]
async fn a_page_of_users_with_role_and_team_is_one_statement_after_signing_in() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    for (i, team) in [o.general, o.platform, o.mobile, o.emea]
        .into_iter()
        .enumerate()
    {
        insert_users(
            &app,
            o.account_id,
            team,
            o.roles["SENDER"],
            &format!("Load {i}"),
            30,
        )
        .await;
    }
    let t = app.token_for(o.admin);
    let page = |n: usize, count: &str| {
        format!(
            "{{ users(first: {n}) {{ {count} nodes {{ id name email role {{ name }} team {{ name }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        )
    };
    for n in [5, 50, 100] {
        // signing in + the page with its roles and teams
        let plain = statements_for(&app, &t, &page(n, "")).await;
        assert_eq!(plain, 2, "{plain} statements for a page of {n}");
        // + the kept count
        let counted = statements_for(&app, &t, &page(n, "totalCount")).await;
        assert_eq!(counted, 3, "{counted} statements for a counted page of {n}");
    }
    // Through edges, a fragment, backwards and a Department Admin's reach: the same.
    let edges = "{ users(last: 20, orderBy: {field: EMAIL, direction: DESC}) { edges { cursor node { ...U } } } } fragment U on User { name role { name } team { name } }";
    assert_eq!(statements_for(&app, &t, edges).await, 2);
    let dana = app.token_for(o.dept_admin);
    assert_eq!(statements_for(&app, &dana, &page(50, "")).await, 2);

    // The same rows and related names as each user's own lookup.
    let body = app.gql(Some(&t), &page(100, ""), json!({})).await;
    let nodes = data(&body)["users"]["nodes"]
        .as_array()
        .expect("nodes")
        .clone();
    assert_eq!(nodes.len(), 100);
    for node in nodes.iter().step_by(9) {
        let body = app
            .gql(
                Some(&t),
                "query($id: ID!) { user(id: $id) { id name email role { name } team { name } } }",
                json!({ "id": node["id"] }),
            )
            .await;
        assert_eq!(&data(&body)["user"], node);
    }
    // The next page continues where this one ended (the cursor condition names the users'
    // columns, which the joined tables share).
    let cursor = data(&body)["users"]["pageInfo"]["endCursor"].clone();
    let body = app
        .gql(
            Some(&t),
            "query($after: String) { users(first: 100, after: $after) { nodes { id role { name } team { name } } } }",
            json!({ "after": cursor }),
        )
        .await;
    let rest = data(&body)["users"]["nodes"].as_array().expect("rest");
    assert!(!rest.is_empty());
    assert!(
        rest.iter()
            .all(|n| !nodes.iter().any(|m| m["id"] == n["id"]))
    );
}

#[tokio::test]
async fn a_loader_runs_the_same_statement_for_one_key_or_many_on_postgres() {
    let limits = roster::graphql::Limits {
        loader_delay: std::time::Duration::from_millis(25),
        ..Default::default()
    };
    let app = TestApp::spawn_with(limits, Default::default()).await;
    let o = Org::create(&app).await;
    let t = app.token_for(o.admin);
    // The member counts of 1 team, then of 4 (one loader statement each time).
    let mut texts = Vec::new();
    for n in [1, 4] {
        let query = format!("{{ teams(first: {n}) {{ nodes {{ name memberCount }} }} }}");
        app.db.start_recording();
        let body = app.gql(Some(&t), &query, json!({})).await;
        let recorded = app.db.stop_recording();
        assert_eq!(
            data(&body)["teams"]["nodes"].as_array().map(Vec::len),
            Some(n)
        );
        let counts: Vec<String> = recorded
            .into_iter()
            .map(|s| s.sql)
            .filter(|sql| sql.contains("user_counts"))
            .collect();
        assert_eq!(counts.len(), 1, "{counts:#?}");
        texts.push(counts[0].clone());
    }
    if common::on_postgres() {
        // `= ANY($2)`: one prepared statement, parsed once per connection, for any length.
        assert_eq!(texts[0], texts[1]);
        assert!(texts[0].contains("ANY"), "{}", texts[0]);
    } else {
        assert_ne!(texts[0], texts[1], "SQLite lists its ids");
    }
}

#[tokio::test]
async fn a_bulk_role_change_runs_the_same_statements_for_10_users_or_1000() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let query = "mutation($input: ChangeUsersRoleInput!) { changeUsersRole(input: $input) { changedCount errors { code } } }";
    let t = app.token_for(o.admin);
    let mut runs: Vec<Vec<String>> = Vec::new();
    for n in [10, 1000] {
        let ids = insert_users(
            &app,
            o.account_id,
            o.mobile,
            o.roles["SENDER"],
            &format!("Role{n}"),
            n,
        )
        .await;
        let input = json!({ "input": {
            "userIds": ids.iter().map(|id| common::gid::user(*id)).collect::<Vec<_>>(),
            "roleId": common::gid::role(o.roles["MANAGER"]),
        } });
        app.db.start_recording();
        let body = app.gql(Some(&t), query, input).await;
        let statements = app.db.stop_recording();
        assert_eq!(
            data(&body)["changeUsersRole"]["changedCount"],
            n,
            "{body:#}"
        );
        runs.push(statements.into_iter().map(|s| s.sql).collect());
    }
    let (small, large) = (&runs[0], &runs[1]);
    // principal; in the transaction: account lock (PostgreSQL), actor re-check, roles, the
    // role (locked), the targets, the update, then on PostgreSQL the audit rows, the event
    // sequence, the events and the NOTIFY in one statement; on SQLite the event sequence, the
    // events and the audit rows in one batch (one round trip).
    assert_eq!(
        small.len(),
        large.len(),
        "statements must not grow with the bulk size:\n{small:#?}\n{large:#?}"
    );
    let expected = if common::on_postgres() { 8 } else { 7 };
    assert_eq!(large.len(), expected, "{large:#?}");
    if common::on_postgres() {
        // The ids travel as one array parameter and the rows as one JSON parameter, so the
        // statement texts (and prepared statements, and plans) are the same for any size.
        assert_eq!(
            small, large,
            "one statement text per step, whatever the bulk size"
        );
    }
}

#[tokio::test]
async fn inviting_10_or_100_people_costs_the_same_statements() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let t = app.token_for(o.admin);
    let query = "mutation($inv: [InvitationInput!]!) { inviteUsers(input: { invitations: $inv }) { changedCount errors { code } } }";
    let mut counts = Vec::new();
    for n in [10, 100] {
        let invitations: Vec<_> = (0..n)
            .map(|i| {
                json!({
                    "email": format!("guest{n}.{i}@a.test"),
                    "teamId": common::gid::team(o.platform),
                    "roleId": common::gid::role(o.roles["SENDER"]),
                })
            })
            .collect();
        let before = app.db.statement_count();
        let body = app
            .gql(Some(&t), query, json!({ "inv": invitations }))
            .await;
        counts.push(app.db.statement_count() - before);
        assert_eq!(data(&body)["inviteUsers"]["changedCount"], n, "{body:#}");
    }
    assert_eq!(
        counts[0], counts[1],
        "statements must not grow with the number of invitations"
    );
}

/// PostgreSQL's trigram indexes queue new entries in a pending list, and the write that finds
/// it full merges it inline (the tail of a 1,000-user role change). A server merges it on a
/// timer instead (`Db::merge_search_entries`): the merge empties the list, and a search still
/// finds what it held. On SQLite there is nothing to merge.
#[tokio::test]
async fn search_index_entries_are_merged_off_the_write_path() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    if common::on_postgres() {
        // This test's database alone: no autovacuum merging the list meanwhile.
        app.db
            .conn()
            .execute_unprepared("ALTER TABLE users SET (autovacuum_enabled = false)")
            .await
            .expect("autovacuum off");
    }
    insert_users(
        &app,
        o.account_id,
        o.mobile,
        o.roles["SENDER"],
        "Pendinglist",
        300,
    )
    .await;
    let merged = app.db.merge_pending_search_entries().await.expect("merge");
    if common::on_postgres() {
        assert!(
            merged > 0,
            "300 new users leave entries in the pending list"
        );
    } else {
        assert_eq!(merged, 0);
    }
    assert_eq!(
        app.db.merge_pending_search_entries().await.expect("merge"),
        0,
        "the list is empty after a merge"
    );
    let t = app.token_for(o.admin);
    let body = app
        .gql(
            Some(&t),
            r#"{ users(filter: {search: "pendinglist 123"}) { totalCount nodes { name } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data(&body)["users"]["totalCount"], 1, "{body:#}");
}

#[tokio::test]
async fn a_page_of_users_is_planned_once_and_its_plan_reused() {
    use roster::service::ids::UserId;
    use roster::service::page::PageArgs;
    use roster::service::{principal, users};
    use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
    let app = TestApp::spawn().await;
    if !common::on_postgres() {
        // SQLite plans a statement once, when it is prepared: nothing to check.
        return;
    }
    let o = Org::create(&app).await;
    insert_users(
        &app,
        o.account_id,
        o.mobile,
        o.roles["SENDER"],
        "Planned",
        60,
    )
    .await;
    // One connection (a transaction's) runs the page several times, as a busy pool's
    // connections do, then reads how PostgreSQL planned it.
    let txn = app.db.conn().begin().await.expect("begin");
    let actor = principal::load_user(&txn, UserId(o.admin), None)
        .await
        .expect("the admin");
    let include = users::Include {
        roles: true,
        teams: true,
    };
    let order = users::Order {
        field: users::OrderField::Name,
        ascending: true,
    };
    for _ in 0..8 {
        let (listing, _) = users::list_with(
            &txn,
            &actor,
            &users::Filter::default(),
            order,
            &PageArgs::first(50),
            include,
        )
        .await
        .expect("a page");
        assert_eq!(listing.page.edges.len(), 50);
    }
    let row = txn
        .query_one_raw(Statement::from_string(
            txn.get_database_backend(),
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements \
             WHERE statement LIKE '%FROM \"users\" LEFT JOIN \"roles\"%' \
             AND statement LIKE '%LIMIT 51'",
        ))
        .await
        .expect("pg_prepared_statements")
        .expect("the page's statement is prepared, its limit written in");
    let generic: i64 = row.try_get("", "generic_plans").expect("generic_plans");
    let custom: i64 = row.try_get("", "custom_plans").expect("custom_plans");
    // A bound account or limit made PostgreSQL plan the page again on every execution
    // (custom plans only); with both written in, one plan serves every execution.
    assert_eq!(
        custom, 0,
        "the page was planned for its values {custom} times"
    );
    assert_eq!(generic, 8, "every execution reuses the one plan");
    txn.rollback().await.expect("rollback");
}
