"""One lab, one grid: the day (machines × slots) and the week (machines × days) of a lab, as
people see them over HTTP: every state told apart in words, the viewer's own bookings marked,
filters and navigation in the URL, a free cell opening the booking form, constant queries."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from labs.models import Blackout, Booking, BookingStatus, EquipmentCategory, EquipmentStatus
from tests.conftest import make_user, person
from tests.labs.conftest import at, certify, local_day, make_equipment, make_host, make_lab

CELL = re.compile(r'<td class="(\w+)( mine)?">(.*?)</td>', re.S)


def cells(html: str) -> list[tuple[str, bool, str]]:
    return [(state, bool(mine), unescape(body)) for state, mine, body in CELL.findall(html)]


def row_of(html: str, machine_name: str) -> list[tuple[str, bool, str]]:
    """The cells of one machine's row."""
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        if f">{machine_name}</a>" in row:
            return cells(row)
    raise AssertionError(f"no row for {machine_name}")


def next_monday(at_least: int = 7):
    day = local_day(at_least)
    return day + timedelta(days=(0 - day.weekday()) % 7)


async def book(equipment, user, start, end, status=BookingStatus.CONFIRMED) -> Booking:
    return await Booking.create(
        equipment=equipment,
        user=user,
        starts_at=start,
        ends_at=end,
        status=status,
        check_in_code=f"g{equipment.id}-{user.id}-{start.timestamp():.0f}",
    )


async def world():
    lab = await make_lab(await make_host())  # open every day 08:00-18:00
    printer = await make_equipment(lab, "Prusa MK4", notice_minutes=0)
    laser = await make_equipment(
        lab, "Trotec Laser", EquipmentCategory.LASER_CUTTER, requires_training=True
    )
    broken = await make_equipment(lab, "Old CNC", EquipmentCategory.CNC)
    broken.status = EquipmentStatus.MAINTENANCE
    await broken.save()
    return lab, printer, laser, broken


async def test_the_day_grid_tells_every_state_apart_in_words(browser, count_queries):
    lab, printer, laser, broken = await world()
    me = await person("me@example.org")
    other = await person("other@example.org")
    day = local_day(3)
    await book(printer, me, at(day, 9), at(day, 10))
    await book(printer, other, at(day, 11), at(day, 13))
    await Blackout.create(equipment=laser, starts_at=at(day, 14), ends_at=at(day, 16))
    await browser.login("me@example.org")
    page = await browser.get(f"/labs/{lab.slug}/day?date={day}")
    assert page.status_code == 200
    text = page.text
    # Columns: 08:00 … 17:00, one per hour of the lab's hours.
    assert re.findall(r'<th scope="col">(\d\d:\d\d)</th>', text) == [
        f"{hour:02d}:00" for hour in range(8, 18)
    ]
    printer_row = row_of(text, "Prusa MK4")
    assert [state for state, _mine, _body in printer_row] == [
        "free", "yours", "free", "busy", "busy", "free", "free", "free", "free", "free",
    ]  # fmt: skip
    assert "Prusa MK4, 09:00: Your booking" in printer_row[1][2]
    assert "Prusa MK4, 11:00: Booked" in printer_row[3][2]
    assert "Prusa MK4, 08:00: Free – book" in printer_row[0][2]
    laser_states = [state for state, _mine, _body in row_of(text, "Trotec Laser")]
    assert laser_states[6:8] == ["blackout", "blackout"]
    assert "Trotec Laser, 14:00: Maintenance" in row_of(text, "Trotec Laser")[6][2]
    assert {state for state, _m, _b in row_of(text, "Old CNC")} == {"closed"}
    assert "Old CNC, 08:00: Out of service" in row_of(text, "Old CNC")[0][2]
    # A free cell opens the booking form for that machine and start, with htmx.
    link = re.search(r'hx-get="(/equipment/(\d+)/book\?[^"]+)"', printer_row[0][2])
    assert link is not None and int(link.group(2)) == printer.id
    query = parse_qs(urlsplit(unescape(link.group(1))).query)
    assert datetime.fromisoformat(query["start"][0]) == at(day, 8)
    assert datetime.fromisoformat(query["end"][0]) == at(day, 9)
    form = await browser.get(unescape(link.group(1)), headers={"HX-Request": "true"})
    assert form.status_code == 200 and f'action="/equipment/{printer.id}/book"' in form.text
    assert "<html" not in form.text
    assert "other@example.org" not in text and "Other" not in text


@pytest.mark.usefixtures("english")
async def test_the_week_grid_counts_free_hours_and_marks_the_past_and_closures(client):
    from labs.models import Closure

    lab, printer, laser, _broken = await world()
    user = await person("busy@example.org")
    monday = next_monday()
    await book(printer, user, at(monday, 8), at(monday, 12))
    await Closure.create(
        lab=lab, first_day=monday + timedelta(days=2), last_day=monday + timedelta(days=2)
    )
    page = await client.get(f"/labs/{lab.slug}/week?start={monday}")
    assert page.status_code == 200
    row = row_of(page.text, "Prusa MK4")
    assert len(row) == 7
    assert row[0][0] == "free" and "6 h free" in row[0][2]
    assert row[1][0] == "free" and "10 h free" in row[1][2]
    assert row[2][0] == "closed" and "Closed" in row[2][2]
    # Each day header leads to that day's grid, keeping the URL.
    assert f'hx-get="/labs/{lab.slug}/day?date={monday}"' in page.text
    assert 'hx-push-url="true"' in page.text
    # The past: last week's cells are past, not free.
    past = await client.get(f"/labs/{lab.slug}/week?start={monday - timedelta(days=21)}")
    assert {state for state, _m, _b in row_of(past.text, "Prusa MK4")} == {"past"}
    # Unknown lab, unpublished lab: 404.
    assert (await client.get("/labs/no-such-lab/week")).status_code == 404
    assert (await client.get("/labs/no-such-lab/day")).status_code == 404
    hidden = await make_lab(await make_host("Other host"), "Hidden Lab", is_published=False)
    assert (await client.get(f"/labs/{hidden.slug}/week")).status_code == 404
    assert (await client.get(f"/labs/{hidden.slug}/day")).status_code == 404
    # Malformed input is not an error: the current week/day.
    for url in (
        "week?start=not-a-date",
        "day?date=2026-13-45",
        "day?category=nonsense&certified=x",
    ):
        assert (await client.get(f"/labs/{lab.slug}/{url}")).status_code == 200


async def test_filters_by_category_and_certification_live_in_the_url(browser):
    lab, printer, laser, _broken = await world()
    me = await person("me@example.org")
    await browser.login("me@example.org")
    day = local_day(2)
    only_lasers = await browser.get(f"/labs/{lab.slug}/day?date={day}&category=laser_cutter")
    assert "Trotec Laser" in only_lasers.text and ">Prusa MK4<" not in only_lasers.text
    assert "2 machines hidden by the filters." in only_lasers.text
    # The navigation keeps the filter.
    assert (
        f"/labs/{lab.slug}/day?date={day + timedelta(days=1)}&amp;category=laser_cutter"
        in only_lasers.text
    )
    mine = await browser.get(f"/labs/{lab.slug}/day?date={day}&certified=1")
    assert ">Prusa MK4<" in mine.text and ">Trotec Laser<" not in mine.text
    await certify(me, EquipmentCategory.LASER_CUTTER)
    mine = await browser.get(f"/labs/{lab.slug}/day?date={day}&certified=1")
    assert ">Trotec Laser<" in mine.text
    # An htmx request gets the grid alone, and the answer varies on it.
    fragment = await browser.get(
        f"/labs/{lab.slug}/week?start={day}", headers={"HX-Request": "true"}
    )
    assert (
        fragment.text.lstrip().startswith('<div id="lab-grid"')
        or 'id="lab-grid"' in fragment.text[:400]
    )
    assert "<html" not in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]
    restore = await browser.get(
        f"/labs/{lab.slug}/week?start={day}",
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert "<html" in restore.text


@pytest.mark.usefixtures("english")
async def test_anonymous_and_unverified_people_see_the_grid(client, new_browser):
    lab, printer, _laser, _broken = await world()
    day = local_day(2)
    anonymous = await client.get(f"/labs/{lab.slug}/day?date={day}")
    assert anonymous.status_code == 200
    assert 'name="slot"' not in anonymous.text  # no basket without an account
    assert "certified" not in anonymous.text.split("grid-filters", 1)[1].split("</form>", 1)[0]
    await make_user("unverified@example.org", verified=False)
    unverified = new_browser()
    await unverified.login("unverified@example.org")
    page = await unverified.get(f"/labs/{lab.slug}/day?date={day}")
    assert page.status_code == 200
    # The grid is for reading; what an account may book is the booking form's rule.
    assert 'hx-get="/equipment/' in page.text


async def test_the_grids_run_a_constant_number_of_queries(browser, count_queries):
    lab, printer, laser, _broken = await world()
    me = await person("me@example.org")
    await browser.login("me@example.org")
    monday = next_monday()
    urls = (
        f"/labs/{lab.slug}/week?start={monday}",
        f"/labs/{lab.slug}/day?date={monday}&certified=1",
    )
    await book(printer, me, at(monday, 9), at(monday, 10))
    few = []
    for url in urls:
        await browser.get(url)
        with count_queries() as counted:
            await browser.get(url)
        few.append(len(counted.statements))
    for n in range(12):
        machine = await make_equipment(
            lab, f"More {n}", EquipmentCategory.CNC, requires_training=True
        )
        await certify(me, EquipmentCategory.CNC) if n == 0 else None
        for day in range(7):
            when = monday + timedelta(days=day)
            await book(
                machine,
                me if n % 2 else await person(f"p{n}-{day}@example.org"),
                at(when, 9),
                at(when, 11),
            )
        await Blackout.create(equipment=machine, starts_at=at(monday, 14), ends_at=at(monday, 15))
    for url, before in zip(urls, few, strict=True):
        with count_queries() as counted:
            page = await browser.get(url)
        assert page.status_code == 200
        assert len(counted.statements) == before, (url, counted.statements)
