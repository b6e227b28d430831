"""HTML pages: the incubator's front page, the startup directory, programmes, calls."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ecosystem.errors import DomainError, NotFound
from ecosystem.i18n import _
from ecosystem.inputs import path_id
from ecosystem.web import current_user, flash, form_text, redirect, require_user
from incubator.forms import as_id
from incubator.models import ApplicationCall, Sector, Stage
from incubator.permissions import ensure_visible
from incubator.routes.common import render
from incubator.services import applications, milestones, programmes, reports, startups


async def home(request: Request) -> Response:
    user = await current_user(request)
    context: dict = {
        "programmes": await programmes.list_programmes(),
        "calls": await applications.open_calls(),
    }
    if user is not None:
        mine = await startups.my_startups(user)
        context["my_startups"] = mine
        context["open_reports"] = await reports.open_requests_of([s.id for s in mine])
        context["my_programmes"] = await programmes.my_programmes(user)
        context["reviews"] = await applications.reviews_for(user)
        context["mentees"] = await milestones.mentees(user)
    return await render(request, "incubator/home.html", context)


async def directory(request: Request) -> Response:
    sector = request.query_params.get("sector", "")
    stage = request.query_params.get("stage", "")
    profiles = await startups.directory()
    if sector in Sector.__members__.values():
        profiles = [p for p in profiles if p.sector == sector]
    if stage in Stage.__members__.values():
        profiles = [p for p in profiles if p.stage == stage]
    context = {"profiles": profiles, "sector": sector, "stage": stage}
    return await render(request, "incubator/directory.html", context)


async def programme_page(request: Request) -> Response:
    user = await current_user(request)
    programme = await programmes.get_programme(path_id(request, "programme_id"))
    access = await ensure_visible(user, programme)  # a draft: its host's members only
    await programme.fetch_related("cohorts")
    calls = await ApplicationCall.filter(programme_id=programme.id).order_by("-deadline")
    context = {
        "programme": programme,
        "access": access,
        "cohorts": sorted(programme.cohorts, key=lambda c: c.starts_on, reverse=True),
        "calls": calls,
        "is_open": applications.is_open,
        "mentors": await milestones.mentors_of_programme(programme.id),
        "startups": await startups.directory(programme.id, include_private=access.staff),
    }
    return await render(request, "incubator/programme.html", context)


async def call_page(request: Request, status: int = 200, **extra) -> Response:
    user = await current_user(request)
    call = await applications.get_call(path_id(request, "call_id"))
    try:
        access = await ensure_visible(user, call.programme)
    except NotFound as exc:
        raise NotFound(_("There is no such call.")) from exc
    mine = await startups.my_startups(user) if user else []
    applied = await applications.applications_by(call, [s.id for s in mine])
    applied_ids = {a.startup_id for a in applied}  # type: ignore[attr-defined]
    context = {
        "call": call,
        "programme": call.programme,
        "open": applications.is_open(call) and access.published,
        # One application per startup and call: the form offers the others only.
        "my_startups": [s for s in mine if s.id not in applied_ids],
        "my_applications": applied,
        "has_startups": bool(mine),
        "access": access,
        "metric_names": [_(m.name) for m in await programmes.metrics_of([call.programme.id])],
        "errors": {},
        "values": {},
        **extra,
    }
    return await render(request, "incubator/call.html", context, status)


async def apply(request: Request) -> Response:
    user = await require_user(request)
    call = await applications.get_call(path_id(request, "call_id"))
    async with request.form(max_files=10, max_fields=100) as form:
        answers = {q["key"]: form_text(form, f"q_{q['key']}") for q in call.questions}
        uploads = {d["key"]: form.get(f"d_{d['key']}") for d in call.documents}
        raw_startup = form_text(form, "startup_id")
        values = {f"q_{k}": v for k, v in answers.items()} | {"startup_id": raw_startup}
        try:
            application = await applications.apply(user, call, as_id(raw_startup), answers, uploads)
        except DomainError as exc:
            return await call_page(
                request, exc.status_code, errors=exc.fields, values=values, message=exc.message
            )
    flash(request, _("Your application has been sent. The programme's managers will answer."))
    return redirect(request, f"/incubator/applications/{application.id}")


async def mentor_profile(request: Request) -> Response:
    user = await require_user(request)
    from incubator.models import MentorProfile

    profile = await MentorProfile.get_or_none(user_id=user.id)
    if request.method == "POST":
        from ecosystem.web import read_form
        from incubator.routes.common import form_values

        values = form_values(await read_form(request), ("headline", "expertise", "bio"))
        await milestones.save_mentor_profile(user, values)
        flash(request, _("Your mentor profile has been saved."))
        return redirect(request, "/incubator/mentor")
    values = {
        "headline": profile.headline if profile else "",
        "expertise": profile.expertise if profile else "",
        "bio": profile.bio if profile else "",
    }
    context = {"values": values, "errors": {}, "mentees": await milestones.mentees(user)}
    return await render(request, "incubator/mentor.html", context)


routes = [
    Route("/incubator", home, methods=["GET"]),
    Route("/incubator/startups", directory, methods=["GET"]),
    Route("/incubator/mentor", mentor_profile, methods=["GET", "POST"]),
    Route("/incubator/programmes/{programme_id:int}", programme_page, methods=["GET"]),
    Route("/incubator/calls/{call_id:int}", call_page, methods=["GET"]),
    Route("/incubator/calls/{call_id:int}/apply", apply, methods=["POST"]),
]
