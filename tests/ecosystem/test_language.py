"""Vietnamese by default, English on request; dates in Asia/Ho_Chi_Minh, money in VND."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx

from ecosystem import i18n
from ecosystem.models import ApiToken, User
from tests.conftest import make_user

HTML_LANG = re.compile(r'<html lang="([a-z]+)">')


async def page_lang(http: httpx.AsyncClient | object, url: str = "/") -> str:
    response = await http.get(url)  # type: ignore[attr-defined]
    assert response.status_code == 200, (url, response.status_code)
    return HTML_LANG.search(response.text).group(1)


async def test_vietnamese_is_the_default(browser):
    for url in ("/", "/login", "/register", "/password/forgot", "/organisations"):
        assert await page_lang(browser, url) == "vi"
    # An English-speaking browser still gets Vietnamese until the person chooses.
    response = await browser.http.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert HTML_LANG.search(response.text).group(1) == "vi"


async def test_anonymous_switch_is_kept_in_the_session_and_a_cookie(browser, new_browser):
    await browser.get("/organisations")
    response = await browser.post("/language", {"locale": "en", "next": "/organisations?q=eiu"})
    assert response.status_code == 303
    assert response.headers["location"] == "/organisations?q=eiu"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("lang="))
    assert cookie.startswith("lang=en;")
    assert "max-age=31536000" in cookie.lower()
    for url in ("/", "/login", "/organisations"):
        assert await page_lang(browser, url) == "en"
    # The selector on the page offers both languages and marks the chosen one.
    page = (await browser.get("/")).text
    assert re.search(r'<option value="en" selected>', page)
    assert '<option value="vi">' in page

    # The cookie alone (a new session of the same browser) keeps the choice.
    later = new_browser()
    later.http.cookies.set("lang", "en")
    assert await page_lang(later) == "en"

    # And back to Vietnamese.
    await browser.post("/language", {"locale": "vi", "next": "/"})
    assert await page_lang(browser) == "vi"


async def test_unknown_locale_and_foreign_next_are_ignored(browser):
    await browser.get("/")
    response = await browser.post("/language", {"locale": "fr", "next": "https://evil.example/"})
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert not any(h.startswith("lang=") for h in response.headers.get_list("set-cookie"))
    assert await page_lang(browser) == "vi"
    # Region variants are understood.
    await browser.post("/language", {"locale": "en-GB", "next": "/"})
    assert await page_lang(browser) == "en"
    # A tampered cookie is ignored.
    browser.http.cookies.clear()
    browser.http.cookies.set("lang", "xx")
    assert await page_lang(browser) == "vi"


async def test_odd_cookies_of_other_sites_do_not_break_pages(client):
    for header in ("a@b=1; lang=en", "x(y)=1; lang=en", "ü=1; lang=en", 'lang="en'):
        response = await client.get("/", headers={"Cookie": header.encode()})
        assert response.status_code == 200, header
    response = await client.get("/", headers={"Cookie": "tracker(v2)=abc; lang=en"})
    assert HTML_LANG.search(response.text).group(1) == "en"


async def test_signed_in_choice_is_saved_on_the_account(browser, new_browser):
    user = await make_user("sen@eiu.edu.vn")
    await browser.login("sen@eiu.edu.vn")
    assert await page_lang(browser, "/account") == "vi"
    await browser.get("/account")
    response = await browser.post("/language", {"locale": "en", "next": "/account"})
    assert response.status_code == 303
    await user.refresh_from_db()
    assert user.locale == "en"
    assert await page_lang(browser, "/account") == "en"

    # On another device, signing in brings the saved language along.
    phone = new_browser()
    assert await page_lang(phone, "/login") == "vi"
    await phone.login("sen@eiu.edu.vn")
    assert await page_lang(phone, "/account") == "en"

    # Signing out keeps the language of the tab.
    await phone.get("/account")
    await phone.post("/logout")
    assert await page_lang(phone) == "en"

    # The profile form changes it as well.
    await browser.get("/account")
    await browser.post("/account", {"full_name": "Sen", "locale": "vi"})
    await user.refresh_from_db()
    assert user.locale == "vi"
    assert await page_lang(browser, "/account") == "vi"


async def test_registration_keeps_the_chosen_language(browser):
    await browser.get("/")
    await browser.post("/language", {"locale": "en", "next": "/register"})
    page = await browser.get("/register")
    assert '<input type="hidden" name="locale" value="en">' in page.text
    response = await browser.post(
        "/register",
        {"email": "tuan@eiu.edu.vn", "full_name": "Tuấn", "password": "correct-horse-battery"},
    )
    assert response.status_code == 303
    assert (await User.get(email="tuan@eiu.edu.vn")).locale == "en"


# --- formatting -------------------------------------------------------------------------------


def test_money_is_formatted_as_vnd():
    with i18n.use_locale("vi"):
        assert i18n.format_money(150000) == "150.000\xa0₫"
        assert i18n.format_money(0) == "0\xa0₫"
        assert i18n.format_money(1_250_000_000) == "1.250.000.000\xa0₫"
        assert i18n.format_number(1234567) == "1.234.567"
    with i18n.use_locale("en"):
        assert i18n.format_money(150000) == "₫150,000"
        assert i18n.format_money(2500, "USD") == "$2,500.00"  # other currencies keep decimals


def test_dates_are_shown_in_ho_chi_minh_time():
    new_year_utc = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    with i18n.use_locale("vi", "Asia/Ho_Chi_Minh"):
        assert "07:00" in i18n.format_dt(new_year_utc, "short")
        assert i18n.format_dt(new_year_utc, "short") == "07:00 1/1/26"
        # 20:30 UTC on 31 December is already New Year's Day in Binh Duong.
        assert i18n.format_day(datetime(2025, 12, 31, 20, 30, tzinfo=UTC), "short") == "1/1/26"
        assert i18n.format_dt(None) == ""
    with i18n.use_locale("en", "Asia/Ho_Chi_Minh"):
        assert "7:00" in i18n.format_dt(new_year_utc, "short")
        assert "1/1/26" in i18n.format_dt(new_year_utc, "short")


async def test_pages_show_times_in_ho_chi_minh(browser):
    user = await make_user("uyen@eiu.edu.vn")
    await browser.login("uyen@eiu.edu.vn")
    await browser.get("/account/tokens")
    await browser.post("/account/tokens", {"name": "IOC"})
    await ApiToken.filter(user_id=user.id).update(created_at=datetime(2026, 1, 1, 0, 0, tzinfo=UTC))
    page = await browser.get("/account/tokens")
    assert "07:00 1/1/26" in page.text
    await browser.post("/language", {"locale": "en", "next": "/account/tokens"})
    page = await browser.get("/account/tokens")
    assert re.search(r"1/1/26,?\s+7:00\s*AM", page.text.replace("\u202f", " "))
