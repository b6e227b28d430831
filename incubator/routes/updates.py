"""HTML pages of investor updates: a startup's updates (compose and send, receipts), one
update, and the updates a person's organisations were sent. Rules live in
`incubator.services.investor_updates`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ecosystem.errors import DomainError, NotPermitted
from ecosystem.i18n import _, ngettext
from ecosystem.inputs import path_id
from ecosystem.web import flash, read_form, redirect, require_user
from incubator.permissions import ensure_startup
from incubator.routes.common import form_values, render
from incubator.services import investor_updates


async def updates_page(request: Request) -> Response:
    """The startup's updates for its members; founders compose and send."""
    user = await require_user(request)
    access = await ensure_startup(user, path_id(request, "startup_id"), "member")
    if not access.verified:
        raise NotPermitted(_("Verify your e-mail address first: this needs a verified account."))
    context: dict = {
        "access": access,
        "startup": access.startup,
        "can_send": investor_updates.can_send(access),
        "snapshot": await investor_updates.metric_snapshot(access.startup),
        "holders": list((await investor_updates.live_holders(access.startup)).values()),
        "errors": {},
        "values": {},
        "chosen": [],
        "message": "",
    }
    status = 200
    if request.method == "POST":
        form = await read_form(request)
        values = form_values(form, ("title", "narrative"))
        chosen = [v for v in form.getlist("metrics") if isinstance(v, str)]
        try:
            update = await investor_updates.send_update(user, access, values, chosen)
        except DomainError as exc:
            if exc.status_code == 403:
                raise
            context.update(values=values, chosen=chosen, errors=exc.fields, message=exc.message)
            status = exc.status_code
        else:
            sent_to = len(context["holders"])
            flash(
                request,
                ngettext(
                    "The update has been sent to %(num)s organisation.",
                    "The update has been sent to %(num)s organisations.",
                    sent_to,
                ),
            )
            return redirect(request, f"/incubator/startups/{access.startup.id}/updates/{update.id}")
    context["updates"] = await investor_updates.updates_of(access)
    return await render(request, "incubator/updates/list.html", context, status)


async def update_page(request: Request) -> Response:
    user = await require_user(request)
    view = await investor_updates.read_update(
        user, path_id(request, "startup_id"), path_id(request, "update_id")
    )
    return await render(request, "incubator/updates/update.html", {"view": view})


async def inbox(request: Request) -> Response:
    user = await require_user(request)
    found = await investor_updates.inbox(user)
    return await render(request, "incubator/updates/inbox.html", {"updates": found})


routes = [
    Route("/incubator/updates", inbox, methods=["GET"]),
    Route("/incubator/startups/{startup_id:int}/updates", updates_page, methods=["GET", "POST"]),
    Route(
        "/incubator/startups/{startup_id:int}/updates/{update_id:int}",
        update_page,
        methods=["GET"],
    ),
]
