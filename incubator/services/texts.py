"""Texts that staff type in several languages (ecosystem.content): the name/title and the
description of programmes and calls for applications. Every rule of such a form is here."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ecosystem.content import CONTENT_LOCALES, form_key, texts_from_form
from ecosystem.errors import Invalid
from ecosystem.i18n import _

DESCRIPTION_MAX = 5000
PROGRAMME_TEXTS = {"name": 200, "description": DESCRIPTION_MAX}
CALL_TEXTS = {"title": 200, "description": DESCRIPTION_MAX}
_LOCALISED_KEY = re.compile(r"^([a-z_]+)__(.*)$")


def input_names(limits: Mapping[str, int]) -> tuple[str, ...]:
    """Every input of a form's translatable fields: `content_locale`, `name`, `name__vi`, …"""
    names = ["content_locale"]
    for field in limits:
        names += [field, *(form_key(field, locale) for locale in CONTENT_LOCALES)]
    return tuple(names)


def read_texts(
    values: Mapping[str, Any],
    limits: Mapping[str, int],
    required: str,
    required_message: str,
    extra_keys: Iterable[str] = (),
) -> tuple[str, dict[str, str], dict[str, dict[str, str]]]:
    """The main language, its texts (for the plain columns) and the other languages' texts (for
    `translations`) of a staff form or an API body; Invalid (422) naming each wrong input: a
    language that is not offered, a text too long, the main language's `required` text
    missing. `extra_keys` are other input names seen (a form's keys), checked for languages."""
    errors: dict[str, str] = {}
    raw = values.get("content_locale")
    locale = str(raw).strip().lower() if isinstance(raw, str) and raw.strip() else "vi"
    if locale not in CONTENT_LOCALES:
        errors["content_locale"] = _("Choose one of the offered languages.")
        locale = "vi"
    for key in [*values.keys(), *extra_keys]:
        match = _LOCALISED_KEY.match(str(key))
        if match and match.group(1) in limits and match.group(2) not in CONTENT_LOCALES:
            errors["content_locale"] = _("Choose one of the offered languages.")
    own, translations, too_long = texts_from_form(values, limits.keys(), locale, limits)
    errors.update(too_long)
    if required not in own and not any(k.startswith(f"{required}__") for k in too_long):
        key = form_key(required, locale)
        if values.get(key) is None and values.get(required) is not None:
            key = required
        errors[key] = required_message
    if errors:
        raise Invalid(_("Please correct the highlighted fields."), errors)
    return locale, own, translations
