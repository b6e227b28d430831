"""HTML pages: trainings and certifications, the waitlist, and a lab's usage statistics."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ecosystem import tabular
from ecosystem.errors import DomainError, Invalid, NotFound
from ecosystem.i18n import _
from ecosystem.inputs import iso_date, iso_datetime, whole_number
from ecosystem.web import current_user, flash, form_text, read_form, redirect, render, require_user
from labs.labels import category_label
from labs.models import EquipmentCategory
from labs.services import texts, training, usage, waitlist
from labs.services.schedule import lab_timezone


def _local_datetime(raw: str, tz: ZoneInfo) -> datetime | None:
    """A `datetime-local` input value read in the lab's zone (None if empty or invalid)."""
    try:
        value = iso_datetime(raw)
    except ValueError:
        return None
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def _local_day(raw: str) -> date | None:
    try:
        return iso_date(raw)
    except ValueError:
        return None


def _int(raw: str) -> int | None:
    return whole_number(raw, 0, 99_999)


# --- staff: a lab's sessions ------------------------------------------------------------


async def _lab_page(request: Request, lab, values=None, errors=None, status_code=200) -> Response:
    user = await require_user(request)
    sessions = await training.lab_sessions(user, lab)
    context = {
        "lab": lab,
        "sessions": sessions,
        "values": values or {"content_locale": texts.default_locale()},
        "errors": errors or {},
        "categories": list(EquipmentCategory),
        "category_label": category_label,
    }
    return await render(request, "labs/training/lab_sessions.html", context, status_code)


async def lab_trainings(request: Request) -> Response:
    user = await require_user(request)
    lab = await training.get_lab(request.path_params["slug"])
    if request.method == "GET":
        return await _lab_page(request, lab)
    form = await read_form(request)
    tz = lab_timezone(lab)
    values = {
        name: form_text(form, name)
        for name in ("category", "title", "starts_at", "ends_at", "capacity")
    }
    titles = texts.form_texts(form, training.TITLE_LIMITS)
    values.update(titles)
    try:
        await training.create_session(
            user,
            lab,
            values["category"],
            values["title"],
            _local_datetime(values["starts_at"], tz),
            _local_datetime(values["ends_at"], tz),
            _int(values["capacity"]),
            titles=titles,
        )
    except Invalid as exc:
        return await _lab_page(request, lab, values, exc.fields, status_code=422)
    flash(request, _("Training session created."))
    return redirect(request, f"/labs/{lab.slug}/trainings")


async def attendance(request: Request) -> Response:
    user = await require_user(request)
    slug = request.path_params["slug"]
    form = await read_form(request)
    try:
        await training.mark_attendance(
            user, request.path_params["enrolment_id"], form_text(form, "attended") == "1"
        )
        flash(request, _("Attendance saved."))
    except Invalid as exc:
        flash(request, exc.message, "error")
    return redirect(request, f"/labs/{slug}/trainings")


async def certify(request: Request) -> Response:
    user = await require_user(request)
    lab = await training.get_lab(request.path_params["slug"])
    form = await read_form(request)
    day = _local_day(form_text(form, "expires_on"))
    expires_at = (
        datetime.combine(day + timedelta(days=1), time(0), tzinfo=lab_timezone(lab))
        if day
        else None
    )
    try:
        await training.grant_certification(user, request.path_params["enrolment_id"], expires_at)
        flash(request, _("Certification granted."))
    except Invalid as exc:
        flash(request, exc.message, "error")
    return redirect(request, f"/labs/{lab.slug}/trainings")


# --- everyone: upcoming sessions, places, certifications --------------------------------


async def upcoming(request: Request) -> Response:
    user = await current_user(request)
    sessions = await training.upcoming_sessions(user)
    return await render(
        request,
        "labs/training/upcoming.html",
        {"sessions": sessions, "category_label": category_label},
    )


async def enrol(request: Request) -> Response:
    user = await require_user(request)
    await read_form(request)
    try:
        await training.enrol(user, request.path_params["session_id"])
        flash(request, _("Your place is booked."))
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        flash(request, exc.message, "error")
    return redirect(request, "/trainings")


async def cancel_place(request: Request) -> Response:
    user = await require_user(request)
    await read_form(request)
    try:
        await training.cancel_enrolment(user, request.path_params["session_id"])
        flash(request, _("Your place is cancelled."))
    except Invalid as exc:
        flash(request, exc.message, "error")
    return redirect(request, "/trainings/mine")


async def mine(request: Request) -> Response:
    user = await require_user(request)
    context = {
        "certifications": await training.my_certifications(user),
        "enrolments": await training.my_enrolments(user),
        "category_label": category_label,
        "now": training.timezone.now(),
    }
    return await render(request, "labs/training/mine.html", context)


# --- the waitlist -----------------------------------------------------------------------


async def waitlist_page(request: Request) -> Response:
    user = await require_user(request)
    if request.method == "POST":
        form = await read_form(request)
        try:
            start = iso_datetime(form_text(form, "start"))
            end = iso_datetime(form_text(form, "end"))
        except ValueError:
            flash(request, _("Give a date and time with its UTC offset."), "error")
            return redirect(request, "/waitlist")
        try:
            await waitlist.join_waitlist(
                user,
                _int(form_text(form, "equipment_id")) or 0,
                start,
                end,
                form_text(form, "purpose"),
            )
            flash(request, _("You are on the waitlist: we will email you if the slot frees."))
        except DomainError as exc:
            flash(request, exc.message, "error")
        return redirect(request, "/waitlist")
    entries = await waitlist.my_entries(user)
    return await render(request, "labs/training/waitlist.html", {"entries": entries})


async def waitlist_action(request: Request) -> Response:
    user = await require_user(request)
    await read_form(request)
    entry_id = request.path_params["entry_id"]
    try:
        action = request.path_params["action"]
        if action == "accept":
            await waitlist.accept_offer(user, entry_id)
            flash(request, _("The slot is yours: see it in your bookings."))
        elif action != "leave":
            raise NotFound(_("This page does not exist."))
        else:
            await waitlist.leave_waitlist(user, entry_id)
            flash(request, _("You have left the waitlist."))
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        flash(request, exc.message, "error")
    return redirect(request, "/waitlist")


# --- staff: usage statistics ------------------------------------------------------------


def _period(request: Request, lab) -> tuple[date, date]:
    today = datetime.now(lab_timezone(lab)).date()
    first = _local_day(request.query_params.get("from", "")) or today - timedelta(days=30)
    last = _local_day(request.query_params.get("to", "")) or today
    if last < first:
        first, last = last, first
    return first, min(last, first + timedelta(days=366))


async def usage_page(request: Request) -> Response:
    user = await require_user(request)
    lab = await training.get_lab(request.path_params["slug"])
    first, last = _period(request, lab)
    report = await usage.lab_usage(user, lab, first, last)
    context = {
        "lab": lab,
        "report": report,
        "first": first,
        "last": last,
        "category_label": category_label,
        "chart": usage.chart_bars(report),
    }
    return await render(request, "labs/training/usage.html", context)


async def usage_table(request: Request) -> Response:
    """The usage report as CSV or .xlsx (`/labs/{slug}/usage.csv`, `usage.xlsx`)."""
    user = await require_user(request)
    lab = await training.get_lab(request.path_params["slug"])
    first, last = _period(request, lab)
    report = await usage.lab_usage(user, lab, first, last)
    name = f"usage-{lab.slug}-{first.isoformat()}-{last.isoformat()}"
    return tabular.download(usage.to_table(report), name, request.path_params["format"])


routes = [
    Route("/labs/{slug}/trainings", lab_trainings, methods=["GET", "POST"]),
    Route(
        "/labs/{slug}/trainings/enrolments/{enrolment_id:int}/attendance",
        attendance,
        methods=["POST"],
    ),
    Route(
        "/labs/{slug}/trainings/enrolments/{enrolment_id:int}/certify", certify, methods=["POST"]
    ),
    Route("/labs/{slug}/usage", usage_page, methods=["GET"]),
    Route("/labs/{slug}/usage.{format:tabular}", usage_table, methods=["GET"]),
    Route("/trainings", upcoming, methods=["GET"]),
    Route("/trainings/mine", mine, methods=["GET"]),
    Route("/trainings/{session_id:int}/enrol", enrol, methods=["POST"]),
    Route("/trainings/{session_id:int}/cancel", cancel_place, methods=["POST"]),
    Route("/waitlist", waitlist_page, methods=["GET", "POST"]),
    Route("/waitlist/{entry_id:int}/{action:str}", waitlist_action, methods=["POST"]),
]
