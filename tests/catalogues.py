"""Checks shared by every package's translation tests (tests/*/test_language.py)."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[#0 +-]*(?:\d+|\*)?(?:\.\d+)?([diouxXeEfFgGcrsa%])")


def load_catalogue(directory: Path, locale: str) -> Catalog:
    with (directory / locale / "LC_MESSAGES" / "messages.po").open("rb") as po_file:
        return read_po(po_file, locale=locale)


def placeholders(text: str) -> list[tuple[str | None, str]]:
    return sorted((name, kind) for name, kind in PLACEHOLDER.findall(text) if kind != "%")


def extracted_messages(config: str, folders: tuple[str, ...]) -> dict[str, set[str]]:
    """Every msgid extracted as the Babel `config` says, with the files it comes from."""
    with (ROOT / config).open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, config)
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    found: dict[str, set[str]] = {}
    for folder in folders:
        for filename, _lineno, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map, options_map, keywords=keywords
        ):
            msgid = message if isinstance(message, str) else message[0]
            found.setdefault(msgid, set()).add(f"{folder}/{filename}")
    return found


# The translated languages (English is the msgids themselves) and their plural rules: neither
# Vietnamese nor Korean inflects for number ("nplurals=1; plural=0;").
TRANSLATED_LOCALES = ("vi", "ko")
PLURAL_RULES = {"vi": (1, "0"), "ko": (1, "0")}


def vietnamese_problems(catalogue: Catalog) -> list[tuple]:
    """Why a Vietnamese catalogue is not complete and well formed (empty when it is)."""
    return catalogue_problems(catalogue, "vi")


def korean_problems(catalogue: Catalog) -> list[tuple]:
    return catalogue_problems(catalogue, "ko")


def untranslated_only(problems: list[tuple]) -> bool:
    """True when every problem is a message still to translate (a catalogue being filled)."""
    return all(problem[0] == "untranslated" for problem in problems)


def catalogue_problems(catalogue: Catalog, locale: str) -> list[tuple]:
    """Why a catalogue of `locale` (vi, ko) is not complete and well formed (empty when it is)."""
    problems: list[tuple] = []
    if catalogue.locale_identifier != locale or catalogue.charset.lower() != "utf-8":
        problems.append(("header", catalogue.locale_identifier, catalogue.charset))
    plurals, expression = PLURAL_RULES[locale]
    if catalogue.num_plurals != plurals or catalogue.plural_expr != expression:
        problems.append(("plural rule", catalogue.plural_expr))
    if catalogue.fuzzy or catalogue.obsolete:
        problems.append(("fuzzy or obsolete", catalogue.fuzzy, list(catalogue.obsolete)))
    for message in (m for m in catalogue if m.id):
        if message.fuzzy:
            problems.append(("fuzzy", message.id))
        strings = message.string if message.pluralizable else (message.string,)
        msgids = message.id if message.pluralizable else (message.id,)
        if message.pluralizable and len(strings) != catalogue.num_plurals:
            problems.append(("plural forms", message.id))
        for string in strings:
            if not string or not string.strip():
                problems.append(("untranslated", message.id))
            # The same placeholders, each as often and of the same type, as the English text.
            elif placeholders(string) != placeholders(msgids[-1]):
                problems.append(("placeholders", message.id, string))
            else:
                params = {name: 1 for name, _kind in placeholders(msgids[0]) if name}
                try:
                    string % params if params else None
                except (KeyError, TypeError, ValueError) as exc:
                    problems.append(("format", message.id, repr(exc)))
    problems += [("check", m.id, str(e)) for m, errors in catalogue.check() for e in errors]
    return problems
