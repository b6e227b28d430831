"""A mentor's weekly office hours as slots: pure computations, no I/O.

A pattern is "every <weekday> from <first_day> to <last_day>, <slots> slots of <minutes> from
<start> local time, except <skipped> days", in one time zone. The days come from
`dateutil.rrule` (an `rruleset` with the skipped days as EXDATEs); a slot is a half-open UTC
interval `[start, end)`. Two patterns of one mentor overlap when they share a weekday, a day
range and a stretch of the clock: the service refuses that, so a slot is named by its start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import WEEKLY, rrule, rruleset

DAY_MINUTES = 24 * 60


@dataclass(frozen=True)
class Pattern:
    weekday: int  # 0 = Monday, as date.weekday()
    start_minute: int  # minutes after local midnight
    slot_minutes: int
    slots: int
    first_day: date
    last_day: date
    zone: str = "Asia/Ho_Chi_Minh"
    skipped: frozenset[date] = field(default_factory=frozenset)

    @property
    def end_minute(self) -> int:
        return self.start_minute + self.slot_minutes * self.slots


@dataclass(frozen=True)
class Slot:
    start: datetime  # aware, UTC
    end: datetime

    @property
    def key(self) -> str:
        """The slot's start as sent in a form: ISO 8601 in UTC."""
        return self.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def days(pattern: Pattern, start: date, end: date) -> list[date]:
    """The pattern's days within [start, end] (both inclusive), skipped days left out."""
    begin = max(start, pattern.first_day)
    until = min(end, pattern.last_day)
    if begin > until:
        return []
    rules = rruleset()
    rules.rrule(
        rrule(
            WEEKLY,
            byweekday=pattern.weekday,
            dtstart=datetime.combine(begin, time(0)),
            until=datetime.combine(until, time(0)),
        )
    )
    for day in pattern.skipped:
        rules.exdate(datetime.combine(day, time(0)))
    return [moment.date() for moment in rules]


def slots_of_day(pattern: Pattern, day: date) -> list[Slot]:
    zone = ZoneInfo(pattern.zone)
    found = []
    for i in range(pattern.slots):
        minute = pattern.start_minute + i * pattern.slot_minutes
        local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
        start = local.astimezone(UTC)
        found.append(Slot(start, start + timedelta(minutes=pattern.slot_minutes)))
    return found


def slots(pattern: Pattern, start: date, end: date) -> list[Slot]:
    """Every slot of the pattern on its days within [start, end], in time order."""
    return [slot for day in days(pattern, start, end) for slot in slots_of_day(pattern, day)]


def slot_at(pattern: Pattern, moment: datetime) -> Slot | None:
    """The pattern's slot that starts exactly at `moment` (aware), or None."""
    local_day = moment.astimezone(ZoneInfo(pattern.zone)).date()
    if not days(pattern, local_day, local_day):
        return None
    for slot in slots_of_day(pattern, local_day):
        if slot.start == moment.astimezone(UTC):
            return slot
    return None


def overlaps(a: Pattern, b: Pattern) -> bool:
    """Could a slot of `a` overlap a slot of `b` (same zone): a shared weekday within both
    day ranges and a shared stretch of the clock. Skipped days are ignored (conservative)."""
    if a.weekday != b.weekday or a.zone != b.zone:
        return a.zone != b.zone and _overlap_across_zones(a, b)
    if max(a.first_day, b.first_day) > min(a.last_day, b.last_day):
        return False
    return a.start_minute < b.end_minute and b.start_minute < a.end_minute


def _overlap_across_zones(a: Pattern, b: Pattern) -> bool:
    """Patterns in two zones: compare their actual slots over the shared range."""
    begin = max(a.first_day, b.first_day) - timedelta(days=1)
    end = min(a.last_day, b.last_day) + timedelta(days=1)
    if begin > end:
        return False
    theirs = slots(b, begin, end)
    return any(s.start < t.end and t.start < s.end for s in slots(a, begin, end) for t in theirs)
