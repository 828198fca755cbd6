//! `GET /accept-invite?token=…`, the page behind the link in every invitation email: it
//! shows who invited whom into which team with which role, asks for the name, accepts
//! through the `acceptInvite` mutation (the page's one small script) and says what next.
//!
//! A link that does not work — unknown, replaced, accepted, withdrawn, deleted, expired —
//! gets one and the same "no longer valid" page: a guessed or stale token learns nothing.
//! Looking a token up counts as an `acceptInvite` attempt of the client's address.

use std::net::SocketAddr;

use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use super::AppState;
use super::pages::{self, escape};
use crate::service::invites::{self, Preview};

/// The query string of the page.
#[derive(Deserialize)]
pub(super) struct TokenQuery {
    token: Option<String>,
}

/// The page's title and text for every link that does not work.
pub const INVALID_TITLE: &str = "This invitation link is no longer valid";

/// `GET /accept-invite?token=…`
pub(super) async fn page(
    State(state): State<AppState>,
    query: Result<Query<TokenQuery>, QueryRejection>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
) -> Response {
    let app = &state.0;
    let nonce = pages::nonce();
    // The same bucket as `acceptInvite`: this page must not be a cheaper way to test tokens.
    if let Some(ip) = peer.map(|p| p.0.0.ip())
        && let Err(retry) = app.accept_invite_per_ip.take(&ip, 1)
    {
        tracing::warn!(
            limit = "acceptInvite attempts per client address",
            retry_after = retry,
            "accept page rate limited"
        );
        let mut response = pages::respond(
            StatusCode::TOO_MANY_REQUESTS,
            &nonce,
            too_many_html(&nonce, retry),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry));
        return response;
    }
    let token = query.ok().and_then(|q| q.0.token).unwrap_or_default();
    match invites::preview_by_token(app.db.conn(), &token).await {
        Ok(Some(preview)) => pages::respond(
            StatusCode::OK,
            &nonce,
            invite_page(&preview, app.http.graphiql, app.http.console, &nonce),
        ),
        Ok(None) => pages::respond(StatusCode::NOT_FOUND, &nonce, invalid_html(&nonce)),
        Err(e) => {
            // Never the token: it is a credential.
            tracing::error!(error = %e.describe(), "loading an invitation for the accept page failed");
            pages::respond(
                StatusCode::SERVICE_UNAVAILABLE,
                &nonce,
                pages::document(
                    "Roster is unavailable",
                    &nonce,
                    "<h1>Roster is unavailable right now</h1>\n\
                     <p>Your invitation is not affected. Please open the link again in a \
                     few minutes.</p>",
                    None,
                ),
            )
        }
    }
}

/// What the holder of a dead link reads (also shown when accepting fails for that reason).
fn invalid_section(hidden: bool) -> String {
    format!(
        "<section id=\"invalid\"{}>\n<h1>{INVALID_TITLE}</h1>\n\
         <p>Ask the person who invited you to send you a new invitation.</p>\n</section>",
        if hidden { " hidden" } else { "" }
    )
}

fn invalid_html(nonce: &str) -> String {
    pages::document(INVALID_TITLE, nonce, &invalid_section(false), None)
}

fn too_many_html(nonce: &str, retry: u64) -> String {
    pages::document(
        "Too many attempts",
        nonce,
        &format!(
            "<h1>Too many attempts</h1>\n<p>Too many invitation links were opened from your \
             network. Please try again in {retry} seconds.</p>"
        ),
        None,
    )
}

/// GraphiQL with a first query for the new member: who am I, and what may I do.
const GRAPHIQL_VIEWER: &str = "graphql?query=query%20Me%20%7B%20viewer%20%7B%20name%20email%20\
team%20%7B%20name%20%7D%20role%20%7B%20name%20scope%20permissions%20%7D%20%7D%20%7D";

/// The page for a working link. Every value from the invitation is escaped; the script
/// only writes text (`textContent`), never markup.
#[cfg(test)]
pub fn invite_html(p: &Preview, graphiql: bool, nonce: &str) -> String {
    invite_page(p, graphiql, true, nonce)
}

/// [`invite_html`], with the "what next" link to the admin console only when the console
/// is served: the script points it at `console#token=…` (the new member's token, which
/// the console takes out of the address bar) once the invitation is accepted.
pub fn invite_page(p: &Preview, graphiql: bool, console: bool, nonce: &str) -> String {
    let account = escape(&p.account_name);
    let email = escape(&p.email);
    let team = escape(&p.team_name);
    let role = escape(&p.role_name);
    let who = match &p.inviter_name {
        Some(name) => format!("<strong>{}</strong> invited you", escape(name)),
        None => "You have been invited".to_owned(),
    };
    let expires = escape(&pages::date(p.expires_at));
    let graphiql_next = if graphiql {
        format!(
            "<div id=\"graphiql-next\">\n<p>To explore the API as yourself, open \
             <a id=\"graphiql-link\" href=\"{GRAPHIQL_VIEWER}\">GraphiQL</a> and paste this into \
             its <em>Headers</em> pane (valid for one hour):</p>\n\
             <pre id=\"accepted-header\"></pre>\n</div>"
        )
    } else {
        String::new()
    };
    let console_next = if console {
        "<p id=\"console-next\" hidden>Open <a id=\"console-link\" href=\"console\">the Roster \
         console</a> to see your team, signed in as yourself (for one hour).</p>"
    } else {
        ""
    };
    let body = format!(
        "<section id=\"invite\">\n\
         <h1>Join {account} on Roster</h1>\n\
         <p id=\"invite-summary\">{who} to join the <strong>{team}</strong> team in \
         <strong>{account}</strong> with the role <strong>{role}</strong>.</p>\n\
         <dl>\n<dt>Email</dt><dd id=\"invite-email\">{email}</dd>\n\
         <dt>Team</dt><dd id=\"invite-team\">{team}</dd>\n\
         <dt>Role</dt><dd id=\"invite-role\">{role}</dd>\n\
         <dt>Valid until</dt><dd>{expires}</dd>\n</dl>\n\
         <form id=\"accept-form\" novalidate>\n\
         <label for=\"name\">Your name, as your colleagues will see it</label>\n\
         <input id=\"name\" name=\"name\" required maxlength=\"100\" autocomplete=\"name\" \
         aria-describedby=\"form-error\">\n\
         <p id=\"form-error\" class=\"error\" role=\"alert\"></p>\n\
         <button id=\"accept-button\" type=\"submit\">Accept invitation</button>\n\
         </form>\n\
         <noscript><p class=\"error\">Accepting needs JavaScript.</p></noscript>\n\
         </section>\n\
         <section id=\"accepted\" hidden>\n\
         <h1 id=\"accepted-title\" tabindex=\"-1\">Welcome, <span id=\"accepted-name\"></span>!</h1>\n\
         <p>You are now a member of the <strong>{team}</strong> team in \
         <strong>{account}</strong> with the role <strong>{role}</strong>.</p>\n\
         <h2>What next</h2>\n\
         <p>Sign in to the apps your organization uses with Roster as <strong>{email}</strong>; \
         this link has done its job and will not work again.</p>\n\
         {console_next}\n\
         {graphiql_next}\n\
         </section>\n{invalid}",
        invalid = invalid_section(true),
    );
    pages::document(
        &format!("Join {} on Roster", p.account_name),
        nonce,
        &body,
        Some(SCRIPT),
    )
}

/// Accepts through the public API, exactly as any client would.
const SCRIPT: &str = r#"
(function () {
  "use strict";
  var QUERY = "mutation AcceptInvite($input: AcceptInviteInput!) { acceptInvite(input: $input) { user { id name email } token } }";
  var DEAD = ["ALREADY_ACCEPTED", "WITHDRAWN", "EXPIRED"];
  var form = document.getElementById("accept-form");
  var nameInput = document.getElementById("name");
  var button = document.getElementById("accept-button");
  var message = document.getElementById("form-error");
  var token = new URLSearchParams(window.location.search).get("token") || "";
  function show(id) {
    ["invite", "accepted", "invalid"].forEach(function (s) {
      document.getElementById(s).hidden = s !== id;
    });
  }
  function fail(text) {
    message.textContent = text;
    button.disabled = false;
    nameInput.focus();
  }
  function accepted(payload) {
    document.getElementById("accepted-name").textContent = payload.user.name;
    var consoleLink = document.getElementById("console-link");
    if (consoleLink && payload.token) {
      consoleLink.href = "console#token=" + encodeURIComponent(payload.token);
      document.getElementById("console-next").hidden = false;
    }
    var header = document.getElementById("accepted-header");
    if (header) {
      if (payload.token) {
        header.textContent = JSON.stringify({ Authorization: "Bearer " + payload.token });
      } else {
        document.getElementById("graphiql-next").hidden = true;
      }
    }
    show("accepted");
    document.getElementById("accepted-title").focus();
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var name = nameInput.value.trim();
    if (!name) {
      fail("Please enter your name.");
      return;
    }
    button.disabled = true;
    message.textContent = "";
    fetch("graphql", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/graphql-response+json, application/json"
      },
      body: JSON.stringify({
        operationName: "AcceptInvite",
        query: QUERY,
        variables: { input: { token: token, name: name } }
      })
    })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        var errors = body.errors || [];
        if (errors.length === 0 && body.data && body.data.acceptInvite) {
          accepted(body.data.acceptInvite);
          return;
        }
        var ext = (errors[0] && errors[0].extensions) || {};
        if (ext.code === "NOT_FOUND" || DEAD.indexOf(ext.reason) >= 0) {
          show("invalid");
        } else if (ext.code === "RATE_LIMITED") {
          fail("Too many attempts from your network; please try again in " + (ext.retryAfter || 60) + " seconds.");
        } else if (ext.code === "BAD_USER_INPUT" && errors[0].message) {
          fail(errors[0].message);
        } else {
          fail("Something went wrong on our side; please try again in a moment.");
        }
      })
      .catch(function () {
        fail("Roster could not be reached; check your connection and try again.");
      });
  });
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn preview() -> Preview {
        Preview {
            account_name: "Acme <Corp>".into(),
            email: "zoe@example.org".into(),
            inviter_name: Some("<img src=x onerror=alert(1)>".into()),
            team_name: "R&D \"Lab\"".into(),
            role_name: "Admin'".into(),
            expires_at: 1_772_721_000_000,
        }
    }

    #[test]
    fn invitation_values_are_escaped() {
        let html = invite_html(&preview(), true, "n0nce");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{html}"
        );
        assert!(html.contains("Acme &lt;Corp&gt;"), "{html}");
        assert!(html.contains("R&amp;D &quot;Lab&quot;"), "{html}");
        assert!(html.contains("Admin&#39;"), "{html}");
        assert!(html.contains("<script nonce=\"n0nce\">"), "{html}");
    }

    #[test]
    fn graphiql_hint_only_when_graphiql_is_served() {
        assert!(invite_html(&preview(), true, "n").contains("graphiql-link"));
        assert!(!invite_html(&preview(), false, "n").contains("graphiql-link"));
    }

    #[test]
    fn console_link_only_when_the_console_is_served() {
        let with = invite_page(&preview(), false, true, "n");
        assert!(with.contains("id=\"console-link\""), "{with}");
        assert!(with.contains("\"console#token=\" + encodeURIComponent(payload.token)"));
        // The script looks the link up and skips it when the page has none.
        assert!(!invite_page(&preview(), true, false, "n").contains("id=\"console-link\""));
    }
}
