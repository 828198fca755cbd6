//! The small server-rendered pages beside the API (the accept-invite page, the demo's
//! mailbox): one HTML shell, one escaping function and one set of security headers.
//!
//! Every value that came from a person (names, emails, subjects) goes through [`escape`];
//! the only script a page runs is its own inline one, allowed by a per-response nonce in
//! the Content-Security-Policy, so even a missed escape could not run injected script.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub use crate::html::escape;

/// A fresh script/style nonce for one response.
pub fn nonce() -> String {
    STANDARD.encode(rand::random::<[u8; 16]>())
}

const STYLE: &str = "\
body{margin:0;font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:16px;\
line-height:1.5;color:#1f2328;background:#f6f8fa}\
main{max-width:40rem;margin:3rem auto;padding:2rem;background:#fff;border:1px solid #d0d7de;\
border-radius:8px}\
h1{font-size:1.5rem;margin-top:0}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{color:#57606a}dd{margin:0}\
label{display:block;font-weight:600;margin:1rem 0 .25rem}\
input{font:inherit;padding:.5rem;width:100%;box-sizing:border-box;border:1px solid #8c959f;\
border-radius:6px}\
button,.button{font:inherit;display:inline-block;margin-top:1rem;padding:.5rem 1rem;\
background:#1f6feb;color:#fff;border:0;border-radius:6px;text-decoration:none;cursor:pointer}\
button:disabled{background:#8c959f}\
.error{color:#cf222e}.muted{color:#57606a}\
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f8fa;padding:1rem;border-radius:6px}\
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.4rem;\
border-bottom:1px solid #d0d7de;vertical-align:top}\
iframe{width:100%;height:28rem;border:1px solid #d0d7de;border-radius:6px}";

/// A whole HTML document: `title` is escaped here; `body` and `script` are trusted markup
/// and code that the caller built with [`escape`].
pub fn document(title: &str, nonce: &str, body: &str, script: Option<&str>) -> String {
    let script = script
        .map(|s| format!("<script nonce=\"{nonce}\">{s}</script>\n"))
        .unwrap_or_default();
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{title}</title>\n<style nonce=\"{nonce}\">{STYLE}</style>\n</head>\n<body>\n\
         <main>\n{body}\n</main>\n{script}</body>\n</html>\n",
        title = escape(title),
    )
}

/// The response for a page: `no-store` (pages may show secrets such as accept links), no
/// referrer (the URL may hold a token), no framing, and a policy that runs only the page's
/// own nonce-bearing script and style and lets it call this origin's API.
pub fn respond(status: StatusCode, nonce: &str, html: String) -> Response {
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; \
         connect-src 'self'; img-src 'self'; frame-src 'self'; form-action 'self'; \
         base-uri 'none'; frame-ancestors 'none'"
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// A date for people: `March 5, 2026 at 14:30 UTC`.
pub fn date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%B %-d, %Y at %H:%M UTC").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert('x')</script> & "q""#),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn nonces_differ() {
        assert_ne!(nonce(), nonce());
    }
}
