"""Machine prices in whole Vietnamese đồng (VND has no minor unit), with integer arithmetic only.

Prices are set per user category, per machine, per hour. A user gets the cheapest category
they qualify for; ``public`` applies to everybody.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from labs.intervals import Interval

Rounding = Literal["ceil_to_minute", "floor_to_minute", "exact"]
PUBLIC = "public"
CURRENCY = "VND"
_MINUTE = timedelta(minutes=1)
_HOUR_US = 3_600_000_000


@dataclass(frozen=True, slots=True)
class PriceQuote:
    """A price: a non-negative whole amount of đồng."""

    amount: int
    currency: str = CURRENCY

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool) or self.amount < 0:
            raise ValueError(f"amount must be a non-negative int, got {self.amount!r}")


def _check_rate(rate_per_hour_vnd: int) -> None:
    """A rate is a non-negative int (0 means free)."""
    if not isinstance(rate_per_hour_vnd, int) or isinstance(rate_per_hour_vnd, bool):
        raise TypeError("rate_per_hour_vnd must be an int")
    if rate_per_hour_vnd < 0:
        raise ValueError("rate_per_hour_vnd cannot be negative")


def _divide_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half up, for non-negative integers."""
    return (2 * numerator + denominator) // (2 * denominator)


def price_for(
    rate_per_hour_vnd: int,
    start: datetime,
    end: datetime,
    rounding: Rounding = "ceil_to_minute",
) -> int:
    """Price in whole đồng of using a machine over ``[start, end)`` at an hourly rate.

    The billed time is whole minutes (``ceil_to_minute``: a started minute counts;
    ``floor_to_minute``: partial minutes are free) or the exact duration (``exact``). The
    amount is ``rate × minutes / 60`` rounded half up to a whole đồng, computed with integers
    only, so it is exact, never negative and never decreases when the duration grows.
    """
    _check_rate(rate_per_hour_vnd)
    duration = Interval(start, end).duration
    if rounding == "ceil_to_minute":
        return _divide_half_up(rate_per_hour_vnd * -(-duration // _MINUTE), 60)
    if rounding == "floor_to_minute":
        return _divide_half_up(rate_per_hour_vnd * (duration // _MINUTE), 60)
    if rounding == "exact":
        micros = duration // timedelta(microseconds=1)
        return _divide_half_up(rate_per_hour_vnd * micros, _HOUR_US)
    raise ValueError(f"unknown rounding {rounding!r}")


def quote(
    rate_per_hour_vnd: int,
    start: datetime,
    end: datetime,
    rounding: Rounding = "ceil_to_minute",
) -> PriceQuote:
    """:func:`price_for` wrapped in a :class:`PriceQuote`."""
    return PriceQuote(price_for(rate_per_hour_vnd, start, end, rounding))


@dataclass(frozen=True, slots=True)
class Membership:
    """A user's membership: the organisation and its sphere (e.g. "university", "startup")."""

    organisation_id: int
    sphere: str


@dataclass(frozen=True, slots=True)
class UserFacts:
    """Plain facts about a user that decide their price category."""

    memberships: tuple[Membership, ...] = ()
    is_student: bool = False


@dataclass(frozen=True, slots=True)
class CategoryRule:
    """Who qualifies for a price category; every given condition must hold.

    ``student``: the user is a student. ``host_member``: the user is a member of the lab's host
    organisation. ``spheres``: the user is a member of an organisation of one of these spheres.
    A rule without conditions (like ``public``) applies to everybody.
    """

    code: str
    student: bool = False
    host_member: bool = False
    spheres: frozenset[str] = field(default_factory=frozenset)

    def applies_to(self, user: UserFacts, host_organisation_id: int | None) -> bool:
        """True if ``user`` meets every condition of this rule."""
        if self.student and not user.is_student:
            return False
        member_of = {membership.organisation_id for membership in user.memberships}
        if self.host_member and host_organisation_id not in member_of:
            return False
        user_spheres = {membership.sphere for membership in user.memberships}
        return not self.spheres or bool(self.spheres & user_spheres)


DEFAULT_CATEGORY_RULES: tuple[CategoryRule, ...] = (
    CategoryRule("student_host", student=True, host_member=True),
    CategoryRule("student", student=True),
    CategoryRule("startup", spheres=frozenset({"startup"})),
    CategoryRule("enterprise", spheres=frozenset({"enterprise"})),
    CategoryRule(PUBLIC),
)
"""The usual categories; a lab may define its own list."""


@dataclass(frozen=True, slots=True)
class PricedCategory:
    """The category chosen for a user on a machine, with that machine's hourly rate."""

    code: str
    rate_per_hour_vnd: int


def choose_category(
    rules: Iterable[CategoryRule],
    rates_per_hour_vnd: Mapping[str, int],
    user: UserFacts,
    host_organisation_id: int | None,
) -> PricedCategory | None:
    """The cheapest category that applies to ``user`` and has a rate on this machine.

    ``rates_per_hour_vnd`` maps category codes to the machine's hourly rates; a category
    without a rate there is not offered. ``public`` always applies, even if not in ``rules``.
    Ties go to the rule listed first (``public`` last). Returns ``None`` only if no applicable
    category has a rate (the machine is not offered to this user).
    """
    applicable = [rule.code for rule in rules if rule.applies_to(user, host_organisation_id)]
    applicable.append(PUBLIC)
    offered = [code for code in applicable if code in rates_per_hour_vnd]
    if not offered:
        return None
    for code in offered:
        _check_rate(rates_per_hour_vnd[code])
    cheapest = min(offered, key=lambda code: rates_per_hour_vnd[code])
    return PricedCategory(cheapest, rates_per_hour_vnd[cheapest])
