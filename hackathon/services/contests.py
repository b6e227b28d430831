"""Contests: creation, phases, per-site deadlines, roles (organisers and judges).

Deadlines are wall-clock times. A contest stores each deadline as an instant in its own
time zone (`Contest.timezone`); every site closes at the same wall-clock time in the site's
own zone: "submissions close at 17:00" means 17:00 in Hồ Chí Minh City for the Vietnamese
site and 17:00 in Seoul (two hours earlier) for the Korean one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from tortoise import timezone
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from ecosystem.db import atomic
from ecosystem.errors import Conflict, Invalid, NotFound, NotPermitted
from ecosystem.i18n import _
from ecosystem.inputs import whole_number
from ecosystem.labels import N_
from ecosystem.models import Organisation, Role, User, Verification
from ecosystem.permissions import (
    ensure_verified_identity,
    ensure_verified_organisation,
    role_in,
)
from ecosystem.services import audit
from ecosystem.services.accounts import verified_account_for_role
from hackathon import permissions
from hackathon.models import (
    Contest,
    ContestRole,
    ContestRoleKind,
    Criterion,
    Phase,
    Prize,
    Round,
    Site,
    Track,
)
from hackathon.schemas import ContestIn, CriterionIn, stored_translations

DEFAULT_RUBRIC = (
    CriterionIn(
        code="impact",
        name="Tác động",
        weight=3,
        description="Giá trị mang lại cho người dân trong tỉnh",
        content_locale="vi",
        translations={
            "en": {"name": "Impact", "description": "Value for the province's people"},
            "ko": {"name": "영향력", "description": "지역 주민에게 주는 가치"},
        },
    ),
    CriterionIn(
        code="innovation",
        name="Sáng tạo",
        weight=2,
        description="Tính mới của ý tưởng",
        content_locale="vi",
        translations={
            "en": {"name": "Innovation", "description": "Originality of the idea"},
            "ko": {"name": "혁신성", "description": "아이디어의 독창성"},
        },
    ),
    CriterionIn(
        code="feasibility",
        name="Khả thi",
        weight=2,
        description="Có thể xây dựng và vận hành được không?",
        content_locale="vi",
        translations={
            "en": {"name": "Feasibility", "description": "Can it be built and run?"},
            "ko": {"name": "실현 가능성", "description": "실제로 만들고 운영할 수 있습니까?"},
        },
    ),
    CriterionIn(
        code="presentation",
        name="Trình bày",
        weight=1,
        description="Rõ ràng, thuyết phục",
        content_locale="vi",
        translations={
            "en": {"name": "Presentation", "description": "Clarity of the pitch"},
            "ko": {"name": "발표", "description": "발표의 명확성과 설득력"},
        },
    ),
)


def content_of(item, default_locale: str) -> dict:
    """The columns of a track, prize or criterion input: its plain fields, its language (the
    contest's unless it says its own) and its other languages' texts as stored."""
    return {
        **item.model_dump(exclude={"translations", "content_locale"}),
        "content_locale": item.content_locale or default_locale,
        "translations": stored_translations(item.translations),
    }


def check_translations(data) -> None:
    """A text's main language goes in the plain fields: `translations` may not repeat it
    (422, the contest's or an item's `translations` named)."""
    message = _("The main language's text goes in the plain fields, not in translations.")
    if data.content_locale in data.translations:
        raise Invalid(message, fields={"translations": message})
    for name in ("tracks", "prizes", "criteria"):
        for item in getattr(data, name):
            if (item.content_locale or data.content_locale) in item.translations:
                raise Invalid(message, fields={name: message})


def site_deadline(contest: Contest, site: Site, instant: datetime) -> datetime:
    """The same wall-clock time as `instant` (in the contest's zone) in the site's zone."""
    wall = instant.astimezone(ZoneInfo(contest.timezone)).replace(tzinfo=None)
    return wall.replace(tzinfo=ZoneInfo(site.timezone))


def latest_deadline(contest: Contest, sites: list[Site], instant: datetime) -> datetime:
    if not sites:
        return instant
    return max(site_deadline(contest, site, instant) for site in sites)


def phase_of(contest: Contest, sites: list[Site], now: datetime) -> Phase:
    """registration → submission → judging → results (results once published)."""
    if contest.results_published_at is not None:
        return Phase.RESULTS
    if now < latest_deadline(contest, sites, contest.registration_closes_at):
        return Phase.REGISTRATION
    if now < latest_deadline(contest, sites, contest.submission_closes_at):
        return Phase.SUBMISSION
    return Phase.JUDGING


@dataclass
class ContestView:
    contest: Contest
    sites: list[Site]
    tracks: list[Track]
    phase: Phase


async def list_contests() -> list[ContestView]:
    """Every public contest (see `visible_contest`), newest deadline first, with its sites and
    tracks (three queries)."""
    contests = await Contest.filter(_public_filter()).order_by("-submission_closes_at", "id")
    ids = [contest.id for contest in contests]
    sites = await Site.filter(contest_id__in=ids).order_by("id") if ids else []
    tracks = await Track.filter(contest_id__in=ids).order_by("position", "id") if ids else []
    now = timezone.now()
    views = []
    for contest in contests:
        own_sites = [s for s in sites if s.contest_id == contest.id]  # type: ignore[attr-defined]
        own_tracks = [t for t in tracks if t.contest_id == contest.id]  # type: ignore[attr-defined]
        views.append(ContestView(contest, own_sites, own_tracks, phase_of(contest, own_sites, now)))
    return views


async def get_contest(contest_id: int | str) -> Contest:
    """By id (an int or digits) or slug; NotFound otherwise."""
    contest = None
    if isinstance(contest_id, int) or str(contest_id).isdigit():
        if (number := whole_number(contest_id)) is not None:
            contest = await Contest.get_or_none(id=number)
    else:
        contest = await Contest.get_or_none(slug=str(contest_id)[:80])
    if contest is None:
        raise NotFound(_("This contest does not exist."))
    return contest


async def contest_view(contest: Contest) -> ContestView:
    sites = await Site.filter(contest_id=contest.id).order_by("id")
    tracks = await Track.filter(contest_id=contest.id).order_by("position", "id")
    return ContestView(contest, sites, tracks, phase_of(contest, sites, timezone.now()))


async def current_round(contest: Contest) -> Round:
    found = await Round.filter(contest_id=contest.id).order_by("-number").first()
    if found is None:
        raise NotFound(_("This contest has no judging round."))
    return found


async def criteria_of(round_: Round) -> list[Criterion]:
    return await Criterion.filter(round_id=round_.id).order_by("position", "id")


def _check_dates(data: ContestIn) -> None:
    if not data.registration_closes_at <= data.submission_closes_at <= data.judging_closes_at:
        raise Invalid(
            _("Registration must close before submissions, and submissions before judging."),
            fields={"submission_closes_at": _("Check the order of the deadlines.")},
        )
    if data.team_min > data.team_max:
        raise Invalid(
            _("The smallest team cannot be larger than the largest."),
            fields={"team_min": _("At most the largest team size.")},
        )
    for criterion in data.criteria:
        if criterion.scale_max <= criterion.scale_min:
            raise Invalid(
                _("A scale must go from a lower to a higher number."),
                fields={"criteria": criterion.code},
            )
    if data.criteria and not any(c.weight > 0 for c in data.criteria):
        raise Invalid(_("At least one criterion needs a positive weight."))
    for name, items in (("sites", data.sites), ("tracks", data.tracks)):
        codes = [item.code for item in items]
        if len(set(codes)) != len(codes):
            raise Invalid(_("Codes must be unique."), fields={name: _("Codes must be unique.")})


async def _may_create(actor: User, organisation_id: int | None) -> None:
    """A verified account, admin of the organising organisation (platform admins may also run
    a contest of the platform itself). A pending organisation prepares its contest as a draft:
    only its members and organisers see it until a platform admin verifies the organisation;
    a rejected one cannot create any."""
    ensure_verified_identity(actor)
    if actor.is_platform_admin:
        return
    if organisation_id is None:
        raise NotPermitted(_("Create a contest on behalf of an organisation you administer."))
    role = await role_in(actor, organisation_id)
    if role is None or role.rank < Role.ADMIN.rank:
        raise NotPermitted(_("Create a contest on behalf of an organisation you administer."))
    organisation = await Organisation.get(id=organisation_id)
    if organisation.verification not in (Verification.VERIFIED, Verification.PENDING):
        ensure_verified_organisation(organisation)


def _public_filter() -> Q:
    """Contests everyone sees: the platform's own, or an organisation's that is verified."""
    return Q(organisation_id__isnull=True) | Q(organisation__verification=Verification.VERIFIED)


def public_contests() -> Q:
    """The filter of contests everyone sees (lists, open indicators)."""
    return _public_filter()


async def pending_publications(organisation_ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
    """The contests that organisations not verified yet wait to publish (the admin's
    verification page): every contest they organise is a draft until then (one query)."""
    found: dict[int, list[tuple[str, str]]] = {}
    rows = (
        await Contest.filter(organisation_id__in=list(organisation_ids))
        .order_by("title", "id")
        .values_list("organisation_id", "title")
    )
    for organisation_id, title in rows:
        found.setdefault(organisation_id, []).append((_("Contest"), title))
    return found


async def is_public(contest: Contest) -> bool:
    return await Contest.filter(_public_filter(), id=contest.id).exists()


async def visible_contest(actor: User | None, contest_id: int | str) -> Contest:
    """A contest as the public pages and API show it: one of a pending (or rejected)
    organisation is a draft, seen only by its organisers, the organisation's members and
    platform admins; everyone else gets 404."""
    contest = await get_contest(contest_id)
    if await is_public(contest):
        return contest
    if actor is not None and actor.is_active and actor.is_platform_admin:
        return contest
    if await permissions.is_organiser(actor, contest):
        return contest
    if actor is not None and await role_in(actor, contest.organisation_id) is not None:  # type: ignore[attr-defined]
        return contest
    raise NotFound(_("This contest does not exist."))


async def create_contest(actor: User, data: ContestIn) -> Contest:
    """A contest with its sites, tracks, prizes and first round; the actor organises it."""
    _check_dates(data)
    check_translations(data)
    await _may_create(actor, data.organisation_id)
    if data.organisation_id and not await Organisation.exists(id=data.organisation_id):
        raise Invalid(_("This organisation does not exist."), fields={"organisation_id": "?"})
    track_codes = {track.code for track in data.tracks}
    for prize in data.prizes:
        if prize.track is not None and prize.track not in track_codes:
            raise Invalid(_("A prize names an unknown track."), fields={"prizes": prize.track})
    try:
        async with atomic():
            contest = await Contest.create(
                slug=data.slug,
                title=data.title,
                kind=data.kind,
                description=data.description,
                eligibility=data.eligibility,
                content_locale=data.content_locale,
                translations=stored_translations(data.translations),
                organisation_id=data.organisation_id,
                timezone=data.timezone,
                team_min=data.team_min,
                team_max=data.team_max,
                registration_closes_at=data.registration_closes_at,
                submission_closes_at=data.submission_closes_at,
                judging_closes_at=data.judging_closes_at,
                blind=data.blind,
                judging_mode=data.judging_mode,
                require_site=data.require_site,
                require_language=data.require_language,
            )
            await Site.bulk_create(
                [Site(contest_id=contest.id, **site.model_dump()) for site in data.sites]
            )
            await Track.bulk_create(
                [
                    Track(
                        contest_id=contest.id,
                        position=i,
                        **content_of(track, data.content_locale),
                    )
                    for i, track in enumerate(data.tracks)
                ]
            )
            tracks = {t.code: t.id for t in await Track.filter(contest_id=contest.id)}
            await Prize.bulk_create(
                [
                    Prize(
                        contest_id=contest.id,
                        track_id=tracks[p.track] if p.track else None,
                        **{
                            k: v
                            for k, v in content_of(p, data.content_locale).items()
                            if k != "track"
                        },
                    )
                    for p in data.prizes
                ]
            )
            await add_round(
                contest,
                1,
                N_("First round"),
                data.judges_per_entry,
                data.load_cap,
                list(data.criteria) or list(DEFAULT_RUBRIC),
            )
            await ContestRole.create(
                contest_id=contest.id, user_id=actor.id, role=ContestRoleKind.ORGANISER
            )
            await audit.record("contest.created", actor=actor, target=contest)
    except IntegrityError as exc:
        raise Conflict(
            _("A contest with this address already exists."), fields={"slug": data.slug}
        ) from exc
    return contest


async def add_round(
    contest: Contest,
    number: int,
    name: str,
    judges_per_entry: int,
    load_cap: int,
    criteria: list[CriterionIn],
    shortlist_size: int | None = None,
) -> Round:
    round_ = await Round.create(
        contest_id=contest.id,
        number=number,
        name=name,
        judges_per_entry=judges_per_entry,
        load_cap=load_cap,
        shortlist_size=shortlist_size,
    )
    await Criterion.bulk_create(
        [
            Criterion(
                round_id=round_.id, position=i, **content_of(criterion, contest.content_locale)
            )
            for i, criterion in enumerate(criteria)
        ]
    )
    return round_


async def update_settings(
    actor: User,
    contest: Contest,
    *,
    judges_per_entry: int,
    load_cap: int,
    blind: bool,
    require_site: bool,
    require_language: bool,
) -> Round:
    await permissions.ensure(actor, "contest.manage", contest)
    if not 1 <= judges_per_entry <= 50:
        raise Invalid(
            _("Judges per entry must be between 1 and 50."),
            fields={"judges_per_entry": _("Between 1 and 50.")},
        )
    if not 1 <= load_cap <= 10_000:
        raise Invalid(
            _("The load cap must be between 1 and 10000."),
            fields={"load_cap": _("Between 1 and 10000.")},
        )
    round_ = await current_round(contest)
    async with atomic():
        round_.judges_per_entry = judges_per_entry
        round_.load_cap = load_cap
        await round_.save(update_fields=["judges_per_entry", "load_cap"])
        contest.blind = blind
        contest.require_site = require_site
        contest.require_language = require_language
        await contest.save(update_fields=["blind", "require_site", "require_language"])
        await audit.record("contest.settings", actor=actor, target=contest)
    return round_


async def add_judge(
    actor: User,
    contest: Contest,
    email: str,
    site_code: str = "",
    languages: str = "vi,en",
) -> ContestRole:
    """Make an existing account a judge of the contest (again, if it had dropped out)."""
    await permissions.ensure(actor, "contest.manage", contest)
    user = await verified_account_for_role(email)
    site = None
    if site_code:
        site = await Site.get_or_none(contest_id=contest.id, code=site_code)
        if site is None:
            raise Invalid(_("Unknown site."), fields={"site": _("Unknown site.")})
    langs = ",".join(sorted({part.strip() for part in languages.split(",") if part.strip()}))
    async with atomic():
        role, created = await ContestRole.get_or_create(
            contest_id=contest.id,
            user_id=user.id,
            role=ContestRoleKind.JUDGE,
            defaults={"site_id": site.id if site else None, "languages": langs or "vi"},
        )
        if not created:
            role.active = True
            role.site_id = site.id if site else None  # type: ignore[attr-defined]
            role.languages = langs or role.languages
            await role.save(update_fields=["active", "site_id", "languages"])
        await audit.record("contest.judge_added", actor=actor, target=contest, user_id=user.id)
    return role


async def add_organiser(actor: User, contest: Contest, email: str) -> ContestRole:
    await permissions.ensure(actor, "contest.manage", contest)
    user = await verified_account_for_role(email)
    role, _created = await ContestRole.get_or_create(
        contest_id=contest.id, user_id=user.id, role=ContestRoleKind.ORGANISER
    )
    return role


async def judges_of(contest: Contest, *, active_only: bool = True) -> list[ContestRole]:
    query = ContestRole.filter(contest_id=contest.id, role=ContestRoleKind.JUDGE)
    if active_only:
        query = query.filter(active=True)
    return await query.select_related("user", "site").order_by("user__full_name", "id")


async def roles_of(user: User | None, contest: Contest) -> set[str]:
    """The user's roles on the contest: "organiser", "judge" (for showing controls)."""
    roles: set[str] = set()
    if user is None:
        return roles
    if await permissions.is_organiser(user, contest):
        roles.add("organiser")
    if await permissions.is_judge(user, contest):
        roles.add("judge")
    return roles
