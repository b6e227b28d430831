"""Photos of a lab and of its machines: uploaded by the lab's staff, cleaned, re-encoded and
resized by the kernel's media pipeline (ecosystem.media: WebP, EXIF stripped, `thumb` and
`small` variants made by a job), shown on the lab's and the machine's pages."""

from __future__ import annotations

import asyncio
import shutil

from tortoise.transactions import in_transaction

from ecosystem import media, rawsql
from ecosystem.errors import Conflict, NotFound
from ecosystem.i18n import _
from ecosystem.models import MediaFile, User
from labs import permissions
from labs.models import Equipment, Lab, Photo

MAX_PHOTOS = 24  # per lab, its machines' included
CAPTION_LENGTH = 200


async def add_photo(
    actor: User, lab: Lab, data: bytes, caption: str = "", equipment_id: int | None = None
) -> Photo:
    """Store a photo of the lab (or of one of its machines). 403 for anyone but its staff,
    404 for another lab's machine, 409 past `MAX_PHOTOS`, 422/413 for what is not an image."""
    await permissions.ensure(actor, "lab.manage", lab)
    if equipment_id is not None and not await Equipment.exists(id=equipment_id, lab_id=lab.id):
        raise NotFound(_("No such machine."))
    position = await Photo.filter(lab_id=lab.id).count()
    if position >= MAX_PHOTOS:
        raise Conflict(
            _("A lab keeps at most %(n)d photos: remove one first.", n=MAX_PHOTOS),
            code="too_many_photos",
        )
    stored = await media.store_image(data, "labs_photo")
    return await Photo.create(
        lab_id=lab.id,
        equipment_id=equipment_id,
        media_id=stored.id,
        caption=" ".join(caption.split())[:CAPTION_LENGTH],
        position=position,
    )


async def remove_photo(actor: User, lab: Lab, photo_id: int) -> None:
    """Remove a photo of the lab (its stored image goes with it)."""
    await permissions.ensure(actor, "lab.manage", lab)
    photo = await Photo.get_or_none(id=photo_id, lab_id=lab.id)
    if photo is None:
        raise NotFound(_("No such photo."))
    media_id = photo.media_id  # type: ignore[attr-defined]
    async with in_transaction():
        await photo.delete()
        await MediaFile.filter(id=media_id).delete()
    await asyncio.to_thread(shutil.rmtree, media.media_path(media_id).parent, True)


async def photos_of(lab: Lab, equipment_id: int | None = None) -> list[Photo]:
    """The lab's own photos (no machine), or one machine's, in their order (plain SQL: every
    machine page reads them, and the ORM's statement builder cost 1 ms of its 3)."""
    if equipment_id is None:
        where, params = "WHERE m.lab_id = ? AND m.equipment_id IS NULL", (lab.id,)
    else:
        where, params = "WHERE m.lab_id = ? AND m.equipment_id = ?", (lab.id, equipment_id)
    return await rawsql.select(Photo, f"{where} ORDER BY m.position, m.id", params, small=True)


async def machines_of(lab: Lab) -> list[Equipment]:
    """The machines a photo may show (the upload form's choices), by name."""
    return await Equipment.filter(lab_id=lab.id).order_by("name", "id")


async def all_photos(lab: Lab) -> list[Photo]:
    """Every photo of the lab and its machines (the staff's page)."""
    return (
        await Photo.filter(lab_id=lab.id)
        .select_related("equipment")
        .order_by("equipment_id", "position", "id")
    )
