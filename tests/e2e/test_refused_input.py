"""A form refused for its characters, in headless Chromium: the person learns why, and what
they typed is still there.

A NUL (or another control character) cannot be stored, so `InputGuardMiddleware` refuses
the whole form with a 400 before any route runs. A plain form gets the refusal page, whose
"Back to the form" returns to the form as typed (the browser's own history restores it); an
htmx form swaps nothing on a 4xx, so `static/app.js` shows the page's message above the
content and the form stays as it was. Selectors are names and ids, never translated text.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.live import SCREENSHOTS, VIEWPORTS, LiveServer, live_server, run_setup

pytestmark = pytest.mark.browser

NAME = "Nguyễn Thị Lan"
EMAIL = "lan.refused@tdmu.edu.vn"


@pytest.fixture(scope="module")
def app_server() -> Iterator[LiveServer]:
    with live_server("tests.e2e.test_refused_input") as server:
        yield server


async def _setup() -> None:
    """Nothing to prepare: the registration form is public."""


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_a_refused_form_says_why_and_keeps_what_was_typed(
    chromium, app_server: LiveServer, viewport: str
) -> None:
    context = chromium.new_context(locale="vi-VN", **VIEWPORTS[viewport])
    page = context.new_page()
    try:
        page.goto(f"{app_server.base_url}/register")
        page.fill("input[name=full_name]", NAME + "\x00")
        page.fill("input[name=email]", EMAIL)
        with page.expect_navigation():
            page.click("form[action='/register'] button[type=submit]")
        assert page.locator("[data-error-message]").inner_text().strip()
        assert "NUL" in page.locator("[data-error-message]").inner_text()
        page.screenshot(path=str(SCREENSHOTS / f"refused-form-{viewport}.png"), full_page=True)

        page.click("a[data-back]")
        page.wait_for_url(f"{app_server.base_url}/register")
        assert page.input_value("input[name=email]") == EMAIL
        assert page.input_value("input[name=full_name]").startswith(NAME)

        # The same refusal through htmx: nothing is swapped, the message shows, the form stays.
        page.evaluate(
            """() => {
              const form = document.querySelector("form[action='/register']");
              form.setAttribute("hx-post", "/register");
              form.setAttribute("hx-swap", "outerHTML");
              htmx.process(form);
            }"""
        )
        page.fill("input[name=full_name]", NAME + "\x00")
        with page.expect_response(lambda r: r.url.endswith("/register")) as answer:
            page.click("form[action='/register'] button[type=submit]")
        assert answer.value.status == 400
        alert = page.locator("#request-error")
        alert.wait_for(state="visible")
        assert "NUL" in alert.inner_text()
        assert page.input_value("input[name=email]") == EMAIL
        assert page.url == f"{app_server.base_url}/register"
        page.screenshot(path=str(SCREENSHOTS / f"refused-htmx-{viewport}.png"), full_page=True)
    finally:
        context.close()


run_setup(__name__, _setup)
