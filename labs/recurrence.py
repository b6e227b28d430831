"""Recurring bookings (e.g. a weekly course) expanded to UTC intervals, and conflict preview."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from dateutil.rrule import FR, MO, SA, SU, TH, TU, WE, rrule
from dateutil.rrule import MONTHLY as MONTHLY_FREQ
from dateutil.rrule import WEEKLY as WEEKLY_FREQ

from labs.intervals import Interval, first_overlap, normalize, resolve_local

MAX_OCCURRENCES = 520
"""Upper bound on generated occurrences (ten years of weekly sessions)."""
RRULE_WEEKDAYS = (MO, TU, WE, TH, FR, SA, SU)


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


# --- patterns with dateutil.rrule: weekly, every other week, monthly by weekday, exceptions ---

WEEKLY, BIWEEKLY, MONTHLY = "weekly", "biweekly", "monthly"
FREQUENCIES = (WEEKLY, BIWEEKLY, MONTHLY)
NTH_WEEKDAYS = (1, 2, 3, 4, -1)  # the 1st … 4th, or the last (-1) weekday of a month


@dataclass(frozen=True)
class Pattern:
    """A staff series: local start time and length on the dates of an RFC 5545 rule.

    `frequency` is weekly, biweekly (every other week) or monthly; `weekdays` Monday = 0; for a
    monthly pattern `nth` picks the 1st–4th or the last (-1) of those weekdays in each month
    (e.g. the 2nd Tuesday). Give exactly one of `until` (last date, inclusive) or `count` (dates
    the rule yields, exception dates included). `exceptions` are dates left out.
    """

    first_date: date
    start_time: time
    duration: timedelta
    weekdays: frozenset[int]
    frequency: str = WEEKLY
    nth: int | None = None
    until: date | None = None
    count: int | None = None
    exceptions: frozenset[date] = field(default_factory=frozenset)

    def rule(self) -> rrule:
        _check_pattern(self.start_time, self.duration, self.weekdays, self.until, self.count)
        if self.frequency not in FREQUENCIES:
            raise ValueError(f"frequency must be one of {FREQUENCIES}")
        days = sorted(self.weekdays)
        if self.frequency == MONTHLY:
            if self.nth not in NTH_WEEKDAYS:
                raise ValueError(f"nth must be one of {NTH_WEEKDAYS} for a monthly pattern")
            byweekday = [RRULE_WEEKDAYS[day](self.nth) for day in days]
            frequency, interval = MONTHLY_FREQ, 1
        else:
            byweekday = [RRULE_WEEKDAYS[day] for day in days]
            frequency, interval = WEEKLY_FREQ, 2 if self.frequency == BIWEEKLY else 1
        return rrule(
            frequency,
            interval=interval,
            byweekday=byweekday,
            dtstart=datetime.combine(self.first_date, time(0)),
            until=datetime.combine(self.until, time(0)) if self.until else None,
            count=self.count,
            wkst=0,
        )

    def text(self) -> str:
        """The rule and its exception dates as iCalendar text (RRULE and EXDATE lines)."""
        lines = str(self.rule()).splitlines()[1:]  # without DTSTART
        if self.exceptions:
            dates = ",".join(day.strftime("%Y%m%d") for day in sorted(self.exceptions))
            lines.append(f"EXDATE:{dates}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Occurrence:
    """One date of the rule: its session (None if a DST gap swallows it) and whether it is one
    of the pattern's exception dates."""

    day: date
    session: Interval | None
    excepted: bool = False


def pattern_occurrences(pattern: Pattern, tz: tzinfo) -> list[Occurrence]:
    """Every date the rule yields, in date order, exception dates included and marked (an
    `rruleset` with EXDATE would drop them silently; the preview lists them as skipped).
    Raises ValueError beyond MAX_OCCURRENCES dates."""
    found: list[Occurrence] = []
    for moment in pattern.rule():
        if len(found) >= MAX_OCCURRENCES:
            raise ValueError(f"more than {MAX_OCCURRENCES} sessions; shorten the recurrence")
        day = moment.date()
        session = _occurrence(day, pattern.start_time, pattern.duration, tz)
        found.append(Occurrence(day, session, day in pattern.exceptions))
    return found
