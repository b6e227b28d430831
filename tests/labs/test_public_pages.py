"""The lab network's pages as people see them: browsing, the search across labs, a machine's
week view, booking through the HTML form, my bookings and cancelling."""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from urllib.parse import urlencode

import pytest
from tortoise import connections

from ecosystem import web
from ecosystem.db import is_sqlite
from ecosystem.models import Role
from labs.models import (
    Blackout,
    Booking,
    BookingStatus,
    Closure,
    Equipment,
    EquipmentCategory,
    EquipmentStatus,
    Lab,
    LabStaff,
)
from labs.services import schedule
from tests.conftest import TOKEN, add_member, make_user, person, tokens_in
from tests.labs.conftest import (
    at,
    local_day,
    make_equipment,
    make_host,
    make_lab,
    make_photo,
    quick_user,
)


def next_weekday(weekday: int, at_least: int = 2):
    """A local date at least `at_least` days ahead falling on `weekday` (Monday = 0)."""
    day = local_day(at_least)
    return day + timedelta(days=(weekday - day.weekday()) % 7)


async def book_directly(equipment, user, start, end, status=BookingStatus.CONFIRMED) -> Booking:
    return await Booking.create(
        equipment=equipment,
        user=user,
        starts_at=start,
        ends_at=end,
        status=status,
        check_in_code=f"c{equipment.id}-{user.id}-{start.timestamp():.0f}",
    )


# --- browsing ---------------------------------------------------------------------------


async def test_anonymous_people_browse_labs_lab_page_and_machine(client):
    host = await make_host()
    lab = await make_lab(
        host,
        name="Becamex FabLab",
        address="Hòa Phú, Thủ Dầu Một",
        contact_email="fablab@becamex.example",
    )
    await make_lab(host, name="EIU Lighting Lab", kind="livinglab")
    await make_lab(host, name="Hidden Lab", is_published=False)
    laser = await make_equipment(
        lab,
        "Trotec Speedy 400",
        EquipmentCategory.LASER_CUTTER,
        rates={"public": 200_000},
        requires_training=True,
        specifications={"Bed": "1000 × 610 mm"},
    )
    await make_equipment(lab, "Prusa MK4", status=EquipmentStatus.MAINTENANCE)
    photo = await make_photo(lab, caption="The workshop")
    await Closure.create(
        lab=lab, first_day=local_day(3), last_day=local_day(5), reason="Tết holiday"
    )

    index = await client.get("/labs")
    assert index.status_code == 200
    assert "Becamex FabLab" in index.text and "EIU Lighting Lab" in index.text
    assert "Hidden Lab" not in index.text
    assert f"/media/{photo.media_id}/thumb.webp" in index.text

    living = await client.get("/labs?kind=livinglab")
    assert "EIU Lighting Lab" in living.text and "Becamex FabLab" not in living.text

    page = await client.get("/labs/becamex-fablab")
    assert page.status_code == 200
    for text in ("Hòa Phú, Thủ Dầu Một", "fablab@becamex.example", "Trotec Speedy 400", "Tết"):
        assert text in page.text
    assert "08:00–18:00" in page.text
    assert f"/media/{photo.media_id}/thumb.webp" in page.text
    assert (await client.get("/labs/hidden-lab")).status_code == 404

    machine = await client.get(f"/equipment/{laser.id}")
    assert machine.status_code == 200
    assert "Trotec Speedy 400" in machine.text and "1000 × 610 mm" in machine.text
    assert "200.000" in machine.text or "200,000" in machine.text
    assert 'class="week"' in machine.text
    assert (await client.get("/equipment/999999")).status_code == 404


async def test_search_finds_a_free_laser_cutter_on_an_afternoon_and_not_a_busy_one(client):
    lab = await make_lab()
    free_one = await make_equipment(lab, "Free Laser", EquipmentCategory.LASER_CUTTER)
    busy_one = await make_equipment(lab, "Busy Laser", EquipmentCategory.LASER_CUTTER)
    await make_equipment(lab, "A Printer", EquipmentCategory.PRINTER_3D)
    someone = await quick_user("someone@example.org")
    tuesday = next_weekday(1)
    await book_directly(busy_one, someone, at(tuesday, 12), at(tuesday, 17))

    params = {"category": "laser_cutter", "day": tuesday.isoformat(), "part": "afternoon"}
    response = await client.get(f"/labs/search?{urlencode(params)}")

    assert response.status_code == 200
    assert "Free Laser" in response.text
    assert "Busy Laser" not in response.text and "A Printer" not in response.text
    assert f"/equipment/{free_one.id}/book?start=" in response.text

    # The morning the busy one is free too; htmx gets only the results.
    params["part"] = "morning"
    fragment = await client.get(f"/labs/search?{urlencode(params)}", headers={"HX-Request": "true"})
    assert "Busy Laser" in fragment.text and "<html" not in fragment.text

    bad = await client.get("/labs/search?category=laser_cutter&day=tuesday")
    assert bad.status_code == 422


async def test_week_grid_shows_free_busy_and_closed_cells_and_hides_who_booked(client):
    lab = await make_lab(hours={weekday: [(time(8), time(12))] for weekday in range(5)})
    machine = await make_equipment(lab, "Roland MDX-50", EquipmentCategory.CNC)
    owner = await quick_user("secret.person@example.org", "Secret Person")
    monday = next_weekday(0, 7)
    await book_directly(machine, owner, at(monday, 9), at(monday, 10))
    await Blackout.create(
        equipment=machine, starts_at=at(monday, 11), ends_at=at(monday, 12), reason="service"
    )

    response = await client.get(
        f"/equipment/{machine.id}/week?start={monday.isoformat()}", headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    text = response.text
    assert "<html" not in text
    assert text.count('class="cell busy"') == 2  # 09:00 and 09:30
    assert 'class="cell free"' in text and 'class="cell closed"' in text
    assert "Secret Person" not in text and "secret.person" not in text
    nxt = (monday + timedelta(days=7)).isoformat()
    assert f"/equipment/{machine.id}/week?start={nxt}" in text
    # Monday 08:00 is free: its cell links to the booking form with start and end.
    assert re.search(r"/equipment/\d+/book\?start=[^\"]+&amp;end=", text)
    # Without htmx the same URL is the whole machine page at that week.
    page = await client.get(f"/equipment/{machine.id}/week?start={monday.isoformat()}")
    assert page.status_code == 200 and "<html" in page.text and "Roland MDX-50" in page.text


async def test_anonymous_visitors_share_a_machine_page_until_what_it_shows_changes(
    new_browser,
):
    """The machine page is built once per process for anonymous visitors, each getting their
    own token; a booking, a renamed machine or lab, another week or a signed-in visitor gets
    the page that shows it."""
    web._public_pages.clear()
    lab = await make_lab(hours={weekday: [(time(8), time(12))] for weekday in range(5)})
    machine = await make_equipment(lab, "Roland MDX-50", EquipmentCategory.CNC)
    owner = await make_user("owner@example.org")
    monday = next_weekday(0, 7)
    url = f"/equipment/{machine.id}/week?start={monday.isoformat()}"

    first, second = new_browser(), new_browser()
    pages = [await first.get(url), await second.get(url)]
    assert all(page.status_code == 200 for page in pages)
    assert len([key for key in web._public_pages if key[0] == "labs/public/equipment.html"]) == 1
    assert tokens_in(pages[0].text) != tokens_in(pages[1].text)
    assert web._TOKEN_STAND_IN not in pages[0].text + pages[1].text
    assert TOKEN.sub("", pages[0].text) == TOKEN.sub("", pages[1].text)
    busy = pages[0].text.count('class="cell busy"')

    await book_directly(machine, owner, at(monday, 9), at(monday, 10))
    booked = await new_browser().get(url)
    assert booked.text.count('class="cell busy"') == busy + 2
    await Equipment.filter(id=machine.id).update(name="Roland MDX-540")
    assert "Roland MDX-540" in (await new_browser().get(url)).text
    await Lab.filter(id=lab.id).update(name="Becamex Makerspace")
    assert "Becamex Makerspace" in (await new_browser().get(url)).text
    later = (monday + timedelta(days=7)).isoformat()
    after_later = f"start={(monday + timedelta(days=14)).isoformat()}"
    assert after_later not in booked.text
    next_week = await new_browser().get(f"/equipment/{machine.id}/week?start={later}")
    assert after_later in next_week.text

    member = new_browser()
    await member.login("owner@example.org")
    signed_in = await member.get(url)
    assert "/dashboard" in signed_in.text and "/register" not in signed_in.text
    assert "/register" in (await new_browser().get(url)).text


# --- booking through the form -------------------------------------------------------------


async def test_booking_through_the_form_then_my_bookings_then_cancel(browser):
    lab = await make_lab(address="Hòa Phú")
    machine = await make_equipment(lab, "Trotec Speedy 400", EquipmentCategory.LASER_CUTTER)
    await person("maker@example.org")
    await browser.login("maker@example.org")
    day = local_day(3)
    start, end = at(day, 14), at(day, 15)

    form = await browser.get(
        f"/equipment/{machine.id}/book?{urlencode({'start': start.isoformat()})}"
    )
    assert form.status_code == 200 and 'name="purpose"' in form.text
    fragment = await browser.get(
        f"/equipment/{machine.id}/book?{urlencode({'start': start.isoformat()})}",
        headers={"HX-Request": "true"},
    )
    assert "<html" not in fragment.text and 'action="/equipment/' in fragment.text

    response = await browser.post(
        f"/equipment/{machine.id}/book",
        {"start": start.isoformat(), "end": end.isoformat(), "purpose": "Sensor enclosure"},
    )
    assert response.status_code == 303 and response.headers["location"] == "/bookings"
    booking = await Booking.get(equipment_id=machine.id)
    assert booking.status == BookingStatus.CONFIRMED and booking.purpose == "Sensor enclosure"

    mine = await browser.get("/bookings")
    assert mine.status_code == 200
    assert "Trotec Speedy 400" in mine.text and "Sensor enclosure" in mine.text

    # The same slot again: 409 with the service's message next to the form.
    again = await browser.post(
        f"/equipment/{machine.id}/book",
        {"start": start.isoformat(), "end": end.isoformat(), "purpose": "Again"},
    )
    assert again.status_code == 409
    assert "already booked" in again.text and 'name="purpose"' in again.text
    assert await Booking.filter(equipment_id=machine.id).count() == 1

    cancelled = await browser.post(f"/bookings/{booking.id}/cancel", headers={"HX-Request": "true"})
    assert cancelled.status_code == 200 and "Cancelled" in cancelled.text
    await booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED


async def test_refusals_keep_their_status_and_name_the_rule(browser):
    lab = await make_lab()
    machine = await make_equipment(lab, "Epilog Fusion", EquipmentCategory.LASER_CUTTER)
    trained_only = await make_equipment(
        lab, "Bio Printer", EquipmentCategory.BIOTECH_INSTRUMENT, requires_training=True
    )
    await person("maker@example.org")
    await browser.login("maker@example.org")
    day = local_day(3)

    late = await browser.post(
        f"/equipment/{machine.id}/book",
        {"start": at(day, 19).isoformat(), "end": at(day, 20).isoformat()},
    )
    assert late.status_code == 422
    assert "not open for the whole of this time" in late.text

    untrained = await browser.post(
        f"/equipment/{trained_only.id}/book",
        {"start": at(day, 9).isoformat(), "end": at(day, 10).isoformat()},
    )
    assert untrained.status_code == 403 and "certification" in untrained.text
    assert await Booking.all().count() == 0


async def test_cancel_after_the_deadline_is_refused_and_the_booking_stays(browser):
    lab = await make_lab()
    machine = await make_equipment(lab, cancellation_deadline_hours=72)
    user = await person("maker@example.org")
    await browser.login("maker@example.org")
    day = local_day(1)
    booking = await book_directly(machine, user, at(day, 10), at(day, 11))

    page = await browser.get("/bookings")
    assert "Too late to cancel" in page.text
    response = await browser.post(f"/bookings/{booking.id}/cancel")
    assert response.status_code == 303
    await booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
    follow = await browser.get("/bookings")
    assert "72 hours" in follow.text


async def test_my_bookings_needs_sign_in_and_hides_other_peoples_bookings(browser):
    lab = await make_lab()
    machine = await make_equipment(lab)
    other = await quick_user("other@example.org")
    theirs = await book_directly(machine, other, at(local_day(3), 9), at(local_day(3), 10))
    assert (await browser.get("/bookings")).status_code in (302, 303)
    await person("maker@example.org")
    await browser.login("maker@example.org")
    page = await browser.get("/bookings")
    assert f"booking-{theirs.id}" not in page.text
    assert (await browser.post(f"/bookings/{theirs.id}/cancel")).status_code == 404


async def test_the_check_in_qr_code_is_for_the_owner_of_an_active_booking(browser):
    lab = await make_lab()
    machine = await make_equipment(lab)
    maker = await person("qr-maker@example.org")
    mine = await book_directly(machine, maker, at(local_day(3), 9), at(local_day(3), 10))
    other = await quick_user("qr-other@example.org")
    theirs = await book_directly(machine, other, at(local_day(3), 11), at(local_day(3), 12))
    cancelled = await book_directly(
        machine, maker, at(local_day(4), 9), at(local_day(4), 10), BookingStatus.CANCELLED
    )
    assert (await browser.get(f"/bookings/{mine.id}/qr.svg")).status_code in (302, 303)
    await browser.login(maker.email)

    page = await browser.get("/bookings")
    assert f'src="/bookings/{mine.id}/qr.svg"' in page.text
    assert f'src="/bookings/{cancelled.id}/qr.svg"' not in page.text
    image = await browser.get(f"/bookings/{mine.id}/qr.svg")
    assert image.status_code == 200
    assert image.headers["content-type"].startswith("image/svg+xml")
    assert image.text.startswith("<svg") or "<svg" in image.text[:200]
    assert (await browser.get(f"/bookings/{theirs.id}/qr.svg")).status_code == 404
    assert (await browser.get(f"/bookings/{cancelled.id}/qr.svg")).status_code == 404


# --- constant queries ----------------------------------------------------------------------


async def _fill(machine, user, count: int, first_day: date) -> None:
    """`count` one-hour bookings, ten a day from `first_day` on (the week the test shows)."""
    for index in range(count):
        day = first_day + timedelta(days=index // 10)
        await book_directly(machine, user, at(day, 8 + index % 10), at(day, 9 + index % 10))


async def test_the_machine_page_reads_never_leave_the_event_loop_on_sqlite(
    settings, browser, new_browser, count_queries, monkeypatch
):
    """Every read of a machine page, signed in or not, is a small one (`rawsql`'s `small`):
    on SQLite it runs on the event loop's thread. A read through aiosqlite's thread costs a
    hand-off each way, and under load it made the signed-in page a third dearer."""
    if not is_sqlite(settings.database_url):
        pytest.skip("the event loop's reads are SQLite's")
    lab = await make_lab(await make_host())
    machine = await make_equipment(lab, "Printer")
    await make_photo(lab, machine, "The printer")
    monday = next_weekday(0, 7)
    await make_user("me@example.org")
    await browser.login("me@example.org")
    anonymous = new_browser()
    url = f"/equipment/{machine.id}/week?start={monday}"
    through_thread: list[str] = []
    aiosqlite_connection = connections.get("default")._connection
    execute_fetchall = aiosqlite_connection.execute_fetchall

    def spied(sql, *args, **kwargs):
        through_thread.append(sql)
        return execute_fetchall(sql, *args, **kwargs)

    for visitor in (browser, anonymous):
        for headers in ({}, {"HX-Request": "true"}):
            await visitor.get(url, headers=headers)  # the lab's hours are cached from here on
            monkeypatch.setattr(aiosqlite_connection, "execute_fetchall", spied)
            with count_queries() as counted:
                page = await visitor.get(url, headers=headers)
            monkeypatch.undo()
            assert page.status_code == 200
            assert counted.statements  # it did read…
            assert through_thread == []  # …all of it on the loop


async def test_lab_page_and_week_view_run_constant_queries(client, count_queries):
    host = await make_host()
    lab = await make_lab(host)
    machines = [await make_equipment(lab, f"Machine {n}") for n in range(2)]
    user = await quick_user("busy@example.org")
    monday = next_weekday(0, 7)

    async def measure() -> tuple[int, int]:
        await schedule.calendar_changed(lab.id)  # cold: the lab's calendar is read too
        with count_queries() as lab_queries:
            assert (await client.get(f"/labs/{lab.slug}")).status_code == 200
        with count_queries() as week_queries:
            response = await client.get(
                f"/equipment/{machines[0].id}/week?start={monday}", headers={"HX-Request": "true"}
            )
            assert response.status_code == 200
        return len(lab_queries.statements), len(week_queries.statements)

    few = await measure()
    await _fill(machines[0], user, 40, monday)
    for n in range(5):
        await make_equipment(lab, f"More {n}", EquipmentCategory.CNC)
        await Closure.create(lab=lab, first_day=local_day(40 + n), last_day=local_day(40 + n))
    many = await measure()
    assert few == many, (few, many)
    with count_queries() as warm:  # the calendar comes from the cache: machine, blackouts, busy
        await client.get(
            f"/equipment/{machines[0].id}/week?start={monday}", headers={"HX-Request": "true"}
        )
    assert len(warm.statements) == many[1] - 2
    response = await client.get(
        f"/equipment/{machines[0].id}/week?start={monday}", headers={"HX-Request": "true"}
    )
    assert 'class="cell busy"' in response.text


async def test_the_signed_in_week_marks_own_bookings_in_constant_queries(browser, count_queries):
    lab = await make_lab(await make_host())
    machine, other_machine = await make_equipment(lab, "Printer"), await make_equipment(lab, "CNC")
    me = await make_user("me@example.org")
    someone = await quick_user("someone@example.org")
    monday = next_weekday(0, 7)
    await book_directly(machine, me, at(monday, 9), at(monday, 10))
    await book_directly(machine, someone, at(monday, 11), at(monday, 12))
    await browser.login("me@example.org")
    url = f"/equipment/{machine.id}/week?start={monday}"
    fragment = {"HX-Request": "true"}

    await browser.get(url, headers=fragment)  # the lab's calendar is cached from here on
    with count_queries() as few:
        page = await browser.get(url, headers=fragment)
    # Many more of my bookings, of this machine in other weeks and of another machine.
    for week in range(1, 21):
        day = monday + timedelta(weeks=week)
        await book_directly(machine, me, at(day, 9), at(day, 10))
        await book_directly(other_machine, me, at(day, 9), at(day, 10))
    with count_queries() as many:
        again = await browser.get(url, headers=fragment)

    for response in (page, again):
        assert response.status_code == 200
        assert response.text.count('class="cell busy mine"') == 2  # 09:00 and 09:30: mine
        assert response.text.count('class="cell busy"') == 2  # 11:00 and 11:30: someone's
    assert len(many.statements) == len(few.statements), many.statements
    # The machine's bookings and which of them are mine: one read of the week's bookings.
    assert len([sql for sql in many.statements if "labs_booking" in sql]) == 1, many.statements


async def test_the_lab_page_leads_staff_and_host_admins_to_their_tools(new_browser):
    host = await make_host()
    lab = await make_lab(host)
    staff = await make_user("staff@example.org")
    await LabStaff.create(lab=lab, user=staff)
    admin = await make_user("admin@example.org")
    await add_member(admin, host, Role.ADMIN)
    await make_user("visitor@example.org")
    pages = {}
    for email in ("staff@example.org", "admin@example.org", "visitor@example.org"):
        browser = new_browser()
        await browser.login(email)
        pages[email] = (await browser.get(f"/labs/{lab.slug}")).text
    assert f"/labs/{lab.slug}/manage" in pages["staff@example.org"]
    assert f"/labs/{lab.slug}/staff" not in pages["staff@example.org"]
    assert f"/labs/{lab.slug}/staff" in pages["admin@example.org"]
    assert f"/labs/{lab.slug}/manage" not in pages["admin@example.org"]
    assert "/manage" not in pages["visitor@example.org"]
    assert f"/labs/{lab.slug}/staff" not in pages["visitor@example.org"]
