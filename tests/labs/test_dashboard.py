"""The labs' panel of the personal dashboard and their open indicators."""

from __future__ import annotations

from datetime import timedelta

from ecosystem.models import Organisation, Sphere, Verification
from labs.dashboard import labs_indicators
from labs.models import Booking, BookingStatus, Certification, EquipmentCategory, LabStaff
from tests.conftest import add_member, make_organisation, person
from tests.labs.conftest import at, local_day, make_equipment, make_host, make_lab


async def booking(machine, user, start, end, status=BookingStatus.CONFIRMED) -> Booking:
    return await Booking.create(
        equipment=machine,
        user=user,
        starts_at=start,
        ends_at=end,
        status=status,
        check_in_code=f"c-{machine.id}-{user.id}-{start.timestamp()}",
    )


async def test_the_panel_shows_my_next_bookings_and_staff_approvals(new_browser):
    lab = await make_lab(await make_host())
    machine = await make_equipment(lab, "Prusa MK4 #1", requires_approval=True)
    maker = await person("maker@example.org")
    staff = await person("staff@example.org")
    await LabStaff.create(lab=lab, user=staff)
    day = local_day(3)
    await booking(machine, maker, at(day, 9), at(day, 10), BookingStatus.PENDING)
    await booking(machine, maker, at(day, 11), at(day, 12), BookingStatus.CANCELLED)

    mine = new_browser(lang="en")
    await mine.login("maker@example.org")
    page = (await mine.get("/dashboard")).text
    assert "Your next bookings" in page and "Prusa MK4 #1" in page
    assert page.count("Prusa MK4 #1") == 1  # the cancelled one is not upcoming
    assert "Waiting for your approval" not in page

    theirs = new_browser(lang="en")
    await theirs.login("staff@example.org")
    page = (await theirs.get("/dashboard")).text
    assert "Waiting for your approval" in page and "1 booking in Becamex FabLab" in page
    assert f"/labs/{lab.slug}/approvals" in page
    assert page.index("Waiting for your approval") < page.index("Find a free machine")


async def test_indicators_count_utilisation_and_never_cancelled_bookings(app, count_queries):
    lab = await make_lab(await make_host())  # open 08:00-18:00 every day
    printer = await make_equipment(lab, "Printer")
    laser = await make_equipment(lab, "Laser", EquipmentCategory.LASER_CUTTER)
    await make_lab(await make_host("Hidden host"), "Hidden Lab", is_published=False)
    pending = await make_host("Pending host")  # published, but its host is not verified (yet)
    await Organisation.filter(id=pending.id).update(verification=Verification.PENDING)
    draft = await make_lab(pending, "Draft Lab", is_published=True)
    await make_equipment(draft, "Draft printer")  # neither the lab nor its machine counts
    university = await make_organisation(await person("rector@eiu.edu.vn"), "EIU")
    students = [await person(f"s{n}@eiu.edu.vn") for n in range(3)]
    for student in students:
        await add_member(student, university)
    lonely = await person("ceo@company.vn")
    company = await make_organisation(lonely, "Company", spheres=(Sphere.ENTERPRISE.value,))
    assert company
    day = local_day(-3)
    for n, student in enumerate(students):
        await booking(printer, student, at(day, 8 + 2 * n), at(day, 10 + 2 * n))
    await booking(laser, lonely, at(day, 8), at(day, 13))
    await booking(laser, students[0], at(day, 14), at(day, 18), BookingStatus.CANCELLED)
    for student in students:
        await Certification.create(user=student, category=EquipmentCategory.PRINTER_3D)
    await Certification.all().update(granted_at=at(day, 12))

    with count_queries() as few:
        figures = await labs_indicators(day, day)
    assert figures["labs"] == 1 and figures["machines"] == 2
    assert figures["bookings"] == 5  # 4 rounded to five: the cancelled one never counts
    assert figures["booked_hours"] == 11.0
    assert figures["open_machine_hours"] == 20.0
    assert figures["utilisation_percent"] == 55.0
    assert figures["utilisation_by_category"] == {"3d_printer": 60.0, "laser_cutter": 50.0}
    assert figures["utilisation_by_lab"] == {"Becamex FabLab": 55.0}
    # Rounded to five together with their totals (1 + 3 = 4 → 0 + 5 = 5): the lonely
    # enterprise booker is no blank that the total gives away.
    every_sphere = dict.fromkeys([*(sphere.value for sphere in Sphere), "unknown"], 0)
    assert figures["bookings_by_sphere"] == {**every_sphere, "university": 5}
    assert figures["unique_users_by_sphere"] == {**every_sphere, "university": 5}
    assert figures["unique_users"] == 5
    assert figures["certifications_granted"] == 5
    assert sum(figures["bookings_by_month"].values()) == figures["bookings"]

    for n in range(5):  # more machines and bookings: the same number of queries
        extra = await make_equipment(lab, f"More {n}", EquipmentCategory.CNC)
        await booking(extra, students[n % 3], at(day, 9), at(day, 10))
    with count_queries() as many:
        await labs_indicators(day - timedelta(days=40), day)
    assert len(few.statements) == len(many.statements)


async def test_the_ecosystem_page_draws_the_labs_figures(client, english):
    lab = await make_lab(await make_host())
    await make_equipment(lab, "Printer")
    page = await client.get("/ecosystem")
    assert page.status_code == 200
    assert "Utilisation by category (%)" in page.text
    assert "Published labs" in page.text
