"""Partner organisations of the triple helix, their members, invitations and join requests."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from tortoise import timezone
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Subquery

from ecosystem import cache, permissions
from ecosystem.db import atomic, on_commit
from ecosystem.errors import Conflict, Invalid, NotFound, NotPermitted
from ecosystem.i18n import _, timezone_for_country
from ecosystem.mail import send_mail
from ecosystem.models import (
    SPHERE_ORDER,
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
from ecosystem.packages import DomainPackage, mounted_packages
from ecosystem.schemas import InvitationIn, OrganisationIn
from ecosystem.security import hash_token, new_secret_token
from ecosystem.services import audit
from ecosystem.settings import get_settings
from ecosystem.text import fold, slugify

INVITATION_DAYS = 7
DIRECTORY_PAGE_SIZE = 24
DIRECTORY_CACHE = "directory"
DOMAIN_PATTERN = re.compile(r"^(?=.{3,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$")


# --- organisations --------------------------------------------------------------------


def _clean_domains(domains: list[str]) -> list[str]:
    cleaned = sorted({d.strip().lower().lstrip("@") for d in domains if d.strip()})
    for domain in cleaned:
        if not DOMAIN_PATTERN.match(domain):
            message = _("“%(domain)s” is not an email domain such as eiu.edu.vn.", domain=domain)
            raise Invalid(message, fields={"email_domains": message})
    return cleaned


def _clean_website(website: str) -> str:
    """An http(s) address, or nothing: a profile link must never run script (javascript:)."""
    website = website.strip()
    if not website:
        return ""
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", website):
        website = "https://" + website  # people type "eiu.edu.vn"
    try:
        parts = urlsplit(website)
        host = parts.hostname or ""
    except ValueError:
        host, parts = "", None
    if parts is None or parts.scheme.lower() not in ("http", "https") or "." not in host:
        message = _("Enter a web address such as https://eiu.edu.vn.")
        raise Invalid(message, fields={"website": message})
    return website


async def _zone_from_first_organisation(user_id: int, organisation_id: int) -> None:
    """A person joining their first organisation while still on the default time zone (none
    came from their browser) takes the zone of the organisation's country: Asia/Seoul for a
    Korean one. Later organisations never move a person's clock."""
    default = get_settings().default_timezone
    country = await Organisation.filter(id=organisation_id).values_list("country", flat=True)
    zone = timezone_for_country(country[0] if country else None, default)
    if zone == default:
        return
    if await Membership.filter(user_id=user_id, status=MembershipStatus.ACTIVE).count() != 1:
        return
    await User.filter(id=user_id, timezone=default).update(timezone=zone)


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


async def _ensure_domains_free(organisation_id: int | None, domains: list[str]) -> None:
    query = OrganisationDomain.filter(domain__in=domains)
    if organisation_id is not None:
        query = query.exclude(organisation_id=organisation_id)
    claimed = await query.values_list("domain", flat=True) if domains else []
    if claimed:
        message = _("The domain %(domain)s belongs to another organisation.", domain=claimed[0])
        raise Invalid(message, fields={"email_domains": message})


async def _set_domains(organisation: Organisation, domains: list[str]) -> None:
    await _ensure_domains_free(organisation.id, domains)
    await OrganisationDomain.filter(organisation_id=organisation.id).delete()
    await OrganisationDomain.bulk_create(
        [OrganisationDomain(organisation_id=organisation.id, domain=d) for d in domains]
    )


def _clean(data: OrganisationIn) -> dict:
    """The profile fields as stored; raises Invalid before anything is written."""
    return {
        "name": data.name,
        "search_key": fold(data.name),
        "description": data.description,
        "website": _clean_website(data.website),
        "city": data.city,
        "country": data.country.upper(),
    }


def _domain_taken(exc: IntegrityError) -> Invalid:
    # Two organisations claimed the same domain at the same moment (the unique index won).
    message = _("One of these email domains belongs to another organisation.")
    return Invalid(message, fields={"email_domains": message})


async def create_organisation(actor: User, data: OrganisationIn, ip: str = "") -> Organisation:
    """The creator becomes its owner; platform admins then verify it."""
    profile = _clean(data)
    domains = _clean_domains(data.email_domains)
    await _ensure_domains_free(None, domains)
    try:
        async with atomic():
            organisation = await Organisation.create(
                **profile,
                slug=await _unique_slug(data.name),
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
            await _zone_from_first_organisation(actor.id, organisation.id)
            await audit.record("organisation.created", actor=actor, target=organisation, ip=ip)
            await directory_changed()
    except IntegrityError as exc:
        if await _domains_claimed(domains):
            raise _domain_taken(exc) from exc
        raise Conflict(_("Someone saved at the same moment. Please try again.")) from exc
    await organisation.fetch_related("spheres", "domains")
    return organisation


async def _domains_claimed(domains: list[str]) -> bool:
    return bool(domains) and await OrganisationDomain.filter(domain__in=domains).exists()


async def update_organisation(
    actor: User, organisation: Organisation, data: OrganisationIn, ip: str = ""
) -> Organisation:
    await permissions.ensure(actor, "organisation.edit", organisation)
    profile = _clean(data)
    domains = _clean_domains(data.email_domains)
    await _ensure_domains_free(organisation.id, domains)
    try:
        async with atomic():
            await Organisation.filter(id=organisation.id).update(**profile)
            await _set_spheres(organisation, data.spheres)
            await _set_domains(organisation, domains)
            await audit.record("organisation.updated", actor=actor, target=organisation, ip=ip)
            await directory_changed()
    except IntegrityError as exc:
        raise _domain_taken(exc) from exc
    # Only now, once saved, does the object in hand show the new profile.
    for name, value in profile.items():
        setattr(organisation, name, value)
    await organisation.fetch_related("spheres", "domains")
    return organisation


async def set_logo(actor: User, organisation: Organisation, media_id: object) -> None:
    await permissions.ensure(actor, "organisation.edit", organisation)
    organisation.logo_id = media_id  # type: ignore[attr-defined]
    await organisation.save(update_fields=["logo_id"])
    await directory_changed()


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


@dataclass(frozen=True)
class DirectoryEntry:
    """What the directory shows of an organisation: a cacheable read model."""

    id: int
    slug: str
    name: str
    city: str
    country: str
    website: str
    description: str
    verification: str
    logo_id: str | None
    spheres: tuple[str, ...]

    def sphere_values(self) -> list[str]:
        return list(self.spheres)


@dataclass(frozen=True)
class DirectoryPage:
    entries: tuple[DirectoryEntry, ...]
    total: int


DIRECTORY_CACHE_SECONDS = 300
DIRECTORY_COLUMNS = (
    "id",
    "slug",
    "name",
    "city",
    "country",
    "website",
    "description",
    "verification",
    "logo_id",
)


async def directory(
    sphere: str = "", query: str = "", page: int = 1, page_size: int = DIRECTORY_PAGE_SIZE
) -> DirectoryPage:
    """Verified organisations, filtered and paged; cached until an organisation changes."""
    if sphere and sphere not in Sphere._value2member_map_:
        raise Invalid(_("Unknown sphere."), fields={"sphere": _("Unknown sphere.")})
    folded, page = fold(query)[:100], max(1, page)
    generation = await cache.generation(DIRECTORY_CACHE)
    key = f"{DIRECTORY_CACHE}:{generation}:{sphere}:{page}:{page_size}:{folded}"
    return await cache.remember_built(
        key,
        DIRECTORY_CACHE_SECONDS,
        lambda: _directory_page(sphere, folded, page, page_size),
        _built_page,
    )


def _built_page(data: dict) -> DirectoryPage:
    """The cached JSON as read-only objects (shared between requests of this process)."""
    entries = tuple(
        DirectoryEntry(**{**e, "spheres": tuple(e["spheres"])}) for e in data["entries"]
    )
    return DirectoryPage(entries=entries, total=data["total"])


async def _directory_page(sphere: str, folded: str, page: int, page_size: int) -> dict:
    """Three queries: the count, the page's columns, the page's spheres."""
    rows = Organisation.filter(verification=Verification.VERIFIED)
    if sphere:
        in_sphere = OrganisationSphere.filter(sphere=sphere).values("organisation_id")
        rows = rows.filter(id__in=Subquery(in_sphere))
    if folded:
        rows = rows.filter(search_key__contains=folded)
    total = await rows.count()
    # Accent-free alphabetical order (Đ sorts with D), unique so no row is on two pages.
    entries = (
        await rows.order_by("search_key", "name", "id")
        .offset((page - 1) * page_size)
        .limit(page_size)
        .values(*DIRECTORY_COLUMNS)
    )
    spheres: dict[int, list[str]] = {entry["id"]: [] for entry in entries}
    for organisation_id, value in await OrganisationSphere.filter(
        organisation_id__in=list(spheres)
    ).values_list("organisation_id", "sphere"):
        spheres[organisation_id].append(str(value))
    for entry in entries:
        entry["spheres"] = sorted(spheres[entry["id"]], key=SPHERE_ORDER.__getitem__)
        entry["verification"] = str(entry["verification"])
        entry["logo_id"] = str(entry["logo_id"]) if entry["logo_id"] else None
    return {"entries": entries, "total": total}


PUBLIC_COUNTS_SECONDS = 60  # the figures on the home page may lag a minute


async def public_counts() -> dict[str, int]:
    """Verified organisations and active people, for the home page."""

    async def count() -> dict[str, int]:
        return {
            "organisation_count": await Organisation.filter(
                verification=Verification.VERIFIED
            ).count(),
            "user_count": await User.filter(is_active=True).count(),
        }

    return await cache.remember("home:counts", PUBLIC_COUNTS_SECONDS, count)


async def directory_changed() -> None:
    """After an organisation is created, edited, verified or given a logo."""
    await on_commit(lambda: cache.invalidate(DIRECTORY_CACHE))


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
        await directory_changed()
    return organisation


async def pending_verification() -> list[Organisation]:
    return (
        await Organisation.filter(verification__in=[Verification.PENDING, Verification.UNVERIFIED])
        .order_by("created_at")
        .prefetch_related("spheres", "domains")
    )


async def pending_publications(
    organisation_ids: list[int], packages: Sequence[DomainPackage] | None = None
) -> dict[int, list[tuple[str, str]]]:
    """What each organisation waits to publish (labs, programmes, contests…), asking every
    mounted package's `pending_publications` provider: organisation id → (kind, title) pairs,
    in package order. One call per package, whatever the number of organisations."""
    found: dict[int, list[tuple[str, str]]] = {oid: [] for oid in organisation_ids}
    if not organisation_ids:
        return found
    if packages is None:
        packages = mounted_packages()
    for package in packages:
        if package.pending_publications is None:
            continue
        for oid, items in (await package.pending_publications(organisation_ids)).items():
            found.setdefault(oid, []).extend(items)
    return found


# --- memberships --------------------------------------------------------------------------


async def active_memberships(user: User) -> list[Membership]:
    return (
        await Membership.filter(user_id=user.id, status=MembershipStatus.ACTIVE)
        .select_related("organisation")
        .prefetch_related("organisation__spheres")
        .order_by("organisation__name")
    )


async def members(actor: User, organisation: Organisation) -> list[Membership]:
    """Active members and open join requests, with their users, in one query."""
    await permissions.ensure(actor, "organisation.view_members", organisation)
    return (
        await Membership.filter(
            organisation_id=organisation.id,
            status__in=[MembershipStatus.ACTIVE, MembershipStatus.REQUESTED],
        )
        .select_related("user")
        .order_by("status", "user__full_name", "id")
    )


async def _actor_role(actor: User, organisation: Organisation) -> Role:
    role = await permissions.role_in(actor, organisation.id)
    if role is None:
        raise NotPermitted(_("You are not a member of this organisation."))
    return role


async def _membership_in(organisation: Organisation, membership_id: int) -> Membership:
    membership = (
        await Membership.filter(id=membership_id, organisation_id=organisation.id)
        .select_for_update(of=("membership",))  # the joined user row stays unlocked
        .select_related("user")
        .first()
    )
    if membership is None:
        raise NotFound(_("No such member."))
    return membership


async def _lock_owners(organisation: Organisation) -> int:
    """Lock the owner rows (PostgreSQL) and count them.

    Called first in every transaction that may take the last owner away, so two owners
    demoting each other at the same moment cannot leave the organisation without one
    (SQLite serialises these transactions anyway).
    """
    owners = await Membership.filter(
        organisation_id=organisation.id, role=Role.OWNER, status=MembershipStatus.ACTIVE
    ).select_for_update()
    return len(owners)


def _ensure_not_last_owner(membership: Membership, owners: int) -> None:
    is_owner = membership.role == Role.OWNER and membership.status == MembershipStatus.ACTIVE
    if is_owner and owners <= 1:
        raise Conflict(
            _("An organisation needs at least one owner. Make someone else owner first.")
        )


async def change_role(
    actor: User, organisation: Organisation, membership_id: int, role: Role, ip: str = ""
) -> Membership:
    """Admins and owners change roles up to their own rank; the last owner stays owner."""
    await permissions.ensure(actor, "organisation.manage_members", organisation)
    async with atomic():
        owners = await _lock_owners(organisation)
        actor_role = await _actor_role(actor, organisation)  # read again under the lock
        membership = await _membership_in(organisation, membership_id)
        if membership.status != MembershipStatus.ACTIVE:
            raise Conflict(_("Only active members have a role to change."))
        if role.rank > actor_role.rank or membership.role.rank > actor_role.rank:
            raise NotPermitted(_("You cannot grant or change a role above your own."))
        if role == membership.role:
            return membership
        if role.rank > membership.role.rank and not permissions.has_verified_identity(
            membership.user
        ):
            raise Conflict(
                _("This person has not verified their e-mail address: no role can be granted yet.")
            )
        if role != Role.OWNER:
            _ensure_not_last_owner(membership, owners)
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
    """Admins remove members up to their own rank; anyone may leave (but not the last owner)."""
    async with atomic():
        owners = await _lock_owners(organisation)
        membership = await _membership_in(organisation, membership_id)
        leaving = membership.user_id == actor.id
        if not leaving:
            await permissions.ensure(actor, "organisation.manage_members", organisation)
            actor_role = await _actor_role(actor, organisation)
            if membership.role.rank > actor_role.rank:
                raise NotPermitted(_("You cannot remove someone whose role is above your own."))
        if membership.status != MembershipStatus.ACTIVE:
            raise Conflict(_("This person is not an active member."))
        _ensure_not_last_owner(membership, owners)
        membership.status = MembershipStatus.LEFT
        await membership.save(update_fields=["status", "updated_at"])
        await audit.record(
            "membership.left" if leaving else "membership.removed",
            actor=actor,
            target=membership,
            ip=ip,
            organisation=organisation.slug,
            user=membership.user.email,
            role=str(membership.role),
        )
    return membership


# --- join requests ------------------------------------------------------------------------


def _email_domain(user: User) -> str:
    return user.email.rsplit("@", 1)[-1].lower()


async def joinable_by_domain(user: User) -> list[Organisation]:
    """Verified organisations of the user's (verified) email domain not joined or asked yet."""
    if user.email_verified_at is None:
        return []
    joined = await Membership.filter(
        user_id=user.id, status__in=[MembershipStatus.ACTIVE, MembershipStatus.REQUESTED]
    ).values_list("organisation_id", flat=True)
    return (
        await Organisation.filter(
            domains__domain=_email_domain(user), verification=Verification.VERIFIED
        )
        .exclude(id__in=list(joined))
        .order_by("name")
    )


async def request_to_join(user: User, organisation: Organisation, ip: str = "") -> Membership:
    """A person whose verified email domain is the organisation's asks to become a member."""
    if organisation.verification != Verification.VERIFIED:
        raise NotFound(_("No such organisation."))
    if user.email_verified_at is None:
        raise NotPermitted(_("Verify your email address first: it is how we know your domain."))
    if not await OrganisationDomain.filter(
        organisation_id=organisation.id, domain=_email_domain(user)
    ).exists():
        raise NotPermitted(_("Your email domain does not belong to this organisation."))
    try:
        async with atomic():
            membership = (
                await Membership.filter(user_id=user.id, organisation_id=organisation.id)
                .select_for_update()
                .first()
            )
            if membership and membership.status in (
                MembershipStatus.ACTIVE,
                MembershipStatus.REQUESTED,
            ):
                raise Conflict(_("You are already a member or have already asked to join."))
            if membership is None:
                membership = await Membership.create(
                    user_id=user.id,
                    organisation_id=organisation.id,
                    status=MembershipStatus.REQUESTED,
                )
            else:
                membership.status, membership.role = MembershipStatus.REQUESTED, Role.MEMBER
                await membership.save(update_fields=["status", "role", "updated_at"])
            await audit.record(
                "membership.requested",
                actor=user,
                target=membership,
                ip=ip,
                organisation=organisation.slug,
            )
    except IntegrityError as exc:  # the same request twice at the same moment
        raise Conflict(_("You are already a member or have already asked to join.")) from exc
    return membership


async def decide_join_request(
    actor: User, organisation: Organisation, membership_id: int, accept: bool, ip: str = ""
) -> Membership:
    await permissions.ensure(actor, "organisation.manage_members", organisation)
    async with atomic():
        membership = await _membership_in(organisation, membership_id)
        if membership.status != MembershipStatus.REQUESTED:
            raise Conflict(_("This request has already been answered."))
        if accept and not permissions.has_verified_identity(membership.user):
            raise Conflict(
                _("This person has not verified their e-mail address: they cannot join yet.")
            )
        membership.status = MembershipStatus.ACTIVE if accept else MembershipStatus.LEFT
        membership.role = Role.MEMBER
        await membership.save(update_fields=["status", "role", "updated_at"])
        if accept:
            await _zone_from_first_organisation(membership.user_id, organisation.id)  # type: ignore[attr-defined]
        await audit.record(
            "membership.request_accepted" if accept else "membership.request_refused",
            actor=actor,
            target=membership,
            ip=ip,
            organisation=organisation.slug,
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
            timezone=invitee.timezone if invitee else None,
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


def ensure_addressee(user: User, email: str) -> None:
    """Only the account that has verified the very address an invitation was sent to may act on it.

    Someone who registered that address without verifying it (an impostor, or its owner who has
    not confirmed it yet) is refused with the way forward: verify the address, then accept.
    """
    if user.email.lower() != email.strip().lower():
        raise NotPermitted(
            _(
                "This invitation was sent to %(email)s. Sign in with that address to accept it.",
                email=email,
            )
        )
    if not permissions.has_verified_identity(user):
        raise NotPermitted(
            _(
                "Verify your e-mail address %(email)s first (follow the link we sent you), "
                "then accept the invitation.",
                email=email,
            )
        )


async def accept_invitation(user: User, token: str, ip: str = "") -> Membership:
    """Single use, before it expires, by the addressee, and never above the inviter's role."""
    async with atomic():
        invitation = await invitation_for_token(token)
        ensure_addressee(user, invitation.email)
        # The inviter may have been demoted or have left since: the invitation cannot
        # grant more than the inviter holds now.
        inviter_role = await Membership.filter(
            user_id=invitation.invited_by_id,  # type: ignore[attr-defined]
            organisation_id=invitation.organisation_id,  # type: ignore[attr-defined]
            status=MembershipStatus.ACTIVE,
        ).values_list("role", flat=True)
        if not inviter_role or Role(inviter_role[0]).rank < invitation.role.rank:
            raise Conflict(
                _(
                    "The person who invited you can no longer grant this role. "
                    "Ask the organisation for a new invitation."
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
            except IntegrityError as exc:  # another invitation accepted at the same moment
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
        await _zone_from_first_organisation(user.id, invitation.organisation_id)  # type: ignore[attr-defined]
        await audit.record(
            "invitation.accepted",
            actor=user,
            target=membership,
            ip=ip,
            invitation=invitation.id,
            organisation=invitation.organisation.slug,
            role=str(membership.role),
        )
    return membership


async def revoke_invitation(
    actor: User, organisation: Organisation, invitation_id: int, ip: str = ""
) -> None:
    await permissions.ensure(actor, "organisation.manage_members", organisation)
    actor_role = await _actor_role(actor, organisation)
    invitation = await Invitation.get_or_none(
        id=invitation_id,
        organisation_id=organisation.id,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
    )
    if invitation is None:
        raise NotFound(_("No such open invitation."))
    if invitation.role.rank > actor_role.rank:
        raise NotPermitted(_("You cannot withdraw an invitation to a role above your own."))
    async with atomic():
        updated = await Invitation.filter(id=invitation.id, accepted_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if not updated:
            raise Conflict(_("This invitation has already been used."))
        await audit.record(
            "invitation.revoked",
            actor=actor,
            target=invitation,
            ip=ip,
            email=invitation.email,
            role=str(invitation.role),
        )
