//! `ROSTER_MAIL=log`: the development default; nothing leaves the process.

use async_trait::async_trait;
use lettre::message::Mailbox;

use super::{MailError, MailTransport, OutgoingEmail, build_message};

/// `ROSTER_MAIL=log`: nothing is delivered.
pub(super) struct LogTransport {
    pub(super) from: Mailbox,
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

#[cfg(test)]
mod tests {
    use std::fmt;
    use std::sync::{Arc, Mutex as StdMutex};

    use super::super::tests::sample_email;
    use super::super::{MailSpec, build_transport};

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
}
