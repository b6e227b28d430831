"""OpenID Connect providers as configured: the `Provider` record and the OIDC_PROVIDERS parser.

Pure (no I/O, no other kernel module), so the settings can parse the environment with it;
the sign-in itself is `ecosystem.services.identity`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
DOMAIN_PATTERN = re.compile(r"^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$")


@dataclass(frozen=True)
class Provider:
    name: str  # in URLs: /login/oidc/{name}
    title: str  # "Sign in with {title}"
    issuer: str
    client_id: str
    client_secret: str
    email_domains: tuple[str, ...] = ()  # the domains it vouches for; empty: any address
    organisation_slug: str = ""  # environment: the organisation it is tied to
    organisation_id: int | None = None  # admin area: the organisation it is tied to
    source: str = "environment"  # or "admin"
    id: int | None = None

    def serves(self, email: str) -> bool:
        return not self.email_domains or email_domain(email) in self.email_domains


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].lower()


def clean_issuer(issuer: str) -> str | None:
    """The issuer without its trailing slash, or None unless https (or this machine's http)."""
    issuer = issuer.strip().rstrip("/")
    local = issuer.startswith(("http://127.0.0.1", "http://localhost"))
    if not (issuer.startswith("https://") or local) or len(issuer) > 300 or " " in issuer:
        return None
    return issuer


def split_domains(domains: Iterable[str] | str) -> tuple[list[str], list[str]]:
    """(the cleaned domains, sorted; those that are not domains)."""
    if isinstance(domains, str):
        domains = re.split(r"[\s,;]+", domains)
    cleaned = sorted({d.strip().lower().lstrip("@") for d in domains if d and d.strip()})
    return [d for d in cleaned if DOMAIN_PATTERN.match(d)], [
        d for d in cleaned if not DOMAIN_PATTERN.match(d)
    ]


def provider_from_config(entry: Mapping[str, Any]) -> Provider:
    """One entry of OIDC_PROVIDERS; ValueError says what is wrong."""
    try:
        name = str(entry["name"]).strip().lower()
        issuer = str(entry["issuer"])
        client_id = str(entry["client_id"])
    except KeyError as exc:
        raise ValueError(f"OIDC_PROVIDERS: a provider has no {exc}") from None
    if not NAME_PATTERN.match(name):
        raise ValueError(f"OIDC_PROVIDERS: {name!r} is not a name such as 'tdmu' or 'google'")
    cleaned = clean_issuer(issuer)
    if cleaned is None:
        raise ValueError(f"OIDC_PROVIDERS: {name}: the issuer must be an https:// address")
    raw_domains = entry.get("email_domains") or []
    if not isinstance(raw_domains, list):
        raise ValueError(f"OIDC_PROVIDERS: {name}: email_domains must be a list")
    domains, bad = split_domains([str(d) for d in raw_domains])
    if bad:
        raise ValueError(f"OIDC_PROVIDERS: {name}: {bad[0]!r} is not an e-mail domain")
    return Provider(
        name=name,
        title=str(entry.get("title") or name),
        issuer=cleaned,
        client_id=client_id,
        client_secret=str(entry.get("client_secret") or ""),
        email_domains=tuple(domains),
        organisation_slug=str(entry.get("organisation") or ""),
    )


def parse_providers(raw: str) -> tuple[Provider, ...]:
    """OIDC_PROVIDERS: a JSON list of provider objects (see the README)."""
    try:
        entries = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"OIDC_PROVIDERS is not valid JSON: {exc}") from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ValueError("OIDC_PROVIDERS must be a JSON list of objects")
    providers = tuple(provider_from_config(entry) for entry in entries)
    if len({p.name for p in providers}) != len(providers):
        raise ValueError("OIDC_PROVIDERS: two providers have the same name")
    return providers
