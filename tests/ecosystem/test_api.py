"""The JSON API: token exchange and its rate limits, bearer auth on every route, the
caller, the partner directory, the OpenAPI document, and personal API tokens."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import UTC, datetime

import httpx
import pytest
from markupsafe import escape
from starlette.routing import Route

from ecosystem.i18n import _, use_locale
from ecosystem.models import (
    ApiToken,
    AuditEvent,
    Membership,
    MembershipStatus,
    Role,
)
from ecosystem.restapi import ApiRoute
from tests.conftest import PASSWORD, add_member, api_token, make_organisation, make_user

TOKEN_URL = "/api/v1/auth/token"


def vi(message: str, **params: object) -> str:
    with use_locale("vi"):
        return _(message, **params)


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    """The JSON error shape, with the right status; returns the `fields` object."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)
    return body["error"]["fields"]


def other_address(app) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("192.0.2.44", 50002))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def api_operations(app) -> list[tuple[str, str, Route]]:
    """(method, path, route) of every route under /api/v1, whatever package mounted it."""
    found = []
    for route in app.routes:
        if isinstance(route, Route) and route.path.startswith("/api/v1/"):
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    found.append((method, route.path, route))
    return found


def concrete(path: str) -> str:
    """A request path for a route template: ints become 1, other parameters 'x'."""
    return re.sub(
        r"\{(\w+)(?::(\w+))?\}", lambda m: "1" if m.group(2) == "int" else "no-such-thing", path
    )


# --- POST /api/v1/auth/token --------------------------------------------------------------


async def test_token_exchange(client):
    user = await make_user("quang@becamex.com.vn")
    response = await client.post(
        TOKEN_URL, json={"email": "Quang@Becamex.com.vn", "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    token = body["token"]
    assert token.startswith("eco_") and len(token) > 40

    stored = await ApiToken.get(user_id=user.id)
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert stored.source == "login"
    assert stored.prefix == token[:10]
    assert stored.revoked_at is None

    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["email"] == "quang@becamex.com.vn"
    # "bearer" in any case, as RFC 6750 allows.
    lower = await client.get("/api/v1/me", headers={"Authorization": f"bearer {token}"})
    assert lower.status_code == 200


async def test_token_exchange_refuses_wrong_credentials_alike(client):
    await make_user("rong@becamex.com.vn")
    wrong = await client.post(
        TOKEN_URL, json={"email": "rong@becamex.com.vn", "password": "x" * 12}
    )
    unknown = await client.post(
        TOKEN_URL, json={"email": "nobody@becamex.com.vn", "password": PASSWORD}
    )
    for response in (wrong, unknown):
        assert assert_error(response, 401, "invalid_credentials") == {}
        assert response.json()["error"]["message"] == vi("Wrong email or password.")
    assert await ApiToken.all().count() == 0


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code", "fields"),
    [
        (b"{not json", "application/json", 400, "malformed_json", set()),
        (b"\xff\xfe", "application/json", 400, "malformed_json", set()),
        (b"", "application/json", 400, "malformed_json", set()),
        (b'["a@b.vn", "pw"]', "application/json", 400, "malformed_json", set()),
        (b'"text"', "application/json", 400, "malformed_json", set()),
        (b"{}", "application/json", 422, "invalid", {"email", "password"}),
        (b'{"email": "sang@becamex.com.vn"}', "application/json", 422, "invalid", {"password"}),
        (
            b'{"email": 5, "password": []}',
            "application/json",
            422,
            "invalid",
            {"email", "password"},
        ),
        (
            b'{"email": "sang@becamex.com.vn", "password": "p", "otp": 1}',
            "application/json",
            422,
            "invalid",
            {"otp"},
        ),
        (
            b'{"email": "' + b"s" * 300 + b'@becamex.com.vn", "password": "p"}',
            "application/json",
            422,
            "invalid",
            {"email"},
        ),
        (
            b'{"email": "sang@becamex.com.vn", "password": "' + b"p" * 201 + b'"}',
            "application/json",
            422,
            "invalid",
            {"password"},
        ),
        (
            b"email=sang%40becamex.com.vn&password=x",
            "application/x-www-form-urlencoded",
            400,
            "malformed_json",
            set(),
        ),
    ],
)
async def test_token_exchange_bad_input(client, body, content_type, status, code, fields):
    await make_user("sang@becamex.com.vn")
    events = await AuditEvent.all().count()
    response = await client.post(TOKEN_URL, content=body, headers={"Content-Type": content_type})
    assert set(assert_error(response, status, code)) == fields
    assert await ApiToken.all().count() == 0
    assert await AuditEvent.all().count() == events  # not even counted as a failed login


async def test_token_exchange_refuses_an_oversized_body(client):
    body = b'{"email": "' + b"a" * (1024 * 1024) + b'", "password": "p"}'
    response = await client.post(
        TOKEN_URL, content=body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, "too_large")

    async def chunked():  # no Content-Length: counted while reading
        for _chunk in range(20):
            yield b" " * 65536

    response = await client.post(
        TOKEN_URL, content=chunked(), headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, "too_large")


async def test_missing_field_messages_are_translated_messages(client):
    response = await client.post(TOKEN_URL, json={"email": "x" * 255})
    fields = assert_error(response, 422, "invalid")
    assert fields == {
        "email": vi("At most %(n)d characters.", n=254),
        "password": vi("This field is required."),
    }


async def test_rate_limit_per_address_and_account(app, client):
    await make_user("tam@becamex.com.vn")
    await make_user("uyen@becamex.com.vn")
    for _attempt in range(5):
        response = await client.post(
            TOKEN_URL, json={"email": "tam@becamex.com.vn", "password": "wrong-pass-1"}
        )
        assert_error(response, 401, "invalid_credentials")

    # The right password no longer helps from this address...
    limited = await client.post(
        TOKEN_URL, json={"email": "TAM@becamex.com.vn", "password": PASSWORD}
    )
    assert_error(limited, 429, "rate_limited")
    assert 800 <= int(limited.headers["Retry-After"]) <= 900
    # ...but someone else's guesses do not lock the owner out elsewhere.
    async with other_address(app) as elsewhere:
        owner = await elsewhere.post(
            TOKEN_URL, json={"email": "tam@becamex.com.vn", "password": PASSWORD}
        )
        assert owner.status_code == 200
    # The HTML sign-in shares the limit.
    browser_form = await client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', browser_form.text).group(1)
    page = await client.post(
        "/login", data={"csrf_token": csrf, "email": "tam@becamex.com.vn", "password": PASSWORD}
    )
    assert page.status_code == 429
    assert "Retry-After" in page.headers
    assert (
        str(escape(vi("Too many failed attempts. Try again in %(minutes)d minutes.", minutes=15)))
        in page.text
    )

    # Another account from the same address is not affected.
    assert (
        await client.post(TOKEN_URL, json={"email": "uyen@becamex.com.vn", "password": PASSWORD})
    ).status_code == 200
    assert await ApiToken.filter(user__email="tam@becamex.com.vn").count() == 1  # the owner's


async def test_rate_limit_per_account_holds_against_parallel_guesses(client):
    await make_user("viet@becamex.com.vn")
    responses = await asyncio.gather(
        *[
            client.post(
                TOKEN_URL, json={"email": "viet@becamex.com.vn", "password": f"guess-{n}-xyz"}
            )
            for n in range(8)
        ]
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [401] * 5 + [429] * 3


async def test_success_forgets_earlier_failures_of_the_account(client):
    await make_user("xuan@becamex.com.vn")

    async def attempts(password: str, n: int) -> list[int]:
        body = {"email": "xuan@becamex.com.vn", "password": password}
        return [
            r.status_code
            for r in await asyncio.gather(*[client.post(TOKEN_URL, json=body) for _n in range(n)])
        ]

    assert await attempts("nope-nope-1", 3) == [401] * 3
    assert await attempts(PASSWORD, 1) == [200]
    # Without forgetting, the fifth of these would already be refused.
    assert await attempts("nope-nope-1", 4) == [401] * 4
    assert await attempts(PASSWORD, 1) == [200]


async def test_rate_limit_per_address(app, client):
    await make_user("yen@becamex.com.vn")
    # Failures spread over many accounts (never more than 1 per account) from one address.
    failures = await asyncio.gather(
        *[
            client.post(
                TOKEN_URL, json={"email": f"guess{n}@becamex.com.vn", "password": "wrong-pass-1"}
            )
            for n in range(20)
        ]
    )
    assert {r.status_code for r in failures} == {401}

    limited = await client.post(
        TOKEN_URL, json={"email": "yen@becamex.com.vn", "password": PASSWORD}
    )
    assert_error(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) > 0

    # The account itself is fine from another address.
    async with other_address(app) as elsewhere:
        response = await elsewhere.post(
            TOKEN_URL, json={"email": "yen@becamex.com.vn", "password": PASSWORD}
        )
        assert response.status_code == 200


# --- bearer tokens on every /api/v1 route ---------------------------------------------------


async def test_every_api_route_requires_a_valid_bearer_token(app, client):
    operations = api_operations(app)
    paths = {(method, path) for method, path, _route in operations}
    assert {("GET", "/api/v1/me"), ("GET", "/api/v1/organisations"), ("POST", TOKEN_URL)} <= paths

    await make_user("anh@becamex.com.vn")
    revoked = await api_token(client, "anh@becamex.com.vn")
    me = await client.get("/api/v1/me", headers=revoked)
    assert me.status_code == 200
    await ApiToken.all().update(revoked_at=datetime(2026, 1, 1, tzinfo=UTC))

    bad_headers = [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer eco_not-a-real-token"},
        {"Authorization": "Basic YW5oQGJlY2FtZXguY29tLnZuOmNvcnJlY3QtaG9yc2UtYmF0dGVyeQ=="},
        {"Authorization": "Token " + revoked["Authorization"].split()[1]},
        revoked,
    ]
    checked = 0
    public = {
        (method, path)
        for method, path, route in operations
        if isinstance(route, ApiRoute) and not route.operation.auth
    }
    # Public on purpose (auth=False): signing in and the open indicators, at least.
    assert {("POST", TOKEN_URL), ("GET", "/api/v1/indicators")} <= public
    for method, path, _route in operations:
        if (method, path) in public:
            continue
        url = concrete(path)
        for headers in bad_headers:
            kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
            response = await client.request(method, url, headers=headers, **kwargs)
            assert_error(response, 401, "not_authenticated")
            assert response.headers["WWW-Authenticate"] == "Bearer", (method, path)
            checked += 1
    assert checked >= 3 * len(bad_headers)


async def test_session_cookie_does_not_authenticate_the_api(browser, client):
    await make_user("bao@becamex.com.vn")
    await browser.login("bao@becamex.com.vn")
    assert (await browser.get("/account")).status_code == 200
    response = await client.get("/api/v1/me")  # same client: the session cookie is sent
    assert_error(response, 401, "not_authenticated")


async def test_unknown_api_paths_and_methods_answer_json(client):
    await make_user("cuong@becamex.com.vn")
    headers = await api_token(client, "cuong@becamex.com.vn")
    assert_error(await client.get("/api/v1/nothing-here", headers=headers), 404, "not_found")
    assert_error(await client.delete("/api/v1/me", headers=headers), 405, "method_not_allowed")
    assert_error(await client.get(TOKEN_URL), 405, "method_not_allowed")


# --- GET /api/v1/me ---------------------------------------------------------------------------


async def test_me_lists_active_memberships_only(client):
    user = await make_user("dao@eiu.edu.vn", name="Đào Minh")
    other = await make_user("owner@becamex.com.vn")
    eiu = await make_organisation(user, "Eastern International University", ("university",))
    becamex = await make_organisation(other, "Becamex IDC", ("enterprise", "government"))
    await add_member(user, becamex, "admin")
    for name, status in (
        ("Invited Org", MembershipStatus.INVITED),
        ("Left Org", MembershipStatus.LEFT),
    ):
        organisation = await make_organisation(other, name, ("startup",))
        await Membership.create(
            user_id=user.id, organisation_id=organisation.id, role=Role.MEMBER, status=status
        )
    requested = await make_organisation(other, "Requested Org", ("investor",))
    await Membership.create(
        user_id=user.id,
        organisation_id=requested.id,
        role=Role.MEMBER,
        status=MembershipStatus.REQUESTED,
    )

    response = await client.get("/api/v1/me", headers=await api_token(client, "dao@eiu.edu.vn"))
    assert response.status_code == 200
    assert response.json() == {
        "id": user.id,
        "email": "dao@eiu.edu.vn",
        "full_name": "Đào Minh",
        "locale": "vi",
        "timezone": "Asia/Ho_Chi_Minh",
        "email_verified": True,
        "is_platform_admin": False,
        "memberships": [
            {
                "organisation": {
                    "id": becamex.id,
                    "slug": becamex.slug,
                    "name": "Becamex IDC",
                    "spheres": ["government", "enterprise"],
                },
                "role": "admin",
            },
            {
                "organisation": {
                    "id": eiu.id,
                    "slug": eiu.slug,
                    "name": "Eastern International University",
                    "spheres": ["university"],
                },
                "role": "owner",
            },
        ],
    }


# --- GET /api/v1/organisations ----------------------------------------------------------------


async def test_directory_lists_verified_organisations_with_filters(client):
    owner = await make_user("giao@tdmu.edu.vn")
    tdmu = await make_organisation(
        owner, "Trường Đại học Thủ Dầu Một", ("university", "research_institute")
    )
    await make_organisation(owner, "Becamex IDC", ("enterprise",))
    await make_organisation(
        owner, "Thủ Dầu Một Startup (pending)", ("startup", "university"), verified=False
    )
    headers = await api_token(client, "giao@tdmu.edu.vn")

    async def names(**params) -> list[str]:
        response = await client.get("/api/v1/organisations", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items"}
        return [item["name"] for item in body["items"]]

    assert await names() == ["Becamex IDC", "Trường Đại học Thủ Dầu Một"]
    assert await names(sphere="university") == ["Trường Đại học Thủ Dầu Một"]
    assert await names(sphere="research_institute") == ["Trường Đại học Thủ Dầu Một"]
    assert await names(sphere="startup") == []
    for query in ("thu dau mot", "THU DAU MOT", "Thủ Dầu", "truong dai hoc", "  dau   mot "):
        assert await names(q=query) == ["Trường Đại học Thủ Dầu Một"], query
    assert await names(q="thu dau mot", sphere="enterprise") == []
    assert await names(q="becamex") == ["Becamex IDC"]
    assert await names(q="%") == []
    assert await names(q="_") == []

    response = await client.get(
        "/api/v1/organisations", params={"q": "thu dau mot"}, headers=headers
    )
    item = response.json()["items"][0]
    assert item == {
        "id": tdmu.id,
        "slug": tdmu.slug,
        "name": "Trường Đại học Thủ Dầu Một",
        "spheres": ["university", "research_institute"],
        "description": "",
        "website": "",
        "city": "",
        "country": "VN",
        "verification": "verified",
        "logo_url": None,
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sphere": "church"}, "sphere"),
        ({"sphere": ""}, "sphere"),
        ({"q": "x" * 101}, "q"),
        ({"page": "0"}, "page"),
        ({"page": "two"}, "page"),
        ({"page_size": "1000"}, "page_size"),
    ],
)
async def test_directory_rejects_bad_query(client, params, field):
    await make_user("hai@tdmu.edu.vn")
    headers = await api_token(client, "hai@tdmu.edu.vn")
    response = await client.get("/api/v1/organisations", params=params, headers=headers)
    assert set(assert_error(response, 422, "invalid")) == {field}


async def test_one_organisation_visible_to_members_until_verified(client):
    owner = await make_user("khoa@tdmu.edu.vn")
    await make_user("lam@becamex.com.vn")
    pending = await make_organisation(owner, "Pending Lab", ("research_institute",), verified=False)
    verified = await make_organisation(owner, "Smart City Office", ("government",))
    stranger = await api_token(client, "lam@becamex.com.vn")
    member = await api_token(client, "khoa@tdmu.edu.vn")

    response = await client.get(f"/api/v1/organisations/{verified.slug}", headers=stranger)
    assert response.status_code == 200
    assert response.json()["name"] == "Smart City Office"
    assert_error(
        await client.get(f"/api/v1/organisations/{pending.slug}", headers=stranger),
        404,
        "not_found",
    )
    assert_error(
        await client.get("/api/v1/organisations/no-such-slug", headers=stranger), 404, "not_found"
    )
    mine = await client.get(f"/api/v1/organisations/{pending.slug}", headers=member)
    assert mine.status_code == 200
    assert mine.json()["verification"] == "pending"


# --- the OpenAPI document -----------------------------------------------------------------------


def _resolve(document: dict, ref: str) -> object:
    assert ref.startswith("#/"), ref
    node: object = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, ref
        node = node[part]
    return node


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


async def test_openapi_document_covers_every_api_route(app, client):
    response = await client.get("/api/openapi.json")  # public: no token needed
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] and document["info"]["version"]
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
    }

    expected = {
        (re.sub(r"\{(\w+):\w+\}", r"{\1}", path), method.lower())
        for method, path, _route in api_operations(app)
    }
    documented = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch")
    }
    assert documented == expected

    refs = _refs(document)
    assert "#/components/schemas/ErrorOut" in refs
    for ref in refs:
        _resolve(document, ref)

    operation_ids = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            operation_ids.append(operation["operationId"])
            assert operation["summary"]
            assert operation["responses"], (path, method)
            params = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert params == set(re.findall(r"\{(\w+)\}", path)), path
            if (path, method) == ("/api/v1/auth/token", "post"):
                assert "security" not in operation
                assert {"200", "401", "422", "429"} <= set(operation["responses"])
            elif operation.get("security") == [{}, {"bearerAuth": []}]:  # a token is optional
                assert "401" in operation["responses"]
            elif (path, method) == ("/api/v1/indicators", "get"):
                assert "security" not in operation
                assert {"text/csv", "application/json"} <= set(
                    operation["responses"]["200"]["content"]
                )
            else:
                assert operation["security"] == [{"bearerAuth": []}]
                error = operation["responses"]["401"]["content"]["application/json"]["schema"]
                assert error == {"$ref": "#/components/schemas/ErrorOut"}
    assert len(operation_ids) == len(set(operation_ids)), operation_ids

    listing = document["paths"]["/api/v1/organisations"]["get"]
    query = {p["name"]: p for p in listing["parameters"] if p["in"] == "query"}
    assert set(query) == {"sphere", "q", "page", "page_size"}
    sphere = _resolve(document, _refs(query["sphere"]["schema"])[0])
    assert "university" in sphere["enum"]
    token = document["paths"]["/api/v1/auth/token"]["post"]
    schema = _resolve(
        document, token["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    )
    assert set(schema["required"]) == {"email", "password"}
    # Response shapes list what a client always receives as required.
    answer = token["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(_resolve(document, answer["$ref"])["required"]) == {"token", "token_type"}
    error_body = document["components"]["schemas"]["ErrorBody"]
    assert set(error_body["required"]) == {"code", "message", "fields"}


# --- personal API tokens (HTML page /account/tokens) -------------------------------------------


NEW_TOKEN = re.compile(r'data-testid="new-token">([^<]+)<')


async def test_personal_tokens_are_shown_once_stored_hashed_and_revocable(browser, client):
    user = await make_user("mai@eiu.edu.vn")
    await browser.login("mai@eiu.edu.vn")
    page = await browser.get("/account/tokens")
    assert page.status_code == 200

    created = await browser.post("/account/tokens", {"name": "  IOC import  "})
    assert created.status_code == 201
    plaintext = NEW_TOKEN.search(created.text).group(1)
    assert plaintext.startswith("eco_")

    token = await ApiToken.get(user_id=user.id)
    assert token.name == "IOC import"
    assert token.source == "manual"
    assert token.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    stored = [str(v) for v in (await ApiToken.filter(id=token.id).values())[0].values()]
    assert not any(plaintext in value for value in stored)
    events = await AuditEvent.all().values_list("detail", flat=True)
    assert not any(plaintext in str(detail) for detail in events)

    # Shown once: the list afterwards names it but does not show it.
    listing = await browser.get("/account/tokens")
    assert plaintext not in listing.text
    assert "IOC import" in listing.text
    assert token.prefix in listing.text

    headers = {"Authorization": f"Bearer {plaintext}"}
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    await token.refresh_from_db()
    assert token.last_used_at is not None

    revoked = await browser.post(f"/account/tokens/{token.id}/revoke")
    assert revoked.status_code == 303
    assert revoked.headers["location"] == "/account/tokens"
    await token.refresh_from_db()
    assert token.revoked_at is not None
    assert_error(await client.get("/api/v1/me", headers=headers), 401, "not_authenticated")
    listing = await browser.get("/account/tokens")
    assert f'action="/account/tokens/{token.id}/revoke"' not in listing.text
    # Revoking twice is harmless.
    assert (await browser.post(f"/account/tokens/{token.id}/revoke")).status_code == 303


@pytest.mark.parametrize("name", ["", "   ", "n" * 101])
async def test_personal_token_needs_a_name(browser, name):
    await make_user("nga@eiu.edu.vn")
    await browser.login("nga@eiu.edu.vn")
    await browser.get("/account/tokens")
    response = await browser.post("/account/tokens", {"name": name})
    assert response.status_code == 422
    message = vi("Give the token a name (at most 100 characters).")
    assert re.search(
        rf'<p class="error" id="e-name">{re.escape(str(escape(message)))}</p>', response.text
    )
    assert not NEW_TOKEN.search(response.text)
    assert await ApiToken.all().count() == 0


async def test_cannot_revoke_another_users_token(browser, new_browser, client):
    await make_user("oanh@eiu.edu.vn")
    await make_user("phong@eiu.edu.vn")
    owner = new_browser()
    await owner.login("phong@eiu.edu.vn")
    await owner.get("/account/tokens")
    plaintext = NEW_TOKEN.search(
        (await owner.post("/account/tokens", {"name": "mine"})).text
    ).group(1)
    token = await ApiToken.get(name="mine")

    await browser.login("oanh@eiu.edu.vn")
    await browser.get("/account/tokens")
    response = await browser.post(f"/account/tokens/{token.id}/revoke")
    assert response.status_code == 404
    await token.refresh_from_db()
    assert token.revoked_at is None
    headers = {"Authorization": f"Bearer {plaintext}"}
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    # Nor see it.
    assert "mine" not in (await browser.get("/account/tokens")).text.split('id="main"')[1]


async def test_token_pages_need_a_signed_in_user(browser):
    response = await browser.get("/account/tokens")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/account/tokens"
    await browser.get("/login")
    response = await browser.post("/account/tokens", {"name": "x"})
    assert response.status_code == 303
    assert await ApiToken.all().count() == 0


async def test_api_messages_follow_accept_language_then_the_token_owner(client):
    await make_user("en-reader@example.vn", locale="en")
    await make_user("vi-reader@example.vn")  # Vietnamese, the default
    english_owner = await api_token(client, "en-reader@example.vn")
    vietnamese_owner = await api_token(client, "vi-reader@example.vn")
    with use_locale("en"):
        in_english = _("No such organisation.")
    with use_locale("vi"):
        in_vietnamese = _("No such organisation.")
    assert in_english != in_vietnamese

    async def message(headers: dict) -> str:
        response = await client.get("/api/v1/organisations/no-such-slug", headers=headers)
        assert response.status_code == 404
        return response.json()["error"]["message"]

    assert await message(english_owner) == in_english
    assert await message(vietnamese_owner) == in_vietnamese
    assert await message({**vietnamese_owner, "Accept-Language": "en-GB,en;q=0.8"}) == in_english
    assert await message({**english_owner, "Accept-Language": "vi"}) == in_vietnamese
