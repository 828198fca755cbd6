//! Mail transports: the `ROSTER_MAIL` setting (`spec`), message building and delivery
//! through one of three back ends (`log`, `file`, `smtp`). This file holds what they share:
//! the email, the error, the transport interface and the message every transport delivers.

mod file;
mod log;
mod smtp;
mod spec;

use std::sync::Arc;

use async_trait::async_trait;
use lettre::Message;
use lettre::message::header::MessageId;
use lettre::message::{Mailbox, MultiPart};
use uuid::Uuid;

use self::file::FileTransport;
use self::log::LogTransport;
use self::smtp::SmtpTransport;
pub use smtp::SMTP_TIMEOUT;
pub use spec::{MailSpec, ParseMailSpecError};

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

#[cfg(test)]
pub(crate) mod tests;
