//! Refusing abusive queries before any database work: documents that nest too deep or are
//! too large to parse safely (`prescan`), hostile strings in variables, fragments that expand
//! to too many selections, too deep, too many aliases, page sizes above the maximum (literal
//! or through variables); charging each operation's cost to the caller's budget
//! ([`CostGate`]) before it runs; quiet validation errors when introspection is off; and
//! giving async-graphql's own complexity and validation errors Roster's codes (README
//! "Errors"). See docs/ARCHITECTURE.md, "How a request flows".

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
use super::prescan::{self, Refusal, ScanLimits};

/// Limits checked on the document, before and after parsing.
#[derive(Clone, Copy, Debug)]
pub struct QueryLimits {
    /// Deepest nesting of fields, named fragments inlined (see [`depth`]).
    pub max_depth: usize,
    pub max_aliases: usize,
    pub max_page: i64,
    /// Selections (fields, fragment spreads, inline fragments) with every named fragment
    /// expanded where it is spread, counted in linear time (see [`expanded_selections`]).
    pub max_selections: usize,
    /// What the scan before parsing allows (see `prescan`).
    pub scan: ScanLimits,
    /// When false, `__schema` and `__type` are refused with an error (async-graphql alone
    /// answers them with a silent `null`), and validation errors name nothing the document
    /// did not name itself.
    pub introspection: bool,
}

impl ExtensionFactory for QueryLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(QueryGuard {
            limits: *self,
            names: Mutex::new(Vec::new()),
        })
    }
}

/// The extension of one request: the limits, and (introspection off) the names the
/// document used, for quieting validation errors.
struct QueryGuard {
    limits: QueryLimits,
    names: Mutex<Vec<String>>,
}

/// Decides, after validation and before execution, whether an operation of the given cost
/// may run: the HTTP layer puts a [`Gate`] into each request's data that charges the cost to
/// the caller's budget. Without one, every operation runs.
pub trait CostGate: Send + Sync {
    /// `Err` refuses the operation (for example `RATE_LIMITED` with `retryAfter`).
    fn admit(&self, cost: usize) -> Result<(), ServerError>;
}

/// Directives on one field at most (async-graphql's `limit_directives`, checked here).
const MAX_FIELD_DIRECTIVES: usize = 10;

/// The request data that carries the [`CostGate`].
#[derive(Clone)]
pub struct Gate(pub Arc<dyn CostGate>);

/// Request data that receives a copy of the document the guard parsed and admitted, so the
/// executor runs that document instead of parsing the query again.
#[derive(Clone, Default)]
pub struct Parsed(pub Arc<Mutex<Option<ExecutableDocument>>>);

impl Parsed {
    /// The document the guard kept, if it admitted one.
    pub fn take(&self) -> Option<ExecutableDocument> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

fn coded(message: String, code: &'static str) -> ServerError {
    let mut err = ServerError::new(message, None);
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", code);
    err.extensions = Some(ext);
    err
}

fn limit_error(message: String) -> ServerError {
    coded(message, code::LIMIT_EXCEEDED)
}

impl From<Refusal> for ServerError {
    fn from(r: Refusal) -> Self {
        coded(r.message, r.code)
    }
}

/// Checks every string in the variables (no NUL, bounded length) and their nesting, naming
/// the variable. The walk stops at the nesting limit, so its recursion is bounded.
fn check_variables(variables: &Variables, limits: &ScanLimits) -> Result<(), Refusal> {
    fn walk(value: &Value, name: &str, depth: usize, limits: &ScanLimits) -> Result<(), Refusal> {
        if depth > limits.max_nesting {
            return Err(Refusal {
                code: code::LIMIT_EXCEEDED,
                message: format!(
                    "the variable `${name}` nests deeper than {} levels",
                    limits.max_nesting
                ),
            });
        }
        match value {
            Value::String(s) => prescan::check_string(s, Some(format!("${name}").as_str()), limits),
            Value::List(items) => items
                .iter()
                .try_for_each(|v| walk(v, name, depth + 1, limits)),
            Value::Object(fields) => fields.iter().try_for_each(|(k, v)| {
                prescan::check_string(k.as_str(), Some(format!("${name}").as_str()), limits)?;
                walk(v, name, depth + 1, limits)
            }),
            _ => Ok(()),
        }
    }
    variables
        .iter()
        .try_for_each(|(name, value)| walk(value, name.as_str(), 0, limits))
}

/// What expanding a document's fragments found.
struct Expansion {
    /// Selections once every fragment spread is replaced by the fragment's selections: what
    /// validation and execution walk. Saturates instead of overflowing.
    selections: usize,
    /// A fragment that spreads itself, directly or through others.
    cycle: Option<String>,
}

/// Expands `doc`'s fragments in linear time: each fragment is counted once and its count
/// reused (a chain of fragments each spreading the next twice is linear here, exponential
/// when expanded), and a cycle is reported instead of followed. Both matter before
/// validation: async-graphql's complexity and depth visitors follow spreads without
/// memoization (exponential) and run even after a cycle was found (a stack overflow).
fn expand(doc: &ExecutableDocument) -> Expansion {
    struct Walk<'a> {
        fragments: &'a HashMap<async_graphql::Name, Positioned<FragmentDefinition>>,
        known: HashMap<&'a str, usize>,
        visiting: Vec<&'a str>,
        cycle: Option<String>,
    }
    impl<'a> Walk<'a> {
        fn count(&mut self, set: &'a SelectionSet) -> usize {
            set.items.iter().fold(0usize, |total, item| {
                let inner = match &item.node {
                    Selection::Field(field) => self.count(&field.node.selection_set.node),
                    Selection::InlineFragment(fragment) => {
                        self.count(&fragment.node.selection_set.node)
                    }
                    Selection::FragmentSpread(spread) => {
                        let name = spread.node.fragment_name.node.as_str();
                        if let Some(n) = self.known.get(name) {
                            *n
                        } else if self.visiting.contains(&name) {
                            self.cycle.get_or_insert_with(|| name.to_owned());
                            0
                        } else if let Some(fragment) = self.fragments.get(name) {
                            self.visiting.push(name);
                            let n = self.count(&fragment.node.selection_set.node);
                            self.visiting.pop();
                            self.known.insert(name, n);
                            n
                        } else {
                            0
                        }
                    }
                };
                total.saturating_add(1).saturating_add(inner)
            })
        }
    }
    let mut walk = Walk {
        fragments: &doc.fragments,
        known: HashMap::new(),
        visiting: Vec::new(),
        cycle: None,
    };
    let mut selections = doc
        .operations
        .iter()
        .map(|(_, op)| walk.count(&op.node.selection_set.node))
        .fold(0usize, usize::saturating_add);
    // Fragments no operation spreads are validated too (and refused as unused).
    for (name, fragment) in doc.fragments.iter() {
        if !walk.known.contains_key(name.as_str()) {
            walk.visiting.push(name.as_str());
            let n = walk.count(&fragment.node.selection_set.node);
            walk.visiting.pop();
            walk.known.insert(name.as_str(), n);
            selections = selections.saturating_add(n);
        }
    }
    Expansion {
        selections,
        cycle: walk.cycle,
    }
}

/// The names a document uses (field, argument, type, fragment, variable names), for
/// deciding whether a validation error says more than the document did.
fn document_names(query: &str) -> Vec<String> {
    let mut names: Vec<String> = query
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// With introspection off, a validation error may name only what the document named: every
/// quoted name in its message that the document did not use (the type a field returns, a
/// suggestion, the root type) is replaced by `…`, so probing with a word list recovers
/// nothing the caller did not type.
fn quiet(mut err: ServerError, names: &[String]) -> ServerError {
    let known = |q: &str| {
        q.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .all(|w| names.binary_search_by(|n| n.as_str().cmp(w)).is_ok())
    };
    let message = err.message.replace('`', "\"");
    err.message = message
        .split('"')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 && !known(part) {
                "…"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join("\"");
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
    violation: Option<String>,
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
                    if field.node.directives.len() > MAX_FIELD_DIRECTIVES
                        && self.violation.is_none()
                    {
                        self.violation = Some(format!(
                            "`{}` has {} directives; at most {MAX_FIELD_DIRECTIVES} are allowed on one field",
                            field.node.name.node,
                            field.node.directives.len()
                        ));
                    }
                    if matches!(field.node.name.node.as_str(), "__schema" | "__type") {
                        self.introspects = true;
                    }
                    for (name, value) in &field.node.arguments {
                        if matches!(name.node.as_str(), "first" | "last")
                            && let Some(n) = self.argument(&value.node)
                            && n > self.limits.max_page
                            && self.violation.is_none()
                        {
                            self.violation = Some(format!(
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

/// The parsed document of `query`, from a process-wide cache of recently parsed documents
/// (keyed by their text; the 128 most recently used of at most 4 KiB each) or parsed now.
/// Apps send the same few queries over and over: a copy of a parsed users-page document costs
/// a fraction of parsing it again (pest's parser was 8% of a users page's instructions). Only
/// documents that parse are kept; every check after parsing (limits, validation, cost) runs on
/// every request as before, since those depend on the variables and the caller.
fn parse_cached(query: &str) -> async_graphql::parser::Result<ExecutableDocument> {
    const MAX_CACHED_QUERY: usize = 4 * 1024;
    const CACHED_DOCUMENTS: std::num::NonZeroUsize = match std::num::NonZeroUsize::new(128) {
        Some(n) => n,
        None => std::num::NonZeroUsize::MIN,
    };
    type Documents = Mutex<lru::LruCache<String, ExecutableDocument>>;
    static DOCUMENTS: std::sync::OnceLock<Documents> = std::sync::OnceLock::new();
    if query.len() > MAX_CACHED_QUERY {
        return async_graphql::parser::parse_query(query);
    }
    let documents = DOCUMENTS.get_or_init(|| Mutex::new(lru::LruCache::new(CACHED_DOCUMENTS)));
    let lock = || documents.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(doc) = lock().get(query).cloned() {
        return Ok(doc);
    }
    let doc = async_graphql::parser::parse_query(query)?;
    lock().put(query.to_owned(), doc.clone());
    Ok(doc)
}

#[async_trait::async_trait]
impl Extension for QueryGuard {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let limits = &self.limits;
        // Before the recursive parser: a linear scan bounds what it will be given.
        prescan::scan_document(query, &limits.scan)?;
        check_variables(variables, &limits.scan)?;
        if !limits.introspection {
            *self.names.lock().unwrap_or_else(|e| e.into_inner()) = document_names(query);
        }
        // The document is parsed here rather than by `next`: async-graphql's default parse
        // step follows every fragment spread in its recursion-depth and per-field directive
        // checks without memoization — exponential on a doubling fragment chain (a core busy
        // for minutes on 30 fragments), and its directive check alone would not stop on a
        // fragment cycle. The same limits are checked below in linear time (the scan bounds
        // nesting, `expand` the fragments, `Walk` the directives per field).
        let _ = next;
        let doc = parse_cached(query)
            .map_err(|e| with_code(ServerError::from(e), code::GRAPHQL_PARSE_FAILED))?;
        let expansion = expand(&doc);
        if let Some(name) = expansion.cycle {
            return Err(coded(
                format!("Cannot spread fragment \"{name}\" within itself."),
                code::GRAPHQL_VALIDATION_FAILED,
            ));
        }
        if expansion.selections > limits.max_selections {
            return Err(limit_error(format!(
                "the document expands to more than {} selections once its fragments are \
                 inlined; at most {} are allowed",
                expansion.selections.min(1_000_000_000),
                limits.max_selections
            )));
        }
        let mut walk = Walk {
            limits: *limits,
            variables,
            defaults: Vec::new(),
            aliases: 0,
            violation: None,
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
        if deepest > limits.max_depth {
            return Err(limit_error(format!(
                "Query is nested too deep: {deepest} levels; at most {} are allowed",
                limits.max_depth
            )));
        }
        if walk.aliases > limits.max_aliases {
            return Err(limit_error(format!(
                "the query uses {} aliases; at most {} are allowed",
                walk.aliases, limits.max_aliases
            )));
        }
        if walk.introspects && !limits.introspection {
            return Err(coded(
                "introspection is disabled on this server".to_owned(),
                code::GRAPHQL_VALIDATION_FAILED,
            ));
        }
        if let Some(message) = walk.violation {
            return Err(limit_error(message));
        }
        if let Some(Parsed(slot)) = ctx.data_opt::<Parsed>() {
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(doc.clone());
        }
        Ok(doc)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await.map_err(|errors| {
            let names = self.names.lock().unwrap_or_else(|e| e.into_inner());
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
                    let e = if self.limits.introspection || is_limit {
                        e
                    } else {
                        quiet(e, &names)
                    };
                    with_code(
                        e,
                        if is_limit {
                            code::LIMIT_EXCEEDED
                        } else {
                            code::GRAPHQL_VALIDATION_FAILED
                        },
                    )
                })
                .collect::<Vec<_>>()
        })?;
        if let Some(Gate(gate)) = ctx.data_opt::<Gate>() {
            gate.admit(result.complexity).map_err(|e| vec![e])?;
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The operation names of a document, in order.
    fn names(doc: &ExecutableDocument) -> Vec<String> {
        doc.operations
            .iter()
            .map(|(name, _)| name.map(|n| n.to_string()).unwrap_or_default())
            .collect()
    }

    #[test]
    fn a_cached_document_is_the_one_its_text_parses_to() {
        let first = "query First { viewer { id } }";
        let second = "query Second { viewer { id } }";
        for _ in 0..3 {
            assert_eq!(names(&parse_cached(first).expect("parses")), ["First"]);
            assert_eq!(names(&parse_cached(second).expect("parses")), ["Second"]);
        }
        // A document that does not parse is refused every time, never cached.
        assert!(parse_cached("query Broken { viewer { id }").is_err());
        assert!(parse_cached("query Broken { viewer { id }").is_err());
        // Past the size kept, parsed as before.
        let long = format!("query Long {{ viewer {{ id }} }} # {}", "x".repeat(5_000));
        assert_eq!(names(&parse_cached(&long).expect("parses")), ["Long"]);
    }
}
