"""Migration labs 0008 adds a walk-in guest's name and phone to a database holding bookings."""

from __future__ import annotations

from tortoise import Tortoise

from ecosystem.db import init_orm, run_migrations, tortoise_config
from ecosystem.packages import load_packages
from labs.models import Booking, BookingStatus
from tests.labs.conftest import at, local_day, make_equipment, make_lab, quick_user

BEFORE = "labs.0006_booking_sequence"


async def test_bookings_made_before_the_guest_columns_keep_their_data(empty_url):
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
            purpose="Enclosure",
            check_in_code="before-0008",
        )
    finally:
        await Tortoise.close_connections()
    try:
        await migrate(config=config, target=BEFORE)  # back to a database without the columns
    finally:
        await Tortoise.close_connections()
    try:
        await run_migrations(config)
    finally:
        await Tortoise.close_connections()
    await init_orm(config)
    try:
        upgraded = await Booking.get(id=booking.id)
        assert (upgraded.guest_name, upgraded.guest_phone) == ("", "")
        assert upgraded.purpose == "Enclosure" and upgraded.check_in_code == "before-0008"
        upgraded.guest_name = "Khách"
        await upgraded.save(update_fields=["guest_name"])
        assert (await Booking.get(id=booking.id)).guest_name == "Khách"
    finally:
        await Tortoise.close_connections()
