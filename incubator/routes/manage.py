"""HTML pages for a programme's managers (and mentors where said): programme settings,
cohorts and their dashboards, application review and decisions, perks."""

from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable, Iterable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ecosystem import tabular
from ecosystem.charts import bar_chart
from ecosystem.content import form_values as content_values
from ecosystem.content import tr
from ecosystem.errors import DomainError, NotFound, NotPermitted
from ecosystem.i18n import _, ngettext
from ecosystem.inputs import path_id
from ecosystem.labels import label_in
from ecosystem.web import flash, form_text, read_form, redirect, require_user
from incubator.forms import as_id
from incubator.models import Cohort, Metric, ProgrammeRole, ProgrammeRoleKind
from incubator.permissions import ensure_manager, programme_access
from incubator.routes.common import confirm_first, form_values, period_chart, render, text_values
from incubator.services import (
    applications,
    enrolments,
    milestones,
    portfolio,
    programmes,
    reports,
    startups,
    texts,
)
from incubator.services.reports import local_today, log_programme_reads

SCHEDULE_FIELDS = (
    "schedule",
    "due_days",
    "one_off_period",
    "one_off_due_on",
    "remind_days_before",
    "remind_days_after",
    "escalate_days_after",
)
CALL_FIELDS = (
    "title",
    "description",
    "questions",
    "documents",
    "criteria",
    "deadline",
    "cohort_id",
)


async def new_programme(request: Request) -> Response:
    user = await require_user(request)
    hosts = await programmes.host_organisations(user)
    if not hosts:
        raise NotPermitted(_("Only an admin of an organisation can create a programme."))
    context = {"hosts": hosts, "values": {}, "errors": {}}
    if request.method == "GET":
        return await render(request, "incubator/programme_form.html", context)
    form = await read_form(request)
    values = {
        **form_values(form, ("organisation_id",)),
        **text_values(form, texts.PROGRAMME_TEXTS),
    }
    try:
        host_id = as_id(values["organisation_id"])
        programme = await programmes.create_programme(
            user, host_id, texts=values, input_keys=form.keys()
        )
    except DomainError as exc:
        context.update(values=values, errors=exc.fields, message=exc.message)
        return await render(request, "incubator/programme_form.html", context, exc.status_code)
    flash(request, _("The programme has been created."))
    return redirect(request, f"/incubator/programmes/{programme.id}/manage")


async def programme_texts(request: Request) -> Response:
    """The programme's name and description in each language (its managers)."""
    user = await require_user(request)
    programme = await programmes.get_programme(path_id(request, "programme_id"))
    await ensure_manager(user, programme)
    return await _texts_page(
        request,
        {"programme": programme},
        content_values(programme, texts.PROGRAMME_TEXTS),
        texts.PROGRAMME_TEXTS,
        lambda values, keys: programmes.update_programme_texts(user, programme, values, keys),
        f"/incubator/programmes/{programme.id}/manage",
    )


async def call_texts(request: Request) -> Response:
    """The call's title and description in each language (the programme's managers)."""
    user = await require_user(request)
    call = await applications.get_call(path_id(request, "call_id"))
    await ensure_manager(user, call.programme)
    return await _texts_page(
        request,
        {"call": call, "programme": call.programme},
        content_values(call, texts.CALL_TEXTS),
        texts.CALL_TEXTS,
        lambda values, keys: applications.update_call_texts(user, call, values, keys),
        f"/incubator/calls/{call.id}",
    )


async def _texts_page(
    request: Request,
    context: dict,
    stored: dict,
    fields,
    save: Callable[[dict, Iterable[str]], Awaitable[object]],
    done_url: str,
) -> Response:
    """The one-tab-per-language form of a programme's or a call's texts: shown, saved by
    `save` (the service, which checks who may), or shown again with what was typed."""
    context = {**context, "values": stored, "errors": {}}
    if request.method == "GET":
        return await render(request, "incubator/texts_form.html", context)
    form = await read_form(request)
    values = text_values(form, fields)
    try:
        await save(values, form.keys())
    except DomainError as exc:
        context.update(values=values, errors=exc.fields, message=exc.message)
        return await render(request, "incubator/texts_form.html", context, exc.status_code)
    flash(request, _("The texts have been saved."))
    return redirect(request, done_url)


async def _manage_context(user, programme, **extra) -> dict:
    access = await ensure_manager(user, programme)
    await programme.fetch_related("cohorts")
    return {
        "programme": programme,
        "access": access,
        "roles": await programmes.list_roles(programme),
        "invitations": await programmes.list_invitations(programme),
        "cohorts": sorted(programme.cohorts, key=lambda c: c.starts_on, reverse=True),
        "metrics": await Metric.filter(programme_id=programme.id).order_by("position"),
        "perks": await portfolio.perks_of(programme),
        "perk_budget": await portfolio.perk_budget(programme),
        "calls": await applications.ApplicationCall.filter(programme_id=programme.id).order_by(
            "-id"
        ),
        "schedule_values": {
            "schedule": programme.schedule.value,
            "due_days": str(programme.due_days),
            "one_off_period": programme.one_off_period,
            "one_off_due_on": programme.one_off_due_on.isoformat()
            if programme.one_off_due_on
            else "",
            "remind_days_before": str(programme.remind_days_before),
            "remind_days_after": str(programme.remind_days_after),
            "escalate_days_after": str(programme.escalate_days_after),
        },
        "values": {},
        "errors": {},
        "form": "",
        **extra,
    }


async def manage(request: Request) -> Response:
    user = await require_user(request)
    programme = await programmes.get_programme(path_id(request, "programme_id"))
    return await render(request, "incubator/manage.html", await _manage_context(user, programme))


async def manage_action(request: Request) -> Response:
    """One POST endpoint per form of the manage page: roles, cohorts, metrics, schedule,
    perks, calls. Errors re-render the page with that form's values."""
    user = await require_user(request)
    programme = await programmes.get_programme(path_id(request, "programme_id"))
    await ensure_manager(user, programme)
    what = request.path_params["what"]
    form = await read_form(request)
    if what == "required":
        keys = [v for v in form.getlist("required") if isinstance(v, str)]
        try:
            await programmes.set_required_metrics(user, programme, keys)
        except DomainError as exc:
            context = await _manage_context(
                user, programme, errors=exc.fields, message=exc.message, form="metrics"
            )
            return await render(request, "incubator/manage.html", context, exc.status_code)
        flash(request, _("The required metrics have been saved."))
        return redirect(request, f"/incubator/programmes/{programme.id}/manage#metrics")
    names = {
        "roles": ("email", "role"),
        "cohorts": ("name", "starts_on", "ends_on"),
        "metrics": ("name", "key", "unit", "period", "integer"),
        "schedule": SCHEDULE_FIELDS,
        "perks": ("name", "amount"),
        "calls": CALL_FIELDS,
    }
    if what not in names:
        raise NotFound(_("Not found."))
    values = form_values(form, names[what])
    if what == "calls":
        values.pop("title"), values.pop("description")
        values.update(text_values(form, texts.CALL_TEXTS))
    try:
        if what == "roles":
            granted = await programmes.grant_role(user, programme, values["email"], values["role"])
            message = (
                _("The role has been granted.")
                if isinstance(granted, ProgrammeRole)
                else _(
                    "No verified account has this address yet: the role waits for whoever "
                    "verifies it."
                )
            )
        elif what == "cohorts":
            await programmes.create_cohort(user, programme, values)
            message = _("The cohort has been created.")
        elif what == "metrics":
            await programmes.add_metric(user, programme, values)
            message = _("The metric has been added.")
        elif what == "schedule":
            await programmes.update_schedule(user, programme, values)
            message = _("The report schedule has been saved. It applies from the next run.")
        elif what == "perks":
            await portfolio.create_perk(user, programme, values["name"], values["amount"])
            message = _("The perk has been added.")
        else:
            call = await applications.create_call(user, programme, values, form.keys())
            flash(request, _("The call is open."))
            return redirect(request, f"/incubator/calls/{call.id}")
    except DomainError as exc:
        programme = await programmes.get_programme(programme.id)
        extra = {"values": values, "errors": exc.fields, "message": exc.message, "form": what}
        if what == "schedule":
            extra["schedule_values"] = values
        context = await _manage_context(user, programme, **extra)
        if what == "schedule":
            context["schedule_values"] = values
        return await render(request, "incubator/manage.html", context, exc.status_code)
    flash(request, message)
    return redirect(request, f"/incubator/programmes/{programme.id}/manage#{what}")


async def withdraw_invitation(request: Request) -> Response:
    user = await require_user(request)
    programme = await programmes.get_programme(path_id(request, "programme_id"))
    await ensure_manager(user, programme)
    invitation = await programmes.get_invitation(programme, path_id(request, "invitation_id"))
    asked = await confirm_first(
        request,
        await read_form(request),
        question=_("Withdraw the invitation of %(email)s?", email=invitation.email),
        button=_("Withdraw"),
        cancel=f"/incubator/programmes/{programme.id}/manage#roles",
    )
    if asked is not None:
        return asked
    await programmes.withdraw_invitation(user, programme, invitation.id)
    flash(request, _("The invitation has been withdrawn."))
    return redirect(request, f"/incubator/programmes/{programme.id}/manage#roles")


async def revoke_role(request: Request) -> Response:
    """Remove a person's role, after a confirmation (two, for one's own manager role)."""
    user = await require_user(request)
    programme = await programmes.get_programme(path_id(request, "programme_id"))
    await ensure_manager(user, programme)
    role = await programmes.get_role(programme, path_id(request, "role_id"))
    own_manager = role.user_id == user.id and role.role == ProgrammeRoleKind.MANAGER  # type: ignore[attr-defined]
    asked = await confirm_first(
        request,
        await read_form(request),
        question=_(
            "Remove %(name)s as %(role)s of %(programme)s?",
            name=role.user.full_name,
            role=_(programmes.ROLE_LABELS[role.role.value]),
            programme=tr(programme, "name"),
        ),
        button=_("Remove"),
        cancel=f"/incubator/programmes/{programme.id}/manage#roles",
        again=_("Really remove your own manager role? You cannot give it back to yourself.")
        if own_manager
        else "",
    )
    if asked is not None:
        return asked
    await programmes.revoke_role(user, programme, role.id)
    flash(request, _("The role has been withdrawn."))
    return redirect(request, f"/incubator/programmes/{programme.id}/manage#roles")


# --- cohorts -----------------------------------------------------------------------------


async def _cohort(request: Request) -> Cohort:
    return await programmes.get_cohort(path_id(request, "cohort_id"))


PORTFOLIO_LINES = 6  # one line per startup up to this many; beyond, the cohort's median


def portfolio_charts(dashboard: portfolio.CohortDashboard) -> list[dict]:
    """One time chart per metric across the cohort: a line per startup (a small cohort) or
    the median of the startups that reported each period (a large one)."""
    charts = []
    for metric in dashboard.metrics:
        lines = [
            (row.enrolment.startup.name, row.history[metric.key])
            for row in dashboard.rows
            if row.history.get(metric.key)
        ]
        if not lines:
            continue
        if len(lines) > PORTFOLIO_LINES:
            by_period: dict[str, list[float]] = {}
            for _name, points in lines:
                for period, value in points:
                    by_period.setdefault(period, []).append(value)
            lines = [
                (
                    _("Median of the startups that reported"),
                    [(p, statistics.median(v)) for p, v in sorted(by_period.items())],
                )
            ]
        chart = period_chart(lines, metric.period.value)
        if chart is not None:
            charts.append({"metric": metric, "chart": chart, "lines": len(lines)})
    return charts


async def cohort_page(request: Request, status: int = 200, **extra) -> Response:
    user = await require_user(request)
    cohort = await _cohort(request)
    access = await programme_access(user, cohort.programme)
    if not access.staff:
        raise NotPermitted(_("Only the programme's managers and mentors may see its cohorts."))
    dashboard = await portfolio.cohort_dashboard(cohort)
    await log_programme_reads([row.enrolment.id for row in dashboard.rows], user, "web")
    stage_chart = None
    if dashboard.by_stage:
        stage_chart = bar_chart(
            [(label_in(startups.STAGE_LABELS, s), n) for s, n in dashboard.by_stage.items()]
        )
    context = {
        "cohort": cohort,
        "programme": cohort.programme,
        "access": access,
        "dashboard": dashboard,
        "stage_chart": stage_chart,
        "metric_charts": portfolio_charts(dashboard),
        "mentors": await milestones.mentors_of_programme(cohort.programme.id),
        "perks": await portfolio.perks_of(cohort.programme) if access.manager else [],
        "perk_budget": await portfolio.perk_budget(cohort.programme) if access.manager else 0,
        "candidates": await enrolments.offer_candidates(cohort) if access.can_offer else [],
        "enrolment_labels": enrolments.STATUS_LABELS,
        "offers": await enrolments.offers_in(cohort) if access.manager else [],
        "this_month": local_today().strftime("%Y-%m"),
        "today": local_today(),
        "errors": {},
        **extra,
    }
    return await render(request, "incubator/cohort.html", context, status)


async def cohort_table(request: Request) -> Response:
    """The cohort dashboard as CSV or .xlsx (`export.csv`, `export.xlsx`)."""
    user = await require_user(request)
    cohort = await _cohort(request)
    access = await programme_access(user, cohort.programme)
    if not access.staff:
        raise NotPermitted(_("Only the programme's managers and mentors may see its cohorts."))
    dashboard = await portfolio.cohort_dashboard(cohort)
    await log_programme_reads([row.enrolment.id for row in dashboard.rows], user, "csv")
    table = portfolio.cohort_table(dashboard)
    response = tabular.download(table, f"cohort-{cohort.id}", request.path_params["format"])
    response.headers["Cache-Control"] = "private, no-store"
    return response


async def cohort_enrol(request: Request) -> Response:
    """Offer a startup a place in the cohort: it joins only when it accepts."""
    user = await require_user(request)
    cohort = await _cohort(request)
    await ensure_manager(user, cohort.programme)
    form = await read_form(request)
    raw, metrics_from = form_text(form, "startup_id"), form_text(form, "metrics_from")
    try:
        enrolment = await enrolments.offer(user, cohort, as_id(raw), metrics_from)
    except DomainError as exc:
        if isinstance(exc, NotPermitted):
            raise
        return await cohort_page(
            request,
            exc.status_code,
            message=exc.message,
            errors=exc.fields,
            values={"startup_id": raw, "metrics_from": metrics_from},
        )
    await enrolment.fetch_related("startup")
    flash(
        request,
        _(
            "%(name)s has been offered a place: it joins when it accepts.",
            name=enrolment.startup.name,
        ),
    )
    return redirect(request, f"/incubator/cohorts/{cohort.id}")


async def cohort_remind(request: Request) -> Response:
    """Remind one startup of the cohort of its open reports, or every late one, now."""
    user = await require_user(request)
    cohort = await _cohort(request)
    form = await read_form(request)
    raw = form_text(form, "enrolment_id")
    run = await reports.remind_now(user, cohort, as_id(raw) if raw else None)
    parts = []
    if run.sent:
        parts.append(ngettext("%(num)d report reminded.", "%(num)d reports reminded.", run.sent))
    if run.unreachable:
        parts.append(
            ngettext(
                "%(num)d report has no one to remind (no member with a verified e-mail).",
                "%(num)d reports have no one to remind (no member with a verified e-mail).",
                run.unreachable,
            )
        )
    if run.throttled:
        parts.append(
            ngettext(
                "%(num)d report was reminded less than an hour ago: not again.",
                "%(num)d reports were reminded less than an hour ago: not again.",
                run.throttled,
            )
        )
    flash(request, " ".join(parts) or _("No report to remind."))
    report_id = form_text(form, "report_id")
    if form_text(form, "next") == "report" and report_id.isdigit() and raw.isdigit():
        enrolment = await startups.get_enrolment(as_id(raw))
        return redirect(
            request,
            f"/incubator/startups/{enrolment.startup_id}/reports/{int(report_id)}/history",  # type: ignore[attr-defined]
        )
    return redirect(request, f"/incubator/cohorts/{cohort.id}#portfolio")


async def cohort_mentor(request: Request) -> Response:
    user = await require_user(request)
    cohort = await _cohort(request)
    form = await read_form(request)
    enrolment_id, mentor_id = form_text(form, "enrolment_id"), form_text(form, "mentor_id")
    enrolment = await startups.get_enrolment(as_id(enrolment_id))
    if enrolment.cohort_id != cohort.id:  # type: ignore[attr-defined]
        raise NotFound(_("Not found."))
    try:
        await milestones.assign_mentor(user, enrolment, as_id(mentor_id))
    except DomainError as exc:
        if isinstance(exc, NotPermitted):
            raise
        return await cohort_page(request, exc.status_code, message=exc.message)
    flash(request, _("The mentor has been assigned."))
    return redirect(request, f"/incubator/cohorts/{cohort.id}")


async def cohort_perk(request: Request) -> Response:
    user = await require_user(request)
    cohort = await _cohort(request)
    try:
        awarded = await portfolio.grant_perk(user, path_id(request, "perk_id"), cohort)
    except DomainError as exc:
        if isinstance(exc, NotPermitted | NotFound):
            raise
        return await cohort_page(request, exc.status_code, message=exc.message)
    flash(
        request,
        ngettext(
            "Lab credit granted to %(num)d startup.",
            "Lab credit granted to %(num)d startups.",
            awarded,
        ),
    )
    return redirect(request, f"/incubator/cohorts/{cohort.id}")


# --- applications ---------------------------------------------------------------------------------


async def call_applications(request: Request, status: int = 200, **extra) -> Response:
    """The call's pipeline for its managers: every application with its stage, reviews and
    score; several selected at once move to a stage or get reviewers; the stages themselves;
    how many decisions wait to be e-mailed."""
    user = await require_user(request)
    call = await applications.get_call(path_id(request, "call_id"))
    access = await ensure_manager(user, call.programme)
    found = await applications.applications_of(call)
    stages = applications.stages_of(call)
    context = {
        "call": call,
        "programme": call.programme,
        "access": access,
        "applications": sorted(found, key=lambda a: -(applications.average_score(a) or -1)),
        "average": applications.average_score,
        "stages": stages,
        "stage_label": lambda key: applications.stage_label(call, key),
        "reviewers": [
            r for r in await programmes.list_roles(call.programme) if r.role == "reviewer"
        ],
        "unsent": sum(
            1
            for a in found
            if a.status.value in ("admitted", "declined") and not a.decision_sent_at
        ),
        "stages_text": "\n".join(s["label"] for s in stages),
        "errors": {},
        "values": {},
        "selected": set(),
        **extra,
    }
    return await render(request, "incubator/applications.html", context, status)


async def call_applications_action(request: Request) -> Response:
    """Bulk actions on the selected applications (`do` = stage | assign) and the stages."""
    user = await require_user(request)
    call = await applications.get_call(path_id(request, "call_id"))
    what = request.path_params["what"]
    form = await read_form(request)
    selected = [v for v in form.getlist("application_id") if isinstance(v, str)]
    try:
        if what == "stages":
            await applications.set_stages(user, call, form_text(form, "stages"))
            message = _("The stages have been saved.")
        elif what == "bulk" and form_text(form, "do") == "stage":
            moved, kept = await applications.move_to_stage(
                user, call, selected, form_text(form, "stage")
            )
            message = ngettext("%(num)d application moved.", "%(num)d applications moved.", moved)
            if kept:
                message += " " + ngettext(
                    "%(num)d decided application keeps its decision.",
                    "%(num)d decided applications keep their decision.",
                    kept,
                )
        elif what == "bulk" and form_text(form, "do") == "assign":
            reviewers = [v for v in form.getlist("reviewer_id") if isinstance(v, str)]
            added = await applications.assign_reviewers(user, call, selected, reviewers)
            message = ngettext("%(num)d review assigned.", "%(num)d reviews assigned.", added)
        else:
            raise NotFound(_("Not found."))
    except DomainError as exc:
        if isinstance(exc, NotPermitted | NotFound):
            raise
        return await call_applications(
            request,
            exc.status_code,
            errors=exc.fields,
            message=exc.message,
            values=dict(form),
            selected={as_id(v) for v in selected},
            **({"stages_text": form_text(form, "stages")} if what == "stages" else {}),
        )
    flash(request, message)
    return redirect(request, f"/incubator/calls/{call.id}/applications")


async def call_decisions(request: Request) -> Response:
    """GET: the decision e-mails not sent yet, each as its recipient will read it. POST: send
    the ones previewed (their ids travel with the form), each once."""
    user = await require_user(request)
    call = await applications.get_call(path_id(request, "call_id"))
    if request.method == "POST":
        form = await read_form(request)
        ids = [v for v in form.getlist("application_id") if isinstance(v, str)]
        try:
            sent = await applications.send_decisions(user, call, ids)
        except DomainError as exc:
            if isinstance(exc, NotPermitted | NotFound):
                raise
            flash(request, exc.message)
            return redirect(request, f"/incubator/calls/{call.id}/decisions")
        flash(
            request,
            ngettext("%(num)d decision e-mailed.", "%(num)d decisions e-mailed.", sent)
            if sent
            else _("Nothing was sent: these decisions had already been e-mailed."),
        )
        return redirect(request, f"/incubator/calls/{call.id}/applications")
    previews = await applications.pending_decisions(user, call)
    context = {
        "call": call,
        "programme": call.programme,
        "previews": previews,
        "sendable": [p for p in previews if p["to"] is not None],
    }
    return await render(request, "incubator/decisions.html", context)


async def application_page(request: Request, status: int = 200, **extra) -> Response:
    user = await require_user(request)
    application = await applications.get_application(path_id(request, "application_id"))
    if not await applications.may_see_application(user, application):
        raise NotFound(_("There is no such application."))
    access = await programme_access(user, application.call.programme)
    await application.fetch_related("reviews__reviewer")
    my_review = next((r for r in application.reviews if r.reviewer_id == user.id), None)  # type: ignore[attr-defined]
    await application.call.programme.fetch_related("cohorts")
    context = {
        "application": application,
        "call": application.call,
        "programme": application.call.programme,
        "access": access,
        "my_review": my_review,
        "reviewers": [
            r
            for r in await programmes.list_roles(application.call.programme)
            if r.role == "reviewer"
        ],
        "average": applications.average_score(application),
        "stages": applications.stages_of(application.call),
        "stage_label": applications.stage_label(application.call, application.stage),
        "applicant_status": applications.applicant_status(application),
        "announced": applications.decision_announced(application),
        "applicant": (applicant := await applications.is_applicant(user, application)),
        "editable": applicant and applications.may_edit(application),
        "errors": {},
        "values": {},
        **extra,
    }
    return await render(request, "incubator/application.html", context, status)


async def application_action(request: Request) -> Response:
    user = await require_user(request)
    application = await applications.get_application(path_id(request, "application_id"))
    what = request.path_params["what"]
    form = await read_form(request)
    try:
        if what == "assign":
            raw = form_text(form, "reviewer_id")
            await applications.assign_reviewer(user, application, as_id(raw))
            message = _("The reviewer has been assigned.")
        elif what == "review":
            scores = {
                c["id"]: form_text(form, f"score_{c['id']}") for c in application.call.criteria
            }
            await applications.submit_review(
                user,
                application,
                scores,
                form_text(form, "recommendation"),
                form_text(form, "comment"),
            )
            message = _("Your review has been saved.")
        elif what == "decide":
            decision = form_text(form, "decision")
            if decision not in ("admit", "decline"):
                raise NotFound(_("Not found."))
            await applications.decide(
                user, application, decision == "admit", form_text(form, "message")
            )
            flash(
                request,
                _("The decision is recorded. Preview the e-mail to the startup, then send it."),
            )
            return redirect(request, f"/incubator/calls/{application.call.id}/decisions")
        elif what == "stage":
            moved, _kept = await applications.move_to_stage(
                user, application.call, [str(application.id)], form_text(form, "stage")
            )
            message = (
                _("The application has moved.")
                if moved
                else _("This application has been decided.")
            )
        elif what == "edit":
            answers = {
                q["key"]: form_text(form, f"q_{q['key']}") for q in application.call.questions
            }
            await applications.edit_application(user, application, answers)
            message = _("Your application has been saved. You can change it until the deadline.")
        elif what == "enrol":
            raw = form_text(form, "cohort_id")
            cohort = await programmes.get_cohort(as_id(raw))
            await applications.enrol_admitted(user, application, cohort)
            message = _("The startup is enrolled.")
        else:
            raise NotFound(_("Not found."))
    except DomainError as exc:
        if isinstance(exc, NotPermitted | NotFound):
            raise
        return await application_page(
            request, exc.status_code, errors=exc.fields, message=exc.message, values=dict(form)
        )
    flash(request, message)
    return redirect(request, f"/incubator/applications/{application.id}")


routes = [
    Route("/incubator/programmes/new", new_programme, methods=["GET", "POST"]),
    Route("/incubator/programmes/{programme_id:int}/manage", manage, methods=["GET"]),
    Route(
        "/incubator/programmes/{programme_id:int}/invitations/{invitation_id:int}/delete",
        withdraw_invitation,
        methods=["POST"],
    ),
    Route(
        "/incubator/programmes/{programme_id:int}/roles/{role_id:int}/delete",
        revoke_role,
        methods=["POST"],
    ),
    Route(
        "/incubator/programmes/{programme_id:int}/texts", programme_texts, methods=["GET", "POST"]
    ),
    Route("/incubator/programmes/{programme_id:int}/{what}", manage_action, methods=["POST"]),
    Route("/incubator/calls/{call_id:int}/texts", call_texts, methods=["GET", "POST"]),
    Route("/incubator/cohorts/{cohort_id:int}", cohort_page, methods=["GET"]),
    Route(
        "/incubator/cohorts/{cohort_id:int}/export.{format:tabular}", cohort_table, methods=["GET"]
    ),
    Route("/incubator/cohorts/{cohort_id:int}/enrol", cohort_enrol, methods=["POST"]),
    Route("/incubator/cohorts/{cohort_id:int}/mentors", cohort_mentor, methods=["POST"]),
    Route("/incubator/cohorts/{cohort_id:int}/remind", cohort_remind, methods=["POST"]),
    Route("/incubator/cohorts/{cohort_id:int}/perks/{perk_id:int}", cohort_perk, methods=["POST"]),
    Route("/incubator/calls/{call_id:int}/applications", call_applications, methods=["GET"]),
    Route(
        "/incubator/calls/{call_id:int}/applications/{what}",
        call_applications_action,
        methods=["POST"],
    ),
    Route("/incubator/calls/{call_id:int}/decisions", call_decisions, methods=["GET", "POST"]),
    Route("/incubator/applications/{application_id:int}", application_page, methods=["GET"]),
    Route(
        "/incubator/applications/{application_id:int}/{what}", application_action, methods=["POST"]
    ),
]
