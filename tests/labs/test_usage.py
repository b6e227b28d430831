"""Usage statistics of a lab for its staff: booked vs open hours, no-shows, hours by the
user's sphere; cancelled and declined bookings never count; a CSV export and a chart."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, timedelta

from ecosystem.models import Sphere
from labs.models import Booking, BookingStatus, LabStaff
from labs.services import usage
from tests.conftest import add_member, person
from tests.labs.conftest import at, local_day, make_equipment, make_host, make_lab, quick_user


async def booking(equipment, user, day, hour, hours, status, checked_in=False):
    start = at(day, hour).astimezone(UTC)
    return await Booking.create(
        equipment=equipment,
        user=user,
        starts_at=start,
        ends_at=start + timedelta(hours=hours),
        status=status,
        checked_in_at=start if checked_in else None,
        check_in_code=secrets.token_urlsafe(12),
    )


async def usage_fixture():
    lab = await make_lab()  # open every day 08:00–18:00
    staff = await person("staff@becamex.com.vn")
    await LabStaff.create(lab=lab, user=staff)
    printer = await make_equipment(lab, "Prusa MK4")
    laser = await make_equipment(lab, "=Trotec")  # a name that looks like a formula
    university = await make_host("Thu Dau Mot University", Sphere.UNIVERSITY)
    company = await make_host("Viettel", Sphere.ENTERPRISE)
    student = await quick_user("lan@tdmu.edu.vn")
    engineer = await quick_user("minh@viettel.vn")
    loner = await quick_user("loner@gmail.com")
    await add_member(student, university)
    await add_member(engineer, company)
    day = local_day(-3)
    await booking(printer, student, day, 9, 2, BookingStatus.COMPLETED, checked_in=True)
    await booking(printer, engineer, day, 13, 1, BookingStatus.NO_SHOW)
    await booking(printer, loner, day, 15, 3, BookingStatus.CANCELLED)
    await booking(laser, loner, day, 8, 1, BookingStatus.COMPLETED, checked_in=True)
    await booking(laser, engineer, day, 10, 2, BookingStatus.DECLINED)
    return lab, day


async def test_staff_see_usage_and_download_the_csv(new_browser):
    lab, day = await usage_fixture()
    staff = new_browser(lang="en")
    await staff.login("staff@becamex.com.vn")
    query = f"?from={day.isoformat()}&to={day.isoformat()}"
    page = await staff.get(f"/labs/{lab.slug}/usage{query}")
    assert page.status_code == 200
    assert "<svg" in page.text and "<rect" in page.text
    assert "Prusa MK4" in page.text
    assert "30%" in page.text  # printer: 3 booked hours of 10 open (Babel's percent)

    export = await staff.get(f"/labs/{lab.slug}/usage.csv{query}")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    text = export.content.decode("utf-8-sig")
    rows = {row["machine"]: row for row in csv.DictReader(io.StringIO(text))}
    printer = rows["Prusa MK4"]
    assert float(printer["open_hours"]) == 10.0
    assert float(printer["booked_hours"]) == 3.0  # the cancelled 3 h do not count
    assert float(printer["utilisation_percent"]) == 30.0
    assert int(printer["bookings"]) == 2
    assert int(printer["no_shows"]) == 1
    assert float(printer["hours_university"]) == 2.0
    assert float(printer["hours_enterprise"]) == 1.0
    laser = rows["'=Trotec"]  # never a formula in a spreadsheet
    assert float(laser["booked_hours"]) == 1.0  # the declined 2 h do not count
    assert float(laser["hours_unknown"]) == 1.0
    total = rows["TOTAL"]
    assert float(total["open_hours"]) == 20.0
    assert float(total["booked_hours"]) == 4.0
    assert int(total["no_shows"]) == 1


async def test_usage_is_for_staff_only(new_browser):
    lab, _day = await usage_fixture()
    await person("curious@eiu.edu.vn")
    other = new_browser(lang="en")
    await other.login("curious@eiu.edu.vn")
    assert (await other.get(f"/labs/{lab.slug}/usage")).status_code == 403
    assert (await other.get(f"/labs/{lab.slug}/usage.csv")).status_code == 403
    anonymous = new_browser(lang="en")
    assert (await anonymous.get(f"/labs/{lab.slug}/usage.csv")).status_code in (302, 303)


async def test_usage_runs_a_constant_number_of_queries(app, count_queries):
    lab, day = await usage_fixture()
    staff = await LabStaff.get(lab_id=lab.id).select_related("user")
    with count_queries() as few:
        await usage.lab_usage(staff.user, lab, day, day)
    for n in range(10):
        machine = await make_equipment(lab, f"Bench {n}")
        user = await quick_user(f"u{n}@tdmu.edu.vn")
        await booking(machine, user, day, 9, 1, BookingStatus.COMPLETED, checked_in=True)
    with count_queries() as many:
        report = await usage.lab_usage(staff.user, lab, day, day)
    assert len(report.rows) == 12
    assert len(few.statements) == len(many.statements)
