"""Fuzz the JSON API from its own OpenAPI document with schemathesis: no 5xx, and every
response (status code, content type, body) conforms to `/api/openapi.json`.

A real server (`python -m ecosystem serve`) over a migrated database with the demo data, on
SQLite and, with TEST_DATABASE_URL, on PostgreSQL too (which refuses what SQLite stores: NUL
in text, integers past a column's width), called as the demo student with a bearer token, so
the authenticated operations are exercised past the 401. Bounded: FUZZ_EXAMPLES generated
cases per operation (positive and negative data), well under two minutes per backend.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import (
    BACKENDS,
    TEST_DATABASE_URL,
    TEST_PACKAGES,
    _admin_execute,
    _with_database,
)
from tests.production.shape import DEMO_PASSWORD, free_port, stop_process, wait_until

ROOT = Path(__file__).resolve().parents[2]
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
PACKAGES = ",".join(TEST_PACKAGES)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Not `negative_data_rejection`: unknown query parameters are ignored on purpose (links
# with tracking or cache-busting parameters keep working), which that check calls a failure.


@pytest.fixture(scope="module", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[str]:
    """A new, empty database of that backend for the served app (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path_factory.mktemp('fuzzdb') / 'fuzz.sqlite3'}"
        return
    name = f"eco_fuzz_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin_execute(TEST_DATABASE_URL, f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(TEST_DATABASE_URL, name)
    finally:
        drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        asyncio.run(_admin_execute(TEST_DATABASE_URL, drop))


@pytest.fixture(scope="module")
def live_api(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """(base URL, bearer token) of a served app with the demo data."""
    workdir = tmp_path_factory.mktemp("fuzz")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
        "SECRET_KEY": "fuzz-" + "k" * 40,
        "PACKAGES": PACKAGES,
        "MEDIA_DIR": str(workdir / "media"),
        "SMTP_URL": "",
        "PYTHONUNBUFFERED": "1",
    }
    for command in (["migrate"], ["seed", "--demo"]):
        subprocess.run(
            [sys.executable, "-m", "ecosystem", *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=600,  # a loaded CI machine: migrating and seeding took over 2 minutes
        )
    port = free_port()
    log = workdir / "serve.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "ecosystem", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{base}/healthz").status_code == 200, 30, "no server")
        response = httpx.post(
            f"{base}/api/v1/auth/token",
            json={"email": "student@example.org", "password": DEMO_PASSWORD},
        )
        assert response.status_code == 200, response.text
        yield base, response.json()["token"]
    finally:
        stop_process(server)
        errors = [line for line in log.read_text().splitlines() if "Traceback" in line]
        assert not errors, log.read_text()[-5000:]


def served_document() -> dict:
    """The document `/api/openapi.json` serves, built the way the app builds it.

    Loaded at import so that each operation is its own test; the live server's document is
    compared with it (`test_the_served_document_is_the_one_fuzzed`).
    """
    from ecosystem.packages import load_packages
    from ecosystem.restapi import openapi_document

    packages = load_packages(tuple(p for p in PACKAGES.split(",") if p))
    routes = [route for package in packages for route in package.api_routes]
    return openapi_document(routes, "Innovation Region API", "1.0.0")


DOCUMENT = served_document()
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_served_document_is_the_one_fuzzed(live_api: tuple[str, str]) -> None:
    base, _token = live_api
    assert httpx.get(f"{base}/api/openapi.json").json() == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the checkout
    derandomize=True,  # the same cases on every run: a failure here is reproducible
    suppress_health_check=list(HealthCheck),
)
def test_the_api_conforms_to_its_openapi_document(case, live_api: tuple[str, str]) -> None:
    base, token = live_api
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
    case.call_and_validate(base_url=base, headers=headers, checks=CHECKS, timeout=20)
