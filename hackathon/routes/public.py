"""HTML pages: the contests, a contest's public page, teams and entries, vote, results,
certificates and their public verification page."""

from __future__ import annotations

import asyncio
import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tortoise import timezone

from ecosystem.errors import DomainError, Invalid, NotFound, NotPermitted
from ecosystem.i18n import _, get_locale, use_locale
from ecosystem.inputs import whole_number
from ecosystem.labels import N_
from ecosystem.restapi import client_ip
from ecosystem.schemas import validate
from ecosystem.web import current_user, flash, form_text, read_form, redirect, render, require_user
from hackathon.models import Prize, Submission
from hackathon.schemas import SubmissionIn, TeamIn
from hackathon.services import announcements, certificates, contests, results, teams, votes
from hackathon.services.contests import site_deadline
from hackathon.services.teams import registration_deadline, submission_deadline

PHASE_LABELS = {
    "registration": N_("Registration open"),
    "submission": N_("Submissions open"),
    "judging": N_("Judging"),
    "results": N_("Results published"),
}
KIND_LABELS = {"hackathon": N_("Hackathon"), "idea": N_("Idea contest")}
CERTIFICATE_LABELS = {
    "participant": N_("Contest participant"),
    "judge": N_("Judge"),
    "winner": N_("Winner"),
}


def winner_key(winner: dict) -> str:
    """A published winner's prize (results keep its name as published: prizes are fixed from
    then on), to show the prize's name in the reader's language."""
    return f"{winner.get('track') or ''}|{winner.get('rank')}|{winner.get('prize')}"


def prizes_by_key(prizes: list[Prize]) -> dict[str, Prize]:
    """Prizes (with their track) by `winner_key`."""
    return {
        winner_key({"track": p.track.code if p.track else None, "rank": p.rank, "prize": p.name}): p
        for p in prizes
    }


def labels() -> dict:
    return {
        "phase_labels": PHASE_LABELS,
        "kind_labels": KIND_LABELS,
        "certificate_labels": CERTIFICATE_LABELS,
    }


async def index(request: Request) -> Response:
    views = await contests.list_contests()
    return await render(request, "hackathon/contests.html", {"views": views, **labels()})


async def _contest_context(request: Request, slug: str) -> dict:
    user = await current_user(request)
    contest = await contests.visible_contest(await current_user(request), slug)
    view = await contests.contest_view(contest)
    prizes = (
        await Prize.filter(contest_id=contest.id)
        .select_related("track")
        .order_by("public_vote", "track_id", "rank")
    )
    team = await teams.team_of(user, contest)
    context = {
        "view": view,
        "contest": contest,
        "prizes": prizes,
        "prize_by_key": prizes_by_key(prizes),
        "winner_key": winner_key,
        "team": team,
        "members": await teams.members_of(team) if team else [],
        "submission": await Submission.get_or_none(team_id=team.id) if team else None,
        "invitations": await teams.pending_invitations(user, contest) if user else [],
        "roles": await contests.roles_of(user, contest),
        "deadlines": [
            (
                site,
                registration_deadline(contest, site),
                site_deadline(contest, site, contest.submission_closes_at),
            )
            for site in view.sites
        ],
        "team_deadline": submission_deadline(contest, team) if team else None,
        "entry_open": teams.entry_open(contest, team) if team else False,
        "now": timezone.now(),
        "my_vote": await votes.my_vote(user, contest),
        "certificates": await results.certificates_of(user, contest) if user else [],
        "announcements": await announcements.announcements_of(contest),
        "values": {},
        "errors": {},
        **labels(),
    }
    if contest.public_vote and view.phase.value == "judging":
        context["entries"] = await Submission.filter(contest_id=contest.id).order_by("title")
    else:
        context["entries"] = []
    return context


async def contest_page(request: Request) -> Response:
    context = await _contest_context(request, request.path_params["slug"])
    return await render(request, "hackathon/contest.html", context)


async def create_team(request: Request) -> Response:
    user = await require_user(request)
    slug = request.path_params["slug"]
    contest = await contests.visible_contest(await current_user(request), slug)
    form = await read_form(request)
    values = {k: form_text(form, k) for k in ("name", "site", "track", "organisation_id")}
    try:
        data = validate(
            TeamIn,
            {
                "name": values["name"],
                "site": values["site"],
                "track": values["track"],
                "organisation_id": values["organisation_id"] or None,
            },
        )
        await teams.create_team(user, contest, data)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        context = await _contest_context(request, slug)
        context.update(values=values, errors=exc.fields, message=exc.message)
        return await render(request, "hackathon/contest.html", context, exc.status_code)
    flash(request, _("Your team is registered."))
    return redirect(request, f"/contests/{contest.slug}")


async def invite(request: Request) -> Response:
    user = await require_user(request)
    contest = await contests.visible_contest(
        await current_user(request), request.path_params["slug"]
    )
    form = await read_form(request)
    team = await teams.team_of(user, contest)
    if team is None:
        raise NotFound(_("You have no team in this contest."))
    try:
        await teams.invite_member(user, team.id, form_text(form, "email"))
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        context = await _contest_context(request, contest.slug)
        context.update(message=exc.message, errors=exc.fields)
        return await render(request, "hackathon/contest.html", context, exc.status_code)
    flash(request, _("The invitation is on its way."))
    return redirect(request, f"/contests/{contest.slug}")


async def accept(request: Request) -> Response:
    user = await require_user(request)
    contest = await contests.visible_contest(
        await current_user(request), request.path_params["slug"]
    )
    await read_form(request)
    member_id = request.path_params["member_id"]
    try:
        await teams.accept_invitation(user, member_id)
        flash(request, _("You joined the team."))
    except DomainError as exc:
        if isinstance(exc, NotFound | NotPermitted):  # 403: not the verified addressee
            raise
        flash(request, exc.message, "error")
    return redirect(request, f"/contests/{contest.slug}")


ENTRY_FIELDS = (
    "title",
    "summary",
    "problem",
    "solution",
    "repository_url",
    "demo_url",
    "video_url",
)
LINK_FIELDS = ("repository_url", "demo_url", "video_url")  # a blank field: no link


async def entry(request: Request) -> Response:
    user = await require_user(request)
    contest = await contests.visible_contest(
        await current_user(request), request.path_params["slug"]
    )
    team = await teams.team_of(user, contest)
    if team is None:
        raise NotFound(_("You have no team in this contest."))
    submission = await Submission.get_or_none(team_id=team.id)
    values = {k: getattr(submission, k) for k in ENTRY_FIELDS} if submission else {}
    if submission:
        values["attachments"] = "\n".join(
            f"{a['name']} | {a['url']}" for a in submission.attachments
        )
    errors: dict[str, str] = {}
    message = ""
    status = 200
    if request.method == "POST":
        form = await read_form(request)
        values = {k: form_text(form, k) for k in (*ENTRY_FIELDS, "attachments")}
        try:
            attachments = []
            for line in values["attachments"].splitlines():
                if line.strip():
                    name, _sep, url = line.partition("|")
                    if not url.strip():
                        raise Invalid(
                            _("Write each attachment as: name | https://…"),
                            fields={"attachments": _("Write each attachment as: name | https://…")},
                        )
                    attachments.append({"name": name.strip(), "url": url.strip()})
            entry_data = {
                k: (values[k] or None) if k in LINK_FIELDS else values[k] for k in ENTRY_FIELDS
            }
            data = validate(SubmissionIn, {**entry_data, "attachments": attachments})
            await teams.save_submission(user, contest, data)
            flash(request, _("Your entry is saved."))
            return redirect(request, f"/contests/{contest.slug}/entry")
        except DomainError as exc:
            if isinstance(exc, NotFound):
                raise
            errors, message, status = exc.fields, exc.message, exc.status_code
    context = {
        "contest": contest,
        "team": team,
        "submission": submission,
        "versions": await teams.versions_of(submission) if submission else [],
        "feedback": await teams.feedback_for(submission, contest) if submission else [],
        "deadline": submission_deadline(contest, team),
        "open": teams.entry_open(contest, team),
        "values": values,
        "errors": errors,
        "message": message,
    }
    return await render(request, "hackathon/entry.html", context, status)


async def entry_image(request: Request) -> Response:
    user = await require_user(request)
    contest = await contests.visible_contest(
        await current_user(request), request.path_params["slug"]
    )
    from ecosystem import media

    try:
        async with request.form(max_files=1, max_fields=10) as form:
            data = await media.read_upload(form.get("image"))
        await teams.add_image(user, contest, data)
        flash(request, _("The image is added to your entry."))
    except DomainError as exc:
        if isinstance(exc, NotFound) and "entry" not in exc.message:
            raise
        flash(request, exc.fields.get("image") or exc.message, "error")
    return redirect(request, f"/contests/{contest.slug}/entry")


async def vote(request: Request) -> Response:
    user = await require_user(request)
    contest = await contests.visible_contest(
        await current_user(request), request.path_params["slug"]
    )
    form = await read_form(request)
    raw = form_text(form, "submission_id")
    try:
        if (submission_id := whole_number(raw)) is None:
            raise Invalid(_("Choose an entry."))
        await votes.cast_vote(user, contest, submission_id, client_ip(request))
        flash(request, _("Thank you for your vote."))
    except DomainError as exc:
        flash(request, exc.message, "error")
    return redirect(request, f"/contests/{contest.slug}")


async def results_page(request: Request) -> Response:
    contest = await contests.visible_contest(
        await current_user(request), request.path_params["slug"]
    )
    data = await results.published(contest)
    view = await contests.contest_view(contest)
    tracks = {t.code: t for t in view.tracks}
    prizes = await Prize.filter(contest_id=contest.id).select_related("track")
    context = {
        "contest": contest,
        "view": view,
        "data": data,
        "tracks": tracks,
        "prize_by_key": prizes_by_key(prizes),
        "winner_key": winner_key,
        **labels(),
    }
    return await render(request, "hackathon/results.html", context)


async def results_inputs(request: Request) -> Response:
    """The exact inputs of the published hash: anyone can recompute it."""
    contest = await contests.visible_contest(
        await current_user(request), request.path_params["slug"]
    )
    await results.published(contest)
    round_ = await contests.current_round(contest)
    ranking = await results.compute(contest, round_)
    body = {
        "results_hash": contest.results_hash,
        "recomputed_hash": results.recomputed_hash(contest, ranking),
        "format": (contest.results or {}).get("hash_format", "results-inputs/v1"),
        "parameters": (
            ranking.parameters
            if (contest.results or {}).get("hash_format")
            else (contest.results or {}).get("parameters", {})
        ),
        "scores": ranking.inputs,
        "how": (
            "sha256 of the RFC 8785 (JCS) text of "
            '{"format": format, "parameters": parameters, "scores": scores sorted by the '
            "UTF-8 bytes of their own JCS text} (hackathon.results_hash.canonical_json)"
        ),
    }
    return Response(json.dumps(body, ensure_ascii=False, indent=1), media_type="application/json")


async def verify_certificate(request: Request) -> Response:
    found = await results.certificate(request.path_params["code"])
    return await render(request, "hackathon/certificate.html", {"certificate": found, **labels()})


async def certificate_pdf(request: Request) -> Response:
    user = await require_user(request)
    found = await results.own_certificate(user, request.path_params["code"])
    with use_locale(get_locale()):  # the thread runs in a copy of this context
        body = await asyncio.to_thread(certificates.render_pdf, found)  # CPU work, off the loop
    headers = {
        "Content-Disposition": f'attachment; filename="certificate-{found.code}.pdf"',
        "Cache-Control": "private, no-store",
    }
    return Response(body, media_type="application/pdf", headers=headers)


routes = [
    Route("/contests", index, methods=["GET"]),
    Route("/contests/certificates/{code}", verify_certificate, methods=["GET"]),
    Route("/contests/certificates/{code}/pdf", certificate_pdf, methods=["GET"]),
    Route("/contests/{slug}", contest_page, methods=["GET"]),
    Route("/contests/{slug}/team", create_team, methods=["POST"]),
    Route("/contests/{slug}/team/invite", invite, methods=["POST"]),
    Route("/contests/{slug}/invitations/{member_id:int}/accept", accept, methods=["POST"]),
    Route("/contests/{slug}/entry", entry, methods=["GET", "POST"]),
    Route("/contests/{slug}/entry/images", entry_image, methods=["POST"]),
    Route("/contests/{slug}/vote", vote, methods=["POST"]),
    Route("/contests/{slug}/results", results_page, methods=["GET"]),
    Route("/contests/{slug}/results/inputs.json", results_inputs, methods=["GET"]),
]
