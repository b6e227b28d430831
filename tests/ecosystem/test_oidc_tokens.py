"""ID tokens the real provider would never send – wrong issuer, audience or nonce, a bad
signature, expired, `alg: none`, an HMAC signed with the client secret – are refused.

A provider that misbehaves is played at the HTTP boundary (`identity.HTTP_TRANSPORT`, an
httpx.MockTransport): its discovery document, its JWKS (a key this test made) and a token
endpoint answering with the ID token each test signs. Our database is real. A well-formed
token signs in through the same path, so every refusal here can fail.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from ecosystem.identity_providers import provider_from_config
from ecosystem.models import AuditEvent, ExternalIdentity, User
from ecosystem.services import identity

ISSUER = "https://id.example.edu.vn"
CLIENT_ID = "innovation-region"
CLIENT_SECRET = "a-client-secret-of-some-length"
KEY = RSAKey.generate_key(2048, parameters={"kid": "key-1"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "key-1"})  # same kid, other key


class FakeProvider:
    """Answers discovery, JWKS, token and userinfo; `claims`/`sign` say what the token is."""

    def __init__(self) -> None:
        self.nonce = ""
        self.overrides: dict = {}
        self.sign = lambda claims: jwt.encode({"alg": "RS256", "kid": "key-1"}, claims, KEY)
        self.token_requests: list[dict] = []
        self.down = False

    def claims(self) -> dict:
        now = int(time.time())
        return {
            "iss": ISSUER,
            "aud": CLIENT_ID,
            "sub": "subject-1",
            "iat": now,
            "exp": now + 300,
            "nonce": self.nonce,
            "email": "lan@eiu.edu.vn",
            "email_verified": True,
            **self.overrides,
        }

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("refused", request=request)
        path = request.url.path
        if path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{ISSUER}/authorize",
                    "token_endpoint": f"{ISSUER}/token",
                    "jwks_uri": f"{ISSUER}/jwks",
                    "id_token_signing_alg_values_supported": ["RS256"],
                },
            )
        if path == "/jwks":
            return httpx.Response(200, json={"keys": [KEY.as_dict(private=False)]})
        if path == "/token":
            body = dict(parse_qs(request.content.decode()))
            self.token_requests.append({k: v[0] for k, v in body.items()})
            token = self.sign(self.claims())
            return httpx.Response(
                200, json={"access_token": "at", "token_type": "Bearer", "id_token": token}
            )
        return httpx.Response(404)


@pytest.fixture
def fake(monkeypatch) -> FakeProvider:
    provider = FakeProvider()
    monkeypatch.setattr(identity, "HTTP_TRANSPORT", httpx.MockTransport(provider.handler))
    return provider


@pytest.fixture
def settings(settings):
    entry = {
        "name": "eiu",
        "title": "EIU",
        "issuer": ISSUER,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    return replace(settings, oidc_providers=(provider_from_config(entry),))


async def round_trip(browser, fake: FakeProvider) -> httpx.Response:
    response = await browser.get("/login/oidc/eiu?next=/account")
    assert response.status_code == 303
    query = {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}
    fake.nonce = query["nonce"]
    return await browser.get(f"/login/oidc/eiu/callback?code=the-code&state={query['state']}")


async def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text[:300]
    assert await User.all().count() == 0
    assert not await ExternalIdentity.exists()
    assert not await AuditEvent.filter(action="login.oidc").exists()


async def test_a_well_formed_token_signs_in(browser, fake):
    response = await round_trip(browser, fake)
    assert response.status_code == 303 and response.headers["location"] == "/account"
    assert await ExternalIdentity.filter(provider="eiu", subject="subject-1").exists()
    # PKCE: the verifier sent to the token endpoint matches the challenge sent to the browser.
    request = fake.token_requests[0]
    assert request["grant_type"] == "authorization_code" and request["code"] == "the-code"
    assert 43 <= len(request["code_verifier"]) <= 128
    assert request["redirect_uri"] == "http://testserver/login/oidc/eiu/callback"


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "https://evil.example.com"},
        {"aud": "someone-else"},
        {"aud": ["someone-else", "another"]},
        {"nonce": "not-the-nonce"},
        {"nonce": None},
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 4000},
        {"sub": None},
    ],
    ids=["issuer", "audience", "audience-list", "nonce", "no-nonce", "expired", "no-subject"],
)
async def test_tokens_with_wrong_claims_are_refused(browser, fake, overrides):
    fake.overrides = {k: v for k, v in overrides.items() if v is not None}
    if any(v is None for v in overrides.values()):
        base = fake.claims

        def without() -> dict:
            return {k: v for k, v in base().items() if overrides.get(k, 0) is not None}

        fake.claims = without
    await assert_refused(await round_trip(browser, fake))


async def test_a_bad_signature_is_refused(browser, fake):
    fake.sign = lambda claims: jwt.encode({"alg": "RS256", "kid": "key-1"}, claims, OTHER_KEY)
    await assert_refused(await round_trip(browser, fake))


async def test_an_unsigned_token_is_refused(browser, fake):
    def unsigned(claims: dict) -> str:
        import base64

        def part(value: dict) -> str:
            return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

        return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."

    fake.sign = unsigned
    await assert_refused(await round_trip(browser, fake))


async def test_a_token_signed_with_the_client_secret_is_refused(browser, fake):
    # Algorithm confusion: HS256 with a secret the provider's metadata never offered.
    secret = OctKey.import_key(CLIENT_SECRET)
    fake.sign = lambda claims: jwt.encode({"alg": "HS256", "kid": "key-1"}, claims, secret)
    await assert_refused(await round_trip(browser, fake))


async def test_garbage_in_place_of_a_token_is_refused(browser, fake):
    fake.sign = lambda claims: "not.a.token"
    await assert_refused(await round_trip(browser, fake))


async def test_an_unreachable_provider_is_a_clear_error_not_a_500(browser, fake):
    fake.down = True
    response = await browser.get("/login/oidc/eiu")
    assert response.status_code == 502
    assert 'id="oidc-refused"' in response.text


@pytest.mark.parametrize(
    ("claims", "status"),
    [
        ({}, 403),
        ({"xms_edov": True}, 303),
        ({"xms_edov": False}, 403),
        ({"email_verified": "true"}, 303),
    ],
    ids=["no-claim", "entra-domain-owner", "entra-not-owner", "string-true"],
)
async def test_what_counts_as_a_verified_address(browser, fake, claims, status):
    base = fake.claims

    def claims_without_email_verified() -> dict:
        found = {k: v for k, v in base().items() if k != "email_verified"}
        return {**found, **claims}

    fake.claims = claims_without_email_verified
    response = await round_trip(browser, fake)
    assert response.status_code == status
    assert await User.filter(email="lan@eiu.edu.vn").exists() == (status == 303)
