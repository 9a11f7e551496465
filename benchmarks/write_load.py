"""Write-load benchmark (issue 16): visit POSTs and Today under wrk, beside a bare endpoint.

For each database (SQLite, PostgreSQL) it builds the demo company, starts gunicorn with FieldLog
and gunicorn with the bare app (the same settings: 2 sync workers by default, the README's
recommendation), logs one demo rep in, and drives 32 connections with wrk, in
``--rounds`` rounds (default 3) of ``--seconds`` (default 10) runs each, so that each FieldLog
run has a bare run of the same minute beside it:

1. ``GET /ping`` of ``benchmarks/baseline_app.py`` under the same gunicorn settings (the bare
   endpoint the ratios are taken against; measured again in every database's block);
2. ``POST /api/v1/visits`` with a fresh client_id per request over the rep's branch customers
   (a wrk Lua script); every acknowledged client_id is then checked to be stored exactly once;
3. ``GET /`` (the rep's Today page).

Each server is driven once its workers are idle (``load.settle``): a FieldLog worker warms the
forecasts the pages open on after it starts (docs/kgi.md), and the seconds and CPU that took are
printed apart, not mixed into the first run. It prints req/s, p50/p99, errors, the ratios, the
server's CPU ms per request (gunicorn's master and workers, user + system: what the machine
spent, whatever the load of others), the 1-minute load average beside each figure (the
machine is shared), and then the POST's CPU time in-process for a customer with 10 past
visits and one with 2,000 (median of --cpu-posts posts each, alternating), the CPU of the bare
endpoint and of Today in process, built every time and kept by the page cache (ratios that do
not move with the machine's load), with
``flask kpi rebuild-summary --check``'s verdict after the load.

    .venv/bin/python benchmarks/write_load.py [--db sqlite|postgresql|both] [--seconds 10]
        [--rounds 3] [--connections 32] [--workers 2] [--worker-class sync] [--threads 1]
        [--max-requests 0]

wrk comes from the Debian package ``wrk``. Ports come from FIELDLOG_LOAD_PORTS (see load.py).
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import (  # benchmarks/ is not a package
    BIN,
    ROOT,
    cpu_seconds,
    free_port,
    prepare_database,
    process_tree,
    settle,
    start_gunicorn,
    stop,
)

TZ = ZoneInfo("Asia/Tokyo")
# Long enough that the app does not warn about a weak key: the warning, a JSON log line, used to
# land in the rebuild-summary verdict line and hid it from any filter on the output.
BENCH_KEY = "write-load-benchmark-" + "0" * 24
USER_AGENT = "fieldlog-write-load"
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')

# wrk's script: a fresh UUID per request (run tag, thread, counter), a random customer of the
# rep's branch; each 200/201 answer's client_id is kept per thread and written out at the end.
LUA = r"""
local threads = {}
local counter = 0
acked = {}  -- globals: done() reads them with thread:get
errors = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(tid * 7919 + os.time())
end

function request()
  counter = counter + 1
  local cid = string.format("%s-%04x-4000-8000-%012x", RUN, tid, counter)
  local code = CUSTOMERS[math.random(#CUSTOMERS)]
  local body = '{"client_id":"' .. cid .. '","customer_code":"' .. code ..
    '","visited_at":"' .. VISITED_AT .. '","purpose":"' .. PURPOSE ..
    '","hearing_done":true,"note":"wrk"}'
  return wrk.format("POST", "/api/v1/visits", HEADERS, body)
end

function response(status, headers, body)
  if status == 201 or status == 200 then
    local cid = string.match(body, '"client_id":%s*"([^"]+)"')
    if cid then acked[#acked + 1] = cid end
  else
    errors[#errors + 1] = tostring(status) .. " " .. string.sub(body, 1, 200)
  end
end

function done(summary, latency, requests)
  local out = io.open(ACKS_FILE, "w")
  for _, thread in ipairs(threads) do
    for _, cid in ipairs(thread:get("acked")) do out:write(cid, "\n") end
  end
  out:close()
  local err = io.open(ACKS_FILE .. ".errors", "w")
  for _, thread in ipairs(threads) do
    for _, line in ipairs(thread:get("errors")) do err:write(line, "\n") end
  end
  err:close()
end
"""

# For the GET runs: the percentiles and error counts as JSON (wrk's text output rounds).
LUA_SUMMARY = r"""
function done(summary, latency, requests)
  local e = summary.errors
  local out = io.open(SUMMARY_FILE, "w")
  out:write(string.format(
    '{"requests":%d,"seconds":%f,"p50":%f,"p99":%f,"errors":%d,"status":%d}',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, e.connect + e.read + e.write + e.timeout, e.status))
  out:close()
end
"""


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


def run_wrk(
    port: int,
    path: str,
    seconds: int,
    connections: int,
    script: str,
    work: Path,
    name: str,
    server: subprocess.Popen,
) -> dict[str, float]:
    """wrk with 2 threads against one path; req/s, p50/p99 (ms), errors (any non-2xx/3xx too),
    and the server's CPU ms per request (gunicorn's master and workers, user + system)."""
    summary_file = work / f"{name}.summary.json"
    lua = work / f"{name}.lua"
    if "function write_acks(" in script:  # the POST run: its acks and the summary share done()
        script += (
            "\nfunction done(summary, latency, requests)\n"
            "  write_acks(summary, latency, requests)\n"
            "  summary_done(summary, latency, requests)\nend\n"
        )
        summary = LUA_SUMMARY.replace("function done(", "function summary_done(")
    else:
        summary = LUA_SUMMARY
    lua.write_text(f"SUMMARY_FILE = {lua_string(str(summary_file))}\n" + script + summary)
    load_before = os.getloadavg()[0]
    pids = process_tree(server.pid)
    cpu_before = cpu_seconds(pids)
    subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(lua),
            f"http://127.0.0.1:{port}{path}",
        ],
        check=True,
        capture_output=True,
    )
    stats = json.loads(summary_file.read_text())
    stats["rps"] = stats["requests"] / stats["seconds"]
    stats["load"] = max(load_before, os.getloadavg()[0])
    # A worker replaced meanwhile (--max-requests) took its CPU time with it: no figure then.
    same = process_tree(server.pid) == pids
    spent = cpu_seconds(pids) - cpu_before
    stats["cpu"] = spent * 1000 / max(stats["requests"], 1) if same else float("nan")
    return stats


def login(port: int, email: str, password: str) -> tuple[str, str]:
    """Log the rep in through the form; (Cookie header, CSRF token for the API)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    # The browser's User-Agent stays the same from the login on, as wrk's must: Flask-Login's
    # session protection marks a session whose agent changed as not fresh, saving the cookie.
    opener.addheaders = [("User-Agent", USER_AGENT)]
    base = f"http://127.0.0.1:{port}"
    page = opener.open(f"{base}/login").read().decode()
    token = _CSRF.search(page).group(1)
    form = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token})
    opener.open(f"{base}/login", data=form.encode())
    answer = json.loads(opener.open(f"{base}/api/v1/session").read())
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    return cookie, answer["csrf_token"]


def demo_database(url: str) -> dict[str, object]:
    """Fill the database with the demo company; the rep to log in, their customers, a purpose."""
    env = {**os.environ, "FIELDLOG_DATABASE_URL": url, "FIELDLOG_SECRET_KEY": BENCH_KEY}
    subprocess.run(
        [str(BIN / "flask"), "--app", "fieldlog", "demo-data"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    from sqlalchemy import select

    from fieldlog import create_app
    from fieldlog.app.extensions import db
    from fieldlog.demo import DEMO_PASSWORD
    from fieldlog.models import Customer, Purpose, User

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": BENCH_KEY})
    with app.app_context():
        rep = db.session.scalars(
            select(User).where(User.role == "rep", User.active.is_(True)).order_by(User.id)
        ).first()
        codes = db.session.scalars(
            select(Customer.code).where(
                Customer.branch_id == rep.branch_id, Customer.active.is_(True)
            )
        ).all()
        purpose = db.session.scalars(select(Purpose.code).where(Purpose.active.is_(True))).first()
        out = {"email": rep.email, "password": DEMO_PASSWORD, "codes": codes, "purpose": purpose}
        db.engine.dispose()
    return out


def verify_all(url: str, acks_files: list[Path]) -> tuple[int, int, int]:
    """(acknowledged, stored with the runs' client_ids, problems): each acked one stored once."""
    import sqlalchemy as sa

    acked = [cid for file in acks_files if file.exists() for cid in file.read_text().split()]
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        counts = dict(
            conn.exec_driver_sql(
                "SELECT client_id, COUNT(*) FROM visit WHERE note = 'wrk' GROUP BY client_id"
            ).all()
        )
    engine.dispose()
    problems = sum(1 for cid in set(acked) if counts.get(cid) != 1)
    problems += len(acked) - len(set(acked)) + sum(1 for n in counts.values() if n != 1)
    return len(acked), sum(counts.values()), problems


def summary_check(url: str) -> str:
    """``flask kpi rebuild-summary --check``'s last line (0 differences expected)."""
    env = {**os.environ, "FIELDLOG_DATABASE_URL": url, "FIELDLOG_SECRET_KEY": BENCH_KEY}
    done = subprocess.run(
        [str(BIN / "flask"), "--app", "fieldlog", "kpi", "rebuild-summary", "--check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    lines = (done.stdout + done.stderr).strip().splitlines()
    text = "; ".join(line for line in lines if not line.startswith('{"time"'))  # not the logs
    return f"exit {done.returncode}: {text}"


def post_cpu(url: str, rep_email: str, posts: int) -> dict[str, float]:
    """CPU ms per visit POST (in-process, test client) for a 10-visit and a 2,000-visit customer."""
    from sqlalchemy import insert, select

    from fieldlog import create_app
    from fieldlog.app.extensions import db
    from fieldlog.kpi import dormancy
    from fieldlog.models import Customer, Purpose, User, Visit

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": BENCH_KEY})
    app.config["WTF_CSRF_ENABLED"] = False  # the login form; the API's header is sent
    now = datetime.now(UTC)
    with app.app_context():
        rep = db.session.scalars(select(User).where(User.email == rep_email)).one()
        purpose = db.session.scalars(select(Purpose).where(Purpose.active.is_(True))).first()
        ids = {}
        for label, past in (("10", 10), ("2000", 2000)):
            customer = Customer(
                code=f"CPU-{label}-{uuid.uuid4().hex[:6]}",
                name=f"CPU {label}",
                branch_id=rep.branch_id,
                rep=rep,
            )
            db.session.add(customer)
            db.session.flush()
            start = now - timedelta(days=past + 1)
            db.session.execute(
                insert(Visit),
                [
                    {
                        "client_id": str(uuid.uuid4()),
                        "rep_id": rep.id,
                        "branch_id": rep.branch_id,
                        "customer_id": customer.id,
                        "visited_at": start + timedelta(days=k),
                        "purpose_id": purpose.id,
                        "purposeful": purpose.purposeful,
                        "hearing_done": True,
                        "created_at": start + timedelta(days=k),
                        "updated_at": start + timedelta(days=k),
                    }
                    for k in range(past)
                ],
            )
            dormancy.customers_changed(db.session, [customer.id])
            ids[label] = customer.code
        db.session.commit()
        purpose_code = purpose.code
    client = app.test_client()
    logging.disable(logging.INFO)  # the app's request log would print every post
    with client:
        client.post("/login", data={"email": rep_email, "password": "fieldlog-demo"})
        token = client.get("/api/v1/session").get_json()["csrf_token"]
        times: dict[str, list[float]] = {"10": [], "2000": []}
        visited_at = now.astimezone(TZ).isoformat()
        for k in range(posts * 2 + 20):
            label = "10" if k % 2 else "2000"
            body = {
                "client_id": str(uuid.uuid4()),
                "customer_code": ids[label],
                "visited_at": visited_at,
                "purpose": purpose_code,
                "hearing_done": True,
            }
            started = time.process_time()
            answer = client.post("/api/v1/visits", json=body, headers={"X-CSRFToken": token})
            spent = time.process_time() - started
            assert answer.status_code == 201, answer.get_data(as_text=True)
            if k >= 20:  # warm-up
                times[label].append(spent * 1000)
    with app.app_context():
        db.engine.dispose()
    return {label: statistics.median(values) for label, values in times.items()}


def request_cpu(url: str, rep_email: str, requests: int) -> dict[str, float]:
    """CPU ms per request in process (test client, median): the bare ``GET /ping`` and the
    rep's Today, beside the POST's, so the ratios can be read without the machine's load."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from baseline_app import app as bare

    from fieldlog import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": BENCH_KEY})
    app.config["WTF_CSRF_ENABLED"] = False
    logging.disable(logging.INFO)
    out = {}
    targets = (
        ("ping", bare.test_client(), "/ping", True),
        ("today built", None, "/", False),
        ("today", None, "/", True),
    )
    for label, client, path, cache in targets:
        # Today built every time (the page cache off), then kept: the page cache on as served,
        # once the newest write is older than its settle margin (web/page_cache.py).
        app.config["FIELDLOG_PAGE_CACHE"] = cache
        if client is None:
            time.sleep(app.config["FIELDLOG_PAGE_CACHE_SETTLE"] + 0.5)
            client = app.test_client()
            client.post("/login", data={"email": rep_email, "password": "fieldlog-demo"})
        times = []
        for k in range(requests + 10):
            started = time.process_time()
            answer = client.get(path)
            spent = time.process_time() - started
            assert answer.status_code == 200, answer.status_code
            if k >= 10:  # warm-up
                times.append(spent * 1000)
        out[label] = statistics.median(times)
    with app.app_context():
        from fieldlog.app.extensions import db

        db.engine.dispose()
    return out


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    # The README's recommendation: 2 sync workers (--worker-class gthread --threads 4: threads).
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cpu-posts", type=int, default=100)
    # 0: no periodic worker restarts within the runs; FieldLog's default is 2000 (README).
    parser.add_argument("--max-requests", type=int, default=0)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")
    # FieldLog's own gunicorn settings (fieldlog/app/gunicorn_conf.py: its hooks, the GC freeze
    # after loading) for both apps, with the worker count and class and the periodic restarts
    # (--max-requests, FIELDLOG_MAX_REQUESTS below; none by default) of the command line.
    options = ["-c", str(ROOT / "fieldlog" / "app" / "gunicorn_conf.py")]
    options += ["-w", str(args.workers), "-k", args.worker_class, "--graceful-timeout", "5"]
    options += ["--access-logfile", "/dev/null", "--max-requests", str(args.max_requests)]
    if args.worker_class == "gthread":
        options += ["--threads", str(args.threads)]
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    print(f"gunicorn {' '.join(options)}; wrk -t2 -c{args.connections} -d{args.seconds}s; {ROOT}")
    print(uptime())
    header = f"{'target':<28}{'req/s':>8}{'×bare':>7}{'p50 ms':>8}{'p99 ms':>8}{'errors':>7}"
    header += f"{'CPU ms':>8}{'load':>6}"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for kind in kinds:
            url, drop = prepare_database(kind, work)
            try:
                started = time.monotonic()
                demo = demo_database(url)
                print(f"\n[{kind}] demo company built in {time.monotonic() - started:.0f} s")
                drive(kind, url, demo, args, options, work, header)
            finally:
                drop()


def drive(
    kind: str,
    url: str,
    demo: dict[str, object],
    args: argparse.Namespace,
    options: list[str],
    work: Path,
    header: str,
) -> None:
    """Both servers up and idle, then ``--rounds`` rounds of ping, POST, ping, Today and a last
    ping: each FieldLog run is compared with the mean of the bare runs on either side of it (a
    machine whose speed drifts by a third within minutes biased a ratio to the run before
    it), and the table shows the medians (req/s, ratio, latencies, CPU) with each run's ratio."""
    base_env = {**os.environ, "FIELDLOG_MAX_REQUESTS": str(args.max_requests)}
    bare_port = free_port()
    bare_server = start_gunicorn(
        "benchmarks.baseline_app:app", options, base_env, bare_port, work / "base.log"
    )
    env = {
        **os.environ,
        "FIELDLOG_DATABASE_URL": url,
        "FIELDLOG_SECRET_KEY": BENCH_KEY,
        "FIELDLOG_SCHEDULER": "off",
        "FIELDLOG_ACCESS_LOG": "off",
        "FIELDLOG_MAX_REQUESTS": str(args.max_requests),
    }
    try:
        port = free_port()
        server = start_gunicorn("wsgi:app", options, env, port, work / f"{kind}.log")
        try:
            waited, spent = settle(server)
            settle(bare_server)
            cookie, token = login(port, str(demo["email"]), str(demo["password"]))
            visited_at = datetime.now(TZ).replace(microsecond=0).isoformat()
            headers = {
                "Cookie": cookie,
                "X-CSRFToken": token,
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            }
            codes = "{" + ",".join(lua_string(c) for c in demo["codes"]) + "}"
            headers_lua = (
                "{"
                + ",".join(f"[{lua_string(k)}]={lua_string(v)}" for k, v in headers.items())
                + "}"
            )
            get_script = (
                f"wrk.headers['Cookie'] = {lua_string(cookie)}\n"
                f"wrk.headers['User-Agent'] = {lua_string(USER_AGENT)}\n"
            )
            runs: dict[str, list[dict[str, float]]] = {"ping": [], "post": [], "today": []}
            pairs: dict[str, list[float]] = {"post": [], "today": []}
            acks: list[Path] = []
            # bare, POST, bare, Today, bare, POST, …, bare: every FieldLog run between two bare
            # runs, its ratio taken to their mean (a drift of the machine's speed cancels).
            sequence: list[tuple[str, dict[str, float]]] = []

            def bare_run(name: str) -> None:
                stats = run_wrk(
                    bare_port, "/ping", args.seconds, args.connections, "", work, name,
                    bare_server,
                )  # fmt: skip
                runs["ping"].append(stats)
                sequence.append(("ping", stats))

            for round_ in range(args.rounds):
                for target in ("post", "today"):
                    bare_run(f"ping-{round_}-{target}")
                    if target == "post":
                        acks.append(work / f"{kind}-{round_}.acks")
                        script = (
                            f"RUN = {lua_string(uuid.uuid4().hex[:8])}\n"
                            f"CUSTOMERS = {codes}\nVISITED_AT = {lua_string(visited_at)}\n"
                            f"PURPOSE = {lua_string(str(demo['purpose']))}\n"
                            f"HEADERS = {headers_lua}\nACKS_FILE = {lua_string(str(acks[-1]))}\n"
                            + LUA.replace("function done(", "function write_acks(")
                        )
                        path = "/api/v1/visits"
                    else:
                        script, path = get_script, "/"
                    stats = run_wrk(
                        port,
                        path,
                        args.seconds,
                        args.connections,
                        script,
                        work,
                        f"{kind}-{target}-{round_}",
                        server,
                    )
                    runs[target].append(stats)
                    sequence.append((target, stats))
            bare_run("ping-last")
            for i, (target, stats) in enumerate(sequence):
                if target != "ping":
                    around = (sequence[i - 1][1]["rps"] + sequence[i + 1][1]["rps"]) / 2
                    pairs[target].append(stats["rps"] / around)
        finally:
            stop(server)
    finally:
        stop(bare_server)
    print(
        f"{args.rounds} rounds of {args.seconds} s runs (bare, POST, bare, Today) and a last bare "
        "run, medians; ×bare: the median of each run's ratio to the mean of the bare runs just "
        "before and after it"
    )
    print(header)
    labels = {
        "ping": "bare Flask GET /ping",
        "post": "FieldLog POST /api/v1/visits",
        "today": "FieldLog GET / (Today)",
    }
    for target, label in labels.items():
        stats = runs[target]

        def mid(key: str, stats: list[dict[str, float]] = stats) -> float:
            return statistics.median(s[key] for s in stats)

        ratio = f"{statistics.median(pairs[target]):>7.3f}" if target in pairs else f"{1:>7.3f}"
        errors = sum(s["errors"] + s["status"] for s in stats)
        print(
            f"{label:<28}{mid('rps'):>8.0f}{ratio}{mid('p50'):>8.1f}{mid('p99'):>8.1f}"
            f"{errors:>7}{mid('cpu'):>8.2f}{max(s['load'] for s in stats):>6.1f}"
        )
    for target in pairs:
        print(f"  {labels[target]} ×bare by round: " + ", ".join(f"{r:.3f}" for r in pairs[target]))
    print(
        f"FieldLog's workers were idle {waited:.0f} s after answering ({spent:.1f} CPU s of "
        "start-up work: loading the app, warming forecasts); the runs started after that"
    )
    acked, stored, problems = verify_all(url, acks)
    print(f"acknowledged {acked}, stored {stored}, problems {problems}")
    for file in acks:
        errors_file = Path(str(file) + ".errors")
        if errors_file.exists() and errors_file.read_text().strip():
            lines = errors_file.read_text().splitlines()
            print(f"non-2xx answers: {len(lines)}, first: {lines[0][:160]}")
    print(f"rebuild-summary --check: {summary_check(url)}")
    cpu = post_cpu(url, str(demo["email"]), args.cpu_posts)
    print(
        f"POST CPU ms (median of {args.cpu_posts}): customer with 10 past visits "
        f"{cpu['10']:.2f}, with 2,000 {cpu['2000']:.2f} "
        f"(×{cpu['2000'] / cpu['10']:.2f}); load {os.getloadavg()[0]:.1f}"
    )
    pages = request_cpu(url, str(demo["email"]), args.cpu_posts)
    print(
        f"GET CPU ms in process (median of {args.cpu_posts}): bare /ping "
        f"{pages['ping']:.3f}, Today {pages['today']:.2f} (built every time "
        f"{pages['today built']:.2f}); CPU ratios to the bare endpoint: POST "
        f"{pages['ping'] / cpu['10']:.3f}×, Today {pages['ping'] / pages['today']:.3f}×"
        f" (built {pages['ping'] / pages['today built']:.3f}×)"
    )
    print(uptime())


if __name__ == "__main__":
    main()
