"""HTML pages for organisers after creation: edit the contest (texts, deadlines, tracks,
prizes, rubric) and announce to participants. The rules live in `hackathon.services.editing`
and `hackathon.services.announcements`."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ecosystem import content
from ecosystem.errors import DomainError, NotFound
from ecosystem.i18n import _, ngettext
from ecosystem.schemas import validate
from ecosystem.web import flash, form_text, read_form, redirect, render, require_user
from hackathon.routes import content_forms
from hackathon.routes.manage import _lines, _local
from hackathon.schemas import ContestEditIn
from hackathon.services import announcements, contests, editing

EDIT_FIELDS = (
    *editing.DEADLINES,
    "tracks",
    "prizes",
    "criteria",
    *content_forms.LINE_FIELDS,
)


def _number(value: float) -> str:
    return f"{value:g}"


def _form_values(state: editing.EditState) -> dict[str, str]:
    contest = state.contest
    zone = ZoneInfo(contest.timezone)
    values = {
        **content.form_values(contest, content_forms.CONTEST_TEXTS),
        "track_translations": content_forms.part_lines(
            state.tracks, [t.code for t in state.tracks]
        ),
        "prize_translations": content_forms.part_lines(
            state.prizes, [str(i) for i in range(1, len(state.prizes) + 1)], False
        ),
        "criterion_translations": content_forms.part_lines(
            state.criteria, [c.code for c in state.criteria]
        ),
        "tracks": "\n".join(f"{t.code} | {t.name}" for t in state.tracks),
        "prizes": "\n".join(
            f"{'vote' if p.public_vote else (p.track.code if p.track else '')} | {p.name} | "
            f"{p.amount}"
            for p in state.prizes
        ),
        "criteria": "\n".join(
            f"{c.code} | {c.name} | {_number(c.weight)} | {c.scale_min} | {c.scale_max} | "
            f"{c.description} | {_number(c.step)}"
            for c in state.criteria
        ),
    }
    for name in editing.DEADLINES:
        values[name] = getattr(contest, name).astimezone(zone).strftime("%Y-%m-%dT%H:%M")
    return values


def _criteria_rows(text: str) -> list[dict]:
    """Rubric lines `code | name | weight | lowest | highest | description | step`."""
    return [
        {
            "code": c,
            "name": n,
            "weight": w or 1,
            "scale_min": lo or 0,
            "scale_max": hi or 10,
            "description": d,
            "step": s or 0.5,
        }
        for c, n, w, lo, hi, d, s in _lines(text, 7)
    ]


def _edit_data(contest, values: dict[str, str], state: editing.EditState) -> ContestEditIn:
    zone = contest.timezone
    tracks = [{"code": c, "name": n} for c, n in _lines(values["tracks"], 2)]
    prizes = [
        {
            "track": None if t in ("", "vote") else t,
            "name": n,
            "amount": a or 0,
            "public_vote": t == "vote",
        }
        for t, n, a in _lines(values["prizes"], 3)
    ]
    criteria = _criteria_rows(values["criteria"])
    for field, items, keys, before in (
        ("track_translations", tracks, [t["code"] for t in tracks], [t.code for t in state.tracks]),
        (
            "prize_translations",
            prizes,
            [str(i) for i in range(1, len(prizes) + 1)],
            [str(i) for i in range(1, len(state.prizes) + 1)],
        ),
        (
            "criterion_translations",
            criteria,
            [c["code"] for c in criteria],
            [c.code for c in state.criteria],
        ),
    ):
        found = content_forms.part_translations(values[field], field, keys, before)
        for key, item in zip(keys, items, strict=True):
            if key in found:
                item["translations"] = found[key]
    return validate(
        ContestEditIn,
        {
            **content_forms.contest_texts(values),
            **{name: _local(values[name], zone, name) for name in editing.DEADLINES},
            "tracks": tracks,
            "prizes": prizes,
            "criteria": criteria,
        },
    )


async def edit_contest(request: Request) -> Response:
    user = await require_user(request)
    contest = await contests.get_contest(request.path_params["slug"])
    state = await editing.edit_state(user, contest)  # 403 for anyone but an organiser
    values = _form_values(state)
    errors: dict[str, str] = {}
    message, status = "", 200
    if request.method == "POST":
        form = await read_form(request)
        values = {name: form_text(form, name) for name in EDIT_FIELDS}
        values.update(content_forms.tab_values(form))
        try:
            changed = await editing.edit_contest(user, contest, _edit_data(contest, values, state))
            flash(request, _("The contest is saved.") if changed else _("Nothing changed."))
            return redirect(request, f"/contests/{contest.slug}/manage")
        except DomainError as exc:
            if isinstance(exc, NotFound) or exc.status_code == 403:
                raise
            errors, message, status = exc.fields, exc.message, exc.status_code
            errors = content_forms.tab_errors(errors, values.get("content_locale") or "vi")
    context = {
        "contest": contest,
        "state": state,
        "values": values,
        "errors": errors,
        "message": message,
    }
    return await render(request, "hackathon/contest_edit.html", context, status)


ANNOUNCE_FIELDS = ("title", "body", "site", "track")


async def announce(request: Request) -> Response:
    """GET: the form. POST: the preview (recipients listed, a confirmation code); POST with
    that code: send."""
    user = await require_user(request)
    contest = await contests.get_contest(request.path_params["slug"])
    state = await editing.edit_state(user, contest)  # 403 for anyone but an organiser
    values = {name: "" for name in ANNOUNCE_FIELDS}
    errors: dict[str, str] = {}
    message, status, draft = "", 200, None
    if request.method == "POST":
        form = await read_form(request)
        values = {name: form_text(form, name) for name in ANNOUNCE_FIELDS}
        args = (values["title"], values["body"], values["site"], values["track"])
        try:
            if confirm := form_text(form, "confirm"):
                sent = await announcements.send(user, contest, *args, confirm)
                flash(
                    request,
                    ngettext(
                        "The announcement is sent to %(num)d participant.",
                        "The announcement is sent to %(num)d participants.",
                        sent.recipients,
                    ),
                )
                return redirect(request, f"/contests/{contest.slug}#announcements")
            draft = await announcements.preview(user, contest, *args)
        except DomainError as exc:
            if isinstance(exc, NotFound) or exc.status_code == 403:
                raise
            errors, message, status = exc.fields, exc.message, exc.status_code
    context = {
        "contest": contest,
        "state": state,
        "values": values,
        "errors": errors,
        "message": message,
        "draft": draft,
    }
    return await render(request, "hackathon/announce.html", context, status)


routes = [
    Route("/contests/{slug}/manage/edit", edit_contest, methods=["GET", "POST"]),
    Route("/contests/{slug}/manage/announce", announce, methods=["GET", "POST"]),
]
