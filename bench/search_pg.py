"""The network search on PostgreSQL at issue 21's size (labs_bench measures it on SQLite).

A throwaway database ``labs_scale_<random>`` on ``--pg`` (dropped at the end) is migrated and
filled like ``labs_bench.py``'s SQLite one: ``--machines`` machines in labs of about 29, the
big lab's ``--lab-machines`` carrying ``--bookings`` non-overlapping 2-hour bookings (one
INSERT … SELECT over generate_series), ANALYZE; the search's summary of free time is built as
its job does; then ``serve`` (one worker) answers ``--sequential`` one-at-a-time searches for
tomorrow, 60 minutes, and the p50 is printed (target < 100 ms). Run:
``python bench/search_pg.py --machines 10000 --lab-machines 332 --bookings 500000``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import labs_bench as lb  # noqa: E402
from app_vs_bare import HOST, free_port, start, stop, wait_ready  # noqa: E402

BOOKINGS_SQL = """
INSERT INTO labs_booking (equipment_id, user_id, starts_at, ends_at, status, check_in_code,
    created_at, updated_at, purpose, price_amount, price_currency, price_category,
    decision_reason, usage_note, sequence, guest_name, guest_phone)
SELECT ({ids})[n % {machines} + 1], {user}, s, s + interval '2 hours',
    CASE WHEN s > now() THEN 'confirmed' ELSE 'completed' END, 'b' || n, now(), now(),
    '', 0, 'VND', '', '', '', 0, '', ''
FROM (SELECT n, date_trunc('hour', now()) - interval '10.5 hours' * ({per_machine} / 2)
             + interval '10.5 hours' * (n / {machines}) AS s
      FROM generate_series(0, {count} - 1) n) g
"""


async def fill(url: str, args: argparse.Namespace) -> None:
    from tortoise import Tortoise, connections

    await lb._orm(url)
    try:
        [(user_id, _token)] = await lb._users(1)
        labs = await lb._labs(lb.network_labs(args.lab_machines, args.machines), (480, 1200))
        main = await lb._machines(labs[0], args.lab_machines)
        if len(labs) > 1:
            per_lab, rest = divmod(args.machines - args.lab_machines, len(labs) - 1)
            offset = args.lab_machines
            for n, lab in enumerate(labs[1:]):
                size = per_lab + (1 if n < rest else 0)
                await lb._machines(lab, size, offset)
                offset += size
        sql = BOOKINGS_SQL.format(
            ids="ARRAY[" + ",".join(map(str, main)) + "]",
            machines=len(main),
            user=user_id,
            per_machine=args.bookings // len(main) + 1,
            count=args.bookings,
        )
        connection = connections.get("default")
        await connection.execute_script(sql)
        await connection.execute_script("ANALYZE")
    finally:
        await Tortoise.close_connections()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--machines", type=int, default=10_000)
    parser.add_argument("--lab-machines", type=int, default=332)
    parser.add_argument("--bookings", type=int, default=500_000)
    parser.add_argument("--sequential", type=int, default=30)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    os.environ["PACKAGES"] = "labs"
    name = f"labs_scale_{secrets.token_hex(3)}"
    url = f"{args.pg}/{name}"
    workdir = Path(tempfile.mkdtemp(prefix="bench-search-pg-"))
    lb.psql(args.pg, f"CREATE DATABASE {name}")
    server = None
    try:
        port = free_port()
        env = lb.base_env(url, workdir, port)
        lb.migrate(env)
        began = time.monotonic()
        asyncio.run(fill(url, args))
        print(f"filled in {time.monotonic() - began:.1f} s", flush=True)
        written, seconds = asyncio.run(lb.build_summary(url))
        print(f"summary of free time: {written} rows in {seconds:.1f} s", flush=True)
        command = [sys.executable, "-m", "ecosystem", "serve", "--host", HOST, "--port", str(port)]
        server = start("pg-app", command, env, workdir)
        wait_ready(server, "/healthz", timeout=60)
        today = datetime.now(lb.TZ).date()
        path = f"/labs/search?day={(today + timedelta(1)).isoformat()}&duration=60"
        p50, errors = lb.p50_sequential(server.base + path, args.sequential)
        print(f"load {os.getloadavg()}")
        print(
            f"PG search {args.machines:,} machines p50 {p50:.1f} ms (target < 100 ms),"
            f" errors {errors}"
        )
        return 1 if errors else 0
    finally:
        if server is not None:
            stop(server)
        lb.psql(args.pg, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    sys.exit(main())
