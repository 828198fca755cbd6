//! `ROSTER_MAIL=smtp://…` / `smtps://…`: delivery through an SMTP server, with a pooled
//! connection and a bound on the whole exchange.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::spec::{ParseMailSpecError, redact_smtp_url};
use super::{MailError, MailTransport, OutgoingEmail, build_message};

/// How long an SMTP delivery may take, from connecting to the server's final reply.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// `ROSTER_MAIL=smtp://…` / `smtps://…`.
pub(super) struct SmtpTransport {
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

pub(super) fn smtp_builder(url: &str) -> Result<AsyncSmtpTransportBuilder, ParseMailSpecError> {
    AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map_err(|err| ParseMailSpecError(format!("invalid SMTP URL: {err}")))
}

impl SmtpTransport {
    pub(super) fn new(url: &str, from: Mailbox, timeout: Duration) -> Result<Self, MailError> {
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
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;
    use tokio::sync::mpsc;

    use super::super::tests::{LINK, decoded_parts, sample_email};
    use super::super::{MailSpec, build_transport};
    use super::*;

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
