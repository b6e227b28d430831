"""The incubator's JSON API under /api/v1 (tools depend on these shapes exactly).

Every route needs a bearer token, like the rest of /api/v1 (people browse the startup
directory without an account on the HTML pages). `GET /programmes` and `GET /startups`
answer any caller with the public directory; a programme's managers also see its startups
that are not in the directory (only startups that accepted their enrolment). Programmes of
organisations not verified yet are drafts: never listed. Reports are sent by the startup's
members only; metrics are read by members (everything), the verified managers and mentors of
a programme of a verified organisation whose enrolment the startup accepted (only the
accepted metrics and months; after it left, only what was reported while enrolled), and
members of verified grantee organisations within their grant. Anyone else gets 403 or 404.
Every read by a programme or a grantee is logged for the startup.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ecosystem.content import texts_of, tr
from ecosystem.errors import NotPermitted
from ecosystem.i18n import _
from ecosystem.models import Organisation, Verification
from ecosystem.restapi import (
    api_route,
    api_user,
    json_body,
    json_response,
    optional_api_user,
    query_params,
)
from ecosystem.schemas import organisation_summary
from incubator.models import Enrolment, EnrolmentStatus
from incubator.permissions import ensure_startup, managed_programme_ids
from incubator.schemas import (
    CallTextsIn,
    CohortOut,
    MetricOut,
    MetricsOut,
    PointOut,
    ProgrammeListOut,
    ProgrammeOut,
    ProgrammeTextsIn,
    ReportIn,
    ReportOut,
    SeriesOut,
    StartupListOut,
    StartupOut,
    StartupRefOut,
    StartupsQuery,
    TextsOut,
)
from incubator.services import applications, programmes, reports, startups


async def list_programmes(request: Request) -> Response:
    await optional_api_user(request)
    found = await programmes.list_programmes()
    metrics = await programmes.metrics_of([p.id for p in found])
    by_programme: dict[int, list] = {}
    for metric in metrics:
        by_programme.setdefault(metric.programme_id, []).append(metric)  # type: ignore[attr-defined]
    items = [
        ProgrammeOut(
            id=p.id,
            slug=p.slug,
            name=tr(p, "name"),
            description=tr(p, "description"),
            content_locale=p.content_locale,
            translations=all_texts(p, ("name", "description")),
            organisation=organisation_summary(p.organisation),
            cohorts=[
                CohortOut(id=c.id, name=c.name, starts_on=c.starts_on, ends_on=c.ends_on)
                for c in sorted(p.cohorts, key=lambda c: (c.starts_on, c.id))
            ],
            schedule=p.schedule.value,
            metrics=[
                MetricOut(key=m.key, name=m.name, unit=m.unit, period=m.period.value)
                for m in by_programme.get(p.id, [])
            ],
        )
        for p in found
    ]
    return json_response(ProgrammeListOut(items=items))


async def list_startups(request: Request) -> Response:
    user = await optional_api_user(request)
    query = query_params(request, StartupsQuery)
    managed = await managed_programme_ids(user)
    include_private = query.programme is not None and query.programme in managed
    profiles = await startups.directory(query.programme, include_private=include_private)
    if query.programme is None and managed:  # the manager's own startups too
        seen = {p.organisation_id for p in profiles}  # type: ignore[attr-defined]
        for programme_id in sorted(managed):
            for profile in await startups.directory(programme_id, include_private=True):
                if profile.organisation_id not in seen:  # type: ignore[attr-defined]
                    seen.add(profile.organisation_id)  # type: ignore[attr-defined]
                    profiles.append(profile)
    enrolled: dict[int, set[int]] = {}
    for startup_id, programme_id in await Enrolment.filter(
        startup_id__in=[p.organisation_id for p in profiles],  # type: ignore[attr-defined]
        status=EnrolmentStatus.ACCEPTED,
        cohort__programme__organisation__verification=Verification.VERIFIED,
    ).values_list("startup_id", "cohort__programme_id"):
        enrolled.setdefault(startup_id, set()).add(programme_id)
    items = [
        StartupOut(
            id=p.organisation.id,
            slug=p.organisation.slug,
            name=p.organisation.name,
            stage=p.stage.value,
            sector=p.sector.value,
            founded_on=p.founded_on,
            team_size=p.team_size,
            links=list(p.links or []),
            in_directory=p.in_directory,
            programmes=sorted(enrolled.get(p.organisation.id, set())),
        )
        for p in sorted(profiles, key=lambda p: p.organisation.name)
    ]
    return json_response(StartupListOut(items=items))


def all_texts(obj, fields: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """Every language's texts of `obj`: locale → field → text."""
    found: dict[str, dict[str, str]] = {}
    for field in fields:
        for locale, text in texts_of(obj, field).items():
            found.setdefault(locale, {})[field] = text
    return found


def _form_of(body, name: str) -> dict[str, str]:
    """A texts body as the staff form's inputs (`name__vi`, …) for the service's rules."""
    values = {
        "content_locale": body.content_locale,
        f"{name}__{body.content_locale}": getattr(body, name),
        f"description__{body.content_locale}": body.description,
    }
    for locale, texts in body.translations.items():
        if locale != body.content_locale:
            values[f"{name}__{locale}"] = getattr(texts, name)
            values[f"description__{locale}"] = texts.description
    return values


def texts_out(obj, name: str) -> TextsOut:
    return TextsOut(
        id=obj.id,
        content_locale=obj.content_locale,
        name=tr(obj, name),
        description=tr(obj, "description"),
        translations=all_texts(obj, (name, "description")),
    )


async def programme_texts(request: Request) -> Response:
    user = await api_user(request)
    programme = await programmes.get_programme(request.path_params["programme_id"])
    body = await json_body(request, ProgrammeTextsIn)
    programme = await programmes.update_programme_texts(user, programme, _form_of(body, "name"))
    return json_response(texts_out(programme, "name"))


async def call_texts(request: Request) -> Response:
    user = await api_user(request)
    call = await applications.get_call(request.path_params["call_id"])
    body = await json_body(request, CallTextsIn)
    call = await applications.update_call_texts(user, call, _form_of(body, "title"))
    return json_response(texts_out(call, "title"))


def report_out(report) -> ReportOut:
    return ReportOut(
        id=report.id,
        startup_id=report.startup_id,
        programme_id=report.enrolment.cohort.programme_id,
        period=report.period,
        status=report.status.value,
        due_on=report.due_on,
        metrics=report.values or {},
        narrative=report.narrative,
        submitted_at=report.submitted_at,
    )


async def submit_report(request: Request) -> Response:
    user = await api_user(request)
    access = await ensure_startup(user, request.path_params["startup_id"], "can_report")
    body = await json_body(request, ReportIn)
    report = await reports.submit_report(
        user,
        access,
        body.period,
        body.metrics,
        body.narrative,
        draft=body.draft,
        explanations=body.explanations,
    )
    await report.fetch_related("enrolment__cohort")
    return json_response(report_out(report), status_code=201)


async def startup_metrics(request: Request) -> Response:
    user = await api_user(request)
    startup_id = request.path_params["startup_id"]
    try:
        access = await ensure_startup(user, startup_id, "can_view_metrics")
    except NotPermitted as exc:
        raise NotPermitted(_("You may not see this startup's metrics.")) from exc
    series = await reports.time_series(access, user, channel="api")
    startup: Organisation = access.startup
    return json_response(
        MetricsOut(
            startup=StartupRefOut(id=startup.id, name=startup.name),
            scope="full" if access.insider else "granted",
            metrics=[
                SeriesOut(
                    key=s.key,
                    name=s.name,
                    unit=s.unit,
                    period=s.period,
                    points=[PointOut(period=p, value=v) for p, v in s.points],
                )
                for s in series
            ],
        )
    )


routes = [
    api_route(
        "GET",
        "/programmes",
        list_programmes,
        "Incubator programmes with their host organisation, cohorts and KPI metrics",
        ProgrammeListOut,
        errors=(),
        auth=False,
        optional_auth=True,
        tags=("incubator",),
    ),
    api_route(
        "PUT",
        "/programmes/{programme_id:int}/texts",
        programme_texts,
        "Set a programme's name and description in its languages (its managers)",
        TextsOut,
        body=ProgrammeTextsIn,
        errors=(400, 403, 404, 413, 422),
        tags=("incubator",),
    ),
    api_route(
        "PUT",
        "/calls/{call_id:int}/texts",
        call_texts,
        "Set a call's title and description in its languages (the programme's managers)",
        TextsOut,
        body=CallTextsIn,
        errors=(400, 403, 404, 413, 422),
        tags=("incubator",),
    ),
    api_route(
        "GET",
        "/startups",
        list_startups,
        "Startups of the public directory (a programme's managers also see its other startups)",
        StartupListOut,
        query=StartupsQuery,
        errors=(422,),
        auth=False,
        optional_auth=True,
        tags=("incubator",),
    ),
    api_route(
        "POST",
        "/startups/{startup_id:int}/reports",
        submit_report,
        "Submit (or save a draft of) the startup's KPI report for a period with an open request",
        ReportOut,
        status_code=201,
        body=ReportIn,
        errors=(400, 403, 404, 413, 422),
        tags=("incubator",),
    ),
    api_route(
        "GET",
        "/startups/{startup_id:int}/metrics",
        startup_metrics,
        "KPI time series: members see all; a programme what the startup accepted; "
        "a grantee what it was granted",
        MetricsOut,
        errors=(403, 404),
        tags=("incubator",),
    ),
]
