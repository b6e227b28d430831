"""One lab, one grid: every machine of a lab against the time of one day or one week.

A resource × time grid in the manner of LibreBooking's schedule and Indico's room grid. Each
cell says what a person can do there, not only a colour: `free` (book it), `busy` (somebody
else's booking), `yours` (the viewer's own booking), `blackout` (maintenance or a staff
hold), `closed` (outside the lab's hours, a closure, out of service, beyond the horizon) and
`past` (too late to book, past the machine's notice).

Reads only, in a constant number of queries whatever the number of machines or bookings:
the lab (with its host), the staff check for an unpublished lab, the machines, the active
bookings of the window (one plain SQL statement), the blackouts of the window, the lab's
calendar (cached) and the viewer's certifications.

A big lab (more than `PAGE_SIZE` machines: 332 at the largest lab of the network) is shown one
category at a time and `PAGE_SIZE` machines per page, on a phone and on a desktop alike: a
table of hundreds of rows is unusable on either, and the server cannot tell them apart. A
small lab stays one table, with an optional category filter. Both the category and the page
are part of the URL; the bookings and blackouts read are those of the shown category only.
"""

from __future__ import annotations

import hashlib
import math
from array import array
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from tortoise import timezone
from tortoise.expressions import Q

from ecosystem import rawsql
from ecosystem.errors import NotFound
from ecosystem.i18n import _, format_day
from ecosystem.inputs import iso_date
from ecosystem.models import User
from labs import permissions
from labs.availability import is_aligned
from labs.intervals import Interval, intersect, local_date_span, normalize, resolve_local, subtract
from labs.models import (
    ACTIVE_BOOKING_STATUSES,
    Certification,
    Equipment,
    EquipmentCategory,
    EquipmentStatus,
    Lab,
)
from labs.services import schedule

FREE, BUSY, YOURS, CLOSED, BLACKOUT, PAST = "free", "busy", "yours", "closed", "blackout", "past"
STATES = (FREE, YOURS, BUSY, BLACKOUT, CLOSED, PAST)
DAY, WEEK = "day", "week"
_DAY = timedelta(days=1)
_MINUTE = timedelta(minutes=1)

PAGE_SIZE = 40  # machines per page of a big lab's grid; a lab of at most this many: one table
MAX_PAGE = 10_000  # a longer `?page=` is not a page number

_BOOKINGS_SQL = (
    "SELECT b.equipment_id, b.starts_at, b.ends_at, b.user_id FROM labs_booking b"
    " JOIN labs_equipment e ON e.id = b.equipment_id"
    f" WHERE e.lab_id = ? AND b.status IN ({', '.join('?' * len(ACTIVE_BOOKING_STATUSES))})"
    " AND b.starts_at < ? AND b.starts_at > ? AND b.ends_at > ?"
)
_BLACKOUTS_SQL = (
    "SELECT k.equipment_id, k.starts_at, k.ends_at FROM labs_blackout k"
    " JOIN labs_equipment e ON e.id = k.equipment_id"
    " WHERE e.lab_id = ? AND k.starts_at < ? AND k.ends_at > ?"
)
_OF_CATEGORY = " AND e.category = ?"  # a big lab reads the shown category's rows only


@dataclass(frozen=True)
class Filters:
    """What the viewer narrowed the grid to and which page of it (all part of the URL)."""

    category: str = ""
    certified: bool = False
    page: int = 1

    def query(self) -> dict[str, str]:
        found = {}
        if self.category:
            found["category"] = self.category
        if self.certified:
            found["certified"] = "1"
        if self.page > 1:
            found["page"] = str(self.page)
        return found


def parse_filters(params: dict[str, str] | object, remembered: str = "") -> Filters:
    """Filters from query parameters, as asked: the lab's machines settle them (`_settle`).

    An unknown category is dropped (a small lab shows all its machines, a big one its first
    category); without one, `remembered` (the category last chosen at this lab) stands in.
    A page that is not a whole number from 1 is the first page; a huge one, the last."""
    get = params.get  # type: ignore[attr-defined]
    category = str(get("category", "") or "")[:40] or remembered[:40]
    if category not in {c.value for c in EquipmentCategory}:
        category = ""
    certified = str(get("certified", "") or "") in {"1", "on", "true"}
    raw_page = str(get("page", "") or "").strip()
    page = 1
    if raw_page.isascii() and raw_page.isdigit():  # no sign, no "1e3", no other script's digits
        page = MAX_PAGE if len(raw_page) > len(str(MAX_PAGE)) else int(raw_page)
    return Filters(category, certified, min(max(page, 1), MAX_PAGE))


def parse_day(raw: str, today: date) -> date:
    """An ISO date from the URL, or today when missing or malformed."""
    try:
        return iso_date(raw) if raw else today
    except ValueError:
        return today


@dataclass
class Cell:
    """One machine at one column: its state, why (a translated label) and, when free, the
    booking form's start and end."""

    state: str
    label: str
    start: datetime
    end: datetime
    mine: bool = False
    free_minutes: int = 0  # week cells: free time from now on that day
    book_start: datetime | None = None
    book_end: datetime | None = None

    @property
    def book_query(self) -> str:
        """`start=…&end=…` of the booking form (UTC, URL-encoded)."""
        if self.book_start is None or self.book_end is None:
            return ""
        return urlencode({"start": self.book_start.isoformat(), "end": self.book_end.isoformat()})

    @property
    def pick(self) -> str:
        """`<start>|<end>` of a basket tick (the machine's id goes in front)."""
        if self.book_start is None or self.book_end is None:
            return ""
        return f"{self.book_start.isoformat()}|{self.book_end.isoformat()}"

    @property
    def mine_label(self) -> str:
        return _("Your booking")


@dataclass
class Row:
    equipment: Equipment
    certified: bool
    cells: list[Cell]


@dataclass
class Column:
    start: datetime  # UTC
    end: datetime
    day: date  # the local day of the column
    wall: time  # local wall-clock start (day grid)
    label: str = ""  # what its header says: 09:00, or Mon 2/3


@dataclass(frozen=True)
class Paging:
    """Which machines of a lab the grid shows, and where the other ones are.

    A big lab (`by_category`) shows one category at a time, `PAGE_SIZE` machines per page;
    a small lab shows every machine that matches the filters, on one page."""

    by_category: bool
    categories: tuple[tuple[str, int], ...]  # each category of the lab and its matching machines
    page: int = 1
    pages: int = 1
    total: int = 0  # machines that match the filters (all pages)
    first: int = 0  # 1-based position of the page's first machine among them (0: none)
    last: int = 0

    @property
    def numbers(self) -> list[int | None]:
        """The page numbers to offer: the first, the last and two either side of the current
        one; None where a gap is left out."""
        wanted = {1, self.pages, *range(self.page - 2, self.page + 3)}
        shown: list[int | None] = []
        for number in range(1, self.pages + 1):
            if number in wanted:
                shown.append(number)
            elif shown[-1] is not None:
                shown.append(None)
        return shown


@dataclass
class LabGrid:
    lab: Lab
    mode: str  # "day" or "week"
    day: date  # the day shown, or the Monday of the week
    previous: date
    next: date
    columns: list[Column]
    rows: list[Row]
    filters: Filters
    categories: list[str]  # the categories of the lab's machines, in order
    signed_in: bool
    paging: Paging
    hidden: int = 0  # machines left out by the filters (a big lab: of the shown category)
    step_minutes: int = 60
    counts: dict[str, int] = field(default_factory=dict)

    def url(self, mode: str, day: date, **changes: object) -> str:
        """The address of the grid in `mode` at `day`, with the same filters and page, but
        for `changes` (`category=`, `page=`, `certified=`)."""
        key = "date" if mode == DAY else "start"
        filters = replace(self.filters, **changes) if changes else self.filters
        query = urlencode({key: day.isoformat(), **filters.query()})
        return f"/labs/{self.lab.slug}/{mode}?{query}"

    def page_url(self, page: int) -> str:
        return self.url(self.mode, self.day, page=page)

    def category_url(self, category: str) -> str:
        """A category's first page, keeping the day or week and the certified filter."""
        return self.url(self.mode, self.day, category=category, page=1)

    @property
    def last_day(self) -> date:
        return self.day + timedelta(days=6) if self.mode == WEEK else self.day


@dataclass
class _Facts:
    lab: Lab
    tz: ZoneInfo
    now: datetime
    machines: list[Equipment]
    busy: dict[int, list[Interval]]
    mine: dict[int, list[Interval]]
    blackouts: dict[int, list[Interval]]
    open_time: list[Interval]
    certified: set[str]


async def _visible_lab(actor: User | None, slug: str) -> Lab:
    lab = await Lab.get_or_none(slug=slug).select_related("organisation")
    if lab is None or not (
        permissions.is_public_lab(lab, lab.organisation)
        or await permissions.is_lab_staff(actor, lab)
    ):
        raise NotFound(_("No such lab."))
    return lab


async def _certified_categories(actor: User | None, now: datetime) -> set[str]:
    if actor is None:
        return set()
    rows = (
        await Certification.filter(user_id=actor.id, revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .values_list("category", flat=True)
    )
    return {str(getattr(value, "value", value)) for value in rows}


async def _machines(lab: Lab) -> list[Equipment]:
    return await (
        Equipment.filter(lab_id=lab.id)
        .exclude(status=EquipmentStatus.RETIRED)
        .order_by("category", "name", "id")
    )


async def _facts(
    actor: User | None,
    lab: Lab,
    machines: list[Equipment],
    category: str,
    certified: set[str],
    window: Interval,
    now: datetime,
) -> _Facts:
    """Everything the grid is computed from, in a fixed number of statements: the bookings
    and blackouts of `category`'s machines only when one is chosen (all the lab's without)."""
    statuses = [status.value for status in ACTIVE_BOOKING_STATUSES]
    busy: dict[int, list[Interval]] = defaultdict(list)
    mine: dict[int, list[Interval]] = defaultdict(list)
    viewer = actor.id if actor is not None else None
    of_category = _OF_CATEGORY if category else ""
    narrowed = (category,) if category else ()
    params = (lab.id, *statuses, window.end, window.start - schedule.MAX_BOOKING_SPAN, window.start)
    for equipment_id, start, end, user_id in await rawsql.fetch(
        _BOOKINGS_SQL + of_category, (*params, *narrowed)
    ):
        start, end = rawsql.as_datetime(start), rawsql.as_datetime(end)
        if start < end:
            (mine if user_id == viewer else busy)[equipment_id].append(Interval(start, end))
    blackouts: dict[int, list[Interval]] = defaultdict(list)
    for equipment_id, start, end in await rawsql.fetch(
        _BLACKOUTS_SQL + of_category, (lab.id, window.end, window.start, *narrowed)
    ):
        start, end = rawsql.as_datetime(start), rawsql.as_datetime(end)
        if start < end:
            blackouts[equipment_id].append(Interval(start, end))
    return _Facts(
        lab=lab,
        tz=schedule.lab_timezone(lab),
        now=now,
        machines=machines,
        busy={key: normalize(value) for key, value in busy.items()},
        mine={key: normalize(value) for key, value in mine.items()},
        blackouts={key: normalize(value) for key, value in blackouts.items()},
        open_time=await schedule.lab_open_time(lab, window, cached=True),
        certified=certified,
    )


def _overlaps(intervals: list[Interval], start: datetime, end: datetime) -> bool:
    return any(i.start < end and start < i.end for i in intervals)


def _covered(intervals: list[Interval], start: datetime, end: datetime) -> bool:
    return any(i.start <= start and end <= i.end for i in intervals)


def _minutes(intervals: list[Interval]) -> int:
    return int(sum((i.end - i.start for i in intervals), timedelta()) // _MINUTE)


def _next_minute(moment: datetime) -> datetime:
    """The moment rounded up to a whole minute: the grid's clock (cells start on minutes)."""
    rounded = moment.replace(second=0, microsecond=0)
    return rounded if rounded == moment else rounded + _MINUTE


def _earliest(machine: Equipment, now: datetime) -> datetime:
    """The first bookable moment of a machine: now plus its notice."""
    return now + timedelta(minutes=machine.notice_minutes)


def _horizon(machine: Equipment, now: datetime) -> datetime:
    return now + timedelta(days=machine.horizon_days)


def _matches(machine: Equipment, filters: Filters, certified: set[str]) -> bool:
    return (not filters.category or machine.category.value == filters.category) and (
        not filters.certified or _may_use(machine, certified)
    )


def _settle(machines: list[Equipment], filters: Filters, certified: set[str]) -> Filters:
    """The filters the grid is shown with: a category the lab has, else none on a small lab
    and the first one on a big lab; a page that exists (past the last one: the last one)."""
    categories = _categories(machines)
    category = filters.category if filters.category in categories else ""
    if not category and len(machines) > PAGE_SIZE:
        category = categories[0]
    settled = Filters(category, filters.certified, 1)
    matching = sum(1 for machine in machines if _matches(machine, settled, certified))
    pages = max(1, math.ceil(matching / PAGE_SIZE))
    return replace(settled, page=min(filters.page, pages))


def _shown(facts: _Facts, filters: Filters) -> tuple[list[Equipment], int, Paging]:
    """The machines of the page (`filters` settled), how many the filters hide and where
    the page stands among the others."""
    by_category = len(facts.machines) > PAGE_SIZE
    unfiltered = replace(filters, category="")
    per_category = {code: 0 for code in _categories(facts.machines)}
    matching = []
    for machine in facts.machines:
        if _matches(machine, unfiltered, facts.certified):
            per_category[machine.category.value] += 1
            if not filters.category or machine.category.value == filters.category:
                matching.append(machine)
    # A big lab's hidden machines are those of the shown category the filters leave out.
    if by_category:
        hidden = sum(m.category.value == filters.category for m in facts.machines) - len(matching)
    else:
        hidden = len(facts.machines) - len(matching)
    total = len(matching)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(filters.page, pages)
    shown = matching[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    first = (page - 1) * PAGE_SIZE + 1 if shown else 0
    paging = Paging(
        by_category,
        tuple(per_category.items()),
        page,
        pages,
        total,
        first,
        first + len(shown) - 1 if shown else 0,
    )
    return shown, hidden, paging


def _may_use(machine: Equipment, certified: set[str]) -> bool:
    return not machine.requires_training or machine.category.value in certified


def _categories(machines: list[Equipment]) -> list[str]:
    seen: list[str] = []
    for machine in machines:
        if machine.category.value not in seen:
            seen.append(machine.category.value)
    return seen


# --- the day: machines × time slots of the lab's hours ---------------------------------------


def _day_step(open_spans: list[Interval], tz: ZoneInfo) -> timedelta:
    """An hour per column, or half an hour when the lab opens or closes on a half hour."""
    for span in open_spans:
        for moment in (span.start, span.end):
            if moment.astimezone(tz).minute % 60:
                return timedelta(minutes=30)
    return timedelta(hours=1)


def _day_columns(day: date, open_spans: list[Interval], tz: ZoneInfo) -> tuple[list[Column], int]:
    """The slots from the day's first opening to its last closing (none on a closed day)."""
    if not open_spans:
        return [], 60
    step = _day_step(open_spans, tz)
    first = open_spans[0].start.astimezone(tz).replace(tzinfo=None)
    last = open_spans[-1].end.astimezone(tz).replace(tzinfo=None)
    midnight = datetime.combine(day, time())
    first = max(first, midnight)
    last = min(last, midnight + _DAY)
    # Columns start on a multiple of the step from midnight.
    offset = (first - midnight) // step
    wall = midnight + offset * step
    columns = []
    while wall < last:
        start, end = resolve_local(wall, tz), resolve_local(wall + step, tz)
        if start < end:
            columns.append(Column(start, end, day, wall.time(), f"{wall:%H:%M}"))
        wall += step
    return columns, int(step // _MINUTE)


def _slot_cell(machine: Equipment, facts: _Facts, column: Column) -> Cell:
    start, end = column.start, column.end
    if machine.status != EquipmentStatus.AVAILABLE:
        return Cell(CLOSED, _("Out of service"), start, end)
    if _overlaps(facts.mine.get(machine.id, []), start, end):
        return Cell(YOURS, _("Your booking"), start, end, mine=True)
    if _overlaps(facts.busy.get(machine.id, []), start, end):
        return Cell(BUSY, _("Booked"), start, end)
    if _overlaps(facts.blackouts.get(machine.id, []), start, end):
        return Cell(BLACKOUT, _("Maintenance"), start, end)
    if not _covered(facts.open_time, start, end):
        return Cell(CLOSED, _("Closed"), start, end)
    if start < _earliest(machine, facts.now):
        return Cell(PAST, _("Too late to book"), start, end)
    if end > _horizon(machine, facts.now):
        return Cell(CLOSED, _("Not bookable yet"), start, end)
    length = max(timedelta(minutes=machine.min_minutes), end - start)
    step = timedelta(minutes=machine.slot_step_minutes)
    book_start = start if is_aligned(start, step, facts.tz) else None
    return Cell(FREE, _("Free"), start, end, book_start=book_start, book_end=start + length)


def _build_day(inputs: GridInputs) -> tuple[list[Column], list[Row], int]:
    facts, day = inputs.facts, inputs.day
    window = local_date_span(day, day, facts.tz)
    open_spans = intersect(facts.open_time, [window])
    columns, step = _day_columns(day, open_spans, facts.tz)
    machines, _hidden, _paging = _shown(facts, inputs.filters)
    rows = [
        Row(
            machine,
            _may_use(machine, facts.certified),
            [_slot_cell(machine, facts, column) for column in columns],
        )
        for machine in machines
    ]
    return columns, rows, step


# --- the week: machines × days ---------------------------------------------------------------


def _day_cell(machine: Equipment, facts: _Facts, span: Interval) -> Cell:
    start, end = span.start, span.end
    mine = _overlaps(facts.mine.get(machine.id, []), start, end)
    opened = intersect(facts.open_time, [span])
    if machine.status != EquipmentStatus.AVAILABLE:
        return Cell(CLOSED, _("Out of service"), start, end, mine=mine)
    if not opened:
        return Cell(CLOSED, _("Closed"), start, end, mine=mine)
    earliest = _earliest(machine, facts.now)
    horizon = _horizon(machine, facts.now)
    ahead = subtract(opened, [Interval(start, earliest)]) if earliest > start else opened
    if not ahead:
        state = YOURS if mine else PAST
        return Cell(state, _("Your booking") if mine else _("Past"), start, end, mine=mine)
    if horizon <= start:
        return Cell(CLOSED, _("Not bookable yet"), start, end, mine=mine)
    if horizon < end:
        ahead = subtract(ahead, [Interval(horizon, end)])
    blackouts = facts.blackouts.get(machine.id, [])
    taken = [*facts.busy.get(machine.id, []), *facts.mine.get(machine.id, [])]
    free = subtract(subtract(ahead, blackouts), taken)
    minutes = _minutes(free)
    if minutes >= machine.min_minutes:
        return Cell(FREE, _("Free"), start, end, mine=mine, free_minutes=minutes)
    if mine:
        return Cell(YOURS, _("Your booking"), start, end, mine=True)
    if not subtract(ahead, blackouts):
        return Cell(BLACKOUT, _("Maintenance"), start, end)
    return Cell(BUSY, _("Full"), start, end)


def _build_week(inputs: GridInputs) -> tuple[list[Column], list[Row], int]:
    facts, monday = inputs.facts, inputs.day
    days = [monday + timedelta(days=offset) for offset in range(7)]
    spans = [local_date_span(day, day, facts.tz) for day in days]
    columns = [
        Column(span.start, span.end, day, time(), format_day(day, "EEE d/M"))
        for day, span in zip(days, spans, strict=True)
    ]
    machines, _hidden, _paging = _shown(facts, inputs.filters)
    rows = [
        Row(
            machine,
            _may_use(machine, facts.certified),
            [_day_cell(machine, facts, span) for span in spans],
        )
        for machine in machines
    ]
    return columns, rows, 24 * 60


# --- reading: inputs, frame, grid ------------------------------------------------------------


def carried_ticks(ticked: set[str], table: LabGrid) -> list[str]:
    """The basket's ticks of the day's other pages and categories (`<machine id>|…` of a
    machine not in this table): the basket form keeps them, so one basket can gather slots
    from every page of the day."""
    shown = {str(row.equipment.id) for row in table.rows}
    return sorted(pick for pick in ticked if pick.split("|", 1)[0] not in shown)


@dataclass
class GridInputs:
    """Everything a lab's grid is computed from (a fixed number of queries).

    `fingerprint` names the grid: equal fingerprints give the same grid, so the rendered
    table can be cached under it without invalidation (a booking, a blackout, an edited
    machine, a certification or the passing minute changes the inputs, hence the key).
    """

    facts: _Facts
    mode: str
    day: date  # the day, or the Monday of the week
    filters: Filters
    viewer: int | None

    def fingerprint(self, *extra: object) -> str:
        facts = self.facts
        machines = tuple(
            (
                m.id,
                m.name,
                m.content_locale,
                repr(m.translations),
                m.category.value,
                m.status.value,
                m.requires_training,
                m.slot_step_minutes,
                m.min_minutes,
                m.notice_minutes,
                m.horizon_days,
            )
            for m in facts.machines
        )
        lab = facts.lab
        parts = (
            (lab.id, lab.slug, lab.name, lab.content_locale, repr(lab.translations), lab.timezone),
            self.mode,
            self.day,
            self.filters,
            self.viewer,
            facts.now.timestamp(),
            machines,
            sorted(facts.certified),
            extra,
        )
        digest = hashlib.blake2b(repr(parts).encode(), digest_size=16)
        # The intervals as whole seconds (a repr of ~1,000 aware datetimes costs milliseconds).
        for spans in (facts.busy, facts.mine, facts.blackouts, {0: facts.open_time}):
            for key in sorted(spans):
                seconds = [key, -1]
                for span in spans[key]:
                    seconds += (int(span.start.timestamp()), int(span.end.timestamp()))
                digest.update(array("q", seconds).tobytes())
            digest.update(b"|")
        return digest.hexdigest()


async def _inputs(
    actor: User | None, slug: str, mode: str, raw_day: str, filters: Filters | None
) -> GridInputs:
    lab = await _visible_lab(actor, slug)
    tz = schedule.lab_timezone(lab)
    now = _next_minute(timezone.now())
    day = parse_day(raw_day, now.astimezone(tz).date())
    if mode == WEEK:
        day -= timedelta(days=day.weekday())
    last = day + timedelta(days=6) if mode == WEEK else day
    machines = await _machines(lab)
    certified = await _certified_categories(actor, now)
    settled = _settle(machines, filters or Filters(), certified)
    window = local_date_span(day, last, tz)
    facts = await _facts(actor, lab, machines, settled.category, certified, window, now)
    return GridInputs(facts, mode, day, settled, actor.id if actor else None)


async def day_inputs(
    actor: User | None, slug: str, day_raw: str = "", filters: Filters | None = None
) -> GridInputs:
    """The inputs of a lab's day: every machine (of the page) against the slots of the lab's
    hours."""
    return await _inputs(actor, slug, DAY, day_raw, filters)


async def week_inputs(
    actor: User | None, slug: str, start_raw: str = "", filters: Filters | None = None
) -> GridInputs:
    """The inputs of a lab's week: every machine (of the page) against the seven days from a
    Monday."""
    return await _inputs(actor, slug, WEEK, start_raw, filters)


def frame(inputs: GridInputs) -> LabGrid:
    """The grid's page around the table (navigation, filters, pages): no cell computed."""
    facts, day = inputs.facts, inputs.day
    span = _DAY if inputs.mode == DAY else timedelta(days=7)
    _machines_shown, hidden, paging = _shown(facts, inputs.filters)
    return LabGrid(
        facts.lab,
        inputs.mode,
        day,
        day - span,
        day + span,
        [],
        [],
        inputs.filters,
        _categories(facts.machines),
        inputs.viewer is not None,
        paging,
        hidden,
    )


def build(inputs: GridInputs) -> LabGrid:
    """The whole grid: the frame with its columns, rows and cells."""
    view = frame(inputs)
    builder = _build_day if inputs.mode == DAY else _build_week
    view.columns, view.rows, view.step_minutes = builder(inputs)
    view.counts = _count(view.rows)
    return view


async def day_grid(
    actor: User | None, slug: str, day_raw: str = "", filters: Filters | None = None
) -> LabGrid:
    return build(await day_inputs(actor, slug, day_raw, filters))


async def week_grid(
    actor: User | None, slug: str, start_raw: str = "", filters: Filters | None = None
) -> LabGrid:
    return build(await week_inputs(actor, slug, start_raw, filters))


def _count(rows: list[Row]) -> dict[str, int]:
    counts = dict.fromkeys(STATES, 0)
    for row in rows:
        for cell in row.cells:
            counts[cell.state] += 1
    return counts
