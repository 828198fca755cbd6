//! The commands of `roster`: each one connects what it needs and calls into the library.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, RuntimeErr};
use tokio::net::TcpListener;

use crate::app::{self, AppState, HttpSettings};
use crate::auth::jwt::{self, JwtKeys, KeySource};
use crate::config::{AccountCommand, Cli, Command, Config, LogFormat, StatementsArgs};
use crate::entity::user;
use crate::graphql::Limits;
use crate::mail::mailbox::{self, Mailbox};
use crate::mail::{MailSpec, MailTransport};
use crate::ratelimit::RateLimits;
use crate::service::event_hub::EventSettings;
use crate::service::ids::AccountId;
use crate::service::outbox::{self, OutboxSettings};
use crate::service::{Db, accounts};

/// Sets up `tracing` output (text or JSON), filtered by `RUST_LOG` (default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal: redirected to a file or a log collector,
        // escape codes are noise.
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Runs one command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config;
    match cli.command {
        Command::Schema => {
            print!("{}", crate::graphql::sdl());
            Ok(())
        }
        Command::Migrate => {
            connect(&config).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Serve => {
            let mail = mail_transport(&config)?;
            let keys = jwt::from_config(&config).map_err(|e| anyhow!(e))?;
            let db = connect(&config).await?;
            // Bound only once the database is there: a load balancer sees no port before
            // the service can answer.
            let listener = bind(&config).await?;
            serve(&config, listener, db, Arc::new(keys), mail, None).await
        }
        Command::Demo(args) => demo(config, &args.demo_db).await,
        Command::Account(AccountCommand::Create {
            name,
            admin_email,
            admin_name,
        }) => {
            let keys = jwt::from_config(&config).ok();
            let db = connect(&config).await?;
            let created = accounts::create(&db, &name, &admin_email, &admin_name).await?;
            println!("account_id={}", created.account.id);
            println!("admin_user_id={}", created.admin.id);
            match keys
                .as_ref()
                .and_then(|k| k.issue(&created.admin.id.to_string(), Duration::from_secs(3600)))
            {
                Some(token) => println!("token={}", token.map_err(|e| anyhow!(e))?),
                None => eprintln!(
                    "no token: configure ROSTER_JWT_SECRET (or a private key) to issue one"
                ),
            }
            Ok(())
        }
        Command::Seed(args) => {
            let db = connect(&config).await?;
            let report = crate::tooling::seed::seed(&db, &(&args).into()).await?;
            print_seed_report(&report, db.backend());
            Ok(())
        }
        Command::Statements(args) => print_statements(&config, &args).await,
        Command::Token(args) => {
            let keys = jwt::from_config(&config).map_err(|e| anyhow!(e))?;
            let db = connect(&config).await?;
            let email = args.email.trim().to_lowercase();
            let mut query = user::Entity::find()
                .filter(user::Column::Email.eq(email.clone()))
                .filter(user::Column::DeletedAt.is_null());
            if let Some(account) = &args.account {
                let id = AccountId::parse(account)
                    .ok_or_else(|| anyhow!("--account: `{account}` is not an account id"))?;
                query = query.filter(user::Column::AccountId.eq(id.0));
            }
            let users = query.all(db.conn()).await?;
            let user = match users.as_slice() {
                [one] => one,
                [] => bail!("no active user with email {email}"),
                _ => bail!("{email} exists in several accounts; pass --account"),
            };
            let token = keys
                .issue(&user.id.to_string(), args.ttl)
                .ok_or_else(|| anyhow!("no signing key configured (ROSTER_JWT_SECRET or ROSTER_JWT_PRIVATE_KEY_FILE)"))?
                .map_err(|e| anyhow!(e))?;
            println!("{token}");
            Ok(())
        }
    }
}

/// Prints what `roster seed` wrote, one `key=value` per line (scripts read them).
fn print_seed_report(r: &crate::tooling::seed::SeedReport, backend: sea_orm::DatabaseBackend) {
    let [pending, accepted, expired, withdrawn] = r.invites_by_status;
    println!("database={backend:?}");
    println!("accounts={}", r.accounts);
    println!("departments={}", r.departments);
    println!("teams={}", r.teams);
    println!("roles={}", r.roles);
    println!("users={}", r.users);
    println!("invites={}", r.invites);
    println!(
        "invites_by_status=PENDING:{pending},ACCEPTED:{accepted},EXPIRED:{expired},WITHDRAWN:{withdrawn}"
    );
    println!("rows={}", r.rows());
    println!("seconds={:.2}", r.elapsed.as_secs_f64());
    println!("rows_per_sec={:.0}", r.rows_per_sec());
    println!("load_seconds={:.2}", r.load_elapsed.as_secs_f64());
    println!("load_rows_per_sec={:.0}", r.load_rows_per_sec());
    println!("big_account_id={}", r.big_account_id);
    println!("big_account_users={}", r.big_account_users);
    println!("big_account_invites={}", r.big_account_invites);
    println!("big_admin_id={}", r.big_admin_id);
    println!("big_admin_email={}", r.big_admin_email);
}

/// Connects and migrates, retrying while the database is not reachable yet (containers
/// often start before their database).
pub async fn connect(config: &Config) -> anyhow::Result<Db> {
    let url = config.database_url.as_str();
    if !(url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://"))
    {
        // Not repeated: the URL may hold a password.
        bail!("DATABASE_URL: expected `sqlite:FILE` or `postgres://USER:PASSWORD@HOST/DB`");
    }
    let mut delay = Duration::from_millis(250);
    let mut attempt = 1;
    let db = loop {
        match Db::connect_with_pool(url, config.database_pool_size).await {
            Ok(db) => break db,
            Err(e) if !may_pass(url, &e) => {
                return Err(e).context(
                    "DATABASE_URL: cannot connect, and waiting will not help (check the URL, \
                     the credentials, the database's name or the SQLite file's directory)",
                );
            }
            Err(e) if attempt < 8 => {
                tracing::warn!(attempt, error = %e, "database not reachable yet (DATABASE_URL); retrying in {delay:?}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
                attempt += 1;
            }
            Err(e) => return Err(e).context("DATABASE_URL: cannot connect"),
        }
    };
    db.migrate().await.context("applying migrations")?;
    db.refresh_statistics()
        .await
        .context("refreshing SQLite's planner statistics")?;
    Ok(db)
}

/// Whether a failure to connect may pass by itself — the server is not up yet, still
/// starting, or out of connections — rather than being a mistake in `DATABASE_URL` or in the
/// database's setup (a malformed URL, wrong credentials, a missing database, a SQLite
/// directory that does not exist), which fails at once instead of being retried.
fn may_pass(url: &str, e: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    if url.starts_with("sqlite:") {
        // A file: there is nothing to wait for.
        return false;
    }
    let e = match e {
        DbErr::Conn(RuntimeErr::SqlxError(e)) => e,
        DbErr::ConnectionAcquire(_) => return true,
        _ => return false,
    };
    match e.as_ref() {
        Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::Tls(_) | Sqlx::Protocol(_) => true,
        // 57P03: the database system is starting up; 53300: too many connections;
        // class 08: connection exceptions.
        Sqlx::Database(db) => db
            .code()
            .is_some_and(|c| c == "57P03" || c == "53300" || c.starts_with("08")),
        _ => false,
    }
}

/// Listens on `ROSTER_LISTEN`; port 0 picks a free port (see the printed address).
pub async fn bind(config: &Config) -> anyhow::Result<TcpListener> {
    TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("ROSTER_LISTEN: cannot listen on {}", config.listen))
}

/// What `roster demo` adds to serving.
pub struct DemoServing {
    /// Headers GraphiQL opens with: the Admin's token, as JSON.
    pub graphiql_headers: String,
    /// Where the sent emails are kept, for `/demo/mail`.
    pub mailbox: Arc<Mailbox>,
    /// One token per built-in role, as a JSON object of role label → token, for the
    /// console's role picker (`/console/demo-tokens`).
    pub console_tokens: String,
}

/// The mail transport `ROSTER_MAIL` and `ROSTER_MAIL_FROM` describe. Called before anything
/// else starts, so a typo stops start-up with a message naming the variable.
pub fn mail_transport(config: &Config) -> anyhow::Result<Arc<dyn MailTransport>> {
    let spec: MailSpec = config
        .mail
        .parse()
        .map_err(|e| anyhow!("ROSTER_MAIL: {e}"))?;
    config
        .mail_from
        .trim()
        .parse::<lettre::message::Mailbox>()
        .map_err(|e| {
            anyhow!(
                "ROSTER_MAIL_FROM: `{}` is not an address: {e}",
                config.mail_from
            )
        })?;
    crate::mail::build_transport(&spec, &config.mail_from).map_err(|e| anyhow!("ROSTER_MAIL: {e}"))
}

fn limits(config: &Config) -> Limits {
    Limits {
        max_depth: config.max_depth,
        max_complexity: config.max_complexity,
        max_aliases: config.max_aliases,
        max_page: crate::service::page::MAX_PAGE as usize,
        max_bulk: config.max_bulk,
        max_selections: config.max_selections,
        scan: crate::graphql::prescan::ScanLimits {
            max_nesting: config.max_nesting,
            max_tokens: config.max_tokens,
            max_directives: config.max_directives,
            max_fragments: config.max_fragments,
            max_string_chars: config.max_string_length,
        },
        introspection: config.introspection,
        suggestions: config.introspection,
        ..Limits::default()
    }
}

/// Serves the API and runs the outbox worker until SIGINT or SIGTERM; in-flight requests
/// are drained first, then the worker finishes the email it is sending and stops.
pub async fn serve(
    config: &Config,
    listener: TcpListener,
    db: Db,
    keys: Arc<JwtKeys>,
    mail: Arc<dyn MailTransport>,
    demo: Option<DemoServing>,
) -> anyhow::Result<()> {
    let address = listener
        .local_addr()
        .context("ROSTER_LISTEN: cannot read the address listened on")?;
    // With port 0 the real port is only known now: links in emails must carry it.
    let config = &Config {
        listen: address,
        ..config.clone()
    };
    let http = http_settings(config, demo)?;
    if http.webhooks.secrets.is_none() {
        tracing::warn!(
            "webhooks are unavailable: set ROSTER_SECRET_KEY (at least 32 bytes) to seal their secrets"
        );
    }
    let webhook_settings = Arc::new(http.webhooks.clone());
    let state = AppState::new(db.clone(), keys, limits(config), http);
    let pruner = tokio::spawn(prune_events(db.clone(), config.event_retention_days));
    let checkpointer = tokio::spawn(db.clone().checkpoint_wal(Duration::from_millis(100)));
    let merger = tokio::spawn(db.clone().merge_search_entries(Duration::from_millis(200)));
    let (stop_worker, stopped) = tokio::sync::watch::channel(false);
    let mut stopped_hooks = stopped.clone();
    let hooks = tokio::spawn(crate::service::webhooks::worker::run(
        db.clone(),
        webhook_settings,
        async move {
            let _ = stopped_hooks.wait_for(|stop| *stop).await;
        },
    ));
    let worker = tokio::spawn(outbox::run(
        db,
        mail,
        OutboxSettings::new(config.public_url()),
        async move {
            let mut stopped = stopped;
            // An error means the sender is gone, which is a stop signal too.
            let _ = stopped.wait_for(|stop| *stop).await;
        },
    ));
    tracing::info!(address = %address, "roster listening; GraphiQL at http://{address}/graphql");
    let served = axum::serve(listener, app::service(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server error");
    pruner.abort();
    checkpointer.abort();
    merger.abort();
    let _ = stop_worker.send(true);
    // The worker finishes at most the email it is sending (the SMTP transport gives up
    // after 10 s); past that, the email's lease expires and another instance sends it.
    if tokio::time::timeout(Duration::from_secs(15), worker)
        .await
        .is_err()
    {
        tracing::warn!("outbox worker did not stop in time");
    }
    // Sends under way finish within the webhook timeout; past that, their endpoints' leases
    // expire and another instance sends them again.
    if tokio::time::timeout(Duration::from_secs(15), hooks)
        .await
        .is_err()
    {
        tracing::warn!("webhook worker did not stop in time");
    }
    served
}

/// The HTTP edge's settings from the configuration (the demo adds its mailbox and tokens).
fn http_settings(config: &Config, demo: Option<DemoServing>) -> anyhow::Result<HttpSettings> {
    let (graphiql_headers, demo_mailbox, console_demo_tokens) = match demo {
        Some(d) => (
            Some(d.graphiql_headers),
            Some(d.mailbox),
            Some(d.console_tokens),
        ),
        None => (None, None, None),
    };
    Ok(HttpSettings {
        max_batch: config.max_batch,
        max_body_bytes: config.max_body_bytes,
        request_timeout: config.request_timeout,
        graphiql: config.graphiql,
        graphiql_headers,
        rate_limits: RateLimits {
            per_user: config.rate_limit_per_user,
            per_ip: config.rate_limit_per_ip,
            accept_invite_per_ip: config.accept_invite_per_ip,
        },
        scim_rate_limits: crate::ratelimit::ScimRateLimits {
            per_token: config.scim_rate_limit_per_token,
            per_ip: config.scim_rate_limit_per_ip,
        },
        cors_origins: config.cors_origins().map_err(|e| anyhow!(e))?,
        cost_budgets: crate::cost::CostBudgets {
            per_user: config.cost_budget_per_user,
            per_ip: config.cost_budget_per_ip,
        },
        trusted_proxies: config.trusted_proxies().map_err(|e| anyhow!(e))?,
        demo_mailbox,
        console: config.console,
        console_demo_tokens,
        webhooks: config.webhooks().map_err(|e| anyhow!(e))?,
        events: EventSettings {
            retention_days: config.event_retention_days,
            max_per_user: config.max_subscriptions_per_user as usize,
            max_per_instance: config.max_subscriptions_per_instance as usize,
            ..EventSettings::default()
        },
    })
}

/// `roster statements`: answers one GraphQL request in-process, through the same router and
/// state `serve` uses (no listener, no background workers), and prints the SQL statements it
/// sent with their values inlined, each followed by a line holding `;`. `bench/compare` replays
/// them with pgbench to measure what PostgreSQL alone could answer (the ceiling).
async fn print_statements(config: &Config, args: &StatementsArgs) -> anyhow::Result<()> {
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use tower::ServiceExt;

    let variables: serde_json::Value =
        serde_json::from_str(&args.variables).context("--variables: not a JSON object")?;
    let keys = jwt::from_config(config).map_err(|e| anyhow!(e))?;
    let db = connect(config).await?;
    let state = AppState::new(
        db.clone(),
        Arc::new(keys),
        limits(config),
        http_settings(config, None)?,
    );
    let body = serde_json::json!({ "query": args.query, "variables": variables });
    let mut request = axum::http::Request::post("/graphql")
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .header(
            axum::http::header::AUTHORIZATION,
            format!("Bearer {}", args.token),
        )
        .body(Body::from(body.to_string()))
        .context("building the request")?;
    request
        .extensions_mut()
        .insert(ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 0))));
    db.start_recording();
    let response = app::router(state).oneshot(request).await?;
    let status = response.status();
    let answer = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
    let statements = db.stop_recording();
    let answer: serde_json::Value =
        serde_json::from_slice(&answer).context("the answer is not JSON")?;
    if !status.is_success() || answer.get("errors").is_some() {
        bail!("the request failed ({status}): {answer}");
    }
    for statement in statements {
        println!("{statement}\n;");
    }
    Ok(())
}

/// Deletes events older than the retention, at start-up and then hourly (every instance
/// does; deleting what another instance already deleted costs nothing).
async fn prune_events(db: Db, retention_days: u32) {
    let mut hourly = tokio::time::interval(Duration::from_secs(3600));
    loop {
        hourly.tick().await;
        match crate::service::events::prune(db.conn(), retention_days).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(pruned = n, retention_days, "old events pruned"),
            Err(e) => tracing::warn!(error = %e.describe(), "pruning old events failed"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: draining in-flight requests");
}

async fn demo(mut config: Config, file: &std::path::Path) -> anyhow::Result<()> {
    let mailbox = Mailbox::new(mailbox::DEMO_CAPACITY);
    let mail = mailbox::keeping(mail_transport(&config)?, mailbox.clone());
    // First the port: a busy one must stop the demo before it prints URLs and tokens that
    // would lead to whatever else is listening there (or deletes the last demo's database).
    let listener = bind(&config).await?;
    let address: SocketAddr = listener
        .local_addr()
        .context("ROSTER_LISTEN: cannot read the address listened on")?;
    config.listen = address;
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", file.display());
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("ROSTER_DEMO_DB: cannot remove {path}"));
            }
        }
    }
    config.database_url = format!("sqlite:{}", file.display());
    let keys = match jwt::from_config(&config) {
        Ok(keys) => keys,
        Err(_) if config.jwt_secret.is_none() => {
            // A fresh secret per run: demo tokens never outlive the demo.
            let secret: [u8; 32] = rand::random();
            let secret =
                base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, secret);
            config.jwt_secret = Some(secret.clone());
            JwtKeys::new(
                jsonwebtoken::Algorithm::HS256,
                KeySource::Secret(secret.into_bytes()),
                vec![],
                config.jwt_issuer.clone(),
                config.jwt_audience.clone(),
            )
            .map_err(|e| anyhow!(e))?
        }
        Err(e) => bail!(e),
    };
    let db = connect(&config).await?;
    let demo = crate::tooling::demo::seed(&db).await?;
    let ttl = Duration::from_secs(12 * 3600);
    let url = format!("http://{address}/graphql");
    println!();
    println!("Roster demo: {} ({} )", demo.account_name, file.display());
    println!("GraphiQL (opens with the Admin's token): {url}");
    println!("Sent emails, with their accept links:    http://{address}/demo/mail");
    if config.console {
        println!("The console (pick a role to sign in):    http://{address}/console");
    }
    println!();
    println!("To act as another role, paste its JSON line into GraphiQL's Headers pane:");
    println!();
    let mut admin_header = None;
    let mut console_tokens = serde_json::Map::new();
    for u in &demo.users {
        let token = keys
            .issue(&u.user.id.to_string(), ttl)
            .ok_or_else(|| anyhow!("no signing key"))?
            .map_err(|e| anyhow!(e))?;
        // The first line suits curl (`-H`), the second GraphiQL, which wants JSON.
        let header = serde_json::json!({ "Authorization": format!("Bearer {token}") }).to_string();
        println!(
            "{:<17} {:<45} Authorization: Bearer {token}",
            u.role_label, u.user.email
        );
        println!("{:<17} {header}", "");
        console_tokens.insert(u.role_label.to_owned(), token.clone().into());
        if admin_header.is_none() {
            admin_header = Some(header);
        }
    }
    println!();
    let demo_serving = DemoServing {
        graphiql_headers: admin_header.ok_or_else(|| anyhow!("the demo has no Admin"))?,
        mailbox,
        console_tokens: serde_json::Value::Object(console_tokens).to_string(),
    };
    serve(
        &config,
        listener,
        db,
        Arc::new(keys),
        mail,
        Some(demo_serving),
    )
    .await
}
