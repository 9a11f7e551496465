"""Lighthouse 12, mobile, on Today (`/`) and the visit entry page (`/visits/new`) as a demo rep.

End to end: a fresh SQLite database with the demo company, gunicorn on loopback, a login through
the real form (the session cookie then goes to Lighthouse as an extra header), and Lighthouse's
CLI with Debian's Chromium, 3 rounds over the pages (the service worker and the caches are reset
before each run, so each is a first load; the session cookie is kept). Prints each run and the
median performance, accessibility and best-practices scores per page beside the baseline: a
trivial static HTML page served by the same gunicorn.

    (cd benchmarks && npm install)        # lighthouse@12 into benchmarks/node_modules
    .venv/bin/python benchmarks/lighthouse_bench.py [--runs 3] [--port 5750] [--keep DIR]
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
from benchmarks.load import free_port, start_gunicorn  # noqa: E402 (after the path)

LIGHTHOUSE = ROOT / "benchmarks" / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = "/usr/bin/chromium"
CHROME_FLAGS = (
    "--headless --no-sandbox --disable-background-networking --disable-component-update "
    "--disable-sync"
)
CATEGORIES = ("performance", "accessibility", "best-practices")
REP = "sato.kenta@minato.example"  # the demo rep with the most visits: the fullest Today
PASSWORD = "fieldlog-demo"
APP = "benchmarks.lighthouse_bench:make_app()"  # FieldLog plus the baseline page
BASELINE_PATH = "/__baseline"
BASELINE_HTML = b"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="A trivial static page: the Lighthouse baseline.">
<link rel="icon" href="data:,">
<title>Baseline</title>
</head>
<body><main><h1>Baseline</h1><p>A static page with no stylesheet and no script.</p></main></body>
</html>
"""


def make_app():
    """FieldLog with one extra static page, so the baseline is served by the same server."""
    from fieldlog import create_app

    app = create_app()
    inner = app.wsgi_app

    def wsgi(environ, start_response):
        if environ.get("PATH_INFO") == BASELINE_PATH:
            start_response(
                "200 OK",
                [
                    ("Content-Type", "text/html; charset=utf-8"),
                    ("Content-Length", str(len(BASELINE_HTML))),
                ],
            )
            return [BASELINE_HTML]
        return inner(environ, start_response)

    app.wsgi_app = wsgi
    return app


def prepare(env: dict[str, str]) -> None:
    """Migrate an empty database and load the demo company."""
    for args in (["db", "upgrade"], ["demo-data"]):
        subprocess.run(
            [str(BIN / "flask"), "--app", "fieldlog", *args],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )


def log_in(base: str) -> str:
    """Log in through the form as a demo rep; the Cookie header a logged-in phone sends."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = opener.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    data = urllib.parse.urlencode({"email": REP, "password": PASSWORD, "csrf_token": token})
    landing = opener.open(f"{base}/login", data=data.encode())
    if urllib.parse.urlsplit(landing.url).path != "/":
        raise RuntimeError(f"login failed (landed on {landing.url})")
    return "; ".join(f"{c.name}={c.value}" for c in jar)


METRICS = {
    "first-contentful-paint": "FCP",
    "largest-contentful-paint": "LCP",
    "total-blocking-time": "TBT",
    "cumulative-layout-shift": "CLS",
}


def lighthouse(url: str, cookie: str | None, out: Path, cpu_slowdown: float) -> dict[str, float]:
    """One Lighthouse run (mobile, the default form factor): category scores, metrics and the
    host's benchmark index (Lighthouse expects ≥ 1000 for its 4× CPU slowdown to be fair)."""
    command = [
        str(LIGHTHOUSE),
        url,
        f"--only-categories={','.join(CATEGORIES)}",
        f"--chrome-flags={CHROME_FLAGS}",
        f"--throttling.cpuSlowdownMultiplier={cpu_slowdown}",
        "--output=json",
        f"--output-path={out}",
        "--quiet",
    ]
    if cookie:
        command.append(f"--extra-headers={json.dumps({'Cookie': cookie})}")
    subprocess.run(command, env={**os.environ, "CHROME_PATH": CHROMIUM}, check=True)
    report = json.loads(out.read_text())
    result = {key: report["categories"][key]["score"] for key in CATEGORIES}
    result |= {short: report["audits"][key]["numericValue"] for key, short in METRICS.items()}
    result["index"] = report["environment"]["benchmarkIndex"]
    return result


def calibrated_slowdown(index: float) -> float:
    """The CPU slowdown Lighthouse's throttling docs give for a host's benchmark index (their
    calculator: 150 → 1×, 800 → 2×, 1300 → 3×, 1533 → 4×), for a mid-tier phone."""
    if index >= 1300:
        return 3 + (index - 1300) / 233
    if index >= 800:
        return 2 + (index - 800) / 500
    return max(1.0, 1 + (index - 150) / 650)


def describe(run: dict[str, float]) -> str:
    scores = " ".join(f"{run[c]:.2f}" for c in CATEGORIES)
    return (
        f"{scores} | FCP {run['FCP']:.0f} ms, LCP {run['LCP']:.0f} ms, TBT {run['TBT']:.0f} ms,"
        f" CLS {run['CLS']:.3f} | host index {run['index']:.0f}"
    )


def failing_audits(report_path: Path) -> list[str]:
    """The audits below 0.9 in a report (to see what keeps a score down)."""
    report = json.loads(report_path.read_text())
    lines = []
    for category in CATEGORIES:
        for ref in report["categories"][category]["auditRefs"]:
            audit = report["audits"][ref["id"]]
            score = audit.get("score")
            if ref["weight"] and score is not None and score < 0.9:
                shown = audit.get("displayValue", "")
                lines.append(f"    {category}: {ref['id']} {score:.2f} {shown}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--keep", type=Path, help="keep the JSON reports in this directory")
    parser.add_argument(
        "--cpu-slowdown",
        default="4",
        help="Lighthouse's CPU slowdown: a number (default 4, its mobile preset) or `auto`:\n"
        "calibrated to the host's benchmark index, measured on the baseline page first",
    )
    args = parser.parse_args()
    if not LIGHTHOUSE.exists():
        sys.exit("lighthouse is missing: run `npm install` in benchmarks/ (lighthouse@12)")

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        reports = args.keep or work
        reports.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "FIELDLOG_DATABASE_URL": f"sqlite:///{work / 'lighthouse.db'}",
            "FIELDLOG_SECRET_KEY": "lighthouse-bench",
            "FIELDLOG_SCHEDULER": "off",
            "FIELDLOG_LOG_FORMAT": "text",
        }
        prepare(env)
        port = args.port or free_port()
        base = f"http://127.0.0.1:{port}"
        options = ["-w", "2", "-k", "gthread", "--threads", "8", "--graceful-timeout", "5"]
        server = start_gunicorn(APP, options, env, port, work / "gunicorn.log")
        try:
            cookie = log_in(base)
            targets = [
                ("baseline (static page)", BASELINE_PATH, None),
                ("Today /", "/", cookie),
                ("visit entry /visits/new", "/visits/new", cookie),
            ]
            for _, path, header in targets * 2:  # warm the workers: templates, connections
                request = urllib.request.Request(base + path, headers={"Cookie": header or ""})
                urllib.request.urlopen(request).read()
            if args.cpu_slowdown == "auto":
                probe = lighthouse(base + BASELINE_PATH, None, reports / "calibrate.json", 4)
                slowdown = round(calibrated_slowdown(probe["index"]), 1)
                print(f"host benchmark index {probe['index']:.0f}: CPU slowdown ×{slowdown:g}")
            else:
                slowdown = float(args.cpu_slowdown)
            runs: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in targets}
            # Round after round, so the machine's changing load falls on every page alike.
            for n in range(args.runs):
                for label, path, header in targets:
                    out = reports / f"{path.strip('/').replace('/', '-') or 'today'}-{n}.json"
                    runs[label].append(lighthouse(base + path, header, out, slowdown))
                    print(f"{label:<26}{describe(runs[label][-1])}", flush=True)
                    for line in failing_audits(out):
                        print(line)
        finally:
            server.terminate()
            server.wait(10)

    keys = [*CATEGORIES, *METRICS.values(), "index"]
    results = {
        label: {k: statistics.median(run[k] for run in page) for k in keys}
        for label, page in runs.items()
    }
    baseline = results["baseline (static page)"]
    print(
        f"\nLighthouse 12, mobile (CPU ×{slowdown:g}), median of {args.runs};"
        f" rep {REP} on demo data, gunicorn"
    )
    print(f"{'page':<26}" + "".join(f"{c:>16}" for c in CATEGORIES) + "   perf × baseline")
    for label, scores in results.items():
        ratio = scores["performance"] / baseline["performance"] if baseline["performance"] else 0
        print(
            f"{label:<26}" + "".join(f"{scores[c]:>16.2f}" for c in CATEGORIES) + f"{ratio:>17.2f}"
        )
    for label, scores in results.items():
        print(f"  {label:<24}median {describe(scores).split(' | ', 1)[1]}")
    short = [f"{p} {c}" for p, s in results.items() for c in CATEGORIES if s[c] < 0.95]
    print("aim ≥ 0.95 each: " + ("met" if not short else "not met: " + ", ".join(short)))


if __name__ == "__main__":
    main()
