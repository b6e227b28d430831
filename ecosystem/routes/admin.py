"""Platform administration: verification, user deactivation, audit log, mail outbox (the credit
budgets page is the ledger's: ecosystem.payments.routes)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ecosystem import permissions
from ecosystem.errors import Invalid
from ecosystem.i18n import _
from ecosystem.inputs import whole_number
from ecosystem.labels import label
from ecosystem.models import Verification
from ecosystem.restapi import client_ip
from ecosystem.services import accounts, admin, audit, organisations
from ecosystem.web import flash, form_text, read_form, redirect, render, require_user

PAGE_SIZE = admin.PAGE_SIZE


async def overview(request: Request) -> Response:
    user = await require_user(request)
    await permissions.ensure(user, "organisation.verify")
    pending = await organisations.pending_verification()
    context = {
        "pending": pending,
        "publications": await organisations.pending_publications([o.id for o in pending]),
    }
    return await render(request, "ecosystem/admin/overview.html", context)


async def set_verification(request: Request) -> Response:
    user = await require_user(request)
    organisation = await admin.organisation_by_id(user, request.path_params["organisation_id"])
    form = await read_form(request)
    try:
        state = Verification(form_text(form, "state"))
    except ValueError as exc:
        raise Invalid(_("Choose verified, rejected or pending.")) from exc
    await organisations.set_verification(
        user, organisation, state, form_text(form, "note"), ip=client_ip(request)
    )
    flash(request, _("%(name)s: %(state)s.", name=organisation.name, state=label(state)))
    return redirect(request, "/admin")


async def users(request: Request) -> Response:
    me = await require_user(request)
    query = request.query_params.get("q", "")[:100].strip()
    raw_page = request.query_params.get("page", "1")
    page = whole_number(raw_page, 1, 99_999) or 1
    people, has_next = await admin.list_users(me, query, page)
    context = {"users": people, "q": query, "page": page, "has_next": has_next, "me": me}
    return await render(request, "ecosystem/admin/users.html", context)


async def user_action(request: Request) -> Response:
    me = await require_user(request)
    target = await admin.user_by_id(me, request.path_params["user_id"])
    action = form_text(await read_form(request), "action")
    if action == "deactivate":
        await accounts.deactivate_user(me, target, ip=client_ip(request))
        flash(request, _("%(email)s has been deactivated.", email=target.email))
    elif action == "reactivate":
        await accounts.reactivate_user(me, target, ip=client_ip(request))
        flash(request, _("%(email)s has been reactivated.", email=target.email))
    else:
        raise Invalid(_("Unknown action."))
    return redirect(request, "/admin/users")


async def audit_log(request: Request) -> Response:
    user = await require_user(request)
    await permissions.ensure(user, "audit.read")
    action = request.query_params.get("action", "")[:64]
    before = request.query_params.get("before", "")
    events = await audit.list_events(action=action, limit=PAGE_SIZE, before_id=whole_number(before))
    context = {
        "events": events,
        "action": action,
        "actions": await audit.known_actions(),
        "next_before": events[-1].id if len(events) == PAGE_SIZE else None,
    }
    return await render(request, "ecosystem/admin/audit.html", context)


async def outbox(request: Request) -> Response:
    user = await require_user(request)
    messages = await admin.list_outbox(user)
    return await render(request, "ecosystem/admin/outbox.html", {"messages": messages})


async def outbox_message(request: Request) -> Response:
    user = await require_user(request)
    message = await admin.outbox_message(user, request.path_params["message_id"])
    return await render(request, "ecosystem/admin/outbox_message.html", {"message": message})


routes = [
    Route("/admin", overview, methods=["GET"]),
    Route(
        "/admin/organisations/{organisation_id:int}/verification",
        set_verification,
        methods=["POST"],
    ),
    Route("/admin/users", users, methods=["GET"]),
    Route("/admin/users/{user_id:int}", user_action, methods=["POST"]),
    Route("/admin/audit", audit_log, methods=["GET"]),
    Route("/admin/outbox", outbox, methods=["GET"]),
    Route("/admin/outbox/{message_id:int}", outbox_message, methods=["GET"]),
]
