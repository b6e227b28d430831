"""Staff series with dateutil.rrule: every other week, monthly by weekday, exception dates; the
preview names each skipped date's reason in the viewer's language and in date order; a series
is edited or cancelled as a whole or from a date on."""

from __future__ import annotations

import re
from datetime import date, time, timedelta

import pytest

from ecosystem.models import User
from labs.models import Booking, BookingSeries, BookingStatus, Closure
from labs.recurrence import BIWEEKLY, MONTHLY, Pattern, pattern_occurrences
from tests.conftest import person
from tests.labs.conftest import HCMC, at, local_day
from tests.labs.test_staff import World, make_world, signed_in

TUESDAY = 1


# --- the pure rule ------------------------------------------------------------------------


def test_every_other_week_on_two_weekdays():
    pattern = Pattern(
        date(2031, 3, 3),  # a Monday
        time(14),
        timedelta(hours=2),
        frozenset({0, 3}),
        BIWEEKLY,
        until=date(2031, 4, 3),
    )
    days = [o.day for o in pattern_occurrences(pattern, HCMC)]
    assert days == [
        date(2031, 3, 3),
        date(2031, 3, 6),
        date(2031, 3, 17),
        date(2031, 3, 20),
        date(2031, 3, 31),
        date(2031, 4, 3),
    ]
    assert pattern.text() == "RRULE:FREQ=WEEKLY;INTERVAL=2;UNTIL=20310403T000000;BYDAY=MO,TH"


def test_the_second_tuesday_of_each_month_with_an_exception():
    pattern = Pattern(
        date(2031, 1, 1),
        time(9, 30),
        timedelta(minutes=90),
        frozenset({TUESDAY}),
        MONTHLY,
        nth=2,
        count=4,
        exceptions=frozenset({date(2031, 2, 11)}),
    )
    found = pattern_occurrences(pattern, HCMC)
    assert [(o.day, o.excepted) for o in found] == [
        (date(2031, 1, 14), False),
        (date(2031, 2, 11), True),
        (date(2031, 3, 11), False),
        (date(2031, 4, 8), False),
    ]
    assert all(o.day.weekday() == TUESDAY and 8 <= o.day.day <= 14 for o in found)
    assert found[0].session.start == at(date(2031, 1, 14), 9, 30)
    assert pattern.text().endswith("EXDATE:20310211")


def test_the_last_weekday_of_a_month():
    pattern = Pattern(
        date(2031, 1, 1), time(8), timedelta(hours=1), frozenset({4}), MONTHLY, nth=-1, count=2
    )
    assert [o.day for o in pattern_occurrences(pattern, HCMC)] == [
        date(2031, 1, 31),
        date(2031, 2, 28),
    ]


def test_a_broken_pattern_is_refused():
    with pytest.raises(ValueError):
        Pattern(date(2031, 1, 1), time(8), timedelta(hours=1), frozenset({1}), MONTHLY).rule()
    with pytest.raises(ValueError):
        Pattern(date(2031, 1, 1), time(8), timedelta(hours=1), frozenset(), count=2).rule()


# --- through HTTP -------------------------------------------------------------------------


def url(world: World) -> str:
    return f"/labs/{world.lab.slug}/equipment/{world.machine.id}/recurring"


def skipped_lines(html: str) -> list[str]:
    return [
        " ".join(re.sub(r"<[^>]+>", " ", line).split())
        for line in re.findall(r'<li class="conflict">(.*?)</li>', html, re.S)
    ]


async def biweekly_world() -> tuple[World, list[date], dict]:
    """Every other week from a day a week ahead: 5 dates; one closed, one taken, one excepted."""
    world = await make_world()
    first = local_day(7)
    days = [first + timedelta(weeks=2 * n) for n in range(5)]
    await Closure.create(lab=world.lab, first_day=days[3], last_day=days[3], reason="Tết")
    await Booking.create(
        equipment=world.machine,
        user=await person("someone@example.org"),
        starts_at=at(days[1], 10),
        ends_at=at(days[1], 11),
        status=BookingStatus.CONFIRMED,
        check_in_code="taken",
    )
    pattern = {
        "title": "Digital fabrication 101",
        "first_date": str(first),
        "start_time": "09:30",
        "duration_minutes": "90",
        "weekdays": str(first.weekday()),
        "frequency": "biweekly",
        "exceptions": f"{days[2]}",
        "count": "5",
    }
    return world, days, pattern


async def test_the_preview_lists_each_skipped_date_with_its_reason_in_date_order(new_browser):
    world, days, pattern = await biweekly_world()
    staff = await signed_in(new_browser, "staff")
    preview = await staff.post(url(world), {**pattern, "action": "preview"})
    assert preview.status_code == 200, preview.text[:1000]
    assert preview.text.count("✓") == 2
    lines = skipped_lines(preview.text)
    assert len(lines) == 3
    assert "the machine is already booked" in lines[0]
    assert "exception date" in lines[1]
    assert "the lab is closed that day" in lines[2] and "Tết" in lines[2]
    # Date order across kept and skipped dates.
    order = [m for m in re.findall(r"[✓✗]", preview.text)]
    assert order == ["✓", "✗", "✗", "✗", "✓"]
    assert not await BookingSeries.exists()

    created = await staff.post(url(world), {**pattern, "action": "create"})
    assert created.status_code == 201
    series = await BookingSeries.get(title="Digital fabrication 101")
    rows = await Booking.filter(series_id=series.id).order_by("starts_at")
    assert [b.starts_at for b in rows] == [at(days[0], 9, 30), at(days[4], 9, 30)]
    assert len(skipped_lines(created.text)) == 3


async def test_the_reasons_read_in_vietnamese(new_browser):
    world, _days, pattern = await biweekly_world()
    await User.filter(email="staff@example.org").update(locale="vi")
    staff = new_browser(lang="vi")
    await staff.login("staff@example.org")
    preview = await staff.post(url(world), {**pattern, "action": "preview"})
    lines = skipped_lines(preview.text)
    assert "ngày ngoại lệ" in lines[1]
    assert "phòng lab nghỉ" in lines[2]
    assert "exception date" not in preview.text


async def test_monthly_by_weekday_needs_its_nth(new_browser):
    world = await make_world()
    staff = await signed_in(new_browser, "staff")
    first = local_day(3)
    pattern = {
        "title": "Maker night",
        "first_date": str(first),
        "start_time": "14:00",
        "duration_minutes": "120",
        "weekdays": str(TUESDAY),
        "frequency": "monthly",
        "count": "3",
        "action": "create",
    }
    missing = await staff.post(url(world), pattern)
    assert missing.status_code == 422
    assert "Choose which weekday of the month." in missing.text
    bad = await staff.post(url(world), {**pattern, "nth": "2", "exceptions": "next tuesday"})
    assert bad.status_code == 422
    assert not await BookingSeries.exists()
    created = await staff.post(url(world), {**pattern, "nth": "2"})
    assert created.status_code == 201
    rows = await Booking.filter(series__title="Maker night").order_by("starts_at")
    assert len(rows) == 3
    for row in rows:
        local = row.starts_at.astimezone(HCMC)
        assert local.weekday() == TUESDAY and 8 <= local.day <= 14 and local.hour == 14


async def make_series(world: World, staff) -> tuple[BookingSeries, list[date]]:
    first = local_day(7)
    days = [first + timedelta(weeks=n) for n in range(4)]
    created = await staff.post(
        url(world),
        {
            "title": "IoT lab",
            "first_date": str(first),
            "start_time": "08:00",
            "duration_minutes": "60",
            "weekdays": str(first.weekday()),
            "count": "4",
            "action": "create",
        },
    )
    assert created.status_code == 201
    return await BookingSeries.get(title="IoT lab"), days


async def test_staff_cancel_the_rest_then_the_whole_series(new_browser):
    world = await make_world()
    staff = await signed_in(new_browser, "staff")
    series, days = await make_series(world, staff)
    page_url = f"/labs/{world.lab.slug}/series/{series.id}"
    page = await staff.get(page_url)
    assert page.status_code == 200 and "IoT lab" in page.text

    rest = await staff.post(
        page_url, {"action": "cancel", "scope": "rest", "from_day": str(days[2])}
    )
    assert rest.status_code == 303
    statuses = [b.status for b in await Booking.filter(series_id=series.id).order_by("starts_at")]
    assert statuses == [BookingStatus.CONFIRMED] * 2 + [BookingStatus.CANCELLED] * 2

    edited = await staff.post(page_url, {"action": "edit", "scope": "all", "title": "IoT lab II"})
    assert edited.status_code == 303
    assert (await BookingSeries.get(id=series.id)).title == "IoT lab II"
    kept = await Booking.filter(series_id=series.id, status=BookingStatus.CONFIRMED)
    assert {b.purpose for b in kept} == {"IoT lab II"}

    everything = await staff.post(page_url, {"action": "cancel", "scope": "all"})
    assert everything.status_code == 303
    assert not await Booking.filter(series_id=series.id, status=BookingStatus.CONFIRMED).exists()

    broken = await staff.post(page_url, {"action": "cancel", "scope": "rest", "from_day": "x"})
    assert broken.status_code == 422


@pytest.mark.parametrize(
    "role", ["plain", "member", "org_admin", "other_staff", "unverified_staff"]
)
async def test_only_the_labs_verified_staff_touch_a_series(new_browser, role):
    world = await make_world()
    series, _days = await make_series(world, await signed_in(new_browser, "staff"))
    browser = await signed_in(new_browser, role)
    page_url = f"/labs/{world.lab.slug}/series/{series.id}"
    assert (await browser.get(page_url)).status_code == 403
    answer = await browser.post(page_url, {"action": "cancel", "scope": "all"})
    assert answer.status_code == 403
    assert await Booking.filter(series_id=series.id, status=BookingStatus.CONFIRMED).count() == 4
    # Another lab's path does not reach this series either.
    other = f"/labs/{world.other_lab.slug}/series/{series.id}"
    other_staff = await signed_in(new_browser, "other_staff")
    assert (await other_staff.get(other)).status_code == 404
