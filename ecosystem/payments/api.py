"""Payments in the JSON API: `GET /api/v1/credits`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ecosystem.payments.schemas import CreditsOut, credit_balances
from ecosystem.payments.services import billing
from ecosystem.restapi import api_route, api_user, json_response


async def api_credits(request: Request) -> Response:
    user = await api_user(request)
    return json_response(CreditsOut(balances=credit_balances(await billing.credit_holders(user))))


api_routes = [
    api_route(
        "GET",
        "/credits",
        api_credits,
        "The caller's credit balances (own and organisations they may bill) with their ledgers",
        CreditsOut,
        errors=(401,),
        tags=("payments",),
    ),
]
