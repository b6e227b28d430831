"""Migration labs 0006 adds a booking's SEQUENCE to a database that already holds bookings."""

from __future__ import annotations

from tortoise import Tortoise, connections

from ecosystem.db import init_orm, run_migrations, tortoise_config
from ecosystem.packages import load_packages
from labs.models import Booking, BookingStatus
from tests.labs.conftest import at, local_day, make_equipment, make_lab, quick_user

BEFORE = "labs.0005_calendar_feed_one_per_user"


async def test_bookings_made_before_the_sequence_start_at_zero(empty_url):
    from tortoise.migrations.api.migrate import migrate

    config = tortoise_config(empty_url, load_packages(("labs",)))
    try:
        await run_migrations(config)
    finally:
        await Tortoise.close_connections()
    await init_orm(config)
    try:
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
    finally:
        await Tortoise.close_connections()
    try:
        await migrate(config=config, target=BEFORE)  # back to a database without the column
    finally:
        await Tortoise.close_connections()
    await init_orm(config)  # fresh statement cache: the suite switches dialects
    try:
        _n, columns = await connections.get("default").execute_query(
            "SELECT * FROM labs_booking WHERE id = ?"
            if "sqlite" in empty_url
            else "SELECT * FROM labs_booking WHERE id = $1",
            [booking.id],
        )
        assert "sequence" not in dict(columns[0])
    finally:
        await Tortoise.close_connections()

    try:
        await run_migrations(config)
    finally:
        await Tortoise.close_connections()
    await init_orm(config)
    try:
        upgraded = await Booking.get(id=booking.id)
        assert upgraded.sequence == 0 and upgraded.check_in_code == "before-0006"
    finally:
        await Tortoise.close_connections()
