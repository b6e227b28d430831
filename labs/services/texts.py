"""Names and descriptions that lab staff type in several languages (ecosystem.content): the
inputs of a staff form's language tabs, checked, as the columns a lab, a machine or a training
session stores."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ecosystem import i18n
from ecosystem.content import CONTENT_LOCALES, form_key, texts_from_form
from ecosystem.i18n import gettext as _

# `name__ko`: a field and a language, as content.form_key writes them
CONTENT_KEY = re.compile(r"^([a-z_]+)__(.*)$")


def form_texts(form: Mapping[str, Any], limits: Mapping[str, int]) -> dict[str, str]:
    """The language tabs' inputs of a posted form (`name__vi`, …, `content_locale`), for the
    service to check and for the form to show again; inputs of unknown languages included,
    so that the service refuses them rather than dropping them unseen."""
    picked: dict[str, str] = {}
    for key in form:
        match = CONTENT_KEY.match(key)
        if key == "content_locale" or (match and match.group(1) in limits):
            picked[key] = str(form.get(key) or "")
    # A plain input (`name`, as older forms send it) is the main language's text.
    own_locale = picked.get("content_locale") or i18n.DEFAULT_LOCALE
    for field in limits:
        if field in form and form_key(field, own_locale) not in picked:
            picked[form_key(field, own_locale)] = str(form.get(field) or "")
    return picked


def default_locale() -> str:
    """The main language a new object's form starts with: the staff member's own."""
    current = i18n.get_locale()
    return current if current in CONTENT_LOCALES else i18n.DEFAULT_LOCALE


def read_texts(
    values: Mapping[str, Any],
    errors: dict[str, str],
    limits: Mapping[str, int],
    required: Mapping[str, str],
) -> dict[str, Any]:
    """The fields to store from a form's language tabs: each field's main-language text (its
    plain column), `content_locale` and `translations`. Problems go to `errors`, keyed by
    input name: a language that is not offered, a text too long, a missing main-language text
    of a `required` field (the message is the value). Blank inputs are left out."""
    own_locale = str(values.get("content_locale") or i18n.DEFAULT_LOCALE).strip()
    if own_locale not in CONTENT_LOCALES:
        errors["content_locale"] = _("Choose one of the offered values.")
        own_locale = i18n.DEFAULT_LOCALE
    for key in values:
        match = CONTENT_KEY.match(key)
        if match and match.group(1) in limits and match.group(2) not in CONTENT_LOCALES:
            errors.setdefault("content_locale", _("Choose one of the offered values."))
    own, translations, problems = texts_from_form(values, limits, own_locale, limits)
    errors.update(problems)
    for field, message in required.items():
        if field in own:
            continue
        errors.setdefault(form_key(field, own_locale), message)
    return {
        **{field: own.get(field, "") for field in limits},
        "content_locale": own_locale,
        "translations": translations,
    }
