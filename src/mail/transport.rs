//! Mail transports: the `ROSTER_MAIL` setting, message building and delivery.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::MessageId;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

/// How long an SMTP delivery may take, from connecting to the server's final reply.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// One email ready to send: a single recipient, a subject and two renderings of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// Recipient address (`user@example.com` or `Name <user@example.com>`).
    pub to: String,
    /// Subject line; control characters are replaced by spaces when the message is built.
    pub subject: String,
    /// The `text/plain` alternative.
    pub text: String,
    /// The `text/html` alternative.
    pub html: String,
}

/// Why an email could not be sent, split by whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// Retrying the same email will fail the same way: an invalid address, a message the
    /// server refused with a 5xx reply, or a transport that cannot be configured.
    #[error("permanent mail failure: {0}")]
    Permanent(String),
    /// The failure may go away on its own: connection refused, timeout, a 4xx reply, a full
    /// disk. The outbox worker retries these with backoff.
    #[error("transient mail failure: {0}")]
    Transient(String),
}

impl MailError {
    /// True when retrying may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, MailError::Transient(_))
    }

    /// True when retrying cannot succeed.
    pub fn is_permanent(&self) -> bool {
        matches!(self, MailError::Permanent(_))
    }
}

/// Delivers [`OutgoingEmail`]s. Implementations are shared across tasks behind an `Arc`.
#[async_trait]
pub trait MailTransport: Send + Sync {
    /// Sends one email. `Ok` means the message was accepted (by the SMTP server, the file
    /// system or the log), not that it reached the recipient's inbox.
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError>;

    /// A one-line description for startup logs; never contains credentials.
    fn describe(&self) -> String;
}

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
pub struct ParseMailSpecError(String);

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
fn redact_smtp_url(url: &str) -> String {
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

/// Builds the transport described by `spec`, sending as `from` (`addr@example.com` or
/// `Name <addr@example.com>`).
///
/// Fails with [`MailError::Permanent`] when `from` is not an address, the SMTP URL is invalid
/// or the `file:` directory cannot be created. Does not contact the SMTP server, and may be
/// called before the tokio runtime starts.
pub fn build_transport(spec: &MailSpec, from: &str) -> Result<Arc<dyn MailTransport>, MailError> {
    let from: Mailbox = from
        .trim()
        .parse()
        .map_err(|err| MailError::Permanent(format!("invalid sender address: {err}")))?;
    match spec {
        MailSpec::Log => Ok(Arc::new(LogTransport { from })),
        MailSpec::File(dir) => {
            std::fs::create_dir_all(dir).map_err(|err| {
                MailError::Permanent(format!(
                    "cannot create mail directory {}: {err}",
                    dir.display()
                ))
            })?;
            Ok(Arc::new(FileTransport {
                dir: dir.clone(),
                from,
            }))
        }
        MailSpec::Smtp(url) => Ok(Arc::new(SmtpTransport::new(url, from, SMTP_TIMEOUT)?)),
    }
}

/// Builds the message every transport delivers, so that the log, the `.eml` files and SMTP
/// all see exactly what a recipient would.
fn build_message(from: &Mailbox, email: &OutgoingEmail) -> Result<Message, MailError> {
    let to: Mailbox = email.to.trim().parse().map_err(|err| {
        MailError::Permanent(format!("invalid recipient address {:?}: {err}", email.to))
    })?;
    // RFC 5322 recommends a Message-ID in the sender's domain; uuid v7 keeps it unique
    // without asking the OS for a host name on every send.
    let message_id = format!("<{}@{}>", Uuid::now_v7(), from.email.domain());
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(single_line(&email.subject))
        .header(MessageId::from(message_id))
        // `alternative_plain_html` lets lettre pick 7bit, quoted-printable or base64 per part
        // and labels both parts `charset=utf-8`.
        .multipart(MultiPart::alternative_plain_html(
            email.text.clone(),
            email.html.clone(),
        ))
        .map_err(|err| MailError::Permanent(format!("cannot build message: {err}")))
}

/// Subjects are built from user-chosen names; a newline in one must not start a new header.
fn single_line(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `ROSTER_MAIL=log`: nothing is delivered.
struct LogTransport {
    from: Mailbox,
}

#[async_trait]
impl MailTransport for LogTransport {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        // Built only to reject the same bad addresses the real transports would.
        build_message(&self.from, email)?;
        // The body stays out of the log: invitation emails carry a secret accept token.
        tracing::info!(
            to = %email.to,
            subject = %email.subject,
            "email not delivered (mail transport is `log`); body omitted"
        );
        Ok(())
    }

    fn describe(&self) -> String {
        "log (emails are logged without their body, not delivered)".to_owned()
    }
}

/// `ROSTER_MAIL=file:DIR`: one `.eml` file per email.
struct FileTransport {
    dir: PathBuf,
    from: Mailbox,
}

#[async_trait]
impl MailTransport for FileTransport {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        let message = build_message(&self.from, email)?;
        let bytes = message.formatted();
        // Someone clearing out the directory during development should not break sending.
        tokio::fs::create_dir_all(&self.dir).await.map_err(|err| {
            MailError::Transient(format!(
                "cannot create mail directory {}: {err}",
                self.dir.display()
            ))
        })?;
        // Millisecond prefix keeps `ls` in send order; the v7 uuid makes names unique.
        let name = format!(
            "{}-{}.eml",
            chrono::Utc::now().timestamp_millis(),
            Uuid::now_v7()
        );
        let path = self.dir.join(&name);
        // Dot-prefixed and not ending in `.eml`, so readers globbing `*.eml` skip it.
        let temp = self.dir.join(format!(".{name}.tmp"));
        write_atomically(&temp, &path, &bytes)
            .await
            .map_err(|err| {
                MailError::Transient(format!("cannot write {}: {err}", path.display()))
            })?;
        tracing::debug!(to = %email.to, path = %path.display(), "email written");
        Ok(())
    }

    fn describe(&self) -> String {
        format!(
            "file:{} (emails are written as .eml files)",
            self.dir.display()
        )
    }
}

/// Writes `bytes` to `temp` and renames it to `path`: a rename within one directory is
/// atomic, so a reader sees either no file or the complete message.
async fn write_atomically(temp: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let result = async {
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(temp)
            .await?;
        file.write_all(bytes).await?;
        // Without the sync a crash shortly after the rename can leave an empty file behind.
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(temp, path).await
    }
    .await;
    if result.is_err() {
        // Best effort: the write error is the one worth reporting.
        let _ = tokio::fs::remove_file(temp).await;
    }
    result
}

/// `ROSTER_MAIL=smtp://…` / `smtps://…`.
struct SmtpTransport {
    builder: AsyncSmtpTransportBuilder,
    /// lettre's pooled transport spawns a tokio task when built, so it is built on first use
    /// (inside the runtime) rather than in [`build_transport`]. The generation lets a send
    /// that timed out discard exactly the pool it used.
    live: Mutex<Option<(u64, AsyncSmtpTransport<Tokio1Executor>)>>,
    generation: std::sync::atomic::AtomicU64,
    from: Mailbox,
    timeout: Duration,
    description: String,
}

fn smtp_builder(url: &str) -> Result<AsyncSmtpTransportBuilder, ParseMailSpecError> {
    AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map_err(|err| ParseMailSpecError(format!("invalid SMTP URL: {err}")))
}

impl SmtpTransport {
    fn new(url: &str, from: Mailbox, timeout: Duration) -> Result<Self, MailError> {
        let builder = smtp_builder(url)
            .map_err(|err| MailError::Permanent(err.to_string()))?
            // lettre applies this to connecting only; `send` bounds the whole exchange.
            .timeout(Some(timeout));
        Ok(Self {
            builder,
            live: Mutex::new(None),
            generation: std::sync::atomic::AtomicU64::new(0),
            from,
            timeout,
            description: redact_smtp_url(url),
        })
    }

    fn transport(&self) -> (u64, AsyncSmtpTransport<Tokio1Executor>) {
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((generation, transport)) = live.as_ref() {
            return (*generation, transport.clone());
        }
        let generation = self
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let transport = self.builder.clone().build();
        *live = Some((generation, transport.clone()));
        (generation, transport)
    }

    /// Drops the pool a timed-out send used: its connection may be parked mid-command, and
    /// reusing it would pair later commands with stale replies.
    fn discard(&self, generation: u64) {
        let stale = {
            let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
            match live.as_ref() {
                Some((current, _)) if *current == generation => live.take(),
                _ => None,
            }
        };
        // Dropped outside the lock: dropping the pool spawns its shutdown task.
        drop(stale);
    }
}

#[async_trait]
impl MailTransport for SmtpTransport {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        let message = build_message(&self.from, email)?;
        let (generation, transport) = self.transport();
        // lettre's async client has no read timeout, so a server that stops answering would
        // otherwise hold the worker forever.
        match tokio::time::timeout(self.timeout, transport.send(message)).await {
            Ok(Ok(_response)) => Ok(()),
            Ok(Err(err)) if err.is_permanent() => Err(MailError::Permanent(format!(
                "SMTP server rejected the email: {err}"
            ))),
            // Beyond 4xx replies this covers refused connections, TLS and protocol errors:
            // none says the message itself is bad, and the server or its configuration may
            // recover, so the worker's bounded retries are the right response.
            Ok(Err(err)) => Err(MailError::Transient(format!("SMTP delivery failed: {err}"))),
            Err(_elapsed) => {
                self.discard(generation);
                Err(MailError::Transient(format!(
                    "SMTP server did not finish within {} ms",
                    self.timeout.as_millis()
                )))
            }
        }
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

impl Drop for SmtpTransport {
    fn drop(&mut self) {
        // Dropping lettre's pool spawns a tokio task, which panics outside a runtime (e.g.
        // when the transport outlives `main`'s runtime). Leaking it then is harmless: the
        // process is exiting and the OS closes the sockets.
        if tokio::runtime::Handle::try_current().is_err() {
            let live = self
                .live
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            std::mem::forget(live);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;
    use tokio::sync::mpsc;

    const LINK: &str = "https://roster.example.com/accept-invite?token=AbC-123_xyz";

    fn sample_email() -> OutgoingEmail {
        OutgoingEmail {
            to: "zoe@example.org".to_owned(),
            subject: "You're invited to join Acme on Roster".to_owned(),
            text: format!("Hello Zoë,\n\nAccept here:\n\n{LINK}\n"),
            html: format!(
                "<!DOCTYPE html><html><body><p>Hello Zoë, a long line so that lettre has to \
                 pick quoted-printable for this part.</p><p><a href=\"{LINK}\">Accept</a></p>\
                 </body></html>"
            ),
        }
    }

    // ---- decoding helpers, so assertions see the text a mail client would show ----

    fn decode_quoted_printable(body: &str) -> String {
        let bytes = body.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' {
                if bytes[i + 1..].starts_with(b"\r\n") {
                    i += 3;
                    continue;
                }
                if bytes[i + 1..].starts_with(b"\n") {
                    i += 2;
                    continue;
                }
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    fn decode_base64(body: &str) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = Vec::new();
        let mut acc = 0u32;
        let mut bits = 0;
        for c in body
            .bytes()
            .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        {
            let value = ALPHABET.iter().position(|a| *a == c).unwrap() as u32;
            acc = (acc << 6) | value;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    /// Splits a formatted `multipart/alternative` message into `(content type, decoded body)`.
    pub(crate) fn decoded_parts(raw: &str) -> Vec<(String, String)> {
        let start = raw.find("boundary=\"").unwrap() + "boundary=\"".len();
        let boundary = &raw[start..start + raw[start..].find('"').unwrap()];
        let delimiter = format!("--{boundary}");
        let mut parts = Vec::new();
        for chunk in raw.split(delimiter.as_str()).skip(1) {
            if chunk.starts_with("--") {
                break;
            }
            let (headers, body) = chunk.split_once("\r\n\r\n").unwrap();
            let headers_lower = headers.to_ascii_lowercase();
            let content_type = if headers_lower.contains("text/plain") {
                "text/plain"
            } else if headers_lower.contains("text/html") {
                "text/html"
            } else {
                "other"
            };
            assert!(headers_lower.contains("charset=utf-8"), "{headers}");
            let body = if headers_lower.contains("content-transfer-encoding: quoted-printable") {
                decode_quoted_printable(body)
            } else if headers_lower.contains("content-transfer-encoding: base64") {
                decode_base64(body)
            } else {
                body.to_owned()
            };
            parts.push((content_type.to_owned(), body.replace("\r\n", "\n")));
        }
        parts
    }

    fn unique_temp_dir() -> PathBuf {
        std::env::temp_dir().join(format!("roster-mail-test-{}", Uuid::now_v7()))
    }

    fn list_dir(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    // ---- MailSpec ----

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

    // ---- message building ----

    #[test]
    fn rejects_bad_addresses_permanently() {
        let from: Mailbox = "no-reply@example.com".parse().unwrap();
        let mut email = sample_email();
        email.to = "not an address".to_owned();
        assert!(build_message(&from, &email).unwrap_err().is_permanent());

        let err = build_transport(&MailSpec::Log, "nobody").err().unwrap();
        assert!(err.is_permanent(), "{err}");
    }

    #[test]
    fn subject_newlines_cannot_inject_headers() {
        let from: Mailbox = "no-reply@example.com".parse().unwrap();
        let mut email = sample_email();
        email.subject = "Hi\r\nBcc: victim@example.net".to_owned();
        let raw = String::from_utf8(build_message(&from, &email).unwrap().formatted()).unwrap();
        assert!(!raw.contains("\r\nBcc:"), "{raw}");
    }

    // ---- log transport ----

    /// Collects every field of every event, to check what the log transport records.
    #[derive(Clone, Default)]
    struct Capture(Arc<StdMutex<String>>);

    struct FieldWriter<'a>(&'a mut String);

    impl tracing::field::Visit for FieldWriter<'_> {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
            self.0.push_str(&format!("{}={:?} ", field.name(), value));
        }
    }

    impl tracing::Subscriber for Capture {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            let mut captured = self.0.lock().unwrap();
            event.record(&mut FieldWriter(&mut captured));
            captured.push('\n');
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    #[tokio::test(flavor = "current_thread")]
    async fn log_transport_logs_recipient_and_subject_but_never_the_body() {
        let capture = Capture::default();
        let _guard = tracing::subscriber::set_default(capture.clone());
        let transport = build_transport(&MailSpec::Log, "no-reply@example.com").unwrap();
        transport.send(&sample_email()).await.unwrap();

        let logged = capture.0.lock().unwrap().clone();
        assert!(logged.contains("zoe@example.org"), "{logged}");
        assert!(logged.contains("invited to join Acme"), "{logged}");
        assert!(!logged.contains("token="), "{logged}");
        assert!(!logged.contains("Hello"), "{logged}");
    }

    // ---- file transport ----

    #[tokio::test]
    async fn file_transport_writes_one_complete_eml_per_send() {
        let dir = unique_temp_dir().join("nested");
        let transport = build_transport(
            &MailSpec::File(dir.clone()),
            "Roster <no-reply@roster.example.com>",
        )
        .unwrap();
        assert!(dir.is_dir(), "build_transport creates the directory");

        transport.send(&sample_email()).await.unwrap();
        let names = list_dir(&dir);
        assert_eq!(names.len(), 1, "{names:?}");
        let name = &names[0];
        assert!(name.ends_with(".eml"), "{name}");
        let (millis, rest) = name.split_once('-').unwrap();
        assert!(millis.parse::<i64>().unwrap() > 1_600_000_000_000, "{name}");
        assert!(
            Uuid::parse_str(rest.trim_end_matches(".eml")).is_ok(),
            "{name}"
        );

        let raw = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(raw.contains("To: zoe@example.org\r\n"), "{raw}");
        assert!(
            raw.contains("Subject: You're invited to join Acme on Roster\r\n"),
            "{raw}"
        );
        assert!(raw.contains("Message-ID: <"), "{raw}");
        assert!(raw.contains("@roster.example.com>"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        let parts = decoded_parts(&raw);
        let kinds: Vec<&str> = parts.iter().map(|(kind, _)| kind.as_str()).collect();
        assert_eq!(kinds, ["text/plain", "text/html"]);
        for (kind, body) in &parts {
            assert!(body.contains(LINK), "{kind}: {body}");
            assert!(body.contains("Zoë"), "{kind}: {body}");
        }

        transport.send(&sample_email()).await.unwrap();
        let names = list_dir(&dir);
        assert_eq!(names.len(), 2, "no temp files are left behind: {names:?}");
        assert!(names.iter().all(|n| n.ends_with(".eml")), "{names:?}");

        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[tokio::test]
    async fn file_transport_rejects_bad_recipient_without_writing() {
        let dir = unique_temp_dir();
        let transport =
            build_transport(&MailSpec::File(dir.clone()), "no-reply@example.com").unwrap();
        let mut email = sample_email();
        email.to = "@@".to_owned();
        assert!(transport.send(&email).await.unwrap_err().is_permanent());
        assert!(list_dir(&dir).is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }

    // ---- SMTP transport ----

    /// A minimal SMTP server on 127.0.0.1: answers RCPT with `rcpt_reply` and forwards each
    /// message received through DATA.
    async fn smtp_sink(rcpt_reply: &'static str) -> (u16, mpsc::UnboundedReceiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut reader = BufReader::new(read);
                    write.write_all(b"220 sink ESMTP ready\r\n").await.unwrap();
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                        let reply: &str = match verb.as_str() {
                            "EHLO" | "HELO" => "250 sink\r\n",
                            "MAIL" | "RSET" | "NOOP" => "250 OK\r\n",
                            "RCPT" => rcpt_reply,
                            "DATA" => {
                                write
                                    .write_all(b"354 end with <CRLF>.<CRLF>\r\n")
                                    .await
                                    .unwrap();
                                let mut data = String::new();
                                loop {
                                    line.clear();
                                    if reader.read_line(&mut line).await.unwrap() == 0 {
                                        return;
                                    }
                                    if line == ".\r\n" {
                                        break;
                                    }
                                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                                }
                                let _ = tx.send(data);
                                "250 queued\r\n"
                            }
                            "QUIT" => {
                                let _ = write.write_all(b"221 bye\r\n").await;
                                return;
                            }
                            _ => "500 unrecognised command\r\n",
                        };
                        write.write_all(reply.as_bytes()).await.unwrap();
                    }
                });
            }
        });
        (port, rx)
    }

    #[tokio::test]
    async fn smtp_round_trip_delivers_both_parts() {
        let (port, mut received) = smtp_sink("250 OK\r\n").await;
        let spec: MailSpec = format!("smtp://127.0.0.1:{port}").parse().unwrap();
        let transport = build_transport(&spec, "Roster <no-reply@roster.example.com>").unwrap();

        for _ in 0..2 {
            transport.send(&sample_email()).await.unwrap();
            let raw = tokio::time::timeout(Duration::from_secs(5), received.recv())
                .await
                .unwrap()
                .unwrap();
            assert!(raw.contains("To: zoe@example.org\r\n"), "{raw}");
            assert!(
                raw.contains("From: Roster <no-reply@roster.example.com>"),
                "{raw}"
            );
            let parts = decoded_parts(&raw);
            assert_eq!(parts.len(), 2);
            assert!(
                parts.iter().all(|(_, body)| body.contains(LINK)),
                "{parts:?}"
            );
        }
    }

    #[tokio::test]
    async fn smtp_5xx_is_permanent_and_4xx_is_transient() {
        let (port, _received) = smtp_sink("550 5.1.1 no such user\r\n").await;
        let transport = build_transport(
            &format!("smtp://127.0.0.1:{port}").parse().unwrap(),
            "a@example.com",
        )
        .unwrap();
        let err = transport.send(&sample_email()).await.unwrap_err();
        assert!(err.is_permanent(), "{err}");
        assert!(err.to_string().contains("550"), "{err}");

        let (port, _received) = smtp_sink("451 4.3.0 try again later\r\n").await;
        let transport = build_transport(
            &format!("smtp://127.0.0.1:{port}").parse().unwrap(),
            "a@example.com",
        )
        .unwrap();
        let err = transport.send(&sample_email()).await.unwrap_err();
        assert!(err.is_transient(), "{err}");
    }

    #[tokio::test]
    async fn smtp_connection_refused_is_transient() {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap().port()
        };
        let spec: MailSpec = format!("smtp://127.0.0.1:{port}").parse().unwrap();
        let transport = build_transport(&spec, "no-reply@example.com").unwrap();
        let err = transport.send(&sample_email()).await.unwrap_err();
        assert!(err.is_transient(), "{err}");
    }

    #[tokio::test]
    async fn smtp_silent_server_times_out_as_transient() {
        // Accepts connections but never greets, like a wedged relay.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = tokio::spawn(async move {
            let mut sockets = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                sockets.push(socket);
            }
        });
        let transport = SmtpTransport::new(
            &format!("smtp://127.0.0.1:{port}"),
            "no-reply@example.com".parse().unwrap(),
            Duration::from_millis(300),
        )
        .unwrap();
        let err = transport.send(&sample_email()).await.unwrap_err();
        assert!(err.is_transient(), "{err}");
        assert!(err.to_string().contains("did not finish"), "{err}");
        assert!(
            transport.live.lock().unwrap().is_none(),
            "the stale pool is dropped"
        );
        held.abort();
    }

    #[test]
    fn smtp_transport_can_be_built_and_dropped_outside_a_runtime() {
        let spec: MailSpec = "smtp://localhost:1025".parse().unwrap();
        let transport = build_transport(&spec, "no-reply@example.com").unwrap();
        assert_eq!(transport.describe(), "smtp://localhost:1025");
        drop(transport);

        // A transport whose pool was built inside a runtime may still be dropped after it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let spec: MailSpec = format!("smtp://127.0.0.1:{port}").parse().unwrap();
        let transport = build_transport(&spec, "no-reply@example.com").unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let result = runtime.block_on(transport.send(&sample_email()));
        assert!(result.unwrap_err().is_transient());
        drop(runtime);
        drop(transport);
    }
}
