"""Reading ids from form fields: anything but 1 to 9 digits is no id (0), never an error
(a huge number would overflow the database's integer and surface as a 500)."""

from __future__ import annotations

from typing import Any

from ecosystem.inputs import whole_number


def as_id(raw: Any) -> int:
    return whole_number(raw, 1) or 0
