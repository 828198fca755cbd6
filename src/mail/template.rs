//! The emails Roster sends, rendered as plain text and HTML.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::transport::OutgoingEmail;

/// What an invitation email needs to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InviteEmail<'a> {
    /// The organization (tenant) the invitee is joining.
    pub account_name: &'a str,
    /// Display name of the member who sent the invitation, if known.
    pub inviter_name: Option<&'a str>,
    /// The team the invitee will belong to.
    pub team_name: &'a str,
    /// The role the invitee will have.
    pub role_name: &'a str,
    /// Link that accepts the invitation; see [`accept_url`].
    pub accept_url: &'a str,
    /// When the invitation stops working.
    pub expires_at: DateTime<Utc>,
}

/// Renders the invitation email sent to `to`.
///
/// Every name is user-supplied: the HTML part escapes them, and both parts flatten control
/// characters so a name cannot add lines of its own.
pub fn invite_email(to: &str, data: &InviteEmail<'_>) -> OutgoingEmail {
    let account = single_line(data.account_name);
    let team = single_line(data.team_name);
    let role = single_line(data.role_name);
    let inviter = data
        .inviter_name
        .map(single_line)
        .filter(|name| !name.trim().is_empty());
    let url = single_line(data.accept_url);
    let expires = data
        .expires_at
        .format("%B %-d, %Y at %H:%M UTC")
        .to_string();

    let subject = format!("You're invited to join {account} on Roster");

    let invited_by_text = match &inviter {
        Some(name) => format!("{name} has invited you"),
        None => "You have been invited".to_owned(),
    };
    let text = format!(
        "Hello,\n\
         \n\
         {invited_by_text} to join the {team} team in {account} on Roster, with the role {role}.\n\
         \n\
         To accept the invitation, open this link:\n\
         \n\
         {url}\n\
         \n\
         The invitation expires on {expires}. If you were not expecting it, you can ignore \
         this email and nothing will change.\n\
         \n\
         Roster\n"
    );

    let invited_by_html = match &inviter {
        Some(name) => format!(
            "<strong>{}</strong> has invited you",
            crate::html::escape(name)
        ),
        None => "You have been invited".to_owned(),
    };
    let mut html = String::new();
    // Writing to a String cannot fail.
    let _ = write!(
        html,
        "<!DOCTYPE html>\n\
         <html lang=\"en\">\n\
         <head>\n\
         <meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{subject}</title>\n\
         </head>\n\
         <body style=\"margin:0;padding:24px;font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:15px;line-height:1.5;color:#1f2328;\">\n\
         <p>Hello,</p>\n\
         <p>{invited_by_html} to join the <strong>{team}</strong> team in <strong>{account}</strong> on Roster, with the role <strong>{role}</strong>.</p>\n\
         <p><a href=\"{url}\" style=\"display:inline-block;padding:10px 18px;background:#1f6feb;color:#ffffff;text-decoration:none;border-radius:6px;\">Accept invitation</a></p>\n\
         <p>If the button does not work, copy this link into your browser:<br>\n\
         <a href=\"{url}\">{url}</a></p>\n\
         <p>The invitation expires on {expires}. If you were not expecting it, you can ignore this email and nothing will change.</p>\n\
         <p>Roster</p>\n\
         </body>\n\
         </html>\n",
        subject = crate::html::escape(&subject),
        team = crate::html::escape(&team),
        account = crate::html::escape(&account),
        role = crate::html::escape(&role),
        url = crate::html::escape(&url),
        expires = crate::html::escape(&expires),
    );

    OutgoingEmail {
        to: to.to_owned(),
        subject,
        text,
        html,
    }
}

/// Builds the link that accepts an invitation: `{public_url}/accept-invite?token={token}`.
///
/// Tokens are URL-safe base64 and need no encoding, but anything outside the RFC 3986
/// unreserved set is percent-encoded anyway so a future token format cannot break the link.
pub fn accept_url(public_url: &str, token: &str) -> String {
    let mut url = public_url.trim_end_matches('/').to_owned();
    url.push_str("/accept-invite?token=");
    for byte in token.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            url.push(char::from(byte));
        } else {
            let _ = write!(url, "%{byte:02X}");
        }
    }
    url
}

/// Replaces control characters (newlines included) with spaces.
fn single_line(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::transport::{MailSpec, build_transport};
    use chrono::TimeZone;

    fn sample<'a>(accept: &'a str) -> InviteEmail<'a> {
        InviteEmail {
            account_name: "Acme Corp",
            inviter_name: Some("Alice Martin"),
            team_name: "Platform",
            role_name: "Admin",
            accept_url: accept,
            expires_at: Utc.with_ymd_and_hms(2026, 3, 5, 14, 30, 0).unwrap(),
        }
    }

    #[test]
    fn accept_url_joins_and_encodes() {
        assert_eq!(
            accept_url("https://roster.example.com/", "AbC-_09"),
            "https://roster.example.com/accept-invite?token=AbC-_09"
        );
        assert_eq!(
            accept_url("https://roster.example.com/app//", "x"),
            "https://roster.example.com/app/accept-invite?token=x"
        );
        assert_eq!(
            accept_url("http://localhost:8080", "a+b/c=&d é"),
            "http://localhost:8080/accept-invite?token=a%2Bb%2Fc%3D%26d%20%C3%A9"
        );
    }

    #[test]
    fn invite_email_says_who_what_where_and_when() {
        let url = accept_url("https://roster.example.com", "tok_123");
        let email = invite_email("bob@example.com", &sample(&url));
        assert_eq!(email.to, "bob@example.com");
        assert_eq!(email.subject, "You're invited to join Acme Corp on Roster");
        for body in [&email.text, &email.html] {
            for needle in [
                "Alice Martin",
                "Platform",
                "Acme Corp",
                "Admin",
                "https://roster.example.com/accept-invite?token=tok_123",
                "March 5, 2026 at 14:30 UTC",
            ] {
                assert!(body.contains(needle), "missing {needle:?} in {body}");
            }
        }
        assert!(
            email
                .html
                .contains("<a href=\"https://roster.example.com/accept-invite?token=tok_123\"")
        );
    }

    #[test]
    fn invite_email_without_inviter() {
        let mut data = sample("https://x.example/accept-invite?token=t");
        data.inviter_name = None;
        let email = invite_email("bob@example.com", &data);
        assert!(
            email
                .text
                .contains("You have been invited to join the Platform team")
        );
        assert!(email.html.contains("You have been invited to join"));
        data.inviter_name = Some("  ");
        assert!(
            invite_email("bob@example.com", &data)
                .text
                .contains("You have been invited")
        );
    }

    #[test]
    fn html_part_escapes_user_supplied_names() {
        let mut data = sample("https://x.example/accept-invite?token=t");
        data.inviter_name = Some("<script>alert(1)</script>");
        data.team_name = "R&D \"core\"";
        data.account_name = "O'Brien <Ltd>";
        data.role_name = "<b>boss</b>";
        let email = invite_email("bob@example.com", &data);

        assert!(!email.html.contains("<script>"), "{}", email.html);
        assert!(!email.html.contains("<b>boss"), "{}", email.html);
        assert!(email.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(email.html.contains("R&amp;D &quot;core&quot;"));
        assert!(email.html.contains("O&#39;Brien &lt;Ltd&gt;"));
        // The plain-text part shows names exactly as typed.
        assert!(
            email
                .text
                .contains("<script>alert(1)</script> has invited you")
        );
    }

    #[test]
    fn names_cannot_add_lines() {
        let mut data = sample("https://x.example/accept-invite?token=t");
        data.account_name = "Acme\r\nBcc: someone@example.net";
        data.inviter_name = Some("Eve\n\nPlease also reply with your password");
        let email = invite_email("bob@example.com", &data);
        assert!(!email.subject.contains('\n'));
        assert!(email.text.contains("Eve  Please also reply"));
        assert!(!email.text.contains("\nBcc:"));
    }

    #[tokio::test]
    async fn rendered_invite_survives_the_file_transport() {
        let dir = std::env::temp_dir().join(format!("roster-invite-test-{}", uuid::Uuid::now_v7()));
        let transport = build_transport(
            &MailSpec::File(dir.clone()),
            "Roster <no-reply@example.com>",
        )
        .unwrap();
        let url = accept_url(
            "https://roster.example.com",
            "Zm9vYmFyLWJhei1xdXV4LTAxMjM0NTY3ODlfLUFCQ0RFRkdISUpL",
        );
        let mut data = sample(&url);
        data.inviter_name = Some("Zoë Ångström");
        transport
            .send(&invite_email("bob@example.com", &data))
            .await
            .unwrap();

        let entries: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(entries.len(), 1);
        let raw = std::fs::read_to_string(entries[0].as_ref().unwrap().path()).unwrap();
        assert!(raw.contains("To: bob@example.com\r\n"), "{raw}");
        let parts = crate::mail::transport::tests::decoded_parts(&raw);
        assert_eq!(parts.len(), 2);
        for (kind, body) in &parts {
            assert!(body.contains(&url), "{kind}: {body}");
            assert!(body.contains("Zoë Ångström"), "{kind}: {body}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
