"""Loading a lab's calendar from the database for the pure computations in labs.availability.

Each loader is one query whatever the window or the number of rows, so every caller (the
availability endpoint, the free-machine search, the booking service) runs a constant number
of queries.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ecosystem import cache, rawsql
from ecosystem.i18n import DEFAULT_TIMEZONE
from labs.availability import ClosedDays, WeeklyHours, opening_intervals
from labs.intervals import Interval, as_utc
from labs.models import (
    ACTIVE_BOOKING_STATUSES,
    Closure,
    EquipmentRate,
    Lab,
    OpeningHours,
    minute_to_time,
)

_DAY = timedelta(days=1)
# No booking is longer (the services refuse it): bounds both ends of an overlap query so
# the (equipment_id, starts_at) index scans only the window, not a machine's whole future.
MAX_BOOKING_SPAN = timedelta(days=8)
CALENDAR_CACHE_SECONDS = 600


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


async def lab_open_time(lab: Lab, window: Interval, *, cached: bool = False) -> list[Interval]:
    """Open time of one lab in the window (two queries, none with `cached` on a hit).

    Pages and the availability API read the lab's calendar through the cache; the booking
    service reads the tables, so a rule is always checked against the committed hours.
    """
    if cached:
        return await _cached_open_time(lab, window)
    hours = await _hours_of_lab(lab.id)
    closures = await _closures_of_lab(lab.id, window)
    return open_time(hours, closures, lab, window)


# One lab's calendar, as `weekly_hours` and `closed_days` read it for many (plain SQL: every
# booking reads it, and the ORM's statement builder cost more than the two reads).
_HOURS_SQL = (
    "SELECT weekday, opens_minute, closes_minute FROM labs_opening_hours WHERE lab_id = ?"
    " ORDER BY weekday, opens_minute"
)
_CLOSURES_SQL = (
    "SELECT first_day, last_day FROM labs_closure WHERE lab_id = ? AND first_day <= ?"
    " AND last_day >= ?"
)


async def _hours_of_lab(lab_id: int) -> WeeklyHours:
    return _weekly_hours(await rawsql.fetch(_HOURS_SQL, (lab_id,)))


def _weekly_hours(rows: Iterable[Sequence]) -> WeeklyHours:
    """Rows (weekday, opens minute, closes minute) as `weekly_hours` reads them."""
    result: dict[int, list[tuple[time, time]]] = {}
    for weekday, opens, closes in rows:
        if weekday not in range(7) or not 0 <= opens < closes <= 1440:
            continue  # as in `weekly_hours`
        result.setdefault(weekday, []).append((minute_to_time(opens), minute_to_time(closes)))
    return result  # type: ignore[return-value]


def _closure_params(lab_id: int, window: Interval) -> tuple:
    return (lab_id, (window.end + _DAY).date(), (window.start - _DAY).date())


async def _closures_of_lab(lab_id: int, window: Interval) -> list[ClosedDays]:
    return _closed_days(await rawsql.fetch(_CLOSURES_SQL, _closure_params(lab_id, window)))


def _closed_days(rows: Iterable[Sequence]) -> list[ClosedDays]:
    closures = []
    for first, last in rows:
        first, last = _as_date(first), _as_date(last)
        if last >= first:
            closures.append(ClosedDays(first, last))
    return closures


def _as_date(value: date | str) -> date:
    """A date column read by `rawsql.fetch` (SQLite returns ISO text)."""
    return date.fromisoformat(value) if isinstance(value, str) else value


# Computed open time by (cached calendar text, zone, window): the text is the calendar
# itself, so an entry can never be stale, only unused. Bounded: cleared when full.
_open_time_memo: dict[tuple[str, str, Interval], tuple[Interval, ...]] = {}
OPEN_TIME_MEMO_SIZE = 512


async def _cached_open_time(lab: Lab, window: Interval) -> list[Interval]:
    calendar = await _cached_calendar(lab.id)
    key = (calendar, lab.timezone, window)
    found = _open_time_memo.get(key)
    if found is None:
        hours, closures = _parse_calendar(calendar)
        found = tuple(open_time(hours, closures, lab, window))
        if len(_open_time_memo) >= OPEN_TIME_MEMO_SIZE:
            _open_time_memo.clear()
        _open_time_memo[key] = found
    return list(found)


def _calendar_family(lab_id: int) -> str:
    return f"labs.calendar:{lab_id}"


async def calendar_changed(lab_id: int) -> None:
    """Call after a change of a lab's hours or closures commits (the cached copy goes)."""
    await cache.invalidate(_calendar_family(lab_id))


async def _cached_calendar(lab_id: int) -> str:
    """The lab's weekly hours and closures as JSON text, from the cache."""

    async def load() -> str:
        hours = (await weekly_hours([lab_id]))[lab_id]
        closures = await Closure.filter(lab_id=lab_id).values_list("first_day", "last_day")
        calendar = {
            "hours": {
                str(day): [[opens.isoformat(), closes.isoformat()] for opens, closes in ranges]
                for day, ranges in sorted(hours.items())
            },
            "closures": [[a.isoformat(), b.isoformat()] for a, b in sorted(closures) if b >= a],
        }
        return json.dumps(calendar, separators=(",", ":"))

    family = _calendar_family(lab_id)
    key = f"{family}:{await cache.generation(family)}"
    return await cache.remember_text(key, CALENDAR_CACHE_SECONDS, load)


def _parse_calendar(text: str) -> tuple[WeeklyHours, list[ClosedDays]]:
    stored = json.loads(text)
    hours = {
        int(day): [(time.fromisoformat(a), time.fromisoformat(b)) for a, b in ranges]
        for day, ranges in stored["hours"].items()
    }
    closures = [
        ClosedDays(date.fromisoformat(a), date.fromisoformat(b)) for a, b in stored["closures"]
    ]
    return hours, closures  # type: ignore[return-value]


# Overlap with a window; active bookings also bounded below by MAX_BOOKING_SPAN.
_BLACKOUT_OVERLAP = "starts_at < ? AND ends_at > ?"
_BUSY_OVERLAP = (
    f"status IN ({', '.join('?' * len(ACTIVE_BOOKING_STATUSES))})"
    " AND starts_at < ? AND starts_at > ? AND ends_at > ?"
)
_BLACKOUTS_SQL = (
    f"SELECT starts_at, ends_at FROM labs_blackout WHERE equipment_id = ? AND {_BLACKOUT_OVERLAP}"
)
_BLACKOUTS_MANY_SQL = (
    f"SELECT equipment_id, starts_at, ends_at FROM labs_blackout WHERE {_BLACKOUT_OVERLAP}"
)
_BUSY_MANY_SQL = f"SELECT equipment_id, starts_at, ends_at FROM labs_booking WHERE {_BUSY_OVERLAP}"


def _blackout_params(window: Interval) -> tuple:
    return (window.end, window.start)


def _busy_params(window: Interval) -> tuple:
    statuses = (status.value for status in ACTIVE_BOOKING_STATUSES)
    return (*statuses, window.end, window.start - MAX_BOOKING_SPAN, window.start)


def _interval(start: datetime | str, end: datetime | str) -> Interval | None:
    """A row's span (None when empty)."""
    start, end = rawsql.as_datetime(start), rawsql.as_datetime(end)
    return Interval(start, end) if start < end else None


async def blackouts_of(equipment_id: int, window: Interval) -> list[Interval]:
    """The machine's blackouts overlapping the window (one query, plain SQL: a hot read)."""
    rows = await rawsql.fetch(_BLACKOUTS_SQL, (equipment_id, *_blackout_params(window)))
    return [span for start, end in rows if (span := _interval(start, end))]


# What the booking service reads of a machine around a window: the lab's opening hours and
# closures, the machine's blackouts and its rates (the price of its time), from the tables in
# one statement (four reads made four round trips per booking). Typed NULLs keep each
# column's type on PostgreSQL; rates come cheapest first, as `prices.equipment_rates` gives.
_MACHINE_CALENDAR_SQL = (
    "SELECT 0, weekday, opens_minute, closes_minute, CAST(NULL AS date), CAST(NULL AS date),"
    " CAST(NULL AS timestamptz), CAST(NULL AS timestamptz), CAST(NULL AS varchar),"
    " CAST(NULL AS varchar) FROM labs_opening_hours WHERE lab_id = ?"
    " UNION ALL SELECT 1, NULL, NULL, NULL, first_day, last_day, NULL, NULL, NULL, NULL"
    " FROM labs_closure WHERE lab_id = ? AND first_day <= ? AND last_day >= ?"
    " UNION ALL SELECT 2, NULL, NULL, NULL, NULL, NULL, starts_at, ends_at, NULL, NULL"
    f" FROM labs_blackout WHERE equipment_id = ? AND {_BLACKOUT_OVERLAP}"
    " UNION ALL SELECT 3, rate_per_hour, id, NULL, NULL, NULL, NULL, NULL, category, currency"
    " FROM labs_equipment_rate WHERE equipment_id = ?"
    " ORDER BY 1, 2, 3"
)


@dataclass(frozen=True)
class MachineCalendar:
    """A machine's time around a window, with what it costs."""

    open_time: list[Interval]  # the lab's open time in the window (`lab_open_time`)
    blackouts: list[Interval]  # the machine's blackouts overlapping it (`blackouts_of`)
    rates: list[EquipmentRate]  # its rates, cheapest first (`prices.equipment_rates`)


async def machine_calendar(lab: Lab, equipment_id: int, window: Interval) -> MachineCalendar:
    """The lab's open time in the window, the machine's blackouts overlapping it and its
    rates, read in one statement: what `lab_open_time` (uncached), `blackouts_of` and
    `prices.equipment_rates` give."""
    params = (
        *(lab.id, *_closure_params(lab.id, window)),
        *(equipment_id, *_blackout_params(window), equipment_id),
    )
    rows: tuple[list, list, list, list] = ([], [], [], [])  # hours, closures, blackouts, rates
    for kind, *values in await rawsql.fetch(_MACHINE_CALENDAR_SQL, params):
        rows[kind].append(values)
    hours = _weekly_hours(row[:3] for row in rows[0])
    closures = _closed_days(row[3:5] for row in rows[1])
    blackouts = [span for row in rows[2] if (span := _interval(row[5], row[6]))]
    rates = [
        EquipmentRate(
            id=rate_id,
            equipment_id=equipment_id,
            category=category,
            rate_per_hour=rate,
            currency=currency,
        )
        for rate, rate_id, *_none, category, currency in rows[3]
    ]
    return MachineCalendar(open_time(hours, closures, lab, window), blackouts, rates)


# A machine's blackouts and active bookings (with their booker) around a window, in one
# statement: the week grid, the availability API, a staff series and the earliest-end lookup
# read both.
_TAKEN_SQL = (
    "SELECT 0, starts_at, ends_at, CAST(NULL AS integer) FROM labs_blackout"
    f" WHERE equipment_id = ? AND {_BLACKOUT_OVERLAP}"
    " UNION ALL SELECT 1, starts_at, ends_at, user_id FROM labs_booking"
    f" WHERE equipment_id = ? AND {_BUSY_OVERLAP}"
)


@dataclass(frozen=True)
class Taken:
    """A machine's time that is not free in a window: blackouts, active bookings (busy) and
    the part of those bookings that is one person's own (`mine`, empty without a person)."""

    blackouts: list[Interval]
    busy: list[Interval]
    mine: list[Interval]


async def machine_taken(equipment_id: int, window: Interval, user_id: int | None = None) -> Taken:
    """The blackouts and active bookings of a machine overlapping the window (one query,
    plain SQL: a hot read), and the bookings of `user_id` among them.

    A separate query for the viewer's own bookings (by user and machine) lets SQLite pick the
    user's index and walk every booking that person ever made: 12 ms for a frequent user of
    `bench/labs_bench.py`, against 0.2 ms for the machine's window read once.
    """
    params = (equipment_id, *_blackout_params(window), equipment_id, *_busy_params(window))
    taken = Taken([], [], [])
    for kind, start, end, owner in await rawsql.fetch(_TAKEN_SQL, params, small=True):
        if span := _interval(start, end):
            if kind == 0:
                taken.blackouts.append(span)
                continue
            taken.busy.append(span)
            if user_id is not None and owner == user_id:
                taken.mine.append(span)
    return taken


async def busy_by_machine(equipment_ids: list[int], window: Interval) -> dict[int, list[Interval]]:
    """`machine_taken`'s active bookings for many machines at once (one query)."""
    return await _intervals_by_machine(_BUSY_MANY_SQL, equipment_ids, _busy_params(window))


async def blackouts_by_machine(
    equipment_ids: list[int], window: Interval
) -> dict[int, list[Interval]]:
    """`blackouts_of` for many machines at once (one query)."""
    return await _intervals_by_machine(_BLACKOUTS_MANY_SQL, equipment_ids, _blackout_params(window))


async def _intervals_by_machine(
    sql: str, equipment_ids: list[int], params: tuple
) -> dict[int, list[Interval]]:
    """Rows (machine, start, end) of the window, kept for the given machines only: filtering
    here spares a statement with one placeholder per machine."""
    wanted = set(equipment_ids)
    found: dict[int, list[Interval]] = defaultdict(list)
    for equipment_id, start, end in await rawsql.fetch(sql, params):
        if equipment_id in wanted and (span := _interval(start, end)):
            found[equipment_id].append(span)
    return found
