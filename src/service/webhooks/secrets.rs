//! Webhook signing secrets: made, sealed for storage, and used to sign.
//!
//! A receiver verifies an HMAC with the secret itself, so the secret cannot be stored as a
//! hash: it is sealed with AES-256-GCM under a key derived (HKDF-SHA256) from
//! `ROSTER_SECRET_KEY`, or from `ROSTER_JWT_SECRET` when that is not set. The endpoint's id
//! is the AEAD's associated data, so a sealed secret copied onto another endpoint does not
//! open. Signatures follow Standard Webhooks, made by the specification's own crate.

use super::super::ids::WebhookEndpointId;
use super::super::{Error, Result};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hkdf::Hkdf;
use sha2::Sha256;

/// The prefix of every secret, as Standard Webhooks prescribes.
pub const PREFIX: &str = "whsec_";

/// Random bytes in a secret (the specification allows 24 to 64).
const SECRET_BYTES: usize = 32;

/// Version tag of the sealed form, so the scheme can change without guessing.
const SEALED_V1: &str = "v1:";

/// A new secret: `whsec_` and the base64 of 32 random bytes.
pub fn new_secret() -> String {
    format!(
        "{PREFIX}{}",
        STANDARD.encode(rand::random::<[u8; SECRET_BYTES]>())
    )
}

/// Seals and opens secrets with one key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// A box keyed by HKDF-SHA256 of `material` (any length; at least 32 bytes is checked by
    /// the configuration). `purpose` separates keys derived from one input for other uses.
    pub fn derive(material: &[u8], purpose: &str) -> Self {
        let mut key = [0u8; 32];
        // HKDF-SHA256 can expand to 8,160 bytes; 32 always succeeds.
        let _ = Hkdf::<Sha256>::new(Some(b"roster webhook secrets"), material)
            .expand(purpose.as_bytes(), &mut key);
        SecretBox {
            cipher: Aes256Gcm::new(&key.into()),
        }
    }

    /// The sealed form of `secret` for endpoint `endpoint_id`: `v1:` + base64(nonce ‖ ciphertext).
    pub fn seal(&self, endpoint_id: WebhookEndpointId, secret: &str) -> Result<String> {
        let nonce_bytes = rand::random::<[u8; 12]>();
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::from(nonce_bytes),
                Payload {
                    msg: secret.as_bytes(),
                    aad: endpoint_id.0.as_bytes(),
                },
            )
            .map_err(|_| Error::Internal(anyhow::anyhow!("sealing a webhook secret failed")))?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{SEALED_V1}{}", STANDARD.encode(out)))
    }

    /// Opens a sealed secret of endpoint `endpoint_id`. Fails when the key changed (the
    /// secret must then be rotated) or the value was tampered with.
    pub fn open(&self, endpoint_id: WebhookEndpointId, sealed: &str) -> Result<String> {
        let broken = || {
            Error::Internal(anyhow::anyhow!(
                "the secret of webhook endpoint {endpoint_id} does not open: was ROSTER_SECRET_KEY (or ROSTER_JWT_SECRET) changed?"
            ))
        };
        let bytes = sealed
            .strip_prefix(SEALED_V1)
            .and_then(|b| STANDARD.decode(b).ok())
            .ok_or_else(broken)?;
        if bytes.len() < 12 {
            return Err(broken());
        }
        let (nonce, body) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| broken())?;
        let plain = self
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: body,
                    aad: endpoint_id.0.as_bytes(),
                },
            )
            .map_err(|_| broken())?;
        String::from_utf8(plain).map_err(|_| broken())
    }
}

/// Signs with one or more secrets (during a rotation, the new one and the old one).
pub struct Signer {
    keys: Vec<standardwebhooks::Webhook>,
}

impl Signer {
    /// A signer for these secrets (`whsec_…`), the first one first.
    pub fn new(secrets: &[String]) -> Result<Self> {
        let keys = secrets
            .iter()
            .map(|s| {
                standardwebhooks::Webhook::new(s).map_err(|e| {
                    Error::Internal(anyhow::anyhow!("a stored webhook secret is malformed: {e}"))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Signer { keys })
    }

    /// The `webhook-signature` header: `v1,<base64>` per secret, separated by spaces.
    pub fn signature(&self, msg_id: &str, timestamp: i64, body: &str) -> Result<String> {
        let mut parts = Vec::with_capacity(self.keys.len());
        for key in &self.keys {
            parts.push(
                key.sign(msg_id, timestamp, body.as_bytes())
                    .map_err(|e| Error::Internal(anyhow::anyhow!("signing failed: {e}")))?,
            );
        }
        Ok(parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_for_their_endpoint_and_key() {
        let sb = SecretBox::derive(b"0123456789abcdef0123456789abcdef", "v1");
        let (a, b) = (WebhookEndpointId::new(), WebhookEndpointId::new());
        let secret = new_secret();
        let sealed = sb.seal(a, &secret).expect("seal");
        assert!(!sealed.contains(&secret[PREFIX.len()..]));
        assert_eq!(sb.open(a, &sealed).expect("open"), secret);
        assert!(sb.open(b, &sealed).is_err());
        let other = SecretBox::derive(b"another key material of 32 bytes!", "v1");
        assert!(other.open(a, &sealed).is_err());
    }

    #[test]
    fn secrets_have_the_standard_shape() {
        let s = new_secret();
        let raw = STANDARD
            .decode(s.strip_prefix(PREFIX).expect("prefix"))
            .expect("b64");
        assert_eq!(raw.len(), SECRET_BYTES);
    }
}
