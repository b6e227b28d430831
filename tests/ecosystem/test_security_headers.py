"""Security headers on every kind of response, a CSP that forbids inline scripts, and no
inline script anywhere in the templates or the pages (which the CSP would block anyway)."""

from __future__ import annotations

import dataclasses
import re

import httpx
import pytest

from ecosystem.app import create_app
from ecosystem.settings import PROJECT_ROOT
from tests.conftest import empty_database, make_user

TEMPLATES = PROJECT_ROOT / "templates"
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.IGNORECASE | re.DOTALL)
EVENT_HANDLER = re.compile(r"<[^>]+\s(on[a-z]+)\s*=", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"""(href|src|action)\s*=\s*["']\s*javascript:""", re.IGNORECASE)


def csp_directives(value: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def assert_secure_headers(response: httpx.Response, https: bool = False) -> None:
    where = f"{response.request.method} {response.request.url.path} ({response.status_code})"
    csp = csp_directives(response.headers["content-security-policy"])
    scripts = csp.get("script-src", csp.get("default-src"))
    assert scripts == ["'self'"], where
    assert "'unsafe-inline'" not in " ".join(sum(csp.values(), [])), where
    assert "'unsafe-eval'" not in " ".join(sum(csp.values(), [])), where
    assert csp["default-src"] == ["'self'"], where
    assert csp["frame-ancestors"] == ["'none'"], where
    assert csp["object-src"] == ["'none'"], where
    assert csp["base-uri"] == ["'self'"], where
    assert csp["form-action"] == ["'self'"], where
    assert response.headers["x-content-type-options"] == "nosniff", where
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin", where
    assert response.headers["x-frame-options"] == "DENY", where
    permissions = response.headers["permissions-policy"]
    for feature in ("camera", "microphone", "geolocation", "payment"):
        assert f"{feature}=()" in permissions, where
    hsts = response.headers.get("strict-transport-security")
    if https:
        assert hsts is not None and "max-age=31536000" in hsts, where
        assert "includesubdomains" in hsts.lower(), where
    else:
        assert hsts is None, where  # never over plain HTTP (it would pin a dev machine)


async def test_every_kind_of_response_carries_the_headers(client) -> None:
    await make_user("lan@eiu.edu.vn")
    responses = [
        await client.get("/"),
        await client.get("/login"),
        await client.get("/labs"),
        await client.get("/organisations"),
        await client.get("/healthz"),
        await client.get("/static/app.css"),
        await client.get("/api/openapi.json"),
        await client.get("/api/v1/me"),  # 401 JSON
        await client.get("/no-such-page"),  # 404 page
        await client.get("/api/v1/no-such-thing"),  # 404 JSON
        await client.post("/login", data={"email": "x"}),  # 403: no CSRF token
        await client.get("/account"),  # redirect to sign in
    ]
    assert {r.status_code for r in responses} >= {200, 303, 401, 403, 404}
    for response in responses:
        assert_secure_headers(response)


async def test_https_adds_hsts(settings) -> None:
    application = create_app(dataclasses.replace(settings, base_url="https://innovation.example"))
    async with application.router.lifespan_context(application):
        await empty_database(settings.database_url)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
            for path in ("/", "/api/openapi.json", "/static/app.js", "/no-such-page"):
                assert_secure_headers(await http.get(path), https=True)


@pytest.mark.parametrize(
    "path", sorted(str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html"))
)
def test_templates_have_no_inline_script_nor_event_handler(path: str) -> None:
    source = (TEMPLATES / path).read_text()
    for attributes, body in SCRIPT_TAG.findall(source):
        assert "src=" in attributes and not body.strip(), f"inline <script> in {path}"
    assert not EVENT_HANDLER.search(source), f"inline event handler in {path}"
    assert not JAVASCRIPT_URL.search(source), f"javascript: URL in {path}"


async def test_rendered_pages_have_no_inline_script(client) -> None:
    for path in ("/", "/login", "/register", "/labs", "/organisations", "/trainings"):
        response = await client.get(path)
        assert response.status_code == 200, path
        for attributes, body in SCRIPT_TAG.findall(response.text):
            assert "src=" in attributes and not body.strip(), path
        assert not EVENT_HANDLER.search(response.text), path
