//! Email addresses: parsed once into a normalized form, so nothing else has to re-check.

use super::{Error, Result};

/// A syntactically valid, lower-cased email address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Longest accepted address (RFC 5321's path limit).
const MAX_LEN: usize = 254;

impl Email {
    /// Parses and normalizes an address: trimmed, lower-cased, one `@`, a non-empty local
    /// part, a domain of dot-separated labels, no spaces or control characters.
    pub fn parse(raw: &str) -> Option<Self> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() || email.len() > MAX_LEN {
            return None;
        }
        let (local, domain) = email.split_once('@')?;
        if local.is_empty()
            || local.len() > 64
            || domain.contains('@')
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
        {
            return None;
        }
        if email.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(
                    c,
                    '<' | '>' | ',' | ';' | '"' | '(' | ')' | '[' | ']' | '\\'
                )
        }) {
            return None;
        }
        if !is_domain(domain) || !domain.contains('.') {
            return None;
        }
        Some(Email(email))
    }

    /// Like `parse`, as a service error naming `field`.
    pub fn parse_field(field: &'static str, raw: &str) -> Result<Self> {
        Self::parse(raw)
            .ok_or_else(|| Error::bad_input(field, format!("`{raw}` is not a valid email address")))
    }

    /// The normalized address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit('@').next().unwrap_or_default()
    }

    /// The normalized address, consumed.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Whether `domain` is a plausible DNS name: labels of letters, digits and hyphens (any
/// Unicode letter, for internationalized domains), none empty or hyphen-edged.
pub fn is_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.chars().count() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// Normalizes an allowed-domain entry (`Example.COM` → `example.com`, a leading `@` dropped).
pub fn normalize_domain(raw: &str) -> Option<String> {
    let d = raw.trim().trim_start_matches('@').to_lowercase();
    (is_domain(&d) && d.contains('.')).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        assert_eq!(
            Email::parse("jörg@bücher.de").unwrap().domain(),
            "bücher.de"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@x.com",
            "a b@x.com",
            "a@@x.com",
            "a@x",
            "a@-x.com",
            "a..b@x.com",
            "<a@x.com>",
        ] {
            assert!(Email::parse(bad).is_none(), "{bad} should be refused");
        }
    }

    #[test]
    fn domains_are_normalized() {
        assert_eq!(
            normalize_domain(" @Example.COM").as_deref(),
            Some("example.com")
        );
        assert_eq!(normalize_domain("localhost"), None);
        assert_eq!(normalize_domain("ex ample.com"), None);
    }
}
