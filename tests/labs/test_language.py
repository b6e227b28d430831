"""The labs package speaks Vietnamese by default and English on request: its own catalogue
(labs/locale) covers every message of its code, templates and mails."""

from __future__ import annotations

import re
from html import unescape

from babel.messages.catalog import Catalog

from ecosystem import i18n
from tests.catalogues import (
    ROOT,
    korean_problems,
    load_catalogue,
    placeholders,
    vietnamese_problems,
)
from tests.catalogues import extracted_messages as extract
from tests.labs.conftest import make_equipment, make_lab

LABS_LOCALE = ROOT / "labs" / "locale"
KERNEL_LOCALE = ROOT / "ecosystem" / "locale"
HTML_LANG = re.compile(r'<html lang="([a-z]+)">')


def msgids(catalogue: Catalog) -> set[str]:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue if m.id}


def extracted_messages() -> dict[str, set[str]]:
    """Every msgid of the labs code, templates and mails (as babel-labs.cfg says): files."""
    return extract("babel-labs.cfg", ("labs", "templates"))


def text_of(html: str) -> str:
    """What a person reads: the page without tags, entities decoded, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


# --- the catalogues -----------------------------------------------------------------------------


def test_the_extraction_covers_only_the_labs_code_templates_and_mails():
    extracted = extracted_messages()
    where = set().union(*extracted.values())
    for expected in (
        "labs/routes/public.py",
        "labs/schemas.py",
        "labs/services/bookings.py",
        "labs/routes/public.py",
        "templates/labs/public/labs.html",
        "templates/labs/staff/agenda.html",
        "templates/labs/training/upcoming.html",
        "templates/mail/labs_booking_reminder.txt",
        "templates/mail/labs_booking_reminder.subject.txt",
    ):
        assert expected in where, expected
    # The kernel's own templates and mails belong to the kernel's catalogue.
    assert not {f for f in where if f.startswith("templates/ecosystem/")}
    assert "templates/base.html" not in where
    assert not {f for f in where if f.startswith("templates/mail/") and "/labs_" not in f}
    assert "%(num)d machine is free then." in extracted  # a plural
    assert "Laser cutter" in extracted  # N_() on a label


def test_the_vietnamese_catalogue_of_labs_is_complete_and_well_formed():
    catalogue = load_catalogue(LABS_LOCALE, "vi")
    messages = [m for m in catalogue if m.id]
    assert len(messages) > 300
    assert vietnamese_problems(catalogue) == []
    # The lab vocabulary is used throughout.
    translated = {m.id: m.string for m in messages if not m.pluralizable}
    assert translated["Laser cutter"] == "Máy cắt laser"
    assert translated["3D printer"] == "Máy in 3D"
    assert translated["Opening hours"] == "Giờ mở cửa"
    assert translated["Living Lab"] == "Living Lab"


def test_the_english_catalogue_of_labs_has_the_same_messages():
    vietnamese = load_catalogue(LABS_LOCALE, "vi")
    english = load_catalogue(LABS_LOCALE, "en")
    assert english.locale_identifier == "en" and english.num_plurals == 2
    assert not english.fuzzy
    assert msgids(english) == msgids(vietnamese)
    # Empty strings: the English msgid is shown as it is.
    assert all(not any(m.string) if m.pluralizable else not m.string for m in english if m.id)


def test_every_message_of_labs_is_translated_and_nothing_is_stale():
    extracted = extracted_messages()
    labs_ids = msgids(load_catalogue(LABS_LOCALE, "vi"))
    kernel_ids = msgids(load_catalogue(KERNEL_LOCALE, "vi"))
    missing = {m: extracted[m] for m in extracted if m not in labs_ids | kernel_ids}
    assert missing == {}, "Translate these in labs/locale/vi/LC_MESSAGES/messages.po"
    stale = labs_ids - set(extracted)
    assert stale == set()


def test_the_korean_catalogue_of_labs_has_the_same_messages_all_translated():
    """Korean is checked as Vietnamese is: every message of the Vietnamese catalogue (itself
    checked against the extraction), translated, well formed, Korean plural header."""
    vietnamese = load_catalogue(LABS_LOCALE, "vi")
    korean = load_catalogue(LABS_LOCALE, "ko")
    assert korean.locale_identifier == "ko" and korean.num_plurals == 1
    assert msgids(korean) == msgids(vietnamese), "Add these to labs/locale/ko/LC_MESSAGES"
    assert korean_problems(korean) == []


async def test_labs_messages_are_translated_at_run_time(app):
    """The app merges the labs catalogue (labs/package.py's locale_dir) with the kernel's."""
    with i18n.use_locale("vi"):
        assert i18n.gettext("The lab network") == "Mạng lưới phòng lab"
        assert i18n.gettext("Labs") == "Phòng thí nghiệm"  # the kernel's
        assert i18n.ngettext(
            "%(num)d machine is free then.", "%(num)d machines are free then.", 3
        ) == ("3 thiết bị đang trống vào thời gian đó.")
    with i18n.use_locale("en"):
        assert i18n.gettext("The lab network") == "The lab network"


# --- the pages ----------------------------------------------------------------------------------


async def test_the_labs_pages_read_in_vietnamese_by_default_and_english_after_switching(browser):
    lab = await make_lab(name="Becamex FabLab")
    await make_equipment(lab, name="Trotec Speedy 300")

    vietnamese = ["Mạng lưới phòng lab", "Tìm thiết bị còn trống", "Tất cả phòng lab", "FabLab"]
    english = ["The lab network", "Find a free machine", "All labs"]
    response = await browser.get("/labs")
    assert response.status_code == 200
    assert HTML_LANG.search(response.text).group(1) == "vi"
    shown = text_of(response.text)
    assert "Becamex FabLab" in shown and "Đơn vị chủ quản: Becamex IDC" in shown
    for phrase in vietnamese:
        assert phrase in shown, phrase
    for phrase in english:
        assert phrase not in shown, phrase

    page = text_of((await browser.get(f"/labs/{lab.slug}")).text)
    assert "Giờ mở cửa" in page and "Thiết bị" in page and "Trotec Speedy 300" in page
    assert "Opening hours" not in page

    response = await browser.post("/language", {"locale": "en", "next": "/labs"})
    assert response.status_code == 303
    response = await browser.get("/labs")
    assert HTML_LANG.search(response.text).group(1) == "en"
    shown = text_of(response.text)
    assert "Hosted by Becamex IDC" in shown
    for phrase in english:
        assert phrase in shown, phrase
    for phrase in vietnamese[:3]:
        assert phrase not in shown, phrase
    page = text_of((await browser.get(f"/labs/{lab.slug}")).text)
    assert "Opening hours" in page and "Giờ mở cửa" not in page


def test_the_korean_catalogue_of_labs_is_complete_and_well_formed():
    korean = load_catalogue(LABS_LOCALE, "ko")
    assert korean.locale_identifier == "ko" and korean.num_plurals == 1
    assert not korean.fuzzy and not korean.obsolete
    assert msgids(korean) == msgids(load_catalogue(LABS_LOCALE, "vi"))
    problems = []
    for message in (m for m in korean if m.id):
        strings = message.string if message.pluralizable else (message.string,)
        english = message.id if message.pluralizable else (message.id,)
        if len(strings) != 1 or not all(s and s.strip() for s in strings):
            problems.append(("untranslated", message.id))
            continue
        if placeholders(strings[0]) != placeholders(english[0]):
            problems.append(("placeholders", message.id))
        if strings[0] != strings[0].strip():
            problems.append(("spaces", message.id))
    assert problems == []
    # Written in Korean: Hangul in nearly every message (a few are only placeholders).
    hangul = [m for m in korean if m.id and re.search("[\uac00-\ud7a3]", str(m.string))]
    assert len(hangul) > 0.98 * len([m for m in korean if m.id])
    translated = {m.id: m.string for m in korean if m.id and not m.pluralizable}
    assert translated["Laser cutter"] == "레이저 커터"
    assert translated["Book"] == "예약하기"
    assert translated["Machines"] == "장비"
