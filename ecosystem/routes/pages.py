"""The home page and the health check."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tortoise import connections

from ecosystem import cache
from ecosystem.models import Organisation, User, Verification
from ecosystem.settings import get_settings
from ecosystem.web import render

HOME_COUNTS_SECONDS = 60  # the figures on the home page may lag a minute


async def _home_counts() -> dict[str, int]:
    return {
        "organisation_count": await Organisation.filter(verification=Verification.VERIFIED).count(),
        "user_count": await User.filter(is_active=True).count(),
    }


async def home(request: Request) -> Response:
    counts = await cache.remember("home:counts", HOME_COUNTS_SECONDS, _home_counts)
    return await render(request, "ecosystem/home.html", counts)


async def healthz(request: Request) -> Response:
    database = "ok"
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception:
        database = "unavailable"
    payload = {
        "status": "ok" if database == "ok" else "degraded",
        "database": database,
        "jobs": get_settings().jobs_backend,
    }
    return JSONResponse(payload, status_code=200 if database == "ok" else 503)


routes = [
    Route("/", home, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
]
