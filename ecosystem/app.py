"""The application factory: settings in, a Starlette app with every package mounted out."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Match, Mount, Route
from starlette.staticfiles import StaticFiles
from tortoise import Tortoise
from tortoise.exceptions import ValidationError as FieldValueError

from ecosystem import cache, i18n, jobs
from ecosystem.db import init_orm, tortoise_config
from ecosystem.errors import DomainError, NotAuthenticated, RateLimited, SecondFactorRequired
from ecosystem.i18n import _
from ecosystem.inputs import has_control
from ecosystem.middleware import (
    ClientAddressMiddleware,
    CSRFMiddleware,
    InputGuardMiddleware,
    LocaleMiddleware,
    SecurityHeadersMiddleware,
    SignedSessionMiddleware,
)
from ecosystem.packages import DomainPackage, load_packages
from ecosystem.ratelimit import FailureLimiter, build_storage
from ecosystem.restapi import API_PREFIX, error_response, openapi_document
from ecosystem.routing import SegmentRouter
from ecosystem.settings import Settings, configure
from ecosystem.templating import STATIC_DIR, templates
from ecosystem.web import SECURITY_PAGE, flash, login_redirect, redirect, render

logger = logging.getLogger("ecosystem")

UPLOAD_SLACK_BYTES = 256 * 1024  # form fields around the largest allowed upload
ALWAYS_EXEMPT = ("/api/", "/static/", "/media/", "/healthz")


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _form_page(request: Request) -> str | None:
    """The page of ours whose form was refused (same origin), for "Back to the form"."""
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return None
    referer = urlsplit(request.headers.get("referer", ""))
    same_origin = not referer.netloc or referer.netloc == request.headers.get("host")
    path = referer.path
    if not same_origin or not path.startswith("/") or path.startswith("//"):
        return None
    page = f"{path}?{referer.query}" if referer.query else path
    return None if has_control(page, multiline=False) else page


async def _render_error(request: Request, status_code: int, message: str) -> Response:
    try:
        return await render(
            request,
            "error.html",
            {"status_code": status_code, "message": message, "back": _form_page(request)},
            status_code,
        )
    except Exception:  # the error page itself must never fail (e.g. database down)
        logger.exception("could not render the error page")
        return Response(message, status_code=status_code, media_type="text/plain")


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    if _is_api(request):
        if isinstance(exc, NotAuthenticated):
            headers = {"WWW-Authenticate": "Bearer"}
        return error_response(exc.status_code, exc.code, exc.message, exc.fields, headers)
    if isinstance(exc, NotAuthenticated) and exc.code == "not_authenticated":
        return login_redirect(request)
    if isinstance(exc, SecondFactorRequired):
        flash(request, exc.message, "error")
        return redirect(request, SECURITY_PAGE)
    response = await _render_error(request, exc.status_code, exc.message)
    if headers:
        response.headers.update(headers)
    return response


HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at this request's path, OPTIONS included (empty if
    no route has the path). Starlette's own 405 names the methods of the first route that
    has the path only, e.g. GET of `GET /api/v1/bookings` but not POST of its neighbour."""
    # The scope as the router first saw it (a Mount has changed root_path since).
    top = request.scope.get("app_root_path", request.scope.get("root_path", ""))
    scope = {**request.scope, "root_path": top}
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _scope = route.matches(scope)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ("GET", "HEAD"))
    return sorted(methods | {"OPTIONS"}) if methods else []


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        allow = ", ".join(allowed_methods(request))
        if request.method == "OPTIONS":  # no route declares OPTIONS: answer it for all
            return Response(status_code=204, headers={"Allow": allow})
        exc = HTTPException(405, exc.detail, headers={**(exc.headers or {}), "Allow": allow})
    messages = {
        404: _("This page does not exist."),
        405: _("This method is not allowed here."),
        413: _("The upload is too large."),
    }
    message = messages.get(exc.status_code, str(exc.detail))
    if _is_api(request):
        code = HTTP_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, message, headers=exc.headers)
    response = await _render_error(request, exc.status_code, message)
    if exc.headers:  # a page's 405 names the allowed methods too (RFC 9110)
        response.headers.update(exc.headers)
    return response


async def field_value_error(request: Request, exc: Exception) -> Response:
    """A value past a column's limit (length, range) reached the ORM without a schema in front
    of it (e.g. a 5,000-character e-mail looked up at sign-in). The ORM checks before it
    sends anything, so nothing of it was written: a 422 naming the field, never a 500."""
    field = str(exc).partition(":")[0].strip()
    message = _("This value is too long or not valid.")
    if _is_api(request):
        return error_response(422, "invalid", message, {field: message} if field else None)
    return await _render_error(request, 422, message)


async def input_refused(request: Request, status_code: int, message: str) -> Response:
    """What `InputGuardMiddleware` answers: the same pages and JSON errors as elsewhere."""
    if status_code == 404:
        message = _("This page does not exist.")
    if _is_api(request):
        code = "not_found" if status_code == 404 else "invalid_characters"
        return error_response(status_code, code, message)
    return await _render_error(request, status_code, message)


async def server_error(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    message = _("Something went wrong on our side. Please try again.")
    if _is_api(request):
        return error_response(500, "server_error", message)
    return Response(message, status_code=500, media_type="text/plain")


def _routes(packages: list[DomainPackage], settings: Settings) -> list:
    api_routes = [route for package in packages for route in package.api_routes]

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document(api_routes, "Innovation Region API", "1.0.0"))

    async def favicon(request: Request) -> Response:
        """Browsers and feed readers ask for /favicon.ico whatever the page links."""
        headers = {"Cache-Control": "public, max-age=86400"}
        return FileResponse(STATIC_DIR / "favicon.ico", media_type="image/x-icon", headers=headers)

    return [
        Route("/favicon.ico", favicon, methods=["GET"]),
        Route("/api/openapi.json", openapi, methods=["GET"]),
        *api_routes,
        *[route for package in packages for route in package.routes],
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    configure(settings)
    packages = load_packages(settings.packages)
    for package in packages:
        jobs.register(package.jobs)
        if package.locale_dir:
            i18n.add_catalogue_dir(package.locale_dir)
    config = tortoise_config(settings.database_url, packages)
    cron_jobs = [cron for package in packages for cron in package.cron_jobs]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        i18n.load_catalogues()
        await init_orm(config)
        await jobs.start(settings.redis_url)
        cache.start(settings.redis_url)
        run_inline_cron = settings.inline_cron and not settings.redis_url
        inline_cron = jobs.InlineCron(cron_jobs) if run_inline_cron else None
        if inline_cron:
            inline_cron.start()
        app.state.limiter = FailureLimiter(build_storage(settings.redis_url))
        try:
            yield
        finally:
            if inline_cron:
                await inline_cron.stop()
            await jobs.drain()
            await jobs.stop()
            await cache.stop()
            await Tortoise.close_connections()

    exempt = ALWAYS_EXEMPT + tuple(p for pkg in packages for p in pkg.csrf_exempt_prefixes)
    middleware = [
        Middleware(ClientAddressMiddleware, trusted=settings.forwarded_allow_ips),
        Middleware(SecurityHeadersMiddleware, hsts=settings.secure_cookies),
        Middleware(
            SignedSessionMiddleware,
            secret_key=settings.secret_key,
            session_cookie="eco_session",
            same_site="lax",
            https_only=settings.secure_cookies,
            max_age=14 * 24 * 3600,
        ),
        Middleware(LocaleMiddleware, default_timezone=settings.default_timezone),
        Middleware(CSRFMiddleware, exempt_prefixes=exempt),
        Middleware(InputGuardMiddleware, refuse=input_refused),
    ]
    app = Starlette(
        debug=settings.debug,
        routes=_routes(packages, settings),
        middleware=middleware,
        exception_handlers={
            DomainError: domain_error,
            FieldValueError: field_value_error,
            HTTPException: http_error,
            Exception: server_error,
        },
        lifespan=lifespan,
        max_body_size=settings.max_upload_bytes + UPLOAD_SLACK_BYTES,
    )
    # The same routes, lifespan and answers; tried by the path's first segment (see there).
    app.router = SegmentRouter(app.router.routes, lifespan=lifespan)
    app.state.settings = settings
    app.state.packages = packages
    app.state.tortoise_config = config
    app.state.nav_links = [link for package in packages for link in package.nav_links]
    templates.env.globals["api_prefix"] = API_PREFIX
    return app
