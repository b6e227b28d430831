"""ASGI middleware: the client's address, locale per request, CSRF protection, refused input,
security headers."""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
from base64 import b64decode, b64encode
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import parse_qsl

import itsdangerous
from itsdangerous.exc import BadSignature
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.sessions import Session, SessionMiddleware
from starlette.requests import Request, cookie_parser
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ecosystem import i18n, inputs
from ecosystem.security import constant_time_equals

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LOCALE_COOKIE = "lang"


API_LOCALE_CHOSEN = "ecosystem.api_locale_chosen"

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Sequence[str]) -> tuple[IPNetwork, ...]:
    """`FORWARDED_ALLOW_IPS` entries (addresses or CIDR networks) as networks; a typo fails
    at start-up rather than silently trusting nobody (or everybody)."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _is_trusted(address: str, networks: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


def forwarded_client(peer: str, forwarded_for: str, networks: Sequence[IPNetwork]) -> str:
    """The client's address for a request from `peer` carrying `X-Forwarded-For`.

    Only a trusted peer's header is believed. Each proxy appends the address it received the
    request from, so the header is read from the right: the first address that is not itself
    a trusted proxy is the client. Whatever a client wrote at the left end is ignored, so
    rotating fake addresses there changes nothing.
    """
    if not forwarded_for or not _is_trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage where an address should be: trust nothing of it
    # Every hop is a trusted proxy: the farthest one.
    return str(ipaddress.ip_address(hops[0])) if hops else peer


class ClientAddressMiddleware:
    """Sets `scope["client"]` (and the scheme) from a trusted proxy's forwarded headers.

    `FORWARDED_ALLOW_IPS` lists the proxies (default: none, so the headers are ignored and the
    direct peer is the client). uvicorn's own proxy-header handling is switched off in
    `python -m ecosystem serve`, so this is the one place that decides.
    """

    def __init__(self, app: ASGIApp, trusted: Sequence[str] = ()) -> None:
        self.app = app
        self.networks = parse_networks(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.networks and scope["type"] in ("http", "websocket") and scope.get("client"):
            peer_host, peer_port = scope["client"]
            headers = Headers(scope=scope)
            forwarded = ",".join(headers.getlist("x-forwarded-for"))
            if forwarded and _is_trusted(peer_host, self.networks):
                client = forwarded_client(peer_host, forwarded, self.networks)
                scope = {**scope, "client": (client, 0 if client != peer_host else peer_port)}
                proto = headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
                if proto in ("http", "https") and scope["type"] == "http":
                    scope["scheme"] = proto
        await self.app(scope, receive, send)


class LocaleMiddleware:
    """Sets the locale and the time zone for the request, and says which in the response
    (`Content-Language`; `Vary: Accept-Language`, since the header may choose it).

    Pages: the signed-in account's language (applied once the user is loaded, see
    `ecosystem.web.current_user`), else the session's choice, else the `lang` cookie, else
    the browser's `Accept-Language` by q-value, else Vietnamese; times in Vietnam's zone until
    the viewer is known. The JSON API: `Accept-Language`, then the `lang` cookie; without
    either, the token owner's language (set once the caller is known, see
    `ecosystem.restapi.api_user`).
    """

    def __init__(self, app: ASGIApp, default_timezone: str = i18n.DEFAULT_TIMEZONE) -> None:
        self.app = app
        self.default_timezone = default_timezone

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session = scope.get("session", {})
        # Starlette's lenient parser: http.cookies raises on any odd cookie name another
        # site of the domain may have set, which would break every page.
        headers = Headers(scope=scope)
        from_cookie = cookie_parser(headers.get("cookie", "")).get(LOCALE_COOKIE)
        accepted = headers.get("accept-language", "")
        if scope["path"].startswith("/api/"):
            scope[API_LOCALE_CHOSEN] = bool(
                i18n.normalise_locale(from_cookie)
                or i18n.negotiate_locale(accept_language=accepted, default=None)
            )
            locale = i18n.negotiate_locale(from_cookie, accept_language=accepted)
        else:
            locale = i18n.negotiate_locale(
                session.get("locale"), from_cookie, accept_language=accepted
            )
        i18n.set_locale(locale or i18n.DEFAULT_LOCALE, self.default_timezone)
        static = scope["path"].startswith("/static/")

        async def send_with_language(message: Message) -> None:
            if message["type"] == "http.response.start" and not static:
                response_headers = MutableHeaders(scope=message)
                # The locale of the moment: the route may have switched to the account's.
                response_headers.setdefault("Content-Language", i18n.get_locale())
                response_headers.add_vary_header("Accept-Language")
            await send(message)

        await self.app(scope, receive, send_with_language)


class CSRFMiddleware:
    """Refuses unsafe browser requests without the session's token (403).

    The token travels in the `X-CSRF-Token` header (htmx) or a `csrf_token` form field
    (plain forms). JSON API routes authenticate by bearer token, never by cookie, so their
    prefix is exempt, like webhooks which are signed.
    """

    def __init__(self, app: ASGIApp, exempt_prefixes: Sequence[str] = ()) -> None:
        self.app = app
        self.exempt_prefixes = tuple(exempt_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        session = scope.setdefault("session", {})
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(32)
        if scope["method"] not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        expected = session["csrf"]
        header_token = Headers(scope=scope).get(CSRF_HEADER, "")
        if header_token and constant_time_equals(header_token, expected):
            await self.app(scope, receive, send)
            return
        body, receive = await _buffer_body(receive)
        form_token = await _form_token(scope, body)
        if form_token and constant_time_equals(form_token, expected):
            await self.app(scope, receive, send)
            return
        with i18n.use_locale(i18n.get_locale()):
            message = i18n._(
                "This form has expired or did not come from this site. "
                "Reload the page and try again."
            )
        await PlainTextResponse(message, status_code=403)(scope, receive, send)


async def _buffer_body(receive: Receive) -> tuple[bytes, Receive]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _replayed(scope: Scope, body: bytes) -> Request:
    """A request over a body already read from the wire (a middleware reads it once, then the
    route reads it again from the same bytes)."""
    delivered = False

    async def receive_once() -> Message:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive_once)


async def _form_token(scope: Scope, body: bytes) -> str:
    content_type = Headers(scope=scope).get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return ""
    try:
        async with _replayed(scope, body).form(max_files=20, max_fields=500) as form:
            value = form.get(CSRF_FIELD)
            return value if isinstance(value, str) else ""
    except Exception:  # malformed body: treat as missing token (403), the route never sees it
        return ""


Refuse = Callable[[Request, int, str], Awaitable[Response]]
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# A multipart body without any of these bytes holds no control character in any field (C1
# characters are \xc2\x80-\xc2\x9f in UTF-8): only such bodies are parsed here.
_SUSPECT_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]")
# A query string without any of these holds no control character once decoded: a raw C0,
# DEL or C1 byte, or its percent-encoding (C1 characters are %C2%80-%C2%9F in UTF-8; any other
# invalid sequence decodes to U+FFFD). Only such query strings are parsed here.
_SUSPECT_QUERY = re.compile(rb"[\x00-\x1f\x7f-\x9f]|%[01][0-9a-f]|%7f|%c2%[89][0-9a-f]", re.I)


class InputGuardMiddleware:
    """Refuses control characters in any text a client sends, before a route sees it.

    One place for every page, form and API route (see `ecosystem.inputs`): a path holding
    one is not a page of ours (404), a query string or a form field holding one is a bad
    request (400). JSON bodies are checked where the API reads them
    (`ecosystem.restapi.json_body`), which names the field (422). `refuse` renders the
    refusal (an HTML page or the API's JSON error).
    """

    def __init__(self, app: ASGIApp, refuse: Refuse) -> None:
        self.app = app
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if inputs.has_control(scope["path"], multiline=False):
            await self._refuse(scope, receive, send, 404, "")
            return
        query = scope.get("query_string", b"")
        if _SUSPECT_QUERY.search(query) and any(
            inputs.has_control(name + value, multiline=False)
            for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        ):
            message = i18n._("The address contains control characters that are not allowed.")
            await self._refuse(scope, receive, send, 400, message)
            return
        content_type = Headers(scope=scope).get("content-type", "")
        if scope["method"] in UNSAFE_METHODS and content_type.startswith(FORM_TYPES):
            body, receive = await _buffer_body(receive)
            if await _form_has_control(scope, body, content_type):
                await self._refuse(scope, receive, send, 400, inputs.control_message())
                return
        await self.app(scope, receive, send)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, status: int, message: str
    ) -> None:
        response = await self.refuse(Request(scope, receive), status, message)
        await response(scope, receive, send)


async def _form_has_control(scope: Scope, body: bytes, content_type: str) -> bool:
    if content_type.startswith("application/x-www-form-urlencoded"):
        pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
        return inputs.bad_text_in(pairs)
    if not _SUSPECT_BYTES.search(body):
        return False
    try:
        async with _replayed(scope, body).form(max_files=50, max_fields=1000) as form:
            return inputs.bad_text_in(form.multi_items())
    except Exception:  # malformed body: the route's own parsing refuses it
        return False


class SecurityHeadersMiddleware:
    """Headers every response carries. No inline scripts anywhere, so CSP can forbid them.

    - CSP: scripts and styles from this origin only (no inline scripts or `on…=` handlers,
      no eval), no plugins, no framing by any site (clickjacking), forms post here only.
    - Referrer-Policy: other sites see our origin, never a page's path or query (tokens in
      links stay here). X-Content-Type-Options: no MIME sniffing of uploads or JSON.
    - Permissions-Policy: no page needs the camera, microphone, location or payment APIs.
    - HSTS (when the public address is https://): browsers never try plain HTTP again.
    """

    CSP = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
    PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
    HSTS = "max-age=31536000; includeSubDomains"

    def __init__(self, app: ASGIApp, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts
        headers = {
            "Content-Security-Policy": self.CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "strict-origin-when-cross-origin",
            "X-Frame-Options": "DENY",
            "Permissions-Policy": self.PERMISSIONS_POLICY,
            "Cross-Origin-Opener-Policy": "same-origin",
        }
        if hsts:
            headers["Strict-Transport-Security"] = self.HSTS
        # Encoded once: each response only appends those its handler did not set itself.
        self.raw_headers = tuple(
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in headers.items()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_headers = self.raw_headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _value in headers}
                headers.extend(header for header in raw_headers if header[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _KeyOnceSigner(itsdangerous.TimestampSigner):
    """itsdangerous' timestamp signer deriving each secret's key once, not on every sign and
    unsign (the key depends on the secret and the salt only): the same signatures."""

    def __init__(self, secret_key: str) -> None:
        super().__init__(secret_key)
        self._derived: dict[bytes | None, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        key = None if secret_key is None else itsdangerous.encoding.want_bytes(secret_key)
        derived = self._derived.get(key)
        if derived is None:
            derived = self._derived[key] = super().derive_key(secret_key)
        return derived


class SignedSessionMiddleware(SessionMiddleware):
    """Starlette's signed-cookie session, the same cookie (JSON, base64, itsdangerous'
    timestamp signature, the same flags and max-age), with less work per response: the
    signing key derived once, the cookie's attributes formatted once, the headers appended
    to the response's list rather than through `MutableHeaders`. Every first visit gets a
    cookie (its CSRF token), so this runs on every anonymous page."""

    def __init__(self, app: ASGIApp, secret_key: str, **options: object) -> None:
        super().__init__(app, secret_key, **options)  # type: ignore[arg-type]
        self.signer = _KeyOnceSigner(str(secret_key))
        max_age = f"Max-Age={self.max_age}; " if self.max_age is not None else ""
        self._cookie_attributes = f"; path={self.path}; {max_age}{self.security_flags}"
        self._cleared_cookie = (
            f"{self.session_cookie}=null; path={self.path}; "
            f"expires=Thu, 01 Jan 1970 00:00:00 GMT; {self.security_flags}"
        ).encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        initial_session_was_empty = True
        cookie = _cookie_header(scope)
        signed = cookie_parser(cookie).get(self.session_cookie) if cookie else None
        if signed is not None:
            try:
                data = self.signer.unsign(signed.encode("utf-8"), max_age=self.max_age)
                scope["session"] = Session(json.loads(b64decode(data)))
                initial_session_was_empty = False
            except BadSignature:
                scope["session"] = Session()
        else:
            scope["session"] = Session()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                session: Session = scope["session"]
                if session.accessed or session.modified:
                    headers = list(message.get("headers", ()))
                    if session.accessed:
                        _add_vary(headers, b"Cookie")
                    if session.modified and session:
                        data = b64encode(json.dumps(session).encode("utf-8"))
                        value = f"{self.session_cookie}={self.signer.sign(data).decode('utf-8')}"
                        cookie = (value + self._cookie_attributes).encode("latin-1")
                        headers.append((b"set-cookie", cookie))
                    elif session.modified and not initial_session_was_empty:
                        headers.append((b"set-cookie", self._cleared_cookie))
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)


def _cookie_header(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"cookie":
            return value.decode("latin-1")
    return ""


def _add_vary(headers: list[tuple[bytes, bytes]], value: bytes) -> None:
    """As `MutableHeaders.add_vary_header`: one Vary header, the new value appended (once:
    a page that already names it keeps one)."""
    for index, (name, existing) in enumerate(headers):
        if name.lower() == b"vary":
            named = {token.strip().lower() for token in existing.split(b",")}
            if value.lower() not in named:
                headers[index] = (b"vary", existing + b", " + value)
            # Starlette's header set replaces every Vary header with the first's value
            # and the new one: the same here.
            headers[index + 1 :] = [h for h in headers[index + 1 :] if h[0].lower() != b"vary"]
            return
    headers.append((b"vary", value))
