"""Open data for the operations centre: Data Packages per period and a DCAT-AP catalogue
(ecosystem.services.open_data). Public, no token; the figures come from the indicators cache."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ecosystem.services import indicators, open_data
from ecosystem.web import site_url

CACHE = "public, max-age=3600"


def _json(document: dict, media_type: str = "application/json") -> Response:
    body = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
    return Response(body, media_type=media_type, headers={"Cache-Control": CACHE})


async def current_package(request: Request) -> Response:
    """The package of the last twelve months; its resources live in the period's folder."""
    dataset = open_data.Dataset(indicators.default_period())
    payload = await indicators.indicators(dataset.period)
    document = open_data.package(payload, dataset, site_url(request), prefix=f"{dataset.slug}/")
    return _json(document)


async def period_package(request: Request) -> Response:
    dataset = open_data.Dataset(_period(request))
    payload = await indicators.indicators(dataset.period)
    return _json(open_data.package(payload, dataset, site_url(request)))


async def section_csv(request: Request) -> Response:
    payload = await indicators.indicators(_period(request))
    body = open_data.section_csv(payload, request.path_params["section"])
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Cache-Control": CACHE, "Content-Disposition": "inline"},
    )


async def catalogue(request: Request) -> Response:
    return _json(open_data.catalogue(site_url(request)), "application/ld+json")


def _period(request: Request) -> indicators.Period:
    return open_data.period_of(request.path_params["start"], request.path_params["end"])


routes = [
    Route("/open-data/datapackage.json", current_package, methods=["GET"]),
    Route("/open-data/catalog.jsonld", catalogue, methods=["GET"]),
    Route("/open-data/{start}/{end}/datapackage.json", period_package, methods=["GET"]),
    Route("/open-data/{start}/{end}/{section}.csv", section_csv, methods=["GET"]),
]
