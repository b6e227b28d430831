"""HTML pages: staff side of the lab network (parse, call labs.services.staff/checkin, render)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tortoise import timezone

from ecosystem.errors import Conflict, DomainError, Invalid, NotFound, NotPermitted
from ecosystem.i18n import _, weekday_names
from ecosystem.inputs import iso_date, path_id, whole_number
from ecosystem.permissions import ensure_verified_identity, is_verified_organisation
from ecosystem.web import flash, form_text, is_htmx, read_form, redirect, require_user
from ecosystem.web import render as _render
from labs import permissions
from labs.models import EquipmentCategory, EquipmentStatus, LabKind
from labs.services import checkin, disruptions, schedule, staff, texts

TEXT_FIELDS_LAB = (
    "name",
    "kind",
    "description",
    "address",
    "contact_email",
    "contact_phone",
    "timezone",
    "is_published",
    "slug",
    "organisation_id",
)


async def render(request: Request, template: str, context: dict, status_code: int = 200):
    """`ecosystem.web.render` with the labels of the lab's stored values."""
    return await _render(request, template, {"lbl": staff.choice_label, **context}, status_code)


def _values(form, names) -> dict:
    return {name: form_text(form, name) for name in names}


def _with_texts(form, names) -> dict:
    """`_values` and the language tabs of a lab's or a machine's form (`name__ko`, …)."""
    return {**_values(form, names), **texts.form_texts(form, staff.TEXT_LIMITS)}


def _lab_form_values(lab) -> dict:
    return {
        **staff.lab_texts_values(lab),
        "kind": lab.kind.value,
        "address": lab.address,
        "contact_email": lab.contact_email,
        "contact_phone": lab.contact_phone,
        "timezone": lab.timezone,
        "is_published": lab.is_published,
    }


def _common(**extra) -> dict:
    return {
        "kinds": list(LabKind),
        "categories": list(EquipmentCategory),
        "statuses": list(EquipmentStatus),
        "weekday_names": weekday_names(),
        "rate_categories": staff.RATE_CATEGORIES,
        "errors": {},
        **extra,
    }


# --- creating a lab and granting staff ----------------------------------------------------


async def new_lab(request: Request) -> Response:
    user = await require_user(request)
    ensure_verified_identity(user)
    hosts = await staff.creatable_hosts(user)
    if not hosts:
        raise NotPermitted(_("Only an admin of a verified organisation can create a lab."))
    # A pending host prepares a draft: the box starts unticked unless a host may publish.
    publishable = any(is_verified_organisation(host) for host in hosts)
    context = _common(
        hosts=hosts,
        values={
            **staff.lab_texts_values(None),
            "kind": "fablab",
            "timezone": "Asia/Ho_Chi_Minh",
            "is_published": publishable,
        },
    )
    if request.method == "GET":
        return await render(request, "labs/staff/lab_form.html", context)
    values = _with_texts(await read_form(request), TEXT_FIELDS_LAB)
    try:
        lab = await staff.create_lab(user, values)
    except DomainError as exc:
        context.update(values=values, errors=exc.fields, message=exc.message)
        return await render(request, "labs/staff/lab_form.html", context, exc.status_code)
    flash(request, _("The lab has been created. Add its machines and opening hours."))
    return redirect(request, f"/labs/{lab.slug}/manage")


async def staff_page(request: Request) -> Response:
    user = await require_user(request)
    lab = await staff.managed_lab(user, request.path_params["slug"], "lab.grant_staff")
    context = {"lab": lab, "values": {}, "errors": {}, "can_grant": True}
    status = 200
    if request.method == "POST":
        email = form_text(await read_form(request), "email")
        try:
            await staff.grant_staff(user, lab, email)
        except DomainError as exc:
            if not exc.fields:
                raise
            context.update(values={"email": email}, errors=exc.fields)
            status = exc.status_code
        else:
            flash(request, _("%(email)s is now staff of this lab.", email=email))
            return redirect(request, f"/labs/{lab.slug}/staff")
    context["staff"] = await staff.list_staff(user, lab)
    return await render(request, "labs/staff/staff.html", context, status)


async def remove_staff(request: Request) -> Response:
    user = await require_user(request)
    lab = await staff.managed_lab(user, request.path_params["slug"], "lab.grant_staff")
    await staff.revoke_staff(user, lab, path_id(request, "staff_id"))
    flash(request, _("The staff role has been withdrawn."))
    return redirect(request, f"/labs/{lab.slug}/staff")


# --- managing the lab ---------------------------------------------------------------------


async def _manage_render(request, user, lab, status=200, **extra) -> Response:
    view = await staff.manage_view(lab)
    context = _common(
        lab=lab,
        view=view,
        values=_lab_form_values(lab),
        hours=view.hours,
        closure={},
        can_grant=await permissions.allowed(user, "lab.grant_staff", lab),
    )
    context.update(extra)
    return await render(request, "labs/staff/manage.html", context, status)


async def manage(request: Request) -> Response:
    user = await require_user(request)
    lab = await staff.managed_lab(user, request.path_params["slug"])
    if request.method == "GET":
        return await _manage_render(request, user, lab)
    values = _with_texts(await read_form(request), TEXT_FIELDS_LAB)
    try:
        await staff.update_lab(user, lab, values)
    except DomainError as exc:
        lab = await staff.get_lab(lab.slug)  # unchanged
        return await _manage_render(
            request, user, lab, exc.status_code, values=values, errors=exc.fields, form="lab"
        )
    flash(request, _("The lab has been saved."))
    return redirect(request, f"/labs/{lab.slug}/manage")


async def save_hours(request: Request) -> Response:
    user = await require_user(request)
    lab = await staff.managed_lab(user, request.path_params["slug"])
    form = await read_form(request)
    values = {f"hours_{day}": form_text(form, f"hours_{day}") for day in staff.WEEKDAYS}
    try:
        await staff.set_opening_hours(user, lab, values)
    except DomainError as exc:
        return await _manage_render(
            request, user, lab, exc.status_code, hours=values, errors=exc.fields, form="hours"
        )
    flash(request, _("The opening hours have been saved."))
    return redirect(request, f"/labs/{lab.slug}/manage")


def _confirmation(form) -> tuple[list[int] | None, dict[int, str]]:
    """The bookings the staff confirmed (None: no confirmation step yet) and their choices."""
    if form_text(form, "confirm") != "1":
        return None, {}
    ids = [whole_number(raw) for raw in form.getlist("booking_ids")]
    if any(booking_id is None for booking_id in ids):
        raise Invalid(_("Choose one of the offered values."))
    confirmed = [booking_id for booking_id in ids if booking_id is not None]
    names = ["all", *(f"choice_{booking_id}" for booking_id in confirmed)]
    choices = disruptions.parse_choices({n: form_text(form, n) for n in names}, confirmed)
    return confirmed, choices


async def _disruption_step(request, lab, form, values, add, preview, action_url, back_url):
    """Add a blackout or closure; over active bookings, the confirmation page first (and again,
    with the reason, if the staff's choices are incomplete or the bookings changed)."""
    try:
        confirmed, choices = _confirmation(form)
        await add(confirmed, choices)
    except disruptions.BookingsAffected as exc:
        return await _disruption_render(request, lab, exc.plan, action_url, back_url)
    except DomainError as exc:
        if form_text(form, "confirm") != "1" or exc.status_code == 403:
            raise
        plan = await preview()  # the list as it is now, with what went wrong
        return await _disruption_render(
            request, lab, plan, action_url, back_url, exc.status_code, exc.message, exc.fields
        )
    return None


async def _disruption_render(
    request, lab, plan, action_url, back_url, status=200, message="", errors=None
) -> Response:
    context = {
        "lab": lab,
        "plan": plan,
        "action_url": action_url,
        "back_url": back_url,
        "message": message,
        "errors": errors or {},
        "search_days": disruptions.MOVE_SEARCH_DAYS,
    }
    return await render(request, "labs/staff/disruption.html", context, status)


async def add_closure(request: Request) -> Response:
    user = await require_user(request)
    lab = await staff.managed_lab(user, request.path_params["slug"])
    form = await read_form(request)
    values = _values(form, ("first_day", "last_day", "reason"))
    try:
        answer = await _disruption_step(
            request,
            lab,
            form,
            values,
            lambda ids, choices: staff.add_closure(user, lab, values, ids, choices),
            lambda: staff.preview_closure(user, lab, values),
            f"/labs/{lab.slug}/manage/closures",
            f"/labs/{lab.slug}/manage#closures",
        )
    except DomainError as exc:
        return await _manage_render(
            request, user, lab, exc.status_code, closure=values, errors=exc.fields, form="closure"
        )
    if answer is not None:
        return answer
    flash(request, _("The closure has been added."))
    return redirect(request, f"/labs/{lab.slug}/manage")


async def delete_closure(request: Request) -> Response:
    user = await require_user(request)
    lab = await staff.managed_lab(user, request.path_params["slug"])
    await staff.delete_closure(user, lab, path_id(request, "closure_id"))
    flash(request, _("The closure has been removed."))
    return redirect(request, f"/labs/{lab.slug}/manage")


EQUIPMENT_FIELDS = (
    "name",
    "category",
    "description",
    "specifications",
    "status",
    "requires_training",
    "requires_approval",
    *staff.RULE_FIELDS,
    *(f"rate_{code}" for code in staff.RATE_CATEGORIES),
)


async def _equipment_render(request, lab, equipment, values, errors=None, status=200, **extra):
    blackouts = []
    if equipment is not None:
        from labs.models import Blackout

        blackouts = await Blackout.filter(
            equipment_id=equipment.id, ends_at__gt=timezone.now()
        ).order_by("starts_at")
    context = _common(
        lab=lab,
        equipment=equipment,
        values=values,
        errors=errors or {},
        blackouts=blackouts,
        blackout={},
        **extra,
    )
    return await render(request, "labs/staff/equipment_form.html", context, status)


async def equipment_form(request: Request) -> Response:
    user = await require_user(request)
    lab = await staff.managed_lab(user, request.path_params["slug"])
    equipment = None
    if "equipment_id" in request.path_params:
        equipment = await staff.lab_equipment(lab, path_id(request, "equipment_id"))
    if request.method == "GET":
        return await _equipment_render(request, lab, equipment, staff.equipment_values(equipment))
    values = _with_texts(await read_form(request), EQUIPMENT_FIELDS)
    try:
        saved = await staff.save_equipment(user, lab, values, equipment)
    except DomainError as exc:
        if equipment is not None:
            equipment = await staff.lab_equipment(lab, equipment.id)
        return await _equipment_render(
            request, lab, equipment, values, exc.fields, exc.status_code, message=exc.message
        )
    flash(request, _("The machine has been saved."))
    return redirect(request, f"/labs/{lab.slug}/equipment/{saved.id}/edit")


async def add_blackout(request: Request) -> Response:
    user = await require_user(request)
    lab = await staff.managed_lab(user, request.path_params["slug"])
    equipment = await staff.lab_equipment(lab, path_id(request, "equipment_id"))
    form = await read_form(request)
    values = _values(form, ("starts_at", "ends_at", "reason"))
    edit_url = f"/labs/{lab.slug}/equipment/{equipment.id}/edit"
    try:
        answer = await _disruption_step(
            request,
            lab,
            form,
            values,
            lambda ids, choices: staff.add_blackout(user, lab, equipment, values, ids, choices),
            lambda: staff.preview_blackout(user, lab, equipment, values),
            f"/labs/{lab.slug}/equipment/{equipment.id}/blackouts",
            f"{edit_url}#blackouts",
        )
    except DomainError as exc:
        return await _equipment_render(
            request,
            lab,
            equipment,
            staff.equipment_values(equipment),
            exc.fields,
            exc.status_code,
            blackout_values=values,
        )
    if answer is not None:
        return answer
    flash(request, _("The maintenance blackout has been added."))
    return redirect(request, edit_url)


async def delete_blackout(request: Request) -> Response:
    user = await require_user(request)
    lab = await staff.managed_lab(user, request.path_params["slug"])
    equipment = await staff.lab_equipment(lab, path_id(request, "equipment_id"))
    await staff.delete_blackout(user, lab, path_id(request, "blackout_id"))
    flash(request, _("The blackout has been removed."))
    return redirect(request, f"/labs/{lab.slug}/equipment/{equipment.id}/edit")


# --- approvals ----------------------------------------------------------------------------


async def approvals(request: Request) -> Response:
    user = await require_user(request)
    lab = await staff.managed_lab(user, request.path_params["slug"], "lab.manage_bookings")
    pending = await staff.pending_bookings(user, lab)
    return await render(request, "labs/staff/approvals.html", {"lab": lab, "pending": pending})


async def decide(request: Request) -> Response:
    user = await require_user(request)
    lab = await staff.managed_lab(user, request.path_params["slug"], "lab.manage_bookings")
    booking_id = path_id(request, "booking_id")
    form = await read_form(request)
    action, reason = form_text(form, "action"), form_text(form, "reason")
    if action not in ("approve", "decline"):
        raise Invalid(_("Choose one of the offered values."))
    try:
        booking = await staff.decide_booking(user, lab, booking_id, action == "approve", reason)
    except DomainError as exc:
        if not exc.fields:
            raise
        pending = await staff.pending_bookings(user, lab)
        row = next((b for b in pending if b.id == booking_id), None)
        if row is None:
            raise
        context = {"lab": lab, "booking": row, "errors": exc.fields, "reason": reason}
        if is_htmx(request):
            return await render(request, "labs/staff/_approval_row.html", context, 422)
        context.update(pending=pending, row_errors={booking_id: exc.fields})
        return await render(request, "labs/staff/approvals.html", context, exc.status_code)
    if is_htmx(request):
        return await render(
            request, "labs/staff/_approval_row.html", {"lab": lab, "booking": booking}
        )
    flash(
        request,
        _("The booking has been approved.")
        if action == "approve"
        else _("The booking has been declined."),
    )
    return redirect(request, f"/labs/{lab.slug}/approvals")


# --- agenda and check-in ------------------------------------------------------------------


async def agenda(request: Request) -> Response:
    user = await require_user(request)
    lab = await staff.managed_lab(user, request.path_params["slug"], "lab.manage_bookings")
    tz = schedule.lab_timezone(lab)
    raw = request.query_params.get("day", "")
    try:
        day = iso_date(raw) if raw else timezone.now().astimezone(tz).date()
    except ValueError as exc:
        message = _("Enter a date as YYYY-MM-DD.")
        raise Invalid(message, fields={"day": message}) from exc
    rows = await staff.agenda(user, lab, day)
    from datetime import timedelta

    context = {
        "lab": lab,
        "rows": rows,
        "day": day,
        "previous": day - timedelta(days=1),
        "next": day + timedelta(days=1),
    }
    return await render(request, "labs/staff/agenda.html", context)


async def checkin_form(request: Request) -> Response:
    user = await require_user(request)
    lab = await staff.managed_lab(user, request.path_params["slug"], "lab.manage_bookings")
    context = {"lab": lab, "errors": {}, "code": ""}
    if request.method == "GET":
        return await render(request, "labs/staff/checkin_form.html", context)
    code = form_text(await read_form(request), "code")
    try:
        booking = await checkin.booking_by_code(user, code)
        if booking.equipment.lab_id != lab.id:  # type: ignore[attr-defined]
            raise NotFound(_("No booking has this check-in code."))
    except NotFound as exc:
        context.update(code=code, errors={"code": exc.message})
        return await render(request, "labs/staff/checkin_form.html", context, 404)
    return redirect(request, f"/labs/checkin/{booking.check_in_code}")


async def _booking_render(request, booking, status=200, **extra) -> Response:
    context = {
        "booking": booking,
        "lab": booking.equipment.lab,
        "can_check_in": checkin.can_check_in(booking),
        "extend_minutes": checkin.EXTEND_MINUTES,
        "window": checkin.check_in_window(booking),
        "now": timezone.now(),
        "errors": {},
        **extra,
    }
    template = "labs/staff/_booking_card.html" if is_htmx(request) else "labs/staff/booking.html"
    return await render(request, template, context, status)


async def booking_by_code(request: Request) -> Response:
    user = await require_user(request)
    booking = await checkin.booking_by_code(user, request.path_params["code"])
    if request.method == "GET":
        return await _booking_render(request, booking)
    form = await read_form(request)
    action = form_text(form, "action")
    try:
        if action == "check_in":
            await checkin.check_in(user, booking)
            message = _("Checked in.")
        elif action == "check_out":
            end_now = form_text(form, "end_now") == "1"
            await checkin.check_out(user, booking, form_text(form, "usage_note"), end_now)
            message = _("Checked out.")
        elif action == "extend":
            await checkin.extend(user, booking, form_text(form, "extend_minutes"))
            message = _("The booking has been extended.")
        elif action == "no_show":
            await checkin.mark_no_show(user, booking)
            message = _("Marked as a no-show.")
        else:
            raise Invalid(_("Choose one of the offered values."))
    except (Invalid, Conflict) as exc:
        return await _booking_render(
            request, booking, exc.status_code, message=exc.message, errors=exc.fields
        )
    if is_htmx(request):
        return await _booking_render(request, booking, notice=message)
    flash(request, message)
    return redirect(request, f"/labs/checkin/{booking.check_in_code}")


# --- recurring bookings -------------------------------------------------------------------

RECURRING_FIELDS = (
    "title",
    "first_date",
    "start_time",
    "duration_minutes",
    "until",
    "count",
    "frequency",
    "nth",
    "exceptions",
)


async def recurring(request: Request) -> Response:
    user = await require_user(request)
    lab = await staff.managed_lab(user, request.path_params["slug"], "lab.manage_bookings")
    equipment = await staff.lab_equipment(lab, path_id(request, "equipment_id"))
    context = _common(
        lab=lab,
        equipment=equipment,
        values={"weekdays": [], "frequency": "weekly"},
        plan=None,
        lab_tz=schedule.lab_timezone(lab),
        frequency_labels=staff.FREQUENCY_LABELS,
        nth_labels=staff.NTH_LABELS,
        skip_reason=staff.skip_reason,
    )
    if request.method == "GET":
        return await render(request, "labs/staff/recurring.html", context)
    form = await read_form(request)
    values: dict = _values(form, RECURRING_FIELDS)
    values["weekdays"] = [w for w in form.getlist("weekdays") if isinstance(w, str)]
    context["values"] = values
    try:
        if form_text(form, "action") == "create":
            series, created, skipped = await staff.create_recurring(user, lab, equipment, values)
            context.update(series=series, created=created, skipped=skipped)
            return await render(request, "labs/staff/recurring_done.html", context, 201)
        context["plan"] = await staff.plan_recurring(user, lab, equipment, values)
    except DomainError as exc:
        if exc.status_code == 403:
            raise
        context.update(errors=exc.fields, message=exc.message)
        return await render(request, "labs/staff/recurring.html", context, exc.status_code)
    return await render(request, "labs/staff/recurring.html", context)


async def series_page(request: Request) -> Response:
    user = await require_user(request)
    lab = await staff.managed_lab(user, request.path_params["slug"], "lab.manage_bookings")
    series_id = path_id(request, "series_id")
    series, bookings = await staff.get_series(user, lab, series_id)
    context = {"lab": lab, "series": series, "bookings": bookings, "errors": {}}
    context["values"] = {"scope": "all", "title": series.title}
    if request.method == "GET":
        return await render(request, "labs/staff/series.html", context)
    form = await read_form(request)
    values = _values(form, ("scope", "from_day", "title"))
    action = form_text(form, "action")
    try:
        if action == "cancel":
            count = await staff.cancel_series(user, lab, series_id, values)
            message = _("Bookings of the series cancelled: %(n)d.", n=count)
        elif action == "edit":
            count = await staff.edit_series(user, lab, series_id, values)
            message = _("Bookings of the series updated: %(n)d.", n=count)
        else:
            raise Invalid(_("Choose one of the offered values."))
    except DomainError as exc:
        if exc.status_code == 403:
            raise
        context.update(values=values, errors=exc.fields, message=exc.message)
        return await render(request, "labs/staff/series.html", context, exc.status_code)
    flash(request, message)
    return redirect(request, f"/labs/{lab.slug}/series/{series_id}")


WALK_IN_FIELDS = (
    "equipment_id",
    "person_id",
    "guest_name",
    "guest_phone",
    "starts_at",
    "ends_at",
    "purpose",
)


async def walk_in(request: Request) -> Response:
    """Book for someone at the desk: search an account of the lab's organisation (GET `q`) or
    write a guest's name, then book; the rules are the service's."""
    user = await require_user(request)
    lab = await staff.managed_lab(user, request.path_params["slug"], "lab.manage_bookings")
    machines = await staff.lab_machines(lab)
    query = request.query_params.get("q", "")[:100]
    context = {
        "lab": lab,
        "machines": machines,
        "q": query,
        "people": await staff.walk_in_people(user, lab, query),
        "values": {"equipment_id": request.query_params.get("equipment_id", "")},
        "errors": {},
    }
    if request.method == "GET":
        return await render(request, "labs/staff/walk_in.html", context)
    values = _values(await read_form(request), WALK_IN_FIELDS)
    try:
        equipment_id = whole_number(values["equipment_id"])
        if equipment_id is None:
            message = _("Choose one of the offered values.")
            raise Invalid(message, fields={"equipment_id": message})
        equipment = await staff.lab_equipment(lab, equipment_id)
        booking = await staff.book_walk_in(user, lab, equipment, values)
    except DomainError as exc:
        if exc.status_code == 403:
            raise
        context.update(values=values, errors=exc.fields, message=exc.message)
        return await render(request, "labs/staff/walk_in.html", context, exc.status_code)
    flash(request, _("The walk-in booking is confirmed."))
    return redirect(request, f"/labs/checkin/{booking.check_in_code}")


routes: list = [
    Route("/labs/new", new_lab, methods=["GET", "POST"]),
    Route("/labs/checkin/{code}", booking_by_code, methods=["GET", "POST"]),
    Route("/labs/{slug}/staff", staff_page, methods=["GET", "POST"]),
    Route("/labs/{slug}/staff/{staff_id:int}/remove", remove_staff, methods=["POST"]),
    Route("/labs/{slug}/manage", manage, methods=["GET", "POST"]),
    Route("/labs/{slug}/manage/hours", save_hours, methods=["POST"]),
    Route("/labs/{slug}/manage/closures", add_closure, methods=["POST"]),
    Route("/labs/{slug}/manage/closures/{closure_id:int}/delete", delete_closure, methods=["POST"]),
    Route("/labs/{slug}/equipment/new", equipment_form, methods=["GET", "POST"]),
    Route(
        "/labs/{slug}/equipment/{equipment_id:int}/edit", equipment_form, methods=["GET", "POST"]
    ),
    Route("/labs/{slug}/equipment/{equipment_id:int}/blackouts", add_blackout, methods=["POST"]),
    Route(
        "/labs/{slug}/equipment/{equipment_id:int}/blackouts/{blackout_id:int}/delete",
        delete_blackout,
        methods=["POST"],
    ),
    Route(
        "/labs/{slug}/equipment/{equipment_id:int}/recurring", recurring, methods=["GET", "POST"]
    ),
    Route("/labs/{slug}/series/{series_id:int}", series_page, methods=["GET", "POST"]),
    Route("/labs/{slug}/walk-in", walk_in, methods=["GET", "POST"]),
    Route("/labs/{slug}/approvals", approvals, methods=["GET"]),
    Route("/labs/{slug}/approvals/{booking_id:int}", decide, methods=["POST"]),
    Route("/labs/{slug}/agenda", agenda, methods=["GET"]),
    Route("/labs/{slug}/checkin", checkin_form, methods=["GET", "POST"]),
]
