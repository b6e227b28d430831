"""Content in several languages (ecosystem/content.py): pure functions, no database."""

from __future__ import annotations

from types import SimpleNamespace

from ecosystem import content, i18n
from ecosystem.content import Localized, localized


def lab(**fields) -> SimpleNamespace:
    """Something with translatable content, shaped as `content_fields()` makes it."""
    return SimpleNamespace(
        **{"content_locale": "vi", "translations": {}, "name": "", "description": "", **fields}
    )


def test_each_reader_gets_their_own_language_when_it_exists():
    room = lab(
        name="Phòng thí nghiệm chế tạo",
        translations={"en": {"name": "Fabrication lab"}, "ko": {"name": "제작 실험실"}},
    )
    assert localized(room, "name", "vi") == Localized("Phòng thí nghiệm chế tạo", "vi", False)
    assert localized(room, "name", "en") == Localized("Fabrication lab", "en", False)
    assert localized(room, "name", "ko") == Localized("제작 실험실", "ko", False)
    # Without a locale: the request's.
    with i18n.use_locale("ko"):
        assert content.tr(room, "name") == "제작 실험실"
        assert str(localized(room, "name")) == "제작 실험실"


def test_fallback_order_and_marker():
    only_vietnamese = lab(name="Xưởng cơ khí")
    shown = localized(only_vietnamese, "name", "en")
    assert shown == Localized("Xưởng cơ khí", "vi", True)
    assert localized(only_vietnamese, "name", "ko").is_fallback

    # Korean readers get English before Vietnamese; Vietnamese readers English before Korean.
    both = lab(name="Xưởng", translations={"en": {"name": "Workshop"}, "ko": {"name": "작업장"}})
    both.translations.pop("ko")
    assert localized(both, "name", "ko") == Localized("Workshop", "en", True)
    korean_first = lab(
        content_locale="ko", name="작업장", translations={"en": {"name": "Workshop"}}
    )
    assert localized(korean_first, "name", "vi") == Localized("Workshop", "en", True)
    assert localized(korean_first, "name", "ko") == Localized("작업장", "ko", False)
    english_only = lab(content_locale="en", name="Workshop")
    assert localized(english_only, "name", "vi") == Localized("Workshop", "en", True)


def test_blank_and_odd_translations_are_skipped():
    room = lab(
        name="Xưởng",
        description="   ",
        translations={"en": {"name": "  ", "description": "Tools"}, "ko": "not a mapping", "x": 1},
    )
    assert localized(room, "name", "en") == Localized("Xưởng", "vi", True)
    assert localized(room, "description", "en") == Localized("Tools", "en", False)
    assert localized(room, "description", "vi") == Localized("Tools", "en", True)
    # Nothing anywhere: the (empty) own text, not a fallback, falsy.
    empty = lab()
    assert not localized(empty, "description", "ko")
    assert localized(empty, "description", "ko").is_fallback is False
    # An unknown reader locale falls back through every content language.
    assert localized(room, "name", "fr") == Localized("Xưởng", "vi", True)
    # Objects without the content fields (plain rows) read their own column.
    assert localized(SimpleNamespace(name="Plain"), "name", "ko").text == "Plain"


def test_texts_from_form_splits_main_language_and_translations():
    form = {
        "name__vi": " Xưởng chế tạo ",
        "name__en": "Fabrication workshop",
        "name__ko": "",
        "description__ko": "제작 작업장입니다",
        "description": "Mô tả cũ",  # the plain input of older forms, for the main language
    }
    own, translations, errors = content.texts_from_form(form, ("name", "description"), "vi")
    assert own == {"name": "Xưởng chế tạo", "description": "Mô tả cũ"}
    assert translations == {
        "en": {"name": "Fabrication workshop"},
        "ko": {"description": "제작 작업장입니다"},
    }
    assert errors == {}


def test_texts_from_form_reports_too_long_texts_by_input_name():
    form = {"name__vi": "x" * 81, "name__ko": "가" * 81, "name__en": "ok"}
    with i18n.use_locale("en"):
        own, translations, errors = content.texts_from_form(
            form, ("name",), "vi", max_lengths={"name": 80}
        )
    assert own == {} and translations == {"en": {"name": "ok"}}
    assert errors == {"name__vi": "At most 80 characters.", "name__ko": "At most 80 characters."}
    assert content.errors_in(errors, "ko") and content.errors_in(errors, "vi")
    assert not content.errors_in(errors, "en")


def test_form_values_fill_the_tabs_from_a_stored_object():
    room = lab(
        content_locale="en",
        name="Workshop",
        translations={"ko": {"name": "작업장", "description": "설명"}},
    )
    assert content.form_values(room, ("name", "description")) == {
        "content_locale": "en",
        "name__en": "Workshop",
        "name__ko": "작업장",
        "description__ko": "설명",
    }
    # A round trip through the form keeps every language.
    own, translations, _errors = content.texts_from_form(
        content.form_values(room, ("name", "description")), ("name", "description"), "en"
    )
    assert own == {"name": "Workshop"}
    assert translations == {"ko": {"name": "작업장", "description": "설명"}}
    assert content.form_values(SimpleNamespace(), ("name",)) == {"content_locale": "vi"}


def test_content_locales_are_the_interface_languages():
    assert set(content.CONTENT_LOCALES) == set(i18n.SUPPORTED_LOCALES)
    assert content.normalise_content_locale("ko-KR") == "ko"
    assert content.normalise_content_locale("fr") == "vi"
    assert content.normalise_content_locale(None) == "vi"
    assert content.form_key("name", "ko") == "name__ko"
