//! `roster seed`: a synthetic dataset at benchmark scale — many accounts, one of them big,
//! with departments, teams, the built-in roles, users with accented names and invitations in
//! every status — written fast with set-based bulk inserts.
//!
//! The content (names, emails, teams, roles, statuses) is the same for the same
//! `seed_value` and sizes; ids and times follow the clock, as in `roster demo`. Rows are
//! built in Rust with the same derivations the service uses (`text::fold`,
//! `text::search_text`, `roles::built_in_rows`) and written straight to the tables, bypassing
//! the per-row rules: no audit events and no outbox emails are written for seeded data.
//!
//! PostgreSQL gets one `COPY … FROM STDIN` per table per batch, all in one transaction with
//! the big tables' secondary indexes and foreign keys set aside until the end (see `Writer`);
//! SQLite gets multi-row `INSERT`s from one prepared statement per table, one transaction per
//! batch (about 50,000 rows, or a whole account when it is bigger), in foreign-key order.
//! Either way the seed is meant for a database that is not being served yet.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use sea_orm::DatabaseBackend;
use sea_orm::sqlx::{self, AssertSqlSafe};
use uuid::Uuid;

use crate::auth::BuiltInRole;
use crate::entity::{account, department, invite, role, team, user};
use crate::service::accounts::DEFAULT_INVITE_EXPIRY_DAYS;
use crate::service::ids::{AccountId, DepartmentId, InviteId, TeamId, UserId};
use crate::service::roles::{self, BUILT_INS};
use crate::service::{Db, now_ms, text};

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;
/// Rows (users + invites) gathered before a batch is written.
const BATCH_ROWS: usize = 50_000;

/// What `seed` generates. `Default` is the issue's benchmark size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedOptions {
    /// Users in all accounts together, Admins included.
    pub users: u64,
    /// Accounts, the big one included.
    pub accounts: u64,
    /// Users of the big account (the first one); the other accounts share the rest evenly.
    pub big_account_users: u64,
    /// Teams of the big account; the others get a few each.
    pub big_account_teams: u64,
    /// Invitations per account, as a percentage of its users (spread over all statuses).
    pub invite_percent: u64,
    /// Seed of the random choices: the same value gives the same content.
    pub seed_value: u64,
}

impl Default for SeedOptions {
    fn default() -> Self {
        SeedOptions {
            users: 1_000_000,
            accounts: 1_000,
            big_account_users: 100_000,
            big_account_teams: 200,
            invite_percent: 10,
            seed_value: 42,
        }
    }
}

/// What `seed` wrote.
#[derive(Clone, Debug, Default)]
pub struct SeedReport {
    pub accounts: u64,
    pub roles: u64,
    pub departments: u64,
    pub teams: u64,
    pub users: u64,
    pub invites: u64,
    /// Invites per status, in `PENDING, ACCEPTED, EXPIRED, WITHDRAWN` order (at seeding time).
    pub invites_by_status: [u64; 4],
    /// Wall time of the whole seed, statistics refresh included.
    pub elapsed: Duration,
    /// Wall time until the last batch was written, before the indexes and foreign keys set
    /// aside for the load are rebuilt.
    pub load_elapsed: Duration,
    /// The big account (the first one).
    pub big_account_id: AccountId,
    /// Its one Admin.
    pub big_admin_id: UserId,
    pub big_admin_email: String,
    /// Its users and invites.
    pub big_account_users: u64,
    pub big_account_invites: u64,
}

impl SeedReport {
    /// All rows written.
    pub fn rows(&self) -> u64 {
        self.accounts + self.roles + self.departments + self.teams + self.users + self.invites
    }

    /// Rows written per second of wall time.
    pub fn rows_per_sec(&self) -> f64 {
        self.rows() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Rows inserted per second while loading the batches (index rebuilds excluded).
    pub fn load_rows_per_sec(&self) -> f64 {
        self.rows() as f64 / self.load_elapsed.as_secs_f64().max(1e-9)
    }
}

/// Generates the dataset `opts` describes into `db` (migrated), next to whatever is already
/// there; returns what it wrote.
pub async fn seed(db: &Db, opts: &SeedOptions) -> anyhow::Result<SeedReport> {
    check(opts)?;
    let started = Instant::now();
    let now = now_ms();
    let mut writer = Writer::new(db).await?;
    let mut report = SeedReport::default();
    let mut batch = Batch::default();
    let small_accounts = opts.accounts - 1;
    let rest = opts.users - opts.big_account_users;
    for index in 0..opts.accounts {
        let users = if index == 0 {
            opts.big_account_users
        } else {
            // Spread the remainder over the first accounts, one user each.
            rest / small_accounts + u64::from(index - 1 < rest % small_accounts)
        };
        let made = generate_account(&mut batch, opts, index, users, now);
        if index == 0 {
            report.big_account_id = made.account_id;
            report.big_admin_id = made.admin_id;
            report.big_admin_email = made.admin_email;
            report.big_account_users = users;
            report.big_account_invites = made.invites;
        }
        if batch.users.len() + batch.invites.len() >= BATCH_ROWS || index + 1 == opts.accounts {
            batch.count_into(&mut report, now);
            writer.write(&batch).await?;
            batch.clear();
            tracing::info!(
                accounts = index + 1,
                users = report.users,
                invites = report.invites,
                "seeding"
            );
        }
    }
    report.load_elapsed = started.elapsed();
    writer.finish(db).await?;
    report.elapsed = started.elapsed();
    Ok(report)
}

fn check(opts: &SeedOptions) -> anyhow::Result<()> {
    if opts.accounts == 0 {
        bail!("--accounts must be at least 1");
    }
    if opts.big_account_users == 0 || opts.big_account_users > opts.users {
        bail!(
            "--big-account-users must be between 1 and --users ({})",
            opts.users
        );
    }
    if opts.big_account_teams == 0 {
        bail!("--big-account-teams must be at least 1");
    }
    let rest = opts.users - opts.big_account_users;
    if opts.accounts == 1 && rest > 0 {
        bail!("with one account, --users must equal --big-account-users");
    }
    if rest < opts.accounts - 1 {
        bail!(
            "{} users outside the big account cannot give each of the other {} accounts its Admin",
            rest,
            opts.accounts - 1
        );
    }
    if opts.invite_percent > 1000 {
        bail!("--invite-percent must be at most 1000");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Content

const FIRST: &[&str] = &[
    "Zoë",
    "José",
    "Ælfrida",
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
    "Ada",
    "Grace",
    "Alan",
    "Þóra",
    "Ðorđe",
    "Ştefan",
    "Zdeněk",
    "Małgorzata",
    "Renée",
    "Nikolaj",
    "Siobhán",
    "Oğuz",
    "Ines",
    "Mohammed",
    "Aiko",
    "Lucía",
    "Håkon",
    "Eleanor",
    "Kwame",
    "Ingrid",
    "Matthäus",
    "Beatriz",
    "Raphaël",
    "Agnieszka",
    "Dagný",
    "Ngozi",
    "Wei",
    "Mirela",
    "Jóhann",
    "Céline",
];

const LAST: &[&str] = &[
    "Müller",
    "Núñez",
    "Øvergaard",
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
    "Horváth",
    "Silva",
    "Łęcki",
    "Moreau",
    "Brontë",
    "Andersen",
    "Petrović",
    "Dvořák",
    "Kim",
    "Lovelace",
    "Hopper",
    "Turing",
    "Strauß",
    "Jónsdóttir",
    "Ionescu",
    "Yılmaz",
    "Nguyễn",
    "O'Brien",
    "Kuznetsova",
    "Mendoza",
    "Larsen",
    "Bianchi",
    "Kovačević",
    "Lefèvre",
    "Svensson",
    "Gómez",
    "Wiśniewski",
    "Hoffmann",
    "Tanaka",
    "Mensah",
    "Virtanen",
    "Papadopoulos",
    "Costa",
    "Zhang",
    "Nørgaard",
    "Quintão",
    "Şahin",
    "Ólafsson",
    "Dupré",
    "Krüger",
    "Sánchez",
    "Haddad",
    "Ó Súilleabháin",
    "Begović",
];

const COMPANY: &[&str] = &[
    "Nordlicht",
    "Café Lumière",
    "Zürich Analytics",
    "Ålesund Marine",
    "Acme",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Cyberdyne",
    "Tyrell",
    "Massive Dynamic",
    "Oscorp",
    "Wonka",
    "Dunder Mifflin",
    "Pied Piper",
    "Aperture",
];

const COMPANY_KIND: &[&str] = &[
    "Industries",
    "Logistik",
    "Labs",
    "Systems",
    "Partners",
    "Group",
    "Studios",
    "Holdings",
];

const DEPARTMENTS: &[&str] = &[
    "Engineering",
    "Sales",
    "Operations",
    "Marketing",
    "Finance",
    "Customer Success",
    "Product",
    "Design",
    "People",
    "Legal",
    "Research",
    "Support",
];

const TEAMS: &[&str] = &[
    "Platform",
    "Mobile",
    "Data",
    "EMEA Sales",
    "Americas Sales",
    "APAC Sales",
    "Support",
    "Finance",
    "Growth",
    "Security",
    "Infrastructure",
    "Web",
    "Payments",
    "Search",
    "Billing",
    "Onboarding",
    "Recruiting",
    "Brand",
    "Analytics",
    "Quality",
];

/// A name from a list, numbered from its second round on ("Platform", …, "Platform 2").
fn numbered(list: &[&str], i: usize) -> String {
    let base = list[i % list.len()];
    match i / list.len() {
        0 => base.to_owned(),
        round => format!("{base} {}", round + 1),
    }
}

/// A UUIDv7 at `at` (ms) with random bits from `rng`: ids sort like their creation time.
fn id_at<T: From<Uuid>>(rng: &mut StdRng, at: i64) -> T {
    let bytes: [u8; 10] = rng.random();
    uuid::Builder::from_unix_timestamp_millis(u64::try_from(at).unwrap_or(0), &bytes)
        .into_uuid()
        .into()
}

/// What the generator reports back about one account.
struct Made {
    account_id: AccountId,
    admin_id: UserId,
    admin_email: String,
    invites: u64,
}

/// The rows of some accounts, waiting to be written.
#[derive(Default)]
struct Batch {
    accounts: Vec<account::Model>,
    roles: Vec<role::Model>,
    departments: Vec<department::Model>,
    teams: Vec<team::Model>,
    users: Vec<user::Model>,
    invites: Vec<invite::Model>,
}

impl Batch {
    fn count_into(&self, report: &mut SeedReport, now: i64) {
        report.accounts += self.accounts.len() as u64;
        report.roles += self.roles.len() as u64;
        report.departments += self.departments.len() as u64;
        report.teams += self.teams.len() as u64;
        report.users += self.users.len() as u64;
        report.invites += self.invites.len() as u64;
        for i in &self.invites {
            let slot = match crate::service::invites::status(i, now) {
                crate::service::invites::Status::Pending => 0,
                crate::service::invites::Status::Accepted => 1,
                crate::service::invites::Status::Expired => 2,
                crate::service::invites::Status::Withdrawn => 3,
            };
            report.invites_by_status[slot] += 1;
        }
    }

    fn clear(&mut self) {
        self.accounts.clear();
        self.roles.clear();
        self.departments.clear();
        self.teams.clear();
        self.users.clear();
        self.invites.clear();
    }
}

/// Appends account number `index` with `users` users to `batch`.
fn generate_account(
    batch: &mut Batch,
    opts: &SeedOptions,
    index: u64,
    users: u64,
    now: i64,
) -> Made {
    let mut rng = StdRng::seed_from_u64(
        opts.seed_value
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(index),
    );
    let big = index == 0;
    let (name, domain) = if big {
        ("Globex Corporation".to_owned(), "globex.example".to_owned())
    } else {
        let company = *COMPANY.choose(&mut rng).unwrap_or(&"Acme");
        let kind = *COMPANY_KIND.choose(&mut rng).unwrap_or(&"Group");
        let domain = format!(
            "{}-{}-{index}.example",
            text::ascii_fold(company),
            text::ascii_fold(kind)
        );
        (format!("{company} {kind} {index}"), domain)
    };
    let created = now - 3 * 365 * DAY + rng.random_range(0..30 * DAY);
    let account_id = id_at(&mut rng, created);
    batch.accounts.push(account::Model {
        id: account_id,
        name,
        allowed_email_domains: "[]".into(),
        invite_expiry_days: DEFAULT_INVITE_EXPIRY_DAYS,
        created_at: created,
        updated_at: created,
        seat_limit: None,
        scim_deprovision: "DELETE".into(),
    });
    let built_ins = roles::built_in_rows(account_id, created);
    let role_of = |key: BuiltInRole| {
        BUILT_INS
            .iter()
            .position(|b| b.key == key)
            .and_then(|i| built_ins.get(i))
            .map(|r| r.id)
            .unwrap_or_default()
    };
    let [admin_role, department_admin_role, manager_role, sender_role] = [
        BuiltInRole::Admin,
        BuiltInRole::DepartmentAdmin,
        BuiltInRole::Manager,
        BuiltInRole::Sender,
    ]
    .map(role_of);
    batch.roles.extend(built_ins.iter().cloned());

    // Organization: departments, and teams spread over them; some teams have none.
    let team_count = if big {
        opts.big_account_teams as usize
    } else {
        (users / 150).clamp(2, 8) as usize
    };
    let department_count = if big {
        (team_count / 10).max(1)
    } else {
        1 + team_count / 4
    };
    let departments: Vec<DepartmentId> = (0..department_count)
        .map(|i| {
            let name = numbered(DEPARTMENTS, i);
            let id = id_at(&mut rng, created);
            batch.departments.push(department::Model {
                id,
                account_id,
                name_key: text::fold(&name),
                name,
                created_at: created,
                updated_at: created,
            });
            id
        })
        .collect();
    let teams: Vec<TeamId> = (0..team_count)
        .map(|i| {
            let name = numbered(TEAMS, i);
            let id = id_at(&mut rng, created);
            batch.teams.push(team::Model {
                id,
                account_id,
                department_id: departments.get(i % (department_count + 1)).copied(),
                name_key: text::fold(&name),
                name,
                created_at: created,
                updated_at: created,
                deleted_at: None,
                version: 1,
                external_id: None,
            });
            id
        })
        .collect();

    // People: one Admin (the first user), then mostly Senders and Managers, a few
    // Department Admins. The running number makes every email unique in the account.
    let first_user = batch.users.len();
    for n in 0..users {
        let first = *FIRST.choose(&mut rng).unwrap_or(&"Ada");
        let last = *LAST.choose(&mut rng).unwrap_or(&"Lovelace");
        let name = format!("{first} {last}");
        let email = format!(
            "{}.{}{n}@{domain}",
            text::ascii_fold(first),
            text::ascii_fold(last)
        );
        let role_id = match (n, rng.random_range(0..100)) {
            (0, _) => admin_role,
            (_, 0..2) => department_admin_role,
            (_, 2..25) => manager_role,
            _ => sender_role,
        };
        let at = if n == 0 {
            created
        } else {
            rng.random_range(created..now)
        };
        batch.users.push(user::Model {
            id: id_at(&mut rng, at),
            account_id,
            name_key: text::fold(&name),
            search_text: text::search_text(&name, &email),
            email,
            name,
            team_id: teams[rng.random_range(0..teams.len())],
            role_id,
            created_at: at,
            updated_at: at,
            deleted_at: None,
            tokens_valid_after: None,
            status: user::Status::Active,
            external_id: None,
            version: 1,
        });
    }
    let people = &batch.users[first_user..];
    let admin = &people[0];

    // Invitations in every status; accepted ones point at the newest users, who joined
    // through them.
    let expiry = i64::from(DEFAULT_INVITE_EXPIRY_DAYS) * DAY;
    let invite_count = users * opts.invite_percent / 100;
    let mut accepted = 0usize;
    for j in 0..invite_count {
        let joined = match j % 10 {
            1 | 5 if accepted + 1 < people.len() => {
                accepted += 1;
                people.get(people.len() - accepted)
            }
            _ => None,
        };
        let mut row = invite::Model {
            id: InviteId::NIL,
            account_id,
            email: String::new(),
            team_id: teams[rng.random_range(0..teams.len())],
            role_id: if rng.random_range(0..5) == 0 {
                manager_role
            } else {
                sender_role
            },
            invited_by: Some(admin.id),
            token_hash: None,
            created_at: 0,
            expires_at: 0,
            last_sent_at: None,
            send_count: 1,
            accepted_at: None,
            accepted_user_id: None,
            withdrawn_at: None,
            deleted_at: None,
            delivery: invite::Delivery::Sent,
            delivery_error: None,
            updated_at: 0,
        };
        if let Some(u) = joined {
            let sent = (u.created_at - rng.random_range(HOUR..expiry - HOUR)).max(created);
            row.email = u.email.clone();
            row.team_id = u.team_id;
            row.role_id = u.role_id;
            row.created_at = sent;
            row.accepted_at = Some(u.created_at);
            row.accepted_user_id = Some(u.id);
            row.updated_at = u.created_at;
        } else {
            let first = *FIRST.choose(&mut rng).unwrap_or(&"Ada");
            let last = *LAST.choose(&mut rng).unwrap_or(&"Lovelace");
            row.email = format!(
                "{}.{}.inv{j}@{domain}",
                text::ascii_fold(first),
                text::ascii_fold(last)
            );
            match j % 10 {
                // Expired: sent more than the expiry ago, never answered.
                2 | 7 => {
                    row.created_at = now - expiry - rng.random_range(DAY..60 * DAY);
                    row.updated_at = row.created_at;
                }
                // Withdrawn before it expired.
                3 | 8 => {
                    row.created_at = now - rng.random_range(DAY..60 * DAY);
                    let withdrawn =
                        row.created_at + rng.random_range(0..(now - row.created_at).min(expiry));
                    row.withdrawn_at = Some(withdrawn);
                    row.updated_at = withdrawn;
                }
                // Pending, with at least a day left.
                _ => {
                    row.created_at = now - rng.random_range(0..expiry - DAY);
                    row.updated_at = row.created_at;
                }
            }
        }
        row.expires_at = row.created_at + expiry;
        row.last_sent_at = Some(row.created_at);
        row.id = id_at(&mut rng, row.created_at);
        batch.invites.push(row);
    }
    Made {
        account_id,
        admin_id: admin.id,
        admin_email: admin.email.clone(),
        invites: invite_count,
    }
}

// ---------------------------------------------------------------------------------------
// Writing

/// One column value, borrowed from a row.
enum Val<'a> {
    Uuid(Option<Uuid>),
    Text(Option<&'a str>),
    Int(Option<i64>),
    Bool(bool),
    Bytes(Option<&'a [u8]>),
}

/// A table row as `roster seed` writes it: its columns, in the order of `COLUMNS`.
trait Row {
    const TABLE: &'static str;
    const COLUMNS: &'static [&'static str];
    fn values(&self) -> Vec<Val<'_>>;
}

impl Row for account::Model {
    const TABLE: &'static str = "accounts";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "name",
        "allowed_email_domains",
        "invite_expiry_days",
        "created_at",
        "updated_at",
    ];
    fn values(&self) -> Vec<Val<'_>> {
        vec![
            Val::Uuid(Some(self.id.into())),
            Val::Text(Some(&self.name)),
            Val::Text(Some(&self.allowed_email_domains)),
            Val::Int(Some(i64::from(self.invite_expiry_days))),
            Val::Int(Some(self.created_at)),
            Val::Int(Some(self.updated_at)),
        ]
    }
}

impl Row for role::Model {
    const TABLE: &'static str = "roles";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "account_id",
        "key",
        "name",
        "name_key",
        "scope",
        "permissions",
        "built_in",
        "created_at",
        "updated_at",
        "deleted_at",
    ];
    fn values(&self) -> Vec<Val<'_>> {
        vec![
            Val::Uuid(Some(self.id.into())),
            Val::Uuid(Some(self.account_id.into())),
            Val::Text(self.key.map(BuiltInRole::as_str)),
            Val::Text(Some(&self.name)),
            Val::Text(Some(&self.name_key)),
            Val::Text(Some(self.scope.as_str())),
            Val::Int(Some(self.permissions)),
            Val::Bool(self.built_in),
            Val::Int(Some(self.created_at)),
            Val::Int(Some(self.updated_at)),
            Val::Int(self.deleted_at),
        ]
    }
}

impl Row for department::Model {
    const TABLE: &'static str = "departments";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "account_id",
        "name",
        "name_key",
        "created_at",
        "updated_at",
    ];
    fn values(&self) -> Vec<Val<'_>> {
        vec![
            Val::Uuid(Some(self.id.into())),
            Val::Uuid(Some(self.account_id.into())),
            Val::Text(Some(&self.name)),
            Val::Text(Some(&self.name_key)),
            Val::Int(Some(self.created_at)),
            Val::Int(Some(self.updated_at)),
        ]
    }
}

impl Row for team::Model {
    const TABLE: &'static str = "teams";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "account_id",
        "department_id",
        "name",
        "name_key",
        "created_at",
        "updated_at",
        "deleted_at",
    ];
    fn values(&self) -> Vec<Val<'_>> {
        vec![
            Val::Uuid(Some(self.id.into())),
            Val::Uuid(Some(self.account_id.into())),
            Val::Uuid(self.department_id.map(Into::into)),
            Val::Text(Some(&self.name)),
            Val::Text(Some(&self.name_key)),
            Val::Int(Some(self.created_at)),
            Val::Int(Some(self.updated_at)),
            Val::Int(self.deleted_at),
        ]
    }
}

impl Row for user::Model {
    const TABLE: &'static str = "users";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "account_id",
        "email",
        "name",
        "name_key",
        "search_text",
        "team_id",
        "role_id",
        "created_at",
        "updated_at",
        "deleted_at",
        "tokens_valid_after",
    ];
    fn values(&self) -> Vec<Val<'_>> {
        vec![
            Val::Uuid(Some(self.id.into())),
            Val::Uuid(Some(self.account_id.into())),
            Val::Text(Some(&self.email)),
            Val::Text(Some(&self.name)),
            Val::Text(Some(&self.name_key)),
            Val::Text(Some(&self.search_text)),
            Val::Uuid(Some(self.team_id.into())),
            Val::Uuid(Some(self.role_id.into())),
            Val::Int(Some(self.created_at)),
            Val::Int(Some(self.updated_at)),
            Val::Int(self.deleted_at),
            Val::Int(self.tokens_valid_after),
        ]
    }
}

impl Row for invite::Model {
    const TABLE: &'static str = "invites";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "account_id",
        "email",
        "team_id",
        "role_id",
        "invited_by",
        "token_hash",
        "created_at",
        "expires_at",
        "last_sent_at",
        "send_count",
        "accepted_at",
        "accepted_user_id",
        "withdrawn_at",
        "deleted_at",
        "delivery",
        "delivery_error",
        "updated_at",
    ];
    fn values(&self) -> Vec<Val<'_>> {
        vec![
            Val::Uuid(Some(self.id.into())),
            Val::Uuid(Some(self.account_id.into())),
            Val::Text(Some(&self.email)),
            Val::Uuid(Some(self.team_id.into())),
            Val::Uuid(Some(self.role_id.into())),
            Val::Uuid(self.invited_by.map(Into::into)),
            Val::Bytes(self.token_hash.as_deref()),
            Val::Int(Some(self.created_at)),
            Val::Int(Some(self.expires_at)),
            Val::Int(self.last_sent_at),
            Val::Int(Some(i64::from(self.send_count))),
            Val::Int(self.accepted_at),
            Val::Uuid(self.accepted_user_id.map(Into::into)),
            Val::Int(self.withdrawn_at),
            Val::Int(self.deleted_at),
            Val::Text(Some(self.delivery.as_str())),
            Val::Text(self.delivery_error.as_deref()),
            Val::Int(Some(self.updated_at)),
        ]
    }
}

/// Writes batches to one of the two databases.
///
/// On PostgreSQL the whole seed is one transaction that follows the manual's advice for
/// populating a database: the foreign keys and secondary indexes of `users` and `invites`
/// are dropped first and re-created, from their own catalog definitions, after the last
/// batch — one set-based check and one index build instead of a trigger call and seven index
/// insertions per row. A violation (duplicate email, dangling id) fails the re-creation and
/// rolls everything back; the tables are locked until the seed commits. Triggers stay on.
enum Writer {
    Postgres {
        pool: sqlx::PgPool,
        tx: sqlx::Transaction<'static, sqlx::Postgres>,
        /// Statements that put the dropped constraints and indexes back, in order.
        restore: Vec<String>,
    },
    Sqlite(sqlx::SqlitePool),
}

/// The tables whose secondary indexes and foreign keys are set aside during a PostgreSQL seed.
const BULK_TABLES: &str = "'users', 'invites'";

impl Writer {
    async fn new(db: &Db) -> anyhow::Result<Self> {
        Ok(match db.backend() {
            DatabaseBackend::Postgres => {
                let pool = db.conn().get_postgres_connection_pool().clone();
                let mut tx = pool.begin().await?;
                sqlx::query("SET LOCAL maintenance_work_mem = '256MB'")
                    .execute(&mut *tx)
                    .await?;
                let foreign_keys: Vec<(String, String, String)> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT c.conrelid::regclass::text, c.conname::text, pg_get_constraintdef(c.oid) \
                     FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
                     WHERE c.contype = 'f' AND t.relnamespace = current_schema()::regnamespace \
                     AND t.relname IN ({BULK_TABLES}) ORDER BY 1, 2"
                )))
                .fetch_all(&mut *tx)
                .await
                .context("reading foreign keys")?;
                let indexes: Vec<(String, String)> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT i.indexname::text, i.indexdef FROM pg_indexes i \
                     WHERE i.schemaname = current_schema() AND i.tablename IN ({BULK_TABLES}) \
                     AND NOT EXISTS (SELECT 1 FROM pg_constraint c \
                       WHERE c.conname = i.indexname AND c.contype IN ('p', 'u', 'x')) \
                     ORDER BY 1"
                )))
                .fetch_all(&mut *tx)
                .await
                .context("reading indexes")?;
                let mut restore = Vec::new();
                for (table, name, definition) in &foreign_keys {
                    sqlx::query(AssertSqlSafe(format!(
                        "ALTER TABLE {table} DROP CONSTRAINT \"{name}\""
                    )))
                    .execute(&mut *tx)
                    .await?;
                    restore.push(format!(
                        "ALTER TABLE {table} ADD CONSTRAINT \"{name}\" {definition}"
                    ));
                }
                for (name, definition) in &indexes {
                    sqlx::query(AssertSqlSafe(format!("DROP INDEX \"{name}\"")))
                        .execute(&mut *tx)
                        .await?;
                    restore.push(definition.clone());
                }
                Writer::Postgres { pool, tx, restore }
            }
            DatabaseBackend::Sqlite => {
                Writer::Sqlite(db.conn().get_sqlite_connection_pool().clone())
            }
            other => bail!("roster seed supports PostgreSQL and SQLite, not {other:?}"),
        })
    }

    /// Writes one batch, parents before children (one transaction per batch on SQLite).
    async fn write(&mut self, batch: &Batch) -> anyhow::Result<()> {
        match self {
            Writer::Postgres { tx, .. } => {
                copy_in(tx, &batch.accounts).await?;
                copy_in(tx, &batch.roles).await?;
                copy_in(tx, &batch.departments).await?;
                copy_in(tx, &batch.teams).await?;
                copy_in(tx, &batch.users).await?;
                copy_in(tx, &batch.invites).await?;
            }
            Writer::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                insert_many(&mut tx, &batch.accounts).await?;
                insert_many(&mut tx, &batch.roles).await?;
                insert_many(&mut tx, &batch.departments).await?;
                insert_many(&mut tx, &batch.teams).await?;
                insert_many(&mut tx, &batch.users).await?;
                insert_many(&mut tx, &batch.invites).await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// On PostgreSQL: re-creates the indexes and foreign keys, commits, and refreshes the
    /// planner statistics, which a bulk load leaves stale until autovacuum catches up. On
    /// SQLite: gathers statistics, which SQLite keeps none of unless asked.
    async fn finish(self, db: &Db) -> anyhow::Result<()> {
        db.gather_statistics()
            .await
            .context("ANALYZE after seeding")?;
        if let Writer::Postgres {
            pool,
            mut tx,
            restore,
        } = self
        {
            for statement in &restore {
                let started = Instant::now();
                sqlx::query(AssertSqlSafe(statement.clone()))
                    .execute(&mut *tx)
                    .await
                    .with_context(|| format!("after seeding: {statement}"))?;
                tracing::info!(
                    ms = started.elapsed().as_millis() as u64,
                    statement = statement.as_str(),
                    "rebuilt"
                );
            }
            tx.commit().await?;
            sqlx::query("ANALYZE accounts, roles, departments, teams, users, invites")
                .execute(&pool)
                .await
                .context("ANALYZE after seeding")?;
        }
        Ok(())
    }
}

/// Streams `rows` into their table with `COPY … FROM STDIN` (text format).
async fn copy_in<R: Row>(conn: &mut sqlx::PgConnection, rows: &[R]) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let statement = format!("COPY {} ({}) FROM STDIN", R::TABLE, R::COLUMNS.join(", "));
    let mut copy = conn
        .copy_in_raw(&statement)
        .await
        .with_context(|| format!("COPY {}", R::TABLE))?;
    let mut buf = String::with_capacity(1 << 20);
    let mut result = Ok(());
    for (i, row) in rows.iter().enumerate() {
        copy_line(&mut buf, &row.values());
        if buf.len() >= (1 << 20) - 4096 || i + 1 == rows.len() {
            if let Err(e) = copy.send(buf.as_bytes()).await {
                result = Err(e);
                break;
            }
            buf.clear();
        }
    }
    match result {
        Ok(()) => {
            copy.finish()
                .await
                .with_context(|| format!("COPY {}", R::TABLE))?;
            Ok(())
        }
        Err(e) => {
            let _ = copy.abort("roster seed stopped").await;
            Err(anyhow::Error::from(e).context(format!("COPY {}", R::TABLE)))
        }
    }
}

/// Appends one row in `COPY`'s text format: tab-separated, `\N` for NULL, backslash escapes.
fn copy_line(buf: &mut String, values: &[Val<'_>]) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            buf.push('\t');
        }
        match v {
            Val::Uuid(Some(id)) => {
                let _ = write!(buf, "{}", id.hyphenated());
            }
            Val::Text(Some(s)) => {
                for c in s.chars() {
                    match c {
                        '\\' => buf.push_str("\\\\"),
                        '\t' => buf.push_str("\\t"),
                        '\n' => buf.push_str("\\n"),
                        '\r' => buf.push_str("\\r"),
                        c => buf.push(c),
                    }
                }
            }
            Val::Int(Some(n)) => {
                let _ = write!(buf, "{n}");
            }
            Val::Bool(b) => buf.push(if *b { 't' } else { 'f' }),
            Val::Bytes(Some(bytes)) => {
                // bytea hex input `\x…`, its backslash escaped for COPY.
                buf.push_str("\\\\x");
                for b in *bytes {
                    let _ = write!(buf, "{b:02x}");
                }
            }
            Val::Uuid(None) | Val::Text(None) | Val::Int(None) | Val::Bytes(None) => {
                buf.push_str("\\N")
            }
        }
    }
    buf.push('\n');
}

/// Inserts `rows` with multi-row `INSERT`s: full chunks share one prepared statement.
async fn insert_many<R: Row>(conn: &mut sqlx::SqliteConnection, rows: &[R]) -> anyhow::Result<()> {
    // SQLite allows 32,766 bound parameters per statement.
    let per_statement = (30_000 / R::COLUMNS.len()).min(2_000);
    let placeholders = format!("({})", vec!["?"; R::COLUMNS.len()].join(","));
    let mut full_sql = None;
    for chunk in rows.chunks(per_statement) {
        let sql = if chunk.len() == per_statement {
            full_sql
                .get_or_insert_with(|| insert_sql::<R>(&placeholders, per_statement))
                .clone()
        } else {
            insert_sql::<R>(&placeholders, chunk.len())
        };
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for row in chunk {
            for v in row.values() {
                query = match v {
                    Val::Uuid(id) => query.bind(id),
                    Val::Text(s) => query.bind(s),
                    Val::Int(n) => query.bind(n),
                    Val::Bool(b) => query.bind(b),
                    Val::Bytes(bytes) => query.bind(bytes),
                };
            }
        }
        query
            .execute(&mut *conn)
            .await
            .with_context(|| format!("INSERT INTO {}", R::TABLE))?;
    }
    Ok(())
}

fn insert_sql<R: Row>(placeholders: &str, rows: usize) -> String {
    format!(
        "INSERT INTO {} ({}) VALUES {}",
        R::TABLE,
        R::COLUMNS.join(", "),
        vec![placeholders; rows].join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_lines_escape_and_mark_nulls() {
        let mut buf = String::new();
        copy_line(
            &mut buf,
            &[
                Val::Text(Some("a\tb\\c")),
                Val::Int(None),
                Val::Bool(true),
                Val::Bytes(Some(&[0xab, 0x01])),
            ],
        );
        assert_eq!(buf, "a\\tb\\\\c\t\\N\tt\t\\\\xab01\n");
    }

    #[test]
    fn sizes_are_checked() {
        let ok = SeedOptions {
            users: 100,
            accounts: 3,
            big_account_users: 50,
            ..SeedOptions::default()
        };
        assert!(check(&ok).is_ok());
        assert!(
            check(&SeedOptions {
                accounts: 0,
                ..ok.clone()
            })
            .is_err()
        );
        assert!(
            check(&SeedOptions {
                big_account_users: 101,
                ..ok.clone()
            })
            .is_err()
        );
        assert!(
            check(&SeedOptions {
                big_account_users: 99,
                ..ok.clone()
            })
            .is_err()
        );
        assert!(
            check(&SeedOptions {
                accounts: 1,
                ..ok.clone()
            })
            .is_err()
        );
        assert!(check(&SeedOptions::default()).is_ok());
    }

    #[test]
    fn content_is_deterministic_and_emails_unique() {
        let opts = SeedOptions {
            users: 600,
            accounts: 2,
            big_account_users: 500,
            big_account_teams: 30,
            ..SeedOptions::default()
        };
        let emails = |batch: &Batch| {
            batch
                .users
                .iter()
                .map(|u| u.email.clone())
                .collect::<Vec<_>>()
        };
        let mut a = Batch::default();
        let mut b = Batch::default();
        generate_account(&mut a, &opts, 0, 500, 1_800_000_000_000);
        generate_account(&mut b, &opts, 0, 500, 1_800_000_000_000);
        assert_eq!(emails(&a), emails(&b));
        let unique: std::collections::HashSet<_> = emails(&a).into_iter().collect();
        assert_eq!(unique.len(), 500);
        assert!(
            unique
                .iter()
                .all(|e| e.is_ascii() && crate::service::email::Email::parse(e).is_some())
        );
        assert_eq!(a.teams.len(), 30);
        assert_eq!(a.invites.len(), 50);
    }
}
