"""Content in several languages: names and descriptions that staff type in vi, en and ko.

A model with translatable content keeps the text of its own language in its plain columns
(`name`, `description`, …), says which language that is in `content_locale`, and keeps the
other languages in `translations`, a JSON object `{"en": {"name": "…"}, "ko": {…}}`. Readers
see their own language when it exists, else the first language of their fallback order that
does, marked as a fallback (`Localized.is_fallback`, shown with the `lang` attribute and the
language's name by the `translated` macro in templates/_content.html).

Use `content_fields()` in a model, `localized()` (or the `tr` filter in templates) to read, and
`texts_from_form()` / `form_values()` with the `content_tabs` macro for staff forms.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tortoise import fields

from ecosystem import i18n

CONTENT_LOCALES: tuple[str, ...] = ("vi", "en", "ko")
# What a reader sees when their language is missing: Vietnamese first in the province, then
# English, the partners' common language; Korean readers get English before Vietnamese.
FALLBACK_ORDER: dict[str, tuple[str, ...]] = {
    "vi": ("vi", "en", "ko"),
    "en": ("en", "vi", "ko"),
    "ko": ("ko", "en", "vi"),
}


def content_fields() -> tuple[fields.CharField, fields.JSONField]:
    """`content_locale, translations = content_fields()` in a model's class body."""
    return (
        fields.CharField(max_length=8, default="vi"),
        fields.JSONField(default=dict),
    )


@dataclass(frozen=True, slots=True)
class Localized:
    """One field's text as shown to a reader: in which language, and whether it is a fallback."""

    text: str
    locale: str
    is_fallback: bool

    def __str__(self) -> str:
        return self.text

    def __bool__(self) -> bool:
        return bool(self.text)


def texts_of(obj: Any, field: str) -> dict[str, str]:
    """Every language's non-blank text of `field` on `obj` (its own language included)."""
    own_locale = getattr(obj, "content_locale", None) or i18n.DEFAULT_LOCALE
    found: dict[str, str] = {}
    translations = getattr(obj, "translations", None) or {}
    if isinstance(translations, Mapping):
        for locale, values in translations.items():
            if isinstance(values, Mapping) and str(values.get(field) or "").strip():
                found[locale] = str(values[field])
    own = getattr(obj, field, None)
    if own is not None and str(own).strip():
        found[own_locale] = str(own)
    return found


def localized(obj: Any, field: str, locale: str | None = None) -> Localized:
    """`field` of `obj` in `locale` (default: the current one), else its first fallback."""
    wanted = locale or i18n.get_locale()
    texts = texts_of(obj, field)
    for candidate in FALLBACK_ORDER.get(wanted, (wanted, *CONTENT_LOCALES)):
        if candidate in texts:
            return Localized(texts[candidate], candidate, candidate != wanted)
    own_locale = getattr(obj, "content_locale", None) or i18n.DEFAULT_LOCALE
    return Localized(str(getattr(obj, field, "") or ""), own_locale, False)


def tr(obj: Any, field: str) -> str:
    """The text only, for titles, options and attributes (`{{ lab|tr("name") }}`)."""
    return localized(obj, field).text


def form_key(field: str, locale: str) -> str:
    """The input name of one field in one language in a staff form (`name__ko`)."""
    return f"{field}__{locale}"


def texts_from_form(
    form: Mapping[str, Any],
    field_names: Iterable[str],
    own_locale: str,
    max_lengths: Mapping[str, int] | None = None,
) -> tuple[dict[str, str], dict[str, dict[str, str]], dict[str, str]]:
    """What a staff form with one tab per language says: the texts in the main language (for
    the plain columns), the other languages' texts (for `translations`), and errors keyed by
    input name.

    Reads `name__vi`, `name__en`, `name__ko`, …; the main language's text may also come in the
    plain input (`name`), as older forms and the JSON API send it. Blank inputs are left out;
    whether a main-language text is required is the caller's rule.
    """
    limits = max_lengths or {}
    own: dict[str, str] = {}
    translations: dict[str, dict[str, str]] = {}
    errors: dict[str, str] = {}
    for field in field_names:
        for locale in CONTENT_LOCALES:
            key = form_key(field, locale)
            raw = form.get(key)
            if raw is None and locale == own_locale:
                raw, key = form.get(field), field
            text = str(raw or "").strip()
            if not text:
                continue
            limit = limits.get(field)
            if limit is not None and len(text) > limit:
                errors[key] = i18n.gettext("At most %(n)d characters.", n=limit)
            elif locale == own_locale:
                own[field] = text
            else:
                translations.setdefault(locale, {})[field] = text
    return own, translations, errors


def form_values(obj: Any, field_names: Iterable[str]) -> dict[str, str]:
    """The `name__vi`-style inputs of a staff form, filled from a stored object."""
    values: dict[str, str] = {
        "content_locale": getattr(obj, "content_locale", None) or i18n.DEFAULT_LOCALE
    }
    for field in field_names:
        for locale, text in texts_of(obj, field).items():
            values[form_key(field, locale)] = text
    return values


def errors_in(errors: Mapping[str, str], locale: str) -> bool:
    """Whether any error belongs to an input of `locale` (its tab opens to show it)."""
    return any(key.endswith(f"__{locale}") for key in errors)


def normalise_content_locale(value: str | None) -> str:
    """A stored content language: one of CONTENT_LOCALES, Vietnamese when unknown."""
    short = (value or "").strip().lower()[:2]
    return short if short in CONTENT_LOCALES else i18n.DEFAULT_LOCALE
