//! `ROSTER_MAIL=file:DIR`: one `.eml` file per email, for tests and local inspection.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use lettre::message::Mailbox;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use super::{MailError, MailTransport, OutgoingEmail, build_message};

/// `ROSTER_MAIL=file:DIR`: one `.eml` file per email.
pub(super) struct FileTransport {
    pub(super) dir: PathBuf,
    pub(super) from: Mailbox,
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

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::super::tests::{LINK, decoded_parts, list_dir, sample_email, unique_temp_dir};
    use super::super::{MailSpec, build_transport};

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
}
