//! Asymmetric keys (RS256, ES256, EdDSA) verify real tokens; algorithm confusion is refused;
//! a previous key keeps working during a rotation.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{Org, TestApp, data, error_code, gid};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use roster::auth::jwt::{JwtKeys, KeySource};
use serde_json::json;

/// Generates a key pair with openssl; returns (private PEM, public PEM).
fn keypair(dir: &Path, name: &str, genpkey: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let private = dir.join(format!("{name}.key"));
    let public = dir.join(format!("{name}.pub"));
    let ok = Command::new("openssl")
        .arg("genpkey")
        .args(genpkey)
        .arg("-out")
        .arg(&private)
        .status()
        .expect("openssl")
        .success();
    assert!(ok, "openssl genpkey {genpkey:?}");
    let ok = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&private)
        .arg("-out")
        .arg(&public)
        .status()
        .expect("openssl")
        .success();
    assert!(ok);
    (
        std::fs::read(private).unwrap(),
        std::fs::read(public).unwrap(),
    )
}

fn rsa(dir: &Path, name: &str) -> (Vec<u8>, Vec<u8>) {
    keypair(
        dir,
        name,
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    )
}

fn ec(dir: &Path, name: &str) -> (Vec<u8>, Vec<u8>) {
    keypair(
        dir,
        name,
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    )
}

fn ed(dir: &Path, name: &str) -> (Vec<u8>, Vec<u8>) {
    keypair(dir, name, &["-algorithm", "ED25519"])
}

fn keys(alg: Algorithm, public: &[u8], private: Option<&[u8]>, previous: Option<&[u8]>) -> JwtKeys {
    JwtKeys::new(
        alg,
        KeySource::Pem {
            public: public.to_vec(),
            private: private.map(<[u8]>::to_vec),
        },
        previous
            .map(|p| KeySource::Pem {
                public: p.to_vec(),
                private: None,
            })
            .into_iter()
            .collect(),
        "roster".into(),
        "roster".into(),
    )
    .expect("keys")
}

fn claims(sub: &str) -> serde_json::Value {
    let now = jsonwebtoken::get_current_timestamp();
    json!({ "sub": sub, "iss": "roster", "aud": "roster", "iat": now, "exp": now + 600 })
}

#[tokio::test]
async fn each_asymmetric_algorithm_verifies_its_own_tokens_only() {
    let dir = tempfile::tempdir().unwrap();
    let (rsa_private, rsa_public) = rsa(dir.path(), "rsa");
    let (ec_private, ec_public) = ec(dir.path(), "ec");
    let (ed_private, ed_public) = ed(dir.path(), "ed");
    for (alg, private, public) in [
        (Algorithm::RS256, &rsa_private, &rsa_public),
        (Algorithm::ES256, &ec_private, &ec_public),
        (Algorithm::EdDSA, &ed_private, &ed_public),
    ] {
        let k = keys(alg, public, Some(private), None);
        let token = k.issue("user_x", Duration::from_secs(60)).unwrap().unwrap();
        assert_eq!(k.verify(&token).unwrap(), "user_x", "{alg:?}");
        // A verifier without the private key verifies too.
        assert_eq!(
            keys(alg, public, None, None).verify(&token).unwrap(),
            "user_x"
        );
        assert!(!keys(alg, public, None, None).can_sign());
    }
    // Tokens of one algorithm never pass a verifier configured for another.
    let rs = keys(Algorithm::RS256, &rsa_public, Some(&rsa_private), None);
    let es = keys(Algorithm::ES256, &ec_public, Some(&ec_private), None);
    let es_token = es
        .issue("user_x", Duration::from_secs(60))
        .unwrap()
        .unwrap();
    assert!(rs.verify(&es_token).is_err());
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = rsa(dir.path(), "rsa");
    let app = TestApp::spawn_full(
        Default::default(),
        Default::default(),
        keys(Algorithm::RS256, &public, Some(&private), None),
    )
    .await;
    let org = Org::create(&app).await;
    let sub = gid::user(org.admin);
    let good = app.token_for(org.admin);
    let body = app.gql(Some(&good), "{ viewer { id } }", json!({})).await;
    assert_eq!(data(&body)["viewer"]["id"], sub);

    // The classic confusion attack: HS256 with the RSA public key (PEM text) as the secret.
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(&sub),
        &EncodingKey::from_secret(&public),
    )
    .unwrap();
    let body = app.gql(Some(&forged), "{ viewer { id } }", json!({})).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    // Headers pointing at other keys are ignored: the configured key decides.
    for header in [
        json!({ "alg": "RS256", "kid": "../../etc/passwd" }),
        json!({ "alg": "RS256", "jku": "https://evil.example/jwks.json" }),
        json!({ "alg": "RS256", "x5u": "https://evil.example/cert.pem" }),
    ] {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (_, rest) = good.split_once('.').unwrap();
        let token = format!("{}.{rest}", b64.encode(header.to_string()));
        let body = app.gql(Some(&token), "{ viewer { id } }", json!({})).await;
        assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{header}");
    }
    // A token signed by another RSA key with an embedded `jwk` header is refused.
    let (other_private, _) = rsa(dir.path(), "other");
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some("attacker".into());
    let forged = jsonwebtoken::encode(
        &h,
        &claims(&sub),
        &EncodingKey::from_rsa_pem(&other_private).unwrap(),
    )
    .unwrap();
    let body = app.gql(Some(&forged), "{ viewer { id } }", json!({})).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
}

#[tokio::test]
async fn a_previous_key_keeps_tokens_valid_during_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let (old_private, old_public) = ec(dir.path(), "old");
    let (new_private, new_public) = ec(dir.path(), "new");
    let old = keys(Algorithm::ES256, &old_public, Some(&old_private), None);
    let old_token = old
        .issue("user_a", Duration::from_secs(60))
        .unwrap()
        .unwrap();
    let rotated = keys(
        Algorithm::ES256,
        &new_public,
        Some(&new_private),
        Some(&old_public),
    );
    assert_eq!(rotated.verify(&old_token).unwrap(), "user_a");
    let new_token = rotated
        .issue("user_b", Duration::from_secs(60))
        .unwrap()
        .unwrap();
    assert_eq!(rotated.verify(&new_token).unwrap(), "user_b");
    // Once the old key is dropped, its tokens stop working.
    let done = keys(Algorithm::ES256, &new_public, None, None);
    assert!(done.verify(&old_token).is_err());
    assert!(done.verify(&new_token).is_ok());
}
