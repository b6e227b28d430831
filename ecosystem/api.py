"""The kernel's JSON API under /api/v1: tokens, the caller, the partner directory."""

from __future__ import annotations

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from ecosystem.models import Organisation, Sphere
from ecosystem.restapi import api_route, api_user, client_ip, json_body, json_response, query_params
from ecosystem.schemas import (
    MembershipOut,
    MeOut,
    OrganisationListOut,
    OrganisationOut,
    TokenOut,
    TokenRequestIn,
    organisation_summary,
)
from ecosystem.services import accounts, organisations, tokens


def organisation_out(organisation: Organisation | organisations.DirectoryEntry) -> OrganisationOut:
    return OrganisationOut(
        **organisation_summary(organisation).model_dump(),
        description=organisation.description,
        website=organisation.website,
        city=organisation.city,
        country=organisation.country,
        verification=str(organisation.verification),
        logo_url=f"/media/{organisation.logo_id}/thumb.webp" if organisation.logo_id else None,  # type: ignore[attr-defined]
    )


async def create_token(request: Request) -> Response:
    data = await json_body(request, TokenRequestIn)
    user = await accounts.authenticate(
        data.email, data.password, request.app.state.limiter, ip=client_ip(request)
    )
    plaintext = await tokens.issue_login_token(user, ip=client_ip(request))
    return json_response(TokenOut(token=plaintext))


async def me(request: Request) -> Response:
    user = await api_user(request)
    memberships = await organisations.active_memberships(user)
    return json_response(
        MeOut(
            id=user.id,
            email=user.email,
            full_name=user.full_name,
            locale=user.locale,
            timezone=user.timezone,
            email_verified=user.is_verified,
            is_platform_admin=user.is_platform_admin,
            memberships=[
                MembershipOut(organisation=organisation_summary(m.organisation), role=m.role)
                for m in memberships
            ],
        )
    )


class DirectoryQuery(BaseModel):
    sphere: Sphere | None = None
    q: str = Field(default="", max_length=100)
    page: int = Field(default=1, ge=1, le=10_000)
    page_size: int = Field(default=50, ge=1, le=200)


async def list_organisations(request: Request) -> Response:
    await api_user(request)
    query = query_params(request, DirectoryQuery)
    found = await organisations.directory(
        sphere=query.sphere.value if query.sphere else "",
        query=query.q,
        page=query.page,
        page_size=query.page_size,
    )
    return json_response(OrganisationListOut(items=[organisation_out(o) for o in found.entries]))


async def get_organisation(request: Request) -> Response:
    user = await api_user(request)
    organisation = await organisations.get_visible(user, request.path_params["slug"])
    return json_response(organisation_out(organisation))


routes = [
    api_route(
        "POST",
        "/auth/token",
        create_token,
        "Exchange email and password for a bearer token",
        TokenOut,
        body=TokenRequestIn,
        auth=False,
        errors=(400, 401, 403, 422, 429),
        tags=("auth",),
    ),
    api_route(
        "GET", "/me", me, "The calling user and their memberships", MeOut, tags=("accounts",)
    ),
    api_route(
        "GET",
        "/organisations",
        list_organisations,
        "Verified partner organisations",
        OrganisationListOut,
        query=DirectoryQuery,
        tags=("organisations",),
    ),
    api_route(
        "GET",
        "/organisations/{slug}",
        get_organisation,
        "One organisation",
        OrganisationOut,
        errors=(401, 404),
        tags=("organisations",),
    ),
]
