"""Image uploads (avatars, organisation logos) and serving the stored WebP files."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from ecosystem import media, permissions
from ecosystem.errors import DomainError, NotFound
from ecosystem.i18n import _
from ecosystem.models import MediaFile, Organisation, User
from ecosystem.services import accounts, identity, organisations
from ecosystem.web import current_user, flash, redirect, render

IMMUTABLE = "public, max-age=31536000, immutable"  # an id never changes content
PROVISIONAL = "public, max-age=60"  # the original standing in for a variant not made yet
UPLOAD_FIELD = "image"


async def _receive_image(request: Request, purpose: str) -> MediaFile:
    """Parse the multipart body, read the one file in chunks (capped), store it."""
    async with request.form(max_files=1, max_fields=10) as form:
        data = await media.read_upload(form.get(UPLOAD_FIELD))
    return await media.store_image(data, purpose)


def _errors(exc: DomainError) -> dict[str, str]:
    return {UPLOAD_FIELD: exc.fields.get(UPLOAD_FIELD) or exc.message}


async def _account_page(request: Request, user: User, exc: DomainError) -> Response:
    context = {
        "user": user,
        "errors": _errors(exc),
        "joinable": await organisations.joinable_by_domain(user),
        "linked_providers": await identity.account_providers(user),
    }
    return await render(request, "ecosystem/account.html", context, exc.status_code)


async def _organisation_page(
    request: Request, user: User, organisation: Organisation, exc: DomainError
) -> Response:
    context: dict[str, Any] = {
        "organisation": organisation,
        "can_edit": True,
        "is_member": await permissions.role_in(user, organisation.id) is not None,
        "can_request": organisation in await organisations.joinable_by_domain(user),
        "errors": _errors(exc),
    }
    return await render(request, "ecosystem/organisation.html", context, exc.status_code)


async def upload_avatar(request: Request) -> Response:
    user = await current_user(request)
    if user is None:  # back to the page with the form once signed in (this URL is POST-only)
        return redirect(request, "/login?next=/account")
    try:
        stored = await _receive_image(request, media.PURPOSE_AVATAR)
        await accounts.set_avatar(user, stored.id)
    except DomainError as exc:
        if not exc.fields:
            raise
        return await _account_page(request, user, exc)
    flash(request, _("Your profile picture has been updated."))
    return redirect(request, "/account")


async def upload_logo(request: Request) -> Response:
    slug = request.path_params["slug"]
    user = await current_user(request)
    if user is None:
        return redirect(request, f"/login?next={quote(f'/organisations/{slug}')}")
    organisation = await organisations.get_by_slug(slug)
    await permissions.ensure(user, "organisation.edit", organisation)  # before reading the body
    try:
        stored = await _receive_image(request, media.PURPOSE_LOGO)
        await organisations.set_logo(user, organisation, stored.id)
    except DomainError as exc:
        if not exc.fields:
            raise
        return await _organisation_page(request, user, organisation, exc)
    flash(request, _("The logo has been updated."))
    return redirect(request, f"/organisations/{organisation.slug}")


async def serve(request: Request) -> Response:
    found = await media.find_file(request.path_params["media_id"], request.path_params["variant"])
    if found is None:
        raise NotFound(_("No such image."))
    return FileResponse(
        found.path,
        media_type=media.CONTENT_TYPE,
        stat_result=found.stat,
        headers={"Cache-Control": IMMUTABLE if found.final else PROVISIONAL},
    )


routes = [
    Route("/account/avatar", upload_avatar, methods=["POST"]),
    Route("/organisations/{slug}/logo", upload_logo, methods=["POST"]),
    Route("/media/{media_id}/{variant}.webp", serve, methods=["GET"]),
]
