"""HTML pages: one lab's grid of machines against the time of a day or a week.

One URL serves the page and, for an htmx request, the grid fragment alone (`#lab-grid`), so
navigation and filters swap the grid in place while `hx-push-url` keeps the address, Back,
reload and sharing truthful. Rules live in `labs.services.grid`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ecosystem.web import current_user, is_htmx, render
from labs.routes.public import CATEGORY_LABELS
from labs.services import grid

VARY = "HX-Request, HX-History-Restore-Request, Cookie"


def _fragment(request: Request) -> bool:
    return is_htmx(request) and request.headers.get("HX-History-Restore-Request") != "true"


async def _answer(request: Request, view: grid.LabGrid) -> Response:
    context = {"view": view, "lab": view.lab, "category_labels": CATEGORY_LABELS}
    template = "labs/grid/_grid.html" if _fragment(request) else "labs/grid/page.html"
    response = await render(request, template, context)
    response.headers["Vary"] = VARY
    return response


async def lab_day(request: Request) -> Response:
    """Every machine of a lab against the slots of one day."""
    params = request.query_params
    view = await grid.day_grid(
        await current_user(request),
        request.path_params["slug"],
        params.get("date", "")[:40],
        grid.parse_filters(params),
    )
    return await _answer(request, view)


async def lab_week(request: Request) -> Response:
    """Every machine of a lab against the seven days of a week."""
    params = request.query_params
    view = await grid.week_grid(
        await current_user(request),
        request.path_params["slug"],
        params.get("start", "")[:40],
        grid.parse_filters(params),
    )
    return await _answer(request, view)


routes = [
    Route("/labs/{slug}/day", lab_day, methods=["GET"]),
    Route("/labs/{slug}/week", lab_week, methods=["GET"]),
]
