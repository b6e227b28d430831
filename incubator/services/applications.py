"""Application calls: a form (questions, PDF documents) with a deadline; one application per
startup, editable until the call closes; the call's managers move applications through the
call's stages (a default set, configurable per call) and assign reviewers in bulk; reviewers
score on weighted criteria (ecosystem.scoring, shared with contests) and recommend; managers
admit or decline with a message, preview the decision e-mails and send them (once each), then
enrol admitted startups in a cohort."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import timezone
from tortoise.exceptions import IntegrityError

from ecosystem import mail
from ecosystem.db import atomic
from ecosystem.errors import Conflict, Invalid, NotFound, NotPermitted
from ecosystem.i18n import _
from ecosystem.inputs import date_field
from ecosystem.labels import N_, label_in
from ecosystem.models import Membership, MembershipStatus, Organisation, User, Verification
from ecosystem.permissions import ensure_verified_identity, is_verified_organisation
from ecosystem.scoring import Criterion, validate_scores, weighted_score
from ecosystem.services import audit
from ecosystem.settings import get_settings
from ecosystem.text import slugify
from incubator.documents import store_pdf
from incubator.forms import as_id
from incubator.models import (
    Application,
    ApplicationCall,
    ApplicationStatus,
    CallStatus,
    Cohort,
    Enrolment,
    Programme,
    ProgrammeRole,
    ProgrammeRoleKind,
    Recommendation,
    Review,
)
from incubator.permissions import (
    ensure_manager,
    programme_access,
    role_programme_ids,
    user_organisation_roles,
)
from incubator.services import texts
from incubator.services.startups import ensure_profile, is_startup_organisation

STATUS_LABELS = {
    "submitted": N_("Submitted"),
    "admitted": N_("Admitted"),
    "declined": N_("Declined"),
    "enrolled": N_("Enrolled"),
}
# The stages before a decision when a call names none; a call may rename, add or drop them.
DEFAULT_STAGES = (
    ("submitted", N_("Submitted")),
    ("in_review", N_("In review")),
    ("shortlisted", N_("Shortlisted")),
)
STAGE_LABELS = dict(DEFAULT_STAGES)
MAX_STAGES = 12
RECOMMENDATION_LABELS = {"admit": N_("Admit"), "maybe": N_("Maybe"), "decline": N_("Decline")}
CRITERION_LINE = re.compile(r"^(?P<label>.+?)\s*[|:]\s*(?P<weight>\d+(?:\.\d+)?)\s*$")


def _lines(raw: str) -> list[dict[str, str]]:
    items = []
    for line in raw.splitlines():
        label = line.strip()
        if label:
            items.append(
                {
                    "key": slugify(label, 30).replace("-", "_") or f"q{len(items)}",
                    "label": label[:300],
                }
            )
    return items


def parse_criteria(raw: str) -> list[dict[str, Any]]:
    """One criterion per line: `Team | 3` (label and relative weight), scored 1 to 5."""
    criteria = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        match = CRITERION_LINE.match(line.strip())
        if not match:
            raise Invalid(
                _("Please correct the highlighted fields."),
                {"criteria": _("One criterion per line, as: Team | 3")},
            )
        criteria.append(
            {
                "id": slugify(match["label"], 30).replace("-", "_"),
                "label": match["label"][:200],
                "weight": float(match["weight"]),
                "scale_min": 1,
                "scale_max": 5,
            }
        )
    try:
        rubric = [Criterion(c["id"], c["weight"], c["scale_min"], c["scale_max"]) for c in criteria]
        if (
            not rubric
            or len({c.id for c in rubric}) != len(rubric)
            or not any(c.weight > 0 for c in rubric)
        ):
            raise ValueError
    except ValueError as exc:
        raise Invalid(
            _("Please correct the highlighted fields."),
            {
                "criteria": _(
                    "Give at least one criterion with a positive weight; names must differ."
                )
            },
        ) from exc
    return criteria


def rubric_of(call: ApplicationCall) -> list[Criterion]:
    return [Criterion(c["id"], c["weight"], c["scale_min"], c["scale_max"]) for c in call.criteria]


def _call_texts(
    values: Mapping[str, Any], input_keys: Iterable[str] = ()
) -> tuple[str, dict[str, str], dict[str, dict[str, str]]]:
    return texts.read_texts(values, texts.CALL_TEXTS, "title", _("Give a title."), input_keys)


async def create_call(
    actor: User, programme: Programme, values: Mapping[str, Any], input_keys: Iterable[str] = ()
) -> ApplicationCall:
    """A call of `programme`: its title and description in one or more languages (`title` or
    `title__vi`, `title__en`, … with `content_locale`; see incubator.services.texts)."""
    await ensure_manager(actor, programme)
    errors: dict[str, str] = {}
    locale, own, translations = "vi", {}, {}
    try:
        locale, own, translations = _call_texts(values, input_keys)
    except Invalid as exc:
        errors.update(exc.fields)
    deadline = None
    if day := date_field(values, "deadline", errors):
        zone = ZoneInfo(get_settings().default_timezone)
        deadline = datetime.combine(day, time(23, 59, 59), tzinfo=zone).astimezone(UTC)
        if deadline <= timezone.now():
            errors["deadline"] = _("The deadline must be in the future.")
    try:
        criteria = parse_criteria(values.get("criteria", ""))
    except Invalid as exc:
        errors.update(exc.fields)
        criteria = []
    cohort_id = None
    if raw := values.get("cohort_id", "").strip():
        if as_id(raw) and await Cohort.exists(id=as_id(raw), programme_id=programme.id):
            cohort_id = as_id(raw)
        else:
            errors["cohort_id"] = _("Choose a cohort of this programme.")
    if errors:
        raise Invalid(_("Please correct the highlighted fields."), errors)
    call = await ApplicationCall.create(
        programme=programme,
        cohort_id=cohort_id,
        title=own["title"],
        description=own.get("description", ""),
        content_locale=locale,
        translations=translations,
        questions=_lines(values.get("questions", "")),
        documents=_lines(values.get("documents", "")),
        criteria=criteria,
        deadline=deadline,
        status=CallStatus.OPEN,
    )
    await audit.record("incubator.call_opened", actor=actor, target=programme, call=call.id)
    return call


async def update_call_texts(
    actor: User, call: ApplicationCall, values: Mapping[str, Any], input_keys: Iterable[str] = ()
) -> ApplicationCall:
    """The call's title and description in its languages (the programme's managers)."""
    await ensure_manager(actor, call.programme)
    locale, own, translations = _call_texts(values, input_keys)
    async with atomic():
        await ApplicationCall.filter(id=call.id).update(
            title=own["title"],
            description=own.get("description", ""),
            content_locale=locale,
            translations=translations,
        )
        await audit.record("incubator.call_texts", actor=actor, target=call.programme, call=call.id)
    call.title, call.description = own["title"], own.get("description", "")
    call.content_locale, call.translations = locale, translations
    return call


async def get_call(call_id: int) -> ApplicationCall:
    call = await ApplicationCall.get_or_none(id=call_id).select_related(
        "programme__organisation", "cohort"
    )
    if call is None:
        raise NotFound(_("There is no such call."))
    return call


def is_open(call: ApplicationCall, now: datetime | None = None) -> bool:
    return call.status == CallStatus.OPEN and call.deadline > (now or timezone.now())


async def open_calls() -> list[ApplicationCall]:
    """Open calls of published programmes (their host organisation is verified)."""
    return (
        await ApplicationCall.filter(
            status=CallStatus.OPEN,
            deadline__gt=timezone.now(),
            programme__organisation__verification=Verification.VERIFIED,
        )
        .select_related("programme__organisation")
        .order_by("deadline")
    )


async def apply(
    actor: User,
    call: ApplicationCall,
    startup_id: int,
    answers: dict[str, str],
    uploads: dict[str, Any],
) -> Application:
    ensure_verified_identity(actor)
    if not is_verified_organisation(call.programme.organisation):
        raise NotFound(_("There is no such call."))
    if not is_open(call):
        raise Conflict(_("This call is closed."))
    roles = await user_organisation_roles(actor)
    errors: dict[str, str] = {}
    if startup_id not in roles or not await is_startup_organisation(startup_id):
        errors["startup_id"] = _("Choose one of your startups.")
    clean = {}
    for question in call.questions:
        text = str(answers.get(question["key"], "")).strip()
        if not text:
            errors[f"q_{question['key']}"] = _("This field is required.")
        clean[question["key"]] = text[:5000]
    for document in call.documents:
        upload = uploads.get(document["key"])
        if upload is None or not getattr(upload, "filename", ""):
            errors[f"d_{document['key']}"] = _("Choose a PDF file to upload.")
    if "startup_id" not in errors and await Application.exists(
        call_id=call.id, startup_id=startup_id
    ):  # said before anything is re-typed or uploaded again
        raise Conflict(
            _("This startup has already applied to this call: open its application to edit it."),
            {"startup_id": _("This startup has already applied to this call.")},
        )
    if errors:
        raise Invalid(_("Please correct the highlighted fields."), errors)
    startup = await Organisation.get(id=startup_id)
    await ensure_profile(startup)
    stored = {}
    for document in call.documents:
        saved = await store_pdf(
            uploads[document["key"]], "application", startup_id, actor, f"d_{document['key']}"
        )
        stored[document["key"]] = str(saved.id)
    try:
        async with atomic():
            application = await Application.create(
                call=call,
                startup_id=startup_id,
                applicant=actor,
                answers=clean,
                documents=stored,
                stage=stages_of(call)[0]["key"],
            )
            await audit.record("incubator.applied", actor=actor, target=startup, call=call.id)
    except IntegrityError as exc:
        raise Conflict(_("This startup has already applied to this call.")) from exc
    return application


async def applications_by(call: ApplicationCall, startup_ids: list[int]) -> list[Application]:
    """These startups' applications to the call (an applicant's own, on the call's page)."""
    if not startup_ids:
        return []
    return (
        await Application.filter(call_id=call.id, startup_id__in=startup_ids)
        .select_related("startup", "call")
        .order_by("id")
    )


async def my_applications(startup_ids: list[int], limit: int = 20) -> list[Application]:
    """The latest applications of these startups, with their calls (the applicant's list)."""
    if not startup_ids:
        return []
    return (
        await Application.filter(startup_id__in=startup_ids)
        .select_related("startup", "call")
        .order_by("-id")
        .limit(limit)
    )


async def is_applicant(actor: User | None, application: Application) -> bool:
    """Is the person an active member of the startup that applied?"""
    return actor is not None and await Membership.exists(
        user_id=actor.id,
        organisation_id=application.startup_id,  # type: ignore[attr-defined]
        status=MembershipStatus.ACTIVE,
    )


def may_edit(application: Application, now: datetime | None = None) -> bool:
    """An application stays editable by its startup until the call closes or it is decided."""
    return application.status == ApplicationStatus.SUBMITTED and is_open(application.call, now)


async def edit_application(
    actor: User, application: Application, answers: dict[str, str]
) -> Application:
    """The startup's member changes the answers while the call is open and undecided."""
    ensure_verified_identity(actor)
    if not await is_applicant(actor, application):
        raise NotPermitted(_("Only the startup's members may edit its application."))
    if not may_edit(application):
        raise Conflict(_("This application can no longer be edited: the call is closed."))
    errors: dict[str, str] = {}
    clean = {}
    for question in application.call.questions:
        text = str(answers.get(question["key"], "")).strip()
        if not text:
            errors[f"q_{question['key']}"] = _("This field is required.")
        clean[question["key"]] = text[:5000]
    if errors:
        raise Invalid(_("Please correct the highlighted fields."), errors)
    async with atomic():
        updated = await Application.filter(
            id=application.id, status=ApplicationStatus.SUBMITTED
        ).update(answers=clean)
        if not updated:
            raise Conflict(_("This application can no longer be edited: the call is closed."))
        await audit.record(
            "incubator.application_edited",
            actor=actor,
            target=application,
            call=application.call.id,
        )
    application.answers = clean
    return application


async def applications_of(call: ApplicationCall) -> list[Application]:
    return (
        await Application.filter(call_id=call.id)
        .select_related("startup", "applicant")
        .prefetch_related("reviews__reviewer")
        .order_by("id")
    )


async def get_application(application_id: int) -> Application:
    application = (
        await Application.get_or_none(id=application_id)
        .select_related("startup", "applicant")
        .prefetch_related("call__programme__organisation", "call__cohort")
    )
    if application is None:
        raise NotFound(_("There is no such application."))
    return application


async def may_see_application(actor: User | None, application: Application) -> bool:
    if actor is None:
        return False
    access = await programme_access(actor, application.call.programme)
    if access.manager:
        return True
    if access.reviewer and await Review.exists(application_id=application.id, reviewer_id=actor.id):
        return True
    return await Membership.exists(
        user_id=actor.id,
        organisation_id=application.startup_id,
        status=MembershipStatus.ACTIVE,  # type: ignore[attr-defined]
    )


async def assign_reviewer(actor: User, application: Application, reviewer_id: int) -> None:
    await assign_reviewers(actor, application.call, [application.id], [reviewer_id or ""])


async def submit_review(
    actor: User, application: Application, scores: dict[str, Any], recommendation: str, comment: str
) -> Review:
    review = await Review.get_or_none(application_id=application.id, reviewer_id=actor.id)
    if review is None or not (await programme_access(actor, application.call.programme)).reviewer:
        raise NotPermitted(_("Only an assigned reviewer may review this application."))
    if application.status != ApplicationStatus.SUBMITTED:
        raise Conflict(_("This application has been decided."))
    rubric = rubric_of(application.call)
    numbers: dict[str, Any] = {}
    for key, value in scores.items():
        try:
            numbers[key] = int(value)
        except (TypeError, ValueError):
            numbers[key] = value
    problems = validate_scores(rubric, numbers)
    errors = {f"score_{key}": _("Give a score from 1 to 5.") for key in problems}
    if recommendation not in Recommendation.__members__.values():
        errors["recommendation"] = _("Choose one of the offered values.")
    if errors:
        raise Invalid(_("Please correct the highlighted fields."), errors)
    review.scores = numbers
    review.score = round(weighted_score(rubric, numbers), 2)
    review.recommendation = Recommendation(recommendation)
    review.comment = comment.strip()[:4000]
    review.submitted_at = timezone.now()
    await review.save()
    return review


def average_score(application: Application) -> float | None:
    scored = [r.score for r in application.reviews if r.score is not None]
    return round(sum(scored) / len(scored), 1) if scored else None


async def decide(actor: User, application: Application, admit: bool, message: str) -> Application:
    """Record the decision. Nothing is mailed yet: the manager previews the decision e-mails
    of the call and sends them (`send_decisions`); the applicant sees the decision then."""
    await ensure_manager(actor, application.call.programme)
    if application.status != ApplicationStatus.SUBMITTED:
        raise Conflict(_("This application has been decided."))
    async with atomic():
        updated = await Application.filter(
            id=application.id, status=ApplicationStatus.SUBMITTED
        ).update(
            status=ApplicationStatus.ADMITTED if admit else ApplicationStatus.DECLINED,
            decision_message=message.strip()[:4000],
            decided_at=timezone.now(),
        )
        if not updated:
            raise Conflict(_("This application has been decided."))
        await application.refresh_from_db()
        await audit.record(
            "incubator.application_decided", actor=actor, target=application, admit=admit
        )
    return application


# --- stages, bulk actions, decision e-mails -------------------------------------------------------


def stages_of(call: ApplicationCall) -> list[dict[str, str]]:
    """The call's stages before a decision, in order, each `{"key", "label"}` with the label
    in the viewer's language (a default stage is stored without a label and translated)."""
    stored = call.stages or [{"key": key, "label": ""} for key, _label in DEFAULT_STAGES]
    return [
        {"key": s["key"], "label": s.get("label") or label_in(STAGE_LABELS, s["key"])}
        for s in stored
    ]


def stage_label(call: ApplicationCall, key: str) -> str:
    for stage in stages_of(call):
        if stage["key"] == key:
            return stage["label"]
    return label_in(STAGE_LABELS, key)


def decision_announced(application: Application) -> bool:
    return application.status == ApplicationStatus.ENROLLED or (
        application.status != ApplicationStatus.SUBMITTED
        and application.decision_sent_at is not None
    )


def applicant_status(application: Application) -> tuple[str, str]:
    """What the applicant reads (code, label): the stage until the decision is sent, then
    the decision. A decision not yet e-mailed stays the programme's own business."""
    if decision_announced(application):
        return application.status.value, label_in(STATUS_LABELS, application.status)
    return "stage", stage_label(application.call, application.stage)


def parse_stages(raw: str) -> list[dict[str, str]]:
    """One stage per line, in order. A line naming a default stage (its key, or its label in
    English or in the viewer's language) keeps that stage, translated for every reader."""
    known = {}
    for key, msgid in DEFAULT_STAGES:
        for name in (key, msgid, _(msgid)):
            known[" ".join(name.split()).casefold()] = key
    stages: list[dict[str, str]] = []
    for line in raw.splitlines():
        text = " ".join(line.split())[:60]
        if not text:
            continue
        key = known.get(text.casefold())
        if key:
            stages.append({"key": key, "label": ""})
        else:
            key = slugify(text, 30).replace("-", "_")
            stages.append({"key": key, "label": text})
    keys = [s["key"] for s in stages]
    if not stages:
        message = _("Give at least one stage, one per line.")
    elif len(stages) > MAX_STAGES:
        message = _("At most %(num)d stages.", num=MAX_STAGES)
    elif len(set(keys)) != len(keys):
        message = _("Each stage needs a different name.")
    else:
        return stages
    raise Invalid(_("Please correct the highlighted fields."), {"stages": message})


async def set_stages(actor: User, call: ApplicationCall, raw: str) -> ApplicationCall:
    """The manager names the call's stages. A stage that still holds an undecided application
    cannot be dropped (move those applications first)."""
    await ensure_manager(actor, call.programme)
    stages = parse_stages(raw)
    keys = {s["key"] for s in stages}
    in_use = await (
        Application.filter(call_id=call.id, status=ApplicationStatus.SUBMITTED)
        .exclude(stage__in=list(keys))
        .distinct()
        .values_list("stage", flat=True)
    )
    if in_use:
        raise Invalid(
            _("Please correct the highlighted fields."),
            {
                "stages": _(
                    "Applications are still in %(stages)s: move them to another stage first.",
                    stages=", ".join(stage_label(call, k) for k in sorted(in_use)),
                )
            },
        )
    defaults = [{"key": key, "label": ""} for key, _label in DEFAULT_STAGES]
    call.stages = [] if stages == defaults else stages
    await ApplicationCall.filter(id=call.id).update(stages=call.stages)
    await audit.record("incubator.call_stages", actor=actor, target=call, stages=sorted(keys))
    return call


def _chosen_ids(raw_ids: list[Any], field: str, message: str) -> list[int]:
    """Ids ticked in a form: at least one, each a positive whole number."""
    ids = [as_id(str(raw)) for raw in raw_ids]
    if not ids or not all(ids):
        raise Invalid(_("Please correct the highlighted fields."), {field: message})
    return sorted(set(ids))


async def _applications_in(call: ApplicationCall, raw_ids: list[Any]) -> list[Application]:
    ids = _chosen_ids(raw_ids, "application_id", _("Select at least one application."))
    found = await Application.filter(call_id=call.id, id__in=ids)
    if len(found) != len(ids):
        raise Invalid(
            _("Please correct the highlighted fields."),
            {"application_id": _("Select applications to this call only.")},
        )
    return found


async def move_to_stage(
    actor: User, call: ApplicationCall, application_ids: list[Any], stage: str
) -> tuple[int, int]:
    """Move the selected undecided applications to a stage of the call. Returns (moved,
    kept): a decided application keeps its decision and is not moved."""
    await ensure_manager(actor, call.programme)
    if stage not in {s["key"] for s in stages_of(call)}:
        raise Invalid(
            _("Please correct the highlighted fields."),
            {"stage": _("Choose one of the call's stages.")},
        )
    chosen = await _applications_in(call, application_ids)
    async with atomic():
        moved = await Application.filter(
            id__in=[a.id for a in chosen], status=ApplicationStatus.SUBMITTED
        ).update(stage=stage)
        await audit.record(
            "incubator.applications_moved", actor=actor, target=call, stage=stage, count=moved
        )
    return moved, len(chosen) - moved


async def assign_reviewers(
    actor: User, call: ApplicationCall, application_ids: list[Any], reviewer_ids: list[Any]
) -> int:
    """Give each selected application each selected reviewer (of this programme). Returns
    the number of new assignments; an existing one is kept as it is (its scores too). An
    application still at the default first stage moves on to "in review"."""
    await ensure_manager(actor, call.programme)
    reviewers = _chosen_ids(reviewer_ids, "reviewer_id", _("Select at least one reviewer."))
    allowed = set(
        await ProgrammeRole.filter(
            programme_id=call.programme_id,  # type: ignore[attr-defined]
            user_id__in=reviewers,
            role=ProgrammeRoleKind.REVIEWER,
        ).values_list("user_id", flat=True)
    )
    if allowed != set(reviewers):
        raise Invalid(
            _("Please correct the highlighted fields."),
            {"reviewer_id": _("Choose a reviewer of this programme.")},
        )
    chosen = await _applications_in(call, application_ids)
    ids = [a.id for a in chosen]
    async with atomic():
        existing = set(
            await Review.filter(application_id__in=ids, reviewer_id__in=reviewers).values_list(
                "application_id", "reviewer_id"
            )
        )
        new = [
            Review(application_id=a, reviewer_id=r)
            for a in ids
            for r in reviewers
            if (a, r) not in existing
        ]
        if new:
            await Review.bulk_create(new)
        if "in_review" in {s["key"] for s in stages_of(call)}:
            await (
                Application.filter(
                    id__in=ids, status=ApplicationStatus.SUBMITTED, stage=stages_of(call)[0]["key"]
                )
                .exclude(stage="in_review")
                .update(stage="in_review")
            )
        await audit.record("incubator.reviewers_assigned", actor=actor, target=call, count=len(new))
    return len(new)


async def _recipient(application: Application) -> User | None:
    """Who receives the decision: the person who applied, while still an active member of
    the startup; else its longest-standing active owner, else member."""
    members = (
        await Membership.filter(
            organisation_id=application.startup_id,  # type: ignore[attr-defined]
            status=MembershipStatus.ACTIVE,
        )
        .select_related("user")
        .order_by("id")
    )
    for membership in members:
        if membership.user_id == application.applicant_id:  # type: ignore[attr-defined]
            return membership.user
    owners = [m for m in members if m.role == "owner"]
    return (owners or members)[0].user if members else None


def _mail_context(application: Application) -> dict[str, Any]:
    return {"application": application, "call": application.call, "startup": application.startup}


async def pending_decisions(actor: User, call: ApplicationCall) -> list[dict[str, Any]]:
    """The decisions of the call not yet e-mailed, each with its recipient and the message
    exactly as it will be sent (in the recipient's language): the manager's preview."""
    await ensure_manager(actor, call.programme)
    waiting = (
        await Application.filter(
            call_id=call.id,
            status__in=[ApplicationStatus.ADMITTED, ApplicationStatus.DECLINED],
            decision_sent_at__isnull=True,
        )
        .select_related("startup")
        .order_by("id")
    )
    previews = []
    for application in waiting:
        application.call = call
        recipient = await _recipient(application)
        subject = text = ""
        if recipient is not None:
            subject, text, _unused = mail.render_mail(
                "incubator_application_decided", _mail_context(application), recipient.locale
            )
        previews.append(
            {"application": application, "to": recipient, "subject": subject, "text": text}
        )
    return previews


async def send_decisions(actor: User, call: ApplicationCall, application_ids: list[Any]) -> int:
    """E-mail the previewed decisions: one message per application, to its recipient, and
    never twice – each application is claimed (`decision_sent_at` set where it was empty)
    in the transaction that writes its message, so a second click or a concurrent sender
    finds nothing left to send. Returns the number of messages written."""
    await ensure_manager(actor, call.programme)
    chosen = await _applications_in(call, application_ids)
    sent = 0
    for application in chosen:
        application.call = call
        recipient = await _recipient(application)
        if recipient is None:
            continue
        async with atomic():
            claimed = await Application.filter(
                id=application.id,
                status__in=[ApplicationStatus.ADMITTED, ApplicationStatus.DECLINED],
                decision_sent_at__isnull=True,
            ).update(decision_sent_at=timezone.now())
            if not claimed:
                continue
            await application.refresh_from_db()
            await application.fetch_related("startup")
            await mail.send_mail(
                recipient.email,
                "incubator_application_decided",
                _mail_context(application),
                recipient.locale,
                timezone=recipient.timezone,
            )
            await audit.record(
                "incubator.decision_sent", actor=actor, target=application, to=recipient.id
            )
            sent += 1
    return sent


async def enrol_admitted(actor: User, application: Application, cohort: Cohort) -> Enrolment:
    await ensure_manager(actor, application.call.programme)
    if cohort.programme_id != application.call.programme_id:  # type: ignore[attr-defined]
        raise Invalid(
            _("Choose a cohort of this programme."),
            {"cohort_id": _("Choose a cohort of this programme.")},
        )
    if application.status not in (ApplicationStatus.ADMITTED, ApplicationStatus.ENROLLED):
        raise Conflict(_("Only admitted startups can be enrolled."))
    access = await programme_access(actor, application.call.programme)
    if not access.can_offer:
        raise NotPermitted(
            _(
                "The programme's organisation is not verified yet: "
                "it cannot offer places to startups."
            )
        )
    from incubator.services.enrolments import enrol_admitted_application
    from incubator.services.reports import local_today

    async with atomic():
        enrolment = await enrol_admitted_application(actor, application, cohort, local_today())
        await Application.filter(id=application.id).update(status=ApplicationStatus.ENROLLED)
    return enrolment


async def reviews_for(user: User) -> list[Review]:
    programme_ids = await role_programme_ids(user, ProgrammeRoleKind.REVIEWER)
    if not programme_ids:
        return []
    return (
        await Review.filter(
            reviewer_id=user.id,
            submitted_at__isnull=True,
            application__call__programme_id__in=list(programme_ids),
        )
        .select_related("application__startup", "application__call")
        .order_by("id")
    )
