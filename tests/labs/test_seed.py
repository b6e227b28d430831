"""The lab network's demo data: the labs of CONTEXT.md with realistic machines and rules,
staff and certifications as the issue says, a few weeks of bookings, and idempotence."""

from __future__ import annotations

from datetime import date

from tortoise import timezone

from ecosystem.models import User
from ecosystem.seed import seed_kernel
from labs import permissions
from labs.models import (
    ACTIVE_BOOKING_STATUSES,
    Booking,
    Certification,
    Closure,
    Equipment,
    EquipmentCategory,
    EquipmentRate,
    Lab,
    LabKind,
    LabStaff,
    OpeningHours,
    TrainingSession,
)
from labs.seed import seed_labs
from labs.services.facts import has_certification

MODELS = (
    Lab,
    LabStaff,
    Equipment,
    EquipmentRate,
    OpeningHours,
    Closure,
    Booking,
    Certification,
    TrainingSession,
)


async def counts() -> dict[str, int]:
    return {model.__name__: await model.all().count() for model in MODELS}


async def test_demo_labs_hold_the_facts_of_the_issue_and_seeding_twice_changes_nothing(app):
    await seed_kernel()
    await seed_labs()
    first = await counts()
    await seed_kernel()
    await seed_labs()
    assert await counts() == first

    labs = {lab.slug: lab for lab in await Lab.all().select_related("organisation")}
    hosts = {slug: lab.organisation.slug for slug, lab in labs.items()}
    assert hosts == {
        "becamex-fablab": "becamex-idc",
        "eiu-lighting-living-lab": "eiu",
        "tdmu-biotech-fablab": "tdmu",
        "tdmu-ict-fablab": "tdmu",
        "vsvc-mechatronics-lab": "vsvc",
        "binh-duong-shared-fablab": "sokhcn-binh-duong",
    }
    assert labs["eiu-lighting-living-lab"].kind == LabKind.LIVING_LAB
    assert "Philips" in labs["eiu-lighting-living-lab"].description

    categories = set(await Equipment.all().values_list("category", flat=True))
    for expected in (
        EquipmentCategory.PRINTER_3D,
        EquipmentCategory.LASER_CUTTER,
        EquipmentCategory.CNC,
        EquipmentCategory.PCB_MILL,
        EquipmentCategory.ELECTRONICS_BENCH,
        EquipmentCategory.BIOTECH_INSTRUMENT,
        EquipmentCategory.TEST_BED,
    ):
        assert expected in categories
    assert await Equipment.filter(requires_training=True).exists()
    assert await Equipment.filter(requires_training=False).exists()
    assert set(await EquipmentRate.all().values_list("currency", flat=True)) == {"VND"}

    becamex = labs["becamex-fablab"]
    hours = await OpeningHours.filter(lab_id=becamex.id).values_list(
        "weekday", "opens_minute", "closes_minute"
    )
    assert (0, 480, 1020) in hours and (5, 480, 720) in hours
    assert not any(weekday == 6 for weekday, _o, _c in hours)
    assert await Closure.filter(lab_id=becamex.id, first_day__lte=date(2027, 2, 6)).exists()

    staff = await User.get(email="staff@example.org")
    student = await User.get(email="student@example.org")
    assert await permissions.is_lab_staff(staff, becamex)
    assert await LabStaff.filter(user_id=staff.id).count() == 1
    now = timezone.now()
    printer = await Equipment.filter(category=EquipmentCategory.PRINTER_3D).first()
    laser = await Equipment.filter(category=EquipmentCategory.LASER_CUTTER).first()
    assert await has_certification(student, printer, now)
    assert not await has_certification(student, laser, now)

    # A few weeks of past and future bookings, never two active ones overlapping.
    assert await Booking.filter(starts_at__lt=now).exists()
    assert await Booking.filter(
        starts_at__gt=now, status__in=list(ACTIVE_BOOKING_STATUSES)
    ).exists()
    rows = await Booking.filter(status__in=list(ACTIVE_BOOKING_STATUSES)).values_list(
        "equipment_id", "starts_at", "ends_at"
    )
    by_machine: dict[int, list] = {}
    for equipment_id, start, end in rows:
        by_machine.setdefault(equipment_id, []).append((start, end))
    for slots in by_machine.values():
        slots.sort()
        for (_s1, end1), (start2, _e2) in zip(slots, slots[1:], strict=False):
            assert end1 <= start2
    # Nobody holds a booking of a machine they are not trained for.
    trained = {
        (user_id, category)
        for user_id, category in await Certification.all().values_list("user_id", "category")
    }
    for booking in await Booking.all().select_related("equipment"):
        if booking.equipment.requires_training:
            assert (booking.user_id, booking.equipment.category) in trained
