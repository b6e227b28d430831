"""What lab time costs a person: their price category and the price of a window.

Part of step 1 of a booking (gather the facts, see `labs.services.facts`): `quote` reads the
machine's rates and the person's organisations; the arithmetic is `labs.pricing` (pure).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ecosystem import rawsql
from ecosystem.errors import NotPermitted
from ecosystem.i18n import _
from ecosystem.models import (
    Membership,
    MembershipStatus,
    OrganisationSphere,
    Role,
    Sphere,
    User,
    Verification,
)
from labs.models import Equipment, EquipmentRate
from labs.pricing import (
    CURRENCY,
    DEFAULT_CATEGORY_RULES,
    PricedCategory,
    UserFacts,
    choose_category,
    price_for,
)
from labs.pricing import Membership as PricingMembership


@dataclass(frozen=True)
class Price:
    amount: int
    currency: str
    category: str


FREE = Price(0, CURRENCY, "")


async def user_facts(user: User) -> UserFacts:
    """What decides a user's price category: their active organisations and spheres.

    A plain member (not an admin or owner) of a university counts as a student.
    """
    # Only organisations a platform admin has verified count: a self-made pending
    # "university" must not buy anyone a student's price.
    memberships = await Membership.filter(
        user_id=user.id,
        status=MembershipStatus.ACTIVE,
        organisation__verification=Verification.VERIFIED,
    ).values_list("organisation_id", "role")
    if not memberships:
        return UserFacts()
    roles = dict(memberships)
    spheres = await OrganisationSphere.filter(organisation_id__in=list(roles)).values_list(
        "organisation_id", "sphere"
    )
    facts = tuple(PricingMembership(org_id, str(sphere)) for org_id, sphere in spheres)
    is_student = any(
        str(sphere) == Sphere.UNIVERSITY and roles[org_id] == Role.MEMBER
        for org_id, sphere in spheres
    )
    return UserFacts(memberships=facts, is_student=is_student)


async def equipment_rates(equipment_id: int) -> list[EquipmentRate]:
    """The machine's rates, cheapest first (plain SQL: every machine page reads them)."""
    where = "WHERE m.equipment_id = ? ORDER BY m.rate_per_hour, m.id"
    return await rawsql.select(EquipmentRate, where, (equipment_id,), small=True)


async def quote(
    user: User,
    equipment: Equipment,
    start: datetime,
    end: datetime,
    rates: Sequence[EquipmentRate] | None = None,
) -> Price | None:
    """The price of `[start, end)` for this user: the cheapest category they qualify for.

    A machine without rates is free; None if it has rates but none for any category of
    this user (the machine is not offered to them). `rates`: the machine's rates when the
    caller has just read them with `equipment_rates` (else they are read here).
    """
    if rates is None:
        rates = await equipment_rates(equipment.id)
    if not rates:
        return FREE
    by_category = {rate.category: rate for rate in rates}
    chosen = choose_category(
        DEFAULT_CATEGORY_RULES,
        {code: rate.rate_per_hour for code, rate in by_category.items()},
        await user_facts(user),
        equipment.lab.organisation_id,  # type: ignore[attr-defined]
    )
    if chosen is None:
        return None
    amount = price_for(chosen.rate_per_hour_vnd, start, end)
    return Price(amount, by_category[chosen.code].currency, chosen.code)


@dataclass(frozen=True)
class RateCard:
    """A machine's hourly rates by user category, cheapest first, and the category the
    person pays (None: the machine has rates, none of them for this person)."""

    rates: tuple[tuple[str, int], ...]
    chosen: PricedCategory | None

    @property
    def priced(self) -> bool:
        return bool(self.rates)

    def price(self, start: datetime, end: datetime) -> int:
        """What the person pays for `[start, end)` (0 on a free machine)."""
        if self.chosen is None:
            return 0
        return price_for(self.chosen.rate_per_hour_vnd, start, end)


async def rate_card(user: User, equipment: Equipment) -> RateCard:
    """The rates the booking form shows, with the person's own category marked (the same
    choice as `quote`)."""
    rates = await equipment_rates(equipment.id)
    if not rates:
        return RateCard((), None)
    by_category = {rate.category: rate.rate_per_hour for rate in rates}
    chosen = choose_category(
        DEFAULT_CATEGORY_RULES,
        by_category,
        await user_facts(user),
        equipment.lab.organisation_id,  # type: ignore[attr-defined]
    )
    return RateCard(tuple((rate.category, rate.rate_per_hour) for rate in rates), chosen)


def not_offered() -> NotPermitted:
    return NotPermitted(_("This machine is not offered to your user category."), code="not_offered")
