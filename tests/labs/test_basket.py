"""Several slots at once: a basket of the lab grid's free cells booked together, all or
nothing, one payment and one confirmation page, over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC

from ecosystem.payments.models import Payment
from ecosystem.payments.services import common
from labs.models import Booking, BookingStatus, EquipmentCategory
from tests.conftest import make_user, person
from tests.labs.conftest import at, local_day, make_equipment, make_host, make_lab


def slot(machine, start, end) -> str:
    """A ticked cell as the grid writes it (UTC times)."""
    return f"{machine.id}|{start.astimezone(UTC).isoformat()}|{end.astimezone(UTC).isoformat()}"


async def world(**rules):
    lab = await make_lab(await make_host())  # open every day 08:00-18:00
    printer = await make_equipment(lab, "Prusa MK4", notice_minutes=0, **rules)
    laser = await make_equipment(lab, "Trotec Laser", EquipmentCategory.LASER_CUTTER, **rules)
    return lab, printer, laser


async def test_two_cells_are_booked_together_with_one_confirmation(browser, new_browser):
    lab, printer, laser = await world()
    me = await person("me@example.org")
    await browser.login("me@example.org")
    day = local_day(3)
    grid = await browser.get(f"/labs/{lab.slug}/day?date={day}")
    ticks = re.findall(r'name="slot" value="([^"]+)"', grid.text)
    assert slot(printer, at(day, 9), at(day, 10)) in [t.replace("&#43;", "+") for t in ticks]
    answer = await browser.post(
        f"/labs/{lab.slug}/basket",
        {
            "slot": [slot(printer, at(day, 9), at(day, 10)), slot(laser, at(day, 14), at(day, 15))],
            "purpose": "enclosure",
            "date": day.isoformat(),
        },
    )
    assert answer.status_code == 303, answer.text[:2000]
    made = await Booking.filter(user_id=me.id).order_by("starts_at")
    assert [(b.equipment_id, b.starts_at, b.status) for b in made] == [
        (printer.id, at(day, 9), BookingStatus.CONFIRMED),
        (laser.id, at(day, 14), BookingStatus.CONFIRMED),
    ]
    assert {b.purpose for b in made} == {"enclosure"}
    page = await browser.get(answer.headers["location"])
    assert page.status_code == 200
    assert "Your bookings are confirmed." in page.text
    assert "Prusa MK4" in page.text and "Trotec Laser" in page.text
    # The grid now shows both as the viewer's own.
    grid = await browser.get(f"/labs/{lab.slug}/day?date={day}")
    assert grid.text.count('<td class="yours mine">') == 2
    # Nobody else reads this confirmation page.
    await person("other@example.org")
    other = new_browser()
    await other.login("other@example.org")
    assert (await other.get(answer.headers["location"])).status_code == 404


async def test_a_refused_slot_is_named_and_nothing_is_booked(browser):
    lab, printer, laser = await world()
    await person("me@example.org")
    someone = await person("someone@example.org")
    day = local_day(3)
    await Booking.create(
        equipment=laser,
        user=someone,
        starts_at=at(day, 14),
        ends_at=at(day, 16),
        status=BookingStatus.CONFIRMED,
        check_in_code="taken",
    )
    await browser.login("me@example.org")
    ticked = [slot(printer, at(day, 9), at(day, 10)), slot(laser, at(day, 15), at(day, 16))]
    answer = await browser.post(
        f"/labs/{lab.slug}/basket",
        {"slot": ticked, "purpose": "kept", "date": day.isoformat()},
    )
    assert answer.status_code == 409
    assert "Trotec Laser" in answer.text and "15:00" in answer.text
    assert "already booked" in answer.text
    assert await Booking.filter(user_id__not=someone.id).count() == 0
    assert await Payment.all().count() == 0
    # What was typed and ticked is kept.
    assert 'value="kept"' in answer.text
    assert answer.text.count(" checked ") + answer.text.count(" checked>") >= 1
    # A rule: a machine that needs training names itself, 403.
    laser.requires_training = True
    await laser.save()
    answer = await browser.post(
        f"/labs/{lab.slug}/basket",
        {"slot": [ticked[0], slot(laser, at(day, 10), at(day, 11))], "date": day.isoformat()},
    )
    assert answer.status_code == 403 and "Trotec Laser" in answer.text
    # The past, a broken value, nothing ticked, too many: 422, never a 500.
    for bad in (
        [slot(printer, at(local_day(-2), 9), at(local_day(-2), 10))],
        ["nonsense"],
        [f"{printer.id}|2026-99-01T09:00|x"],
        [],
        [slot(printer, at(day, 8), at(day, 9)).replace(str(printer.id), "999999", 1)],
    ):
        refused = await browser.post(f"/labs/{lab.slug}/basket", {"slot": bad})
        assert refused.status_code in (404, 422), (bad, refused.status_code)
    assert await Booking.filter(user_id__not=someone.id).count() == 0


async def test_two_baskets_sharing_one_slot_exactly_one_wins(new_browser):
    lab, printer, laser = await world()
    day = local_day(4)
    browsers = []
    for email in ("a@example.org", "b@example.org"):
        await person(email)
        session = new_browser(lang="en")
        await session.login(email)
        await session.ensure_token()
        browsers.append(session)
    for round_ in range(4):
        shared = slot(laser, at(day, 8 + 2 * round_), at(day, 9 + 2 * round_))
        mine_a = slot(printer, at(day, 8 + 2 * round_), at(day, 9 + 2 * round_))
        mine_b = slot(printer, at(day, 9 + 2 * round_), at(day, 10 + 2 * round_))
        answers = await asyncio.gather(
            browsers[0].post(f"/labs/{lab.slug}/basket", {"slot": [mine_a, shared]}),
            browsers[1].post(f"/labs/{lab.slug}/basket", {"slot": [shared, mine_b]}),
        )
        codes = sorted(answer.status_code for answer in answers)
        assert codes == [303, 409], codes
    bookings = await Booking.all().values_list("user_id", "equipment_id", "starts_at")
    by_user: dict[int, int] = {}
    for user_id, _machine, _start in bookings:
        by_user[user_id] = by_user.get(user_id, 0) + 1
    assert sum(by_user.values()) == 8  # four winning baskets of two, no loser's booking
    laser_starts = sorted(start for _u, machine, start in bookings if machine == laser.id)
    assert len(laser_starts) == len(set(laser_starts)) == 4


async def test_a_priced_basket_has_one_payment_that_confirms_every_booking(browser):
    lab, printer, laser = await world()
    printer_rate, laser_rate = 100_000, 250_000
    from labs.models import EquipmentRate

    await EquipmentRate.create(equipment=printer, category="public", rate_per_hour=printer_rate)
    await EquipmentRate.create(equipment=laser, category="public", rate_per_hour=laser_rate)
    me = await person("me@example.org")
    await browser.login("me@example.org")
    day = local_day(5)
    answer = await browser.post(
        f"/labs/{lab.slug}/basket",
        {"slot": [slot(printer, at(day, 9), at(day, 11)), slot(laser, at(day, 9), at(day, 10))]},
    )
    assert answer.status_code == 303, answer.text[:1500]
    [payment] = await Payment.all()
    assert payment.subject_kind == "labs.basket"
    assert payment.amount == 2 * printer_rate + laser_rate
    made = await Booking.filter(user_id=me.id)
    assert {b.payment_id for b in made} == {payment.id}
    assert payment.subject_id in {b.id for b in made}
    page = await browser.get(answer.headers["location"])
    assert page.status_code == 200 and "Total" in page.text
    # The kernel's hooks: a released hold frees every slot; a late payment takes them back.
    handler = common.handler_for("labs.basket")
    assert handler is not None
    await Booking.filter(payment_id=payment.id).update(status=BookingStatus.PENDING_PAYMENT)
    await handler.released(payment)
    assert {b.status for b in await Booking.filter(payment_id=payment.id)} == {
        BookingStatus.CANCELLED
    }
    assert await handler.paid(payment) is True
    assert {b.status for b in await Booking.filter(payment_id=payment.id)} == {
        BookingStatus.CONFIRMED
    }
    # Cancelling one booking of the basket: only its price is no longer due.
    printer_booking = await Booking.get(payment_id=payment.id, equipment_id=printer.id)
    laser_booking = await Booking.get(payment_id=payment.id, equipment_id=laser.id)
    await browser.get("/bookings")
    assert (await browser.post(f"/bookings/{printer_booking.id}/cancel")).status_code in (200, 303)
    await payment.refresh_from_db()
    assert payment.state == "pending" and payment.amount - payment.credit_amount == laser_rate
    assert (await Booking.get(id=laser_booking.id)).status == BookingStatus.CONFIRMED
    assert (await browser.post(f"/bookings/{laser_booking.id}/cancel")).status_code in (200, 303)
    await payment.refresh_from_db()
    assert payment.state == "void"


async def test_a_paid_basket_refunds_one_booking_by_its_own_price(browser):
    from ecosystem.payments.models import Refund

    lab, printer, laser = await world()
    from labs.models import EquipmentRate

    await EquipmentRate.create(equipment=printer, category="public", rate_per_hour=100_000)
    await EquipmentRate.create(equipment=laser, category="public", rate_per_hour=300_000)
    await person("me@example.org")
    await browser.login("me@example.org")
    day = local_day(6)
    answer = await browser.post(
        f"/labs/{lab.slug}/basket",
        {"slot": [slot(printer, at(day, 9), at(day, 10)), slot(laser, at(day, 9), at(day, 10))]},
    )
    assert answer.status_code == 303
    [payment] = await Payment.all()
    await Payment.filter(id=payment.id).update(state="paid")  # the staff recorded it
    printer_booking = await Booking.get(payment_id=payment.id, equipment_id=printer.id)
    await browser.get("/bookings")
    assert (await browser.post(f"/bookings/{printer_booking.id}/cancel")).status_code in (200, 303)
    [refund] = await Refund.filter(payment_id=payment.id)
    assert refund.amount == 100_000  # the printer's price, not the basket's


async def test_only_signed_in_people_book_a_basket(client, new_browser):
    lab, printer, _laser = await world()
    day = local_day(3)
    session = new_browser()
    token = await session.ensure_token()
    anonymous = await session.http.post(
        f"/labs/{lab.slug}/basket",
        data={"csrf_token": token, "slot": slot(printer, at(day, 9), at(day, 10))},
    )
    assert anonymous.status_code in (303, 401)
    assert await Booking.all().count() == 0
    unknown = await make_user("x@example.org")
    assert unknown is not None
    signed = new_browser()
    await signed.login("x@example.org")
    missing = await signed.post(
        "/labs/no-such-lab/basket", {"slot": slot(printer, at(day, 9), at(day, 10))}
    )
    assert missing.status_code == 404
    assert (await signed.get(f"/labs/{lab.slug}/basket?ids=abc")).status_code == 404
