//! The demo organization `roster demo` serves: departments, teams, a few hundred users in
//! every built-in role and a custom one, and invitations in every status. The content is
//! the same on every run (a fixed random seed); only ids and times differ.

use crate::service::ids::{InviteId, RoleId, TeamId, UserId};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, IntoActiveModel};

use crate::auth::{Permission, PermissionSet, RoleScope};
use crate::entity::{invite, role, user};
use crate::service::email::Email;
use crate::service::text::{self, Name};
use crate::service::{Db, Result, accounts, now_ms, teams};

const FIRST: &[&str] = &[
    "Ada",
    "Zoë",
    "José",
    "Åsa",
    "Jürgen",
    "Françoise",
    "Łukasz",
    "Mei",
    "Noah",
    "Amara",
    "Søren",
    "Chloé",
    "Íñigo",
    "Priya",
    "Kenji",
    "Olga",
    "Mateo",
    "Fatima",
    "Liam",
    "Sofía",
    "Björn",
    "Anaïs",
    "Tomás",
    "Yara",
    "Émile",
    "Hana",
    "Dmitri",
    "Leila",
    "Jonas",
    "Ana",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Müller",
    "García",
    "Ødegaard",
    "Dubois",
    "Kowalski",
    "Nakamura",
    "Okafor",
    "Äpfelbaum",
    "Rossi",
    "Novák",
    "Fernández",
    "Johansson",
    "Çelik",
    "Schröder",
    "Horvát",
    "Silva",
    "Łęcki",
    "Moreau",
    "Brontë",
    "Núñez",
    "Andersen",
    "Petrović",
    "Dvořák",
    "Kim",
];

/// One seeded person, for the printed tokens.
pub struct DemoUser {
    pub role_label: &'static str,
    pub user: user::Model,
}

/// What the demo made.
pub struct Demo {
    pub account_name: String,
    /// One user per built-in role, widest first.
    pub users: Vec<DemoUser>,
}

/// Seeds the demo organization into an empty database.
pub async fn seed(db: &Db) -> Result<Demo> {
    let created = accounts::create(
        db,
        "Acme Corporation",
        "ada.lovelace@acme.example",
        "Ada Lovelace",
    )
    .await?;
    let account_id = created.account.id;
    let now = now_ms();
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let txn = db.begin_write().await?;

    // Organization: three departments with their teams; "General" has no department.
    let layout: &[(&str, &[&str])] = &[
        ("Engineering", &["Platform", "Mobile", "Data"]),
        ("Sales", &["EMEA Sales", "Americas Sales"]),
        ("Operations", &["Support", "Finance"]),
    ];
    let mut teams_by_department = Vec::new();
    for (department, team_names) in layout {
        let d = teams::insert_department(&txn, account_id, &Name::parse("name", department)?, now)
            .await?;
        let mut ts = Vec::new();
        for t in *team_names {
            ts.push(
                teams::insert_team(&txn, account_id, &Name::parse("name", t)?, Some(d.id), now)
                    .await?,
            );
        }
        teams_by_department.push(ts);
    }
    let all_teams: Vec<_> = teams_by_department.iter().flatten().cloned().collect();

    let [admin, department_admin, manager, sender] = [0, 1, 2, 3].map(|i| created.roles[i].clone());
    let recruiter = role::Entity::insert(role::ActiveModel {
        id: Set(RoleId::new()),
        account_id: Set(account_id),
        key: Set(None),
        name: Set("Recruiter".into()),
        name_key: Set("recruiter".into()),
        scope: Set(RoleScope::Department),
        permissions: Set([Permission::UsersView, Permission::UsersInvite]
            .into_iter()
            .collect::<PermissionSet>()
            .bits()),
        built_in: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    })
    .exec_with_returning(&txn)
    .await?;

    // People: department admins, one manager per team, a few recruiters, the rest senders.
    let mut rows = Vec::new();
    let mut seen = std::collections::HashSet::new();
    seen.insert(created.admin.email.clone());
    let mut person = |rng: &mut StdRng, team_id: TeamId, role_id: RoleId, offset: i64| {
        loop {
            let first = *FIRST.choose(rng).unwrap_or(&"Ada");
            let last = *LAST.choose(rng).unwrap_or(&"Lovelace");
            let n: u32 = rng.random_range(1..1000);
            let email = format!(
                "{}.{}{}@acme.example",
                text::ascii_fold(first),
                text::ascii_fold(last),
                n
            )
            .to_lowercase();
            if !seen.insert(email.clone()) {
                continue;
            }
            let name = format!("{first} {last}");
            return user::Model {
                id: UserId::new(),
                account_id,
                name_key: text::fold(&name),
                search_text: text::search_text(&name, &email),
                email,
                name,
                team_id,
                role_id,
                created_at: now - offset,
                updated_at: now - offset,
                deleted_at: None,
                tokens_valid_after: None,
                status: user::Status::Active,
                external_id: None,
                version: 1,
            };
        }
    };
    rows.push(person(
        &mut rng,
        created.team.id,
        admin.id,
        86_400_000 * 300,
    ));
    for ts in &teams_by_department {
        rows.push(person(
            &mut rng,
            ts[0].id,
            department_admin.id,
            86_400_000 * 200,
        ));
    }
    for t in &all_teams {
        rows.push(person(&mut rng, t.id, manager.id, 86_400_000 * 150));
    }
    for ts in &teams_by_department {
        rows.push(person(
            &mut rng,
            ts[ts.len() - 1].id,
            recruiter.id,
            86_400_000 * 120,
        ));
    }
    for i in 0..280 {
        let t = all_teams
            .choose(&mut rng)
            .map(|t| t.id)
            .unwrap_or(created.team.id);
        rows.push(person(&mut rng, t, sender.id, 3_600_000 * i));
    }
    let users = rows;
    for chunk in users.chunks(200) {
        let models = chunk
            .iter()
            .map(|u| u.clone().into_active_model().reset_all());
        user::Entity::insert_many(models).exec(&txn).await?;
    }

    // Invitations in every status: pending, expired, accepted, withdrawn.
    let day = 86_400_000;
    let mut invites = Vec::new();
    for i in 0..24i64 {
        let team = all_teams[i as usize % all_teams.len()].id;
        let (created_at, expires_at, accepted, withdrawn) = match i % 4 {
            0 | 1 => (now - day, now + 6 * day, None, None),
            2 => (now - 10 * day, now - 3 * day, None, None),
            _ if i % 8 == 3 => (now - 5 * day, now + 2 * day, None, Some(now - 2 * day)),
            _ => (now - 20 * day, now - 13 * day, Some(now - 15 * day), None),
        };
        let accepted_user = accepted.map(|_| users[(10 + i as usize) % users.len()].clone());
        let email = match &accepted_user {
            Some(u) => u.email.clone(),
            None => {
                let first = FIRST[i as usize % FIRST.len()];
                let last = LAST[(i as usize * 7) % LAST.len()];
                format!(
                    "{}.{}.invited{}@acme.example",
                    text::ascii_fold(first),
                    text::ascii_fold(last),
                    i
                )
                .to_lowercase()
            }
        };
        if Email::parse(&email).is_none() {
            continue;
        }
        invites.push(invite::ActiveModel {
            id: Set(InviteId::new()),
            account_id: Set(account_id),
            email: Set(email),
            team_id: Set(accepted_user.as_ref().map(|u| u.team_id).unwrap_or(team)),
            role_id: Set(accepted_user
                .as_ref()
                .map(|u| u.role_id)
                .unwrap_or(sender.id)),
            invited_by: Set(Some(created.admin.id)),
            token_hash: Set(None),
            created_at: Set(created_at),
            expires_at: Set(expires_at),
            last_sent_at: Set(Some(created_at)),
            send_count: Set(1),
            accepted_at: Set(accepted),
            accepted_user_id: Set(accepted_user.map(|u| u.id)),
            withdrawn_at: Set(withdrawn),
            deleted_at: Set(None),
            delivery: Set(invite::Delivery::Sent),
            delivery_error: Set(None),
            updated_at: Set(created_at),
        });
    }
    invite::Entity::insert_many(invites).exec(&txn).await?;
    txn.commit().await?;

    let first_with = |role_id: RoleId| users.iter().find(|u| u.role_id == role_id).cloned();
    let mut demo_users = vec![DemoUser {
        role_label: "Admin",
        user: created.admin.clone(),
    }];
    for (label, role_id) in [
        ("Department Admin", department_admin.id),
        ("Manager", manager.id),
        ("Sender", sender.id),
    ] {
        if let Some(user) = first_with(role_id) {
            demo_users.push(DemoUser {
                role_label: label,
                user,
            });
        }
    }
    Ok(Demo {
        account_name: created.account.name,
        users: demo_users,
    })
}
