"""Schemathesis checks for Roster.

schemathesis's own `not_a_server_error` also counts every GraphQL error that is not a
validation error as a server error (ST113) — NOT_FOUND, FORBIDDEN, LIMIT_EXCEEDED included,
which are Roster's documented answers to bad ids and forbidden calls. So the run uses this
check instead: a failure is a 5xx status, a body that is not a GraphQL response, or any
error with code INTERNAL_SERVER_ERROR (Roster answers most of those with HTTP 200, so the
status alone would not show them)."""

import json

import schemathesis


@schemathesis.check
def no_server_failure(ctx, response, case):
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}")
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        raise AssertionError("the response is not JSON")
    bodies = body if isinstance(body, list) else [body]
    for b in bodies:
        if not isinstance(b, dict) or not ("data" in b or "errors" in b):
            raise AssertionError("the response is not a GraphQL response")
        for error in b.get("errors") or []:
            extensions = (error or {}).get("extensions") or {}
            if extensions.get("code") == "INTERNAL_SERVER_ERROR":
                raise AssertionError(
                    f"INTERNAL_SERVER_ERROR (requestId {extensions.get('requestId')}; "
                    "the cause is in fuzz/out/server.log)"
                )
            if not extensions.get("code"):
                raise AssertionError(f"an error without a code: {error}")
    return None
