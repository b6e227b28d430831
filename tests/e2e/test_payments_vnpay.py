"""Paying for lab time with VNPay in headless Chromium, on a phone: book a priced machine,
reach the (local) VNPay payment page, pay, and come back to a booking confirmed by the IPN.

The app runs as a subprocess (`python -m ecosystem serve`) with only VNPay configured
(VNPAY_TMN_CODE, VNPAY_HASH_SECRET, and VNPAY_PAYMENT_URL/VNPAY_API_URL at the stand-in of
tests/payments/fake_vnpay.py, a real HTTP server in this process). The stand-in's page checks
the URL's signature; paying calls the app's IPN (signed like VNPay) and then sends the browser
to the return URL, which only shows the outcome. Selectors are ids and classes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.live import (
    HOST,
    PASSWORD,
    SCREENSHOTS,
    VIEWPORTS,
    LiveServer,
    free_port,
    live_server,
    no_horizontal_scroll,
    run_setup,
    setup_database,
)
from tests.payments.fake_vnpay import FakeVnpay

EMAIL = "sv.vnpay@tdmu.edu.vn"
MACHINE = "Laser VNPay"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def vnpay_servers() -> Iterator[tuple[LiveServer, FakeVnpay]]:
    port = free_port()
    fake = FakeVnpay(ipn_url=f"http://{HOST}:{port}/payments/vnpay/ipn")
    fake.start()
    env = {
        "SECRET_KEY": "e2e-secret-" + "v" * 40,
        "STRIPE_SECRET_KEY": "",
        "STRIPE_WEBHOOK_SECRET": "",
        "VNPAY_TMN_CODE": fake.tmn_code,
        "VNPAY_HASH_SECRET": fake.hash_secret,
        "VNPAY_PAYMENT_URL": fake.payment_url,
        "VNPAY_API_URL": fake.api_url,
    }
    try:
        with live_server(
            "tests.e2e.test_payments_vnpay", packages="labs", extra_env=env, port=port
        ) as server:
            yield server, fake
    finally:
        fake.stop()


async def _setup() -> None:
    """Run in a subprocess with the server's environment: a lab, a priced laser, a student."""
    from ecosystem.services.accounts import create_user
    from labs.models import EquipmentCategory
    from tests.labs.conftest import make_equipment, make_lab

    async with setup_database():
        lab = await make_lab(address="Phú Hòa, Thủ Dầu Một")
        await make_equipment(
            lab, MACHINE, EquipmentCategory.LASER_CUTTER, rates={"public": 120_000}
        )
        await create_user(EMAIL, PASSWORD, "Nguyễn Văn An", False, True)


def _slot() -> tuple[str, str]:
    from tests.labs.conftest import at, local_day

    day = local_day(5)
    return at(day, 9).isoformat(), at(day, 11).isoformat()


def test_a_student_pays_with_vnpay_and_sees_the_booking_confirmed(chromium, vnpay_servers):
    from urllib.parse import urlencode

    from playwright.sync_api import expect

    server, fake = vnpay_servers
    base = server.base_url
    SCREENSHOTS.mkdir(exist_ok=True)
    context = chromium.new_context(base_url=base, locale="vi-VN", **VIEWPORTS["phone"])
    page = context.new_page()
    page.set_default_timeout(15_000)
    step = 0

    def shot(name: str) -> None:
        nonlocal step
        step += 1
        page.screenshot(path=SCREENSHOTS / f"vnpay-phone-{step:02d}-{name}.png", full_page=True)

    try:
        page.goto("/login")
        page.fill("#f-email", EMAIL)
        page.fill("#f-password", PASSWORD)
        page.locator('form[action^="/login"] button[type="submit"]').click()
        page.wait_for_url(lambda url: "/login" not in url)

        page.goto("/labs")
        page.locator("a[href^='/labs/']").filter(has_text="Becamex FabLab").first.click()
        link = page.locator("a[href^='/equipment/']", has_text=MACHINE).first
        machine_id = int(link.get_attribute("href").split("/")[2])
        start, end = _slot()
        page.goto(f"/equipment/{machine_id}/book?{urlencode({'start': start, 'end': end})}")
        expect(page.locator("#payer-choice")).to_be_visible()
        expect(page.locator("#f-payer")).to_have_value("auto")
        expect(page.locator("#f-payer option")).to_contain_text(["VNPay"])
        page.fill("#f-purpose", "Vỏ hộp cảm biến độ ẩm")
        shot("form")
        no_horizontal_scroll(page)
        page.locator("form[action$='/book'] button[type='submit']").click()

        # The hold's page, then VNPay's (local) payment page: 2 hours at 120,000 VND.
        page.wait_for_url(f"{base}/payments/**")
        expect(page.locator("#payment-status.state-pending")).to_be_visible()
        shot("hold")
        page.locator("#pay-now").click()
        page.wait_for_url(f"{fake.payment_url}**")
        expect(page.locator("#amount")).to_have_text("240000 VND")
        shot("vnpay")
        page.locator("#pay").click()

        # Back through the return URL: the IPN has already confirmed the payment.
        page.wait_for_url(f"{base}/payments/**")
        assert fake.ipn_answers == [{"RspCode": "00", "Message": "Confirm Success"}]
        expect(page.locator("#payment-status.state-paid")).to_be_visible()
        expect(page.locator("a[href$='/receipt.pdf']")).to_have_count(1)
        shot("paid")
        no_horizontal_scroll(page)
        page.goto("/bookings")
        booking = page.locator("li.booking", has_text=MACHINE)
        expect(booking.locator(".status-confirmed")).to_have_count(1)
        expect(booking.locator(".payment-state-paid")).to_have_count(1)
        shot("bookings")
    finally:
        context.close()


run_setup(__name__, _setup)
