"""Canonical SHA-256 of the inputs behind a set of contest results.

Canonical form: a JSON document ``{"format": ..., "parameters": ..., "scores": [...]}``
serialised with sorted keys, no insignificant whitespace and UTF-8 text. Every score row
(a mapping or a sequence) is made canonical and the rows are sorted by their own canonical
JSON, so the order of the log never matters (repeated rows are kept: the log is a
multiset). Values are normalised so that equal numbers hash equally: integral floats and
``Decimal`` values become integers (``7.0`` -> ``7``), other numbers their shortest
round-trip float text, ``-0.0`` becomes ``0``; tuples become lists, sets become sorted
lists, datetimes and dates ISO 8601 text, UUIDs and enums their value. NaN and infinities
are rejected, as are types outside this list.

Guarantee: the same inputs, in any row order and any key order, give the same hash.
Lists inside ``parameters`` keep their order (it may carry meaning, e.g. a tie-break rule).
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

FORMAT = "results-inputs/v1"

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]


def results_hash(score_log: Iterable[object], parameters: Mapping[str, object]) -> str:
    """Hex SHA-256 of the canonical serialisation of ``score_log`` and ``parameters``."""
    return hashlib.sha256(canonical_json(score_log, parameters).encode("utf-8")).hexdigest()


def canonical_json(score_log: Iterable[object], parameters: Mapping[str, object]) -> str:
    """The exact text that ``results_hash`` digests (useful for audits and debugging)."""
    rows = [_dumps(_canonical(row)) for row in score_log]
    document = {
        "format": FORMAT,
        "parameters": _canonical(parameters),
        "scores": [json.loads(row) for row in sorted(rows)],
    }
    return _dumps(document)


def _dumps(value: JsonValue) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


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
        return sorted(items, key=_dumps)
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
    if not math.isfinite(value):
        raise ValueError("NaN and infinite values cannot be hashed")
    if value == int(value):
        return int(value)
    return float(value)
