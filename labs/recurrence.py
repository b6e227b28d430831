"""Recurring bookings (e.g. a weekly course) expanded to UTC intervals, and conflict preview."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from datetime import date, datetime, time, timedelta, tzinfo

from labs.intervals import Interval, first_overlap, normalize, resolve_local

MAX_OCCURRENCES = 520
"""Upper bound on generated occurrences (ten years of weekly sessions)."""


def _check_pattern(
    start_time: time,
    duration: timedelta,
    weekdays: Collection[int],
    until: date | None,
    count: int | None,
) -> None:
    """Reject a recurrence pattern that would be empty or unbounded."""
    if start_time.tzinfo is not None:
        raise ValueError("start_time is a naive local wall-clock time")
    if duration <= timedelta(0):
        raise ValueError("duration must be positive")
    if not weekdays or any(weekday not in range(7) for weekday in weekdays):
        raise ValueError("weekdays must be a non-empty collection of 0 (Monday) to 6 (Sunday)")
    if (until is None) == (count is None):
        raise ValueError("give exactly one of until and count")
    if count is not None and not 1 <= count <= MAX_OCCURRENCES:
        raise ValueError(f"count must be between 1 and {MAX_OCCURRENCES}")


def _matching_dates(first_date: date, weekdays: Collection[int]) -> Iterator[date]:
    """Dates from ``first_date`` on (without end) that fall on one of ``weekdays``."""
    day = first_date
    while True:
        if day.weekday() in weekdays:
            yield day
        day += timedelta(days=1)


def _occurrence(day: date, start_time: time, duration: timedelta, tz: tzinfo) -> Interval | None:
    """One session in UTC: local wall-clock start and end; ``None`` if a DST gap swallows it."""
    wall_start = datetime.combine(day, start_time)
    start = resolve_local(wall_start, tz)
    end = resolve_local(wall_start + duration, tz)
    return Interval(start, end) if start < end else None


def weekly_occurrences(
    first_date: date,
    start_time: time,
    duration: timedelta,
    weekdays: Collection[int],
    tz: tzinfo,
    *,
    until: date | None = None,
    count: int | None = None,
) -> list[Interval]:
    """Sessions on ``weekdays`` (Monday = 0) from ``first_date`` on, as sorted UTC intervals.

    Each session starts at local ``start_time`` and ends at the local wall-clock time
    ``start_time + duration``, so it keeps its clock times across DST changes (its real length
    differs only if a DST change happens during the session). Give exactly one of ``until``
    (last date, inclusive) or ``count`` (number of sessions). A session entirely inside a DST
    gap does not exist and is skipped (not counted). Raises ``ValueError`` beyond
    :data:`MAX_OCCURRENCES` sessions.
    """
    _check_pattern(start_time, duration, weekdays, until, count)
    sessions: list[Interval] = []
    for day in _matching_dates(first_date, frozenset(weekdays)):
        if until is not None and day > until:
            break
        session = _occurrence(day, start_time, duration, tz)
        if session is not None:
            sessions.append(session)
        if len(sessions) > MAX_OCCURRENCES:
            raise ValueError(f"more than {MAX_OCCURRENCES} sessions; shorten the recurrence")
        if count is not None and len(sessions) == count:
            break
    return sessions


def split_conflicts(
    candidates: Iterable[Interval], busy_or_blocked: Iterable[Interval]
) -> tuple[list[Interval], list[Interval]]:
    """Split candidates into ``(ok, conflicting)``, keeping their order.

    A candidate conflicts if it overlaps any blocked interval (half-open: touching is fine).
    To also reject sessions outside opening hours, add ``subtract([span], open_intervals)`` to
    the blocked intervals. O((n + m) log m).
    """
    blocked = normalize(busy_or_blocked)
    ok: list[Interval] = []
    conflicting: list[Interval] = []
    for candidate in candidates:
        target = conflicting if first_overlap(blocked, candidate) is not None else ok
        target.append(candidate)
    return ok, conflicting
