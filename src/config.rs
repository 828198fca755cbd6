//! One typed configuration, from command-line flags or their environment variables. It is
//! built once in `main.rs` and passed down; nothing else reads the environment.
//!
//! Each flag's value name is its environment variable, so an error such as
//! `invalid value 'x' for '--listen <ROSTER_LISTEN>'` names the variable to fix.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Roster: teams, users and invitations for multi-tenant organizations, over GraphQL.
#[derive(Parser, Debug)]
#[command(name = "roster", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the service.
    Serve,
    /// Serve a fresh demo organization on embedded SQLite; print the GraphiQL URL and tokens.
    Demo(DemoArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage accounts (tenants).
    #[command(subcommand)]
    Account(AccountCommand),
    /// Mint an access token for an existing user (needs the signing key).
    Token(TokenArgs),
    /// Print the GraphQL schema (SDL), as `schema.graphql` holds it.
    Schema,
    /// Generate a synthetic dataset quickly, for benchmarks: many accounts, one big one.
    Seed(SeedArgs),
    /// Answer one GraphQL request in-process and print the SQL statements it ran, values
    /// inlined (what `bench/compare` replays with pgbench for the database's ceiling).
    Statements(StatementsArgs),
}

/// `roster statements …`
#[derive(Args, Debug)]
pub struct StatementsArgs {
    /// An access token for the caller (`roster token`).
    #[arg(long)]
    pub token: String,
    /// The GraphQL document.
    #[arg(long)]
    pub query: String,
    /// The variables, as a JSON object.
    #[arg(long, default_value = "{}")]
    pub variables: String,
}

/// `roster account …`
#[derive(Subcommand, Debug)]
pub enum AccountCommand {
    /// Create a tenant with its built-in roles, a first team and its Admin; print the
    /// account id, the admin's user id and an access token.
    Create {
        /// The organization's name.
        #[arg(long)]
        name: String,
        /// The first Admin's email.
        #[arg(long)]
        admin_email: String,
        /// The first Admin's name.
        #[arg(long)]
        admin_name: String,
    },
}

/// `roster token …`
#[derive(Args, Debug)]
pub struct TokenArgs {
    /// The user's email.
    #[arg(long)]
    pub email: String,
    /// The account id, when the email exists in several accounts.
    #[arg(long)]
    pub account: Option<String>,
    /// How long the token is valid, such as `30m`, `1h`, `7d`.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub ttl: Duration,
}

/// `roster demo …`
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// The demo database file; it is created afresh on every start.
    #[arg(
        long,
        env = "ROSTER_DEMO_DB",
        value_name = "ROSTER_DEMO_DB",
        default_value = "roster-demo.db"
    )]
    pub demo_db: PathBuf,
}

/// `roster seed …`: the sizes of the generated dataset (defaults: the benchmark's).
#[derive(Args, Debug)]
pub struct SeedArgs {
    /// Users in all accounts together.
    #[arg(
        long,
        env = "ROSTER_SEED_USERS",
        value_name = "ROSTER_SEED_USERS",
        default_value_t = 1_000_000
    )]
    pub users: u64,
    /// Accounts, the big one included.
    #[arg(
        long,
        env = "ROSTER_SEED_ACCOUNTS",
        value_name = "ROSTER_SEED_ACCOUNTS",
        default_value_t = 1_000
    )]
    pub accounts: u64,
    /// Users of the big account; the other accounts share the rest evenly.
    #[arg(
        long,
        env = "ROSTER_SEED_BIG_ACCOUNT_USERS",
        value_name = "ROSTER_SEED_BIG_ACCOUNT_USERS",
        default_value_t = 100_000
    )]
    pub big_account_users: u64,
    /// Teams of the big account; the others get a few each.
    #[arg(
        long,
        env = "ROSTER_SEED_BIG_ACCOUNT_TEAMS",
        value_name = "ROSTER_SEED_BIG_ACCOUNT_TEAMS",
        default_value_t = 200
    )]
    pub big_account_teams: u64,
    /// Invitations per account, as a percentage of its users (in every status).
    #[arg(
        long,
        env = "ROSTER_SEED_INVITE_PERCENT",
        value_name = "ROSTER_SEED_INVITE_PERCENT",
        default_value_t = 10
    )]
    pub invite_percent: u64,
    /// Seed of the random choices: the same value gives the same names, emails and layout.
    #[arg(
        long,
        env = "ROSTER_SEED_VALUE",
        value_name = "ROSTER_SEED_VALUE",
        default_value_t = 42
    )]
    pub seed_value: u64,
}

impl From<&SeedArgs> for crate::tooling::seed::SeedOptions {
    fn from(a: &SeedArgs) -> Self {
        crate::tooling::seed::SeedOptions {
            users: a.users,
            accounts: a.accounts,
            big_account_users: a.big_account_users,
            big_account_teams: a.big_account_teams,
            invite_percent: a.invite_percent,
            seed_value: a.seed_value,
        }
    }
}

/// Log output format.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// JWT signing algorithms Roster accepts (exactly one is allowed at a time).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
#[value(rename_all = "verbatim")]
pub enum JwtAlgorithm {
    HS256,
    RS256,
    ES256,
    EdDSA,
}

impl From<JwtAlgorithm> for jsonwebtoken::Algorithm {
    fn from(a: JwtAlgorithm) -> Self {
        match a {
            JwtAlgorithm::HS256 => jsonwebtoken::Algorithm::HS256,
            JwtAlgorithm::RS256 => jsonwebtoken::Algorithm::RS256,
            JwtAlgorithm::ES256 => jsonwebtoken::Algorithm::ES256,
            JwtAlgorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        }
    }
}

/// Every setting, with its environment variable.
#[derive(Args, Debug, Clone)]
pub struct Config {
    /// Database URL: `sqlite:FILE` (created when missing) or `postgres://…`.
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        value_name = "DATABASE_URL",
        default_value = "sqlite:roster.db"
    )]
    pub database_url: String,

    /// How many PostgreSQL connections the server keeps at most (default: twice the cores
    /// of this machine, at least 4). Ignored for SQLite.
    #[arg(
        long,
        global = true,
        env = "ROSTER_DATABASE_POOL_SIZE",
        value_name = "ROSTER_DATABASE_POOL_SIZE",
        value_parser = clap::value_parser!(u32).range(1..=1000)
    )]
    pub database_pool_size: Option<u32>,

    /// Address to listen on.
    #[arg(
        long,
        global = true,
        env = "ROSTER_LISTEN",
        value_name = "ROSTER_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: SocketAddr,

    /// JWT algorithm; the only one accepted.
    #[arg(
        long,
        global = true,
        env = "ROSTER_JWT_ALGORITHM",
        value_name = "ROSTER_JWT_ALGORITHM",
        default_value = "HS256"
    )]
    pub jwt_algorithm: JwtAlgorithm,

    /// HS256 shared secret, at least 32 bytes.
    #[arg(
        long,
        global = true,
        env = "ROSTER_JWT_SECRET",
        value_name = "ROSTER_JWT_SECRET",
        hide_env_values = true
    )]
    pub jwt_secret: Option<String>,

    /// A previous HS256 secret still accepted while tokens rotate.
    #[arg(
        long,
        global = true,
        env = "ROSTER_JWT_PREVIOUS_SECRET",
        value_name = "ROSTER_JWT_PREVIOUS_SECRET",
        hide_env_values = true
    )]
    pub jwt_previous_secret: Option<String>,

    /// PEM public key verifying RS256/ES256/EdDSA tokens.
    #[arg(
        long,
        global = true,
        env = "ROSTER_JWT_PUBLIC_KEY_FILE",
        value_name = "ROSTER_JWT_PUBLIC_KEY_FILE"
    )]
    pub jwt_public_key_file: Option<PathBuf>,

    /// A previous PEM public key still accepted while keys rotate.
    #[arg(
        long,
        global = true,
        env = "ROSTER_JWT_PREVIOUS_PUBLIC_KEY_FILE",
        value_name = "ROSTER_JWT_PREVIOUS_PUBLIC_KEY_FILE"
    )]
    pub jwt_previous_public_key_file: Option<PathBuf>,

    /// PEM private key for issuing RS256/ES256/EdDSA tokens (optional).
    #[arg(
        long,
        global = true,
        env = "ROSTER_JWT_PRIVATE_KEY_FILE",
        value_name = "ROSTER_JWT_PRIVATE_KEY_FILE"
    )]
    pub jwt_private_key_file: Option<PathBuf>,

    /// Required `iss` of access tokens.
    #[arg(
        long,
        global = true,
        env = "ROSTER_JWT_ISSUER",
        value_name = "ROSTER_JWT_ISSUER",
        default_value = "roster"
    )]
    pub jwt_issuer: String,

    /// Required `aud` of access tokens.
    #[arg(
        long,
        global = true,
        env = "ROSTER_JWT_AUDIENCE",
        value_name = "ROSTER_JWT_AUDIENCE",
        default_value = "roster"
    )]
    pub jwt_audience: String,

    /// Base URL of the accept-invite link in emails (default: http://LISTEN).
    #[arg(
        long,
        global = true,
        env = "ROSTER_PUBLIC_URL",
        value_name = "ROSTER_PUBLIC_URL"
    )]
    pub public_url: Option<String>,

    /// Mail transport: `log`, `file:DIR` (one .eml per message) or `smtp://…`.
    #[arg(
        long,
        global = true,
        env = "ROSTER_MAIL",
        value_name = "ROSTER_MAIL",
        default_value = "log"
    )]
    pub mail: String,

    /// Sender address of emails.
    #[arg(
        long,
        global = true,
        env = "ROSTER_MAIL_FROM",
        value_name = "ROSTER_MAIL_FROM",
        default_value = "Roster <no-reply@roster.invalid>"
    )]
    pub mail_from: String,

    /// Log format.
    #[arg(
        long,
        global = true,
        env = "ROSTER_LOG_FORMAT",
        value_name = "ROSTER_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormat,

    /// Maximum query depth.
    #[arg(
        long,
        global = true,
        env = "ROSTER_MAX_DEPTH",
        value_name = "ROSTER_MAX_DEPTH",
        default_value_t = 10
    )]
    pub max_depth: usize,

    /// Maximum query complexity (a connection costs its page size times its items' cost).
    #[arg(
        long,
        global = true,
        env = "ROSTER_MAX_COMPLEXITY",
        value_name = "ROSTER_MAX_COMPLEXITY",
        default_value_t = 10_000
    )]
    pub max_complexity: usize,

    /// Maximum aliases per query.
    #[arg(
        long,
        global = true,
        env = "ROSTER_MAX_ALIASES",
        value_name = "ROSTER_MAX_ALIASES",
        default_value_t = 15
    )]
    pub max_aliases: usize,

    /// Deepest nesting of braces, brackets and parentheses in a document, and of arrays and
    /// objects in a JSON body (counted from the variables), checked before parsing.
    #[arg(
        long,
        global = true,
        env = "ROSTER_MAX_NESTING",
        value_name = "ROSTER_MAX_NESTING",
        default_value_t = 32
    )]
    pub max_nesting: usize,

    /// Maximum lexical tokens in one document.
    #[arg(
        long,
        global = true,
        env = "ROSTER_MAX_TOKENS",
        value_name = "ROSTER_MAX_TOKENS",
        default_value_t = 50_000
    )]
    pub max_tokens: usize,

    /// Maximum directives in one document.
    #[arg(
        long,
        global = true,
        env = "ROSTER_MAX_DIRECTIVES",
        value_name = "ROSTER_MAX_DIRECTIVES",
        default_value_t = 50
    )]
    pub max_directives: usize,

    /// Maximum fragment definitions in one document.
    #[arg(
        long,
        global = true,
        env = "ROSTER_MAX_FRAGMENTS",
        value_name = "ROSTER_MAX_FRAGMENTS",
        default_value_t = 100
    )]
    pub max_fragments: usize,

    /// Maximum selections in one document once its fragments are expanded.
    #[arg(
        long,
        global = true,
        env = "ROSTER_MAX_SELECTIONS",
        value_name = "ROSTER_MAX_SELECTIONS",
        default_value_t = 2_000
    )]
    pub max_selections: usize,

    /// Maximum characters of any string input (document literal or variable).
    #[arg(
        long,
        global = true,
        env = "ROSTER_MAX_STRING_LENGTH",
        value_name = "ROSTER_MAX_STRING_LENGTH",
        default_value_t = 4_096
    )]
    pub max_string_length: usize,

    /// Cost points per minute per signed-in user (`0` = unlimited); a request costs its
    /// operations' complexity.
    #[arg(
        long,
        global = true,
        env = "ROSTER_COST_BUDGET_PER_USER",
        value_name = "ROSTER_COST_BUDGET_PER_USER",
        default_value_t = 100_000
    )]
    pub cost_budget_per_user: u32,

    /// Cost points per minute per client address (`0` = unlimited).
    #[arg(
        long,
        global = true,
        env = "ROSTER_COST_BUDGET_PER_IP",
        value_name = "ROSTER_COST_BUDGET_PER_IP",
        default_value_t = 200_000
    )]
    pub cost_budget_per_ip: u32,

    /// Proxies (CIDRs, comma-separated, such as `10.0.0.0/8,::1/128`) whose
    /// `Forwarded` / `X-Forwarded-For` headers name the client; empty: the TCP peer is the
    /// client.
    #[arg(
        long,
        global = true,
        env = "ROSTER_TRUSTED_PROXIES",
        value_name = "ROSTER_TRUSTED_PROXIES",
        value_delimiter = ',',
        default_value = ""
    )]
    pub trusted_proxies: Vec<String>,

    /// Maximum operations in one batched request.
    #[arg(
        long,
        global = true,
        env = "ROSTER_MAX_BATCH",
        value_name = "ROSTER_MAX_BATCH",
        default_value_t = 10
    )]
    pub max_batch: usize,

    /// Maximum request body, in bytes.
    #[arg(long, global = true, env = "ROSTER_MAX_BODY_BYTES", value_name = "ROSTER_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Maximum items in one bulk mutation.
    #[arg(
        long,
        global = true,
        env = "ROSTER_MAX_BULK",
        value_name = "ROSTER_MAX_BULK",
        default_value_t = 1000
    )]
    pub max_bulk: usize,

    /// Request timeout, such as `10s`.
    #[arg(long, global = true, env = "ROSTER_REQUEST_TIMEOUT", value_name = "ROSTER_REQUEST_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Whether schema introspection is allowed (switch off in production if you like).
    #[arg(long, global = true, env = "ROSTER_INTROSPECTION", value_name = "ROSTER_INTROSPECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub introspection: bool,

    /// Whether GraphiQL is served at `GET /graphql`.
    #[arg(long, global = true, env = "ROSTER_GRAPHIQL", value_name = "ROSTER_GRAPHIQL", default_value_t = true, action = clap::ArgAction::Set)]
    pub graphiql: bool,

    /// Whether the admin console is served at `/console`.
    #[arg(long, global = true, env = "ROSTER_CONSOLE", value_name = "ROSTER_CONSOLE", default_value_t = true, action = clap::ArgAction::Set)]
    pub console: bool,

    /// Requests per minute per signed-in user (`0` = unlimited).
    #[arg(
        long,
        global = true,
        env = "ROSTER_RATE_LIMIT_PER_USER",
        value_name = "ROSTER_RATE_LIMIT_PER_USER",
        default_value_t = 600
    )]
    pub rate_limit_per_user: u32,

    /// Requests per minute per client address (`0` = unlimited).
    #[arg(
        long,
        global = true,
        env = "ROSTER_RATE_LIMIT_PER_IP",
        value_name = "ROSTER_RATE_LIMIT_PER_IP",
        default_value_t = 1200
    )]
    pub rate_limit_per_ip: u32,

    /// `acceptInvite` attempts per minute per client address (`0` = unlimited).
    #[arg(
        long,
        global = true,
        env = "ROSTER_ACCEPT_INVITE_PER_IP",
        value_name = "ROSTER_ACCEPT_INVITE_PER_IP",
        default_value_t = 10
    )]
    pub accept_invite_per_ip: u32,

    /// SCIM (`/scim/v2`) requests per minute per directory token (`0` = unlimited).
    #[arg(
        long,
        global = true,
        env = "ROSTER_SCIM_RATE_LIMIT_PER_TOKEN",
        value_name = "ROSTER_SCIM_RATE_LIMIT_PER_TOKEN",
        default_value_t = 18_000
    )]
    pub scim_rate_limit_per_token: u32,

    /// SCIM (`/scim/v2`) requests per minute per client address, counted before the token is
    /// checked (`0` = unlimited).
    #[arg(
        long,
        global = true,
        env = "ROSTER_SCIM_RATE_LIMIT_PER_IP",
        value_name = "ROSTER_SCIM_RATE_LIMIT_PER_IP",
        default_value_t = 36_000
    )]
    pub scim_rate_limit_per_ip: u32,

    /// Origins browsers may call the API from, comma-separated, such as
    /// `https://app.example.com` (empty: no CORS headers, same-origin only).
    #[arg(
        long,
        global = true,
        env = "ROSTER_CORS_ORIGINS",
        value_name = "ROSTER_CORS_ORIGINS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub cors_origins: Vec<String>,

    /// Key material (at least 32 bytes) that seals webhook signing secrets in the database;
    /// when unset, a key is derived from ROSTER_JWT_SECRET (changing that secret then makes
    /// stored webhook secrets unreadable: set this in production).
    #[arg(
        long,
        global = true,
        env = "ROSTER_SECRET_KEY",
        value_name = "ROSTER_SECRET_KEY",
        hide_env_values = true
    )]
    pub secret_key: Option<String>,

    /// Allow webhook URLs with http and internal addresses (loopback, private, link-local);
    /// for development and tests only.
    #[arg(long, global = true, env = "ROSTER_WEBHOOK_ALLOW_PRIVATE", value_name = "ROSTER_WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_allow_private: bool,

    /// Seconds a webhook request may take before it counts as failed.
    #[arg(
        long,
        global = true,
        env = "ROSTER_WEBHOOK_TIMEOUT_SECONDS",
        value_name = "ROSTER_WEBHOOK_TIMEOUT_SECONDS",
        default_value_t = 10
    )]
    pub webhook_timeout_seconds: u64,

    /// Waits before each webhook retry, comma-separated (an event gets one attempt more
    /// than the list has entries); each wait varies by ±20 %.
    #[arg(long, global = true, env = "ROSTER_WEBHOOK_RETRY_SCHEDULE", value_name = "ROSTER_WEBHOOK_RETRY_SCHEDULE", default_value = crate::service::webhooks::DEFAULT_RETRY_SCHEDULE)]
    pub webhook_retry_schedule: String,

    /// How long the old secret keeps signing (beside the new one) after a rotation.
    #[arg(long, global = true, env = "ROSTER_WEBHOOK_ROTATION_WINDOW", value_name = "ROSTER_WEBHOOK_ROTATION_WINDOW", default_value = "24h", value_parser = parse_duration)]
    pub webhook_rotation_window: Duration,

    /// An endpoint is disabled when an event is given up after it has failed without a
    /// success for this long ...
    #[arg(long, global = true, env = "ROSTER_WEBHOOK_DISABLE_AFTER", value_name = "ROSTER_WEBHOOK_DISABLE_AFTER", default_value = "24h", value_parser = parse_duration)]
    pub webhook_disable_after: Duration,

    /// ... or when this many events in a row were given up.
    #[arg(
        long,
        global = true,
        env = "ROSTER_WEBHOOK_DISABLE_AFTER_FAILED_EVENTS",
        value_name = "ROSTER_WEBHOOK_DISABLE_AFTER_FAILED_EVENTS",
        default_value_t = 5
    )]
    pub webhook_disable_after_failed_events: u32,

    /// Days domain events are kept for the event feed (and webhooks' redelivery); older
    /// events are pruned hourly, and a feed cursor older than this is refused.
    #[arg(
        long,
        global = true,
        env = "ROSTER_EVENT_RETENTION_DAYS",
        value_name = "ROSTER_EVENT_RETENTION_DAYS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u32).range(1..=3650)
    )]
    pub event_retention_days: u32,

    /// Open GraphQL subscriptions per user on one server process.
    #[arg(
        long,
        global = true,
        env = "ROSTER_MAX_SUBSCRIPTIONS_PER_USER",
        value_name = "ROSTER_MAX_SUBSCRIPTIONS_PER_USER",
        default_value_t = 5,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_subscriptions_per_user: u32,

    /// Open GraphQL subscriptions per server process (all users).
    #[arg(
        long,
        global = true,
        env = "ROSTER_MAX_SUBSCRIPTIONS_PER_INSTANCE",
        value_name = "ROSTER_MAX_SUBSCRIPTIONS_PER_INSTANCE",
        default_value_t = 1000,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_subscriptions_per_instance: u32,
}

impl Config {
    /// The CORS allow-list, each origin checked to be a valid header value.
    pub fn cors_origins(&self) -> Result<Vec<axum::http::HeaderValue>, String> {
        self.cors_origins
            .iter()
            .map(|o| o.trim().trim_end_matches('/'))
            .filter(|o| !o.is_empty())
            .map(|o| {
                if !(o.starts_with("http://") || o.starts_with("https://")) {
                    return Err(format!(
                        "ROSTER_CORS_ORIGINS: `{o}` is not an origin like https://app.example.com"
                    ));
                }
                axum::http::HeaderValue::from_str(o)
                    .map_err(|_| format!("ROSTER_CORS_ORIGINS: `{o}` is not a valid origin"))
            })
            .collect()
    }

    /// The trusted proxies' networks.
    pub fn trusted_proxies(&self) -> Result<Vec<ipnet::IpNet>, String> {
        self.trusted_proxies
            .iter()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        format!("ROSTER_TRUSTED_PROXIES: `{p}` is not a CIDR like 10.0.0.0/8")
                    })
            })
            .collect()
    }

    /// The webhook settings; errors name the variable to fix.
    pub fn webhooks(&self) -> Result<crate::service::webhooks::WebhookSettings, String> {
        use crate::service::webhooks::{SecretBox, WebhookSettings, parse_schedule};
        let secrets = match (&self.secret_key, &self.jwt_secret) {
            (Some(key), _) if key.len() < 32 => {
                return Err("ROSTER_SECRET_KEY must be at least 32 bytes".into());
            }
            (Some(key), _) => Some(SecretBox::derive(key.as_bytes(), "ROSTER_SECRET_KEY v1")),
            (None, Some(jwt)) if jwt.len() >= 32 => {
                Some(SecretBox::derive(jwt.as_bytes(), "ROSTER_JWT_SECRET v1"))
            }
            _ => None,
        };
        let retry_schedule = parse_schedule(&self.webhook_retry_schedule)
            .map_err(|e| format!("ROSTER_WEBHOOK_RETRY_SCHEDULE: {e}"))?;
        if self.webhook_timeout_seconds == 0 {
            return Err("ROSTER_WEBHOOK_TIMEOUT_SECONDS must be at least 1".into());
        }
        Ok(WebhookSettings {
            secrets,
            allow_private: self.webhook_allow_private,
            rotation_window: self.webhook_rotation_window,
            timeout: Duration::from_secs(self.webhook_timeout_seconds),
            retry_schedule,
            disable_after: self.webhook_disable_after,
            disable_after_failed_events: self.webhook_disable_after_failed_events,
            delivery_retention: Duration::from_secs(u64::from(self.event_retention_days) * 86_400),
            ..WebhookSettings::default()
        })
    }

    /// The base URL of links in emails.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
            .trim_end_matches('/')
            .to_owned()
    }
}

/// Parses `500ms`, `30s`, `15m`, `1h`, `7d` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 30s, 15m, 1h or 7d"))?;
    let secs = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("`{s}` has an unknown unit (use ms, s, m, h or d)")),
    };
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_defaults_are_the_documented_ones() {
        let cli = Cli::parse_from(["roster", "schema"]);
        let c = &cli.config;
        assert_eq!(
            crate::ratelimit::RateLimits {
                per_user: c.rate_limit_per_user,
                per_ip: c.rate_limit_per_ip,
                accept_invite_per_ip: c.accept_invite_per_ip,
            },
            crate::ratelimit::RateLimits::default()
        );
        assert_eq!(
            crate::ratelimit::ScimRateLimits {
                per_token: c.scim_rate_limit_per_token,
                per_ip: c.scim_rate_limit_per_ip,
            },
            crate::ratelimit::ScimRateLimits::default()
        );
        assert_eq!(c.cors_origins(), Ok(vec![]));
    }

    #[test]
    fn seed_defaults_are_the_benchmark_sizes() {
        let cli = Cli::parse_from(["roster", "seed"]);
        let Command::Seed(args) = &cli.command else {
            panic!("not the seed command: {:?}", cli.command);
        };
        assert_eq!(
            crate::tooling::seed::SeedOptions::from(args),
            crate::tooling::seed::SeedOptions::default()
        );
    }

    #[test]
    fn webhook_settings_errors_name_the_variable() {
        let config = |args: &[&str]| {
            let mut all = vec!["roster"];
            all.extend_from_slice(args);
            all.push("schema");
            Cli::parse_from(all).config
        };
        let short = config(&["--secret-key", "too short"])
            .webhooks()
            .unwrap_err();
        assert!(short.contains("ROSTER_SECRET_KEY"), "{short}");
        let schedule = config(&["--webhook-retry-schedule", "5s,soon"])
            .webhooks()
            .unwrap_err();
        assert!(
            schedule.contains("ROSTER_WEBHOOK_RETRY_SCHEDULE"),
            "{schedule}"
        );
        // No key at all: webhooks are off (creating one is refused), the server still starts.
        assert!(config(&[]).webhooks().unwrap().secrets.is_none());
        let ok = config(&["--jwt-secret", "0123456789abcdef0123456789abcdef"])
            .webhooks()
            .unwrap();
        assert!(ok.secrets.is_some());
        assert_eq!(ok.retry_schedule.len(), 8);
        assert_eq!(ok.timeout, Duration::from_secs(10));
        assert!(!ok.allow_private);
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert!(parse_duration("1y").is_err());
        assert!(parse_duration("h").is_err());
    }
}
