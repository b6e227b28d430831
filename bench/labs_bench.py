"""Labs performance targets (issues 3, 21): week view, availability, search, booking rate.

1. SQLite (a temporary database, ``PACKAGES=labs python -m ecosystem migrate``): one lab with
   30 machines and 50,000 non-overlapping past and future bookings spread over them, plus
   34 more labs for 1,000 machines in all, a user and an API token. The real app
   (``python -m ecosystem serve``, one worker) and ``bench/bare_app.py`` get the same wrk
   load for the lab week view (``/equipment/{id}/week?start=…`` as a plain link: the whole
   machine page, anonymous and signed in) against the bare ``/week``, which makes the
   page's reads in raw SQL on the same file (with the session's, when signed in) and
   renders the grid (target: ≥ 0.8 of it), and for the availability API
   (``/api/v1/equipment/{id}/availability``, bearer token) against the bare
   ``/equipment/{id}/availability``, which does the same reads in raw SQL (target: ≥ 0.9;
   for information, also against ``/availability``, the same JSON from memory). Then p50
   of ``--sequential`` one-at-a-time requests for each page and for the cross-lab search
   ``/labs/search`` over the 1,000 machines (target: p50 < 100 ms). The 30-machine lab's
   day and week grid (``/labs/{slug}/day`` and ``/week``, anonymous and signed in) against the bare
   ``/labs/{slug}/grid``, the same reads in raw SQL and one table (target: ≥ 0.5 of it).
2. PostgreSQL (``--pg``, a throwaway database ``labs_bench_<random>``, dropped at the end):
   50 users with tokens, 50 machines open 24/7 with permissive rules, ``serve --workers 2``,
   and 50 concurrent httpx clients each booking successive one-hour slots on its own
   machine for ``--book-seconds``; then the same clients against ``bare_app.py
   --bookings`` (2 uvicorn workers, asyncpg, the same token check, one INSERT under the same
   exclusion constraint) on the same table, emptied before each load. Reports both
   bookings/s, their ratio (target ≥ 0.5), server CPU per request, the status histograms
   and errors (409s are answers; any other status but 201, or a transport error, is one).

A measurement, not a test: exit status 1 only when requests failed or setup broke, never
for a missed target. Everything is on 127.0.0.1. Run: ``python bench/labs_bench.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from app_vs_bare import (  # noqa: E402
    HOST,
    WRK_SCRIPT,
    Measurement,
    cpu_seconds,
    free_port,
    p50_sequential,
    run_wrk,
    start,
    stop,
    wait_ready,
)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
LAB_MACHINES = 30
BOOKINGS = 50_000
ALL_MACHINES = 1000
PER_LAB = 29  # machines per lab outside the big one (30 + 34 × ~29 = 1,000)
WEEK_TARGET = 0.8  # a machine's week page against the bare page doing the same SQL (issue 21)
AVAILABILITY_TARGET = 0.9  # the availability API against the bare raw-SQL route (issue 21)
GRID_TARGET = 0.5  # the lab day/week grid against the bare app's raw-SQL grid
SEARCH_TARGET_MS = 100.0
PG_RATIO_TARGET = 0.5  # the app's bookings/s against the bare asyncpg app's (issue 21)
CATEGORIES = ("3d_printer", "laser_cutter", "cnc", "pcb_mill", "electronics_bench")
BENCH_PASSWORD = "bench-password-1"
CELL = 'class="cell '  # a cell of a machine's week grid, in the app's page and the bare one


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="wrk seconds (default 5)")
    parser.add_argument("--concurrency", type=int, default=16, help="wrk connections (16)")
    parser.add_argument("--rounds", type=int, default=2, help="app/bare alternations (2)")
    parser.add_argument(
        "--sequential", type=int, default=100, help="sequential requests for p50 (100)"
    )
    parser.add_argument("--bookings", type=int, default=BOOKINGS, help="bookings (50000)")
    parser.add_argument(
        "--lab-machines", type=int, default=LAB_MACHINES, help="machines in the big lab (30)"
    )
    parser.add_argument(
        "--machines", type=int, default=ALL_MACHINES, help="machines in the network (1000)"
    )
    parser.add_argument("--clients", type=int, default=50, help="booking clients (50)")
    parser.add_argument("--book-seconds", type=float, default=10.0, help="booking load (10)")
    parser.add_argument(
        "--pg",
        default="postgres://postgres@127.0.0.1:5432",
        help="PostgreSQL server for the throughput part ('' to skip)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--no-wrk",
        action="store_true",
        help="skip the app/bare req/s comparisons (only the sequential p50 rows)",
    )
    args = parser.parse_args()
    if not args.no_wrk and not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk): the req/s comparisons are skipped")
        args.no_wrk = True
    if args.duration <= 0 or args.concurrency < 1 or args.sequential < 1 or args.clients < 1:
        parser.error("duration, concurrency, sequential and clients must be positive")
    if args.lab_machines < 1 or args.machines < args.lab_machines or args.bookings < 0:
        parser.error("--lab-machines must be positive and at most --machines")
    return args


def base_env(database_url: str, workdir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SMTP_URL", "DEBUG")}
    env.update(
        DATABASE_URL=database_url,
        PACKAGES="labs",
        SECRET_KEY="bench-" + "k" * 40,
        BASE_URL=f"http://{HOST}:{port}",
        MEDIA_DIR=str(workdir / "media"),
    )
    return env


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "ecosystem", "migrate"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=180,
    )


async def _orm(database_url: str):
    from ecosystem.db import init_orm, tortoise_config
    from ecosystem.packages import load_packages

    await init_orm(tortoise_config(database_url, load_packages(("labs",))))


async def _users(count: int) -> list[tuple[int, str]]:
    """`count` verified users with one API token each: [(user id, plaintext token)]."""
    from tortoise import timezone

    from ecosystem.models import ApiToken, User
    from ecosystem.security import hash_password, hash_token

    password = hash_password(BENCH_PASSWORD)
    tag = secrets.token_hex(3)
    await User.bulk_create(
        [
            User(
                email=f"bench{n}-{tag}@example.org",
                full_name=f"Bench {n}",
                password_hash=password,
                email_verified_at=timezone.now(),
            )
            for n in range(count)
        ]
    )
    ids = await User.filter(email__endswith=f"-{tag}@example.org").order_by("id")
    tokens = [(user.id, "eco_" + secrets.token_urlsafe(32)) for user in ids]
    await ApiToken.bulk_create(
        [
            ApiToken(user_id=uid, name="bench", prefix=plain[:10], token_hash=hash_token(plain))
            for uid, plain in tokens
        ]
    )
    return tokens


async def _labs(count: int, hours: tuple[int, int]) -> list[int]:
    from ecosystem.models import Organisation, Verification
    from labs.models import Lab, OpeningHours

    org = await Organisation.create(
        name="Bench host", slug=f"bench-{secrets.token_hex(3)}", verification=Verification.VERIFIED
    )
    await Lab.bulk_create(
        [
            Lab(organisation_id=org.id, name=f"Lab {n}", slug=f"{org.slug}-lab-{n}", kind="fablab")
            for n in range(count)
        ]
    )
    lab_ids = list(
        await Lab.filter(organisation_id=org.id).order_by("id").values_list("id", flat=True)
    )
    await OpeningHours.bulk_create(
        [
            OpeningHours(lab_id=lab, weekday=day, opens_minute=hours[0], closes_minute=hours[1])
            for lab in lab_ids
            for day in range(7)
        ]
    )
    return lab_ids


async def _machines(lab_id: int, count: int, offset: int = 0, **rules) -> list[int]:
    from labs.models import Equipment

    await Equipment.bulk_create(
        [
            Equipment(
                lab_id=lab_id,
                name=f"Machine {offset + n}",
                category=CATEGORIES[(offset + n) % len(CATEGORIES)],
                **rules,
            )
            for n in range(count)
        ]
    )
    return list(await Equipment.filter(lab_id=lab_id).order_by("id").values_list("id", flat=True))


def network_labs(lab_machines: int, machines: int) -> int:
    """The big lab plus labs of about 29 machines for the rest (35 for 30 + 970)."""
    return 1 + -(-(machines - lab_machines) // PER_LAB) if machines > lab_machines else 1


def insert_bookings(path: Path, machines: list[int], user_id: int, count: int) -> None:
    """`count` non-overlapping 2-hour bookings, one every 10.5 h per machine, centred on now,
    written in one transaction with the standard library's sqlite3 (about 100,000/s; the
    ORM's bulk_create builds a model per row). Datetimes as the app stores them: UTC text."""
    import sqlite3

    per_machine = count // len(machines) + 1
    now = datetime.now(TZ).replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    first = now - timedelta(hours=10.5 * per_machine / 2)
    stamp = now.isoformat(" ")

    def rows():
        for n in range(count):
            machine, k = machines[n % len(machines)], n // len(machines)
            starts = first + timedelta(hours=10.5 * k)
            yield (
                machine,
                user_id,
                starts.isoformat(" "),
                (starts + timedelta(hours=2)).isoformat(" "),
                "confirmed" if starts > now else "completed",
                f"b{n:07d}",
                stamp,
                stamp,
            )

    columns = (
        "equipment_id, user_id, starts_at, ends_at, status, check_in_code, created_at,"
        " updated_at, purpose, price_amount, price_currency, price_category, decision_reason,"
        " usage_note, sequence, guest_name, guest_phone"
    )
    sql = (
        f"INSERT INTO labs_booking ({columns})"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', 0, 'VND', '', '', '', 0, '', '')"
    )
    with sqlite3.connect(path) as connection:
        connection.executemany(sql, rows())


async def populate_sqlite(database_url: str, args: argparse.Namespace) -> dict:
    from tortoise import Tortoise

    from ecosystem.models import User
    from labs.models import Lab

    lab_machines, machines = args.lab_machines, args.machines
    await _orm(database_url)
    try:
        [(user_id, token)] = await _users(1)
        labs = await _labs(network_labs(lab_machines, machines), (8 * 60, 20 * 60))
        main = await _machines(labs[0], lab_machines)
        if len(labs) > 1:
            per_lab, rest = divmod(machines - lab_machines, len(labs) - 1)
            offset = lab_machines
            for n, lab in enumerate(labs[1:]):
                size = per_lab + (1 if n < rest else 0)
                await _machines(lab, size, offset)
                offset += size
        email = (await User.get(id=user_id)).email
        slug = (await Lab.get(id=labs[0])).slug
    finally:
        await Tortoise.close_connections()
    insert_bookings(Path(database_url.removeprefix("sqlite://")), main, user_id, args.bookings)
    return {"machine": main[0], "token": token, "email": email, "lab": slug}


async def build_summary(database_url: str) -> tuple[int, float]:
    """The search's summary of free time over its whole horizon, as the `free_time_refresh`
    job makes it: (rows written, seconds). Built before any measurement, so that the app's
    first minute of cron (in the web process without Redis) finds nothing stale – otherwise
    it would compute the rest of the horizon while wrk measures the pages."""
    from tortoise import Tortoise, timezone

    from labs.services import free_time

    await _orm(database_url)
    try:
        began = time.perf_counter()
        written = 0
        while batch := await free_time.refresh(timezone.now(), batch=100_000):
            written += batch
        return written, time.perf_counter() - began
    finally:
        await Tortoise.close_connections()


def session_cookie(base: str, email: str) -> str:
    """Sign in through the login form; the session cookie as a `Cookie` header value."""
    with httpx.Client(base_url=base, timeout=30) as client:
        form = client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        if csrf is None:
            raise SystemExit("login page: no CSRF token")
        fields = {"email": email, "password": BENCH_PASSWORD, "csrf_token": csrf.group(1)}
        client.post("/login", data=fields)
        if client.get("/account").status_code != 200:
            raise SystemExit("the bench user could not sign in")
        return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


def wrk_pair(app_url, bare_url, args, script, app_server, bare_server):
    """Alternating wrk runs; (app Measurement, bare Measurement)."""
    results = {"app": Measurement(), "bare": Measurement()}
    for _ in range(args.rounds):
        for name, url, server in (("app", app_url, app_server), ("bare", bare_url, bare_server)):
            run_wrk(url, 1, args.concurrency, script)  # warm-up
            cpu = cpu_seconds(server.process.pid)
            measured = run_wrk(url, args.duration, args.concurrency, script)
            results[name].add(cpu_seconds(server.process.pid) - cpu, *measured)
    return results["app"], results["bare"]


# --- booking throughput on PostgreSQL -----------------------------------------------------


async def populate_pg(database_url: str, clients: int) -> tuple[list[int], list[str]]:
    from tortoise import Tortoise

    await _orm(database_url)
    try:
        tokens = [token for _uid, token in await _users(clients)]
        [lab] = await _labs(1, (0, 1440))
        machines = await _machines(
            lab,
            clients,
            requires_training=False,
            requires_approval=False,
            notice_minutes=0,
            horizon_days=60,
            max_minutes=240,
            min_minutes=30,
        )
        return machines, tokens
    finally:
        await Tortoise.close_connections()


async def book_load(base: str, machines, tokens, seconds: float) -> tuple:
    statuses: collections.Counter = collections.Counter()
    latencies: list[float] = []
    first = datetime.now(TZ).replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    deadline = time.perf_counter() + seconds

    async def client(machine: int, token: str) -> None:
        slot = first
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
            while time.perf_counter() < deadline:
                body = {
                    "equipment_id": machine,
                    "start": slot.isoformat(),
                    "end": (slot + timedelta(hours=1)).isoformat(),
                }
                sent = time.perf_counter()
                try:
                    response = await http.post("/api/v1/bookings", json=body)
                    statuses[response.status_code] += 1
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] += 1
                latencies.append(time.perf_counter() - sent)
                slot += timedelta(hours=1)

    started = time.perf_counter()
    await asyncio.gather(*(client(m, t) for m, t in zip(machines, tokens, strict=True)))
    return statuses, time.perf_counter() - started, latencies


def psql(url: str, sql: str) -> None:
    subprocess.run(
        ["psql", f"{url}/postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql],
        check=True,
        capture_output=True,
        timeout=60,
    )


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its live descendants (uvicorn's workers), from /proc."""
    total = cpu_seconds(pid)
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return total
    return total + sum(tree_cpu_seconds(int(child)) for child in children)


def _load_result(
    statuses: collections.Counter, seconds: float, latencies: list, cpu: float = 0.0
) -> dict:
    """Bookings/s and errors of one load: 409 (a real conflict) is an answer, not an error;
    any other status but 201, and every transport error, is one."""
    created = statuses.get(201, 0)
    return {
        "bookings": created,
        "seconds": seconds,
        "rate": created / seconds,
        "statuses": dict(statuses),
        "errors": sum(v for k, v in statuses.items() if k not in (201, 409)),
        "p50": statistics.median(latencies) * 1000 if latencies else 0.0,
        "cpu_ms": cpu * 1000 / max(1, sum(statuses.values())),  # server CPU per request
    }


def wait_workers(server, count: int, timeout: float = 60.0) -> None:
    """Until every uvicorn worker has started: the first answer comes from one of them, and
    clients connecting before the others listen all stay with it (one worker then served
    the whole load in some runs before 4 Dec evening)."""
    deadline = time.monotonic() + timeout
    while server.log.read_text(errors="replace").count("Application startup complete") < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"{server.name}: {count} workers did not start in {timeout:.0f} s")
        time.sleep(0.2)


def throughput(args, workdir: Path) -> tuple[dict, dict]:
    """Booking throughput of the app and of the bare asyncpg app (`bare_app.py --bookings`)
    on the same database and table, one after the other, each with `serve --workers 2`'s
    shape and the same clients; the bookings are deleted before each load, so both start
    from the same table. Returns (app result, bare result)."""
    name = f"labs_bench_{secrets.token_hex(4)}"
    url = f"{args.pg}/{name}"
    port = free_port()
    env = base_env(url, workdir, port)
    psql(args.pg, f"CREATE DATABASE {name}")
    try:
        migrate(env)
        machines, tokens = asyncio.run(populate_pg(url, args.clients))
        command = [sys.executable, "-m", "ecosystem", "serve", "--host", HOST, "--port", str(port)]
        bare_command = [
            *(sys.executable, str(ROOT / "bench" / "bare_app.py"), "--bookings"),
            *("--workers", "2", "--port", str(port)),
        ]
        results = []
        for label, argv in (("pg-app", [*command, "--workers", "2"]), ("pg-bare", bare_command)):
            subprocess.run(
                ["psql", url, "-v", "ON_ERROR_STOP=1", "-qc", "DELETE FROM labs_booking"],
                check=True,
                capture_output=True,
                timeout=60,
            )
            server = start(label, argv, {**env, "BARE_DATABASE_URL": url}, workdir)
            try:
                wait_ready(server, "/healthz", timeout=60)
                wait_workers(server, 2)
                cpu = tree_cpu_seconds(server.process.pid)
                loaded = asyncio.run(book_load(server.base, machines, tokens, args.book_seconds))
                cpu = tree_cpu_seconds(server.process.pid) - cpu
                results.append(_load_result(*loaded, cpu))
            finally:
                stop(server)
        return results[0], results[1]
    finally:
        psql(args.pg, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# --- the run ------------------------------------------------------------------------------


def main() -> int:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-labs-"))
    app_port, bare_port = free_port(), free_port()
    database_url = f"sqlite://{workdir / 'labs.sqlite3'}"
    env = base_env(database_url, workdir, app_port)
    os.environ["PACKAGES"] = "labs"
    servers = []
    errors = 0
    rows = []  # (figure, value, target, met)
    began = time.monotonic()
    try:
        migrate(env)
        data = asyncio.run(populate_sqlite(database_url, args))
        print(
            f"SQLite populated in {time.monotonic() - began:.1f} s ({args.machines} machines,"
            f" {args.lab_machines} in the big lab, {args.bookings} bookings)",
            flush=True,
        )
        rows_written, seconds = asyncio.run(build_summary(database_url))
        print(f"summary of free time: {rows_written} rows in {seconds:.1f} s", flush=True)
        serve = [sys.executable, "-m", "ecosystem", "serve", "--host", HOST]
        app = start("app", [*serve, "--port", str(app_port)], env, workdir)
        servers.append(app)
        bare_cmd = [
            *(sys.executable, str(ROOT / "bench" / "bare_app.py"), "--port", str(bare_port)),
            *("--database", str(workdir / "labs.sqlite3")),
        ]
        bare = start("bare", bare_cmd, env, workdir)
        servers.append(bare)
        wait_ready(app, "/healthz")
        wait_ready(bare, "/")

        today = datetime.now(TZ).date()
        monday = today - timedelta(days=today.weekday())
        week_start = datetime.combine(monday, datetime.min.time(), TZ)
        machine, token = data["machine"], data["token"]
        week_path = f"/equipment/{machine}/week?start={monday.isoformat()}"
        avail_query = httpx.QueryParams(
            {"from": week_start.isoformat(), "to": (week_start + timedelta(7)).isoformat()}
        )
        avail_path = f"/api/v1/equipment/{machine}/availability?{avail_query}"
        bare_avail = f"/availability?{httpx.QueryParams({'from': week_start.isoformat()})}"
        bare_avail_db = f"/equipment/{machine}/availability?{avail_query}"
        bare_week_path = f"/week?machine={machine}&start={monday.isoformat()}"
        search_path = f"/labs/search?day={(today + timedelta(1)).isoformat()}&duration=60"
        # One lab, one grid: the 30-machine lab's day and week (labs.routes.grid).
        grid_day = f"/labs/{data['lab']}/day?date={today.isoformat()}"
        grid_week = f"/labs/{data['lab']}/week?start={monday.isoformat()}"
        bare_day = f"/labs/{data['lab']}/grid?mode=day&date={today.isoformat()}"
        bare_week = f"/labs/{data['lab']}/grid?mode=week&date={monday.isoformat()}"
        auth = {"Authorization": f"Bearer {token}"}

        # Sanity: the pages answer and show data.
        week = httpx.get(app.base + week_path, timeout=30)
        bare_page = httpx.get(bare.base + bare_week_path, timeout=30)
        avail = httpx.get(app.base + avail_path, headers=auth, timeout=30)
        found = httpx.get(app.base + search_path, timeout=30)
        grids = [httpx.get(app.base + path, timeout=30) for path in (grid_day, grid_week)]
        grids += [httpx.get(bare.base + path, timeout=30) for path in (bare_day, bare_week)]
        for label, response in (
            ("week", week),
            ("bare week", bare_page),
            ("availability", avail),
            ("search", found),
            *zip(("lab day", "lab week", "bare lab day", "bare lab week"), grids, strict=True),
        ):
            if response.status_code != 200:
                raise SystemExit(f"{label}: HTTP {response.status_code}\n{response.text[:500]}")
        print(
            "lab grid pages (app/bare): day "
            f"{len(grids[0].content)}/{len(grids[2].content)} B, "
            f"{grids[0].text.count('<td')}/{grids[2].text.count('<td')} cells; week "
            f"{len(grids[1].content)}/{len(grids[3].content)} B, "
            f"{grids[1].text.count('<td')}/{grids[3].text.count('<td')} cells",
            flush=True,
        )
        print(
            f"week page (app/bare) {len(week.content)}/{len(bare_page.content)} B, "
            f"{week.text.count(CELL)}/{bare_page.text.count(CELL)} cells; "
            f"availability: {len(avail.json()['busy'])} busy, "
            f"{len(avail.json()['free'])} free; search page {len(found.content)} B "
            f"({found.text.count('/equipment/')} machine links)",
            flush=True,
        )

        plain = workdir / "plain.lua"
        pairs = [] if args.no_wrk else None
        plain.write_text(WRK_SCRIPT)
        bearer = workdir / "bearer.lua"
        bearer.write_text(f'wrk.headers["Authorization"] = "Bearer {token}"\n' + WRK_SCRIPT)
        signed_in = workdir / "signed_in.lua"
        cookie = session_cookie(app.base, data["email"])
        signed_in.write_text(f'wrk.headers["Cookie"] = "{cookie}"\n' + WRK_SCRIPT)
        for label, app_url, bare_url, script, targeted in (
            pairs
            if pairs is not None
            else (
                (
                    "week view",
                    app.base + week_path,
                    bare.base + bare_week_path,
                    plain,
                    WEEK_TARGET,
                ),
                (
                    "week view, signed in",
                    app.base + week_path,
                    bare.base + bare_week_path,
                    signed_in,
                    WEEK_TARGET,
                ),
                (
                    "availability API",
                    app.base + avail_path,
                    bare.base + bare_avail_db,
                    bearer,
                    AVAILABILITY_TARGET,
                ),
                ("lab day grid", app.base + grid_day, bare.base + bare_day, plain, GRID_TARGET),
                (
                    "lab day grid, signed in",
                    app.base + grid_day,
                    bare.base + bare_day,
                    signed_in,
                    GRID_TARGET,
                ),
                ("lab week grid", app.base + grid_week, bare.base + bare_week, plain, GRID_TARGET),
                (
                    "lab week grid, signed in",
                    app.base + grid_week,
                    bare.base + bare_week,
                    signed_in,
                    GRID_TARGET,
                ),
                (  # for information: the whole price of the ORM, validation and middleware
                    "availability vs bare without database",
                    app.base + avail_path,
                    bare.base + bare_avail,
                    bearer,
                    False,
                ),
            )
        ):
            mine, theirs = wrk_pair(app_url, bare_url, args, script, app, bare)
            errors += mine.errors + theirs.errors
            ratio = mine.rate / theirs.rate if theirs.rate else 0.0
            target = targeted
            rows.append(
                (
                    f"{label} req/s app/bare",
                    f"{mine.rate:.0f}/{theirs.rate:.0f} = {ratio:.2f} "
                    f"(p50 {statistics.median(mine.p50s):.1f} ms, CPU {mine.cpu_ms:.2f} vs "
                    f"{theirs.cpu_ms:.2f} ms/req)",
                    f">= {target}" if targeted else "-",
                    (ratio >= target) if targeted else None,
                )
            )
        for label, path, headers, target in (
            ("week view p50 (sequential)", week_path, None, None),
            ("availability p50 (sequential)", avail_path, auth, None),
            (f"search {args.machines:,} machines p50", search_path, None, SEARCH_TARGET_MS),
            ("lab day grid p50 (sequential)", grid_day, None, None),
            ("lab week grid p50 (sequential)", grid_week, None, None),
        ):
            p50, failed = p50_sequential(app.base + path, args.sequential, headers)
            errors += failed
            rows.append(
                (
                    label,
                    f"{p50:.1f} ms",
                    f"< {target:.0f} ms" if target else "-",
                    (p50 < target) if target else None,
                )
            )
    finally:
        for server in servers:
            stop(server)

    if args.pg:
        result, bare = throughput(args, workdir)
        errors += result["errors"] + bare["errors"]
        ratio = result["rate"] / bare["rate"] if bare["rate"] else 0.0
        rows.append(
            (
                f"PG bookings/s (2 workers, {args.clients} clients)",
                f"{result['rate']:.1f} ({result['bookings']} in {result['seconds']:.1f} s, "
                f"p50 {result['p50']:.0f} ms, CPU {result['cpu_ms']:.1f} ms/req)",
                "report",
                None,
            )
        )
        rows.append(
            (
                "PG bookings/s, bare asyncpg app",
                f"{bare['rate']:.1f} ({bare['bookings']} in {bare['seconds']:.1f} s, "
                f"p50 {bare['p50']:.0f} ms, CPU {bare['cpu_ms']:.1f} ms/req)",
                "report",
                None,
            )
        )
        rows.append(
            (
                "PG bookings/s app/bare",
                f"{result['rate']:.1f}/{bare['rate']:.1f} = {ratio:.2f}",
                f">= {PG_RATIO_TARGET}",
                ratio >= PG_RATIO_TARGET,
            )
        )
        rows.append(
            (
                "PG booking errors (app; bare)",
                f"{result['errors']} {result['statuses']}; {bare['errors']} {bare['statuses']}",
                "0",
                not (result["errors"] or bare["errors"]),
            )
        )

    print()
    print(f"{'figure':44} {'value':60} {'target':10} met")
    print("-" * 120)
    for figure, value, target, met in rows:
        mark = "-" if met is None else ("yes" if met else "NO")
        print(f"{figure:44} {value:60} {target:10} {mark}")
    print(f"\ntotal {time.monotonic() - began:.0f} s")
    if errors:
        print(f"FAILED: {errors} requests failed; logs kept in {workdir}")
        return 1
    if args.keep:
        print(f"kept {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
