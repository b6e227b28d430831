"""Migration labs 0008 adds a walk-in guest's name and phone to a database holding bookings."""

from __future__ import annotations

from ecosystem.db import tortoise_config
from ecosystem.packages import load_packages
from labs.models import Booking, BookingStatus
from tests.conftest import migrate_to, orm_on
from tests.labs.conftest import at, local_day, make_equipment, make_lab, quick_user

BEFORE = "labs.0006_booking_sequence"


async def test_bookings_made_before_the_guest_columns_keep_their_data(empty_url):
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
            purpose="Enclosure",
            check_in_code="before-0008",
        )
    await migrate_to(config, BEFORE)  # back to a database without the columns
    await migrate_to(config)
    async with orm_on(config):
        upgraded = await Booking.get(id=booking.id)
        assert (upgraded.guest_name, upgraded.guest_phone) == ("", "")
        assert upgraded.purpose == "Enclosure" and upgraded.check_in_code == "before-0008"
        upgraded.guest_name = "Khách"
        await upgraded.save(update_fields=["guest_name"])
        assert (await Booking.get(id=booking.id)).guest_name == "Khách"
