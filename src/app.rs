//! The HTTP surface: router, shared state and the GraphQL handler. Nothing else in Roster
//! knows about axum.
//!
//! `POST /graphql` runs GraphQL (JSON only, single or batched); `GET /graphql` serves
//! GraphiQL and never executes anything, so a link or form can't trigger a mutation; a
//! WebSocket upgrade of `GET /graphql` serves subscriptions (`app/subscriptions.rs`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::{BatchRequest, BatchResponse, ErrorExtensionValues, ServerError};
use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::auth::jwt::JwtKeys;
use crate::cost::{self, Budgets, CostBudgets, Meter, Mode};
use crate::graphiql;
use crate::graphql::error::code;
use crate::graphql::limits::{Gate, Parsed};
use crate::graphql::prescan;
use crate::graphql::{self, Caller, Limits, RosterSchema};
use crate::mail::mailbox::Mailbox;
use crate::metrics::{self, Metrics};
use crate::ratelimit::{self, Limiter, RateLimits, ScimRateLimits};
use crate::service::event_hub::{EventHub, EventSettings};
use crate::service::{Db, principal};

mod accept_invite;
mod console;
mod demo_mail;
mod pages;
mod subscriptions;

/// Settings of the HTTP layer.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    pub max_batch: usize,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub graphiql: bool,
    /// Headers GraphiQL opens with (demo mode: the Admin's token), as a JSON object.
    pub graphiql_headers: Option<String>,
    /// Requests per minute per user, per IP, and `acceptInvite` attempts per IP.
    pub rate_limits: RateLimits,
    /// Requests per minute to `/scim/v2` per SCIM token and per client address.
    pub scim_rate_limits: ScimRateLimits,
    /// Origins browsers may call the API from (empty: no CORS headers at all).
    pub cors_origins: Vec<HeaderValue>,
    /// Cost points per minute per user and per client address.
    pub cost_budgets: CostBudgets,
    /// Proxies whose `Forwarded` / `X-Forwarded-For` name the client (empty: none).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `roster demo` only: the sent emails, readable at `/demo/mail` (404 without one).
    pub demo_mailbox: Option<Arc<Mailbox>>,
    /// Whether the admin console is served at `/console`.
    pub console: bool,
    /// `roster demo` only: a JSON object of role label → access token, served at
    /// `/console/demo-tokens` for the console's role picker (404 without one).
    pub console_demo_tokens: Option<String>,
    /// Webhook settings the API needs (the secret key, the SSRF guard's switch).
    pub webhooks: crate::service::webhooks::WebhookSettings,
    /// The event channels: retention, subscription limits.
    pub events: EventSettings,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            max_batch: 10,
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(10),
            graphiql: true,
            graphiql_headers: None,
            // `roster serve` always sets the limits from its configuration; a router built
            // in code (tests, embedding) has none unless it asks for them.
            rate_limits: RateLimits::OFF,
            scim_rate_limits: ScimRateLimits::OFF,
            cors_origins: Vec::new(),
            cost_budgets: CostBudgets::OFF,
            trusted_proxies: Vec::new(),
            demo_mailbox: None,
            console: true,
            console_demo_tokens: None,
            webhooks: crate::service::webhooks::WebhookSettings::default(),
            events: EventSettings::default(),
        }
    }
}

/// Everything a request handler needs.
pub struct App {
    /// The schema with the document guard: parses, checks, validates and prices every
    /// operation (the preflight), and serves subscriptions.
    pub schema: RosterSchema,
    /// The same schema without the guard: runs the operations the guard admitted.
    pub executor: RosterSchema,
    pub limits: Limits,
    pub db: Db,
    pub jwt: Arc<JwtKeys>,
    pub http: HttpSettings,
    pub metrics: Metrics,
    pub per_user: Limiter<String>,
    pub per_ip: Limiter<IpAddr>,
    pub accept_invite_per_ip: Limiter<IpAddr>,
    /// `/scim/v2` requests per SCIM token (by token id).
    pub scim_per_token: Limiter<crate::service::ids::ScimTokenId>,
    /// `/scim/v2` requests per client address, counted before authentication.
    pub scim_per_ip: Limiter<IpAddr>,
    pub budgets: Arc<Budgets>,
}

/// Shared state of the router.
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl AppState {
    /// Builds the state: the schema with its limits and shared data.
    pub fn new(db: Db, jwt: Arc<JwtKeys>, limits: Limits, http: HttpSettings) -> Self {
        let shared = graphql::Shared {
            db: db.clone(),
            jwt: jwt.clone(),
            limits,
            webhooks: Arc::new(http.webhooks.clone()),
            events: EventHub::new(db.clone(), http.events.clone()),
        };
        let executor = graphql::build_executor(shared.clone(), limits);
        let schema = graphql::build(Some(shared), limits);
        let rates = http.rate_limits;
        let scim_rates = http.scim_rate_limits;
        let budgets = Arc::new(Budgets::new(http.cost_budgets, limits.max_complexity));
        AppState(Arc::new(App {
            schema,
            executor,
            limits,
            db,
            jwt,
            http,
            metrics: Metrics::default(),
            per_user: Limiter::new(rates.per_user),
            per_ip: Limiter::new(rates.per_ip),
            accept_invite_per_ip: Limiter::new(rates.accept_invite_per_ip),
            scim_per_token: Limiter::new(scim_rates.per_token),
            scim_per_ip: Limiter::new(scim_rates.per_ip),
            budgets,
        }))
    }
}

/// What `axum::serve` runs: the router, with each connection's peer address available to
/// the per-IP rate limits.
pub fn service(state: AppState) -> IntoMakeServiceWithConnectInfo<Router, SocketAddr> {
    router(state).into_make_service_with_connect_info::<SocketAddr>()
}

/// The router with every route and middleware. Served without connect info (see
/// [`service`]), the per-IP limits have no address to count and stay off.
pub fn router(state: AppState) -> Router {
    let max_body = state.0.http.max_body_bytes;
    let cors = (!state.0.http.cors_origins.is_empty()).then(|| {
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(state.0.http.cors_origins.clone()))
            .allow_methods([Method::POST])
            .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
            .max_age(Duration::from_secs(600))
    });
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphiql/{file}", get(graphiql_asset))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_page))
        .route("/accept-invite", get(accept_invite::page))
        .route("/console", get(console::page))
        .route("/console/{file}", get(console::file))
        .route("/demo/mail", get(demo_mail::list))
        .route("/demo/mail/{id}", get(demo_mail::show))
        .route("/demo/mail/{id}/html", get(demo_mail::html_part))
        .merge(crate::scim::routes(state.clone()))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(tower::util::option_layer(cors))
        .layer(CompressionLayer::new())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            let id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(axum::middleware::map_request(drop_malformed_request_id))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .with_state(state)
}

/// The longest `X-Request-Id` a client may choose.
const MAX_REQUEST_ID: usize = 64;

/// Keeps a client's `X-Request-Id` only when it is a well-formed id (letters, digits, `-`,
/// `_`, `.`, `:`; at most 64 characters): anything else would land verbatim in logs and
/// responses, so it is dropped and a fresh id is made instead.
async fn drop_malformed_request_id(mut req: Request) -> Request {
    let ok = req.headers().get_all("x-request-id").iter().count() <= 1
        && req.headers().get("x-request-id").is_none_or(|v| {
            let b = v.as_bytes();
            !b.is_empty()
                && b.len() <= MAX_REQUEST_ID
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b':'))
        });
    if !ok {
        req.headers_mut().remove("x-request-id");
    }
    req
}

/// The client's address: the TCP peer, unless the peer is a trusted proxy — then the
/// nearest address in `Forwarded` (`for=`) or `X-Forwarded-For` that is not a trusted proxy
/// itself, read from the right (the proxy appends; anything further left is the client's
/// own claim).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut hops: Vec<IpAddr> = Vec::new();
    for value in headers.get_all(header::FORWARDED) {
        let Ok(value) = value.to_str() else { continue };
        for element in value.split(',') {
            for pair in element.split(';') {
                let Some((k, v)) = pair.trim().split_once('=') else {
                    continue;
                };
                if k.trim().eq_ignore_ascii_case("for") {
                    let v = v.trim().trim_matches('"');
                    // `for="[2001:db8::1]:4711"` or `for=192.0.2.60:4711` or `for=192.0.2.60`.
                    let host = if let Some(rest) = v.strip_prefix('[') {
                        rest.split(']').next().unwrap_or("")
                    } else {
                        v.split(':')
                            .next()
                            .filter(|_| v.matches(':').count() <= 1)
                            .unwrap_or(v)
                    };
                    if let Ok(ip) = host.parse() {
                        hops.push(ip);
                    }
                }
            }
        }
    }
    if hops.is_empty() {
        for value in headers.get_all("x-forwarded-for") {
            let Ok(value) = value.to_str() else { continue };
            hops.extend(
                value
                    .split(',')
                    .filter_map(|h| h.trim().parse::<IpAddr>().ok()),
            );
        }
    }
    hops.iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(hops.first())
        .copied()
        .unwrap_or(peer)
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.0.db.ping().await {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
    }
}

async fn metrics_page(State(state): State<AppState>) -> Response {
    let text = state.0.metrics.render(&state.0.db).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// `GET /graphql`: a WebSocket upgrade serves subscriptions, anything else GraphiQL.
async fn graphql_get(state: State<AppState>, request: Request) -> Response {
    if subscriptions::is_upgrade(&request) {
        subscriptions::upgrade(state, request).await
    } else {
        graphiql_page(state).await
    }
}

async fn graphiql_page(State(state): State<AppState>) -> Response {
    if !state.0.http.graphiql {
        return (
            StatusCode::NOT_FOUND,
            "GraphiQL is disabled; POST GraphQL requests to /graphql",
        )
            .into_response();
    }
    Html(graphiql::page_html(&graphiql::GraphiqlPage {
        endpoint: "/graphql",
        title: "Roster GraphiQL",
        default_headers: state.0.http.graphiql_headers.as_deref(),
    }))
    .into_response()
}

async fn graphiql_asset(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    match graphiql::asset(&file).filter(|_| state.0.http.graphiql) {
        Some((content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A GraphQL-shaped error response outside of execution (body, batch, timeout problems):
/// a request error, so it has no `data` entry.
fn error_response(
    status: StatusCode,
    code: &'static str,
    message: &str,
    request_id: &str,
) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code, "requestId": request_id } }],
    });
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    response.extensions_mut().insert(RequestError);
    response
}

/// Marks a response to a request that never reached execution (unreadable body, parse or
/// validation failure, a limit): GraphQL over HTTP answers those with 400 under
/// `application/graphql-response+json`.
#[derive(Clone, Copy, Debug)]
struct RequestError;

/// The media type of a `POST /graphql` response, negotiated from `Accept` (GraphQL over
/// HTTP): `application/graphql-response+json` when the client asks for it, else
/// `application/json` (also without an `Accept` header, for older clients).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Media {
    Json,
    GraphqlResponse,
}

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

impl Media {
    /// `None` when `Accept` allows neither type (answered 406).
    fn negotiate(headers: &HeaderMap) -> Option<Media> {
        let mut any = false;
        let (mut exact_grj, mut exact_json, mut wildcard) = (None, None, None::<f32>);
        for value in headers.get_all(header::ACCEPT) {
            let Ok(value) = value.to_str() else { continue };
            for range in value.split(',') {
                let mut parts = range.split(';');
                let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
                if media.is_empty() {
                    continue;
                }
                any = true;
                let q = parts
                    .filter_map(|p| p.trim().strip_prefix("q="))
                    .find_map(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                let slot = match media.as_str() {
                    GRAPHQL_RESPONSE => &mut exact_grj,
                    "application/json" => &mut exact_json,
                    "*/*" | "application/*" => &mut wildcard,
                    _ => continue,
                };
                *slot = Some(slot.map_or(q, |old: f32| old.max(q)));
            }
        }
        if !any {
            return Some(Media::Json);
        }
        let grj = exact_grj.or(wildcard).unwrap_or(0.0);
        let json = exact_json.or(wildcard).unwrap_or(0.0);
        if exact_grj.is_some_and(|q| q > 0.0) && grj >= json {
            Some(Media::GraphqlResponse)
        } else if json > 0.0 {
            Some(Media::Json)
        } else if grj > 0.0 {
            Some(Media::GraphqlResponse)
        } else {
            None
        }
    }
}

fn request_id(headers: &HeaderMap, extension: Option<&RequestId>) -> String {
    extension
        .and_then(|id| id.header_value().to_str().ok())
        .or_else(|| headers.get("x-request-id").and_then(|v| v.to_str().ok()))
        .unwrap_or("-")
        .to_owned()
}

/// What the `Authorization` header says, checked without the database.
enum Credentials {
    None,
    Invalid,
    /// A verified token: its subject and issue time.
    Token {
        sub: String,
        iat: Option<u64>,
    },
}

fn credentials(app: &App, headers: &HeaderMap) -> Credentials {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Credentials::None;
    };
    let Some(token) = value.to_str().ok().and_then(|v| {
        v.strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
    }) else {
        return Credentials::Invalid;
    };
    match app.jwt.verify_claims(token.trim()) {
        Ok(claims) => Credentials::Token {
            sub: claims.sub,
            iat: claims.iat,
        },
        Err(_) => Credentials::Invalid,
    }
}

/// Decides who is calling: loads the token's user and role from the database. `Err` when
/// that failed for a reason of ours (the database is unreachable): the token may be fine, so
/// the caller must not be told it is not.
/// A signed-in caller also comes with the rows their principal was read from (one statement).
async fn caller(
    app: &App,
    credentials: Credentials,
) -> Result<(Caller, Option<Arc<principal::CallerRows>>), crate::service::Error> {
    let (sub, iat) = match credentials {
        Credentials::None => return Ok((Caller::Anonymous, None)),
        Credentials::Invalid => return Ok((Caller::Invalid, None)),
        Credentials::Token { sub, iat } => (sub, iat),
    };
    match principal::sign_in(app.db.conn(), &sub, iat).await {
        Ok(s) => Ok((Caller::User(s.principal), Some(Arc::new(s.rows)))),
        Err(crate::service::Error::Unauthenticated) => Ok((Caller::Invalid, None)),
        Err(e) => Err(e),
    }
}

/// A refusal for sending too much: 429 with `Retry-After`, shaped like any GraphQL error.
fn rate_limited(app: &App, what: &str, retry_after: u64, request_id: &str) -> Response {
    app.metrics
        .record("rate_limited", code::RATE_LIMITED, Duration::ZERO);
    tracing::warn!(
        request_id,
        limit = what,
        retry_after,
        outcome = code::RATE_LIMITED,
        "rate limited"
    );
    let body = serde_json::json!({
        "data": null,
        "errors": [{
            "message": format!("too many requests ({what}); retry in {retry_after} s"),
            "extensions": {
                "code": code::RATE_LIMITED,
                "retryAfter": retry_after,
                "requestId": request_id,
            },
        }],
    });
    (
        StatusCode::TOO_MANY_REQUESTS,
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::RETRY_AFTER, retry_after.to_string()),
        ],
        body.to_string(),
    )
        .into_response()
}

fn tag_errors(errors: &mut [ServerError], request_id: &str) {
    for e in errors {
        let ext = e
            .extensions
            .get_or_insert_with(ErrorExtensionValues::default);
        if ext.get("code").is_none() {
            // Errors async-graphql raises itself while reading arguments are input errors.
            ext.set("code", code::BAD_USER_INPUT);
        }
        ext.set("requestId", request_id);
    }
}

/// Reads the body up to `max` bytes; `Err` is the response to send instead.
async fn read_body(body: Body, max: usize, rid: &str) -> Result<axum::body::Bytes, Response> {
    let too_large = || {
        error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            code::LIMIT_EXCEEDED,
            &format!("the request body exceeds {max} bytes"),
            rid,
        )
    };
    // A body over the limit is read up to the limit and refused: answering before the
    // client finished sending would reset the connection under its upload, and the client
    // would never see why.
    use http_body_util::BodyExt;
    match http_body_util::Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large())
        }
        Err(_) => Err(error_response(
            StatusCode::BAD_REQUEST,
            code::BAD_USER_INPUT,
            "the request body could not be read",
            rid,
        )),
    }
}

/// Reads and drops a refused request's body without keeping or parsing any of it, so the
/// client reads the refusal instead of a connection reset mid-upload. A body declared
/// larger than four times `max`, or one that trickles in for more than two seconds, is not
/// waited for.
async fn discard(body: Body, headers: &HeaderMap, max: usize) {
    use http_body_util::BodyExt;
    let max = max.saturating_mul(4);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return;
    }
    let mut body = body;
    let mut seen = 0usize;
    let drain = async {
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len());
            if seen > max {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
}

/// The first error code of a response, or `ok`.
fn outcome(response: &async_graphql::Response) -> String {
    response
        .errors
        .first()
        .and_then(|e| e.extensions.as_ref())
        .and_then(|ext| match ext.get("code") {
            Some(async_graphql::Value::String(c)) => Some(c.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "ok".to_owned())
}

/// `RateLimit-*` headers (draft-ietf-httpapi-ratelimit-headers) of the cost budget.
fn budget_headers(response: &mut Response, budget: Option<crate::ratelimit::Budget>) {
    let Some(b) = budget else { return };
    let headers = response.headers_mut();
    for (name, value) in [
        ("ratelimit-limit", u64::from(b.limit)),
        ("ratelimit-remaining", u64::from(b.remaining)),
        ("ratelimit-reset", b.reset_secs),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
    if let Ok(policy) = HeaderValue::from_str(&format!("{};w=60;comment=\"cost points\"", b.limit))
    {
        headers.insert("ratelimit-policy", policy);
    }
}

async fn graphql_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    request_id_ext: Option<axum::Extension<RequestId>>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    body: Body,
) -> Response {
    let rid = request_id(&headers, request_id_ext.as_ref().map(|e| &e.0));
    let Some(media) = Media::negotiate(&headers) else {
        return error_response(
            StatusCode::NOT_ACCEPTABLE,
            code::BAD_USER_INPUT,
            "`Accept` must allow application/graphql-response+json or application/json",
            &rid,
        );
    };
    let mut response = execute_post(&state.0, &headers, &rid, peer, body, media).await;
    if media == Media::GraphqlResponse {
        if response.status() == StatusCode::OK
            && response.extensions().get::<RequestError>().is_some()
        {
            *response.status_mut() = StatusCode::BAD_REQUEST;
        }
        let json = response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        if json {
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/graphql-response+json; charset=utf-8"),
            );
        }
    }
    response
}

/// `POST /graphql` once the response's media type is known.
async fn execute_post(
    app: &App,
    headers: &HeaderMap,
    rid: &str,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    body: Body,
    media: Media,
) -> Response {
    // The TCP peer, or the client a trusted proxy names: a header anyone can set would let a
    // client pick a fresh bucket per request. Counted before the body is read.
    let ip = peer.map(|p| client_ip(p.0.0.ip(), headers, &app.http.trusted_proxies));
    if let Some(ip) = ip
        && let Err(retry) = app.per_ip.take(&ip, 1)
    {
        discard(body, headers, app.http.max_body_bytes).await;
        return rate_limited(app, "per client address", retry, rid);
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        })
        .unwrap_or(false);
    if !json {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code::BAD_USER_INPUT,
            "POST /graphql takes a JSON body with `Content-Type: application/json`",
            rid,
        );
    }
    let body = match read_body(body, app.http.max_body_bytes, rid).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    // Before serde_json (recursive) sees it: the body's nesting, counted from the variables
    // (a batch, the request object and `variables` are the three levels above them).
    if let Err(refusal) = prescan::scan_json(&body, app.limits.scan.max_nesting + 3) {
        let status = if refusal.code == code::LIMIT_EXCEEDED {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        return error_response(status, refusal.code, &refusal.message, rid);
    }
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                code::BAD_USER_INPUT,
                &format!("the body is not a GraphQL request: {e}"),
                rid,
            );
        }
    };
    let requests = match batch {
        BatchRequest::Single(r) => vec![r],
        BatchRequest::Batch(rs) => rs,
    };
    if requests.len() > app.http.max_batch {
        return error_response(
            StatusCode::OK,
            code::LIMIT_EXCEEDED,
            &format!("a batch may hold at most {} operations", app.http.max_batch),
            rid,
        );
    }
    if requests.is_empty() {
        return error_response(
            StatusCode::BAD_REQUEST,
            code::BAD_USER_INPUT,
            "the batch is empty",
            rid,
        );
    }
    let single = requests.len() == 1 && body.first() != Some(&b'[');
    let attempts = ratelimit::accept_invite_attempts(requests.iter().map(|r| r.query.as_str()));
    if attempts > 0
        && let Some(ip) = ip
        && let Err(retry) = app.accept_invite_per_ip.take(&ip, attempts)
    {
        return rate_limited(app, "acceptInvite attempts per client address", retry, rid);
    }
    let credentials = credentials(app, headers);
    if let Credentials::Token { sub, .. } = &credentials
        && let Err(retry) = app.per_user.take(sub, 1)
    {
        return rate_limited(app, "per user", retry, rid);
    }
    let (who, caller_rows) = match caller(app, credentials).await {
        Ok(who) => who,
        Err(e) => {
            // Ours, not the caller's fault (a database outage): a masked internal error
            // with the request id; the cause goes to the log.
            tracing::error!(request_id = %rid, error = %e.describe(), "loading the caller failed");
            let operation = requests
                .first()
                .map(|r| metrics::operation_name(r.operation_name.as_deref(), &r.query))
                .unwrap_or_default();
            app.metrics
                .record(&operation, code::INTERNAL_SERVER_ERROR, Duration::ZERO);
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                code::INTERNAL_SERVER_ERROR,
                graphql::error::INTERNAL_MESSAGE,
                rid,
            );
        }
    };
    let (user, signed_in) = match &who {
        Caller::User(p) => (p.user_id.to_string(), true),
        Caller::Anonymous | Caller::Invalid => ("anonymous".to_owned(), false),
    };
    // The budget is charged to the user a verified token names and to the client address.
    let user_key = signed_in.then(|| user.clone());
    let meter = |mode| Arc::new(Meter::new(app.budgets.clone(), user_key.clone(), ip, mode));
    let run = async {
        // Every operation is first parsed, checked and validated by the guarded schema, which
        // records its cost and refuses to run it (a preflight: no resolver runs); a batch is
        // thus priced whole. The request's cost is then charged at once, and the operations
        // that passed run on the executor: the same schema without the guard, so no
        // extension hook sits on each field's path (docs/ARCHITECTURE.md, "How a request
        // flows"). An operation the guard refused never reaches the executor: its answer is
        // the guard's.
        let preflight = meter(Mode::Preflight);
        let mut checked = Vec::with_capacity(requests.len());
        for request in &requests {
            let before = preflight.costs().len();
            let parsed = Parsed::default();
            let probe = async_graphql::Request::new(request.query.clone())
                .variables(request.variables.clone())
                .data(Gate(preflight.clone()))
                .data(parsed.clone());
            let probe = match &request.operation_name {
                Some(name) => probe.operation_name(name.clone()),
                None => probe,
            };
            let answer = app.schema.execute(probe).await;
            checked.push(match preflight.costs().get(before) {
                Some(&cost) => Ok((cost, parsed.take())),
                None => Err(answer),
            });
        }
        let total: usize = checked
            .iter()
            .filter_map(|c| c.as_ref().ok().map(|(cost, _)| cost))
            .sum();
        if total > app.budgets.max_per_request {
            return Err(error_response(
                StatusCode::OK,
                code::LIMIT_EXCEEDED,
                &format!(
                    "the batch's operations cost {total} together; a request may cost at most {}",
                    app.budgets.max_per_request
                ),
                rid,
            ));
        }
        let charged = meter(Mode::Charge);
        let mut refused = None;
        if total > 0
            && let Err(over) = charged.charge(total)
        {
            if !single {
                let mut response = rate_limited(app, over.which, over.retry_after, rid);
                budget_headers(&mut response, charged.left());
                return Err(response);
            }
            refused = Some(over);
        }
        let mut responses = Vec::with_capacity(requests.len());
        let mut executed = Vec::with_capacity(requests.len());
        for (request, checked) in requests.into_iter().zip(checked) {
            let operation =
                metrics::operation_name(request.operation_name.as_deref(), &request.query);
            let started = Instant::now();
            let (mut response, requested) = match (checked, refused.take()) {
                (Err(answer), _) => (answer, None),
                (Ok(_), Some(over)) => (
                    async_graphql::Response::from_errors(vec![cost::over_budget_error(over)]),
                    None,
                ),
                (Ok((cost, parsed)), None) => {
                    let mut request = graphql::request_data(
                        request,
                        &app.db,
                        who.clone(),
                        app.limits.loader_delay,
                    );
                    if let Some(rows) = &caller_rows {
                        request = request.data(rows.clone());
                    }
                    if let Some(doc) = parsed {
                        request.set_parsed_query(doc);
                    }
                    (app.executor.execute(request).await, Some(cost))
                }
            };
            tag_errors(&mut response.errors, rid);
            executed.push(requested.is_some());
            let requested = requested.unwrap_or(0);
            response
                .extensions
                .insert("cost".to_owned(), charged.report(requested));
            let elapsed = started.elapsed();
            let outcome = outcome(&response);
            app.metrics
                .record_as(&operation, &outcome, elapsed, signed_in && outcome == "ok");
            // Only these fields: never headers, tokens or variables (an acceptInvite's
            // variables hold the invite token).
            tracing::info!(
                request_id = %rid,
                user = %user,
                operation = %operation,
                outcome = %outcome,
                cost = requested,
                duration_ms = elapsed.as_secs_f64() * 1000.0,
                "graphql request"
            );
            responses.push(response);
        }
        Ok((responses, executed, Some(charged)))
    };
    let (responses, executed, meter) =
        match tokio::time::timeout(app.http.request_timeout, run).await {
            Ok(Ok(r)) => r,
            Ok(Err(refused)) => return refused,
            Err(_) => {
                // Dropping the execution rolls back any open transaction: nothing half-written.
                return error_response(
                    StatusCode::OK,
                    code::LIMIT_EXCEEDED,
                    &format!(
                        "the request took longer than {:?} and was cancelled",
                        app.http.request_timeout
                    ),
                    rid,
                );
            }
        };
    // A single operation its budget refused answers like any rate limit: 429, Retry-After.
    let retry_after = single
        .then(|| responses.first())
        .flatten()
        .and_then(|r| r.errors.first())
        .and_then(|e| e.extensions.as_ref())
        .filter(|ext| matches!(ext.get("code"), Some(async_graphql::Value::String(c)) if c == code::RATE_LIMITED))
        .and_then(|ext| match ext.get("retryAfter") {
            Some(async_graphql::Value::Number(n)) => n.as_u64(),
            _ => None,
        });
    // A single operation that never ran (parse, validation, a limit) is a request error.
    let request_error = single && executed.first() == Some(&false);
    let batch = if single {
        responses.into_iter().next().map(BatchResponse::Single)
    } else {
        Some(BatchResponse::Batch(responses))
    };
    let serialized = if request_error && media == Media::GraphqlResponse {
        // GraphQL over HTTP: a request error has no `data` entry (async-graphql always
        // writes one).
        serde_json::to_value(&batch).and_then(|mut v| {
            if let Some(o) = v.as_object_mut() {
                o.remove("data");
            }
            serde_json::to_vec(&v)
        })
    } else {
        serde_json::to_vec(&batch)
    };
    match serialized {
        Ok(bytes) => {
            let status = if retry_after.is_some() {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::OK
            };
            let mut response = (status, bytes).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if let Some(secs) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            budget_headers(&mut response, meter.and_then(|m| m.left()));
            if request_error {
                response.extensions_mut().insert(RequestError);
            }
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "response serialization failed");
            error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                code::INTERNAL_SERVER_ERROR,
                graphql::error::INTERNAL_MESSAGE,
                rid,
            )
        }
    }
}
