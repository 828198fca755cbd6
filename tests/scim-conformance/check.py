"""Runs scim2-tester's check_server against a Roster SCIM endpoint and fails unless every
check is SUCCESS or SKIPPED.

    check.py BASE_URL TOKEN        e.g. http://127.0.0.1:8080/scim/v2 roster_scim_…

The server's schemas are discovered first, then the value domains the SCIM schema language
cannot express are described to the tester as examples (it fills attributes with random
UUIDs otherwise): Roster's userName is an email address, and the extension's team and role
name an existing team and a role the token may grant. Nothing else is configured.
"""

import sys
import uuid
from collections.abc import Sequence

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server


class FreshEmails(Sequence):
    """Examples that are a new address each time one is picked (userName is unique)."""

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index):
        if index != 0:
            raise IndexError(index)
        return f"tester-{uuid.uuid4().hex}@conformance.test"


def describe(client: SyncSCIMClient, http: Client) -> None:
    client.discover()
    user = client.get_resource_model("User")
    user.model_fields["user_name"].examples = FreshEmails()
    # The default team (the account's first) and the built-in Sender role.
    teams = http.get("/Groups", params={"count": 1}).json()["Resources"]
    for model in client.provider.models:
        if model.__name__ == "RosterUser":
            model.model_fields["team"].examples = [teams[0]["displayName"]]
            model.model_fields["role"].examples = ["Sender"]


def main() -> int:
    base_url, token = sys.argv[1], sys.argv[2]
    http = Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    client = SyncSCIMClient(http)
    describe(client, http)
    results = check_server(client)
    counts: dict[str, int] = {}
    failed = []
    for r in results:
        counts[r.status.name] = counts.get(r.status.name, 0) + 1
        if r.status not in (Status.SUCCESS, Status.SKIPPED):
            failed.append(r)
    for r in failed:
        print(f"{r.status.name}: [{r.resource_type or '-'}] {r.title}: {r.reason}")
    print("scim2-tester:", ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
