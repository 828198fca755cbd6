//! GraphQL subscriptions over WebSocket at `GET /graphql` (an upgrade request; a plain GET
//! still serves GraphiQL). Protocols: `graphql-transport-ws` (the `graphql-ws` client's) and
//! the older `subscriptions-transport-ws`.
//!
//! - **Authentication** is the JWT in the `connection_init` payload: `{"Authorization":
//!   "Bearer <jwt>"}` (any case of the key), `{"token": "<jwt>"}`, or either inside
//!   `{"headers": {…}}` (GraphiQL's header editor). Without a valid token the connection is
//!   closed (4403) before any operation runs.
//! - **Keep-alive**: the server sends a protocol `ping` every `PING_EVERY` (the client
//!   answers `pong`; a client `ping` is answered with `pong`) and closes a connection that
//!   has sent nothing for `IDLE_TIMEOUT`.
//! - Operations pass the same document guard and limits as over HTTP (the schema's
//!   extension); what a stream carries and for how long is `service::event_hub`.

use std::time::Duration;

use async_graphql::http::{WebSocket as GraphQLStream, WebSocketProtocols, WsMessage};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt, future};

use super::{App, AppState};
use crate::graphql::{self, Caller};
use crate::service::principal;

/// How often the server pings an idle connection.
const PING_EVERY: Duration = Duration::from_secs(15);
/// A connection that sends nothing (not even a `pong`) for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Whether `GET /graphql` asks for a WebSocket.
pub fn is_upgrade(request: &Request) -> bool {
    request
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Accepts the WebSocket and serves subscriptions on it.
pub async fn upgrade(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let Some(protocol) = protocol_of(&parts.headers) else {
        return (
            StatusCode::BAD_REQUEST,
            "Sec-WebSocket-Protocol must offer graphql-transport-ws (or graphql-ws)",
        )
            .into_response();
    };
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    let app = state.0.clone();
    ws.protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve(app, socket, protocol))
}

/// The first GraphQL subprotocol the client offers.
fn protocol_of(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().parse().ok())
}

async fn serve(app: std::sync::Arc<App>, socket: WebSocket, protocols: WebSocketProtocols) {
    let (mut sink, stream) = socket.split();
    let input = stream
        .take_while(|m| future::ready(m.is_ok()))
        .filter_map(|m| {
            future::ready(match m {
                Ok(m @ (Message::Text(_) | Message::Binary(_))) => Some(m.into_data()),
                _ => None,
            })
        });
    let init_app = app.clone();
    let mut output = GraphQLStream::new(app.schema.clone(), input, protocols)
        .on_connection_init(move |payload| async move { connection_init(&init_app, payload).await })
        .keepalive_timeout(IDLE_TIMEOUT)
        .map(|m| match m {
            WsMessage::Text(text) => Message::Text(text.into()),
            WsMessage::Close(code, reason) => Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })),
        });
    let ping = match protocols {
        WebSocketProtocols::GraphQLWS => r#"{"type":"ping"}"#,
        WebSocketProtocols::SubscriptionsTransportWS => r#"{"type":"ka"}"#,
    };
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    let mut acknowledged = false;
    loop {
        tokio::select! {
            message = output.next() => match message {
                Some(m) => {
                    let m = match m {
                        Message::Text(text) => {
                            acknowledged |= text.as_str().contains(r#""connection_ack""#);
                            Message::Text(text)
                        }
                        // A refused `connection_init` (async-graphql says 1002): the
                        // protocol's answer is 4403 Forbidden, which clients do not retry.
                        Message::Close(Some(frame)) if !acknowledged && frame.code == 1002 => {
                            Message::Close(Some(CloseFrame {
                                code: 4403,
                                reason: "Forbidden".into(),
                            }))
                        }
                        other => other,
                    };
                    if sink.send(m).await.is_err() {
                        return;
                    }
                }
                None => break,
            },
            _ = pings.tick() => {
                if sink.send(Message::Text(ping.into())).await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = sink.close().await;
}

/// Reads the token of a `connection_init` payload and loads its user.
async fn connection_init(
    app: &App,
    payload: serde_json::Value,
) -> async_graphql::Result<async_graphql::Data> {
    let refused =
        || async_graphql::Error::new("a valid access token is required in connection_init");
    let token = token_of(&payload).ok_or_else(refused)?;
    let claims = app.jwt.verify_claims(&token).map_err(|_| refused())?;
    let principal = principal::load_for_token(app.db.conn(), &claims.sub, claims.iat)
        .await
        .map_err(|e| match e {
            crate::service::Error::Unauthenticated => refused(),
            other => async_graphql::Error::from(other),
        })?;
    Ok(graphql::connection_data(
        &app.db,
        Caller::User(principal),
        Some(claims.exp),
        app.limits.loader_delay,
    ))
}

/// The JWT of a `connection_init` payload: `Authorization: Bearer …` or `token`, at the top
/// level or under `headers`.
fn token_of(payload: &serde_json::Value) -> Option<String> {
    let object = payload.as_object()?;
    let found = |o: &serde_json::Map<String, serde_json::Value>| {
        o.iter().find_map(|(k, v)| {
            let v = v.as_str()?;
            if k.eq_ignore_ascii_case("authorization") {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
                    .map(|t| t.trim().to_owned())
            } else if k == "token" {
                Some(v.trim().to_owned())
            } else {
                None
            }
        })
    };
    found(object).or_else(|| object.get("headers")?.as_object().and_then(found))
}

#[cfg(test)]
mod tests {
    use super::token_of;
    use serde_json::json;

    #[test]
    fn tokens_are_read_from_every_accepted_payload_shape() {
        for payload in [
            json!({ "Authorization": "Bearer abc" }),
            json!({ "authorization": "Bearer abc" }),
            json!({ "token": "abc" }),
            json!({ "headers": { "Authorization": "Bearer abc" } }),
        ] {
            assert_eq!(token_of(&payload).as_deref(), Some("abc"), "{payload}");
        }
        assert_eq!(token_of(&json!({})), None);
        assert_eq!(token_of(&json!({ "Authorization": "Basic abc" })), None);
    }
}
