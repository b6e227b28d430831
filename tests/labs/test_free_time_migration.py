"""Migration labs 0009 adds the summary of free time and its triggers to a database holding
bookings: the bookings stay, the triggers mark rows stale, and going back removes them."""

from __future__ import annotations

from tortoise import Tortoise, timezone

from ecosystem.db import init_orm, tortoise_config
from ecosystem.packages import load_packages
from labs.models import Booking, BookingStatus, FreeDay
from labs.services import free_time
from tests.conftest import migrate_to, orm_on
from tests.labs.conftest import at, local_day, make_equipment, make_lab, quick_user

BEFORE = "labs.0008_booking_guest"


async def test_the_summary_arrives_on_a_database_with_bookings(empty_url):
    config = tortoise_config(empty_url, load_packages(("labs",)))
    await migrate_to(config)
    # The rows are written with today's models, then the schema goes back to before 0009
    # (later migrations add columns the models already have), keeping them.
    await init_orm(config)
    day = local_day(2)
    try:
        machine = await make_equipment(await make_lab())
        user = await quick_user("lan@eiu.edu.vn")
        booking = await Booking.create(
            equipment=machine,
            user=user,
            starts_at=at(day, 9),
            ends_at=at(day, 10),
            status=BookingStatus.CONFIRMED,
            check_in_code="before-0009",
        )
    finally:
        await Tortoise.close_connections()
    await migrate_to(config, BEFORE)  # a database from before 0009, with rows
    await migrate_to(config)
    async with orm_on(config):
        assert (await Booking.get(id=booking.id)).check_in_code == "before-0009"
        await free_time.refresh(timezone.now())
        row = await FreeDay.get(equipment_id=machine.id, day=day)
        assert (row.stale, row.free_minutes, row.longest_free_minutes) == (False, 540, 480)
        await Booking.filter(id=booking.id).update(status=BookingStatus.CANCELLED)
        assert (await FreeDay.get(id=row.id)).stale
    await migrate_to(config, BEFORE)  # back: no table, no trigger in the way
    async with orm_on(config):
        await Booking.create(
            equipment_id=machine.id,
            user=user,
            starts_at=at(day, 11),
            ends_at=at(day, 12),
            status=BookingStatus.CONFIRMED,
            check_in_code="after-down",
        )
        assert await Booking.filter(equipment_id=machine.id).count() == 2
