"""Staff pages for the photos of a lab and its machines (labs.services.photos)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ecosystem import media
from ecosystem.errors import DomainError, NotFound
from ecosystem.i18n import _
from ecosystem.inputs import path_id, whole_number
from ecosystem.web import flash, form_text, read_form, redirect, render, require_user
from labs.services import photos, staff


async def photos_page(request: Request) -> Response:
    """The lab's photos and its machines', with the upload form (GET), or a new photo (POST)."""
    user = await require_user(request)
    lab = await staff.managed_lab(user, request.path_params["slug"])
    values: dict[str, str] = {}
    error = ""
    status = 200
    if request.method == "POST":
        try:
            async with request.form(max_files=1, max_fields=10) as form:
                values = {key: form_text(form, key) for key in ("caption", "equipment_id")}
                data = await media.read_upload(form.get("photo"))
            raw_machine = values["equipment_id"]
            machine_id = whole_number(raw_machine) if raw_machine else None
            if raw_machine and machine_id is None:
                raise NotFound(_("No such machine."))
            await photos.add_photo(user, lab, data, values["caption"], machine_id)
            flash(request, _("The photo has been added."))
            return redirect(request, f"/labs/{lab.slug}/photos")
        except DomainError as exc:
            error = exc.fields.get("photo") or exc.message
            status = exc.status_code
    context = {
        "lab": lab,
        "photos": await photos.all_photos(lab),
        "machines": await photos.machines_of(lab),
        "values": values,
        "error": error,
        "max_photos": photos.MAX_PHOTOS,
    }
    return await render(request, "labs/staff/photos.html", context, status)


async def remove_photo(request: Request) -> Response:
    user = await require_user(request)
    lab = await staff.managed_lab(user, request.path_params["slug"])
    await read_form(request)
    await photos.remove_photo(user, lab, path_id(request, "photo_id"))
    flash(request, _("The photo has been removed."))
    return redirect(request, f"/labs/{lab.slug}/photos")


routes = [
    Route("/labs/{slug}/photos", photos_page, methods=["GET", "POST"]),
    Route("/labs/{slug}/photos/{photo_id:int}/remove", remove_photo, methods=["POST"]),
]
