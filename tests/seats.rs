//! Seat limits (issue 14, item 2): `Account.seatLimit` / `seatsUsed`; `inviteUsers`,
//! `acceptInvite` and `reactivateUsers` refuse what would exceed the limit (`SEAT_LIMIT`, per
//! item, all-or-nothing), dry runs report the seats that would remain, and two
//! administrators racing for the last seat — through one server, and through two server
//! processes on one PostgreSQL database — never both get it.

mod common;
#[path = "common/servers.rs"]
mod servers;
#[path = "common/users.rs"]
mod users;

use std::time::Duration;

use common::{Org, TestApp, data, error_code, gid};
use roster::entity::{account, invite, user};
use roster::service::ids::UserId;
use roster::service::{Db, accounts, now_ms};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use servers::Servers;
use users::gql_at;
use uuid::Uuid;

const INVITE: &str = r#"
mutation($input: InviteUsersInput!) {
  inviteUsers(input: $input) { invites { email } changedCount errors { index email code } dryRun seatsRemaining }
}"#;

const REACTIVATE: &str = r#"
mutation($input: ReactivateUsersInput!) {
  reactivateUsers(input: $input) { changedCount errors { index id code } dryRun seatsRemaining }
}"#;

const SUSPEND: &str = r#"
mutation($input: SuspendUsersInput!) { suspendUsers(input: $input) { changedCount errors { code } } }"#;

const SET_LIMIT: &str = r#"
mutation($input: UpdateAccountInput!) { updateAccount(input: $input) { account { seatLimit seatsUsed } } }"#;

const ACCEPT: &str = r#"
mutation($input: AcceptInviteInput!) { acceptInvite(input: $input) { user { id } } }"#;

fn invitation(email: &str, team: Uuid, role: Uuid) -> Value {
    json!({ "email": email, "teamId": gid::team(team), "roleId": gid::role(role) })
}

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

async fn seats(app: &TestApp, token: &str) -> (Value, i64) {
    let body = app
        .gql(
            Some(token),
            "{ account { seatLimit seatsUsed } }",
            json!({}),
        )
        .await;
    let account = &data(&body)["account"];
    (
        account["seatLimit"].clone(),
        account["seatsUsed"].as_i64().expect("used"),
    )
}

async fn open_invites(db: &Db) -> u64 {
    invite::Entity::find()
        .filter(invite::Column::AcceptedAt.is_null())
        .filter(invite::Column::WithdrawnAt.is_null())
        .count(db.conn())
        .await
        .expect("count")
}

/// A pending invitation whose link token is known (the mail worker is another feature).
async fn invite_with_token(db: &Db, account: Uuid, email: &str, team: Uuid, role: Uuid) -> String {
    invite_row(db, account, email, team, role, 86_400_000)
        .await
        .1
}

/// A pending (or, with a negative lifetime, expired) invitation; its id and link token.
async fn invite_row(
    db: &Db,
    account: Uuid,
    email: &str,
    team: Uuid,
    role: Uuid,
    lifetime_ms: i64,
) -> (Uuid, String) {
    let token = format!("seat-token-{}", Uuid::now_v7().simple());
    let now = now_ms();
    let id = Uuid::now_v7();
    invite::Entity::insert(invite::ActiveModel {
        id: Set(id.into()),
        account_id: Set(account.into()),
        email: Set(email.into()),
        team_id: Set(team.into()),
        role_id: Set(role.into()),
        invited_by: Set(None),
        token_hash: Set(Some(roster::service::invites::token_hash(&token))),
        created_at: Set(now),
        expires_at: Set(now + lifetime_ms),
        last_sent_at: Set(Some(now)),
        send_count: Set(1),
        accepted_at: Set(None),
        accepted_user_id: Set(None),
        withdrawn_at: Set(None),
        deleted_at: Set(None),
        delivery: Set(invite::Delivery::Sent),
        delivery_error: Set(None),
        updated_at: Set(now),
    })
    .exec(db.conn())
    .await
    .expect("insert invite");
    (id, token)
}

#[tokio::test]
async fn seat_limit_caps_invitations_reactivations_and_acceptances() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let admin = app.token_for(o.admin);
    let sender = o.roles["SENDER"];
    // Seven active users, no invitations: seven seats, no limit.
    assert_eq!(seats(&app, &admin).await, (Value::Null, 7));

    let body = app
        .gql(
            Some(&admin),
            SET_LIMIT,
            json!({ "input": { "seatLimit": -1 } }),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    let body = app
        .gql(
            Some(&admin),
            SET_LIMIT,
            json!({ "input": { "seatLimit": 8 } }),
        )
        .await;
    assert_eq!(
        data(&body)["updateAccount"]["account"],
        json!({ "seatLimit": 8, "seatsUsed": 7 })
    );

    // Two invitations for one free seat: the second is refused, nothing is written.
    let two = json!({ "input": { "invitations": [
        invitation("new1@a.test", o.platform, sender),
        invitation("new2@a.test", o.platform, sender),
    ] } });
    let body = app.gql(Some(&admin), INVITE, two).await;
    let p = &data(&body)["inviteUsers"];
    assert_eq!(codes(p), vec![(1, "SEAT_LIMIT".into())], "{body}");
    assert_eq!(p["seatsRemaining"], 1);
    assert_eq!(open_invites(&app.db).await, 0);

    // A dry run of one reports the seats that would remain and writes nothing.
    let one = |email: &str, dry_run: bool| json!({ "input": { "invitations": [invitation(email, o.platform, sender)], "dryRun": dry_run } });
    let body = app
        .gql(Some(&admin), INVITE, one("new1@a.test", true))
        .await;
    let p = &data(&body)["inviteUsers"];
    assert_eq!(
        (p["changedCount"].as_i64(), p["seatsRemaining"].as_i64()),
        (Some(1), Some(0)),
        "{body}"
    );
    assert_eq!(open_invites(&app.db).await, 0);
    let body = app
        .gql(Some(&admin), INVITE, one("new1@a.test", false))
        .await;
    assert_eq!(data(&body)["inviteUsers"]["seatsRemaining"], 0, "{body}");
    assert_eq!(seats(&app, &admin).await, (json!(8), 8));
    let body = app
        .gql(Some(&admin), INVITE, one("new2@a.test", false))
        .await;
    assert_eq!(
        codes(&data(&body)["inviteUsers"]),
        vec![(0, "SEAT_LIMIT".into())],
        "{body}"
    );
    assert_eq!(open_invites(&app.db).await, 1);

    // A suspended user frees a seat; reactivating takes it back, and is refused when full.
    let body = app
        .gql(
            Some(&admin),
            SUSPEND,
            json!({ "input": { "userIds": [gid::user(o.alice)] } }),
        )
        .await;
    assert_eq!(data(&body)["suspendUsers"]["changedCount"], 1, "{body}");
    assert_eq!(seats(&app, &admin).await, (json!(8), 7));
    let reactivate =
        |dry_run: bool| json!({ "input": { "userIds": [gid::user(o.alice)], "dryRun": dry_run } });
    let body = app.gql(Some(&admin), REACTIVATE, reactivate(true)).await;
    let p = &data(&body)["reactivateUsers"];
    assert_eq!(
        (p["changedCount"].as_i64(), p["seatsRemaining"].as_i64()),
        (Some(1), Some(0)),
        "{body}"
    );
    let body = app
        .gql(Some(&admin), INVITE, one("new2@a.test", false))
        .await;
    assert!(codes(&data(&body)["inviteUsers"]).is_empty(), "{body}");
    let body = app.gql(Some(&admin), REACTIVATE, reactivate(false)).await;
    let p = &data(&body)["reactivateUsers"];
    assert_eq!(codes(p), vec![(0, "SEAT_LIMIT".into())], "{body}");
    assert_eq!(p["seatsRemaining"], 0);
    let alice = user::Entity::find_by_id(o.alice)
        .one(app.db.conn())
        .await
        .expect("read")
        .expect("alice");
    assert_eq!(alice.status.as_str(), "SUSPENDED");

    // Lowering the limit below the seats in use is allowed; nobody loses access, but an
    // acceptance (which keeps the invitation's seat) waits until the account is within it.
    let token = invite_with_token(&app.db, o.account_id, "late@a.test", o.platform, sender).await;
    let body = app
        .gql(
            Some(&admin),
            SET_LIMIT,
            json!({ "input": { "seatLimit": 5 } }),
        )
        .await;
    assert_eq!(
        data(&body)["updateAccount"]["account"],
        json!({ "seatLimit": 5, "seatsUsed": 9 })
    );
    let viewer = app
        .gql(Some(&app.token_for(o.bob)), "{ viewer { id } }", json!({}))
        .await;
    assert!(data(&viewer)["viewer"].is_object());
    let body = app
        .gql(
            None,
            ACCEPT,
            json!({ "input": { "token": token, "name": "Late Comer" } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["reason"], "SEAT_LIMIT",
        "{body}"
    );
    let body = app
        .gql(
            Some(&admin),
            SET_LIMIT,
            json!({ "input": { "seatLimit": 9 } }),
        )
        .await;
    assert_eq!(data(&body)["updateAccount"]["account"]["seatLimit"], 9);
    let body = app
        .gql(
            None,
            ACCEPT,
            json!({ "input": { "token": token, "name": "Late Comer" } }),
        )
        .await;
    assert!(
        data(&body)["acceptInvite"]["user"]["id"].is_string(),
        "{body}"
    );
    // The invitation's seat became the user's.
    assert_eq!(seats(&app, &admin).await, (json!(9), 9));
    // Null removes the limit.
    let body = app
        .gql(
            Some(&admin),
            SET_LIMIT,
            json!({ "input": { "seatLimit": null } }),
        )
        .await;
    assert_eq!(
        data(&body)["updateAccount"]["account"]["seatLimit"],
        Value::Null
    );
    let body = app.gql(Some(&admin), REACTIVATE, reactivate(false)).await;
    let p = &data(&body)["reactivateUsers"];
    assert_eq!(
        (p["changedCount"].as_i64(), p["seatsRemaining"].clone()),
        (Some(1), Value::Null),
        "{body}"
    );
}

#[tokio::test]
async fn resending_an_expired_invitation_takes_a_seat_back() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let admin = app.token_for(o.admin);
    let (expired, _) = invite_row(
        &app.db,
        o.account_id,
        "old@a.test",
        o.platform,
        o.roles["SENDER"],
        -1_000,
    )
    .await;
    // An expired invitation holds no seat.
    assert_eq!(seats(&app, &admin).await.1, 7);
    let body = app
        .gql(
            Some(&admin),
            SET_LIMIT,
            json!({ "input": { "seatLimit": 7 } }),
        )
        .await;
    assert_eq!(
        data(&body)["updateAccount"]["account"]["seatsUsed"],
        7,
        "{body}"
    );
    let resend = "mutation($input: InviteIdsInput!) { resendInvites(input: $input) { changedCount errors { index code } } }";
    let input = json!({ "input": { "inviteIds": [gid::invite(expired)] } });
    let body = app.gql(Some(&admin), resend, input.clone()).await;
    assert_eq!(
        codes(&data(&body)["resendInvites"]),
        vec![(0, "SEAT_LIMIT".into())],
        "{body}"
    );
    let body = app
        .gql(
            Some(&admin),
            SET_LIMIT,
            json!({ "input": { "seatLimit": 8 } }),
        )
        .await;
    assert!(data(&body)["updateAccount"].is_object());
    let body = app.gql(Some(&admin), resend, input).await;
    assert_eq!(data(&body)["resendInvites"]["changedCount"], 1, "{body}");
    assert_eq!(seats(&app, &admin).await.1, 8);
}

/// Two administrators, each taking a seat (an invitation, or a reactivation) at the same
/// moment, round after round, with exactly one seat free: exactly one wins each round.
struct Arena {
    db: Db,
    account: Uuid,
    team: Uuid,
    sender: Uuid,
    suspended: Uuid,
    tokens: [String; 2],
    servers: [String; 2],
    http: reqwest::Client,
}

const ROUNDS: usize = 12;

impl Arena {
    async fn run(&self) {
        for round in 0..ROUNDS {
            // Reset: the suspended user stays suspended; exactly one seat is free.
            user::Entity::update_many()
                .col_expr(user::Column::Status, Expr::value("SUSPENDED"))
                .filter(user::Column::Id.eq(self.suspended))
                .exec(self.db.conn())
                .await
                .expect("suspend");
            let used = roster::service::seats::used(self.db.conn(), self.account.into(), now_ms())
                .await
                .expect("used");
            account::Entity::update_many()
                .col_expr(account::Column::SeatLimit, Expr::value(used as i32 + 1))
                .filter(account::Column::Id.eq(self.account))
                .exec(self.db.conn())
                .await
                .expect("limit");
            let reactivating = round % 2 == 1;
            let request = |me: usize| {
                let (query, vars) = if me == 1 && reactivating {
                    (
                        REACTIVATE,
                        json!({ "input": { "userIds": [gid::user(self.suspended)] } }),
                    )
                } else {
                    let email = format!("r{round}-{me}@race.test");
                    (
                        INVITE,
                        json!({ "input": { "invitations": [invitation(&email, self.team, self.sender)] } }),
                    )
                };
                gql_at(&self.http, &self.servers[me], &self.tokens[me], query, vars)
            };
            let (first, second) = tokio::join!(request(0), request(1));
            let outcome = |body: &Value| -> Vec<(i64, String)> {
                let payload = body["data"]
                    .as_object()
                    .and_then(|d| d.values().next())
                    .unwrap_or_else(|| panic!("no payload: {body}"));
                codes(payload)
            };
            let results = [outcome(&first), outcome(&second)];
            let winners = results.iter().filter(|r| r.is_empty()).count();
            assert_eq!(
                winners, 1,
                "round {round}: exactly one may win: {first} / {second}"
            );
            let loser = results.iter().find(|r| !r.is_empty()).expect("a loser");
            assert_eq!(loser, &vec![(0, "SEAT_LIMIT".to_owned())], "round {round}");
            let used_after =
                roster::service::seats::used(self.db.conn(), self.account.into(), now_ms())
                    .await
                    .expect("used");
            assert_eq!(used_after, used + 1, "round {round}: the limit holds");
        }
    }
}

async fn second_admin(
    db: &Db,
    account: impl Into<Uuid>,
    team: impl Into<Uuid>,
    admin_role: impl Into<Uuid>,
) -> Uuid {
    users::seed_users(db, account, team, admin_role, 1).await[0]
}

#[tokio::test]
async fn admins_racing_for_the_last_seat_through_one_server_never_both_get_it() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let second = second_admin(&app.db, o.account_id, o.general, o.roles["ADMIN"]).await;
    let arena = Arena {
        db: app.db.clone(),
        account: o.account_id,
        team: o.platform,
        sender: o.roles["SENDER"],
        suspended: o.carol,
        tokens: [app.token_for(o.admin), app.token_for(second)],
        servers: [app.url.clone(), app.url.clone()],
        http: app.http.clone(),
    };
    arena.run().await;
}

#[tokio::test]
async fn admins_racing_for_the_last_seat_through_two_server_processes_never_both_get_it() {
    if !common::on_postgres() {
        eprintln!("skipped: two server processes need a shared PostgreSQL (DATABASE_URL)");
        return;
    }
    let (url, _scratch) = common::fresh_database().await;
    let db = Db::connect(&url).await.expect("connect");
    db.migrate().await.expect("migrate");
    let created = accounts::create(&db, "Seat Org", "first@race.test", "First Admin")
        .await
        .expect("account");
    let admin_role = created.roles[0].id;
    let sender_role = created.roles[3].id;
    let second = second_admin(&db, created.account.id, created.team.id, admin_role).await;
    let suspended =
        users::seed_users(&db, created.account.id, created.team.id, sender_role, 1).await[0];

    let mut servers = Servers::default();
    let a = servers.start(&url).await;
    let b = servers.start(&url).await;
    let keys = common::test_keys();
    let token = |id: Uuid| {
        keys.issue(&UserId(id).to_string(), Duration::from_secs(600))
            .expect("signing key")
            .expect("sign")
    };
    let arena = Arena {
        db,
        account: created.account.id.0,
        team: created.team.id.0,
        sender: sender_role.0,
        suspended,
        tokens: [token(created.admin.id.0), token(second)],
        servers: [a, b],
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client"),
    };
    arena.run().await;
}
