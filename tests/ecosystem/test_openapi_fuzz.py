"""Fuzz the JSON API from its own OpenAPI document with schemathesis: no 5xx, and every
response (status code, content type, body) conforms to `/api/openapi.json`.

A real server (`python -m ecosystem serve`) over a migrated SQLite database with the demo
data, called as the demo student with a bearer token, so the authenticated operations are
exercised past the 401. Bounded: FUZZ_EXAMPLES generated cases per operation (positive and
negative data), well under two minutes for the whole API.
"""

from __future__ import annotations

import os
import subprocess
import sys
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

from tests.conftest import TEST_PACKAGES
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


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, bearer token) of a served app with the demo data."""
    workdir = tmp_path_factory.mktemp("fuzz")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite://{workdir / 'fuzz.sqlite3'}",
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
            timeout=120,
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
