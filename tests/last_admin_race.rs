//! The last Admin under concurrency (docs/ARCHITECTURE.md, "Invariants"): two admins — and exactly two —
//! act against each other at the same moment, many times over, through one server and
//! through two server processes sharing one PostgreSQL database. After every round exactly
//! one request did its change and the account still has exactly one active Admin.

mod common;
#[path = "common/servers.rs"]
mod servers;
#[path = "common/users.rs"]
mod users;

use std::time::Duration;

use common::{Org, TestApp, gid};
use roster::service::ids::UserId;
use roster::service::{Db, accounts};
use serde_json::Value;
use servers::Servers;
use users::*;
use uuid::Uuid;

const ROUNDS: usize = 25;

/// What the two admins do to each other in one round.
#[derive(Copy, Clone, Debug)]
enum Race {
    /// Each demotes the other to Sender.
    DemoteEachOther,
    /// Each demotes themselves to Sender.
    StepDown,
    /// Each deletes the other.
    DeleteEachOther,
}

/// How one request of a round ended.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Ended {
    Changed,
    /// Refused in the payload with this item code.
    Item(String),
    /// Refused at the top level with this code.
    TopLevel(String),
}

fn ended(body: &Value) -> Ended {
    if let Some(code) = common::error_code(body) {
        return Ended::TopLevel(code.to_owned());
    }
    let payload = body["data"]
        .as_object()
        .and_then(|d| d.values().next())
        .unwrap_or_else(|| panic!("no payload: {body}"));
    match item_codes(payload).as_slice() {
        [] => {
            assert_eq!(payload["changedCount"], 1, "{body}");
            Ended::Changed
        }
        [(_, code)] => Ended::Item(code.clone()),
        more => panic!("unexpected errors {more:?}: {body}"),
    }
}

/// The two admins, the servers they talk to (the same one twice, or two processes) and
/// the database to check and reset between rounds.
struct Arena {
    db: Db,
    account: Uuid,
    admins: [Uuid; 2],
    tokens: [String; 2],
    servers: [String; 2],
    http: reqwest::Client,
}

impl Arena {
    async fn run(&self, race: Race) {
        let sender = gid::role(built_in_role(&self.db, self.account, "SENDER").await);
        let mut tally: std::collections::BTreeMap<Ended, usize> = Default::default();
        for round in 0..ROUNDS {
            make_admins(&self.db, self.account, &self.admins).await;
            assert_eq!(active_admins(&self.db, self.account).await.len(), 2);
            let request = |me: usize| {
                let other = gid::user(self.admins[1 - me]);
                let own = gid::user(self.admins[me]);
                let (query, vars) = match race {
                    Race::DemoteEachOther => (CHANGE_ROLE, role_vars(&[other], &sender, false)),
                    Race::StepDown => (CHANGE_ROLE, role_vars(&[own], &sender, false)),
                    Race::DeleteEachOther => (DELETE, delete_vars(&[other], false)),
                };
                gql_at(&self.http, &self.servers[me], &self.tokens[me], query, vars)
            };
            let (first, second) = tokio::join!(request(0), request(1));
            let results = [ended(&first), ended(&second)];
            let winners: Vec<usize> = (0..2).filter(|&i| results[i] == Ended::Changed).collect();
            assert_eq!(
                winners.len(),
                1,
                "{race:?} round {round}: exactly one may win: {first} / {second}"
            );
            let (winner, loser) = (winners[0], 1 - winners[0]);
            // The loser is refused for the last Admin — or, when the winner's change reached
            // it first, because its own actor is no longer an Admin (demoted: FORBIDDEN;
            // deleted: UNAUTHENTICATED).
            let allowed: &[Ended] = match race {
                Race::DemoteEachOther => &[
                    Ended::Item("LAST_ADMIN".into()),
                    Ended::TopLevel("FORBIDDEN".into()),
                ],
                Race::StepDown => &[Ended::Item("LAST_ADMIN".into())],
                Race::DeleteEachOther => &[
                    Ended::Item("LAST_ADMIN".into()),
                    Ended::TopLevel("UNAUTHENTICATED".into()),
                ],
            };
            assert!(
                allowed.contains(&results[loser]),
                "{race:?} round {round}: loser ended {:?}",
                results[loser]
            );
            let survivor = match race {
                Race::StepDown => self.admins[loser],
                _ => self.admins[winner],
            };
            assert_eq!(
                active_admins(&self.db, self.account).await,
                [survivor],
                "{race:?} round {round}"
            );
            *tally.entry(results[loser].clone()).or_default() += 1;
        }
        println!("{race:?}: losers over {ROUNDS} rounds: {tally:?}");
    }
}

#[tokio::test]
async fn admins_racing_through_one_server_keep_an_admin() {
    let app = TestApp::spawn().await;
    let org = Org::create(&app).await;
    let second = seed_users(&app.db, org.account_id, org.general, org.roles["ADMIN"], 1).await[0];
    let arena = Arena {
        db: app.db.clone(),
        account: org.account_id,
        admins: [org.admin, second],
        tokens: [app.token_for(org.admin), app.token_for(second)],
        servers: [app.url.clone(), app.url.clone()],
        http: app.http.clone(),
    };
    for race in [Race::DemoteEachOther, Race::StepDown, Race::DeleteEachOther] {
        arena.run(race).await;
    }
}

#[tokio::test]
async fn admins_racing_through_two_server_processes_keep_an_admin() {
    if !common::on_postgres() {
        eprintln!("skipped: two server processes need a shared PostgreSQL (DATABASE_URL)");
        return;
    }
    let (url, _dir) = common::fresh_database().await;
    let db = Db::connect(&url).await.expect("connect");
    db.migrate().await.expect("migrate");
    let created = accounts::create(&db, "Race Org", "first@race.test", "First Admin")
        .await
        .expect("account");
    let admin_role = created.roles[0].id;
    let second = seed_users(&db, created.account.id, created.team.id, admin_role, 1).await[0];

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
        admins: [created.admin.id.0, second],
        tokens: [token(created.admin.id.0), token(second)],
        servers: [a, b],
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client"),
    };
    for race in [Race::DemoteEachOther, Race::StepDown, Race::DeleteEachOther] {
        arena.run(race).await;
    }
}
