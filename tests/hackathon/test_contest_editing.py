"""Editing a contest after creation (issue 16, item 6): texts, deadlines, tracks, prizes and
the rubric, by organisers only; the rubric locks when judging starts, a passed deadline no
longer moves, the results freeze everything. Checked through HTTP, per role."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from tortoise import timezone

from hackathon.models import Contest, ContestRole, ContestRoleKind, Criterion, Prize, Track
from hackathon.routes.editing import _form_values
from hackathon.services import editing
from tests.conftest import add_member, person
from tests.hackathon.conftest import JUDGING_NOW, make_contest, make_judge, make_org, make_team


async def _form(contest: Contest) -> dict[str, str]:
    """What the edit form shows, as the browser would send it back unchanged (the main
    language's texts in the plain inputs `title`, … that the form also reads)."""
    values = _form_values(await editing.edit_state(contest.organiser, contest))
    for name in ("title", "description", "eligibility"):
        values[name] = values.pop(f"{name}__vi", "")
    return values


def _local(instant, contest: Contest) -> str:
    return instant.astimezone(ZoneInfo(contest.timezone)).strftime("%Y-%m-%dT%H:%M")


async def test_the_organiser_edits_everything_before_judging(new_browser):
    contest = await make_contest()
    browser = new_browser()
    await browser.login(contest.organiser.email)
    page = await browser.get(f"/contests/{contest.slug}/manage/edit")
    assert page.status_code == 200
    assert "Tourism information" in page.text and "impact | " in page.text
    form = await _form(contest)
    later = timezone.now() + timedelta(days=9)
    form.update(
        title="Smart City 2019",
        judging_closes_at=_local(later, contest),
        tracks="tourism | Tourism and culture\ntraffic | Traffic information\nhealth | Health",
        prizes="health | Health prize | 5000000\nvote | Public choice | 0",
        criteria="impact | Impact | 2 | 0 | 10 | value | 1\nfun | Fun | 1 | 1 | 5 |  | 0.5",
        criterion_translations="impact | ko | 영향력 | 가치",
    )
    response = await browser.post(f"/contests/{contest.slug}/manage/edit", form)
    assert response.status_code == 303, response.text[:800]
    fresh = await Contest.get(id=contest.id)
    assert fresh.title == "Smart City 2019"
    assert abs((fresh.judging_closes_at - later).total_seconds()) < 60
    tracks = await Track.filter(contest_id=contest.id).order_by("position")
    assert [(t.code, t.name) for t in tracks] == [
        ("tourism", "Tourism and culture"),
        ("traffic", "Traffic information"),
        ("health", "Health"),
    ]
    prizes = await Prize.filter(contest_id=contest.id).select_related("track").order_by("id")
    assert [(p.name, p.track.code if p.track else None, p.amount) for p in prizes] == [
        ("Health prize", "health", 5_000_000),
        ("Public choice", None, 0),
    ]
    criteria = await Criterion.filter(round__contest_id=contest.id).order_by("position")
    assert [(c.code, c.weight, c.scale_min, c.scale_max, c.step) for c in criteria] == [
        ("impact", 2.0, 0, 10, 1.0),
        ("fun", 1.0, 1, 5, 0.5),
    ]
    # the same form sent again changes nothing
    fresh.organiser = contest.organiser  # type: ignore[attr-defined]
    again = await browser.post(f"/contests/{contest.slug}/manage/edit", await _form(fresh))
    assert again.status_code == 303


async def test_only_organisers_may_edit(new_browser):
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
    office_admin = await person("office.admin@example.org")
    await add_member(office_admin, office, "admin")
    form = await _form(contest)
    form["title"] = "Hijacked"
    for email in (
        judge.email,
        "member@example.org",
        other_org_admin.email,
        unverified.email,
    ):
        browser = new_browser()
        await browser.login(email)
        assert (await browser.get(f"/contests/{contest.slug}/manage/edit")).status_code == 403
        response = await browser.post(f"/contests/{contest.slug}/manage/edit", form)
        assert response.status_code == 403, email
    anonymous = new_browser()
    response = await anonymous.get(f"/contests/{contest.slug}/manage/edit")
    assert response.status_code in (302, 303, 401)
    assert (await Contest.get(id=contest.id)).title == "Smart City Initiative Contest"
    # an admin of the organising organisation is an organiser
    browser = new_browser()
    await browser.login(office_admin.email)
    form["title"] = "Renamed by the office"
    assert (await browser.post(f"/contests/{contest.slug}/manage/edit", form)).status_code == 303
    assert (await Contest.get(id=contest.id)).title == "Renamed by the office"


async def test_the_rubric_locks_when_judging_starts_and_passed_deadlines_stay(new_browser):
    contest = await make_contest(**JUDGING_NOW)
    browser = new_browser()
    await browser.login(contest.organiser.email)
    page = await browser.get(f"/contests/{contest.slug}/manage/edit")
    assert "Judging has started: the rubric is locked." in page.text
    form = await _form(contest)
    changed = {**form, "criteria": "impact | Impact | 1 | 0 | 10 |  | 1", "title": "Other"}
    response = await browser.post(f"/contests/{contest.slug}/manage/edit", changed)
    assert response.status_code == 409
    assert "the rubric is locked" in response.text
    assert 'value="Other"' in response.text  # the form keeps what was typed
    fresh = await Contest.get(id=contest.id)
    assert fresh.title == "Smart City Initiative Contest"  # nothing half-written
    assert await Criterion.filter(round__contest_id=contest.id).count() == 4
    # a passed deadline cannot move
    moved = {**form, "submission_closes_at": _local(timezone.now() + timedelta(days=1), contest)}
    response = await browser.post(f"/contests/{contest.slug}/manage/edit", moved)
    assert response.status_code == 422
    assert "This deadline has passed" in response.text
    # the judging deadline may still move ahead, with the rubric untouched
    ahead = timezone.now() + timedelta(days=20)
    ok = {**form, "judging_closes_at": _local(ahead, contest)}
    assert (await browser.post(f"/contests/{contest.slug}/manage/edit", ok)).status_code == 303
    assert abs(((await Contest.get(id=contest.id)).judging_closes_at - ahead).total_seconds()) < 60


async def test_bad_edits_are_refused_with_the_form_kept(new_browser):
    contest = await make_contest()
    await make_team(contest, "Team A", track="traffic", title="Entry A")
    browser = new_browser()
    await browser.login(contest.organiser.email)
    form = await _form(contest)
    url = f"/contests/{contest.slug}/manage/edit"
    cases = [
        ({"tracks": "tourism | Tourism information"}, 422, "has teams"),
        ({"prizes": "nowhere | Lost prize | 10"}, 422, "unknown track"),
        (
            {"submission_closes_at": _local(timezone.now() - timedelta(hours=3), contest)},
            422,
            "",
        ),
        ({"judging_closes_at": _local(timezone.now() + timedelta(hours=30), contest)}, 422, ""),
        ({"criteria": "impact | Impact | 1 | 10 | 0 |  | 1"}, 422, ""),
        ({"registration_closes_at": "not a date"}, 422, ""),
        ({"title": ""}, 422, ""),
    ]
    for change, status, text in cases:
        response = await browser.post(url, {**form, **change})
        assert response.status_code == status, (change, response.text[:500])
        assert text in response.text
        for value in change.values():
            if value and value != "not a date":
                assert value.split("\n")[0].split(" | ")[0] in response.text
    assert await Track.filter(contest_id=contest.id).count() == 2
    assert (await Contest.get(id=contest.id)).title == contest.title


async def test_published_results_freeze_the_contest(new_browser):
    contest = await make_contest(**JUDGING_NOW)
    await Contest.filter(id=contest.id).update(results_published_at=timezone.now())
    browser = new_browser()
    await browser.login(contest.organiser.email)
    form = {**(await _form(contest)), "title": "Late change"}
    response = await browser.post(f"/contests/{contest.slug}/manage/edit", form)
    assert response.status_code == 409
    assert (await Contest.get(id=contest.id)).title == contest.title


@pytest.mark.usefixtures("english")
async def test_the_edit_page_speaks_vietnamese(new_browser):
    contest = await make_contest()
    organiser = contest.organiser
    organiser.locale = "vi"
    await organiser.save(update_fields=["locale"])
    browser = new_browser()
    await browser.login(organiser.email)
    page = await browser.get(f"/contests/{contest.slug}/manage/edit")
    assert page.status_code == 200
    assert "Edit the contest" not in page.text
