"""Tests of labs.pricing: integer VND prices and the choice of price category."""

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from math import floor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labs.pricing import (
    DEFAULT_CATEGORY_RULES,
    PUBLIC,
    CategoryRule,
    Membership,
    PricedCategory,
    PriceQuote,
    UserFacts,
    choose_category,
    price_for,
    quote,
)

START = datetime(2026, 6, 1, 2, tzinfo=UTC)
PROPERTY = settings(deadline=None, max_examples=200)
HOST_UNIVERSITY = 1
OTHER_UNIVERSITY = 2
STARTUP = 3
COMPANY = 4


def after(**delta: float) -> datetime:
    """START plus a duration."""
    return START + timedelta(**delta)


@pytest.mark.parametrize(
    ("rate", "duration", "expected"),
    [
        (50_000, timedelta(hours=1), 50_000),
        (50_000, timedelta(minutes=30), 25_000),
        (50_000, timedelta(minutes=1), 833),  # 833.33
        (50_000, timedelta(minutes=2), 1_667),  # 1666.67
        (90, timedelta(minutes=1), 2),  # 1.5 rounds half up
        (30, timedelta(minutes=1), 1),  # 0.5 rounds half up
        (29, timedelta(minutes=1), 0),  # 0.48 rounds down
        (0, timedelta(hours=5), 0),  # a free category
        (120_000, timedelta(hours=3, minutes=45), 450_000),
        (50_000, timedelta(seconds=30), 833),  # a started minute counts
    ],
)
def test_price_examples(rate: int, duration: timedelta, expected: int) -> None:
    amount = price_for(rate, START, START + duration)
    assert amount == expected
    assert type(amount) is int


def test_rounding_modes() -> None:
    end = after(minutes=1, seconds=30)
    assert price_for(60_000, START, end, "ceil_to_minute") == 2_000
    assert price_for(60_000, START, end, "floor_to_minute") == 1_000
    assert price_for(60_000, START, end, "exact") == 1_500
    assert price_for(60_000, START, after(seconds=30), "floor_to_minute") == 0
    with pytest.raises(ValueError):
        price_for(60_000, START, end, "banker")  # type: ignore[arg-type]


@pytest.mark.parametrize("rate", [-1, 1.5, 50_000.0, True, "50000"])
def test_rate_must_be_a_non_negative_int(rate: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        price_for(rate, START, after(hours=1))  # type: ignore[arg-type]


def test_price_needs_a_real_interval() -> None:
    with pytest.raises(ValueError):
        price_for(50_000, START, START)
    with pytest.raises(ValueError):
        price_for(50_000, datetime(2026, 6, 1), datetime(2026, 6, 1, 1))


@PROPERTY
@given(
    st.integers(0, 10_000_000),
    st.integers(1, 60 * 24 * 14),
    st.sampled_from(["ceil_to_minute", "floor_to_minute", "exact"]),
)
def test_price_is_integer_exact_and_monotonic(rate: int, minutes: int, rounding: str) -> None:
    amount = price_for(rate, START, after(minutes=minutes), rounding)  # type: ignore[arg-type]
    assert type(amount) is int and amount >= 0
    assert amount == floor(Fraction(rate * minutes, 60) + Fraction(1, 2))
    longer = price_for(rate, START, after(minutes=minutes + 1), rounding)  # type: ignore[arg-type]
    assert longer >= amount


@PROPERTY
@given(st.integers(0, 10_000_000), st.integers(1, 10**10), st.integers(1, 10**10))
def test_price_is_monotonic_in_duration_to_the_microsecond(
    rate: int, first: int, second: int
) -> None:
    short, long = sorted([first, second])
    for rounding in ("ceil_to_minute", "floor_to_minute", "exact"):
        cheap = price_for(rate, START, after(microseconds=short), rounding)  # type: ignore[arg-type]
        dear = price_for(rate, START, after(microseconds=long), rounding)  # type: ignore[arg-type]
        assert cheap <= dear


def test_quote_is_integer_vnd() -> None:
    assert quote(50_000, START, after(hours=2)) == PriceQuote(100_000, "VND")
    assert PriceQuote(0).currency == "VND"
    for bad in (-1, 1.0, True):
        with pytest.raises(ValueError):
            PriceQuote(bad)  # type: ignore[arg-type]


RATES = {"student_host": 10_000, "student": 20_000, "startup": 30_000, "enterprise": 80_000}
RATES_WITH_PUBLIC = RATES | {PUBLIC: 100_000}


def user(*memberships: tuple[int, str], student: bool = False) -> UserFacts:
    """User facts from (organisation id, sphere) pairs."""
    return UserFacts(tuple(Membership(org, sphere) for org, sphere in memberships), student)


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (user((HOST_UNIVERSITY, "university"), student=True), "student_host"),
        (user((OTHER_UNIVERSITY, "university"), student=True), "student"),
        (user((HOST_UNIVERSITY, "university")), PUBLIC),  # staff, not a student
        (user((STARTUP, "startup")), "startup"),
        (user((COMPANY, "enterprise")), "enterprise"),
        (user((COMPANY, "enterprise"), (STARTUP, "startup")), "startup"),  # cheapest wins
        (user((STARTUP, "startup"), student=True), "student"),
        (user(), PUBLIC),
    ],
)
def test_choose_category_picks_the_cheapest_applicable(facts: UserFacts, expected: str) -> None:
    chosen = choose_category(DEFAULT_CATEGORY_RULES, RATES_WITH_PUBLIC, facts, HOST_UNIVERSITY)
    assert chosen == PricedCategory(expected, RATES_WITH_PUBLIC[expected])


def test_free_category_and_ties() -> None:
    free_for_students = RATES_WITH_PUBLIC | {"student": 0}
    student = user((HOST_UNIVERSITY, "university"), student=True)
    chosen = choose_category(DEFAULT_CATEGORY_RULES, free_for_students, student, HOST_UNIVERSITY)
    assert chosen == PricedCategory("student", 0)
    tie = RATES_WITH_PUBLIC | {"student": 10_000}
    chosen = choose_category(DEFAULT_CATEGORY_RULES, tie, student, HOST_UNIVERSITY)
    assert chosen == PricedCategory("student_host", 10_000)  # listed first


def test_categories_without_a_rate_are_not_offered() -> None:
    student = user((OTHER_UNIVERSITY, "university"), student=True)
    only_public = {PUBLIC: 100_000}
    chosen = choose_category(DEFAULT_CATEGORY_RULES, only_public, student, HOST_UNIVERSITY)
    assert chosen == PricedCategory(PUBLIC, 100_000)
    assert choose_category(DEFAULT_CATEGORY_RULES, RATES, user(), HOST_UNIVERSITY) is None
    chosen = choose_category(DEFAULT_CATEGORY_RULES, RATES, student, HOST_UNIVERSITY)
    assert chosen == PricedCategory("student", 20_000)


def test_public_applies_even_if_not_listed_and_host_may_be_unknown() -> None:
    host_student = user((HOST_UNIVERSITY, "university"), student=True)
    rules = [CategoryRule("student_host", student=True, host_member=True)]
    assert choose_category(rules, RATES_WITH_PUBLIC, host_student, None) == PricedCategory(
        PUBLIC, 100_000
    )
    assert choose_category([], RATES_WITH_PUBLIC, host_student, HOST_UNIVERSITY) == PricedCategory(
        PUBLIC, 100_000
    )


def test_custom_rule_with_several_spheres() -> None:
    rules = [CategoryRule("ecosystem", spheres=frozenset({"startup", "investor"}))]
    investor = user((9, "investor"))
    assert choose_category(rules, {"ecosystem": 5_000, PUBLIC: 9_000}, investor, 1) == (
        PricedCategory("ecosystem", 5_000)
    )


def test_invalid_rates_are_rejected() -> None:
    with pytest.raises(ValueError):
        choose_category(DEFAULT_CATEGORY_RULES, {PUBLIC: -5}, user(), HOST_UNIVERSITY)
    with pytest.raises(TypeError):
        choose_category(DEFAULT_CATEGORY_RULES, {PUBLIC: 9.5}, user(), HOST_UNIVERSITY)  # type: ignore[dict-item]


memberships_st = st.lists(
    st.builds(
        Membership,
        st.integers(1, 4),
        st.sampled_from(["university", "startup", "enterprise", "investor"]),
    ),
    max_size=4,
).map(tuple)


@PROPERTY
@given(
    memberships_st,
    st.booleans(),
    st.dictionaries(
        st.sampled_from(["student_host", "student", "startup", "enterprise", PUBLIC]),
        st.integers(0, 200_000),
    ),
)
def test_chosen_category_is_applicable_and_cheapest(
    memberships: tuple[Membership, ...], is_student: bool, rates: dict[str, int]
) -> None:
    facts = UserFacts(memberships, is_student)
    chosen = choose_category(DEFAULT_CATEGORY_RULES, rates, facts, HOST_UNIVERSITY)
    applicable = {
        rule.code
        for rule in DEFAULT_CATEGORY_RULES
        if rule.applies_to(facts, HOST_UNIVERSITY) and rule.code in rates
    }
    if not applicable:
        assert chosen is None
        return
    assert chosen is not None and chosen.code in applicable
    assert chosen.rate_per_hour_vnd == min(rates[code] for code in applicable)
