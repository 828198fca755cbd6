//! Discovery (RFC 7644 §4): `ServiceProviderConfig`, `ResourceTypes` and `Schemas` — what
//! Roster supports and the attributes it stores. Attributes derived from Roster's single
//! name field (`name.formatted`, `displayName`) and from the email (`emails`) are listed as
//! read-only: they are accepted on writes as fallbacks, but `userName` and
//! `name.givenName`/`name.familyName` are what Roster keeps.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value as Json, json};

use super::{
    GROUP_SCHEMA, MAX_RESULTS, ROSTER_USER_SCHEMA, ScimError, USER_SCHEMA, base_url, list_response,
    resource_response, start,
};
use crate::app::AppState;

fn attr(name: &str, kind: &str, mutability: &str, description: &str) -> Json {
    json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "description": description,
        "required": false,
        "caseExact": false,
        "mutability": mutability,
        "returned": "default",
        "uniqueness": "none",
    })
}

fn required(mut a: Json) -> Json {
    a["required"] = json!(true);
    a
}

fn external_id_attr(what: &str) -> Json {
    let mut external_id = attr(
        "externalId",
        "string",
        "readWrite",
        &format!("The identity provider's id of the {what}."),
    );
    external_id["caseExact"] = json!(true);
    external_id
}

fn user_schema() -> Json {
    let mut user_name = attr(
        "userName",
        "string",
        "readWrite",
        "The user's email address, unique within the account.",
    );
    user_name["required"] = json!(true);
    user_name["uniqueness"] = json!("server");
    let mut id = attr("id", "string", "readOnly", "Roster's id of the user.");
    id["caseExact"] = json!(true);
    id["returned"] = json!("always");
    id["uniqueness"] = json!("server");
    let mut name = attr(
        "name",
        "complex",
        "readWrite",
        "The user's name (Roster keeps one name: givenName and familyName joined by a space; `formatted` is accepted on writes when they are absent).",
    );
    name["required"] = json!(true);
    name["subAttributes"] = json!([
        attr(
            "givenName",
            "string",
            "readWrite",
            "The first word of the name."
        ),
        attr("familyName", "string", "readWrite", "The rest of the name."),
    ]);
    let mut active = attr(
        "active",
        "boolean",
        "readWrite",
        "false = suspended: the user cannot sign in but keeps team, role and history.",
    );
    active["required"] = json!(true);
    let mut emails = attr(
        "emails",
        "complex",
        "readOnly",
        "The user's email, the same as userName.",
    );
    emails["multiValued"] = json!(true);
    emails["subAttributes"] = json!([
        attr("value", "string", "readOnly", "The address."),
        attr("type", "string", "readOnly", "Always `work`."),
        attr("primary", "boolean", "readOnly", "Always true."),
    ]);
    let mut groups = attr(
        "groups",
        "complex",
        "readOnly",
        "The team of the user, as a group.",
    );
    groups["multiValued"] = json!(true);
    let mut group_ref = attr("$ref", "reference", "readOnly", "The team's URI.");
    group_ref["referenceTypes"] = json!(["Group"]);
    groups["subAttributes"] = json!([
        attr("value", "string", "readOnly", "The team's id."),
        group_ref,
        attr("display", "string", "readOnly", "The team's name."),
    ]);
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "A user of the account",
        "attributes": [
            user_name,
            external_id_attr("user"),
            name,
            attr("displayName", "string", "readOnly", "The user's name as shown (Roster's name field)."),
            emails,
            active,
            groups,
        ],
        "meta": { "resourceType": "Schema", "location": format!("/Schemas/{USER_SCHEMA}") },
    })
}

fn roster_schema() -> Json {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": ROSTER_USER_SCHEMA,
        "name": "RosterUser",
        "description": "Roster's team and role of a user",
        "attributes": [
            required(attr("team", "string", "readWrite", "The name of the user's team.")),
            required(attr("role", "string", "readWrite", "The name of the user's role (or the key of a built-in role, e.g. ADMIN).")),
        ],
        "meta": { "resourceType": "Schema", "location": format!("/Schemas/{ROSTER_USER_SCHEMA}") },
    })
}

fn group_schema() -> Json {
    let mut display = attr("displayName", "string", "readWrite", "The team's name.");
    display["required"] = json!(true);
    display["uniqueness"] = json!("server");
    let mut members = attr(
        "members",
        "complex",
        "readWrite",
        "The users of the team. Adding a user moves them into the team; removing one moves them to the account's first team.",
    );
    members["multiValued"] = json!(true);
    let mut value = attr("value", "string", "immutable", "The user's id.");
    value["caseExact"] = json!(true);
    let mut reference = attr("$ref", "reference", "immutable", "The user's URI.");
    reference["referenceTypes"] = json!(["User"]);
    let mut kind = attr("type", "string", "immutable", "Always `User`.");
    kind["canonicalValues"] = json!(["User"]);
    members["subAttributes"] = json!([value, reference, kind]);
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": GROUP_SCHEMA,
        "name": "Group",
        "description": "A team of the account",
        "attributes": [display, members, external_id_attr("team")],
        "meta": { "resourceType": "Schema", "location": format!("/Schemas/{GROUP_SCHEMA}") },
    })
}

fn all_schemas() -> Vec<Json> {
    vec![user_schema(), roster_schema(), group_schema()]
}

fn resource_types_list(base: &str) -> Vec<Json> {
    vec![
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "Users of the account",
            "schema": USER_SCHEMA,
            "schemaExtensions": [
                { "schema": ROSTER_USER_SCHEMA, "required": true },
            ],
            "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User") },
        }),
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "Teams of the account",
            "schema": GROUP_SCHEMA,
            "schemaExtensions": [],
            "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group") },
        }),
    ]
}

/// `GET /ServiceProviderConfig`.
pub async fn config(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    start(&state, &headers).await?;
    let base = base_url(&headers);
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/roster/roster#provisioning-with-scim",
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": MAX_RESULTS },
        "changePassword": { "supported": false },
        "sort": { "supported": false },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "A SCIM token created with the createScimToken mutation, sent as `Authorization: Bearer <token>`.",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        },
    });
    Ok(resource_response(StatusCode::OK, &body))
}

/// `GET /ResourceTypes`.
pub async fn resource_types(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    start(&state, &headers).await?;
    let list = resource_types_list(&base_url(&headers));
    Ok(list_response(list.len() as u64, 1, list))
}

/// `GET /ResourceTypes/{id}`.
pub async fn resource_type(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    start(&state, &headers).await?;
    resource_types_list(&base_url(&headers))
        .into_iter()
        .find(|r| r["id"].as_str() == Some(id.as_str()))
        .map(|r| resource_response(StatusCode::OK, &r))
        .ok_or_else(|| ScimError::new(StatusCode::NOT_FOUND, None, "no such resource type"))
}

/// `GET /Schemas`.
pub async fn schemas(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    start(&state, &headers).await?;
    let list = with_locations(all_schemas(), &base_url(&headers));
    Ok(list_response(list.len() as u64, 1, list))
}

/// `GET /Schemas/{id}`.
pub async fn schema(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    start(&state, &headers).await?;
    with_locations(all_schemas(), &base_url(&headers))
        .into_iter()
        .find(|s| {
            s["id"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(&id))
        })
        .map(|s| resource_response(StatusCode::OK, &s))
        .ok_or_else(|| ScimError::new(StatusCode::NOT_FOUND, None, "no such schema"))
}

fn with_locations(list: Vec<Json>, base: &str) -> Vec<Json> {
    list.into_iter()
        .map(|mut s| {
            let id = s["id"].as_str().unwrap_or_default().to_owned();
            s["meta"]["location"] = json!(format!("{base}/Schemas/{id}"));
            s
        })
        .collect()
}
