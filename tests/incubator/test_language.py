"""The incubator speaks Vietnamese by default and English on request: its own catalogue
(incubator/locale) covers every message of its code, templates and mails."""

from __future__ import annotations

import re
from html import unescape

from babel.messages.catalog import Catalog

from ecosystem import i18n
from tests.catalogues import ROOT, korean_problems, load_catalogue, vietnamese_problems
from tests.catalogues import extracted_messages as extract
from tests.incubator.conftest import submitted, world

INCUBATOR_LOCALE = ROOT / "incubator" / "locale"
KERNEL_LOCALE = ROOT / "ecosystem" / "locale"
HTML_LANG = re.compile(r'<html lang="([a-z]+)">')


def msgids(catalogue: Catalog) -> set[str]:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue if m.id}


def extracted_messages() -> dict[str, set[str]]:
    return extract("babel-incubator.cfg", ("incubator", "templates"))


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_the_extraction_covers_only_the_incubator_code_templates_and_mails():
    extracted = extracted_messages()
    where = set().union(*extracted.values())
    for expected in (
        "incubator/services/reports.py",
        "incubator/routes/startup.py",
        "templates/incubator/startup.html",
        "templates/incubator/report_form.html",
        "templates/mail/incubator_report_reminder.txt",
        "templates/mail/incubator_report_reminder.subject.txt",
    ):
        assert expected in where, expected
    assert not {f for f in where if f.startswith("templates/labs/")}
    assert not {f for f in where if f.startswith("templates/ecosystem/")}
    assert "templates/_charts.html" not in where and "templates/base.html" not in where
    assert not {f for f in where if f.startswith("templates/mail/") and "/incubator_" not in f}
    assert "%(num)d cohort" in extracted  # a plural
    assert "Agriculture technology" in extracted  # N_() on a label


def test_the_vietnamese_catalogue_is_complete_and_well_formed():
    catalogue = load_catalogue(INCUBATOR_LOCALE, "vi")
    messages = [m for m in catalogue if m.id]
    assert len(messages) > 300
    assert vietnamese_problems(catalogue) == []
    translated = {m.id: m.string for m in messages if not m.pluralizable}
    assert translated["Milestones"] == "Cột mốc"
    assert translated["Mentor"] == "Cố vấn"
    assert translated["Revenue"] == "Doanh thu"


def test_the_english_catalogue_has_the_same_messages():
    vietnamese = load_catalogue(INCUBATOR_LOCALE, "vi")
    english = load_catalogue(INCUBATOR_LOCALE, "en")
    assert english.locale_identifier == "en" and english.num_plurals == 2
    assert msgids(english) == msgids(vietnamese)
    assert all(not any(m.string) if m.pluralizable else not m.string for m in english if m.id)


def test_every_message_is_translated_and_nothing_is_stale():
    extracted = extracted_messages()
    own = msgids(load_catalogue(INCUBATOR_LOCALE, "vi"))
    kernel = msgids(load_catalogue(KERNEL_LOCALE, "vi"))
    missing = {m: extracted[m] for m in extracted if m not in own | kernel}
    assert missing == {}, "Translate these in incubator/locale/vi/LC_MESSAGES/messages.po"
    assert own - set(extracted) == set()
    assert own & kernel == set()  # the kernel's translation would win anyway


def test_the_korean_catalogue_has_the_same_messages_all_translated():
    """Korean is checked as Vietnamese is: every message of the Vietnamese catalogue (itself
    checked against the extraction), translated, well formed, Korean plural header."""
    vietnamese = load_catalogue(INCUBATOR_LOCALE, "vi")
    korean = load_catalogue(INCUBATOR_LOCALE, "ko")
    assert korean.locale_identifier == "ko" and korean.num_plurals == 1
    assert msgids(korean) == msgids(vietnamese), "Add these to incubator/locale/ko/LC_MESSAGES"
    assert korean_problems(korean) == []


async def test_messages_are_translated_at_run_time(app):
    with i18n.use_locale("vi"):
        assert i18n.gettext("Startup directory") == "Danh bạ startup"
        assert i18n.ngettext("%(num)d cohort", "%(num)d cohorts", 2) == "2 khóa"
    with i18n.use_locale("en"):
        assert i18n.gettext("Startup directory") == "Startup directory"


async def test_the_startup_page_in_vietnamese_then_english(new_browser):
    w = await world()
    await submitted(w.enrolment, "2026-09", {"revenue": 5_000_000})
    browser = new_browser()
    await w.founder.__class__.filter(id=w.founder.id).update(locale="vi")
    await browser.login(w.founder.email)
    page = await browser.get(f"/incubator/startups/{w.startup.id}")
    assert HTML_LANG.search(page.text).group(1) == "vi"
    shown = text_of(page.text)
    for phrase in ("Cột mốc", "Báo cáo KPI", "Doanh thu", "Thành phố thông minh", "Bảng số liệu"):
        assert phrase in shown, phrase
    assert "Milestones" not in shown
    await browser.post("/language", {"locale": "en", "next": "/incubator"})
    await w.founder.__class__.filter(id=w.founder.id).update(locale="en")
    english = text_of((await browser.get(f"/incubator/startups/{w.startup.id}")).text)
    assert "Milestones" in english and "Revenue" in english and "Cột mốc" not in english
