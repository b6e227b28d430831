"""The judge's page of conflicts and preferences (bids), before the assignment."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ecosystem.errors import DomainError, NotFound
from ecosystem.i18n import _
from ecosystem.inputs import whole_number
from ecosystem.web import flash, read_form, redirect, render, require_user
from hackathon.services import contests, preferences


async def preferences_page(request: Request) -> Response:
    user = await require_user(request)
    contest = await contests.get_contest(request.path_params["slug"])
    rows = await preferences.preferences(user, contest)  # 403 for anyone but a judge
    message, status, typed = "", 200, {}
    if request.method == "POST":
        form = await read_form(request)
        choices: dict[int, str] = {}
        reasons: dict[int, str] = {}
        for key, value in form.multi_items():
            if not isinstance(value, str) or key[:2] not in ("p-", "r-"):
                continue
            number = whole_number(key[2:])
            if number is None:
                continue
            (choices if key[0] == "p" else reasons)[number] = value.strip()
            typed[key] = value
        try:
            changed = await preferences.save_preferences(user, contest, choices, reasons)
            flash(
                request,
                _("Your preferences are saved.") if changed else _("Nothing changed."),
            )
            return redirect(request, f"/contests/{contest.slug}/judge/preferences")
        except DomainError as exc:
            if isinstance(exc, NotFound) or exc.status_code == 403:
                raise
            message, status = exc.message, exc.status_code
    context = {
        "contest": contest,
        "rows": rows,
        "typed": typed,
        "message": message,
        "choice_labels": preferences.CHOICE_LABELS,
        "automatic_labels": preferences.AUTOMATIC_LABELS,
    }
    return await render(request, "hackathon/judge_preferences.html", context, status)


routes = [
    Route("/contests/{slug}/judge/preferences", preferences_page, methods=["GET", "POST"]),
]
