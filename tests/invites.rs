//! The invitation mutations over HTTP: every refusal code, all-or-nothing, dry runs, the
//! bulk limit, the permission matrix, resend/withdraw/delete, accepting (also concurrently)
//! and expiry. Runs on SQLite, and on PostgreSQL when `DATABASE_URL` points at one.

mod common;
#[path = "common/invites.rs"]
mod invites;

use common::{Org, TestApp, data, error_code, gid};
use invites::*;
use roster::entity::{account, role};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

fn codes(payload: &Value) -> Vec<(i64, String)> {
    payload["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["index"].as_i64().expect("index"),
                e["code"].as_str().expect("code").to_owned(),
            )
        })
        .collect()
}

fn refused(payload: &Value) {
    assert_eq!(payload["invites"], json!([]), "{payload:#}");
    assert_eq!(payload["changedCount"], 0, "{payload:#}");
    assert_eq!(payload["operationId"], Value::Null, "{payload:#}");
}

/// Nothing of the invitation lifecycle was written.
async fn assert_nothing_written(app: &TestApp) {
    assert!(invite_rows(app).await.is_empty(), "no invites");
    assert!(outbox_rows(app).await.is_empty(), "no outbox rows");
    assert!(audit_rows(app).await.is_empty(), "no audit events");
}

/// Sends the queued emails and returns the token of the newest one.
async fn deliver_and_take_token(app: &TestApp, mail: &MailDir) -> String {
    assert!(mail.deliver(app).await >= 1, "an email went out");
    token_from(&mail.newest())
}

#[tokio::test]
async fn admin_invites_users_and_queues_their_emails_in_one_operation() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let body = invite(
        &app,
        &admin,
        vec![
            invitation(" New.One@A.test ", org.platform, org.roles["SENDER"]),
            invitation("new.two@a.test", org.mobile, org.roles["MANAGER"]),
        ],
        false,
    )
    .await;
    let p = &data(&body)["inviteUsers"];
    assert_eq!(p["errors"], json!([]));
    assert_eq!(p["changedCount"], 2);
    assert_eq!(p["dryRun"], false);
    let op = p["operationId"].as_str().expect("operation id").to_owned();
    assert_eq!(p["invites"][0]["email"], "new.one@a.test");
    assert_eq!(p["invites"][0]["status"], "PENDING");
    assert_eq!(p["invites"][0]["delivery"], "QUEUED");
    assert_eq!(p["invites"][0]["sendCount"], 1);
    assert_eq!(p["invites"][0]["team"]["id"], gid::team(org.platform));
    assert_eq!(
        p["invites"][1]["role"]["id"],
        gid::role(org.roles["MANAGER"])
    );
    assert_eq!(p["invites"][1]["invitedBy"]["id"], gid::user(org.admin));

    let rows = invite_rows(&app).await;
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(
            row.token_hash, None,
            "the token is made when the email is sent"
        );
        assert_eq!(row.invited_by, Some(org.admin.into()));
        assert_eq!(row.expires_at - row.created_at, 7 * 86_400_000);
    }
    let outbox = outbox_rows(&app).await;
    assert_eq!(outbox.len(), 2);
    assert!(
        outbox
            .iter()
            .all(|o| o.status.as_str() == "PENDING" && o.kind == "invite")
    );
    let mut recipients: Vec<&str> = outbox.iter().map(|o| o.recipient.as_str()).collect();
    recipients.sort();
    assert_eq!(recipients, ["new.one@a.test", "new.two@a.test"]);

    // One invite.created per invite, all with the mutation's operation id.
    let events = app
        .gql(
            Some(&admin),
            "query($op: ID!) { auditEvents(filter: { operationId: $op }) { nodes { operationId action targetType targetId targetLabel after } } }",
            json!({ "op": op }),
        )
        .await;
    let nodes = data(&events)["auditEvents"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(nodes.len(), 2);
    for n in &nodes {
        assert_eq!(n["operationId"], op.as_str());
        assert_eq!(n["action"], "invite.created");
        assert_eq!(n["targetType"], "Invite");
        assert_eq!(n["after"]["status"], "PENDING");
    }
    let mut labels: Vec<&str> = nodes
        .iter()
        .map(|n| n["targetLabel"].as_str().unwrap())
        .collect();
    labels.sort();
    assert_eq!(labels, ["new.one@a.test", "new.two@a.test"]);
    assert_eq!(audit_rows(&app).await.len(), 2);
}

#[tokio::test]
async fn invalid_emails_duplicates_and_unknown_ids_are_refused_per_item() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let unknown_role = gid::role(uuid::Uuid::now_v7());
    let body = invite(
        &app,
        &admin,
        vec![
            invitation("fine@a.test", org.platform, org.roles["SENDER"]),
            invitation("not-an-email", org.platform, org.roles["SENDER"]),
            invitation("FINE@a.test", org.mobile, org.roles["SENDER"]),
            invitation("other@a.test", org.other_team, org.roles["SENDER"]),
            json!({ "email": "role@a.test", "teamId": gid::team(org.platform), "roleId": unknown_role }),
            json!({ "email": "team@a.test", "teamId": "team_nonsense", "roleId": gid::role(org.roles["SENDER"]) }),
        ],
        false,
    )
    .await;
    let p = &data(&body)["inviteUsers"];
    refused(p);
    assert_eq!(
        codes(p),
        [
            (1, "INVALID_EMAIL".into()),
            (2, "DUPLICATE".into()),
            (3, "NOT_FOUND".into()),
            (4, "NOT_FOUND".into()),
            (5, "NOT_FOUND".into()),
        ]
    );
    assert_eq!(p["errors"][0]["email"], "not-an-email");
    assert_eq!(p["errors"][1]["email"], "FINE@a.test");
    assert_assert_message_mentions(&p["errors"][2], "team");
    assert_assert_message_mentions(&p["errors"][3], "role");
    assert_nothing_written(&app).await;
}

fn assert_assert_message_mentions(error: &Value, word: &str) {
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains(word), "{error:#}");
}

#[tokio::test]
async fn manager_may_invite_into_own_team_only() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let manager = app.token_for(org.manager);
    let body = invite(
        &app,
        &manager,
        vec![invitation("m1@a.test", org.platform, org.roles["SENDER"])],
        false,
    )
    .await;
    assert_eq!(data(&body)["inviteUsers"]["changedCount"], 1);

    let body = invite(
        &app,
        &manager,
        vec![
            invitation("m2@a.test", org.platform, org.roles["SENDER"]),
            invitation("m3@a.test", org.mobile, org.roles["SENDER"]),
            invitation("m4@a.test", org.general, org.roles["SENDER"]),
        ],
        false,
    )
    .await;
    let p = &data(&body)["inviteUsers"];
    refused(p);
    assert_eq!(codes(p), [(1, "NOT_FOUND".into()), (2, "NOT_FOUND".into())]);
    let rows = invite_rows(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].email, "m1@a.test");

    // Within the team, the manager manages the invitation too.
    let id = gid::invite(rows[0].id);
    let body = on_ids(&app, Some(&manager), "withdrawInvites", &[&id], false).await;
    assert_eq!(data(&body)["withdrawInvites"]["changedCount"], 1);
    assert!(invite_row(&app, &id).await.withdrawn_at.is_some());
}

#[tokio::test]
async fn manager_cannot_grant_admin() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let manager = app.token_for(org.manager);
    let body = invite(
        &app,
        &manager,
        vec![
            invitation("boss@a.test", org.platform, org.roles["ADMIN"]),
            invitation("dept@a.test", org.platform, org.roles["DEPARTMENT_ADMIN"]),
            invitation("peer@a.test", org.platform, org.roles["MANAGER"]),
        ],
        false,
    )
    .await;
    let p = &data(&body)["inviteUsers"];
    refused(p);
    assert_eq!(
        codes(p),
        [
            (0, "ROLE_NOT_GRANTABLE".into()),
            (1, "ROLE_NOT_GRANTABLE".into())
        ]
    );
    assert_nothing_written(&app).await;
}

#[tokio::test]
async fn department_admin_invites_within_their_department() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let dept = app.token_for(org.dept_admin);
    let body = invite(
        &app,
        &dept,
        vec![
            invitation("d1@a.test", org.platform, org.roles["MANAGER"]),
            invitation("d2@a.test", org.mobile, org.roles["SENDER"]),
        ],
        false,
    )
    .await;
    assert_eq!(data(&body)["inviteUsers"]["changedCount"], 2);

    let body = invite(
        &app,
        &dept,
        vec![
            invitation("d3@a.test", org.emea, org.roles["SENDER"]),
            invitation("d4@a.test", org.general, org.roles["SENDER"]),
            invitation("d5@a.test", org.mobile, org.roles["ADMIN"]),
        ],
        false,
    )
    .await;
    let p = &data(&body)["inviteUsers"];
    assert_eq!(
        codes(p),
        [
            (0, "NOT_FOUND".into()),
            (1, "NOT_FOUND".into()),
            (2, "ROLE_NOT_GRANTABLE".into())
        ]
    );
    assert_eq!(invite_rows(&app).await.len(), 2);
}

#[tokio::test]
async fn allowed_domains_bind_managers_but_not_admins() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    account::Entity::update_many()
        .col_expr(
            account::Column::AllowedEmailDomains,
            Expr::value(r#"["a.test"]"#),
        )
        .filter(account::Column::Id.eq(org.account_id))
        .exec(app.db.conn())
        .await
        .unwrap();
    let manager = app.token_for(org.manager);
    let body = invite(
        &app,
        &manager,
        vec![
            invitation("x@elsewhere.test", org.platform, org.roles["SENDER"]),
            invitation("y@a.test", org.platform, org.roles["SENDER"]),
        ],
        false,
    )
    .await;
    let p = &data(&body)["inviteUsers"];
    refused(p);
    assert_eq!(codes(p), [(0, "EMAIL_DOMAIN_NOT_ALLOWED".into())]);
    assert_nothing_written(&app).await;

    // The Admin holds INVITE_ANY_DOMAIN.
    let admin = app.token_for(org.admin);
    let body = invite(
        &app,
        &admin,
        vec![invitation(
            "x@elsewhere.test",
            org.platform,
            org.roles["SENDER"],
        )],
        false,
    )
    .await;
    assert_eq!(data(&body)["inviteUsers"]["changedCount"], 1);
    let rows = invite_rows(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].email, "x@elsewhere.test");
}

#[tokio::test]
async fn members_and_pending_invitations_are_refused() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    invite_one(
        &app,
        &admin,
        "pending@a.test",
        org.platform,
        org.roles["SENDER"],
    )
    .await;
    let body = invite(
        &app,
        &admin,
        vec![
            invitation("ALICE@a.test", org.platform, org.roles["SENDER"]),
            invitation("Pending@A.test", org.mobile, org.roles["SENDER"]),
            // A member of the other account is no member here.
            invitation("alice@b.test", org.mobile, org.roles["SENDER"]),
        ],
        false,
    )
    .await;
    let p = &data(&body)["inviteUsers"];
    refused(p);
    assert_eq!(
        codes(p),
        [(0, "ALREADY_MEMBER".into()), (1, "ALREADY_INVITED".into())]
    );
    let rows = invite_rows(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].team_id, org.platform.into());
    assert_eq!(outbox_rows(&app).await.len(), 1);
}

#[tokio::test]
async fn an_expired_invitation_is_superseded_by_a_new_one() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let old = invite_one(
        &app,
        &admin,
        "late@a.test",
        org.platform,
        org.roles["SENDER"],
    )
    .await;
    expire(&app, &old).await;
    let body = invite(
        &app,
        &admin,
        vec![invitation("late@a.test", org.mobile, org.roles["MANAGER"])],
        false,
    )
    .await;
    let p = &data(&body)["inviteUsers"];
    assert_eq!(p["errors"], json!([]));
    let new = p["invites"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(p["invites"][0]["status"], "PENDING");

    let old_now = invite_via_api(&app, &admin, &old)
        .await
        .expect("old invite");
    assert_eq!(old_now["status"], "WITHDRAWN");
    assert!(old_now["withdrawnAt"].is_string());
    let old_mail = outbox_of(&app, &old).await;
    assert_eq!(old_mail.len(), 1);
    assert_eq!(old_mail[0].status.as_str(), "CANCELLED");
    assert_eq!(outbox_of(&app, &new).await[0].status.as_str(), "PENDING");

    let op = p["operationId"].as_str().unwrap();
    let events = app
        .gql(
            Some(&admin),
            "query($op: ID!) { auditEvents(filter: { operationId: $op }) { nodes { action targetId after } } }",
            json!({ "op": op }),
        )
        .await;
    let nodes = data(&events)["auditEvents"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    let withdrawn = nodes
        .iter()
        .find(|n| n["action"] == "invite.withdrawn")
        .expect("the superseded invite is audited");
    assert_eq!(withdrawn["targetId"], old.as_str());
    assert_eq!(withdrawn["after"]["supersededBy"], new.as_str());
    assert!(
        nodes
            .iter()
            .any(|n| n["action"] == "invite.created" && n["targetId"] == new.as_str())
    );
}

#[tokio::test]
async fn one_bad_email_among_many_writes_nothing() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let mut items: Vec<Value> = (0..200)
        .map(|i| {
            invitation(
                &format!("many{i}@a.test"),
                org.platform,
                org.roles["SENDER"],
            )
        })
        .collect();
    items[137] = invitation("many137@@a.test", org.platform, org.roles["SENDER"]);
    let body = invite(&app, &admin, items, false).await;
    let p = &data(&body)["inviteUsers"];
    refused(p);
    assert_eq!(codes(p), [(137, "INVALID_EMAIL".into())]);
    assert_eq!(p["errors"][0]["email"], "many137@@a.test");
    assert_nothing_written(&app).await;
}

#[tokio::test]
async fn dry_runs_check_everything_and_write_nothing() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let body = invite(
        &app,
        &admin,
        vec![
            invitation("dry1@a.test", org.platform, org.roles["SENDER"]),
            invitation("dry2@a.test", org.emea, org.roles["ADMIN"]),
        ],
        true,
    )
    .await;
    let p = &data(&body)["inviteUsers"];
    assert_eq!(p["dryRun"], true);
    assert_eq!(p["changedCount"], 2);
    assert_eq!(p["errors"], json!([]));
    assert_eq!(p["operationId"], Value::Null);
    assert_eq!(p["invites"][1]["email"], "dry2@a.test");
    assert_eq!(p["invites"][1]["status"], "PENDING");
    assert_nothing_written(&app).await;

    let body = invite(
        &app,
        &admin,
        vec![
            invitation("dry1@a.test", org.platform, org.roles["SENDER"]),
            invitation("carol@a.test", org.platform, org.roles["SENDER"]),
        ],
        true,
    )
    .await;
    let p = &data(&body)["inviteUsers"];
    assert_eq!(p["dryRun"], true);
    refused(p);
    assert_eq!(codes(p), [(1, "ALREADY_MEMBER".into())]);
    assert_nothing_written(&app).await;

    // The id-based mutations too.
    let id = invite_one(
        &app,
        &admin,
        "real@a.test",
        org.platform,
        org.roles["SENDER"],
    )
    .await;
    let audit_before = audit_rows(&app).await.len();
    for mutation in ["resendInvites", "withdrawInvites", "deleteInvites"] {
        let body = on_ids(&app, Some(&admin), mutation, &[&id], true).await;
        let p = &data(&body)[mutation];
        assert_eq!(p["dryRun"], true, "{mutation}");
        assert_eq!(p["changedCount"], 1, "{mutation}");
        assert_eq!(p["operationId"], Value::Null, "{mutation}");
    }
    let body = on_ids(&app, Some(&admin), "withdrawInvites", &[&id], true).await;
    assert_eq!(
        data(&body)["withdrawInvites"]["invites"][0]["status"],
        "WITHDRAWN"
    );
    let row = invite_row(&app, &id).await;
    assert_eq!(
        (row.send_count, row.withdrawn_at, row.deleted_at),
        (1, None, None)
    );
    assert_eq!(outbox_rows(&app).await.len(), 1);
    assert_eq!(audit_rows(&app).await.len(), audit_before);
}

#[tokio::test]
async fn a_thousand_invitations_fit_in_one_call_and_more_are_refused() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let items: Vec<Value> = (0..1000)
        .map(|i| {
            invitation(
                &format!("bulk{i:04}@a.test"),
                org.platform,
                org.roles["SENDER"],
            )
        })
        .collect();
    let statements = app.db.statement_count();
    let body = app
        .gql(
            Some(&admin),
            "mutation($input: InviteUsersInput!) { inviteUsers(input: $input) { invites { id } changedCount errors { index code } operationId } }",
            json!({ "input": { "invitations": items } }),
        )
        .await;
    // Set-based: a handful of statements, not one (or more) per invitation.
    let used = app.db.statement_count() - statements;
    assert!(used < 40, "{used} statements for 1,000 invitations");
    let p = &data(&body)["inviteUsers"];
    assert_eq!(p["errors"], json!([]));
    assert_eq!(p["changedCount"], 1000);
    assert_eq!(p["invites"].as_array().unwrap().len(), 1000);
    assert_eq!(invite_rows(&app).await.len(), 1000);
    assert_eq!(outbox_rows(&app).await.len(), 1000);
    let audit = audit_rows(&app).await;
    assert_eq!(audit.len(), 1000);
    assert!(audit.iter().all(|e| e.action == "invite.created"));

    // The id-based mutations take 1,000 too: resend them all.
    let ids: Vec<&str> = p["invites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    let body = app
        .gql(
            Some(&admin),
            "mutation($input: InviteIdsInput!) { resendInvites(input: $input) { changedCount errors { index code } } }",
            json!({ "input": { "inviteIds": ids } }),
        )
        .await;
    assert_eq!(data(&body)["resendInvites"]["changedCount"], 1000);
    assert!(invite_rows(&app).await.iter().all(|i| i.send_count == 2));
    assert_eq!(outbox_rows(&app).await.len(), 2000);

    let items: Vec<Value> = (0..1001)
        .map(|i| {
            invitation(
                &format!("over{i:04}@a.test"),
                org.platform,
                org.roles["SENDER"],
            )
        })
        .collect();
    let body = invite(&app, &admin, items, false).await;
    assert_eq!(error_code(&body), Some("LIMIT_EXCEEDED"), "{body:#}");
    let mut too_many: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    too_many.push(gid::invite(uuid::Uuid::now_v7()));
    let refs: Vec<&str> = too_many.iter().map(String::as_str).collect();
    let body = on_ids(&app, Some(&admin), "withdrawInvites", &refs, false).await;
    assert_eq!(error_code(&body), Some("LIMIT_EXCEEDED"), "{body:#}");
    assert_eq!(invite_rows(&app).await.len(), 1000);
    assert!(
        invite_rows(&app)
            .await
            .iter()
            .all(|i| i.withdrawn_at.is_none())
    );
}

#[tokio::test]
async fn sender_is_forbidden_every_invite_mutation() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let id = invite_one(
        &app,
        &admin,
        "target@a.test",
        org.platform,
        org.roles["SENDER"],
    )
    .await;
    let sender = app.token_for(org.sender);
    let body = invite(
        &app,
        &sender,
        vec![invitation("s@a.test", org.platform, org.roles["SENDER"])],
        false,
    )
    .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body:#}");
    for mutation in ["resendInvites", "withdrawInvites", "deleteInvites"] {
        let body = on_ids(&app, Some(&sender), mutation, &[&id], false).await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{mutation}: {body:#}");
    }
    // And without any token at all.
    let body = on_ids(&app, None, "withdrawInvites", &[&id], false).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));

    let rows = invite_rows(&app).await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(
        (row.send_count, row.withdrawn_at, row.deleted_at),
        (1, None, None)
    );
    assert_eq!(outbox_rows(&app).await.len(), 1);
    assert_eq!(audit_rows(&app).await.len(), 1);
}

#[tokio::test]
async fn resend_renews_the_invitation_and_replaces_its_email() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let mail = MailDir::new();
    let id = invite_one(
        &app,
        &admin,
        "again@a.test",
        org.platform,
        org.roles["SENDER"],
    )
    .await;
    deliver_and_take_token(&app, &mail).await;
    let before = invite_row(&app, &id).await;
    assert!(before.token_hash.is_some());
    assert_eq!(before.delivery.as_str(), "SENT");

    let body = on_ids(&app, Some(&admin), "resendInvites", &[&id], false).await;
    let p = &data(&body)["resendInvites"];
    assert_eq!(p["changedCount"], 1);
    assert_eq!(p["invites"][0]["sendCount"], 2);
    assert_eq!(p["invites"][0]["delivery"], "QUEUED");
    assert_eq!(p["invites"][0]["status"], "PENDING");
    let after = invite_row(&app, &id).await;
    assert_eq!(after.token_hash, None, "the old link dies at once");
    assert_eq!(after.send_count, 2);
    assert!(after.expires_at > before.expires_at);
    assert_eq!(after.last_sent_at, Some(after.updated_at));
    let mails: Vec<String> = outbox_of(&app, &id)
        .await
        .into_iter()
        .map(|o| o.status.as_str().to_owned())
        .collect();
    assert_eq!(mails, ["SENT", "PENDING"]);

    // Resending before the worker ran cancels the email that was still waiting.
    let body = on_ids(&app, Some(&admin), "resendInvites", &[&id], false).await;
    assert_eq!(data(&body)["resendInvites"]["invites"][0]["sendCount"], 3);
    let mails: Vec<String> = outbox_of(&app, &id)
        .await
        .into_iter()
        .map(|o| o.status.as_str().to_owned())
        .collect();
    assert_eq!(mails, ["SENT", "CANCELLED", "PENDING"]);
    let resent = audit_rows(&app)
        .await
        .into_iter()
        .filter(|e| e.action == "invite.resent")
        .count();
    assert_eq!(resent, 2);
    assert_eq!(
        mail.deliver(&app).await,
        1,
        "only the latest email goes out"
    );
}

#[tokio::test]
async fn withdraw_is_idempotent_and_cancels_the_email() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let id = invite_one(
        &app,
        &admin,
        "gone@a.test",
        org.platform,
        org.roles["SENDER"],
    )
    .await;
    let body = on_ids(&app, Some(&admin), "withdrawInvites", &[&id], false).await;
    let p = &data(&body)["withdrawInvites"];
    assert_eq!(p["changedCount"], 1);
    assert!(p["operationId"].is_string());
    assert_eq!(p["invites"][0]["status"], "WITHDRAWN");
    let row = invite_row(&app, &id).await;
    assert!(row.withdrawn_at.is_some());
    assert_eq!(outbox_of(&app, &id).await[0].status.as_str(), "CANCELLED");

    let body = on_ids(&app, Some(&admin), "withdrawInvites", &[&id], false).await;
    let p = &data(&body)["withdrawInvites"];
    assert_eq!(p["changedCount"], 0);
    assert_eq!(p["errors"], json!([]));
    assert_eq!(p["operationId"], Value::Null);
    assert_eq!(p["invites"][0]["status"], "WITHDRAWN");
    assert_eq!(invite_row(&app, &id).await.withdrawn_at, row.withdrawn_at);

    let body = on_ids(&app, Some(&admin), "resendInvites", &[&id], false).await;
    let p = &data(&body)["resendInvites"];
    refused(p);
    assert_eq!(codes(p), [(0, "INVALID_STATE".into())]);
    assert_eq!(invite_row(&app, &id).await.send_count, 1);
    let withdrawn = audit_rows(&app)
        .await
        .into_iter()
        .filter(|e| e.action == "invite.withdrawn")
        .count();
    assert_eq!(withdrawn, 1);
}

#[tokio::test]
async fn accepted_invitations_can_only_be_deleted() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let mail = MailDir::new();
    let id = invite_one(
        &app,
        &admin,
        "joined@a.test",
        org.platform,
        org.roles["SENDER"],
    )
    .await;
    let token = deliver_and_take_token(&app, &mail).await;
    let body = accept(&app, &token, "Jo Ined").await;
    assert!(data(&body)["acceptInvite"]["user"]["id"].is_string());

    for mutation in ["resendInvites", "withdrawInvites"] {
        let body = on_ids(&app, Some(&admin), mutation, &[&id], false).await;
        let p = &data(&body)[mutation];
        refused(p);
        assert_eq!(codes(p), [(0, "INVALID_STATE".into())], "{mutation}");
    }
    let row = invite_row(&app, &id).await;
    assert_eq!((row.send_count, row.withdrawn_at), (1, None));
    assert!(row.accepted_at.is_some());

    let body = on_ids(&app, Some(&admin), "deleteInvites", &[&id], false).await;
    let p = &data(&body)["deleteInvites"];
    assert_eq!(p["changedCount"], 1);
    assert_eq!(p["deletedIds"], json!([id]));
    assert!(invite_row(&app, &id).await.deleted_at.is_some());
    assert_eq!(invite_via_api(&app, &admin, &id).await, None);
    let list = app
        .gql(
            Some(&admin),
            "{ invites { totalCount nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&list)["invites"]["totalCount"], 0);

    // Deleting again is unchanged, not NOT_FOUND; accepting again is still "accepted".
    let body = on_ids(&app, Some(&admin), "deleteInvites", &[&id], false).await;
    let p = &data(&body)["deleteInvites"];
    assert_eq!(p["changedCount"], 0);
    assert_eq!(p["errors"], json!([]));
    assert_eq!(p["deletedIds"], json!([id]));
    assert_eq!(p["operationId"], Value::Null);
    let body = accept(&app, &token, "Jo Ined").await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    assert_eq!(reason(&body), Some("ALREADY_ACCEPTED"));
    assert_eq!(users_with_email(&app, "joined@a.test").await.len(), 1);
    // A deleted, never-accepted invitation's link reads as withdrawn.
    let id2 = invite_one(
        &app,
        &admin,
        "never@a.test",
        org.platform,
        org.roles["SENDER"],
    )
    .await;
    let token2 = deliver_and_take_token(&app, &mail).await;
    on_ids(&app, Some(&admin), "deleteInvites", &[&id2], false).await;
    let body = accept(&app, &token2, "Never").await;
    assert_eq!(reason(&body), Some("WITHDRAWN"), "{body:#}");
    assert!(users_with_email(&app, "never@a.test").await.is_empty());
}

#[tokio::test]
async fn invitations_outside_reach_or_unknown_are_not_found() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let mobile = invite_one(&app, &admin, "mob@a.test", org.mobile, org.roles["SENDER"]).await;
    let platform = invite_one(
        &app,
        &admin,
        "plat@a.test",
        org.platform,
        org.roles["SENDER"],
    )
    .await;
    let other = app.token_for(org.other_admin);
    let other_sender = role::Entity::find()
        .filter(role::Column::AccountId.eq(org.other_account))
        .filter(role::Column::Key.eq("SENDER"))
        .one(app.db.conn())
        .await
        .unwrap()
        .unwrap()
        .id;
    let other_id = invite_one(&app, &other, "x@b.test", org.other_team, other_sender.0).await;
    let manager = app.token_for(org.manager);
    let unknown = gid::invite(uuid::Uuid::now_v7());
    for mutation in ["resendInvites", "withdrawInvites", "deleteInvites"] {
        let body = on_ids(
            &app,
            Some(&manager),
            mutation,
            &[
                &platform,
                &mobile,
                &other_id,
                &unknown,
                "inv_nonsense",
                &platform,
            ],
            false,
        )
        .await;
        let p = &data(&body)[mutation];
        assert_eq!(
            codes(p),
            [
                (1, "NOT_FOUND".into()),
                (2, "NOT_FOUND".into()),
                (3, "NOT_FOUND".into()),
                (4, "NOT_FOUND".into()),
                (5, "DUPLICATE".into()),
            ],
            "{mutation}: {body:#}"
        );
        assert_eq!(p["errors"][1]["id"], other_id.as_str());
        assert_eq!(p["operationId"], Value::Null);
    }
    for row in invite_rows(&app).await {
        assert_eq!(
            (row.send_count, row.withdrawn_at, row.deleted_at),
            (1, None, None)
        );
    }
}

#[tokio::test]
async fn manager_cannot_touch_an_invitation_with_a_higher_role() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let id = invite_one(
        &app,
        &admin,
        "boss@a.test",
        org.platform,
        org.roles["ADMIN"],
    )
    .await;
    let manager = app.token_for(org.manager);
    for mutation in ["resendInvites", "withdrawInvites", "deleteInvites"] {
        let body = on_ids(&app, Some(&manager), mutation, &[&id], false).await;
        let p = &data(&body)[mutation];
        assert_eq!(codes(p), [(0, "FORBIDDEN".into())], "{mutation}");
    }
    let row = invite_row(&app, &id).await;
    assert_eq!(
        (row.send_count, row.withdrawn_at, row.deleted_at),
        (1, None, None)
    );
}

#[tokio::test]
async fn two_concurrent_accepts_with_one_token_let_exactly_one_win() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let mail = MailDir::new();
    for round in 0..10 {
        let email = format!("race{round}@a.test");
        let id = invite_one(&app, &admin, &email, org.mobile, org.roles["SENDER"]).await;
        let token = deliver_and_take_token(&app, &mail).await;
        let (a, b) = tokio::join!(
            accept(&app, &token, "First"),
            accept(&app, &token, "Second")
        );
        let wins: Vec<&Value> = [&a, &b]
            .into_iter()
            .filter(|r| r["errors"].is_null())
            .collect();
        assert_eq!(wins.len(), 1, "round {round}: {a:#} {b:#}");
        let loser = if a["errors"].is_null() { &b } else { &a };
        assert_eq!(error_code(loser), Some("BAD_USER_INPUT"), "{loser:#}");
        assert_eq!(reason(loser), Some("ALREADY_ACCEPTED"), "{loser:#}");
        let users = users_with_email(&app, &email).await;
        assert_eq!(users.len(), 1, "round {round}");
        let row = invite_row(&app, &id).await;
        assert_eq!(row.accepted_user_id, Some(users[0].id));
        let accepted = audit_rows(&app)
            .await
            .into_iter()
            .filter(|e| e.action == "invite.accepted" && e.target_id == row.id.0)
            .count();
        assert_eq!(accepted, 1);
    }
}

#[tokio::test]
async fn concurrent_invitations_of_one_address_end_as_already_invited() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let dept = app.token_for(org.dept_admin);
    for round in 0..8 {
        let email = format!("both{round}@a.test");
        let (a, b) = tokio::join!(
            invite(
                &app,
                &admin,
                vec![invitation(&email, org.platform, org.roles["SENDER"])],
                false
            ),
            invite(
                &app,
                &dept,
                vec![invitation(&email, org.mobile, org.roles["SENDER"])],
                false
            ),
        );
        let pa = &data(&a)["inviteUsers"];
        let pb = &data(&b)["inviteUsers"];
        let won = [pa, pb].iter().filter(|p| p["changedCount"] == 1).count();
        assert_eq!(won, 1, "round {round}: {a:#} {b:#}");
        let lost = if pa["changedCount"] == 1 { pb } else { pa };
        assert_eq!(codes(lost), [(0, "ALREADY_INVITED".into())]);
        let open = invite_rows(&app)
            .await
            .into_iter()
            .filter(|i| i.email == email)
            .count();
        assert_eq!(open, 1);
    }
}

#[tokio::test]
async fn an_expired_invitation_reads_expired_refuses_accept_and_can_be_resent() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let mail = MailDir::new();
    let id = invite_one(
        &app,
        &admin,
        "slow@a.test",
        org.platform,
        org.roles["SENDER"],
    )
    .await;
    let token = deliver_and_take_token(&app, &mail).await;
    expire(&app, &id).await;

    let list = |status: &'static str| {
        let app = &app;
        let admin = &admin;
        async move {
            let body = app
                .gql(
                    Some(admin),
                    "query($s: [InviteStatus!]) { invites(filter: { statuses: $s }) { nodes { id status } } }",
                    json!({ "s": [status] }),
                )
                .await;
            data(&body)["invites"]["nodes"].clone()
        }
    };
    assert_eq!(
        list("EXPIRED").await,
        json!([{ "id": id, "status": "EXPIRED" }])
    );
    assert_eq!(list("PENDING").await, json!([]));

    let body = accept(&app, &token, "Slow Poke").await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    assert_eq!(reason(&body), Some("EXPIRED"));
    assert!(users_with_email(&app, "slow@a.test").await.is_empty());
    assert_eq!(invite_row(&app, &id).await.accepted_at, None);

    let body = on_ids(&app, Some(&admin), "resendInvites", &[&id], false).await;
    let p = &data(&body)["resendInvites"];
    assert_eq!(p["changedCount"], 1);
    assert_eq!(p["invites"][0]["status"], "PENDING");
    let row = invite_row(&app, &id).await;
    assert!(row.expires_at > roster::service::now_ms() + 6 * 86_400_000);
    assert_eq!(
        list("PENDING").await,
        json!([{ "id": id, "status": "PENDING" }])
    );
    // The old link was replaced.
    let body = accept(&app, &token, "Slow Poke").await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
}

#[tokio::test]
async fn accept_checks_the_name_and_the_token() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let mail = MailDir::new();
    let id = invite_one(
        &app,
        &admin,
        "named@a.test",
        org.platform,
        org.roles["SENDER"],
    )
    .await;
    let token = deliver_and_take_token(&app, &mail).await;

    let body = accept(&app, &token, "   ").await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    assert_eq!(body["errors"][0]["extensions"]["field"], "name");
    let body = accept(&app, "not-a-token", "Named").await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("replaced by a newer one")
    );
    assert_eq!(invite_row(&app, &id).await.accepted_at, None);
    assert!(users_with_email(&app, "named@a.test").await.is_empty());

    let body = accept(&app, &token, "  Named Person ").await;
    let user = &data(&body)["acceptInvite"]["user"];
    assert_eq!(user["name"], "Named Person");
    assert_eq!(user["email"], "named@a.test");
    let events: Vec<String> = audit_rows(&app)
        .await
        .into_iter()
        .filter(|e| e.actor_id.is_none())
        .map(|e| e.action.as_str().to_owned())
        .collect();
    assert_eq!(events, ["invite.accepted", "user.created"]);
}

#[tokio::test]
async fn accept_refuses_an_address_that_became_a_member_meanwhile() {
    use roster::service::{accounts, email::Email, now_ms, text::Name};
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let admin = app.token_for(org.admin);
    let mail = MailDir::new();
    let id = invite_one(
        &app,
        &admin,
        "twice@a.test",
        org.platform,
        org.roles["SENDER"],
    )
    .await;
    let token = deliver_and_take_token(&app, &mail).await;
    // Another way in (seeding, a future SCIM sync) made the address a member.
    accounts::insert_user(
        app.db.conn(),
        org.account_id.into(),
        &Email::parse("twice@a.test").unwrap(),
        &Name::parse("name", "Twice").unwrap(),
        org.general.into(),
        org.roles["SENDER"].into(),
        now_ms(),
    )
    .await
    .unwrap();
    let body = accept(&app, &token, "Twice Again").await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    assert_eq!(reason(&body), Some("ALREADY_MEMBER"));
    let row = invite_row(&app, &id).await;
    assert_eq!(row.accepted_at, None, "the claim was rolled back");
    let users = users_with_email(&app, "twice@a.test").await;
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].team_id, org.general.into());
}
