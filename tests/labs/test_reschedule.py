"""Moving a booking: the same row moves, every rule holds, nobody else's slot is taken."""

from __future__ import annotations

import asyncio

from ecosystem.models import OutboxMessage
from labs.models import Booking, BookingStatus, LabStaff
from tests.conftest import make_user
from tests.labs.conftest import (
    at,
    bearer,
    booking_json,
    local_day,
    make_equipment,
    make_lab,
    quick_user,
    user_with_token,
)
from tests.labs.test_booking_api import BOOKINGS, error_of, parse_dt


def move(start, end) -> dict:
    return {"start": start.isoformat(), "end": end.isoformat()}


async def book(client, machine, headers, start, end) -> int:
    response = await client.post(BOOKINGS, json=booking_json(machine, start, end), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_owner_moves_a_booking_within_the_rules(client):
    lab = await make_lab()
    machine = await make_equipment(lab, max_minutes=120)
    _owner, headers = await user_with_token("vy@eiu.edu.vn")
    _other, other_headers = await user_with_token("xuan@eiu.edu.vn")
    day = local_day(4)
    booking_id = await book(client, machine, headers, at(day, 9), at(day, 10))
    await book(client, machine, other_headers, at(day, 14), at(day, 15))
    url = f"{BOOKINGS}/{booking_id}/reschedule"

    moved = await client.post(url, json=move(at(day, 11), at(day, 12)), headers=headers)
    assert moved.status_code == 200, moved.text
    assert moved.json()["id"] == booking_id
    assert parse_dt(moved.json()["start"]) == at(day, 11)
    stored = await Booking.get(id=booking_id)
    assert stored.starts_at == at(day, 11) and stored.ends_at == at(day, 12)
    assert await Booking.all().count() == 2  # moved, not re-created

    # Onto somebody else's booking: 409; into the night: 422 naming the rule; too long: 422.
    error_of(
        await client.post(url, json=move(at(day, 14, 30), at(day, 15, 30)), headers=headers),
        409,
        "conflict",
    )
    error_of(
        await client.post(url, json=move(at(day, 20), at(day, 21)), headers=headers),
        422,
        "outside_opening_hours",
    )
    error_of(
        await client.post(url, json=move(at(day, 9), at(day, 12)), headers=headers),
        422,
        "too_long",
    )
    # Overlapping its own old slot is fine (the booking does not conflict with itself).
    overlap_self = await client.post(
        url, json=move(at(day, 11, 30), at(day, 12, 30)), headers=headers
    )
    assert overlap_self.status_code == 200, overlap_self.text
    # The old slot is free for others again.
    assert await book(client, machine, other_headers, at(day, 9), at(day, 10))


async def test_nobody_else_moves_it_and_the_deadline_holds_for_the_owner(client):
    lab = await make_lab()
    machine = await make_equipment(lab, cancellation_deadline_hours=24 * 10)
    _owner, headers = await user_with_token("vy@eiu.edu.vn")
    _stranger, stranger_headers = await user_with_token("xuan@eiu.edu.vn")
    staff = await quick_user("staff@becamex.com.vn")
    await LabStaff.create(lab=lab, user=staff)
    day = local_day(3)
    booking_id = await book(client, machine, headers, at(day, 9), at(day, 10))
    url = f"{BOOKINGS}/{booking_id}/reschedule"
    later = move(at(day, 13), at(day, 14))

    error_of(await client.post(url, json=later, headers=stranger_headers), 404, "not_found")
    error_of(await client.post(url, json=later, headers=headers), 422, "cancellation_deadline")
    staff_move = await client.post(url, json=later, headers=await bearer(staff))
    assert staff_move.status_code == 200, staff_move.text
    notice = await OutboxMessage.filter(to="vy@eiu.edu.vn").order_by("-id").first()
    assert "moved" in notice.subject.lower() or "đổi" in notice.subject.lower()
    error_of(
        await client.post(f"{BOOKINGS}/999999/reschedule", json=later, headers=headers),
        404,
        "not_found",
    )
    error_of(await client.post(url, json={"start": "soon"}, headers=headers), 422, "invalid")


async def test_a_priced_move_must_keep_the_price_and_a_cancelled_booking_stays(client):
    lab = await make_lab()
    machine = await make_equipment(lab, rates={"public": 100_000}, max_minutes=240)
    _owner, headers = await user_with_token("vy@gmail.com")
    day = local_day(5)
    response = await client.post(
        BOOKINGS, json=booking_json(machine, at(day, 9), at(day, 10)), headers=headers
    )
    assert response.status_code == 201, response.text
    booking_id = response.json()["id"]
    url = f"{BOOKINGS}/{booking_id}/reschedule"
    error_of(
        await client.post(url, json=move(at(day, 9), at(day, 11)), headers=headers),
        422,
        "price_changed",
    )
    same_price = await client.post(url, json=move(at(day, 15), at(day, 16)), headers=headers)
    assert same_price.status_code == 200, same_price.text
    await Booking.filter(id=booking_id).update(status=BookingStatus.CANCELLED)
    error_of(
        await client.post(url, json=move(at(day, 11), at(day, 12)), headers=headers),
        409,
        "not_reschedulable",
    )


async def test_concurrent_moves_onto_one_slot_leave_one_winner(client):
    lab = await make_lab()
    machine = await make_equipment(lab)
    day = local_day(6)
    owners = []
    for n in range(8):
        _user, headers = await user_with_token(f"u{n}@eiu.edu.vn")
        owners.append(
            (await book(client, machine, headers, at(day, 8 + n), at(day, 9 + n)), headers)
        )
    target = move(at(day, 17), at(day, 18))
    responses = await asyncio.gather(
        *(
            client.post(f"{BOOKINGS}/{booking_id}/reschedule", json=target, headers=headers)
            for booking_id, headers in owners
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 7, [r.text for r in responses]
    assert await Booking.filter(starts_at=at(day, 17)).count() == 1


async def test_the_move_page_for_people(browser, new_browser, english):
    lab = await make_lab()
    machine = await make_equipment(lab, max_minutes=120)
    owner = await make_user("maker@example.org", locale="en")
    day = local_day(4)
    booking = await Booking.create(
        equipment=machine,
        user=owner,
        starts_at=at(day, 9),
        ends_at=at(day, 10),
        status=BookingStatus.CONFIRMED,
        check_in_code="code-1",
    )
    await browser.login("maker@example.org")
    listing = await browser.get("/bookings")
    assert f"/bookings/{booking.id}/reschedule" in listing.text
    page = await browser.get(f"/bookings/{booking.id}/reschedule")
    assert page.status_code == 200
    assert f'value="{day}T09:00"' in page.text  # the lab's wall clock

    bad = await browser.post(
        f"/bookings/{booking.id}/reschedule", {"start": f"{day}T21:00", "end": f"{day}T22:00"}
    )
    assert bad.status_code == 422
    assert "opening hours" in bad.text
    missing = await browser.post(f"/bookings/{booking.id}/reschedule", {"start": "", "end": ""})
    assert missing.status_code == 422 and "Give a date and a time." in missing.text
    moved = await browser.post(
        f"/bookings/{booking.id}/reschedule", {"start": f"{day}T13:00", "end": f"{day}T14:30"}
    )
    assert moved.status_code == 303
    await booking.refresh_from_db()
    assert booking.starts_at == at(day, 13) and booking.ends_at == at(day, 14, 30)

    await make_user("other@example.org")
    stranger = new_browser()
    await stranger.login("other@example.org")
    assert (await stranger.get(f"/bookings/{booking.id}/reschedule")).status_code == 404
    refused = await stranger.post(
        f"/bookings/{booking.id}/reschedule", {"start": f"{day}T15:00", "end": f"{day}T16:00"}
    )
    assert refused.status_code == 404
