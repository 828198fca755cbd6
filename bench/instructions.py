#!/usr/bin/env python3
"""Instructions per request, counted by callgrind: stable on a shared, noisy machine where
wall-clock numbers are not (standard library only; needs valgrind).

    bench/instructions.py --bin target/release/roster --database-url postgres://…/db \
        --email <admin> --account <acct_…> [--requests 200] [--cases viewer,users page]

Starts `roster serve` under `valgrind --tool=callgrind` with collection off, warms each case
up, then counts the instructions the server executes (all threads) while it answers
`--requests` sequential requests of one case, and prints instructions per request. With
PostgreSQL the count is Roster's process alone; with SQLite it includes the database.

`--cpu N` measures CPU time instead, without valgrind: the server runs natively and answers
N sequential requests of each case, and the user+system time of the server process and of
the PostgreSQL backends serving the database (from `/proc/<pid>/stat`) is divided by N.
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

# CPU time from /proc, the same measure bench/compare reports beside PostGraphile.
from compare import pg_cpu, proc_cpu

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
    ap.add_argument("--cpu", type=int, default=0,
                    help="measure CPU ms per request over this many requests (no valgrind)")
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
    if args.cpu:
        return cpu_per_request(args, env, url, token)
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


def cpu_per_request(args, env, url, token):
    database = args.database_url.rsplit("/", 1)[-1].split("?")[0]
    server = subprocess.Popen([args.bin, "serve"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{args.port}/readyz", timeout=5)
                break
            except OSError:
                time.sleep(0.1)
        for case in args.cases.split(","):
            for _ in range(50):
                post(url, CASES[case], token)
            before = (proc_cpu([server.pid]), pg_cpu(database))
            for _ in range(args.cpu):
                post(url, CASES[case], token)
            after = (proc_cpu([server.pid]), pg_cpu(database))
            roster, postgres = ((a - b) * 1000 / args.cpu for a, b in zip(after, before))
            print(f"{case:<26} {roster:6.3f} ms Roster + {postgres:6.3f} ms PostgreSQL "
                  f"CPU per request ({args.cpu} sequential requests)", flush=True)
    finally:
        server.terminate()
        server.wait()


def env_secret():
    return os.environ.get("ROSTER_JWT_SECRET") or "instructions-bench-secret-0123456789abcdef"


if __name__ == "__main__":
    main()
