"""Pydantic shapes of the lab network's inputs and outputs, shared by the API and HTML edges.

Datetimes are ISO 8601 with a UTC offset both ways: a time without an offset is refused (422),
and times are returned in the lab's time zone (e.g. `2026-03-02T09:00:00+07:00`).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, Field, ValidationError, field_validator

from ecosystem.errors import Invalid
from ecosystem.i18n import _
from ecosystem.payments.schemas import PaymentOut
from ecosystem.schemas import Input, OrganisationSummaryOut, Output, Query, field_errors
from labs.models import BookingStatus, EquipmentCategory, EquipmentStatus, LabKind

MAX_WINDOW_DAYS = 31
"""The longest window the availability and free-machine queries accept."""

ModelT = TypeVar("ModelT", bound=BaseModel)

# In a query string an unencoded `+` arrives as a space: `09:00:00 07:00` meant `+07:00`.
_SPACE_FOR_PLUS = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")
_DATETIME_ERRORS = {
    "timezone_aware",
    "datetime_parsing",
    "datetime_type",
    "datetime_from_date_parsing",
}


def _restore_plus(value: Any) -> Any:
    if isinstance(value, str):
        return _SPACE_FOR_PLUS.sub(r"\1+\2", value.strip())
    return value


def parse(model: type[ModelT], data: Any) -> ModelT:
    """Build `model` from data or raise Invalid (422) with one translated message per field.

    Like `ecosystem.schemas.validate`, and says plainly that a datetime needs an offset.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = field_errors(exc)
        for error in exc.errors(include_url=False):
            if error["type"] in _DATETIME_ERRORS:
                name = ".".join(str(part) for part in error["loc"] if not isinstance(part, int))
                fields[name] = _(
                    "Give a date and time with its UTC offset, e.g. 2026-03-02T09:00:00+07:00."
                )
        raise Invalid(_("Please correct the highlighted fields."), fields=fields) from exc


# --- inputs ------------------------------------------------------------------------------


class BookingIn(Input):
    equipment_id: int = Field(ge=1, le=2**31 - 1)
    start: AwareDatetime
    end: AwareDatetime
    purpose: str = Field(default="", max_length=500)
    payer: Literal["auto", "card", "stripe", "vnpay", "credit", "organisation"] = Field(
        default="auto",
        description="Who pays a priced machine: credit is used first, then online by the "
        "lab's first accepted provider (auto/card) or the one named (stripe, vnpay), all from "
        "credit (credit), or an organisation's statement",
    )
    organisation_id: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="With payer=organisation"
    )


class RescheduleIn(Input):
    start: AwareDatetime
    end: AwareDatetime


class WindowQuery(Query):
    """Query parameters: unknown ones are ignored, an unencoded `+` in an offset is restored."""

    @field_validator("*", mode="before")
    @classmethod
    def _plus_signs(cls, value: Any) -> Any:
        return _restore_plus(value)


class EquipmentQuery(WindowQuery):
    lab: int | None = Field(default=None, ge=1, le=2**31 - 1, description="Only this lab's")
    category: EquipmentCategory | None = None
    free_from: AwareDatetime | None = Field(
        default=None, description="With free_to: only machines bookable for the whole window"
    )
    free_to: AwareDatetime | None = None
    page: int = Field(default=1, ge=1, le=10_000)
    page_size: int = Field(default=200, ge=1, le=1000)


class AvailabilityQuery(WindowQuery):
    start: AwareDatetime = Field(alias="from")
    end: AwareDatetime = Field(alias="to")


class SearchQuery(Query):
    """The network search's parameters (the rules are those of the search page)."""

    day: date | None = Field(default=None, description="The labs' local date; default today")
    duration: int = Field(default=60, ge=15, le=24 * 60, description="Minutes of free time")
    category: EquipmentCategory | None = None
    part: Literal["morning", "afternoon", "evening"] | None = Field(
        default=None, description="06–12, 12–17 or 17–22 local time; or give from and to"
    )
    start: time | None = Field(default=None, alias="from", description="Local time, e.g. 08:00")
    end: time | None = Field(default=None, alias="to")
    after: int = Field(
        default=0, ge=0, le=10**9, description="The previous page's `next_after` (the cursor)"
    )


class BookingsQuery(Query):
    status: BookingStatus | None = None
    upcoming: bool = Field(default=False, description="Only bookings that have not ended")
    page: int = Field(default=1, ge=1, le=10_000)
    page_size: int = Field(default=100, ge=1, le=500)


# --- outputs -----------------------------------------------------------------------------


class OpeningHoursOut(Output):
    weekday: int = Field(description="Monday = 0")
    opens: str = Field(description="Local time HH:MM")
    closes: str = Field(description="Local time HH:MM (00:00 = midnight at the end of the day)")


class PhotoOut(Output):
    url: str
    caption: str


TRANSLATIONS_DESCRIPTION = (
    "Every language's text (vi, en, ko), the main one included: {locale: {field: text}}. "
    "The plain fields are in the reader's language, else its first fallback."
)


class LabOut(Output):
    id: int
    slug: str
    name: str
    kind: LabKind
    organisation: OrganisationSummaryOut
    description: str
    address: str
    contact_email: str
    contact_phone: str
    timezone: str
    opening_hours: list[OpeningHoursOut]
    photos: list[PhotoOut]
    content_locale: str = Field(description="The language the lab's staff wrote first")
    translations: dict[str, dict[str, str]] = Field(description=TRANSLATIONS_DESCRIPTION)


class LabListOut(Output):
    items: list[LabOut]


class BookingRulesOut(Output):
    slot_step_minutes: int
    min_minutes: int
    max_minutes: int
    notice_minutes: int
    horizon_days: int
    weekly_quota_minutes: int | None
    cancellation_deadline_hours: int
    requires_approval: bool


class RateOut(Output):
    category: str
    rate_per_hour: int = Field(description="Whole units of the currency (VND has no minor unit)")
    currency: str


class EquipmentOut(Output):
    id: int
    name: str
    category: EquipmentCategory
    lab_id: int
    requires_training: bool
    status: EquipmentStatus
    description: str
    specifications: dict[str, Any]
    rules: BookingRulesOut
    rates: list[RateOut]
    content_locale: str = Field(description="The language the lab's staff wrote first")
    translations: dict[str, dict[str, str]] = Field(description=TRANSLATIONS_DESCRIPTION)


class EquipmentListOut(Output):
    items: list[EquipmentOut]
    total: int
    page: int
    page_size: int


class IntervalOut(Output):
    start: datetime
    end: datetime


class SearchHitOut(Output):
    equipment_id: int
    equipment_name: str
    category: EquipmentCategory
    lab_id: int
    lab_name: str
    lab_slug: str
    timezone: str
    start: datetime = Field(description="The first free slot of the duration, lab-local time")
    end: datetime


class SearchOut(Output):
    items: list[SearchHitOut]
    next_after: int | None = Field(
        description="Pass as `after` for the next page; null on the last page"
    )


class AvailabilityOut(Output):
    equipment_id: int
    timezone: str
    start: datetime
    end: datetime
    free: list[IntervalOut] = Field(description="Bookable time: open, no blackout, not booked")
    busy: list[IntervalOut] = Field(description="Booked time (who booked is not shown)")


class PriceOut(Output):
    amount: int = Field(description="Whole units of the currency (VND has no minor unit)")
    currency: str
    category: str = Field(description="The price category applied, e.g. student or public")


class BookingEquipmentOut(Output):
    id: int
    name: str
    category: EquipmentCategory
    lab_id: int


class BookingOut(Output):
    id: int
    status: BookingStatus
    start: datetime
    end: datetime
    price: PriceOut
    equipment_id: int
    equipment: BookingEquipmentOut
    purpose: str
    check_in_code: str = Field(description="Shown as a QR code at the lab")
    cancellable_until: datetime | None = Field(
        description="Last moment the booker may cancel (null once no longer active)"
    )
    created_at: datetime
    payment: PaymentOut | None = Field(description="How a priced booking is paid (null: free)")
    checkout_url: str | None = Field(
        description="Where to pay a pending_payment hold online (Stripe Checkout or VNPay)"
    )


class BookingListOut(Output):
    items: list[BookingOut]
