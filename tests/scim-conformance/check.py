"""Runs scim2-tester's check_server against a Roster SCIM endpoint and fails unless every
check is SUCCESS or SKIPPED.

    check.py BASE_URL TOKEN        e.g. http://127.0.0.1:8080/scim/v2 roster_scim_…
"""

import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server


def main() -> int:
    base_url, token = sys.argv[1], sys.argv[2]
    http = Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    results = check_server(SyncSCIMClient(http))
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
