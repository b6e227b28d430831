"""HTML pages for organisers: create a contest, the dashboard (registrations, submissions,
live judging coverage, judge progress), settings, judges, assignment, ranking, shortlist,
publication, late windows, suspicious votes and CSV exports."""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ecosystem import tabular
from ecosystem.errors import DomainError, Invalid, NotFound
from ecosystem.i18n import _
from ecosystem.inputs import iso_datetime, whole_number, zone_or_invalid
from ecosystem.models import Membership, MembershipStatus, Role, Verification
from ecosystem.schemas import validate
from ecosystem.web import flash, form_text, is_htmx, read_form, redirect, render, require_user
from hackathon import permissions
from hackathon.models import ContestKind, JudgeAssignment, JudgingMode
from hackathon.routes import content_forms
from hackathon.routes.public import labels
from hackathon.schemas import ContestIn, CriterionIn
from hackathon.services import contests, dashboard, expo, judging, results, teams, votes


def _lines(text: str, parts: int) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if line.strip():
            cells = [cell.strip() for cell in line.split("|")]
            rows.append((cells + [""] * parts)[:parts])
    return rows


def _criteria_rows(text: str) -> list[dict]:
    """Rubric lines `code | name | weight | lowest | highest | description`."""
    return [
        {
            "code": c,
            "name": n,
            "weight": w or 1,
            "scale_min": lo or 0,
            "scale_max": hi or 10,
            "description": d,
        }
        for c, n, w, lo, hi, d in _lines(text, 6)
    ]


def _criteria(text: str) -> list[CriterionIn]:
    return [validate(CriterionIn, row) for row in _criteria_rows(text)]


def _local(value: str, zone: str, field: str) -> datetime:
    try:
        naive = iso_datetime(value)
    except ValueError as exc:
        raise Invalid(
            _("Please correct the highlighted fields."), fields={field: _("Enter a date and time.")}
        ) from exc
    if naive.tzinfo is None:
        naive = naive.replace(tzinfo=zone_or_invalid(zone))
    return naive


async def _admin_organisations(user) -> list:
    return [
        m.organisation
        for m in await Membership.filter(
            user_id=user.id,
            status=MembershipStatus.ACTIVE,
            role__in=[Role.OWNER, Role.ADMIN],
            # a pending organisation prepares a hidden draft; a rejected one organises nothing
            organisation__verification__in=[Verification.VERIFIED, Verification.PENDING],
        ).select_related("organisation")
    ]


async def new_contest(request: Request) -> Response:
    user = await require_user(request)
    organisations = await _admin_organisations(user)
    values: dict[str, str] = {
        "sites": "vn | Việt Nam | Asia/Ho_Chi_Minh | vi | VN",
        "tracks": "tourism | Tourism information",
        "timezone": "Asia/Ho_Chi_Minh",
    }
    errors: dict[str, str] = {}
    message = ""
    status = 200
    if request.method == "POST":
        form = await read_form(request)
        keys = (
            "slug",
            "kind",
            "organisation_id",
            "timezone",
            "registration_closes_at",
            "submission_closes_at",
            "judging_closes_at",
            "sites",
            "tracks",
            "team_max",
            "prizes",
            "criteria",
            "blind",
            "pairwise",
        )
        values = {k: form_text(form, k) for k in keys}
        values.update(content_forms.tab_values(form))
        try:
            zone = values["timezone"] or "Asia/Ho_Chi_Minh"
            zone_or_invalid(zone)  # before the dates are read in it
            data = validate(
                ContestIn,
                {
                    **content_forms.contest_texts(values),
                    "slug": values["slug"],
                    "kind": values["kind"] or "hackathon",
                    "organisation_id": values["organisation_id"] or None,
                    "timezone": zone,
                    "team_max": values["team_max"] or 5,
                    "registration_closes_at": _local(
                        values["registration_closes_at"], zone, "registration_closes_at"
                    ),
                    "submission_closes_at": _local(
                        values["submission_closes_at"], zone, "submission_closes_at"
                    ),
                    "judging_closes_at": _local(
                        values["judging_closes_at"], zone, "judging_closes_at"
                    ),
                    "sites": [
                        {
                            "code": c,
                            "name": n,
                            "timezone": z or zone,
                            "language": lang or "vi",
                            "country": (country or "VN").upper(),
                        }
                        for c, n, z, lang, country in _lines(values["sites"], 5)
                    ],
                    "tracks": [{"code": c, "name": n} for c, n in _lines(values["tracks"], 2)],
                    "prizes": [
                        {
                            "track": None if t in ("", "vote") else t,
                            "name": n,
                            "amount": a or 0,
                            "public_vote": t == "vote",
                        }
                        for t, n, a in _lines(values["prizes"], 3)
                    ],
                    "criteria": _criteria_rows(values["criteria"]),
                    "blind": values["blind"] == "1",
                    "judging_mode": "pairwise" if values["pairwise"] == "1" else "rubric",
                },
            )
            contest = await contests.create_contest(user, data)
            flash(request, _("The contest is created."))
            return redirect(request, f"/contests/{contest.slug}/manage")
        except DomainError as exc:
            errors, message, status = exc.fields, exc.message, exc.status_code
            errors = content_forms.tab_errors(errors, values.get("content_locale") or "vi")
    context = {
        "values": values,
        "errors": errors,
        "message": message,
        "organisations": organisations,
        "kinds": list(ContestKind),
        **labels(),
    }
    return await render(request, "hackathon/contest_form.html", context, status)


async def _manage_context(request: Request, contest) -> dict:
    """The organiser's dashboard: a constant number of queries whatever the contest's size
    (entries, teams and counts as plain rows, the coverage read once and shared, the running
    ranking's fit reused while the score log is unchanged)."""
    user = await require_user(request)
    await permissions.ensure(user, "contest.manage", contest)
    view = await contests.contest_view(contest)
    round_ = await contests.current_round(contest)
    entries = await judging.round_entry_rows(round_, view.sites, view.tracks)
    cover = await judging.coverage(user, contest, round_=round_, entries=entries)
    team_rows = await dashboard.team_rows(contest)
    ranking = None
    crowd = None
    if contest.judging_mode == JudgingMode.PAIRWISE:
        crowd = await expo.overview(user, contest)
        ranking = crowd.ranking if crowd.comparisons else None
    elif cover.any_completed:
        ranking = await results.running_ranking(user, contest, round_, entries, RANKING_SHOWN)
    return {
        "pairwise": crowd,
        "contest": contest,
        "view": view,
        "overview": await dashboard.overview(
            user, contest, view=view, coverage=cover, teams=team_rows
        ),
        "round": round_,
        "judges": [judge["role"] for judge in cover.judges],
        "ranking": ranking,
        "suspicious": await votes.suspicious_votes(user, contest),
        "tally": await votes.tally(contest),
        "teams": team_rows,
        "reasons": request.session.pop("assignment_reasons", []),
        "ranking_shown": RANKING_SHOWN,
        **_coverage_page(request, cover),
        **labels(),
    }


COVERAGE_PAGE = 100  # entries per page of the dashboard's coverage table
RANKING_SHOWN = 100  # lines of the running ranking on the dashboard (all in the export)


def _coverage_page(request: Request, cover: judging.Coverage) -> dict:
    """The page of the coverage table asked for (`?coverage_page=`): a 1,200-entry contest
    shows 100 rows at a time, and its 15-second refresh re-renders only those."""
    rows = cover.rows
    pages = max(1, -(-len(rows) // COVERAGE_PAGE))
    page = whole_number(request.query_params.get("coverage_page", "1"), 1, pages) or 1
    first = (page - 1) * COVERAGE_PAGE
    return {
        "coverage_rows": rows[first : first + COVERAGE_PAGE],
        "coverage_page": page,
        "coverage_pages": pages,
        "coverage_first": first + 1,
    }


async def manage(request: Request) -> Response:
    contest = await contests.get_contest(request.path_params["slug"])
    context = await _manage_context(request, contest)
    return await render(request, "hackathon/manage.html", context)


async def coverage_fragment(request: Request) -> Response:
    user = await require_user(request)
    contest = await contests.get_contest(request.path_params["slug"])
    overview = await dashboard.overview(user, contest)
    if not is_htmx(request):
        return redirect(request, f"/contests/{contest.slug}/manage")
    context = {"contest": contest, "overview": overview}
    return await render(
        request, "hackathon/_coverage.html", context | _coverage_page(request, overview.coverage)
    )


def _int(value: str, field: str, low: int, high: int) -> int:
    number = whole_number(value, low, high)
    if number is None:
        raise Invalid(
            _("Please correct the highlighted fields."),
            fields={field: _("Between %(low)d and %(high)d.", low=low, high=high)},
        )
    return number


async def action(request: Request) -> Response:
    """One POST endpoint per organiser action, named in the path."""
    user = await require_user(request)
    contest = await contests.get_contest(request.path_params["slug"])
    name = request.path_params["action"]
    form = await read_form(request)
    back = f"/contests/{contest.slug}/manage"
    try:
        if name == "settings":
            await contests.update_settings(
                user,
                contest,
                judges_per_entry=_int(
                    form_text(form, "judges_per_entry"), "judges_per_entry", 1, 50
                ),
                load_cap=_int(form_text(form, "load_cap"), "load_cap", 1, 10000),
                blind=form_text(form, "blind") == "1",
                require_site=form_text(form, "require_site") == "1",
                require_language=form_text(form, "require_language") == "1",
            )
            flash(request, _("The settings are saved."))
        elif name == "judges":
            await contests.add_judge(
                user,
                contest,
                form_text(form, "email"),
                form_text(form, "site"),
                form_text(form, "languages"),
            )
            flash(request, _("The judge is added."))
        elif name == "drop":
            outcome = await judging.drop_judge(
                user, contest, _int(form_text(form, "user_id"), "user_id", 1, 2**31 - 1)
            )
            _report(request, outcome, _("The judge dropped out; the assignment is repaired."))
        elif name == "assign":
            outcome = await judging.run_assignment(user, contest)
            _report(request, outcome, _("Every entry has its judges."))
        elif name == "shortlist":
            return await _shortlist(request, user, contest, form)
        elif name == "publish":
            return await _publish(request, user, contest, form)
        elif name == "conflict":
            await judging.record_conflict(
                user,
                contest,
                _int(form_text(form, "judge_id"), "judge_id", 1, 2**31 - 1),
                _int(form_text(form, "team_id"), "team_id", 1, 2**31 - 1),
                form_text(form, "reason"),
            )
            flash(request, _("The conflict of interest is recorded."))
        elif name == "late":
            team_id = _int(form_text(form, "team_id"), "team_id", 1, 2**31 - 1)
            until = _local(form_text(form, "until"), contest.timezone, "until")
            await teams.grant_late_window(user, team_id, until)
            flash(request, _("The late window is granted."))
        else:
            raise NotFound(_("This page does not exist."))
    except DomainError as exc:
        if isinstance(exc, NotFound) or exc.status_code == 403:
            raise
        # The fields' messages, never their names (a field name is a key, not text).
        details = " ".join(dict.fromkeys(v for v in exc.fields.values() if v != exc.message))
        flash(request, f"{exc.message} {details}".strip(), "error")
    return redirect(request, back)


SHORTLIST_FIELDS = ("size", "judges_per_entry", "load_cap", "judges", "criteria", "incomplete")


async def _shortlist(request: Request, user, contest, form) -> Response:
    """Open the final round; refused with the incomplete entries listed (409) unless the
    organiser confirms the override that names exactly them."""
    values = {key: form_text(form, key) for key in SHORTLIST_FIELDS}
    try:
        override = None
        if form_text(form, "override") == "1":
            override = [
                number
                for part in values["incomplete"].replace(",", " ").split()
                if (number := whole_number(part.lstrip("#"))) is not None
            ]
        final = await results.shortlist(
            user,
            contest,
            _int(values["size"], "size", 1, 10000),
            _int(values["judges_per_entry"], "judges_per_entry", 1, 50),
            _int(values["load_cap"], "load_cap", 1, 10000),
            criteria=_criteria(values["criteria"]) or None,
            judge_emails=[email for email in values["judges"].replace(",", " ").split() if email]
            or None,
            override=override,
        )
    except DomainError as exc:
        if isinstance(exc, NotFound) or exc.status_code == 403:
            raise
        context = await _manage_context(request, contest)
        if "incomplete" in exc.fields:
            values["incomplete"] = exc.fields["incomplete"]
        context.update(
            shortlist_message=exc.message,
            shortlist_values=values,
            shortlist_incomplete="incomplete" in exc.fields,
        )
        return await render(request, "hackathon/manage.html", context, exc.status_code)
    assigned = await JudgeAssignment.filter(round_id=final.id).count()
    flash(
        request,
        _(
            "The final round is open with the shortlisted entries; %(n)d assignments made.",
            n=assigned,
        ),
    )
    return redirect(request, f"/contests/{contest.slug}/manage")


async def _publish(request: Request, user, contest, form) -> Response:
    """First POST: the preview (ranking, winners, e-mails) with a confirmation token; a second
    POST carrying that token publishes."""
    confirm = form_text(form, "confirm")
    message, status = "", 200
    if confirm:
        try:
            await results.publish(user, contest, confirm=confirm)
            flash(request, _("The results are published."))
            return redirect(request, f"/contests/{contest.slug}/results")
        except DomainError as exc:
            if isinstance(exc, NotFound) or exc.status_code == 403:
                raise
            message, status = exc.message, exc.status_code
    try:
        shown = await results.preview(user, contest)
    except DomainError as exc:
        if isinstance(exc, NotFound) or exc.status_code == 403:
            raise
        flash(request, exc.message, "error")
        return redirect(request, f"/contests/{contest.slug}/manage")
    context = {"contest": contest, "preview": shown, "message": message, **labels()}
    return await render(request, "hackathon/publish_preview.html", context, status)


def _report(request: Request, outcome: judging.AssignmentOutcome, success: str) -> None:
    if outcome.ok:
        flash(request, success)
    else:
        flash(request, _("The assignment is impossible: nothing was changed."), "error")
        request.session["assignment_reasons"] = outcome.reasons[:20]


async def export(request: Request) -> Response:
    """`/manage/export/{what}.csv` or `.xlsx`."""
    user = await require_user(request)
    contest = await contests.get_contest(request.path_params["slug"])
    what = request.path_params["what"]
    table = await dashboard.export(user, contest, what)
    return tabular.download(table, f"{contest.slug}-{what}", request.path_params["format"])


routes = [
    Route("/contests/new", new_contest, methods=["GET", "POST"]),
    Route("/contests/{slug}/manage", manage, methods=["GET"]),
    Route("/contests/{slug}/manage/coverage", coverage_fragment, methods=["GET"]),
    Route("/contests/{slug}/manage/export/{what}.{format:tabular}", export, methods=["GET"]),
    Route("/contests/{slug}/manage/{action}", action, methods=["POST"]),
]
