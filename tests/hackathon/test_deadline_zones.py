"""Deadlines with their zone (issue 16, item 6): every deadline names its site's zone and,
when the viewer's own zone (an account setting, validated against zoneinfo) reads another
clock, shows that time too."""

from __future__ import annotations

from ecosystem.models import User
from tests.conftest import person
from tests.hackathon.conftest import make_contest, make_team


async def test_the_account_sets_a_known_time_zone(new_browser):
    user = await person("viewer@example.org")
    browser = new_browser()
    await browser.login(user.email)
    page = await browser.get("/account")
    assert 'name="timezone"' in page.text and 'value="Asia/Ho_Chi_Minh"' in page.text
    form = {"full_name": "Kim Min-jun", "locale": "en", "timezone": "Asia/Seoul"}
    assert (await browser.post("/account", form)).status_code == 303
    assert (await User.get(id=user.id)).timezone == "Asia/Seoul"
    for bad in ("Mars/Olympus", "Asia/Seoul\x00", "x" * 80, "../etc/passwd"):
        response = await browser.post("/account", {**form, "timezone": bad})
        assert response.status_code in (400, 422), bad  # a NUL is refused by the input guard
        assert response.status_code == 400 or "Unknown time zone" in response.text
    assert (await User.get(id=user.id)).timezone == "Asia/Seoul"
    # a form without the field (an older page) leaves the zone alone
    assert (await browser.post("/account", {"full_name": "Kim", "locale": "en"})).status_code == 303
    assert (await User.get(id=user.id)).timezone == "Asia/Seoul"


async def test_deadlines_show_their_zone_and_the_viewers(new_browser):
    contest = await make_contest()
    await make_team(contest, "Seoul team", site="kr", members=("kr@example.org",), title="A")
    vietnam_viewer = await person("vn.viewer@example.org")
    browser = new_browser()
    await browser.login(vietnam_viewer.email)
    page = (await browser.get(f"/contests/{contest.slug}")).text
    # the Korean site's deadline: its own zone named, then the viewer's
    assert " Korean Time · " in page and " Vietnam Time" in page
    korean = await person("kr.viewer@example.org")
    await User.filter(id=korean.id).update(timezone="Asia/Seoul")
    browser = new_browser()
    await browser.login(korean.email)
    page = (await browser.get(f"/contests/{contest.slug}")).text
    assert " Vietnam Time · " in page  # the Vietnamese site, then Seoul's clock
    assert " Korean Time · " not in page  # Seoul's deadline is already in their zone
    # the team member of the Korean site sees their own deadline named
    member = new_browser()
    await member.login("kr@example.org")
    page = (await member.get(f"/contests/{contest.slug}")).text
    assert " Korean Time" in page


async def test_deadlines_read_in_vietnamese(new_browser):
    contest = await make_contest()
    viewer = await person("vi.viewer@example.org")
    await User.filter(id=viewer.id).update(locale="vi")
    browser = new_browser()
    await browser.login(viewer.email)
    page = (await browser.get(f"/contests/{contest.slug}")).text
    assert " Giờ Hàn Quốc · " in page and " Giờ Việt Nam" in page
