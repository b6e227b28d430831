"""A real OpenID provider for the tests: node-oidc-provider (npm `oidc-provider`, pinned in
package.json) run by `node tests/ecosystem/oidc_provider.mjs` on a free port.

`TestProvider.start(redirect_uris)` registers one confidential client (`CLIENT_ID`,
`CLIENT_SECRET`) for those redirect URIs; `add_account(login, **claims)` says who may sign in
and what the provider tells about them (read at every sign-in); `sign_in(authorize_url,
login)` plays the person at the provider over HTTP – its login form, then consent – and
returns the address the provider sends the browser back to (our callback).

Without `node` or the npm package the tests that need it are skipped, unless
REQUIRE_OIDC_PROVIDER=1 (CI), where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_suffix(".mjs")
CLIENT_ID = "innovation-region"
CLIENT_SECRET = "test-client-secret-0123456789abcdef"
INTERACTION_FORM = 'action="/interaction/'


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def available() -> str | None:
    """Why the provider cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (ROOT / "node_modules" / "oidc-provider" / "package.json").exists():
        return "npm package oidc-provider is not installed (npm ci)"
    return None


def skip_or_fail() -> None:
    if reason := available():
        if os.environ.get("REQUIRE_OIDC_PROVIDER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


class TestProvider:
    __test__ = False  # not a test class

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="oidc-provider-"))
        self.accounts_file = self.workdir / "accounts.json"
        self.accounts_file.write_text("{}")
        self.process: subprocess.Popen | None = None
        self.issuer = ""

    def start(self, redirect_uris: Sequence[str]) -> TestProvider:
        port = _free_port()
        self.issuer = f"http://127.0.0.1:{port}"
        config = {
            "port": port,
            "issuer": self.issuer,
            "accounts_file": str(self.accounts_file),
            "clients": [
                {
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "redirect_uris": list(redirect_uris),
                    "grant_types": ["authorization_code"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "client_secret_basic",
                }
            ],
        }
        config_file = self.workdir / "config.json"
        config_file.write_text(json.dumps(config))
        log = open(self.workdir / "provider.log", "wb")  # noqa: SIM115 (closed with the process)
        self.process = subprocess.Popen(
            ["node", str(SCRIPT), str(config_file)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self._wait_until_up()
        return self

    def _wait_until_up(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        url = f"{self.issuer}/.well-known/openid-configuration"
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"oidc-provider exited:\n{self.log()[-3000:]}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"oidc-provider did not answer within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        path = self.workdir / "provider.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def add_account(self, login: str, **claims: object) -> None:
        accounts = json.loads(self.accounts_file.read_text())
        accounts[login] = claims
        self.accounts_file.write_text(json.dumps(accounts))

    def provider_config(self, name: str = "test", **extra: object) -> dict:
        """The entry of OIDC_PROVIDERS (or Settings.oidc_providers) for this provider."""
        return {
            "name": name,
            "title": "Test University",
            "issuer": self.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            **extra,
        }

    async def sign_in(self, authorize_url: str, login: str) -> str:
        """Play the person at the provider; return the URL it sends the browser back to."""
        async with httpx.AsyncClient(timeout=10) as http:
            url = authorize_url
            for _ in range(20):
                if not url.startswith(self.issuer):
                    return url
                response = await http.get(url)
                if response.status_code in (302, 303):
                    url = urljoin(url, response.headers["location"])
                    continue
                assert response.status_code == 200, response.text[:500]
                assert INTERACTION_FORM in response.text, response.text[:500]
                action = response.text.split('action="', 1)[1].split('"', 1)[0]
                response = await http.post(urljoin(url, action), data={"login": login})
                assert response.status_code in (302, 303), response.text[:500]
                url = urljoin(url, response.headers["location"])
            raise AssertionError("the provider kept redirecting")


@pytest.fixture(scope="module")
def oidc_provider() -> Iterator[TestProvider]:
    """One provider per test module, registered for http://testserver's callbacks."""
    skip_or_fail()
    provider = TestProvider().start(
        [
            f"http://testserver/login/oidc/{name}/callback"
            for name in ("test", "tied", "other", "stored")
        ]
    )
    try:
        yield provider
    finally:
        provider.stop()
