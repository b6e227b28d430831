"""The incubator: programmes run by a host organisation, cohorts, application calls and
reviews, startup profiles (one-to-one with an `Organisation` of the startup sphere),
enrolments, milestones, KPI metrics and report requests, mentors and their sessions,
consented sharing with other organisations, and perks (lab credit).

Invariants held by the database itself:
- one report request per (enrolment, period): the scheduler materialises them idempotently
- one reminder per (report request, kind): a schedule or due-date edit never sends twice
- one pending role invitation per (programme, address): inviting again refreshes it
- one review per (application, reviewer), one enrolment per (cohort, startup), one perk
  award per (perk, startup)
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from ecosystem.content import content_fields


class ProgrammeRoleKind(StrEnum):
    MANAGER = "manager"
    MENTOR = "mentor"
    REVIEWER = "reviewer"


class Schedule(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ONE_OFF = "one_off"
    MILESTONE = "milestone"
    NONE = "none"


class MetricPeriod(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"


class Stage(StrEnum):
    IDEA = "idea"
    PROTOTYPE = "prototype"
    MVP = "mvp"
    EARLY_REVENUE = "early_revenue"
    GROWTH = "growth"


class Sector(StrEnum):
    SMART_CITY = "smart_city"
    MANUFACTURING = "manufacturing"
    AGRITECH = "agritech"
    HEALTH = "health"
    EDUCATION = "education"
    FINTECH = "fintech"
    LOGISTICS = "logistics"
    ENERGY = "energy"
    SOFTWARE = "software"
    OTHER = "other"


class CallStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class ApplicationStatus(StrEnum):
    SUBMITTED = "submitted"
    ADMITTED = "admitted"
    DECLINED = "declined"
    ENROLLED = "enrolled"


class Recommendation(StrEnum):
    ADMIT = "admit"
    MAYBE = "maybe"
    DECLINE = "decline"


class EnrolmentStatus(StrEnum):
    """An enrolment is the startup's act: offered by the programme, then accepted or declined
    by the startup (or accepted at once when its own application was admitted); it may leave."""

    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    LEFT = "left"


class MilestoneStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DROPPED = "dropped"


class RequestStatus(StrEnum):
    OPEN = "open"
    DRAFT = "draft"
    SUBMITTED = "submitted"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class ReminderKind(StrEnum):
    OPENED = "opened"
    BEFORE = "before"
    OVERDUE = "overdue"
    ESCALATION = "escalation"


class Programme(Model):
    id = fields.IntField(primary_key=True)
    organisation: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.Organisation", related_name=False, on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=200)
    slug = fields.CharField(max_length=80, unique=True)
    description = fields.TextField(default="")
    # `name` and `description` are in `content_locale`; other languages in `translations`
    # (ecosystem.content).
    content_locale, translations = content_fields()
    # The KPI report schedule: requests go out at the end of each period (or once, or when a
    # milestone falls due); due `due_days` days later; reminders before and after the due
    # date; escalation to the startup's mentors.
    schedule = fields.CharEnumField(Schedule, max_length=16, default=Schedule.MONTHLY)
    due_days = fields.SmallIntField(default=10)
    one_off_period = fields.CharField(max_length=16, default="")
    one_off_due_on = fields.DateField(null=True)
    remind_days_before = fields.SmallIntField(default=3)
    remind_days_after = fields.SmallIntField(default=2)
    escalate_days_after = fields.SmallIntField(default=7)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_programme"


class ProgrammeRole(Model):
    """Manager, mentor or reviewer of a programme: granted by the host organisation."""

    id = fields.IntField(primary_key=True)
    programme: fields.ForeignKeyRelation[Programme] = fields.ForeignKeyField(
        "incubator.Programme", related_name="roles", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    role = fields.CharEnumField(ProgrammeRoleKind, max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_programme_role"
        unique_together = (("programme", "user", "role"),)


class ProgrammeRoleInvitation(Model):
    """A role named for an e-mail address that no verified account holds yet: it becomes a
    `ProgrammeRole` only for the account that verifies this very address (never for one that
    merely registered it), when that account's roles are next looked up."""

    id = fields.IntField(primary_key=True)
    programme: fields.ForeignKeyRelation[Programme] = fields.ForeignKeyField(
        "incubator.Programme", related_name="role_invitations", on_delete=fields.CASCADE
    )
    email = fields.CharField(max_length=254, db_index=True)
    role = fields.CharEnumField(ProgrammeRoleKind, max_length=16)
    invited_by: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_programme_role_invitation"
        unique_together = (("programme", "email"),)


class Cohort(Model):
    id = fields.IntField(primary_key=True)
    programme: fields.ForeignKeyRelation[Programme] = fields.ForeignKeyField(
        "incubator.Programme", related_name="cohorts", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200)
    starts_on = fields.DateField()
    ends_on = fields.DateField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_cohort"


class Metric(Model):
    """A KPI a programme asks for: a stable key, a unit and the period it covers."""

    id = fields.IntField(primary_key=True)
    programme: fields.ForeignKeyRelation[Programme] = fields.ForeignKeyField(
        "incubator.Programme", related_name="metrics", on_delete=fields.CASCADE
    )
    key = fields.CharField(max_length=40)
    name = fields.CharField(max_length=120)
    unit = fields.CharField(max_length=20, default="")
    period = fields.CharEnumField(MetricPeriod, max_length=8, default=MetricPeriod.MONTH)
    integer = fields.BooleanField(default=True)
    position = fields.SmallIntField(default=0)
    # A report without a value for a required metric is refused.
    required = fields.BooleanField(default=False)

    class Meta:
        table = "incubator_metric"
        unique_together = (("programme", "key"),)


class StartupProfile(Model):
    """What a startup (an organisation with the startup sphere) tells about itself."""

    id = fields.IntField(primary_key=True)
    organisation: fields.OneToOneRelation = fields.OneToOneField(
        "ecosystem.Organisation", related_name="startup_profile", on_delete=fields.CASCADE
    )
    sector = fields.CharEnumField(Sector, max_length=24, default=Sector.OTHER)
    stage = fields.CharEnumField(Stage, max_length=16, default=Stage.IDEA)
    founded_on = fields.DateField(null=True)
    team = fields.TextField(default="")
    team_size = fields.SmallIntField(default=1)
    pitch: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "incubator.Document", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    links = fields.JSONField(default=list)
    in_directory = fields.BooleanField(default=False)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "incubator_startup_profile"


class Document(Model):
    """An uploaded PDF (pitch deck, application document), stored under a server-side name."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    purpose = fields.CharField(max_length=16)  # pitch | application
    filename = fields.CharField(max_length=120, default="document.pdf")
    size_bytes = fields.IntField()
    organisation: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "ecosystem.Organisation", related_name=False, null=True, on_delete=fields.CASCADE
    )
    uploaded_by: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_document"


class ApplicationCall(Model):
    id = fields.IntField(primary_key=True)
    programme: fields.ForeignKeyRelation[Programme] = fields.ForeignKeyField(
        "incubator.Programme", related_name="calls", on_delete=fields.CASCADE
    )
    cohort: fields.ForeignKeyNullableRelation[Cohort] = fields.ForeignKeyField(
        "incubator.Cohort", related_name="calls", null=True, on_delete=fields.SET_NULL
    )
    title = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    # `title` and `description` are in `content_locale`; other languages in `translations`.
    content_locale, translations = content_fields()
    questions = fields.JSONField(default=list)  # [{"key", "label"}]
    documents = fields.JSONField(default=list)  # [{"key", "label"}]
    criteria = fields.JSONField(
        default=list
    )  # [{"id", "label", "weight", "scale_min", "scale_max"}]
    deadline = fields.DatetimeField()
    status = fields.CharEnumField(CallStatus, max_length=8, default=CallStatus.OPEN)
    # The pipeline before a decision, in order: [{"key", "label"}]; empty = the default set
    # (submitted, in review, shortlisted; see incubator.services.applications.stages_of).
    stages = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_call"


class Application(Model):
    id = fields.IntField(primary_key=True)
    call: fields.ForeignKeyRelation[ApplicationCall] = fields.ForeignKeyField(
        "incubator.ApplicationCall", related_name="applications", on_delete=fields.CASCADE
    )
    startup: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.Organisation", related_name=False, on_delete=fields.CASCADE
    )
    applicant: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    answers = fields.JSONField(default=dict)
    documents = fields.JSONField(default=dict)  # {key: document uuid}
    status = fields.CharEnumField(
        ApplicationStatus, max_length=12, default=ApplicationStatus.SUBMITTED
    )
    stage = fields.CharField(max_length=40, default="submitted")  # a key of the call's stages
    decision_message = fields.TextField(default="")
    decided_at = fields.DatetimeField(null=True)
    # When the decision was e-mailed (and shown to the applicant); set once, so never twice.
    decision_sent_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_application"
        unique_together = (("call", "startup"),)


class Review(Model):
    id = fields.IntField(primary_key=True)
    application: fields.ForeignKeyRelation[Application] = fields.ForeignKeyField(
        "incubator.Application", related_name="reviews", on_delete=fields.CASCADE
    )
    reviewer: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    scores = fields.JSONField(default=dict)
    score = fields.FloatField(null=True)
    recommendation = fields.CharEnumField(Recommendation, max_length=8, null=True)
    comment = fields.TextField(default="")
    submitted_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_review"
        unique_together = (("application", "reviewer"),)


class Enrolment(Model):
    id = fields.IntField(primary_key=True)
    cohort: fields.ForeignKeyRelation[Cohort] = fields.ForeignKeyField(
        "incubator.Cohort", related_name="enrolments", on_delete=fields.CASCADE
    )
    startup: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.Organisation", related_name=False, on_delete=fields.CASCADE
    )
    enrolled_on = fields.DateField()
    active = fields.BooleanField(default=True)
    # Consent: the programme reads `metrics` (keys) of periods from `metrics_from` on, only
    # once the startup accepted; after it left, only what was submitted before `left_at`.
    status = fields.CharEnumField(EnrolmentStatus, max_length=8, default=EnrolmentStatus.OFFERED)
    metrics = fields.JSONField(default=list)
    metrics_from = fields.DateField(null=True)  # first day of the start month; None: all
    offered_at = fields.DatetimeField(null=True)
    offered_by: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    accepted_at = fields.DatetimeField(null=True)
    declined_at = fields.DatetimeField(null=True)
    left_at = fields.DatetimeField(null=True)
    decided_by: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_enrolment"
        unique_together = (("cohort", "startup"),)


class EnrolmentRead(Model):
    """Every read of a startup's figures by its programme's staff, shown to the startup
    (the programme's counterpart of `ShareAccess`)."""

    id = fields.BigIntField(primary_key=True)
    enrolment: fields.ForeignKeyRelation[Enrolment] = fields.ForeignKeyField(
        "incubator.Enrolment", related_name="reads", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    channel = fields.CharField(max_length=8, default="web")  # web | api | csv
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_enrolment_read"


class Milestone(Model):
    id = fields.IntField(primary_key=True)
    enrolment: fields.ForeignKeyRelation[Enrolment] = fields.ForeignKeyField(
        "incubator.Enrolment", related_name="milestones", on_delete=fields.CASCADE
    )
    title = fields.CharField(max_length=200)
    due_on = fields.DateField()
    owner: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    definition_of_done = fields.TextField(default="")
    status = fields.CharEnumField(MilestoneStatus, max_length=12, default=MilestoneStatus.PLANNED)
    completed_on = fields.DateField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_milestone"
        indexes = (("enrolment_id", "due_on"),)


class MilestoneComment(Model):
    id = fields.IntField(primary_key=True)
    milestone: fields.ForeignKeyRelation[Milestone] = fields.ForeignKeyField(
        "incubator.Milestone", related_name="comments", on_delete=fields.CASCADE
    )
    author: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    body = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_milestone_comment"


class ReportRequest(Model):
    """One KPI report of one enrolled startup for one period: requested, drafted, submitted
    or skipped. `period` is `YYYY-MM` (monthly) or `YYYY-Qn` (quarterly) or the one-off label."""

    id = fields.IntField(primary_key=True)
    enrolment: fields.ForeignKeyRelation[Enrolment] = fields.ForeignKeyField(
        "incubator.Enrolment", related_name="reports", on_delete=fields.CASCADE
    )
    startup: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.Organisation", related_name=False, on_delete=fields.CASCADE
    )
    period = fields.CharField(max_length=16)
    period_start = fields.DateField()
    due_on = fields.DateField()
    schedule = fields.CharField(max_length=16, default="monthly")  # the schedule that made it
    status = fields.CharEnumField(RequestStatus, max_length=12, default=RequestStatus.OPEN)
    values = fields.JSONField(default=dict)
    narrative = fields.TextField(default="")
    skip_reason = fields.CharField(max_length=500, default="")
    submitted_by: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    submitted_at = fields.DatetimeField(null=True)
    # The founder's one-line explanation of each value far outside the startup's history.
    explanations = fields.JSONField(default=dict)
    corrected_at = fields.DatetimeField(null=True)  # the latest correction after submission
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "incubator_report"
        unique_together = (("enrolment", "period"),)
        indexes = (("startup_id", "period_start"), ("status", "due_on"))


class ReportReminder(Model):
    """A reminder of one kind for one request: recorded once, whatever the edits."""

    id = fields.IntField(primary_key=True)
    request: fields.ForeignKeyRelation[ReportRequest] = fields.ForeignKeyField(
        "incubator.ReportRequest", related_name="reminders", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(ReminderKind, max_length=12)
    sent = fields.BooleanField(default=True)  # False: superseded by a more urgent one
    recipients = fields.SmallIntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_report_reminder"
        unique_together = (("request", "kind"),)


class ReportCorrection(Model):
    """A founder's correction of a submitted report: who, when, and each old → new value."""

    id = fields.IntField(primary_key=True)
    request: fields.ForeignKeyRelation[ReportRequest] = fields.ForeignKeyField(
        "incubator.ReportRequest", related_name="corrections", on_delete=fields.CASCADE
    )
    author: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    # [{"field": metric key or "narrative", "old": value or None, "new": value or None}]
    changes = fields.JSONField(default=list)
    reason = fields.CharField(max_length=500, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_report_correction"


class ReportNudge(Model):
    """A reminder a manager sent by hand ("remind now"): at most one per request an hour."""

    id = fields.IntField(primary_key=True)
    request: fields.ForeignKeyRelation[ReportRequest] = fields.ForeignKeyField(
        "incubator.ReportRequest", related_name="nudges", on_delete=fields.CASCADE
    )
    sent_by: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    recipients = fields.SmallIntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_report_nudge"
        indexes = (("request_id", "created_at"),)


class MentorProfile(Model):
    id = fields.IntField(primary_key=True)
    user: fields.OneToOneRelation = fields.OneToOneField(
        "ecosystem.User", related_name="mentor_profile", on_delete=fields.CASCADE
    )
    headline = fields.CharField(max_length=200, default="")
    expertise = fields.CharField(max_length=300, default="")
    bio = fields.TextField(default="")

    class Meta:
        table = "incubator_mentor_profile"


class MentorAssignment(Model):
    id = fields.IntField(primary_key=True)
    enrolment: fields.ForeignKeyRelation[Enrolment] = fields.ForeignKeyField(
        "incubator.Enrolment", related_name="mentors", on_delete=fields.CASCADE
    )
    mentor: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_mentor_assignment"
        unique_together = (("enrolment", "mentor"),)


class MentoringSession(Model):
    id = fields.IntField(primary_key=True)
    enrolment: fields.ForeignKeyRelation[Enrolment] = fields.ForeignKeyField(
        "incubator.Enrolment", related_name="sessions", on_delete=fields.CASCADE
    )
    mentor: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    held_on = fields.DateField()
    topics = fields.TextField()
    actions = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_mentoring_session"


class ShareGrant(Model):
    """A startup lets an organisation read chosen metrics of chosen periods until `expires_at`."""

    id = fields.IntField(primary_key=True)
    startup: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.Organisation", related_name=False, on_delete=fields.CASCADE
    )
    grantee: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.Organisation", related_name=False, on_delete=fields.CASCADE
    )
    metrics = fields.JSONField(default=list)  # metric keys
    period_from = fields.CharField(max_length=7)  # YYYY-MM, inclusive
    period_to = fields.CharField(max_length=7)
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    created_by: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_share_grant"
        indexes = (("grantee_id", "startup_id"),)


class ShareAccess(Model):
    """Every read by a grantee, shown to the startup."""

    id = fields.BigIntField(primary_key=True)
    grant: fields.ForeignKeyRelation[ShareGrant] = fields.ForeignKeyField(
        "incubator.ShareGrant", related_name="accesses", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    channel = fields.CharField(max_length=8, default="web")  # web | api | csv
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_share_access"


class Perk(Model):
    """Lab credit (VND) a programme grants each enrolled startup of a cohort."""

    id = fields.IntField(primary_key=True)
    programme: fields.ForeignKeyRelation[Programme] = fields.ForeignKeyField(
        "incubator.Programme", related_name="perks", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200)
    amount = fields.BigIntField()
    currency = fields.CharField(max_length=3, default="VND")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_perk"


class PerkAward(Model):
    id = fields.IntField(primary_key=True)
    perk: fields.ForeignKeyRelation[Perk] = fields.ForeignKeyField(
        "incubator.Perk", related_name="awards", on_delete=fields.CASCADE
    )
    startup: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.Organisation", related_name=False, on_delete=fields.CASCADE
    )
    awarded_by: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_perk_award"
        unique_together = (("perk", "startup"),)


# --- mentor office hours (issue 17, item 4) ----------------------------------------------------


class OfficeHours(Model):
    """A mentor's weekly office hours in a programme: every `weekday` from `first_day` to
    `last_day`, `slots` consecutive slots of `slot_minutes` from `start_minute` (minutes after
    local midnight) in `timezone`; `skipped` days (ISO dates) are exceptions. One mentor's
    live series never overlap (the service refuses it), so a slot is named by its start."""

    id = fields.IntField(primary_key=True)
    programme: fields.ForeignKeyRelation[Programme] = fields.ForeignKeyField(
        "incubator.Programme", related_name="office_hours", on_delete=fields.CASCADE
    )
    mentor: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    weekday = fields.SmallIntField()  # 0 = Monday
    start_minute = fields.SmallIntField()
    slot_minutes = fields.SmallIntField(default=30)
    slots = fields.SmallIntField(default=2)
    first_day = fields.DateField()
    last_day = fields.DateField()
    timezone = fields.CharField(max_length=64, default="Asia/Ho_Chi_Minh")
    place = fields.CharField(max_length=200, default="")
    skipped = fields.JSONField(default=list)
    withdrawn_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_office_hours"
        indexes = (("mentor_id", "weekday"),)


class OfficeBookingStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"


class OfficeHourBooking(Model):
    """One slot of a mentor's office hours booked by a founder for their startup.

    No double booking, held by the database: `live_start` is the slot's start while the
    booking holds and NULL once cancelled, and (mentor, live_start) is unique – two founders
    racing for one slot cannot both commit, on SQLite or PostgreSQL."""

    id = fields.IntField(primary_key=True)
    office_hours: fields.ForeignKeyRelation[OfficeHours] = fields.ForeignKeyField(
        "incubator.OfficeHours", related_name="bookings", on_delete=fields.CASCADE
    )
    mentor: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    live_start = fields.DatetimeField(null=True)
    enrolment: fields.ForeignKeyRelation[Enrolment] = fields.ForeignKeyField(
        "incubator.Enrolment", related_name="office_hour_bookings", on_delete=fields.CASCADE
    )
    startup: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.Organisation", related_name=False, on_delete=fields.CASCADE
    )
    booked_by: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    topic = fields.CharField(max_length=500, default="")
    status = fields.CharEnumField(
        OfficeBookingStatus, max_length=12, default=OfficeBookingStatus.BOOKED
    )
    cancelled_at = fields.DatetimeField(null=True)
    cancelled_by: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    cancel_reason = fields.CharField(max_length=500, default="")
    # The mentoring session logged for this meeting.
    session: fields.ForeignKeyNullableRelation[MentoringSession] = fields.ForeignKeyField(
        "incubator.MentoringSession",
        related_name="office_hour_bookings",
        null=True,
        on_delete=fields.SET_NULL,
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_office_booking"
        unique_together = (("mentor", "live_start"),)
        indexes = (("office_hours_id", "starts_at"), ("startup_id", "starts_at"))


# --- investor updates (issue 17, item 5) -------------------------------------------------------


class InvestorUpdate(Model):
    """A founder's periodic update to the holders of the startup's live share grants: chosen
    metrics (a snapshot of the submitted values) and a narrative."""

    id = fields.IntField(primary_key=True)
    startup: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.Organisation", related_name=False, on_delete=fields.CASCADE
    )
    author: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    title = fields.CharField(max_length=200)
    # [{"key", "name", "unit", "period", "value"}]
    metrics = fields.JSONField(default=list)
    narrative = fields.TextField(default="")
    sent_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_investor_update"
        indexes = (("startup_id", "sent_at"),)


class InvestorUpdateRecipient(Model):
    """An organisation an update was sent to, through its live share grant at the time."""

    id = fields.IntField(primary_key=True)
    update: fields.ForeignKeyRelation[InvestorUpdate] = fields.ForeignKeyField(
        "incubator.InvestorUpdate", related_name="recipients", on_delete=fields.CASCADE
    )
    grantee: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.Organisation", related_name=False, on_delete=fields.CASCADE
    )
    grant: fields.ForeignKeyNullableRelation[ShareGrant] = fields.ForeignKeyField(
        "incubator.ShareGrant", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_investor_update_recipient"
        unique_together = (("update", "grantee"),)


class InvestorUpdateRead(Model):
    """A read receipt: the first time one person read one update (each read is also a line
    of the startup's read log, `ShareAccess` with channel "update")."""

    id = fields.IntField(primary_key=True)
    update: fields.ForeignKeyRelation[InvestorUpdate] = fields.ForeignKeyField(
        "incubator.InvestorUpdate", related_name="reads", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    grantee: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.Organisation", related_name=False, on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "incubator_investor_update_read"
        unique_together = (("update", "user"),)
