//! Text rules shared by every aggregate: how names are validated and compared, and how
//! `search` matches the same way on SQLite and PostgreSQL.
//!
//! Neither database lower-cases non-ASCII text the same way (SQLite's `lower()` and `LIKE`
//! only fold ASCII), so Roster folds case in Rust: each searchable row stores a lower-cased
//! `search_text`, the query is lower-cased the same way, and the database only compares
//! bytes with `LIKE`, which behaves identically on both.

use super::{Error, Result};

/// Longest allowed name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// A validated display name (team, department, role, user): trimmed, 1–100 characters, no
/// control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    /// Validates `raw`; errors name `field`.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(Error::bad_input(
                field,
                format!("{field} must not be empty"),
            ));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(Error::bad_input(
                field,
                format!("{field} must be at most {MAX_NAME_CHARS} characters"),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(Error::bad_input(
                field,
                format!("{field} must not contain control characters"),
            ));
        }
        Ok(Name(name.to_owned()))
    }

    /// The name as entered (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-insensitive comparison key stored beside the name.
    pub fn key(&self) -> String {
        fold(&self.0)
    }

    /// The name, consumed.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Case folding used for keys and search: Unicode lower case.
pub fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// The stored search text of a person: their folded name and email.
pub fn search_text(name: &str, email: &str) -> String {
    format!("{}\u{1f}{}", fold(name), fold(email))
}

/// The `LIKE` pattern for a case-insensitive substring search, with `%`, `_` and the escape
/// character itself matched literally. Use with `ESCAPE '\'`.
pub fn like_pattern(query: &str) -> String {
    let mut pattern = String::with_capacity(query.len() + 2);
    pattern.push('%');
    for c in fold(query).chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The `LIKE` pattern for SQLite's trigram index (`users_search`), when the query can use
/// it: at least three characters (a trigram) and no `%`, `_` or `\\`, which the index's
/// `LIKE` cannot escape. The index only narrows the candidates; `like_pattern` decides.
pub fn trigram_pattern(query: &str) -> Option<String> {
    let folded = fold(query);
    if folded.chars().count() < 3 || folded.contains(['%', '_', '\\']) {
        return None;
    }
    Some(format!("%{folded}%"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(Name::parse("name", "  Core  ").unwrap().as_str(), "Core");
        assert!(Name::parse("name", "   ").is_err());
        assert!(Name::parse("name", "a\u{7}b").is_err());
        assert!(Name::parse("name", &"x".repeat(101)).is_err());
        assert!(Name::parse("name", &"é".repeat(100)).is_ok());
        assert_eq!(Name::parse("name", "ÄPFEL").unwrap().key(), "äpfel");
    }

    #[test]
    fn trigram_patterns_need_three_plain_characters() {
        assert_eq!(trigram_pattern("ÄPf").as_deref(), Some("%äpf%"));
        assert_eq!(trigram_pattern("an"), None);
        assert_eq!(trigram_pattern("100%"), None);
        assert_eq!(trigram_pattern("a_b"), None);
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("ÄPF"), "%äpf%");
        assert_eq!(like_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
    }
}
