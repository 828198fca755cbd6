//! The demo's mailbox in the browser: `GET /demo/mail` lists the emails `roster demo` sent,
//! newest first; `GET /demo/mail/{id}` shows one with its accept link, and
//! `GET /demo/mail/{id}/html` its HTML part (framed by the former). Served only when the
//! router was given a mailbox (`HttpSettings::demo_mailbox`, set by `roster demo` alone):
//! elsewhere both answer 404, since accept links are secrets.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::pages::{self, escape};
use crate::mail::mailbox::KeptEmail;

const NOT_DEMO: &str = "the mailbox exists only in `roster demo`";

/// `GET /demo/mail`
pub(super) async fn list(State(state): State<AppState>) -> Response {
    let Some(mailbox) = state.0.http.demo_mailbox.as_ref() else {
        return (StatusCode::NOT_FOUND, NOT_DEMO).into_response();
    };
    let nonce = pages::nonce();
    pages::respond(StatusCode::OK, &nonce, list_html(&mailbox.list(), &nonce))
}

/// `GET /demo/mail/{id}`
pub(super) async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(mailbox) = state.0.http.demo_mailbox.as_ref() else {
        return (StatusCode::NOT_FOUND, NOT_DEMO).into_response();
    };
    let nonce = pages::nonce();
    match id.parse::<u64>().ok().and_then(|id| mailbox.get(id)) {
        Some(kept) => pages::respond(StatusCode::OK, &nonce, email_html(&kept, &nonce)),
        None => pages::respond(
            StatusCode::NOT_FOUND,
            &nonce,
            pages::document(
                "No such email",
                &nonce,
                "<h1>No such email</h1>\n<p>The demo keeps the latest 500 emails, only while it \
                 runs. <a href=\"/demo/mail\">Back to the mailbox</a></p>",
                None,
            ),
        ),
    }
}

/// `GET /demo/mail/{id}/html`: the HTML part as the recipient's mail client would render
/// it — its own inline styles allowed, but sandboxed: no script, no forms, an opaque origin.
pub(super) async fn html_part(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let kept = state
        .0
        .http
        .demo_mailbox
        .as_ref()
        .and_then(|mailbox| id.parse::<u64>().ok().and_then(|id| mailbox.get(id)));
    let Some(kept) = kept else {
        return (StatusCode::NOT_FOUND, NOT_DEMO).into_response();
    };
    let mut response = (StatusCode::OK, kept.email.html).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // Framed by the mailbox's own page (the router's default is DENY).
        (header::X_FRAME_OPTIONS, "SAMEORIGIN"),
        (
            header::CONTENT_SECURITY_POLICY,
            "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; \
             style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// The accept links in an email's text: every word holding `/accept-invite?token=`.
pub fn accept_links(text: &str) -> Vec<&str> {
    text.split_whitespace()
        .filter(|w| w.contains("/accept-invite?token="))
        .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
        .collect()
}

fn sent(kept: &KeptEmail) -> String {
    kept.sent_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The list of kept emails.
pub fn list_html(emails: &[KeptEmail], nonce: &str) -> String {
    let mut body = String::from(
        "<h1>Demo mailbox</h1>\n<p class=\"muted\">Every email this demo sent, newest first \
         (kept in memory while the demo runs). <a id=\"refresh\" href=\"/demo/mail\">Refresh</a> \
         · <a href=\"/graphql\">GraphiQL</a></p>\n",
    );
    if emails.is_empty() {
        body.push_str(
            "<p id=\"empty\">No emails yet. Invite someone with the <code>inviteUsers</code> \
             mutation in GraphiQL; the invitation shows up here within a second.</p>",
        );
    } else {
        body.push_str(
            "<table id=\"mails\">\n<thead><tr><th>Sent</th><th>To</th><th>Subject</th>\
             <th>Accept link</th></tr></thead>\n<tbody>\n",
        );
        for kept in emails {
            let accept = accept_links(&kept.email.text)
                .first()
                .map(|link| format!("<a class=\"accept\" href=\"{}\">accept</a>", escape(link)))
                .unwrap_or_else(|| "—".to_owned());
            body.push_str(&format!(
                "<tr class=\"mail\"><td>{sent}</td><td class=\"to\">{to}</td>\
                 <td><a href=\"/demo/mail/{id}\">{subject}</a></td><td>{accept}</td></tr>\n",
                sent = escape(&sent(kept)),
                to = escape(&kept.email.to),
                id = kept.id,
                subject = escape(&kept.email.subject),
            ));
        }
        body.push_str("</tbody>\n</table>");
    }
    pages::document("Demo mailbox", nonce, &body, None)
}

/// One email: its accept link first, then the text as sent and the HTML as rendered (in a
/// sandbox that runs no script).
pub fn email_html(kept: &KeptEmail, nonce: &str) -> String {
    let email = &kept.email;
    let links: String = accept_links(&email.text)
        .into_iter()
        .map(|link| {
            format!(
                "<p><a class=\"button\" id=\"accept-link\" href=\"{href}\">Open the accept link</a></p>\n\
                 <p class=\"muted\">{href}</p>\n",
                href = escape(link)
            )
        })
        .collect();
    let body = format!(
        "<p><a href=\"/demo/mail\">← Mailbox</a></p>\n\
         <h1 id=\"subject\">{subject}</h1>\n\
         <dl>\n<dt>To</dt><dd id=\"to\">{to}</dd>\n<dt>Sent</dt><dd>{sent}</dd>\n</dl>\n\
         {links}\
         <h2>Text</h2>\n<pre id=\"text\">{text}</pre>\n\
         <h2>HTML</h2>\n<iframe title=\"The email as HTML\" sandbox=\"allow-popups \
         allow-popups-to-escape-sandbox\" src=\"/demo/mail/{id}/html\"></iframe>",
        subject = escape(&email.subject),
        to = escape(&email.to),
        sent = escape(&sent(kept)),
        text = escape(&email.text),
        id = kept.id,
    );
    pages::document(&email.subject, nonce, &body, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::OutgoingEmail;

    fn kept(text: &str, subject: &str) -> KeptEmail {
        KeptEmail {
            id: 7,
            sent_at: chrono::Utc::now(),
            email: OutgoingEmail {
                to: "zoe@example.org".into(),
                subject: subject.into(),
                text: text.into(),
                html: "<p>\"hi\"</p><script>alert(1)</script>".into(),
            },
        }
    }

    #[test]
    fn finds_the_accept_link() {
        let text = "Hello,\n\nopen this link:\n\nhttp://127.0.0.1:8080/accept-invite?token=abc_-1\n\nRoster\n";
        assert_eq!(
            accept_links(text),
            ["http://127.0.0.1:8080/accept-invite?token=abc_-1"]
        );
        assert!(accept_links("javascript:/accept-invite?token=x").is_empty());
    }

    #[test]
    fn email_page_escapes_everything_and_sandboxes_the_html() {
        let page = email_html(
            &kept(
                "see http://h/accept-invite?token=a\"><script>x</script>",
                "<b>Hi</b>",
            ),
            "n",
        );
        assert!(!page.contains("<b>Hi</b>"), "{page}");
        assert!(!page.contains("<script>"), "{page}");
        assert!(
            !page.contains("&quot;hi&quot;"),
            "the HTML part is framed, not inlined: {page}"
        );
        assert!(page.contains("src=\"/demo/mail/7/html\""), "{page}");
        let list = list_html(&[kept("t", "<i>x</i>")], "n");
        assert!(list.contains("&lt;i&gt;x&lt;/i&gt;") && list.contains("/demo/mail/7"));
        let list = list_html(
            &[kept("open http://h/accept-invite?token=abc now", "s")],
            "n",
        );
        assert!(
            list.contains("<a class=\"accept\" href=\"http://h/accept-invite?token=abc\">"),
            "{list}"
        );
    }
}
