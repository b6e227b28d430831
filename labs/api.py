"""The lab network's JSON API under /api/v1 (tools depend on these shapes exactly).

Every route needs a bearer token, like the rest of /api/v1 (people browse without an account
on the HTML pages).
Times are returned in the lab's time zone with their offset.
"""

from __future__ import annotations

from datetime import datetime, time, tzinfo
from typing import Any

from pydantic import RootModel
from starlette.requests import Request
from starlette.responses import Response
from tortoise import timezone

from ecosystem.content import texts_of, tr
from ecosystem.i18n import _
from ecosystem.inputs import path_id
from ecosystem.payments.models import Payment
from ecosystem.payments.schemas import PaymentOut, payment_out
from ecosystem.restapi import api_route, api_user, client_ip, json_body, json_response
from ecosystem.schemas import organisation_summary
from labs.intervals import Interval
from labs.models import Booking, BookingStatus, Equipment, Lab
from labs.schemas import (
    AvailabilityOut,
    AvailabilityQuery,
    BookingEquipmentOut,
    BookingIn,
    BookingListOut,
    BookingOut,
    BookingRulesOut,
    BookingsQuery,
    EquipmentListOut,
    EquipmentOut,
    EquipmentQuery,
    IntervalOut,
    LabListOut,
    LabOut,
    OpeningHoursOut,
    PhotoOut,
    PriceOut,
    RateOut,
    RescheduleIn,
    SearchHitOut,
    SearchOut,
    SearchQuery,
    parse,
)
from labs.services import bookings, browse, catalogue, facts, reschedule
from labs.services import payments as booking_payments
from labs.services.schedule import lab_timezone


class JsonObject(RootModel[dict[str, Any]]):
    """Any JSON object: read first, then validated with labs.schemas.parse."""


def _hhmm(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


TEXT_FIELDS = ("name", "description")


def _texts(obj: Lab | Equipment) -> dict[str, dict[str, str]]:
    """{locale: {field: text}} of every language the object's texts exist in."""
    found: dict[str, dict[str, str]] = {}
    for field in TEXT_FIELDS:
        for locale, text in texts_of(obj, field).items():
            found.setdefault(locale, {})[field] = text
    return found


def lab_out(lab: Lab) -> LabOut:
    return LabOut(
        id=lab.id,
        slug=lab.slug,
        name=tr(lab, "name"),
        kind=lab.kind,
        organisation=organisation_summary(lab.organisation),
        description=tr(lab, "description"),
        address=lab.address,
        contact_email=lab.contact_email,
        contact_phone=lab.contact_phone,
        timezone=lab.timezone,
        opening_hours=[
            OpeningHoursOut(weekday=h.weekday, opens=_hhmm(h.opens), closes=_hhmm(h.closes))
            for h in sorted(lab.opening_hours, key=lambda h: (h.weekday, h.opens_minute))
        ],
        photos=[
            PhotoOut(url=f"/media/{photo.media_id}/thumb.webp", caption=photo.caption)  # type: ignore[attr-defined]
            for photo in sorted(lab.photos, key=lambda p: (p.position, p.id))
            if photo.equipment_id is None  # type: ignore[attr-defined]
        ],
        content_locale=lab.content_locale,
        translations=_texts(lab),
    )


def equipment_out(equipment: Equipment) -> EquipmentOut:
    rules = facts.rules_of(equipment)
    return EquipmentOut(
        id=equipment.id,
        name=tr(equipment, "name"),
        category=equipment.category,
        lab_id=equipment.lab_id,  # type: ignore[attr-defined]
        requires_training=equipment.requires_training,
        status=equipment.status,
        description=tr(equipment, "description"),
        specifications=equipment.specifications or {},
        rules=BookingRulesOut(
            slot_step_minutes=rules.slot_step_minutes,
            min_minutes=rules.min_minutes,
            max_minutes=rules.max_minutes,
            notice_minutes=rules.notice_minutes,
            horizon_days=rules.horizon_days,
            weekly_quota_minutes=rules.weekly_quota_minutes,
            cancellation_deadline_hours=rules.cancellation_deadline_hours,
            requires_approval=rules.requires_approval,
        ),
        rates=[
            RateOut(category=r.category, rate_per_hour=r.rate_per_hour, currency=r.currency)
            for r in sorted(equipment.rates, key=lambda r: (r.rate_per_hour, r.category))
        ],
        content_locale=equipment.content_locale,
        translations=_texts(equipment),
    )


def _local(value: datetime, tz: tzinfo) -> datetime:
    return value.astimezone(tz)


def _intervals(intervals: list[Interval], tz: tzinfo) -> list[IntervalOut]:
    return [IntervalOut(start=_local(i.start, tz), end=_local(i.end, tz)) for i in intervals]


def booking_out(booking: Booking) -> BookingOut:
    equipment = booking.equipment
    tz = lab_timezone(equipment.lab)
    until = bookings.cancellable_until(booking)
    return BookingOut(
        id=booking.id,
        status=booking.status,
        start=_local(booking.starts_at, tz),
        end=_local(booking.ends_at, tz),
        price=PriceOut(
            amount=booking.price_amount,
            currency=booking.price_currency,
            category=booking.price_category,
        ),
        equipment_id=equipment.id,
        equipment=BookingEquipmentOut(
            id=equipment.id,
            name=tr(equipment, "name"),
            category=equipment.category,
            lab_id=equipment.lab_id,  # type: ignore[attr-defined]
        ),
        purpose=booking.purpose,
        check_in_code=booking.check_in_code,
        cancellable_until=_local(until, tz) if until else None,
        created_at=_local(booking.created_at, tz),
        payment=_payment(booking),
        checkout_url=_checkout_url(booking),
    )


def _payment(booking: Booking) -> PaymentOut | None:
    payment = booking.payment
    if not isinstance(payment, Payment):  # free, or not fetched
        return None
    return payment_out(payment, list(getattr(payment, "_api_refunds", [])))


def _checkout_url(booking: Booking) -> str | None:
    payment = _payment(booking)
    if booking.status != BookingStatus.PENDING_PAYMENT or payment is None:
        return None
    return payment.checkout_url


# --- handlers ----------------------------------------------------------------------------


async def list_labs(request: Request) -> Response:
    await api_user(request)
    labs = await catalogue.list_labs()
    return json_response(LabListOut(items=[lab_out(lab) for lab in labs]))


async def list_equipment(request: Request) -> Response:
    await api_user(request)
    query = parse(EquipmentQuery, dict(request.query_params))
    found = await catalogue.list_equipment(
        lab_id=query.lab,
        category=query.category,
        free_from=query.free_from,
        free_to=query.free_to,
        page=query.page,
        page_size=query.page_size,
    )
    return json_response(
        EquipmentListOut(
            items=[equipment_out(machine) for machine in found.items],
            total=found.total,
            page=query.page,
            page_size=query.page_size,
        )
    )


async def equipment_availability(request: Request) -> Response:
    actor = await api_user(request)
    query = parse(AvailabilityQuery, dict(request.query_params))
    found = await catalogue.machine_availability(
        actor, path_id(request, "equipment_id", _("No such machine.")), query.start, query.end
    )
    tz = lab_timezone(found.equipment.lab)
    answer = AvailabilityOut(
        equipment_id=found.equipment.id,
        timezone=found.equipment.lab.timezone,
        start=_local(found.window.start, tz),
        end=_local(found.window.end, tz),
        free=_intervals(found.free, tz),
        busy=_intervals(found.busy, tz),
    )
    # The same JSON as `json_response`, serialised by pydantic-core in one step (a hot read).
    return Response(answer.model_dump_json(), media_type="application/json")


async def search_equipment(request: Request) -> Response:
    await api_user(request)
    params = dict(request.query_params)
    query = parse(SearchQuery, params)
    raw = {key: str(params.get(key, ""))[:40] for key in browse.SEARCH_PARAMS}
    if query.part is None and (query.start is None or query.end is None):
        raw["from"] = raw["to"] = ""  # one end alone: the whole day, as on the search page
    today = timezone.now().astimezone(browse.DEFAULT_TZ).date()
    search = browse.parse_search(raw, today)
    found = await browse.search_page(search, query.after, browse.SEARCH_PAGE_SIZE)
    return json_response(
        SearchOut(items=[_search_hit(hit) for hit in found.hits], next_after=found.after)
    )


def _search_hit(hit: browse.SearchHit) -> SearchHitOut:
    machine, lab = hit.equipment, hit.equipment.lab
    tz = lab_timezone(lab)
    return SearchHitOut(
        equipment_id=machine.id,
        equipment_name=tr(machine, "name"),
        category=machine.category,
        lab_id=lab.id,
        lab_name=tr(lab, "name"),
        lab_slug=lab.slug,
        timezone=lab.timezone,
        start=_local(hit.start, tz),
        end=_local(hit.end, tz),
    )


async def create_booking(request: Request) -> Response:
    user = await api_user(request)
    body = await json_body(request, JsonObject)  # 400 for malformed JSON, 413 if too large
    booking_in = parse(BookingIn, body.root)
    booking = await bookings.create_booking(
        user,
        booking_in.equipment_id,
        booking_in.start,
        booking_in.end,
        booking_in.purpose,
        payer=booking_in.payer,
        organisation_id=booking_in.organisation_id,
    )
    return json_response(booking_out(booking), status_code=201)


def _booking_id(request: Request) -> int:
    return path_id(request, "booking_id", _("No such booking."))


async def get_booking(request: Request) -> Response:
    user = await api_user(request)
    booking = await booking_payments.booking_for(user, _booking_id(request))
    return json_response(booking_out(booking))


async def list_bookings(request: Request) -> Response:
    user = await api_user(request)
    query = parse(BookingsQuery, dict(request.query_params))
    found = await bookings.list_bookings(
        user, query.status, query.upcoming, query.page, query.page_size
    )
    await booking_payments.attach_payments(found)
    return json_response(BookingListOut(items=[booking_out(b) for b in found]))


async def cancel_booking(request: Request) -> Response:
    user = await api_user(request)
    booking = await bookings.cancel_booking(user, _booking_id(request), ip=client_ip(request))
    booking = await booking_payments.booking_for(user, booking.id)
    return json_response(booking_out(booking))


async def reschedule_booking(request: Request) -> Response:
    user = await api_user(request)
    body = await json_body(request, JsonObject)
    move = parse(RescheduleIn, body.root)
    booking = await reschedule.reschedule_booking(
        user, _booking_id(request), move.start, move.end, ip=client_ip(request)
    )
    return json_response(booking_out(booking))


routes = [
    api_route(
        "GET",
        "/labs",
        list_labs,
        "The network's labs with host organisation, opening hours and photos",
        LabListOut,
        errors=(),
        tags=("labs",),
    ),
    api_route(
        "GET",
        "/equipment",
        list_equipment,
        "Machines by lab and category, optionally only those free for a whole window",
        EquipmentListOut,
        query=EquipmentQuery,
        errors=(422,),
        tags=("labs",),
    ),
    api_route(
        "GET",
        "/equipment/{equipment_id:int}/availability",
        equipment_availability,
        "Free and busy time of one machine (at most 31 days; who booked is not shown)",
        AvailabilityOut,
        query=AvailabilityQuery,
        errors=(404, 422),
        tags=("labs",),
    ),
    api_route(
        "GET",
        "/search",
        search_equipment,
        "Machines of the whole network with a free slot of the duration on a day, first slot "
        "each, 50 per page (cursor: after)",
        SearchOut,
        query=SearchQuery,
        errors=(422,),
        tags=("labs",),
    ),
    api_route(
        "POST",
        "/bookings",
        create_booking,
        "Book a machine (409 conflict if taken, 403 training_required, 422 names the rule)",
        BookingOut,
        status_code=201,
        body=BookingIn,
        errors=(400, 403, 404, 409, 413, 422),
        tags=("bookings",),
    ),
    api_route(
        "GET",
        "/bookings",
        list_bookings,
        "The caller's bookings",
        BookingListOut,
        query=BookingsQuery,
        errors=(422,),
        tags=("bookings",),
    ),
    api_route(
        "GET",
        "/bookings/{booking_id:int}",
        get_booking,
        "One booking with its payment state (its owner and the lab's staff)",
        BookingOut,
        errors=(404,),
        tags=("bookings",),
    ),
    api_route(
        "POST",
        "/bookings/{booking_id:int}/cancel",
        cancel_booking,
        "Cancel a booking (its owner before the deadline, the lab's staff any time)",
        BookingOut,
        errors=(404, 409, 422),
        tags=("bookings",),
    ),
    api_route(
        "POST",
        "/bookings/{booking_id:int}/reschedule",
        reschedule_booking,
        "Move a booking to another slot of the same machine, within its rules",
        BookingOut,
        body=RescheduleIn,
        errors=(400, 404, 409, 413, 422),
        tags=("bookings",),
    ),
]
