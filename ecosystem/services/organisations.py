"""Partner organisations of the triple helix, their members, invitations and join requests."""

from __future__ import annotations

import re
from datetime import timedelta

from tortoise import timezone
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from ecosystem import permissions
from ecosystem.db import atomic
from ecosystem.errors import Conflict, Invalid, NotFound, NotPermitted
from ecosystem.i18n import _
from ecosystem.mail import send_mail
from ecosystem.models import (
    Invitation,
    Membership,
    MembershipStatus,
    Organisation,
    OrganisationDomain,
    OrganisationSphere,
    Role,
    Sphere,
    User,
    Verification,
)
from ecosystem.schemas import InvitationIn, OrganisationIn
from ecosystem.security import hash_token, new_secret_token
from ecosystem.services import audit
from ecosystem.text import fold, slugify

INVITATION_DAYS = 7
DIRECTORY_PAGE_SIZE = 24
DOMAIN_PATTERN = re.compile(r"^(?=.{3,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$")


# --- organisations --------------------------------------------------------------------


def _clean_domains(domains: list[str]) -> list[str]:
    cleaned = sorted({d.strip().lower().lstrip("@") for d in domains if d.strip()})
    for domain in cleaned:
        if not DOMAIN_PATTERN.match(domain):
            message = _("“%(domain)s” is not an email domain such as eiu.edu.vn.", domain=domain)
            raise Invalid(message, fields={"email_domains": message})
    return cleaned


async def _unique_slug(name: str) -> str:
    base = slugify(name)
    taken = set(await Organisation.filter(slug__startswith=base).values_list("slug", flat=True))
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


async def _set_spheres(organisation: Organisation, spheres: list[Sphere]) -> None:
    await OrganisationSphere.filter(organisation_id=organisation.id).delete()
    await OrganisationSphere.bulk_create(
        [OrganisationSphere(organisation_id=organisation.id, sphere=s) for s in set(spheres)]
    )


async def _set_domains(organisation: Organisation, domains: list[str]) -> None:
    claimed = (
        await OrganisationDomain.filter(domain__in=domains)
        .exclude(organisation_id=organisation.id)
        .values_list("domain", flat=True)
    )
    if claimed:
        message = _("The domain %(domain)s belongs to another organisation.", domain=claimed[0])
        raise Invalid(message, fields={"email_domains": message})
    await OrganisationDomain.filter(organisation_id=organisation.id).delete()
    await OrganisationDomain.bulk_create(
        [OrganisationDomain(organisation_id=organisation.id, domain=d) for d in domains]
    )


async def create_organisation(actor: User, data: OrganisationIn, ip: str = "") -> Organisation:
    """The creator becomes its owner; platform admins then verify it."""
    domains = _clean_domains(data.email_domains)
    async with atomic():
        organisation = await Organisation.create(
            name=data.name,
            slug=await _unique_slug(data.name),
            search_key=fold(data.name),
            description=data.description,
            website=data.website,
            city=data.city,
            country=data.country.upper(),
            verification=Verification.PENDING,
        )
        await _set_spheres(organisation, data.spheres)
        await _set_domains(organisation, domains)
        await Membership.create(
            user_id=actor.id,
            organisation_id=organisation.id,
            role=Role.OWNER,
            status=MembershipStatus.ACTIVE,
        )
        await audit.record("organisation.created", actor=actor, target=organisation, ip=ip)
    return organisation


async def update_organisation(
    actor: User, organisation: Organisation, data: OrganisationIn, ip: str = ""
) -> Organisation:
    await permissions.ensure(actor, "organisation.edit", organisation)
    domains = _clean_domains(data.email_domains)
    async with atomic():
        organisation.name = data.name
        organisation.search_key = fold(data.name)
        organisation.description = data.description
        organisation.website = data.website
        organisation.city = data.city
        organisation.country = data.country.upper()
        await organisation.save()
        await _set_spheres(organisation, data.spheres)
        await _set_domains(organisation, domains)
        await audit.record("organisation.updated", actor=actor, target=organisation, ip=ip)
    return organisation


async def set_logo(actor: User, organisation: Organisation, media_id: object) -> None:
    await permissions.ensure(actor, "organisation.edit", organisation)
    organisation.logo_id = media_id  # type: ignore[attr-defined]
    await organisation.save(update_fields=["logo_id"])


async def get_by_slug(slug: str) -> Organisation:
    organisation = (
        await Organisation.filter(slug=slug).prefetch_related("spheres", "domains").first()
    )
    if organisation is None:
        raise NotFound(_("No such organisation."))
    return organisation


async def get_visible(actor: User | None, slug: str) -> Organisation:
    """Verified organisations are public; others only to members and platform admins."""
    organisation = await get_by_slug(slug)
    if organisation.verification == Verification.VERIFIED:
        return organisation
    if actor and (actor.is_platform_admin or await permissions.role_in(actor, organisation.id)):
        return organisation
    raise NotFound(_("No such organisation."))


async def directory(
    sphere: str = "", query: str = "", page: int = 1, page_size: int = DIRECTORY_PAGE_SIZE
) -> tuple[list[Organisation], int]:
    """Verified organisations, filtered; the page and its spheres in two queries + a count."""
    filters = Q(verification=Verification.VERIFIED)
    if sphere:
        if sphere not in Sphere._value2member_map_:
            raise Invalid(_("Unknown sphere."), fields={"sphere": _("Unknown sphere.")})
        filters &= Q(spheres__sphere=sphere)
    if folded := fold(query)[:100]:
        filters &= Q(search_key__contains=folded)
    base = Organisation.filter(filters).distinct()
    total = await base.count()
    page = max(1, page)
    rows = (
        await base.order_by("name")
        .offset((page - 1) * page_size)
        .limit(page_size)
        .prefetch_related("spheres")
    )
    return rows, total


async def set_verification(
    actor: User, organisation: Organisation, state: Verification, note: str = "", ip: str = ""
) -> Organisation:
    await permissions.ensure(actor, "organisation.verify", organisation)
    if state not in (Verification.VERIFIED, Verification.REJECTED, Verification.PENDING):
        raise Invalid(_("Choose verified, rejected or pending."))
    async with atomic():
        previous = organisation.verification
        organisation.verification = state
        organisation.verification_note = note.strip()[:500]
        await organisation.save(update_fields=["verification", "verification_note"])
        await audit.record(
            "organisation.verification_changed",
            actor=actor,
            target=organisation,
            ip=ip,
            previous=str(previous),
            state=str(state),
        )
    return organisation


async def pending_verification() -> list[Organisation]:
    return (
        await Organisation.filter(verification__in=[Verification.PENDING, Verification.UNVERIFIED])
        .order_by("created_at")
        .prefetch_related("spheres", "domains")
    )


# --- memberships --------------------------------------------------------------------------


async def active_memberships(user: User) -> list[Membership]:
    return (
        await Membership.filter(user_id=user.id, status=MembershipStatus.ACTIVE)
        .select_related("organisation")
        .prefetch_related("organisation__spheres")
        .order_by("organisation__name")
    )


async def members(actor: User, organisation: Organisation) -> list[Membership]:
    await permissions.ensure(actor, "organisation.view_members", organisation)
    return (
        await Membership.filter(
            organisation_id=organisation.id,
            status__in=[MembershipStatus.ACTIVE, MembershipStatus.REQUESTED],
        )
        .select_related("user")
        .order_by("status", "user__full_name")
    )


async def _actor_role(actor: User, organisation: Organisation) -> Role:
    role = await permissions.role_in(actor, organisation.id)
    if role is None:
        raise NotPermitted(_("You are not a member of this organisation."))
    return role


async def _membership_in(organisation: Organisation, membership_id: int) -> Membership:
    membership = await Membership.get_or_none(
        id=membership_id, organisation_id=organisation.id
    ).select_related("user")
    if membership is None:
        raise NotFound(_("No such member."))
    return membership


async def _ensure_not_last_owner(membership: Membership) -> None:
    if membership.role != Role.OWNER:
        return
    owners = await Membership.filter(
        organisation_id=membership.organisation_id,
        role=Role.OWNER,
        status=MembershipStatus.ACTIVE,
    ).count()
    if owners <= 1:
        raise Conflict(
            _("An organisation needs at least one owner. Make someone else owner first.")
        )


async def change_role(
    actor: User, organisation: Organisation, membership_id: int, role: Role, ip: str = ""
) -> Membership:
    await permissions.ensure(actor, "organisation.manage_members", organisation)
    actor_role = await _actor_role(actor, organisation)
    async with atomic():
        membership = await _membership_in(organisation, membership_id)
        if membership.status != MembershipStatus.ACTIVE:
            raise Conflict(_("Only active members have a role to change."))
        if role.rank > actor_role.rank or membership.role.rank > actor_role.rank:
            raise NotPermitted(_("You cannot grant or change a role above your own."))
        if role != Role.OWNER:
            await _ensure_not_last_owner(membership)
        previous = membership.role
        membership.role = role
        await membership.save(update_fields=["role", "updated_at"])
        await audit.record(
            "membership.role_changed",
            actor=actor,
            target=membership,
            ip=ip,
            organisation=organisation.slug,
            user=membership.user.email,
            previous=str(previous),
            role=str(role),
        )
    return membership


async def remove_member(
    actor: User, organisation: Organisation, membership_id: int, ip: str = ""
) -> Membership:
    """Admins remove members up to their own rank; anyone may leave."""
    async with atomic():
        membership = await _membership_in(organisation, membership_id)
        if membership.user_id != actor.id:
            await permissions.ensure(actor, "organisation.manage_members", organisation)
            actor_role = await _actor_role(actor, organisation)
            if membership.role.rank > actor_role.rank:
                raise NotPermitted(_("You cannot remove someone whose role is above your own."))
        if membership.status != MembershipStatus.ACTIVE:
            raise Conflict(_("This person is not an active member."))
        await _ensure_not_last_owner(membership)
        membership.status = MembershipStatus.LEFT
        await membership.save(update_fields=["status", "updated_at"])
        await audit.record(
            "membership.removed" if membership.user_id != actor.id else "membership.left",
            actor=actor,
            target=membership,
            ip=ip,
            organisation=organisation.slug,
            user=membership.user.email,
        )
    return membership


# --- join requests ------------------------------------------------------------------------


async def joinable_by_domain(user: User) -> list[Organisation]:
    """Organisations whose email domain matches the user's and that they have not joined."""
    domain = user.email.rsplit("@", 1)[-1]
    joined = Membership.filter(
        user_id=user.id, status__in=[MembershipStatus.ACTIVE, MembershipStatus.REQUESTED]
    ).values_list("organisation_id", flat=True)
    return await Organisation.filter(domains__domain=domain).exclude(id__in=joined)


async def request_to_join(user: User, organisation: Organisation, ip: str = "") -> Membership:
    if user.email_verified_at is None:
        raise NotPermitted(_("Verify your email address first: it is how we know your domain."))
    domain = user.email.rsplit("@", 1)[-1]
    if not await OrganisationDomain.filter(organisation_id=organisation.id, domain=domain).exists():
        raise NotPermitted(_("Your email domain does not belong to this organisation."))
    async with atomic():
        membership = await Membership.get_or_none(user_id=user.id, organisation_id=organisation.id)
        if membership and membership.status in (
            MembershipStatus.ACTIVE,
            MembershipStatus.REQUESTED,
        ):
            raise Conflict(_("You are already a member or have already asked to join."))
        if membership is None:
            membership = await Membership.create(
                user_id=user.id, organisation_id=organisation.id, status=MembershipStatus.REQUESTED
            )
        else:
            membership.status, membership.role = MembershipStatus.REQUESTED, Role.MEMBER
            await membership.save(update_fields=["status", "role", "updated_at"])
        await audit.record("membership.requested", actor=user, target=membership, ip=ip)
    return membership


async def decide_join_request(
    actor: User, organisation: Organisation, membership_id: int, accept: bool, ip: str = ""
) -> Membership:
    await permissions.ensure(actor, "organisation.manage_members", organisation)
    async with atomic():
        membership = await _membership_in(organisation, membership_id)
        if membership.status != MembershipStatus.REQUESTED:
            raise Conflict(_("This request has already been answered."))
        membership.status = MembershipStatus.ACTIVE if accept else MembershipStatus.LEFT
        membership.role = Role.MEMBER
        await membership.save(update_fields=["status", "role", "updated_at"])
        await audit.record(
            "membership.request_accepted" if accept else "membership.request_refused",
            actor=actor,
            target=membership,
            ip=ip,
            user=membership.user.email,
        )
    return membership


# --- invitations --------------------------------------------------------------------------


async def invite(
    actor: User, organisation: Organisation, data: InvitationIn, ip: str = ""
) -> Invitation:
    await permissions.ensure(actor, "organisation.manage_members", organisation)
    actor_role = await _actor_role(actor, organisation)
    if data.role.rank > actor_role.rank:
        message = _("You cannot invite someone with a role above your own.")
        raise NotPermitted(message, fields={"role": message})
    email = data.email.strip().lower()
    if await Membership.filter(
        organisation_id=organisation.id, user__email=email, status=MembershipStatus.ACTIVE
    ).exists():
        message = _("This person is already a member.")
        raise Invalid(message, fields={"email": message})
    plaintext = new_secret_token()
    async with atomic():
        invitation = await Invitation.create(
            organisation_id=organisation.id,
            email=email,
            role=data.role,
            token_hash=hash_token(plaintext),
            invited_by_id=actor.id,
            expires_at=timezone.now() + timedelta(days=INVITATION_DAYS),
        )
        await audit.record(
            "invitation.created",
            actor=actor,
            target=invitation,
            ip=ip,
            email=email,
            role=str(data.role),
        )
        invitee = await User.get_or_none(email=email)
        await send_mail(
            email,
            "invitation",
            {
                "organisation_name": organisation.name,
                "inviter_name": actor.full_name,
                "role": str(data.role),
                "days": INVITATION_DAYS,
                "path": f"/invitations/{plaintext}",
            },
            locale=invitee.locale if invitee else actor.locale,
        )
    return invitation


async def open_invitations(actor: User, organisation: Organisation) -> list[Invitation]:
    await permissions.ensure(actor, "organisation.manage_members", organisation)
    return await Invitation.filter(
        organisation_id=organisation.id,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).order_by("-created_at")


async def invitation_for_token(token: str) -> Invitation:
    invitation = await Invitation.get_or_none(token_hash=hash_token(token)).select_related(
        "organisation", "invited_by"
    )
    if invitation is None or invitation.revoked_at is not None:
        raise NotFound(_("This invitation does not exist or was withdrawn."))
    if invitation.accepted_at is not None:
        raise Conflict(_("This invitation has already been used."))
    if invitation.expires_at <= timezone.now():
        raise Invalid(_("This invitation has expired. Ask for a new one."), code="expired")
    return invitation


async def accept_invitation(user: User, token: str, ip: str = "") -> Membership:
    async with atomic():
        invitation = await invitation_for_token(token)
        if invitation.email != user.email:
            raise NotPermitted(
                _(
                    "This invitation was sent to %(email)s. "
                    "Sign in with that address to accept it.",
                    email=invitation.email,
                )
            )
        # Single use even under concurrent clicks: only one UPDATE can match the unused row.
        claimed = await Invitation.filter(id=invitation.id, accepted_at__isnull=True).update(
            accepted_at=timezone.now()
        )
        if not claimed:
            raise Conflict(_("This invitation has already been used."))
        membership = await Membership.get_or_none(
            user_id=user.id, organisation_id=invitation.organisation_id
        )
        if membership is None:
            try:
                membership = await Membership.create(
                    user_id=user.id,
                    organisation_id=invitation.organisation_id,
                    role=invitation.role,
                    status=MembershipStatus.ACTIVE,
                )
            except IntegrityError as exc:
                raise Conflict(_("You are already a member.")) from exc
        else:
            # Accepting never lowers a role someone already holds.
            if (
                membership.status != MembershipStatus.ACTIVE
                or invitation.role.rank > membership.role.rank
            ):
                membership.role = invitation.role
            membership.status = MembershipStatus.ACTIVE
            await membership.save(update_fields=["role", "status", "updated_at"])
        if user.email_verified_at is None:
            user.email_verified_at = timezone.now()  # the link arrived in this mailbox
            await user.save(update_fields=["email_verified_at"])
        await audit.record(
            "invitation.accepted", actor=user, target=membership, ip=ip, role=str(membership.role)
        )
    return membership


async def revoke_invitation(
    actor: User, organisation: Organisation, invitation_id: int, ip: str = ""
) -> None:
    await permissions.ensure(actor, "organisation.manage_members", organisation)
    updated = await Invitation.filter(
        id=invitation_id, organisation_id=organisation.id, accepted_at__isnull=True
    ).update(revoked_at=timezone.now())
    if not updated:
        raise NotFound(_("No such open invitation."))
    await audit.record("invitation.revoked", actor=actor, ip=ip, invitation=invitation_id)
