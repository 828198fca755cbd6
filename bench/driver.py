#!/usr/bin/env python3
"""Roster benchmark driver (standard library only), called by `bench/run`.

    driver.py measure ...   against a running, seeded server: checks each read query once
                            (no GraphQL errors), drives it with wrk, times the mutations
                            sequentially, samples the server's peak RSS after every phase,
                            and appends one line per case to a results file (TSV)
    driver.py report ...    writes BENCHMARKS.md from the results and the seed reports
"""

import argparse
import email
import email.policy
import json
import os
import platform
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent

# case -> (what the issue asks, check(rps, p50, p99) -> bool), None when it sets no target.
TARGETS = {
    "users page": ("≥ 2,000 req/s, p99 ≤ 20 ms", lambda rps, p50, p99: rps >= 2000 and p99 <= 20),
    "search broad": ("p99 ≤ 40 ms", lambda rps, p50, p99: p99 <= 40),
    "search narrow": ("p99 ≤ 10 ms", lambda rps, p50, p99: p99 <= 10),
    "changeUsersRole 1,000": ("p99 ≤ 150 ms", lambda rps, p50, p99: p99 <= 150),
    "inviteUsers 100": ("p99 ≤ 250 ms", lambda rps, p50, p99: p99 <= 250),
}
MEMORY_TARGET_MB = 150

USERS_PAGE = """query UsersPage($after: String) {
  users(first: 50, after: $after) {
    totalCount
    nodes { id name email role { name } team { name } }
    pageInfo { hasNextPage endCursor }
  }
}"""

SEARCH = """query Search($q: String!) {
  users(filter: { search: $q }, first: 50) {
    totalCount
    nodes { id name email role { name } team { name } }
  }
}"""

INVITES_PENDING = """{
  invites(filter: { statuses: [PENDING] }, first: 50) {
    totalCount
    nodes { id email status expiresAt role { name } team { name } }
  }
}"""

VIEWER = "{ viewer { id name email role { name scope permissions } team { name } } }"


class Api:
    def __init__(self, url, token):
        self.url = url.rstrip("/") + "/graphql"
        self.token = token

    def post(self, query, variables=None, auth=True):
        """One request; returns (seconds, parsed body). Raises on HTTP errors."""
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(self.url, data=body, method="POST")
        req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Authorization", f"Bearer {self.token}")
        start = time.perf_counter()
        with urllib.request.urlopen(req, timeout=60) as res:
            raw = res.read()
        return time.perf_counter() - start, json.loads(raw)

    def data(self, query, variables=None, auth=True):
        """The `data` of a request that must not fail."""
        _, body = self.post(query, variables, auth)
        if body.get("errors"):
            sys.exit(f"GraphQL errors: {json.dumps(body['errors'])[:2000]}\nquery: {query}")
        return body["data"]


def peak_rss_mb(pid):
    """The process's peak resident set (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(samples, p):
    """Nearest-rank percentile of a list of milliseconds."""
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


class Results:
    COLUMNS = ["db", "case", "rps", "p50_ms", "p99_ms", "peak_rss_mb", "requests", "errors", "note"]

    def __init__(self, path, db, pid):
        self.path = Path(path)
        self.db = db
        self.pid = pid
        if not self.path.exists():
            self.path.write_text("\t".join(self.COLUMNS) + "\n")

    def add(self, case, rps, p50, p99, requests, errors, note=""):
        rss = peak_rss_mb(self.pid)
        row = [self.db, case, f"{rps:.1f}", f"{p50:.2f}", f"{p99:.2f}", f"{rss:.1f}",
               str(requests), str(errors), note]
        with self.path.open("a") as f:
            f.write("\t".join(row) + "\n")
        print(f"  {case:<24} {rps:>9.1f} req/s  p50 {p50:>8.2f} ms  p99 {p99:>8.2f} ms  "
              f"peak RSS {rss:6.1f} MB  errors {errors}  {note}", flush=True)


def wrk_case(args, api, results, case, query, variables):
    """Checks the request once, then drives it with wrk."""
    data = api.data(query, variables)
    first = next(iter(data.values()))
    total = first.get("totalCount") if isinstance(first, dict) else None
    body_file = Path(args.out) / f"body-{case.replace(' ', '-').replace(',', '')}.json"
    body_file.write_text(json.dumps({"query": query, "variables": variables}))
    env = dict(os.environ, BENCH_TOKEN=api.token, BENCH_BODY=str(body_file))
    # wrk's own 2 s timeout would drop slow answers from the latency figures; wait as long
    # as the server does (its default request timeout).
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds}s",
           "--timeout", "10s", "-s", str(HERE / "gql.lua"), api.url]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    line = next((l for l in out.splitlines() if l.startswith("WRK_RESULT")), None)
    if line is None:
        sys.exit(f"wrk printed no result:\n{out}")
    r = dict(kv.split("=") for kv in line.split()[1:])
    errors = int(r["non2xx"]) + int(r["socket_errors"])
    note = f"totalCount {total}" if total is not None else ""
    results.add(case, float(r["rps"]), float(r["p50_ms"]), float(r["p99_ms"]),
                int(r["requests"]), errors, note)


def cpu_seconds(pids):
    """User + system CPU seconds of the given processes so far (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


def pg_backends(pg_db):
    """Process ids of the PostgreSQL backends connected to database `pg_db` (needs psql)."""
    if not pg_db:
        return []
    out = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", pg_db, "-XAtc",
                          f"SELECT pid FROM pg_stat_activity WHERE datname = '{pg_db}' AND pid <> pg_backend_pid()"],
                         capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()] if out.returncode == 0 else []


def timed(results, case, runs, one, server_pid=None, pg_db=None):
    """Runs `one(i)` (returns seconds) `runs` times after one warm-up; records p50/p99 and,
    when given the server's pid (and the database's name), the CPU each run cost the server
    (and PostgreSQL's backends): CPU time moves far less than latency on a shared machine."""
    one(-1)
    procs = ([server_pid] if server_pid else []) + pg_backends(pg_db)
    before = {p: cpu_seconds([p]) for p in procs}
    samples = [one(i) * 1000 for i in range(runs)]
    print(f"  {case}, each run in ms, sorted: " + " ".join(f"{x:.0f}" for x in sorted(samples)),
          flush=True)
    mean = sum(samples) / len(samples)
    note = f"{runs} sequential runs, mean {mean:.1f} ms"
    if server_pid:
        server = (cpu_seconds([server_pid]) - before[server_pid]) * 1000 / runs
        pg = sum(cpu_seconds([p]) - before[p] for p in procs if p != server_pid) * 1000 / runs
        note += f"; CPU per run: server {server:.1f} ms, PostgreSQL {pg:.1f} ms"
    results.add(case, 1000 / mean, percentile(samples, 50), percentile(samples, 99),
                len(samples), 0, note)


def measure(args):
    api = Api(args.url, args.token)
    results = Results(args.results, args.db, args.pid)
    Path(args.out).mkdir(parents=True, exist_ok=True)

    roles = {r["key"]: r["id"] for r in api.data("{ roles { id key } }")["roles"]}
    team = api.data("{ teams(first: 1) { nodes { id } } }")["teams"]["nodes"][0]["id"]
    # A narrow search: the full email of an existing user (not the Admin).
    someone = api.data(
        "query($r: [ID!]) { users(filter: { roleIds: $r }, orderBy: { field: EMAIL, direction: DESC }, first: 1) { nodes { email } } }",
        {"r": [roles["SENDER"]]})["users"]["nodes"][0]["email"]

    if args.only == "all":
        print(f"[{args.db}] reads: wrk -t{args.threads} -c{args.connections} -d{args.seconds}s", flush=True)
        wrk_case(args, api, results, "viewer", VIEWER, {})
        wrk_case(args, api, results, "users page", USERS_PAGE, {})
        wrk_case(args, api, results, "search broad", SEARCH, {"q": "an"})
        wrk_case(args, api, results, "search narrow", SEARCH, {"q": someone})
        wrk_case(args, api, results, "invites pending", INVITES_PENDING, {})

    print(f"[{args.db}] mutations: {args.runs} sequential runs each (after one warm-up)", flush=True)
    # changeUsersRole: the same 1,000 Senders, alternately made Managers and Senders, so
    # every run changes all of them.
    ids, after = [], None
    while len(ids) < 1000:
        page = api.data(
            "query($r: [ID!], $a: String) { users(filter: { roleIds: $r }, first: 100, after: $a) { nodes { id } pageInfo { endCursor hasNextPage } } }",
            {"r": [roles["SENDER"]], "a": after})["users"]
        ids += [u["id"] for u in page["nodes"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    ids = ids[:1000]
    change = """mutation($ids: [ID!]!, $role: ID!) {
      changeUsersRole(input: { userIds: $ids, roleId: $role }) { changedCount errors { index code message } }
    }"""
    state = {"to": "MANAGER"}

    def change_once(_):
        seconds, body = api.post(change, {"ids": ids, "role": roles[state["to"]]})
        payload = (body.get("data") or {}).get("changeUsersRole") or {}
        if body.get("errors") or payload.get("errors") or payload.get("changedCount") != len(ids):
            sys.exit(f"changeUsersRole did not change all {len(ids)} users: {json.dumps(body)[:2000]}")
        state["to"] = "SENDER" if state["to"] == "MANAGER" else "MANAGER"
        return seconds

    cpu = dict(server_pid=args.pid, pg_db=args.pg_db) if args.only == "writes" else {}
    timed(results, f"changeUsersRole {len(ids):,}", args.runs, change_once, **cpu)

    # inviteUsers: 100 new addresses per run.
    tag = f"{int(time.time())}{os.getpid()}"
    invite = """mutation($inv: [InvitationInput!]!) {
      inviteUsers(input: { invitations: $inv }) { changedCount errors { index code message } }
    }"""

    def invite_many(emails):
        seconds, body = api.post(invite, {"inv": [
            {"email": e, "teamId": team, "roleId": roles["SENDER"]} for e in emails]})
        payload = (body.get("data") or {}).get("inviteUsers") or {}
        if body.get("errors") or payload.get("errors") or payload.get("changedCount") != len(emails):
            sys.exit(f"inviteUsers did not invite all {len(emails)}: {json.dumps(body)[:2000]}")
        return seconds

    timed(results, "inviteUsers 100", args.runs,
          lambda run: invite_many([f"bench.{tag}.{run + 1}.{i}@bench.example" for i in range(100)]), **cpu)
    if args.only == "writes":
        return

    # acceptInvite: invite people, read the tokens from the emails the outbox worker writes.
    accept_emails = [f"accept.{tag}.{i}@bench.example" for i in range(args.runs + 1)]
    invite_many(accept_emails)
    tokens = read_tokens(Path(args.mail_dir), set(accept_emails), timeout=120)
    accept = """mutation($t: String!, $n: String!) {
      acceptInvite(input: { token: $t, name: $n }) { user { id email } }
    }"""
    pending = list(tokens.values())

    def accept_once(run):
        seconds, body = api.post(accept, {"t": pending.pop(), "n": f"Zoë Bench {run + 1}"}, auth=False)
        if body.get("errors") or not (body.get("data") or {}).get("acceptInvite"):
            sys.exit(f"acceptInvite failed: {json.dumps(body)[:2000]}")
        return seconds

    timed(results, "acceptInvite", args.runs, accept_once)


def read_tokens(mail_dir, recipients, timeout):
    """The invite token in the newest email to each recipient, waiting for the outbox."""
    deadline = time.time() + timeout
    found = {}
    while time.time() < deadline:
        for path in mail_dir.glob("*.eml"):
            with path.open("rb") as f:
                msg = email.message_from_binary_file(f, policy=email.policy.default)
            to = str(msg.get("To", "")).strip().strip("<>").lower()
            to = re.sub(r".*<([^>]+)>.*", r"\1", to)
            if to not in recipients or to in found:
                continue
            for part in msg.walk():
                if part.get_content_type() == "text/plain":
                    m = re.search(r"accept-invite\?token=([A-Za-z0-9_\-%.~]+)", part.get_content())
                    if m:
                        found[to] = urllib.request.unquote(m.group(1))
        if len(found) == len(recipients):
            return found
        time.sleep(0.5)
    sys.exit(f"only {len(found)} of {len(recipients)} invite emails arrived in {mail_dir}")


def seed_target(s):
    """The seeding target (issue 6: at least 50,000 rows/s on PostgreSQL), both ways."""
    total, load = float(s.get("rows_per_sec", 0)), float(s.get("load_rows_per_sec", 0))

    def verdict(rate):
        return "met" if rate >= 50_000 else f"**missed** by {50_000 - rate:,.0f} rows/s"

    return (f"Seeding target ≥ 50,000 rows/s: inserts {verdict(load)}; end to end, index rebuilds "
            f"included, {verdict(total)}.")


def report(args):
    rows = []
    with open(args.results) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            rows.append(dict(zip(header, line.rstrip("\n").split("\t"))))
    seeds = {}
    for path in args.seed_report:
        db = Path(path).stem.replace("seed-", "")
        seeds[db] = dict(l.split("=", 1) for l in Path(path).read_text().splitlines() if "=" in l)

    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
        except OSError:
            return "?"

    cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip() or platform.processor()
    memory = sh("free -h | awk '/^Mem:/ {print $2}'")
    out = ["# Benchmarks", ""]
    out += [
        "Produced by `bench/run` (see `bench/README.md`); numbers from one run on the machine below.",
        "",
        f"- command: `{args.run_command}`",
        f"- date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"- commit: `{sh('git rev-parse --short HEAD')}`" + (" (with uncommitted changes)" if sh("git status --porcelain -- src migration Cargo.toml Cargo.lock") else ""),
        f"- machine: {sh('nproc')} CPUs ({cpu}), memory {memory} (`free -h`), {platform.system()} {platform.release()}",
        f"- other load on the machine: load average {' '.join(sh('cat /proc/loadavg').split()[:3])} (1/5/15 min) when the report was written",
        f"- load: wrk `-t{args.threads} -c{args.connections} -d{args.seconds}s --timeout 10s` per read case, on the same machine as the server and the database; "
        f"mutations timed as {args.runs} sequential requests after one warm-up (client-side latency)",
        "- server: `roster serve` (release), rate limits off, `RUST_LOG=warn`, mail to `.eml` files",
        "",
    ]
    for db, s in seeds.items():
        out += [f"## {db}", ""]
        out += [
            f"Dataset (`roster seed`): {int(s.get('users', 0)):,} users in {int(s.get('accounts', 0)):,} accounts, "
            f"{int(s.get('invites', 0)):,} invites ({s.get('invites_by_status', '')}); the big account has "
            f"{int(s.get('big_account_users', 0)):,} users, {int(s.get('big_account_invites', 0)):,} invites. "
            f"Seeded {int(s.get('rows', 0)):,} rows in {s.get('seconds')} s = **{int(float(s.get('rows_per_sec', 0))):,} rows/s** "
            f"end to end; the batched inserts took {s.get('load_seconds', '?')} s = **{int(float(s.get('load_rows_per_sec', 0))):,} rows/s**, "
            + ("the rest rebuilt the indexes and foreign keys set aside for the load and refreshed the statistics."
             if db == "postgres" else "the rest gathered the planner statistics (`ANALYZE`)."),
            "",
            *([seed_target(s), ""] if db == "postgres" else []),
            "All requests are the big account's Admin's (widest scope).",
            "",
            "| case | requests/s | p50 ms | p99 ms | peak RSS MB | errors | target | met? | notes |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
        ]
        peak = 0.0
        for r in (r for r in rows if r["db"] == db):
            rps, p50, p99 = float(r["rps"]), float(r["p50_ms"]), float(r["p99_ms"])
            peak = max(peak, float(r["peak_rss_mb"]))
            target, ok = TARGETS.get(r["case"], ("—", None))
            met = "—" if ok is None else ("met" if ok(rps, p50, p99) else "**missed**")
            if int(r["errors"]) > 0:
                met = "**errors**"
            out.append(f"| {r['case']} | {rps:,.0f} | {p50:.1f} | {p99:.1f} | {float(r['peak_rss_mb']):.0f} | "
                       f"{r['errors']} | {target} | {met} | {r['note']} |")
        out.append(f"| **peak memory** (server VmHWM) | | | | {peak:.0f} | | ≤ {MEMORY_TARGET_MB} MB | "
                   f"{'met' if peak <= MEMORY_TARGET_MB else '**missed**'} | |")
        out.append("")
    out += [
        "requests/s of a mutation is 1 / its mean latency (one client). p99 of a mutation is the",
        f"slowest but one or so of {args.runs} runs: read it as a ceiling, not a statistic.",
        "",
    ]
    analysis = Path(__file__).with_name("ANALYSIS.md")
    if analysis.exists():
        out += ["", analysis.read_text()]
    Path(args.out).write_text("\n".join(out))
    print(f"wrote {args.out}")
    failed = [r for r in rows if int(r["errors"]) > 0]
    if failed:
        sys.exit(f"{len(failed)} case(s) had non-2xx or socket errors")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--db", required=True)
    m.add_argument("--url", required=True)
    m.add_argument("--token", required=True)
    m.add_argument("--pid", required=True, type=int)
    m.add_argument("--mail-dir", required=True)
    m.add_argument("--results", required=True)
    m.add_argument("--out", required=True)
    m.add_argument("--only", choices=["all", "writes"], default="all",
                   help="writes: only changeUsersRole and inviteUsers (bench/writes)")
    m.add_argument("--pg-db", default=None,
                   help="with --only writes: the PostgreSQL database, to report its backends' CPU")
    for a in (m,):
        a.add_argument("--seconds", type=int, default=15)
        a.add_argument("--threads", type=int, default=2)
        a.add_argument("--connections", type=int, default=16)
        a.add_argument("--runs", type=int, default=20)
    r = sub.add_parser("report")
    r.add_argument("--results", required=True)
    r.add_argument("--seed-report", action="append", default=[])
    r.add_argument("--out", required=True)
    r.add_argument("--run-command", required=True)
    r.add_argument("--seconds", type=int, default=15)
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--connections", type=int, default=16)
    r.add_argument("--runs", type=int, default=20)
    args = p.parse_args()
    {"measure": measure, "report": report}[args.command](args)


if __name__ == "__main__":
    main()
