"""Translations (Babel), the current locale, and locale-aware formatting.

The current locale lives in a context variable set per request (and per job), so services
can translate their messages with `_()` without being handed a request.
"""

from __future__ import annotations

import contextvars
import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from functools import cache, lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import (
    format_date,
    format_datetime,
    format_time,
    get_day_names,
    get_timezone_name,
)
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import (
    format_compact_decimal,
    format_currency,
    format_decimal,
)
from babel.numbers import format_percent as babel_format_percent
from babel.support import NullTranslations, Translations

SUPPORTED_LOCALES = ("vi", "en", "ko")
DEFAULT_LOCALE = "vi"
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
LOCALE_NAMES = {"vi": "Tiếng Việt", "en": "English", "ko": "한국어"}
# The zone a new account gets from its organisation's country (others: the settings default).
COUNTRY_TIMEZONES = {"KR": "Asia/Seoul", "VN": "Asia/Ho_Chi_Minh"}

_current_locale: contextvars.ContextVar[str] = contextvars.ContextVar(
    "locale", default=DEFAULT_LOCALE
)
_current_timezone: contextvars.ContextVar[str] = contextvars.ContextVar(
    "timezone", default=DEFAULT_TIMEZONE
)

# Every package adds its own `locale/` folder here at import time of the app factory.
_catalogue_dirs: list[Path] = [Path(__file__).parent / "locale"]


_catalogue_version = 0  # goes up whenever a package adds its catalogues


def add_catalogue_dir(path: Path) -> None:
    global _catalogue_version
    if path not in _catalogue_dirs:
        _catalogue_dirs.append(path)
        translations_for.cache_clear()
        _messages_for.cache_clear()
        _catalogue_version += 1


def catalogue_version() -> int:
    """Changes when the catalogues do: what was translated ahead of time is stale then."""
    return _catalogue_version


def translation_in(locale: str, message: str) -> str:
    """`gettext(message)` as it reads in `locale` (no parameters)."""
    return _messages_for(locale).get(message, message)


@cache
def translations_for(locale: str) -> NullTranslations:
    """Compile the .po catalogues of every package in memory (no build step needed)."""
    merged: NullTranslations | None = None
    for directory in _catalogue_dirs:
        po_path = directory / locale / "LC_MESSAGES" / "messages.po"
        if not po_path.exists():
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=locale)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        translations = Translations(buffer)
        if merged is None:
            merged = translations
        else:
            merged.add_fallback(translations)  # type: ignore[union-attr]
    return merged or NullTranslations()


@cache
def _messages_for(locale: str) -> dict[str, str]:
    """msgid → text of `translations_for(locale)` as one dict, the first catalogue winning as
    in its fallback chain: `gettext` is a dict lookup instead of a walk down the packages'
    catalogues (a page translates dozens of texts)."""
    merged: dict[str, str] = {}
    translations: NullTranslations | None = translations_for(locale)
    while translations is not None:
        for key, text in getattr(translations, "_catalog", {}).items():
            if isinstance(key, str):  # plural forms are keyed by (msgid, n): ngettext's
                merged.setdefault(key, text)
        translations = translations._fallback  # type: ignore[attr-defined]
    return merged


def load_catalogues() -> None:
    """Compile every language's catalogues now – at startup – rather than on the first request
    that needs them (Vietnamese takes about 0.2 s of CPU, which that request would wait)."""
    for locale in SUPPORTED_LOCALES:
        _messages_for(locale)


def normalise_locale(value: str | None) -> str | None:
    if not value:
        return None
    short = value.strip().lower().replace("_", "-").split("-")[0]
    return short if short in SUPPORTED_LOCALES else None


def accepted_languages(header: str) -> list[str]:
    """The language tags of an `Accept-Language` header, most wanted first (q-values; a tag
    with q=0 or a malformed q is left out, equal weights keep the header's order)."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:32]):
        tag, _sep, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*" or len(tag) > 35:
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        if 0.0 < quality <= 1.0:
            weighted.append((-quality, position, tag.replace("_", "-")))
    return [tag for _q, _position, tag in sorted(weighted)]


def negotiate_locale(
    *candidates: str | None, accept_language: str = "", default: str | None = DEFAULT_LOCALE
) -> str | None:
    """The first supported candidate, else the best supported `Accept-Language` entry by its
    q-value (Babel's negotiation: "ko;q=0.9,en;q=0.8" is ko, "fr,en;q=0.5" is en)."""
    for candidate in candidates:
        if found := normalise_locale(candidate):
            return found
    if accept_language:
        if len(accept_language) <= 200:  # browsers send a few of the same headers: remembered
            found = _negotiated(accept_language)
        else:
            found = _negotiate(accept_language)
        if found:
            return found
    return default


def _negotiate(accept_language: str) -> str | None:
    preferred = accepted_languages(accept_language)
    found = Locale.negotiate(preferred, SUPPORTED_LOCALES, sep="-")
    return found.language if found else None


_negotiated = lru_cache(maxsize=512)(_negotiate)


def get_locale() -> str:
    return _current_locale.get()


def get_timezone() -> ZoneInfo:
    return ZoneInfo(_current_timezone.get())


def set_locale(locale: str, timezone: str | None = None) -> None:
    _current_locale.set(normalise_locale(locale) or DEFAULT_LOCALE)
    if timezone and is_zone(timezone):
        _current_timezone.set(timezone)


@lru_cache(maxsize=256)
def is_zone(name: str) -> bool:
    """A zone this machine knows (a stored name that no longer exists is skipped, not a 500)."""
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return False
    return True


@contextmanager
def use_locale(locale: str, timezone: str | None = None) -> Iterator[None]:
    locale_token = _current_locale.set(normalise_locale(locale) or DEFAULT_LOCALE)
    tz_token = _current_timezone.set(timezone or _current_timezone.get())
    try:
        yield
    finally:
        _current_locale.reset(locale_token)
        _current_timezone.reset(tz_token)


def gettext(message: str, **params: object) -> str:
    text = _messages_for(_current_locale.get()).get(message, message)
    return text % params if params else text


def ngettext(singular: str, plural: str, n: int, **params: object) -> str:
    text = translations_for(get_locale()).ngettext(singular, plural, n)
    return text % {"n": n, "num": n, **params}


_ = gettext


def format_money(amount: int, currency: str = "VND") -> str:
    """Amount in the currency's minor unit (VND has none)."""
    return _formatted_money(amount, currency, get_locale())


# Babel reads its patterns on every call; pages show the same few figures again and again.
@lru_cache(maxsize=4096)
def _formatted_money(amount: int, currency: str, locale: str) -> str:
    return format_currency(amount, currency, locale=_babel_locale(locale), currency_digits=True)


@lru_cache(maxsize=4096)
def _formatted_number(value: float | int, locale: str) -> str:
    return format_decimal(value, locale=_babel_locale(locale))


@cache
def _babel_locale(locale: str) -> Locale:
    return Locale.parse(locale)


def format_number(value: float | int, decimals: int | None = None) -> str:
    """A number in the viewer's locale ("70,8" in Vietnamese, "70.8" in English); with
    `decimals`, always that many digits after the separator ("1,0")."""
    if decimals is None:
        return _formatted_number(value, get_locale())
    return _formatted_fixed(float(value), decimals, get_locale())


def format_percent(fraction: float | int, decimals: int = 0) -> str:
    """A fraction as a percentage in the viewer's locale (0.708 → "70,8%" with one decimal)."""
    return _formatted_percent(float(fraction), decimals, get_locale())


def format_compact(value: float | int) -> str:
    """A large figure in short words of the viewer's locale ("1,2 Tr", "1.2M", "120만")."""
    return _formatted_compact(value, get_locale())


def _fraction_pattern(decimals: int) -> str:
    return "#,##0" + ("." + "0" * decimals if decimals > 0 else "")


@lru_cache(maxsize=4096)
def _formatted_fixed(value: float, decimals: int, locale: str) -> str:
    return format_decimal(value, format=_fraction_pattern(decimals), locale=_babel_locale(locale))


@lru_cache(maxsize=4096)
def _formatted_percent(value: float, decimals: int, locale: str) -> str:
    babel_locale = _babel_locale(locale)
    # The locale's own percent pattern (sign placement, spacing), with the digits asked for.
    pattern = babel_locale.percent_formats[None].pattern.replace(
        "#,##0", _fraction_pattern(decimals), 1
    )
    return babel_format_percent(value, format=pattern, locale=babel_locale)


@lru_cache(maxsize=4096)
def _formatted_compact(value: float | int, locale: str) -> str:
    return format_compact_decimal(value, format_type="short", fraction_digits=1, locale=locale)


def format_dt(value: datetime | None, fmt: str = "medium", timezone: str | None = None) -> str:
    if value is None:
        return ""
    tz = ZoneInfo(timezone) if timezone else get_timezone()
    return _formatted_dt(value, fmt, tz, get_locale())


@lru_cache(maxsize=4096)
def _formatted_dt(value: datetime, fmt: str, tz: ZoneInfo, locale: str) -> str:
    # An aware value is the same key as the same instant in any other zone, which is right:
    # it is shown in `tz`. Babel takes ~40 µs a call; a booking's mail shows each time twice.
    return format_datetime(value, format=fmt, tzinfo=tz, locale=_babel_locale(locale))


def zone_label(timezone: str) -> str:
    """A zone's short name for people, in the current locale: "Giờ Hàn Quốc", "Korean Time",
    "한국 시간" (Babel's generic metazone name; never the raw "Asia/Seoul" key)."""
    return _zone_label(timezone, get_locale())


@lru_cache(maxsize=512)
def _zone_label(timezone: str, locale: str) -> str:
    try:
        zone = ZoneInfo(timezone)
    except (ValueError, KeyError):
        return timezone
    if timezone in ("UTC", "Etc/UTC", "Etc/GMT", "GMT"):
        return "UTC"
    name = get_timezone_name(zone, width="long", locale=_babel_locale(locale))
    # Zones without a name of their own read "Unknown Region (…)" or an offset: say the offset.
    if not name or name.startswith(("+", "-", "GMT", "UTC")) or "(" in name:
        name = zone_offset(timezone)
    return name


def zone_offset(timezone: str, at: datetime | None = None) -> str:
    """The zone's offset from UTC at that moment (now by default): "UTC+7", "UTC+5:30"."""
    zone = ZoneInfo(timezone)
    offset = (at or datetime.now(zone)).astimezone(zone).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def viewer_timezone() -> str:
    """The key of the zone this request shows times in ("Asia/Seoul")."""
    return _current_timezone.get()


def format_deadline(value: datetime | None, timezone: str, fmt: str = "short") -> str:
    """A deadline in its own zone, named, then the viewer's clock at that moment when it reads
    differently: "17:00 15/3/27 Giờ Hàn Quốc · 15:00 Giờ Việt Nam" (the viewer's date too when
    it is another day there)."""
    if value is None:
        return ""
    own = f"{format_dt(value, fmt, timezone)} {zone_label(timezone)}"
    viewer = get_timezone()
    local, there = value.astimezone(viewer), value.astimezone(ZoneInfo(timezone))
    if viewer.key == timezone or local.replace(tzinfo=None) == there.replace(tzinfo=None):
        return own
    if local.date() == there.date():
        clock = format_time(local, format="short", locale=_babel_locale(get_locale()))
    else:
        clock = format_dt(value, fmt, viewer.key)
    return f"{own} · {clock} {zone_label(viewer.key)}"


def timezone_for_country(country: str | None, default: str = DEFAULT_TIMEZONE) -> str:
    return COUNTRY_TIMEZONES.get((country or "").upper(), default)


def format_day(value: date | datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(get_timezone()).date()
    return format_date(value, format=fmt, locale=_babel_locale(get_locale()))


def locale_display_name(locale: str) -> str:
    return LOCALE_NAMES.get(locale) or Locale.parse(locale).display_name or locale


def weekday_names(width: str = "wide") -> list[str]:
    """Monday … Sunday in the current locale (Babel's names; Monday first, as `date.weekday()`)."""
    return list(_weekday_names(get_locale(), width))


@lru_cache(maxsize=16)
def _weekday_names(locale: str, width: str) -> tuple[str, ...]:
    names = get_day_names(width, locale=_babel_locale(locale))
    return tuple(names[day] for day in range(7))


def format_moment(value: datetime | None, timezone: str | None = None) -> str:
    """A full date and a time without seconds ("Chủ Nhật, 6 tháng 12, 2026 11:00")."""
    if value is None:
        return ""
    tz = ZoneInfo(timezone) if timezone else get_timezone()
    local = value.astimezone(tz)
    babel_locale = _babel_locale(get_locale())
    day = format_date(local.date(), format="full", locale=babel_locale)
    clock = format_time(local, format="short", locale=babel_locale)
    pattern = str(babel_locale.datetime_formats.get("full", "{1} {0}"))
    return pattern.replace("{1}", day).replace("{0}", clock)
