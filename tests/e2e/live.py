"""What the browser journeys share: the real app as a subprocess, and their setup entry point.

`live_server("tests.e2e.test_x", ...)` makes a temporary directory, picks a free port, builds
the server's environment (a fresh SQLite database and media directory in that directory, no
Redis, no DEBUG, no SMTP unless the caller passes one), runs `python -m ecosystem migrate`,
then the module's own setup (`python -m tests.e2e.test_x setup [args…]`, which calls
`run_setup(__name__, _setup)` at its end), starts `python -m ecosystem serve` with its output
in a log, waits for /healthz and yields a `LiveServer`; afterwards it stops the server and
removes the directory. A setup coroutine opens the server's database with `setup_database()`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
HOST = "127.0.0.1"
PASSWORD = "correct-horse-battery"
VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}
# Left out of the server's environment (a journey passes SMTP_URL itself when it wants mail).
UNSET = ("REDIS_URL", "DEBUG", "SMTP_URL")


@dataclass
class LiveServer:
    base_url: str
    log: Path
    workdir: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_until_up(process: subprocess.Popen, url: str, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the app exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the app did not answer {url} within {timeout} s")


@contextmanager
def live_server(
    module: str,
    *,
    packages: str | None = None,
    extra_env: Mapping[str, str] | Callable[[LiveServer], Mapping[str, str]] | None = None,
    setup_args: Sequence[str] = (),
    port: int | None = None,
) -> Iterator[LiveServer]:
    """The app on a fresh database set up by `python -m <module> setup <setup_args…>`.

    `packages` defaults to the test run's (tests.conftest.TEST_PACKAGES); `extra_env` (or a
    function of the server-to-be, for values under its `workdir`) is added last and may
    override the rest; `port` is for callers that must know the address beforehand.
    """
    name = module.rsplit(".", 1)[-1].removeprefix("test_")
    workdir = Path(tempfile.mkdtemp(prefix=f"e2e-{name}-"))
    port = port or free_port()
    server = LiveServer(f"http://{HOST}:{port}", workdir / "server.log", workdir)
    if packages is None:
        from tests.conftest import TEST_PACKAGES

        packages = ",".join(TEST_PACKAGES)
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(
        PACKAGES=packages,
        DATABASE_URL=f"sqlite://{workdir / 'e2e.sqlite3'}",
        SECRET_KEY="e2e-secret-" + "s" * 40,
        BASE_URL=server.base_url,
        MEDIA_DIR=str(workdir / "media"),
        # Journeys sign admins in with a password; tests/e2e/test_second_factor.py turns the
        # admins' second-factor policy on.
        ADMINS_NEED_SECOND_FACTOR="0",
    )
    env.update(extra_env(server) if callable(extra_env) else extra_env or {})
    # Four minutes: migrating every package takes over a minute on a loaded CI machine.
    run = {"env": env, "cwd": ROOT, "capture_output": True, "text": True, "timeout": 240}
    try:
        migrated = subprocess.run([sys.executable, "-m", "ecosystem", "migrate"], **run)
        assert migrated.returncode == 0, migrated.stderr[-3000:]
        made = subprocess.run([sys.executable, "-m", module, "setup", *setup_args], **run)
        assert made.returncode == 0, made.stderr[-3000:]
        with server.log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "ecosystem", "serve", "--host", HOST, "--port", str(port)],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until_up(process, f"{server.base_url}/healthz", server.log)
            yield server
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --- in the setup subprocess ----------------------------------------------------------------


def run_setup(name: str, setup: Callable[..., Awaitable[None]]) -> None:
    """A journey module's `python -m tests.e2e.<module> setup [args…]`: runs `setup(*args)`.

    Called at the end of the module as `run_setup(__name__, _setup)`; does nothing on import.
    """
    if name == "__main__" and sys.argv[1:2] == ["setup"]:
        asyncio.run(setup(*sys.argv[2:]))


@asynccontextmanager
async def setup_database(*, register_jobs: bool = False) -> AsyncIterator[None]:
    """The server's settings and ORM, from its environment (keeps the ORM out of pytest's)."""
    from tortoise import Tortoise

    from ecosystem import jobs
    from ecosystem.db import init_orm, tortoise_config
    from ecosystem.packages import load_packages
    from ecosystem.settings import Settings, configure

    settings = Settings.from_env()
    configure(settings)
    packages = load_packages(settings.packages)
    if register_jobs:
        for package in packages:
            jobs.register(package.jobs)
    await init_orm(tortoise_config(settings.database_url, packages))
    try:
        yield
    finally:
        await Tortoise.close_connections()


# --- in the browser -------------------------------------------------------------------------


def no_horizontal_scroll(page) -> None:
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"


def sign_in(page, base_url: str, email: str, password: str = PASSWORD) -> None:
    """Sign in through the login form; the dashboard follows (no second factor)."""
    page.goto("/login")
    page.fill("#f-email", email)
    page.fill("#f-password", password)
    page.locator('form[action^="/login"] button[type="submit"]').click()
    page.wait_for_url(f"{base_url}/dashboard")
