"""HTML pages of one startup: profile, milestones, KPI charts, reports, mentoring, sharing."""

from __future__ import annotations

import math
import uuid

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route
from tortoise import timezone

from ecosystem import tabular
from ecosystem.errors import DomainError, Invalid, NotFound
from ecosystem.i18n import _
from ecosystem.inputs import path_id
from ecosystem.models import Membership, MembershipStatus, User
from ecosystem.web import current_user, flash, form_text, is_htmx, read_form, redirect, require_user
from incubator.documents import document_path
from incubator.forms import as_id
from incubator.models import Document, MentorAssignment
from incubator.permissions import StartupAccess, ensure_startup
from incubator.routes.common import confirm_first, form_values, period_chart, render
from incubator.services import enrolments, milestones, reports, sharing, startups
from incubator.services.reports import local_today

PROFILE_FIELDS = ("sector", "stage", "founded_on", "team", "team_size", "links", "in_directory")
MILESTONE_FIELDS = ("title", "due_on", "owner_id", "definition_of_done", "status")


def charts_of(series: list[reports.SeriesMetric]) -> list[dict]:
    charts = []
    for metric in series:
        if not metric.points:
            continue
        chart = period_chart([(_(metric.name), metric.points)], metric.period)
        if chart is not None:
            charts.append({"metric": metric, "chart": chart})
    return charts


async def _members(access: StartupAccess) -> list[Membership]:
    return (
        await Membership.filter(organisation_id=access.startup.id, status=MembershipStatus.ACTIVE)
        .select_related("user")
        .order_by("user__full_name")
    )


async def startup_page(request: Request, status: int = 200, **extra) -> Response:
    user = await current_user(request)
    access = await ensure_startup(user, path_id(request, "startup_id"), "can_view")
    context: dict = {
        "access": access,
        "startup": access.startup,
        "profile": access.profile,
        "today": local_today(),
        "is_late": milestones.is_late,
        "errors": {},
        "values": {},
        **extra,
    }
    if access.can_view_metrics:
        context["charts"] = charts_of(await reports.time_series(access, user, channel="web"))
    if access.member or access.can_answer_offers:
        context.update(await _offers_context(access))
    if access.insider:
        # Programme staff see only their own programmes' accepted enrolments.
        mine = None if access.member else [v.enrolment_id for v in access.views if v.current]
        found = await startups.enrolments_of(access.startup)
        context["enrolments"] = [e for e in found if mine is None or e.id in mine]
        context["plan"] = await milestones.plan_of(access.startup.id, mine)
        context["reports"] = await reports.reports_of(access.startup, mine)
        context["sessions"] = await milestones.sessions_of(access.startup.id, mine)
        context["members"] = await _members(access)
        mentors = MentorAssignment.filter(enrolment__startup_id=access.startup.id)
        if mine is not None:
            mentors = mentors.filter(enrolment_id__in=mine or [0])
        context["mentors"] = await mentors.select_related("mentor").order_by("mentor__full_name")
    return await render(request, "incubator/startup.html", context, status)


async def _offers_context(access: StartupAccess) -> dict:
    found = await enrolments.offers_of(access.startup)
    return {
        "offers": found,
        "offer_metrics": await enrolments.metric_names(found),
        "enrolment_labels": enrolments.STATUS_LABELS,
    }


async def answer_enrolment(request: Request) -> Response:
    """Accept or decline an enrolment offer, or leave a programme (page or htmx fragment)."""
    user = await require_user(request)
    access = await ensure_startup(user, path_id(request, "startup_id"), "can_answer_offers")
    what = request.path_params["what"]
    enrolment_id = path_id(request, "enrolment_id")
    messages = {
        "accept": _("The startup has joined the programme."),
        "decline": _("The offer has been declined."),
        "leave": _("The startup has left the programme: it sees nothing new."),
    }
    if what not in messages:
        raise NotFound(_("Not found."))
    if what == "leave" and not is_htmx(request):  # htmx asked already (hx-confirm)
        asked = await confirm_first(
            request,
            await read_form(request),
            question=_(
                "Leave this programme? It keeps what was reported so far and sees nothing new."
            ),
            button=_("Leave the programme"),
            cancel=f"/incubator/startups/{access.startup.id}#programmes",
        )
        if asked is not None:
            return asked
    message, status = messages[what], 200
    try:
        if what == "leave":
            await enrolments.leave(user, access, enrolment_id)
        else:
            await enrolments.answer(user, access, enrolment_id, what == "accept")
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        message, status = exc.message, exc.status_code
    if is_htmx(request):
        context = {"access": access, "startup": access.startup, "offers_message": message}
        context.update(await _offers_context(access))
        return await render(request, "incubator/_offers.html", context, status)
    if status != 200:
        return await startup_page(request, status, message=message)
    flash(request, message)
    return redirect(request, f"/incubator/startups/{access.startup.id}#programmes")


async def metrics_table(request: Request) -> Response:
    """The KPI time series as CSV or .xlsx: one row per period, one column per metric (a
    grantee gets what its grant covers, and the download is logged like any read)."""
    user = await require_user(request)
    format = request.path_params["format"]
    access = await ensure_startup(user, path_id(request, "startup_id"), "can_view_metrics")
    series = await reports.time_series(access, user, channel=format)
    name = f"startup-{access.startup.id}-kpi"
    response = tabular.download(reports.series_table(series), name, format)
    response.headers["Cache-Control"] = "private, no-store"
    return response


async def edit_profile(request: Request) -> Response:
    user = await require_user(request)
    access = await ensure_startup(user, path_id(request, "startup_id"), "can_edit_profile")
    profile = access.profile or await startups.ensure_profile(access.startup)
    context = {"access": access, "startup": access.startup, "profile": profile, "errors": {}}
    if request.method == "GET":
        context["values"] = {
            "sector": profile.sector.value,
            "stage": profile.stage.value,
            "founded_on": profile.founded_on.isoformat() if profile.founded_on else "",
            "team": profile.team,
            "team_size": str(profile.team_size),
            "links": "\n".join(profile.links or []),
            "in_directory": profile.in_directory,
        }
        return await render(request, "incubator/profile_form.html", context)
    async with request.form(max_files=1, max_fields=50) as form:
        values = form_values(form, PROFILE_FIELDS)
        try:
            await startups.update_profile(user, access, values, form.get("pitch"))
        except DomainError as exc:
            context.update(values=values, errors=exc.fields, message=exc.message)
            return await render(request, "incubator/profile_form.html", context, exc.status_code)
    flash(request, _("The profile has been saved."))
    return redirect(request, f"/incubator/startups/{access.startup.id}")


async def pitch_deck(request: Request) -> Response:
    user = await current_user(request)
    access = await ensure_startup(user, path_id(request, "startup_id"), "insider")
    if access.profile is None or access.profile.pitch_id is None:  # type: ignore[attr-defined]
        raise NotFound(_("There is no pitch deck."))
    document = await Document.get(id=access.profile.pitch_id)  # type: ignore[attr-defined]
    response = _pdf(document)  # 404 first if the file is gone: only real reads are logged
    await reports.log_pitch_read(access, user)  # type: ignore[arg-type]
    return response


def _pdf(document: Document) -> Response:
    path = document_path(document.id)
    if not path.is_file():
        raise NotFound(_("Not found."))
    return FileResponse(
        path,
        media_type="application/pdf",
        filename=document.filename,
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
        content_disposition_type="attachment",
    )


async def document_download(request: Request) -> Response:
    from incubator.services import applications

    user = await require_user(request)
    try:
        document_id = uuid.UUID(request.path_params["document_id"])
    except ValueError as exc:
        raise NotFound(_("Not found.")) from exc
    document = await Document.get_or_none(id=document_id, purpose="application")
    if document is None:
        raise NotFound(_("Not found."))
    application = await applications.Application.filter(
        startup_id=document.organisation_id  # type: ignore[attr-defined]
    ).select_related("call__programme", "startup")
    for candidate in application:
        if str(document.id) in (
            candidate.documents or {}
        ).values() and await applications.may_see_application(user, candidate):
            return _pdf(document)
    raise NotFound(_("Not found."))


# --- reports ---------------------------------------------------------------------------------


def _typed_figures(form, metrics) -> tuple[dict[str, str], dict, dict[str, str], dict[str, str]]:
    """What was typed (kept on the form), the numbers read from it, the fields that are not
    numbers, and the one-line explanations typed for figures far from the history."""
    raw = {m.key: form_text(form, f"m_{m.key}") for m in metrics}
    values: dict = {}
    bad: dict[str, str] = {}
    for key, text in raw.items():
        if not text:
            continue
        cleaned = text.replace(" ", "").replace(",", ".")
        if cleaned.count(".") > 1:  # 1.200.000 written with thousands separators
            cleaned = cleaned.replace(".", "")
        try:
            number = float(cleaned)
            if not math.isfinite(number) or abs(number) > 1e15:
                raise ValueError(cleaned)
            values[key] = int(number) if number.is_integer() else number
        except ValueError:
            bad[f"metrics.{key}"] = _("Enter a number.")
    explanations = {m.key: form_text(form, f"x_{m.key}") for m in metrics}
    return raw, values, bad, {k: v for k, v in explanations.items() if v}


async def _report_page(request: Request, mode: str) -> tuple[User, StartupAccess, dict]:
    """The founder, the startup and the context of the report form (`answer` or `correct`)."""
    user = await require_user(request)
    access = await ensure_startup(user, path_id(request, "startup_id"), "can_report")
    report = await reports.get_request(access, path_id(request, "report_id"))
    explanations = dict(report.explanations or {})
    context = {
        "access": access,
        "startup": access.startup,
        "report": report,
        "metrics": await reports.request_metrics(report),
        "values": {k: str(v) for k, v in (report.values or {}).items()},
        "narrative": report.narrative,
        "explanations": explanations,
        "ask": list(explanations) if mode == "correct" else [],
        "mode": mode,
        "previous": await reports.latest_values(access.startup, before=report.period_start),
        "errors": {},
    }
    return user, access, context


async def report_form(request: Request) -> Response:
    user, access, context = await _report_page(request, "answer")
    report, metrics = context["report"], context["metrics"]
    if request.method == "GET":
        return await render(request, "incubator/report_form.html", context)
    form = await read_form(request)
    action = form_text(form, "action")
    try:
        if action == "skip":
            await reports.skip_report(user, access, report.id, form_text(form, "reason"))
            flash(request, _("This period has been skipped."))
            return redirect(request, f"/incubator/startups/{access.startup.id}")
        raw, values, bad, explanations = _typed_figures(form, metrics)
        narrative = form_text(form, "narrative")
        context.update(
            values=raw,
            narrative=narrative,
            reason=form_text(form, "reason"),
            explanations=explanations,
            ask=list(explanations),
        )
        if bad:
            raise Invalid(_("Please correct the highlighted fields."), bad)
        await reports.submit_report(
            user,
            access,
            report.period,
            values,
            narrative,
            draft=action == "draft",
            request_id=report.id,
            explanations=explanations,
        )
    except DomainError as exc:
        if isinstance(exc, reports.NeedsExplanation):
            context["ask"] = sorted(set(context["ask"]) | set(exc.keys))
        context.update(errors=exc.fields, message=exc.message)
        return await render(request, "incubator/report_form.html", context, exc.status_code)
    if action == "draft":
        flash(request, _("The draft has been saved. Finish it any time before the due date."))
        return redirect(request, f"/incubator/startups/{access.startup.id}/reports/{report.id}")
    flash(request, _("Thank you: the report has been submitted."))
    return redirect(request, f"/incubator/startups/{access.startup.id}")


async def correct_report(request: Request) -> Response:
    """A founder corrects a submitted report; the history keeps the old values."""
    user, access, context = await _report_page(request, "correct")
    report, metrics = context["report"], context["metrics"]
    if request.method == "GET":
        return await render(request, "incubator/report_form.html", context)
    form = await read_form(request)
    raw, values, bad, explanations = _typed_figures(form, metrics)
    narrative, reason = form_text(form, "narrative"), form_text(form, "reason")
    context.update(
        values=raw,
        narrative=narrative,
        reason=reason,
        explanations=explanations,
        ask=sorted(set(context["ask"]) | set(explanations)),
    )
    try:
        if bad:
            raise Invalid(_("Please correct the highlighted fields."), bad)
        await reports.correct_report(
            user, access, report.id, values, narrative, reason, explanations
        )
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        if isinstance(exc, reports.NeedsExplanation):
            context["ask"] = sorted(set(context["ask"]) | set(exc.keys))
        context.update(errors=exc.fields, message=exc.message)
        return await render(request, "incubator/report_form.html", context, exc.status_code)
    flash(request, _("The correction has been saved: the programme sees what changed."))
    return redirect(request, f"/incubator/startups/{access.startup.id}/reports/{report.id}/history")


async def report_history(request: Request) -> Response:
    """A report, its corrections and every reminder about it (members and programme staff)."""
    user = await require_user(request)
    access = await ensure_startup(user, path_id(request, "startup_id"), "insider")
    history = await reports.report_history(access, user, path_id(request, "report_id"))
    context = {
        "access": access,
        "startup": access.startup,
        "history": history,
        "report": history.request,
        "metric_names": {m.key: m for m in history.metrics},
    }
    return await render(request, "incubator/report_history.html", context)


# --- milestones and sessions ------------------------------------------------------------------


async def add_milestone(request: Request) -> Response:
    user = await require_user(request)
    access = await ensure_startup(user, path_id(request, "startup_id"), "can_plan_milestones")
    form = await read_form(request)
    values = form_values(form, (*MILESTONE_FIELDS, "enrolment_id"))
    try:
        await milestones.add_milestone(user, access, as_id(values["enrolment_id"]), values)
    except DomainError as exc:
        return await startup_page(
            request,
            exc.status_code,
            errors=exc.fields,
            values=values,
            message=exc.message,
            form="milestone",
        )
    flash(request, _("The milestone has been added."))
    return redirect(request, f"/incubator/startups/{access.startup.id}#milestones")


async def update_milestone(request: Request) -> Response:
    user = await require_user(request)
    access = await ensure_startup(user, path_id(request, "startup_id"), "can_plan_milestones")
    form = await read_form(request)
    values = form_values(form, MILESTONE_FIELDS)
    try:
        await milestones.update_milestone(user, access, path_id(request, "milestone_id"), values)
    except DomainError as exc:
        return await startup_page(request, exc.status_code, message=exc.message)
    flash(request, _("The milestone has been saved."))
    return redirect(request, f"/incubator/startups/{access.startup.id}#milestones")


async def comment_milestone(request: Request) -> Response:
    user = await require_user(request)
    access = await ensure_startup(user, path_id(request, "startup_id"), "can_comment")
    milestone_id = path_id(request, "milestone_id")
    body = form_text(await read_form(request), "body")
    error = ""
    status = 200
    try:
        await milestones.comment(user, access, milestone_id, body)
    except DomainError as exc:
        error, status = exc.fields.get("body") or exc.message, exc.status_code
    if is_htmx(request):
        milestone = await milestones.get_milestone(access, milestone_id)
        await milestone.fetch_related("comments__author")
        return await render(
            request,
            "incubator/_comments.html",
            {
                "milestone": milestone,
                "startup": access.startup,
                "access": access,
                "comment_error": error,
            },
            status,
        )
    if error:
        return await startup_page(request, status, message=error)
    return redirect(request, f"/incubator/startups/{access.startup.id}#milestone-{milestone_id}")


async def log_session(request: Request) -> Response:
    user = await require_user(request)
    access = await ensure_startup(user, path_id(request, "startup_id"), "can_log_session")
    form = await read_form(request)
    values = form_values(form, ("held_on", "topics", "actions", "enrolment_id"))
    try:
        await milestones.log_session(user, access, as_id(values["enrolment_id"]), values)
    except DomainError as exc:
        return await startup_page(
            request,
            exc.status_code,
            errors=exc.fields,
            values=values,
            message=exc.message,
            form="session",
        )
    flash(request, _("The session has been logged."))
    return redirect(request, f"/incubator/startups/{access.startup.id}#sessions")


# --- sharing -------------------------------------------------------------------------------------


async def sharing_page(request: Request) -> Response:
    user = await require_user(request)
    access = await ensure_startup(user, path_id(request, "startup_id"), "member")
    context = {
        "access": access,
        "startup": access.startup,
        "grants": await sharing.grants_of(access.startup),
        "log": await sharing.access_log(access.startup),
        "metric_choices": (choices := await sharing.metric_choices(access.startup)),
        "metric_names": {m.key: m.name for m in choices},
        "organisations": await sharing.grantee_choices(access.startup) if access.can_share else [],
        "errors": {},
        "values": {},
        "chosen": [],
        "now_utc": timezone.now(),
    }
    status = 200
    if request.method == "POST":
        form = await read_form(request)
        values = form_values(form, ("grantee_id", "period_from", "period_to", "expires_on"))
        chosen = [v for v in form.getlist("metrics") if isinstance(v, str)]
        try:
            await sharing.create_grant(user, access, values, chosen)
        except DomainError as exc:
            if not exc.fields:
                raise
            context.update(values=values, chosen=chosen, errors=exc.fields, message=exc.message)
            status = exc.status_code
        else:
            flash(request, _("The organisation can now read the chosen metrics."))
            return redirect(request, f"/incubator/startups/{access.startup.id}/sharing")
    return await render(request, "incubator/sharing.html", context, status)


async def revoke_grant(request: Request) -> Response:
    user = await require_user(request)
    access = await ensure_startup(user, path_id(request, "startup_id"), "can_share")
    grant = await sharing.get_grant(access, path_id(request, "grant_id"))
    asked = await confirm_first(
        request,
        await read_form(request),
        question=_(
            "Revoke the access of %(organisation)s? Its next request is refused.",
            organisation=grant.grantee.name,
        ),
        button=_("Revoke"),
        cancel=f"/incubator/startups/{access.startup.id}/sharing",
    )
    if asked is not None:
        return asked
    await sharing.revoke_grant(user, access, grant.id)
    flash(request, _("Access has been revoked: the next request is refused."))
    return redirect(request, f"/incubator/startups/{access.startup.id}/sharing")


routes = [
    Route("/incubator/startups/{startup_id:int}", startup_page, methods=["GET"]),
    Route("/incubator/startups/{startup_id:int}/profile", edit_profile, methods=["GET", "POST"]),
    Route(
        "/incubator/startups/{startup_id:int}/metrics.{format:tabular}",
        metrics_table,
        methods=["GET"],
    ),
    Route("/incubator/startups/{startup_id:int}/pitch.pdf", pitch_deck, methods=["GET"]),
    Route(
        "/incubator/startups/{startup_id:int}/reports/{report_id:int}",
        report_form,
        methods=["GET", "POST"],
    ),
    Route(
        "/incubator/startups/{startup_id:int}/reports/{report_id:int}/correct",
        correct_report,
        methods=["GET", "POST"],
    ),
    Route(
        "/incubator/startups/{startup_id:int}/reports/{report_id:int}/history",
        report_history,
        methods=["GET"],
    ),
    Route("/incubator/startups/{startup_id:int}/milestones", add_milestone, methods=["POST"]),
    Route(
        "/incubator/startups/{startup_id:int}/milestones/{milestone_id:int}",
        update_milestone,
        methods=["POST"],
    ),
    Route(
        "/incubator/startups/{startup_id:int}/milestones/{milestone_id:int}/comments",
        comment_milestone,
        methods=["POST"],
    ),
    Route("/incubator/startups/{startup_id:int}/sessions", log_session, methods=["POST"]),
    Route(
        "/incubator/startups/{startup_id:int}/enrolments/{enrolment_id:int}/{what}",
        answer_enrolment,
        methods=["POST"],
    ),
    Route("/incubator/startups/{startup_id:int}/sharing", sharing_page, methods=["GET", "POST"]),
    Route(
        "/incubator/startups/{startup_id:int}/sharing/{grant_id:int}/revoke",
        revoke_grant,
        methods=["POST"],
    ),
    Route("/incubator/documents/{document_id}", document_download, methods=["GET"]),
]
