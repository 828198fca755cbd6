//! SCIM PATCH (RFC 7644 §3.5.2) applied to the JSON form of a resource. The caller turns
//! the result into changes by comparing it with the form before (`users::Desired`), so a
//! patch and a PUT share one path to the service functions, and an attribute Roster does
//! not store is simply carried along and ignored.
//!
//! Accepted dialects: operation names in any case (`"Replace"`, Entra ID without
//! `aadOptscim062020`), path-less `add`/`replace` whose value has plain, dotted
//! (`"name.givenName"`) or URN-qualified keys, `remove` of members by value list.

use serde_json::{Map, Value as Json};

use super::filter::{self, AttrPath, Filter, PatchPath};

/// Most operations in one PATCH request.
pub const MAX_OPERATIONS: usize = 200;

/// One PATCH operation.
#[derive(Debug, Clone)]
pub struct Operation {
    pub kind: Kind,
    pub path: Option<PatchPath>,
    pub value: Option<Json>,
}

/// The operation's verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Add,
    Replace,
    Remove,
}

/// Why a PATCH cannot be applied: the SCIM `scimType` and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub &'static str, pub String);

/// Reads the `Operations` of a PatchOp body.
pub fn parse(body: &Json) -> Result<Vec<Operation>, Refused> {
    let syntax = |m: &str| Refused("invalidSyntax", m.to_owned());
    let ops = filter::get_ci(body, "Operations")
        .and_then(Json::as_array)
        .ok_or_else(|| syntax("a PatchOp needs an `Operations` list"))?;
    if ops.len() > MAX_OPERATIONS {
        return Err(Refused(
            "tooMany",
            format!("at most {MAX_OPERATIONS} operations per request"),
        ));
    }
    ops.iter()
        .map(|op| {
            let kind = match filter::get_ci(op, "op")
                .and_then(Json::as_str)
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("add") => Kind::Add,
                Some("replace") => Kind::Replace,
                Some("remove") => Kind::Remove,
                _ => return Err(syntax("`op` must be add, replace or remove")),
            };
            let path = match filter::get_ci(op, "path") {
                None | Some(Json::Null) => None,
                Some(Json::String(p)) if p.trim().is_empty() => None,
                Some(Json::String(p)) => {
                    Some(filter::parse_path(p).map_err(|e| Refused("invalidPath", e.0))?)
                }
                Some(_) => return Err(Refused("invalidPath", "`path` must be a string".into())),
            };
            let value = filter::get_ci(op, "value").cloned();
            if kind == Kind::Remove && path.is_none() {
                return Err(Refused("noTarget", "`remove` needs a `path`".into()));
            }
            if kind != Kind::Remove && value.is_none() {
                return Err(syntax("`add` and `replace` need a `value`"));
            }
            Ok(Operation { kind, path, value })
        })
        .collect()
}

/// Applies `ops` to `resource`. `core` holds the (lower-case) URN of the resource's own
/// schema, `extensions` the URNs of the extension objects it may carry.
pub fn apply(
    resource: &mut Json,
    ops: &[Operation],
    core: &str,
    extensions: &[&str],
) -> Result<(), Refused> {
    for op in ops {
        match &op.path {
            Some(path) => apply_path(resource, op.kind, path, op.value.as_ref(), core)?,
            None => {
                let Some(Json::Object(values)) = &op.value else {
                    return Err(Refused(
                        "invalidValue",
                        "an operation without a path needs an object value".into(),
                    ));
                };
                for (key, value) in values {
                    let lower = key.to_ascii_lowercase();
                    if lower == core {
                        if let Json::Object(inner) = value {
                            for (k, v) in inner {
                                apply_key(resource, op.kind, k, v, core)?;
                            }
                        }
                    } else if let Some(ext) =
                        extensions.iter().find(|e| e.eq_ignore_ascii_case(key))
                    {
                        let target = entry(resource, ext);
                        merge(target, value);
                    } else {
                        apply_key(resource, op.kind, key, value, core)?;
                    }
                }
            }
        }
    }
    Ok(())
}

fn apply_key(
    resource: &mut Json,
    kind: Kind,
    key: &str,
    value: &Json,
    core: &str,
) -> Result<(), Refused> {
    // A key that is no attribute path (an IdP's own field) is ignored, like any attribute
    // Roster does not store.
    let Ok(attr) = AttrPath::parse(key) else {
        return Ok(());
    };
    let path = PatchPath { attr, filter: None };
    apply_path(resource, kind, &path, Some(value), core)
}

/// The member `key` of `object` (matched without case), created as `null` when missing.
fn entry<'a>(object: &'a mut Json, key: &str) -> &'a mut Json {
    if !object.is_object() {
        *object = Json::Object(Map::new());
    }
    let Json::Object(map) = object else {
        unreachable!("made an object above")
    };
    let existing = map
        .keys()
        .find(|k| k.eq_ignore_ascii_case(key))
        .cloned()
        .unwrap_or_else(|| key.to_owned());
    map.entry(existing).or_insert(Json::Null)
}

fn remove_key(object: &mut Json, key: &str) {
    if let Json::Object(map) = object
        && let Some(k) = map.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()
    {
        map.remove(&k);
    }
}

/// Merges `value` into `target`: objects member by member, anything else replaces.
fn merge(target: &mut Json, value: &Json) {
    match (target.is_object(), value) {
        (true, Json::Object(values)) => {
            for (k, v) in values {
                merge(entry(target, k), v);
            }
        }
        _ => *target = value.clone(),
    }
}

fn apply_path(
    resource: &mut Json,
    kind: Kind,
    path: &PatchPath,
    value: Option<&Json>,
    core: &str,
) -> Result<(), Refused> {
    let attr = &path.attr;
    let container = match &attr.urn {
        Some(urn) if urn != core => entry(resource, urn),
        _ => resource,
    };
    let Some(filter) = &path.filter else {
        return apply_plain(container, kind, attr, value);
    };
    let target = entry(container, &attr.name);
    if target.is_null() {
        *target = Json::Array(Vec::new());
    }
    let Json::Array(items) = target else {
        return Err(Refused(
            "invalidPath",
            format!("{} is not multi-valued", attr.name),
        ));
    };
    let mut matched = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if filter::matches(filter, item, &[]).map_err(|e| Refused("invalidFilter", e.0))? {
            matched.push(i);
        }
    }
    match kind {
        Kind::Remove => {
            if let Some(sub) = &attr.sub {
                for &i in &matched {
                    remove_key(&mut items[i], sub);
                }
            } else {
                for &i in matched.iter().rev() {
                    items.remove(i);
                }
            }
        }
        Kind::Add | Kind::Replace => {
            let value = value.cloned().unwrap_or(Json::Null);
            if matched.is_empty() {
                // No value matches: add one carrying the filter's `eq` terms (Entra ID adds
                // `emails[type eq "work"].value` this way).
                let mut item = Json::Object(Map::new());
                seed_from_filter(&mut item, filter);
                match &attr.sub {
                    Some(sub) => *entry(&mut item, sub) = value.clone(),
                    None => merge(&mut item, &value),
                }
                items.push(item);
            }
            for &i in &matched {
                match &attr.sub {
                    Some(sub) => *entry(&mut items[i], sub) = value.clone(),
                    None => merge(&mut items[i], &value),
                }
            }
        }
    }
    Ok(())
}

fn seed_from_filter(item: &mut Json, filter: &Filter) {
    match filter {
        Filter::Compare(a, filter::Op::Eq, v) if a.sub.is_none() && a.urn.is_none() => {
            *entry(item, &a.name) = v.clone();
        }
        Filter::And(a, b) => {
            seed_from_filter(item, a);
            seed_from_filter(item, b);
        }
        _ => {}
    }
}

/// The `value` of each element of a value list (`[{"value": "id"}]`), or of a single value.
fn listed_values(value: &Json) -> Vec<Json> {
    let one = |v: &Json| {
        filter::get_ci(v, "value")
            .cloned()
            .unwrap_or_else(|| v.clone())
    };
    match value {
        Json::Array(items) => items.iter().map(one).collect(),
        other => vec![one(other)],
    }
}

fn apply_plain(
    container: &mut Json,
    kind: Kind,
    attr: &AttrPath,
    value: Option<&Json>,
) -> Result<(), Refused> {
    let target = entry(container, &attr.name);
    match (&attr.sub, kind) {
        (None, Kind::Remove) => match (target, value) {
            // `{"op":"remove","path":"members","value":[{"value":"id"}]}`: those values.
            (Json::Array(items), Some(v)) => {
                let gone = listed_values(v);
                items.retain(|item| {
                    let own = filter::get_ci(item, "value").unwrap_or(item);
                    !gone.contains(own)
                });
            }
            _ => remove_key(container, &attr.name),
        },
        (None, Kind::Add) => {
            let value = value.cloned().unwrap_or(Json::Null);
            match (target, value) {
                (Json::Array(items), Json::Array(more)) => {
                    for v in more {
                        if !items.contains(&v) {
                            items.push(v);
                        }
                    }
                }
                (Json::Array(items), v) => {
                    if !items.contains(&v) {
                        items.push(v);
                    }
                }
                (t, v) => merge(t, &v),
            }
        }
        (None, Kind::Replace) => merge(target, value.unwrap_or(&Json::Null)),
        (Some(sub), _) => {
            if target.is_null() && kind == Kind::Remove {
                return Ok(());
            }
            if target.is_null() {
                *target = Json::Object(Map::new());
            }
            let value = value.cloned().unwrap_or(Json::Null);
            match target {
                Json::Array(items) => {
                    if items.is_empty() && kind != Kind::Remove {
                        items.push(Json::Object(Map::new()));
                    }
                    for item in items.iter_mut() {
                        if kind == Kind::Remove {
                            remove_key(item, sub);
                        } else {
                            *entry(item, sub) = value.clone();
                        }
                    }
                }
                other => {
                    if kind == Kind::Remove {
                        remove_key(other, sub);
                    } else {
                        *entry(other, sub) = value;
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:user";
    const EXT: &str = "urn:ietf:params:scim:schemas:extension:roster:2.0:User";

    fn run(resource: Json, body: Json) -> Json {
        let mut r = resource;
        let ops = parse(&body).expect("ops");
        apply(&mut r, &ops, CORE, &[EXT]).expect("applies");
        r
    }

    #[test]
    fn entra_and_okta_dialects() {
        let user = json!({"userName": "a@x.test", "active": true,
            "name": {"givenName": "A", "familyName": "B"},
            "emails": [{"value": "a@x.test", "type": "work", "primary": true}]});
        let r = run(
            user.clone(),
            json!({"Operations": [{"op": "Replace", "path": "active", "value": "False"}]}),
        );
        assert_eq!(r["active"], json!("False"));
        let r = run(
            user.clone(),
            json!({"Operations": [{"op": "replace", "value": {"active": false, "name.givenName": "Z", "urn:ietf:params:scim:schemas:extension:roster:2.0:User:team": "Sales"}}]}),
        );
        assert_eq!(r["active"], json!(false));
        assert_eq!(r["name"]["givenName"], json!("Z"));
        assert_eq!(r["name"]["familyName"], json!("B"));
        assert_eq!(
            filter::get_ci(&r, EXT).map(|e| &e["team"]),
            Some(&json!("Sales"))
        );
        let r = run(
            user.clone(),
            json!({"Operations": [{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "n@x.test"}]}),
        );
        assert_eq!(r["emails"][0]["value"], json!("n@x.test"));
        let group = json!({"displayName": "G", "members": [{"value": "u1"}, {"value": "u2"}]});
        let r = run(
            group.clone(),
            json!({"Operations": [{"op": "Remove", "path": "members", "value": [{"value": "u1"}]}]}),
        );
        assert_eq!(r["members"], json!([{"value": "u2"}]));
        let r = run(
            group.clone(),
            json!({"Operations": [{"op": "remove", "path": "members[value eq \"u2\"]"}]}),
        );
        assert_eq!(r["members"], json!([{"value": "u1"}]));
        let r = run(
            group,
            json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": "u3"}]}]}),
        );
        assert_eq!(r["members"].as_array().map(Vec::len), Some(3));
    }

    #[test]
    fn bad_operations_are_refused() {
        assert!(parse(&json!({"Operations": [{"op": "move", "path": "a"}]})).is_err());
        assert!(parse(&json!({"Operations": [{"op": "remove"}]})).is_err());
        assert!(parse(&json!({"Operations": [{"op": "add", "path": "a"}]})).is_err());
        assert!(parse(&json!({})).is_err());
    }
}
