"""Programmes and calls in several languages (ecosystem.content) over HTTP: readers see their
language or a marked fallback, the staff forms and the API round-trip three languages, hostile
input is refused with nothing saved, and only the programme's managers may edit the texts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ecosystem import i18n
from ecosystem.models import AuditEvent, Role
from incubator.models import ApplicationCall, Programme
from tests.conftest import person
from tests.incubator.conftest import bearer, member, world

pytestmark = pytest.mark.usefixtures("app")

KO_NAME = "BBI 인큐베이션 프로그램"
KO_DESCRIPTION = "산업단지 멘토와 함께하는 6개월 과정입니다."
VI_NAME = "Chương trình ươm tạo BBI"
VI_DESCRIPTION = "Chương trình sáu tháng cùng cố vấn từ các khu công nghiệp."


@pytest.fixture
def korean(monkeypatch):
    """Korean readers (i18n-core adds "ko" to the supported locales; until then, here)."""
    if "ko" not in i18n.SUPPORTED_LOCALES:
        monkeypatch.setattr(i18n, "SUPPORTED_LOCALES", (*i18n.SUPPORTED_LOCALES, "ko"))
        monkeypatch.setitem(i18n.LOCALE_NAMES, "ko", "한국어")


async def texts_world():
    w = await world()
    await Programme.filter(id=w.programme.id).update(
        name=VI_NAME,
        description=VI_DESCRIPTION,
        content_locale="vi",
        translations={"ko": {"name": KO_NAME, "description": KO_DESCRIPTION}},
    )
    call = await ApplicationCall.create(
        programme=w.programme,
        title="Tuyển chọn khóa 2027",
        description="Nộp hồ sơ kèm bài thuyết trình ngắn.",
        content_locale="vi",
        translations={"ko": {"title": "2027 기수 모집"}},
        deadline=datetime(2099, 1, 31, tzinfo=UTC),
    )
    return w, call


async def signed_in(new_browser, user, lang="en"):
    browser = new_browser(lang=lang)
    await browser.login(user.email)
    return browser


async def test_a_korean_reader_sees_korean_and_an_english_reader_a_marked_fallback(
    new_browser, client, korean
):
    w, call = await texts_world()
    ko = new_browser(lang="ko")
    page = await ko.get(f"/incubator/programmes/{w.programme.id}")
    assert page.status_code == 200
    assert f"<h1><span>{KO_NAME}</span>" in page.text.replace("\n", "")
    assert KO_DESCRIPTION in page.text and VI_DESCRIPTION not in page.text
    assert "2027 기수 모집" in page.text  # the call's Korean title in the list
    call_page = await ko.get(f"/incubator/calls/{call.id}")
    assert "2027 기수 모집" in call_page.text
    # The call has no Korean description: the Vietnamese one, marked with its language.
    assert '<p lang="vi">Nộp hồ sơ kèm bài thuyết trình ngắn.</p>' in call_page.text
    assert "(Tiếng Việt)" in call_page.text
    home = await ko.get("/incubator")
    assert KO_NAME in home.text and VI_NAME not in home.text

    en = new_browser(lang="en")
    page = await en.get(f"/incubator/programmes/{w.programme.id}")
    assert page.status_code == 200
    assert f'<span lang="vi">{VI_NAME}</span>' in page.text
    assert f'<p lang="vi">{VI_DESCRIPTION}</p>' in page.text
    assert '<small class="fallback-note">(Tiếng Việt)</small>' in page.text
    assert KO_NAME not in page.text

    vi = new_browser(lang="vi")
    page = await vi.get(f"/incubator/programmes/{w.programme.id}")
    assert f"<span>{VI_NAME}</span>" in page.text and "fallback-note" not in page.text

    api = await client.get("/api/v1/programmes", headers={"Accept-Language": "ko"})
    item = api.json()["items"][0]
    assert item["name"] == KO_NAME and item["description"] == KO_DESCRIPTION
    assert item["content_locale"] == "vi"
    assert item["translations"] == {
        "vi": {"name": VI_NAME, "description": VI_DESCRIPTION},
        "ko": {"name": KO_NAME, "description": KO_DESCRIPTION},
    }


async def test_the_staff_forms_round_trip_three_languages(new_browser):
    w, call = await texts_world()
    manager = await signed_in(new_browser, w.manager)
    url = f"/incubator/programmes/{w.programme.id}/texts"
    form = await manager.get(url)
    assert form.status_code == 200
    assert f'name="name__ko" lang="ko" value="{KO_NAME}"' in form.text
    assert f'name="name__vi" lang="vi" value="{VI_NAME}"' in form.text
    saved = await manager.post(
        url,
        {
            "content_locale": "en",
            "name__en": "BBI Incubation Programme",
            "description__en": "Six months with mentors from the industrial parks.",
            "name__vi": "Chương trình ươm tạo BBI 2027",
            "name__ko": "BBI 인큐베이션 2027",
            "description__ko": KO_DESCRIPTION,
        },
    )
    assert saved.status_code == 303, saved.text[:2000]
    programme = await Programme.get(id=w.programme.id)
    assert programme.content_locale == "en"
    assert programme.name == "BBI Incubation Programme"
    assert programme.description == "Six months with mentors from the industrial parks."
    assert programme.slug == "bbi-programme"  # the address stays
    assert programme.translations == {
        "vi": {"name": "Chương trình ươm tạo BBI 2027"},
        "ko": {"name": "BBI 인큐베이션 2027", "description": KO_DESCRIPTION},
    }
    again = await manager.get(url)
    assert 'name="name__vi" lang="vi" value="Chương trình ươm tạo BBI 2027"' in again.text
    assert '<option value="en" selected>' in again.text
    assert await AuditEvent.filter(action="incubator.programme_texts").count() == 1

    # A call's texts: its own form, then a new call in three languages from the manage page.
    call_url = f"/incubator/calls/{call.id}/texts"
    assert 'value="2027 기수 모집"' in (await manager.get(call_url)).text
    saved = await manager.post(
        call_url,
        {"content_locale": "vi", "title__vi": "Tuyển chọn 2027", "title__en": "Intake 2027"},
    )
    assert saved.status_code == 303
    call = await ApplicationCall.get(id=call.id)
    assert (call.title, call.description, call.translations) == (
        "Tuyển chọn 2027",
        "",
        {"en": {"title": "Intake 2027"}},
    )
    opened = await manager.post(
        f"/incubator/programmes/{w.programme.id}/calls",
        {
            "content_locale": "ko",
            "title__ko": "2028 기수 모집",
            "title__en": "Intake 2028",
            "title__vi": "Tuyển chọn 2028",
            "description__ko": "피치덱과 함께 지원하세요.",
            "deadline": "2099-01-31",
            "criteria": "Team | 3",
        },
    )
    assert opened.status_code == 303, opened.text[:2000]
    new_call = await ApplicationCall.get(title="2028 기수 모집")
    assert new_call.content_locale == "ko"
    assert new_call.translations == {
        "vi": {"title": "Tuyển chọn 2028"},
        "en": {"title": "Intake 2028"},
    }


async def test_a_new_programme_in_three_languages(new_browser):
    w = await world()
    await member(w.stranger, w.host, Role.ADMIN)
    admin = await signed_in(new_browser, w.stranger)
    form = await admin.get("/incubator/programmes/new")
    assert 'name="name__ko"' in form.text and 'name="content_locale"' in form.text
    created = await admin.post(
        "/incubator/programmes/new",
        {
            "organisation_id": str(w.host.id),
            "content_locale": "vi",
            "name__vi": "Chương trình tăng tốc 2027",
            "name__en": "Accelerator 2027",
            "name__ko": "2027 액셀러레이터",
        },
    )
    assert created.status_code == 303
    made = await Programme.get(name="Chương trình tăng tốc 2027")
    assert made.translations == {
        "en": {"name": "Accelerator 2027"},
        "ko": {"name": "2027 액셀러레이터"},
    }
    refused = await admin.post(
        "/incubator/programmes/new",
        {
            "organisation_id": str(w.host.id),
            "content_locale": "vi",
            "name__en": "Only English",
            "name__ko": "영어만",
        },
    )
    assert refused.status_code == 422
    assert 'value="영어만"' in refused.text  # the form keeps what was typed
    assert await Programme.filter(name="Only English").count() == 0


@pytest.mark.parametrize(
    "data",
    [
        {"content_locale": "fr", "name__fr": "Programme"},
        {"content_locale": "vi", "name__vi": "Tên mới", "name__fr": "Nouveau nom"},
        {"content_locale": "vi", "name__vi": "x" * 10_000},
        {"content_locale": "vi", "name__vi": "Tên mới", "description__ko": "설" * 5001},
        {"content_locale": "vi", "name__vi": "Tên mới", "description__en": "x" * 5001},
        {"content_locale": "vi", "name__vi": "", "name__ko": "새 이름"},
    ],
    ids=[
        "unknown-main",
        "unknown-key",
        "long-name",
        "long-korean-description",
        "long-description",
        "no-main-name",
    ],
)
async def test_hostile_form_input_is_refused_and_nothing_is_saved(new_browser, data):
    w, _call = await texts_world()
    manager = await signed_in(new_browser, w.manager)
    response = await manager.post(f"/incubator/programmes/{w.programme.id}/texts", data)
    # 422 with the wrong input named; a body beyond the server's form limits is a plain 400.
    assert response.status_code in (400, 422)
    if response.status_code == 422:
        assert 'class="error"' in response.text
    programme = await Programme.get(id=w.programme.id)
    assert (programme.name, programme.content_locale) == (VI_NAME, "vi")
    assert programme.translations == {"ko": {"name": KO_NAME, "description": KO_DESCRIPTION}}


async def test_the_api_sets_texts_and_refuses_wrong_shapes(client):
    w, call = await texts_world()
    headers = await bearer(w.manager)
    url = f"/api/v1/programmes/{w.programme.id}/texts"
    body = {
        "content_locale": "vi",
        "name": "Ươm tạo BBI 2027",
        "translations": {"ko": {"name": "BBI 2027"}, "en": {"name": "BBI 2027 EN"}},
    }
    done = await client.put(url, json=body, headers=headers | {"Accept-Language": "en"})
    assert done.status_code == 200, done.text
    assert done.json()["name"] == "BBI 2027 EN"
    assert done.json()["translations"]["ko"] == {"name": "BBI 2027"}
    for wrong in (
        {**body, "translations": {"ko": "BBI"}},
        {**body, "translations": ["ko", "BBI"]},
        {**body, "translations": {"fr": {"name": "BBI"}}},
        {**body, "translations": {"ko": {"title": "BBI"}}},
        {**body, "content_locale": "jp"},
        {**body, "name": "x" * 10_000},
        {**body, "translations": {"ko": {"name": "x" * 10_000}}},
        {"content_locale": "vi"},
    ):
        refused = await client.put(url, json=wrong, headers=headers)
        assert refused.status_code == 422, wrong
    programme = await Programme.get(id=w.programme.id)
    assert programme.name == "Ươm tạo BBI 2027"
    assert programme.translations == {"ko": {"name": "BBI 2027"}, "en": {"name": "BBI 2027 EN"}}

    call_url = f"/api/v1/calls/{call.id}/texts"
    done = await client.put(
        call_url,
        json={
            "content_locale": "en",
            "title": "Intake 2027",
            "translations": {"ko": {"title": "2027 모집"}},
        },
        headers=headers,
    )
    assert done.status_code == 200
    assert (await ApplicationCall.get(id=call.id)).translations == {"ko": {"title": "2027 모집"}}
    other = await client.put(call_url, json={"title": "Hack"}, headers=await bearer(w.mentor))
    assert other.status_code == 403
    assert (await ApplicationCall.get(id=call.id)).title == "Intake 2027"


async def test_only_the_programmes_managers_edit_the_texts(new_browser, client):
    w, call = await texts_world()
    unverified = await person("newbie@bbi.vn", verified=False)
    from incubator.models import ProgrammeRole, ProgrammeRoleKind

    await ProgrammeRole.create(
        programme=w.programme, user=unverified, role=ProgrammeRoleKind.MANAGER
    )
    host_admin = await person("admin@bbi.vn")
    await member(host_admin, w.host, Role.ADMIN)
    urls = [f"/incubator/programmes/{w.programme.id}/texts", f"/incubator/calls/{call.id}/texts"]
    anonymous = new_browser(lang="en")
    for url in urls:
        assert (await anonymous.get(url)).status_code in (302, 303, 401)
    for user, expected in (
        (w.manager, 200),
        (w.mentor, 403),
        (w.founder, 403),
        (w.stranger, 403),
        (host_admin, 200),  # an admin of the host organisation manages its programmes
        (unverified, 403),
    ):
        browser = await signed_in(new_browser, user)
        for url in urls:
            assert (await browser.get(url)).status_code == expected, (user.email, url)
            posted = await browser.post(
                url, {"content_locale": "vi", "name__vi": "Hack", "title__vi": "Hack"}
            )
            assert posted.status_code == (303 if expected == 200 else 403), (user.email, url)
        if expected == 200:
            await Programme.filter(id=w.programme.id).update(name=VI_NAME)
            await ApplicationCall.filter(id=call.id).update(title="Tuyển chọn khóa 2027")
    assert (await Programme.get(id=w.programme.id)).name == VI_NAME
    assert (await ApplicationCall.get(id=call.id)).title == "Tuyển chọn khóa 2027"
    refused = await client.put(
        f"/api/v1/programmes/{w.programme.id}/texts",
        json={"name": "Hack"},
        headers=await bearer(unverified),
    )
    assert refused.status_code == 403
