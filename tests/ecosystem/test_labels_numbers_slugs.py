"""One label lookup that fails loudly, numbers in the viewer's locale, readable slugs.

- A stored value no label table knows raises `MissingLabel` in tests (the conftest turns
  `labels.STRICT` on) and, in production, is logged and humanised, never shown as its key.
- Numbers, percentages and compact figures follow the locale (decimal comma in Vietnamese).
- Slugs keep non-Latin names readable (Hangul romanised), Vietnamese slugs are unchanged.
"""

from __future__ import annotations

import logging

import pytest

from ecosystem import i18n, labels
from ecosystem.labels import (
    MissingLabel,
    country_name,
    humanise,
    label,
    label_in,
    language_names,
    zone_name,
)
from ecosystem.models import Organisation
from ecosystem.text import slugify
from labs.labels import category_label
from tests.catalogues import ROOT
from tests.conftest import person

i18n.add_catalogue_dir(ROOT / "labs" / "locale")  # as the app factory does

VALID = {
    "spheres": ["international_partner"],
    "description": "Research and business district of Daejeon.",
    "website": "ddi.or.kr",
    "city": "Daejeon",
    "country": "kr",
    "email_domains": "ddi.or.kr",
}


def test_an_unknown_stored_value_fails_the_test():
    assert labels.STRICT, "tests/conftest.py turns the strict lookup on"
    with pytest.raises(MissingLabel, match="'3d_scanner'"):
        category_label("3d_scanner")
    with pytest.raises(MissingLabel):
        label("moderator")


def test_in_production_an_unknown_value_is_logged_and_humanised(monkeypatch, caplog):
    monkeypatch.setattr(labels, "STRICT", False)
    with caplog.at_level(logging.WARNING, logger="ecosystem.labels"), i18n.use_locale("vi"):
        shown = category_label("3d_scanner")
        # Humanised text the catalogues know is translated ("Research institute" → vi).
        translated = label_in({}, "research_institute")
        known = label("research_institute")  # in Vietnamese too, whatever ran before
    assert shown == "3d scanner"
    assert translated == known != "Research institute"
    assert "3d_scanner" in caplog.text
    assert humanise("revenue_vnd") == "Revenue vnd"


def test_known_values_are_translated():
    with i18n.use_locale("vi"):
        assert category_label("laser_cutter") == i18n.gettext("Laser cutter")
        assert category_label("laser_cutter") != "Laser cutter"
    with i18n.use_locale("en"):
        assert category_label("3d_printer") == "3D printer"


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("vi", ("70,8", "1.500.000", "1,0", "70,8%", "50%", "1,2\xa0Tr")),
        ("en", ("70.8", "1,500,000", "1.0", "70.8%", "50%", "1.2M")),
    ],
)
def test_numbers_follow_the_locale(locale, expected):
    with i18n.use_locale(locale):
        shown = (
            i18n.format_number(70.8),
            i18n.format_number(1_500_000),
            i18n.format_number(1, 1),
            i18n.format_percent(0.708, 1),
            i18n.format_percent(0.5),
            i18n.format_compact(1_234_567),
        )
    assert shown == expected


def test_codes_are_named_in_the_viewers_language():
    with i18n.use_locale("vi"):
        assert language_names("vi,ko") == "Tiếng Việt, Tiếng Hàn"
        assert country_name("kr") == "Hàn Quốc"
        assert zone_name("Asia/Seoul") == "Giờ Hàn Quốc"
    with i18n.use_locale("en"):
        assert language_names(["en"]) == "English"
        assert country_name("VN") == "Vietnam"


def test_slugs_keep_every_script_readable():
    # Vietnamese as before.
    assert slugify("Trường Đại học Thủ Dầu Một") == "truong-dai-hoc-thu-dau-mot"
    assert slugify("Năng lượng & Môi trường") == "nang-luong-moi-truong"
    # Hangul and other scripts romanised instead of vanishing into "org".
    assert slugify("대덕이노폴리스") == "daedeoginopolriseu"
    assert slugify("스마트시티 대전") == "seumateusiti-daejeon"
    assert slugify("Москва") == "moskva"
    assert slugify("🙂") == "org"
    assert len(slugify("가" * 100)) <= 60
    assert slugify("대전 " * 30, 20) == "daejeon-daejeon-daej"


async def test_a_korean_organisation_gets_a_readable_unique_slug(browser, new_browser):
    await person("minjun@ddi.or.kr")
    await browser.login("minjun@ddi.or.kr")
    await browser.get("/organisations/new")
    response = await browser.post("/organisations/new", {**VALID, "name": "대덕이노폴리스"})
    assert response.status_code == 303, response.text[:500]
    assert response.headers["location"] == "/organisations/daedeoginopolriseu"

    # The same name again (another organisation) gets the next free slug.
    other = new_browser()
    await person("jiwoo@kaist.ac.kr")
    await other.login("jiwoo@kaist.ac.kr")
    await other.get("/organisations/new")
    again = {**VALID, "name": "대덕이노폴리스", "website": "kaist.ac.kr"}
    response = await other.post("/organisations/new", {**again, "email_domains": "kaist.ac.kr"})
    assert response.status_code == 303, response.text[:500]
    assert response.headers["location"] == "/organisations/daedeoginopolriseu-2"
    slugs = sorted(await Organisation.all().values_list("slug", flat=True))
    assert slugs == ["daedeoginopolriseu", "daedeoginopolriseu-2"]
    page = await browser.get("/organisations/daedeoginopolriseu")
    assert page.status_code == 200 and "대덕이노폴리스" in page.text
