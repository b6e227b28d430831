"""Free time per machine and local day: the exact computation, and the summary that prunes
the network search (`labs.models.FreeDay`, table `labs_free_day`).

The summary is an upper bound the search may skip on, never an answer: a machine whose row
says its longest free stretch that day is shorter than the time asked for cannot have it (a
search window is part of the day, the notice and the machine's rules only take time away).
Rows that are missing or `stale` are candidates like any other, and every candidate is still
checked exactly (`labs.services.browse.search_page`).

Freshness: triggers (migration 0009) mark rows stale and bump their `version` in the same
transaction as any write to bookings, blackouts, hours, closures or a lab's zone, whichever
code path writes. `refresh` (the `free_time_refresh` job, every minute) makes rows for the
coming days, recomputes stale ones and writes each result only where the version it read
before computing is still there: a booking that lands meanwhile leaves the row stale for the
next run instead of being lost.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import connections

from ecosystem import rawsql
from ecosystem.db import atomic
from ecosystem.i18n import DEFAULT_TIMEZONE
from labs.availability import availability
from labs.intervals import Interval, local_date_span
from labs.models import ACTIVE_BOOKING_STATUSES, Equipment, Lab
from labs.services import schedule
from labs.services.schedule import MAX_BOOKING_SPAN

HORIZON_DAYS = 14  # rows are kept from yesterday to this many days ahead
REFRESH_BATCH = 20_000  # stale rows recomputed per run at most
MACHINES_PER_READ = 400  # placeholders per `IN (...)` list
DAY = timedelta(days=1)


def summarise(free: Iterable[Interval]) -> tuple[int, int]:
    """(free minutes, longest free minutes) of normalised free time, whole minutes down."""
    spans = [int((span.end - span.start).total_seconds() // 60) for span in free]
    return sum(spans), max(spans, default=0)


def wide_window(first: date, last: date) -> Interval:
    """A UTC window holding the local days `first`..`last` in every zone."""
    return Interval(
        datetime.combine(first - DAY, time(), tzinfo=UTC),
        datetime.combine(last + 2 * DAY, time(), tzinfo=UTC),
    )


def _in(count: int) -> str:
    return ", ".join("?" * count)


async def intervals_of(
    table: str, equipment_ids: Sequence[int], window: Interval
) -> dict[int, list[Interval]]:
    """Active bookings (`labs_booking`) or blackouts (`labs_blackout`) of the given machines
    overlapping the window: one query per MACHINES_PER_READ machines."""
    found: dict[int, list[Interval]] = defaultdict(list)
    ids = list(equipment_ids)
    for at in range(0, len(ids), MACHINES_PER_READ):
        chunk = ids[at : at + MACHINES_PER_READ]
        sql = (
            f"SELECT equipment_id, starts_at, ends_at FROM {table}"
            f" WHERE equipment_id IN ({_in(len(chunk))}) AND starts_at < ? AND ends_at > ?"
        )
        params: list[Any] = [*chunk, window.end, window.start]
        if table == "labs_booking":
            statuses = [status.value for status in ACTIVE_BOOKING_STATUSES]
            sql += f" AND starts_at > ? AND status IN ({_in(len(statuses))})"
            params += [window.start - MAX_BOOKING_SPAN, *statuses]
        for equipment_id, start, end in await rawsql.fetch(sql, params):
            start, end = rawsql.as_datetime(start), rawsql.as_datetime(end)
            if start < end:
                found[equipment_id].append(Interval(start, end))
    return found


class Calendar:
    """Everything the free time of some machines over some local days is computed from,
    read in a fixed number of queries (four, plus one per MACHINES_PER_READ machines for
    bookings and blackouts)."""

    def __init__(self, machines: Sequence[Equipment], first: date, last: date) -> None:
        self.machines = machines
        self.window = wide_window(first, last)
        self.busy: dict[int, list[Interval]] = {}
        self.blackouts: dict[int, list[Interval]] = {}
        self.hours: dict = {}
        self.closures: dict = {}
        self._open: dict[tuple[int, date], list[Interval]] = {}

    async def load(self) -> Calendar:
        ids = [machine.id for machine in self.machines]
        lab_ids = {machine.lab_id for machine in self.machines}  # type: ignore[attr-defined]
        self.busy = await intervals_of("labs_booking", ids, self.window)
        self.blackouts = await intervals_of("labs_blackout", ids, self.window)
        self.hours = await schedule.weekly_hours(lab_ids)
        self.closures = await schedule.closed_days(lab_ids, self.window)
        return self

    def open_time(self, lab: Lab, window: Interval, key: tuple[int, Any]) -> list[Interval]:
        """The lab's open time in a window, computed once per key."""
        if key not in self._open:
            self._open[key] = schedule.open_time(
                self.hours[lab.id], self.closures.get(lab.id, []), lab, window
            )
        return self._open[key]

    def free(self, machine: Equipment, window: Interval, key: tuple[int, Any]) -> list[Interval]:
        """The machine's free time in the window (open, minus blackouts and active bookings);
        `key` names the window for the lab (the same key, the same window)."""
        opened = self.open_time(machine.lab, window, key)
        free, _busy = availability(
            opened, self.blackouts.get(machine.id, []), self.busy.get(machine.id, []), window
        )
        return free

    def free_on(self, machine: Equipment, day: date) -> list[Interval]:
        """The machine's free time on a whole local day of its lab."""
        window = local_date_span(day, day, schedule.lab_timezone(machine.lab))
        return self.free(machine, window, (machine.lab.id, day))


# --- the summary ----------------------------------------------------------------------------


def _driver_sql(sql: str) -> str:
    connection = connections.get("default")
    if connection.capabilities.dialect != "postgres":
        return sql
    driver = "psycopg" if "psycopg" in type(connection).__module__ else "asyncpg"
    return rawsql._in_driver_style(sql, driver)


def _is_sqlite() -> bool:
    return rawsql.dialect() == "sqlite"


def day_param(day: date) -> date | str:
    """A date as the driver stores it (SQLite: ISO text, without the deprecated adapter)."""
    return day.isoformat() if _is_sqlite() else day


def _as_date(value: date | str) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


async def _execute(sql: str, params: Sequence[Any] = ()) -> None:
    await connections.get("default").execute_query(_driver_sql(sql), list(params))


_MAKE_ROWS = (
    "INSERT INTO labs_free_day"
    " (equipment_id, day, free_minutes, longest_free_minutes, stale, version)"
    " SELECT m.id, ?, 0, 0, ?, 0 FROM labs_equipment m WHERE m.status <> ? AND NOT EXISTS"
    " (SELECT 1 FROM labs_free_day f WHERE f.equipment_id = m.id AND f.day = ?)"
    " ON CONFLICT (equipment_id, day) DO NOTHING"
)
_STALE_ROWS = (
    "SELECT id, equipment_id, day, version FROM labs_free_day"
    " WHERE stale = ? AND day >= ? AND day <= ? ORDER BY day, equipment_id LIMIT ?"
)
_WRITE = (
    "UPDATE labs_free_day SET free_minutes = ?, longest_free_minutes = ?, stale = ?,"
    " computed_at = ? WHERE id = ? AND version = ?"
)


def horizon(now: datetime, days: int = HORIZON_DAYS) -> tuple[date, date]:
    """The first and last local day the summary keeps rows for (any zone: a day of slack)."""
    today = now.astimezone(ZoneInfo(DEFAULT_TIMEZONE)).date()
    return today - DAY, today + timedelta(days=days)


async def make_rows(first: date, last: date) -> None:
    """A stale row for every machine in service and day of the range that has none (one
    statement per day), and none for the past."""
    await _execute("DELETE FROM labs_free_day WHERE day < ?", [day_param(first)])
    day = first
    while day <= last:
        await _execute(_MAKE_ROWS, [day_param(day), True, "retired", day_param(day)])
        day += DAY


async def recompute_stale(
    first: date, last: date, now: datetime, batch: int = REFRESH_BATCH
) -> int:
    """Recompute up to `batch` stale rows of the range; returns the rows written.

    The versions are read BEFORE the inputs, and a row is written only if its version is
    unchanged, so a change that commits while this runs keeps the row stale.
    """
    rows = await rawsql.fetch(_STALE_ROWS, [True, day_param(first), day_param(last), batch])
    if not rows:
        return 0
    by_machine: dict[int, list[tuple[int, date, int]]] = defaultdict(list)
    for row_id, equipment_id, day, version in rows:
        by_machine[equipment_id].append((row_id, _as_date(day), version))
    ids = sorted(by_machine)
    written = 0
    for at in range(0, len(ids), MACHINES_PER_READ):
        chunk = ids[at : at + MACHINES_PER_READ]
        machines = await Equipment.filter(id__in=chunk).select_related("lab")
        days = [day for machine in chunk for _id, day, _v in by_machine[machine]]
        calendar = await Calendar(machines, min(days), max(days)).load()
        values = []
        for machine in machines:
            for row_id, day, version in by_machine[machine.id]:
                free_minutes, longest = summarise(calendar.free_on(machine, day))
                values.append([free_minutes, longest, False, now, row_id, version])
        async with atomic() as connection:
            await connection.execute_many(_driver_sql(_WRITE), values)
        written += len(values)
    return written


async def refresh(now: datetime, days: int = HORIZON_DAYS, batch: int = REFRESH_BATCH) -> int:
    """Rows for the coming days and every stale one recomputed (up to `batch`): the job."""
    first, last = horizon(now, days)
    await make_rows(first, last)
    return await recompute_stale(first, last, now, batch)
