"""Display names of stored values (spheres, roles, states), translated when shown.

Stored values stay stable English identifiers; what people read comes from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

from ecosystem.i18n import gettext


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated later, when displayed."""
    return message


LABELS: dict[str, str] = {
    # spheres of the triple helix and beyond
    "government": N_("Government"),
    "enterprise": N_("Enterprise"),
    "university": N_("University"),
    "research_institute": N_("Research institute"),
    "startup": N_("Startup"),
    "investor": N_("Investor"),
    "association": N_("Association / NGO"),
    "international_partner": N_("International partner"),
    # membership roles and states
    "owner": N_("Owner"),
    "admin": N_("Administrator"),
    "member": N_("Member"),
    "invited": N_("Invited"),
    "requested": N_("Requested to join"),
    "active": N_("Active"),
    "left": N_("Left"),
    # verification of organisations
    "unverified": N_("Unverified"),
    "pending": N_("Awaiting verification"),
    "verified": N_("Verified"),
    "rejected": N_("Rejected"),
    # delivery of emails in the outbox
    "queued": N_("Queued"),
    "sent": N_("Sent"),
    "logged": N_("Logged (no mail server)"),
    "failed": N_("Failed"),
}


def label_in(table: Mapping[str, str], value: object) -> str:
    """The translated display name of a stored value (an enum member or its string) in
    `table` (value → msgid); a value the table does not know is shown as it is stored."""
    key = str(value.value if isinstance(value, Enum) else value)
    return gettext(table[key]) if key in table else key


def label(value: str | Enum) -> str:
    """The display name of one of the kernel's stored values (`LABELS`)."""
    return label_in(LABELS, value)
