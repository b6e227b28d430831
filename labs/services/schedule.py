"""Loading a lab's calendar from the database for the pure computations in labs.availability.

Each loader is one query whatever the window or the number of rows, so every caller (the
availability endpoint, the free-machine search, the booking service) runs a constant number
of queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ecosystem.i18n import DEFAULT_TIMEZONE
from labs.availability import ClosedDays, WeeklyHours, opening_intervals
from labs.intervals import Interval, as_utc
from labs.models import ACTIVE_BOOKING_STATUSES, Blackout, Booking, Closure, Lab, OpeningHours

_DAY = timedelta(days=1)


def lab_timezone(lab: Lab) -> ZoneInfo:
    """The lab's zone (the platform default if the stored name is unknown)."""
    try:
        return ZoneInfo(lab.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def utc_window(start: datetime, end: datetime) -> Interval:
    """`[start, end)` in UTC (ValueError if naive or empty)."""
    return Interval(as_utc(start, "start"), as_utc(end, "end"))


async def weekly_hours(lab_ids: Iterable[int]) -> dict[int, WeeklyHours]:
    """Opening hours of each lab: `{lab_id: {weekday: [(opens, closes), ...]}}` (one query)."""
    ids = list(set(lab_ids))
    result: dict[int, dict[int, list[tuple[time, time]]]] = {lab_id: {} for lab_id in ids}
    if not ids:
        return result  # type: ignore[return-value]
    rows = await OpeningHours.filter(lab_id__in=ids).order_by("weekday", "opens_minute")
    for row in rows:
        # A range no administrator can have meant is ignored rather than failing every page.
        if row.weekday not in range(7) or not 0 <= row.opens_minute < row.closes_minute <= 1440:
            continue
        day = result[row.lab_id].setdefault(row.weekday, [])  # type: ignore[attr-defined]
        day.append((row.opens, row.closes))
    return result  # type: ignore[return-value]


async def closed_days(lab_ids: Iterable[int], window: Interval) -> dict[int, list[ClosedDays]]:
    """Closures of each lab that may touch the window, in any zone (one query)."""
    ids = list(set(lab_ids))
    result: dict[int, list[ClosedDays]] = defaultdict(list)
    if not ids:
        return result
    # Local dates differ from UTC dates by less than a day in every zone.
    rows = await Closure.filter(
        lab_id__in=ids,
        first_day__lte=(window.end + _DAY).date(),
        last_day__gte=(window.start - _DAY).date(),
    )
    for row in rows:
        if row.last_day >= row.first_day:
            result[row.lab_id].append(ClosedDays(row.first_day, row.last_day))  # type: ignore[attr-defined]
    return result


def open_time(
    hours: WeeklyHours, closures: Iterable[ClosedDays], lab: Lab, window: Interval
) -> list[Interval]:
    """The lab's open time in the window, closures removed (UTC, normalised)."""
    return opening_intervals(hours, closures, lab_timezone(lab), window.start, window.end)


async def lab_open_time(lab: Lab, window: Interval) -> list[Interval]:
    """Open time of one lab in the window (two queries)."""
    hours = await weekly_hours([lab.id])
    closures = await closed_days([lab.id], window)
    return open_time(hours[lab.id], closures.get(lab.id, []), lab, window)


async def blackouts_of(equipment_id: int, window: Interval) -> list[Interval]:
    """The machine's blackouts overlapping the window (one query)."""
    rows = await Blackout.filter(
        equipment_id=equipment_id, starts_at__lt=window.end, ends_at__gt=window.start
    ).values_list("starts_at", "ends_at")
    return [Interval(start, end) for start, end in rows if start < end]


async def busy_of(equipment_id: int, window: Interval) -> list[Interval]:
    """Active bookings of the machine overlapping the window (one query, who booked omitted)."""
    rows = await Booking.filter(
        equipment_id=equipment_id,
        status__in=list(ACTIVE_BOOKING_STATUSES),
        starts_at__lt=window.end,
        ends_at__gt=window.start,
    ).values_list("starts_at", "ends_at")
    return [Interval(start, end) for start, end in rows]
