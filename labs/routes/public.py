"""HTML pages: the public side of the lab network and a member's own bookings."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tortoise import timezone

from ecosystem.errors import DomainError, Invalid, NotFound
from ecosystem.i18n import _
from ecosystem.restapi import client_ip
from ecosystem.settings import get_settings
from ecosystem.web import (
    current_user,
    flash,
    form_text,
    is_htmx,
    read_form,
    redirect,
    render,
    require_user,
)
from labs.models import EquipmentCategory, LabKind
from labs.services import bookings, browse, calendar, checkin

KIND_LABELS = {
    LabKind.FABLAB.value: "FabLab",
    LabKind.TECHLAB.value: "TechLab",
    LabKind.LIVING_LAB.value: "Living Lab",
}
CATEGORY_LABELS = {
    "3d_printer": "3D printer",
    "laser_cutter": "Laser cutter",
    "cnc": "CNC machine",
    "pcb_mill": "PCB mill",
    "electronics_bench": "Electronics bench",
    "biotech_instrument": "Biotech instrument",
    "test_bed": "Test bed",
    "other": "Other",
}
STATUS_LABELS = {
    "available": "Available",
    "maintenance": "Under maintenance",
    "retired": "Retired",
    "pending": "Waiting for approval",
    "confirmed": "Confirmed",
    "cancelled": "Cancelled",
    "declined": "Declined",
    "no_show": "No-show",
    "completed": "Completed",
}
PART_LABELS = {"morning": "Morning", "afternoon": "Afternoon", "evening": "Evening"}
WEEKDAY_LABELS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _labels() -> dict:
    """Label mappings for the templates (msgids; templates translate them with `_()`)."""
    return {
        "kind_labels": KIND_LABELS,
        "category_labels": CATEGORY_LABELS,
        "status_labels": STATUS_LABELS,
        "part_labels": PART_LABELS,
        "weekday_labels": WEEKDAY_LABELS,
    }


def _int_param(request: Request, name: str) -> int:
    raw = request.path_params[name]
    if not str(raw).isdigit() or int(raw) > 2**31 - 1:
        raise NotFound(_("This page does not exist."))
    return int(raw)


# --- the network --------------------------------------------------------------------------


async def labs_index(request: Request) -> Response:
    kind = request.query_params.get("kind", "")
    if kind not in KIND_LABELS:
        kind = ""
    labs = await browse.list_labs(kind)
    context = {"labs": labs, "kind": kind, **_labels()}
    return await render(request, "labs/public/labs.html", context)


async def lab_detail(request: Request) -> Response:
    user = await current_user(request)
    page = await browse.lab_page(user, request.path_params["slug"])
    context = {"page": page, "lab": page.lab, **_labels()}
    return await render(request, "labs/public/lab.html", context)


async def search(request: Request) -> Response:
    params = {key: request.query_params.get(key, "")[:40] for key in browse.SEARCH_PARAMS}
    today = timezone.now().astimezone(browse.DEFAULT_TZ).date()
    errors: dict[str, str] = {}
    hits = None
    status = 200
    if params["category"] or params["day"] or params["part"] or params["from"]:
        try:
            query = browse.parse_search(params, today)
            hits = await browse.search_free(query)
        except Invalid as exc:
            errors, status = exc.fields, exc.status_code
    context = {
        "values": {**params, "day": params["day"] or today.isoformat()},
        "errors": errors,
        "hits": hits,
        "categories": list(EquipmentCategory),
        "parts": list(browse.PARTS_OF_DAY),
        **_labels(),
    }
    fragment = is_htmx(request) and request.headers.get("HX-History-Restore-Request") != "true"
    template = "labs/public/_search_results.html" if fragment else "labs/public/search.html"
    response = await render(request, template, context, status)
    response.headers["Vary"] = "HX-Request, HX-History-Restore-Request, Cookie"
    return response


# --- a machine ----------------------------------------------------------------------------


async def _week_context(request: Request, equipment_id: int) -> dict:
    user = await current_user(request)
    view = await browse.week_view(user, equipment_id, request.query_params.get("start", ""))
    return {"view": view, "equipment": view.equipment, "lab": view.equipment.lab}


async def equipment_detail(request: Request) -> Response:
    equipment_id = _int_param(request, "equipment_id")
    user = await current_user(request)
    page = await browse.machine_page(user, equipment_id)
    context = {
        "page": page,
        **await _week_context(request, equipment_id),
        **_labels(),
    }
    return await render(request, "labs/public/equipment.html", context)


async def equipment_week(request: Request) -> Response:
    equipment_id = _int_param(request, "equipment_id")
    context = {**await _week_context(request, equipment_id), **_labels()}
    fragment = is_htmx(request) and request.headers.get("HX-History-Restore-Request") != "true"
    if not fragment:  # a plain link: the whole machine page at that week
        return await equipment_detail(request)
    response = await render(request, "labs/public/_week.html", context)
    response.headers["Vary"] = "HX-Request, HX-History-Restore-Request, Cookie"
    return response


async def _render_booking_form(
    request: Request, equipment_id: int, start: str, end: str, extra: dict, status: int = 200
) -> Response:
    user = await current_user(request)
    choice = await browse.slot_choice(user, equipment_id, start, end)
    context = {
        "choice": choice,
        "equipment": choice.equipment,
        "lab": choice.equipment.lab,
        "values": {"purpose": "", **extra.get("values", {})},
        "errors": extra.get("errors", {}),
        "message": extra.get("message", ""),
        **_labels(),
    }
    template = "labs/public/_booking_form.html" if is_htmx(request) else "labs/public/book.html"
    return await render(request, template, context, status)


async def booking_form(request: Request) -> Response:
    equipment_id = _int_param(request, "equipment_id")
    if request.method == "GET":
        await require_user(request)
        params = request.query_params
        return await _render_booking_form(
            request, equipment_id, params.get("start", ""), params.get("end", ""), {}
        )
    user = await require_user(request)
    form = await read_form(request)
    start_raw, end_raw = form_text(form, "start"), form_text(form, "end")
    purpose = form_text(form, "purpose")
    try:
        start = browse.parse_moment(start_raw, "start")
        end = browse.parse_moment(end_raw, "end")
        booking = await bookings.create_booking(user, equipment_id, start, end, purpose)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        extra = {"values": {"purpose": purpose}, "errors": exc.fields, "message": exc.message}
        return await _render_booking_form(
            request, equipment_id, start_raw, end_raw, extra, exc.status_code
        )
    if booking.status == "pending":
        flash(request, _("Your booking is waiting for the lab staff's approval."))
    else:
        flash(request, _("Your booking is confirmed."))
    return redirect(request, "/bookings")


# --- my bookings --------------------------------------------------------------------------


async def my_bookings(request: Request) -> Response:
    user = await require_user(request)
    found = await bookings.list_bookings(user, page_size=200)
    now = timezone.now()
    upcoming = sorted((b for b in found if b.ends_at > now), key=lambda b: (b.starts_at, b.id))
    past = [b for b in found if b.ends_at <= now]
    context = {
        "upcoming": upcoming,
        "past": past,
        "now": now,
        "deadline": bookings.cancellable_until,
        **_labels(),
    }
    return await render(request, "labs/public/bookings.html", context)


async def cancel(request: Request) -> Response:
    user = await require_user(request)
    booking_id = _int_param(request, "booking_id")
    await read_form(request)
    try:
        booking = await bookings.cancel_booking(user, booking_id, ip=client_ip(request))
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        flash(request, exc.message, "error")
        return redirect(request, "/bookings")
    if is_htmx(request):
        context = {
            "booking": booking,
            "now": timezone.now(),
            "deadline": bookings.cancellable_until,
            **_labels(),
        }
        return await render(request, "labs/public/_booking_row.html", context)
    flash(request, _("The booking has been cancelled."))
    return redirect(request, "/bookings")


# --- calendar feed ------------------------------------------------------------------------


async def calendar_page(request: Request) -> Response:
    user = await require_user(request)
    feed_url = ""
    if request.method == "POST":
        form = await read_form(request)
        if form_text(form, "action") == "delete":
            await calendar.delete_feed(user)
            flash(request, _("Your calendar feed has been turned off."))
            return redirect(request, "/bookings/calendar")
        token = await calendar.regenerate_feed(user)
        feed_url = f"{get_settings().base_url}/calendar/{token}.ics"
    context = {"has_feed": await calendar.has_feed(user), "feed_url": feed_url}
    response = await render(request, "labs/public/calendar.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response


async def calendar_feed(request: Request) -> Response:
    found = await calendar.feed_bookings(request.path_params["token"])
    return Response(
        calendar.to_ical(found),
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )


async def check_in_qr(request: Request) -> Response:
    user = await require_user(request)
    svg = await checkin.check_in_qr(user, _int_param(request, "booking_id"))
    headers = {"Cache-Control": "private, max-age=3600"}
    return Response(svg, media_type="image/svg+xml", headers=headers)


routes = [
    Route("/labs", labs_index, methods=["GET"]),
    Route("/labs/search", search, methods=["GET"]),
    Route("/labs/{slug}", lab_detail, methods=["GET"]),
    Route("/equipment/{equipment_id}", equipment_detail, methods=["GET"]),
    Route("/equipment/{equipment_id}/week", equipment_week, methods=["GET"]),
    Route("/equipment/{equipment_id}/book", booking_form, methods=["GET", "POST"]),
    Route("/bookings", my_bookings, methods=["GET"]),
    Route("/bookings/calendar", calendar_page, methods=["GET", "POST"]),
    Route("/bookings/{booking_id}/cancel", cancel, methods=["POST"]),
    Route("/bookings/{booking_id}/qr.svg", check_in_qr, methods=["GET"]),
    Route("/calendar/{token}.ics", calendar_feed, methods=["GET"], name="labs_calendar_feed"),
]
