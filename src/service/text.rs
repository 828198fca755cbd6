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
/// it: a selective fragment (`selective_fragment`) of at least three characters (a trigram)
/// and no `%`, `_` or `\\`, which the index's `LIKE` cannot escape. The index only narrows
/// the candidates; the whole query decides.
pub fn trigram_pattern(query: &str) -> Option<String> {
    let folded = fold(query);
    let fragment = selective_fragment(&folded)?;
    if fragment.contains(['%', '_', '\\']) {
        return None;
    }
    Some(format!("%{fragment}%"))
}

/// The part of a folded search query that a trigram index should look up: every match of
/// the query contains it, and it is at least three characters long (else `None`: no trigram).
///
/// For an email address that is its local part. Within an organization most people share
/// the domain, so the domain's trigrams (`glo`, `lob`, `exa`, `amp`, …) each list nearly
/// every user of the account and looking them up costs more than the rest of the search
/// together; the local part names the person. Anything else is looked up whole.
pub fn selective_fragment(folded: &str) -> Option<&str> {
    let fragment = match folded.split_once('@') {
        Some((local, _)) if local.chars().count() >= 3 => local,
        _ => folded,
    };
    (fragment.chars().count() >= 3).then_some(fragment)
}

/// A lower-case ASCII transliteration of a name, keeping only letters and digits, for the
/// local part of generated email addresses (`roster demo`, `roster seed`): "Zoë Ødegaard"
/// becomes `zoeodegaard`, "Ælfrida" `aelfrida`. Letters it does not know are dropped.
pub fn ascii_fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        let folded = match c {
            'á' | 'à' | 'ä' | 'å' | 'â' | 'ã' | 'ā' | 'ą' => "a",
            'é' | 'è' | 'ë' | 'ê' | 'ę' | 'ě' | 'ē' | 'ễ' | 'ế' | 'ề' | 'ể' | 'ệ' => {
                "e"
            }
            'í' | 'ì' | 'ï' | 'î' | 'ı' => "i",
            'ó' | 'ò' | 'ö' | 'ø' | 'ô' | 'õ' | 'ő' => "o",
            'ú' | 'ù' | 'ü' | 'û' | 'ů' | 'ű' => "u",
            'ý' | 'ÿ' => "y",
            'ñ' | 'ń' | 'ň' => "n",
            'ç' | 'č' | 'ć' => "c",
            'ł' => "l",
            'ř' => "r",
            'š' | 'ś' | 'ș' | 'ş' => "s",
            'ž' | 'ź' | 'ż' => "z",
            'ț' | 'ţ' | 'ť' => "t",
            'đ' | 'ď' | 'ð' => "d",
            'ğ' => "g",
            'æ' => "ae",
            'œ' => "oe",
            'ß' => "ss",
            'þ' => "th",
            c if c.is_ascii_alphanumeric() => {
                out.push(c);
                continue;
            }
            _ => continue,
        };
        out.push_str(folded);
    }
    out
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
        assert_eq!(
            trigram_pattern("Zoe.Odegaard4711@Globex.Example").as_deref(),
            Some("%zoe.odegaard4711%")
        );
        assert_eq!(trigram_pattern("100%@x.example"), None);
    }

    #[test]
    fn an_email_is_looked_up_by_its_local_part() {
        assert_eq!(
            selective_fragment("ann.lee7@globex.example"),
            Some("ann.lee7")
        );
        // Too short a local part: the whole query, which still contains every match.
        assert_eq!(
            selective_fragment("al@globex.example"),
            Some("al@globex.example")
        );
        assert_eq!(
            selective_fragment("@globex.example"),
            Some("@globex.example")
        );
        assert_eq!(selective_fragment("lovelace"), Some("lovelace"));
        assert_eq!(selective_fragment("lo"), None);
    }

    #[test]
    fn ascii_fold_transliterates_accents() {
        assert_eq!(ascii_fold("Zoë Müller"), "zoemuller");
        assert_eq!(ascii_fold("Ælfrida Øvergaard"), "aelfridaovergaard");
        assert_eq!(ascii_fold("José Núñez-Petrović"), "josenunezpetrovic");
        assert_eq!(ascii_fold("Strauß 2"), "strauss2");
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("ÄPF"), "%äpf%");
        assert_eq!(like_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
    }
}
