//! Account settings shape new invitations: allowed domains bind everyone without
//! INVITE_ANY_DOMAIN, and the expiry applies to new invites and resends.

mod common;

use common::{Org, TestApp, data, gid};
use serde_json::{Value, json};

const UPDATE: &str = "mutation($d: [String!], $days: Int) { updateAccount(input: { allowedEmailDomains: $d, inviteExpiryDays: $days }) { account { allowedEmailDomains inviteExpiryDays } } }";
const INVITE: &str = "mutation($i: [InvitationInput!]!) { inviteUsers(input: { invitations: $i }) { invites { id email expiresAt } errors { index code } changedCount } }";
const RESEND: &str = "mutation($ids: [ID!]!) { resendInvites(input: { inviteIds: $ids }) { invites { expiresAt } errors { code } } }";

fn days_from_now(v: &Value) -> f64 {
    let at = chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    (at.timestamp_millis() - chrono::Utc::now().timestamp_millis()) as f64 / 86_400_000.0
}

#[tokio::test]
async fn domains_and_expiry_from_the_account_settings_apply_to_new_invites() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let admin = app.token_for(o.admin);
    let manager = app.token_for(o.manager);
    let body = app
        .gql(Some(&admin), UPDATE, json!({ "d": ["A.test"], "days": 3 }))
        .await;
    assert_eq!(
        data(&body)["updateAccount"]["account"],
        json!({ "allowedEmailDomains": ["a.test"], "inviteExpiryDays": 3 })
    );

    let invitation = |email: &str| json!({ "email": email, "teamId": gid::team(o.platform), "roleId": gid::role(o.roles["SENDER"]) });
    // A Manager (no INVITE_ANY_DOMAIN) is bound by the list; nothing is written.
    let body = app
        .gql(
            Some(&manager),
            INVITE,
            json!({ "i": [invitation("new@a.test"), invitation("x@elsewhere.test")] }),
        )
        .await;
    let p = &data(&body)["inviteUsers"];
    assert_eq!(
        p["errors"],
        json!([{ "index": 1, "code": "EMAIL_DOMAIN_NOT_ALLOWED" }])
    );
    assert_eq!(p["changedCount"], 0);

    // Within the list, the invite expires after the account's 3 days.
    let body = app
        .gql(
            Some(&manager),
            INVITE,
            json!({ "i": [invitation("new@a.test")] }),
        )
        .await;
    let invite = &data(&body)["inviteUsers"]["invites"][0];
    let days = days_from_now(&invite["expiresAt"]);
    assert!((2.99..=3.01).contains(&days), "expires in {days} days");

    // The Admin holds INVITE_ANY_DOMAIN.
    let body = app
        .gql(
            Some(&admin),
            INVITE,
            json!({ "i": [invitation("x@elsewhere.test")] }),
        )
        .await;
    assert_eq!(data(&body)["inviteUsers"]["changedCount"], 1);

    // A new expiry setting applies to resends; an empty list allows any domain again.
    app.gql(Some(&admin), UPDATE, json!({ "d": [], "days": 10 }))
        .await;
    let body = app
        .gql(Some(&manager), RESEND, json!({ "ids": [invite["id"]] }))
        .await;
    let days = days_from_now(&data(&body)["resendInvites"]["invites"][0]["expiresAt"]);
    assert!(
        (9.99..=10.01).contains(&days),
        "resent invite expires in {days} days"
    );
    let body = app
        .gql(
            Some(&manager),
            INVITE,
            json!({ "i": [invitation("y@elsewhere.test")] }),
        )
        .await;
    assert_eq!(data(&body)["inviteUsers"]["changedCount"], 1, "{body}");
}
