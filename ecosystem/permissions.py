"""May this actor do this? The one place kernel rules about roles are answered.

Handlers and templates never check roles themselves: they call `ensure` (raises
NotPermitted) or `allowed` (a boolean for showing or hiding a control).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ecosystem.errors import NotPermitted
from ecosystem.i18n import _
from ecosystem.models import Membership, MembershipStatus, Organisation, Role, User, Verification

# --- the trust model (DESIGN.md §3): every power needs a verified identity, and every
# institutional power a verified organisation. Each package's permission module calls these.


def has_verified_identity(user: User | None) -> bool:
    """An active account whose e-mail address has been verified."""
    return bool(user and user.is_active and user.is_verified)


def is_verified_organisation(organisation: Organisation | None) -> bool:
    """An organisation a platform admin has verified (pending, rejected and unverified are not)."""
    return organisation is not None and organisation.verification == Verification.VERIFIED


def ensure_verified_identity(user: User | None) -> None:
    if not has_verified_identity(user):
        raise NotPermitted(_("Verify your e-mail address first: this needs a verified account."))


def ensure_verified_organisation(organisation: Organisation | None) -> None:
    if not is_verified_organisation(organisation):
        raise NotPermitted(
            _("This needs an organisation that the platform administrators have verified.")
        )


async def role_in(user: User | None, organisation_id: int) -> Role | None:
    """The user's active role in the organisation, if any (none for a deactivated account)."""
    if user is None or not user.is_active:
        return None
    membership = await Membership.get_or_none(
        user_id=user.id, organisation_id=organisation_id, status=MembershipStatus.ACTIVE
    )
    return membership.role if membership else None


def _is_admin(user: User | None) -> bool:
    return bool(user and user.is_active and user.is_platform_admin)


async def _org_admin(user: User | None, organisation: Organisation) -> bool:
    role = await role_in(user, organisation.id)
    return role is not None and role.rank >= Role.ADMIN.rank


async def _verified_org_admin(user: User | None, organisation: Organisation) -> bool:
    # Inviting, granting roles and answering join requests give power to others: only an
    # account with a verified identity may do it (an unverified owner keeps a pending draft).
    return has_verified_identity(user) and await _org_admin(user, organisation)


async def _org_editor(user: User | None, organisation: Organisation) -> bool:
    # An unverified account may still edit the draft of an organisation waiting for
    # verification (its own pending organisation), never a verified organisation's public page.
    if not await _org_admin(user, organisation):
        return False
    return has_verified_identity(user) or not is_verified_organisation(organisation)


async def _org_member(user: User | None, organisation: Organisation) -> bool:
    return await role_in(user, organisation.id) is not None


async def _platform_admin(user: User | None, _target: object = None) -> bool:
    return _is_admin(user)


async def _verified_platform_admin(user: User | None, _target: object = None) -> bool:
    # Funding issuers' budgets moves money: a platform admin with a verified identity.
    return _is_admin(user) and has_verified_identity(user)


async def _org_member_or_platform_admin(user: User | None, organisation: Organisation) -> bool:
    # Platform admins read member lists to verify and moderate; they never manage them.
    return _is_admin(user) or await _org_member(user, organisation)


Rule = Callable[[User | None, object], Awaitable[bool]]

RULES: dict[str, Rule] = {
    "organisation.edit": _org_editor,  # type: ignore[dict-item]
    "organisation.manage_members": _verified_org_admin,  # type: ignore[dict-item]
    "organisation.view_members": _org_member_or_platform_admin,  # type: ignore[dict-item]
    # Requiring a second factor of the organisation's owners and admins.
    "organisation.security_policy": _verified_org_admin,  # type: ignore[dict-item]
    "organisation.verify": _platform_admin,
    "budget.fund": _verified_platform_admin,
    # Who signs people in (and with which client secret): a verified platform admin.
    "identity_provider.manage": _verified_platform_admin,
    "user.deactivate": _platform_admin,
    "audit.read": _platform_admin,
    "outbox.read": _platform_admin,
}


async def allowed(actor: User | None, action: str, target: object = None) -> bool:
    return await RULES[action](actor, target)


async def ensure(actor: User | None, action: str, target: object = None) -> None:
    if not await allowed(actor, action, target):
        raise NotPermitted(_("You do not have permission to do this."))
