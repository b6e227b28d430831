"""The organiser dashboard of a large contest (issue 21, item 3): server time and queries.

What it does, all on 127.0.0.1 (like healthz_under_load.py):

1. a temporary SQLite database (``python -m ecosystem migrate``), filled through the ORM
   (bulk inserts): an organiser (a password to sign in with), a contest with two sites,
   four tracks, the default rubric, k = 3; ``--entries`` teams with an entry each; judges
   (about one per twelve entries, at most 100); k = 3 assignments spread evenly; about 40 %
   of the sheets complete (every criterion scored, in the log and its projection) and 10 %
   begun (one criterion);
2. the real app: ``python -m ecosystem serve`` (uvicorn, one worker, inline jobs);
3. the organiser signs in through the login form; ``--sequential`` one-at-a-time
   ``GET /contests/<slug>/manage`` (after 5 warm-up ones): the p50 in ms;
4. the same page once in this process (ASGI transport, SQL statements counted from
   tortoise's ``db_client`` log, as the tests count them): queries per request.

Prints one row per size, ``dashboard <N> entries p50  <x> ms  <q> queries`` followed by the
server process's CPU time per request (from /proc, steadier than the p50 when other work
shares the CPUs) and the page's size, and the target
(< 100 ms at 1,200 entries). Sizes: 12, 120 and 1,200 entries, or ``--entries N``.
Importable: ``dashboard_p50(entries, judges, sequential) -> (p50 ms, queries per request)``.
Run: ``python bench/contest_bench.py [--entries 1200] [--sequential 30]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from anywhere
sys.path.insert(0, str(ROOT / "bench"))

from app_vs_bare import (  # noqa: E402
    HOST,
    cpu_seconds,
    free_port,
    p50_sequential,
    start,
    stop,
    wait_ready,
)

PASSWORD = "bench-password-2026"
ORGANISER = "organiser@bench.example"
SLUG = "bench-dashboard"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SIZES = (12, 120, 1200)
TARGET_MS = 100.0


def judges_for(entries: int) -> int:
    """About one judge per twelve entries (100 for 1,200), at least 4."""
    return max(4, min(100, round(entries / 12)))


async def contest_with_entries(
    entries: int,
    *,
    slug: str,
    closes_in_days: tuple[int, int, int],
    tracks: tuple[str, ...],
    judges_per_entry: int,
    load_cap: int,
):
    """The organiser (a platform admin who signs in with `PASSWORD`), a verified office and
    a two-site contest (Bình Dương, Daejeon) with one team and entry per `entries`, spread
    over the sites and tracks; registration, submission and judging close `closes_in_days`
    from now. Returns (organiser, contest). Written through an initialised ORM."""
    from tortoise import timezone

    from ecosystem.models import Organisation, User, Verification
    from ecosystem.security import hash_password
    from hackathon.models import Submission, Team
    from hackathon.schemas import ContestIn
    from hackathon.services import contests

    now = timezone.now()
    organiser = await User.create(
        email=ORGANISER,
        full_name="Bench Organiser",
        password_hash=hash_password(PASSWORD),
        locale="en",
        email_verified_at=now,
        is_platform_admin=True,
    )
    await Organisation.create(
        name="Bench Office",
        slug="bench-office",
        search_key="bench office",
        verification=Verification.VERIFIED,
    )
    registration, submission, judging = (now + timedelta(days=d) for d in closes_in_days)
    data = ContestIn.model_validate(
        {
            "slug": slug,
            "title": "Bench contest",
            "registration_closes_at": registration,
            "submission_closes_at": submission,
            "judging_closes_at": judging,
            "sites": [
                {"code": "vn", "name": "Bình Dương", "timezone": "Asia/Ho_Chi_Minh"},
                {"code": "kr", "name": "Daejeon", "timezone": "Asia/Seoul", "country": "KR"},
            ],
            "tracks": [{"code": code, "name": code.title()} for code in tracks],
            "judges_per_entry": judges_per_entry,
            "load_cap": load_cap,
        }
    )
    contest = await contests.create_contest(organiser, data)
    sites = list(await contest.sites.all())
    track_rows = list(await contest.tracks.all())
    await Team.bulk_create(
        [
            Team(
                contest_id=contest.id,
                name=f"Team {i:04d}",
                site_id=sites[i % len(sites)].id,
                track_id=track_rows[i % len(track_rows)].id,
            )
            for i in range(entries)
        ],
        batch_size=500,
    )
    teams = await Team.filter(contest_id=contest.id).order_by("id")
    await Submission.bulk_create(
        [
            Submission(contest_id=contest.id, team_id=t.id, title=f"Entry of {t.name}", summary="")
            for t in teams
        ],
        batch_size=500,
    )
    return organiser, contest


async def build_contest(entries: int, judges: int, seed: int = 21) -> None:
    """The contest of the module's docstring, written through an initialised ORM."""
    from tortoise import timezone

    from ecosystem.models import User
    from hackathon.models import (
        ContestRole,
        ContestRoleKind,
        CurrentScore,
        JudgeAssignment,
        ScoreEvent,
        Submission,
    )
    from hackathon.services import contests

    rng = random.Random(seed)
    now = timezone.now()
    _organiser, contest = await contest_with_entries(
        entries,
        slug=SLUG,
        closes_in_days=(-3, -1, 5),  # judging is open
        tracks=("tourism", "traffic", "environment", "health"),
        judges_per_entry=3,
        load_cap=max(10, -(-entries * 3 // judges) + 5),
    )
    await User.bulk_create(
        [
            User(
                email=f"judge{j:03d}@bench.example",
                full_name=f"Judge {j:03d}",
                password_hash="!unusable",
                email_verified_at=now,
            )
            for j in range(judges)
        ],
        batch_size=500,
    )
    judge_users = await User.filter(email__startswith="judge").order_by("id")
    await ContestRole.bulk_create(
        [
            ContestRole(
                contest_id=contest.id,
                user_id=user.id,
                role=ContestRoleKind.JUDGE,
                languages="en,ko,vi",
                site_id=None,
            )
            for user in judge_users
        ]
    )
    round_ = await contests.current_round(contest)
    criteria = await contests.criteria_of(round_)
    submissions = await Submission.filter(contest_id=contest.id).order_by("id")
    assignments, events, scores = [], [], []
    event_id = 0
    for n, submission in enumerate(submissions):
        for slot in range(3):
            judge = judge_users[(3 * n + slot) % len(judge_users)]
            state = rng.random()
            scored = criteria if state < 0.4 else criteria[:1] if state < 0.5 else []
            assignments.append(
                JudgeAssignment(
                    round_id=round_.id,
                    judge_id=judge.id,
                    submission_id=submission.id,
                    completed_at=now if state < 0.4 else None,
                )
            )
            for criterion in scored:
                event_id += 1
                value = criterion.scale_min + criterion.step * rng.randint(
                    0, int((criterion.scale_max - criterion.scale_min) / criterion.step)
                )
                common = {
                    "round_id": round_.id,
                    "judge_id": judge.id,
                    "submission_id": submission.id,
                    "criterion_id": criterion.id,
                    "value": value,
                }
                events.append(ScoreEvent(id=event_id, batch=f"b{n}-{slot}", **common))
                scores.append(CurrentScore(event_id=event_id, **common))
    await JudgeAssignment.bulk_create(assignments, batch_size=1000)
    await ScoreEvent.bulk_create(events, batch_size=1000)
    await CurrentScore.bulk_create(scores, batch_size=1000)


async def fill(database_url: str, entries: int, judges: int) -> None:
    from tortoise import Tortoise

    from ecosystem.db import init_orm, tortoise_config
    from ecosystem.packages import load_packages

    await init_orm(tortoise_config(database_url, load_packages(("labs", "incubator", "hackathon"))))
    try:
        await build_contest(entries, judges)
    finally:
        await Tortoise.close_connections()


def session_cookie(base: str) -> str:
    """Sign the organiser in through the login form; the cookies as a `Cookie` header."""
    with httpx.Client(base_url=base, timeout=30) as client:
        token = CSRF.search(client.get("/login").text)
        if token is None:
            raise SystemExit("login page: no CSRF token")
        fields = {"email": ORGANISER, "password": PASSWORD, "csrf_token": token.group(1)}
        if client.post("/login", data=fields).status_code != 303:
            raise SystemExit("the organiser could not sign in")
        return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


class _Counter(logging.Handler):
    START = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.statements = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.statements += bool(self.START.match(record.getMessage()))


async def count_queries(path: str) -> int:
    """SQL statements of one signed-in GET of `path`, the app in this process (the
    environment points at the bench's database)."""
    from ecosystem.app import create_app

    app = create_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            token = CSRF.search((await client.get("/login")).text).group(1)
            fields = {"email": ORGANISER, "password": PASSWORD, "csrf_token": token}
            await client.post("/login", data=fields)
            assert (await client.get(path)).status_code == 200  # warm caches as the server
            logger = logging.getLogger("tortoise.db_client")
            counter, level = _Counter(), logger.level
            logger.addHandler(counter)
            logger.setLevel(logging.DEBUG)
            try:
                response = await client.get(path)
            finally:
                logger.removeHandler(counter)
                logger.setLevel(level)
            if response.status_code != 200:
                raise SystemExit(f"GET {path} in process: HTTP {response.status_code}")
            return counter.statements


def dashboard_p50(entries: int, judges: int, sequential: int = 30) -> tuple[float, int]:
    """Build a contest of `entries` entries and `judges` judges, serve it, and return the
    dashboard's p50 in ms over `sequential` requests and the SQL statements per request."""
    figures = dashboard_figures(entries, judges, sequential)
    return figures["p50_ms"], figures["queries"]


def dashboard_figures(entries: int, judges: int, sequential: int = 30) -> dict[str, float]:
    """`dashboard_p50`'s figures plus the server's CPU time per request (ms, from /proc: much
    steadier than wall time when other work shares the machine) and the page's size."""
    workdir = Path(tempfile.mkdtemp(prefix="contest-bench-"))
    database_url = f"sqlite://{workdir / 'bench.sqlite3'}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-secret-" + "x" * 40,
        "MEDIA_DIR": str(workdir / "media"),
        "BASE_URL": "",
        "ADMINS_NEED_SECOND_FACTOR": "0",  # the organiser (an admin) signs in with a password
    }
    env.pop("REDIS_URL", None)
    subprocess.run(
        [sys.executable, "-m", "ecosystem", "migrate"],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    os.environ.pop("REDIS_URL", None)
    path = f"/contests/{SLUG}/manage"
    try:
        asyncio.run(fill(database_url, entries, judges))
        from ecosystem.settings import get_settings

        with contextlib.suppress(AttributeError):
            get_settings.cache_clear()
        queries = asyncio.run(count_queries(path))
        figures = _serve_and_measure(env, workdir, path, sequential)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    shutil.rmtree(workdir, ignore_errors=True)
    return {**figures, "queries": queries}


def _serve_and_measure(env: dict, workdir: Path, path: str, sequential: int) -> dict:
    command = [sys.executable, "-m", "ecosystem", "serve", "--host", HOST]
    server = start("contest-app", [*command, "--port", str(free_port())], env, workdir)
    try:
        wait_ready(server, "/healthz", timeout=60)
        cookie = session_cookie(server.base)
        size = len(httpx.get(server.base + path, headers={"Cookie": cookie}, timeout=60).content)
        cpu = cpu_seconds(server.process.pid)
        p50, errors = p50_sequential(server.base + path, sequential, {"Cookie": cookie})
        if errors:
            raise SystemExit(f"GET {path}: {errors} requests failed")
        cpu_ms = (cpu_seconds(server.process.pid) - cpu) * 1000 / (sequential + 5)
        return {"p50_ms": p50, "cpu_ms": cpu_ms, "bytes": size}
    finally:
        stop(server)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--entries", type=int, action="append", help="one size (repeatable; default 12, 120, 1200)"
    )
    parser.add_argument("--judges", type=int, help="judges (default: entries / 12, 4 to 100)")
    parser.add_argument("--sequential", type=int, default=30, help="requests per p50 (30)")
    args = parser.parse_args()
    print("load:", os.getloadavg(), flush=True)
    rows = []
    for entries in args.entries or SIZES:
        judges = args.judges or judges_for(entries)
        figures = dashboard_figures(entries, judges, args.sequential)
        p50 = figures["p50_ms"]
        rows.append((entries, p50))
        print(
            f"dashboard {entries} entries p50  {p50:.1f} ms  {figures['queries']} queries  "
            f"server CPU {figures['cpu_ms']:.1f} ms/request  {figures['bytes'] / 1000:.0f} kB  "
            f"({judges} judges, k = 3)",
            flush=True,
        )
    largest, p50 = max(rows)
    verdict = "ok" if p50 < TARGET_MS else "MISSED"
    print(f"target: p50 < {TARGET_MS:.0f} ms at 1,200 entries: {largest} entries {verdict}")
    print("load:", os.getloadavg())
    return 0


if __name__ == "__main__":
    sys.exit(main())
