"""Every page, for every demo role, in every supported language: no raw keys, no English
outside English, no decimal points in Vietnamese, no server error.

Over the demo data, each demo person (anonymous, a plain member, an account whose e-mail is
not verified, lab staff, the programme's manager, mentor and founder, the contest's organiser
and juror, the platform admin) opens every GET page of the app (enumerated from the app, so a
new page is scanned without being listed here; path parameters filled from the demo rows)
plus the links those pages show (bounded), in each of `i18n.SUPPORTED_LOCALES`. The visible
text of each HTML page (tags, scripts, styles and attributes stripped) must not contain:

- a snake_case identifier ("3d_printer", "revenue_vnd"): a stored key shown as it is stored;
- outside English: an English weekday or month name, or a whole text that is an English
  message of the catalogues the language translates differently (an untranslated string);
- in Vietnamese: a decimal point ("70.8", "0.7 giờ"; "1.500.000" groups thousands);
- and no page may answer 5xx.

SQLite only (the pages and their text do not depend on the backend); about a minute.
"""

from __future__ import annotations

import re
from collections import defaultdict
from html import unescape
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from starlette.routing import Route

from ecosystem import i18n
from ecosystem.models import User
from tests.catalogues import ROOT, load_catalogue
from tests.conftest import BrowserSession, make_user
from tests.ecosystem.test_form_fuzz import fill, path_values, seed_demo
from tests.production.shape import DEMO_PASSWORD

UNVERIFIED = "unverified-scan@example.org"
ROLES = [
    None,  # anonymous
    "student@example.org",  # a plain member of a university
    UNVERIFIED,
    "staff@example.org",
    "manager@example.org",
    "mentor@example.org",
    "founder@example.org",
    "organiser@example.org",
    "judge@example.org",
    "admin@example.org",
]
# Not pages: machine-readable answers, side effects, callbacks of payment providers.
SKIPPED = re.compile(
    r"^/(api/|static/|media/|healthz|favicon|open-data/|logout|verify|password/reset|"
    r"payments/vnpay/|calendar/)|\.(json|pdf|svg|ics|webp|csv|xlsx|ods)$|\{format"
)
EXTRA_LINKS = 40  # per person and language: links found on pages beyond the routes
HREF = re.compile(r'<a\b[^>]*\bhref="([^"#]+)"')

# Not read as page text: code, and what a form field holds (typed in a machine format).
HIDDEN = re.compile(r"<(script|style|template|pre|code|textarea)\b.*?</\1\s*>", re.S | re.I)
TAG = re.compile(r"<[^>]*>")
# Text that may look like a key and is not one: addresses, e-mails, file names, codes.
NOT_A_KEY = re.compile(
    r"\S*(?:@|://|www\.|/)\S*|\b[\w.-]+\.(?:py|csv|json|pdf|xlsx|ods|ics)\b"
    r"|\b(?:Attribution|BY|BY-SA|version|v)\s?\d+(?:\.\d+)+"  # licence and version names
)
SNAKE = re.compile(r"(?<![\w./-])(?=[a-z0-9_]*[a-z])[a-z0-9]+(?:_[a-z0-9]+)+(?![\w/-])")
ENGLISH_DATES = re.compile(
    r"\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March|"
    r"April|June|July|August|September|October|November|December)\b"
    r"|\b(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d"
)
# What demo people typed in their own words (content, not interface): no language check.
WRITTEN_BY_PEOPLE = ("Send the pilot proposal by Friday",)
NUMBER = re.compile(r"(?<![\w.,:/-])\d+(?:\.\d+)+(?![\w.]*\d)")


def visible_texts(html: str) -> list[str]:
    """The texts between tags that a reader sees, whitespace collapsed."""
    body = html.split("<body", 1)[-1]
    body = HIDDEN.sub(" ", re.sub(r"<!--.*?-->", " ", body, flags=re.S))
    return [t for t in (" ".join(unescape(part).split()) for part in TAG.split(body)) if t]


def snake_case_keys(text: str) -> list[str]:
    return SNAKE.findall(NOT_A_KEY.sub(" ", text))


def decimal_points(text: str) -> list[str]:
    """Numbers with a point that is not a Vietnamese thousands separator (groups of three)."""
    found = []
    for number in NUMBER.findall(NOT_A_KEY.sub(" ", text)):
        first, *groups = number.split(".")
        if len(first) <= 3 and all(len(g) == 3 for g in groups):
            continue  # 1.500.000
        if len(groups) >= 3:
            continue  # an address or a version (1.2.3.4), not a figure
        found.append(number)
    return found


def untranslated_messages() -> dict[str, set[str]]:
    """Per locale, the English msgids (whole sentences or labels) that locale translates to
    something else: seeing one on its page means a string missed the translation."""
    english: set[str] = set()
    translated: dict[str, set[str]] = defaultdict(set)
    for directory in sorted(ROOT.glob("*/locale")):
        for locale in i18n.SUPPORTED_LOCALES:
            if locale == "en" or not (directory / locale).exists():
                continue
            for message in load_catalogue(directory, locale):
                if not message.id or message.pluralizable or "%" in message.id:
                    continue
                if message.string and message.string.strip() != message.id:
                    translated[locale].add(message.id)
        if (directory / "en").exists():
            english |= {m.id for m in load_catalogue(directory, "en") if isinstance(m.id, str)}
    # A word that is a word in the other language too ("Email", "Startup") says nothing.
    return {
        locale: {m for m in ids if m in english and (" " in m or len(m) > 8)}
        for locale, ids in translated.items()
    }


def problems_of(html: str, locale: str, leftovers: set[str]) -> list[str]:
    found: list[str] = []
    for text in visible_texts(html):
        found += [f"key {key!r} in {text[:80]!r}" for key in snake_case_keys(text)]
        if locale == "en" or text.startswith(WRITTEN_BY_PEOPLE):
            continue
        found += [f"English date {m!r} in {text[:80]!r}" for m in ENGLISH_DATES.findall(text)]
        if text.rstrip(":.") in leftovers or text in leftovers:
            found.append(f"untranslated {text[:80]!r}")
        if locale == "vi":
            found += [f"decimal point {n!r} in {text[:80]!r}" for n in decimal_points(text)]
    return found


def test_the_detectors_catch_the_known_leaks():
    html = (
        "<body><p>Chứng nhận cho 3d_printer</p><p title='x_y'>revenue, headcount</p>"
        "<script>var a_b = 1;</script><p>70.8 · 0.7 giờ · 1.500.000 ₫ · v1.2.3.4</p>"
        "<p>Monday, 5 tháng 12</p><p>Teams by site</p><p>ai@example.org /labs/x_y</p></body>"
    )
    problems = problems_of(html, "vi", {"Teams by site"})
    assert any("3d_printer" in p for p in problems)
    assert any("'70.8'" in p for p in problems) and any("'0.7'" in p for p in problems)
    assert not any(p.startswith(("decimal point '1.5", "decimal point '1.2")) for p in problems)
    assert any("Monday" in p for p in problems)
    assert any("untranslated 'Teams by site'" in p for p in problems)
    assert not any(p.startswith(("key 'a_b'", "key 'x_y'")) for p in problems)
    assert problems_of(html, "en", set()) == ["key '3d_printer' in 'Chứng nhận cho 3d_printer'"]


def page_routes(app) -> list[str]:
    return sorted(
        r.path
        for r in app.routes
        if isinstance(r, Route) and "GET" in (r.methods or ()) and not SKIPPED.search(r.path)
    )


async def session_for(app, email: str | None) -> BrowserSession:
    transport = httpx.ASGITransport(app=app, client=("192.0.2.20", 40000))
    http = httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60)
    session = BrowserSession(http)
    if email:
        await session.login(email, DEMO_PASSWORD)
    return session


async def use_language(session: BrowserSession, locale: str) -> None:
    session.csrf_token = ""
    response = await session.post("/language", {"locale": locale, "next": "/"})
    assert response.status_code == 303, response.status_code


@pytest.fixture
def sqlite_only(backend):
    if backend != "sqlite":
        pytest.skip("the page scan runs on SQLite only (page text does not depend on it)")


@pytest.mark.usefixtures("sqlite_only")
async def test_every_page_in_every_language_for_every_role(app):
    await seed_demo(app)
    user = await make_user(UNVERIFIED, DEMO_PASSWORD, "Chưa Xác Minh", verified=False)
    assert not user.is_verified
    values = await path_values()
    from hackathon.models import Certificate

    certificate = await Certificate.all().order_by("id").first()
    routes = []
    for path in page_routes(app):
        url = fill(path, values, "x")
        if certificate and "{code}" in path and path.startswith("/contests/certificates"):
            url = path.replace("{code}", certificate.code)
        routes.append(url)
    leftovers = untranslated_messages()
    failures: dict[str, set[str]] = defaultdict(set)
    pages = 0
    for email in ROLES:
        session = await session_for(app, email)
        for locale in i18n.SUPPORTED_LOCALES:
            await use_language(session, locale)
            queue, seen, extra = list(routes), set(routes), 0
            while queue:
                url = queue.pop(0)
                response = await session.http.get(url)
                pages += 1
                where = f"{url} [{locale}, {email or 'anonymous'}]"
                if response.status_code >= 500:
                    failures[f"{response.status_code}"].add(where)
                    continue
                if "text/html" not in response.headers.get("content-type", ""):
                    continue
                for problem in problems_of(response.text, locale, leftovers.get(locale, set())):
                    failures[problem].add(where)
                for href in HREF.findall(response.text):
                    link = urlsplit(urljoin("http://testserver" + url, unescape(href)))
                    target = link.path + (f"?{link.query}" if link.query else "")
                    if (
                        link.netloc == "testserver"
                        and target not in seen
                        and extra < EXTRA_LINKS
                        and not SKIPPED.search(link.path)
                    ):
                        seen.add(target)
                        queue.append(target)
                        extra += 1
        await session.http.aclose()
    # One line per page and kind of problem, with a few examples: readable when many fail.
    by_page: dict[str, list[str]] = defaultdict(list)
    for problem, where in failures.items():
        for page in where:
            by_page[page].append(problem)
    report = "\n".join(
        f"{page}: " + " | ".join(sorted(found)[:6]) + (" …" if len(found) > 6 else "")
        for page, found in sorted(by_page.items())
    )
    assert not failures, f"{len(by_page)} pages with problems of {pages}:\n{report}"
    assert pages > len(ROLES) * len(i18n.SUPPORTED_LOCALES) * 80
    assert await User.filter(email=UNVERIFIED).exists()
