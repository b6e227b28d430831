"""Kernel models: people, partner organisations of the triple helix, and platform records."""

from __future__ import annotations

import uuid
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class Sphere(StrEnum):
    GOVERNMENT = "government"
    ENTERPRISE = "enterprise"
    UNIVERSITY = "university"
    RESEARCH_INSTITUTE = "research_institute"
    STARTUP = "startup"
    INVESTOR = "investor"
    ASSOCIATION = "association"
    INTERNATIONAL_PARTNER = "international_partner"


SPHERE_ORDER = {sphere.value: position for position, sphere in enumerate(Sphere)}


class Verification(StrEnum):
    UNVERIFIED = "unverified"
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"

    @property
    def rank(self) -> int:
        return {Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}[self]


class MembershipStatus(StrEnum):
    INVITED = "invited"
    REQUESTED = "requested"
    ACTIVE = "active"
    LEFT = "left"


class MediaFile(Model):
    """An uploaded image, re-encoded without metadata. Variants are made by a job."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    purpose = fields.CharField(max_length=32)
    content_type = fields.CharField(max_length=64)
    width = fields.IntField()
    height = fields.IntField()
    size_bytes = fields.IntField()
    variants = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "media_file"


class User(Model):
    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)
    full_name = fields.CharField(max_length=120)
    password_hash = fields.CharField(max_length=255)
    locale = fields.CharField(max_length=8, default="vi")
    timezone = fields.CharField(max_length=64, default="Asia/Ho_Chi_Minh")
    email_verified_at = fields.DatetimeField(null=True)
    is_active = fields.BooleanField(default=True)
    is_platform_admin = fields.BooleanField(default=False)
    # Counts the times every session was ended at once (password reset, "sign out
    # everywhere", deactivation). The sessions themselves are `UserSession` rows.
    session_version = fields.IntField(default=0)
    avatar: fields.ForeignKeyNullableRelation[MediaFile] = fields.ForeignKeyField(
        "ecosystem.MediaFile", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    memberships: fields.ReverseRelation[Membership]

    class Meta:
        table = "user_account"

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    def __str__(self) -> str:
        return self.full_name or self.email


class Organisation(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    slug = fields.CharField(max_length=80, unique=True)
    search_key = fields.CharField(max_length=200, default="")  # text.fold(name), for search
    description = fields.TextField(default="")
    website = fields.CharField(max_length=300, default="")
    city = fields.CharField(max_length=100, default="")
    country = fields.CharField(max_length=2, default="VN")
    verification = fields.CharEnumField(
        Verification, default=Verification.UNVERIFIED, max_length=16
    )
    verification_note = fields.CharField(max_length=500, default="")
    # Its owners and admins must have a second factor (see ecosystem.services.second_factor).
    require_second_factor = fields.BooleanField(default=False)
    logo: fields.ForeignKeyNullableRelation[MediaFile] = fields.ForeignKeyField(
        "ecosystem.MediaFile", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    spheres: fields.ReverseRelation[OrganisationSphere]
    domains: fields.ReverseRelation[OrganisationDomain]
    memberships: fields.ReverseRelation[Membership]

    class Meta:
        table = "organisation"
        indexes = (("verification", "search_key"),)

    def sphere_values(self) -> list[str]:
        """Spheres in a stable order; needs `spheres` prefetched."""
        return sorted((s.sphere.value for s in self.spheres), key=SPHERE_ORDER.__getitem__)

    def __str__(self) -> str:
        return self.name


class OrganisationSphere(Model):
    id = fields.IntField(primary_key=True)
    organisation: fields.ForeignKeyRelation[Organisation] = fields.ForeignKeyField(
        "ecosystem.Organisation", related_name="spheres", on_delete=fields.CASCADE
    )
    sphere = fields.CharEnumField(Sphere, max_length=32)

    class Meta:
        table = "organisation_sphere"
        unique_together = (("organisation", "sphere"),)
        indexes = (("sphere",),)


class OrganisationDomain(Model):
    """An email domain whose owners may request to join the organisation."""

    id = fields.IntField(primary_key=True)
    organisation: fields.ForeignKeyRelation[Organisation] = fields.ForeignKeyField(
        "ecosystem.Organisation", related_name="domains", on_delete=fields.CASCADE
    )
    domain = fields.CharField(max_length=253, unique=True)

    class Meta:
        table = "organisation_domain"


class Membership(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "ecosystem.User", related_name="memberships", on_delete=fields.CASCADE
    )
    organisation: fields.ForeignKeyRelation[Organisation] = fields.ForeignKeyField(
        "ecosystem.Organisation", related_name="memberships", on_delete=fields.CASCADE
    )
    role = fields.CharEnumField(Role, default=Role.MEMBER, max_length=16)
    status = fields.CharEnumField(MembershipStatus, max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "membership"
        unique_together = (("user", "organisation"),)
        indexes = (("organisation_id", "status"),)


class Invitation(Model):
    id = fields.IntField(primary_key=True)
    organisation: fields.ForeignKeyRelation[Organisation] = fields.ForeignKeyField(
        "ecosystem.Organisation", related_name="invitations", on_delete=fields.CASCADE
    )
    email = fields.CharField(max_length=254)
    role = fields.CharEnumField(Role, max_length=16)
    token_hash = fields.CharField(max_length=64, unique=True)
    invited_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    expires_at = fields.DatetimeField()
    accepted_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "invitation"


class ApiToken(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "ecosystem.User", related_name="api_tokens", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=100)
    prefix = fields.CharField(max_length=12)
    source = fields.CharField(max_length=8, default="manual")  # manual | login
    # "full", or "read": only GET and HEAD requests (403 on any other method).
    scope = fields.CharField(max_length=8, default="full")
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True)  # refused from then on (401)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_token"

    @property
    def read_only(self) -> bool:
        return self.scope == "read"


class UserSession(Model):
    """One signed-in browser, ended on the server at sign-out.

    The signed cookie carries only a random key; its SHA-256 is stored here. Signing out, a
    password reset or "sign out everywhere" sets `revoked_at`: a replayed cookie is anonymous.
    """

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    key_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField()
    user_agent = fields.CharField(max_length=200, default="")
    ip = fields.CharField(max_length=45, default="")
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "user_session"
        indexes = (("user_id", "revoked_at"),)


class AuditEvent(Model):
    """Append-only record of security-relevant actions."""

    id = fields.BigIntField(primary_key=True)
    action = fields.CharField(max_length=64)
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    target_type = fields.CharField(max_length=32, default="")
    target_id = fields.CharField(max_length=64, default="")
    ip = fields.CharField(max_length=45, default="")
    detail = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_event"
        indexes = (("action", "created_at"), ("created_at",))


class OutboxMessage(Model):
    """Every email the platform sends, kept for delivery retries and the development outbox."""

    id = fields.IntField(primary_key=True)
    to = fields.CharField(max_length=254)
    subject = fields.CharField(max_length=300)
    text_body = fields.TextField()
    html_body = fields.TextField(default="")
    status = fields.CharField(max_length=16, default="queued")  # queued|sent|logged|failed
    attempts = fields.IntField(default=0)
    last_error = fields.CharField(max_length=500, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox_message"
        indexes = (("created_at",),)


class PublishedIndicators(Model):
    """The open indicators of a period that has ended, as first published: what the operations
    centre and the open-data packages serve from then on. A correction is a new version."""

    id = fields.IntField(primary_key=True)
    period_start = fields.DateField()
    period_end = fields.DateField()
    version = fields.IntField(default=1)
    payload = fields.JSONField()
    published_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "published_indicators"
        unique_together = (("period_start", "period_end", "version"),)


class OutboxAttachment(Model):
    """A file sent with an outbox message (a calendar invitation, a receipt), kept with it for
    retries; delivered as a MIME part."""

    id = fields.IntField(primary_key=True)
    message: fields.ForeignKeyRelation[OutboxMessage] = fields.ForeignKeyField(
        "ecosystem.OutboxMessage", related_name="attachments", on_delete=fields.CASCADE
    )
    filename = fields.CharField(max_length=200)
    content_type = fields.CharField(max_length=200)  # "text/calendar; method=REQUEST"
    content = fields.BinaryField()

    class Meta:
        table = "outbox_attachment"


class TotpFactor(Model):
    """A person's authenticator app (TOTP, RFC 6238). The shared secret is stored encrypted
    with a key derived from the app's secret (`ecosystem.services.second_factor`); it is in
    use once `confirmed_at` is set (the first code proved the app has it)."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE, unique=True
    )
    secret_encrypted = fields.CharField(max_length=255)
    confirmed_at = fields.DatetimeField(null=True)
    # The time step of the last code accepted: a code is never accepted twice.
    last_used_step = fields.BigIntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "totp_factor"


class RecoveryCode(Model):
    """A single-use code for when the authenticator is lost (SHA-256 of the code)."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    code_hash = fields.CharField(max_length=64)
    used_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "recovery_code"
        indexes = (("user_id", "used_at"),)


class Passkey(Model):
    """A WebAuthn credential: a second factor, or a way to sign in on its own."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=100)
    credential_id = fields.CharField(max_length=1400, unique=True)  # base64url
    public_key = fields.BinaryField()  # COSE
    sign_count = fields.BigIntField(default=0)
    transports = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "passkey"


class IdentityProvider(Model):
    """An OpenID Connect provider added by platform admins (those configured by OIDC_PROVIDERS
    in the environment are not stored). The client secret is kept to talk to the provider and
    never shown back in full."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=40, unique=True)  # in URLs: /login/oidc/{name}
    title = fields.CharField(max_length=100)  # "Sign in with {title}"
    issuer = fields.CharField(max_length=300)
    client_id = fields.CharField(max_length=300)
    # Encrypted (identity.seal_client_secret): a secret of up to 500 characters takes 800.
    client_secret = fields.CharField(max_length=1000)
    # E-mail domains the provider vouches for; empty: any address (Google, Entra multi-tenant).
    email_domains = fields.JSONField(default=list)
    organisation: fields.ForeignKeyNullableRelation[Organisation] = fields.ForeignKeyField(
        "ecosystem.Organisation", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    enabled = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "identity_provider"


class ExternalIdentity(Model):
    """A person's account at an identity provider (`subject` is the provider's `sub`), linked
    to one local account."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "ecosystem.User", related_name="external_identities", on_delete=fields.CASCADE
    )
    provider = fields.CharField(max_length=40)  # the provider's name
    subject = fields.CharField(max_length=255)
    email = fields.CharField(max_length=254, default="")
    linked_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "external_identity"
        unique_together = (("provider", "subject"),)
        indexes = (("user_id",),)


class OidcUsedState(Model):
    """The `state` of every finished OpenID Connect sign-in (hashed): a replayed callback is
    refused even when it brings back the old session cookie."""

    id = fields.IntField(primary_key=True)
    state_hash = fields.CharField(max_length=64, unique=True)
    used_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "oidc_used_state"
        indexes = (("used_at",),)
