"""Verifies webhook deliveries with the `standardwebhooks` package from PyPI — an
implementation independent of Roster's own signing code.

Reads JSON from stdin: {"secret": "whsec_...", "messages": [{"id", "timestamp", "signature",
"body"}, ...]} and prints a JSON list with one boolean per message: whether its signature
verifies with that secret. Timestamps are checked too (the library's 5-minute tolerance).
"""

import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main() -> None:
    request = json.load(sys.stdin)
    webhook = Webhook(request["secret"])
    results = []
    for m in request["messages"]:
        headers = {
            "webhook-id": m["id"],
            "webhook-timestamp": m["timestamp"],
            "webhook-signature": m["signature"],
        }
        try:
            webhook.verify(m["body"], headers)
            results.append(True)
        except WebhookVerificationError:
            results.append(False)
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
