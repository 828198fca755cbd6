//! A linear, non-recursive look at a request before any parser sees it.
//!
//! async-graphql's parser and serde_json's deserializer are recursive: a document whose list
//! literals nest a few thousand levels deep overflows the stack of the thread that parses it,
//! and a process abort takes every tenant down with it. So every GraphQL document is first
//! scanned token by token here, with a counter instead of recursion, and refused when it
//! nests deeper, holds more tokens, directives or fragment definitions, or carries longer or
//! stranger strings than the limits allow; a JSON body is scanned the same way for nesting.
//! Whatever passes is small and shallow enough for the recursive parsers to handle in
//! microseconds. See `docs/ARCHITECTURE.md`, "How a request flows".

use super::error::code;

/// What the scan allows; every number is configurable (see `config.rs`).
#[derive(Clone, Copy, Debug)]
pub struct ScanLimits {
    /// Deepest nesting of `{ [ (` together: selection sets, arguments, list and object
    /// literals, variable definitions and their defaults.
    pub max_nesting: usize,
    /// Lexical tokens per document (names, punctuators, numbers, strings).
    pub max_tokens: usize,
    /// Directives (`@…`) per document.
    pub max_directives: usize,
    /// Fragment definitions per document.
    pub max_fragments: usize,
    /// Characters per string (a literal in the document or a string in the variables).
    pub max_string_chars: usize,
}

impl Default for ScanLimits {
    fn default() -> Self {
        ScanLimits {
            max_nesting: 32,
            max_tokens: 50_000,
            max_directives: 50,
            max_fragments: 100,
            max_string_chars: 4_096,
        }
    }
}

/// Why a request was refused, with the error code it answers with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    fn limit(message: String) -> Self {
        Refusal {
            code: code::LIMIT_EXCEEDED,
            message,
        }
    }

    fn input(message: String) -> Self {
        Refusal {
            code: code::BAD_USER_INPUT,
            message,
        }
    }
}

/// Where a string sits, for messages: the argument or input field it is the value of.
fn subject(key: Option<&str>) -> String {
    match key {
        Some(k) => format!("the value of `{k}`"),
        None => "a string".to_owned(),
    }
}

/// Checks one string (already decoded) against the edge's rules: no NUL character and at
/// most `max_chars` characters. Lone surrogates cannot occur in a Rust string: the JSON and
/// document scans refuse them before a string is built.
pub fn check_string(value: &str, key: Option<&str>, limits: &ScanLimits) -> Result<(), Refusal> {
    if value.contains('\0') {
        return Err(Refusal::input(format!(
            "{} contains a NUL character, which no field accepts",
            subject(key)
        )));
    }
    if value.len() > limits.max_string_chars && value.chars().count() > limits.max_string_chars {
        return Err(Refusal::input(format!(
            "{} is longer than {} characters",
            subject(key),
            limits.max_string_chars
        )));
    }
    Ok(())
}

/// Scans a GraphQL document in one pass without recursion.
pub fn scan_document(doc: &str, limits: &ScanLimits) -> Result<(), Refusal> {
    let bytes = doc.as_bytes();
    let mut i = 0;
    let mut depth = 0usize;
    let mut tokens = 0usize;
    let mut directives = 0usize;
    let mut fragments = 0usize;
    // The last name seen, and the one before a `:` (the key a following value belongs to).
    let mut last_name: Option<&str> = None;
    let mut key: Option<&str> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
                continue;
            }
            0 => return Err(Refusal::input("the document contains a NUL byte".into())),
            _ => {}
        }
        tokens += 1;
        if tokens > limits.max_tokens {
            return Err(Refusal::limit(format!(
                "the document has more than {} tokens",
                limits.max_tokens
            )));
        }
        match b {
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > limits.max_nesting {
                    return Err(Refusal::limit(format!(
                        "the document nests deeper than {} levels of braces, brackets and parentheses",
                        limits.max_nesting
                    )));
                }
                i += 1;
            }
            b'}' | b']' | b')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'@' => {
                directives += 1;
                if directives > limits.max_directives {
                    return Err(Refusal::limit(format!(
                        "the document uses more than {} directives",
                        limits.max_directives
                    )));
                }
                i += 1;
            }
            b':' => {
                key = last_name;
                i += 1;
            }
            b'"' => {
                i = scan_string(bytes, i, key, limits)?;
            }
            b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'_' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
                {
                    i += 1;
                }
                // The bytes are ASCII, so this slice is on character boundaries.
                let name = &doc[start..i];
                if depth == 0 && name == "fragment" {
                    fragments += 1;
                    if fragments > limits.max_fragments {
                        return Err(Refusal::limit(format!(
                            "the document defines more than {} fragments",
                            limits.max_fragments
                        )));
                    }
                }
                last_name = Some(name);
            }
            _ => {
                // Numbers, `$`, `!`, `=`, `|`, `&`, `...` and anything the parser will reject:
                // one token per run of bytes that is none of the above.
                i += 1;
                while i < bytes.len()
                    && !matches!(
                        bytes[i],
                        b' ' | b'\t'
                            | b'\n'
                            | b'\r'
                            | b','
                            | b'#'
                            | b'"'
                            | b'{'
                            | b'}'
                            | b'['
                            | b']'
                            | b'('
                            | b')'
                            | b'@'
                            | b':'
                            | 0
                    )
                    && !bytes[i].is_ascii_alphabetic()
                    && bytes[i] != b'_'
                {
                    i += 1;
                }
            }
        }
    }
    Ok(())
}

/// Scans the string literal starting at `start` (a `"`), returning the index after it. The
/// escapes the parser would turn into a NUL or a lone surrogate are refused here, naming the
/// argument; an unterminated string is left for the parser to report.
fn scan_string(
    bytes: &[u8],
    start: usize,
    key: Option<&str>,
    limits: &ScanLimits,
) -> Result<usize, Refusal> {
    let block = bytes[start..].starts_with(b"\"\"\"");
    let mut i = start + if block { 3 } else { 1 };
    let mut chars = 0usize;
    let too_long = || {
        Refusal::input(format!(
            "{} is longer than {} characters",
            subject(key),
            limits.max_string_chars
        ))
    };
    while i < bytes.len() {
        let b = bytes[i];
        if b == 0 {
            return Err(Refusal::input(format!(
                "{} contains a NUL character, which no field accepts",
                subject(key)
            )));
        }
        if block {
            if bytes[i..].starts_with(b"\\\"\"\"") {
                i += 4;
            } else if bytes[i..].starts_with(b"\"\"\"") {
                return Ok(i + 3);
            } else {
                i += 1;
            }
        } else {
            match b {
                b'"' => return Ok(i + 1),
                b'\n' | b'\r' => return Ok(i),
                b'\\' => {
                    if bytes.get(i + 1) == Some(&b'u') {
                        let hex = bytes.get(i + 2..i + 6).unwrap_or_default();
                        let value = std::str::from_utf8(hex)
                            .ok()
                            .filter(|h| h.len() == 4)
                            .and_then(|h| u32::from_str_radix(h, 16).ok());
                        match value {
                            Some(0) => {
                                return Err(Refusal::input(format!(
                                    "{} contains a NUL character (\\u0000), which no field accepts",
                                    subject(key)
                                )));
                            }
                            Some(0xD800..=0xDFFF) => {
                                return Err(Refusal::input(format!(
                                    "{} contains a UTF-16 surrogate escape; write the character itself",
                                    subject(key)
                                )));
                            }
                            _ => {}
                        }
                        i += 6;
                    } else {
                        i += 2;
                    }
                }
                _ => i += 1,
            }
        }
        // Count characters, not bytes: UTF-8 continuation bytes do not start one.
        if b & 0xC0 != 0x80 {
            chars += 1;
            if chars > limits.max_string_chars {
                return Err(too_long());
            }
        }
    }
    Ok(i)
}

/// Scans a JSON body for nesting deeper than `max_nesting` arrays and objects, and for
/// `\u` escapes of NUL or lone surrogates inside strings, in one pass without recursion.
pub fn scan_json(body: &[u8], max_nesting: usize) -> Result<(), Refusal> {
    let mut depth = 0usize;
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'{' | b'[' => {
                depth += 1;
                if depth > max_nesting {
                    return Err(Refusal::limit(format!(
                        "the JSON body nests deeper than {max_nesting} levels"
                    )));
                }
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'"' => {
                i += 1;
                while i < body.len() && body[i] != b'"' {
                    if body[i] == b'\\' {
                        if body.get(i + 1) == Some(&b'u') {
                            let value = body
                                .get(i + 2..i + 6)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u32::from_str_radix(h, 16).ok());
                            if let Some(0xD800..=0xDBFF) = value {
                                // A high surrogate must be followed by a low one.
                                let next = body
                                    .get(i + 6..i + 12)
                                    .filter(|n| n.starts_with(b"\\u"))
                                    .and_then(|n| std::str::from_utf8(&n[2..]).ok())
                                    .and_then(|h| u32::from_str_radix(h, 16).ok());
                                if !matches!(next, Some(0xDC00..=0xDFFF)) {
                                    return Err(Refusal::input(
                                        "a JSON string contains a lone UTF-16 surrogate".into(),
                                    ));
                                }
                                i += 12;
                                continue;
                            }
                            if let Some(0xDC00..=0xDFFF) = value {
                                return Err(Refusal::input(
                                    "a JSON string contains a lone UTF-16 surrogate".into(),
                                ));
                            }
                            i += 6;
                        } else {
                            i += 2;
                        }
                    } else {
                        i += 1;
                    }
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ScanLimits {
        ScanLimits::default()
    }

    #[test]
    fn deep_list_literals_are_refused_without_recursion() {
        let doc = format!(
            "{{ x(y: {}1{}) }}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let refusal = scan_document(&doc, &limits()).unwrap_err();
        assert_eq!(refusal.code, code::LIMIT_EXCEEDED);
    }

    #[test]
    fn ordinary_documents_pass() {
        let doc = r#"query Q($n: Int = 5) @a { users(first: $n, filter: {search: "äpf \" \\ \u00e9"}) { nodes { id ...F } } }
            fragment F on User { name # comment }
            }"#;
        assert_eq!(scan_document(doc, &limits()), Ok(()));
    }

    #[test]
    fn nul_and_surrogate_escapes_name_their_argument() {
        let r = scan_document(
            r#"{ users(filter: {search: "a\u0000"}) { totalCount } }"#,
            &limits(),
        )
        .unwrap_err();
        assert_eq!(r.code, code::BAD_USER_INPUT);
        assert!(r.message.contains("`search`"), "{}", r.message);
        let r = scan_document(r#"{ user(id: "\uD800") { id } }"#, &limits()).unwrap_err();
        assert!(r.message.contains("`id`") && r.message.contains("surrogate"));
    }

    #[test]
    fn strings_are_bounded_in_characters() {
        let long = "é".repeat(5_000);
        let r = scan_document(&format!(r#"{{ user(id: "{long}") {{ id }} }}"#), &limits());
        assert_eq!(r.unwrap_err().code, code::BAD_USER_INPUT);
        let r = scan_document(
            &format!(r#"{{ user(id: """{long}""") {{ id }} }}"#),
            &limits(),
        );
        assert_eq!(r.unwrap_err().code, code::BAD_USER_INPUT);
    }

    #[test]
    fn tokens_directives_and_fragments_are_counted() {
        let many = "{ a @skip(if: false) }";
        assert_eq!(scan_document(many, &limits()), Ok(()));
        let directives = format!("{{ a {} }}", "@skip(if: false) ".repeat(51));
        assert_eq!(
            scan_document(&directives, &limits()).unwrap_err().code,
            code::LIMIT_EXCEEDED
        );
        let fragments: String = (0..101)
            .map(|n| format!("fragment F{n} on Query {{ a }}\n"))
            .collect();
        assert_eq!(
            scan_document(&fragments, &limits()).unwrap_err().code,
            code::LIMIT_EXCEEDED
        );
        let tokens = format!("{{ {} }}", "a ".repeat(60_000));
        assert_eq!(
            scan_document(&tokens, &limits()).unwrap_err().code,
            code::LIMIT_EXCEEDED
        );
    }

    #[test]
    fn json_nesting_and_lone_surrogates() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(
            scan_json(deep.as_bytes(), 32).unwrap_err().code,
            code::LIMIT_EXCEEDED
        );
        assert_eq!(scan_json(br#"{"a": "[[[[[[\"\\ud83d\\ude00"}"#, 3), Ok(()));
        assert_eq!(scan_json(br#"{"a": "\ud83d\ude00"}"#, 3), Ok(()));
        assert_eq!(
            scan_json(br#"{"a": "\ud83d x"}"#, 3).unwrap_err().code,
            code::BAD_USER_INPUT
        );
        assert_eq!(
            scan_json(br#"{"a": "\udc00"}"#, 3).unwrap_err().code,
            code::BAD_USER_INPUT
        );
    }
}
