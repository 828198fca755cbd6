#!/usr/bin/env python3
"""Instructions per request, counted by callgrind: stable on a shared, noisy machine where
wall-clock numbers are not (standard library only; needs valgrind).

    bench/instructions.py --bin target/release/roster --database-url postgres://…/db \
        --email <admin> --account <acct_…> [--requests 200] [--cases viewer,users page]

Starts `roster serve` under `valgrind --tool=callgrind` with collection off, warms each case
up, then counts the instructions the server executes (all threads) while it answers
`--requests` sequential requests of one case, and prints instructions per request. With
PostgreSQL the count is Roster's process alone; with SQLite it includes the database.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

CASES = {
    "typename": "{ __typename }",
    "viewer": "{ viewer { id name email role { name scope permissions } team { name } } }",
    "users page": "{ users(first: 50) { nodes { id name email role { name } team { name } } "
                  "pageInfo { hasNextPage endCursor } } }",
    "users page + totalCount": "{ users(first: 50) { totalCount nodes { id name email role { name } "
                               "team { name } } pageInfo { hasNextPage endCursor } } }",
}


def post(url, query, token):
    req = urllib.request.Request(url, json.dumps({"query": query}).encode(),
                                 {"Content-Type": "application/json",
                                  "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=120) as r:
        answer = json.load(r)
    if answer.get("errors"):
        sys.exit(f"errors: {answer['errors']}")


def control(pid, *args):
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def total_ir(out_dir):
    total = 0
    for f in Path(out_dir).glob("callgrind.out*"):
        for line in f.read_text(errors="replace").splitlines():
            m = re.match(r"^totals:\s+(\d+)", line)
            if m:
                total += int(m.group(1))
                break
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--email", required=True)
    ap.add_argument("--account", required=True)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--port", type=int, default=18095)
    ap.add_argument("--cases", default=",".join(CASES))
    args = ap.parse_args()

    env = dict(os.environ, DATABASE_URL=args.database_url, ROSTER_LISTEN=f"127.0.0.1:{args.port}",
               ROSTER_MAIL="log", RUST_LOG="warn", ROSTER_RATE_LIMIT_PER_USER="0",
               ROSTER_RATE_LIMIT_PER_IP="0", ROSTER_COST_BUDGET_PER_USER="0",
               ROSTER_COST_BUDGET_PER_IP="0",
               ROSTER_JWT_SECRET=env_secret())
    token = subprocess.run([args.bin, "token", "--email", args.email, "--account", args.account,
                            "--ttl", "4h"], env=env, check=True, capture_output=True,
                           text=True).stdout.strip()
    url = f"http://127.0.0.1:{args.port}/graphql"
    results = {}
    for case in args.cases.split(","):
        with tempfile.TemporaryDirectory() as out:
            server = subprocess.Popen(
                ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                 f"--callgrind-out-file={out}/callgrind.out.%p", args.bin, "serve"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                for _ in range(600):
                    try:
                        urllib.request.urlopen(f"http://127.0.0.1:{args.port}/readyz", timeout=5)
                        break
                    except OSError:
                        time.sleep(0.5)
                for _ in range(20):
                    post(url, CASES[case], token)
                control(server.pid, "-z")
                control(server.pid, "-i", "on")
                for _ in range(args.requests):
                    post(url, CASES[case], token)
                control(server.pid, "-i", "off")
                control(server.pid, "-d")
                time.sleep(1)
                results[case] = total_ir(out) / args.requests
            finally:
                server.terminate()
                server.wait()
        print(f"{case:<26} {results[case]:>12,.0f} instructions per request", flush=True)


def env_secret():
    return os.environ.get("ROSTER_JWT_SECRET") or "instructions-bench-secret-0123456789abcdef"


if __name__ == "__main__":
    main()
