"""Creates a SCIM token with the Admin role through GraphQL; prints its secret.

    scim_token.py GRAPHQL_URL ADMIN_JWT
"""

import json
import sys
import urllib.request


def gql(url: str, jwt: str, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(
        url,
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {jwt}"},
    )
    with urllib.request.urlopen(req, timeout=30) as res:
        reply = json.load(res)
    if reply.get("errors"):
        raise SystemExit(f"GraphQL error: {reply['errors']}")
    return reply["data"]


def main() -> None:
    url, jwt = sys.argv[1], sys.argv[2]
    roles = gql(url, jwt, "query Roles { roles { id key } }")["roles"]
    admin = next(r["id"] for r in roles if r["key"] == "ADMIN")
    created = gql(
        url,
        jwt,
        "mutation NewScimToken($role: ID!) { createScimToken(input: "
        '{ description: "scim2-tester", roleId: $role }) { secret } }',
        {"role": admin},
    )
    print(created["createScimToken"]["secret"])


if __name__ == "__main__":
    main()
