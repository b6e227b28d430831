"""May this actor do this to that lab or booking? The one place lab roles are answered.

Lab staff is a `LabStaff` row on one lab, granted by the host organisation's admins. Handlers
and templates never check roles themselves: they call `ensure` (raises NotPermitted) or
`allowed` (a boolean for showing or hiding a control).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ecosystem.errors import NotPermitted
from ecosystem.i18n import _
from ecosystem.models import Organisation, Role, User, Verification
from ecosystem.permissions import has_verified_identity, is_verified_organisation, role_in
from labs.models import Booking, Equipment, Lab, LabStaff

LabTarget = Lab | Booking | int


def _active(user: User | None) -> bool:
    # A lab role takes effect only for an account that has verified its e-mail (DESIGN.md §3).
    return has_verified_identity(user)


async def _lab(target: LabTarget) -> Lab:
    if isinstance(target, Lab):
        return target
    lab_id = _lab_id(target)
    if lab_id is None:
        lab_id = await _lab_id_of_booking(target)  # type: ignore[arg-type]
    return await Lab.get(id=lab_id)


async def _lab_id_of_booking(booking: Booking) -> int:
    fetched = booking.equipment  # an Equipment once select_related, else an unevaluated query
    if isinstance(fetched, Equipment):
        return fetched.lab_id  # type: ignore[attr-defined]
    equipment_id = booking.equipment_id  # type: ignore[attr-defined]
    return await Equipment.filter(id=equipment_id).values_list("lab_id", flat=True).get()


def public_labs(prefix: str = "") -> dict:
    """The filter of labs everyone may see: published by an organisation a platform admin has
    verified (a pending or rejected host's lab is a draft its members and staff still see).
    `prefix` is the relation path from the queried model, e.g. `lab__`."""
    return {
        f"{prefix}is_published": True,
        f"{prefix}organisation__verification": Verification.VERIFIED,
    }


def is_public_lab(lab: Lab, organisation: Organisation) -> bool:
    return lab.is_published and is_verified_organisation(organisation)


def _lab_id(target: LabTarget) -> int | None:
    if isinstance(target, Lab):
        return target.id
    if isinstance(target, int):
        return target
    return None


async def is_lab_staff(user: User | None, target: LabTarget) -> bool:
    """True if the user is staff of the lab (or of the booking's lab)."""
    if not _active(user):
        return False
    lab_id = _lab_id(target)
    if lab_id is None:
        lab_id = await _lab_id_of_booking(target)  # type: ignore[arg-type]
    return await LabStaff.exists(lab_id=lab_id, user_id=user.id)  # type: ignore[union-attr]


async def staffed_lab_ids(user: User | None) -> set[int]:
    """Every lab the user is staff of (one query)."""
    if not _active(user):
        return set()
    rows = await LabStaff.filter(user_id=user.id).values_list("lab_id", flat=True)  # type: ignore[union-attr]
    return set(rows)


async def _host_admin(user: User | None, target: LabTarget) -> bool:
    """An owner or admin of the organisation hosting the lab."""
    if not _active(user):
        return False
    lab = await _lab(target)
    role = await role_in(user, lab.organisation_id)  # type: ignore[attr-defined]
    return role is not None and role.rank >= Role.ADMIN.rank


Rule = Callable[[User | None, LabTarget], Awaitable[bool]]

RULES: dict[str, Rule] = {
    # Run the lab: equipment, hours, closures, blackouts, rules, trainings.
    "lab.manage": is_lab_staff,
    # Bookings of the lab's machines: approve or decline, cancel any time, check in and out.
    "lab.manage_bookings": is_lab_staff,
    # Grant or withdraw the staff role.
    "lab.grant_staff": _host_admin,
}


async def allowed(actor: User | None, action: str, target: LabTarget) -> bool:
    return await RULES[action](actor, target)


async def ensure(actor: User | None, action: str, target: LabTarget) -> None:
    if not await allowed(actor, action, target):
        raise NotPermitted(_("You do not have permission to do this."))
