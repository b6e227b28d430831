"""Migration labs 0006 adds a booking's SEQUENCE to a database that already holds bookings."""

from __future__ import annotations

from tortoise import connections

from ecosystem.db import tortoise_config
from ecosystem.packages import load_packages
from labs.models import Booking, BookingStatus
from tests.conftest import migrate_to, orm_on
from tests.labs.conftest import at, local_day, make_equipment, make_lab, quick_user

BEFORE = "labs.0005_calendar_feed_one_per_user"


async def test_bookings_made_before_the_sequence_start_at_zero(empty_url):
    config = tortoise_config(empty_url, load_packages(("labs",)))
    await migrate_to(config)
    async with orm_on(config):
        machine = await make_equipment(await make_lab())
        day = local_day(2)
        booking = await Booking.create(
            equipment=machine,
            user=await quick_user("lan@eiu.edu.vn"),
            starts_at=at(day, 9),
            ends_at=at(day, 10),
            status=BookingStatus.CONFIRMED,
            check_in_code="before-0006",
        )
    await migrate_to(config, BEFORE)  # back to a database without the column
    async with orm_on(config):
        _n, columns = await connections.get("default").execute_query(
            "SELECT * FROM labs_booking WHERE id = ?"
            if "sqlite" in empty_url
            else "SELECT * FROM labs_booking WHERE id = $1",
            [booking.id],
        )
        assert "sequence" not in dict(columns[0])

    await migrate_to(config)
    async with orm_on(config):
        upgraded = await Booking.get(id=booking.id)
        assert upgraded.sequence == 0 and upgraded.check_in_code == "before-0006"
