"""Mails show times on the recipient's clock, never on the clock of whoever's request sent them."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from ecosystem import i18n
from ecosystem.i18n import use_locale
from ecosystem.mail import render_mail
from ecosystem.packages import load_packages

CLOSES = datetime(2027, 3, 15, 10, 0, tzinfo=UTC)  # 17:00 in Vietnam, 19:00 in Korea


@pytest.fixture(autouse=True)
def package_catalogues() -> None:
    """The contests' messages, as the app factory adds them."""
    for package in load_packages(("hackathon",)):
        i18n.add_catalogue_dir(package.locale_dir)


def contest(timezone: str = "Asia/Ho_Chi_Minh") -> SimpleNamespace:
    return SimpleNamespace(
        title="Smart City 2027",
        content_locale="en",
        translations={"ko": {"title": "스마트시티 2027"}},
        judging_closes_at=CLOSES,
        timezone=timezone,
        slug="smart-city-2027",
    )


def reminder(locale: str, timezone: str | None) -> str:
    _subject, text, _html = render_mail(
        "hackathon_judge_reminder", {"contest": contest(), "left": 3}, locale, timezone
    )
    return text


def test_a_korean_juror_reads_the_deadline_in_korea_and_at_the_contest():
    text = reminder("ko", "Asia/Seoul")
    assert "스마트시티 2027" in text and "채점할 출품작이 3개" in text
    assert "한국 시간" in text and "베트남 시간" in text
    assert "7:00" in text and "5:00" in text


def test_a_juror_in_vietnam_reads_one_clock():
    text = reminder("vi", "Asia/Ho_Chi_Minh")
    assert "Bạn còn 3 bài dự thi" in text
    assert "17:00" in text and "Giờ Hàn Quốc" not in text


def test_without_the_recipients_zone_the_platforms_is_used_not_the_senders():
    with use_locale("en", "Asia/Seoul"):  # a request by someone in Korea sends the mail
        text = reminder("en", None)
    assert "Korean" not in text
    assert "5:00" in text


def test_a_zone_that_no_longer_exists_falls_back_to_the_platforms():
    assert reminder("en", "Mars/Olympus_Mons") == reminder("en", None)
