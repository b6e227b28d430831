"""A booking form that tells the truth: the price per user category and the total before
"Book", what credit covers and what remains, only the ends that can be reached, and an
outcome that says exactly what happened."""

from __future__ import annotations

import re

from ecosystem.i18n import format_money, use_locale
from ecosystem.payments.services import ledger as credits
from labs.models import Booking, BookingStatus
from tests.conftest import person
from tests.labs.conftest import at, local_day, make_equipment, make_lab, quick_user

OPTION = re.compile(r'<option value="([^"]+)"[^>]*>([^<]*)</option>')


def money(amount: int) -> str:
    with use_locale("en"):
        return format_money(amount)


def ends_offered(html: str) -> list[str]:
    select = html.split('id="f-end"', 1)[1].split("</select>", 1)[0]
    return [value for value, _text in OPTION.findall(select)]


async def priced_laser(**rules):
    lab = await make_lab()
    machine = await make_equipment(
        lab,
        "Trotec Speedy 400",
        rates={"public": 60_000, "student": 20_000},
        min_minutes=60,
        max_minutes=480,
        slot_step_minutes=30,
        **rules,
    )
    return lab, machine


async def book_form(browser, machine, start, end=None):
    query = {"start": start.isoformat()}
    if end is not None:
        query["end"] = end.isoformat()
    return await browser.get(f"/equipment/{machine.id}/book", params=query)


async def test_the_form_shows_the_rates_the_total_and_only_reachable_ends(browser):
    _lab, machine = await priced_laser()
    await person("maker@example.org")
    day = local_day(5)
    await Booking.create(
        equipment=machine,
        user=await quick_user("other@example.org"),
        starts_at=at(day, 12),
        ends_at=at(day, 13),
        status=BookingStatus.CONFIRMED,
        check_in_code="other-12",
    )
    await browser.login("maker@example.org")

    page = await book_form(browser, machine, at(day, 9), at(day, 11))
    assert page.status_code == 200
    # 10:00 … 12:00: the next booking starts at 12:00, so nothing later is offered.
    assert ends_offered(page.text) == [
        at(day, h, m).isoformat() for h, m in ((10, 0), (10, 30), (11, 0), (11, 30), (12, 0))
    ]
    assert 'id="reach"' in page.text
    assert f"Public: {money(60_000)} per hour" in page.text
    assert "(your price)" in page.text and f"Student: {money(20_000)} per hour" in page.text
    total = re.search(r'id="price-total">([^<]+)<', page.text)
    assert total and total.group(1) == money(120_000)  # 9:00–11:00 at 60,000 an hour
    assert money(180_000) in page.text  # the 12:00 option shows its own price
    assert "price-due" not in page.text  # no credit: nothing to subtract

    # Changing "Ends" asks again (htmx) and keeps what was typed.
    again = await browser.get(
        f"/equipment/{machine.id}/book",
        params={"start": at(day, 9).isoformat(), "end": at(day, 10).isoformat(), "purpose": "Sign"},
        headers={"HX-Request": "true"},
    )
    assert again.status_code == 200 and "<html" not in again.text
    assert re.search(r'id="price-total">([^<]+)<', again.text).group(1) == money(60_000)
    assert ">Sign</textarea>" in again.text
    assert 'hx-get="/equipment/' in again.text and 'hx-trigger="change"' in again.text

    # An end past the next booking is not offered even when asked for.
    past_it = await book_form(browser, machine, at(day, 9), at(day, 14))
    assert at(day, 14).isoformat() not in ends_offered(past_it.text)


async def test_closing_time_and_a_taken_start(browser):
    _lab, machine = await priced_laser()
    await person("maker@example.org")
    day = local_day(5)
    await Booking.create(
        equipment=machine,
        user=await quick_user("other@example.org"),
        starts_at=at(day, 9),
        ends_at=at(day, 10),
        status=BookingStatus.CONFIRMED,
        check_in_code="other-9",
    )
    await browser.login("maker@example.org")
    late = await book_form(browser, machine, at(day, 16, 30))
    assert ends_offered(late.text) == [at(day, 17, 30).isoformat(), at(day, 18).isoformat()]

    taken = await book_form(browser, machine, at(day, 9, 30))
    assert taken.status_code == 200
    assert "This time is no longer free" in taken.text
    assert 'name="end"' not in taken.text and ">Book</button>" not in taken.text


async def test_credit_covers_part_and_only_the_rest_is_due(browser):
    _lab, machine = await priced_laser()
    maker = await person("maker@example.org")
    await credits.fund("test", 50_000)
    await credits.grant_credit(actor=None, amount=50_000, reason="Perk", source="test", user=maker)
    await browser.login("maker@example.org")
    day = local_day(5)

    page = await book_form(browser, machine, at(day, 9), at(day, 11))
    assert re.search(r'id="price-credit">([^<]+)<', page.text).group(1) == f"− {money(50_000)}"
    assert re.search(r'id="price-due"><strong>([^<]+)<', page.text).group(1) == money(70_000)

    booked = await browser.post(
        f"/equipment/{machine.id}/book",
        {"start": at(day, 9).isoformat(), "end": at(day, 11).isoformat()},
    )
    assert booked.status_code == 303
    mine = await browser.get("/bookings")
    assert f"Your booking is confirmed. Pay {money(70_000)} at the lab when you come." in mine.text
    assert f"{money(70_000)} left to pay" in mine.text
    assert f"{money(50_000)} from your credit" in mine.text


async def test_a_booking_waiting_for_approval_is_never_called_confirmed(browser):
    _lab, machine = await priced_laser(requires_approval=True)
    await person("maker@example.org")
    await browser.login("maker@example.org")
    day = local_day(5)
    booked = await browser.post(
        f"/equipment/{machine.id}/book",
        {"start": at(day, 9).isoformat(), "end": at(day, 10).isoformat()},
    )
    assert booked.status_code == 303
    assert (await Booking.get(equipment_id=machine.id)).status == BookingStatus.PENDING
    mine = await browser.get("/bookings")
    assert "waiting for the lab staff&#39;s approval" in mine.text
    assert f"If they approve it, you pay {money(60_000)} at the lab." in mine.text
    assert "Your booking is confirmed" not in mine.text


async def test_a_free_machine_shows_no_price_and_is_confirmed(browser):
    lab = await make_lab()
    machine = await make_equipment(lab, "Soldering station", min_minutes=60)
    await person("maker@example.org")
    await browser.login("maker@example.org")
    day = local_day(5)
    page = await book_form(browser, machine, at(day, 9))
    assert page.status_code == 200 and "price-summary" not in page.text
    booked = await browser.post(
        f"/equipment/{machine.id}/book",
        {"start": at(day, 9).isoformat(), "end": at(day, 10).isoformat()},
    )
    assert booked.status_code == 303
    assert "Your booking is confirmed." in (await browser.get("/bookings")).text


async def test_the_form_needs_a_signed_in_person(client):
    _lab, machine = await priced_laser()
    day = local_day(5)
    answer = await client.get(
        f"/equipment/{machine.id}/book", params={"start": at(day, 9).isoformat()}
    )
    assert answer.status_code in (302, 303)
