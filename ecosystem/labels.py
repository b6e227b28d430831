"""Display names of stored values (spheres, roles, states), translated when shown.

Stored values stay stable English identifiers; what people read comes from here. A value
no table knows is a bug: the tests turn `STRICT` on (tests/conftest.py) and it raises
`MissingLabel`; in production it is logged and shown humanised ("Laser cutter" for
"laser_cutter", translated when the catalogues have that text), never as the raw key.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import Enum
from functools import lru_cache

from babel import Locale, UnknownLocaleError

from ecosystem.i18n import get_locale, gettext, zone_label

logger = logging.getLogger(__name__)

STRICT = False  # tests set it: an unknown value raises instead of being humanised


class MissingLabel(LookupError):
    """A stored value has no display name in its label table."""


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated later, when displayed."""
    return message


LABELS: dict[str, str] = {
    # spheres of the triple helix and beyond
    "government": N_("Government"),
    "enterprise": N_("Enterprise"),
    "university": N_("University"),
    "research_institute": N_("Research institute"),
    "startup": N_("Startup"),
    "investor": N_("Investor"),
    "association": N_("Association / NGO"),
    "international_partner": N_("International partner"),
    # membership roles and states
    "owner": N_("Owner"),
    "admin": N_("Administrator"),
    "member": N_("Member"),
    "invited": N_("Invited"),
    "requested": N_("Requested to join"),
    "active": N_("Active"),
    "left": N_("Left"),
    # verification of organisations
    "unverified": N_("Unverified"),
    "pending": N_("Awaiting verification"),
    "verified": N_("Verified"),
    "rejected": N_("Rejected"),
    # delivery of emails in the outbox
    "queued": N_("Queued"),
    "sent": N_("Sent"),
    "logged": N_("Logged (no mail server)"),
    "failed": N_("Failed"),
}


def label_in(table: Mapping[str, str], value: object) -> str:
    """The translated display name of a stored value (an enum member or its string) in
    `table` (value → msgid). An unknown value raises `MissingLabel` under `STRICT` (tests);
    otherwise it is logged and shown humanised, never as the stored key."""
    key = str(value.value if isinstance(value, Enum) else value)
    if key in table:
        return gettext(table[key])
    if STRICT:
        raise MissingLabel(f"no label for {key!r} (known: {', '.join(sorted(table))})")
    logger.warning("no label for the stored value %r", key)
    return humanise(key)


def humanise(key: str) -> str:
    """A stored identifier as words ("revenue_vnd" → "Revenue vnd"), translated when the
    catalogues have that text: the last resort for a value no label table knows."""
    words = " ".join(str(key).replace("_", " ").replace("-", " ").split())
    return gettext(words[:1].upper() + words[1:]) if words else ""


def label(value: str | Enum) -> str:
    """The display name of one of the kernel's stored values (`LABELS`)."""
    return label_in(LABELS, value)


# --- codes that Babel names: languages, countries, time zones -----------------------------


def language_name(code: str) -> str:
    """A language code as its name in the viewer's language ("ko" → "Tiếng Hàn", "Korean")."""
    return _language_name(str(code), get_locale())


# Babel's names are fixed data: a page full of them is looked up once per (code, locale)
# (Locale.parse alone cost 10 µs a call, 24 times on a directory page).
@lru_cache(maxsize=1024)
def _language_name(code: str, locale: str) -> str:
    try:
        name = Locale.parse(code.strip()).get_display_name(locale)
    except (ValueError, TypeError, UnknownLocaleError):
        name = None
    return name or humanise(code)


def language_names(codes: str | list[str]) -> str:
    """Comma-separated codes ("vi,en") as names, in the viewer's language."""
    items = codes.split(",") if isinstance(codes, str) else codes
    return ", ".join(language_name(c) for c in items if str(c).strip())


def country_name(code: str) -> str:
    """An ISO country code as its name in the viewer's language ("VN" → "Việt Nam")."""
    return _country_name(str(code), get_locale())


@lru_cache(maxsize=2048)
def _country_name(code: str, locale: str) -> str:
    return _territories(locale).get(code.strip().upper()) or code


@lru_cache(maxsize=16)
def _territories(locale: str) -> Mapping[str, str]:
    return Locale.parse(locale).territories


def zone_name(timezone: str) -> str:
    """A time zone as people name it ("Asia/Seoul" → "Giờ Hàn Quốc"), never the tz key."""
    try:
        return zone_label(timezone)
    except (LookupError, ValueError):
        return timezone
