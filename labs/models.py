"""The lab network: labs hosted by partner organisations, their equipment, hours, closures,
trainings and certifications, prices and bookings.

Invariant held by the database itself: two active bookings of one machine never overlap
(PostgreSQL: an exclusion constraint in migration 0002; SQLite: the booking service's
check-and-insert inside a write-locked transaction).
"""

from __future__ import annotations

from datetime import time
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from ecosystem.content import content_fields


class LabKind(StrEnum):
    FABLAB = "fablab"
    TECHLAB = "techlab"
    LIVING_LAB = "livinglab"


class EquipmentCategory(StrEnum):
    PRINTER_3D = "3d_printer"
    LASER_CUTTER = "laser_cutter"
    CNC = "cnc"
    PCB_MILL = "pcb_mill"
    ELECTRONICS_BENCH = "electronics_bench"
    BIOTECH_INSTRUMENT = "biotech_instrument"
    TEST_BED = "test_bed"
    OTHER = "other"


class EquipmentStatus(StrEnum):
    AVAILABLE = "available"
    MAINTENANCE = "maintenance"
    RETIRED = "retired"


class BookingStatus(StrEnum):
    PENDING = "pending"  # waits for staff approval; holds the slot
    PENDING_PAYMENT = "pending_payment"  # a hold while the card payment runs; holds the slot
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    DECLINED = "declined"
    NO_SHOW = "no_show"
    COMPLETED = "completed"


# Statuses that hold a slot. The PostgreSQL exclusion constraint lists the same values.
ACTIVE_BOOKING_STATUSES = (
    BookingStatus.PENDING,
    BookingStatus.CONFIRMED,
    BookingStatus.PENDING_PAYMENT,
)


MINUTES_PER_DAY = 1440


def minute_to_time(minute: int) -> time:
    """Minutes since midnight as a wall-clock time (1440, the end of the day, is 00:00)."""
    minute %= MINUTES_PER_DAY
    return time(minute // 60, minute % 60)


def time_to_minute(value: time, closing: bool = False) -> int:
    """A wall-clock time as minutes since midnight; a closing time of 00:00 is 1440."""
    minute = value.hour * 60 + value.minute
    return MINUTES_PER_DAY if closing and minute == 0 else minute


class Lab(Model):
    id = fields.IntField(primary_key=True)
    organisation: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.Organisation", related_name=False, on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=200)
    slug = fields.CharField(max_length=80, unique=True)
    kind = fields.CharEnumField(LabKind, max_length=16)
    description = fields.TextField(default="")
    address = fields.CharField(max_length=300, default="")
    contact_email = fields.CharField(max_length=254, default="")
    contact_phone = fields.CharField(max_length=40, default="")
    timezone = fields.CharField(max_length=64, default="Asia/Ho_Chi_Minh")
    is_published = fields.BooleanField(default=True)
    # Refund after a machine's cancellation deadline, in percent (0: none). Before it: in full.
    late_cancellation_refund_percent = fields.SmallIntField(default=0)
    # name and description in several languages (ecosystem.content)
    content_locale, translations = content_fields()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "labs_lab"


class LabStaff(Model):
    """A person who runs a lab: granted by the host organisation's admins."""

    id = fields.IntField(primary_key=True)
    lab: fields.ForeignKeyRelation[Lab] = fields.ForeignKeyField(
        "labs.Lab", related_name="staff", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "labs_staff"
        unique_together = (("lab", "user"),)


class Photo(Model):
    """A picture of a lab, or of one of its machines when `equipment` is set."""

    id = fields.IntField(primary_key=True)
    lab: fields.ForeignKeyRelation[Lab] = fields.ForeignKeyField(
        "labs.Lab", related_name="photos", on_delete=fields.CASCADE
    )
    equipment: fields.ForeignKeyNullableRelation[Equipment] = fields.ForeignKeyField(
        "labs.Equipment", related_name="photos", null=True, on_delete=fields.CASCADE
    )
    media: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.MediaFile", related_name=False, on_delete=fields.CASCADE
    )
    caption = fields.CharField(max_length=200, default="")
    position = fields.SmallIntField(default=0)

    class Meta:
        table = "labs_photo"
        # A lab's own photos or one machine's, in their order: every machine page reads them.
        indexes = (("lab_id", "equipment_id", "position"),)


class OpeningHours(Model):
    """One opening range of a weekday (Monday = 0), in the lab's local wall-clock time.

    Minutes since local midnight: `closes_minute` 1440 is midnight at the end of the day.
    (Not a TimeField: tortoise attaches UTC to times and SQLite cannot store them.)
    """

    id = fields.IntField(primary_key=True)
    lab: fields.ForeignKeyRelation[Lab] = fields.ForeignKeyField(
        "labs.Lab", related_name="opening_hours", on_delete=fields.CASCADE
    )
    weekday = fields.SmallIntField()
    opens_minute = fields.SmallIntField()
    closes_minute = fields.SmallIntField()

    class Meta:
        table = "labs_opening_hours"

    @property
    def opens(self) -> time:
        return minute_to_time(self.opens_minute)

    @property
    def closes(self) -> time:
        """`time(0)` for midnight at the end of the day, as labs.availability expects."""
        return minute_to_time(self.closes_minute)


class Closure(Model):
    """Whole local days on which the lab is closed, first to last inclusive (e.g. Tết)."""

    id = fields.IntField(primary_key=True)
    lab: fields.ForeignKeyRelation[Lab] = fields.ForeignKeyField(
        "labs.Lab", related_name="closures", on_delete=fields.CASCADE
    )
    first_day = fields.DateField()
    last_day = fields.DateField()
    reason = fields.CharField(max_length=200, default="")

    class Meta:
        table = "labs_closure"


class Equipment(Model):
    id = fields.IntField(primary_key=True)
    lab: fields.ForeignKeyRelation[Lab] = fields.ForeignKeyField(
        "labs.Lab", related_name="equipment", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200)
    category = fields.CharEnumField(EquipmentCategory, max_length=32)
    description = fields.TextField(default="")
    specifications = fields.JSONField(default=dict)
    status = fields.CharEnumField(EquipmentStatus, default=EquipmentStatus.AVAILABLE, max_length=16)
    requires_training = fields.BooleanField(default=False)
    # Booking rules (see labs.availability.BookingRules)
    slot_step_minutes = fields.SmallIntField(default=30)
    min_minutes = fields.IntField(default=30)
    max_minutes = fields.IntField(default=240)
    notice_minutes = fields.IntField(default=60)
    horizon_days = fields.SmallIntField(default=30)
    weekly_quota_minutes = fields.IntField(null=True)
    cancellation_deadline_hours = fields.SmallIntField(default=24)
    requires_approval = fields.BooleanField(default=False)
    # Bumped by every booking write: taking this row's lock first serialises bookings of
    # one machine (and, on SQLite, takes the database write lock before the overlap check).
    booking_version = fields.IntField(default=0)
    # name and description in several languages (ecosystem.content)
    content_locale, translations = content_fields()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "labs_equipment"
        indexes = (("lab_id", "category"), ("category",))


class EquipmentRate(Model):
    """Price per hour for one user category on one machine, in VND (no minor unit)."""

    id = fields.IntField(primary_key=True)
    equipment: fields.ForeignKeyRelation[Equipment] = fields.ForeignKeyField(
        "labs.Equipment", related_name="rates", on_delete=fields.CASCADE
    )
    category = fields.CharField(max_length=32)
    rate_per_hour = fields.IntField()
    currency = fields.CharField(max_length=3, default="VND")

    class Meta:
        table = "labs_equipment_rate"
        unique_together = (("equipment", "category"),)


class Blackout(Model):
    """Maintenance or other time a machine cannot be booked."""

    id = fields.IntField(primary_key=True)
    equipment: fields.ForeignKeyRelation[Equipment] = fields.ForeignKeyField(
        "labs.Equipment", related_name="blackouts", on_delete=fields.CASCADE
    )
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    reason = fields.CharField(max_length=200, default="")

    class Meta:
        table = "labs_blackout"
        indexes = (("equipment_id", "starts_at"),)


class BookingSeries(Model):
    """Recurring bookings made by staff for a course."""

    id = fields.IntField(primary_key=True)
    equipment: fields.ForeignKeyRelation[Equipment] = fields.ForeignKeyField(
        "labs.Equipment", related_name=False, on_delete=fields.CASCADE
    )
    created_by: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    title = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "labs_booking_series"


class Booking(Model):
    id = fields.IntField(primary_key=True)
    equipment: fields.ForeignKeyRelation[Equipment] = fields.ForeignKeyField(
        "labs.Equipment", related_name="bookings", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    series: fields.ForeignKeyNullableRelation[BookingSeries] = fields.ForeignKeyField(
        "labs.BookingSeries", related_name="bookings", null=True, on_delete=fields.SET_NULL
    )
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    status = fields.CharEnumField(BookingStatus, max_length=16)
    purpose = fields.CharField(max_length=500, default="")
    price_amount = fields.IntField(default=0)
    price_currency = fields.CharField(max_length=3, default="VND")
    price_category = fields.CharField(max_length=32, default="")
    decided_by_id = fields.IntField(null=True)
    decision_reason = fields.CharField(max_length=500, default="")
    checked_in_at = fields.DatetimeField(null=True)
    checked_out_at = fields.DatetimeField(null=True)
    usage_note = fields.CharField(max_length=1000, default="")
    check_in_code = fields.CharField(max_length=32, unique=True)
    reminded_at = fields.DatetimeField(null=True)  # the reminder email went out
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    cancelled_at = fields.DatetimeField(null=True)
    # Raised each time the booking moves: calendar apps take the highest SEQUENCE of a UID.
    sequence = fields.IntField(default=0)
    # A walk-in booked by staff for a guest without an account (the staff member is `user`).
    guest_name = fields.CharField(max_length=200, default="")
    guest_phone = fields.CharField(max_length=40, default="")
    # How a priced booking is paid (ecosystem.payments.models.Payment: payer, method, state).
    payment: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "ecosystem.Payment", related_name=False, null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "labs_booking"
        # (equipment, ends_at) finds the bookings overlapping a future window without scanning
        # a machine's past, (equipment, starts_at) serves windows in the past (statistics).
        indexes = (
            ("equipment_id", "starts_at"),
            ("equipment_id", "ends_at"),
            ("user_id", "starts_at"),
            ("status", "starts_at"),
        )


class TrainingSession(Model):
    id = fields.IntField(primary_key=True)
    lab: fields.ForeignKeyRelation[Lab] = fields.ForeignKeyField(
        "labs.Lab", related_name="training_sessions", on_delete=fields.CASCADE
    )
    category = fields.CharEnumField(EquipmentCategory, max_length=32)
    title = fields.CharField(max_length=200)
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    capacity = fields.SmallIntField()
    # the title in several languages (ecosystem.content)
    content_locale, translations = content_fields()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "labs_training_session"


class TrainingEnrolment(Model):
    id = fields.IntField(primary_key=True)
    session: fields.ForeignKeyRelation[TrainingSession] = fields.ForeignKeyField(
        "labs.TrainingSession", related_name="enrolments", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    attended = fields.BooleanField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "labs_training_enrolment"
        unique_together = (("session", "user"),)


class Certification(Model):
    """Valid across the whole network for one equipment category, and may expire."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    category = fields.CharEnumField(EquipmentCategory, max_length=32)
    granted_by_id = fields.IntField(null=True)
    granted_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "labs_certification"
        indexes = (("user_id", "category"),)


class WaitlistEntry(Model):
    id = fields.IntField(primary_key=True)
    equipment: fields.ForeignKeyRelation[Equipment] = fields.ForeignKeyField(
        "labs.Equipment", related_name=False, on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    purpose = fields.CharField(max_length=500, default="")
    # waiting | offered | taken | expired | left
    status = fields.CharField(max_length=16, default="waiting")
    offered_at = fields.DatetimeField(null=True)
    offer_expires_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "labs_waitlist_entry"
        indexes = (("equipment_id", "starts_at", "status"),)


class CalendarFeed(Model):
    """The secret of a person's iCalendar feed. Regenerating it kills the old URL."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE, unique=True
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "labs_calendar_feed"


class FreeDay(Model):
    """How much of one local day of its lab a machine is free: open time minus blackouts and
    active bookings (`labs.services.free_time`). Only prunes the network search, which still
    checks the few candidates exactly.

    Database triggers (migration 0009) set `stale` and bump `version` in the same transaction
    as any change to the machine's bookings or blackouts or its lab's hours, closures or zone;
    the refresh job recomputes stale rows and writes only where `version` has not moved.
    """

    id = fields.IntField(primary_key=True)
    equipment: fields.ForeignKeyRelation[Equipment] = fields.ForeignKeyField(
        "labs.Equipment", related_name=False, on_delete=fields.CASCADE
    )
    day = fields.DateField()
    free_minutes = fields.IntField(default=0)
    longest_free_minutes = fields.IntField(default=0)
    stale = fields.BooleanField(default=True)
    version = fields.IntField(default=0)
    computed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "labs_free_day"
        unique_together = (("equipment", "day"),)
        indexes = (("day", "longest_free_minutes"), ("stale", "day"))
