"""Sign-in with the partners' own identity providers (OpenID Connect), and the linking rules.

The flow is the authorization code flow with PKCE (S256). `begin` makes the provider's
authorization URL and the flow record the route keeps in the session (state, nonce, intent,
where to go next); the PKCE verifier is derived from the state with the server's secret, so no
secret sits in the (signed, readable) cookie. `finish` checks the callback against that record,
spends the state once for all processes (`OidcUsedState`), exchanges the code and verifies the
ID token: signature against the provider's JWKS with an algorithm from its metadata (never
`none`), issuer, audience, expiry and nonce (Authlib's `CodeIDToken` over joserfc).

`sign_in_with` then applies the linking rules:
- a known (provider, subject) signs its account in;
- a new subject reaches an existing account by e-mail only when the provider says the e-mail is
  verified AND the account verified that address too, and never for platform admins or
  accounts with a second factor: they link from their account page (`link`);
- an unknown verified address becomes a new account (verified address, the provider's locale
  when supported) with membership REQUESTS – not memberships – to the verified organisation
  the provider is tied to and to verified organisations of that e-mail domain.

Providers come from `OIDC_PROVIDERS` (settings) and from platform admins (`IdentityProvider`).
Every provider call goes through `_http()`: its discovery document and keys are cached.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote_plus

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from tortoise import timezone
from tortoise.exceptions import IntegrityError

from ecosystem import cache, encryption, i18n, permissions
from ecosystem.db import atomic
from ecosystem.errors import Conflict, DomainError, Invalid, NotFound, NotPermitted
from ecosystem.i18n import _
from ecosystem.identity_providers import (
    NAME_PATTERN,
    Provider,
    clean_issuer,
    email_domain,
    split_domains,
)
from ecosystem.models import (
    ExternalIdentity,
    IdentityProvider,
    Membership,
    MembershipStatus,
    OidcUsedState,
    Organisation,
    User,
    Verification,
)
from ecosystem.services import audit
from ecosystem.services.second_factor import has_second_factor
from ecosystem.settings import get_settings

logger = logging.getLogger("ecosystem.identity")
SCOPES = "openid email profile"
FLOW_SECONDS = 600  # a sign-in started more than ten minutes ago is refused
CLOCK_LEEWAY_SECONDS = 60
DISCOVERY_SECONDS = 3600
HTTP_TIMEOUT_SECONDS = 10
INTENTS = ("sign_in", "link")
# Tests point this at an httpx.MockTransport to play a provider that misbehaves.
HTTP_TRANSPORT: httpx.AsyncBaseTransport | None = None


class ProviderUnavailable(DomainError):
    """The provider could not be reached or answered nonsense (not the person's fault)."""

    status_code = 502
    code = "provider_unavailable"


class SignInRefused(DomainError):
    """The provider's answer was not good enough to sign anyone in (bad token, replay)."""

    status_code = 400
    code = "sign_in_refused"


@dataclass(frozen=True)
class ProviderClaims:
    """What the provider said about the person, once verified."""

    provider: str
    subject: str
    email: str = ""
    email_verified: bool = False
    name: str = ""
    locale: str = ""


@dataclass
class Outcome:
    """What a finished OpenID Connect sign-in did; the route only shows it."""

    user: User
    created: bool = False  # a new account
    linked: bool = False  # a new provider identity on this account
    requested: list[Organisation] = field(default_factory=list)  # membership requests made


# --- providers -----------------------------------------------------------------------------


CLIENT_SECRET_PURPOSE = "ecosystem oidc client secret"  # HKDF info: never change it


def seal_client_secret(secret: str) -> str:
    """What `IdentityProvider.client_secret` stores: the secret encrypted (ecosystem.encryption)."""
    return encryption.encrypt(secret, CLIENT_SECRET_PURPOSE)


def stored_client_secret(row: IdentityProvider) -> str:
    """The client secret of an admin-added provider; empty when SECRET_KEY changed since it
    was saved (the provider then refuses our token requests until an admin enters it again)."""
    secret = encryption.decrypt(row.client_secret, CLIENT_SECRET_PURPOSE)
    if secret is None:
        logger.warning("the client secret of sign-in provider %s cannot be decrypted", row.name)
    return secret or ""


def _from_row(row: IdentityProvider) -> Provider:
    return Provider(
        name=row.name,
        title=row.title,
        issuer=row.issuer,
        client_id=row.client_id,
        client_secret=stored_client_secret(row),
        email_domains=tuple(row.email_domains or ()),
        organisation_id=row.organisation_id,
        source="admin",
        id=row.id,
    )


async def list_providers() -> list[Provider]:
    """The providers people may sign in with: the environment's, then the admins' (one query)."""
    configured = list(get_settings().oidc_providers)
    taken = {p.name for p in configured}
    rows = await IdentityProvider.filter(enabled=True).order_by("title", "id")
    return configured + [_from_row(r) for r in rows if r.name not in taken]


async def get_provider(name: str) -> Provider:
    for provider in get_settings().oidc_providers:
        if provider.name == name:
            return provider
    row = await IdentityProvider.get_or_none(name=name[:40], enabled=True)
    if row is None:
        raise NotFound(_("This sign-in provider is unknown."))
    return _from_row(row)


async def provider_titles() -> dict[str, str]:
    return {p.name: p.title for p in await list_providers()}


# --- talking to the provider -----------------------------------------------------------------


def _http() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=HTTP_TIMEOUT_SECONDS, transport=HTTP_TRANSPORT, follow_redirects=False
    )


def _unavailable(exc: Exception | None = None) -> ProviderUnavailable:
    if exc is not None:
        logger.warning("identity provider call failed: %r", exc)
    return ProviderUnavailable(
        _("The sign-in provider cannot be reached or gave an answer we cannot use. Try later.")
    )


async def _get_json(url: str, headers: dict[str, str] | None = None) -> dict:
    try:
        async with _http() as http:
            response = await http.get(url, headers=headers or {})
        response.raise_for_status()
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise _unavailable(exc) from None
    if not isinstance(data, dict):
        raise _unavailable()
    return data


async def metadata(provider: Provider) -> dict:
    """The provider's discovery document (cached), checked to name this very issuer."""

    async def fetch() -> dict:
        data = await _get_json(f"{provider.issuer}/.well-known/openid-configuration")
        needed = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
        if any(not isinstance(data.get(key), str) for key in needed):
            raise _unavailable()
        if data["issuer"].rstrip("/") != provider.issuer:
            raise _unavailable()
        return data

    return await cache.remember(f"oidc-discovery:{provider.issuer}", DISCOVERY_SECONDS, fetch)


async def _key_set(jwks_uri: str, fresh: bool = False) -> KeySet:
    if fresh:
        await cache.invalidate(f"oidc-jwks:{jwks_uri}")
    generation = await cache.generation(f"oidc-jwks:{jwks_uri}")
    data = await cache.remember(
        f"oidc-jwks:{generation}:{jwks_uri}", DISCOVERY_SECONDS, lambda: _get_json(jwks_uri)
    )
    try:
        return KeySet.import_key_set(data)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError):
        raise _unavailable() from None


def redirect_uri(provider: Provider) -> str:
    return f"{get_settings().base_url}/login/oidc/{provider.name}/callback"


def redirect_uri_pattern() -> str:
    return f"{get_settings().base_url}/login/oidc/<name>/callback"


def _code_verifier(state: str) -> str:
    """The PKCE verifier of a flow, derived from its state with the server's secret."""
    digest = hmac.new(
        get_settings().secret_key.encode(), f"oidc-pkce:{state}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def begin(
    provider: Provider, intent: str, next_url: str, user: User | None = None
) -> tuple[str, dict]:
    """The provider's authorization URL and the flow record to keep in the session."""
    if intent not in INTENTS:
        raise Invalid(_("Unknown action."))
    if intent == "link" and user is None:
        raise NotPermitted(_("Please sign in to continue."))
    meta = await metadata(provider)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    url = prepare_grant_uri(
        meta["authorization_endpoint"],
        provider.client_id,
        "code",
        redirect_uri=redirect_uri(provider),
        scope=SCOPES,
        state=state,
        nonce=nonce,
        code_challenge=create_s256_code_challenge(_code_verifier(state)),
        code_challenge_method="S256",
    )
    flow = {
        "provider": provider.name,
        "state": state,
        "nonce": nonce,
        "intent": intent,
        "next": next_url,
        "user_id": user.id if user else None,
        "started": int(time.time()),
    }
    return url, flow


def _refused(message: str | None = None) -> SignInRefused:
    return SignInRefused(
        message
        or _("This sign-in could not be completed. Please start again from the sign-in page.")
    )


async def _spend_state(state: str) -> None:
    """Mark the state used, once for every process: a replayed callback is refused."""
    state_hash = hashlib.sha256(state.encode()).hexdigest()
    try:
        await OidcUsedState.create(state_hash=state_hash)
    except IntegrityError:
        raise _refused(_("This sign-in link has already been used. Please start again.")) from None
    cutoff = timezone.now() - timedelta(days=1)
    await OidcUsedState.filter(used_at__lt=cutoff).delete()


async def _exchange_code(provider: Provider, meta: dict, code: str, state: str) -> dict:
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri(provider),
        "code_verifier": _code_verifier(state),
    }
    methods = meta.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    auth = None
    if "client_secret_basic" in methods:
        # RFC 6749 §2.3.1: the id and secret are form-encoded before Basic encoding.
        auth = httpx.BasicAuth(quote_plus(provider.client_id), quote_plus(provider.client_secret))
    else:
        body.update(client_id=provider.client_id, client_secret=provider.client_secret)
    try:
        async with _http() as http:
            response = await http.post(
                meta["token_endpoint"], data=body, auth=auth, headers={"Accept": "application/json"}
            )
    except httpx.HTTPError:
        raise _unavailable() from None
    if response.status_code >= 500:
        raise _unavailable()
    try:
        token = response.json()
    except ValueError:
        raise _unavailable() from None
    if response.status_code != 200 or not isinstance(token, dict):
        raise _refused(_("The sign-in provider refused this sign-in. Please start again."))
    if not isinstance(token.get("id_token"), str):
        raise _refused()
    return token


async def _verify_id_token(provider: Provider, meta: dict, token: dict, nonce: str) -> dict:
    """The ID token's claims, after signature, issuer, audience, expiry and nonce checks."""
    algorithms = [
        a
        for a in meta.get("id_token_signing_alg_values_supported") or ["RS256"]
        if isinstance(a, str) and a.lower() != "none"
    ] or ["RS256"]
    registry = JWSRegistry(algorithms=algorithms)
    raw = token["id_token"]
    try:
        try:
            decoded = jwt.decode(raw, await _key_set(meta["jwks_uri"]), registry=registry)
        except InvalidKeyIdError:  # the provider rotated its keys: fetch them once more
            decoded = jwt.decode(
                raw, await _key_set(meta["jwks_uri"], fresh=True), registry=registry
            )
        options = {
            "iss": {"essential": True, "value": meta["issuer"]},
            "aud": {"essential": True, "values": [provider.client_id]},
            "sub": {"essential": True},
        }
        params = {"nonce": nonce, "client_id": provider.client_id}
        if isinstance(token.get("access_token"), str):
            params["access_token"] = token["access_token"]
        claims = CodeIDToken(decoded.claims, decoded.header, options, params)
        claims.validate(leeway=CLOCK_LEEWAY_SECONDS)
    except (JoseError, ValueError, TypeError, KeyError):
        raise _refused(_("The sign-in provider's answer could not be verified.")) from None
    return dict(claims)


async def finish(
    provider: Provider, flow: Mapping[str, Any] | None, params: Mapping[str, str]
) -> ProviderClaims:
    """Check the callback against the flow record, spend its state, exchange the code and
    verify the ID token (see the module's docstring). Raises SignInRefused (400) for anything
    wrong in the answer, ProviderUnavailable (502) when the provider cannot be used."""
    if params.get("error"):
        raise _refused(_("The sign-in was cancelled or refused at the provider."))
    state = params.get("state", "")
    if (
        not flow
        or not isinstance(flow.get("state"), str)
        or flow.get("provider") != provider.name
        or not hmac.compare_digest(state.encode(), flow["state"].encode())
    ):
        raise _refused()
    if not isinstance(flow.get("started"), int) or time.time() - flow["started"] > FLOW_SECONDS:
        raise _refused(_("This sign-in took too long. Please start again."))
    code = params.get("code", "")
    if not code or len(code) > 2048:
        raise _refused()
    meta = await metadata(provider)
    # RFC 9207: a provider that names itself in the answer must name itself.
    if "iss" in params and params["iss"].rstrip("/") != meta["issuer"].rstrip("/"):
        raise _refused()
    await _spend_state(flow["state"])
    token = await _exchange_code(provider, meta, code, flow["state"])
    claims = await _verify_id_token(provider, meta, token, str(flow.get("nonce", "")))
    if "email" not in claims and isinstance(meta.get("userinfo_endpoint"), str):
        info = await _get_json(
            meta["userinfo_endpoint"], {"Authorization": f"Bearer {token.get('access_token', '')}"}
        )
        if info.get("sub") != claims["sub"]:  # OIDC Core §5.3.2
            raise _refused(_("The sign-in provider's answer could not be verified."))
        claims = {**info, **claims}
    email = claims.get("email")
    # Microsoft Entra says "the tenant owns this address's domain" with its optional claim
    # `xms_edov` instead of `email_verified`.
    verified = claims.get("email_verified", claims.get("xms_edov"))
    return ProviderClaims(
        provider=provider.name,
        subject=str(claims["sub"])[:255],
        email=email.strip().lower()[:254] if isinstance(email, str) else "",
        email_verified=verified is True or verified == "true",
        name=str(claims.get("name") or "")[:120],
        locale=str(claims.get("locale") or ""),
    )


# --- the linking rules -------------------------------------------------------------------


async def _organisations_to_request(provider: Provider, email: str) -> list[Organisation]:
    """Verified organisations a new account from `provider` asks to join: the one the provider
    is tied to (when it vouches for the address's domain), and those owning the domain."""
    domain = email_domain(email)
    wanted: dict[int, Organisation] = {}
    tied = None
    if provider.organisation_id is not None:
        tied = await Organisation.get_or_none(id=provider.organisation_id)
    elif provider.organisation_slug:
        tied = await Organisation.get_or_none(slug=provider.organisation_slug)
    if tied is not None and provider.email_domains and domain in provider.email_domains:
        wanted[tied.id] = tied
    owners = await Organisation.filter(domains__domain=domain)
    for organisation in owners:
        wanted[organisation.id] = organisation
    return [o for o in wanted.values() if o.verification == Verification.VERIFIED]


async def _link(user: User, claims: ProviderClaims, ip: str, how: str) -> ExternalIdentity:
    try:
        identity = await ExternalIdentity.create(
            user_id=user.id,
            provider=claims.provider,
            subject=claims.subject,
            email=claims.email,
            last_used_at=timezone.now(),
        )
    except IntegrityError:
        raise Conflict(_("This provider account is already linked to an account.")) from None
    await audit.record(
        "identity.linked", actor=user, target=identity, ip=ip, provider=claims.provider, how=how
    )
    return identity


async def sign_in_with(
    provider: Provider,
    claims: ProviderClaims,
    *,
    locale: str = "",
    ip: str = "",
) -> Outcome:
    """The account a verified provider answer signs in (the rules in the module's docstring).

    NotPermitted (403) for an answer that may not sign anyone in: an address the provider did
    not verify or does not serve, an admin or second-factor account reached by e-mail, or an
    account whose own address is unverified.
    """
    identity = (
        await ExternalIdentity.filter(provider=claims.provider, subject=claims.subject)
        .select_related("user")
        .first()
    )
    if identity is not None:
        user = identity.user
        if not user.is_active:
            raise NotPermitted(_("This account has been deactivated."))
        identity.last_used_at = timezone.now()
        await identity.save(update_fields=["last_used_at"])
        await audit.record("login.oidc", actor=user, target=user, ip=ip, provider=claims.provider)
        return Outcome(user=user)
    if not claims.email:
        raise NotPermitted(_("The sign-in provider did not tell us your e-mail address."))
    if not claims.email_verified:
        raise NotPermitted(
            _(
                "The sign-in provider has not verified the e-mail address %(email)s, so it cannot "
                "sign you in here. Verify it at the provider, or sign in with a password.",
                email=claims.email,
            )
        )
    if not provider.serves(claims.email):
        raise NotPermitted(
            _("%(provider)s does not sign in addresses of this domain.", provider=provider.title)
        )
    async with atomic():
        existing = await User.get_or_none(email=claims.email)
        if existing is not None:
            if not existing.is_active:
                raise NotPermitted(_("This account has been deactivated."))
            if existing.is_platform_admin or await has_second_factor(existing):
                raise NotPermitted(
                    _(
                        "An account with this address exists and is protected: sign in with your "
                        "password, then link %(provider)s from your account page.",
                        provider=provider.title,
                    )
                )
            if existing.email_verified_at is None:
                raise NotPermitted(
                    _(
                        "An account with this address exists but has not verified it: sign in "
                        "with your password and verify it, or link %(provider)s from your "
                        "account page.",
                        provider=provider.title,
                    )
                )
            await _link(existing, claims, ip, how="email")
            await audit.record(
                "login.oidc", actor=existing, target=existing, ip=ip, provider=claims.provider
            )
            return Outcome(user=existing, linked=True)
        user = await _create_account(provider, claims, locale, ip)
        requested = []
        for organisation in await _organisations_to_request(provider, claims.email):
            membership = await Membership.create(
                user_id=user.id, organisation_id=organisation.id, status=MembershipStatus.REQUESTED
            )
            await audit.record(
                "membership.requested",
                actor=user,
                target=membership,
                ip=ip,
                organisation=organisation.slug,
                via=provider.name,
            )
            requested.append(organisation)
        await audit.record("login.oidc", actor=user, target=user, ip=ip, provider=claims.provider)
    return Outcome(user=user, created=True, linked=True, requested=requested)


async def _create_account(provider: Provider, claims: ProviderClaims, locale: str, ip: str) -> User:
    chosen = i18n.normalise_locale(claims.locale) or i18n.normalise_locale(locale)
    try:
        user = await User.create(
            email=claims.email,
            full_name=claims.name or claims.email.split("@")[0],
            password_hash="",  # no password until the person sets one ("forgot password")
            locale=chosen or i18n.DEFAULT_LOCALE,
            timezone=get_settings().default_timezone,
            email_verified_at=timezone.now(),
        )
    except IntegrityError:  # the same address registered at the same moment
        raise Conflict(_("An account with this email already exists.")) from None
    await audit.record("user.registered", actor=user, target=user, ip=ip, via=provider.name)
    await _link(user, claims, ip, how="new_account")
    return user


async def link(user: User, claims: ProviderClaims, ip: str = "") -> ExternalIdentity:
    """Link a provider identity to the signed-in account (its owner's explicit act)."""
    existing = await ExternalIdentity.get_or_none(provider=claims.provider, subject=claims.subject)
    if existing is not None:
        if existing.user_id == user.id:
            raise Conflict(_("This provider account is already linked to your account."))
        raise Conflict(_("This provider account is already linked to another account."))
    async with atomic():
        return await _link(user, claims, ip, how="account_page")


async def linked_identities(user: User) -> list[ExternalIdentity]:
    return await ExternalIdentity.filter(user_id=user.id).order_by("linked_at", "id")


async def account_providers(user: User) -> dict:
    """What the account page's "Sign-in providers" section shows (two queries)."""
    providers = await list_providers()
    titles = {p.name: p.title for p in providers}
    linked = await linked_identities(user)
    names = {i.provider for i in linked}
    return {
        "linked": [{"identity": i, "title": titles.get(i.provider, i.provider)} for i in linked],
        "available": [p for p in providers if p.name not in names],
        "has_password": bool(user.password_hash),
    }


async def unlink(user: User, identity_id: int, ip: str = "") -> ExternalIdentity:
    """Remove one of the account's provider identities, keeping a way to sign in: a password
    or another provider (Conflict otherwise)."""
    async with atomic():
        # Lock the account's row so two unlinks at once cannot both see "another one left".
        await User.filter(id=user.id).select_for_update().values_list("id", flat=True)
        identity = await ExternalIdentity.get_or_none(id=identity_id, user_id=user.id)
        if identity is None:
            raise NotFound(_("No such linked provider."))
        fresh = await User.get(id=user.id)
        others = await ExternalIdentity.filter(user_id=user.id).exclude(id=identity.id).count()
        if not fresh.password_hash and others == 0:
            raise Conflict(
                _(
                    "This is your only way to sign in. Set a password first (with “Forgot your "
                    "password?” on the sign-in page), then unlink it."
                )
            )
        await identity.delete()
        await audit.record(
            "identity.unlinked", actor=user, target=identity, ip=ip, provider=identity.provider
        )
    return identity


# --- providers in the admin area ---------------------------------------------------------------


@dataclass(frozen=True)
class ProviderInput:
    name: str
    title: str
    issuer: str
    client_id: str
    client_secret: str  # empty on an edit: keep the stored one
    email_domains: str
    organisation_slug: str = ""
    enabled: bool = True


def secret_hint(secret: str) -> str:
    """What the admin area shows of a client secret."""
    return "••••" + secret[-4:] if len(secret) > 8 else "••••"


def stored_secret_hint(row: IdentityProvider) -> str:
    """What the admin area shows of an admin-added provider's stored client secret."""
    return secret_hint(stored_client_secret(row))


async def admin_providers(actor: User) -> list[IdentityProvider]:
    await permissions.ensure(actor, "identity_provider.manage")
    return await IdentityProvider.all().select_related("organisation").order_by("title", "id")


async def organisations_to_tie() -> list[Organisation]:
    """Verified organisations, by name: those a provider may be tied to."""
    return await Organisation.filter(verification=Verification.VERIFIED).order_by("name", "id")


async def admin_provider(actor: User, provider_id: int) -> IdentityProvider:
    await permissions.ensure(actor, "identity_provider.manage")
    row = await IdentityProvider.filter(id=provider_id).select_related("organisation").first()
    if row is None:
        raise NotFound(_("This sign-in provider is unknown."))
    return row


async def save_provider(
    actor: User, data: ProviderInput, row: IdentityProvider | None = None, ip: str = ""
) -> IdentityProvider:
    """Create (row None) or change a provider; every problem is an Invalid naming its field."""
    await permissions.ensure(actor, "identity_provider.manage")
    errors: dict[str, str] = {}
    name = data.name.strip().lower() if row is None else row.name
    if row is None:
        if not NAME_PATTERN.match(name):
            errors["name"] = _("Use lowercase letters, digits and hyphens (for example tdmu).")
        elif any(p.name == name for p in get_settings().oidc_providers) or (
            await IdentityProvider.filter(name=name).exists()
        ):
            errors["name"] = _("A sign-in provider with this name already exists.")
    title = data.title.strip()
    if not 1 <= len(title) <= 100:
        errors["title"] = _("Give the name shown on the button (at most 100 characters).")
    issuer = clean_issuer(data.issuer) or ""
    if not issuer:
        errors["issuer"] = _("The issuer must be an https:// address.")
    if not 1 <= len(data.client_id.strip()) <= 300:
        errors["client_id"] = _("Enter the client id the provider gave you.")
    secret = data.client_secret.strip()
    if row is None and not secret:
        errors["client_secret"] = _("Enter the client secret the provider gave you.")
    elif len(secret.encode()) > 500:  # bytes: the stored token must fit its column
        errors["client_secret"] = _("The client secret is too long.")
    domains, bad = split_domains(data.email_domains)
    if bad:
        errors["email_domains"] = _(
            "“%(domain)s” is not an email domain such as eiu.edu.vn.", domain=bad[0]
        )
    organisation = None
    if data.organisation_slug.strip():
        organisation = await Organisation.get_or_none(slug=data.organisation_slug.strip())
        if organisation is None or organisation.verification != Verification.VERIFIED:
            errors["organisation"] = _("Choose a verified organisation.")
        elif not domains:
            errors["email_domains"] = _(
                "A provider tied to an organisation must say which e-mail domains it serves."
            )
    if errors:
        raise Invalid(next(iter(errors.values())), fields=errors)
    values = {
        "title": title,
        "issuer": issuer,
        "client_id": data.client_id.strip(),
        "email_domains": list(domains),
        "organisation_id": organisation.id if organisation else None,
        "enabled": data.enabled,
    }
    if secret:
        values["client_secret"] = seal_client_secret(secret)
    async with atomic():
        if row is None:
            try:
                row = await IdentityProvider.create(name=name, **values)
            except IntegrityError:
                message = _("A sign-in provider with this name already exists.")
                raise Invalid(message, fields={"name": message}) from None
            action = "identity_provider.created"
        else:
            for key, value in values.items():
                setattr(row, key, value)
            await row.save(update_fields=list(values))
            action = "identity_provider.changed"
        await audit.record(action, actor=actor, target=row, ip=ip, name=row.name, issuer=issuer)
    await row.fetch_related("organisation")
    return row
