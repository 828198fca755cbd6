//! The demo's mailbox: every email the demo sends is also kept in memory, newest first, so
//! a person trying Roster reads the invitation (and follows its accept link) in the browser
//! at `/demo/mail` instead of restarting with `ROSTER_MAIL=file:…`.
//!
//! Only `roster demo` builds one. Accept links are secrets, so a mailbox must never be
//! wired into a real deployment: anyone who can reach the server could read them.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::transport::{MailError, MailTransport, OutgoingEmail};

/// How many emails the demo keeps; older ones are dropped first.
pub const DEMO_CAPACITY: usize = 500;

/// One kept email.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptEmail {
    /// Its number in this mailbox, from 1, in the order sent.
    pub id: u64,
    /// When the transport accepted it.
    pub sent_at: DateTime<Utc>,
    /// What was sent.
    pub email: OutgoingEmail,
}

/// The emails sent so far, in memory, bounded.
pub struct Mailbox {
    capacity: usize,
    state: Mutex<State>,
}

struct State {
    next_id: u64,
    /// Oldest first.
    emails: VecDeque<KeptEmail>,
}

// Hand-written: the emails hold accept tokens, which must not reach a log via `{:?}`.
impl fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox")
            .field("capacity", &self.capacity)
            .field("kept", &self.len())
            .finish()
    }
}

impl Mailbox {
    /// An empty mailbox keeping at most `capacity` emails (at least one).
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Mailbox {
            capacity: capacity.max(1),
            state: Mutex::new(State {
                next_id: 1,
                emails: VecDeque::new(),
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the queue half-changed.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `email`; returns its id.
    pub fn keep(&self, email: OutgoingEmail) -> u64 {
        let mut state = self.state();
        let id = state.next_id;
        state.next_id += 1;
        if state.emails.len() >= self.capacity {
            state.emails.pop_front();
        }
        state.emails.push_back(KeptEmail {
            id,
            sent_at: Utc::now(),
            email,
        });
        id
    }

    /// Every kept email, newest first.
    pub fn list(&self) -> Vec<KeptEmail> {
        self.state().emails.iter().rev().cloned().collect()
    }

    /// The kept email with this id, if it is still kept.
    pub fn get(&self, id: u64) -> Option<KeptEmail> {
        self.state().emails.iter().find(|e| e.id == id).cloned()
    }

    /// How many emails are kept.
    pub fn len(&self) -> usize {
        self.state().emails.len()
    }

    /// Whether nothing was kept yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A transport that delivers through `inner` (the configured `ROSTER_MAIL`) and keeps a
/// copy of every email `inner` accepted in `mailbox`.
pub fn keeping(inner: Arc<dyn MailTransport>, mailbox: Arc<Mailbox>) -> Arc<dyn MailTransport> {
    Arc::new(KeepingTransport { inner, mailbox })
}

struct KeepingTransport {
    inner: Arc<dyn MailTransport>,
    mailbox: Arc<Mailbox>,
}

#[async_trait]
impl MailTransport for KeepingTransport {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        // Kept only once sent, so the mailbox shows what left, once per email.
        self.inner.send(email).await?;
        self.mailbox.keep(email.clone());
        Ok(())
    }

    fn describe(&self) -> String {
        format!(
            "{}; kept in the demo mailbox (/demo/mail)",
            self.inner.describe()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::{MailSpec, build_transport};

    fn email(to: &str) -> OutgoingEmail {
        OutgoingEmail {
            to: to.to_owned(),
            subject: "Hi".to_owned(),
            text: "text".to_owned(),
            html: "<p>html</p>".to_owned(),
        }
    }

    #[test]
    fn keeps_newest_first_and_drops_the_oldest_past_capacity() {
        let mailbox = Mailbox::new(2);
        assert!(mailbox.is_empty());
        let a = mailbox.keep(email("a@example.com"));
        let b = mailbox.keep(email("b@example.com"));
        let c = mailbox.keep(email("c@example.com"));
        assert_eq!((a, b, c), (1, 2, 3));
        let kept: Vec<_> = mailbox.list().into_iter().map(|e| e.email.to).collect();
        assert_eq!(kept, ["c@example.com", "b@example.com"]);
        assert!(mailbox.get(a).is_none());
        assert_eq!(
            mailbox.get(b).map(|e| e.email.to).as_deref(),
            Some("b@example.com")
        );
    }

    #[tokio::test]
    async fn keeps_what_the_inner_transport_accepted_only() {
        let mailbox = Mailbox::new(10);
        let inner = build_transport(&MailSpec::Log, "no-reply@example.com").unwrap();
        let transport = keeping(inner, mailbox.clone());
        transport.send(&email("zoe@example.org")).await.unwrap();
        assert!(
            transport
                .send(&email("not an address"))
                .await
                .unwrap_err()
                .is_permanent()
        );
        let kept = mailbox.list();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].email, email("zoe@example.org"));
        assert!(format!("{mailbox:?}").contains("kept: 1"));
    }
}
