"""Mixed load on the production shape: requests/s, p50/p99, errors and double bookings.

The production shape of `tests/production/shape.py`: a fresh PostgreSQL database (created on
the server of ``--pg``, dropped at the end) migrated and loaded with the demo data plus
``--users`` people with API tokens and ``--machines`` bookable machines, a private
``redis-server`` on a free port, ``--web`` × ``python -m ecosystem serve`` and one
``python -m ecosystem worker``. Then ``--concurrency`` clients run the weighted actions of
``tests/production/load.py`` (browse pages, search, book, cancel, and whatever packages add)
through all web processes for ``--seconds``.

Prints requests/s, p50/p99 overall and per action, the status histogram, errors (any 5xx,
transport error or unexpected status) and double bookings (overlapping active bookings of
one machine, read from the database). A measurement, not a test: exit status 1 only when
there were errors or double bookings. Everything is on 127.0.0.1.

    .venv/bin/python bench/mixed_load.py                 # ~1 minute
    .venv/bin/python bench/mixed_load.py --seconds 60 --concurrency 32 --web 2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ecosystem.settings import DEFAULT_PACKAGES  # noqa: E402
from tests.production.load import run_mixed_load  # noqa: E402
from tests.production.shape import PrivateRedis, ProductionShape  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="load duration (30)")
    parser.add_argument("--concurrency", type=int, default=16, help="virtual clients (16)")
    parser.add_argument("--web", type=int, default=2, help="web processes (2)")
    parser.add_argument("--users", type=int, default=50, help="people with tokens (50)")
    parser.add_argument("--machines", type=int, default=20, help="bookable machines (20)")
    parser.add_argument(
        "--packages",
        default=os.environ.get("PACKAGES", ",".join(DEFAULT_PACKAGES)),
        help="PACKAGES of the shape (default: $PACKAGES, else the platform's default)",
    )
    parser.add_argument(
        "--pg",
        default="postgres://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL server to create the throwaway database on",
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if not PrivateRedis.available():
        print("redis-server is not on PATH (apt-get install redis-server)", file=sys.stderr)
        return 1
    packages = tuple(p for p in args.packages.split(",") if p)
    with (
        tempfile.TemporaryDirectory(prefix="mixed-load-") as workdir,
        ProductionShape(args.pg, Path(workdir), packages=packages) as shape,
    ):
        started = time.monotonic()
        shape.prepare(users=args.users, machines=args.machines)
        shape.start_web(args.web)
        shape.start_worker()
        print(f"shape up in {time.monotonic() - started:.1f} s: {', '.join(shape.bases)} + worker")
        result = asyncio.run(
            run_mixed_load(shape.bases, shape.fixtures, args.seconds, args.concurrency)
        )
        double = shape.double_bookings()
        alive = all(p.poll() is None for p in [*shape.web, shape.worker] if p is not None)
    print()
    print(
        f"mixed load: {args.web} web processes + 1 worker, PostgreSQL, Redis; "
        f"{args.concurrency} clients for {args.seconds:.0f} s"
    )
    print(result.summary())
    print(f"double bookings: {double}")
    print(f"processes still running at the end: {'yes' if alive else 'NO'}")
    for error in result.errors[:20]:
        print("  error:", error)
    return 1 if result.errors or double or not alive else 0


if __name__ == "__main__":
    sys.exit(main())
