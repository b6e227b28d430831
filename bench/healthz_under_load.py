"""/healthz latency while CPU-heavy requests run: 8 large PNG uploads and a judge assignment
of 1,000 entries x 100 judges, all at once, against the real app (issue 13, point 5).

What it does, all on 127.0.0.1 (like app_vs_bare.py):

1. a temporary SQLite database (``python -m ecosystem migrate``), then, through the ORM: an
   organiser (platform admin, a password to sign in with), a verified organisation, a
   contest with two sites and two tracks, k = 5, load cap 60, 1,000 teams with an entry
   (bulk insert) and 100 judges (``contests.add_judge``);
2. the real app: ``python -m ecosystem serve --port P`` (uvicorn, one worker, inline jobs);
3. the organiser signs in through the login form; then, for ``--idle`` seconds, /healthz
   alone (the baseline); then at once: 8 avatar uploads of a ``--side`` x ``--side`` PNG
   (default 4,000: the largest a PNG may be, 16 MP, decoded in full; a 6,300 x 6,300 PNG is
   refused from its header with a 422, also sent once and reported) and
   ``POST /contests/<slug>/manage/assign``, while a separate process requests /healthz
   back to back (a fresh connection each time, like a load balancer's probe);
4. prints /healthz p50/p99/max for the baseline and under load, each upload's and the
   assignment's status and time, and the target: p99 < 100 ms under load.

Exit status 1 when an upload or the assignment fails or /healthz errors (not when slow).
Run: ``python bench/healthz_under_load.py [--side 4000] [--idle 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from anywhere
sys.path.insert(0, str(ROOT / "bench"))

from app_vs_bare import HOST, free_port, start, stop, wait_ready  # noqa: E402
from contest_bench import CSRF, ORGANISER, PASSWORD  # noqa: E402

SLUG = "bench-assignment"


async def build_contest(database_url: str, entries: int, judges: int) -> None:
    from contest_bench import contest_with_entries
    from tortoise import Tortoise, timezone

    from ecosystem.db import init_orm, tortoise_config
    from ecosystem.models import User
    from ecosystem.packages import load_packages
    from hackathon.services import contests

    await init_orm(tortoise_config(database_url, load_packages(("labs", "incubator", "hackathon"))))
    try:
        organiser, contest = await contest_with_entries(
            entries,
            slug=SLUG,
            closes_in_days=(1, 2, 5),
            tracks=("tourism", "traffic"),
            judges_per_entry=5,
            load_cap=60,
        )
        for j in range(judges):
            email = f"judge{j:03d}@bench.example"
            await User.create(
                email=email,
                full_name=f"Judge {j:03d}",
                password_hash="!unusable",
                email_verified_at=timezone.now(),
            )
            await contests.add_judge(organiser, contest, email, "", "vi,en,ko")
    finally:
        await Tortoise.close_connections()


def png_bytes(side: int) -> bytes:
    """A compressible side x side RGB PNG (bands and a gradient): small file, many pixels."""
    small = Image.linear_gradient("L").resize((side, side))
    image = Image.merge("RGB", (small, small.transpose(Image.Transpose.ROTATE_90), small))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


PROBE = """
import http.client, json, sys, time
host, port, stop_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
import os
while not os.path.exists(stop_file):
    began = time.perf_counter()
    try:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        connection.request("GET", "/healthz")
        status = connection.getresponse().status
        connection.close()
    except OSError:
        status = 0
    print(json.dumps([time.perf_counter() - began, status]), flush=True)
    time.sleep(0.005)
"""


class Prober:
    """GET /healthz back to back on a fresh connection, like a load balancer's probe.

    The probe runs in a process of its own with the standard library's HTTP client: in this
    process, it would share the interpreter lock with the upload clients and count their work
    as the server's latency (and httpx builds a TLS context for every one-off request).
    """

    def __init__(self, host: str, port: int) -> None:
        self.stop_file = Path(tempfile.mkdtemp(prefix="healthz-probe-")) / "stop"
        self.process = subprocess.Popen(
            [sys.executable, "-c", PROBE, host, str(port), str(self.stop_file)],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.latencies: list[float] = []
        self.errors = 0

    def finish(self) -> Prober:
        self.stop_file.touch()
        out, _ = self.process.communicate(timeout=60)
        for line in out.splitlines():
            seconds, status = json.loads(line)
            self.latencies.append(seconds)
            self.errors += status != 200
        return self


def probe_for(host: str, port: int, seconds: float) -> Prober:
    prober = Prober(host, port)
    time.sleep(seconds)
    return prober.finish()


def figures(latencies: list[float]) -> tuple[float, float, float]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1000, p99 * 1000, ordered[-1] * 1000


async def sign_in(http: httpx.AsyncClient) -> str:
    token = CSRF.search((await http.get("/login")).text).group(1)
    response = await http.post(
        "/login", data={"email": ORGANISER, "password": PASSWORD, "csrf_token": token}
    )
    if response.status_code != 303:
        raise SystemExit(f"sign-in failed: HTTP {response.status_code}")
    return CSRF.search((await http.get("/account")).text).group(1)


async def timed(label: str, request) -> tuple[str, int, float]:
    began = time.perf_counter()
    response = await request
    return label, response.status_code, time.perf_counter() - began


async def heavy_load(base: str, side: int, uploads: int) -> list[tuple[str, int, float]]:
    big = png_bytes(side)
    refused = png_bytes(6300) if side != 6300 else big
    print(
        f"PNG {side} x {side}: {len(big) / 1e6:.1f} MB; 6,300 x 6,300: {len(refused) / 1e6:.1f} MB"
    )
    async with httpx.AsyncClient(base_url=base, timeout=300) as http:
        token = await sign_in(http)

        def upload(data: bytes, name: str):
            return http.post(
                "/account/avatar",
                data={"csrf_token": token},
                files={"image": (name, data, "image/png")},
            )

        assign = http.post(f"/contests/{SLUG}/manage/assign", data={"csrf_token": token})
        work = [timed("assignment 1,000 x 100, k=5", assign)]
        work += [
            timed(f"upload {i + 1} ({side} px PNG)", upload(big, "big.png")) for i in range(uploads)
        ]
        work.append(timed("upload 6,300 px PNG (refused)", upload(refused, "huge.png")))
        return list(await asyncio.gather(*work))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=4000, help="PNG width and height")
    parser.add_argument("--uploads", type=int, default=8)
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--judges", type=int, default=100)
    parser.add_argument("--idle", type=float, default=3.0, help="baseline seconds")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="healthz-bench-"))
    database_url = f"sqlite://{workdir / 'bench.sqlite3'}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-secret-" + "x" * 40,
        "MEDIA_DIR": str(workdir / "media"),
        "BASE_URL": "",
        "MAX_UPLOAD_BYTES": str(20 * 1024 * 1024),
        "ADMINS_NEED_SECOND_FACTOR": "0",  # the organiser (an admin) signs in with a password
    }
    env.pop("REDIS_URL", None)
    subprocess.run([sys.executable, "-m", "ecosystem", "migrate"], env=env, cwd=ROOT, check=True)
    os.environ["DATABASE_URL"] = database_url
    asyncio.run(build_contest(database_url, args.entries, args.judges))

    command = [sys.executable, "-m", "ecosystem", "serve", "--host", HOST]
    server = start("server", [*command, "--port", str(free_port())], env, workdir)
    base, port = server.base, server.port
    failed = False
    try:
        wait_ready(server, "/healthz", timeout=60)
        idle = probe_for(HOST, port, args.idle)
        prober = Prober(HOST, port)
        began = time.perf_counter()
        results = asyncio.run(heavy_load(base, args.side, args.uploads))
        wall = time.perf_counter() - began
        prober.finish()

        print()
        for label, status, seconds in results:
            print(f"{label:34} HTTP {status}  {seconds:6.2f} s")
        print(f"{'all of it':34}           {wall:6.2f} s")
        print()
        for name, run in (("idle", idle), ("under load", prober)):
            p50, p99, worst = figures(run.latencies)
            print(
                f"/healthz {name:11} n={len(run.latencies):4}  p50 {p50:7.1f} ms  "
                f"p99 {p99:7.1f} ms  max {worst:7.1f} ms  errors {run.errors}"
            )
        p99 = figures(prober.latencies)[1]
        print(f"target: p99 under load < 100 ms: {'ok' if p99 < 100 else 'MISSED'}")
        expected = {"assignment": 303, "upload": 303, "refused": 422}
        for label, status, _seconds in results:
            kind = "refused" if "refused" in label else label.split()[0]
            if status != expected[kind]:
                failed = True
                print(f"FAILED: {label}: HTTP {status} (expected {expected[kind]})")
        failed = failed or prober.errors > 0 or idle.errors > 0
    finally:
        stop(server)
    if failed:
        print(f"server log kept in {server.log}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
