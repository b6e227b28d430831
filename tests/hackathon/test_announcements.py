"""Announcements to participants by site or track (issue 16, item 6): a preview that lists
the recipients, then sending with the preview's code: one e-mail per participant in their
own language, shown on the contest page. Organisers only, per role, through HTTP."""

from __future__ import annotations

import re

from ecosystem.models import OutboxMessage, User
from hackathon.models import Announcement, ContestRole, ContestRoleKind
from tests.conftest import add_member, person
from tests.hackathon.conftest import make_contest, make_judge, make_org, make_team


async def _world():
    contest = await make_contest()
    await make_team(contest, "Seoul A", site="kr", track="tourism", members=("kr1@example.org",))
    await make_team(
        contest,
        "Saigon B",
        site="vn",
        track="traffic",
        members=("vn1@example.org", "vn2@example.org"),
    )
    await make_team(contest, "Saigon C", site="vn", track="tourism", members=("vn3@example.org",))
    await User.filter(email="vn2@example.org").update(locale="vi")
    return contest


async def test_the_organiser_previews_then_sends_to_one_site(new_browser):
    contest = await _world()
    browser = new_browser()
    await browser.login(contest.organiser.email)
    url = f"/contests/{contest.slug}/manage/announce"
    assert (await browser.get(url)).status_code == 200
    form = {"site": "vn", "track": "", "title": "Room change", "body": "Pitches move to hall B."}
    preview = await browser.post(url, form)
    assert preview.status_code == 200
    assert 'id="announcement-preview"' in preview.text
    for email in ("vn1@example.org", "vn2@example.org", "vn3@example.org"):
        assert email in preview.text
    assert "kr1@example.org" not in preview.text
    assert not await OutboxMessage.all().exists()  # nothing sent by a preview
    code = re.search(r'name="confirm" value="([0-9a-f]+)"', preview.text).group(1)
    # a changed text needs a new preview
    response = await browser.post(url, {**form, "body": "Something else", "confirm": code})
    assert response.status_code == 422 and not await OutboxMessage.all().exists()
    response = await browser.post(url, {**form, "confirm": code})
    assert response.status_code == 303
    sent = {m.to: m for m in await OutboxMessage.all()}
    assert set(sent) == {"vn1@example.org", "vn2@example.org", "vn3@example.org"}
    assert "Pitches move to hall B." in sent["vn1@example.org"].text_body
    assert "Thông báo" in sent["vn2@example.org"].text_body  # in the recipient's language
    announcement = await Announcement.get(contest_id=contest.id)
    assert announcement.recipients == 3
    page = await new_browser().get(f"/contests/{contest.slug}")
    assert 'id="announcements"' in page.text and "Pitches move to hall B." in page.text


async def test_a_track_audience_and_bad_input(new_browser):
    contest = await _world()
    browser = new_browser()
    await browser.login(contest.organiser.email)
    url = f"/contests/{contest.slug}/manage/announce"
    preview = await browser.post(
        url, {"site": "", "track": "tourism", "title": "Tourism", "body": "Hello"}
    )
    assert "kr1@example.org" in preview.text and "vn3@example.org" in preview.text
    assert "vn1@example.org" not in preview.text
    for form in (
        {"site": "", "track": "", "title": "", "body": "Hello"},
        {"site": "", "track": "", "title": "Hi", "body": ""},
        {"site": "mars", "track": "", "title": "Hi", "body": "Hello"},
        {"site": "", "track": "space", "title": "Hi", "body": "Hello"},
        {"site": "", "track": "", "title": "x" * 201, "body": "Hello"},
        {"site": "", "track": "", "title": "Hi", "body": "x", "confirm": "0000"},
    ):
        response = await browser.post(url, form)
        assert response.status_code == 422, form
        if form["body"]:
            assert form["body"] in response.text  # the form keeps what was typed
    assert not await OutboxMessage.all().exists()
    assert not await Announcement.all().exists()


async def test_only_organisers_announce(new_browser):
    office = await make_org("Smart City Office")
    contest = await make_contest(organisation_id=office.id)
    await make_team(contest, "Team A", members=("member@example.org",), title="Entry A")
    judge = await make_judge(contest, "judge@example.org")
    other_org_admin = await person("other.admin@example.org")
    await add_member(other_org_admin, await make_org("Another Office"), "admin")
    unverified = await person("unverified.organiser@example.org", verified=False)
    await ContestRole.create(
        contest_id=contest.id, user_id=unverified.id, role=ContestRoleKind.ORGANISER
    )
    url = f"/contests/{contest.slug}/manage/announce"
    form = {"site": "", "track": "", "title": "Hi", "body": "Hello"}
    for email in (judge.email, "member@example.org", other_org_admin.email, unverified.email):
        browser = new_browser()
        await browser.login(email)
        assert (await browser.get(url)).status_code == 403
        assert (await browser.post(url, form)).status_code == 403
        assert (await browser.post(url, {**form, "confirm": "abc"})).status_code == 403
    assert not await OutboxMessage.all().exists()
