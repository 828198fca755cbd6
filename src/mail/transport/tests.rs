//! What the transports' tests share: a sample email and decoders, so assertions see the text a
//! mail client would show; and the tests of message building.

use std::path::{Path, PathBuf};

use lettre::message::Mailbox;
use uuid::Uuid;

use super::*;

pub(super) const LINK: &str = "https://roster.example.com/accept-invite?token=AbC-123_xyz";

pub(super) fn sample_email() -> OutgoingEmail {
    OutgoingEmail {
        to: "zoe@example.org".to_owned(),
        subject: "You're invited to join Acme on Roster".to_owned(),
        text: format!("Hello Zoë,\n\nAccept here:\n\n{LINK}\n"),
        html: format!(
            "<!DOCTYPE html><html><body><p>Hello Zoë, a long line so that lettre has to \
             pick quoted-printable for this part.</p><p><a href=\"{LINK}\">Accept</a></p>\
             </body></html>"
        ),
    }
}

fn decode_quoted_printable(body: &str) -> String {
    let bytes = body.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes[i + 1..].starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if bytes[i + 1..].starts_with(b"\n") {
                i += 2;
                continue;
            }
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn decode_base64(body: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in body
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        let value = ALPHABET.iter().position(|a| *a == c).unwrap() as u32;
        acc = (acc << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Splits a formatted `multipart/alternative` message into `(content type, decoded body)`.
pub(crate) fn decoded_parts(raw: &str) -> Vec<(String, String)> {
    let start = raw.find("boundary=\"").unwrap() + "boundary=\"".len();
    let boundary = &raw[start..start + raw[start..].find('"').unwrap()];
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    for chunk in raw.split(delimiter.as_str()).skip(1) {
        if chunk.starts_with("--") {
            break;
        }
        let (headers, body) = chunk.split_once("\r\n\r\n").unwrap();
        let headers_lower = headers.to_ascii_lowercase();
        let content_type = if headers_lower.contains("text/plain") {
            "text/plain"
        } else if headers_lower.contains("text/html") {
            "text/html"
        } else {
            "other"
        };
        assert!(headers_lower.contains("charset=utf-8"), "{headers}");
        let body = if headers_lower.contains("content-transfer-encoding: quoted-printable") {
            decode_quoted_printable(body)
        } else if headers_lower.contains("content-transfer-encoding: base64") {
            decode_base64(body)
        } else {
            body.to_owned()
        };
        parts.push((content_type.to_owned(), body.replace("\r\n", "\n")));
    }
    parts
}

pub(super) fn unique_temp_dir() -> PathBuf {
    std::env::temp_dir().join(format!("roster-mail-test-{}", Uuid::now_v7()))
}

pub(super) fn list_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// ---- message building ----

#[test]
fn rejects_bad_addresses_permanently() {
    let from: Mailbox = "no-reply@example.com".parse().unwrap();
    let mut email = sample_email();
    email.to = "not an address".to_owned();
    assert!(build_message(&from, &email).unwrap_err().is_permanent());

    let err = build_transport(&MailSpec::Log, "nobody").err().unwrap();
    assert!(err.is_permanent(), "{err}");
}

#[test]
fn subject_newlines_cannot_inject_headers() {
    let from: Mailbox = "no-reply@example.com".parse().unwrap();
    let mut email = sample_email();
    email.subject = "Hi\r\nBcc: victim@example.net".to_owned();
    let raw = String::from_utf8(build_message(&from, &email).unwrap().formatted()).unwrap();
    assert!(!raw.contains("\r\nBcc:"), "{raw}");
}
