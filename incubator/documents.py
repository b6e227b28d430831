"""Uploaded PDFs (pitch decks, application documents): checked, stored under server names.

A file is accepted only if it starts with the PDF signature and is at most MAX_UPLOAD_BYTES;
it is kept as `media_dir / "incubator" / <uuid>.pdf`, so no client-supplied name reaches the
file system. Who may download one is decided by the service that links it.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from ecosystem.errors import Invalid
from ecosystem.i18n import _
from ecosystem.media import read_upload
from ecosystem.models import User
from ecosystem.settings import get_settings
from incubator.models import Document

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def document_path(document_id: uuid.UUID | str) -> Path:
    return get_settings().media_dir / "incubator" / f"{uuid.UUID(str(document_id))}.pdf"


def _clean_name(name: str) -> str:
    base = SAFE_NAME.sub("-", (name or "document").rsplit("/", 1)[-1]).strip("-.")[:100]
    return (base or "document") if base.lower().endswith(".pdf") else f"{base or 'document'}.pdf"


async def store_pdf(
    upload: object,
    purpose: str,
    organisation_id: int | None,
    user: User | None,
    field: str = "file",
) -> Document:
    try:
        data = await read_upload(upload)  # capped at MAX_UPLOAD_BYTES (413)
    except Invalid as exc:
        message = _("Choose a PDF file to upload.")
        raise Invalid(message, {field: message}) from exc
    if not data.startswith(b"%PDF-"):
        message = _("This file is not a PDF document.")
        raise Invalid(message, {field: message})
    document = await Document.create(
        purpose=purpose,
        filename=_clean_name(getattr(upload, "filename", "") or ""),
        size_bytes=len(data),
        organisation_id=organisation_id,
        uploaded_by_id=user.id if user else None,
    )
    path = document_path(document.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return document
