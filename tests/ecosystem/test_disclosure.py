"""Disclosure control of the open indicators, tried as an attacker would.

The attacker reads everything published for several periods (the API's JSON), knows the method
(counts rounded to five, so a true count lies within four of what is shown) and what adds up
(a total and its breakdowns; a period of two months and its months), and solves a linear
program for the smallest and largest true value of every published cell. A cell pinned to one
value below the threshold is a disclosure: the test fails.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog
from tortoise import timezone

from ecosystem.disclosure import BASE, controlled_round, round_count, rounded_table
from ecosystem.indicators import MIN_GROUP
from ecosystem.models import OrganisationSphere, Sphere
from incubator.models import Sector, Stage, StartupProfile
from labs.models import Booking, BookingStatus
from tests.conftest import make_organisation, person
from tests.labs.conftest import make_equipment, make_host, make_lab

HCMC = ZoneInfo("Asia/Ho_Chi_Minh")

# What the attacker knows adds up: per section, a total and the breakdowns of that same total.
ADDS_UP = {
    "labs": [
        ("bookings", ("bookings_by_month", "bookings_by_sphere")),
        ("unique_users", ("unique_users_by_sphere",)),
        ("certifications_granted", ("certifications_by_category",)),
    ],
    "incubator": [("startups_in_directory", ("startups_by_stage", "startups_by_sector"))],
    "hackathon": [("teams", ("teams_by_site", "teams_by_track"))],
}
# Counts of events in a period: a period of two months is the sum of its months.
ADDITIVE_IN_TIME = {
    "labs": ("bookings", "bookings_by_month", "bookings_by_sphere"),
    "hackathon": ("teams", "teams_by_site", "teams_by_track", "entries", "participants"),
}


class Attacker:
    """Unknown true counts as LP variables, one per (period, section, indicator, key)."""

    def __init__(self, slack: int = BASE - 1) -> None:
        self.slack = slack  # how far a published count may be from the truth
        self.index: dict[tuple, int] = {}
        self.bounds: list[tuple[float, float | None]] = []
        self.equations: list[tuple[dict[int, float], float]] = []

    def var(self, cell: tuple, published: float | None = None) -> int:
        if cell not in self.index:
            self.index[cell] = len(self.bounds)
            self.bounds.append((0, None))
        i = self.index[cell]
        if published is None:  # a blank: a group of 1 to MIN_GROUP - 1
            self.bounds[i] = (1, MIN_GROUP - 1)
        else:  # what is shown is within `slack` of the truth
            self.bounds[i] = (max(0, published - self.slack), published + self.slack)
        return i

    def equal(self, left: Iterable[int], right: Iterable[int]) -> None:
        row: dict[int, float] = {}
        for i in left:
            row[i] = row.get(i, 0) + 1
        for i in right:
            row[i] = row.get(i, 0) - 1
        self.equations.append((row, 0))

    def read(self, period: str, payload: dict) -> None:
        for section, relations in ADDS_UP.items():
            values = payload["sections"].get(section, {})
            for total, breakdowns in relations:
                if values.get(total) is None:
                    continue
                if not any(values.get(breakdown) for breakdown in breakdowns):
                    continue  # no group at all (no contest closed): nothing to tell apart
                t = self.var((period, section, total, ""), values[total])
                for breakdown in breakdowns:
                    if not values.get(breakdown):
                        continue
                    cells = [
                        self.var((period, section, breakdown, key), value)
                        for key, value in values.get(breakdown, {}).items()
                    ]
                    self.equal(cells, [t])

    def months_add_up(self, whole: str, parts: list[str], payloads: dict[str, dict]) -> None:
        for section, indicators in ADDITIVE_IN_TIME.items():
            for indicator in indicators:
                value = payloads[whole]["sections"].get(section, {}).get(indicator)
                keys = list(value) if isinstance(value, dict) else [""]
                for key in keys:
                    whole_cell = (whole, section, indicator, key)
                    if whole_cell not in self.index:
                        continue
                    part_cells = [
                        self.index.get((part, section, indicator, key))
                        for part in parts
                        if (part, section, indicator, key) in self.index
                    ]
                    self.equal(part_cells, [self.index[whole_cell]])

    def pinned(self) -> list[tuple[tuple, int]]:
        """Published cells whose true value the attacker can tell exactly, below MIN_GROUP."""
        n = len(self.bounds)
        a_eq = [[row.get(i, 0) for i in range(n)] for row, _rhs in self.equations] or None
        b_eq = [rhs for _row, rhs in self.equations] or None
        found = []
        for cell, i in self.index.items():
            objective = [0.0] * n
            objective[i] = 1.0
            low = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=self.bounds, method="highs")
            objective[i] = -1.0
            high = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=self.bounds, method="highs")
            assert low.status == high.status == 0, (cell, low.message, high.message)
            least, most = math.ceil(low.fun - 1e-6), math.floor(-high.fun + 1e-6)
            if least == most and least < MIN_GROUP:
                found.append((cell, least))
        return found


# --- the rounding itself ---------------------------------------------------------------------


def test_round_count_goes_to_the_nearest_multiple():
    assert [round_count(n) for n in range(11)] == [0, 0, 0, 5, 5, 5, 5, 5, 10, 10, 10]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=3), st.integers(0, 40), max_size=12))
def test_controlled_rounding_adds_up_and_stays_close(counts):
    rounded = controlled_round(counts)
    assert list(rounded) == list(counts)
    assert sum(rounded.values()) == round_count(sum(counts.values()))
    for key, count in counts.items():
        assert rounded[key] % BASE == 0 and abs(rounded[key] - count) < BASE


def test_a_breakdown_that_does_not_add_up_is_a_programming_error():
    with pytest.raises(ValueError):
        rounded_table(3, {"a": 1, "b": 1})


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 6), min_size=1, max_size=8),
    st.lists(st.integers(0, 6), min_size=1, max_size=8),
)
def test_no_table_of_small_groups_pins_a_cell(first, second):
    """Two breakdowns of the same total (stages and sectors), cells of 0–6: whatever the mix,
    nothing published pins a group."""
    stages = {f"s{i}": n for i, n in enumerate(first)}
    total = sum(first)
    sectors = {f"k{i}": n for i, n in enumerate(second)}
    sectors["k0"] += total - sum(second)
    if sectors["k0"] < 0:
        return
    published_total, by_stage, by_sector = rounded_table(total, stages, sectors)
    payload = {
        "sections": {
            "incubator": {
                "startups_in_directory": published_total,
                "startups_by_stage": by_stage,
                "startups_by_sector": by_sector,
            }
        }
    }
    attacker = Attacker()
    attacker.read("p", payload)
    assert attacker.pinned() == []


def test_the_attacker_undoes_suppression_alone():
    """What was published before: exact counts, groups under three left blank. Eleven
    startups, stages of 5 and 4 shown: the two blank stages are 1 each."""
    payload = {
        "sections": {
            "incubator": {
                "startups_in_directory": 11,
                "startups_by_stage": {"mvp": 5, "growth": 4, "idea": None, "prototype": None},
            }
        }
    }
    attacker = Attacker(slack=0)
    attacker.read("p", payload)
    assert sorted(attacker.pinned()) == [
        (("p", "incubator", "startups_by_stage", "idea"), 1),
        (("p", "incubator", "startups_by_stage", "prototype"), 1),
    ]


# --- the published indicators, over HTTP ----------------------------------------------------


def month_of(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


async def published(client, start: date, end: date) -> dict:
    response = await client.get(f"/api/v1/indicators?from={start}&to={end}")
    assert response.status_code == 200, response.text
    return response.json()


async def attack(client, months: list[tuple[date, date]]) -> list:
    attacker = Attacker()
    payloads = {}
    for start, end in [*months, (months[0][0], months[-1][1])]:
        key = f"{start}:{end}"
        payloads[key] = await published(client, start, end)
        attacker.read(key, payloads[key])
    whole = f"{months[0][0]}:{months[-1][1]}"
    attacker.months_add_up(whole, [f"{s}:{e}" for s, e in months], payloads)
    return attacker.pinned()


async def small_groups_ecosystem(past_months: list[tuple[date, date]]) -> None:
    """Eleven directory startups in groups of 5, 4, 1 and 1 (by stage) and mostly alone in
    their sector; a lab booked a few times a month by people of many small spheres."""
    stages = [Stage.MVP] * 5 + [Stage.GROWTH] * 4 + [Stage.IDEA, Stage.PROTOTYPE]
    sectors = list(Sector)
    for n, stage in enumerate(stages):
        owner = await person(f"founder{n}@startup{n}.vn")
        startup = await make_organisation(owner, f"Startup {n}", spheres=("startup",))
        await StartupProfile.create(
            organisation=startup, stage=stage, sector=sectors[n % len(sectors)], in_directory=True
        )
    lab = await make_lab(await make_host("Open Lab"), "Open Lab")
    machine = await make_equipment(lab, "Printer")
    spheres = [s.value for s in Sphere]
    for n, sphere in enumerate(spheres):
        user = await person(f"u{n}@{sphere}.vn")
        organisation = await make_organisation(user, f"Org {sphere}", spheres=(sphere,))
        assert await OrganisationSphere.exists(organisation_id=organisation.id)
        for m, (first, _last) in enumerate(past_months):
            for b in range((n + m) % 3):  # 0, 1 or 2 bookings of this sphere in this month
                day = first + timedelta(days=2 + 3 * b + n % 3)
                starts = datetime.combine(day, time(8 + n % 8), tzinfo=HCMC)
                await Booking.create(
                    equipment=machine,
                    user=user,
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=1),
                    status=BookingStatus.COMPLETED,
                    check_in_code=f"dc-{n}-{m}-{b}",
                )


async def test_nothing_published_pins_a_small_group(client):
    today = timezone.now().astimezone(HCMC).date()
    last = month_of(today.replace(day=1) - timedelta(days=1))
    before = month_of(last[0] - timedelta(days=1))
    await small_groups_ecosystem([before, last])
    pinned = await attack(client, [before, last])
    assert pinned == [], "\n".join(map(str, pinned))


async def test_the_demo_pins_no_small_group(app, client):
    for package in app.state.packages:
        if package.seed_demo:
            await package.seed_demo()
    today = timezone.now().astimezone(HCMC).date()
    this = month_of(today)
    last = month_of(this[0] - timedelta(days=1))
    assert await attack(client, [last, this]) == []


async def test_periods_are_whole_months(client):
    payload = await published(client, date(2026, 3, 14), date(2026, 5, 2))
    assert payload["period"] == {"from": "2026-03-01", "to": "2026-05-31"}
