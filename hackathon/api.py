"""The contests' JSON API under /api/v1 (tools depend on these shapes exactly).

Every route needs a bearer token, like the rest of /api/v1 (people read contests and
published results without an account on the HTML pages). Blind mode: the judging
routes never return a team's name or members.
"""

from __future__ import annotations

from typing import Any

from pydantic import RootModel
from starlette.requests import Request
from starlette.responses import Response

from ecosystem.content import texts_of, tr
from ecosystem.restapi import (
    api_route,
    api_user,
    client_ip,
    json_body,
    json_response,
    optional_api_user,
)
from ecosystem.schemas import validate
from hackathon.models import Submission
from hackathon.schemas import (
    AssignedEntryOut,
    AssignmentListOut,
    ComparisonIn,
    ComparisonOut,
    ContestIn,
    ContestListOut,
    ContestOut,
    CriterionOut,
    NextPairOut,
    PairEntryOut,
    PublicationPreviewOut,
    PublishIn,
    ResultsOut,
    ScoreSheetOut,
    ScoresIn,
    SiteOut,
    SubmissionIn,
    SubmissionOut,
    TrackOut,
    VoteIn,
    VoteOut,
)
from hackathon.services import contests, expo, judging, results, teams, votes
from hackathon.services.contests import ContestView, site_deadline


class JsonObject(RootModel[dict[str, Any]]):
    """Any JSON object: read first, then validated."""


def all_texts(obj, names: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """Every language's texts of `obj` ({"vi": {"title": …}, "ko": {…}}), the main one too."""
    found: dict[str, dict[str, str]] = {}
    for name in names:
        for locale, text in texts_of(obj, name).items():
            found.setdefault(locale, {})[name] = text
    return found


def contest_out(view: ContestView) -> ContestOut:
    contest = view.contest
    return ContestOut(
        id=contest.id,
        slug=contest.slug,
        title=tr(contest, "title"),
        content_locale=contest.content_locale,
        translations=all_texts(contest, ("title", "description", "eligibility")),
        kind=contest.kind.value,
        sites=[
            SiteOut(
                id=s.id,
                code=s.code,
                name=s.name,
                timezone=s.timezone,
                language=s.language,
                country=s.country,
                submission_closes_at=site_deadline(contest, s, contest.submission_closes_at),
            )
            for s in view.sites
        ],
        tracks=[
            TrackOut(
                id=t.id,
                code=t.code,
                name=tr(t, "name"),
                translations=all_texts(t, ("name", "description")),
            )
            for t in view.tracks
        ],
        phase=view.phase.value,
        blind=contest.blind,
        judging_mode=contest.judging_mode.value,
        registration_closes_at=contest.registration_closes_at,
        submission_closes_at=contest.submission_closes_at,
        judging_closes_at=contest.judging_closes_at,
        results_published_at=contest.results_published_at,
        url=f"/contests/{contest.slug}",
    )


def submission_out(submission: Submission) -> SubmissionOut:
    return SubmissionOut(
        id=submission.id,
        contest_id=submission.contest_id,  # type: ignore[attr-defined]
        team_id=submission.team_id,  # type: ignore[attr-defined]
        title=submission.title,
        summary=submission.summary,
        problem=submission.problem,
        solution=submission.solution,
        repository_url=submission.repository_url,
        demo_url=submission.demo_url,
        video_url=submission.video_url,
        version=submission.version,
        updated_at=submission.updated_at,
    )


def criterion_out(criterion) -> CriterionOut:
    return CriterionOut(
        id=criterion.id,
        code=criterion.code,
        name=tr(criterion, "name"),
        description=tr(criterion, "description"),
        weight=criterion.weight,
        scale_min=criterion.scale_min,
        scale_max=criterion.scale_max,
        step=criterion.step,
    )


# --- handlers ----------------------------------------------------------------------------


async def list_contests(request: Request) -> Response:
    await optional_api_user(request)
    views = await contests.list_contests()
    return json_response(ContestListOut(items=[contest_out(v) for v in views]))


async def get_contest(request: Request) -> Response:
    user = await api_user(request)
    contest = await contests.visible_contest(user, request.path_params["contest_id"])
    return json_response(contest_out(await contests.contest_view(contest)))


async def create_contest(request: Request) -> Response:
    user = await api_user(request)
    body = await json_body(request, JsonObject)
    data = validate(ContestIn, body.root)
    contest = await contests.create_contest(user, data)
    return json_response(contest_out(await contests.contest_view(contest)), status_code=201)


async def submit(request: Request) -> Response:
    user = await api_user(request)
    contest = await contests.visible_contest(user, request.path_params["contest_id"])
    body = await json_body(request, JsonObject)
    data = validate(SubmissionIn, body.root)
    submission = await teams.save_submission(user, contest, data)
    return json_response(submission_out(submission), status_code=201)


async def my_assignments(request: Request) -> Response:
    user = await api_user(request)
    items: list[AssignedEntryOut] = []
    done = total = 0
    for queue in await judging.all_queues(user):
        criteria = [criterion_out(c) for c in queue.criteria]
        done, total = done + queue.done, total + queue.total
        for item in queue.items:
            submission = item.submission
            team = submission.team
            items.append(
                AssignedEntryOut(
                    submission_id=submission.id,
                    contest_id=queue.contest.id,
                    round=queue.round.number,
                    title=submission.title,
                    summary=submission.summary,
                    track=team.track.code,
                    site=team.site.code,
                    team=None if queue.contest.blind else team.name,
                    completed=item.assignment.completed_at is not None,
                    scores={str(k): v for k, v in item.scores.items()},
                    criteria=criteria,
                )
            )
    return json_response(AssignmentListOut(items=items, done=done, total=total))


def _sheet_out(sheet: judging.Sheet) -> ScoreSheetOut:
    return ScoreSheetOut(
        submission_id=sheet.submission.id,
        scores={str(k): v for k, v in sheet.scores.items()},
        weighted=sheet.weighted,
        completed=sheet.assignment.completed_at is not None,
        done=sheet.done,
        total=sheet.total,
    )


async def put_scores(request: Request) -> Response:
    user = await api_user(request)
    submission_id = request.path_params["submission_id"]
    body = await json_body(request, JsonObject)
    data = validate(ScoresIn, body.root)
    sheet = await judging.save_scores(
        user, submission_id, data.scores, data.comment, data.private_comment or None
    )
    return json_response(_sheet_out(sheet))


async def undo_score(request: Request) -> Response:
    user = await api_user(request)
    contest = await contests.visible_contest(user, request.path_params["contest_id"])
    sheet = await judging.undo_last(user, contest)
    if sheet is None:
        from ecosystem.errors import Conflict
        from ecosystem.i18n import _

        raise Conflict(_("There is nothing to undo."), code="nothing_to_undo")
    return json_response(_sheet_out(sheet))


async def contest_results(request: Request) -> Response:
    user = await optional_api_user(request)
    contest = await contests.visible_contest(user, request.path_params["contest_id"])
    data = await results.published(contest)
    return json_response(
        ResultsOut(
            contest_id=contest.id,
            published_at=contest.results_published_at,  # type: ignore[arg-type]
            results_hash=contest.results_hash,
            overall=data["overall"],
            by_track=data["by_track"],
            winners=data["winners"],
        )
    )


async def publication_preview(request: Request) -> Response:
    user = await api_user(request)
    contest = await contests.visible_contest(user, request.path_params["contest_id"])
    shown = await results.preview(user, contest)
    return json_response(
        PublicationPreviewOut(
            contest_id=contest.id,
            token=shown.token,
            overall=[line.as_dict() for line in shown.ranking.overall],
            winners=[
                {
                    "prize": prize.name,
                    "track": prize.track.code if prize.track else None,
                    "rank": prize.rank,
                    "submission_id": submission.id,
                    "title": submission.title,
                    "team": submission.team.name,
                }
                for prize, submission in shown.awards
            ],
            emails=shown.emails,
            unscored=[entry.id for entry in shown.ranking.unscored],
        )
    )


async def publish(request: Request) -> Response:
    user = await api_user(request)
    contest = await contests.visible_contest(user, request.path_params["contest_id"])
    body = await json_body(request, JsonObject)
    data = validate(PublishIn, body.root)
    await results.publish(user, contest, confirm=data.confirm)
    return await contest_results(request)


async def cast_vote(request: Request) -> Response:
    user = await api_user(request)
    contest = await contests.visible_contest(user, request.path_params["contest_id"])
    body = await json_body(request, JsonObject)
    data = validate(VoteIn, body.root)
    vote = await votes.cast_vote(user, contest, data.submission_id, client_ip(request))
    return json_response(VoteOut(id=vote.id, submission_id=data.submission_id), status_code=201)


async def compare(request: Request) -> Response:
    user = await api_user(request)
    contest = await contests.visible_contest(user, request.path_params["contest_id"])
    body = await json_body(request, JsonObject)
    data = validate(ComparisonIn, body.root)
    row = await expo.compare(user, contest, data.winner_id, data.loser_id)
    return json_response(
        ComparisonOut(id=row.id, winner_id=data.winner_id, loser_id=data.loser_id),
        status_code=201,
    )


async def next_pair(request: Request) -> Response:
    user = await api_user(request)
    contest = await contests.visible_contest(user, request.path_params["contest_id"])
    pair = await expo.next_pair(user, contest)
    if pair is None:
        return json_response(NextPairOut(pair=None, compared=0))
    entries = [
        PairEntryOut(submission_id=s.id, title=s.title, track=s.team.track.code)
        for s in (pair.first, pair.second)
    ]
    return json_response(NextPairOut(pair=entries, compared=pair.compared))


routes = [
    api_route(
        "GET",
        "/contests",
        list_contests,
        "Every contest with its sites, tracks and phase (registration, submission, judging, "
        "results)",
        ContestListOut,
        errors=(),
        auth=False,
        optional_auth=True,
        tags=("contests",),
    ),
    api_route(
        "POST",
        "/contests",
        create_contest,
        "Create a contest with sites, tracks, prizes and a rubric (organisation admins)",
        ContestOut,
        status_code=201,
        body=ContestIn,
        errors=(400, 401, 403, 409, 413, 422),
        tags=("contests",),
    ),
    api_route(
        "GET",
        "/contests/{contest_id:int}",
        get_contest,
        "One contest",
        ContestOut,
        errors=(404,),
        tags=("contests",),
    ),
    api_route(
        "POST",
        "/contests/{contest_id:int}/submissions",
        submit,
        "Submit or update the caller's team entry (a new version each time); 409 after the "
        "deadline of the team's site",
        SubmissionOut,
        status_code=201,
        body=SubmissionIn,
        errors=(400, 401, 403, 404, 409, 413, 422),
        tags=("contests",),
    ),
    api_route(
        "GET",
        "/judging/assignments",
        my_assignments,
        "The caller's assigned entries with their own scores (no team names in blind mode)",
        AssignmentListOut,
        errors=(),
        tags=("judging",),
    ),
    api_route(
        "PUT",
        "/submissions/{submission_id:int}/scores",
        put_scores,
        "Score an assigned entry: {criterion id or code: number}; 403 if not assigned or "
        "conflicted, 422 out of scale",
        ScoreSheetOut,
        body=ScoresIn,
        errors=(400, 401, 403, 404, 409, 413, 422),
        tags=("judging",),
    ),
    api_route(
        "POST",
        "/contests/{contest_id:int}/judging/undo",
        undo_score,
        "Undo the caller's last change of scores (a new event in the log)",
        ScoreSheetOut,
        errors=(401, 403, 404, 409),
        tags=("judging",),
    ),
    api_route(
        "GET",
        "/contests/{contest_id:int}/pairs/next",
        next_pair,
        "Pairwise mode: the most informative next pair for the caller",
        NextPairOut,
        errors=(401, 403, 404, 409),
        tags=("judging",),
    ),
    api_route(
        "POST",
        "/contests/{contest_id:int}/comparisons",
        compare,
        "Pairwise mode: record that the caller preferred one entry over another",
        ComparisonOut,
        status_code=201,
        body=ComparisonIn,
        errors=(400, 401, 403, 404, 409, 422),
        tags=("judging",),
    ),
    api_route(
        "GET",
        "/contests/{contest_id:int}/publication",
        publication_preview,
        "Organisers: what publishing would do now (ranking, winners, e-mails per kind of "
        "recipient) and the token that confirms it; nothing is written",
        PublicationPreviewOut,
        errors=(401, 403, 404, 409),
        tags=("contests",),
    ),
    api_route(
        "POST",
        "/contests/{contest_id:int}/publication",
        publish,
        "Organisers: publish the results previewed with this token (409 if anything changed "
        "since the preview); the certificates' e-mails go out",
        ResultsOut,
        body=PublishIn,
        errors=(400, 401, 403, 404, 409, 413, 422),
        tags=("contests",),
    ),
    api_route(
        "POST",
        "/contests/{contest_id:int}/votes",
        cast_vote,
        "Public vote: one per verified user per contest (409 for a second)",
        VoteOut,
        status_code=201,
        body=VoteIn,
        errors=(400, 401, 403, 404, 409, 422),
        tags=("contests",),
    ),
    api_route(
        "GET",
        "/contests/{contest_id:int}/results",
        contest_results,
        "Published results: ranking overall and per track with uncertainty, ties, plain "
        "means, winners and the hash of the inputs (404 until published)",
        ResultsOut,
        errors=(404,),
        auth=False,
        optional_auth=True,
        tags=("contests",),
    ),
]
