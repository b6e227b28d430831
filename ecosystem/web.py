"""Helpers for HTML handlers: the signed-in user, rendering, forms, redirects, htmx."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time
from collections import OrderedDict
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from tortoise.models import Model

import ecosystem.inputs  # noqa: F401  (installs the bounded `{id:int}` before routes are built)
from ecosystem import i18n, rawsql
from ecosystem.errors import NotAuthenticated, NotPermitted, SecondFactorRequired
from ecosystem.i18n import _, set_locale
from ecosystem.models import Membership, MembershipStatus, User
from ecosystem.restapi import client_ip
from ecosystem.services import second_factor, sessions
from ecosystem.settings import get_settings
from ecosystem.templating import environment_for, request_context, templates

SESSION_KEY = "sid"  # the server-side session's random key (see ecosystem.services.sessions)
SESSION_ORG = "org"
SESSION_LOCALE = "locale"
# Set when this session's sign-in passed a second factor (or the factor was set up in it).
SESSION_FACTOR = "factor"
# Set when the person must set up a second factor before anything else (see require_user).
SESSION_ENROL = "enrol"
# A password was right, the second factor is still to come: {uid, method, exp, attempts,
# next}. Not a secret (the cookie is signed, not encrypted): the user id and a deadline.
SESSION_PENDING = "pending"
PENDING_SECONDS = 5 * 60
PENDING_ATTEMPTS = 5
SECURITY_PAGE = "/account/security"


async def current_user(request: Request) -> User | None:
    """The signed-in user (one query, cached on the request), or None.

    The cookie names a server-side session; a revoked, expired or unknown one is anonymous
    (and dropped from the cookie). This and the switcher run on every signed-in page: plain
    SQL (see `ecosystem.rawsql`).
    """
    if hasattr(request.state, "user"):
        return request.state.user
    session = request.session
    user = None
    if isinstance(key := session.get(SESSION_KEY), str):
        user, seen_again = await sessions.user_for_key(key)
        if user is None:
            session.pop(SESSION_KEY, None)
        elif seen_again:
            session[SESSION_KEY] = key  # re-signed: the cookie's max-age starts again
    request.state.user = user
    if user is not None:
        # From here on, the page speaks the account's language and shows the person's clock.
        set_locale(user.locale, user.timezone)
    return user


async def sign_in(request: Request, user: User) -> None:
    """A new server-side session for `user`, named by a fresh cookie (and CSRF token)."""
    key = await sessions.start(
        user, ip=client_ip(request), user_agent=request.headers.get("user-agent", "")
    )
    request.session.clear()
    request.session.update({SESSION_KEY: key, SESSION_LOCALE: user.locale})
    request.state.user = user
    set_locale(user.locale, user.timezone)


async def complete_sign_in(request: Request, user: User, next_url: str, method: str) -> Response:
    """The one way a browser becomes signed in after proving who it is by `method`
    ("password", "reset", "passkey", an identity provider's name, or "second_factor").

    An account with a second factor, signing in by anything but a passkey or the factor
    itself, is not signed in yet: a short-lived pending marker (user, method, deadline,
    attempts) is kept in the session and the browser is sent to `/login/second-factor`.
    Otherwise the session starts; a person who must have a second factor and has none is
    sent to set one up (and `require_user` keeps them there until they have).
    """
    next_url = safe_next(next_url, "/dashboard")
    factor_passed = method in ("passkey", "second_factor")
    if not factor_passed and await second_factor.has_second_factor(user):
        await sign_out(request)
        request.session[SESSION_PENDING] = {
            "uid": user.id,
            "method": method,
            "exp": int(time.time()) + PENDING_SECONDS,
            "attempts": 0,
            "next": next_url,
        }
        request.session[SESSION_LOCALE] = user.locale
        return redirect(request, "/login/second-factor")
    await sign_in(request, user)
    if factor_passed:
        request.session[SESSION_FACTOR] = True
    elif await second_factor.factor_required(user):
        request.session[SESSION_ENROL] = True
        return redirect(request, f"{SECURITY_PAGE}?{urlencode({'next': next_url})}")
    return redirect(request, next_url)


def pending_sign_in(request: Request) -> dict | None:
    """The pending marker of a sign-in waiting for its second factor, if still valid."""
    pending = request.session.get(SESSION_PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("uid"), int):
        return None
    if pending.get("exp", 0) < time.time() or pending.get("attempts", 0) >= PENDING_ATTEMPTS:
        request.session.pop(SESSION_PENDING, None)
        return None
    return pending


def count_pending_attempt(request: Request, pending: dict) -> None:
    pending = {**pending, "attempts": pending.get("attempts", 0) + 1}
    request.session[SESSION_PENDING] = pending


def factor_set_up(request: Request) -> None:
    """This session now has a second factor: the enrolment gate opens."""
    request.session.pop(SESSION_ENROL, None)
    request.session[SESSION_FACTOR] = True


def must_enrol(request: Request, user: User) -> bool:
    """Is this signed-in person held at the security page until a factor is set up?"""
    if request.session.get(SESSION_FACTOR):
        return False
    if request.session.get(SESSION_ENROL):
        return True
    return user.is_platform_admin and get_settings().admins_need_second_factor


async def sign_out(request: Request) -> None:
    """End this browser's session on the server; the cookie keeps only the language."""
    if isinstance(key := request.session.get(SESSION_KEY), str):
        await sessions.end(key)
    locale = request.session.get(SESSION_LOCALE)
    request.session.clear()
    if locale:
        request.session[SESSION_LOCALE] = locale
    request.state.user = None


async def require_user(request: Request) -> User:
    """The signed-in user; anonymous → the sign-in page. A person who must have a second
    factor and signed in without one reaches only the security page (and signing out)."""
    user = await require_signed_in(request)
    if must_enrol(request, user):
        raise SecondFactorRequired(
            _("Set up a second factor (an authenticator app or a passkey) to continue.")
        )
    return user


async def require_signed_in(request: Request) -> User:
    """The signed-in user, whether or not the second-factor policy is met (the security
    page, where the factor is set up)."""
    user = await current_user(request)
    if user is None:
        raise NotAuthenticated(_("Please sign in to continue."))
    return user


async def require_admin(request: Request) -> User:
    user = await require_user(request)
    if not user.is_platform_admin:
        raise NotPermitted(_("Only platform administrators may do this."))
    return user


async def load_switcher(request: Request) -> None:
    """The user's memberships (the organisation switcher) and flashes, once per request."""
    if hasattr(request.state, "flashes"):
        return
    user = await current_user(request)
    memberships: list[Membership] = []
    if user is not None:
        memberships = await rawsql.select(
            Membership,
            "WHERE m.user_id = ? AND m.status = ? ORDER BY r.name, m.id",
            (user.id, MembershipStatus.ACTIVE.value),
            related="organisation",
            small=True,
        )
    request.state.memberships = memberships
    chosen = request.session.get(SESSION_ORG)
    request.state.active_organisation = next(
        (m.organisation for m in memberships if m.organisation_id == chosen),
        memberships[0].organisation if memberships else None,
    )
    request.state.flashes = request.session.pop("flashes", [])


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


async def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render a page (or, for htmx, a fragment) with the user and switcher loaded."""
    await load_switcher(request)
    response = templates.TemplateResponse(request, template, context or {}, status_code=status_code)
    response.headers["Vary"] = "HX-Request"  # SessionMiddleware adds Cookie
    return response


# The same for every anonymous visitor of one language and zone but for the CSRF token: such
# pages are rendered once per process with this stand-in, which each response replaces.
_TOKEN_STAND_IN = secrets.token_hex(24)
_PUBLIC_PAGES_KEPT = 256  # pages of ~40 KB: about 10 MB a process at most
_public_pages: OrderedDict[tuple, bytes] = OrderedDict()  # encoded once: pages are mostly not ASCII


async def render_public(
    request: Request,
    template: str,
    context: dict[str, Any],
    fingerprint: str | None = None,
) -> Response:
    """`render` for a page that is the same for every anonymous visitor: one without flashes
    gets the page built once per process for its template, data, language, zone, address and
    menu, with their own CSRF token put in. Anyone else (signed in, a flash to show, htmx)
    gets `render`.

    The data is the context itself, whose values must then be plain and hashable (numbers,
    strings; the home page), or `fingerprint`, a digest of everything the context shows
    (`fingerprint_of`), read afresh for this request: a page with a query string is only
    kept under a fingerprint, with its query in the key."""
    await load_switcher(request)
    token = request.scope.get("session", {}).get("csrf", "")
    query = request.url.query
    if (
        request.state.user is not None
        or request.state.flashes
        or is_htmx(request)
        or (query and fingerprint is None)
        or not token
    ):
        return await render(request, template, context)
    locale, zone = i18n.get_locale(), i18n.viewer_timezone()
    key = (
        template,
        fingerprint if fingerprint is not None else tuple(sorted(context.items())),
        locale,
        zone,
        i18n.zone_offset(zone),  # the footer's "UTC+7" moves with daylight saving
        i18n.catalogue_version(),
        request.url.path,
        query,
        tuple(tuple(link) for link in getattr(request.app.state, "nav_links", ())),
    )
    page = _public_pages.get(key)
    if page is None:
        values = {
            "request": request,
            **request_context(request),
            **context,
            "csrf_token": _TOKEN_STAND_IN,
        }
        page = environment_for(locale).get_template(template).render(**values).encode()
        _public_pages[key] = page
        if len(_public_pages) > _PUBLIC_PAGES_KEPT:
            _public_pages.popitem(last=False)
    else:
        _public_pages.move_to_end(key)
    response = HTMLResponse(page.replace(_TOKEN_STAND_IN.encode(), token.encode()))
    response.headers["Vary"] = "HX-Request"  # SessionMiddleware adds Cookie
    return response


def fingerprint_of(*values: Any) -> str:
    """A digest of what a page shows from `values`: ORM rows (their columns and the related
    rows loaded with them), dataclasses, containers and plain values. A value it cannot see
    into is taken by its `repr`; an object without one of its own changes the digest every
    time, so a page showing it is simply never reused."""
    return hashlib.blake2b(repr(_plain(values, 0)).encode(), digest_size=16).hexdigest()


def _plain(value: Any, depth: int) -> Any:
    if depth > 6:
        return repr(value)
    if isinstance(value, Model):
        # The instance's own attributes are its columns; `_<relation>` holds what was loaded
        # with it (a row, or the fetched rows of a reverse relation).
        columns, loaded = [], []
        for name, item in value.__dict__.items():
            if name[0] != "_":
                columns.append((name, item))
            elif isinstance(item, Model):
                loaded.append((name, _plain(item, depth + 1)))
            elif getattr(item, "_fetched", False):
                loaded.append((name, _plain(list(item.related_objects), depth + 1)))
        return (type(value).__name__, columns, loaded)
    if hasattr(type(value), "__dataclass_fields__") and not isinstance(value, type):
        fields = dataclasses.fields(value)
        shown = tuple(_plain(getattr(value, field.name), depth + 1) for field in fields)
        return (type(value).__name__, shown)
    if isinstance(value, dict):
        return tuple(sorted((repr(k), _plain(v, depth + 1)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_plain(item, depth + 1) for item in value)
    if isinstance(value, set | frozenset):
        return tuple(sorted(repr(_plain(item, depth + 1)) for item in value))
    return value


def flash(request: Request, message: str, level: str = "success") -> None:
    # A new list, not an in-place append: the session only notices assignments.
    request.session["flashes"] = [
        *request.session.get("flashes", []),
        {"message": message, "level": level},
    ]


def site_url(request: Request) -> str:
    """The site's address for a link shown on this request's own page (calendar feed, QR
    code): BASE_URL when it is set, else the address this request came to. E-mails and
    jobs never use a request's Host header: they take `Settings.base_url`."""
    settings = get_settings()
    if settings.base_url_is_set:
        return settings.base_url
    return str(request.base_url).rstrip("/")


def safe_next(url: str | None, default: str = "/") -> str:
    """Only same-site paths may be redirect targets (no open redirects)."""
    if not url:
        return default
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not url.startswith("/") or url.startswith("//"):
        return default
    return url


def redirect(request: Request, url: str) -> Response:
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(request, f"/login?next={quote(target)}")


async def read_form(request: Request) -> FormData:
    async with request.form(max_files=5, max_fields=200, max_part_size=64 * 1024) as form:
        return form


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""
