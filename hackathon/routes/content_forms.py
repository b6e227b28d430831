"""The staff forms' texts in several languages (ecosystem.content): the contest's title,
description and eligibility in one tab per language, and the other languages of tracks,
prizes and criteria as lines (`code | language | name | description`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ecosystem import content
from ecosystem.errors import Invalid
from ecosystem.i18n import _
from hackathon.schemas import MAX_TEXT

CONTEST_TEXTS = ("title", "description", "eligibility")
LIMITS = {"title": 200, "description": MAX_TEXT, "eligibility": MAX_TEXT}
TAB_KEYS = tuple(
    content.form_key(name, locale) for name in CONTEST_TEXTS for locale in content.CONTENT_LOCALES
)
# the other languages of a contest's parts, one textarea each
LINE_FIELDS = ("track_translations", "prize_translations", "criterion_translations")


def tab_values(form: Mapping[str, Any]) -> dict[str, str]:
    """What the form's tabs said, kept as typed (also when it is refused)."""
    values = {key: str(form.get(key) or "").strip() for key in TAB_KEYS if key in form}
    locale = str(form.get("content_locale") or "").strip()
    values["content_locale"] = locale
    for name in CONTEST_TEXTS:  # the plain input (older forms): the main language's text
        if name in form:
            values[name] = str(form.get(name) or "").strip()
            values.setdefault(content.form_key(name, locale or "vi"), values[name])
    return values


def contest_texts(values: Mapping[str, str]) -> dict[str, Any]:
    """The schema's `title`, `description`, `eligibility`, `content_locale`, `translations`
    from the tabs; Invalid (422, keyed by input) for a text that is too long."""
    locale = values.get("content_locale") or "vi"
    own, translations, errors = content.texts_from_form(values, CONTEST_TEXTS, locale, LIMITS)
    if errors:
        raise Invalid(_("Please correct the highlighted fields."), fields=errors)
    return {
        "title": own.get("title", ""),
        "description": own.get("description", ""),
        "eligibility": own.get("eligibility", ""),
        "content_locale": locale,
        "translations": translations,
    }


def tab_errors(errors: Mapping[str, str], locale: str) -> dict[str, str]:
    """Errors of the schema's plain fields shown at their tab's input (`title__vi`)."""
    shown = dict(errors)
    for name in CONTEST_TEXTS:
        if name in errors:
            shown[content.form_key(name, locale)] = errors[name]
    parts_of = {"tracks": LINE_FIELDS[0], "prizes": LINE_FIELDS[1], "criteria": LINE_FIELDS[2]}
    for key in errors:
        head = key.split(".")[0]
        if head in parts_of and ".translations" in key:
            shown.setdefault(parts_of[head], errors[key])
        if key.startswith("translations."):
            parts = key.split(".")
            if len(parts) >= 3:
                shown[content.form_key(parts[2], parts[1])] = errors[key]
    return shown


def _rows(text: str, parts: int) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if line.strip():
            cells = [cell.strip() for cell in line.split("|")]
            rows.append((cells + [""] * parts)[:parts])
    return rows


def part_translations(
    text: str, field: str, known: list[str], removed: Iterable[str] = ()
) -> dict[str, dict[str, dict]]:
    """Lines `key | language | name | description` (a prize's key is its number in the prize
    list, from 1; it has no description) → {key: {language: {"name", "description"}}}. The
    language is checked by the schema; the lines of a part the same edit removes (`removed`)
    go with it; another unknown key is refused here (422 on `field`)."""
    found: dict[str, dict[str, dict]] = {}
    with_description = field != "prize_translations"
    gone = set(removed) - set(known)
    for key, locale, name, description in _rows(text, 4):
        if key in gone:
            continue
        if key not in known:
            message = _(
                "Unknown key “%(key)s”: use one of %(keys)s.", key=key, keys=", ".join(known)
            )
            raise Invalid(message, fields={field: message})
        texts = {"name": name}
        if with_description:
            texts["description"] = description
        found.setdefault(key, {})[locale] = texts
    return found


def part_lines(items: list, keys: list[str], with_description: bool = True) -> str:
    """The textarea of the other languages of tracks, prizes or criteria, from stored rows."""
    lines = []
    for key, item in zip(keys, items, strict=True):
        for locale, texts in sorted((item.translations or {}).items()):
            if not isinstance(texts, Mapping) or locale == item.content_locale:
                continue
            cells = [key, locale, str(texts.get("name", ""))]
            if with_description:
                cells.append(str(texts.get("description", "")))
            lines.append(" | ".join(cells).rstrip(" |"))
    return "\n".join(lines)
