"""The kernel's JSON API under /api/v1: tokens, the caller, the partner directory."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from ecosystem import tabular
from ecosystem.errors import NotPermitted
from ecosystem.i18n import _
from ecosystem.models import Organisation, Sphere
from ecosystem.restapi import api_route, api_user, client_ip, json_body, json_response, query_params
from ecosystem.schemas import (
    MembershipOut,
    MeOut,
    OrganisationListOut,
    OrganisationOut,
    Query,
    TokenOut,
    TokenRequestIn,
    organisation_summary,
)
from ecosystem.services import accounts, indicators, organisations, second_factor, tokens


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
    if not await second_factor.password_alone_enough(user):
        # A password alone must not open an account that signs in with a second factor:
        # its owner makes tokens on the tokens page, after a full sign-in.
        raise NotPermitted(
            _(
                "This account signs in with a second factor: make a token on your account's "
                "tokens page instead."
            ),
            code="second_factor_required",
        )
    _token, plaintext = await tokens.issue_login_token(
        user, ip=client_ip(request), scope=data.scope, expires_on=data.expires_on
    )
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


class DirectoryQuery(Query):
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


class IndicatorsQuery(Query):
    start: date | None = Field(default=None, alias="from", description="First day (inclusive)")
    end: date | None = Field(default=None, alias="to", description="Last day (inclusive)")
    format: Literal["json", "csv", "xlsx"] = "json"


class LicenceOut(BaseModel):
    name: str
    url: str
    attribution: str


class PeriodOut(BaseModel):
    start: date = Field(alias="from")
    end: date = Field(alias="to")


class IndicatorsOut(BaseModel):
    period: PeriodOut
    version: int = Field(
        description="0 while the period runs (provisional); from 1 once it has ended, raised "
        "only by a correction"
    )
    generated_at: datetime
    timezone: str
    licence: LicenceOut
    sections: dict[str, dict[str, Any]]


async def get_indicators(request: Request) -> Response:
    """Open data: no token needed. Cached, recomputed hourly by a job."""
    query = query_params(request, IndicatorsQuery)
    payload = await indicators.indicators(indicators.parse_period(query.start, query.end))
    if query.format in tabular.FORMATS:
        period = payload["period"]
        name = f"indicators-{period['from']}-{period['to']}"
        return tabular.download(indicators.as_table(payload), name, query.format)
    return json_response(payload)


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
    api_route(
        "GET",
        "/indicators",
        get_indicators,
        "Open ecosystem indicators (labs, startups, contests) for a period, as JSON or CSV",
        IndicatorsOut,
        query=IndicatorsQuery,
        auth=False,
        errors=(422,),
        tags=("indicators",),
        extra_content={
            "text/csv": {"type": "string"},
            tabular.MEDIA_TYPES["xlsx"]: {"type": "string", "format": "binary"},
        },
    ),
]
