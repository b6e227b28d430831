"""The Jinja environment shared by pages, fragments and emails."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from types import FunctionType
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from ecosystem import content, i18n
from ecosystem.labels import (
    country_name,
    humanise,
    label,
    label_in,
    language_name,
    language_names,
    zone_name,
)
from ecosystem.settings import PROJECT_ROOT

TEMPLATES_DIR = PROJECT_ROOT / "templates"
STATIC_DIR = PROJECT_ROOT / "static"


class DirectCallContext(Context):
    """Jinja's context, calling plain functions directly.

    Every `{{ f(x) }}` in a template compiles to `context.call(f, x)`, which looks twice for
    `pass_context`-style markers and strips loop bookkeeping arguments before calling: about
    2 µs a call, and a page calls `_()`, `label()` and friends a hundred times or more
    (measured: 3.0 µs a call in a loop, 1.4 µs by this path). A plain Python function without
    a marker (`jinja_pass_arg`, set by `pass_context` and its siblings) is called directly
    here; anything else (macros, bound methods, callable objects, marked functions) takes
    Jinja's own path, unchanged.
    """

    def call(__self, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        if type(__obj) is not FunctionType or "jinja_pass_arg" in __obj.__dict__:
            return Context.call(__self, __obj, *args, **kwargs)
        if kwargs:
            kwargs.pop("_loop_vars", None)
            kwargs.pop("_block_vars", None)
        try:
            return __obj(*args, **kwargs)
        except StopIteration:  # as Jinja does: a generator's end is undefined, not an error
            return __self.environment.undefined(
                "value was undefined because a callable raised a StopIteration exception"
            )


class SharedGlobalsEnvironment(Environment):
    """Jinja's environment, giving a template without globals of its own the environment's
    globals dict itself instead of a `ChainMap` over it.

    Jinja reads a template's globals on every render: it copies them into the context,
    computes which of them an imported template lacks (a set difference walked in Python
    for a `ChainMap`'s keys) and looks up every `_()` or `format_dt` there. For a `ChainMap`
    each of these runs in Python; for a dict, in C. Nothing in the platform gives a template
    globals of its own (`get_template(name, globals=…)`); were it done, Jinja's `ChainMap`
    is kept for that template.
    """

    def make_globals(self, d: Any) -> Any:
        return self.globals if not d else super().make_globals(d)


GETTEXT_NAMES = frozenset({"_", "gettext"})


class TranslatedConstants(Extension):
    """Translates `_("a constant text")` when a template is compiled, for one locale.

    A page says `_("Menu")` dozens of times: at run time each is a call, a catalogue lookup
    and an escape (measured: a third of the home page's rendering). In an environment made
    for one locale (`build_environment(locale)`), such a call with one literal and nothing
    else becomes that literal's translation in the template's source tokens, so Jinja
    escapes it once, at compile time, into the page's static text: the same output. Calls
    with parameters (`_("%(n)s rows", n=…)`), several literals, or `_` used as an attribute
    or defined as a macro stay calls, translated at run time as before.
    """

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.extend(translation_locale=None)

    def filter_stream(self, stream: TokenStream) -> Iterable[Token]:
        locale = self.environment.translation_locale  # type: ignore[attr-defined]
        if not locale:
            return stream
        return _translated_tokens(list(stream), locale)


def _translated_tokens(tokens: list[Token], locale: str) -> Iterator[Token]:
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if (
            token.type == "name"
            and token.value in GETTEXT_NAMES
            and i + 3 < len(tokens)
            and (tokens[i + 1].type, tokens[i + 2].type, tokens[i + 3].type)
            == ("lparen", "string", "rparen")
            and not (i and tokens[i - 1].type == "dot")
            and not (i and tokens[i - 1].test("name:macro"))
        ):
            text = i18n.translation_in(locale, tokens[i + 2].value)
            yield Token(token.lineno, "string", text)
            i += 4
            continue
        yield token
        i += 1


def build_environment(locale: str | None = None) -> Environment:
    """The Jinja environment; with `locale`, one whose templates are compiled with their
    constant texts already translated into it (see `TranslatedConstants`)."""
    env = SharedGlobalsEnvironment(
        extensions=[TranslatedConstants],
        # The three locales' compiled pages, packages' fragments and mails.
        cache_size=1000,
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "htm", "xml"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates change with a release, not while serving: no stat() per render
        # (DEBUG=1 for editing them live).
        auto_reload=os.environ.get("DEBUG", "") == "1",
    )
    env.context_class = DirectCallContext
    # Plain functions rather than jinja2.ext.i18n's wrappers: several times faster per call,
    # and autoescaping still applies to the whole translated, formatted text.
    env.globals.update(
        _=i18n.gettext,
        gettext=i18n.gettext,
        ngettext=i18n.ngettext,
        format_money=i18n.format_money,
        format_number=i18n.format_number,
        format_percent=i18n.format_percent,
        format_compact=i18n.format_compact,
        format_dt=i18n.format_dt,
        format_deadline=i18n.format_deadline,
        zone_label=i18n.zone_label,
        zone_offset=i18n.zone_offset,
        viewer_timezone=i18n.viewer_timezone,
        format_day=i18n.format_day,
        format_moment=i18n.format_moment,
        weekday_names=i18n.weekday_names,
        get_locale=i18n.get_locale,
        supported_locales=i18n.SUPPORTED_LOCALES,
        locale_name=i18n.locale_display_name,
        label=label,
        label_of=label_in,
        humanise=humanise,
        language_name=language_name,
        language_names=language_names,
        country_name=country_name,
        zone_name=zone_name,
        localized=content.localized,
        content_locales=content.CONTENT_LOCALES,
        content_form_key=content.form_key,
        errors_in=content.errors_in,
    )
    env.filters["tr"] = content.tr
    env.translation_locale = locale  # type: ignore[attr-defined]
    return env


environment = build_environment()
# One per locale, sharing the globals (and the loader's files): pages, fragments and mails
# take the one of the locale they are rendered in.
_environments = {locale: build_environment(locale) for locale in i18n.SUPPORTED_LOCALES}
for _env in _environments.values():
    _env.globals = environment.globals
_compiled_for_catalogues = i18n.catalogue_version()


def environment_for(locale: str) -> Environment:
    """The environment whose templates read in `locale` (the plain one for another)."""
    global _compiled_for_catalogues
    if _compiled_for_catalogues != i18n.catalogue_version():
        for env in _environments.values():  # a package added texts: translate again
            if env.cache is not None:
                env.cache.clear()
        _compiled_for_catalogues = i18n.catalogue_version()
    return _environments.get(locale, environment)


class LocalisedTemplates(Jinja2Templates):
    """Starlette's templates, taken from the environment of the request's locale (the
    account's or the browser's, known by the time a page is rendered)."""

    def get_template(self, name: str) -> Any:
        return environment_for(i18n.get_locale()).get_template(name)


def request_context(request: Request) -> dict[str, Any]:
    state = request.state
    return {
        "current_user": getattr(state, "user", None),
        "memberships": getattr(state, "memberships", []),
        "active_organisation": getattr(state, "active_organisation", None),
        "csrf_token": request.scope.get("session", {}).get("csrf", ""),
        "flashes": getattr(state, "flashes", []),
        "nav_links": getattr(request.app.state, "nav_links", []),
    }


templates = LocalisedTemplates(env=environment, context_processors=[request_context])


def render_fragment(request: Request, template_name: str, context: dict[str, Any]) -> Markup:
    """A fragment rendered as a page would render it (the user, CSRF token, …) plus `context`.

    Its variables are the context's keys, and the whole context is `context` too.
    """
    template = environment_for(i18n.get_locale()).get_template(template_name)
    values = {"request": request, **request_context(request), **context, "context": context}
    return Markup(template.render(**values))


def render_text(template_name: str, context: dict[str, Any]) -> str:
    return environment_for(i18n.get_locale()).get_template(template_name).render(**context)
