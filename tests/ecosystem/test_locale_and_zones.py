"""Which language and which clock a page uses: the account's language, else the switcher's
choice, else the browser's Accept-Language by q-value, else Vietnamese; times in the viewer's
own zone (Vietnam's for anonymous visitors), deadlines also in their own zone, named."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from ecosystem import i18n
from ecosystem.models import ApiToken, User
from tests.conftest import make_organisation, make_user, person

HTML_LANG = re.compile(r'<html lang="([a-z]+)">')
TOKEN_URL = "/api/v1/auth/token"


def lang_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return HTML_LANG.search(response.text).group(1)


def footer_of(response) -> str:
    return re.search(r'<footer class="footer container">(.*?)</footer>', response.text, re.S)[1]


# --- negotiation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ko;q=0.9,en;q=0.8", "ko"),
        ("fr,en;q=0.5", "en"),
        ("en;q=0.5,ko;q=0.6", "ko"),  # by weight, not by position
        ("ko-KR,ko;q=0.9,en-US;q=0.8", "ko"),  # regions
        ("zh-TW, en-GB;q=0.7, vi;q=0.7", "en"),  # equal weights keep the header's order
        ("EN-us", "en"),
        ("ko;q=0, en;q=0.1", "en"),  # q=0 means "not this one"
        ("fr, de;q=0.9", None),
        ("*", None),
        ("ko;q=abc, en;q=0.2", "en"),  # a malformed weight counts as refused
        ("ko;q=5", None),  # out of range
        (";;;,,,=", None),
        ("", None),
    ],
)
def test_accept_language_is_negotiated_by_q_value(header, expected):
    assert i18n.negotiate_locale(accept_language=header, default=None) == expected
    assert i18n.negotiate_locale(accept_language=header) == expected or "vi"
    # An explicit choice beats the header.
    assert i18n.negotiate_locale("vi", accept_language=header) == "vi"


def test_a_huge_accept_language_header_is_cut_short():
    header = ",".join(["fr"] * 5000) + ",ko"
    assert i18n.negotiate_locale(accept_language=header, default=None) is None
    assert i18n.accepted_languages("ko;q=0.9, en") == ["en", "ko"]


async def test_pages_follow_the_browser_language_by_q_value(client):
    cases = {
        "ko;q=0.9,en;q=0.8": "ko",
        "fr,en;q=0.5": "en",
        "fr-FR,de": "vi",
        "*;q=0.1": "vi",
        "x" * 300: "vi",
        "ko;q=NaN,en;q=-1": "vi",
    }
    for header, expected in cases.items():
        for url in ("/", "/login", "/no/such/page"):
            response = await client.get(url, headers={"Accept-Language": header})
            assert response.status_code in (200, 404), (url, header)
            assert HTML_LANG.search(response.text).group(1) == expected, (url, header)
            assert response.headers["content-language"] == expected
            vary = {v.strip().lower() for v in response.headers["vary"].split(",")}
            assert "accept-language" in vary, (url, vary)
    # The switcher offers the three languages, each named in itself.
    page = (await client.get("/", headers={"Accept-Language": "ko"})).text
    assert re.search(r'<option value="ko" selected>한국어</option>', page)
    assert '<option value="vi">Tiếng Việt</option>' in page
    assert '<option value="en">English</option>' in page


async def test_the_switcher_beats_the_browser_and_is_remembered(browser, new_browser):
    korean = {"Accept-Language": "ko,en;q=0.5"}
    assert lang_of(await browser.get("/", headers=korean)) == "ko"
    response = await browser.post("/language", {"locale": "vi", "next": "/"}, headers=korean)
    assert response.status_code == 303
    for url in ("/", "/login", "/organisations"):
        assert lang_of(await browser.get(url, headers=korean)) == "vi"
    # The cookie alone (a new session of the same browser) still beats the header.
    later = new_browser()
    later.http.cookies.set("lang", "vi")
    assert lang_of(await later.get("/", headers=korean)) == "vi"
    # Korean can be chosen with the switcher too.
    await browser.post("/language", {"locale": "ko", "next": "/"})
    assert lang_of(await browser.get("/", headers={"Accept-Language": "en"})) == "ko"


async def test_the_account_language_beats_the_session_and_the_browser(browser, new_browser):
    user = await person("minjun@kaist.ac.kr", locale="ko")
    # Chosen English in this tab before signing in, and an English browser.
    english = {"Accept-Language": "en-US,en;q=0.9"}
    await browser.post("/language", {"locale": "en", "next": "/"})
    await browser.login(user.email)
    response = await browser.get("/account", headers=english)
    assert lang_of(response) == "ko"
    assert response.headers["content-language"] == "ko"
    # Changed on another device (the account row): this device follows on its next page,
    # although its session still says Korean.
    await User.filter(id=user.id).update(locale="en")
    assert lang_of(await browser.get("/dashboard", headers={"Accept-Language": "ko"})) == "en"
    # The switcher, when signed in, changes the account as well.
    await browser.post("/language", {"locale": "ko", "next": "/account"})
    await user.refresh_from_db()
    assert user.locale == "ko"
    phone = new_browser()
    await phone.login(user.email)
    assert lang_of(await phone.get("/account", headers=english)) == "ko"


async def test_an_unverified_account_gets_its_language_too(browser):
    user = await person("jiwoo@kaist.ac.kr", locale="ko", verified=False)
    await browser.login(user.email)
    assert lang_of(await browser.get("/account", headers={"Accept-Language": "vi"})) == "ko"


async def test_the_api_negotiates_by_q_value_too(client):
    await make_user("sang@becamex.com.vn")
    body = {"email": "sang@becamex.com.vn", "password": "wrong-password-1"}
    response = await client.post(TOKEN_URL, json=body, headers={"Accept-Language": "fr,en;q=0.5"})
    assert response.status_code == 401
    assert response.headers["content-language"] == "en"
    assert response.json()["error"]["message"] == "Wrong email or password."
    response = await client.post(
        TOKEN_URL, json=body, headers={"Accept-Language": "en;q=0.2, vi;q=0.9"}
    )
    assert response.headers["content-language"] == "vi"
    assert response.json()["error"]["message"] == "Email hoặc mật khẩu không đúng."
    response = await client.post(TOKEN_URL, json=body, headers={"Accept-Language": "ko"})
    assert response.headers["content-language"] == "ko"


# --- time zones -------------------------------------------------------------------------------


def test_zone_labels_are_short_names_never_raw_keys():
    expected = {
        "vi": ("Giờ Hàn Quốc", "Giờ Việt Nam"),
        "en": ("Korean Time", "Vietnam Time"),
        "ko": ("한국 시간", "베트남 시간"),
    }
    for locale, (seoul, vietnam) in expected.items():
        with i18n.use_locale(locale):
            assert i18n.zone_label("Asia/Seoul") == seoul
            assert i18n.zone_label("Asia/Ho_Chi_Minh") == vietnam
            assert i18n.zone_label("UTC") == "UTC"
            for zone in ("Asia/Seoul", "Europe/Amsterdam", "America/New_York", "Asia/Kolkata"):
                assert "/" not in i18n.zone_label(zone), (locale, zone)
    assert i18n.zone_offset("Asia/Seoul") == "UTC+9"
    assert i18n.zone_offset("Asia/Ho_Chi_Minh") == "UTC+7"
    assert i18n.zone_offset("Asia/Kolkata") == "UTC+5:30"
    assert i18n.zone_offset("America/New_York", datetime(2027, 1, 15, tzinfo=UTC)) == "UTC-5"


def test_a_deadline_shows_its_own_zone_and_the_viewers_clock():
    deadline = datetime(2027, 3, 15, 8, 0, tzinfo=UTC)  # 17:00 in Seoul, 15:00 in Vietnam
    with i18n.use_locale("vi", "Asia/Ho_Chi_Minh"):
        shown = i18n.format_deadline(deadline, "Asia/Seoul")
        assert shown == "17:00 15/3/27 Giờ Hàn Quốc · 15:00 Giờ Việt Nam"
        assert i18n.format_deadline(deadline, "Asia/Ho_Chi_Minh") == "15:00 15/3/27 Giờ Việt Nam"
    with i18n.use_locale("ko", "Asia/Seoul"):
        assert i18n.format_deadline(deadline, "Asia/Seoul") == "27. 3. 15. 오후 5:00 한국 시간"
        assert i18n.format_deadline(deadline, "Asia/Ho_Chi_Minh") == (
            "27. 3. 15. 오후 3:00 베트남 시간 · 오후 5:00 한국 시간"
        )
    # Another day at the viewer's: the date is said again.
    late = datetime(2027, 3, 15, 16, 30, tzinfo=UTC)  # 01:30 on the 16th in Seoul
    with i18n.use_locale("en", "Asia/Seoul"):
        shown = i18n.format_deadline(late, "Asia/Ho_Chi_Minh").replace("\u202f", " ")
        assert shown == "3/15/27, 11:30 PM Vietnam Time · 3/16/27, 1:30 AM Korean Time"
    assert i18n.format_deadline(None, "Asia/Seoul") == ""


async def test_a_seoul_viewer_sees_the_seoul_clock_anonymous_visitors_vietnams(
    browser, new_browser
):
    user = await person("seoyeon@kaist.ac.kr", locale="en")
    await User.filter(id=user.id).update(timezone="Asia/Seoul")
    await browser.login(user.email)
    await browser.get("/account/tokens")
    await browser.post("/account/tokens", {"name": "IOC"})
    await ApiToken.filter(user_id=user.id).update(created_at=datetime(2026, 1, 1, 0, 0, tzinfo=UTC))
    page = await browser.get("/account/tokens")
    assert re.search(r"1/1/26,?\s+9:00\s*AM", page.text.replace("\u202f", " "))
    assert "Times shown in Korean Time (UTC+9)." in footer_of(page)
    assert "Asia/Seoul" not in footer_of(page)
    # Anonymous: Vietnam, named in the page's language.
    visitor = new_browser()
    anonymous = await visitor.get("/", headers={"Accept-Language": "en"})
    assert "Times shown in Vietnam Time (UTC+7)." in footer_of(anonymous)
    anonymous = await visitor.get("/")
    assert "Giờ Việt Nam (UTC+7)" in footer_of(anonymous)
    # Signed out, the browser is anonymous again.
    await browser.post("/logout")
    assert "Vietnam Time (UTC+7)" in footer_of(await browser.get("/"))


async def test_contest_deadlines_in_the_seoul_viewers_clock(browser, new_browser):
    from hackathon.models import Contest, Site
    from tests.hackathon.conftest import make_contest

    contest = await make_contest(
        registration_in=timedelta(days=3),
        submission_in=timedelta(days=6),
        judging_in=timedelta(days=9),
    )
    contest = await Contest.get(id=contest.id)
    korea = await Site.get(contest_id=contest.id, code="kr")
    from hackathon.services.contests import site_deadline

    deadline = site_deadline(contest, korea, contest.registration_closes_at)
    with i18n.use_locale("en", "Asia/Seoul"):
        seoul_view = i18n.format_deadline(deadline, "Asia/Seoul")
    with i18n.use_locale("en", "Asia/Ho_Chi_Minh"):
        vietnam_view = i18n.format_deadline(deadline, "Asia/Seoul")
    assert seoul_view != vietnam_view and "Vietnam Time" in vietnam_view

    juror = await person("hyun@kaist.ac.kr", locale="en")
    await User.filter(id=juror.id).update(timezone="Asia/Seoul")
    await browser.login(juror.email)
    page = (await browser.get(f"/contests/{contest.slug}")).text
    assert seoul_view in page
    assert vietnam_view not in page
    visitor = new_browser()
    anonymous = await visitor.get(f"/contests/{contest.slug}", headers={"Accept-Language": "en"})
    assert vietnam_view in anonymous.text


async def test_a_stored_zone_that_no_longer_exists_does_not_break_pages(browser):
    user = await person("old@eiu.edu.vn")
    await User.filter(id=user.id).update(timezone="Mars/Olympus_Mons")
    await browser.login(user.email)
    response = await browser.get("/account")
    assert response.status_code == 200
    assert "Vietnam Time (UTC+7)" in footer_of(response)


# --- the zone of a new account --------------------------------------------------------------


async def register(browser, email: str, zone: str | None):
    await browser.get("/register")
    data = {"email": email, "full_name": "Kim Min-jun", "password": "correct-horse-battery"}
    if zone is not None:
        data["timezone"] = zone
    return await browser.post("/register", data)


async def test_registration_takes_the_browsers_zone(browser):
    page = await browser.get("/register")
    assert re.search(
        r'<input type="hidden" name="timezone" value="" data-browser-timezone>', page.text
    )
    response = await register(browser, "minjun@kaist.ac.kr", "Asia/Seoul")
    assert response.status_code == 303
    assert (await User.get(email="minjun@kaist.ac.kr")).timezone == "Asia/Seoul"
    assert "Giờ Hàn Quốc (UTC+9)" in footer_of(await browser.get("/account"))


@pytest.mark.parametrize(
    "zone",
    [
        "",
        "Mars/Olympus_Mons",
        "../../../../etc/passwd",
        "/etc/localtime",
        "<script>alert(1)</script>",
        "Asia/Seoul' OR '1'='1",
        "Asia/" + "x" * 5000,
        "asia/seoul\u200b",
        "Ασία/Σεούλ",
        None,
    ],
)
async def test_a_missing_odd_or_hostile_browser_zone_is_ignored(browser, zone):
    response = await register(browser, "odd@kaist.ac.kr", zone)
    assert response.status_code == 303, response.text[:300]
    assert (await User.get(email="odd@kaist.ac.kr")).timezone == "Asia/Ho_Chi_Minh"


async def test_control_characters_in_the_zone_are_refused_and_the_form_keeps_its_values(browser):
    response = await register(browser, "ctl@kaist.ac.kr", "Asia/Seoul\x00")
    assert response.status_code == 400
    assert not await User.filter(email="ctl@kaist.ac.kr").exists()
    # A refused registration (a short password) keeps the zone the browser sent.
    await browser.get("/register")
    response = await browser.post(
        "/register",
        {
            "email": "short@kaist.ac.kr",
            "full_name": "Kim",
            "password": "x",
            "timezone": "Asia/Seoul",
        },
    )
    assert response.status_code == 422
    assert 'name="timezone" value="Asia/Seoul"' in response.text
    assert 'value="short@kaist.ac.kr"' in response.text


async def test_a_first_korean_organisation_sets_seoul_for_a_default_zone(app):
    owner = await person("owner@kaist.ac.kr")
    await make_organisation(owner, "KAIST")  # a Vietnamese organisation first (VN, default)
    from ecosystem.schemas import OrganisationIn
    from ecosystem.services.organisations import create_organisation

    founder = await person("founder@daejeon.kr")
    await create_organisation(
        founder, OrganisationIn(name="Daejeon Smart City", spheres=["government"], country="KR")
    )
    assert (await User.get(id=founder.id)).timezone == "Asia/Seoul"
    # A second organisation never moves a person's clock, nor a zone chosen by the person.
    await create_organisation(
        owner, OrganisationIn(name="Sejong Startups", spheres=["startup"], country="KR")
    )
    assert (await User.get(id=owner.id)).timezone == "Asia/Ho_Chi_Minh"
    chosen = await person("chosen@daejeon.kr")
    await User.filter(id=chosen.id).update(timezone="Europe/Amsterdam")
    await create_organisation(
        chosen, OrganisationIn(name="Eindhoven Lab", spheres=["research_institute"], country="KR")
    )
    assert (await User.get(id=chosen.id)).timezone == "Europe/Amsterdam"
    vietnamese = await person("lan@eiu.edu.vn")
    await create_organisation(vietnamese, OrganisationIn(name="EIU Lab", spheres=["university"]))
    assert (await User.get(id=vietnamese.id)).timezone == "Asia/Ho_Chi_Minh"


async def test_the_account_form_offers_zones_by_name(browser):
    user = await person("zone@eiu.edu.vn", locale="en")
    await browser.login(user.email)
    page = (await browser.get("/account")).text
    assert '<option value="Asia/Seoul" label="Korean Time (UTC+9)">' in page
    await browser.post("/account", {"full_name": "Zone", "locale": "ko", "timezone": "Asia/Seoul"})
    await user.refresh_from_db()
    assert (user.locale, user.timezone) == ("ko", "Asia/Seoul")
    response = await browser.post(
        "/account", {"full_name": "Zone", "locale": "en", "timezone": "Mars/Olympus"}
    )
    assert response.status_code == 422
    assert 'value="Mars/Olympus"' in response.text
    await user.refresh_from_db()
    assert user.timezone == "Asia/Seoul"


async def test_phase_refusals_name_the_zone_not_its_key(app):
    from ecosystem.errors import Conflict
    from hackathon.models import Team
    from hackathon.services import phases, teams
    from tests.hackathon.conftest import make_contest, make_team

    contest = await make_contest(
        registration_in=timedelta(days=-3),
        submission_in=timedelta(days=-1),
        judging_in=timedelta(days=5),
    )
    made = await make_team(contest, "Daejeon team", site="kr", title="Smart Parking")
    team = await Team.get(id=made.id).prefetch_related("site")
    for locale, name in (("en", "Korean Time"), ("vi", "Giờ Hàn Quốc"), ("ko", "한국 시간")):
        with i18n.use_locale(locale, "Asia/Ho_Chi_Minh"), pytest.raises(Conflict) as refused:
            teams.ensure_entry_open(contest, team)
        assert f"({name})" in refused.value.message, refused.value.message
        assert "Asia/Seoul" not in refused.value.message
    # Judging has begun at the Korean site: scores are accepted, nothing to name.
    phases.ensure_judging_open(contest, team)
