"""Contests, tracks, prizes and criteria in several languages (issue 18), over HTTP on both
backends: readers see their language or a marked fallback, the staff form keeps a tab per
language and round-trips them, hostile input is refused with nothing saved, and only the
contest's verified organisers edit."""

from __future__ import annotations

import pytest

from ecosystem import i18n
from hackathon.models import Contest, ContestRole, ContestRoleKind, Criterion, Prize, Track
from tests.conftest import person
from tests.hackathon.conftest import bearer, make_contest, make_judge
from tests.hackathon.test_contest_editing import _form

TRACKS = [
    {
        "code": "tourism",
        "name": "Thông tin du lịch",
        "translations": {"ko": {"name": "관광 정보", "description": "방문객을 위한 안내"}},
    },
    {"code": "traffic", "name": "Thông tin giao thông"},
]
PRIZES = [
    {
        "name": "Giải nhất du lịch",
        "track": "tourism",
        "amount": 20_000_000,
        "translations": {"ko": {"name": "관광 부문 대상"}, "en": {"name": "First prize, tourism"}},
    },
]
API_CONTEST = {
    "slug": "three-languages",
    "title": "Cuộc thi ba ngôn ngữ",
    "registration_closes_at": "2030-01-01T00:00:00Z",
    "submission_closes_at": "2030-01-02T00:00:00Z",
    "judging_closes_at": "2030-01-03T00:00:00Z",
    "sites": [{"code": "vn", "name": "VN"}],
    "tracks": [{"code": "t", "name": "Bảng T"}],
}


@pytest.fixture
def korean(monkeypatch):
    """Korean pages (i18n-core adds ko to the supported locales; harmless once it has)."""
    monkeypatch.setattr(i18n, "SUPPORTED_LOCALES", (*i18n.SUPPORTED_LOCALES, "ko"))
    monkeypatch.setitem(i18n.LOCALE_NAMES, "ko", "한국어")


async def _smart_city() -> Contest:
    return await make_contest(
        description="Ý tưởng cho thành phố thông minh",
        tracks=TRACKS,
        prizes=PRIZES,
        translations={
            "ko": {"title": "스마트 시티 공모전", "description": "스마트 시티를 위한 아이디어"},
        },
        title="Cuộc thi Thành phố thông minh",
    )


@pytest.mark.usefixtures("korean")
async def test_a_korean_reader_sees_the_korean_texts(new_browser):
    contest = await _smart_city()
    page = await new_browser(lang="ko").get(f"/contests/{contest.slug}")
    assert page.status_code == 200
    text = page.text
    assert "<h1>스마트 시티 공모전</h1>" in text
    assert "스마트 시티를 위한 아이디어" in text and "Ý tưởng cho thành phố" not in text
    assert "관광 정보" in text and "관광 부문 대상" in text
    assert "Cuộc thi Thành phố thông minh" not in text
    # the traffic track has Vietnamese only: shown, marked with its language
    assert "Thông tin giao thông" in text
    listing = await new_browser(lang="ko").get("/contests")
    assert "스마트 시티 공모전" in listing.text and "관광 정보" in listing.text


async def test_an_english_reader_sees_vietnamese_marked_as_a_fallback(new_browser):
    contest = await _smart_city()
    page = await new_browser(lang="en").get(f"/contests/{contest.slug}")
    assert page.status_code == 200
    # no English title: the Vietnamese one (English falls back to Vietnamese first)
    assert "<h1>Cuộc thi Thành phố thông minh</h1>" in page.text
    assert '<span lang="vi">Ý tưởng cho thành phố thông minh</span>' in page.text
    assert '<small class="fallback-note">(Tiếng Việt)</small>' in page.text
    assert "First prize, tourism" in page.text  # the prize has English


async def test_the_api_gives_the_readers_language_and_every_translation(client):
    contest = await _smart_city()
    reader = await person("reader@example.org", locale="en")
    response = await client.get(f"/api/v1/contests/{contest.id}", headers=await bearer(reader))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["title"] == "Cuộc thi Thành phố thông minh"  # no English: the fallback
    assert body["content_locale"] == "vi"
    assert body["translations"]["ko"]["title"] == "스마트 시티 공모전"
    assert body["translations"]["vi"]["description"] == "Ý tưởng cho thành phố thông minh"
    tourism = next(t for t in body["tracks"] if t["code"] == "tourism")
    assert tourism["translations"]["ko"] == {
        "name": "관광 정보",
        "description": "방문객을 위한 안내",
    }


async def test_the_api_creates_a_contest_in_three_languages(client):
    organiser = await person("organiser@example.org", admin=True)
    body = {
        **API_CONTEST,
        "content_locale": "vi",
        "translations": {"en": {"title": "Three languages"}, "ko": {"title": "세 언어 공모전"}},
        "tracks": [{"code": "t", "name": "Bảng T", "translations": {"ko": {"name": "T 부문"}}}],
    }
    response = await client.post("/api/v1/contests", json=body, headers=await bearer(organiser))
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "Three languages"  # the organiser reads English
    contest = await Contest.get(slug="three-languages")
    assert contest.translations == {
        "en": {"title": "Three languages"},
        "ko": {"title": "세 언어 공모전"},
    }
    track = await Track.get(contest_id=contest.id)
    assert (track.content_locale, track.translations) == ("vi", {"ko": {"name": "T 부문"}})


@pytest.mark.parametrize(
    "change",
    [
        {"translations": {"fr": {"title": "Concours"}}},  # not a content language
        {"translations": ["en", "Three languages"]},  # not an object
        {"translations": {"en": "Three languages"}},  # not an object of texts
        {"translations": {"en": {"colour": "blue"}}},  # not a text of a contest
        {"translations": {"en": {"title": "x" * 10_000}}},  # too long
        {"translations": {"vi": {"title": "Lặp lại"}}},  # the main language again
        {"content_locale": "xx"},
        {"tracks": [{"code": "t", "name": "T", "translations": {"en": {"name": "y" * 300}}}]},
        {"tracks": [{"code": "t", "name": "T", "translations": {"vi": {"name": "Lặp"}}}]},
    ],
)
async def test_the_api_refuses_hostile_translations(client, change):
    organiser = await person("organiser@example.org", admin=True)
    body = {**API_CONTEST, **change}
    response = await client.post("/api/v1/contests", json=body, headers=await bearer(organiser))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"]
    assert not await Contest.exists(slug="three-languages")


async def test_the_staff_form_round_trips_three_languages(new_browser):
    contest = await _smart_city()
    browser = new_browser(lang="en")
    await browser.login(contest.organiser.email)
    page = await browser.get(f"/contests/{contest.slug}/manage/edit")
    assert page.status_code == 200
    assert 'name="title__ko"' in page.text and 'value="스마트 시티 공모전"' in page.text
    assert "tourism | ko | 관광 정보 | 방문객을 위한 안내" in page.text
    form = await _form(contest)
    form.update(
        title="Cuộc thi Thành phố thông minh 2019",
        **{
            "title__en": "Smart City Contest 2019",
            "title__ko": "2019 스마트 시티 공모전",
            "description__en": "Ideas for a smart city",
            "eligibility__ko": "누구나 참가할 수 있습니다",
        },
        track_translations="tourism | en | Tourism | For visitors\ntraffic | ko | 교통 정보 |",
        prize_translations="1 | ko | 관광 대상",
        criterion_translations="impact | ko | 파급력 | 주민에게 주는 가치",
    )
    response = await browser.post(f"/contests/{contest.slug}/manage/edit", form)
    assert response.status_code == 303, response.text[:2000]
    fresh = await Contest.get(id=contest.id)
    assert fresh.title == "Cuộc thi Thành phố thông minh 2019"
    assert fresh.translations == {
        "en": {"title": "Smart City Contest 2019", "description": "Ideas for a smart city"},
        "ko": {
            "title": "2019 스마트 시티 공모전",
            "description": "스마트 시티를 위한 아이디어",
            "eligibility": "누구나 참가할 수 있습니다",
        },
    }
    tracks = {t.code: t.translations for t in await Track.filter(contest_id=contest.id)}
    assert tracks == {
        "tourism": {"en": {"name": "Tourism", "description": "For visitors"}},
        "traffic": {"ko": {"name": "교통 정보"}},
    }
    prize = await Prize.get(contest_id=contest.id)
    assert prize.translations == {"ko": {"name": "관광 대상"}}
    impact = await Criterion.get(code="impact", round__contest_id=contest.id)
    assert impact.translations["ko"] == {"name": "파급력", "description": "주민에게 주는 가치"}
    shown = await browser.get(f"/contests/{contest.slug}")
    assert "<h1>Smart City Contest 2019</h1>" in shown.text and "Tourism" in shown.text
    again = await browser.get(f"/contests/{contest.slug}/manage/edit")
    assert 'value="2019 스마트 시티 공모전"' in again.text
    assert "impact | ko | 파급력 | 주민에게 주는 가치" in again.text


@pytest.mark.parametrize(
    ("change", "shown_at"),
    [
        ({"content_locale": "xx"}, "e-content_locale"),
        ({"title__en": "x" * 10_000}, "e-title__en"),
        ({"track_translations": "tourism | fr | Tourisme |"}, "f-track_translations"),
        ({"track_translations": "museum | en | Museum |"}, "f-track_translations"),
        ({"prize_translations": "7 | en | Seventh |"}, "f-prize_translations"),
        ({"title": ""}, "e-title__vi"),
    ],
)
async def test_the_staff_form_refuses_hostile_texts_and_keeps_them(new_browser, change, shown_at):
    contest = await _smart_city()
    browser = new_browser(lang="en")
    await browser.login(contest.organiser.email)
    form = {**(await _form(contest)), "title__ko": "유지되는 제목", **change}
    response = await browser.post(f"/contests/{contest.slug}/manage/edit", form)
    assert response.status_code == 422, response.text[:800]
    assert shown_at in response.text
    assert "유지되는 제목" in response.text  # the form keeps what was typed
    fresh = await Contest.get(id=contest.id)
    assert fresh.translations["ko"]["title"] == "스마트 시티 공모전"  # nothing saved
    assert not (await Track.get(contest_id=contest.id, code="tourism")).translations.get("en")


async def test_only_verified_organisers_edit_the_texts(new_browser):
    contest = await _smart_city()
    judge = await make_judge(contest, "judge@example.org")
    stranger = await person("stranger@example.org")
    unverified = await person("unverified@example.org", verified=False)
    # an organiser of the contest whose account is not verified (yet) edits nothing either
    await ContestRole.create(
        contest_id=contest.id, user_id=unverified.id, role=ContestRoleKind.ORGANISER
    )
    form = {**(await _form(contest)), "title__ko": "탈취"}
    url = f"/contests/{contest.slug}/manage/edit"
    anonymous = new_browser(lang="en")
    assert (await anonymous.get(url)).status_code in (302, 303, 401)
    for who in (judge, stranger, unverified):
        browser = new_browser(lang="en")
        await browser.login(who.email)
        assert (await browser.get(url)).status_code == 403
        assert (await browser.post(url, form)).status_code == 403
    assert (await Contest.get(id=contest.id)).translations["ko"]["title"] == "스마트 시티 공모전"
