"""Paying for lab time in headless Chromium, on a phone: book a priced machine, reach the
(local) Stripe Checkout page, pay, and come back to a confirmed booking after the webhook.

The app runs as a subprocess (`python -m ecosystem serve`) with Stripe keys and
STRIPE_API_BASE pointing at the fake Stripe of tests/payments/fake_stripe.py (a real HTTP
server in this process): the real stripe SDK creates the Checkout Session there, the fake's
checkout page posts a signed `checkout.session.completed` webhook to the app and redirects to
the success URL. Selectors are ids and classes, never translated text.
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
from tests.payments.fake_stripe import FakeStripe

EMAIL = "maker.pay@becamex.com.vn"
MACHINE = "Laser Trotec Pay"
SECRET_KEY = "sk_test_" + "e" * 24

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def payment_servers() -> Iterator[tuple[LiveServer, FakeStripe]]:
    port = free_port()
    fake = FakeStripe(webhook_url=f"http://{HOST}:{port}/payments/stripe/webhook")
    fake.start()
    env = {
        "SECRET_KEY": "e2e-secret-" + "p" * 40,
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_WEBHOOK_SECRET": fake.webhook_secret,
        "STRIPE_API_BASE": fake.url,
    }
    try:
        with live_server(
            "tests.e2e.test_payments_checkout", packages="labs", extra_env=env, port=port
        ) as server:
            yield server, fake
    finally:
        fake.stop()


async def _setup() -> None:
    """Run in a subprocess with the server's environment: a lab, a priced laser, a person."""
    from ecosystem.services.accounts import create_user
    from labs.models import EquipmentCategory
    from tests.labs.conftest import make_equipment, make_lab

    async with setup_database():
        lab = await make_lab(address="Hòa Phú, Thủ Dầu Một")
        await make_equipment(
            lab, MACHINE, EquipmentCategory.LASER_CUTTER, rates={"public": 150_000}
        )
        await create_user(EMAIL, PASSWORD, "Trần Thị Lan", False, True)


def _slot() -> tuple[str, str]:
    from tests.labs.conftest import at, local_day

    day = local_day(4)
    return at(day, 14).isoformat(), at(day, 16).isoformat()


def test_book_a_priced_machine_pay_on_checkout_and_come_back_confirmed(chromium, payment_servers):
    from urllib.parse import urlencode

    from playwright.sync_api import expect

    server, fake = payment_servers
    base = server.base_url
    SCREENSHOTS.mkdir(exist_ok=True)
    context = chromium.new_context(base_url=base, locale="vi-VN", **VIEWPORTS["phone"])
    page = context.new_page()
    page.set_default_timeout(15_000)
    step = 0

    def shot(name: str) -> None:
        nonlocal step
        step += 1
        page.screenshot(path=SCREENSHOTS / f"payments-phone-{step:02d}-{name}.png", full_page=True)

    try:
        page.goto("/login")
        page.fill("#f-email", EMAIL)
        page.fill("#f-password", PASSWORD)
        page.locator('form[action^="/login"] button[type="submit"]').click()
        page.wait_for_url(lambda url: "/login" not in url)

        page.goto("/labs")
        machine_id = _machine_id(page, base)
        start, end = _slot()
        page.goto(f"/equipment/{machine_id}/book?{urlencode({'start': start, 'end': end})}")
        expect(page.locator("#payer-choice")).to_be_visible()
        expect(page.locator("#f-payer")).to_have_value("auto")
        page.fill("#f-purpose", "Vỏ hộp cảm biến")
        shot("form")
        no_horizontal_scroll(page)
        page.locator("form[action$='/book'] button[type='submit']").click()

        # The hold's page, then the (local) Stripe Checkout page: 2 hours at 150,000 VND.
        page.wait_for_url(f"{base}/payments/**")
        expect(page.locator("#payment-status.state-pending")).to_be_visible()
        shot("hold")
        page.locator("#pay-now").click()
        page.wait_for_url(f"{fake.url}/pay/**")
        expect(page.locator("#amount")).to_have_text("300000 VND")
        shot("checkout")
        page.locator("#pay").click()

        # Back on the platform: the webhook has confirmed the payment.
        page.wait_for_url(f"{base}/payments/**")
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


def _machine_id(page, base: str) -> int:
    """The laser's id, read from its lab page (links to /equipment/<id>)."""
    page.locator("a[href^='/labs/']").filter(has_text="Becamex FabLab").first.click()
    link = page.locator("a[href^='/equipment/']", has_text=MACHINE).first
    return int(link.get_attribute("href").split("/")[2])


run_setup(__name__, _setup)
