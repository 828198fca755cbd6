//! Domain events (issue 13): written with the change, read through the event feed and over
//! GraphQL subscriptions (graphql-transport-ws, a real WebSocket client), on SQLite and
//! PostgreSQL; across two `roster serve` processes on PostgreSQL.

mod common;
#[path = "common/invites.rs"]
mod invites;
#[path = "common/org.rs"]
mod org;
#[path = "common/servers.rs"]
mod servers;

use std::collections::HashSet;
use std::time::Duration;

use common::{Org, TestApp, data, error_code, gid, insert_users};
use futures_util::{SinkExt, StreamExt};
use roster::app::HttpSettings;
use roster::entity::event;
use roster::service::event_hub::EventSettings;
use roster::service::ids::UserId;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use uuid::Uuid;

const CHANGE_ROLE: &str = "mutation($input: ChangeUsersRoleInput!) { changeUsersRole(input: $input) { changedCount errors { code } operationId } }";
const CHANGE_TEAM: &str = "mutation($input: ChangeUsersTeamInput!) { changeUsersTeam(input: $input) { changedCount errors { code } operationId } }";
const DELETE_USERS: &str = "mutation($input: DeleteUsersInput!) { deleteUsers(input: $input) { changedCount errors { code } } }";
const FEED: &str = "query($after: String, $first: Int, $filter: EventFilter) { events(after: $after, first: $first, filter: $filter) { edges { cursor node { id type operationId actor { id } targetType targetId data createdAt } } pageInfo { hasNextPage endCursor } } }";
const SUBSCRIBE: &str = "subscription($types: [String!]) { events(types: $types) { id type targetType targetId operationId data actor { id } } }";

async fn run(app: &TestApp, user: Uuid, query: &str, input: Value) -> Value {
    app.gql(Some(&app.token_for(user)), query, json!({ "input": input }))
        .await
}

/// One page of the feed as `user`: the events and the end cursor.
async fn feed_page(
    app: &TestApp,
    user: Uuid,
    after: Option<&str>,
    first: i32,
    types: Option<Vec<&str>>,
) -> (Vec<Value>, Option<String>, bool) {
    let filter = types.map(|t| json!({ "types": t }));
    let body = app
        .gql(
            Some(&app.token_for(user)),
            FEED,
            json!({ "after": after, "first": first, "filter": filter }),
        )
        .await;
    let events = &data(&body)["events"];
    let nodes = events["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    (
        nodes,
        events["pageInfo"]["endCursor"].as_str().map(str::to_owned),
        events["pageInfo"]["hasNextPage"].as_bool().unwrap_or(false),
    )
}

/// The whole feed as `user` from `after`: every event and the last cursor.
async fn read_feed(
    app: &TestApp,
    user: Uuid,
    after: Option<String>,
) -> (Vec<Value>, Option<String>) {
    let mut cursor = after;
    let mut all = Vec::new();
    loop {
        let (nodes, end, more) = feed_page(app, user, cursor.as_deref(), 100, None).await;
        all.extend(nodes);
        if end.is_some() {
            cursor = end;
        }
        if !more {
            return (all, cursor);
        }
    }
}

fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect()
}

async fn event_rows(app: &TestApp, account: Uuid) -> Vec<event::Model> {
    event::Entity::find()
        .filter(event::Column::AccountId.eq(account))
        .order_by_asc(event::Column::Seq)
        .all(app.db.conn())
        .await
        .expect("events")
}

// ---- Writing ---------------------------------------------------------------------------

#[tokio::test]
async fn every_mutation_emits_its_events_with_before_and_after() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let admin = o.admin;

    let body = run(
        &app,
        admin,
        CHANGE_ROLE,
        json!({ "userIds": [gid::user(o.alice)], "roleId": gid::role(o.roles["MANAGER"]) }),
    )
    .await;
    let op = data(&body)["changeUsersRole"]["operationId"].clone();
    data(
        &run(
            &app,
            admin,
            CHANGE_TEAM,
            json!({ "userIds": [gid::user(o.alice)], "teamId": gid::team(o.platform) }),
        )
        .await,
    );
    data(
        &run(
            &app,
            admin,
            DELETE_USERS,
            json!({ "userIds": [gid::user(o.bob)] }),
        )
        .await,
    );
    let token = app.token_for(admin);
    let invite =
        invites::invite_one(&app, &token, "new@a.test", o.platform, o.roles["SENDER"]).await;
    data(&invites::on_ids(&app, Some(&token), "resendInvites", &[&invite], false).await);
    data(&invites::on_ids(&app, Some(&token), "withdrawInvites", &[&invite], false).await);
    data(&invites::on_ids(&app, Some(&token), "deleteInvites", &[&invite], false).await);
    let team =
        data(&run(&app, admin, org::CREATE_TEAM, json!({ "name": "Events" })).await)["createTeam"]
            ["team"]["id"]
            .clone();
    data(
        &run(
            &app,
            admin,
            org::UPDATE_TEAM,
            json!({ "id": team, "name": "Events 2" }),
        )
        .await,
    );
    data(&run(&app, admin, org::DELETE_TEAM, json!({ "id": team })).await);
    let dept = data(
        &run(
            &app,
            admin,
            org::CREATE_DEPARTMENT,
            json!({ "name": "Ops" }),
        )
        .await,
    )["createDepartment"]["department"]["id"]
        .clone();
    data(
        &run(
            &app,
            admin,
            org::UPDATE_DEPARTMENT,
            json!({ "id": dept, "name": "Ops 2" }),
        )
        .await,
    );
    data(&run(&app, admin, org::DELETE_DEPARTMENT, json!({ "id": dept })).await);
    let role = data(
        &run(
            &app,
            admin,
            org::CREATE_ROLE,
            json!({ "name": "Viewer", "scope": "TEAM", "permissions": ["USERS_VIEW"] }),
        )
        .await,
    )["createRole"]["role"]["id"]
        .clone();
    data(
        &run(
            &app,
            admin,
            org::UPDATE_ROLE,
            json!({ "id": role, "name": "Viewer 2" }),
        )
        .await,
    );
    data(&run(&app, admin, org::DELETE_ROLE, json!({ "id": role })).await);
    data(
        &run(
            &app,
            admin,
            org::UPDATE_ACCOUNT,
            json!({ "name": "Org A 2" }),
        )
        .await,
    );

    let (events, _) = read_feed(&app, admin, None).await;
    assert_eq!(
        types(&events),
        [
            "user.role_changed",
            "user.team_changed",
            "user.deleted",
            "user.invited",
            "invite.resent",
            "invite.withdrawn",
            "invite.deleted",
            "team.created",
            "team.updated",
            "team.deleted",
            "department.created",
            "department.updated",
            "department.deleted",
            "role.created",
            "role.updated",
            "role.deleted",
            "account.updated",
        ]
    );
    let role_changed = &events[0];
    assert_eq!(role_changed["operationId"], op);
    assert_eq!(role_changed["actor"]["id"], gid::user(admin));
    assert_eq!(role_changed["targetType"], "User");
    assert_eq!(role_changed["targetId"], gid::user(o.alice));
    assert_eq!(role_changed["data"]["before"]["role"], "Sender");
    assert_eq!(role_changed["data"]["after"]["role"], "Manager");
    assert_eq!(role_changed["data"]["targetLabel"], "alice@a.test");
    assert_eq!(events[1]["data"]["after"]["team"], "Platform");
    assert_eq!(events[2]["data"]["after"], Value::Null);
    assert_eq!(events[3]["targetId"], invite);
    assert_eq!(events[8]["data"]["after"]["name"], "Events 2");
    // Positions are 1, 2, 3, … in commit order, and node(id:) finds each event.
    let rows = event_rows(&app, o.account_id).await;
    assert_eq!(
        rows.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=events.len() as i64).collect::<Vec<_>>()
    );
    let node = app
        .gql(
            Some(&token),
            "query($id: ID!) { node(id: $id) { id ... on Event { type targetId } } }",
            json!({ "id": events[0]["id"] }),
        )
        .await;
    assert_eq!(data(&node)["node"]["type"], "user.role_changed");
    // The other account saw none of it.
    let (other, _) = read_feed(&app, o.other_admin, None).await;
    assert!(other.is_empty(), "{other:#?}");
}

#[tokio::test]
async fn accepting_an_invitation_and_a_failed_email_emit_events() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let token = app.token_for(o.admin);
    let mail = invites::MailDir::new();
    invites::invite_one(&app, &token, "joiner@a.test", o.platform, o.roles["SENDER"]).await;
    assert_eq!(mail.deliver(&app).await, 1);
    let accept_token = invites::token_from(&mail.newest());
    data(&invites::accept(&app, &accept_token, "Joiner").await);

    // An email the mail server refuses for good.
    let bounced =
        invites::invite_one(&app, &token, "bounce@a.test", o.platform, o.roles["SENDER"]).await;
    let (port, _received) = invites::smtp_sink("550 5.1.1 no such user\r\n").await;
    let transport = invites::smtp_transport(port);
    roster::service::outbox::deliver_due(&app.db, transport.as_ref(), &invites::settings())
        .await
        .expect("deliver");

    let (events, _) = read_feed(&app, o.admin, None).await;
    let kinds = types(&events);
    assert_eq!(
        kinds,
        [
            "user.invited",
            "invite.accepted",
            "user.created",
            "user.invited",
            "invite.delivery_failed"
        ],
        "{events:#?}"
    );
    let failed = events.last().expect("event");
    assert_eq!(failed["targetId"], bounced);
    assert_eq!(failed["operationId"], Value::Null);
    assert_eq!(failed["data"]["after"]["delivery"], "FAILED");
}

#[tokio::test]
async fn dry_runs_and_refused_changes_emit_nothing() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let manager_role = gid::role(o.roles["MANAGER"]);
    let body = run(
        &app,
        o.admin,
        CHANGE_ROLE,
        json!({ "userIds": [gid::user(o.alice)], "roleId": manager_role, "dryRun": true }),
    )
    .await;
    assert_eq!(data(&body)["changeUsersRole"]["changedCount"], 1);
    // One unknown id: the whole request is refused and rolled back.
    let body = run(&app, o.admin, CHANGE_ROLE, json!({ "userIds": [gid::user(o.alice), gid::user(Uuid::now_v7())], "roleId": manager_role })).await;
    assert_eq!(
        data(&body)["changeUsersRole"]["errors"][0]["code"],
        "NOT_FOUND"
    );
    // A manager may not grant Admin: refused at the top.
    let body = run(
        &app,
        o.manager,
        CHANGE_ROLE,
        json!({ "userIds": [gid::user(o.sender)], "roleId": gid::role(o.roles["ADMIN"]) }),
    )
    .await;
    assert!(
        body["data"]["changeUsersRole"]["errors"][0]["code"].is_string()
            || error_code(&body).is_some()
    );
    assert!(event_rows(&app, o.account_id).await.is_empty());
    // The next real change is number 1: nothing was handed out for the others.
    data(
        &run(
            &app,
            o.admin,
            CHANGE_ROLE,
            json!({ "userIds": [gid::user(o.alice)], "roleId": manager_role }),
        )
        .await,
    );
    let rows = event_rows(&app, o.account_id).await;
    assert_eq!(rows.iter().map(|e| e.seq).collect::<Vec<_>>(), [1]);
}

// ---- The feed --------------------------------------------------------------------------

#[tokio::test]
async fn the_feed_resumed_from_a_saved_cursor_sees_each_event_exactly_once() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let users = insert_users(&app, o.account_id, o.mobile, o.roles["SENDER"], "Feed", 30).await;
    for u in users.iter().take(10) {
        data(
            &run(
                &app,
                o.admin,
                CHANGE_ROLE,
                json!({ "userIds": [gid::user(*u)], "roleId": gid::role(o.roles["MANAGER"]) }),
            )
            .await,
        );
    }
    // A consumer reads 7, keeps the cursor, goes away.
    let (first, saved, more) = feed_page(&app, o.admin, None, 7, None).await;
    assert_eq!(first.len(), 7);
    assert!(more);
    // More changes happen, one of them a bulk change of 20.
    let rest: Vec<String> = users[10..].iter().map(|u| gid::user(*u)).collect();
    data(
        &run(
            &app,
            o.admin,
            CHANGE_ROLE,
            json!({ "userIds": rest, "roleId": gid::role(o.roles["MANAGER"]) }),
        )
        .await,
    );
    data(
        &run(
            &app,
            o.admin,
            CHANGE_TEAM,
            json!({ "userIds": [gid::user(users[0])], "teamId": gid::team(o.platform) }),
        )
        .await,
    );
    // Resumed in pages of 4.
    let mut seen: Vec<Value> = first;
    let mut cursor = saved;
    loop {
        let (page, end, more) = feed_page(&app, o.admin, cursor.as_deref(), 4, None).await;
        seen.extend(page);
        cursor = end.or(cursor);
        if !more {
            break;
        }
    }
    let ids: Vec<&str> = seen.iter().map(|e| e["id"].as_str().expect("id")).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), 31, "10 + 20 + 1 events");
    assert_eq!(unique.len(), ids.len(), "no event twice");
    assert_eq!(seen.last().expect("last")["type"], "user.team_changed");
    // Nothing new: the saved end cursor answers an empty page.
    let (none, _, _) = feed_page(&app, o.admin, cursor.as_deref(), 10, None).await;
    assert!(none.is_empty());
    // Filtered by type.
    let (moved, _, _) = feed_page(&app, o.admin, None, 100, Some(vec!["user.team_changed"])).await;
    assert_eq!(moved.len(), 1);
}

#[tokio::test]
async fn the_feed_needs_users_view_and_refuses_a_cursor_older_than_retention() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let body = app
        .gql(Some(&app.token_for(o.sender)), FEED, json!({}))
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));

    // An event written 40 days ago (retention: 30).
    let old = roster::service::now_ms() - 40 * 86_400_000;
    let ts = uuid::Timestamp::from_unix(uuid::NoContext, (old / 1000) as u64, 0);
    let row = event::Model {
        id: Uuid::new_v7(ts).into(),
        account_id: o.account_id.into(),
        seq: 1,
        event_type: "team.updated".into(),
        operation_id: None,
        actor_id: None,
        target_type: "Team".into(),
        target_id: o.platform,
        target_team_id: Some(o.platform.into()),
        data_json: "{}".into(),
        created_at: old,
    };
    use sea_orm::{ActiveModelTrait, IntoActiveModel};
    event::Entity::insert(row.into_active_model().reset_all())
        .exec(app.db.conn())
        .await
        .expect("insert");
    let (events, cursor, _) = feed_page(&app, o.admin, None, 10, None).await;
    assert_eq!(events.len(), 1);
    let body = app
        .gql(
            Some(&app.token_for(o.admin)),
            FEED,
            json!({ "after": cursor }),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body:#}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("retention")
    );
    // The prune removes it.
    let pruned = roster::service::events::prune(app.db.conn(), 30)
        .await
        .expect("prune");
    assert_eq!(pruned, 1);
    assert_eq!(
        event::Entity::find()
            .count(app.db.conn())
            .await
            .expect("count"),
        0
    );
}

#[tokio::test]
async fn a_reader_polling_during_concurrent_writes_sees_every_event_once_in_order() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let o = Org::create(&app).await;
    let users = insert_users(&app, o.account_id, o.mobile, o.roles["SENDER"], "Race", 20).await;
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let app = app.clone();
            let users = users.clone();
            let (admin, manager, sender) = (o.admin, o.roles["MANAGER"], o.roles["SENDER"]);
            tokio::spawn(async move {
                for i in 0..10 {
                    // Teams (no account lock) and role changes (account lock), interleaved.
                    let body = run(
                        &app,
                        admin,
                        org::CREATE_TEAM,
                        json!({ "name": format!("Race {w}-{i}") }),
                    )
                    .await;
                    data(&body);
                    let role = if i % 2 == 0 { manager } else { sender };
                    let u = users[w * 5 + i % 5];
                    data(
                        &run(
                            &app,
                            admin,
                            CHANGE_ROLE,
                            json!({ "userIds": [gid::user(u)], "roleId": gid::role(role) }),
                        )
                        .await,
                    );
                }
            })
        })
        .collect();
    let mut seen: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut done = false;
    while !done {
        done = writers.iter().all(|w| w.is_finished());
        let (page, end) = read_feed(&app, o.admin, cursor.clone()).await;
        seen.extend(page);
        cursor = end.or(cursor);
    }
    for w in writers {
        w.await.expect("writer");
    }
    let (rest, _) = read_feed(&app, o.admin, cursor).await;
    seen.extend(rest);
    let rows = event_rows(&app, o.account_id).await;
    let ids: Vec<String> = rows
        .iter()
        .map(|e| roster::service::ids::EventId(e.id.0).to_string())
        .collect();
    let seen_ids: Vec<&str> = seen.iter().map(|e| e["id"].as_str().expect("id")).collect();
    assert_eq!(seen_ids, ids, "every event once, in commit order");
    assert_eq!(
        rows.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=rows.len() as i64).collect::<Vec<_>>()
    );
    assert!(rows.len() >= 60, "{} events", rows.len());
}

// ---- Subscriptions ---------------------------------------------------------------------

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A graphql-transport-ws client.
struct Subscriber {
    socket: Socket,
}

/// What a subscription said.
#[derive(Debug)]
enum Said {
    Event(Value),
    Error(Value),
    Complete,
    Closed,
}

impl Subscriber {
    /// Opens `/graphql` and sends `connection_init` with `payload`; returns the socket and
    /// what the server answered first.
    async fn open(base: &str, payload: Value) -> (Self, Value) {
        let url = format!("{}/graphql", base.replacen("http://", "ws://", 1));
        let mut request = url.into_client_request().expect("request");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().expect("header"),
        );
        let (socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket");
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            "graphql-transport-ws"
        );
        let mut s = Subscriber { socket };
        s.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        let first = s.message(Duration::from_secs(10)).await;
        (s, first)
    }

    /// Connects as the holder of `token` and subscribes to events (of `types`).
    async fn events(base: &str, token: &str, types: Option<Vec<&str>>) -> Self {
        let (mut s, ack) =
            Self::open(base, json!({ "Authorization": format!("Bearer {token}") })).await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        s.subscribe("1", types).await;
        s
    }

    async fn subscribe(&mut self, id: &str, types: Option<Vec<&str>>) {
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": SUBSCRIBE, "variables": { "types": types } } })).await;
        // The stream starts at the committed end when the server has read it; a ping round
        // trip after the subscribe message makes sure it was processed.
        self.send(json!({ "type": "ping" })).await;
        loop {
            let m = self.message(Duration::from_secs(10)).await;
            if m["type"] == "pong" {
                return;
            }
            assert_ne!(m["type"], "error", "{m}");
        }
    }

    async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("send");
    }

    /// The next protocol message (server pings answered on the way); `{"type":"closed"}`
    /// with the close code when the server closed the socket.
    async fn message(&mut self, within: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let next = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .expect("a message in time");
            match next {
                Some(Ok(Message::Text(text))) => {
                    let m: Value = serde_json::from_str(&text).expect("json");
                    if m["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return m;
                }
                Some(Ok(Message::Close(frame))) => {
                    return json!({ "type": "closed", "code": frame.map(|f| u16::from(f.code)) });
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return json!({ "type": "closed" }),
            }
        }
    }

    async fn said(&mut self, within: Duration) -> Said {
        let m = self.message(within).await;
        match m["type"].as_str() {
            Some("next") if m["payload"]["errors"].is_array() => Said::Error(m["payload"].clone()),
            Some("next") => Said::Event(m["payload"]["data"]["events"].clone()),
            Some("error") => Said::Error(m["payload"].clone()),
            Some("complete") => Said::Complete,
            Some("closed") => Said::Closed,
            _ => panic!("unexpected message {m}"),
        }
    }

    /// The next `n` events (panics on anything else).
    async fn events_n(&mut self, n: usize, within: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + within;
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.said(left.max(Duration::from_millis(1))).await {
                Said::Event(e) => out.push(e),
                other => panic!("after {} events: {other:?}", out.len()),
            }
        }
        out
    }

    /// Asserts nothing arrives within `quiet`.
    async fn nothing_within(&mut self, quiet: Duration) {
        if let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(quiet, self.socket.next()).await
        {
            let m: Value = serde_json::from_str(&text).expect("json");
            assert_eq!(m["type"], "ping", "expected nothing, got {m}");
        }
    }
}

#[tokio::test]
async fn a_subscriber_receives_new_events_and_pings_are_answered() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let admin2 = insert_users(
        &app,
        o.account_id,
        o.general,
        o.roles["ADMIN"],
        "Watcher",
        1,
    )
    .await[0];
    let mut sub = Subscriber::events(&app.url, &app.token_for(admin2), None).await;
    let mut moves = Subscriber::events(
        &app.url,
        &app.token_for(admin2),
        Some(vec!["user.team_changed"]),
    )
    .await;

    data(&run(&app, o.admin, CHANGE_ROLE, json!({ "userIds": [gid::user(o.alice), gid::user(o.bob)], "roleId": gid::role(o.roles["MANAGER"]) })).await);
    data(
        &run(
            &app,
            o.admin,
            CHANGE_TEAM,
            json!({ "userIds": [gid::user(o.carol)], "teamId": gid::team(o.mobile) }),
        )
        .await,
    );
    let got = sub.events_n(3, Duration::from_secs(20)).await;
    assert_eq!(
        types(&got),
        [
            "user.role_changed",
            "user.role_changed",
            "user.team_changed"
        ]
    );
    assert_eq!(got[0]["targetId"], gid::user(o.alice));
    assert_eq!(got[0]["actor"]["id"], gid::user(o.admin));
    assert_eq!(got[2]["data"]["after"]["team"], "Mobile");
    let moved = moves.events_n(1, Duration::from_secs(20)).await;
    assert_eq!(moved[0]["targetId"], gid::user(o.carol));
    moves.nothing_within(Duration::from_millis(500)).await;
    // The feed shows the same ids.
    let (feed, _) = read_feed(&app, o.admin, None).await;
    let feed_ids: Vec<&Value> = feed.iter().map(|e| &e["id"]).collect();
    let sub_ids: Vec<&Value> = got.iter().map(|e| &e["id"]).collect();
    assert_eq!(feed_ids, sub_ids);
}

#[tokio::test]
async fn a_managers_feed_and_subscription_carry_nothing_outside_their_team() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let mut sub = Subscriber::events(&app.url, &app.token_for(o.manager), None).await;
    // Outside the manager's team (Platform): Mobile, EMEA, General, a role, the account.
    data(&run(&app, o.admin, CHANGE_ROLE, json!({ "userIds": [gid::user(o.alice), gid::user(o.bob), gid::user(o.carol)], "roleId": gid::role(o.roles["MANAGER"]) })).await);
    data(
        &run(
            &app,
            o.admin,
            org::CREATE_ROLE,
            json!({ "name": "Quiet", "scope": "TEAM", "permissions": [] }),
        )
        .await,
    );
    data(
        &run(
            &app,
            o.admin,
            org::UPDATE_ACCOUNT,
            json!({ "name": "Renamed" }),
        )
        .await,
    );
    data(
        &run(
            &app,
            o.admin,
            org::CREATE_TEAM,
            json!({ "name": "Elsewhere" }),
        )
        .await,
    );
    // Inside: the sender of Platform.
    data(
        &run(
            &app,
            o.admin,
            CHANGE_ROLE,
            json!({ "userIds": [gid::user(o.sender)], "roleId": gid::role(o.roles["MANAGER"]) }),
        )
        .await,
    );
    let got = sub.events_n(1, Duration::from_secs(20)).await;
    assert_eq!(got[0]["targetId"], gid::user(o.sender));
    sub.nothing_within(Duration::from_millis(800)).await;

    let (feed, _) = read_feed(&app, o.manager, None).await;
    assert_eq!(feed.len(), 1, "{feed:#?}");
    assert_eq!(feed[0]["targetId"], gid::user(o.sender));
    // The admin sees all of them; node(id:) of an event outside the team is NOT_FOUND.
    let (all, _) = read_feed(&app, o.admin, None).await;
    assert_eq!(all.len(), 7);
    let body = app
        .gql(
            Some(&app.token_for(o.manager)),
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": all[0]["id"] }),
        )
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
}

#[tokio::test]
async fn a_deleted_subscribers_stream_ends() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let mut sub = Subscriber::events(&app.url, &app.token_for(o.dept_admin), None).await;
    data(
        &run(
            &app,
            o.admin,
            DELETE_USERS,
            json!({ "userIds": [gid::user(o.dept_admin)] }),
        )
        .await,
    );
    let mut ended = false;
    for _ in 0..5 {
        match sub.said(Duration::from_secs(20)).await {
            Said::Event(e) => assert_eq!(e["type"], "user.deleted"),
            Said::Error(e) => {
                assert_eq!(
                    e["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
                    "{e}"
                );
            }
            Said::Complete | Said::Closed => {
                ended = true;
                break;
            }
        }
    }
    assert!(ended, "the stream of a deleted user must end");
}

#[tokio::test]
async fn a_suspended_subscribers_stream_ends_and_the_suspension_is_an_event() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let mut watcher = Subscriber::events(&app.url, &app.token_for(o.admin), None).await;
    let mut sub = Subscriber::events(&app.url, &app.token_for(o.dept_admin), None).await;
    let body = run(
        &app,
        o.admin,
        "mutation($input: SuspendUsersInput!) { suspendUsers(input: $input) { changedCount } }",
        json!({ "userIds": [gid::user(o.dept_admin)] }),
    )
    .await;
    assert_eq!(data(&body)["suspendUsers"]["changedCount"], 1);
    let got = watcher.events_n(1, Duration::from_secs(20)).await;
    assert_eq!(got[0]["type"], "user.suspended");
    assert_eq!(got[0]["targetId"], gid::user(o.dept_admin));
    match sub.said(Duration::from_secs(20)).await {
        Said::Error(e) => assert_eq!(code_of(&e), "UNAUTHENTICATED", "{e}"),
        other => panic!("expected the stream to end: {other:?}"),
    }
    assert!(matches!(
        sub.said(Duration::from_secs(10)).await,
        Said::Complete
    ));
}

#[tokio::test]
async fn a_demoted_subscribers_stream_ends_and_a_moved_ones_narrows() {
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    // The Manager loses USERS_VIEW (becomes a Sender): their stream ends with FORBIDDEN.
    let mut demoted = Subscriber::events(&app.url, &app.token_for(o.manager), None).await;
    // A second manager, in Mobile, is moved to EMEA: they see EMEA's events from then on.
    let moved = insert_users(&app, o.account_id, o.mobile, o.roles["MANAGER"], "Mover", 1).await[0];
    let mut narrowed = Subscriber::events(&app.url, &app.token_for(moved), None).await;
    data(
        &run(
            &app,
            o.admin,
            CHANGE_ROLE,
            json!({ "userIds": [gid::user(o.manager)], "roleId": gid::role(o.roles["SENDER"]) }),
        )
        .await,
    );
    match demoted.said(Duration::from_secs(20)).await {
        Said::Error(e) => assert_eq!(e["errors"][0]["extensions"]["code"], "FORBIDDEN", "{e}"),
        other => panic!("expected the stream to end: {other:?}"),
    }
    assert!(matches!(
        demoted.said(Duration::from_secs(10)).await,
        Said::Complete
    ));

    data(
        &run(
            &app,
            o.admin,
            CHANGE_TEAM,
            json!({ "userIds": [gid::user(moved)], "teamId": gid::team(o.emea) }),
        )
        .await,
    );
    let got = narrowed.events_n(1, Duration::from_secs(20)).await;
    assert_eq!(
        got[0]["targetId"],
        gid::user(moved),
        "their own move (in EMEA now)"
    );
    // Mobile is no longer theirs; EMEA is.
    data(
        &run(
            &app,
            o.admin,
            CHANGE_ROLE,
            json!({ "userIds": [gid::user(o.alice)], "roleId": gid::role(o.roles["MANAGER"]) }),
        )
        .await,
    );
    // Made by an Admin who sits in Mobile: the mover saw them while in Mobile, not now.
    let mobile_admin = insert_users(
        &app,
        o.account_id,
        o.mobile,
        o.roles["ADMIN"],
        "Mobadmin",
        1,
    )
    .await[0];
    data(
        &run(
            &app,
            mobile_admin,
            CHANGE_ROLE,
            json!({ "userIds": [gid::user(o.bob)], "roleId": gid::role(o.roles["MANAGER"]) }),
        )
        .await,
    );
    let got = narrowed.events_n(1, Duration::from_secs(20)).await;
    assert_eq!(got[0]["targetId"], gid::user(o.bob));
    assert_eq!(
        got[0]["actor"],
        Value::Null,
        "the actor is outside the mover's reach now"
    );
    narrowed.nothing_within(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn subscriptions_need_a_valid_token_pass_the_document_guard_and_are_limited() {
    let http = HttpSettings {
        events: EventSettings {
            max_per_user: 1,
            max_per_instance: 2,
            ..EventSettings::default()
        },
        ..HttpSettings::default()
    };
    let app = TestApp::spawn_with(Default::default(), http).await;
    let o = Org::create(&app).await;
    // No token, a bad token: the connection is closed with 4403.
    for payload in [json!({}), json!({ "token": "not-a-jwt" })] {
        let (mut s, first) = Subscriber::open(&app.url, payload).await;
        assert_eq!(first["type"], "closed", "{first}");
        assert_eq!(first["code"], 4403, "{first}");
        drop(s.socket.close(None).await);
    }
    // The token under `token` works too; a Sender may not read events.
    let (mut s, ack) =
        Subscriber::open(&app.url, json!({ "token": app.token_for(o.sender) })).await;
    assert_eq!(ack["type"], "connection_ack");
    s.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIBE } }))
        .await;
    match s.said(Duration::from_secs(10)).await {
        Said::Error(e) => assert_eq!(e["errors"][0]["extensions"]["code"], "FORBIDDEN", "{e}"),
        other => panic!("{other:?}"),
    }
    // One stream per user here: the second is refused.
    let token = app.token_for(o.admin);
    let _first = Subscriber::events(&app.url, &token, None).await;
    let (mut second, ack) = Subscriber::open(
        &app.url,
        json!({ "Authorization": format!("Bearer {token}") }),
    )
    .await;
    assert_eq!(ack["type"], "connection_ack");
    second
        .send(json!({ "id": "2", "type": "subscribe", "payload": { "query": SUBSCRIBE } }))
        .await;
    match second.said(Duration::from_secs(10)).await {
        Said::Error(e) => assert_eq!(
            e["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
            "{e}"
        ),
        other => panic!("{other:?}"),
    }
    // Two streams per process here: another user's second stream in the process is refused.
    let _dept = Subscriber::events(&app.url, &app.token_for(o.dept_admin), None).await;
    let (mut third, ack) = Subscriber::open(
        &app.url,
        json!({ "Authorization": format!("Bearer {}", app.token_for(o.manager)) }),
    )
    .await;
    assert_eq!(ack["type"], "connection_ack");
    third
        .send(json!({ "id": "3", "type": "subscribe", "payload": { "query": SUBSCRIBE } }))
        .await;
    match third.said(Duration::from_secs(10)).await {
        Said::Error(e) => {
            assert_eq!(code_of(&e), "LIMIT_EXCEEDED", "{e}");
            assert!(
                e.to_string().contains("this server holds its maximum"),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        third.said(Duration::from_secs(10)).await,
        Said::Complete
    ));
    // The document guard applies to subscriptions as to queries: 16 aliases (limit 15).
    let aliases: String = (0..16).map(|i| format!("a{i}: id ")).collect();
    third
        .send(json!({ "id": "4", "type": "subscribe", "payload": { "query": format!("subscription {{ events {{ {aliases} }} }}") } }))
        .await;
    match third.said(Duration::from_secs(10)).await {
        Said::Error(e) => assert_eq!(code_of(&e), "LIMIT_EXCEEDED", "{e}"),
        other => panic!("{other:?}"),
    }
}

/// The code of the first error of a `next` payload or an `error` message.
fn code_of(e: &Value) -> &Value {
    if e.is_array() {
        &e[0]["extensions"]["code"]
    } else {
        &e["errors"][0]["extensions"]["code"]
    }
}

#[tokio::test]
async fn an_event_whose_wake_up_was_lost_still_arrives() {
    use sea_orm::{ActiveModelTrait, ConnectionTrait, IntoActiveModel, Statement};
    let app = TestApp::spawn().await;
    let o = Org::create(&app).await;
    let mut sub = Subscriber::events(&app.url, &app.token_for(o.admin), None).await;
    // A committed event with no NOTIFY and no in-process wake-up (as when a listener was
    // reconnecting): the stream's timer finds it in the table.
    let backend = app.db.backend();
    let sql = match backend {
        sea_orm::DatabaseBackend::Postgres => {
            "INSERT INTO event_sequences (account_id, last_seq) VALUES ($1, 1) ON CONFLICT (account_id) DO UPDATE SET last_seq = event_sequences.last_seq + 1 RETURNING last_seq"
        }
        _ => {
            "INSERT INTO event_sequences (account_id, last_seq) VALUES (?, 1) ON CONFLICT (account_id) DO UPDATE SET last_seq = event_sequences.last_seq + 1 RETURNING last_seq"
        }
    };
    let txn = app.db.begin_write().await.expect("begin");
    let seq: i64 = txn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [o.account_id.into()],
        ))
        .await
        .expect("sequence")
        .expect("row")
        .try_get_by_index(0)
        .expect("seq");
    let id = Uuid::now_v7();
    event::Model {
        id: id.into(),
        account_id: o.account_id.into(),
        seq,
        event_type: "team.updated".into(),
        operation_id: None,
        actor_id: None,
        target_type: "Team".into(),
        target_id: o.platform,
        target_team_id: Some(o.platform.into()),
        data_json: "{}".into(),
        created_at: roster::service::now_ms(),
    }
    .into_active_model()
    .reset_all()
    .insert(&txn)
    .await
    .expect("insert");
    txn.commit().await.expect("commit");
    let got = sub.events_n(1, Duration::from_secs(20)).await;
    assert_eq!(got[0]["id"], roster::service::ids::EventId(id).to_string());
}

// ---- Two processes ---------------------------------------------------------------------

#[tokio::test]
async fn a_subscriber_on_one_process_sees_a_bulk_change_made_on_another() {
    if !common::on_postgres() {
        eprintln!("skipped: two server processes need a shared PostgreSQL (DATABASE_URL)");
        return;
    }
    let (url, _scratch) = common::fresh_database().await;
    let db = roster::service::Db::connect(&url).await.expect("connect");
    db.migrate().await.expect("migrate");
    let created = roster::service::accounts::create(&db, "Fan-out", "admin@fan.test", "Fan Admin")
        .await
        .expect("account");
    let sender_role = created.roles[3].id;
    let manager_role = created.roles[2].id;
    let account = created.account.id;
    let users = seed(&db, account, created.team.id, sender_role, 1000).await;

    let mut servers = servers::Servers::default();
    let a = servers.start(&url).await;
    let b = servers.start(&url).await;
    let keys = common::test_keys();
    let token = keys
        .issue(
            &UserId(created.admin.id.0).to_string(),
            Duration::from_secs(600),
        )
        .expect("signing key")
        .expect("sign");
    let mut sub = Subscriber::events(&b, &token, None).await;
    let http = reqwest::Client::new();
    let body: Value = http
        .post(format!("{a}/graphql"))
        .bearer_auth(&token)
        .json(&json!({ "query": CHANGE_ROLE, "variables": { "input": { "userIds": users.iter().map(|u| gid::user(*u)).collect::<Vec<_>>(), "roleId": gid::role(manager_role) } } }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(data(&body)["changeUsersRole"]["changedCount"], 1000);
    let got = sub.events_n(1000, Duration::from_secs(60)).await;
    let targets: HashSet<&str> = got
        .iter()
        .map(|e| e["targetId"].as_str().expect("id"))
        .collect();
    assert_eq!(targets.len(), 1000);
    assert!(got.iter().all(|e| e["type"] == "user.role_changed"));
    sub.nothing_within(Duration::from_millis(500)).await;
}

/// Inserts `n` users straight into the database (no server of this process runs).
async fn seed(
    db: &roster::service::Db,
    account: impl Into<Uuid> + Copy,
    team: impl Into<Uuid> + Copy,
    role: impl Into<Uuid> + Copy,
    n: usize,
) -> Vec<Uuid> {
    let (account, team, role) = (account.into(), team.into(), role.into());
    use roster::service::email::Email;
    use roster::service::text::Name;
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let user = roster::service::accounts::insert_user(
            db.conn(),
            account.into(),
            &Email::parse(&format!("fan{i:04}@fan.test")).expect("email"),
            &Name::parse("name", &format!("Fan {i:04}")).expect("name"),
            team.into(),
            role.into(),
            roster::service::now_ms(),
        )
        .await
        .expect("user");
        ids.push(user.id.0);
    }
    ids
}
