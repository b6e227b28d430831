"""Vietnamese by default, English on request; dates in Asia/Ho_Chi_Minh, money in VND."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

import httpx
from babel.messages.catalog import Catalog

from ecosystem import i18n
from ecosystem.models import ApiToken, User
from tests.catalogues import ROOT, korean_problems, vietnamese_problems
from tests.catalogues import extracted_messages as extract
from tests.catalogues import load_catalogue as load_from
from tests.conftest import make_organisation, make_user

HTML_LANG = re.compile(r'<html lang="([a-z]+)">')


async def page_lang(http: httpx.AsyncClient | object, url: str = "/") -> str:
    response = await http.get(url)  # type: ignore[attr-defined]
    assert response.status_code == 200, (url, response.status_code)
    return HTML_LANG.search(response.text).group(1)


async def test_every_catalogue_is_compiled_when_the_app_starts(settings):
    """Not on the first request in a language, which would wait for it."""
    from ecosystem.app import create_app

    i18n.translations_for.cache_clear()
    i18n._messages_for.cache_clear()
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        assert i18n._messages_for.cache_info().currsize == len(i18n.SUPPORTED_LOCALES)
        assert i18n.translation_in("en", "Sign in") != i18n.translation_in("vi", "Sign in")


async def test_vietnamese_is_the_default(browser):
    for url in ("/", "/login", "/register", "/password/forgot", "/organisations"):
        assert await page_lang(browser, url) == "vi"
    # A browser asking for a language we do not speak also gets Vietnamese.
    response = await browser.http.get("/", headers={"Accept-Language": "fr-FR,fr;q=0.9,de"})
    assert HTML_LANG.search(response.text).group(1) == "vi"
    assert response.headers["content-language"] == "vi"


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
    # The selector on the page offers the three languages and marks the chosen one.
    page = (await browser.get("/")).text
    assert re.search(r'<option value="en" selected>', page)
    assert '<option value="vi">' in page
    assert '<option value="ko">한국어</option>' in page

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


# --- the Vietnamese interface ---------------------------------------------------------------


def text_of(html: str) -> str:
    """What a person reads: the page without tags, entities decoded, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


# (url, status, what a Vietnamese reader sees, what an English reader sees)
PAGES = [
    (
        "/",
        200,
        [
            "Một nền tảng chung cho Vùng Đổi mới sáng tạo Bình Dương",
            "Tạo tài khoản",
            "Danh bạ đối tác",
            "Đăng nhập",
            "Đăng ký",
            "Đối tác",  # the kernel's menu link (a label from ecosystem/package.py)
            "mô hình Ba Nhà",
        ],
        [
            "One platform for the Binh Duong innovation region",
            "Create an account",
            "Partner directory",
            "Sign in",
            "Register",
            "Partners",
            "the three houses",
        ],
    ),
    (
        "/login",
        200,
        ["Đăng nhập", "Mật khẩu", "Quên mật khẩu?", "Chưa có tài khoản?"],
        ["Sign in", "Password", "Forgot your password?", "No account yet?"],
    ),
    (
        "/no/such/page",
        404,
        ["Không tìm thấy", "Trang này không tồn tại.", "Quay lại trang chủ"],
        ["Not found", "This page does not exist.", "Back to the home page"],
    ),
]


async def test_pages_read_in_vietnamese_by_default_and_in_english_after_switching(browser):
    for url, status, vietnamese, english in PAGES:
        response = await browser.get(url)
        assert response.status_code == status, url
        shown = text_of(response.text)
        for phrase in vietnamese:
            assert phrase in shown, (url, phrase)
        for phrase in english:
            assert phrase not in shown, (url, phrase)

    await browser.post("/language", {"locale": "en", "next": "/"})
    for url, status, vietnamese, english in PAGES:
        response = await browser.get(url)
        assert response.status_code == status, url
        shown = text_of(response.text)
        for phrase in english:
            assert phrase in shown, (url, phrase)
        for phrase in vietnamese:
            assert phrase not in shown, (url, phrase)


async def test_messages_from_services_and_plurals_are_vietnamese(browser):
    owner = await make_user("lan@eiu.edu.vn")
    await make_organisation(owner)
    # A service's error, shown on the form.
    await browser.get("/login")
    response = await browser.post("/login", {"email": owner.email, "password": "not-my-password"})
    assert "Email hoặc mật khẩu không đúng." in text_of(response.text)
    # A plural (Vietnamese has a single form).
    page = text_of((await browser.get("/organisations")).text)
    assert "1 tổ chức" in page and "Eastern International University" in page
    assert "Trường đại học" in page  # the sphere's label
    # The CSRF refusal, written by a middleware.
    response = await browser.http.post("/login", data={"email": owner.email})
    assert response.status_code == 403
    assert "Biểu mẫu này đã hết hạn" in response.text


# --- the catalogues -----------------------------------------------------------------------------

LOCALE_DIR = ROOT / "ecosystem" / "locale"


def load_catalogue(locale: str) -> Catalog:
    return load_from(LOCALE_DIR, locale)


def extracted_messages() -> dict[str, set[str]]:
    """Every msgid of the kernel's code and templates (extracted as babel.cfg says): files."""
    return extract("babel.cfg", ("ecosystem", "templates"))


def nav_labels() -> set[str]:
    """Menu labels are declared by packages as plain strings and translated in base.html."""
    from ecosystem.package import package

    return {label for label, _url in package.nav_links}


def test_the_vietnamese_catalogue_is_complete_and_well_formed():
    catalogue = load_catalogue("vi")
    assert len([m for m in catalogue if m.id]) > 250
    assert vietnamese_problems(catalogue) == []


def test_the_english_catalogue_has_the_same_messages():
    vietnamese, english = load_catalogue("vi"), load_catalogue("en")
    assert english.locale_identifier == "en" and english.num_plurals == 2
    assert {m.id for m in english if m.id} == {m.id for m in vietnamese if m.id}
    # Empty strings: the English msgid is shown as it is.
    assert all(not any(m.string) if m.pluralizable else not m.string for m in english if m.id)


def test_the_korean_catalogue_has_the_same_messages_all_translated():
    vietnamese, korean = load_catalogue("vi"), load_catalogue("ko")
    assert korean.locale_identifier == "ko" and korean.num_plurals == 1
    msgids = {m.id if isinstance(m.id, str) else m.id[0] for m in korean if m.id}
    assert msgids == {m.id if isinstance(m.id, str) else m.id[0] for m in vietnamese if m.id}
    assert korean_problems(korean) == []


def test_every_message_in_the_code_is_in_the_vietnamese_catalogue():
    extracted = extracted_messages()
    # The extraction really covers Python (services, routes, labels, schemas, middleware)
    # and templates (pages, plurals, mails).
    where = set().union(*extracted.values())
    for expected in (
        "ecosystem/labels.py",
        "ecosystem/schemas.py",
        "ecosystem/middleware.py",
        "ecosystem/services/accounts.py",
        "ecosystem/routes/auth.py",
        "templates/base.html",
        "templates/ecosystem/home.html",
        "templates/mail/verify_email.txt",
    ):
        assert expected in where, expected
    assert "%(num)d organisation" in extracted and "Hello %(name)s," in extracted
    assert "Association / NGO" in extracted  # N_() in labels.py

    catalogue = {m.id if isinstance(m.id, str) else m.id[0] for m in load_catalogue("vi") if m.id}
    missing = {msgid: extracted[msgid] for msgid in extracted if msgid not in catalogue}
    assert missing == {}, "Translate these in ecosystem/locale/vi/LC_MESSAGES/messages.po"
    # And nothing stale: every translation is still used.
    stale = catalogue - set(extracted) - nav_labels()
    assert stale == set()


def test_every_menu_label_is_translated():
    for locale in ("vi", "ko"):
        with i18n.use_locale(locale):
            for label in nav_labels():
                assert i18n.gettext(label) != label, (locale, label)
