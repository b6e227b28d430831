"""Emails to a booker when the lab's staff change their booking (cancel or move it)."""

from __future__ import annotations

from datetime import datetime

from ecosystem import mail
from ecosystem.models import User
from labs.models import Booking


async def booking_changed_by_staff(
    booking: Booking, owner: User, *, cancelled: bool, previous_start: datetime | None = None
) -> None:
    """Queue the notice (sent after the surrounding transaction commits)."""
    await mail.send_mail(
        owner.email,
        "labs_booking_changed",
        {
            "booking": booking,
            "lab": booking.equipment.lab,
            "user": owner,
            "cancelled": cancelled,
            "previous_start": previous_start or booking.starts_at,
        },
        owner.locale,
    )
