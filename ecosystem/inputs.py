"""What a client may send, checked once for every edge (pages, forms, the JSON API).

- Text: no control characters. NUL cannot be stored by PostgreSQL at all (a bare 500 before
  this module), and no person types the others; tab, line feed and carriage return are
  allowed in bodies (multi-line text), nowhere in a path or query string. Lone surrogates
  (only JSON can spell them) cannot be encoded as UTF-8 for the database either.
- Dates: the app adds days and weeks to what it is given (a week view, an agenda, a usage
  period), which overflows near year 1 and 9999; a date outside `FIRST_DAY`..`LAST_DAY` is
  refused like a malformed one (`iso_date`, `iso_datetime`, `in_window`).
- JSON: at most `MAX_JSON_DEPTH` levels, integers of at most `MAX_INT_DIGITS` digits within a
  64-bit column, finite numbers (`loads`).
- Whole numbers: ASCII digits within a range (`whole_number`): `str.isdigit` also accepts
  "²" (which `int` refuses) and any number of digits (`int` refuses more than 4,300, and a
  database column fewer than 20). A path's `{id:int}` has at most 9 digits, so it always fits
  a 32-bit id column (a longer one matches no route: 404); importing this module installs
  that convertor, before any route is built (`ecosystem.web` and `ecosystem.restapi` do).
- Time zones: names the zone database knows (`known_zone`).

Refusals are `DomainError`s (or `ValueError` from the parsers, like the standard library's),
so every edge maps them to its own 4xx page or JSON error.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.convertors import IntegerConvertor, register_url_convertor

from ecosystem.errors import DomainError, Invalid, NotFound
from ecosystem.i18n import _

# C0 except tab/LF/CR, DEL, C1, and lone surrogates: refused in any text a client sends.
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# In an address (path, query string) not even tab or a line break.
_CONTROL_IN_ADDRESS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2199, 12, 31)
MAX_JSON_DEPTH = 32
MAX_INT_DIGITS = 19  # 2**63 has 19 digits: anything longer cannot fit a database column
INT64 = 2**63 - 1
INT32 = 2**31 - 1
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}")


def whole_number(raw: object, low: int = 0, high: int = INT32) -> int | None:
    """The whole number `raw` spells in ASCII digits if it lies in `low`..`high`, else None."""
    text = str(raw if raw is not None else "").strip()
    if not _WHOLE_NUMBER.fullmatch(text):
        return None
    number = int(text)
    return number if low <= number <= high else None


class _IdConvertor(IntegerConvertor):
    """`{name:int}` in a path: at most 9 digits, so below 2**31 (any id column)."""

    regex = "[0-9]{1,9}"


register_url_convertor("int", _IdConvertor())


def path_id(request: Any, name: str, message: str | None = None) -> int:
    """The row id in the path parameter `name` (`{name}` or `{name:int}`), else 404.

    An id is a whole number from 1 to 2**31 - 1: beyond, no row has it and no database
    integer holds it, so it is "not found", never a crash. `message` names what was not found
    (the API says so); pages say the page does not exist.
    """
    number = whole_number(request.path_params[name], low=1)
    if number is None:
        raise NotFound(message or _("This page does not exist."))
    return number


def whole_dong(raw: object, low: int = 0, high: int = 10**13 - 1) -> int | None:
    """An amount of dong as people type it ("1.500.000", "1,500,000", "1 500 000"), if it lies in
    `low`..`high`; else None. VND has no minor unit, so every separator is a thousands one."""
    text = str(raw if raw is not None else "")
    return whole_number(text.replace(".", "").replace(",", "").replace(" ", ""), low, high)


def has_control(text: str, multiline: bool = True) -> bool:
    pattern = _CONTROL_IN_TEXT if multiline else _CONTROL_IN_ADDRESS
    return pattern.search(text) is not None


def control_message() -> str:
    return _("This text contains control characters (such as NUL) that are not allowed.")


# --- dates --------------------------------------------------------------------------------


def in_window(value: date | datetime) -> bool:
    day = value.date() if isinstance(value, datetime) else value
    return FIRST_DAY <= day <= LAST_DAY


def window_message() -> str:
    return _(
        "Give a date between %(first)s and %(last)s.",
        first=FIRST_DAY.isoformat(),
        last=LAST_DAY.isoformat(),
    )


def iso_date(raw: str) -> date:
    """`date.fromisoformat` limited to the supported window (ValueError outside it)."""
    day = date.fromisoformat(raw.strip())
    if not in_window(day):
        raise ValueError(f"date outside {FIRST_DAY}..{LAST_DAY}")
    return day


def iso_datetime(raw: str) -> datetime:
    """`datetime.fromisoformat` limited to the supported window (ValueError outside it)."""
    moment = datetime.fromisoformat(raw.strip())
    if not in_window(moment):
        raise ValueError(f"date outside {FIRST_DAY}..{LAST_DAY}")
    return moment


def date_field(
    values: Mapping[str, Any], name: str, errors: dict[str, str], required: bool = True
) -> date | None:
    """The date typed in the form field `name` (YYYY-MM-DD, a local date), or None.

    A missing (when `required`) or malformed date is noted in `errors` under `name`, so a
    form can say every problem at once and keep what was typed.
    """
    raw = str(values.get(name) or "").strip()
    if not raw:
        if required:
            errors[name] = _("This field is required.")
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        errors[name] = _("Enter a date as YYYY-MM-DD.")
        return None
    if not in_window(day):
        errors[name] = window_message()
        return None
    return day


def optional_date(raw: str, name: str) -> date | None:
    """`date_field` for a single optional date: `Invalid` naming the field if malformed."""
    errors: dict[str, str] = {}
    day = date_field({name: raw}, name, errors, required=False)
    if errors:
        raise Invalid(errors[name], fields=errors)
    return day


def clamp_day(day: date) -> date:
    return min(max(day, FIRST_DAY), LAST_DAY)


def check_value(value: Any) -> str | None:
    """Why one validated value cannot be used (control characters, a date outside the
    window, an integer past 64 bits), else None. Looks inside lists, tuples and dicts."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if has_control(item):
                return control_message()
        elif isinstance(item, (date, datetime)):
            if not in_window(item):
                return window_message()
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            if abs(item) > INT64:
                return _("This number is too large.")
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
    return None


# --- time zones ---------------------------------------------------------------------------


def known_zone(name: str) -> ZoneInfo | None:
    """The zone of that IANA name, or None if the zone database does not know it."""
    if not name or has_control(name, multiline=False) or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def zone_message() -> str:
    return _("Unknown time zone: use a name such as Asia/Ho_Chi_Minh.")


def zone_or_invalid(name: str, field: str = "timezone") -> ZoneInfo:
    """The zone of that name, or Invalid (422) naming `field`."""
    zone = known_zone(name)
    if zone is None:
        raise Invalid(_("Please correct the highlighted fields."), fields={field: zone_message()})
    return zone


# --- JSON ---------------------------------------------------------------------------------


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(_("A number in the request body is too large."))
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(_("A number in the request body is too large."))
    return value


def _parse_constant(text: str) -> float:
    raise _Refused(_("NaN and Infinity are not JSON numbers."))


def _malformed(message: str) -> DomainError:
    return DomainError(message, code="malformed_json")


def loads(raw: bytes) -> Any:
    """Parse a JSON body or raise a 400 (malformed, nested too deep, a number too large)
    or a 422 naming the field that holds control characters."""
    try:
        data = json.loads(
            raw or b"null",
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except _Refused as exc:
        raise _malformed(exc.message) from None
    except RecursionError:
        raise _malformed(_("The request body is nested too deeply.")) from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise _malformed(_("The request body is not valid JSON.")) from exc
    _check_tree(data)
    return data


def _check_tree(data: Any) -> None:
    stack: list[tuple[Any, tuple[str, ...], int]] = [(data, (), 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise _malformed(_("The request body is nested too deeply."))
        if isinstance(item, str):
            if has_control(item):
                field = ".".join(path) or "body"
                raise Invalid(
                    _("Please correct the highlighted fields."), fields={field: control_message()}
                )
        elif isinstance(item, dict):
            for key, value in item.items():
                if has_control(key):
                    raise Invalid(
                        _("Please correct the highlighted fields."),
                        fields={"body": control_message()},
                    )
                stack.append((value, (*path, key), depth + 1))
        elif isinstance(item, list):
            stack.extend((value, path, depth + 1) for value in item)


# --- forms and addresses --------------------------------------------------------------------


def bad_text_in(pairs: Any) -> bool:
    """Whether any (name, value) pair of a form holds control characters (files skipped)."""
    for name, value in pairs:
        if has_control(name) or (isinstance(value, str) and has_control(value)):
            return True
    return False
