//! The SCIM filter language (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2): a small
//! recursive-descent parser whose nesting (parentheses, `not`, value paths) is bounded, and
//! an evaluator over the JSON form of a resource.
//!
//! Hand-written because the one Rust crate for it (`scim-filter`) parses with unbounded
//! recursion, exposes an undocumented AST, and has no PATCH path parser; this one is small,
//! bounded and tested below.

use serde_json::Value as Json;

/// Longest filter (bytes) accepted in a query string or a PATCH path.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest nesting of parentheses, `not (…)` and `attr[…]` accepted.
pub const MAX_DEPTH: usize = 8;

/// Why a filter does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

/// An attribute path: an optional schema URN, an attribute name and an optional
/// sub-attribute. Names are kept lower-case (attribute names are case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// Parses `[urn:…:]name[.sub]`.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let bad = || Invalid(format!("{raw:?} is not an attribute path"));
        let (urn, rest) = if raw.to_ascii_lowercase().starts_with("urn:") {
            let at = raw.rfind(':').ok_or_else(bad)?;
            let rest = &raw[at + 1..];
            // A bare schema URN (an extension object as a whole) has a dot-free, upper-case
            // last segment such as `User`; `…:2.0:User:team` names an attribute in it.
            (Some(raw[..at].to_ascii_lowercase()), rest)
        } else {
            (None, raw)
        };
        let (name, sub) = match rest.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        };
        if !valid(name) || sub.is_some_and(|s| !valid(s)) {
            return Err(bad());
        }
        Ok(AttrPath {
            urn,
            name: name.to_ascii_lowercase(),
            sub: sub.map(str::to_ascii_lowercase),
        })
    }

    /// `name` or `name.sub`, lower-case, without the URN.
    pub fn dotted(&self) -> String {
        match &self.sub {
            Some(s) => format!("{}.{s}", self.name),
            None => self.name.clone(),
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn parse(word: &str) -> Option<Op> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            _ => return None,
        })
    }
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare(AttrPath, Op, Json),
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `attr[filter]`: some value of the multi-valued `attr` matches `filter` (whose paths
    /// are relative to the value).
    ValuePath(AttrPath, Box<Filter>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Word(String),
    Str(String),
}

fn tokenize(input: &str) -> Result<Vec<Token>, Invalid> {
    if input.len() > MAX_FILTER_LEN {
        return Err(Invalid(format!(
            "the filter is longer than {MAX_FILTER_LEN} bytes"
        )));
    }
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::LParen,
                    ')' => Token::RParen,
                    '[' => Token::LBracket,
                    _ => Token::RBracket,
                });
            }
            '"' => {
                // A JSON string: find its end honouring escapes, then let serde decode it.
                chars.next();
                let mut escaped = false;
                let mut end = None;
                for (i, c) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        end = Some(i);
                        break;
                    }
                }
                let end = end.ok_or_else(|| Invalid("unterminated string".into()))?;
                let s: String = serde_json::from_str(&input[start..=end])
                    .map_err(|_| Invalid("invalid string literal".into()))?;
                tokens.push(Token::Str(s));
            }
            _ => {
                let mut end = input.len();
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"') {
                        end = i;
                        break;
                    }
                    chars.next();
                }
                tokens.push(Token::Word(input[start..end].to_owned()));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn expect(&mut self, token: Token, what: &str) -> Result<(), Invalid> {
        if self.next() == Some(token) {
            Ok(())
        } else {
            Err(Invalid(format!("expected {what}")))
        }
    }

    fn or(&mut self, depth: usize) -> Result<Filter, Invalid> {
        let mut left = self.and(depth)?;
        while self.peek_keyword("or") {
            self.pos += 1;
            let right = self.and(depth)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> Result<Filter, Invalid> {
        let mut left = self.unary(depth)?;
        while self.peek_keyword("and") {
            self.pos += 1;
            let right = self.unary(depth)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn deeper(depth: usize) -> Result<usize, Invalid> {
        if depth >= MAX_DEPTH {
            Err(Invalid(format!("the filter nests deeper than {MAX_DEPTH}")))
        } else {
            Ok(depth + 1)
        }
    }

    fn unary(&mut self, depth: usize) -> Result<Filter, Invalid> {
        if self.peek_keyword("not") && self.tokens.get(self.pos + 1) == Some(&Token::LParen) {
            self.pos += 2;
            let inner = self.or(Self::deeper(depth)?)?;
            self.expect(Token::RParen, "`)`")?;
            return Ok(Filter::Not(Box::new(inner)));
        }
        match self.next() {
            Some(Token::LParen) => {
                let inner = self.or(Self::deeper(depth)?)?;
                self.expect(Token::RParen, "`)`")?;
                Ok(inner)
            }
            Some(Token::Word(word)) => {
                let attr = AttrPath::parse(&word)?;
                if self.peek() == Some(&Token::LBracket) {
                    self.pos += 1;
                    let inner = self.or(Self::deeper(depth)?)?;
                    self.expect(Token::RBracket, "`]`")?;
                    // `emails[type eq "work"].value eq "…"`: a comparison on a sub-attribute
                    // of the matching values.
                    if let Some(Token::Word(w)) = self.peek()
                        && let Some(sub) = w.strip_prefix('.')
                    {
                        let sub = AttrPath::parse(sub)?;
                        self.pos += 1;
                        let test = self.comparison(sub)?;
                        return Ok(Filter::ValuePath(
                            attr,
                            Box::new(Filter::And(Box::new(inner), Box::new(test))),
                        ));
                    }
                    return Ok(Filter::ValuePath(attr, Box::new(inner)));
                }
                self.comparison(attr)
            }
            _ => Err(Invalid("expected an attribute, `(` or `not (`".into())),
        }
    }

    fn comparison(&mut self, attr: AttrPath) -> Result<Filter, Invalid> {
        let Some(Token::Word(op)) = self.next() else {
            return Err(Invalid("expected an operator".into()));
        };
        if op.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(attr));
        }
        let op = Op::parse(&op).ok_or_else(|| Invalid(format!("unknown operator {op:?}")))?;
        let value = match self.next() {
            Some(Token::Str(s)) => Json::String(s),
            Some(Token::Word(w)) => match w.as_str() {
                "true" => Json::Bool(true),
                "false" => Json::Bool(false),
                "null" => Json::Null,
                number => serde_json::from_str::<serde_json::Number>(number)
                    .map(Json::Number)
                    .map_err(|_| Invalid(format!("{number:?} is not a value")))?,
            },
            _ => return Err(Invalid("expected a value".into())),
        };
        Ok(Filter::Compare(attr, op, value))
    }
}

/// Parses a filter.
pub fn parse(input: &str) -> Result<Filter, Invalid> {
    let mut parser = Parser {
        tokens: tokenize(input)?,
        pos: 0,
    };
    if parser.tokens.is_empty() {
        return Err(Invalid("the filter is empty".into()));
    }
    let filter = parser.or(0)?;
    if parser.pos != parser.tokens.len() {
        return Err(Invalid("unexpected text after the filter".into()));
    }
    Ok(filter)
}

/// A PATCH path: `attr`, `attr.sub`, `attr[filter]` or `attr[filter].sub`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
}

/// Parses a PATCH path.
pub fn parse_path(input: &str) -> Result<PatchPath, Invalid> {
    let input = input.trim();
    if input.len() > MAX_FILTER_LEN {
        return Err(Invalid("the path is too long".into()));
    }
    let Some(open) = input.find('[') else {
        return Ok(PatchPath {
            attr: AttrPath::parse(input)?,
            filter: None,
        });
    };
    let close = input
        .rfind(']')
        .filter(|&c| c > open)
        .ok_or_else(|| Invalid("expected `]`".into()))?;
    let mut attr = AttrPath::parse(&input[..open])?;
    if attr.sub.is_some() {
        return Err(Invalid(
            "a value filter follows a multi-valued attribute".into(),
        ));
    }
    let filter = parse(&input[open + 1..close])?;
    let rest = &input[close + 1..];
    if let Some(sub) = rest.strip_prefix('.') {
        let sub = AttrPath::parse(sub)?;
        if sub.urn.is_some() || sub.sub.is_some() {
            return Err(Invalid(format!("{rest:?} is not a sub-attribute")));
        }
        attr.sub = Some(sub.name);
    } else if !rest.is_empty() {
        return Err(Invalid(format!("unexpected {rest:?} after `]`")));
    }
    Ok(PatchPath {
        attr,
        filter: Some(filter),
    })
}

// ---- Evaluation ------------------------------------------------------------------------------

/// Attributes whose values compare case-sensitively (RFC 7643: `caseExact`).
fn case_exact(path: &str) -> bool {
    matches!(path, "id" | "externalid" | "meta.version" | "meta.location")
}

/// The member of `object` named `key`, ignoring case.
pub fn get_ci<'a>(object: &'a Json, key: &str) -> Option<&'a Json> {
    object
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// The object holding `path`'s attribute: the resource, or the extension named by its URN.
fn container<'a>(resource: &'a Json, path: &AttrPath, core: &[&str]) -> Option<&'a Json> {
    match &path.urn {
        Some(urn) if !core.iter().any(|c| c.eq_ignore_ascii_case(urn)) => get_ci(resource, urn),
        _ => Some(resource),
    }
}

/// Whether `resource` (its JSON form) matches `filter`. `core` lists the URNs that address
/// the resource's own attributes.
pub fn matches(filter: &Filter, resource: &Json, core: &[&str]) -> Result<bool, Invalid> {
    Ok(match filter {
        Filter::And(a, b) => matches(a, resource, core)? && matches(b, resource, core)?,
        Filter::Or(a, b) => matches(a, resource, core)? || matches(b, resource, core)?,
        Filter::Not(a) => !matches(a, resource, core)?,
        Filter::ValuePath(attr, inner) => {
            let Some(values) = container(resource, attr, core).and_then(|c| get_ci(c, &attr.name))
            else {
                return Ok(false);
            };
            let values: Vec<&Json> = match values {
                Json::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for v in values {
                if matches(inner, v, &[])? {
                    return Ok(true);
                }
            }
            false
        }
        Filter::Present(attr) => values_at(resource, attr, core).iter().any(|v| {
            !v.is_null() && v.as_str() != Some("") && v.as_array().is_none_or(|a| !a.is_empty())
        }),
        Filter::Compare(attr, op, expected) => {
            let exact = case_exact(&attr.dotted());
            for v in values_at(resource, attr, core) {
                if compare(v, *op, expected, exact)? {
                    return Ok(true);
                }
            }
            // `ne`/no value: a missing attribute is "not equal".
            *op == Op::Ne && values_at(resource, attr, core).is_empty()
        }
    })
}

/// The values `path` names in `resource`: for a multi-valued attribute, each value (its
/// `value` sub-attribute when the path names none).
fn values_at<'a>(resource: &'a Json, path: &AttrPath, core: &[&str]) -> Vec<&'a Json> {
    let Some(top) = container(resource, path, core).and_then(|c| get_ci(c, &path.name)) else {
        return Vec::new();
    };
    let pick = |v: &'a Json| -> Option<&'a Json> {
        match (&path.sub, v) {
            (Some(sub), _) => get_ci(v, sub),
            (None, Json::Object(_)) => get_ci(v, "value"),
            (None, other) => Some(other),
        }
    };
    match top {
        Json::Array(items) => items.iter().filter_map(pick).collect(),
        Json::Object(_) if path.sub.is_none() => vec![top],
        other => pick(other).into_iter().collect(),
    }
}

fn compare(actual: &Json, op: Op, expected: &Json, exact: bool) -> Result<bool, Invalid> {
    let ordered = matches!(op, Op::Gt | Op::Ge | Op::Lt | Op::Le);
    Ok(match (actual, expected) {
        (Json::String(a), Json::String(e)) => {
            let (a, e) = if exact {
                (a.clone(), e.clone())
            } else {
                (a.to_lowercase(), e.to_lowercase())
            };
            match op {
                Op::Eq => a == e,
                Op::Ne => a != e,
                Op::Co => a.contains(&e),
                Op::Sw => a.starts_with(&e),
                Op::Ew => a.ends_with(&e),
                Op::Gt => a > e,
                Op::Ge => a >= e,
                Op::Lt => a < e,
                Op::Le => a <= e,
            }
        }
        (Json::Bool(a), Json::Bool(e)) => match op {
            Op::Eq => a == e,
            Op::Ne => a != e,
            _ => {
                return Err(Invalid(
                    "booleans compare only with `eq` and `ne`".to_owned(),
                ));
            }
        },
        (Json::Number(a), Json::Number(e)) => {
            let (a, e) = (
                a.as_f64().unwrap_or(f64::NAN),
                e.as_f64().unwrap_or(f64::NAN),
            );
            match op {
                Op::Eq => a == e,
                Op::Ne => a != e,
                Op::Gt => a > e,
                Op::Ge => a >= e,
                Op::Lt => a < e,
                Op::Le => a <= e,
                _ => return Err(Invalid("numbers do not support co, sw or ew".into())),
            }
        }
        (_, Json::Null) => match op {
            Op::Eq => actual.is_null(),
            Op::Ne => !actual.is_null(),
            _ => return Err(Invalid("null compares only with `eq` and `ne`".into())),
        },
        _ if ordered => false,
        _ => op == Op::Ne,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CORE: &[&str] = &["urn:ietf:params:scim:schemas:core:2.0:user"];

    fn user() -> Json {
        json!({
            "id": "user_1",
            "userName": "Ada@Example.com",
            "externalId": "00u1",
            "active": true,
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
            "meta": {"created": "2026-01-01T00:00:00Z"},
            "urn:ietf:params:scim:schemas:extension:roster:2.0:User": {"team": "Platform"}
        })
    }

    fn check(filter: &str) -> bool {
        matches(&parse(filter).expect("parses"), &user(), CORE).expect("evaluates")
    }

    #[test]
    fn operators_and_case_rules() {
        assert!(check(r#"userName eq "ada@example.com""#));
        assert!(check(r#"USERNAME Eq "ADA@EXAMPLE.COM""#));
        assert!(!check(r#"externalId eq "00U1""#));
        assert!(check(r#"externalId eq "00u1""#));
        assert!(check(
            r#"userName sw "ada" and userName ew ".com" and userName co "@""#
        ));
        assert!(check(r#"userName ne "bob@example.com""#));
        assert!(check("name.givenName pr"));
        assert!(!check("title pr"));
        assert!(check(r#"meta.created gt "2025-12-31T00:00:00Z""#));
        assert!(check("active eq true"));
        assert!(!check("active eq false"));
    }

    #[test]
    fn logic_precedence_and_value_paths() {
        assert!(check(
            r#"userName eq "x" or userName eq "ada@example.com" and active eq true"#
        ));
        assert!(!check(
            r#"(userName eq "x" or userName eq "ada@example.com") and active eq false"#
        ));
        assert!(check(r#"not (userName eq "x")"#));
        assert!(check(r#"emails[type eq "work" and value co "ada"]"#));
        assert!(check(
            r#"emails[type eq "work"].value eq "ada@example.com""#
        ));
        assert!(!check(r#"emails[type eq "home"]"#));
        assert!(check(r#"emails.value eq "ada@example.com""#));
        assert!(check(
            r#"urn:ietf:params:scim:schemas:extension:roster:2.0:User:team eq "platform""#
        ));
        assert!(check(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ada@example.com""#
        ));
    }

    #[test]
    fn hostile_filters_are_refused_not_recursed() {
        let deep = format!("{}userName pr{}", "(".repeat(5000), ")".repeat(5000));
        assert!(parse(&deep).is_err());
        let nested_not = format!("{}userName pr{}", "not (".repeat(100), ")".repeat(100));
        assert!(parse(&nested_not).is_err());
        let long = vec![r#"userName eq "a""#; 1000].join(" or ");
        assert!(parse(&long).is_err());
        let chain = vec![r#"userName eq "a""#; 100].join(" or ");
        assert!(parse(&chain).is_ok());
        for bad in [
            "",
            "userName",
            "userName eq",
            r#"userName zz "a""#,
            "(userName pr",
            "a[b pr",
            r#"userName eq "x"#,
            "userName eq x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(matches(&parse("active gt true").expect("parses"), &user(), CORE).is_err());
    }

    #[test]
    fn patch_paths() {
        let p = parse_path(r#"emails[type eq "work"].value"#).expect("path");
        assert_eq!(p.attr.dotted(), "emails.value");
        assert!(p.filter.is_some());
        let p = parse_path(r#"members[value eq "user_1"]"#).expect("path");
        assert_eq!(p.attr.name, "members");
        let p = parse_path("name.givenName").expect("path");
        assert_eq!(p.attr.dotted(), "name.givenname");
        let p = parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager")
            .expect("path");
        assert_eq!(
            p.attr.urn.as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:user")
        );
        assert_eq!(p.attr.name, "manager");
        assert!(parse_path("emails[type eq \"work\"").is_err());
    }
}
