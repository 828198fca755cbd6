"""Driver of bench/scim (standard library only): times SCIM creates and userName lookups,
and writes the "SCIM provisioning" section of BENCHMARKS.md."""

import argparse
import http.client
import json
import os
import platform
import random
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request

# CPU time from /proc, measured as bench/compare measures it beside PostGraphile.
from compare import pg_cpu, proc_cpu

START = "<!-- scim-bench:start -->"
END = "<!-- scim-bench:end -->"


def request(url, token, method="GET", body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/scim+json",
    })
    with urllib.request.urlopen(req, timeout=60) as res:
        return res.status, json.load(res)


class Client:
    """One kept-alive HTTP/1.1 connection, as an IdP's provisioning worker holds one (a new
    TCP connection per request would mostly measure connection set-up, on both sides)."""

    def __init__(self, url, token):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port, self.base = parts.hostname, parts.port, parts.path
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def call(self, path, method="GET", body=None):
        data = json.dumps(body).encode() if body is not None else None
        for attempt in (0, 1):
            try:
                self.conn.request(method, self.base + path, body=data, headers=self.headers)
                res = self.conn.getresponse()
                return res.status, json.loads(res.read())
            except (http.client.HTTPException, ConnectionError):
                # The server closed an idle connection: reconnect once.
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt:
                    raise


def cpu_now(a):
    """(server, PostgreSQL, this client) CPU seconds so far."""
    pg = pg_cpu(a.pg_db) if a.pg_db else 0.0
    own = os.times()
    return proc_cpu([a.pid]) if a.pid else 0.0, pg, own.user + own.system


def measure(a):
    run = f"{int(time.time())}"
    # First sync: look up then create users, `concurrency` at a time, as an IdP's
    # provisioning workers do.
    queue = list(range(a.creates))
    lock = threading.Lock()
    failures = []

    def worker():
        client = Client(a.url, a.token)
        while True:
            with lock:
                if not queue:
                    return
                i = queue.pop()
            body = {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": f"sync-{run}-{i}@bench.test",
                "name": {"givenName": "Sync", "familyName": f"User {i}"},
                "externalId": f"ext-{run}-{i}",
                "active": True,
            }
            try:
                # Okta's sequence: look the user up by userName, create them when absent.
                q = urllib.parse.quote(f'userName eq "{body["userName"]}"')
                _, found = client.call(f"/Users?filter={q}&startIndex=1&count=100")
                if found["totalResults"] != 0:
                    failures.append("already there")
                    continue
                status, _ = client.call("/Users", "POST", body)
                if status != 201:
                    failures.append(status)
            except Exception as e:  # noqa: BLE001 - counted and reported
                failures.append(str(e))

    cpu_before = cpu_now(a)
    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(a.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    cpu_after = cpu_now(a)
    per_create = [round((y - x) * 1000 / a.creates, 2) for x, y in zip(cpu_before, cpu_after)]
    if failures:
        sys.exit(f"{len(failures)} creates failed, e.g. {failures[:3]}")
    creates_per_s = a.creates / elapsed

    # Lookups of existing users by userName, spread over the whole account.
    _, first = request(f"{a.url}/Users?count=1", a.token)
    total = first["totalResults"]
    names = []
    while len(names) < min(a.lookups, total):
        start = random.randint(1, max(1, total - 100))
        _, page = request(f"{a.url}/Users?startIndex={start}&count=100&attributes=userName", a.token)
        names.extend(r["userName"] for r in page["Resources"])
    random.shuffle(names)
    names = names[: a.lookups]
    latencies = []
    client = Client(a.url, a.token)
    for name in names:
        q = urllib.parse.quote(f'userName eq "{name}"')
        t0 = time.perf_counter()
        _, page = client.call(f"/Users?filter={q}")
        latencies.append((time.perf_counter() - t0) * 1000)
        if page["totalResults"] != 1:
            sys.exit(f"lookup of {name} found {page['totalResults']}")
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
    result = {
        "db": a.db,
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "users": total,
        "creates": a.creates,
        "concurrency": a.concurrency,
        "create_seconds": round(elapsed, 2),
        "creates_per_s": round(creates_per_s, 1),
        # CPU per create (its lookup included), milliseconds: the server process, the
        # PostgreSQL backends serving the database (0 on SQLite: in the server), this client.
        "cpu_server_ms": per_create[0],
        "cpu_postgres_ms": per_create[1],
        "cpu_client_ms": per_create[2],
        "lookups": len(latencies),
        "lookup_p50_ms": round(p(0.50), 2),
        "lookup_p99_ms": round(p(0.99), 2),
        "lookup_mean_ms": round(statistics.mean(latencies), 2),
    }
    with open(a.out, "w") as f:
        json.dump(result, f)
    print(json.dumps(result))


def report(a):
    rows = []
    for db in a.databases.split():
        path = os.path.join(a.out, f"scim-{db}.txt")
        if os.path.exists(path):
            with open(path) as f:
                rows.append(json.load(f))
    lines = [
        START,
        "## SCIM provisioning (bench/scim)",
        "",
        f"Command: `{a.command}` on {platform.machine()}, {os.cpu_count()} cores, "
        f"{time.strftime('%Y-%m-%d')}. Targets: ≥ 500 creates/s, lookup p99 ≤ 10 ms. "
        f"The server's connection to PostgreSQL: `sslmode={a.sslmode}`.",
        "",
        *(
            ["**Smoke run on a debug build** while other builds shared the 2 cores: not the "
             "measurement. The full one: `bench/scim` (release build, 100,000 users, 10,000 "
             "creates, both databases).", ""]
            if "BENCH_PROFILE=debug" in a.command
            else []
        ),
        "Creates: Okta's first-sync sequence per user (`GET /Users?filter=userName eq \"…\"`, "
        "then `POST /Users`), timed end to end, each worker on one kept-alive connection. "
        "CPU per create (its lookup included) from `/proc`: the server process, the PostgreSQL "
        "backends serving the database (SQLite runs inside the server), and the Python client "
        "itself, which shares the 2 cores. Lookups: `filter=userName eq` of existing users "
        "spread over the account, one at a time. Load average: at the end of the run.",
        "",
        "| database | users in the account | creates (concurrency) | creates/s | CPU per create: server + PostgreSQL (client) ms | userName lookups | p50 ms | p99 ms | load average |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['db']} | {r['users']:,} | {r['creates']:,} ({r['concurrency']}) | {r['creates_per_s']} "
            f"| {r.get('cpu_server_ms', '—')} + {r.get('cpu_postgres_ms', '—')} ({r.get('cpu_client_ms', '—')}) "
            f"| {r['lookups']:,} | {r['lookup_p50_ms']} | {r['lookup_p99_ms']} | {r.get('load_average', '')} |"
        )
    lines.append(END)
    section = "\n".join(lines) + "\n"
    text = open(a.report).read() if os.path.exists(a.report) else ""
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1].lstrip("\n")
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(a.report, "w") as f:
        f.write(text)
    print(section)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "report":
        p = argparse.ArgumentParser()
        p.add_argument("mode")
        p.add_argument("--out", required=True)
        p.add_argument("--databases", required=True)
        p.add_argument("--report", dest="report", required=True)
        p.add_argument("--command", required=True)
        p.add_argument("--sslmode", default="disable")
        return report(p.parse_args())
    p = argparse.ArgumentParser()
    for name in ("db", "url", "token", "out"):
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--pid", type=int, help="the server's pid, for its CPU")
    p.add_argument("--pg-db", help="the PostgreSQL database, for its backends' CPU")
    for name in ("creates", "lookups", "concurrency", "users"):
        p.add_argument(f"--{name}", type=int, required=True)
    measure(p.parse_args())


if __name__ == "__main__":
    main()
