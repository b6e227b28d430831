"""The public catalogue: labs, equipment, a machine's free and busy time, free-machine search.

Every function runs a constant number of queries whatever the number of labs, machines or
bookings: relations are prefetched, and a window's bookings are loaded in one query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise import timezone

from ecosystem.errors import Invalid
from ecosystem.i18n import _
from ecosystem.models import User
from labs import permissions
from labs.availability import availability
from labs.intervals import Interval, covers, normalize, subtract
from labs.models import (
    ACTIVE_BOOKING_STATUSES,
    Blackout,
    Booking,
    Equipment,
    EquipmentCategory,
    EquipmentStatus,
    Lab,
)
from labs.schemas import MAX_WINDOW_DAYS
from labs.services import schedule
from labs.services.facts import get_bookable_equipment


def checked_window(start: datetime, end: datetime, names: tuple[str, str] = ("from", "to")):
    """A query window: aware, non-empty, at most MAX_WINDOW_DAYS long (else 422)."""
    if end <= start:
        message = _("The end of the window must be after its start.")
        raise Invalid(message, fields={names[1]: message})
    if end - start > timedelta(days=MAX_WINDOW_DAYS):
        message = _("Ask for at most %(n)d days at a time.", n=MAX_WINDOW_DAYS)
        raise Invalid(message, fields={names[1]: message}, code="window_too_long")
    return schedule.utc_window(start, end)


async def list_labs() -> list[Lab]:
    """Published labs with host organisation (and its spheres), hours and photos."""
    return (
        await Lab.filter(**permissions.public_labs())
        .select_related("organisation")
        .prefetch_related("organisation__spheres", "opening_hours", "photos")
        .order_by("name", "id")
    )


@dataclass
class EquipmentPage:
    items: list[Equipment]
    total: int


async def list_equipment(
    lab_id: int | None = None,
    category: EquipmentCategory | None = None,
    free_from: datetime | None = None,
    free_to: datetime | None = None,
    page: int = 1,
    page_size: int = 200,
) -> EquipmentPage:
    """Machines of published labs, by lab and category, with their rates.

    With a window (`free_from` and `free_to`, both or neither): only machines in service,
    open for the whole window, with no blackout and no active booking in it.
    """
    if (free_from is None) != (free_to is None):
        message = _("Give both free_from and free_to, or neither.")
        raise Invalid(message, fields={"free_to" if free_to is None else "free_from": message})
    query = Equipment.filter(**permissions.public_labs("lab__"))
    if lab_id is not None:
        query = query.filter(lab_id=lab_id)
    if category is not None:
        query = query.filter(category=category)
    if free_from is None or free_to is None:
        total = await query.count()
        items = (
            await query.select_related("lab")
            .prefetch_related("rates")
            .order_by("lab_id", "name", "id")
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
        return EquipmentPage(items, total)
    window = checked_window(free_from, free_to, ("free_from", "free_to"))
    candidates = await (
        query.filter(status=EquipmentStatus.AVAILABLE)
        .select_related("lab")
        .prefetch_related("rates")
        .order_by("lab_id", "name", "id")
    )
    free = await _free_for_window(candidates, window)
    start = (page - 1) * page_size
    return EquipmentPage(free[start : start + page_size], len(free))


async def _free_for_window(candidates: list[Equipment], window: Interval) -> list[Equipment]:
    """The candidates bookable for the whole window (four queries for any number)."""
    if not candidates:
        return []
    ids = [machine.id for machine in candidates]
    lab_ids = {machine.lab_id for machine in candidates}  # type: ignore[attr-defined]
    busy = set(
        await Booking.filter(
            equipment_id__in=ids,
            status__in=list(ACTIVE_BOOKING_STATUSES),
            starts_at__lt=window.end,
            ends_at__gt=window.start,
        )
        .distinct()
        .values_list("equipment_id", flat=True)
    )
    blacked_out = set(
        await Blackout.filter(
            equipment_id__in=ids, starts_at__lt=window.end, ends_at__gt=window.start
        )
        .distinct()
        .values_list("equipment_id", flat=True)
    )
    hours = await schedule.weekly_hours(lab_ids)
    closures = await schedule.closed_days(lab_ids, window)
    open_labs: dict[int, bool] = {}
    for machine in candidates:
        lab = machine.lab
        if lab.id not in open_labs:
            opened = schedule.open_time(hours[lab.id], closures.get(lab.id, []), lab, window)
            open_labs[lab.id] = covers(opened, window)
    return [
        machine
        for machine in candidates
        if open_labs[machine.lab.id] and machine.id not in busy and machine.id not in blacked_out
    ]


@dataclass
class Availability:
    equipment: Equipment
    window: Interval
    free: list[Interval]
    busy: list[Interval]


async def machine_availability(
    actor: User | None, equipment_id: int, start: datetime, end: datetime
) -> Availability:
    """Free and busy time of one machine in a window of at most MAX_WINDOW_DAYS.

    Free time is open time from now on, without blackouts and bookings (none while the
    machine is out of service); busy time is the merged active bookings, anonymous. Three
    queries whatever the number of bookings.
    """
    window = checked_window(start, end)
    equipment = await get_bookable_equipment(actor, equipment_id)
    open_time = await schedule.lab_open_time(equipment.lab, window, cached=True)
    taken = await schedule.machine_taken(equipment.id, window)
    free, busy = availability(open_time, taken.blackouts, taken.busy, window)
    now = timezone.now()
    if equipment.status != EquipmentStatus.AVAILABLE:
        free = []
    elif window.start < now:
        free = subtract(free, [Interval(window.start, now)])
    return Availability(equipment, window, normalize(free), busy)
