//! The pages behind the links: `GET /accept-invite?token=…` (what an invitee sees, and the
//! one "no longer valid" answer for every dead link), the demo's mailbox at `/demo/mail`,
//! and GraphiQL's example query — over real HTTP on a real database.

mod common;
#[path = "common/invites.rs"]
mod invites;

use std::sync::Arc;
use std::time::Duration;

use common::{Org, TestApp, data, error_code};
use invites::*;
use roster::app::HttpSettings;
use roster::entity::user;
use roster::graphql::Limits;
use roster::mail::mailbox::{self, Mailbox};
use roster::mail::{MailSpec, build_transport};
use roster::ratelimit::RateLimits;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

/// A server whose sent emails land in a mailbox, as in `roster demo`.
async fn spawn_with_mailbox(rate_limits: RateLimits) -> (TestApp, Arc<Mailbox>, Worker) {
    let mailbox = Mailbox::new(50);
    let http = HttpSettings {
        demo_mailbox: Some(mailbox.clone()),
        rate_limits,
        ..HttpSettings::default()
    };
    let app = TestApp::spawn_with(Limits::default(), http).await;
    let log = build_transport(&MailSpec::Log, "Roster <no-reply@roster.test>").expect("log");
    let worker = Worker::spawn(&app, mailbox::keeping(log, mailbox.clone()), settings());
    (app, mailbox, worker)
}

/// Waits until the mailbox holds `n` emails; returns the newest one's accept token.
async fn newest_token(mailbox: &Mailbox, n: usize) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while mailbox.len() < n {
        assert!(tokio::time::Instant::now() < deadline, "no email arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let text = mailbox.list()[0].email.text.clone();
    let marker = "/accept-invite?token=";
    let start = text.find(marker).expect("accept link") + marker.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

struct Page {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

async fn get(app: &TestApp, path_and_query: &str) -> Page {
    let res = app
        .http
        .get(format!("{}{path_and_query}", app.url))
        .send()
        .await
        .expect("request");
    Page {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: res.text().await.expect("body"),
    }
}

async fn accept_page(app: &TestApp, token: &str) -> Page {
    get(app, &format!("/accept-invite?token={token}")).await
}

/// The page without its per-response nonce, to compare two answers byte for byte.
fn without_nonce(page: &Page) -> String {
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    let start = csp.find("'nonce-").unwrap() + "'nonce-".len();
    let nonce = &csp[start..start + csp[start..].find('\'').unwrap()];
    page.body.replace(nonce, "NONCE")
}

#[tokio::test]
async fn the_accept_page_shows_who_invited_whom_where_and_the_link_then_dies() {
    let (app, mailbox, _worker) = spawn_with_mailbox(RateLimits::OFF).await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    invite_one(&app, &admin, "joy@a.test", org.mobile, org.roles["MANAGER"]).await;
    let token = newest_token(&mailbox, 1).await;

    let page = accept_page(&app, &token).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for needle in [
        "<strong>Ada Admin</strong> invited you",
        "joy@a.test",
        "<strong>Mobile</strong> team",
        "<strong>Org A</strong>",
        "<strong>Manager</strong>",
        "<label for=\"name\">",
        "mutation AcceptInvite",
    ] {
        assert!(
            page.body.contains(needle),
            "{needle} missing: {}",
            page.body
        );
    }
    assert!(
        !page.body.contains(&token),
        "the token is read from the URL, not echoed"
    );
    assert_eq!(page.headers["cache-control"], "no-store");
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'nonce-") && csp.contains("connect-src 'self'"),
        "{csp}"
    );

    // Looking does not use the link up: the page's mutation accepts it.
    let body = app
        .gql(
            None,
            ACCEPT,
            json!({ "input": { "token": token, "name": "Joy Ride" } }),
        )
        .await;
    assert_eq!(data(&body)["acceptInvite"]["user"]["name"], "Joy Ride");

    let used = accept_page(&app, &token).await;
    assert_eq!(used.status, 404);
    assert!(
        used.body
            .contains("This invitation link is no longer valid")
    );
    assert!(!used.body.contains("joy@a.test") && !used.body.contains("Mobile"));
}

#[tokio::test]
async fn every_dead_link_gets_the_same_no_longer_valid_page() {
    let (app, mailbox, _worker) = spawn_with_mailbox(RateLimits::OFF).await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let roles = &org.roles;

    invite_one(&app, &admin, "acc@a.test", org.mobile, roles["SENDER"]).await;
    let accepted_token = newest_token(&mailbox, 1).await;
    let body = accept(&app, &accepted_token, "Acc Epted").await;
    data(&body);

    let withdrawn = invite_one(&app, &admin, "wd@a.test", org.mobile, roles["SENDER"]).await;
    let withdrawn_token = newest_token(&mailbox, 2).await;
    data(&on_ids(&app, Some(&admin), "withdrawInvites", &[&withdrawn], false).await);

    let expired = invite_one(&app, &admin, "ex@a.test", org.mobile, roles["SENDER"]).await;
    let expired_token = newest_token(&mailbox, 3).await;
    expire(&app, &expired).await;

    let resent = invite_one(&app, &admin, "rs@a.test", org.mobile, roles["SENDER"]).await;
    let replaced_token = newest_token(&mailbox, 4).await;
    data(&on_ids(&app, Some(&admin), "resendInvites", &[&resent], false).await);
    let fresh_token = newest_token(&mailbox, 5).await;

    let deleted = invite_one(&app, &admin, "del@a.test", org.mobile, roles["SENDER"]).await;
    let deleted_token = newest_token(&mailbox, 6).await;
    data(&on_ids(&app, Some(&admin), "deleteInvites", &[&deleted], false).await);

    let reference = without_nonce(&accept_page(&app, "x").await);
    for (what, path) in [
        (
            "unknown",
            "/accept-invite?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned(),
        ),
        ("empty", "/accept-invite?token=".to_owned()),
        ("missing", "/accept-invite".to_owned()),
        ("malformed query", "/accept-invite?token=%zz".to_owned()),
        ("accepted", format!("/accept-invite?token={accepted_token}")),
        (
            "withdrawn",
            format!("/accept-invite?token={withdrawn_token}"),
        ),
        ("expired", format!("/accept-invite?token={expired_token}")),
        (
            "replaced by a resend",
            format!("/accept-invite?token={replaced_token}"),
        ),
        ("deleted", format!("/accept-invite?token={deleted_token}")),
    ] {
        let page = get(&app, &path).await;
        assert_eq!(page.status, 404, "{what}: {}", page.body);
        assert_eq!(
            without_nonce(&page),
            reference,
            "{what} tells more than the others"
        );
    }
    assert!(reference.contains("This invitation link is no longer valid"));
    assert!(!reference.contains("@a.test"));

    // The resent link works.
    assert_eq!(accept_page(&app, &fresh_token).await.status, 200);
}

#[tokio::test]
async fn names_on_the_accept_page_are_escaped() {
    let (app, mailbox, _worker) = spawn_with_mailbox(RateLimits::OFF).await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let evil_team = roster::service::teams::insert_team(
        app.db.conn(),
        org.account_id.into(),
        &roster::service::text::Name::parse("name", "<script>alert('team')</script>").unwrap(),
        None,
        roster::service::now_ms(),
    )
    .await
    .unwrap();
    user::Entity::update_many()
        .col_expr(
            user::Column::Name,
            Expr::value("<img src=x onerror=alert(1)> & \"co\""),
        )
        .filter(user::Column::Id.eq(org.admin))
        .exec(app.db.conn())
        .await
        .unwrap();
    invite_one(
        &app,
        &admin,
        "x@a.test",
        evil_team.id.0,
        org.roles["SENDER"],
    )
    .await;
    let token = newest_token(&mailbox, 1).await;

    let page = accept_page(&app, &token).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("<img"), "{}", page.body);
    assert!(!page.body.contains("<script>alert"), "{}", page.body);
    assert!(
        page.body
            .contains("&lt;img src=x onerror=alert(1)&gt; &amp; &quot;co&quot;"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("&lt;script&gt;alert(&#39;team&#39;)&lt;/script&gt;")
    );
    // The only scripts are the page's own, carrying the response's nonce.
    assert_eq!(page.body.matches("<script").count(), 1, "{}", page.body);
}

#[tokio::test]
async fn opening_the_page_counts_as_an_accept_invite_attempt() {
    let limits = RateLimits {
        accept_invite_per_ip: 2,
        ..RateLimits::OFF
    };
    let (app, _mailbox, _worker) = spawn_with_mailbox(limits).await;
    assert_eq!(accept_page(&app, "guess1").await.status, 404);
    assert_eq!(accept_page(&app, "guess2").await.status, 404);
    let limited = accept_page(&app, "guess3").await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(limited.headers.contains_key("retry-after"));
    assert!(!limited.body.contains("no longer valid"));
    // The same bucket as the mutation.
    let body = accept(&app, "guess4", "Guess").await;
    assert_eq!(error_code(&body), Some("RATE_LIMITED"));
}

#[tokio::test]
async fn the_demo_mailbox_lists_sent_emails_and_shows_each_with_its_accept_link() {
    let (app, _mailbox, _worker) = spawn_with_mailbox(RateLimits::OFF).await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);

    let empty = get(&app, "/demo/mail").await;
    assert_eq!(empty.status, 200);
    assert!(empty.body.contains("No emails yet"), "{}", empty.body);

    invite_one(
        &app,
        &admin,
        "newbie@a.test",
        org.platform,
        org.roles["SENDER"],
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let list = loop {
        let list = get(&app, "/demo/mail").await;
        if list.body.contains("newbie@a.test") {
            break list;
        }
        assert!(tokio::time::Instant::now() < deadline, "{}", list.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        list.body
            .contains("You&#39;re invited to join Org A on Roster"),
        "{}",
        list.body
    );
    assert!(list.body.contains("href=\"/demo/mail/1\""), "{}", list.body);

    let email = get(&app, "/demo/mail/1").await;
    assert_eq!(email.status, 200);
    assert_eq!(email.headers["cache-control"], "no-store");
    let marker = format!("id=\"accept-link\" href=\"{PUBLIC_URL}/accept-invite?token=");
    let start = email.body.find(&marker).expect("accept link") + marker.len();
    let token: String = email.body[start..]
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    assert_eq!(accept_page(&app, &token).await.status, 200);
    let html = get(&app, "/demo/mail/1/html").await;
    assert_eq!(html.status, 200);
    assert!(html.body.contains("Accept invitation"), "{}", html.body);
    let csp = html.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.starts_with("sandbox") && !csp.contains("allow-scripts"),
        "{csp}"
    );

    assert_eq!(get(&app, "/demo/mail/99").await.status, 404);
    assert_eq!(get(&app, "/demo/mail/x").await.status, 404);
}

#[tokio::test]
async fn there_is_no_mailbox_outside_the_demo() {
    let app = TestApp::spawn().await;
    assert_eq!(get(&app, "/demo/mail").await.status, 404);
    assert_eq!(get(&app, "/demo/mail/1").await.status, 404);
    assert_eq!(get(&app, "/demo/mail/1/html").await.status, 404);
}

#[tokio::test]
async fn graphiqls_example_query_runs() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let body = app
        .gql(
            Some(&app.token_for(org.admin)),
            roster::graphiql::EXAMPLE_QUERY,
            json!({}),
        )
        .await;
    let d = data(&body);
    assert_eq!(d["viewer"]["name"], "Ada Admin");
    assert!(d["users"]["totalCount"].as_i64().unwrap() > 0);
    let page = get(&app, "/graphql?query=%7Bviewer%7Bname%7D%7D").await;
    assert!(page.body.contains("defaultQuery:"), "{}", page.body);
}
