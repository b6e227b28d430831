"""HTML pages for judges: the queue with progress, the scoring sheet that saves as the judge
goes (htmx), undo, conflicts, and the pairwise (expo) mode.

Blind mode: none of these pages or fragments shows a team's name or its members.
"""

from __future__ import annotations

import re

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ecosystem.errors import DomainError, Invalid, NotFound
from ecosystem.i18n import _
from ecosystem.inputs import whole_number
from ecosystem.web import flash, form_text, is_htmx, read_form, redirect, render, require_user
from hackathon.services import contests, expo, judging


async def queue_page(request: Request) -> Response:
    user = await require_user(request)
    contest = await contests.get_contest(request.path_params["slug"])
    if contest.judging_mode.value == "pairwise":
        return redirect(request, f"/contests/{contest.slug}/judge/pairs")
    found = await judging.queue(user, contest)
    return await render(request, "hackathon/judge_queue.html", {"queue": found, "contest": contest})


def _sheet_context(sheet: judging.Sheet, **extra) -> dict:
    return {"sheet": sheet, "contest": sheet.contest, "errors": {}, "message": "", **extra}


async def sheet_page(request: Request) -> Response:
    user = await require_user(request)
    contest = await contests.get_contest(request.path_params["slug"])
    sheet = await judging.sheet(user, request.path_params["submission_id"])
    if sheet.contest.id != contest.id:
        raise NotFound(_("This entry does not exist."))
    return await render(request, "hackathon/judge_sheet.html", _sheet_context(sheet))


SCORE_TEXT = re.compile(r"^[+-]?\d{1,6}(?:[.,]\d{1,6})?$")


def parse_score(text: str) -> float | None:
    """A score as people type it: "7", "7.5" or "7,5" (a decimal comma, never a thousands
    separator: "7,5" is 7.5, not 75). None for anything else."""
    cleaned = text.strip().replace("\u00a0", "").replace(" ", "")
    if not SCORE_TEXT.match(cleaned):
        return None
    return float(cleaned.replace(",", "."))


def _scores_from(form: FormData) -> dict[str, float]:
    scores: dict[str, float] = {}
    errors: dict[str, str] = {}
    for key, value in form.multi_items():
        if not key.startswith("c-") or not isinstance(value, str) or not value.strip():
            continue
        number = parse_score(value)
        if number is None:
            errors[key[2:]] = _("Enter a number.")
            continue
        scores[key[2:]] = number
    if errors:
        raise Invalid(_("Some scores are outside the scale."), fields=errors)
    return scores


async def save_sheet(request: Request) -> Response:
    user = await require_user(request)
    contest = await contests.get_contest(request.path_params["slug"])
    submission_id = request.path_params["submission_id"]
    form = await read_form(request)
    try:
        scores = _scores_from(form)
        comment = form_text(form, "comment") if "comment" in form else None
        private = form_text(form, "private_comment") if "private_comment" in form else None
        sheet = await judging.save_scores(user, submission_id, scores, comment, private)
    except DomainError as exc:
        if isinstance(exc, NotFound) or exc.status_code == 403:
            raise
        sheet = await judging.sheet(user, submission_id)
        typed = {
            key[2:]: value
            for key, value in form.multi_items()
            if key.startswith("c-") and isinstance(value, str)
        }
        context = _sheet_context(sheet, errors=exc.fields, message=exc.message, values=typed)
        template = (
            "hackathon/_sheet_status.html" if is_htmx(request) else "hackathon/judge_sheet.html"
        )
        return await render(request, template, context, exc.status_code)
    if is_htmx(request):
        return await render(
            request, "hackathon/_sheet_status.html", _sheet_context(sheet, saved=True)
        )
    flash(request, _("Your scores are saved."))
    return redirect(request, f"/contests/{contest.slug}/judge/{submission_id}")


async def undo(request: Request) -> Response:
    user = await require_user(request)
    contest = await contests.get_contest(request.path_params["slug"])
    await read_form(request)
    sheet = await judging.undo_last(user, contest)
    if sheet is None:
        flash(request, _("There is nothing to undo."), "error")
        return redirect(request, f"/contests/{contest.slug}/judge")
    flash(request, _("Your last change was undone."))
    return redirect(request, f"/contests/{contest.slug}/judge/{sheet.submission.id}")


async def conflict(request: Request) -> Response:
    user = await require_user(request)
    contest = await contests.get_contest(request.path_params["slug"])
    form = await read_form(request)
    await judging.declare_conflict(
        user, request.path_params["submission_id"], form_text(form, "reason")
    )
    flash(request, _("Your conflict of interest is recorded; the organisers will re-assign."))
    return redirect(request, f"/contests/{contest.slug}/judge")


async def pairs_page(request: Request) -> Response:
    user = await require_user(request)
    contest = await contests.get_contest(request.path_params["slug"])
    if request.method == "POST":
        form = await read_form(request)
        try:
            if form_text(form, "action") == "undo":
                done = await expo.undo(user, contest)
                flash(
                    request,
                    _("Your last comparison was withdrawn.")
                    if done
                    else _("There is nothing to undo."),
                )
            else:
                winner = whole_number(form_text(form, "winner"))
                loser = whole_number(form_text(form, "loser"))
                if winner is None or loser is None:
                    raise Invalid(_("Choose the better entry."))
                await expo.compare(user, contest, winner, loser)
        except DomainError as exc:
            if exc.status_code in (403, 404):
                raise
            # Refused (not judging yet, results out, bad input): the page says why, with a 4xx.
            try:
                pair = await expo.next_pair(user, contest)
            except DomainError:
                pair = None
            context = {"contest": contest, "pair": pair, "message": exc.message}
            return await render(request, "hackathon/judge_pairs.html", context, exc.status_code)
        return redirect(request, f"/contests/{contest.slug}/judge/pairs")
    pair = await expo.next_pair(user, contest)
    return await render(request, "hackathon/judge_pairs.html", {"contest": contest, "pair": pair})


routes = [
    Route("/contests/{slug}/judge", queue_page, methods=["GET"]),
    Route("/contests/{slug}/judge/undo", undo, methods=["POST"]),
    Route("/contests/{slug}/judge/pairs", pairs_page, methods=["GET", "POST"]),
    Route("/contests/{slug}/judge/{submission_id:int}", sheet_page, methods=["GET"]),
    Route("/contests/{slug}/judge/{submission_id:int}", save_sheet, methods=["POST"]),
    Route("/contests/{slug}/judge/{submission_id:int}/conflict", conflict, methods=["POST"]),
]
