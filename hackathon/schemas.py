"""Pydantic shapes of the contests' inputs and outputs, shared by the API and HTML edges.

Datetimes are ISO 8601 with a UTC offset both ways (a time without one is refused, 422).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field, HttpUrl, field_validator
from pydantic_core import PydanticCustomError

from ecosystem.inputs import known_zone, zone_message
from ecosystem.schemas import Input, Output
from hackathon.models import ContestKind, JudgingMode

MAX_TEXT = 10_000
LANGUAGES = ("vi", "en", "ko")
# the languages of content (ecosystem.content.CONTENT_LOCALES)
ContentLocale = Literal["vi", "en", "ko"]


def _zone(value: str) -> str:
    if known_zone(value) is None:
        raise PydanticCustomError("unusable_value", "{reason}", {"reason": zone_message()})
    return value


# --- inputs ------------------------------------------------------------------------------


class ContestTextsIn(Input):
    """A contest's texts in one other language (`translations`); blank ones are left out."""

    title: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=MAX_TEXT)
    eligibility: str = Field(default="", max_length=MAX_TEXT)


class NamedTextsIn(Input):
    """A track's or a criterion's texts in one other language."""

    name: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=2000)


class NameTextIn(Input):
    """A prize's name in one other language."""

    name: str = Field(default="", max_length=200)


def stored_translations(translations: Mapping[str, BaseModel]) -> dict[str, dict[str, str]]:
    """`translations` as stored (ecosystem.content): blank texts and empty languages dropped."""
    stored: dict[str, dict[str, str]] = {}
    for locale, texts in translations.items():
        kept = {name: value for name, value in texts.model_dump().items() if value}
        if kept:
            stored[locale] = kept
    return stored


class SiteIn(Input):
    code: str = Field(min_length=1, max_length=16, pattern=r"^[a-z0-9-]+$")
    name: str = Field(min_length=1, max_length=200)
    timezone: str = Field(default="Asia/Ho_Chi_Minh", max_length=64)
    language: str = Field(default="vi", pattern=r"^(vi|en|ko)$")
    country: str = Field(default="VN", min_length=2, max_length=2)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _zone(value)


class TrackIn(Input):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9-]+$")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    content_locale: ContentLocale | None = Field(
        default=None, description="The language of its texts; none: the contest's"
    )
    translations: dict[ContentLocale, NamedTextsIn] = Field(default_factory=dict)


class PrizeIn(Input):
    name: str = Field(min_length=1, max_length=200)
    track: str | None = Field(default=None, description="Track code; none for the public vote")
    rank: int = Field(default=1, ge=1, le=100)
    amount: int = Field(default=0, ge=0, le=10**13)
    currency: str = Field(default="VND", min_length=3, max_length=3)
    public_vote: bool = False
    content_locale: ContentLocale | None = Field(
        default=None, description="The language of its texts; none: the contest's"
    )
    translations: dict[ContentLocale, NameTextIn] = Field(default_factory=dict)


class CriterionIn(Input):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    weight: float = Field(default=1.0, ge=0, le=1000)
    scale_min: int = Field(default=0, ge=-1000, le=1000)
    scale_max: int = Field(default=10, ge=-1000, le=1000)
    step: float = Field(default=0.5, ge=0.01, le=1000, description="Scores are multiples of it")
    content_locale: ContentLocale | None = Field(
        default=None, description="The language of its texts; none: the contest's"
    )
    translations: dict[ContentLocale, NamedTextsIn] = Field(default_factory=dict)


class ContestIn(Input):
    slug: str = Field(min_length=2, max_length=80, pattern=r"^[a-z0-9-]+$")
    title: str = Field(min_length=2, max_length=200)
    kind: ContestKind = ContestKind.HACKATHON
    description: str = Field(default="", max_length=MAX_TEXT)
    eligibility: str = Field(default="", max_length=MAX_TEXT)
    content_locale: ContentLocale = Field(
        default="vi",
        description="The language of title, description, eligibility and the "
        "names of tracks, prizes and criteria",
    )
    translations: dict[ContentLocale, ContestTextsIn] = Field(default_factory=dict)
    organisation_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    timezone: str = Field(default="Asia/Ho_Chi_Minh", max_length=64)
    team_min: int = Field(default=1, ge=1, le=50)
    team_max: int = Field(default=5, ge=1, le=50)
    registration_closes_at: AwareDatetime
    submission_closes_at: AwareDatetime
    judging_closes_at: AwareDatetime
    blind: bool = False
    judging_mode: JudgingMode = JudgingMode.RUBRIC
    require_site: bool = False
    require_language: bool = False
    judges_per_entry: int = Field(default=3, ge=1, le=50)
    load_cap: int = Field(default=20, ge=1, le=10_000)
    sites: list[SiteIn] = Field(min_length=1, max_length=20)
    tracks: list[TrackIn] = Field(min_length=1, max_length=50)
    prizes: list[PrizeIn] = Field(default_factory=list, max_length=200)
    criteria: list[CriterionIn] = Field(default_factory=list, max_length=30)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _zone(value)


class ContestEditIn(Input):
    """What an organiser may change after creation (`hackathon.services.editing`). An empty
    `criteria` list leaves the rubric as it is."""

    title: str = Field(min_length=2, max_length=200)
    description: str = Field(default="", max_length=MAX_TEXT)
    eligibility: str = Field(default="", max_length=MAX_TEXT)
    content_locale: ContentLocale = "vi"
    translations: dict[ContentLocale, ContestTextsIn] = Field(default_factory=dict)
    registration_closes_at: AwareDatetime
    submission_closes_at: AwareDatetime
    judging_closes_at: AwareDatetime
    tracks: list[TrackIn] = Field(min_length=1, max_length=50)
    prizes: list[PrizeIn] = Field(default_factory=list, max_length=200)
    criteria: list[CriterionIn] = Field(default_factory=list, max_length=30)


class TeamIn(Input):
    name: str = Field(min_length=2, max_length=200)
    site: str = Field(min_length=1, max_length=16)
    track: str = Field(min_length=1, max_length=32)
    organisation_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


class LinkIn(Input):
    name: str = Field(min_length=1, max_length=200)
    url: HttpUrl


class SubmissionIn(Input):
    title: str = Field(min_length=2, max_length=200)
    summary: str = Field(default="", max_length=MAX_TEXT)
    problem: str = Field(default="", max_length=MAX_TEXT)
    solution: str = Field(default="", max_length=MAX_TEXT)
    # A link, or null / absent for none: an empty string is not a URL (422), as the schema
    # says. The HTML form sends blank fields; its route turns them into None first.
    repository_url: HttpUrl | None = None
    demo_url: HttpUrl | None = None
    video_url: HttpUrl | None = None
    attachments: list[LinkIn] = Field(default_factory=list, max_length=20)
    team_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


class ScoresIn(Input):
    scores: dict[str, float | int] = Field(max_length=50)
    comment: str = Field(default="", max_length=MAX_TEXT)
    private_comment: str = Field(default="", max_length=MAX_TEXT)


class ComparisonIn(Input):
    winner_id: int = Field(ge=1, le=2**31 - 1)
    loser_id: int = Field(ge=1, le=2**31 - 1)


class VoteIn(Input):
    submission_id: int = Field(ge=1, le=2**31 - 1)


class PublishIn(Input):
    confirm: str = Field(
        min_length=1, max_length=64, description="The token of the preview being confirmed"
    )


# --- outputs -----------------------------------------------------------------------------


class SiteOut(Output):
    id: int
    code: str
    name: str
    timezone: str
    language: str
    country: str
    submission_closes_at: datetime


class TrackOut(Output):
    id: int
    code: str
    name: str = Field(description="In the reader's language, else its fallback")
    translations: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="Every language's texts, the main one included"
    )


class ContestOut(Output):
    id: int
    slug: str
    title: str = Field(description="In the reader's language, else its fallback")
    content_locale: str = "vi"
    translations: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="Every language's texts, the main one included"
    )
    kind: str
    sites: list[SiteOut]
    tracks: list[TrackOut]
    phase: str
    blind: bool
    judging_mode: str
    registration_closes_at: datetime
    submission_closes_at: datetime
    judging_closes_at: datetime
    results_published_at: datetime | None
    url: str


class ContestListOut(Output):
    items: list[ContestOut]


class SubmissionOut(Output):
    id: int
    contest_id: int
    team_id: int
    title: str
    summary: str
    problem: str
    solution: str
    repository_url: str
    demo_url: str
    video_url: str
    version: int
    updated_at: datetime


class CriterionOut(Output):
    id: int
    code: str
    name: str
    description: str
    weight: float
    scale_min: int
    scale_max: int
    step: float


class AssignedEntryOut(Output):
    """A judge's assigned entry; no team name or member in blind mode."""

    submission_id: int
    contest_id: int
    round: int
    title: str
    summary: str
    track: str
    site: str
    team: str | None
    completed: bool
    scores: dict[str, float]
    criteria: list[CriterionOut]


class AssignmentListOut(Output):
    items: list[AssignedEntryOut]
    done: int
    total: int


class ScoreSheetOut(Output):
    submission_id: int
    scores: dict[str, float]
    weighted: float | None
    completed: bool
    done: int
    total: int


class RankedOut(Output):
    rank: int
    submission_id: int
    title: str
    team: str
    track: str
    site: str
    calibrated: float
    low: float
    high: float
    plain_mean: float
    n_scores: int
    tied_with_next: bool


class WinnerOut(Output):
    prize: str
    track: str | None
    rank: int
    submission_id: int
    title: str
    team: str


class ResultsOut(Output):
    contest_id: int
    published_at: datetime
    results_hash: str
    overall: list[RankedOut]
    by_track: dict[str, list[RankedOut]]
    winners: list[WinnerOut]


class PublicationPreviewOut(Output):
    """What publishing would do now; nothing is written until `token` is confirmed."""

    contest_id: int
    token: str
    overall: list[RankedOut]
    winners: list[WinnerOut]
    emails: dict[str, int]
    unscored: list[int]


class VoteOut(Output):
    id: int
    submission_id: int


class ComparisonOut(Output):
    id: int
    winner_id: int
    loser_id: int


class PairEntryOut(Output):
    submission_id: int
    title: str
    track: str


class NextPairOut(Output):
    pair: list[PairEntryOut] | None
    compared: int
