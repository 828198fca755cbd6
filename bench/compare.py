#!/usr/bin/env python3
"""Roster beside PostGraphile 4 on one seeded database (standard library only), called by
`bench/compare`.

For each case it sends Roster's query and PostGraphile's equivalent once, stops unless both
return the same rows, then drives them alternately with wrk (A B, then B A, ... for the
given number of rounds) and samples the CPU time of each server process and of the
PostgreSQL backends serving that database (from /proc) around every run. The report is the
median of the rounds: requests/s, p50, p99 and CPU per request, side by side, with the ratio
the issue sets a target for. It replaces the section between the markers in BENCHMARKS.md.

The database's ceiling: `roster statements` runs each case's request once in-process and
prints the SQL statements it sent, values inlined; pgbench replays that set of statements as
one transaction-less script (`-M prepared`, as Roster's connections prepare and reuse them),
with wrk's concurrency, so its rate is what PostgreSQL alone could answer if Roster's own
process cost nothing.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
TICK = os.sysconf("SC_CLK_TCK")
START, END = "<!-- bench/compare: start -->", "<!-- bench/compare: end -->"

USER_FIELDS_ROSTER = "id name email role { name } team { name }"
USER_FIELDS_PG = "id name email roleByRoleId { name } teamByTeamId { name }"
PG_CONDITION = 'condition: { accountId: $a, deletedAt: null, status: "ACTIVE" }, orderBy: [NAME_KEY_ASC, ID_ASC]'

# case -> (Roster query, PostGraphile query, target ratio Roster/PostGraphile req/s or None)
CASES = {
    "viewer": (
        "{ viewer { id name email role { name scope permissions } team { name } } }",
        "query($id: UUID!) { userById(id: $id) { id name email "
        "roleByRoleId { name scope permissions } teamByTeamId { name } } }",
        1.5,
    ),
    "users page": (
        f"{{ users(first: 50) {{ nodes {{ {USER_FIELDS_ROSTER} }} pageInfo {{ hasNextPage endCursor }} }} }}",
        f"query($a: UUID!) {{ allUsers(first: 50, {PG_CONDITION}) {{ nodes {{ {USER_FIELDS_PG} }} "
        "pageInfo { hasNextPage endCursor } } }",
        2.0,
    ),
    "users page + totalCount": (
        f"{{ users(first: 50) {{ totalCount nodes {{ {USER_FIELDS_ROSTER} }} pageInfo {{ hasNextPage endCursor }} }} }}",
        f"query($a: UUID!) {{ allUsers(first: 50, {PG_CONDITION}) {{ totalCount nodes {{ {USER_FIELDS_PG} }} "
        "pageInfo { hasNextPage endCursor } } }",
        4.0,
    ),
    "search broad": (
        f"query($q: String!) {{ users(filter: {{ search: $q }}, first: 50) {{ totalCount nodes {{ {USER_FIELDS_ROSTER} }} }} }}",
        f"query($a: UUID!, $q: String!) {{ allUsers(first: 50, {PG_CONDITION}, "
        f"filter: {{ searchText: {{ includes: $q }} }}) {{ totalCount nodes {{ {USER_FIELDS_PG} }} }} }}",
        10.0,
    ),
    "search narrow": (
        f"query($q: String!) {{ users(filter: {{ search: $q }}, first: 50) {{ totalCount nodes {{ {USER_FIELDS_ROSTER} }} }} }}",
        f"query($a: UUID!, $q: String!) {{ allUsers(first: 50, {PG_CONDITION}, "
        f"filter: {{ searchText: {{ includes: $q }} }}) {{ totalCount nodes {{ {USER_FIELDS_PG} }} }} }}",
        5.0,
    ),
}


def post(url, query, variables, token=None):
    body = json.dumps({"query": query, "variables": variables}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=60) as r:
        answer = json.load(r)
    if answer.get("errors"):
        sys.exit(f"{url} answered with errors: {json.dumps(answer['errors'])[:800]}")
    return answer["data"]


def rows(data):
    """The rows an answer holds, in order, without the id formats that differ."""
    (top,) = data.values()
    items = top["nodes"] if isinstance(top, dict) and "nodes" in top else [top]
    out = []
    for u in items:
        role = u.get("role") or u.get("roleByRoleId") or {}
        team = u.get("team") or u.get("teamByTeamId") or {}
        out.append((u["name"], u["email"], role.get("name"), team.get("name")))
    total = top.get("totalCount") if isinstance(top, dict) else None
    return out, total


def proc_cpu(pids):
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / TICK


def reaped_cpu(pids):
    """CPU seconds of the exited children the parents of `pids` have reaped (the postmaster's
    `cutime` + `cstime`): where a backend's time goes when it exits."""
    parents = set()
    for pid in pids:
        try:
            parents.add(int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]))
        except (OSError, IndexError, ValueError):
            pass
    total = 0
    for pid in parents:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[13]) + int(fields[14])  # cutime, cstime
        except (OSError, IndexError, ValueError):
            pass
    return total / TICK


def pg_cpu(database, pids=None):
    """CPU seconds so far of the PostgreSQL backends serving `database` (or of `pids`), plus
    those of every backend of the server that has exited. The difference of two readings is
    the backends' CPU in between, also when a pool closes a connection meanwhile (its backend's
    whole time moves into the postmaster's reaped-children time; counting only live
    backends made such a run's figure negative). Backends of other databases that exit in
    between (autovacuum workers) are counted too."""
    pids = backends(database) if pids is None else pids
    return proc_cpu(pids) + reaped_cpu(pids)


def backends(database):
    """PostgreSQL processes serving `database` (their command line names it)."""
    pids = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith("postgres: ") and f" {database} " in cmd:
            pids.append(int(p.name))
    return pids


def wrk(args, url, body, token):
    body_file = Path(args.out) / "compare-body.json"
    body_file.write_text(json.dumps(body))
    env = dict(os.environ, BENCH_TOKEN=token or "none", BENCH_BODY=str(body_file))
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds}s",
           "--timeout", "10s", "-s", str(HERE / "gql.lua"), url]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    line = next((l for l in out.splitlines() if l.startswith("WRK_RESULT")), None)
    if line is None:
        sys.exit(f"wrk printed no result:\n{out}")
    return {k: float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}


def ceiling(args, case, body):
    """pgbench of the statements Roster sends for one request of `case`: (statements, tps)."""
    out = subprocess.run(
        [args.roster_bin, "statements", "--token", args.token, "--query", body["query"],
         "--variables", json.dumps(body["variables"])],
        capture_output=True, text=True, check=True, env=dict(os.environ, RUST_LOG="warn", DATABASE_URL=args.database_url)).stdout
    statements = [s for s in out.split("\n;\n") if s.strip()]
    script = Path(args.out) / f"ceiling-{case.replace(' ', '-').replace('+', 'plus')}.sql"
    # pgbench reads one statement per line (a trailing backslash would continue it).
    script.write_text("".join(" ".join(s.split()) + ";\n" for s in statements))
    run = subprocess.run(
        ["pgbench", "-n", "-M", "prepared", f"-c{args.connections}", f"-j{args.threads}",
         f"-T{args.seconds}", "-f", str(script), args.database_url],
        capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"pgbench failed on {script}:\n{run.stderr[-2000:]}")
    tps = next(float(l.split("=")[1].split()[0]) for l in run.stdout.splitlines()
               if l.startswith("tps ="))
    return len(statements), tps


def wait_idle(args, limit_s=180):
    """Waits until no query runs on the benchmark's database: a server's slow queries (a
    peer's broad search takes seconds each, 16 at a time) outlive wrk's run, and would
    otherwise run during the next run — the other server's — taking its CPU and counting in
    its PostgreSQL CPU. Returns the seconds waited."""
    sql = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
           "AND state <> 'idle' AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        out = subprocess.run(["psql", args.database_url, "-qAtX", "-c", sql],
                             capture_output=True, text=True, check=True).stdout.strip()
        if out == "0":
            break
        time.sleep(0.2)
    return time.monotonic() - start


def run_one(args, server, body, token):
    waited = wait_idle(args)
    if waited > 0.5:
        print(f"  (waited {waited:.1f} s for the previous run's queries to finish)", flush=True)
    before = (proc_cpu([server["pid"]]), pg_cpu(args.database))
    r = wrk(args, server["url"], body, token)
    after = (proc_cpu([server["pid"]]), pg_cpu(args.database))
    if r["non2xx"] or r["socket_errors"]:
        sys.exit(f"{server['name']}: {int(r['non2xx'])} non-2xx answers, "
                 f"{int(r['socket_errors'])} socket errors")
    n = max(r["requests"], 1)
    return {
        "rps": r["rps"], "p50": r["p50_ms"], "p99": r["p99_ms"],
        "cpu_proc_ms": (after[0] - before[0]) * 1000 / n,
        "cpu_pg_ms": (after[1] - before[1]) * 1000 / n,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--roster", required=True)
    ap.add_argument("--roster-pid", type=int, required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--postgraphile", required=True)
    ap.add_argument("--postgraphile-pid", type=int, required=True)
    ap.add_argument("--database", required=True)
    ap.add_argument("--tls", required=True, help="the TLS mode both servers use, for the report")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--out", required=True)
    ap.add_argument("--report", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--roster-bin", required=True, help="for `roster statements` (the ceiling)")
    ap.add_argument("--database-url", required=True, help="for pgbench (the ceiling)")
    args = ap.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)

    roster = {"name": "Roster", "url": args.roster, "pid": args.roster_pid}
    peer = {"name": "PostGraphile 4", "url": args.postgraphile, "pid": args.postgraphile_pid}
    viewer = post(roster["url"], "{ viewer { id } account { id } }", {}, args.token)
    user_uuid = str(uuid_of(viewer["viewer"]["id"]))
    account_uuid = str(uuid_of(viewer["account"]["id"]))
    narrow = post(roster["url"], "{ users(first: 2, orderBy: { field: EMAIL, direction: DESC }) "
                  "{ nodes { email } } }", {}, args.token)["users"]["nodes"][0]["email"]

    bodies = {}
    for case in args.cases.split(","):
        q_roster, q_pg, _ = CASES[case]
        v_roster, v_pg = {}, {"a": account_uuid}
        if case == "viewer":
            v_pg = {"id": user_uuid}
        elif case == "search broad":
            v_roster, v_pg["q"] = {"q": "an"}, "an"
        elif case == "search narrow":
            v_roster, v_pg["q"] = {"q": narrow}, narrow
        a = rows(post(roster["url"], q_roster, v_roster, args.token))
        b = rows(post(peer["url"], q_pg, v_pg))
        if a != b:
            sys.exit(f"{case}: the answers differ\n  Roster:     {a[0][:3]} … total {a[1]}\n"
                     f"  PostGraphile: {b[0][:3]} … total {b[1]}")
        print(f"{case}: same {len(a[0])} rows (totalCount {a[1]})", flush=True)
        bodies[case] = ({"query": q_roster, "variables": v_roster}, {"query": q_pg, "variables": v_pg}, a[1])

    samples = {case: {"Roster": [], "PostGraphile 4": []} for case in bodies}
    for rnd in range(args.rounds):
        for case, (b_roster, b_pg, _) in bodies.items():
            order = [(roster, b_roster, args.token), (peer, b_pg, None)]
            if rnd % 2:
                order.reverse()
            for server, body, token in order:
                s = run_one(args, server, body, token)
                samples[case][server["name"]].append(s)
                print(f"round {rnd + 1} {case:<24} {server['name']:<15} {s['rps']:>8.0f} req/s "
                      f"p99 {s['p99']:.1f} ms cpu {s['cpu_proc_ms']:.2f} + {s['cpu_pg_ms']:.2f} ms",
                      flush=True)
    ceilings = {}
    for case, (b_roster, _, _) in bodies.items():
        ceilings[case] = ceiling(args, case, b_roster)
        print(f"ceiling {case:<24} {ceilings[case][0]} statements, pgbench "
              f"{ceilings[case][1]:,.0f} requests/s", flush=True)
    write_report(args, bodies, samples, ceilings)


def uuid_of(external):
    import uuid
    return uuid.UUID(hex=external.rsplit("_", 1)[1])


def med(xs, key):
    return statistics.median(x[key] for x in xs)


def write_report(args, bodies, samples, ceilings):
    load = Path("/proc/loadavg").read_text().split()[:3]
    lines = [
        START,
        "## Side by side with PostGraphile 4 (`bench/compare`)",
        "",
        f"- command: `{args.command}`",
        f"- date: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; commit `{git_head()}`",
        f"- dataset: {args.dataset}; requests are the big account's Admin's (Roster) and the "
        "same rows unauthenticated (PostGraphile, which runs no authentication)",
        f"- database connections: **{args.tls}** for both servers",
        f"- load: wrk `-t{args.threads} -c{args.connections} -d{args.seconds}s` per run, "
        f"{args.rounds} rounds alternating A B / B A; medians of the rounds; wrk, both servers and "
        "PostgreSQL share the machine",
        f"- CPU per request: the server process's user+system time and that of the PostgreSQL "
        f"backends serving `{args.database}` (from `/proc/<pid>/stat`; a backend that exits "
        "during the run is counted through the postmaster's reaped-children time, as is any "
        "autovacuum worker that exits meanwhile), over the run, divided by its requests",
        f"- load average when the report was written: {' '.join(load)} (the benchmark's own: "
        "wrk's connections keep the servers' threads and PostgreSQL's backends runnable)",
        "- the ceiling: pgbench (`-M prepared`, the same concurrency, one run) replaying the SQL "
        "statements one Roster request of the case sends (`roster statements`, values inlined): "
        "what PostgreSQL alone could answer on this machine if Roster's process cost nothing",
        "",
        "| case | Roster req/s | PostGraphile 4 req/s | ratio | target | met? | Roster p50 / p99 ms "
        "| PostGraphile p50 / p99 ms | Roster CPU ms (process + PG) | PostGraphile CPU ms (process + PG) "
        "| Roster's statements | their pgbench ceiling req/s |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for case, (_, _, total) in bodies.items():
        a, b = samples[case]["Roster"], samples[case]["PostGraphile 4"]
        ratio = med(a, "rps") / max(med(b, "rps"), 1e-9)
        target = CASES[case][2]
        met = "—" if target is None else ("met" if ratio >= target else "**missed**")
        label = case + (f" ({total:,} matches)" if total is not None and "search" in case else "")
        lines.append(
            f"| {label} | {med(a, 'rps'):,.0f} | {med(b, 'rps'):,.0f} | {ratio:.2f}× | "
            f"{'' if target is None else f'≥ {target:g}×'} | {met} | "
            f"{med(a, 'p50'):.1f} / {med(a, 'p99'):.1f} | {med(b, 'p50'):.1f} / {med(b, 'p99'):.1f} | "
            f"{med(a, 'cpu_proc_ms'):.2f} + {med(a, 'cpu_pg_ms'):.2f} | "
            f"{med(b, 'cpu_proc_ms'):.2f} + {med(b, 'cpu_pg_ms'):.2f} | "
            f"{ceilings[case][0]} | {ceilings[case][1]:,.0f} |")
    if "users page" in samples:
        a = samples["users page"]["Roster"]
        cpu = med(a, "cpu_proc_ms") + med(a, "cpu_pg_ms")
        lines += ["", f"Total CPU per users-page request (Roster + PostgreSQL): **{cpu:.2f} ms** "
                  f"(target ≤ 1.0 ms: {'met' if cpu <= 1.0 else '**missed**'})."]
    lines.append(END)
    section = "\n".join(lines) + "\n"
    report = Path(args.report)
    text = report.read_text() if report.exists() else "# Benchmarks\n\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    report.write_text(text)
    print(section)


def git_head():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True, cwd=HERE).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


if __name__ == "__main__":
    main()
