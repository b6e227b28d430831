"""Platform administration: verification, user deactivation, audit log, mail outbox (the credit
budgets page is the ledger's: ecosystem.payments.routes)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ecosystem import permissions
from ecosystem.errors import DomainError, Invalid
from ecosystem.i18n import _
from ecosystem.inputs import whole_number
from ecosystem.labels import label
from ecosystem.models import Verification
from ecosystem.restapi import client_ip
from ecosystem.services import accounts, admin, audit, identity, organisations
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


async def _providers_page(
    request: Request, user, editing=None, values=None, errors=None, message="", status_code=200
) -> Response:
    context = {
        "configured": request.app.state.settings.oidc_providers,
        "rows": await identity.admin_providers(user),
        "organisations": await identity.organisations_to_tie(),
        "editing": editing,
        "values": values if values is not None else _provider_values(editing),
        "errors": errors or {},
        "message": message,
        "secret_hint": identity.secret_hint,
        "stored_secret_hint": identity.stored_secret_hint,
        "redirect_pattern": identity.redirect_uri_pattern(),
    }
    return await render(request, "ecosystem/admin/identity_providers.html", context, status_code)


def _provider_values(row) -> dict:
    if row is None:
        return {"enabled": True}
    return {
        "title": row.title,
        "issuer": row.issuer,
        "client_id": row.client_id,
        "email_domains": ", ".join(row.email_domains or []),
        "organisation": row.organisation.slug if row.organisation else "",
        "enabled": row.enabled,
    }


async def identity_providers(request: Request) -> Response:
    """Platform admins add and change OpenID Connect providers (verified admins only)."""
    user = await require_user(request)
    editing = None
    if "provider_id" in request.path_params:
        editing = await identity.admin_provider(user, request.path_params["provider_id"])
    if request.method == "GET":
        await identity.admin_providers(user)  # the permission check, before anything is shown
        return await _providers_page(request, user, editing)
    form = await read_form(request)
    values = {
        key: form_text(form, key)
        for key in ("name", "title", "issuer", "client_id", "email_domains", "organisation")
    }
    values["enabled"] = form_text(form, "enabled") == "1"
    data = identity.ProviderInput(
        name=values["name"],
        title=values["title"],
        issuer=values["issuer"],
        client_id=values["client_id"],
        client_secret=form_text(form, "client_secret"),
        email_domains=values["email_domains"],
        organisation_slug=values["organisation"],
        enabled=values["enabled"],
    )
    try:
        row = await identity.save_provider(user, data, editing, ip=client_ip(request))
    except DomainError as exc:
        if exc.status_code != 422:
            raise
        return await _providers_page(
            request, user, editing, values, exc.fields, exc.message, exc.status_code
        )
    flash(request, _("%(name)s has been saved.", name=row.title))
    return redirect(request, "/admin/identity-providers")


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
    Route("/admin/identity-providers", identity_providers, methods=["GET", "POST"]),
    Route(
        "/admin/identity-providers/{provider_id:int}", identity_providers, methods=["GET", "POST"]
    ),
]
