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
