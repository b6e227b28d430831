"""Names and descriptions of labs, machines and trainings in several languages (issue 18 §4):
readers see their language or a marked fallback, staff type every language in one form, and
what a client sends wrong is refused whole."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ecosystem import i18n
from labs.models import Equipment, Lab, TrainingSession
from tests.labs.conftest import local_day, user_with_token
from tests.labs.test_staff import EMAILS, make_world, signed_in


@pytest.fixture
def korean(monkeypatch):
    """Korean among the interface's languages (i18n-core adds it to SUPPORTED_LOCALES)."""
    if "ko" not in i18n.SUPPORTED_LOCALES:
        monkeypatch.setattr(i18n, "SUPPORTED_LOCALES", (*i18n.SUPPORTED_LOCALES, "ko"))


async def _translated_world():
    world = await make_world()
    lab = world.lab
    lab.content_locale = "en"
    lab.description = "Open fabrication lab of Becamex IDC."
    lab.translations = {
        "vi": {"name": "FabLab Becamex", "description": "Xưởng chế tạo mở của Becamex IDC."},
        "ko": {"name": "베카멕스 팹랩", "description": "베카멕스 IDC의 개방형 제작 공간입니다."},
    }
    await lab.save()
    machine = world.machine
    machine.translations = {"ko": {"name": "Prusa 3D 프린터"}}
    machine.description = "Máy in FDM cho mẫu thử."  # Vietnamese only (content_locale "vi")
    await machine.save()
    return world


async def test_a_korean_reader_sees_the_korean_names_and_descriptions(new_browser, korean):
    world = await _translated_world()
    reader = new_browser(lang="ko")

    lab_page = await reader.get(f"/labs/{world.lab.slug}")
    assert lab_page.status_code == 200
    assert "<h1>베카멕스 팹랩</h1>" in lab_page.text
    assert "<p>베카멕스 IDC의 개방형 제작 공간입니다.</p>" in lab_page.text
    assert "Prusa 3D 프린터" in lab_page.text  # the machine list
    assert "Open fabrication lab" not in lab_page.text

    listing = await reader.get("/labs")
    assert "베카멕스 팹랩" in listing.text and "Becamex FabLab" not in listing.text

    _user, headers = await user_with_token("reader@example.org")
    api = await reader.http.get("/api/v1/labs", headers={**headers, "Accept-Language": "ko"})
    assert api.status_code == 200, api.text
    item = next(i for i in api.json()["items"] if i["id"] == world.lab.id)
    assert (item["name"], item["content_locale"]) == ("베카멕스 팹랩", "en")
    assert item["translations"]["en"]["name"] == "Becamex FabLab"
    assert item["translations"]["vi"]["description"] == "Xưởng chế tạo mở của Becamex IDC."


async def test_an_english_reader_of_a_vietnamese_only_text_sees_it_marked_as_a_fallback(
    new_browser,
):
    world = await _translated_world()
    reader = new_browser(lang="en")

    machine_page = await reader.get(f"/equipment/{world.machine.id}")

    assert machine_page.status_code == 200
    assert '<p lang="vi">Máy in FDM cho mẫu thử.</p>' in machine_page.text
    assert '<small class="fallback-note">(Tiếng Việt)</small>' in machine_page.text
    # The lab's own English text is not a fallback for an English reader.
    lab_page = await reader.get(f"/labs/{world.lab.slug}")
    assert "<p>Open fabrication lab of Becamex IDC.</p>" in lab_page.text
    assert "fallback-note" not in lab_page.text


LAB_FORM = {
    "kind": "fablab",
    "timezone": "Asia/Ho_Chi_Minh",
    "is_published": "1",
    "content_locale": "ko",
    "name__vi": "FabLab Becamex",
    "name__en": "Becamex FabLab",
    "name__ko": "베카멕스 팹랩",
    "description__vi": "Xưởng chế tạo mở.",
    "description__en": "An open fabrication lab.",
    "description__ko": "개방형 제작 공간입니다.",
}


async def test_the_lab_form_round_trips_three_languages(new_browser):
    world = await make_world()
    staff = await signed_in(new_browser, "staff")
    url = f"/labs/{world.lab.slug}/manage"

    saved = await staff.post(url, LAB_FORM)

    assert saved.status_code == 303, saved.text[:500]
    lab = await Lab.get(id=world.lab.id)
    assert (lab.content_locale, lab.name, lab.description) == (
        "ko",
        "베카멕스 팹랩",
        "개방형 제작 공간입니다.",
    )
    assert lab.translations == {
        "vi": {"name": "FabLab Becamex", "description": "Xưởng chế tạo mở."},
        "en": {"name": "Becamex FabLab", "description": "An open fabrication lab."},
    }
    form = await staff.get(url)
    for key in ("name__vi", "name__en", "name__ko"):
        assert f'name="{key}" lang="{key[-2:]}" value="{LAB_FORM[key]}"' in form.text
    assert '<option value="ko" selected>' in form.text
    assert "개방형 제작 공간입니다.</textarea>" in form.text


async def test_the_machine_and_training_forms_round_trip_three_languages(new_browser):
    world = await make_world()
    staff = await signed_in(new_browser, "staff")
    slug = world.lab.slug
    machine_form = {
        "category": "laser_cutter",
        "status": "available",
        "slot_step_minutes": "30",
        "min_minutes": "30",
        "max_minutes": "240",
        "notice_minutes": "60",
        "horizon_days": "30",
        "cancellation_deadline_hours": "24",
        "content_locale": "vi",
        "name__vi": "Máy cắt laser Trotec",
        "name__en": "Trotec laser cutter",
        "name__ko": "Trotec 레이저 커터",
        "description__ko": "금속은 사용할 수 없습니다.",
    }
    created = await staff.post(f"/labs/{slug}/equipment/new", machine_form)
    assert created.status_code == 303, created.text[:500]
    machine = await Equipment.get(lab_id=world.lab.id, name="Máy cắt laser Trotec")
    assert (machine.content_locale, machine.description) == ("vi", "")
    assert machine.translations == {
        "en": {"name": "Trotec laser cutter"},
        "ko": {"name": "Trotec 레이저 커터", "description": "금속은 사용할 수 없습니다."},
    }
    edit = await staff.get(f"/labs/{slug}/equipment/{machine.id}/edit")
    assert 'name="name__ko" lang="ko" value="Trotec 레이저 커터"' in edit.text

    day = local_day(5)
    planned = await staff.post(
        f"/labs/{slug}/trainings",
        {
            "category": "laser_cutter",
            "starts_at": f"{day.isoformat()}T09:00",
            "ends_at": f"{day.isoformat()}T11:00",
            "capacity": "8",
            "content_locale": "en",
            "title__en": "Laser safety",
            "title__vi": "An toàn laser",
            "title__ko": "레이저 안전 교육",
        },
    )
    assert planned.status_code == 303, planned.text[:500]
    session = await TrainingSession.get(lab_id=world.lab.id)
    assert (session.content_locale, session.title) == ("en", "Laser safety")
    assert session.translations == {
        "vi": {"title": "An toàn laser"},
        "ko": {"title": "레이저 안전 교육"},
    }
    vietnamese = new_browser()  # the default language
    assert "An toàn laser" in (await vietnamese.get("/trainings")).text


@pytest.mark.parametrize(
    ("changes", "shown"),
    [
        ({"name__fr": "FabLab Becamex (fr)"}, "Choose one of the offered values."),
        ({"content_locale": "xx"}, "Choose one of the offered values."),
        ({"name__ko": "가" * 201}, "At most 200 characters."),
        ({"description__en": "x" * 5001}, "At most 5000 characters."),
        ({"name__ko": "   "}, "This field is required."),  # the main language's name
    ],
)
async def test_a_hostile_lab_form_is_refused_whole_and_keeps_what_was_typed(
    new_browser, changes, shown
):
    world = await make_world()
    staff = await signed_in(new_browser, "staff")

    refused = await staff.post(f"/labs/{world.lab.slug}/manage", {**LAB_FORM, **changes})

    assert refused.status_code == 422
    assert shown in refused.text
    assert 'value="FabLab Becamex"' in refused.text  # the Vietnamese tab as typed
    lab = await Lab.get(id=world.lab.id)
    assert (lab.name, lab.content_locale, lab.translations) == ("Becamex FabLab", "vi", {})


async def test_a_ten_thousand_character_name_is_refused(new_browser):
    world = await make_world()
    staff = await signed_in(new_browser, "staff")

    refused = await staff.post(
        f"/labs/{world.lab.slug}/manage", {**LAB_FORM, "name__ko": "가" * 10_000}
    )

    assert refused.status_code in (400, 413, 422)  # the kernel's input limit, or the form's
    assert (await Lab.get(id=world.lab.id)).translations == {}


async def test_a_hostile_machine_or_training_form_writes_nothing(new_browser):
    world = await make_world()
    staff = await signed_in(new_browser, "staff")
    slug = world.lab.slug
    long_name = await staff.post(
        f"/labs/{slug}/equipment/{world.machine.id}/edit",
        {"category": "3d_printer", "status": "available", "name__vi": "x" * 10_000},
    )
    assert long_name.status_code == 422
    assert (await Equipment.get(id=world.machine.id)).name == "Prusa MK4"
    day = local_day(5)
    long_title = await staff.post(
        f"/labs/{slug}/trainings",
        {
            "category": "laser_cutter",
            "starts_at": f"{day.isoformat()}T09:00",
            "ends_at": f"{(day + timedelta(days=0)).isoformat()}T11:00",
            "capacity": "8",
            "title__vi": "An toàn laser",
            "title__de": "Lasersicherheit",
        },
    )
    assert long_title.status_code == 422
    assert 'value="An toàn laser"' in long_title.text
    assert not await TrainingSession.exists(lab_id=world.lab.id)


@pytest.mark.parametrize(
    "role",
    ["anonymous", "plain", "member", "org_admin", "other_staff", "unverified_staff"],
)
async def test_only_the_labs_verified_staff_edit_its_texts(new_browser, role):
    world = await make_world()
    browser = await signed_in(new_browser, role)
    slug = world.lab.slug

    attempts = [
        await browser.post(f"/labs/{slug}/manage", LAB_FORM),
        await browser.post(
            f"/labs/{slug}/equipment/{world.machine.id}/edit",
            {"category": "3d_printer", "status": "available", "name__ko": "프린터"},
        ),
    ]

    for response in attempts:
        assert response.status_code == (303 if role == "anonymous" else 403)
    assert (await Lab.get(id=world.lab.id)).translations == {}
    assert (await Equipment.get(id=world.machine.id)).translations == {}
    assert role in EMAILS or role == "anonymous"
