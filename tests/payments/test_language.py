"""Payments speak Vietnamese by default: the kernel catalogue covers the payment code, pages and
mail; the labs catalogue covers the booking form's payment choice and the staff page."""

from __future__ import annotations

import re
from html import unescape

from tests.catalogues import extracted_messages
from tests.conftest import person
from tests.labs.conftest import bearer
from tests.payments.conftest import booking_body, priced_machine, slot


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_the_kernel_extraction_covers_payments_and_its_mail():
    where = set().union(*extracted_messages("babel.cfg", ("ecosystem", "templates")).values())
    for expected in (
        "ecosystem/payments/services/checkout.py",
        "ecosystem/payments/services/ledger.py",
        "ecosystem/payments/routes.py",
        "templates/payments/_status.html",
        "templates/payments/statement.html",
        "templates/mail/payments_late_refund.txt",
    ):
        assert expected in where, expected


async def test_the_payment_pages_read_in_vietnamese(client, new_browser, fake_stripe):
    machine = await priced_machine()
    payer = await person("lan@becamex.com.vn", locale="vi")
    start, end = slot()
    browser = new_browser()
    await browser.login(payer.email)
    form = await browser.get(
        f"/equipment/{machine.id}/book", params={"start": start.isoformat(), "end": end.isoformat()}
    )
    shown = text_of(form.text)
    assert "Thanh toán bằng thẻ (trang Stripe bảo mật)" in shown
    assert "Pay by card" not in shown
    body = (
        await client.post(
            "/api/v1/bookings", json=booking_body(machine, start, end), headers=await bearer(payer)
        )
    ).json()
    page = text_of((await browser.get(f"/payments/{body['payment']['id']}")).text)
    assert "Đang chờ thanh toán" in page and "Thanh toán ngay" in page
    assert "Waiting for payment" not in page
    rows = text_of((await browser.get("/bookings")).text)
    assert "Đang chờ thanh toán" in rows
