"""HTML pages of mentor office hours: a programme's board (publish, book), one booking
(cancel, log the session) and the person's own bookings. Rules live in
`incubator.services.office_hours`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ecosystem.errors import DomainError
from ecosystem.i18n import _, ngettext
from ecosystem.inputs import path_id
from ecosystem.web import flash, read_form, redirect, require_user
from incubator.routes.common import confirm_first, form_values, render
from incubator.services import office_hours

PUBLISH_FIELDS = ("weekday", "start", "slot_minutes", "slots", "weeks", "first_day", "place")
DEFAULTS = {"start": "09:00", "slot_minutes": "30", "slots": "2", "weeks": "8"}


async def _board_page(request: Request, user, status: int = 200, **extra) -> Response:
    found = await office_hours.board(user, path_id(request, "programme_id"))
    context = {
        "board": found,
        "programme": found.programme,
        "slot_minutes": office_hours.SLOT_MINUTES,
        "errors": {},
        "values": {**DEFAULTS, "first_day": office_hours.local_today().isoformat()},
        "message": "",
        "form": "",
        **extra,
    }
    return await render(request, "incubator/office_hours/board.html", context, status)


async def board(request: Request) -> Response:
    user = await require_user(request)
    return await _board_page(request, user)


async def publish(request: Request) -> Response:
    user = await require_user(request)
    programme_id = path_id(request, "programme_id")
    values = form_values(await read_form(request), PUBLISH_FIELDS)
    try:
        await office_hours.publish(user, programme_id, values)
    except DomainError as exc:
        if not exc.fields:
            raise
        return await _board_page(
            request,
            user,
            exc.status_code,
            errors=exc.fields,
            values=values,
            message=exc.message,
            form="publish",
        )
    flash(request, _("Your office hours are published: founders can book them now."))
    return redirect(request, f"/incubator/programmes/{programme_id}/office-hours")


async def book(request: Request) -> Response:
    user = await require_user(request)
    values = form_values(await read_form(request), ("start", "startup_id", "topic", "programme"))
    series_id = path_id(request, "series_id")
    try:
        booking = await office_hours.book(user, series_id, values)
    except DomainError as exc:
        programme_id = values.get("programme", "")
        if not exc.fields or not programme_id.isdigit():
            raise
        request.path_params["programme_id"] = programme_id
        return await _board_page(request, user, exc.status_code, message=exc.message)
    flash(request, _("The slot is yours. The mentor has been told."))
    return redirect(request, f"/incubator/office-hours/bookings/{booking.id}")


async def skip(request: Request) -> Response:
    user = await require_user(request)
    values = form_values(await read_form(request), ("day",))
    series, cancelled = await office_hours.skip_day(
        user, path_id(request, "series_id"), values["day"]
    )
    flash(
        request,
        ngettext(
            "That day is left out. %(num)s booking was cancelled and its founders told.",
            "That day is left out. %(num)s bookings were cancelled and their founders told.",
            cancelled,
        ),
    )
    return redirect(request, f"/incubator/programmes/{series.programme_id}/office-hours")  # type: ignore[attr-defined]


async def withdraw(request: Request) -> Response:
    user = await require_user(request)
    series_id = path_id(request, "series_id")
    form = await read_form(request)
    programme_id = form.get("programme") if isinstance(form.get("programme"), str) else ""
    back = (
        f"/incubator/programmes/{programme_id}/office-hours"
        if str(programme_id).isdigit()
        else "/incubator/office-hours"
    )
    asked = await confirm_first(
        request,
        form,
        question=_(
            "Withdraw these office hours? Upcoming bookings are cancelled and their founders told."
        ),
        button=_("Withdraw"),
        cancel=back,
    )
    if asked is not None:
        return asked
    series, cancelled = await office_hours.withdraw(user, series_id)
    flash(
        request,
        ngettext(
            "Office hours withdrawn. %(num)s booking was cancelled and its founders told.",
            "Office hours withdrawn. %(num)s bookings were cancelled and their founders told.",
            cancelled,
        ),
    )
    return redirect(request, f"/incubator/programmes/{series.programme_id}/office-hours")  # type: ignore[attr-defined]


async def _booking_page(request: Request, user, status: int = 200, **extra) -> Response:
    view = await office_hours.booking_view(user, path_id(request, "booking_id"))
    context = {
        "view": view,
        "booking": view.booking,
        "errors": {},
        "values": {},
        "message": "",
        **extra,
    }
    return await render(request, "incubator/office_hours/booking.html", context, status)


async def booking_page(request: Request) -> Response:
    user = await require_user(request)
    return await _booking_page(request, user)


async def cancel(request: Request) -> Response:
    user = await require_user(request)
    booking_id = path_id(request, "booking_id")
    form = await read_form(request)
    view = await office_hours.booking_view(user, booking_id)
    asked = await confirm_first(
        request,
        form,
        question=_(
            "Cancel this meeting with %(other)s? They will get an e-mail.",
            other=view.booking.startup.name if view.mentor_side else view.booking.mentor.full_name,
        ),
        button=_("Cancel the meeting"),
        cancel=f"/incubator/office-hours/bookings/{booking_id}",
    )
    if asked is not None:
        return asked
    reason = form.get("reason")
    try:
        await office_hours.cancel(user, booking_id, reason if isinstance(reason, str) else "")
    except DomainError as exc:
        if not exc.fields:
            raise
        return await _booking_page(
            request, user, exc.status_code, message=exc.message, errors=exc.fields
        )
    flash(request, _("The meeting is cancelled and the other side has been told."))
    return redirect(request, f"/incubator/office-hours/bookings/{booking_id}")


async def log_session(request: Request) -> Response:
    user = await require_user(request)
    booking_id = path_id(request, "booking_id")
    values = form_values(await read_form(request), ("topics", "actions"))
    try:
        await office_hours.log_session(user, booking_id, values)
    except DomainError as exc:
        if not exc.fields:
            raise
        return await _booking_page(
            request, user, exc.status_code, message=exc.message, errors=exc.fields, values=values
        )
    flash(request, _("The session has been logged."))
    return redirect(request, f"/incubator/office-hours/bookings/{booking_id}")


async def mine(request: Request) -> Response:
    user = await require_user(request)
    found = await office_hours.my_bookings(user)
    return await render(request, "incubator/office_hours/mine.html", {"mine": found})


routes = [
    Route("/incubator/office-hours", mine, methods=["GET"]),
    Route("/incubator/programmes/{programme_id:int}/office-hours", board, methods=["GET"]),
    Route("/incubator/programmes/{programme_id:int}/office-hours", publish, methods=["POST"]),
    Route("/incubator/office-hours/{series_id:int}/book", book, methods=["POST"]),
    Route("/incubator/office-hours/{series_id:int}/skip", skip, methods=["POST"]),
    Route("/incubator/office-hours/{series_id:int}/withdraw", withdraw, methods=["POST"]),
    Route("/incubator/office-hours/bookings/{booking_id:int}", booking_page, methods=["GET"]),
    Route("/incubator/office-hours/bookings/{booking_id:int}/cancel", cancel, methods=["POST"]),
    Route(
        "/incubator/office-hours/bookings/{booking_id:int}/session", log_session, methods=["POST"]
    ),
]
