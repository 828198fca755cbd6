//! Access tokens: verification against an explicit algorithm allow-list, and issuing when
//! the service holds a signing key.
//!
//! Everything that can be wrong with a token collapses into one `Invalid` answer: the caller
//! learns nothing about which check failed. The reason goes to the debug log only.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: u64 = 30;

/// The claims Roster reads and writes. `sub` is the user's id as the API shows it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: u64,
    #[serde(default)]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
}

/// The token was not accepted. Deliberately carries no detail.
#[derive(Debug, PartialEq, Eq)]
pub struct Invalid;

/// Verification (and, with a private key or secret, signing) of access tokens.
pub struct JwtKeys {
    algorithm: Algorithm,
    /// The current key first, then previous ones still accepted during a rotation.
    decoding: Vec<DecodingKey>,
    encoding: Option<EncodingKey>,
    issuer: String,
    audience: String,
}

/// Key material as configured; `JwtKeys::new` parses and checks it.
pub enum KeySource {
    /// HS256 with a shared secret (at least 32 bytes).
    Secret(Vec<u8>),
    /// RS256, ES256 or EdDSA with PEM keys: the public key verifies, the private key signs.
    Pem {
        public: Vec<u8>,
        private: Option<Vec<u8>>,
    },
}

impl JwtKeys {
    /// Builds the key set. `previous` are older verification keys kept during a rotation.
    pub fn new(
        algorithm: Algorithm,
        current: KeySource,
        previous: Vec<KeySource>,
        issuer: String,
        audience: String,
    ) -> Result<Self, String> {
        if !matches!(
            algorithm,
            Algorithm::HS256 | Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA
        ) {
            return Err(format!(
                "algorithm {algorithm:?} is not supported (use HS256, RS256, ES256 or EdDSA)"
            ));
        }
        let mut decoding = Vec::new();
        let encoding = Self::load(algorithm, &current, &mut decoding)?;
        for source in &previous {
            Self::load(algorithm, source, &mut decoding)?;
        }
        Ok(JwtKeys {
            algorithm,
            decoding,
            encoding,
            issuer,
            audience,
        })
    }

    fn load(
        algorithm: Algorithm,
        source: &KeySource,
        decoding: &mut Vec<DecodingKey>,
    ) -> Result<Option<EncodingKey>, String> {
        match (algorithm, source) {
            (Algorithm::HS256, KeySource::Secret(secret)) => {
                if secret.len() < 32 {
                    return Err("the HS256 secret must be at least 32 bytes (256 bits)".into());
                }
                decoding.push(DecodingKey::from_secret(secret));
                Ok(Some(EncodingKey::from_secret(secret)))
            }
            (Algorithm::HS256, KeySource::Pem { .. }) => {
                Err("HS256 takes a secret, not a PEM key".into())
            }
            (_, KeySource::Secret(_)) => Err(format!(
                "{algorithm:?} takes a PEM public key, not a secret"
            )),
            (_, KeySource::Pem { public, private }) => {
                let bad = |what: &str, e: jsonwebtoken::errors::Error| {
                    format!("the {what} key is not a valid {algorithm:?} PEM key: {e}")
                };
                let key = match algorithm {
                    Algorithm::RS256 => DecodingKey::from_rsa_pem(public),
                    Algorithm::ES256 => DecodingKey::from_ec_pem(public),
                    _ => DecodingKey::from_ed_pem(public),
                }
                .map_err(|e| bad("public", e))?;
                decoding.push(key);
                private
                    .as_ref()
                    .map(|pem| {
                        match algorithm {
                            Algorithm::RS256 => EncodingKey::from_rsa_pem(pem),
                            Algorithm::ES256 => EncodingKey::from_ec_pem(pem),
                            _ => EncodingKey::from_ed_pem(pem),
                        }
                        .map_err(|e| bad("private", e))
                    })
                    .transpose()
            }
        }
    }

    /// Whether tokens can be issued (a secret or a private key is configured).
    pub fn can_sign(&self) -> bool {
        self.encoding.is_some()
    }

    /// Verifies a token and returns the subject it names.
    pub fn verify(&self, token: &str) -> Result<String, Invalid> {
        self.verify_claims(token).map(|c| c.sub)
    }

    /// Verifies a token and returns its claims.
    pub fn verify_claims(&self, token: &str) -> Result<Claims, Invalid> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Invalid);
        }
        // RFC 7515 §4.1.11: a `crit` header lists extensions the recipient must understand;
        // Roster understands none, so any token that has one is refused.
        match jsonwebtoken::decode_header(token) {
            Ok(header) if header.crit.is_none() => {}
            _ => return Err(Invalid),
        }
        let mut validation = Validation::new(self.algorithm);
        validation.algorithms = vec![self.algorithm];
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let mut last = None;
        for key in &self.decoding {
            match jsonwebtoken::decode::<Claims>(token, key, &validation) {
                Ok(data) => return Ok(data.claims),
                Err(e) => last = Some(e),
            }
        }
        tracing::debug!(reason = ?last, "access token refused");
        Err(Invalid)
    }

    /// Issues a token for `subject` valid for `ttl`. `None` when no signing key is configured.
    pub fn issue(&self, subject: &str, ttl: Duration) -> Option<Result<String, String>> {
        let key = self.encoding.as_ref()?;
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: subject.to_owned(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: Some(now),
            exp: now + ttl.as_secs(),
            nbf: None,
        };
        Some(
            jsonwebtoken::encode(&Header::new(self.algorithm), &claims, key)
                .map_err(|e| e.to_string()),
        )
    }
}

/// Builds the key set from configuration; errors name the variable to fix.
pub fn from_config(config: &crate::config::Config) -> Result<JwtKeys, String> {
    use crate::config::JwtAlgorithm;
    let read = |var: &str, path: &std::path::Path| {
        std::fs::read(path).map_err(|e| format!("{var}: cannot read {}: {e}", path.display()))
    };
    let (current, previous) = match config.jwt_algorithm {
        JwtAlgorithm::HS256 => {
            let secret = config
                .jwt_secret
                .as_ref()
                .ok_or("ROSTER_JWT_SECRET is required (at least 32 bytes) for HS256")?;
            let previous = config
                .jwt_previous_secret
                .iter()
                .map(|s| KeySource::Secret(s.as_bytes().to_vec()))
                .collect();
            (KeySource::Secret(secret.as_bytes().to_vec()), previous)
        }
        _ => {
            let path = config.jwt_public_key_file.as_ref().ok_or_else(|| {
                format!(
                    "ROSTER_JWT_PUBLIC_KEY_FILE is required for {:?}",
                    config.jwt_algorithm
                )
            })?;
            let public = read("ROSTER_JWT_PUBLIC_KEY_FILE", path)?;
            let private = config
                .jwt_private_key_file
                .as_ref()
                .map(|p| read("ROSTER_JWT_PRIVATE_KEY_FILE", p))
                .transpose()?;
            let previous = config
                .jwt_previous_public_key_file
                .as_ref()
                .map(|p| {
                    read("ROSTER_JWT_PREVIOUS_PUBLIC_KEY_FILE", p).map(|public| KeySource::Pem {
                        public,
                        private: None,
                    })
                })
                .transpose()?
                .into_iter()
                .collect();
            (KeySource::Pem { public, private }, previous)
        }
    };
    let var = match config.jwt_algorithm {
        JwtAlgorithm::HS256 => "ROSTER_JWT_SECRET",
        _ => "ROSTER_JWT_PUBLIC_KEY_FILE / ROSTER_JWT_PRIVATE_KEY_FILE",
    };
    JwtKeys::new(
        config.jwt_algorithm.into(),
        current,
        previous,
        config.jwt_issuer.clone(),
        config.jwt_audience.clone(),
    )
    .map_err(|e| format!("{var}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::new(
            Algorithm::HS256,
            KeySource::Secret(vec![7; 32]),
            vec![],
            "roster".into(),
            "roster".into(),
        )
        .unwrap()
    }

    #[test]
    fn issued_tokens_verify() {
        let k = keys();
        let token = k.issue("user_1", Duration::from_secs(60)).unwrap().unwrap();
        assert_eq!(k.verify(&token).unwrap(), "user_1");
    }

    #[test]
    fn short_secrets_are_refused() {
        let err = JwtKeys::new(
            Algorithm::HS256,
            KeySource::Secret(vec![1; 31]),
            vec![],
            "i".into(),
            "a".into(),
        );
        assert!(err.is_err());
    }

    #[test]
    fn oversized_tokens_are_refused_unparsed() {
        assert_eq!(
            keys().verify(&"a".repeat(MAX_TOKEN_BYTES + 1)),
            Err(Invalid)
        );
    }
}
