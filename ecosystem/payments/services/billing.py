"""Who pays: organisations' billing permits and the credit balances a person may spend.

An organisation's owners and admins may bill bookings to it, and the members they allow
(`BillingPermit`); only a verified account may bill, and only a verified organisation.
"""

from __future__ import annotations

from dataclasses import dataclass

from ecosystem import permissions
from ecosystem.errors import Invalid, NotPermitted
from ecosystem.i18n import _
from ecosystem.models import Membership, MembershipStatus, Organisation, Role, User, Verification
from ecosystem.payments.models import BillingPermit, CreditEntry
from ecosystem.payments.services import ledger
from ecosystem.payments.services.common import is_org_admin
from ecosystem.services import audit


async def may_bill(user: User, organisation_id: int) -> bool:
    """Billing to an organisation: its owners and admins, and members they allowed.

    Only a verified account may bill, and only an organisation a platform admin has verified
    (DESIGN.md §3): a pending organisation is never a recipient of anyone's bookings.
    """
    if not permissions.has_verified_identity(user):
        return False
    membership = await Membership.get_or_none(
        user_id=user.id,
        organisation_id=organisation_id,
        status=MembershipStatus.ACTIVE,
        organisation__verification=Verification.VERIFIED,
    )
    if membership is None:
        return False
    if membership.role.rank >= Role.ADMIN.rank:
        return True
    return await BillingPermit.exists(organisation_id=organisation_id, user_id=user.id)


async def billing_permits(actor: User, organisation: Organisation) -> list[BillingPermit]:
    if not await is_org_admin(actor, organisation.id):
        raise NotPermitted(_("Only the organisation's administrators may do this."))
    return (
        await BillingPermit.filter(organisation_id=organisation.id)
        .select_related("user")
        .order_by("user__full_name")
    )


async def allow_billing(actor: User, organisation: Organisation, email: str) -> BillingPermit:
    """An organisation admin lets an active member bill bookings to the organisation."""
    if not await is_org_admin(actor, organisation.id):
        raise NotPermitted(_("Only the organisation's administrators may do this."))
    member = await User.get_or_none(email=email.strip().lower())
    active = member is not None and await Membership.exists(
        user_id=member.id, organisation_id=organisation.id, status=MembershipStatus.ACTIVE
    )
    if not active:
        message = _("This person is not an active member of the organisation.")
        raise Invalid(message, fields={"email": message})
    permit, _created = await BillingPermit.get_or_create(
        organisation_id=organisation.id,
        user_id=member.id,  # type: ignore[union-attr]
        defaults={"granted_by_id": actor.id},
    )
    await audit.record("billing.allowed", actor=actor, target=organisation, member=member.id)  # type: ignore[union-attr]
    return permit


async def revoke_billing(actor: User, organisation: Organisation, user_id: int) -> None:
    if not await is_org_admin(actor, organisation.id):
        raise NotPermitted(_("Only the organisation's administrators may do this."))
    await BillingPermit.filter(organisation_id=organisation.id, user_id=user_id).delete()
    await audit.record("billing.revoked", actor=actor, target=organisation, member=user_id)


async def billable_organisations(user: User) -> list[Organisation]:
    """Organisations this user may bill bookings to: verified ones, for a verified account."""
    if not permissions.has_verified_identity(user):
        return []
    memberships = await Membership.filter(
        user_id=user.id,
        status=MembershipStatus.ACTIVE,
        organisation__verification=Verification.VERIFIED,
    ).select_related("organisation")
    permitted = set(
        await BillingPermit.filter(user_id=user.id).values_list("organisation_id", flat=True)
    )
    return [
        m.organisation
        for m in memberships
        if m.role.rank >= Role.ADMIN.rank or m.organisation_id in permitted  # type: ignore[attr-defined]
    ]


@dataclass
class CreditHolder:
    """One balance a person may spend: their own (`organisation` None) or an organisation's."""

    organisation: Organisation | None
    balance: int
    entries: list[CreditEntry]  # newest first


async def credit_holders(user: User) -> list[CreditHolder]:
    """The user's own balance, then those of the organisations they may bill, with ledgers."""
    found = []
    for organisation in [None, *await billable_organisations(user)]:
        owner = {"organisation": organisation} if organisation else {"user": user}
        entries = await ledger.ledger(**owner)
        found.append(CreditHolder(organisation, await ledger.balance(**owner), entries))
    return found
