"""Requests per second of the real app against a bare Starlette + Jinja app, same load, same run.

Sets up a temporary SQLite database (``python -m ecosystem migrate``, then 1,000 verified
organisations with their spheres), serves the real app with ``python -m ecosystem serve``
(uvicorn, one worker) and the bare app of ``bench/bare_app.py`` (uvicorn, one worker, the
same pages from an in-memory list), and drives both with the same load, alternating
between them, for ``/`` and ``/organisations`` (page 1 of the partner directory: a count
and 24 rows with their spheres). Prints requests/s, the ratio app/bare (target: at least
0.6), p50/p99 latency and errors.

The load is anonymous visitors: no cookies are sent back, so the real app creates a
session and a CSRF token for every request, as for a first visit. The load generator is
``wrk`` when installed (one thread), else an asyncio httpx client in this process.

It is a measurement, not a test: the exit status is non-zero only when requests failed
(or the servers could not be set up), never for missing the target. Everything listens on
127.0.0.1 only. Run: ``python bench/app_vs_bare.py`` (about a minute with the defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from anywhere
sys.path.insert(0, str(ROOT / "bench"))

from bare_app import PAGE_SIZE, organisation_rows  # noqa: E402

HOST = "127.0.0.1"
PATHS = ("/", "/organisations")
TARGET_RATIO = 0.6  # issue 21 (was 0.5)
COMPARABLE = (
    "comparable = the same HTML layout (header, menu, language form, footer) and, for the\n"
    "directory, the count and 24 rows with sphere tags, rendered by Jinja2 (autoescape,\n"
    "template inheritance) and served by the same uvicorn settings (one worker, access log);\n"
    "the bare app has no middleware (session, CSRF, locale, security headers), no database\n"
    "(rows from an in-memory list), no translations."
)

WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, '
    .. '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Defaults: 2 rounds x 2 paths x 2 apps x (1 s warm-up + 5 s) ≈ 50 s of load.",
    )
    parser.add_argument(
        "--duration", type=float, default=5.0, help="seconds of load per measurement (default 5)"
    )
    parser.add_argument("--concurrency", type=int, default=16, help="open connections (default 16)")
    parser.add_argument(
        "--requests",
        type=int,
        default=0,
        help="send exactly this many requests per measurement instead of --duration "
        "(uses the httpx driver: wrk is time-based)",
    )
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="seconds of unmeasured load first (default 1)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="alternate app and bare this many times per path (default 2)",
    )
    parser.add_argument(
        "--organisations", type=int, default=1000, help="verified organisations (default 1000)"
    )
    parser.add_argument(
        "--driver",
        choices=("auto", "wrk", "httpx"),
        default="auto",
        help="load generator (default: wrk when installed, else httpx)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory (database, logs)"
    )
    args = parser.parse_args()
    if args.duration <= 0 or args.concurrency < 1 or args.rounds < 1 or args.requests < 0:
        parser.error("duration, concurrency and rounds must be positive")
    if args.driver == "auto":
        args.driver = "httpx" if args.requests or not shutil.which("wrk") else "wrk"
    if args.driver == "wrk" and args.requests:
        parser.error("--requests needs the httpx driver (wrk runs for a fixed time)")
    if args.driver == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed (apt-get install wrk), use --driver httpx")
    return args


# --- setting up ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


async def insert_organisations(database_url: str, count: int) -> None:
    """Bulk insert `count` verified organisations with 1–3 spheres each."""
    from tortoise import Tortoise

    from ecosystem.db import init_orm, tortoise_config
    from ecosystem.models import Organisation, OrganisationSphere, Sphere, Verification
    from ecosystem.packages import load_packages
    from ecosystem.settings import Settings
    from ecosystem.text import fold

    settings = Settings.from_env(database_url=database_url)
    await init_orm(tortoise_config(database_url, load_packages(settings.packages)))
    try:
        rows = organisation_rows(count)
        await Organisation.bulk_create(
            [
                Organisation(
                    name=row["name"],
                    slug=row["slug"],
                    search_key=fold(row["name"]),
                    city=row["city"],
                    country=row["country"],
                    verification=Verification.VERIFIED,
                )
                for row in rows
            ],
            batch_size=500,
        )
        ids = dict(await Organisation.all().values_list("slug", "id"))
        await OrganisationSphere.bulk_create(
            [
                OrganisationSphere(organisation_id=ids[row["slug"]], sphere=Sphere(sphere))
                for row in rows
                for sphere in row["spheres"]
            ],
            batch_size=1000,
        )
    finally:
        await Tortoise.close_connections()


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    log: Path

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"


def start(name: str, command: list[str], env: dict[str, str], workdir: Path) -> Server:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    port = int(command[command.index("--port") + 1])
    return Server(name, port, process, log)


def wait_ready(server: Server, path: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name} exited:\n{server.log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(server.base + path, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"{server.name} did not answer {path} within {timeout:.0f} s")


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


ROW = re.compile(r'<li class="card org">.*?<a href="/organisations/[^"]+">([^<]+)</a>', re.S)


def check_pages(app: Server, bare: Server, count: int) -> dict[tuple[str, str], int]:
    """Both apps answer 200, with a full page of the inserted organisations; body sizes."""
    sizes = {}
    names = {row["name"] for row in organisation_rows(count)}
    for path in PATHS:
        for server in (app, bare):
            response = httpx.get(server.base + path, timeout=10)
            if response.status_code != 200:
                raise SystemExit(f"{server.name} {path}: HTTP {response.status_code}")
            sizes[(server.name, path)] = len(response.content)
            if path == "/organisations":
                rows = ROW.findall(response.text)
                if len(rows) != min(PAGE_SIZE, count) or not set(rows) <= names:
                    raise SystemExit(
                        f"{server.name} {path} does not show a page of the inserted "
                        f"organisations: {len(rows)} rows, {rows[:3]}…"
                    )
    return sizes


# --- driving the load ---------------------------------------------------------------------


@dataclass
class Measurement:
    requests: int = 0
    seconds: float = 0.0
    errors: int = 0
    cpu: float = 0.0  # server CPU seconds spent while measured
    p50s: list[float] = field(default_factory=list)  # milliseconds, one per round
    p99s: list[float] = field(default_factory=list)

    def add(
        self, cpu: float, requests: int, seconds: float, errors: int, p50: float, p99: float
    ) -> None:
        self.cpu += cpu
        self.requests += requests
        self.seconds += seconds
        self.errors += errors
        self.p50s.append(p50)
        self.p99s.append(p99)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu / self.requests if self.requests else 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), 0.0 where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def p50_sequential(url: str, count: int, headers: dict | None = None) -> tuple[float, int]:
    """Median milliseconds of `count` one-at-a-time GETs (after 5 warm-up ones), errors."""
    times, errors = [], 0
    with httpx.Client(timeout=30, headers=headers or {}) as client:
        for n in range(count + 5):
            sent = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - sent
            client.cookies.clear()
            if response.status_code != 200:
                errors += 1
            if n >= 5:
                times.append(elapsed * 1000)
    return statistics.median(times), errors


def run_wrk(url: str, seconds: float, concurrency: int, script: Path) -> tuple:
    command = [
        "wrk",
        "-t1",
        f"-c{concurrency}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    output = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 30, check=True
    ).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    data = json.loads(line.removeprefix("BENCH "))
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    return (
        data["requests"],
        data["duration_us"] / 1e6,
        errors,
        data["p50_us"] / 1000,
        data["p99_us"] / 1000,
    )


async def _httpx_load(url: str, seconds: float, concurrency: int, total: int) -> tuple:
    from http.cookiejar import CookieJar, DefaultCookiePolicy

    no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))  # like wrk
    latencies: list[float] = []
    errors = 0
    remaining = total
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10, cookies=no_cookies) as client:
        started = time.perf_counter()
        deadline = started + seconds

        async def worker() -> None:
            nonlocal errors, remaining
            while (remaining > 0) if total else (time.perf_counter() < deadline):
                remaining -= 1
                sent = time.perf_counter()
                try:
                    response = await client.get(url)
                    await response.aread()
                    if response.status_code >= 400:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - sent)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return len(latencies), elapsed, errors, quantiles[49] * 1000, quantiles[98] * 1000


def run_httpx(url: str, seconds: float, concurrency: int, total: int = 0) -> tuple:
    return asyncio.run(_httpx_load(url, seconds, concurrency, total))


# --- the run ------------------------------------------------------------------------------


def main() -> int:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-app-vs-bare-"))
    database_url = f"sqlite://{workdir / 'bench.sqlite3'}"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("REDIS_URL", "SMTP_URL", "DEBUG")  # the embedded default
    }
    app_port, bare_port = free_port(), free_port()
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="bench-" + "k" * 40,
        BASE_URL=f"http://{HOST}:{app_port}",
        MEDIA_DIR=str(workdir / "media"),
    )
    servers: list[Server] = []
    started = time.monotonic()
    try:
        subprocess.run(
            [sys.executable, "-m", "ecosystem", "migrate"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=120,
        )
        asyncio.run(insert_organisations(database_url, args.organisations))
        app = start(
            "app",
            [sys.executable, "-m", "ecosystem", "serve", "--host", HOST, "--port", str(app_port)],
            env,
            workdir,
        )
        servers.append(app)
        bare = start(
            "bare",
            [
                sys.executable,
                str(ROOT / "bench" / "bare_app.py"),
                "--port",
                str(bare_port),
                "--organisations",
                str(args.organisations),
            ],
            env,
            workdir,
        )
        servers.append(bare)
        wait_ready(app, "/healthz")
        wait_ready(bare, "/")
        sizes = check_pages(app, bare, args.organisations)
        setup_seconds = time.monotonic() - started

        script = workdir / "report.lua"
        script.write_text(WRK_SCRIPT)

        def measure(url: str, seconds: float) -> tuple:
            if args.driver == "wrk":
                return run_wrk(url, seconds, args.concurrency, script)
            return run_httpx(url, seconds, args.concurrency, args.requests)

        results = {(s.name, p): Measurement() for s in (app, bare) for p in PATHS}
        warmup_errors = 0
        for path in PATHS:
            for _round in range(args.rounds):
                for server in (app, bare):
                    url = server.base + path
                    if args.warmup > 0:
                        if args.driver == "wrk":
                            warmup_errors += run_wrk(url, args.warmup, args.concurrency, script)[2]
                        else:
                            warmup_errors += run_httpx(url, args.warmup, args.concurrency)[2]
                    before = cpu_seconds(server.process.pid)
                    figures = measure(url, args.duration)
                    cpu = cpu_seconds(server.process.pid) - before
                    results[(server.name, path)].add(cpu, *figures)
    except BaseException:
        print(f"benchmark aborted; database and server logs kept in {workdir}", file=sys.stderr)
        raise
    finally:
        for server in servers:
            stop(server)
    load = (
        f"{args.requests} requests"
        if args.driver == "httpx" and args.requests
        else f"{args.duration:g} s"
    )
    print(
        f"app vs bare: {args.organisations} verified organisations in SQLite, uvicorn x1 each, "
        f"driver {args.driver}, {args.concurrency} connections, {args.rounds} round(s) of "
        f"{load} per app and path (after {args.warmup:g} s warm-up), anonymous visitors."
    )
    print(COMPARABLE)
    if args.driver == "httpx":
        print(
            "note: the httpx client runs in Python and may saturate before the bare app does, "
            "which flatters the ratio; install wrk for the real figure."
        )
    busy = os.getloadavg()[0]
    if busy > (os.cpu_count() or 1) * 0.75:
        print(
            f"note: load average {busy:.1f} on {os.cpu_count()} CPUs before the run: req/s are "
            "noisy; the CPU per request of each server is the steadier figure."
        )
    print()
    header = (
        f"{'path':16} {'app req/s':>10} {'bare req/s':>11} {'ratio':>6}  "
        f"{'app p50/p99 ms':>15} {'bare p50/p99 ms':>16} {'errors':>7}  target {TARGET_RATIO}"
    )
    print(header)
    print("-" * len(header))
    total_errors = warmup_errors
    for path in PATHS:
        mine, theirs = results[("app", path)], results[("bare", path)]
        ratio = mine.rate / theirs.rate if theirs.rate else 0.0
        errors = mine.errors + theirs.errors
        total_errors += errors
        print(
            f"{path:16} {mine.rate:10.0f} {theirs.rate:11.0f} {ratio:6.2f}  "
            f"{statistics.median(mine.p50s):7.1f}/{max(mine.p99s):<7.1f} "
            f"{statistics.median(theirs.p50s):8.1f}/{max(theirs.p99s):<7.1f} "
            f"{errors:>7}  {'met' if ratio >= TARGET_RATIO else 'missed'}"
        )
    print()
    header = (
        f"{'path':16} {'app CPU ms/req':>15} {'bare CPU ms/req':>16} {'bare/app':>9}  "
        f"{'bytes app/bare':>15}"
    )
    print(header)
    print("-" * len(header))
    for path in PATHS:
        mine, theirs = results[("app", path)], results[("bare", path)]
        cpu_ratio = theirs.cpu_ms / mine.cpu_ms if mine.cpu_ms else 0.0
        print(
            f"{path:16} {mine.cpu_ms:15.2f} {theirs.cpu_ms:16.2f} {cpu_ratio:9.2f}  "
            f"{sizes[('app', path)]:>7}/{sizes[('bare', path)]:<7}"
        )
    print()
    print(
        "p50 = median of the rounds' medians, p99 = the worst round's; CPU = the server "
        "process's user+system time over the requests it answered."
    )
    print(f"setup {setup_seconds:.1f} s, total {time.monotonic() - started:.0f} s.")
    if warmup_errors:
        print(f"{warmup_errors} requests failed during warm-up.")
    if total_errors:
        print(f"FAILED: {total_errors} requests failed; server logs kept in {workdir}")
        return 1
    if args.keep:
        print(f"kept {workdir} (database, server logs)")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
