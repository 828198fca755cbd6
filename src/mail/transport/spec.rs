//! The `ROSTER_MAIL` setting: which transport, parsed once at startup, shown without
//! credentials.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::smtp::smtp_builder;

/// Where mail goes: the parsed value of the `ROSTER_MAIL` setting.
///
/// Accepted values:
/// - `log`: log the recipient and subject of each email and deliver nothing.
/// - `file:DIR` (or `file:///abs/dir`): write each email as an `.eml` file into `DIR`.
/// - `smtp://[user:pass@]host[:port][?tls=required|opportunistic]`: SMTP. Without `tls` the
///   connection is plaintext (port 25 by default), which suits local sinks such as Mailpit or
///   MailHog (`smtp://localhost:1025`); `tls=required` / `tls=opportunistic` use STARTTLS
///   (port 587 by default). User name and password must be percent-encoded.
/// - `smtps://[user:pass@]host[:port]`: SMTP over implicit TLS (port 465 by default).
#[derive(Clone, PartialEq, Eq)]
pub enum MailSpec {
    /// Log recipient and subject only.
    Log,
    /// Write `.eml` files into this directory.
    File(PathBuf),
    /// Deliver through the SMTP server at this `smtp://` or `smtps://` URL.
    Smtp(String),
}

/// A `ROSTER_MAIL` value that is not a valid [`MailSpec`]. The message says what is wrong
/// with the value but never repeats it, since SMTP URLs may carry a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseMailSpecError(pub(super) String);

const EXPECTED_FORMS: &str =
    "expected `log`, `file:DIR`, `smtp://HOST[:PORT]` or `smtps://HOST[:PORT]`";

impl FromStr for MailSpec {
    type Err = ParseMailSpecError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let value = value.trim();
        if value.is_empty() {
            return Err(ParseMailSpecError(format!("is empty; {EXPECTED_FORMS}")));
        }
        if value.eq_ignore_ascii_case("log") {
            return Ok(MailSpec::Log);
        }
        if let Some(rest) = strip_prefix_ignore_case(value, "file:") {
            return parse_file_dir(rest).map(MailSpec::File);
        }
        if let Some((scheme, _)) = value.split_once("://") {
            if scheme.eq_ignore_ascii_case("smtp") || scheme.eq_ignore_ascii_case("smtps") {
                // Let lettre judge the URL now so that a typo fails at startup rather than
                // on the first invitation.
                smtp_builder(value).map_err(|err| ParseMailSpecError(err.to_string()))?;
                return Ok(MailSpec::Smtp(value.to_owned()));
            }
            return Err(ParseMailSpecError(format!(
                "unsupported scheme `{scheme}`; {EXPECTED_FORMS}"
            )));
        }
        Err(ParseMailSpecError(format!(
            "is not a recognised mail transport; {EXPECTED_FORMS}"
        )))
    }
}

fn strip_prefix_ignore_case<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &value[prefix.len()..])
}

fn parse_file_dir(rest: &str) -> Result<PathBuf, ParseMailSpecError> {
    let dir = match rest.strip_prefix("//") {
        // `file:///abs/dir` is the URL spelling of `file:/abs/dir`.
        Some(after_host) if after_host.starts_with('/') => after_host,
        // `file://dir` looks relative but would name a host; refuse rather than guess.
        Some(_) => {
            return Err(ParseMailSpecError(
                "`file://` must be followed by an absolute path (`file:///var/mail`); \
                 for a relative directory write `file:DIR`"
                    .to_owned(),
            ));
        }
        None => rest,
    };
    if dir.is_empty() {
        return Err(ParseMailSpecError(
            "`file:` needs a directory, e.g. `file:./mail-outbox`".to_owned(),
        ));
    }
    Ok(PathBuf::from(dir))
}

impl fmt::Display for MailSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailSpec::Log => f.write_str("log"),
            MailSpec::File(dir) => write!(f, "file:{}", dir.display()),
            MailSpec::Smtp(url) => f.write_str(&redact_smtp_url(url)),
        }
    }
}

// Hand-written so that `{:?}` in logs and test failures cannot leak an SMTP password.
impl fmt::Debug for MailSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailSpec::Log => f.write_str("Log"),
            MailSpec::File(dir) => f.debug_tuple("File").field(dir).finish(),
            MailSpec::Smtp(url) => f.debug_tuple("Smtp").field(&redact_smtp_url(url)).finish(),
        }
    }
}

/// Replaces the `user:pass@` part of an SMTP URL with `***@`.
pub(super) fn redact_smtp_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rfind('@') {
        Some(at) => format!("{scheme}://***@{}{tail}", &authority[at + 1..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::build_transport;
    use super::*;

    #[test]
    fn parses_good_specs() {
        assert_eq!("log".parse::<MailSpec>().unwrap(), MailSpec::Log);
        assert_eq!(" LOG ".parse::<MailSpec>().unwrap(), MailSpec::Log);
        assert_eq!(
            "file:./mail-out".parse::<MailSpec>().unwrap(),
            MailSpec::File(PathBuf::from("./mail-out"))
        );
        assert_eq!(
            "file:/var/spool/roster".parse::<MailSpec>().unwrap(),
            MailSpec::File(PathBuf::from("/var/spool/roster"))
        );
        assert_eq!(
            "file:///var/spool/roster".parse::<MailSpec>().unwrap(),
            MailSpec::File(PathBuf::from("/var/spool/roster"))
        );
        for url in [
            "smtp://localhost:1025",
            "smtp://mail.example.com",
            "smtp://user:p%40ss@mail.example.com:587?tls=required",
            "smtp://mail.example.com?tls=opportunistic",
            "smtps://user:pass@mail.example.com",
            "smtps://mail.example.com:465",
        ] {
            assert_eq!(
                url.parse::<MailSpec>().unwrap(),
                MailSpec::Smtp(url.to_owned()),
                "{url}"
            );
        }
    }

    #[test]
    fn rejects_bad_specs() {
        let cases = [
            ("", "empty"),
            ("   ", "empty"),
            ("logs", "not a recognised"),
            ("sendmail", "not a recognised"),
            ("file:", "needs a directory"),
            ("file://relative/dir", "absolute path"),
            ("http://mail.example.com", "unsupported scheme `http`"),
            ("smtp://", "invalid SMTP URL"),
            ("smtp://mail.example.com?tls=sometimes", "invalid SMTP URL"),
            ("smtp://mail.example.com:99999", "invalid SMTP URL"),
        ];
        for (value, expected) in cases {
            let err = value.parse::<MailSpec>().unwrap_err().to_string();
            assert!(err.contains(expected), "{value:?} gave {err:?}");
        }
    }

    #[test]
    fn spec_display_and_debug_hide_credentials() {
        let spec: MailSpec = "smtp://bob:hunter2@mail.example.com:587?tls=required"
            .parse()
            .unwrap();
        for shown in [spec.to_string(), format!("{spec:?}")] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(!shown.contains("bob"), "{shown}");
            assert!(
                shown.contains("mail.example.com:587?tls=required"),
                "{shown}"
            );
        }
        let transport = build_transport(&spec, "Roster <no-reply@example.com>").unwrap();
        assert!(!transport.describe().contains("hunter2"));
        assert!(transport.describe().contains("***@mail.example.com"));
    }
}
