"""CSRF protection of every unsafe browser request, and the session cookie's attributes."""

from __future__ import annotations

import dataclasses
import re
from http.cookies import SimpleCookie

import httpx
import pytest

from ecosystem.app import create_app
from ecosystem.models import ApiToken, Organisation, OutboxMessage, User
from tests.conftest import PASSWORD, make_user

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')

# Unsafe HTML routes, with a form that would succeed given the right token, and a check
# that nothing happened.
ROUTES = {
    "/login": {"email": "quynh@eiu.edu.vn", "password": PASSWORD},
    "/register": {"email": "new@eiu.edu.vn", "full_name": "New", "password": PASSWORD},
    "/logout": {},
    "/account": {"full_name": "Changed Name", "locale": "en"},
    "/language": {"locale": "en", "next": "/"},
    "/organisations/new": {"name": "Sneaky Org", "spheres": "startup", "country": "VN"},
    "/account/tokens": {"name": "sneaky"},
    "/password/forgot": {"email": "quynh@eiu.edu.vn"},
    "/verify/resend": {},
}


async def snapshot() -> tuple:
    user = await User.get(email="quynh@eiu.edu.vn")
    return (
        user.full_name,
        user.locale,
        user.session_version,
        await User.all().count(),
        await Organisation.all().count(),
        await ApiToken.all().count(),
        await OutboxMessage.all().count(),
    )


async def signed_in(browser) -> bool:
    return (await browser.get("/account")).status_code == 200


@pytest.mark.parametrize("path", list(ROUTES))
async def test_unsafe_requests_without_a_valid_token_are_refused(path, browser, new_browser):
    await make_user("quynh@eiu.edu.vn", verified=False)
    await browser.login("quynh@eiu.edu.vn")
    own_token = CSRF_INPUT.search((await browser.get("/account")).text).group(1)
    other = new_browser()
    await other.get("/login")
    foreign_token = other.csrf_token
    assert foreign_token and foreign_token != own_token
    before = await snapshot()

    attempts = [
        {},  # no token at all
        {"csrf_token": ""},
        {"csrf_token": "forged-" + own_token[7:]},
        {"csrf_token": foreign_token},  # valid, but another session's
    ]
    for extra in attempts:
        response = await browser.http.post(path, data={**ROUTES[path], **extra})
        assert response.status_code == 403, (path, extra)
        assert "set-cookie" not in response.headers or "eco_session" not in response.headers.get(
            "set-cookie", ""
        )
    # A token in a header that does not match is refused the same way (htmx requests).
    for header in ("", "nope", foreign_token):
        response = await browser.http.post(
            path, data=ROUTES[path], headers={"X-CSRF-Token": header}
        )
        assert response.status_code == 403
    # Other unsafe methods are refused before routing (they would be 405 otherwise).
    for method in ("PUT", "PATCH", "DELETE"):
        assert (await browser.http.request(method, path)).status_code == 403

    assert await snapshot() == before
    assert await signed_in(browser)

    # With its own token the same request goes through (the refusals were about the token).
    response = await browser.http.post(path, data={**ROUTES[path], "csrf_token": own_token})
    expected = {"/account/tokens": 201, "/password/forgot": 200}.get(path, 303)
    assert response.status_code == expected, (path, response.status_code)
    assert await snapshot() != before or path in ("/login", "/logout")


async def test_multipart_and_json_bodies_need_the_token_too(browser):
    await make_user("quynh@eiu.edu.vn")
    await browser.login("quynh@eiu.edu.vn")
    token = CSRF_INPUT.search((await browser.get("/account")).text).group(1)
    before = await snapshot()
    as_json = await browser.http.post("/account", json={"full_name": "JSON", "csrf_token": token})
    assert as_json.status_code == 403  # a form field is only read from a form body
    multipart = await browser.http.post(
        "/account", data={"full_name": "Multipart"}, files={"x": ("x.txt", b"hi", "text/plain")}
    )
    assert multipart.status_code == 403
    broken = await browser.http.post(
        "/account",
        content=b"--zzz\r\nbroken",
        headers={"Content-Type": "multipart/form-data; boundary=zzz"},
    )
    assert broken.status_code == 403
    assert await snapshot() == before
    ok = await browser.http.post(
        "/account",
        data={"full_name": "Multipart", "locale": "vi", "csrf_token": token},
        files={"x": ("x.txt", b"hi", "text/plain")},
    )
    assert ok.status_code == 303
    assert (await User.get(email="quynh@eiu.edu.vn")).full_name == "Multipart"


async def test_header_token_works_for_htmx(browser):
    await make_user("quynh@eiu.edu.vn")
    await browser.login("quynh@eiu.edu.vn")
    page = await browser.get("/account")
    token = CSRF_INPUT.search(page.text).group(1)
    # The page hands htmx the same token for its header.
    assert f'hx-headers=\'{{"X-CSRF-Token": "{token}"}}\'' in page.text

    response = await browser.http.post(
        "/account",
        data={"full_name": "Quỳnh via htmx", "locale": "vi"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/account"
    assert (await User.get(email="quynh@eiu.edu.vn")).full_name == "Quỳnh via htmx"

    language = await browser.http.post(
        "/language", data={"locale": "en", "next": "/account"}, headers={"X-CSRF-Token": token}
    )
    assert language.status_code == 303
    assert (await User.get(email="quynh@eiu.edu.vn")).locale == "en"


async def test_token_changes_at_sign_in_and_sign_out(browser):
    await make_user("quynh@eiu.edu.vn")
    before_login = CSRF_INPUT.search((await browser.get("/login")).text).group(1)
    await browser.login("quynh@eiu.edu.vn")
    after_login = CSRF_INPUT.search((await browser.get("/account")).text).group(1)
    assert after_login != before_login
    stale = await browser.http.post(
        "/account", data={"full_name": "Stale", "locale": "vi", "csrf_token": before_login}
    )
    assert stale.status_code == 403

    out = await browser.http.post("/logout", data={"csrf_token": after_login})
    assert out.status_code == 303
    after_logout = CSRF_INPUT.search((await browser.get("/login")).text).group(1)
    assert after_logout != after_login
    again = await browser.http.post(
        "/login",
        data={"email": "quynh@eiu.edu.vn", "password": PASSWORD, "csrf_token": after_login},
    )
    assert again.status_code == 403


async def test_api_routes_are_not_subject_to_csrf(browser, client):
    await make_user("quynh@eiu.edu.vn")
    await browser.login("quynh@eiu.edu.vn")  # the client now carries a session cookie
    assert client.cookies.get("eco_session")
    response = await client.post(
        "/api/v1/auth/token", json={"email": "quynh@eiu.edu.vn", "password": PASSWORD}
    )
    assert response.status_code == 200
    response = await client.post("/api/v1/auth/token", content=b"{oops")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    # ...and a session cookie never authenticates the API: that is what makes this safe.
    assert (await client.get("/api/v1/me")).status_code == 401


# --- the session cookie -------------------------------------------------------------------------


def session_cookie(response: httpx.Response) -> dict[str, str | bool]:
    for header in response.headers.get_list("set-cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        if "eco_session" in cookie:
            morsel = cookie["eco_session"]
            attributes = {key: morsel[key] for key in morsel if morsel[key]}
            flags = {part.strip().lower() for part in header.split(";")}
            attributes["httponly"] = "httponly" in flags
            attributes["secure"] = "secure" in flags
            return attributes
    raise AssertionError("no session cookie set")


async def _cookies_of(settings, base_url: str) -> tuple[dict, dict, httpx.Response]:
    """Session cookie on a first visit and after signing in, for an app at `base_url`."""
    application = create_app(dataclasses.replace(settings, base_url=base_url))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
            first = await http.get("/login")
            token = CSRF_INPUT.search(first.text).group(1)
            email = f"cookie-{base_url.split(':')[0]}@eiu.edu.vn"
            if not await User.filter(email=email).exists():
                await make_user(email)
            signed = await http.post(
                "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
            )
            assert signed.status_code == 303, signed.text[:300]
            language = await http.post(
                "/language",
                data={"locale": "en", "next": "/"},
                headers={"X-CSRF-Token": CSRF_INPUT.search((await http.get("/")).text).group(1)},
            )
            return session_cookie(first), session_cookie(signed), language


async def test_session_cookie_attributes_over_http_and_https(settings):
    for base_url, secure in (("http://testserver", False), ("https://innovation.example", True)):
        first, signed, language = await _cookies_of(settings, base_url)
        for cookie in (first, signed):
            assert cookie["httponly"] is True, base_url
            assert str(cookie["samesite"]).lower() == "lax", base_url
            assert cookie["secure"] is secure, base_url
            assert cookie["path"] == "/"
        lang = next(h for h in language.headers.get_list("set-cookie") if h.startswith("lang="))
        assert ("secure" in lang.lower()) is secure
        assert "samesite=lax" in lang.lower()
        hsts = language.headers.get("Strict-Transport-Security")
        assert (hsts is not None) is secure
