"""The contests speak Vietnamese by default and English on request: their own catalogue
(hackathon/locale) covers every message of their code, templates and mails."""

from __future__ import annotations

import re
from html import unescape

from babel.messages.catalog import Catalog

from ecosystem import i18n
from tests.catalogues import ROOT, korean_problems, load_catalogue, vietnamese_problems
from tests.catalogues import extracted_messages as extract
from tests.hackathon.conftest import make_contest

HACKATHON_LOCALE = ROOT / "hackathon" / "locale"
KERNEL_LOCALE = ROOT / "ecosystem" / "locale"
HTML_LANG = re.compile(r'<html lang="([a-z]+)">')


def msgids(catalogue: Catalog) -> set[str]:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue if m.id}


def extracted_messages() -> dict[str, set[str]]:
    return extract("babel-hackathon.cfg", ("hackathon", "templates"))


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_the_extraction_covers_only_the_contest_code_templates_and_mails():
    extracted = extracted_messages()
    where = set().union(*extracted.values())
    for expected in (
        "hackathon/services/judging.py",
        "hackathon/routes/public.py",
        "hackathon/services/certificates.py",
        "templates/hackathon/judge_sheet.html",
        "templates/hackathon/manage.html",
        "templates/mail/hackathon_results.txt",
        "templates/mail/hackathon_team_invitation.subject.txt",
    ):
        assert expected in where, expected
    assert not {f for f in where if f.startswith("templates/ecosystem/")}
    assert not {f for f in where if f.startswith("templates/labs/")}
    assert not {f for f in where if f.startswith("templates/mail/") and "/hackathon_" not in f}
    assert "%(num)d vote counted." in extracted  # a plural
    assert "Idea contest" in extracted  # N_() on a label


def test_the_vietnamese_catalogue_of_contests_is_complete_and_well_formed():
    catalogue = load_catalogue(HACKATHON_LOCALE, "vi")
    messages = [m for m in catalogue if m.id]
    assert len(messages) > 200
    assert vietnamese_problems(catalogue) == []
    translated = {m.id: m.string for m in messages if not m.pluralizable}
    assert translated["Scoring sheet"] == "Phiếu chấm"
    assert translated["Judge"] == "Giám khảo"
    assert translated["Plain mean"] == "Trung bình thô"


def test_the_english_catalogue_of_contests_has_the_same_messages():
    vietnamese = load_catalogue(HACKATHON_LOCALE, "vi")
    english = load_catalogue(HACKATHON_LOCALE, "en")
    assert english.locale_identifier == "en" and english.num_plurals == 2
    assert not english.fuzzy
    assert msgids(english) == msgids(vietnamese)
    assert all(not any(m.string) if m.pluralizable else not m.string for m in english if m.id)


def test_every_message_of_contests_is_translated_and_nothing_is_stale():
    extracted = extracted_messages()
    own = msgids(load_catalogue(HACKATHON_LOCALE, "vi"))
    kernel = msgids(load_catalogue(KERNEL_LOCALE, "vi"))
    missing = {m: extracted[m] for m in extracted if m not in own | kernel}
    assert missing == {}, "Translate these in hackathon/locale/vi/LC_MESSAGES/messages.po"
    assert own - set(extracted) == set()


def test_the_korean_catalogue_of_contests_has_the_same_messages_all_translated():
    """Korean is checked as Vietnamese is: every message of the Vietnamese catalogue (itself
    checked against the extraction), translated, well formed, Korean plural header."""
    vietnamese = load_catalogue(HACKATHON_LOCALE, "vi")
    korean = load_catalogue(HACKATHON_LOCALE, "ko")
    assert korean.locale_identifier == "ko" and korean.num_plurals == 1
    assert msgids(korean) == msgids(vietnamese), "Add these to hackathon/locale/ko/LC_MESSAGES"
    assert korean_problems(korean) == []


async def test_contest_messages_are_translated_at_run_time(app):
    with i18n.use_locale("vi"):
        assert i18n.gettext("My judging queue") == "Danh sách bài tôi chấm"
        assert i18n.ngettext("%(num)d vote counted.", "%(num)d votes counted.", 3) == (
            "Đã tính 3 phiếu bình chọn."
        )
    with i18n.use_locale("en"):
        assert i18n.gettext("My judging queue") == "My judging queue"


async def test_the_contest_pages_read_in_vietnamese_by_default_and_english_after_switching(
    browser,
):
    contest = await make_contest()
    response = await browser.get(f"/contests/{contest.slug}")
    assert HTML_LANG.search(response.text).group(1) == "vi"
    shown = text_of(response.text)
    assert "Điểm thi và hạn chót" in shown and "Bảng thi và giải thưởng" in shown
    assert "Sites and deadlines" not in shown
    await browser.post("/language", {"locale": "en", "next": "/contests"})
    shown = text_of((await browser.get(f"/contests/{contest.slug}")).text)
    assert "Sites and deadlines" in shown and "Điểm thi và hạn chót" not in shown
