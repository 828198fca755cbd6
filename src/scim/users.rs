//! `/Users`: Roster's users as SCIM User resources.
//!
//! Mapping: `userName` and `emails[type eq "work"]` = the email; `name.givenName` = the first
//! word of Roster's name, `name.familyName` = the rest, `name.formatted` and `displayName` =
//! the whole name; `active` = not suspended; `externalId` = the directory's id; `groups` =
//! the user's team; the Roster extension = team and role.
//!
//! Every write turns the request into the changes it asks for by comparing the resource
//! before and after (a PUT body, or the result of a PATCH on the resource's JSON), then
//! makes them all in one transaction (`provisioning::update_user`): a refused part leaves
//! the user as they were. An attribute Roster does not store changes nothing.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};
use serde_json::{Value as Json, json};

use super::filter::{self, Filter, Op, get_ci};
use super::{
    ROSTER_USER_SCHEMA, ScimError, USER_SCHEMA, base_url, check_if_match, check_patch_schema,
    item_error, list_params, list_response, not_modified, patch, project, read_body,
    resource_response, start, time, version_of,
};
use crate::app::{App, AppState};
use crate::auth::{Permission, Principal};
use crate::entity::{role, team, user};
use crate::service::bulk::Requested;
use crate::service::ids::{AccountId, RoleId, Sent, TeamId, UserId};
use crate::service::provisioning::{self, NewUser, ProfileChanges, Ref, UserChanges};
use crate::service::users::Status;
use crate::service::{Error, accounts, text, users};

/// The core User schema URN, lower-case (how attribute paths carry it).
const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:user";
/// Most users a filter that SQL cannot answer alone is evaluated over.
const MAX_SCAN: u64 = 10_000;

// ---- Status and external id --------------------------------------------------------------------

/// Whether the user is active (not suspended).
fn is_active(u: &user::Model) -> bool {
    u.status == Status::Active
}

/// The directory's id of the user.
fn external_id(u: &user::Model) -> Option<String> {
    u.external_id.clone()
}

/// The users SCIM sees: the account's non-deleted users in the caller's reach, suspended
/// ones included (a deactivated user stays readable to the directory).
fn visible(actor: &Principal) -> Select<user::Entity> {
    crate::service::access::users(actor)
}

// ---- Reading ----------------------------------------------------------------------------------

/// Team and role names of the users on a page.
struct Names {
    teams: HashMap<TeamId, String>,
    roles: HashMap<RoleId, role::Model>,
}

async fn names<C: ConnectionTrait>(
    db: &C,
    account_id: AccountId,
    users: &[user::Model],
) -> Result<Names, ScimError> {
    if users.is_empty() {
        return Ok(Names {
            teams: HashMap::new(),
            roles: HashMap::new(),
        });
    }
    let mut team_ids: Vec<TeamId> = users.iter().map(|u| u.team_id).collect();
    team_ids.sort_unstable();
    team_ids.dedup();
    let mut teams = HashMap::new();
    for chunk in team_ids.chunks(1000) {
        let rows: Vec<(TeamId, String)> = team::Entity::find()
            .select_only()
            .column(team::Column::Id)
            .column(team::Column::Name)
            .filter(team::Column::Id.is_in(chunk.to_vec()))
            .into_tuple()
            .all(db)
            .await
            .map_err(Error::from)?;
        teams.extend(rows);
    }
    let roles = role::Entity::find()
        .filter(role::Column::AccountId.eq(account_id))
        .all(db)
        .await
        .map_err(Error::from)?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    Ok(Names { teams, roles })
}

/// First word and the rest of a name.
fn split_name(name: &str) -> (String, Option<String>) {
    match name.trim().split_once(char::is_whitespace) {
        Some((given, family)) => (given.to_owned(), Some(family.trim().to_owned())),
        None => (name.trim().to_owned(), None),
    }
}

fn to_json(u: &user::Model, names: &Names, base: &str) -> Json {
    let id = u.id.to_string();
    let team = names.teams.get(&u.team_id).cloned().unwrap_or_default();
    let role = names.roles.get(&u.role_id);
    let (given, family) = split_name(&u.name);
    let mut name = json!({ "givenName": given });
    if let Some(f) = family {
        name["familyName"] = json!(f);
    }
    let team_id = u.team_id.to_string();
    let mut body = json!({
        "schemas": [USER_SCHEMA, ROSTER_USER_SCHEMA],
        "id": id,
        "userName": u.email,
        "name": name,
        "displayName": u.name,
        "emails": [{ "value": u.email, "type": "work", "primary": true }],
        "active": is_active(u),
        "groups": [{ "value": team_id, "display": team, "$ref": format!("{base}/Groups/{team_id}") }],
        ROSTER_USER_SCHEMA: {
            "team": team,
            "role": role.map(|r| r.name.clone()),
        },
    });
    if let Some(x) = external_id(u) {
        body["externalId"] = json!(x);
    }
    let version = version_of(&body);
    body["meta"] = json!({
        "resourceType": "User",
        "created": time(u.created_at),
        "lastModified": time(u.updated_at),
        "location": format!("{base}/Users/{id}"),
        "version": version,
    });
    body
}

fn require_view(actor: &Principal) -> Result<(), ScimError> {
    if actor.can(Permission::UsersView) {
        Ok(())
    } else {
        Err(Error::forbidden("this token's role may not read users").into())
    }
}

async fn find<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    id: Sent<UserId>,
) -> Result<user::Model, ScimError> {
    let id = id.ok_or(Error::NotFound("user"))?;
    Ok(visible(actor)
        .filter(user::Column::Id.eq(id))
        .one(db)
        .await
        .map_err(Error::from)?
        .ok_or(Error::NotFound("user"))?)
}

async fn load_json(
    app: &App,
    actor: &Principal,
    id: Sent<UserId>,
    base: &str,
) -> Result<(user::Model, Json), ScimError> {
    let db = app.db.conn();
    let u = find(db, actor, id).await?;
    let names = names(db, actor.account_id, std::slice::from_ref(&u)).await?;
    let body = to_json(&u, &names, base);
    Ok((u, body))
}

// ---- Filters in SQL ---------------------------------------------------------------------------

fn never() -> SimpleExpr {
    Expr::cust("1 = 0")
}

fn like_escaped(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn parse_time(v: &Json) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// The exact SQL condition of `f`, when it has one.
fn sql(f: &Filter) -> Option<SimpleExpr> {
    match f {
        Filter::And(a, b) => Some(sql(a)?.and(sql(b)?)),
        Filter::Or(a, b) => Some(sql(a)?.or(sql(b)?)),
        Filter::Not(a) => Some(sql(a)?.not()),
        Filter::Present(p) if p.urn.as_deref().is_none_or(|u| u == CORE) => {
            match p.dotted().as_str() {
                "id" | "username" | "emails" | "emails.value" | "meta.created"
                | "meta.lastmodified" | "name" | "name.formatted" | "displayname" | "active" => {
                    Some(Expr::cust("1 = 1"))
                }
                "externalid" => {
                    Some(Expr::col((user::Entity, user::Column::ExternalId)).is_not_null())
                }
                _ => None,
            }
        }
        Filter::Compare(p, op, v) if p.urn.as_deref().is_none_or(|u| u == CORE) => {
            compare_sql(&p.dotted(), *op, v)
        }
        Filter::ValuePath(p, inner) if p.name == "emails" && p.urn.is_none() => {
            // `emails[type eq "work" and value eq "…"]`: the one email is of type work.
            email_value_path(inner)
        }
        _ => None,
    }
}

fn email_value_path(f: &Filter) -> Option<SimpleExpr> {
    match f {
        Filter::And(a, b) => Some(email_value_path(a)?.and(email_value_path(b)?)),
        Filter::Or(a, b) => Some(email_value_path(a)?.or(email_value_path(b)?)),
        Filter::Compare(p, Op::Eq, Json::String(t)) if p.dotted() == "type" => {
            Some(if t.eq_ignore_ascii_case("work") {
                Expr::cust("1 = 1")
            } else {
                never()
            })
        }
        Filter::Compare(p, Op::Eq, Json::Bool(b)) if p.dotted() == "primary" => {
            Some(if *b { Expr::cust("1 = 1") } else { never() })
        }
        Filter::Compare(p, op, v) if p.dotted() == "value" => compare_sql("username", *op, v),
        _ => None,
    }
}

fn compare_sql(attr: &str, op: Op, v: &Json) -> Option<SimpleExpr> {
    let col = |c: user::Column| Expr::col((user::Entity, c));
    match attr {
        "username" | "emails.value" | "emails" => {
            let s = v.as_str()?.to_lowercase();
            let email = col(user::Column::Email);
            Some(match op {
                Op::Eq => email.eq(s),
                Op::Ne => email.ne(s),
                Op::Sw => email.like(LikeExpr::new(format!("{}%", like_escaped(&s))).escape('\\')),
                Op::Ew => email.like(LikeExpr::new(format!("%{}", like_escaped(&s))).escape('\\')),
                Op::Co => email.like(LikeExpr::new(format!("%{}%", like_escaped(&s))).escape('\\')),
                _ => return None,
            })
        }
        "id" => {
            let id = v.as_str().and_then(UserId::parse).map(|i| i.0);
            Some(match (op, id) {
                (Op::Eq, Some(id)) => col(user::Column::Id).eq(id),
                (Op::Eq, None) => never(),
                (Op::Ne, Some(id)) => col(user::Column::Id).ne(id),
                (Op::Ne, None) => Expr::cust("1 = 1"),
                _ => return None,
            })
        }
        // Case-exact (RFC 7643), as the column compares (`COLLATE "C"` on PostgreSQL).
        "externalid" => {
            let x = v.as_str()?.to_owned();
            let c = col(user::Column::ExternalId);
            match op {
                Op::Eq => Some(c.eq(x)),
                _ => None,
            }
        }
        "name.formatted" | "displayname" => match op {
            Op::Eq => Some(col(user::Column::NameKey).eq(text::fold(v.as_str()?))),
            _ => None,
        },
        "active" => {
            let wanted = match (op, v) {
                (Op::Eq, Json::Bool(b)) => *b,
                (Op::Ne, Json::Bool(b)) => !*b,
                _ => return None,
            };
            let status = if wanted {
                Status::Active
            } else {
                Status::Suspended
            };
            Some(col(user::Column::Status).eq(status.as_str()))
        }
        "meta.created" | "meta.lastmodified" => {
            let at = parse_time(v)?;
            let c = col(if attr == "meta.created" {
                user::Column::CreatedAt
            } else {
                user::Column::UpdatedAt
            });
            Some(match op {
                Op::Eq => c.eq(at),
                Op::Ne => c.ne(at),
                Op::Gt => c.gt(at),
                Op::Ge => c.gte(at),
                Op::Lt => c.lt(at),
                Op::Le => c.lte(at),
                _ => return None,
            })
        }
        _ => None,
    }
}

/// A condition every match of `f` meets (for `and`, the parts SQL can answer), narrowing
/// what is evaluated in memory.
fn prefilter(f: &Filter) -> Option<SimpleExpr> {
    match f {
        Filter::And(a, b) => match (prefilter(a), prefilter(b)) {
            (Some(x), Some(y)) => Some(x.and(y)),
            (x, y) => x.or(y),
        },
        Filter::Or(a, b) => Some(prefilter(a)?.or(prefilter(b)?)),
        other => sql(other),
    }
}

// ---- Handlers ---------------------------------------------------------------------------------

/// `GET /Users`.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ScimError> {
    let params = list_params(&uri)?;
    list_with(&state, &headers, params).await
}

/// `POST /Users/.search`: the same list, its parameters in a SearchRequest body.
pub async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let params = super::search_params(&read_body(&headers, &body)?)?;
    list_with(&state, &headers, params).await
}

async fn list_with(
    state: &AppState,
    headers: &HeaderMap,
    params: super::ListParams,
) -> Result<Response, ScimError> {
    let (app, actor) = start(state, headers).await?;
    require_view(&actor)?;
    let parsed = params
        .filter
        .as_deref()
        .map(filter::parse)
        .transpose()
        .map_err(|e| ScimError::bad("invalidFilter", e.0))?;
    let base = base_url(headers);
    let db = app.db.conn();
    let offset = params.start_index - 1;
    let mut select = visible(&actor);
    let exact = match &parsed {
        None => Some(None),
        Some(f) => sql(f).map(Some),
    };
    let (total, page) = match exact {
        Some(condition) => {
            if let Some(c) = condition {
                select = select.filter(c);
            }
            let page = if params.count == 0 {
                Vec::new()
            } else {
                select
                    .clone()
                    .order_by_asc(user::Column::CreatedAt)
                    .order_by_asc(user::Column::Id)
                    .offset(offset)
                    .limit(params.count)
                    .all(db)
                    .await
                    .map_err(Error::from)?
            };
            // A short page that starts within the matches ends them: its end is the total
            // (the lookup an IdP makes before every create costs no COUNT).
            let len = page.len() as u64;
            let total = if len < params.count && (len > 0 || offset == 0) {
                offset + len
            } else {
                select.count(db).await.map_err(Error::from)?
            };
            let names = names(db, actor.account_id, &page).await?;
            let page: Vec<Json> = page.iter().map(|u| to_json(u, &names, &base)).collect();
            (total, page)
        }
        None => {
            let f = parsed
                .as_ref()
                .ok_or_else(|| ScimError::bad("invalidFilter", "no filter"))?;
            if let Some(c) = prefilter(f) {
                select = select.filter(c);
            }
            let rows = select
                .order_by_asc(user::Column::CreatedAt)
                .order_by_asc(user::Column::Id)
                .limit(MAX_SCAN + 1)
                .all(db)
                .await
                .map_err(Error::from)?;
            if rows.len() as u64 > MAX_SCAN {
                return Err(ScimError::bad(
                    "tooMany",
                    format!(
                        "this filter would examine more than {MAX_SCAN} users; narrow it with userName, externalId or emails"
                    ),
                ));
            }
            let names = names(db, actor.account_id, &rows).await?;
            let mut matched = Vec::new();
            for u in &rows {
                let resource = to_json(u, &names, &base);
                if filter::matches(f, &resource, &[CORE])
                    .map_err(|e| ScimError::bad("invalidFilter", e.0))?
                {
                    matched.push(resource);
                }
            }
            let total = matched.len() as u64;
            let page = matched
                .into_iter()
                .skip(offset as usize)
                .take(params.count as usize)
                .collect();
            (total, page)
        }
    };
    let page = page
        .into_iter()
        .map(|r| project(r, &params, CORE))
        .collect();
    Ok(list_response(total, params.start_index, page))
}

/// `GET /Users/{id}`.
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let (app, actor) = start(&state, &headers).await?;
    require_view(&actor)?;
    let params = list_params(&uri)?;
    let (_, body) = load_json(&app, &actor, UserId::parse(&id), &base_url(&headers)).await?;
    if not_modified(&headers, &body) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let version = body["meta"]["version"].clone();
    let mut response = resource_response(StatusCode::OK, &project(body, &params, CORE));
    if let Some(v) = version.as_str().and_then(|v| v.parse().ok()) {
        response.headers_mut().insert(axum::http::header::ETAG, v);
    }
    Ok(response)
}

/// What a request asks to change on a user.
#[derive(Debug, Default)]
struct Desired {
    email: Option<String>,
    name: Option<String>,
    /// `Some(None)`: remove it.
    external_id: Option<Option<String>>,
    active: Option<bool>,
    team: Option<String>,
    role: Option<String>,
}

fn at<'a>(v: &'a Json, path: &[&str]) -> Option<&'a Json> {
    path.iter()
        .try_fold(v, |v, key| get_ci(v, key))
        .filter(|v| !v.is_null())
}

fn str_at(v: &Json, path: &[&str]) -> Option<String> {
    at(v, path).and_then(Json::as_str).map(str::to_owned)
}

/// A boolean, also as Entra ID's `"True"`/`"False"` strings.
fn bool_of(v: &Json) -> Result<bool, ScimError> {
    match v {
        Json::Bool(b) => Ok(*b),
        Json::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Json::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(ScimError::bad(
            "invalidValue",
            "`active` must be true or false",
        )),
    }
}

/// The primary (else work, else first) email's value.
fn main_email(v: &Json) -> Option<String> {
    let emails = at(v, &["emails"])?.as_array()?;
    let pick = emails
        .iter()
        .find(|e| get_ci(e, "primary").and_then(|p| bool_of(p).ok()) == Some(true))
        .or_else(|| {
            emails.iter().find(|e| {
                get_ci(e, "type")
                    .and_then(Json::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case("work"))
            })
        })
        .or_else(|| emails.first())?;
    get_ci(pick, "value")
        .and_then(Json::as_str)
        .map(str::to_owned)
}

fn compose(given: Option<String>, family: Option<String>) -> Option<String> {
    let joined = [given, family]
        .into_iter()
        .flatten()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!joined.is_empty()).then_some(joined)
}

/// What changes from `old` to `new`. Attributes absent from `new` stay as they are, except
/// with `removals` (a PATCH result, where absence means removed) for what may be removed.
fn diff(old: &Json, new: &Json, removals: bool) -> Result<Desired, ScimError> {
    let mut d = Desired::default();
    let changed = |path: &[&str]| at(new, path).is_some() && at(new, path) != at(old, path);
    if let Some(user_name) = str_at(new, &["userName"])
        && !str_at(old, &["userName"]).is_some_and(|o| o.eq_ignore_ascii_case(&user_name))
    {
        d.email = Some(user_name);
    } else if let Some(email) = main_email(new)
        && !main_email(old).is_some_and(|o| o.eq_ignore_ascii_case(&email))
    {
        d.email = Some(email);
    }
    if changed(&["name", "givenName"]) || changed(&["name", "familyName"]) {
        let pick = |key: &str| str_at(new, &["name", key]).or_else(|| str_at(old, &["name", key]));
        d.name = compose(pick("givenName"), pick("familyName"));
    } else if changed(&["name", "formatted"]) {
        d.name = str_at(new, &["name", "formatted"]);
    } else if changed(&["displayName"]) {
        d.name = str_at(new, &["displayName"]);
    }
    if let Some(a) = at(new, &["active"]) {
        let wanted = bool_of(a)?;
        if Some(wanted) != at(old, &["active"]).and_then(|o| bool_of(o).ok()) {
            d.active = Some(wanted);
        }
    }
    if changed(&["externalId"]) {
        d.external_id = str_at(new, &["externalId"]).map(Some);
    } else if removals && at(new, &["externalId"]).is_none() && at(old, &["externalId"]).is_some() {
        d.external_id = Some(None);
    }
    // `team` and `role` by name; `teamId` and `roleId` are read-only (ignored on writes).
    let ext = |v: &Json, key: &str| at(v, &[ROSTER_USER_SCHEMA, key]).cloned();
    let ext_changed = |key: &str| ext(new, key).is_some() && ext(new, key) != ext(old, key);
    if ext_changed("team") {
        d.team = ext(new, "team").and_then(|v| v.as_str().map(str::to_owned));
    }
    if ext_changed("role") {
        d.role = ext(new, "role").and_then(|v| v.as_str().map(str::to_owned));
    }
    Ok(d)
}

/// Applies the changes from `old` to `new` in one service call (one transaction): if any
/// part is refused, nothing changes and the error names the attribute.
async fn apply(
    app: &App,
    actor: &Principal,
    user: &user::Model,
    old: &Json,
    new: &Json,
    removals: bool,
) -> Result<(), ScimError> {
    let d = diff(old, new, removals)?;
    provisioning::update_user(
        &app.db,
        actor,
        user.id,
        UserChanges {
            profile: ProfileChanges {
                email: d.email.as_deref(),
                name: d.name.as_deref(),
                external_id: d.external_id.as_ref().map(|x| x.as_deref()),
            },
            team: d.team.as_deref().map(Ref::Name),
            role: d.role.as_deref().map(Ref::Name),
            active: d.active,
        },
    )
    .await?;
    Ok(())
}

/// `POST /Users`.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let (app, actor) = start(&state, &headers).await?;
    let new = read_body(&headers, &body)?;
    let email = str_at(&new, &["userName"])
        .or_else(|| main_email(&new))
        .ok_or_else(|| ScimError::bad("invalidValue", "userName (the email) is required"))?;
    let name = compose(
        str_at(&new, &["name", "givenName"]),
        str_at(&new, &["name", "familyName"]),
    )
    .or_else(|| str_at(&new, &["name", "formatted"]))
    .or_else(|| str_at(&new, &["displayName"]))
    .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
    let ext = |key: &str| str_at(&new, &[ROSTER_USER_SCHEMA, key]);
    let (team_name, role_name) = (ext("team"), ext("role"));
    let external = str_at(&new, &["externalId"]);
    let active = at(&new, &["active"]).map(bool_of).transpose()?;
    let created = provisioning::create_user(
        &app.db,
        &actor,
        NewUser {
            email: &email,
            name: &name,
            external_id: external.as_deref(),
            team: team_name.as_deref().map(Ref::Name),
            role: role_name.as_deref().map(Ref::Name),
            active: active.unwrap_or(true),
        },
    )
    .await?;
    let names = Names {
        teams: HashMap::from([(created.team.id, created.team.name.clone())]),
        roles: HashMap::from([(created.role.id, created.role)]),
    };
    let body = to_json(&created.user, &names, &base_url(&headers));
    Ok(resource_response(StatusCode::CREATED, &body))
}

/// `PUT /Users/{id}`: the attributes given replace Roster's; those left out stay as they are
/// (Okta sends profile updates without `active`).
pub async fn replace(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let (app, actor) = start(&state, &headers).await?;
    let new = read_body(&headers, &body)?;
    let base = base_url(&headers);
    let id = UserId::parse(&id);
    let (user, old) = load_json(&app, &actor, id, &base).await?;
    check_if_match(&headers, &old)?;
    apply(&app, &actor, &user, &old, &new, false).await?;
    let (_, body) = load_json(&app, &actor, id, &base).await?;
    Ok(resource_response(StatusCode::OK, &body))
}

/// `PATCH /Users/{id}`.
pub async fn patch(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let (app, actor) = start(&state, &headers).await?;
    let request = read_body(&headers, &body)?;
    check_patch_schema(&request)?;
    let ops = patch::parse(&request)?;
    let base = base_url(&headers);
    let id = UserId::parse(&id);
    let (user, old) = load_json(&app, &actor, id, &base).await?;
    check_if_match(&headers, &old)?;
    let mut new = old.clone();
    patch::apply(
        &mut new,
        &ops,
        CORE,
        &[ROSTER_USER_SCHEMA, super::ENTERPRISE_USER_SCHEMA],
    )?;
    apply(&app, &actor, &user, &old, &new, true).await?;
    let (_, body) = load_json(&app, &actor, id, &base).await?;
    Ok(resource_response(StatusCode::OK, &body))
}

/// `DELETE /Users/{id}`: deletes the user as `deleteUsers` does (soft: history keeps them),
/// or suspends them when the account's `scimDeprovision` setting says `SUSPEND`.
pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let (app, actor) = start(&state, &headers).await?;
    let (user, old) = load_json(&app, &actor, UserId::parse(&id), &base_url(&headers)).await?;
    check_if_match(&headers, &old)?;
    let ids = [Requested::known(user.id)];
    let account = accounts::get(app.db.conn(), &actor).await?;
    let max = app.limits.max_bulk;
    let outcome = match accounts::Deprovision::of(&account) {
        accounts::Deprovision::Delete => users::delete(&app.db, &actor, &ids, false, max).await?,
        accounts::Deprovision::Suspend => {
            users::suspend_users(&app.db, &actor, &ids, false, max).await?
        }
    };
    if !outcome.errors.is_empty() {
        return Err(item_error(&outcome.errors));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
