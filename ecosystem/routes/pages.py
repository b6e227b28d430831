"""The home page and the health check."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tortoise import connections

from ecosystem.services import organisations
from ecosystem.settings import get_settings
from ecosystem.web import render_public


async def home(request: Request) -> Response:
    return await render_public(request, "ecosystem/home.html", await organisations.public_counts())


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
