//! The invitation journey end to end, as people live it: an admin invites, the outbox
//! worker emails a link, the invitee accepts with it and signs in; links are rotated by a
//! resend and killed by a withdraw; a deleted member comes back, with the same id, by
//! accepting a new invitation.

mod common;
#[path = "common/invites.rs"]
mod invites;

use common::{Org, TestApp, data, error_code, gid};
use invites::*;
use serde_json::json;

const VIEWER: &str = "{ viewer { id email name team { id name } role { id key } } }";

#[tokio::test]
async fn invite_email_accept_resend_withdraw_and_come_back() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let mail = MailDir::new();
    let worker = Worker::spawn(&app, mail.transport.clone(), settings());

    // 1. The admin invites; the worker emails the link.
    let first = invite_one(&app, &admin, "Joy@A.test", org.mobile, org.roles["MANAGER"]).await;
    let emails = mail.wait_for(1).await;
    let raw = &emails[0];
    assert_eq!(recipient(raw), "joy@a.test");
    assert!(
        raw.contains("Subject: You're invited to join Org A on Roster"),
        "{raw}"
    );
    let (_, text) = decoded_parts(raw)
        .into_iter()
        .find(|(kind, _)| kind == "text/plain")
        .unwrap();
    for needle in ["Ada Admin", "Mobile", "Manager", "Org A"] {
        assert!(text.contains(needle), "{needle} missing: {text}");
    }
    let token = token_from(raw);
    assert_eq!(token.len(), 43, "32 bytes, URL-safe base64 without padding");
    let stored = invite_row(&app, &first).await;
    assert_eq!(
        stored.token_hash.as_deref(),
        Some(roster::service::invites::token_hash(&token).as_slice()),
        "only the hash is stored"
    );
    assert!(!outbox_rows(&app).await.iter().any(|o| {
        o.last_error.as_deref().unwrap_or_default().contains(&token) || o.recipient.contains(&token)
    }));

    // 2. The invitee accepts and is signed in, in the invited team and role.
    let body = accept(&app, &token, "Joy Ride").await;
    let accepted = &data(&body)["acceptInvite"];
    let joy_id = accepted["user"]["id"].as_str().unwrap().to_owned();
    assert_eq!(accepted["user"]["name"], "Joy Ride");
    let joy_token = accepted["token"].as_str().expect("a token").to_owned();
    let viewer = app.gql(Some(&joy_token), VIEWER, json!({})).await;
    let v = &data(&viewer)["viewer"];
    assert_eq!(v["id"], joy_id.as_str());
    assert_eq!(v["email"], "joy@a.test");
    assert_eq!(v["team"]["id"], gid::team(org.mobile));
    assert_eq!(v["role"]["key"], "MANAGER");
    let shown = invite_via_api(&app, &admin, &first).await.unwrap();
    assert_eq!(shown["status"], "ACCEPTED");
    assert_eq!(shown["delivery"], "SENT");
    assert!(shown["acceptedAt"].is_string());

    // 3. The link works once.
    let body = accept(&app, &token, "Joy Again").await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    assert_eq!(reason(&body), Some("ALREADY_ACCEPTED"));
    assert_eq!(users_with_email(&app, "joy@a.test").await.len(), 1);

    // 4. A resend rotates the link: the first one dies, the new one works.
    let second = invite_one(
        &app,
        &admin,
        "sam.two@a.test",
        org.platform,
        org.roles["SENDER"],
    )
    .await;
    let old_link = token_from(&mail.wait_for(2).await[1]);
    let body = on_ids(&app, Some(&admin), "resendInvites", &[&second], false).await;
    assert_eq!(data(&body)["resendInvites"]["invites"][0]["sendCount"], 2);
    let body = accept(&app, &old_link, "Sam Two").await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body:#}");
    let new_link = token_from(&mail.wait_for(3).await[2]);
    assert_ne!(new_link, old_link);
    let body = accept(&app, &new_link, "Sam Two").await;
    assert_eq!(
        data(&body)["acceptInvite"]["user"]["email"],
        "sam.two@a.test"
    );

    // 5. A withdraw kills a link.
    let third = invite_one(
        &app,
        &admin,
        "wendy@a.test",
        org.platform,
        org.roles["SENDER"],
    )
    .await;
    let link = token_from(&mail.wait_for(4).await[3]);
    let body = on_ids(&app, Some(&admin), "withdrawInvites", &[&third], false).await;
    assert_eq!(data(&body)["withdrawInvites"]["changedCount"], 1);
    let body = accept(&app, &link, "Wendy").await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    assert_eq!(reason(&body), Some("WITHDRAWN"));
    assert!(users_with_email(&app, "wendy@a.test").await.is_empty());

    // 6. Joy is deleted; her token stops working at once …
    let joy_uuid = roster::service::ids::UserId::parse(&joy_id).unwrap().0;
    // A token Joy got earlier (issued seconds before the delete).
    let earlier = {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = json!({ "sub": joy_id, "iss": "roster", "aud": "roster", "iat": now - 5, "exp": now + 600 });
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(common::SECRET),
        )
        .unwrap()
    };
    assert!(app.gql(Some(&earlier), VIEWER, json!({})).await["errors"].is_null());
    let body = app
        .gql(
            Some(&admin),
            "mutation($ids: [ID!]!) { deleteUsers(input: { userIds: $ids }) { deletedIds errors { code } } }",
            json!({ "ids": [joy_id] }),
        )
        .await;
    assert_eq!(data(&body)["deleteUsers"]["deletedIds"], json!([joy_id]));
    let body = app.gql(Some(&joy_token), VIEWER, json!({})).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));

    // … re-invited into another team with another role, and comes back as the same user.
    let again = invite_one(
        &app,
        &admin,
        "joy@a.test",
        org.platform,
        org.roles["SENDER"],
    )
    .await;
    let link = token_from(&mail.wait_for(5).await[4]);
    let body = accept(&app, &link, "Joy Returned").await;
    let back = &data(&body)["acceptInvite"];
    assert_eq!(back["user"]["id"], joy_id.as_str(), "the same user id");
    assert_eq!(back["user"]["name"], "Joy Returned");
    assert_eq!(back["user"]["team"]["id"], gid::team(org.platform));
    assert_eq!(back["user"]["role"]["id"], gid::role(org.roles["SENDER"]));
    let viewer = app
        .gql(Some(back["token"].as_str().unwrap()), VIEWER, json!({}))
        .await;
    assert_eq!(data(&viewer)["viewer"]["id"], joy_id.as_str());
    // Tokens from before the delete do not come back to life with the user.
    let body = app.gql(Some(&earlier), VIEWER, json!({})).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");
    let rows = users_with_email(&app, "joy@a.test").await;
    assert_eq!(rows.len(), 1, "restored, not duplicated");
    assert_eq!(rows[0].deleted_at, None);
    assert_eq!(
        invite_row(&app, &again).await.accepted_user_id,
        Some(joy_uuid.into())
    );
    let restored: Vec<_> = audit_rows(&app)
        .await
        .into_iter()
        .filter(|e| e.action == "user.restored")
        .collect();
    assert_eq!(restored.len(), 1);
    assert_eq!(restored[0].target_id, joy_uuid);

    assert_eq!(mail.files().len(), 5, "one email per invitation or resend");
    worker.stop().await;
}
