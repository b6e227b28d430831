"""Canonical SHA-256 of the inputs behind a set of contest results (RFC 8785 JSON).

Document: ``{"format": "results-inputs/v2", "parameters": ..., "scores": [...]}`` where
``parameters`` carries every input other than the log – the contest and round, the model,
the rubric (criteria with weights, scales and steps), the tracks and the set of entries
with their track and site – and ``scores`` the log rows (score events or comparisons).

Encoding: the JSON Canonicalization Scheme of RFC 8785, so a verifier in another language
reproduces the text with any JCS library: object keys sorted by their UTF-16 code units, no
whitespace, strings as ECMAScript's ``JSON.stringify`` writes them (UTF-8, only ``"``, ``\\``
and control characters escaped), numbers as ECMAScript writes a double (``7.0`` -> ``7``,
``1e-7`` -> ``1e-7``, ``1e21`` -> ``1e+21``). The rows of ``scores`` are a multiset: they are
sorted by the UTF-8 bytes of their own canonical text (repeated rows kept), so the order of
the log never matters; lists inside ``parameters`` keep their order.

Values are normalised first: ``Decimal`` and ``Fraction`` become doubles, ``-0.0`` is ``0``;
tuples become lists, sets sorted lists, datetimes and dates ISO 8601 text, UUIDs and enums
their value. NaN, infinities, integers beyond 2**53 (not exact as doubles) and other types
are rejected.

Guarantee: the same inputs, in any row order and any key order, give the same hash.
``results_hash_v1`` keeps the former encoding (``results-inputs/v1``: Python's float text,
inputs without entries and tracks) so results published with it stay verifiable.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import math
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from fractions import Fraction

FORMAT = "results-inputs/v2"
FORMAT_V1 = "results-inputs/v1"
MAX_EXACT_INT = 2**53

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]


def results_hash(score_log: Iterable[object], parameters: Mapping[str, object]) -> str:
    """Hex SHA-256 of the canonical serialisation of ``score_log`` and ``parameters``."""
    return hashlib.sha256(canonical_json(score_log, parameters).encode("utf-8")).hexdigest()


def canonical_json(score_log: Iterable[object], parameters: Mapping[str, object]) -> str:
    """The exact text that ``results_hash`` digests (RFC 8785; for audits and verifiers)."""
    rows = sorted((jcs(_canonical(row)) for row in score_log), key=lambda t: t.encode("utf-8"))
    return (
        '{"format":'
        + jcs(FORMAT)
        + ',"parameters":'
        + jcs(_canonical(parameters))
        + ',"scores":['
        + ",".join(rows)
        + "]}"
    )


def jcs(value: JsonValue) -> str:
    """RFC 8785 text of a JSON value (after ``_canonical``)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        value.encode("utf-8")  # a lone surrogate cannot be hashed: UnicodeEncodeError
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        if abs(value) > MAX_EXACT_INT:
            raise ValueError("integers beyond 2**53 are not exact in JSON numbers")
        return str(value)
    if isinstance(value, float):
        return es6_number(value)
    if isinstance(value, list):
        return "[" + ",".join(jcs(item) for item in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda key: key.encode("utf-16-be"))
        return "{" + ",".join(jcs(key) + ":" + jcs(value[key]) for key in keys) + "}"
    raise TypeError(f"cannot encode a value of type {type(value).__name__}")


def es6_number(value: float) -> str:
    """A double as ECMAScript's Number.prototype.toString writes it (RFC 8785, 3.2.2.3)."""
    if not math.isfinite(value):
        raise ValueError("NaN and infinite values cannot be hashed")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # repr gives the shortest digits that round-trip, as ECMAScript requires.
    _sign, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    n = len(digit_tuple) + int(exponent)  # value = 0.digits x 10**n
    k = len(digits)
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        power = n - 1
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        text = mantissa + "e" + ("+" if power > 0 else "-") + str(abs(power))
    return sign + text


def results_hash_v1(score_log: Iterable[object], parameters: Mapping[str, object]) -> str:
    """The former hash (``results-inputs/v1``), for results published before v2."""
    rows = [_dumps_v1(_canonical_v1(row)) for row in score_log]
    document = {
        "format": FORMAT_V1,
        "parameters": _canonical_v1(parameters),
        "scores": [json.loads(row) for row in sorted(rows)],
    }
    return hashlib.sha256(_dumps_v1(document).encode("utf-8")).hexdigest()


def _dumps_v1(value: JsonValue) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canonical_v1(value: object) -> JsonValue:
    normal = _canonical(value)

    def integral(item: JsonValue) -> JsonValue:
        if isinstance(item, float) and item == int(item):
            return int(item)
        if isinstance(item, list):
            return [integral(part) for part in item]
        if isinstance(item, dict):
            return {key: integral(part) for key, part in item.items()}
        return item

    return integral(normal)


def _canonical(value: object) -> JsonValue:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, enum.Enum):
        return _canonical(value.value)
    if isinstance(value, int | float | Decimal | Fraction):
        return _canonical_number(value)
    if isinstance(value, Mapping):
        return _canonical_mapping(value)
    if isinstance(value, set | frozenset):
        items = [_canonical(item) for item in value]
        return sorted(items, key=lambda item: jcs(item).encode("utf-8"))
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"cannot hash a value of type {type(value).__name__}")


def _canonical_mapping(value: Mapping[object, object]) -> dict[str, JsonValue]:
    result: dict[str, JsonValue] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise TypeError(f"mapping keys must be strings, got {type(key).__name__}")
        result[key] = _canonical(item)
    return result


def _canonical_number(value: int | float | Decimal | Fraction) -> int | float:
    if isinstance(value, int):
        return value
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("NaN and infinite values cannot be hashed")
    if number == 0:
        return 0
    return number
