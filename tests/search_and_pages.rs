//! `search` matches the same way on SQLite and PostgreSQL, and keyset pagination visits every
//! row exactly once in both directions, for every ordering.

mod common;
#[path = "common/invites.rs"]
mod invites;

use std::collections::HashSet;

use common::{Org, TestApp, data, error_code, gid, insert_users};
use serde_json::{Value, json};

async fn search(app: &TestApp, token: &str, q: &str, extra: Value) -> Vec<String> {
    let mut filter = json!({ "search": q });
    if let Value::Object(m) = extra {
        for (k, v) in m {
            filter[k] = v;
        }
    }
    let body = app
        .gql(
            Some(token),
            "query($f: UserFilter) { users(filter: $f, first: 100) { nodes { name } } }",
            json!({ "f": filter }),
        )
        .await;
    sorted_field(&body, "users", "name")
}

/// The invitations whose email matches `q`, sorted; checks `totalCount` agrees.
async fn search_invites(app: &TestApp, token: &str, q: &str) -> Vec<String> {
    let body = app
        .gql(
            Some(token),
            "query($q: String) { invites(filter: { search: $q }, first: 50) { totalCount nodes { email } } }",
            json!({ "q": q }),
        )
        .await;
    let emails = sorted_field(&body, "invites", "email");
    assert_eq!(data(&body)["invites"]["totalCount"], emails.len());
    emails
}

/// `field` of every node of the connection `list`, sorted.
fn sorted_field(body: &Value, list: &str, field: &str) -> Vec<String> {
    let mut values: Vec<String> = data(body)[list]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n[field].as_str().unwrap().to_owned())
        .collect();
    values.sort();
    values
}

#[tokio::test]
async fn search_is_case_insensitive_unicode_aware_and_literal() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let t = app.token_for(o.admin);
    assert_eq!(
        search(&app, &t, "ÄPF", json!({})).await,
        ["Alice Äpfelbaum"]
    );
    assert_eq!(
        search(&app, &t, "äpfelBAUM", json!({})).await,
        ["Alice Äpfelbaum"]
    );
    assert_eq!(search(&app, &t, "ÇEL", json!({})).await, ["Carol Çelik"]);
    // `%` and `_` are literal characters, not wildcards.
    assert_eq!(search(&app, &t, "%", json!({})).await, ["Bob 100%_Sure"]);
    assert_eq!(search(&app, &t, "_", json!({})).await, ["Bob 100%_Sure"]);
    assert_eq!(search(&app, &t, "0%_s", json!({})).await, ["Bob 100%_Sure"]);
    assert!(search(&app, &t, "a%e", json!({})).await.is_empty());
    // Email matches too, and filters combine with AND.
    assert_eq!(
        search(&app, &t, "BOB@A.", json!({})).await,
        ["Bob 100%_Sure"]
    );
    assert_eq!(
        search(
            &app,
            &t,
            "a.test",
            json!({ "teamIds": [gid::team(o.platform)] })
        )
        .await,
        ["Dana Department", "Manny Manager", "Sam Sender"]
    );
    assert_eq!(
        search(
            &app,
            &t,
            "a",
            json!({ "departmentIds": [gid::dept(o.sales)] })
        )
        .await,
        ["Bob 100%_Sure"]
    );
    assert_eq!(
        search(
            &app,
            &t,
            "",
            json!({ "roleIds": [gid::role(o.roles["MANAGER"])] })
        )
        .await,
        ["Manny Manager"]
    );
    // Search never reaches outside the caller's scope or account.
    assert!(search(&app, &t, "alice other", json!({})).await.is_empty());
    assert!(
        search(&app, &app.token_for(o.manager), "äpf", json!({}))
            .await
            .is_empty()
    );
    // A malformed filter id is a clear input error.
    let body = app
        .gql(
            Some(&t),
            "{ users(filter: { teamIds: [\"x\"] }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    assert_eq!(body["errors"][0]["extensions"]["field"], "teamIds");
}

const PAGE: &str = "query($o: UserOrder, $f: Int, $a: String, $l: Int, $b: String) {
  users(orderBy: $o, first: $f, after: $a, last: $l, before: $b, filter: { teamIds: [$team] }) {
    totalCount edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}";

async fn walk(app: &TestApp, token: &str, team: &str, order: Value, forward: bool) -> Vec<String> {
    let query = PAGE.replace("query(", "query($team: ID!, ");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let vars = if forward {
            json!({ "team": team, "o": order, "f": 7, "a": cursor })
        } else {
            json!({ "team": team, "o": order, "l": 7, "b": cursor })
        };
        let body = app.gql(Some(token), &query, vars).await;
        let users = &data(&body)["users"];
        let mut page: Vec<String> = users["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect();
        let info = &users["pageInfo"];
        if forward {
            seen.append(&mut page);
            if !info["hasNextPage"].as_bool().unwrap() {
                return seen;
            }
            cursor = info["endCursor"].as_str().map(str::to_owned);
        } else {
            page.append(&mut seen);
            seen = page;
            if !info["hasPreviousPage"].as_bool().unwrap() {
                return seen;
            }
            cursor = info["startCursor"].as_str().map(str::to_owned);
        }
    }
    panic!("pagination did not terminate");
}

#[tokio::test]
async fn paging_forward_and_backward_visits_every_row_once() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let ids = insert_users(
        &app,
        o.account_id,
        o.mobile,
        o.roles["SENDER"],
        "Page User",
        50,
    )
    .await;
    let expected: HashSet<String> = ids
        .iter()
        .chain([o.alice].iter())
        .map(|id| gid::user(*id))
        .collect();
    let t = app.token_for(o.admin);
    let team = gid::team(o.mobile);
    for field in ["NAME", "EMAIL", "CREATED_AT"] {
        for direction in ["ASC", "DESC"] {
            let order = json!({ "field": field, "direction": direction });
            let fwd = walk(&app, &t, &team, order.clone(), true).await;
            let back = walk(&app, &t, &team, order.clone(), false).await;
            assert_eq!(
                fwd.len(),
                expected.len(),
                "{field} {direction} forward visits each row once"
            );
            assert_eq!(
                fwd.iter().cloned().collect::<HashSet<_>>(),
                expected,
                "{field} {direction}"
            );
            assert_eq!(
                fwd, back,
                "{field} {direction}: backward walk gives the same order"
            );
        }
    }
    let q = PAGE.replace("query(", "query($team: ID!, ");
    let body = app.gql(Some(&t), &q, json!({ "team": team, "f": 5 })).await;
    assert_eq!(data(&body)["users"]["totalCount"], 51);
}

#[tokio::test]
async fn page_arguments_are_checked() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let t = app.token_for(o.admin);
    let cases = [
        ("{ users(first: 101) { totalCount } }", "LIMIT_EXCEEDED"),
        ("{ users(last: 1000) { totalCount } }", "LIMIT_EXCEEDED"),
        ("{ users(first: -1) { totalCount } }", "BAD_USER_INPUT"),
        (
            "{ users(first: 1, last: 1) { totalCount } }",
            "BAD_USER_INPUT",
        ),
        (
            "{ users(after: \"garbage\") { totalCount } }",
            "BAD_USER_INPUT",
        ),
    ];
    for (q, code) in cases {
        let body = app.gql(Some(&t), q, json!({})).await;
        assert_eq!(error_code(&body), Some(code), "{q}: {body}");
    }
    // A cursor of one ordering is refused by another.
    let body = app
        .gql(
            Some(&t),
            "{ users(first: 1) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let cursor = data(&body)["users"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = app
        .gql(
            Some(&t),
            "query($c: String) { users(first: 1, after: $c, orderBy: { field: CREATED_AT, direction: ASC }) { totalCount } }",
            json!({ "c": cursor }),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
}

#[tokio::test]
async fn search_follows_deletes_and_restores_with_a_new_name() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let t = app.token_for(o.admin);
    assert_eq!(
        search(&app, &t, "äpfelb", json!({})).await,
        ["Alice Äpfelbaum"]
    );

    let body = app
        .gql(
            Some(&t),
            "mutation($ids: [ID!]!) { deleteUsers(input: {userIds: $ids}) { errors { code } } }",
            json!({ "ids": [gid::user(o.alice)] }),
        )
        .await;
    assert_eq!(data(&body)["deleteUsers"]["errors"], json!([]));
    assert!(search(&app, &t, "äpfelb", json!({})).await.is_empty());
    assert!(search(&app, &t, "alice@a.t", json!({})).await.is_empty());

    // Re-invited and accepted under a new name: found by the new name and the same email,
    // no longer by the old name.
    let mail = invites::MailDir::new();
    invites::invite_one(&app, &t, "alice@a.test", o.general, o.roles["SENDER"]).await;
    assert_eq!(mail.deliver(&app).await, 1);
    let raw = mail.wait_for(1).await.remove(0);
    data(&invites::accept(&app, &invites::token_from(&raw), "Alicia Birnbaum").await);
    assert!(search(&app, &t, "äpfelb", json!({})).await.is_empty());
    assert_eq!(
        search(&app, &t, "birnb", json!({})).await,
        ["Alicia Birnbaum"]
    );
    assert_eq!(
        search(&app, &t, "alice@a.t", json!({})).await,
        ["Alicia Birnbaum"]
    );
}

#[tokio::test]
async fn a_full_email_matches_as_a_substring_like_any_other_query() {
    // An email is looked up through the index by its local part only; the whole query still
    // decides, on both databases.
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let t = app.token_for(o.admin);
    let sender = o.roles["SENDER"];
    insert_users(&app, o.account_id, o.general, sender, "Ann", 3).await;
    insert_users(&app, o.account_id, o.general, sender, "Jo Ann", 3).await;
    // "jo.ann.001@a.test" contains "ann.001@a.test" as well.
    assert_eq!(
        search(&app, &t, "ANN.001@A.test", json!({})).await,
        ["Ann 001", "Jo Ann 001"]
    );
    assert_eq!(
        search(&app, &t, "jo.ann.001@a.test", json!({})).await,
        ["Jo Ann 001"]
    );
    // The local part matches, the domain does not: nothing.
    assert!(
        search(&app, &t, "ann.001@b.test", json!({}))
            .await
            .is_empty()
    );
    assert!(
        search(&app, &t, "ann.001@a.test.org", json!({}))
            .await
            .is_empty()
    );
    // A short local part: the whole query is looked up.
    assert_eq!(
        search(&app, &t, "01@a.test", json!({})).await,
        ["Ann 001", "Jo Ann 001"]
    );
    // The other account's people never match.
    let other = app.token_for(o.other_admin);
    assert!(
        search(&app, &other, "ann.001@a.test", json!({}))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn invites_are_searched_by_email_substring_on_both_databases() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let t = app.token_for(o.admin);
    let sender = o.roles["SENDER"];
    let day = 86_400_000;
    for email in [
        "ann.001@a.test",
        "jo.ann.001@a.test",
        "ann.002@a.test",
        "ann.001@b.test",
    ] {
        common::insert_invite(
            &app,
            o.account_id,
            email,
            o.general,
            sender,
            day,
            false,
            false,
        )
        .await;
    }
    assert_eq!(
        search_invites(&app, &t, "ANN.001@A.TEST").await,
        ["ann.001@a.test", "jo.ann.001@a.test"]
    );
    assert_eq!(
        search_invites(&app, &t, "ann.001@b").await,
        ["ann.001@b.test"]
    );
    assert!(search_invites(&app, &t, "ann.001@c.test").await.is_empty());
    assert_eq!(
        search_invites(&app, &t, "@b.test").await,
        ["ann.001@b.test"]
    );
}
