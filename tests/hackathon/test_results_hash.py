"""Tests for the canonical hash of results inputs."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import math
import random
import shutil
import struct
import subprocess
import uuid
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hackathon.results_hash import canonical_json, es6_number, results_hash, results_hash_v1

LOG = [
    {"judge": "j1", "entry": "e1", "score": 71.5, "criteria": {"impact": 8, "team": 6}},
    {"judge": "j2", "entry": "e1", "score": 64.0, "criteria": {"impact": 7, "team": 5}},
    {"judge": "j1", "entry": "e2", "score": 80.25, "criteria": {"impact": 9, "team": 7}},
]
PARAMETERS = {"contest": "ai-2026", "k": 3, "method": "calibrated", "z": 1.96}


def test_hash_is_the_sha256_of_the_documented_canonical_text() -> None:
    # Written out by hand from the module docstring (sorted keys, no whitespace, 64.0 -> 64,
    # rows sorted by their own text), then digested by hashlib: what an outside verifier does.
    expected_text = (
        '{"format":"results-inputs/v2",'
        '"parameters":{"contest":"ai-2026","k":3,"method":"calibrated","z":1.96},'
        '"scores":['
        '{"criteria":{"impact":7,"team":5},"entry":"e1","judge":"j2","score":64},'
        '{"criteria":{"impact":8,"team":6},"entry":"e1","judge":"j1","score":71.5},'
        '{"criteria":{"impact":9,"team":7},"entry":"e2","judge":"j1","score":80.25}]}'
    )
    assert canonical_json(LOG, PARAMETERS) == expected_text
    expected = hashlib.sha256(expected_text.encode("utf-8")).hexdigest()
    assert results_hash(LOG, PARAMETERS) == expected
    # Non-ASCII names are hashed as UTF-8 text, not as \u escapes.
    text = '{"format":"results-inputs/v2","parameters":{},"scores":[["Giám khảo","e",1]]}'
    assert results_hash([("Giám khảo", "e", 1.0)], {}) == hashlib.sha256(text.encode()).hexdigest()


def test_canonical_text_is_stable() -> None:
    # Pinned: stored hashes must stay verifiable, so the canonical form may never drift.
    text = canonical_json([("j1", "e1", 7.0), {"b": 1, "a": [True, None]}], {"k": 3})
    assert text == (
        '{"format":"results-inputs/v2","parameters":{"k":3},'
        '"scores":[["j1","e1",7],{"a":[true,null],"b":1}]}'
    )
    assert (
        results_hash([("j1", "e1", 7.0)], {"k": 3})
        == hashlib.sha256(
            b'{"format":"results-inputs/v2","parameters":{"k":3},"scores":[["j1","e1",7]]}'
        ).hexdigest()
    )
    # Results published with the first format stay verifiable with it.
    assert results_hash_v1([("j1", "e1", 7.0)], {"k": 3}) == (
        "8f6dacd7f1fe739f268f60a0c003f89d8bd1d6d3a84f773a679468fc54e9fd74"
    )


# RFC 8785, appendix B: IEEE 754 doubles and the text ECMAScript (so JCS) writes for them.
RFC8785_NUMBERS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "text"), RFC8785_NUMBERS)
def test_numbers_are_written_as_rfc_8785_says(bits: str, text: str) -> None:
    value = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert es6_number(value) == text
    assert canonical_json([value], {}).endswith('"scores":[' + text + "]}")


def test_keys_sort_by_utf16_code_units_and_strings_escape_as_ecmascript() -> None:
    # RFC 8785, 3.2.3: "\ufb33" sorts after "\ud83d\ude00" (an emoji, a surrogate pair) in
    # UTF-16 although its code point is lower.
    document = {"\u20ac": 1, "\U0001f600": 2, "\r": 3, "1": 4, "\u00f6": 5, "\ufb33": 6}
    text = canonical_json([], document)
    assert text.index('"\\r"') < text.index('"1"') < text.index('"\u00f6"')
    assert text.index("\u20ac") < text.index("\U0001f600") < text.index("\ufb33")
    assert canonical_json(['a\u0001"\\\u007f\u00e9'], {}).endswith(
        '"scores":["a\\u0001\\"\\\\\u007f\u00e9"]}'
    )


@pytest.mark.skipif(shutil.which("node") is None, reason="no Node.js to cross-check with")
def test_another_language_writes_the_same_text() -> None:
    # ECMAScript's JSON.stringify of a document with keys already in JCS order and doubles:
    # exactly our text (Node.js is on the machines; the check needs no package).
    parameters = {"b": [0.1, 1e21, 1e-7, 123.456, -0.5], "a": "Giám khảo", "z": 1.96, "k": 3}
    text = canonical_json([("j", "e", 71.25), {"x": 2.5e-8}], parameters)
    script = (
        "const d = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "const sort = (v) => Array.isArray(v) ? v.map(sort) : (v && typeof v === 'object')"
        " ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort(v[k])])) : v;"
        "process.stdout.write(JSON.stringify(sort(d)));"
    )
    done = subprocess.run(
        ["node", "-e", script], input=text.encode(), capture_output=True, check=True, timeout=60
    )
    assert done.stdout.decode("utf-8") == text


def test_row_and_key_order_do_not_matter() -> None:
    reordered = [dict(reversed(list(row.items()))) for row in reversed(LOG)]
    parameters = dict(reversed(list(PARAMETERS.items())))
    assert results_hash(reordered, parameters) == results_hash(LOG, PARAMETERS)


def test_any_change_changes_the_hash() -> None:
    base = results_hash(LOG, PARAMETERS)
    changed_score = [dict(LOG[0], score=71.25), *LOG[1:]]
    assert results_hash(changed_score, PARAMETERS) != base
    assert results_hash(LOG, {**PARAMETERS, "k": 4}) != base
    assert results_hash(LOG[:2], PARAMETERS) != base
    assert results_hash([*LOG, LOG[0]], PARAMETERS) != base  # a repeated row counts


def test_equal_numbers_hash_equally() -> None:
    as_float = results_hash([("j", "e", 7.0)], {"weight": 0.5})
    assert results_hash([("j", "e", 7)], {"weight": 0.5}) == as_float
    assert results_hash([["j", "e", Decimal("7.00")]], {"weight": Decimal("0.5")}) == as_float
    assert results_hash([("j", "e", 7)], {"weight": 0.25}) != as_float
    assert canonical_json([-0.0], {}) == canonical_json([0], {})


def test_rich_values_are_supported() -> None:
    class Method(enum.Enum):
        CALIBRATED = "calibrated"

    stamp = dt.datetime(2026, 5, 1, 12, 30, tzinfo=dt.UTC)
    ident = uuid.UUID(int=7)
    parameters = {"at": stamp, "id": ident, "method": Method.CALIBRATED, "tracks": {"b", "a"}}
    text = canonical_json([], parameters)
    assert '"at":"2026-05-01T12:30:00+00:00"' in text
    assert f'"id":"{ident}"' in text
    assert '"method":"calibrated"' in text
    assert '"tracks":["a","b"]' in text


@pytest.mark.parametrize("bad", [math.nan, math.inf, Decimal("NaN")])
def test_non_finite_numbers_are_rejected(bad: object) -> None:
    with pytest.raises(ValueError, match="NaN"):
        results_hash([("j", "e", bad)], {})


def test_unsupported_values_are_rejected() -> None:
    with pytest.raises(TypeError):
        results_hash([("j", "e", object())], {})
    with pytest.raises(TypeError, match="keys"):
        results_hash([{1: "x"}], {})


scores = st.one_of(
    st.integers(-1000, 1000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-1000, max_value=1000),
)
rows = st.one_of(
    st.tuples(st.text(max_size=5), st.text(max_size=5), scores),
    st.fixed_dictionaries(
        {"judge": st.text(max_size=5), "entry": st.text(max_size=5), "score": scores}
    ),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(rows, max_size=20), st.randoms())
def test_hash_is_independent_of_row_order(log: list[object], rng: random.Random) -> None:
    shuffled = list(log)
    rng.shuffle(shuffled)
    assert results_hash(shuffled, PARAMETERS) == results_hash(log, PARAMETERS)


@settings(max_examples=100, deadline=None)
@given(st.lists(rows, min_size=1, max_size=10))
def test_tuples_and_lists_are_the_same_rows(log: list[object]) -> None:
    as_lists = [list(row) if isinstance(row, tuple) else row for row in log]
    assert results_hash(as_lists, {}) == results_hash(log, {})
