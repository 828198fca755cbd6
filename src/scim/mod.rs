//! SCIM 2.0 (RFC 7643/7644) at `/scim/v2`: what identity providers (Okta, Microsoft Entra
//! ID, …) call to provision users and push groups. Users are Roster's users (userName =
//! email), Groups are teams. This module only speaks the protocol — parsing, filtering,
//! PATCH, the JSON shapes, errors — and calls `service/` for every read and change, so the
//! directory obeys the same rules (permissions, reach, no escalation, last Admin, audit)
//! as the GraphQL API.

pub mod filter;
mod groups;
pub mod patch;
mod schemas;
mod users;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value as Json, json};

use crate::app::{App, AppState};
use crate::auth::Principal;
use crate::service::bulk::{ItemError, ItemErrorCode};
use crate::service::provisioning::ProvisionError;
use crate::service::{Error, scim_tokens};

/// The media type of SCIM requests and responses.
pub const CONTENT_TYPE: &str = "application/scim+json";
/// The core User schema.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Roster's extension of the User schema: team and role.
pub const ROSTER_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:roster:2.0:User";
/// The enterprise User extension (accepted, not stored).
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Largest page a list returns.
pub const MAX_RESULTS: u64 = 1000;

/// The SCIM routes, mounted under `/scim/v2` by `app::router`, each behind the per-address
/// rate limit (`ROSTER_SCIM_RATE_LIMIT_PER_IP`, counted before authentication; the
/// per-token one is counted in `start`).
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/scim/v2/ServiceProviderConfig", get(schemas::config))
        .route("/scim/v2/ResourceTypes", get(schemas::resource_types))
        .route("/scim/v2/ResourceTypes/{id}", get(schemas::resource_type))
        .route("/scim/v2/Schemas", get(schemas::schemas))
        .route("/scim/v2/Schemas/{id}", get(schemas::schema))
        .route("/scim/v2/Users", get(users::list).post(users::create))
        .route("/scim/v2/Users/.search", post(users::search))
        .route("/scim/v2/Groups/.search", post(groups::search))
        .route(
            "/scim/v2/Users/{id}",
            get(users::get)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route("/scim/v2/Groups", get(groups::list).post(groups::create))
        .route(
            "/scim/v2/Groups/{id}",
            get(groups::get)
                .put(groups::replace)
                .patch(groups::patch)
                .delete(groups::delete),
        )
        .route("/scim/v2/.search", post(search_everything))
        .route("/scim/v2/{*rest}", axum::routing::any(not_found))
        .route_layer(axum::middleware::from_fn_with_state(state, limit_per_ip))
}

/// Refuses a client address past `ROSTER_SCIM_RATE_LIMIT_PER_IP` requests a minute (the TCP
/// peer, or the client a trusted proxy names), before the token is looked up.
async fn limit_per_ip(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let app = &state.0;
    if app.scim_per_ip.is_on()
        && let Some(axum::extract::ConnectInfo(peer)) =
            request
                .extensions()
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
    {
        let ip = crate::app::client_ip(peer.ip(), request.headers(), &app.http.trusted_proxies);
        if let Err(retry) = app.scim_per_ip.take(&ip, 1) {
            return ScimError::too_many(app, "per client address", retry).into_response();
        }
    }
    next.run(request).await
}

/// `POST /.search` at the root (several resource types at once): not offered (RFC 7644
/// §3.12 answers 501); `/Users/.search` and `/Groups/.search` are.
async fn search_everything() -> ScimError {
    ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        "search /Users/.search or /Groups/.search; searching all resource types at once is not supported",
    )
}

async fn not_found(Path(rest): Path<String>) -> ScimError {
    ScimError::new(
        StatusCode::NOT_FOUND,
        None,
        format!("no SCIM endpoint /{rest}"),
    )
}

// ---- Errors ---------------------------------------------------------------------------------

/// An error in the SCIM error format (RFC 7644 §3.12).
#[derive(Debug)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
    /// Seconds for the `Retry-After` header of a 429.
    pub retry_after: Option<u64>,
}

impl ScimError {
    pub fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// 429 for a caller past a rate limit (`what`), with `Retry-After`.
    pub fn too_many(app: &App, what: &str, retry_after: u64) -> Self {
        app.metrics.record(
            "rate_limited",
            crate::graphql::error::code::RATE_LIMITED,
            std::time::Duration::ZERO,
        );
        tracing::warn!(limit = what, retry_after, "SCIM request rate limited");
        ScimError {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                None,
                format!("too many requests ({what}); retry in {retry_after} s"),
            )
        }
    }

    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            None,
            "a valid SCIM bearer token is required",
        )
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t);
        }
        let mut response = (self.status, scim_json(&body)).into_response();
        if let Some(retry) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scim\""),
            );
        }
        response
    }
}

impl From<Error> for ScimError {
    fn from(e: Error) -> Self {
        match e {
            Error::Unauthenticated => ScimError::unauthorized(),
            Error::Forbidden(m) => ScimError::new(StatusCode::FORBIDDEN, None, m),
            Error::NotFound(what) => {
                ScimError::new(StatusCode::NOT_FOUND, None, format!("{what} not found"))
            }
            Error::BadInput { message, .. } => ScimError::bad("invalidValue", message),
            Error::LimitExceeded(m) => ScimError::bad("tooMany", m),
            Error::Internal(cause) => {
                tracing::error!(error = %format!("{cause:#}"), "SCIM request failed");
                ScimError::new(StatusCode::INTERNAL_SERVER_ERROR, None, "internal error")
            }
        }
    }
}

impl From<ProvisionError> for ScimError {
    fn from(e: ProvisionError) -> Self {
        match e {
            ProvisionError::Uniqueness(m) => {
                ScimError::new(StatusCode::CONFLICT, Some("uniqueness"), m)
            }
            ProvisionError::Invalid(field, m) => {
                ScimError::bad("invalidValue", format!("{field}: {m}"))
            }
            ProvisionError::SeatLimit(m) => ScimError::new(StatusCode::FORBIDDEN, None, m),
            ProvisionError::Service(e) => e.into(),
            ProvisionError::Refused(errors) => item_error(&errors),
            ProvisionError::Mutability(m) => {
                ScimError::new(StatusCode::CONFLICT, Some("mutability"), m)
            }
            ProvisionError::At(part, inner) => {
                let mut e = ScimError::from(*inner);
                if e.status != StatusCode::INTERNAL_SERVER_ERROR {
                    let attributes = part
                        .split(", ")
                        .map(attribute_name)
                        .collect::<Vec<_>>()
                        .join(", ");
                    e.detail = format!("{attributes}: {}", e.detail);
                }
                e
            }
        }
    }
}

/// The SCIM attribute behind a part of a service change (`provisioning::ProvisionError::At`).
fn attribute_name(part: &str) -> String {
    match part {
        "email" => "userName".to_owned(),
        "team" | "role" => format!("{ROSTER_USER_SCHEMA}:{part}"),
        other => other.to_owned(),
    }
}

impl From<patch::Refused> for ScimError {
    fn from(r: patch::Refused) -> Self {
        ScimError::bad(r.0, r.1)
    }
}

/// The SCIM answer to the first refused item of a bulk service call made for one user.
pub fn item_error(errors: &[ItemError]) -> ScimError {
    let Some(e) = errors.first() else {
        return ScimError::new(StatusCode::INTERNAL_SERVER_ERROR, None, "internal error");
    };
    let message = e.message.clone();
    match e.code {
        ItemErrorCode::NotFound => ScimError::new(StatusCode::NOT_FOUND, None, message),
        ItemErrorCode::Forbidden | ItemErrorCode::RoleNotGrantable => {
            ScimError::new(StatusCode::FORBIDDEN, None, message)
        }
        ItemErrorCode::LastAdmin | ItemErrorCode::InvalidState => {
            ScimError::new(StatusCode::CONFLICT, Some("mutability"), message)
        }
        ItemErrorCode::AlreadyMember | ItemErrorCode::AlreadyInvited | ItemErrorCode::Duplicate => {
            ScimError::new(StatusCode::CONFLICT, Some("uniqueness"), message)
        }
        ItemErrorCode::SeatLimit => ScimError::new(StatusCode::FORBIDDEN, None, message),
        ItemErrorCode::InvalidEmail | ItemErrorCode::EmailDomainNotAllowed => {
            ScimError::bad("invalidValue", message)
        }
    }
}

// ---- Requests and responses -----------------------------------------------------------------

fn scim_json(body: &Json) -> ([(header::HeaderName, HeaderValue); 1], String) {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        body.to_string(),
    )
}

/// A resource response: the JSON body with its `ETag` (and `Location` when created).
pub fn resource_response(status: StatusCode, body: &Json) -> Response {
    let mut response = (status, scim_json(body)).into_response();
    if let Some(version) = body
        .pointer("/meta/version")
        .and_then(Json::as_str)
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        response.headers_mut().insert(header::ETAG, version);
    }
    if status == StatusCode::CREATED
        && let Some(location) = body
            .pointer("/meta/location")
            .and_then(Json::as_str)
            .and_then(|v| HeaderValue::from_str(v).ok())
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// A ListResponse.
pub fn list_response(total: u64, start_index: u64, resources: Vec<Json>) -> Response {
    let body = json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    (StatusCode::OK, scim_json(&body)).into_response()
}

/// Parses a request body: `application/scim+json` or `application/json` (or no type).
pub fn read_body(
    headers: &HeaderMap,
    body: &Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json, ScimError> {
    let body = body.as_ref().map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ScimError::new(
                status,
                None,
                "the request body is larger than the server accepts",
            )
        } else {
            ScimError::bad("invalidSyntax", "the request body could not be read")
        }
    })?;
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or_default().trim();
        if essence != CONTENT_TYPE && essence != "application/json" {
            return Err(ScimError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                None,
                "send application/scim+json or application/json",
            ));
        }
    }
    let value: Json = serde_json::from_slice(body)
        .map_err(|e| ScimError::bad("invalidSyntax", format!("the body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(ScimError::bad(
            "invalidSyntax",
            "the body must be a JSON object",
        ));
    }
    Ok(value)
}

/// Refuses a PATCH body that names a schema other than PatchOp.
pub fn check_patch_schema(body: &Json) -> Result<(), ScimError> {
    match filter::get_ci(body, "schemas").and_then(Json::as_array) {
        Some(list) if !list.iter().any(|s| s.as_str() == Some(PATCH_SCHEMA)) => {
            Err(ScimError::bad(
                "invalidSyntax",
                format!("a PATCH body has the schema {PATCH_SCHEMA}"),
            ))
        }
        _ => Ok(()),
    }
}

/// `If-Match`: 412 unless one of the listed versions (or `*`) is the current one.
pub fn check_if_match(headers: &HeaderMap, current: &Json) -> Result<(), ScimError> {
    let Some(wanted) = headers.get(header::IF_MATCH) else {
        return Ok(());
    };
    let wanted = wanted.to_str().unwrap_or_default();
    let version = current
        .pointer("/meta/version")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let strip = |v: &str| {
        v.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .to_owned()
    };
    let ok = wanted
        .split(',')
        .any(|v| v.trim() == "*" || strip(v) == strip(version));
    if ok {
        Ok(())
    } else {
        Err(ScimError::new(
            StatusCode::PRECONDITION_FAILED,
            None,
            "the resource changed since that version (If-Match)",
        ))
    }
}

/// `If-None-Match` on a GET: 304 when the client's version is current.
pub fn not_modified(headers: &HeaderMap, current: &Json) -> bool {
    let (Some(wanted), Some(version)) = (
        headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok()),
        current.pointer("/meta/version").and_then(Json::as_str),
    ) else {
        return false;
    };
    wanted.split(',').any(|v| v.trim() == version)
}

/// A weak ETag over a resource's JSON form (without its `meta`).
pub fn version_of(resource: &Json) -> String {
    use sha2::{Digest, Sha256};
    let mut copy = resource.clone();
    if let Json::Object(map) = &mut copy {
        map.remove("meta");
    }
    let digest = Sha256::digest(copy.to_string().as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("W/\"{hex}\"")
}

/// An RFC 3339 time of milliseconds since the epoch.
pub fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// The base URL of resource locations, from the request's host.
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("localhost");
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    format!("{}://{host}/scim/v2", if https { "https" } else { "http" })
}

/// Query parameters of a list or a read.
#[derive(Debug, Default)]
pub struct ListParams {
    pub filter: Option<String>,
    pub start_index: u64,
    pub count: u64,
    pub attributes: Vec<String>,
    pub excluded: Vec<String>,
}

/// Reads `filter`, `startIndex`, `count`, `attributes`, `excludedAttributes`.
pub fn list_params(uri: &axum::http::Uri) -> Result<ListParams, ScimError> {
    let mut p = ListParams {
        start_index: 1,
        count: 100,
        ..Default::default()
    };
    let axum::extract::Query(pairs) =
        axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map_err(|_| ScimError::bad("invalidSyntax", "the query string does not parse"))?;
    let split = |v: &str| -> Vec<String> {
        v.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    for (key, value) in pairs {
        match key.to_ascii_lowercase().as_str() {
            "filter" => p.filter = Some(value),
            // Out-of-range values are "interpreted as 1" / "as 0" (RFC 7644 §3.4.2.4).
            "startindex" => p.start_index = value.trim().parse::<i64>().unwrap_or(1).max(1) as u64,
            "count" => {
                p.count =
                    (value.trim().parse::<i64>().unwrap_or(100).max(0) as u64).min(MAX_RESULTS)
            }
            "attributes" => p.attributes = split(&value),
            "excludedattributes" => p.excluded = split(&value),
            _ => {}
        }
    }
    Ok(p)
}

/// Reads a SearchRequest body (`POST …/.search`, RFC 7644 §3.4.3).
pub fn search_params(body: &Json) -> Result<ListParams, ScimError> {
    let list = |key: &str| -> Result<Vec<String>, ScimError> {
        match filter::get_ci(body, key) {
            None | Some(Json::Null) => Ok(Vec::new()),
            Some(Json::Array(items)) => Ok(items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()),
            Some(Json::String(s)) => Ok(s.split(',').map(|a| a.trim().to_owned()).collect()),
            Some(_) => Err(ScimError::bad(
                "invalidValue",
                format!("`{key}` must be a list"),
            )),
        }
    };
    let number = |key: &str, default: i64| {
        filter::get_ci(body, key)
            .and_then(Json::as_i64)
            .unwrap_or(default)
    };
    Ok(ListParams {
        filter: filter::get_ci(body, "filter")
            .and_then(Json::as_str)
            .map(str::to_owned),
        start_index: number("startIndex", 1).max(1) as u64,
        count: (number("count", 100).max(0) as u64).min(MAX_RESULTS),
        attributes: list("attributes")?,
        excluded: list("excludedAttributes")?,
    })
}

/// Keeps what `attributes` asks for, or drops what `excludedAttributes` names. `id` and
/// `schemas` are always returned.
pub fn project(resource: Json, params: &ListParams, core: &str) -> Json {
    let parse = |list: &[String]| -> Vec<filter::AttrPath> {
        list.iter()
            .filter_map(|a| filter::AttrPath::parse(a).ok())
            .collect()
    };
    let container_key = |resource: &Json, path: &filter::AttrPath| -> Option<String> {
        match &path.urn {
            Some(urn) if !urn.eq_ignore_ascii_case(core) => resource
                .as_object()?
                .keys()
                .find(|k| k.eq_ignore_ascii_case(urn))
                .cloned(),
            _ => None,
        }
    };
    if !params.attributes.is_empty() {
        let wanted = parse(&params.attributes);
        let mut out = serde_json::Map::new();
        let Json::Object(full) = &resource else {
            return resource;
        };
        for key in ["schemas", "id"] {
            if let Some(v) = full.get(key) {
                out.insert(key.to_owned(), v.clone());
            }
        }
        for path in &wanted {
            // A whole extension named by its URN.
            if let Some((k, v)) = full.iter().find(|(k, _)| {
                k.to_ascii_lowercase()
                    == format!("{}:{}", path.urn.clone().unwrap_or_default(), path.name)
            }) {
                out.insert(k.clone(), v.clone());
                continue;
            }
            let (source, target_key) = match container_key(&resource, path) {
                Some(k) => (full.get(&k), Some(k)),
                None => (Some(&resource), None),
            };
            let Some(source) = source else { continue };
            let Some((name, value)) = source
                .as_object()
                .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(&path.name)))
            else {
                continue;
            };
            let picked = match &path.sub {
                None => value.clone(),
                Some(sub) => match value {
                    Json::Object(o) => Json::Object(
                        o.iter()
                            .filter(|(k, _)| k.eq_ignore_ascii_case(sub))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    ),
                    Json::Array(items) => Json::Array(
                        items
                            .iter()
                            .map(|i| {
                                Json::Object(
                                    i.as_object()
                                        .map(|o| {
                                            o.iter()
                                                .filter(|(k, _)| k.eq_ignore_ascii_case(sub))
                                                .map(|(k, v)| (k.clone(), v.clone()))
                                                .collect()
                                        })
                                        .unwrap_or_default(),
                                )
                            })
                            .collect(),
                    ),
                    other => other.clone(),
                },
            };
            let dest = match &target_key {
                Some(k) => out
                    .entry(k.clone())
                    .or_insert_with(|| Json::Object(Default::default())),
                None => {
                    let slot = out.entry(name.clone()).or_insert(Json::Null);
                    merge_into(slot, picked);
                    continue;
                }
            };
            if let Json::Object(d) = dest {
                let slot = d.entry(name.clone()).or_insert(Json::Null);
                merge_into(slot, picked);
            }
        }
        return Json::Object(out);
    }
    if !params.excluded.is_empty() {
        let mut resource = resource;
        for path in parse(&params.excluded) {
            if matches!(path.name.as_str(), "id" | "schemas") && path.urn.is_none() {
                continue;
            }
            let holder = match container_key(&resource, &path) {
                Some(k) => resource.get_mut(&k),
                None => Some(&mut resource),
            };
            let Some(Json::Object(holder)) = holder else {
                continue;
            };
            let Some(key) = holder
                .keys()
                .find(|k| k.eq_ignore_ascii_case(&path.name))
                .cloned()
            else {
                continue;
            };
            match &path.sub {
                None => {
                    holder.remove(&key);
                }
                Some(sub) => {
                    if let Some(Json::Object(o)) = holder.get_mut(&key) {
                        o.retain(|k, _| !k.eq_ignore_ascii_case(sub));
                    }
                }
            }
        }
        return resource;
    }
    resource
}

fn merge_into(slot: &mut Json, value: Json) {
    match (slot, value) {
        (Json::Object(a), Json::Object(b)) => a.extend(b),
        (slot, value) => *slot = value,
    }
}

// ---- Authentication -------------------------------------------------------------------------

/// Who is calling: the directory token behind `Authorization: Bearer <token>` (created with
/// `createScimToken`), as a principal with the token's role, reach and anchor team; every
/// change it makes is audited with the token as the actor. Access tokens (JWTs) of users do
/// not work here.
pub async fn authenticate(app: &App, headers: &HeaderMap) -> Result<Principal, ScimError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(ScimError::unauthorized)?;
    match scim_tokens::authenticate(app.db.conn(), token).await {
        Ok(p) => Ok(p),
        Err(Error::Unauthenticated) => Err(ScimError::unauthorized()),
        Err(e) => Err(e.into()),
    }
}

/// Common start of every handler: the app and the caller.
pub async fn start(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(std::sync::Arc<App>, Principal), ScimError> {
    let app = state.0.clone();
    let principal = authenticate(&app, headers).await?;
    if let Some(token) = principal.scim_token_id
        && let Err(retry) = app.scim_per_token.take(&token, 1)
    {
        return Err(ScimError::too_many(&app, "per SCIM token", retry));
    }
    Ok((app, principal))
}
