"""A Korean juror of the demo contest, in headless Chromium: Korean pages on Seoul's clock.

The demo data (`python -m ecosystem seed --demo`: the kernel and the contests) runs in the
server's database; jury2018-01@example.org judges at the Korean site of the Smart City
Initiative Contest 2018, reads Korean and lives on Asia/Seoul (hackathon/seed.py). The browser
itself asks for Korean and runs on Seoul time. The journey: sign in → the judging queue →
a score sheet → the published results of the 2017 hackathon. On every page: `<html lang="ko">`,
the footer names Korean time (UTC+9), the deadline is shown on Seoul's clock as well, and no
Vietnamese interface word leaks in.

Two kinds of checks: the plumbing (language chosen, clocks, zone names – CLDR's, not our
catalogues) is asserted page by page; Hangul headings and the absence of English interface
words depend on the Korean catalogues (*/locale/ko), so they are collected on the way and
asserted at the end, after the screenshots (phone and desktop, in /tmp/shots-i18n/).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.live import VIEWPORTS, LiveServer, live_server, no_horizontal_scroll, run_setup
from tests.e2e.live import setup_database as server_database

SHOTS = Path("/tmp/shots-i18n")
JUROR = "jury2018-01@example.org"
CONTEST = "smart-city-initiative-2018"
PUBLISHED = "hackathon-binh-duong-2017"
HANGUL = re.compile(r"[\uac00-\ud7a3]")
# Interface words only the Vietnamese catalogues hold (contest titles, names and other content
# typed in Vietnamese may show; these never should for a Korean reader).
VIETNAMESE_INTERFACE = (
    "Đăng xuất",
    "Đăng nhập",
    "Tài khoản của tôi",
    "Danh sách bài tôi chấm",
    "Phiếu chấm",
    "Thời gian hiển thị",
    "Giờ Việt Nam",
    "Giờ Hàn Quốc",
    "Hạn chấm",
)
ENGLISH_INTERFACE = ("Sign out", "My account", "My judging queue", "Progress", "Times shown in")

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo_server() -> Iterator[LiveServer]:
    with live_server("tests.e2e.test_korean_juror", packages="labs,hackathon") as server:
        yield server


async def _setup() -> None:
    """The demo data of the kernel and the contests, as `seed --demo` loads them."""
    from ecosystem.seed import seed_kernel
    from hackathon.seed import seed_contests

    async with server_database():
        await seed_kernel()
        await seed_contests()


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_a_korean_juror_reads_korean_on_seouls_clock(device, chromium, demo_server):
    from ecosystem.seed import DEMO_PASSWORD

    SHOTS.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(
        base_url=demo_server.base_url,
        locale="ko-KR",
        timezone_id="Asia/Seoul",
        **VIEWPORTS[device],
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    waiting_for_catalogues: list[tuple[str, str]] = []

    def check(name: str) -> str:
        """The plumbing of the page in view; a screenshot; what waits for the catalogues."""
        page.screenshot(path=SHOTS / f"korean-juror-{device}-{name}.png", full_page=True)
        if device == "phone":
            no_horizontal_scroll(page)
        assert page.locator("html").get_attribute("lang") == "ko", (name, page.url)
        footer = page.locator("footer").inner_text()
        assert re.search(r"한국 시간 ?\(UTC\+9\)", footer), (name, footer)
        text = page.locator("body").inner_text()
        for word in VIETNAMESE_INTERFACE:
            assert word not in text, (name, word)
        # The interface's headings (an entry's own title, typed by its team, may be in any
        # language: the sheet's h1 is one).
        headings = " ".join(page.locator("h1, h2").all_inner_texts())
        if not HANGUL.search(headings):
            waiting_for_catalogues.append((name, f"headings {headings!r}"))
        waiting_for_catalogues.extend((name, word) for word in ENGLISH_INTERFACE if word in text)
        return text

    try:
        page.goto("/login")
        assert page.locator("html").get_attribute("lang") == "ko"  # the browser's language
        page.fill("#f-email", JUROR)
        page.fill("#f-password", DEMO_PASSWORD)
        page.locator('form[action^="/login"] button[type="submit"]').click()
        page.wait_for_url(lambda url: "/login" not in url)

        page.goto(f"/contests/{CONTEST}/judge")
        page.locator("#judge-progress").wait_for()
        text = check("queue")
        # Judging closed at 17:00 in Vietnam (the contest's zone) on 12/10/2018: 19:00 in Seoul,
        # said with both zones named.
        assert re.search(r"오후 5:00 베트남 시간 · 오후 7:00 한국 시간", text), text[-800:]
        assert page.locator(".queue-item").count() > 0

        page.locator(".queue-item a").first.click()
        page.wait_for_url(re.compile(rf"/contests/{CONTEST}/judge/\d+$"))
        page.locator("#score-form").wait_for()
        check("sheet")

        page.goto(f"/contests/{PUBLISHED}/results")
        text = check("results")
        # Published at 10:00 UTC on 26/11/2017: 19:00 in Seoul.
        assert "17. 11. 26. 오후 7:00" in text, text[:800]
    finally:
        context.close()

    assert waiting_for_catalogues == [], "Korean catalogues (*/locale/ko) still to fill"


run_setup(__name__, _setup)
