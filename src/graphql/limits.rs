//! Refusing abusive queries before any database work: too deep, too many aliases, page sizes
//! above the maximum (literal or through variables), and giving async-graphql's own
//! complexity and validation errors the codes of DESIGN.md.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation,
};
use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{
    ErrorExtensionValues, Positioned, ServerError, ServerResult, ValidationResult, Value, Variables,
};

use super::error::code;

/// Limits checked on the parsed document.
#[derive(Clone, Copy, Debug)]
pub struct QueryLimits {
    /// Deepest nesting of fields, named fragments inlined (see [`depth`]).
    pub max_depth: usize,
    pub max_aliases: usize,
    pub max_page: i64,
    /// When false, `__schema` and `__type` are refused with an error (async-graphql alone
    /// answers them with a silent `null`).
    pub introspection: bool,
}

impl ExtensionFactory for QueryLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(*self)
    }
}

fn limit_error(message: String) -> ServerError {
    let mut err = ServerError::new(message, None);
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", code::LIMIT_EXCEEDED);
    err.extensions = Some(ext);
    err
}

fn with_code(mut err: ServerError, code: &'static str) -> ServerError {
    let ext = err
        .extensions
        .get_or_insert_with(ErrorExtensionValues::default);
    if ext.get("code").is_none() {
        ext.set("code", code);
    }
    err
}

/// What the walk over the document found.
struct Walk<'a> {
    limits: QueryLimits,
    variables: &'a Variables,
    defaults: Vec<(async_graphql::Name, Value)>,
    aliases: usize,
    page_violation: Option<String>,
    introspects: bool,
}

impl Walk<'_> {
    fn int_of(&self, value: &async_graphql::Value) -> Option<i64> {
        match value {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    fn argument(&self, value: &async_graphql_value::Value) -> Option<i64> {
        use async_graphql_value::Value as V;
        match value {
            V::Number(n) => n.as_i64(),
            V::Variable(name) => self
                .variables
                .get(name)
                .and_then(|v| self.int_of(v))
                .or_else(|| {
                    self.defaults
                        .iter()
                        .find(|(n, _)| n == name)
                        .and_then(|(_, v)| self.int_of(v))
                }),
            _ => None,
        }
    }

    fn selection_set(&mut self, set: &Positioned<SelectionSet>) {
        for item in &set.node.items {
            match &item.node {
                Selection::Field(field) => {
                    if field.node.alias.is_some() {
                        self.aliases += 1;
                    }
                    if matches!(field.node.name.node.as_str(), "__schema" | "__type") {
                        self.introspects = true;
                    }
                    for (name, value) in &field.node.arguments {
                        if matches!(name.node.as_str(), "first" | "last")
                            && let Some(n) = self.argument(&value.node)
                            && n > self.limits.max_page
                            && self.page_violation.is_none()
                        {
                            self.page_violation = Some(format!(
                                "`{}: {n}` on `{}` exceeds the maximum page size of {}",
                                name.node, field.node.name.node, self.limits.max_page
                            ));
                        }
                    }
                    self.selection_set(&field.node.selection_set);
                }
                Selection::InlineFragment(fragment) => {
                    self.selection_set(&fragment.node.selection_set)
                }
                // Named fragments are walked once each, from the document's fragment list.
                Selection::FragmentSpread(_) => {}
            }
        }
    }
}

/// How deep a selection set nests fields, as async-graphql's `limit_depth` counts it (each
/// field one level, named fragments inlined), except that the introspection field `ofType`
/// adds no level: it names exactly one type, so a chain of them cannot fan out, and the
/// standard introspection query of GraphiQL and other tools nests `ofType` seven or more
/// times — counting it would refuse their schema download at any useful depth limit.
///
/// Each fragment's depth is computed once, so fragments spreading each other many times
/// cost linear time; a fragment cycle counts as no depth here (validation refuses it).
fn depth<'a>(
    set: &'a SelectionSet,
    fragments: &'a HashMap<async_graphql::Name, Positioned<FragmentDefinition>>,
    known: &mut HashMap<&'a str, usize>,
    visiting: &mut Vec<&'a str>,
) -> usize {
    let mut deepest = 0;
    for item in &set.items {
        let d = match &item.node {
            Selection::Field(field) => {
                let inner = depth(&field.node.selection_set.node, fragments, known, visiting);
                if field.node.name.node.as_str() == "ofType" {
                    inner
                } else {
                    inner + 1
                }
            }
            Selection::InlineFragment(fragment) => depth(
                &fragment.node.selection_set.node,
                fragments,
                known,
                visiting,
            ),
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                if let Some(d) = known.get(name) {
                    *d
                } else if visiting.contains(&name) {
                    0
                } else if let Some(fragment) = fragments.get(name) {
                    visiting.push(name);
                    let d = depth(
                        &fragment.node.selection_set.node,
                        fragments,
                        known,
                        visiting,
                    );
                    visiting.pop();
                    known.insert(name, d);
                    d
                } else {
                    0
                }
            }
        };
        deepest = deepest.max(d);
    }
    deepest
}

#[async_trait::async_trait]
impl Extension for QueryLimits {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next
            .run(ctx, query, variables)
            .await
            .map_err(|e| with_code(e, code::GRAPHQL_PARSE_FAILED))?;
        let mut walk = Walk {
            limits: *self,
            variables,
            defaults: Vec::new(),
            aliases: 0,
            page_violation: None,
            introspects: false,
        };
        for (_, op) in doc.operations.iter() {
            walk.defaults = op
                .node
                .variable_definitions
                .iter()
                .filter_map(|d| {
                    d.node
                        .default_value
                        .as_ref()
                        .map(|v| (d.node.name.node.clone(), v.node.clone()))
                })
                .collect();
            walk.selection_set(&op.node.selection_set);
        }
        walk.defaults.clear();
        for fragment in doc.fragments.values() {
            walk.selection_set(&fragment.node.selection_set);
        }
        let mut known = HashMap::new();
        let deepest = doc
            .operations
            .iter()
            .map(|(_, op)| {
                depth(
                    &op.node.selection_set.node,
                    &doc.fragments,
                    &mut known,
                    &mut Vec::new(),
                )
            })
            .max()
            .unwrap_or(0);
        if deepest > self.max_depth {
            return Err(limit_error(format!(
                "Query is nested too deep: {deepest} levels; at most {} are allowed",
                self.max_depth
            )));
        }
        if walk.aliases > self.max_aliases {
            return Err(limit_error(format!(
                "the query uses {} aliases; at most {} are allowed",
                walk.aliases, self.max_aliases
            )));
        }
        if walk.introspects && !self.introspection {
            let mut err = ServerError::new("introspection is disabled on this server", None);
            let mut ext = ErrorExtensionValues::default();
            ext.set("code", code::GRAPHQL_VALIDATION_FAILED);
            err.extensions = Some(ext);
            return Err(err);
        }
        if let Some(message) = walk.page_violation {
            return Err(limit_error(message));
        }
        Ok(doc)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|e| {
                    let is_limit = [
                        "nested too deep",
                        "too complex",
                        "too many directives",
                        "recursive depth",
                    ]
                    .iter()
                    .any(|m| e.message.contains(m));
                    with_code(
                        e,
                        if is_limit {
                            code::LIMIT_EXCEEDED
                        } else {
                            code::GRAPHQL_VALIDATION_FAILED
                        },
                    )
                })
                .collect()
        })
    }
}
