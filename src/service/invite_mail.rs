//! What an invitation and its email share, so that the invitation rules (`invites`) and the
//! mail worker (`outbox`) both depend on this module instead of on each other: the accept
//! token — made by the worker at send time, stored only as a hash — and the delivery status
//! the worker records on the invitation.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A new accept token: 32 random bytes, URL-safe base64 without padding.
pub fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// What the database keeps of a token: its SHA-256. The token has 256 bits of entropy, so
/// an unsalted fast hash is enough; a leaked table does not reveal working links.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}
