//! The reference admin console at `/console`: one HTML shell and the script and stylesheet
//! that `build.rs` builds from `console/` (Preact, typed GraphQL operations) and embeds
//! here, so it works offline. The console is a plain client of `POST /graphql`; these
//! handlers only serve its files. `ROSTER_CONSOLE=false` turns every route off (404).
//!
//! In `roster demo` only, `/console/demo-tokens` lists one token per built-in role for the
//! sign-in page's role picker; elsewhere it is a 404 like the rest of the demo's extras.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The embedded files, by the name they are served under `/console/`.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "console.js",
        JS,
        include_bytes!(concat!(env!("OUT_DIR"), "/console.js")),
    ),
    (
        "console.css",
        CSS,
        include_bytes!(concat!(env!("OUT_DIR"), "/console.css")),
    ),
];

/// The page: everything it shows is rendered by the script, from the API.
const PAGE: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"referrer\" content=\"no-referrer\">\n<title>Roster console</title>\n\
<link rel=\"stylesheet\" href=\"/console/console.css\">\n</head>\n<body>\n\
<div id=\"console\"><noscript>The Roster console needs JavaScript.</noscript></div>\n\
<script src=\"/console/console.js\"></script>\n</body>\n</html>\n";

/// Only this origin's script, style and API; no framing. The page keeps a bearer token
/// (sessionStorage), so nothing from elsewhere may run in it.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const DISABLED: &str = "the console is disabled (ROSTER_CONSOLE=false)";

/// Returns the content type and bytes of the embedded file `name`, if there is one.
pub fn asset(name: &str) -> Option<(&'static str, &'static [u8])> {
    ASSETS
        .iter()
        .find(|(asset_name, _, _)| *asset_name == name)
        .map(|&(_, content_type, bytes)| (content_type, bytes))
}

/// `GET /console`
pub(super) async fn page(State(state): State<AppState>) -> Response {
    if !state.0.http.console {
        return (StatusCode::NOT_FOUND, DISABLED).into_response();
    }
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        PAGE,
    )
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    response
}

/// `GET /console/{file}`: the script, the stylesheet, and in the demo `demo-tokens`.
pub(super) async fn file(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let http = &state.0.http;
    if !http.console {
        return (StatusCode::NOT_FOUND, DISABLED).into_response();
    }
    if file == "demo-tokens" {
        return match &http.console_demo_tokens {
            Some(json) => (
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                json.clone(),
            )
                .into_response(),
            None => (
                StatusCode::NOT_FOUND,
                "demo tokens exist only in `roster demo`",
            )
                .into_response(),
        };
    }
    match asset(&file) {
        // `no-cache`: the names carry no version, so a browser must ask again after an
        // upgrade instead of pairing a new page with an old script.
        Some((content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_the_embedded_files_from_this_origin() {
        for (name, content_type) in [("console.js", JS), ("console.css", CSS)] {
            assert!(PAGE.contains(&format!("\"/console/{name}\"")), "{PAGE}");
            let (served_type, bytes) = asset(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(served_type, content_type);
            assert!(!bytes.is_empty(), "{name} is empty");
        }
        assert!(!PAGE.contains("http"), "{PAGE}");
    }

    #[test]
    fn the_bundle_mounts_on_the_page_and_calls_the_api() {
        let js = String::from_utf8_lossy(asset("console.js").map_or(&[][..], |(_, b)| b));
        assert!(PAGE.contains("id=\"console\""));
        assert!(
            js.contains("getElementById(\"console\")"),
            "bundle does not mount"
        );
        assert!(js.contains("/graphql"), "bundle does not call the API");
        assert!(js.contains("/console/demo-tokens"));
    }

    #[test]
    fn unknown_files_are_none() {
        assert!(asset("").is_none());
        assert!(asset("../Cargo.toml").is_none());
        assert!(asset("console.js.map").is_none());
    }
}
