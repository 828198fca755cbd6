"""Hostile GraphQL documents for Roster's parser path, generated with hypothesis.

schemathesis (fuzz/run's first pass) generates valid operations from the schema; this pass
generates what an attacker sends instead: documents built from a grammar of GraphQL's own
shapes, pushed to extremes — nesting of list and object literals, selections and variable
definitions thousands deep, fragment chains that double, directives by the thousand, NUL and
surrogate escapes, overlong strings, token soup, truncations and random splices of all of
these — plus hostile JSON bodies (deep variables, lone surrogates, batches).

Each request must come back within 2 s with a GraphQL-shaped body whose every error has a
code other than INTERNAL_SERVER_ERROR, never a 5xx, and /healthz must answer throughout.

    python fuzz/hostile.py URL TOKEN SECONDS
"""

import json
import sys
import time
import urllib.error
import urllib.request

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

URL, TOKEN, SECONDS = sys.argv[1], sys.argv[2], float(sys.argv[3])
BASE = URL.rsplit("/graphql", 1)[0]
DEADLINE = time.monotonic() + SECONDS
STATS = {"requests": 0, "codes": {}}

FIELDS = ["viewer", "users", "invites", "teams", "departments", "roles", "auditEvents",
          "account", "node", "user", "__typename", "__schema", "x"]
ARGS = ["first", "last", "after", "before", "filter", "search", "id", "orderBy", "input"]
ESCAPES = ["\\u0000", "\\uD800", "\\uDFFF", "\\uD83D\\uDE00", "\\n", "\\\"", "\\\\", "\\u00e9",
           "\\x", "\\u12", "\u0000", "é", "\U0001F600"]


def nested(open_, close, inner, depth):
    return open_ * depth + inner + close * depth


scalars = st.one_of(
    st.integers(-2**70, 2**70).map(str),
    st.sampled_from(["true", "false", "null", "ASC", "NAME", "1.5e309", "-0", "$v"]),
    st.lists(st.sampled_from(ESCAPES + ["a", "b", " "]), max_size=20).map(
        lambda parts: '"' + "".join(parts) + '"'),
    st.integers(0, 20_000).map(lambda n: '"' + "a" * n + '"'),
    st.integers(0, 6_000).map(lambda n: '"""' + "x" * n + '"""'),
)


def values(leaf):
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
            st.lists(st.tuples(st.sampled_from(ARGS), inner), max_size=4).map(
                lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}"),
        ),
        max_leaves=12,
    )


deep_values = st.tuples(st.sampled_from(["[", "{a: "]), st.integers(1, 20_000), scalars).map(
    lambda t: nested(t[0], "]" if t[0] == "[" else "}", t[2], t[1]))

arguments = st.lists(st.tuples(st.sampled_from(ARGS), st.one_of(values(scalars), deep_values)),
                     max_size=3).map(
    lambda kv: "(" + ", ".join(f"{k}: {v}" for k, v in kv) + ")" if kv else "")

directives = st.integers(0, 4_000).map(lambda n: " @skip(if: false)" * n)

selections = st.recursive(
    st.tuples(st.sampled_from(FIELDS), arguments, directives).map("".join),
    lambda inner: st.one_of(
        st.tuples(st.sampled_from(FIELDS), arguments, st.lists(inner, min_size=1, max_size=4)).map(
            lambda t: f"{t[0]}{t[1]} {{ {' '.join(t[2])} }}"),
        st.lists(inner, min_size=1, max_size=4).map(lambda xs: "... on Query { " + " ".join(xs) + " }"),
        st.integers(1, 40).map(lambda n: f"...F{n}"),
    ),
    max_leaves=20,
)

deep_selection = st.integers(1, 20_000).map(lambda n: nested("viewer { team { ", " } }", "id", n))


def fragment_chain(n, width):
    spreads = lambda i: " ".join([f"...F{i + 1}"] * width)
    parts = [f"fragment F{i} on Query {{ {spreads(i)} }}" for i in range(n)]
    parts.append(f"fragment F{n} on Query {{ __typename }}")
    return "query { ...F0 }\n" + "\n".join(parts)


documents = st.one_of(
    st.tuples(st.sampled_from(["", "query ", "mutation ", "subscription ", "query Q($v: [ID] = [[1]]) "]),
              st.lists(selections, min_size=1, max_size=5)).map(lambda t: t[0] + "{ " + " ".join(t[1]) + " }"),
    deep_selection.map(lambda s: "{ " + s + " }"),
    st.tuples(st.integers(2, 60), st.integers(1, 3)).map(lambda t: fragment_chain(*t)),
    st.integers(1, 20_000).map(lambda n: "query($v: " + "[" * n + "ID" + "]" * n + ") { __typename }"),
    st.integers(1, 80_000).map(lambda n: "{ " + "__typename " * n + "}"),
    st.text(alphabet="{}[]()@$:.!=|&\"\\#,\n abcxyz019_", max_size=5_000),
)
# Truncations and splices of everything above.
documents = st.one_of(
    documents,
    st.tuples(documents, st.floats(0, 1)).map(lambda t: t[0][: int(len(t[0]) * t[1])]),
    st.tuples(documents, documents).map(lambda t: t[0][: len(t[0]) // 2] + t[1][len(t[1]) // 2:]),
)


def deep_json(n):
    return "[" * n + "]" * n


bodies = st.one_of(
    documents.map(lambda d: json.dumps({"query": d}).encode()),
    st.tuples(documents, st.integers(1, 20_000)).map(
        lambda t: ('{"query": %s, "variables": {"v": %s}}' % (json.dumps(t[0]), deep_json(t[1]))).encode()),
    st.sampled_from(["\\ud800", "\\udfff", "\\u0000", "\\ud83d\\ude00", "\\ud83d"]).map(
        lambda e: ('{"query": "query($s: String) { users(filter: {search: $s}) { totalCount } }", '
                   '"variables": {"s": "a%sb"}}' % e).encode()),
    st.lists(documents, min_size=0, max_size=12).map(
        lambda ds: json.dumps([{"query": d} for d in ds]).encode()),
    st.integers(1, 20_000).map(lambda n: deep_json(n).encode()),
)


def post(body):
    request = urllib.request.Request(
        URL, data=body, method="POST",
        headers={"content-type": "application/json", "authorization": f"Bearer {TOKEN}"})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read()
    return status, text, time.monotonic() - started


def alive():
    with urllib.request.urlopen(BASE + "/healthz", timeout=2) as response:
        assert response.status == 200, "healthz"


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(bodies)
def test_hostile(body):
    if time.monotonic() > DEADLINE:
        return
    status, text, elapsed = post(body)
    STATS["requests"] += 1
    excerpt = body[:300]
    assert status < 500, f"HTTP {status} for {excerpt!r}"
    assert elapsed < 2.0, f"{elapsed:.2f}s for {excerpt!r}"
    parsed = json.loads(text)
    for b in parsed if isinstance(parsed, list) else [parsed]:
        assert isinstance(b, dict) and ("data" in b or "errors" in b), f"not GraphQL: {text[:200]!r}"
        for error in b.get("errors") or []:
            code = ((error or {}).get("extensions") or {}).get("code")
            assert code, f"error without a code: {error} for {excerpt!r}"
            assert code != "INTERNAL_SERVER_ERROR", f"internal error for {excerpt!r}"
            STATS["codes"][code] = STATS["codes"].get(code, 0) + 1
    if STATS["requests"] % 50 == 0:
        alive()


if __name__ == "__main__":
    # Hypothesis stops a run at its example budget; keep starting runs until the time is up.
    while time.monotonic() < DEADLINE:
        test_hostile()
    alive()
    print(f"hostile: {STATS['requests']} requests, every answer coded and under 2 s; codes {STATS['codes']}")
