"""What makes `/` and `/organisations` cheap changes nothing a visitor or another process sees
(issue 21, item 4): routing by first segment, templates translated when compiled, plain
functions called directly, cached directory pages reused, the session cookie's signer."""

from __future__ import annotations

import json
import re
from base64 import b64encode

import itsdangerous
import pytest
from jinja2 import DictLoader, pass_context
from starlette.routing import Match, Route, Router

from ecosystem import cache, i18n, templating, web
from ecosystem.middleware import _KeyOnceSigner
from ecosystem.routing import SegmentRouter
from ecosystem.templating import build_environment
from tests.conftest import TOKEN, add_member, make_organisation, make_user, tokens_in


def sample_path(route: Route) -> str:
    """A concrete path the route matches (every parameter filled)."""
    return re.sub(r"\{[^}:]+(:int)?\}", lambda m: "7" if m.group(1) else "x", route.path)


def stock_choice(routes, scope) -> tuple[object, Match]:
    partial = None
    for route in routes:
        match, _child = route.matches(scope)
        if match is Match.FULL:
            return route, match
        if match is Match.PARTIAL and partial is None:
            partial = route
    return partial, Match.PARTIAL if partial else Match.NONE


async def test_the_router_picks_starlettes_route_for_every_path_and_method(app) -> None:
    """For a sample path of every route, with every method: the route Starlette's loop over
    the whole list would take is the one the first-segment index takes."""
    assert isinstance(app.router, SegmentRouter)
    routes = app.router.routes
    paths = {sample_path(r) for r in routes if isinstance(r, Route)} | {
        "/",
        "/static/app.css",
        "/organisations/",
        "/nowhere",
        "//x",
    }
    app.router._build_index(routes)
    checked = 0
    for path in sorted(paths):
        for method in ("GET", "POST", "DELETE"):
            scope = {"type": "http", "path": path, "root_path": "", "method": method}
            expected, kind = stock_choice(routes, scope)
            candidates = app.router._index.get(path[1:].split("/", 1)[0], app.router._anywhere)
            chosen, _ = stock_choice(candidates, scope)
            if kind is Match.FULL:
                assert chosen is expected, (method, path)
                checked += 1
            else:  # no full match: Starlette's own loop answers (404, 405, redirect)
                assert stock_choice(candidates, scope)[1] is not Match.FULL, (method, path)
    assert checked > 100


async def test_not_found_method_not_allowed_and_slashes_as_before(client) -> None:
    assert (await client.get("/no-such-page")).status_code == 404
    redirected = await client.get("/organisations/", follow_redirects=False)
    assert redirected.status_code == 307
    assert redirected.headers["location"].endswith("/organisations")
    assert (await client.delete("/healthz")).status_code == 405


async def test_routes_added_later_are_found() -> None:
    async def page(request):
        from starlette.responses import PlainTextResponse

        return PlainTextResponse(request.url.path)

    router = SegmentRouter([Route("/a", page)])
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b""}

    router.routes.append(Route("/b/{x}", page))
    scope = {"type": "http", "path": "/b/1", "root_path": "", "method": "GET", "headers": []}
    await router(scope, receive, send)
    assert sent[0]["status"] == 200
    assert isinstance(Router([]), Router)  # the stock one still builds alike


@pytest.mark.parametrize("locale", ["vi", "en", "ko"])
async def test_pages_compiled_per_locale_read_as_translated_at_run_time(
    client, monkeypatch, locale
) -> None:
    """The same page, byte for byte (but the session's token), whether its constant texts
    were translated when the template was compiled or by `_()` while rendering."""
    owner = await make_user("owner@example.org")
    await make_organisation(owner, "Viện Nghiên cứu & Phát triển")
    client.cookies.set("lang", locale)
    compiled = [await client.get(path) for path in ("/", "/organisations", "/login")]
    monkeypatch.setattr(templating, "_environments", {})  # the plain environment for all
    monkeypatch.setattr(web, "_public_pages", type(web._public_pages)())  # built again
    at_run_time = [await client.get(path) for path in ("/", "/organisations", "/login")]
    for before, after in zip(compiled, at_run_time, strict=True):
        assert before.status_code == after.status_code == 200
        assert TOKEN.sub("", before.text) == TOKEN.sub("", after.text)
    assert i18n.translation_in(locale, "Partner directory") in compiled[1].text
    assert "&amp; Phát triển" in compiled[1].text


def test_only_calls_with_one_literal_are_translated_ahead() -> None:
    env = build_environment("vi")
    env.globals["obj"] = type("O", (), {"_": staticmethod(lambda text: f"[{text}]")})()
    source = (
        "{{ _('Menu') }}|{{ gettext(\"Sign in\") }}|{{ _('%(num)d x', num=2) }}|"
        "{{ obj._('Menu') }}|{% set t = _('Language') %}{{ t }}|{{ _('A & <b>') }}"
    )
    with i18n.use_locale("vi"):
        text = env.from_string(source).render()
    vi = i18n.translation_in
    assert text.split("|") == [
        vi("vi", "Menu"),
        vi("vi", "Sign in"),
        "2 x",
        "[Menu]",
        vi("vi", "Language"),
        "A &amp; &lt;b&gt;",
    ]
    # The plain environment translates the same texts at run time, in the current locale.
    with i18n.use_locale("en"):
        assert build_environment().from_string("{{ _('Menu') }}").render() == "Menu"


def test_functions_are_called_directly_and_jinjas_markers_still_apply() -> None:
    env = build_environment()

    @pass_context
    def who(context, suffix):
        return context["name"] + suffix

    def plain(a, b=0):
        return a + b

    def stops():
        raise StopIteration

    env.globals.update(who=who, plain=plain, stops=stops)
    template = env.from_string(
        "{{ who('!') }} {% for i in [1, 2] %}{{ plain(i, b=10) }} {% endfor %}"
        "{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m(plain(1)) }}"
        "{% if stops() is undefined %} undefined{% endif %}"
    )
    assert template.render(name="An") == "An! 11 12 <1> undefined"


def test_templates_share_the_environments_globals_and_imports_still_see_them() -> None:
    """A template without globals of its own reads the environment's dict itself (Jinja's
    ChainMap walks every lookup in Python); one given its own keeps them to itself."""
    env = build_environment()
    env.loader = DictLoader(
        {
            "macros.html": "{% macro shout(x) %}{{ x | upper }}{{ suffix }}{% endmacro %}",
            "page.html": '{% from "macros.html" import shout %}{{ shout(word) }}',
        }
    )
    page = env.get_template("page.html")
    assert page.globals is env.globals
    env.globals["suffix"] = "!"  # added after the template was loaded: still seen
    assert page.render(word="hi") == "HI!"

    own = env.from_string("{{ suffix }}{{ extra }}", globals={"extra": "?"})
    assert own.render() == "!?"
    assert "extra" not in env.globals


async def test_a_cached_directory_page_is_reused_only_while_its_text_is_unchanged(app) -> None:
    built: list[dict] = []

    async def compute():
        return {"n": 1}

    def build(value):
        built.append(value)
        return ("page", value["n"])

    first = await cache.remember_built("t:key", 60, compute, build)
    again = await cache.remember_built("t:key", 60, compute, build)
    assert first is again and len(built) == 1
    # Another process stored another text under the key: that text is what counts.
    await cache._backend.set("t:key", json.dumps({"n": 2}), 60)
    assert await cache.remember_built("t:key", 60, compute, build) == ("page", 2)
    assert len(built) == 2


async def test_the_directory_follows_changes_after_the_page_was_reused(client) -> None:
    owner = await make_user("owner@example.org")
    await make_organisation(owner, "Alpha Lab")
    assert "Alpha Lab" in (await client.get("/organisations")).text
    assert "Alpha Lab" in (await client.get("/organisations")).text
    from ecosystem.services import organisations

    await make_organisation(owner, "Beta Works")
    await organisations.directory_changed()
    page = (await client.get("/organisations")).text
    assert "Alpha Lab" in page and "Beta Works" in page


def test_the_session_signer_signs_as_itsdangerous_does() -> None:
    data = b64encode(json.dumps({"csrf": "t"}).encode())
    ours, stock = _KeyOnceSigner("s" * 40), itsdangerous.TimestampSigner("s" * 40)
    assert stock.unsign(ours.sign(data)) == data
    assert ours.unsign(stock.sign(data)) == data
    assert ours.derive_key() == stock.derive_key()
    with pytest.raises(itsdangerous.BadSignature):
        _KeyOnceSigner("t" * 40).unsign(stock.sign(data))


async def test_a_session_cookie_survives_and_a_forged_one_does_not(client) -> None:
    first = await client.get("/login")
    token = TOKEN.search(first.text).group(0)
    assert "eco_session=" in first.headers["set-cookie"]
    assert "httponly" in first.headers["set-cookie"].lower()
    again = await client.get("/login")
    assert TOKEN.search(again.text).group(0) == token  # the same session, same token
    assert "set-cookie" not in again.headers  # nothing changed: no new cookie
    assert "Cookie" in again.headers["vary"]
    value = client.cookies["eco_session"]
    client.cookies.set("eco_session", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    forged = await client.get("/login")
    assert TOKEN.search(forged.text).group(0) != token  # a new session, a new token


# --- the home page, built once per process for anonymous visitors -------------------------


async def test_each_anonymous_visitor_gets_the_shared_home_page_with_their_own_token(
    app, new_browser
) -> None:
    web._public_pages.clear()
    first, second = new_browser(), new_browser()
    pages = [await first.get("/"), await second.get("/"), await first.get("/")]
    assert [key[0] for key in web._public_pages] == ["ecosystem/home.html"]  # built once
    assert all(page.status_code == 200 for page in pages)
    own = [tokens_in(page.text) for page in pages]
    assert all(len(found) == 1 for found in own)  # the form and htmx's header: one token
    assert own[0] == own[2] != own[1]  # per session, not per page
    assert web._TOKEN_STAND_IN not in "".join(page.text for page in pages)
    assert TOKEN.sub("", pages[0].text) == TOKEN.sub("", pages[1].text)
    # The token is the session's: the language form on the page is accepted with it.
    changed = await second.post("/language", {"locale": "en", "next": "/"})
    assert changed.status_code == 303
    assert 'lang="en"' in (await second.get("/")).text


async def test_signed_in_flashed_and_other_language_visitors_get_their_own_page(
    app, new_browser
) -> None:
    await make_user("member@example.org")
    anonymous = await new_browser().get("/")
    assert "/register" in anonymous.text and "/dashboard" not in anonymous.text
    member = new_browser()
    await member.login("member@example.org")
    signed_in = await member.get("/")
    assert "/dashboard" in signed_in.text and "/register" not in signed_in.text
    english = await new_browser(lang="en").get("/")
    assert 'lang="en"' in english.text
    assert i18n.translation_in("en", "Partner directory") in english.text
    assert 'lang="vi"' in (await new_browser().get("/")).text


async def test_the_shared_home_page_follows_the_figures(app, new_browser, monkeypatch) -> None:
    """The figures are part of what the shared page is built from: new figures, new page."""
    from ecosystem.services import organisations

    figures = {"organisation_count": 41, "user_count": 1234}

    async def public_counts() -> dict[str, int]:
        return dict(figures)

    monkeypatch.setattr(organisations, "public_counts", public_counts)
    count = re.compile(r"<strong>([\d.,]+)</strong>")
    assert count.findall((await new_browser().get("/")).text) == ["41", "1.234"]
    figures["organisation_count"] = 42
    assert count.findall((await new_browser().get("/")).text) == ["42", "1.234"]


@pytest.mark.parametrize("path", ["/", "/organisations", "/login"])
async def test_vary_names_each_header_once(client, path) -> None:
    response = await client.get(path)
    named = [token.strip().lower() for token in response.headers["vary"].split(",")]
    assert "cookie" in named and "hx-request" in named
    assert len(named) == len(set(named)), response.headers["vary"]


async def test_a_fingerprint_follows_columns_loaded_relations_and_nested_values(app) -> None:
    from dataclasses import dataclass

    @dataclass
    class Shown:
        organisation: object
        labels: dict

    user = await make_user("fp@example.org")
    organisation = await make_organisation(user, "Becamex")
    same = web.fingerprint_of(Shown(organisation, {"a": [1]}), "x")
    assert web.fingerprint_of(Shown(organisation, {"a": [1]}), "x") == same
    assert web.fingerprint_of(Shown(organisation, {"a": [2]}), "x") != same
    assert web.fingerprint_of(Shown(organisation, {"a": [1]}), "y") != same
    organisation.city = "Thủ Dầu Một"
    assert web.fingerprint_of(Shown(organisation, {"a": [1]}), "x") != same

    membership = await add_member(await make_user("member@example.org"), organisation)
    plain = web.fingerprint_of(membership)
    object.__setattr__(membership, "_organisation", organisation)  # loaded with it
    loaded = web.fingerprint_of(membership)
    assert loaded != plain
    organisation.name = "Becamex IDC"
    assert web.fingerprint_of(membership) != loaded
    # Something it cannot see into is never taken for the same.
    assert web.fingerprint_of(object()) != web.fingerprint_of(object())
