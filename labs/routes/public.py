"""HTML pages: the public side of the lab network and a member's own bookings."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tortoise import timezone

from ecosystem import cache
from ecosystem.errors import DomainError, Invalid, NotFound
from ecosystem.i18n import _, format_money, format_number, get_locale
from ecosystem.inputs import iso_datetime, path_id, whole_number
from ecosystem.labels import N_, humanise, label_in
from ecosystem.restapi import client_ip
from ecosystem.templating import render_text
from ecosystem.web import (
    current_user,
    fingerprint_of,
    flash,
    form_text,
    is_htmx,
    read_form,
    redirect,
    render,
    render_public,
    require_user,
    site_url,
)
from labs.intervals import resolve_local
from labs.labels import CATEGORY_LABELS, category_label
from labs.models import Booking, Equipment, EquipmentCategory, LabKind
from labs.services import bookings, browse, calendar, checkin, photos
from labs.services import payments as booking_payments
from labs.services.reschedule import reschedule_booking
from labs.services.staff import choice_label

KIND_LABELS = {
    LabKind.FABLAB.value: "FabLab",
    LabKind.TECHLAB.value: "TechLab",
    LabKind.LIVING_LAB.value: "Living Lab",
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
    "pending_payment": N_("Waiting for payment"),
}
PAYMENT_STATE_LABELS = {
    "pending": N_("Payment due"),
    "expired": N_("Not paid in time"),
    "void": N_("Payment cancelled"),
    "billed": N_("Billed to the organisation"),
    "paid": N_("Paid"),
    "partially_refunded": N_("Partly refunded"),
    "refunded": N_("Refunded"),
}
PART_LABELS = {"morning": N_("Morning"), "afternoon": N_("Afternoon"), "evening": N_("Evening")}
# Specification keys staff commonly use (stored as typed); an unknown key is shown readable.
SPEC_LABELS = {
    "build_volume_mm": N_("Build volume (mm)"),
    "bed_mm": N_("Bed size (mm)"),
    "bed_size_mm": N_("Bed size (mm)"),
    "work_area_mm": N_("Work area (mm)"),
    "nozzle_mm": N_("Nozzle (mm)"),
    "min_trace_mm": N_("Smallest trace (mm)"),
    "power_w": N_("Power (W)"),
    "laser_power_w": N_("Laser power (W)"),
    "dual_extrusion": N_("Dual extrusion"),
}


def spec_label(key: str) -> str:
    """The translated name of a specification key; an unknown key with spaces for "_"."""
    return label_in(SPEC_LABELS, key) if key in SPEC_LABELS else humanise(key)


def spec_value(value: object) -> str:
    """A specification's value as people read it: numbers in their locale, yes/no, lists."""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, int | float):
        return format_number(value)
    if isinstance(value, list | tuple):
        return " × ".join(spec_value(item) for item in value)
    return str(value)


def _labels() -> dict:
    """Label mappings for the templates (msgids; templates translate them with `_()`)."""
    return {
        "kind_labels": KIND_LABELS,
        "category_labels": CATEGORY_LABELS,
        "status_labels": STATUS_LABELS,
        "part_labels": PART_LABELS,
        "spec_label": spec_label,
        "spec_value": spec_value,
        "payment_state_labels": PAYMENT_STATE_LABELS,
        "price_category_label": choice_label,
        "category_label": category_label,
    }


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
    after = None
    status = 200
    if params["category"] or params["day"] or params["part"] or params["from"]:
        try:
            query = browse.parse_search(params, today)
            found = await browse.search_page(
                query, browse.parse_after(params["after"]), browse.SEARCH_PAGE_SIZE
            )
            hits, after = found.hits, found.after
        except Invalid as exc:
            errors, status = exc.fields, exc.status_code
    context = {
        "values": {**params, "day": params["day"] or today.isoformat()},
        "errors": errors,
        "hits": hits,
        "next_query": _next_query(params, after),
        "categories": list(EquipmentCategory),
        "parts": list(browse.PARTS_OF_DAY),
        **_labels(),
    }
    fragment = is_htmx(request) and request.headers.get("HX-History-Restore-Request") != "true"
    template = "labs/public/_search_results.html" if fragment else "labs/public/search.html"
    response = await render(request, template, context, status)
    response.headers["Vary"] = "HX-Request, HX-History-Restore-Request, Cookie"
    return response


def _next_query(params: dict[str, str], after: int | None) -> str:
    """The query string of the next page of search results ("" on the last page)."""
    if after is None:
        return ""
    return urlencode({**{k: v for k, v in params.items() if v}, "after": str(after)})


# --- a machine ----------------------------------------------------------------------------


WEEK_CACHE_SECONDS = 300


async def _week_context(
    request: Request, equipment_id: int, equipment: Equipment | None = None
) -> dict:
    """The machine, its lab and its week grid rendered once per distinct input.

    The rendered grid is cached under the fingerprint of what it is computed from (see
    `browse.WeekInputs`), so a repeated view costs the six reads and no computation; that
    key comes along as `week_key` (it names everything the grid shows).
    """
    user = await current_user(request)
    start = request.query_params.get("start", "")
    inputs = await browse.week_inputs(user, equipment_id, start, equipment)
    equipment = inputs.equipment
    context = {"equipment": equipment, "lab": equipment.lab}

    async def render_week() -> str:
        view = browse.week_from_inputs(inputs)
        return render_text("labs/public/_week.html", {**context, "view": view})

    key = f"labs.week:{inputs.fingerprint(get_locale())}"
    html = await cache.remember_text(key, WEEK_CACHE_SECONDS, render_week)
    return {**context, "week_html": Markup(html), "week_key": key}


async def equipment_detail(request: Request) -> Response:
    equipment_id = path_id(request, "equipment_id")
    user = await current_user(request)
    page = await browse.machine_page(user, equipment_id)
    week = await _week_context(request, equipment_id, page.equipment)
    shown = await photos.photos_of(page.equipment.lab, page.equipment.id)
    context = {"page": page, "photos": shown, **week, **_labels()}
    if user is None:  # the most viewed page: built once per what an anonymous visitor sees
        seen = fingerprint_of(page, shown, week["week_key"])  # the grid is the key's
        return await render_public(request, "labs/public/equipment.html", context, seen)
    return await render(request, "labs/public/equipment.html", context)


async def equipment_week(request: Request) -> Response:
    equipment_id = path_id(request, "equipment_id")
    fragment = is_htmx(request) and request.headers.get("HX-History-Restore-Request") != "true"
    if not fragment:  # a plain link: the whole machine page at that week
        return await equipment_detail(request)
    context = await _week_context(request, equipment_id)
    response = await render(request, "labs/public/_week_cached.html", context)
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
        "training": await browse.next_training(choice.equipment.category.value)
        if extra.get("code") == "training_required"
        else None,
        "pay": await booking_payments.payment_options(user, choice.equipment),
        **_labels(),
    }
    template = "labs/public/_booking_form.html" if is_htmx(request) else "labs/public/book.html"
    return await render(request, template, context, status)


async def booking_form(request: Request) -> Response:
    equipment_id = path_id(request, "equipment_id")
    if request.method == "GET":
        await require_user(request)
        params = request.query_params
        # The form asks again when "Ends" changes (htmx): what was typed comes along.
        extra = {"values": {"purpose": params.get("purpose", "")[:500]}}
        return await _render_booking_form(
            request, equipment_id, params.get("start", ""), params.get("end", ""), extra
        )
    user = await require_user(request)
    form = await read_form(request)
    start_raw, end_raw = form_text(form, "start"), form_text(form, "end")
    purpose = form_text(form, "purpose")
    payer, organisation_id = booking_payments.parse_payer(form_text(form, "payer"))
    try:
        start = browse.parse_moment(start_raw, "start")
        end = browse.parse_moment(end_raw, "end")
        booking = await bookings.create_booking(
            user, equipment_id, start, end, purpose, payer, organisation_id
        )
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        extra = {
            "values": {"purpose": purpose},
            "errors": exc.fields,
            "message": exc.message,
            "code": exc.code,
        }
        return await _render_booking_form(
            request, equipment_id, start_raw, end_raw, extra, exc.status_code
        )
    if getattr(booking, "checkout_url", ""):
        # A hold: the payment page links to Stripe's (a form may not redirect off-site under
        # the CSP's form-action 'self'); the webhook confirms the booking.
        return redirect(request, f"/payments/{booking.payment_id}")  # type: ignore[attr-defined]
    flash(request, outcome_message(bookings.outcome_of(booking)))
    return redirect(request, "/bookings")


def outcome_message(outcome: bookings.Outcome) -> str:
    """The sentence that says what happened to a booking request (the service decided)."""
    due = format_money(outcome.due, outcome.currency) if outcome.due else ""
    if outcome.kind == "waiting_for_payment":
        return _("Your slot is held until your payment of %(amount)s arrives.", amount=due)
    if outcome.kind == "pending_approval":
        if outcome.pay == "at_lab":
            return _(
                "Your booking is waiting for the lab staff's approval. If they approve it, "
                "you pay %(amount)s at the lab.",
                amount=due,
            )
        return _("Your booking is waiting for the lab staff's approval.")
    if outcome.pay == "at_lab":
        return _("Your booking is confirmed. Pay %(amount)s at the lab when you come.", amount=due)
    if outcome.pay == "statement":
        return _(
            "Your booking is confirmed. %(amount)s goes on your organisation's statement.",
            amount=due,
        )
    if outcome.from_credit:
        return _(
            "Your booking is confirmed and paid: %(amount)s from your credit.",
            amount=format_money(outcome.from_credit, outcome.currency),
        )
    return _("Your booking is confirmed.")


async def waitlist_form(request: Request) -> Response:
    """ "Tell me if this frees up" on a busy slot: the form that joins the waitlist
    (POST /waitlist, which checks that the slot is busy and the person not waiting yet)."""
    await require_user(request)
    equipment_id = path_id(request, "equipment_id")
    params = request.query_params
    user = await current_user(request)
    choice = await browse.waitlist_choice(
        user, equipment_id, params.get("start", ""), params.get("end", "")
    )
    context = {"choice": choice, "equipment": choice.equipment, "lab": choice.equipment.lab}
    template = (
        "labs/public/_waitlist_form.html" if is_htmx(request) else "labs/public/waitlist_join.html"
    )
    response = await render(request, template, context)
    response.headers["Vary"] = "HX-Request, Cookie"
    return response


# --- my bookings --------------------------------------------------------------------------


async def my_bookings(request: Request) -> Response:
    """My bookings: upcoming or past, in one lab or all, 20 a page."""
    user = await require_user(request)
    params = request.query_params
    page = await bookings.my_bookings_page(
        user,
        params.get("when", "upcoming"),
        params.get("lab", "")[:200],
        whole_number(params.get("page", "1")[:6]) or 1,
    )
    context = {
        "page": page,
        "now": timezone.now(),
        "deadline": bookings.cancellable_until,
        **_labels(),
    }
    return await render(request, "labs/public/bookings.html", context)


async def _own_booking(user, booking_id: int) -> Booking:
    booking = await Booking.get_or_none(id=booking_id, user_id=user.id).select_related(
        "equipment__lab"
    )
    if booking is None:
        raise NotFound(_("No such booking."))
    return booking


def _local_input(moment: datetime, tz_name: str) -> str:
    """A datetime-local input's value: the lab's wall clock, to the minute."""
    return moment.astimezone(ZoneInfo(tz_name)).strftime("%Y-%m-%dT%H:%M")


def _parse_local(raw: str, name: str, tz_name: str) -> datetime:
    try:
        wall = iso_datetime(raw)
    except ValueError:
        wall = None
    if wall is None or wall.tzinfo is not None:
        message = _("Give a date and a time.")
        raise Invalid(message, fields={name: message})
    return resolve_local(wall.replace(second=0, microsecond=0), ZoneInfo(tz_name))


async def reschedule(request: Request) -> Response:
    """Move one of my bookings to another slot of the same machine (times in the lab's zone)."""
    user = await require_user(request)
    booking = await _own_booking(user, path_id(request, "booking_id"))
    lab = booking.equipment.lab
    values = {
        "start": _local_input(booking.starts_at, lab.timezone),
        "end": _local_input(booking.ends_at, lab.timezone),
    }
    errors, message, status = {}, "", 200
    if request.method == "POST":
        form = await read_form(request)
        values = {"start": form_text(form, "start"), "end": form_text(form, "end")}
        try:
            start = _parse_local(values["start"], "start", lab.timezone)
            end = _parse_local(values["end"], "end", lab.timezone)
            await reschedule_booking(user, booking.id, start, end, ip=client_ip(request))
        except DomainError as exc:
            if isinstance(exc, NotFound):
                raise
            errors, message, status = exc.fields, exc.message, exc.status_code
        else:
            flash(request, _("Your booking has been moved."))
            return redirect(request, "/bookings")
    context = {
        "booking": booking,
        "equipment": booking.equipment,
        "lab": lab,
        "values": values,
        "errors": errors,
        "message": message,
        **_labels(),
    }
    return await render(request, "labs/public/reschedule.html", context, status)


async def cancel(request: Request) -> Response:
    user = await require_user(request)
    booking_id = path_id(request, "booking_id")
    await read_form(request)
    try:
        booking = await bookings.cancel_booking(user, booking_id, ip=client_ip(request))
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        flash(request, exc.message, "error")
        return redirect(request, "/bookings")
    if is_htmx(request):
        await booking_payments.attach_payments([booking])
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
        feed_url = f"{site_url(request)}/calendar/{token}.ics"
    context = {
        "has_feed": await calendar.has_feed(user),
        "feed_url": feed_url,
        # webcal:// opens the person's calendar app, subscribed (not a one-off download).
        "webcal_url": "webcal://" + feed_url.split("://", 1)[1] if feed_url else "",
    }
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
    svg = await checkin.check_in_qr(user, path_id(request, "booking_id"), site_url(request))
    headers = {"Cache-Control": "private, max-age=3600"}
    return Response(svg, media_type="image/svg+xml", headers=headers)


routes = [
    Route("/labs", labs_index, methods=["GET"]),
    Route("/labs/search", search, methods=["GET"]),
    Route("/labs/{slug}", lab_detail, methods=["GET"]),
    Route("/equipment/{equipment_id}", equipment_detail, methods=["GET"]),
    Route("/equipment/{equipment_id}/week", equipment_week, methods=["GET"]),
    Route("/equipment/{equipment_id}/book", booking_form, methods=["GET", "POST"]),
    Route("/equipment/{equipment_id}/waitlist", waitlist_form, methods=["GET"]),
    Route("/bookings", my_bookings, methods=["GET"]),
    Route("/bookings/calendar", calendar_page, methods=["GET", "POST"]),
    Route("/bookings/{booking_id}/cancel", cancel, methods=["POST"]),
    Route("/bookings/{booking_id}/reschedule", reschedule, methods=["GET", "POST"]),
    Route("/bookings/{booking_id}/qr.svg", check_in_qr, methods=["GET"]),
    Route("/calendar/{token}.ics", calendar_feed, methods=["GET"], name="labs_calendar_feed"),
]
