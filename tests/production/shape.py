"""The production shape on this machine: N web processes and one arq worker over PostgreSQL
and a private Redis, started with the README's own commands.

Used by `tests/production/test_production_shape.py` and `bench/mixed_load.py`:

    with ProductionShape(admin_url, workdir) as shape:   # fresh database + private Redis
        shape.prepare()            # migrate, seed --demo, load-test fixtures
        shape.start_web(2)         # python -m ecosystem serve --port P  (×2)
        shape.start_worker()       # python -m ecosystem worker
        ...
    # processes stopped, Redis stopped, database dropped

Everything listens on 127.0.0.1 only. The Redis server is this object's own (a free port,
no persistence), so stopping and restarting it disturbs nothing else on the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
DEMO_PASSWORD = "demo-pass-2026"
PROBE_PACKAGE = "tests.production.probe"  # a test-only package: one slow, idempotent job


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def wait_until(check, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(interval)
    raise TimeoutError(f"{what} within {timeout:.0f} s")


def stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


class PrivateRedis:
    """A redis-server of our own on a free port, without persistence (Redis is disposable)."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    def url(self, db: int = 0) -> str:
        return f"redis://{HOST}:{self.port}/{db}"

    def ping(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = (self.workdir / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                HOST,
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],  # fmt: skip
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_until(self.ping, 10, f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None
        wait_until(lambda: not self.ping(), 5, "redis-server did not stop")

    def restart(self) -> None:
        self.stop()
        self.start()


# --- PostgreSQL: a database of our own --------------------------------------------------


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


async def pg_execute(url: str, statement: str, *args: Any) -> list[Any]:
    import asyncpg

    parts = urlsplit(url)
    connection = await asyncpg.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password,
        database=parts.path.lstrip("/") or "postgres",
    )
    try:
        if not args and ";" in statement.strip().rstrip(";"):
            await connection.execute(statement)  # a script of several statements
            return []
        return await connection.fetch(statement, *args)
    finally:
        await connection.close()


def pg(url: str, statement: str, *args: Any) -> list[Any]:
    """Run a statement (or a script) from synchronous code: the shape is driven that way."""
    return asyncio.run(pg_execute(url, statement, *args))


# Active bookings of one machine that overlap: the invariant is that there are none.
DOUBLE_BOOKINGS_SQL = """
SELECT count(*) FROM labs_booking a JOIN labs_booking b
  ON a.equipment_id = b.equipment_id AND a.id < b.id
 AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at
WHERE a.status = ANY($1::text[]) AND b.status = ANY($1::text[])
"""


def active_statuses() -> list[str]:
    from labs.models import ACTIVE_BOOKING_STATUSES

    return [str(status) for status in ACTIVE_BOOKING_STATUSES]


# --- the shape ----------------------------------------------------------------------------


@dataclass
class ProductionShape:
    admin_url: str  # a PostgreSQL server (TEST_DATABASE_URL): a fresh database is made there
    workdir: Path
    packages: tuple[str, ...] = ("labs",)
    job_timeout: int = 300  # the worker's JOB_TIMEOUT (a killed job is retried after it + 10 s)
    database_url: str = ""
    redis: PrivateRedis | None = None
    web: list[subprocess.Popen] = field(default_factory=list)
    bases: list[str] = field(default_factory=list)
    worker: subprocess.Popen | None = None
    fixtures: dict[str, Any] = field(default_factory=dict)
    secret_key: str = field(default_factory=lambda: uuid.uuid4().hex * 2)
    _database: str = ""
    _logs: int = 0

    # -- lifecycle

    def __enter__(self) -> ProductionShape:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._database = f"eco_prod_{uuid.uuid4().hex[:10]}"
        pg(self.admin_url, f'CREATE DATABASE "{self._database}"')
        self.database_url = with_database(self.admin_url, self._database)
        self.redis = PrivateRedis(self.workdir / "redis")
        self.redis.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        for process in [*self.web, *([self.worker] if self.worker else [])]:
            stop_process(process)
        self.web, self.bases, self.worker = [], [], None
        if self.redis is not None:
            with contextlib.suppress(Exception):
                self.redis.stop()
        if self._database:
            pg(self.admin_url, f'DROP DATABASE IF EXISTS "{self._database}" WITH (FORCE)')
            self._database = ""

    # -- processes

    def env(self, **extra: str) -> dict[str, str]:
        assert self.redis is not None
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url(0),
            "SECRET_KEY": self.secret_key,
            "BASE_URL": "http://127.0.0.1:8000",
            "PACKAGES": ",".join(self.packages),
            "MEDIA_DIR": str(self.workdir / "media"),
            "SMTP_URL": "",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }

    def log_path(self, name: str) -> Path:
        self._logs += 1
        return self.workdir / f"{self._logs:02d}-{name}.log"

    def cli(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
        """`python -m ecosystem ARGS…` in the shape's environment; its output."""
        command = [sys.executable, "-m", "ecosystem", *args]
        done = subprocess.run(
            command,
            cwd=PROJECT_ROOT,
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            output = done.stdout[-2000:] + done.stderr[-3000:]
            raise RuntimeError(f"{' '.join(args)} failed:\n{output}")
        return done.stdout

    def prepare(self, users: int = 50, machines: int = 12) -> dict[str, Any]:
        """Migrate, load the demo data, then the load-test people and machines."""
        self.cli("migrate")
        self.cli("seed", "--demo")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.production.fixtures",
                "--users",
                str(users),
                "--machines",
                str(machines),
            ],  # fmt: skip
            cwd=PROJECT_ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"fixtures failed:\n{done.stderr[-3000:]}")
        self.fixtures = json.loads(done.stdout.strip().splitlines()[-1])
        return self.fixtures

    def _spawn(self, args: list[str], name: str, env: dict[str, str]) -> subprocess.Popen:
        log_path = self.log_path(name)
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "ecosystem", *args],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        process.log_path = log_path  # type: ignore[attr-defined]
        return process

    def start_web(self, count: int = 2) -> list[str]:
        """`count` independent `python -m ecosystem serve` processes; their base URLs."""
        started = []
        for _ in range(count):
            port = free_port()
            process = self._spawn(["serve", "--port", str(port)], f"web-{port}", self.env())
            self.web.append(process)
            base = f"http://{HOST}:{port}"
            self.bases.append(base)
            started.append((process, base))
        for process, base in started:
            self._wait_healthy(process, base)
        return self.bases

    def _wait_healthy(self, process: subprocess.Popen, base: str) -> None:
        def healthy() -> bool:
            if process.poll() is not None:
                raise RuntimeError(tail(process))
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200

        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            try:
                if healthy():
                    return
            except RuntimeError:
                raise
            except Exception:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{base} did not become healthy:\n{tail(process)}")

    def start_worker(self) -> subprocess.Popen:
        assert self.worker is None or self.worker.poll() is not None, "a worker is running"
        packages = ",".join((*self.packages, PROBE_PACKAGE))
        env = self.env(PACKAGES=packages, JOB_TIMEOUT=str(self.job_timeout))
        self.worker = self._spawn(["worker"], "worker", env)
        wait_until(
            lambda: (
                "Starting worker" in self.worker.log_path.read_text()  # type: ignore[union-attr]
                or self.worker.poll() is not None
            ),  # type: ignore[union-attr]
            30,
            "the worker did not start",
        )
        assert self.worker.poll() is None, tail(self.worker)
        return self.worker

    def kill_worker(self) -> None:
        """kill -9: no shutdown, no clean-up, as when a machine is lost."""
        assert self.worker is not None
        self.worker.send_signal(signal.SIGKILL)
        self.worker.wait(timeout=10)

    def double_bookings(self) -> int:
        rows = pg(self.database_url, DOUBLE_BOOKINGS_SQL, active_statuses())
        return int(rows[0][0])


def tail(process: subprocess.Popen, chars: int = 4000) -> str:
    path = getattr(process, "log_path", None)
    return path.read_text(errors="replace")[-chars:] if path and path.exists() else ""
