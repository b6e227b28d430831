"""Reading ids from form fields: anything but 1 to 9 digits is no id (0), never an error
(a huge number would overflow the database's integer and surface as a 500)."""

from __future__ import annotations

from typing import Any


def as_id(raw: Any) -> int:
    text = str(raw or "").strip()
    return int(text) if text.isdigit() and len(text) <= 9 else 0
