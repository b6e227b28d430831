"""HTML pages: one lab's grid of machines against the time of a day or a week.

One URL serves the page and, for an htmx request, the grid fragment alone (`#lab-grid`), so
navigation and filters swap the grid in place while `hx-push-url` keeps the address, Back,
reload and sharing truthful. Rules live in `labs.services.grid`.

A big lab's grid shows one category at a time: the category a person picks there is kept in
a cookie scoped to that lab's addresses, so their next visit opens on it.
"""

from __future__ import annotations

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ecosystem import cache
from ecosystem.errors import DomainError, NotFound
from ecosystem.i18n import get_locale
from ecosystem.settings import get_settings
from ecosystem.templating import render_text
from ecosystem.web import (
    current_user,
    form_text,
    is_htmx,
    read_form,
    redirect,
    render,
    require_user,
)
from labs.routes.public import CATEGORY_LABELS, STATUS_LABELS
from labs.services import basket, grid
from labs.services import payments as booking_payments

VARY = "HX-Request, HX-History-Restore-Request, Cookie"
CACHE_SECONDS = 300
CATEGORY_COOKIE = "lab_grid_category"  # scoped to /labs/<slug>: the last category picked there
CATEGORY_COOKIE_SECONDS = 180 * 24 * 3600


def _filters(request: Request) -> grid.Filters:
    return grid.parse_filters(request.query_params, request.cookies.get(CATEGORY_COOKIE, ""))


def _remember_category(request: Request, response: Response, view: grid.LabGrid) -> None:
    """Keep the category a person picked in a big lab's grid for their next visit there."""
    asked = request.query_params.get("category", "")
    if not view.paging.by_category or asked != view.filters.category:
        return
    if request.cookies.get(CATEGORY_COOKIE) == asked:
        return
    response.set_cookie(
        CATEGORY_COOKIE,
        asked,
        max_age=CATEGORY_COOKIE_SECONDS,
        path=f"/labs/{view.lab.slug}",
        samesite="lax",
        httponly=True,
        secure=get_settings().secure_cookies,
    )


def _fragment(request: Request) -> bool:
    return is_htmx(request) and request.headers.get("HX-History-Restore-Request") != "true"


async def _answer(
    request: Request, inputs: grid.GridInputs, extra: dict | None = None, status: int = 200
) -> Response:
    """The page or the htmx fragment; the table is rendered once per distinct input and
    cached under its fingerprint (`grid.GridInputs`), unless ticks must be kept."""
    view = grid.frame(inputs)
    context = {
        "view": view,
        "lab": view.lab,
        "category_labels": CATEGORY_LABELS,
        "ticked": set(),
        "carried": [],
        "message": "",
        "purpose": "",
        **(extra or {}),
    }

    async def render_table(table: grid.LabGrid | None = None) -> str:
        table = table or grid.build(inputs)
        return render_text("labs/grid/_grid_table.html", {**context, "view": table})

    if context["ticked"]:
        table = grid.build(inputs)
        context["carried"] = grid.carried_ticks(context["ticked"], table)
        context["table_html"] = Markup(await render_table(table))
    else:
        key = f"labs.grid:{inputs.fingerprint(get_locale())}"
        context["table_html"] = Markup(await cache.remember_text(key, CACHE_SECONDS, render_table))
    template = "labs/grid/_grid.html" if _fragment(request) else "labs/grid/page.html"
    response = await render(request, template, context, status)
    response.headers["Vary"] = VARY
    _remember_category(request, response, view)
    return response


async def lab_day(request: Request) -> Response:
    """Every machine of a lab against the slots of one day; the basket's ticks and purpose
    come along when a person moves between pages and categories of the day."""
    params = request.query_params
    inputs = await grid.day_inputs(
        await current_user(request),
        request.path_params["slug"],
        params.get("date", "")[:40],
        _filters(request),
    )
    ticked = set(basket.ticks_of(params.getlist("slot")))
    purpose = params.get("purpose", "")[:500]
    extra = {"ticked": ticked, "purpose": purpose} if inputs.viewer and ticked else None
    return await _answer(request, inputs, extra)


async def lab_week(request: Request) -> Response:
    """Every machine of a lab against the seven days of a week."""
    params = request.query_params
    inputs = await grid.week_inputs(
        await current_user(request),
        request.path_params["slug"],
        params.get("start", "")[:40],
        _filters(request),
    )
    return await _answer(request, inputs)


async def book_basket(request: Request) -> Response:
    """Book the ticked cells of a day together (all or nothing), or show the day again with
    the slot refused, why, and every tick kept."""
    user = await require_user(request)
    slug = request.path_params["slug"]
    form = await read_form(request)
    ticked = basket.ticks_of(form.getlist("slot"))
    purpose = form_text(form, "purpose")
    payer, organisation_id = booking_payments.parse_payer(form_text(form, "payer"))
    try:
        slots = basket.parse_slots(ticked)
        result = await basket.book_basket(user, slug, slots, purpose, payer, organisation_id)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        filters = grid.parse_filters(
            {key: form_text(form, key) for key in ("category", "certified", "page")}
        )
        inputs = await grid.day_inputs(user, slug, form_text(form, "date")[:40], filters)
        extra = {"ticked": set(ticked), "message": exc.message, "purpose": purpose}
        return await _answer(request, inputs, extra, exc.status_code)
    if result.checkout_url and result.payment is not None:
        return redirect(request, f"/payments/{result.payment.id}")
    ids = ",".join(str(booking.id) for booking in result.bookings)
    return redirect(request, f"/labs/{slug}/basket?ids={ids}")


async def basket_done(request: Request) -> Response:
    """The one confirmation page of a basket: what was booked and what happens next."""
    user = await require_user(request)
    ids = basket.parse_ids(request.query_params.get("ids", "")[:400])
    result = await basket.basket_of(user, request.path_params["slug"], ids)
    context = {
        "result": result,
        "lab": result.lab,
        "status_labels": STATUS_LABELS,
        "total": sum(b.price_amount for b in result.bookings),
        "back_url": f"/labs/{result.lab.slug}/day?date={basket.first_day(result)}",
    }
    return await render(request, "labs/grid/basket.html", context)


routes = [
    Route("/labs/{slug}/basket", book_basket, methods=["POST"]),
    Route("/labs/{slug}/basket", basket_done, methods=["GET"]),
    Route("/labs/{slug}/day", lab_day, methods=["GET"]),
    Route("/labs/{slug}/week", lab_week, methods=["GET"]),
]
