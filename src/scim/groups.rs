//! `/Groups`: Roster's teams as SCIM Group resources (`displayName` = the team's name,
//! `members` = its users).
//!
//! Every user belongs to exactly one team, so membership is a move: adding a member moves
//! the user into the team (`changeUsersTeam`); removing a member moves them to the directory's
//! default team (`provisioning::default_team`: the token's anchor team, else the account's
//! oldest team). Members of the default team
//! cannot be removed from it (there is nowhere else to put them): the answer is 409
//! `mutability`; add them to another group instead. Removing a user who is not a member
//! changes nothing. A team with members cannot be deleted (409), as in GraphQL.

use std::collections::{BTreeSet, HashMap};

use super::filter::{self, Filter, Op, get_ci};
use super::{
    GROUP_SCHEMA, ScimError, base_url, check_if_match, check_patch_schema, item_error, list_params,
    list_response, not_modified, patch, project, read_body, resource_response, start, time,
    version_of,
};
use crate::app::{App, AppState};
use crate::auth::{Permission, Principal};
use crate::entity::{team, user};
use crate::service::bulk::Requested;
use crate::service::ids::{Sent, TeamId, UserId};
use crate::service::provisioning::GroupChanges;
use crate::service::teams;
use crate::service::{Error, access, provisioning, text, users};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Value as Json, json};

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:group";
/// Most teams a list evaluates a filter over.
const MAX_SCAN: u64 = 10_000;

fn require_view(actor: &Principal) -> Result<(), ScimError> {
    if actor.can(Permission::UsersView) || actor.can(Permission::TeamsManage) {
        Ok(())
    } else {
        Err(Error::forbidden("this token's role may not read teams").into())
    }
}

/// Members (id, name) of each of `teams` that the actor sees.
async fn members<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    teams: &[TeamId],
) -> Result<HashMap<TeamId, Vec<(UserId, String)>>, ScimError> {
    let mut out: HashMap<TeamId, Vec<(UserId, String)>> = HashMap::new();
    if !actor.can(Permission::UsersView) {
        return Ok(out);
    }
    for chunk in teams.chunks(1000) {
        let rows: Vec<(UserId, String, TeamId)> = access::users(actor)
            .select_only()
            .column(user::Column::Id)
            .column(user::Column::Name)
            .column(user::Column::TeamId)
            .filter(user::Column::TeamId.is_in(chunk.to_vec()))
            .order_by_asc(user::Column::Id)
            .into_tuple()
            .all(db)
            .await
            .map_err(Error::from)?;
        for (id, name, team) in rows {
            out.entry(team).or_default().push((id, name));
        }
    }
    Ok(out)
}

fn to_json(t: &team::Model, members: Option<&[(UserId, String)]>, base: &str) -> Json {
    let id = t.id.to_string();
    let members: Vec<Json> = members
        .unwrap_or_default()
        .iter()
        .map(|(uid, _name)| {
            let uid = uid.to_string();
            json!({ "value": uid, "type": "User", "$ref": format!("{base}/Users/{uid}") })
        })
        .collect();
    let mut body = json!({
        "schemas": [GROUP_SCHEMA],
        "id": id,
        "displayName": t.name,
        "members": members,
    });
    if let Some(x) = &t.external_id {
        body["externalId"] = json!(x);
    }
    let version = version_of(&body);
    body["meta"] = json!({
        "resourceType": "Group",
        "created": time(t.created_at),
        "lastModified": time(t.updated_at),
        "location": format!("{base}/Groups/{id}"),
        "version": version,
    });
    body
}

async fn find<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    id: Sent<TeamId>,
) -> Result<team::Model, ScimError> {
    let id = id.ok_or(Error::NotFound("group"))?;
    Ok(access::teams(actor)
        .filter(team::Column::Id.eq(id))
        .one(db)
        .await
        .map_err(Error::from)?
        .ok_or(Error::NotFound("group"))?)
}

async fn load_json(
    app: &App,
    actor: &Principal,
    id: Sent<TeamId>,
    base: &str,
) -> Result<(team::Model, Json), ScimError> {
    let db = app.db.conn();
    let t = find(db, actor, id).await?;
    let m = members(db, actor, &[t.id]).await?;
    let body = to_json(&t, m.get(&t.id).map(Vec::as_slice).or(Some(&[])), base);
    Ok((t, body))
}

/// The condition of a `displayName`/`id` equality, the filters IdPs look groups up by.
fn exact_team(f: &Filter) -> Option<sea_orm::sea_query::SimpleExpr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    match f {
        Filter::Compare(p, Op::Eq, Json::String(v))
            if p.urn.as_deref().is_none_or(|u| u == CORE) =>
        {
            match p.dotted().as_str() {
                "displayname" => {
                    Some(Expr::col((team::Entity, team::Column::NameKey)).eq(text::fold(v.trim())))
                }
                "id" => Some(match TeamId::parse(v) {
                    Some(id) => Expr::col((team::Entity, team::Column::Id)).eq(id.0),
                    None => Expr::cust("1 = 0"),
                }),
                _ => None,
            }
        }
        Filter::And(a, b) => match (exact_team(a), exact_team(b)) {
            (Some(x), Some(y)) => Some(x.and(y)),
            (x, y) => x.or(y),
        },
        _ => None,
    }
}

/// `GET /Groups`.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ScimError> {
    let params = list_params(&uri)?;
    list_with(&state, &headers, params).await
}

/// `POST /Groups/.search`: the same list, its parameters in a SearchRequest body.
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
    let mut select = access::teams(&actor);
    if let Some(c) = parsed.as_ref().and_then(exact_team) {
        select = select.filter(c);
    }
    let rows = select
        .order_by_asc(team::Column::CreatedAt)
        .order_by_asc(team::Column::Id)
        .limit(MAX_SCAN + 1)
        .all(db)
        .await
        .map_err(Error::from)?;
    if rows.len() as u64 > MAX_SCAN {
        return Err(ScimError::bad(
            "tooMany",
            format!("more than {MAX_SCAN} groups match; filter by displayName"),
        ));
    }
    let wants_members = {
        let excluded = params
            .excluded
            .iter()
            .any(|a| a.eq_ignore_ascii_case("members"));
        let listed = params.attributes.is_empty()
            || params
                .attributes
                .iter()
                .any(|a| a.to_ascii_lowercase().starts_with("members"));
        let filtered = params
            .filter
            .as_deref()
            .is_some_and(|f| f.to_ascii_lowercase().contains("members"));
        (listed && !excluded) || filtered
    };
    let ids: Vec<TeamId> = rows.iter().map(|t| t.id).collect();
    let members = if wants_members {
        members(db, &actor, &ids).await?
    } else {
        HashMap::new()
    };
    let mut matched = Vec::new();
    for t in &rows {
        let m = if wants_members {
            Some(members.get(&t.id).map(Vec::as_slice).unwrap_or_default())
        } else {
            None
        };
        let resource = to_json(t, m, &base);
        let keep = match &parsed {
            Some(f) => filter::matches(f, &resource, &[CORE])
                .map_err(|e| ScimError::bad("invalidFilter", e.0))?,
            None => true,
        };
        if keep {
            matched.push(resource);
        }
    }
    let total = matched.len() as u64;
    let page = matched
        .into_iter()
        .skip((params.start_index - 1) as usize)
        .take(params.count as usize)
        .map(|r| project(r, &params, CORE))
        .collect();
    Ok(list_response(total, params.start_index, page))
}

/// `GET /Groups/{id}`.
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let (app, actor) = start(&state, &headers).await?;
    require_view(&actor)?;
    let params = list_params(&uri)?;
    let (_, body) = load_json(&app, &actor, TeamId::parse(&id), &base_url(&headers)).await?;
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

fn member_ids(v: &Json) -> BTreeSet<String> {
    get_ci(v, "members")
        .and_then(Json::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|m| get_ci(m, "value").and_then(Json::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn team_error(e: Error) -> ScimError {
    match e {
        Error::BadInput { message, .. } if message.contains("already exists") => {
            ScimError::new(StatusCode::CONFLICT, Some("uniqueness"), message)
        }
        other => other.into(),
    }
}

/// Moves users into `team_id` (added members of a new group).
async fn move_into(
    app: &App,
    actor: &Principal,
    ids: &[Requested<UserId>],
    team_id: TeamId,
) -> Result<(), ScimError> {
    if ids.is_empty() {
        return Ok(());
    }
    let outcome = users::change_team(
        &app.db,
        actor,
        ids,
        Some(team_id),
        false,
        app.limits.max_bulk,
    )
    .await?;
    if !outcome.errors.is_empty() {
        return Err(item_error(&outcome.errors));
    }
    Ok(())
}

/// Applies the change from `old` to `new` (display name, external id, members) in one
/// service call (one transaction): if any part is refused, nothing changes.
async fn apply(
    app: &App,
    actor: &Principal,
    t: &team::Model,
    old: &Json,
    new: &Json,
    members_given: bool,
    removals: bool,
) -> Result<(), ScimError> {
    let name = get_ci(new, "displayName")
        .and_then(Json::as_str)
        .filter(|name| *name != t.name);
    // In a PUT an absent externalId stays; in a PATCH result absence means removed.
    let external = get_ci(new, "externalId").and_then(Json::as_str);
    let external_id = match external {
        Some(x) => Some(Some(x)),
        None if removals && t.external_id.is_some() => Some(None),
        None => None,
    }
    .filter(|x| *x != t.external_id.as_deref());
    let (add, remove) = if members_given {
        let (before, after) = (member_ids(old), member_ids(new));
        let max = app.limits.max_bulk;
        let add: Vec<Requested<UserId>> = Requested::parse_all(after.difference(&before).cloned());
        let remove: Vec<Requested<UserId>> =
            Requested::parse_all(before.difference(&after).cloned());
        if add.len() > max || remove.len() > max {
            return Err(ScimError::bad(
                "tooMany",
                format!("at most {max} members may be added or removed per request"),
            ));
        }
        (add, remove)
    } else {
        (Vec::new(), Vec::new())
    };
    provisioning::update_group(
        &app.db,
        actor,
        t.id,
        GroupChanges {
            name,
            external_id,
            add,
            remove,
        },
    )
    .await?;
    Ok(())
}

/// `POST /Groups`: creates a team (and moves the listed members into it).
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let (app, actor) = start(&state, &headers).await?;
    let new = read_body(&headers, &body)?;
    let name = get_ci(&new, "displayName")
        .and_then(Json::as_str)
        .ok_or_else(|| ScimError::bad("invalidValue", "displayName is required"))?;
    let created = teams::create_team(&app.db, &actor, name, None)
        .await
        .map_err(team_error)?;
    if let Some(x) = get_ci(&new, "externalId").and_then(Json::as_str) {
        provisioning::set_team_external_id(&app.db, &actor, created.id, Some(x)).await?;
    }
    let added: Vec<Requested<UserId>> = Requested::parse_all(member_ids(&new));
    move_into(&app, &actor, &added, created.id).await?;
    let base = base_url(&headers);
    let (_, body) = load_json(&app, &actor, Some(created.id), &base).await?;
    Ok(resource_response(StatusCode::CREATED, &body))
}

/// `PUT /Groups/{id}`: `displayName` and, when given, the full member list.
pub async fn replace(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let (app, actor) = start(&state, &headers).await?;
    let new = read_body(&headers, &body)?;
    let base = base_url(&headers);
    let id = TeamId::parse(&id);
    let (t, old) = load_json(&app, &actor, id, &base).await?;
    check_if_match(&headers, &old)?;
    let members_given = get_ci(&new, "members").is_some();
    apply(&app, &actor, &t, &old, &new, members_given, false).await?;
    let (_, body) = load_json(&app, &actor, id, &base).await?;
    Ok(resource_response(StatusCode::OK, &body))
}

/// `PATCH /Groups/{id}`.
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
    let id = TeamId::parse(&id);
    let (t, old) = load_json(&app, &actor, id, &base).await?;
    check_if_match(&headers, &old)?;
    let mut new = old.clone();
    patch::apply(&mut new, &ops, CORE, &[])?;
    apply(&app, &actor, &t, &old, &new, true, true).await?;
    let (_, body) = load_json(&app, &actor, id, &base).await?;
    Ok(resource_response(StatusCode::OK, &body))
}

/// `DELETE /Groups/{id}`: deletes the team (refused while it has members).
pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let (app, actor) = start(&state, &headers).await?;
    let (t, old) = load_json(&app, &actor, TeamId::parse(&id), &base_url(&headers)).await?;
    check_if_match(&headers, &old)?;
    teams::delete_team(&app.db, &actor, Some(t.id))
        .await
        .map_err(|e| match e {
            Error::BadInput { message, .. } => {
                ScimError::new(StatusCode::CONFLICT, Some("mutability"), message)
            }
            other => other.into(),
        })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
