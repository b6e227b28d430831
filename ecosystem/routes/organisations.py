"""The partner directory, organisation profiles, members, invitations and join requests."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ecosystem import permissions
from ecosystem.errors import DomainError, Invalid
from ecosystem.i18n import _
from ecosystem.inputs import whole_number
from ecosystem.models import Role, Sphere
from ecosystem.restapi import client_ip
from ecosystem.schemas import InvitationIn, OrganisationIn, validate
from ecosystem.services import organisations
from ecosystem.web import (
    current_user,
    flash,
    form_text,
    is_htmx,
    read_form,
    redirect,
    render,
    require_user,
)


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return whole_number(raw, 1, 99_999) or 1


async def directory(request: Request) -> Response:
    sphere = request.query_params.get("sphere", "")
    query = request.query_params.get("q", "")[:100]
    page = _page_number(request)
    try:
        found = await organisations.directory(sphere=sphere, query=query, page=page)
    except Invalid:
        sphere, found = "", await organisations.directory(query=query, page=page)
    context = {
        "organisations": found.entries,
        "total": found.total,
        "sphere": sphere,
        "q": query,
        "page": page,
        "page_size": organisations.DIRECTORY_PAGE_SIZE,
        "spheres": list(Sphere),
    }
    # htmx swaps in the results only; a history restore (back button after a cache miss)
    # asks for the whole page again.
    fragment = is_htmx(request) and request.headers.get("HX-History-Restore-Request") != "true"
    template = "ecosystem/_directory_results.html" if fragment else "ecosystem/directory.html"
    response = await render(request, template, context)
    response.headers["Vary"] = "HX-Request, HX-History-Restore-Request, Cookie"
    return response


def _organisation_values(form: FormData) -> dict:
    return {
        "name": form_text(form, "name"),
        "spheres": [s for s in form.getlist("spheres") if isinstance(s, str)],
        "description": form_text(form, "description"),
        "website": form_text(form, "website"),
        "city": form_text(form, "city"),
        "country": form_text(form, "country") or "VN",
        "email_domains": [d for d in form_text(form, "email_domains").replace(",", " ").split()],
    }


async def new_organisation(request: Request) -> Response:
    user = await require_user(request)
    context: dict = {
        "values": {"spheres": [], "country": "VN"},
        "errors": {},
        "spheres": list(Sphere),
    }
    if request.method == "GET":
        return await render(request, "ecosystem/organisation_form.html", context)
    values = _organisation_values(await read_form(request))
    try:
        organisation = await organisations.create_organisation(
            user, validate(OrganisationIn, values), ip=client_ip(request)
        )
    except DomainError as exc:
        context.update(values=values, errors=exc.fields, message=exc.message)
        return await render(request, "ecosystem/organisation_form.html", context, exc.status_code)
    flash(request, _("The organisation has been created. A platform administrator will verify it."))
    return redirect(request, f"/organisations/{organisation.slug}")


async def profile(request: Request) -> Response:
    user = await current_user(request)
    organisation = await organisations.get_visible(user, request.path_params["slug"])
    context = {
        "organisation": organisation,
        "can_edit": await permissions.allowed(user, "organisation.edit", organisation),
        "is_member": await permissions.role_in(user, organisation.id) is not None,
        "can_request": bool(user and organisation in await organisations.joinable_by_domain(user)),
    }
    return await render(request, "ecosystem/organisation.html", context)


async def edit_organisation(request: Request) -> Response:
    user = await require_user(request)
    organisation = await organisations.get_visible(user, request.path_params["slug"])
    await permissions.ensure(user, "organisation.edit", organisation)
    values = {
        "name": organisation.name,
        "spheres": organisation.sphere_values(),
        "description": organisation.description,
        "website": organisation.website,
        "city": organisation.city,
        "country": organisation.country,
        "email_domains": [d.domain for d in organisation.domains],
    }
    context: dict = {
        "values": values,
        "errors": {},
        "spheres": list(Sphere),
        "organisation": organisation,
    }
    if request.method == "GET":
        return await render(request, "ecosystem/organisation_form.html", context)
    values = _organisation_values(await read_form(request))
    try:
        await organisations.update_organisation(
            user, organisation, validate(OrganisationIn, values), ip=client_ip(request)
        )
    except DomainError as exc:
        context.update(values=values, errors=exc.fields, message=exc.message)
        return await render(request, "ecosystem/organisation_form.html", context, exc.status_code)
    flash(request, _("The organisation profile has been saved."))
    return redirect(request, f"/organisations/{organisation.slug}")


async def _members_context(user, organisation, **extra) -> dict:
    can_manage = await permissions.allowed(user, "organisation.manage_members", organisation)
    my_role = await permissions.role_in(user, organisation.id)
    return {
        "organisation": organisation,
        "members": await organisations.members(user, organisation),
        "invitations": await organisations.open_invitations(user, organisation)
        if can_manage
        else [],
        "can_manage": can_manage,
        "grantable_roles": [r for r in Role if my_role and r.rank <= my_role.rank],
        "values": {"role": "member"},
        "errors": {},
        **extra,
    }


async def members(request: Request) -> Response:
    user = await require_user(request)
    organisation = await organisations.get_visible(user, request.path_params["slug"])
    context = await _members_context(user, organisation)
    return await render(request, "ecosystem/members.html", context)


async def invite(request: Request) -> Response:
    user = await require_user(request)
    organisation = await organisations.get_visible(user, request.path_params["slug"])
    form = await read_form(request)
    values = {"email": form_text(form, "email"), "role": form_text(form, "role") or "member"}
    try:
        await organisations.invite(
            user, organisation, validate(InvitationIn, values), ip=client_ip(request)
        )
    except DomainError as exc:
        if exc.status_code == 403 and not exc.fields:
            raise
        context = await _members_context(user, organisation, values=values, errors=exc.fields)
        return await render(request, "ecosystem/members.html", context, exc.status_code)
    flash(request, _("Invitation sent to %(email)s.", email=values["email"]))
    return redirect(request, f"/organisations/{organisation.slug}/members")


async def member_action(request: Request) -> Response:
    """Change a role, remove a member, or answer a join request."""
    user = await require_user(request)
    organisation = await organisations.get_visible(user, request.path_params["slug"])
    membership_id = request.path_params["membership_id"]
    form = await read_form(request)
    action, ip = form_text(form, "action"), client_ip(request)
    if action == "role":
        try:
            role = Role(form_text(form, "role"))
        except ValueError as exc:
            raise Invalid(_("Choose one of the offered values.")) from exc
        await organisations.change_role(user, organisation, membership_id, role, ip=ip)
        flash(request, _("The role has been changed."))
    elif action == "remove":
        removed = await organisations.remove_member(user, organisation, membership_id, ip=ip)
        if removed.user_id == user.id:  # type: ignore[attr-defined]
            flash(request, _("You have left %(name)s.", name=organisation.name))
            return redirect(request, "/account")
        flash(request, _("The member has been removed."))
    elif action in ("accept", "refuse"):
        await organisations.decide_join_request(
            user, organisation, membership_id, accept=action == "accept", ip=ip
        )
        flash(request, _("The request has been answered."))
    else:
        raise Invalid(_("Unknown action."))
    return redirect(request, f"/organisations/{organisation.slug}/members")


async def revoke_invitation(request: Request) -> Response:
    user = await require_user(request)
    organisation = await organisations.get_visible(user, request.path_params["slug"])
    await organisations.revoke_invitation(
        user, organisation, request.path_params["invitation_id"], ip=client_ip(request)
    )
    flash(request, _("The invitation has been withdrawn."))
    return redirect(request, f"/organisations/{organisation.slug}/members")


async def request_to_join(request: Request) -> Response:
    user = await require_user(request)
    organisation = await organisations.get_by_slug(request.path_params["slug"])
    await organisations.request_to_join(user, organisation, ip=client_ip(request))
    flash(request, _("Your request has been sent to the organisation's administrators."))
    return redirect(request, "/account")


async def invitation(request: Request) -> Response:
    token = request.path_params["token"]
    if request.method == "GET":
        invitation = await organisations.invitation_for_token(token)
        context = {"invitation": invitation, "user": await current_user(request)}
        return await render(request, "ecosystem/invitation.html", context)
    user = await require_user(request)
    membership = await organisations.accept_invitation(user, token, ip=client_ip(request))
    await membership.fetch_related("organisation")
    flash(request, _("Welcome to %(name)s.", name=membership.organisation.name))
    return redirect(request, f"/organisations/{membership.organisation.slug}")


routes = [
    Route("/organisations", directory, methods=["GET"]),
    Route("/organisations/new", new_organisation, methods=["GET", "POST"]),
    Route("/organisations/{slug}", profile, methods=["GET"]),
    Route("/organisations/{slug}/edit", edit_organisation, methods=["GET", "POST"]),
    Route("/organisations/{slug}/members", members, methods=["GET"]),
    Route("/organisations/{slug}/invitations", invite, methods=["POST"]),
    Route(
        "/organisations/{slug}/invitations/{invitation_id:int}/revoke",
        revoke_invitation,
        methods=["POST"],
    ),
    Route("/organisations/{slug}/members/{membership_id:int}", member_action, methods=["POST"]),
    Route("/organisations/{slug}/join", request_to_join, methods=["POST"]),
    Route("/invitations/{token}", invitation, methods=["GET", "POST"]),
]
