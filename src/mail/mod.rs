//! Outgoing email.
//!
//! [`transport`] turns an [`OutgoingEmail`] into an RFC 5322 message and hands it to one of
//! three back ends chosen by the `ROSTER_MAIL` setting ([`MailSpec`]): the log (development
//! default, nothing leaves the process), a directory of `.eml` files (tests and local
//! inspection) or an SMTP server. [`template`] renders the emails Roster sends.
//!
//! In `roster demo`, [`mailbox`] also keeps every sent email in memory for the browser.
//!
//! Nothing here touches the database: callers queue emails in the outbox and a worker calls
//! [`MailTransport::send`], retrying [`MailError::Transient`] failures with backoff.

pub mod mailbox;
pub mod template;
pub mod transport;

pub use transport::{MailError, MailSpec, MailTransport, OutgoingEmail, build_transport};
