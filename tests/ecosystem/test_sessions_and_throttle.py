"""Sessions end when they should; sign-in throttling cannot be turned against the owner.

Over HTTP, on SQLite and PostgreSQL: a cookie replayed after sign-out is anonymous; a password
reset and "sign out everywhere" end every session and every personal API token; read-only and
expiring tokens; wrong passwords from one address never lock the owner out elsewhere, the
account-wide ceiling e-mails the owner; X-Forwarded-For is believed only from a configured
proxy, and then read from the right.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import time_machine
from itsdangerous import TimestampSigner
from starlette.routing import Route
from tortoise import Tortoise, connections

from ecosystem import jobs
from ecosystem.app import create_app
from ecosystem.db import is_postgres, run_migrations, tortoise_config
from ecosystem.i18n import _, use_locale
from ecosystem.middleware import forwarded_client, parse_networks
from ecosystem.models import ApiToken, AuditEvent, OutboxMessage, User, UserSession
from ecosystem.packages import load_packages
from tests.conftest import (
    PASSWORD,
    TEST_DATABASE_URL,
    BrowserSession,
    _admin_execute,
    _with_database,
    api_token,
    empty_database,
    make_user,
)

TOKEN_URL = "/api/v1/auth/token"
NEW_TOKEN = re.compile(r'data-testid="new-token">([^<]+)<')
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
NEW_PASSWORD = "a-brand-new-passphrase-42"


def vi(message: str, **params: object) -> str:
    with use_locale("vi"):
        return _(message, **params)


def browser_at(app, ip: str) -> BrowserSession:
    transport = httpx.ASGITransport(app=app, client=(ip, 50000))
    return BrowserSession(httpx.AsyncClient(transport=transport, base_url="http://testserver"))


async def signed_in_as(browser: BrowserSession) -> str | None:
    """Whose account page the browser sees, or None when it is sent to sign in."""
    response = await browser.http.get("/account")
    if response.status_code == 303:
        assert response.headers["location"].startswith("/login")
        return None
    assert response.status_code == 200
    match = re.search(r"[\w.+-]+@[\w.-]+\.\w+", response.text.split('id="main"', 1)[1])
    return match.group(0) if match else None


async def make_token(browser: BrowserSession, name: str, **extra: str) -> str:
    await browser.get("/account/tokens")
    created = await browser.post("/account/tokens", {"name": name, **extra})
    assert created.status_code == 201, created.text[:500]
    return NEW_TOKEN.search(created.text).group(1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def cookie_payload(value: str, secret: str) -> dict:
    """What Starlette's signed session cookie carries (signed, not encrypted)."""
    data = TimestampSigner(secret).unsign(value.encode())
    return json.loads(base64.b64decode(data))


# --- 1. sign-out ends the session on the server ------------------------------------------------


async def test_a_cookie_replayed_after_sign_out_is_anonymous(app, client, browser, settings):
    user = await make_user("hoa@eiu.edu.vn")
    await browser.login("hoa@eiu.edu.vn")
    page = await browser.get("/account")
    csrf = CSRF_INPUT.search(page.text).group(1)
    stolen = browser.http.cookies.get("eco_session")
    # The cookie names a session; it carries no user id and nothing secret besides.
    payload = cookie_payload(stolen, settings.secret_key)
    assert set(payload) <= {"sid", "csrf", "locale", "org", "flashes"}
    assert "sid" in payload and user.id not in payload.values()
    assert await UserSession.filter(user_id=user.id, revoked_at__isnull=True).count() == 1

    async def replay(method: str, path: str, **kwargs) -> httpx.Response:
        """A fresh client that sends exactly the copied cookie, like an attacker would."""
        transport = httpx.ASGITransport(app=app, client=("192.0.2.99", 4444))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", cookies={"eco_session": stolen}
        ) as http:
            return await http.request(method, path, **kwargs)

    # Before sign-out the copy works (so the refusals below are about the sign-out).
    assert (await replay("GET", "/account")).status_code == 200

    out = await browser.post("/logout")
    assert out.status_code == 303
    assert await UserSession.filter(user_id=user.id, revoked_at__isnull=True).count() == 0
    assert await signed_in_as(browser) is None

    # A page: sent to sign in.
    page = await replay("GET", "/account")
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    # A form post (with the copied session's own CSRF token): nothing changes.
    posted = await replay(
        "POST", "/account", data={"full_name": "Hijacked", "locale": "en", "csrf_token": csrf}
    )
    assert posted.status_code == 303 and posted.headers["location"].startswith("/login")
    assert (await User.get(id=user.id)).full_name == user.full_name
    # No new API token, neither on the tokens page nor from the API without credentials.
    made = await replay("POST", "/account/tokens", data={"name": "stolen", "csrf_token": csrf})
    assert made.status_code == 303 and made.headers["location"].startswith("/login")
    api = await replay("POST", TOKEN_URL, json={})
    assert api.status_code == 422
    assert await ApiToken.all().count() == 0
    # Sign-out everywhere through the copy is refused too.
    ended = await replay("POST", "/account/sessions/revoke", data={"csrf_token": csrf})
    assert ended.status_code == 303 and ended.headers["location"].startswith("/login")


async def test_each_sign_in_is_its_own_session(new_browser):
    await make_user("khanh@eiu.edu.vn")
    phone, laptop = new_browser(), new_browser()
    await phone.login("khanh@eiu.edu.vn")
    await laptop.login("khanh@eiu.edu.vn")
    assert await UserSession.filter(revoked_at__isnull=True).count() == 2
    await phone.post("/logout")
    assert await signed_in_as(phone) is None
    assert await signed_in_as(laptop) == "khanh@eiu.edu.vn"


async def test_an_idle_session_ends_after_fourteen_days(browser):
    await make_user("loc@eiu.edu.vn")
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        await browser.login("loc@eiu.edu.vn")
    with time_machine.travel(start + timedelta(days=13), tick=False):
        assert await signed_in_as(browser) == "loc@eiu.edu.vn"  # and seen again now
    with time_machine.travel(start + timedelta(days=26), tick=False):
        assert await signed_in_as(browser) == "loc@eiu.edu.vn"
    with time_machine.travel(start + timedelta(days=41), tick=False):
        assert await signed_in_as(browser) is None


async def test_ended_sessions_are_purged_after_thirty_days(new_browser):
    from ecosystem.services.sessions import purge_ended_sessions

    await make_user("lam@eiu.edu.vn")
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        signed_out, idle, active = new_browser(), new_browser(), new_browser()
        for browser in (signed_out, idle, active):
            await browser.login("lam@eiu.edu.vn")
        await signed_out.post("/logout")
    for day in (10, 20):  # the active one keeps being used
        with time_machine.travel(start + timedelta(days=day), tick=False):
            assert await signed_in_as(active) == "lam@eiu.edu.vn"
    with time_machine.travel(start + timedelta(days=29), tick=False):
        assert await signed_in_as(active) == "lam@eiu.edu.vn"
        assert await signed_in_as(idle) is None  # not seen for 29 days: over, kept a while
        assert await purge_ended_sessions() == 0
    with time_machine.travel(start + timedelta(days=31), tick=False):
        assert await purge_ended_sessions() == 1  # the signed-out one
        assert await signed_in_as(active) == "lam@eiu.edu.vn"
    with time_machine.travel(start + timedelta(days=44, hours=1), tick=False):
        assert await purge_ended_sessions() == 1  # idle 14 days + 31 days ago
        assert await UserSession.all().count() == 1
        assert await signed_in_as(active) == "lam@eiu.edu.vn"


# --- 2. password reset and "sign out everywhere" ----------------------------------------------


async def test_a_password_reset_revokes_every_session_and_every_token(client, new_browser):
    user = await make_user("minh@becamex.com.vn")
    device = new_browser()
    await device.login("minh@becamex.com.vn")
    manual = await make_token(device, "IOC import")
    read_only = await make_token(device, "Dashboard", read_only="1")
    login = (await api_token(client, "minh@becamex.com.vn"))["Authorization"].split()[1]
    for token in (manual, read_only, login):
        assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200

    resetter = new_browser()
    await resetter.get("/password/forgot")
    await resetter.post("/password/forgot", {"email": "minh@becamex.com.vn"})
    await jobs.drain()
    mail = await OutboxMessage.filter(to="minh@becamex.com.vn").order_by("-id").first()
    link = re.search(r"http://testserver(/password/reset\?token=[\w.\-]+)", mail.text_body)
    form = await resetter.get(link.group(1))
    # The page says what will happen before the person confirms.
    assert vi(
        "Saving a new password signs your account out on every device and revokes all your "
        "API tokens; programs that use them will have to sign in again."
    ) in form.text.replace("&#39;", "'")
    token = link.group(1).split("token=")[1]
    done = await resetter.post("/password/reset", {"token": token, "password": NEW_PASSWORD})
    assert done.status_code == 303

    for token in (manual, read_only, login):
        refused = await client.get("/api/v1/me", headers=bearer(token))
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "not_authenticated"
    assert await ApiToken.filter(user_id=user.id, revoked_at__isnull=True).count() == 0
    assert await signed_in_as(device) is None
    resetter.csrf_token = ""
    assert await signed_in_as(resetter) == "minh@becamex.com.vn"  # a new session of its own
    event = await AuditEvent.get(action="password.reset")
    assert event.detail["tokens"] == 3 and event.detail["sessions"] >= 1


async def test_sign_out_everywhere_ends_the_other_device_and_every_token(client, new_browser):
    user = await make_user("ngoc@becamex.com.vn")
    here, elsewhere = new_browser(), new_browser()
    await here.login("ngoc@becamex.com.vn")
    await elsewhere.login("ngoc@becamex.com.vn")
    manual = await make_token(here, "Sync")
    login = (await api_token(client, "ngoc@becamex.com.vn"))["Authorization"].split()[1]

    page = await here.get("/account/sessions")
    assert page.status_code == 200
    warning = re.search(r'data-testid="sign-out-everywhere-warning">([^<]+)<', page.text).group(1)
    expected = vi(
        "This ends every session of your account, on every device, and revokes all your API "
        "tokens (%(n)d active), those you made on the tokens page and those programs received "
        "when signing in. Programs that use them will have to sign in again. This browser "
        "stays signed in with a new session.",
        n=2,
    )
    assert warning.replace("&#39;", "'").replace("&amp;", "&") == expected
    assert page.text.count('data-label="' + vi("Device") + '"') == 2  # both devices listed

    done = await here.post("/account/sessions/revoke")
    assert done.status_code == 303 and done.headers["location"] == "/account"
    here.csrf_token = ""
    assert await signed_in_as(here) == "ngoc@becamex.com.vn"
    assert await signed_in_as(elsewhere) is None
    for token in (manual, login):
        assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401
    assert await UserSession.filter(user_id=user.id, revoked_at__isnull=True).count() == 1
    event = await AuditEvent.get(action="sessions.revoked")
    assert (event.detail["sessions"], event.detail["tokens"]) == (2, 2)


async def test_sessions_page_needs_a_signed_in_user(browser):
    response = await browser.get("/account/sessions")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/account/sessions"


# --- 2b. read-only and expiring tokens ------------------------------------------------------


def write_operations(app) -> list[tuple[str, str]]:
    """(method, concrete path) of every authenticated /api/v1 route that is not a read."""
    found = []
    for route in app.routes:
        operation = getattr(route, "operation", None)
        if not isinstance(route, Route) or operation is None or not operation.auth:
            continue
        for method in route.methods or ():
            if method not in ("GET", "HEAD"):
                path = re.sub(
                    r"\{(\w+)(?::(\w+))?\}",
                    lambda m: "1" if m.group(2) == "int" else "x",
                    route.path,
                )
                found.append((method, path))
    return found


async def test_a_read_only_token_reads_but_never_writes(app, client, browser):
    await make_user("oanh@becamex.com.vn")
    await browser.login("oanh@becamex.com.vn")
    reader = await make_token(browser, "Dashboard", read_only="1")
    writer = await make_token(browser, "Import")
    listing = await browser.get("/account/tokens")
    assert vi("Read-only") in listing.text and vi("Read and write") in listing.text

    assert (await client.get("/api/v1/me", headers=bearer(reader))).status_code == 200
    assert (await client.head("/api/v1/me", headers=bearer(reader))).status_code != 403
    writes = write_operations(app)
    for method, path in writes:
        refused = await client.request(method, path, headers=bearer(reader), json={})
        assert refused.status_code == 403, (method, path, refused.text)
        assert refused.json()["error"]["message"] == vi("This API token is read-only.")
        allowed = await client.request(method, path, headers=bearer(writer), json={})
        assert allowed.status_code != 403 or allowed.json()["error"]["message"] != vi(
            "This API token is read-only."
        ), (method, path)
    if "labs" in app.state.settings.packages:
        assert writes, "the labs package mounts write routes"


async def test_an_expired_token_is_refused(client, browser):
    await make_user("phuong@becamex.com.vn")
    start = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        await browser.login("phuong@becamex.com.vn")
        token = await make_token(browser, "Short-lived", expires_on="2026-05-06")
        stored = await ApiToken.get(name="Short-lived")
        assert stored.expires_at == datetime(2026, 5, 7, tzinfo=UTC)  # the end of that day
        assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
    with time_machine.travel(datetime(2026, 5, 6, 23, 59, tzinfo=UTC), tick=False):
        assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
    with time_machine.travel(datetime(2026, 5, 7, 0, 0, tzinfo=UTC), tick=False):
        expired = await client.get("/api/v1/me", headers=bearer(token))
        assert expired.status_code == 401
        assert expired.json()["error"]["message"] == vi("The API token has expired.")
        listing = await browser.get("/account/tokens")
        assert vi("Expired") in listing.text


async def test_the_api_issues_read_only_and_expiring_sign_in_tokens(app, client):
    await make_user("phat@becamex.com.vn")
    credentials = {"email": "phat@becamex.com.vn", "password": PASSWORD}
    with time_machine.travel(datetime(2026, 5, 4, 10, 0, tzinfo=UTC), tick=False):
        issued = await client.post(
            TOKEN_URL, json={**credentials, "scope": "read", "expires_on": "2026-05-05"}
        )
        assert issued.status_code == 200
        assert set(issued.json()) == {"token", "token_type"}  # the response keeps its shape
        token = issued.json()["token"]
        stored = await ApiToken.get(source="login")
        assert stored.scope == "read"
        assert stored.expires_at == datetime(2026, 5, 6, tzinfo=UTC)
        assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
        for method, path in write_operations(app)[:3]:
            refused = await client.request(method, path, headers=bearer(token), json={})
            assert refused.status_code == 403
        past = await client.post(TOKEN_URL, json={**credentials, "expires_on": "2026-05-01"})
        assert past.status_code == 422 and "expires_on" in past.json()["error"]["fields"]
        far = await client.post(TOKEN_URL, json={**credentials, "expires_on": "9999-12-31"})
        assert far.status_code == 422 and "expires_on" in far.json()["error"]["fields"]
        scope = await client.post(TOKEN_URL, json={**credentials, "scope": "admin"})
        assert scope.status_code == 422 and "scope" in scope.json()["error"]["fields"]
        assert await ApiToken.all().count() == 1
    with time_machine.travel(datetime(2026, 5, 6, 0, 0, tzinfo=UTC), tick=False):
        assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401


@pytest.mark.parametrize(
    ("expires_on", "message"),
    [
        ("not-a-date", "Enter a date as YYYY-MM-DD."),
        ("2026-05-03", "Choose an expiry date from today to five years ahead."),
        ("2040-01-01", "Choose an expiry date from today to five years ahead."),
        ("9999-12-31", "Choose an expiry date from today to five years ahead."),
    ],
)
async def test_a_bad_expiry_date_is_refused_and_the_form_kept(browser, expires_on, message):
    await make_user("quan@becamex.com.vn")
    with time_machine.travel(datetime(2026, 5, 4, 10, 0, tzinfo=UTC), tick=False):
        await browser.login("quan@becamex.com.vn")
        await browser.get("/account/tokens")
        response = await browser.post(
            "/account/tokens", {"name": "Later", "expires_on": expires_on, "read_only": "1"}
        )
    assert response.status_code == 422
    assert f'<p class="error" id="e-expires_on">{vi(message)}</p>' in response.text
    assert 'value="Later"' in response.text and "checked" in response.text
    assert await ApiToken.all().count() == 0


async def test_the_tokens_page_shows_last_use(client, browser):
    await make_user("son@becamex.com.vn")
    await browser.login("son@becamex.com.vn")
    token = await make_token(browser, "Reporter")
    cell = re.compile(r'data-testid="last-used">([^<]*)<')
    assert cell.search((await browser.get("/account/tokens")).text).group(1) == vi("Never")
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
    used = (await ApiToken.get(name="Reporter")).last_used_at
    assert used is not None
    shown = cell.search((await browser.get("/account/tokens")).text).group(1)
    with use_locale("vi"):
        from ecosystem.i18n import format_dt, set_locale

        set_locale("vi", "Asia/Ho_Chi_Minh")
        assert shown == format_dt(used, "short")


# --- 3. throttling that cannot be turned against the owner ----------------------------------


@asynccontextmanager
async def app_with(settings, **overrides) -> AsyncIterator[Callable[[str], BrowserSession]]:
    """The app with changed settings, and browsers at chosen client addresses."""
    application = create_app(dataclasses.replace(settings, **overrides))
    async with application.router.lifespan_context(application):
        await empty_database(settings.database_url)
        async with AsyncExitStack() as stack:

            def at(ip: str) -> BrowserSession:
                session = browser_at(application, ip)
                stack.push_async_callback(session.http.aclose)
                return session

            yield at


async def sign_in_status(browser: BrowserSession, email: str, password: str, **kw) -> int:
    response = await browser.post("/login", {"email": email, "password": password}, **kw)
    if response.status_code == 303:
        await browser.post("/logout")
        browser.csrf_token = ""
    return response.status_code


async def test_wrong_passwords_from_one_address_never_lock_out_the_owner_elsewhere(settings):
    async with app_with(settings) as at:
        await make_user("tuan@becamex.com.vn")
        guesser, owner = at("198.51.100.66"), at("203.0.113.20")
        statuses = [
            await sign_in_status(guesser, "tuan@becamex.com.vn", f"guess-{n}-nope")
            for n in range(12)
        ]
        assert statuses == [401] * 5 + [429] * 7
        # Even the right password is refused at the guesser's address...
        assert await sign_in_status(guesser, "tuan@becamex.com.vn", PASSWORD) == 429
        # ...while the owner signs in, on the page and through the API, from elsewhere.
        assert await sign_in_status(owner, "tuan@becamex.com.vn", PASSWORD) == 303
        api = await owner.http.post(
            TOKEN_URL, json={"email": "tuan@becamex.com.vn", "password": PASSWORD}
        )
        assert api.status_code == 200
        # The API shares the guesser's lock-out.
        locked = await guesser.http.post(
            TOKEN_URL, json={"email": "tuan@becamex.com.vn", "password": PASSWORD}
        )
        assert locked.status_code == 429


async def test_lock_outs_grow(settings):
    start = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
    async with app_with(settings) as at:
        await make_user("uyen@becamex.com.vn")
        guesser = at("198.51.100.67")

        async def guesses(n: int) -> list[int]:
            return [
                await sign_in_status(guesser, "uyen@becamex.com.vn", "wrong-guess-1")
                for _ in range(n)
            ]

        with time_machine.travel(start, tick=False):
            assert await guesses(6) == [401] * 5 + [429]
        # After the first window, five more guesses; then the hour's tier holds.
        with time_machine.travel(start + timedelta(minutes=16), tick=False):
            assert await guesses(6) == [401] * 5 + [429]
        with time_machine.travel(start + timedelta(minutes=32), tick=False):
            assert await guesses(1) == [429]  # the first window has passed, the hour has not
        with time_machine.travel(start + timedelta(minutes=61), tick=False):
            assert await guesses(1) == [401]


async def test_the_account_wide_ceiling_mails_the_owner_once(settings):
    async with app_with(settings, login_attempts_per_account=6) as at:
        owner = await make_user("vy@becamex.com.vn")
        # Guesses spread over addresses: no pair and no address reaches its own limit.
        for n in range(6):
            guesser = at(f"198.51.100.{10 + n}")
            assert await sign_in_status(guesser, "vy@becamex.com.vn", "wrong-guess-1") == 401
        await jobs.drain()
        mails = await OutboxMessage.filter(to="vy@becamex.com.vn")
        assert len(mails) == 1
        assert "198.51.100.15" in mails[0].text_body
        assert "http://testserver/password/forgot" in mails[0].text_body
        assert await AuditEvent.filter(action="login.ceiling_reached").count() == 1

        # Now the account pauses, from anywhere, with a message saying why.
        newcomer = at("203.0.113.50")
        response = await newcomer.post(
            "/login", {"email": "vy@becamex.com.vn", "password": PASSWORD}
        )
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) > 0
        api = await newcomer.http.post(
            TOKEN_URL, json={"email": "vy@becamex.com.vn", "password": PASSWORD}
        )
        assert api.status_code == 429
        # More guesses do not send more mail.
        assert await sign_in_status(at("198.51.100.30"), "vy@becamex.com.vn", "x" * 12) == 429
        await jobs.drain()
        assert await OutboxMessage.filter(to="vy@becamex.com.vn").count() == 1

        # A password reset (the owner proves the mailbox) lifts the pause.
        await newcomer.get("/password/forgot")
        await newcomer.post("/password/forgot", {"email": "vy@becamex.com.vn"})
        await jobs.drain()
        mail = await OutboxMessage.filter(to=owner.email).order_by("-id").first()
        token = re.search(r"/password/reset\?token=([\w.\-]+)", mail.text_body).group(1)
        done = await newcomer.post("/password/reset", {"token": token, "password": NEW_PASSWORD})
        assert done.status_code == 303
        assert await sign_in_status(at("203.0.113.51"), owner.email, NEW_PASSWORD) == 303


# --- 4. the client address ------------------------------------------------------------------


def test_forwarded_client_reads_from_the_right():
    proxies = parse_networks(["10.0.0.0/8", "192.0.2.1"])
    assert forwarded_client("10.0.0.5", "203.0.113.9", proxies) == "203.0.113.9"
    # A client-written left part is ignored; chained proxies are skipped.
    assert forwarded_client("10.0.0.5", "6.6.6.6, 203.0.113.9, 192.0.2.1", proxies) == (
        "203.0.113.9"
    )
    # An untrusted peer's header is ignored entirely.
    assert forwarded_client("198.51.100.1", "203.0.113.9", proxies) == "198.51.100.1"
    assert forwarded_client("10.0.0.5", "", proxies) == "10.0.0.5"
    assert forwarded_client("10.0.0.5", "not-an-ip", proxies) == "10.0.0.5"
    assert forwarded_client("10.0.0.5", "10.0.0.7, 10.0.0.6", proxies) == "10.0.0.7"
    assert forwarded_client("10.0.0.5", "203.0.113.9", ()) == "10.0.0.5"
    v6 = parse_networks(["2001:db8::/32"])
    assert forwarded_client("2001:db8::1", "2001:0DB9::0001, 2001:db8::2", v6) == ("2001:db9::1")
    with pytest.raises(ValueError):
        parse_networks(["10.0.0.0/33"])


async def test_rotating_forwarded_addresses_from_an_untrusted_peer_are_throttled(settings):
    async with app_with(settings) as at:
        await make_user("xuan@becamex.com.vn")
        peer = at("198.51.100.80")
        statuses = []
        for n in range(21):
            headers = {"X-Forwarded-For": f"203.0.113.{n}"}
            response = await peer.http.post(
                TOKEN_URL,
                json={"email": f"guess{n}@becamex.com.vn", "password": "wrong-pass-1"},
                headers=headers,
            )
            statuses.append(response.status_code)
        assert statuses == [401] * 20 + [429]
        ips = set(await AuditEvent.filter(action="login.failed").values_list("ip", flat=True))
        assert ips == {"198.51.100.80"}


async def test_a_trusted_proxy_forwards_the_real_client_address(settings):
    async with app_with(settings, forwarded_allow_ips=("10.0.0.0/8",)) as at:
        await make_user("yen@becamex.com.vn")
        proxy = at("10.0.0.5")
        statuses = []
        for n in range(21):
            # The client rotates what it writes; the proxy appends the address it saw.
            headers = {"X-Forwarded-For": f"6.6.{n}.6, 198.51.100.77"}
            response = await proxy.http.post(
                TOKEN_URL,
                json={"email": f"guess{n}@becamex.com.vn", "password": "wrong-pass-1"},
                headers=headers,
            )
            statuses.append(response.status_code)
        assert statuses == [401] * 20 + [429]
        ips = set(await AuditEvent.filter(action="login.failed").values_list("ip", flat=True))
        assert ips == {"198.51.100.77"}
        # Another client behind the same proxy is not affected, and is recorded as itself.
        other = await proxy.http.post(
            TOKEN_URL,
            json={"email": "yen@becamex.com.vn", "password": PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.78"},
        )
        assert other.status_code == 200
        event = await AuditEvent.filter(action="login.succeeded").first()
        assert event.ip == "198.51.100.78"
        # A session records the forwarded address too.
        browser = at("10.0.0.5")
        browser.http.headers["X-Forwarded-For"] = "198.51.100.79"
        await browser.login("yen@becamex.com.vn")
        assert await UserSession.filter(ip="198.51.100.79").count() == 1


def test_serve_leaves_forwarded_headers_to_the_app(monkeypatch):
    import uvicorn

    from ecosystem.__main__ import main

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.0/8, 192.0.2.1")
    assert main(["serve", "--port", "8123"]) == 0
    assert calls and calls[0]["proxy_headers"] is False
    from ecosystem.settings import Settings

    assert Settings.from_env().forwarded_allow_ips == ("10.0.0.0/8", "192.0.2.1")


# --- 5. the migration upgrades a database with data --------------------------------------------


@pytest.mark.parametrize("backend_name", ["sqlite", "postgres"])
async def test_migration_0005_upgrades_a_database_with_data(backend_name, tmp_path):
    if backend_name == "postgres":
        if not TEST_DATABASE_URL:
            pytest.skip("TEST_DATABASE_URL is not set")
        name = f"eco_mig_{uuid.uuid4().hex[:10]}"
        await _admin_execute(TEST_DATABASE_URL, f'CREATE DATABASE "{name}"')
        url = _with_database(TEST_DATABASE_URL, name)
    else:
        url = f"sqlite://{tmp_path / 'upgrade.sqlite3'}"
    config = tortoise_config(url, load_packages(()))
    try:
        from tortoise.migrations.api.migrate import migrate

        await migrate(config=config, target="ecosystem.0003_payments")
        connection = connections.get("default")
        await connection.execute_script(
            "INSERT INTO user_account (email, full_name, password_hash, locale, timezone, "
            "is_active, is_platform_admin, session_version, created_at) VALUES "
            "('old@example.vn', 'Old', 'x', 'vi', 'Asia/Ho_Chi_Minh', TRUE, FALSE, 3, "
            "'2025-01-01 00:00:00+00:00');"
            "INSERT INTO api_token (user_id, name, prefix, source, token_hash, created_at) "
            "SELECT id, 'Legacy', 'eco_abc', 'manual', 'h', '2025-01-01 00:00:00+00:00' "
            "FROM user_account;"
        )
        await Tortoise.close_connections()
        await run_migrations(config)
        connection = connections.get("default")
        _n, rows = await connection.execute_query(
            "SELECT t.scope, t.expires_at, t.revoked_at, u.session_version "
            "FROM api_token t JOIN user_account u ON u.id = t.user_id"
        )
        assert [tuple(row) for row in rows] == [("full", None, None, 3)]
        _n, rows = await connection.execute_query("SELECT COUNT(*) FROM user_session")
        assert tuple(rows[0])[0] == 0
        # New tokens and sessions can be written next to the old rows.
        await connection.execute_script(
            "INSERT INTO user_session (user_id, key_hash, created_at, last_seen_at, "
            "user_agent, ip) SELECT id, 'k', '2025-01-02 00:00:00+00:00', "
            "'2025-01-02 00:00:00+00:00', '', '' FROM user_account;"
            "INSERT INTO api_token (user_id, name, prefix, source, token_hash, created_at) "
            "SELECT id, 'New', 'eco_new', 'manual', 'h2', '2025-01-02 00:00:00+00:00' "
            "FROM user_account;"
        )
        _n, rows = await connection.execute_query("SELECT scope FROM api_token WHERE name = 'New'")
        assert tuple(rows[0])[0] == "full"
        assert is_postgres(url) == (backend_name == "postgres")
    finally:
        await Tortoise.close_connections()
        if backend_name == "postgres":
            await _admin_execute(
                TEST_DATABASE_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            )
