"""What the public and member-facing pages of the lab network show, loaded in constant queries.

Reads only: bookings are made and cancelled by `labs.services.bookings`. Every loader runs a
fixed number of queries whatever the number of machines, bookings or closures.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tortoise import timezone

from ecosystem import rawsql
from ecosystem.errors import Invalid, NotFound
from ecosystem.i18n import DEFAULT_TIMEZONE, _
from ecosystem.inputs import iso_date, iso_datetime, whole_number
from ecosystem.models import User, Verification
from ecosystem.payments.services import ledger
from ecosystem.permissions import has_verified_identity
from labs import permissions
from labs.availability import CellState, WeekGrid, slot_starts, week_grid
from labs.intervals import (
    Interval,
    local_date_span,
    normalize,
    resolve_local,
    subtract,
)
from labs.models import (
    Closure,
    Equipment,
    EquipmentCategory,
    EquipmentStatus,
    Lab,
    LabKind,
    TrainingSession,
)
from labs.pricing import PUBLIC
from labs.services import free_time, schedule
from labs.services.facts import get_bookable_equipment, has_certification, rules_of
from labs.services.prices import Price, equipment_rates, quote, rate_card

HOUR = timedelta(hours=1)
WEEKDAYS = range(7)

# Parts of a day, in the lab's local wall-clock time.
PARTS_OF_DAY: dict[str, tuple[time, time]] = {
    "morning": (time(6), time(12)),
    "afternoon": (time(12), time(17)),
    "evening": (time(17), time(22)),
}
MAX_SEARCH_RESULTS = 200
SEARCH_PAGE_SIZE = 50
SEARCH_PARAMS = ("category", "day", "part", "from", "to", "duration", "after")
DEFAULT_TZ = ZoneInfo(DEFAULT_TIMEZONE)


# --- labs ---------------------------------------------------------------------------------


async def list_labs(kind: str = "") -> list[Lab]:
    """Published labs with host organisation, opening hours and photos (four queries)."""
    query = Lab.filter(**permissions.public_labs())
    if kind:
        try:
            query = query.filter(kind=LabKind(kind))
        except ValueError as exc:
            message = _("Unknown kind of lab.")
            raise Invalid(message, fields={"kind": message}) from exc
    return (
        await query.select_related("organisation")
        .prefetch_related("opening_hours", "photos")
        .order_by("name", "id")
    )


@dataclass
class LabPage:
    lab: Lab
    hours: dict[int, list[tuple[time, time]]]
    equipment_by_category: dict[str, list[Equipment]]
    closures: list[Closure]
    is_staff: bool = False
    can_grant_staff: bool = False


async def lab_page(actor: User | None, slug: str) -> LabPage:
    """A lab with everything its page shows (constant queries)."""
    from labs import permissions

    lab = await Lab.get_or_none(slug=slug).select_related("organisation").prefetch_related("photos")
    if lab is None:
        raise NotFound(_("No such lab."))
    is_staff = await permissions.is_lab_staff(actor, lab) if actor else False
    can_grant = await permissions.allowed(actor, "lab.grant_staff", lab) if actor else False
    if not permissions.is_public_lab(lab, lab.organisation) and not (is_staff or can_grant):
        raise NotFound(_("No such lab."))
    hours = (await schedule.weekly_hours([lab.id]))[lab.id]
    machines = await (
        Equipment.filter(lab_id=lab.id)
        .exclude(status=EquipmentStatus.RETIRED)
        .prefetch_related("rates")
        .order_by("category", "name", "id")
    )
    grouped: dict[str, list[Equipment]] = defaultdict(list)
    for machine in machines:
        grouped[machine.category.value].append(machine)
    today = timezone.now().astimezone(schedule.lab_timezone(lab)).date()
    closures = await Closure.filter(lab_id=lab.id, last_day__gte=today).order_by("first_day")[:20]
    return LabPage(lab, dict(hours), dict(grouped), list(closures), is_staff, can_grant)


# --- a machine ----------------------------------------------------------------------------


@dataclass
class MayBook:
    """Whether the viewer may book the machine, and if not why (codes the page words):
    `sign_in`, `verify_email`, `maintenance`, `retired`, `training`, `not_offered`.
    `next_training` is the soonest public training for the machine's category."""

    reasons: list[str]
    next_training: TrainingSession | None = None

    @property
    def ok(self) -> bool:
        return not self.reasons


@dataclass
class MachinePage:
    equipment: Equipment
    price_per_hour: Price | None
    price_is_public: bool
    rates: list = field(default_factory=list)
    may_book: MayBook | None = None


async def next_training(category: str, now: datetime | None = None) -> TrainingSession | None:
    """The soonest training session for a machine category in a published lab (one query)."""
    return (
        await TrainingSession.filter(
            category=category,
            starts_at__gt=now or timezone.now(),
            **permissions.public_labs("lab__"),
        )
        .select_related("lab")
        .order_by("starts_at", "id")
        .first()
    )


async def may_book(actor: User | None, equipment: Equipment, price: Price | None) -> MayBook:
    """What stands between the viewer and booking this machine, before picking a time."""
    reasons: list[str] = []
    if actor is None:
        reasons.append("sign_in")
    elif not has_verified_identity(actor):
        reasons.append("verify_email")
    if equipment.status.value in ("maintenance", "retired"):
        reasons.append(equipment.status.value)
    needs_training = equipment.requires_training and (
        actor is None or not await has_certification(actor, equipment, timezone.now())
    )
    if needs_training:
        reasons.append("training")
    if actor is not None and price is None:
        reasons.append("not_offered")
    upcoming = await next_training(equipment.category.value) if needs_training else None
    return MayBook(reasons, upcoming)


async def machine_page(actor: User | None, equipment_id: int) -> MachinePage:
    """A machine with its lab, rates and the price per hour for the actor (or the public)."""
    equipment = await get_bookable_equipment(actor, equipment_id)
    rates = await equipment_rates(equipment.id)
    price: Price | None = None
    is_public = actor is None
    start = timezone.now().replace(minute=0, second=0, microsecond=0)
    if actor is not None:
        price = await quote(actor, equipment, start, start + HOUR, rates)  # None: not offered
    else:
        public = next((rate for rate in rates if rate.category == PUBLIC), None)
        if public is not None:
            price = Price(public.rate_per_hour, public.currency, PUBLIC)
        elif not rates:
            price = Price(0, "VND", "")
    verdict = await may_book(actor, equipment, price)
    return MachinePage(equipment, price, is_public, list(rates), verdict)


@dataclass
class WeekView:
    equipment: Equipment
    grid: WeekGrid
    start: date
    previous: date
    next: date
    min_length: timedelta
    selected: int  # the day shown first on a phone: today in this week, else Monday
    mine: frozenset[datetime] = frozenset()  # starts of the busy cells that are the viewer's


def week_start_of(raw: str, today: date) -> date:
    """The Monday of the week holding the given ISO date (this week if missing or bad)."""
    try:
        day = iso_date(raw) if raw else today
    except ValueError:
        day = today
    return day - timedelta(days=day.weekday())


@dataclass
class WeekInputs:
    """Everything a machine's week grid is computed from (read in at most six queries).

    `fingerprint` names the grid: equal fingerprints give the same grid, so a rendered week
    can be cached under it without any invalidation (a booking, a blackout, an edited rule or
    the passing of time changes the inputs, hence the key).
    """

    equipment: Equipment
    tz: ZoneInfo
    now: datetime
    monday: date
    open_time: list[Interval]
    blackouts: list[Interval]
    busy: list[Interval]
    mine: list[Interval] = field(default_factory=list)  # the viewer's own active bookings

    @property
    def earliest(self) -> datetime:
        """The first bookable moment, rounded up to the minute (cells start on minutes)."""
        moment = self.now + timedelta(minutes=self.equipment.notice_minutes)
        rounded = moment.replace(second=0, microsecond=0)
        return rounded if rounded == moment else rounded + timedelta(minutes=1)

    def fingerprint(self, *extra: object) -> str:
        machine = self.equipment
        today = self.now.astimezone(self.tz).date()
        parts = (
            machine.id,
            machine.status.value,
            machine.slot_step_minutes,
            machine.min_minutes,
            machine.lab.timezone,
            self.monday,
            today,
            self.earliest.timestamp(),
            _instants(self.open_time),
            _instants(self.blackouts),
            _instants(self.busy),
            _instants(self.mine),
            extra,
        )
        return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


def _instants(intervals: list[Interval]) -> tuple[float, ...]:
    """The intervals as POSIX seconds, for a fingerprint (reprs of datetimes cost more)."""
    return tuple(moment for i in intervals for moment in (i.start.timestamp(), i.end.timestamp()))


async def week_inputs(
    actor: User | None, equipment_id: int, start_raw: str = "", equipment: Equipment | None = None
) -> WeekInputs:
    """The inputs of a machine's week grid (pass `equipment` when already loaded with its lab)."""
    if equipment is None or equipment.id != equipment_id:
        equipment = await get_bookable_equipment(actor, equipment_id)
    tz = schedule.lab_timezone(equipment.lab)
    now = timezone.now()
    monday = week_start_of(start_raw, now.astimezone(tz).date())
    window = local_date_span(monday, monday + timedelta(days=6), tz)
    open_time = await schedule.lab_open_time(equipment.lab, window, cached=True)
    taken = await schedule.machine_taken(equipment.id, window, actor.id if actor else None)
    return WeekInputs(
        equipment, tz, now, monday, open_time, taken.blackouts, taken.busy, sorted(taken.mine)
    )


def week_from_inputs(inputs: WeekInputs) -> WeekView:
    """The 7-day grid of a machine: free, busy (anonymous) and closed cells.

    Cells before the earliest bookable moment (now + notice) and in blackouts are closed.
    """
    equipment, tz, monday = inputs.equipment, inputs.tz, inputs.monday
    window = local_date_span(monday, monday + timedelta(days=6), tz)
    bookable = subtract(inputs.open_time, inputs.blackouts)
    earliest = inputs.earliest
    if equipment.status != EquipmentStatus.AVAILABLE:
        bookable = []
    elif window.start < earliest:
        bookable = subtract(bookable, [Interval(window.start, max(earliest, window.start))])
    step = timedelta(minutes=equipment.slot_step_minutes)
    # Keep the rows of the lab's opening hours, even in a week where they are all past.
    grid = week_grid(tz, monday, bookable, inputs.busy, step, trim_closed=False)
    grid = _trim_to_opening(grid, inputs.open_time)
    today = inputs.now.astimezone(tz).date()
    selected = (today - monday).days if 0 <= (today - monday).days < 7 else 0
    length = max(timedelta(minutes=equipment.min_minutes), step)
    previous, following = monday - timedelta(days=7), monday + timedelta(days=7)
    mine = (
        frozenset(
            cell.start
            for row in grid.rows
            for cell in row.cells
            if cell.state == CellState.BUSY
            and any(span.start < cell.end and cell.start < span.end for span in inputs.mine)
        )
        if inputs.mine
        else frozenset()
    )
    return WeekView(equipment, grid, monday, previous, following, length, selected, mine)


async def week_view(actor: User | None, equipment_id: int, start_raw: str = "") -> WeekView:
    """The week grid of a machine (six queries)."""
    return week_from_inputs(await week_inputs(actor, equipment_id, start_raw))


def _trim_to_opening(grid: WeekGrid, open_time: list[Interval]) -> WeekGrid:
    """Drop the leading and trailing rows in which the lab is closed on all seven days."""
    opened = normalize(open_time)

    def is_open(start: datetime, end: datetime) -> bool:
        return start < end and any(o.start < end and start < o.end for o in opened)

    keep = [
        index
        for index, row in enumerate(grid.rows)
        if any(cell.state != "closed" or is_open(cell.start, cell.end) for cell in row.cells)
    ]
    if not keep:
        return WeekGrid(grid.days, ())
    return WeekGrid(grid.days, grid.rows[keep[0] : keep[-1] + 1])


@dataclass
class BookingCost:
    """What the chosen window costs the person, and how it is paid: `from_credit` out of
    their credit first, `remaining` by the way they pick (card, at the lab, a statement)."""

    category: str
    rate_per_hour: int
    total: int
    credit: int
    from_credit: int
    remaining: int
    currency: str = "VND"


@dataclass
class SlotChoice:
    """The booking form's choices: the start, every end reachable from it on the slot grid
    (before the next booking, blackout or closing time), the price of each, and what the
    chosen window costs. `ends` is empty when the start itself is no longer free."""

    equipment: Equipment
    start: datetime
    ends: list[datetime]
    end: datetime
    reach: datetime | None = None
    prices: dict[datetime, int] = field(default_factory=dict)
    rates: tuple[tuple[str, int], ...] = ()
    cost: BookingCost | None = None
    not_offered: bool = False
    cut_short: bool = False  # the machine's longest booking does not fit before `reach`


def parse_moment(raw: str, name: str) -> datetime:
    """An ISO datetime with offset (422 naming the field if missing, naive or malformed)."""
    try:
        moment = iso_datetime(raw)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        message = _("Pick a time on the week view.")
        raise Invalid(message, fields={name: message})
    return moment


async def slot_choice(
    actor: User | None, equipment_id: int, start_raw: str, end_raw: str = ""
) -> SlotChoice:
    """The machine, the ends a booking starting at `start` may have (min to max length, up
    to the next booking, blackout or closing time), their prices for the actor and what
    the chosen end costs, credit first. The server still decides on booking: this is what
    the form offers."""
    equipment = await get_bookable_equipment(actor, equipment_id)
    start = parse_moment(start_raw, "start")
    step = timedelta(minutes=equipment.slot_step_minutes)
    first = start + timedelta(minutes=equipment.min_minutes)
    last = start + timedelta(minutes=equipment.max_minutes)
    reach = await reachable_until(equipment, start, last)
    ends: list[datetime] = []
    moment = first
    while moment <= last and moment <= reach and len(ends) < 200:
        ends.append(moment)
        moment += step
    end = ends[0] if ends else first
    if end_raw:
        wanted = parse_moment(end_raw, "end")
        if wanted in ends:
            end = wanted
    choice = SlotChoice(equipment, start, ends, end, reach=reach, cut_short=reach < last)
    if actor is not None:
        await _price_choice(actor, choice)
    return choice


async def reachable_until(equipment: Equipment, start: datetime, last: datetime) -> datetime:
    """How far a booking starting at `start` can reach, at most `last`: the end of the lab's
    open time around `start`, cut at the next active booking or blackout (three reads).
    `start` itself when that moment is not free."""
    if last <= start:
        return start
    window = Interval(start, last)
    reach = start
    for span in await schedule.lab_open_time(equipment.lab, window, cached=True):
        if span.start <= start < span.end:
            reach = min(span.end, last)
    if reach == start:
        return start
    taken = await schedule.machine_taken(equipment.id, window)
    for span in (*taken.busy, *taken.blackouts):
        if span.start <= start < span.end:
            return start
        if start < span.start < reach:
            reach = span.start
    return reach


async def _price_choice(actor: User, choice: SlotChoice) -> None:
    """The price of each end for the actor and the cost of the chosen one, credit first."""
    card = await rate_card(actor, choice.equipment)
    choice.rates = card.rates
    if not card.priced:
        return
    if card.chosen is None:
        choice.not_offered = True
        return
    choice.prices = {end: card.price(choice.start, end) for end in choice.ends}
    total = card.price(choice.start, choice.end) if choice.end > choice.start else 0
    credit = await ledger.balance(user=actor)
    from_credit = max(0, min(credit, total))
    choice.cost = BookingCost(
        category=card.chosen.code,
        rate_per_hour=card.chosen.rate_per_hour_vnd,
        total=total,
        credit=credit,
        from_credit=from_credit,
        remaining=total - from_credit,
    )


@dataclass
class WaitChoice:
    """A busy window of a machine someone may wait for."""

    equipment: Equipment
    start: datetime
    end: datetime


async def waitlist_choice(
    actor: User | None, equipment_id: int, start_raw: str, end_raw: str
) -> WaitChoice:
    """The machine and the window of a "tell me if this frees up" form (422 on bad times)."""
    equipment = await get_bookable_equipment(actor, equipment_id)
    start = parse_moment(start_raw, "start")
    end = parse_moment(end_raw, "end")
    if end <= start or end - start > timedelta(minutes=equipment.max_minutes):
        message = _("Pick a time on the week view.")
        raise Invalid(message, fields={"end": message})
    return WaitChoice(equipment, start, end)


# --- search across the network ------------------------------------------------------------


@dataclass
class SearchQuery:
    category: EquipmentCategory | None
    day: date
    part: str
    from_time: time
    to_time: time
    duration: timedelta


@dataclass
class SearchHit:
    equipment: Equipment
    start: datetime
    end: datetime
    day: date


def _time(raw: str, name: str) -> time:
    try:
        return time.fromisoformat(raw)
    except ValueError as exc:
        message = _("Give a time such as 13:30.")
        raise Invalid(message, fields={name: message}) from exc


def parse_search(params: dict[str, str], today: date) -> SearchQuery:
    """The search form's input (422 naming the field on bad input)."""
    category = None
    if params.get("category"):
        try:
            category = EquipmentCategory(params["category"])
        except ValueError as exc:
            message = _("Unknown category.")
            raise Invalid(message, fields={"category": message}) from exc
    try:
        day = iso_date(params["day"]) if params.get("day") else today
    except ValueError as exc:
        message = _("Give a date such as 2026-03-03.")
        raise Invalid(message, fields={"day": message}) from exc
    part = params.get("part", "") or ""
    if part in PARTS_OF_DAY:
        from_time, to_time = PARTS_OF_DAY[part]
    elif params.get("from") and params.get("to"):
        part = ""
        from_time, to_time = _time(params["from"], "from"), _time(params["to"], "to")
        if to_time <= from_time:
            message = _("The end must be after the start.")
            raise Invalid(message, fields={"to": message})
    else:
        part = ""
        from_time, to_time = time(0), time(23, 59)
    raw_minutes = params.get("duration", "") or "60"
    minutes = whole_number(raw_minutes, 15, 24 * 60)
    if minutes is None:
        message = _("Give a duration between 15 and 1440 minutes.")
        raise Invalid(message, fields={"duration": message})
    return SearchQuery(category, day, part, from_time, to_time, timedelta(minutes=minutes))


@dataclass
class SearchPage:
    """One page of search hits; `after` is the cursor of the next page (None: the last)."""

    hits: list[SearchHit]
    after: int | None = None


# Candidates in the order shown, from the summary of free time (labs.services.free_time):
# a machine whose row for the day is fresh and too short is skipped; no row or a stale one
# is a candidate. The cursor is the position in this order. Labs come first in the join
# (SQLite: CROSS JOIN keeps that order) so the indexes of migration 0009 on labs by name
# and machines by lab and name give the rows in order: the read stops after the batch
# instead of sorting the whole network.
_CANDIDATES = (
    "SELECT m.id FROM labs_lab r CROSS JOIN labs_equipment m CROSS JOIN organisation o"
    " LEFT JOIN labs_free_day f ON f.equipment_id = m.id AND f.day = ?"
    " WHERE m.lab_id = r.id AND o.id = r.organisation_id"
    " AND r.is_published = ? AND o.verification = ? AND m.status = ?{category}"
    " AND (f.id IS NULL OR f.stale = ? OR f.longest_free_minutes >= ?)"
    " ORDER BY r.name, r.id, m.name, m.id LIMIT ? OFFSET ?"
)


def parse_after(raw: str) -> int:
    """The search cursor (0 when missing; 422 when not a position)."""
    if not raw:
        return 0
    after = whole_number(raw, 0, 10**9)
    if after is None:
        message = _("This page of results does not exist.")
        raise Invalid(message, fields={"after": message})
    return after


async def search_page(
    query: SearchQuery, after: int = 0, size: int = SEARCH_PAGE_SIZE
) -> SearchPage:
    """Machines with a free slot of the duration in the window, first slot each, `size` at
    most, from position `after` of the candidates.

    The summary of free time only prunes: each candidate is checked exactly. Candidates are
    read in batches of `2 × size`; a batch costs six queries whatever the size of the network.
    The day and times are each lab's local wall-clock time.
    """
    category = ""
    if query.category is not None:
        category = " AND m.category = ?"
    sql = _CANDIDATES.format(category=category)
    need = int(query.duration.total_seconds() // 60)
    batch = 2 * size
    hits: list[SearchHit] = []
    position = after
    now = timezone.now()
    while True:
        params: list = [
            free_time.day_param(query.day),
            True,
            Verification.VERIFIED.value,
            EquipmentStatus.AVAILABLE.value,
        ]
        if query.category is not None:
            params.append(query.category.value)
        params += [True, need, batch, position]
        ids = [row[0] for row in await rawsql.fetch(sql, params)]
        if not ids:
            return SearchPage(hits)
        loaded = await rawsql.select(
            Equipment, f"WHERE m.id IN ({', '.join('?' * len(ids))})", ids, related="lab"
        )
        by_id = {machine.id: machine for machine in loaded}
        candidates = [by_id[i] for i in ids if i in by_id]
        calendar = await free_time.Calendar(
            candidates, query.day - timedelta(days=1), query.day + timedelta(days=1)
        ).load()
        for machine in candidates:
            hit = _first_slot(query, machine, calendar, now)
            if hit is not None:
                if len(hits) == size:
                    return SearchPage(hits, position)
                hits.append(hit)
            position += 1
        if len(ids) < batch:
            return SearchPage(hits)


def _first_slot(
    query: SearchQuery, machine: Equipment, calendar: free_time.Calendar, now: datetime
) -> SearchHit | None:
    """The machine's first free slot of the query's length in the query's window, exactly."""
    lab = machine.lab
    tz = schedule.lab_timezone(lab)
    start = resolve_local(datetime.combine(query.day, query.from_time), tz)
    end = resolve_local(datetime.combine(query.day, query.to_time), tz)
    if end <= start:
        return None
    window = Interval(start, end)
    free = calendar.free(machine, window, (lab.id, start, end))
    earliest = now + timedelta(minutes=machine.notice_minutes)
    if window.start < earliest:
        free = subtract(free, [Interval(window.start, max(earliest, window.start))])
    rules = rules_of(machine)
    length = max(query.duration, timedelta(minutes=rules.min_minutes))
    length = -(-length // rules.step) * rules.step  # whole slots
    if length > timedelta(minutes=rules.max_minutes):
        return None
    starts = slot_starts(free, rules.step, length, tz)
    if not starts:
        return None
    return SearchHit(machine, starts[0], starts[0] + length, query.day)


async def search_free(query: SearchQuery, limit: int = MAX_SEARCH_RESULTS) -> list[SearchHit]:
    """The first `limit` hits of the search (see `search_page`)."""
    return (await search_page(query, 0, limit)).hits


async def search_free_by_scan(query: SearchQuery) -> list[SearchHit]:
    """Every hit, checking every machine in service without the summary: the reference the
    tests compare `search_page` with (and a slow path nothing else should use)."""
    where = (
        "JOIN organisation o ON o.id = r.organisation_id"
        " WHERE r.is_published = ? AND o.verification = ? AND m.status = ?"
    )
    params: list = [True, Verification.VERIFIED.value, EquipmentStatus.AVAILABLE.value]
    if query.category is not None:
        where += " AND m.category = ?"
        params.append(query.category.value)
    machines = await rawsql.select(
        Equipment, f"{where} ORDER BY r.name, r.id, m.name, m.id", params, related="lab"
    )
    if not machines:
        return []
    calendar = await free_time.Calendar(
        machines, query.day - timedelta(days=1), query.day + timedelta(days=1)
    ).load()
    now = timezone.now()
    return [hit for machine in machines if (hit := _first_slot(query, machine, calendar, now))]
