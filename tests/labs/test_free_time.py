"""The network search with its summary of free time (labs.services.free_time): the same
answers as checking every machine, on random data and after every kind of change, whether
the summary is fresh, stale or missing; the triggers that mark it stale; paging; queries."""

from __future__ import annotations

import random
from datetime import time, timedelta
from urllib.parse import urlencode

from tortoise import timezone

from labs.models import (
    Blackout,
    Booking,
    BookingStatus,
    Closure,
    EquipmentCategory,
    FreeDay,
    OpeningHours,
)
from labs.services import browse, free_time
from tests.labs.conftest import (
    HCMC,
    at,
    local_day,
    make_equipment,
    make_host,
    make_lab,
    quick_user,
    user_with_token,
)

CATEGORIES = (EquipmentCategory.PRINTER_3D, EquipmentCategory.LASER_CUTTER)


async def book(machine, user, start, end, status=BookingStatus.CONFIRMED) -> Booking:
    return await Booking.create(
        equipment=machine,
        user=user,
        starts_at=start,
        ends_at=end,
        status=status,
        check_in_code=f"ft-{random.getrandbits(48):012x}",
    )


def query(day, duration=60, part="", category=None) -> browse.SearchQuery:
    params = {"day": day.isoformat(), "duration": str(duration), "part": part}
    if category is not None:
        params["category"] = category.value
    return browse.parse_search(params, day)


async def paged(search: browse.SearchQuery, size: int) -> list[tuple]:
    """Every hit, page after page of `size`."""
    found, after = [], 0
    for _page in range(100):
        page = await browse.search_page(search, after, size)
        assert len(page.hits) <= size
        found += page.hits
        if page.after is None:
            return [(hit.equipment.id, hit.start, hit.end) for hit in found]
        assert len(page.hits) == size
        after = page.after
    raise AssertionError("paging does not end")


async def assert_same_as_scan(day) -> int:
    """The paged search gives exactly the hits of the full scan, for several queries."""
    checked = 0
    for duration in (30, 60, 150, 240):
        for part in ("", "morning", "afternoon"):
            for category in (None, *CATEGORIES):
                search = query(day, duration, part, category)
                scan = [
                    (hit.equipment.id, hit.start, hit.end)
                    for hit in await browse.search_free_by_scan(search)
                ]
                assert await paged(search, 3) == scan, (duration, part, category)
                checked += len(scan)
    return checked


async def random_network(rng: random.Random, day):
    """Three labs (one closed on `day`), 18 machines, random bookings and blackouts."""
    host = await make_host()
    labs = [
        await make_lab(host, "Alpha Lab"),
        await make_lab(host, "Beta Lab", hours={w: [(time(7), time(12))] for w in range(7)}),
        await make_lab(host, "Gamma Lab"),
    ]
    await Closure.create(lab=labs[2], first_day=day, last_day=day, reason="Tet")
    machines = [
        await make_equipment(
            labs[n % 3], f"M{n:02d}", CATEGORIES[n % 2], notice_minutes=0, max_minutes=300
        )
        for n in range(18)
    ]
    user = await quick_user("random@example.org")
    for machine in machines:
        hour = 7
        while hour < 19:
            hour += rng.choice((0, 1, 2))
            length = rng.choice((1, 2, 3, 5))
            if hour + length <= 20 and rng.random() < 0.6:
                await book(machine, user, at(day, hour), at(day, hour + length))
            hour += length
        if rng.random() < 0.2:
            await Blackout.create(
                equipment=machine, starts_at=at(day, 9), ends_at=at(day, 11), reason="service"
            )
    return labs, machines, user


async def test_search_equals_the_exact_scan_fresh_stale_and_missing(client):
    rng = random.Random(20261203)
    day = local_day(3)
    labs, machines, user = await random_network(rng, day)

    # No summary yet: every machine is a candidate.
    assert await assert_same_as_scan(day) > 0
    written = await free_time.refresh(timezone.now())
    assert written >= len(machines)
    fresh = await FreeDay.filter(day=day, stale=False).count()
    assert fresh == len(machines)
    closed = await FreeDay.filter(day=day, equipment_id__in=[m.id for m in machines[2::3]])
    assert {row.longest_free_minutes for row in closed} == {0}  # Gamma is closed that day
    assert await assert_same_as_scan(day) > 0

    # Changes without a refresh: cancellations, new bookings, a closure, other hours.
    bookings = await Booking.filter(equipment_id__in=[m.id for m in machines]).order_by("id")
    for booking in rng.sample(list(bookings), len(bookings) // 3):
        booking.status = BookingStatus.CANCELLED
        await booking.save(update_fields=["status"])
    await book(machines[1], user, at(day, 12), at(day, 18))
    await Closure.create(lab=labs[0], first_day=day, last_day=day)
    await Closure.filter(lab=labs[2]).delete()
    await OpeningHours.filter(lab=labs[1]).update(opens_minute=6 * 60)
    assert await FreeDay.filter(day=day, stale=True).count() == len(machines)
    assert await assert_same_as_scan(day) > 0

    await free_time.refresh(timezone.now())
    assert await FreeDay.filter(day=day, stale=True).count() == 0
    assert await assert_same_as_scan(day) > 0


async def test_a_freed_machine_is_found_before_the_summary_is_recomputed(client):
    day = local_day(4)
    lab = await make_lab()
    machine = await make_equipment(lab, "Only Laser", EquipmentCategory.LASER_CUTTER)
    user = await quick_user("lan@eiu.edu.vn")
    booking = await book(machine, user, at(day, 8), at(day, 18))
    await free_time.refresh(timezone.now())
    row = await FreeDay.get(equipment_id=machine.id, day=day)
    assert (row.stale, row.free_minutes, row.longest_free_minutes) == (False, 0, 0)
    params = {"day": day.isoformat(), "duration": "60"}
    assert "Only Laser" not in (await client.get(f"/labs/search?{urlencode(params)}")).text

    booking.status = BookingStatus.CANCELLED
    await booking.save(update_fields=["status"])  # the trigger marks the day stale
    row = await FreeDay.get(equipment_id=machine.id, day=day)
    assert row.stale and row.version > 0
    assert "Only Laser" in (await client.get(f"/labs/search?{urlencode(params)}")).text

    await free_time.refresh(timezone.now())
    row = await FreeDay.get(equipment_id=machine.id, day=day)
    assert (row.stale, row.free_minutes, row.longest_free_minutes) == (False, 600, 600)


async def test_every_kind_of_change_marks_the_summary_stale(client):
    day = local_day(5)
    host = await make_host()
    lab = await make_lab(host)
    other_lab = await make_lab(host, name="Other Lab")
    machine = await make_equipment(lab, "Prusa")
    bystander = await make_equipment(other_lab, "Elsewhere")
    user = await quick_user("hai@eiu.edu.vn")

    async def stale_after(change) -> tuple[bool, bool]:
        await free_time.refresh(timezone.now())
        assert not await FreeDay.filter(stale=True).exists()
        await change()
        mine = await FreeDay.get(equipment_id=machine.id, day=day)
        theirs = await FreeDay.get(equipment_id=bystander.id, day=day)
        return mine.stale, theirs.stale

    async def new_booking():
        await book(machine, user, at(day, 9), at(day, 10))

    async def moved_booking():
        await Booking.filter(equipment_id=machine.id).update(ends_at=at(day, 11))

    async def deleted_booking():
        await Booking.filter(equipment_id=machine.id).delete()

    async def blackout():
        await Blackout.create(equipment=machine, starts_at=at(day, 9), ends_at=at(day, 10))

    async def closure():
        await Closure.create(lab=lab, first_day=day, last_day=day)

    async def hours():
        await OpeningHours.filter(lab=lab).update(closes_minute=17 * 60)

    async def zone():
        lab.timezone = "Asia/Seoul"
        await lab.save(update_fields=["timezone"])

    for change in (new_booking, moved_booking, deleted_booking, blackout, closure, hours, zone):
        assert await stale_after(change) == (True, False), change.__name__

    # A booking on another day leaves this day's row fresh.
    await free_time.refresh(timezone.now())
    await book(machine, user, at(day + timedelta(days=4), 9), at(day + timedelta(days=4), 10))
    assert not (await FreeDay.get(equipment_id=machine.id, day=day)).stale


async def test_a_result_computed_before_a_change_is_not_written(client, monkeypatch):
    day = local_day(2)
    machine = await make_equipment(await make_lab())
    user = await quick_user("an@tdmu.edu.vn")
    load = free_time.Calendar.load

    async def load_then_someone_books(calendar):
        loaded = await load(calendar)  # the job has read the inputs...
        await book(machine, user, at(day, 8), at(day, 18))  # ...and a booking commits
        return loaded

    monkeypatch.setattr(free_time.Calendar, "load", load_then_someone_books)
    await free_time.refresh(timezone.now())
    row = await FreeDay.get(equipment_id=machine.id, day=day)
    assert row.stale and row.version == 1  # the outdated result was not written

    monkeypatch.setattr(free_time.Calendar, "load", load)
    await free_time.refresh(timezone.now())
    row = await FreeDay.get(equipment_id=machine.id, day=day)
    assert (row.stale, row.longest_free_minutes) == (False, 0)


async def test_results_are_paged_with_a_next_link(client, monkeypatch):
    monkeypatch.setattr(browse, "SEARCH_PAGE_SIZE", 4)
    day = local_day(3)
    lab = await make_lab()
    for n in range(7):
        await make_equipment(lab, f"Printer {n}")
    await free_time.refresh(timezone.now())
    params = {"day": day.isoformat(), "duration": "60"}
    first = await client.get(f"/labs/search?{urlencode(params)}")
    assert first.status_code == 200
    assert [f"Printer {n}" in first.text for n in range(7)] == [True] * 4 + [False] * 3
    assert 'rel="next"' in first.text
    second = await client.get(f"/labs/search?{urlencode({**params, 'after': '4'})}")
    assert [f"Printer {n}" in second.text for n in range(7)] == [False] * 4 + [True] * 3
    assert 'rel="next"' not in second.text
    bad = await client.get(f"/labs/search?{urlencode({**params, 'after': 'x'})}")
    assert bad.status_code == 422


async def test_a_search_runs_the_same_queries_for_5_or_60_machines(client, count_queries):
    day = local_day(3)
    host = await make_host()
    lab = await make_lab(host)
    params = {"day": day.isoformat(), "duration": "60", "category": "3d_printer"}
    for n in range(5):
        await make_equipment(lab, f"Printer {n}")
    await free_time.refresh(timezone.now())
    with count_queries() as few:
        small = await client.get(f"/labs/search?{urlencode(params)}")
    other = await make_lab(host, name="Second Lab")
    for n in range(55):
        await make_equipment(other, f"Machine {n}")
    await free_time.refresh(timezone.now())
    with count_queries() as many:
        large = await client.get(f"/labs/search?{urlencode(params)}")
    assert small.status_code == large.status_code == 200
    assert (
        large.text.count("search-hit") == browse.SEARCH_PAGE_SIZE > small.text.count("search-hit")
    )
    assert len(many.statements) == len(few.statements), many.statements


async def test_the_json_search_pages_with_a_cursor_and_refuses_bad_input(client, monkeypatch):
    monkeypatch.setattr(browse, "SEARCH_PAGE_SIZE", 4)
    day = local_day(3)
    lab = await make_lab()
    machines = [await make_equipment(lab, f"Printer {n}") for n in range(7)]
    await free_time.refresh(timezone.now())
    _user, headers = await user_with_token("api-search@eiu.edu.vn")
    params = {"day": day.isoformat(), "duration": "60", "part": "afternoon"}
    assert (await client.get(f"/api/v1/search?{urlencode(params)}")).status_code == 401

    first = await client.get(f"/api/v1/search?{urlencode(params)}", headers=headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert [hit["equipment_id"] for hit in body["items"]] == [m.id for m in machines[:4]]
    assert body["next_after"] == 4
    hit = body["items"][0]
    assert hit["lab_slug"] == lab.slug and hit["timezone"] == lab.timezone
    assert hit["start"].startswith(day.isoformat()) and hit["start"].endswith("+07:00")
    expected = await paged(browse.parse_search(params, day), 4)
    second = await client.get(
        f"/api/v1/search?{urlencode({**params, 'after': body['next_after']})}", headers=headers
    )
    items = body["items"] + second.json()["items"]
    assert second.json()["next_after"] is None
    assert [(h["equipment_id"], h["start"], h["end"]) for h in items] == [
        (machine_id, start.astimezone(HCMC).isoformat(), end.astimezone(HCMC).isoformat())
        for machine_id, start, end in expected
    ]

    for bad in (
        {"duration": "5"},
        {"duration": "many"},
        {"part": "night"},
        {"after": "-1"},
        {"day": "2026-02-30"},
        {"category": "time machine"},
        {"part": "", "from": "10:00", "to": "09:00"},
        {"part": "", "from": "25:00", "to": "26:00"},
    ):
        response = await client.get(
            f"/api/v1/search?{urlencode({**params, **bad})}", headers=headers
        )
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["error"]
