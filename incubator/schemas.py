"""Pydantic shapes of the incubator's JSON API (inputs validated, outputs documented)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StrictFloat, StrictInt

from ecosystem.schemas import Input, OrganisationSummaryOut, Output

PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$"


class ReportIn(Input):
    """A submission (not a draft) is refused with 422 when it has no figure, lacks a metric
    the programme requires (`fields` names each as `metrics.<key>`), or has a value far
    outside the startup's history with no explanation (`fields` names `metrics.<key>`)."""

    period: str = Field(pattern=PERIOD_PATTERN, description="YYYY-MM, or YYYY-Qn for quarters")
    metrics: dict[str, StrictInt | StrictFloat | None] = Field(
        default_factory=dict, max_length=50, description="Metric key → value in its unit"
    )
    narrative: str = Field(default="", max_length=4000)
    draft: bool = Field(default=False, description="Save without submitting")
    explanations: dict[str, Annotated[str, Field(max_length=300)]] = Field(
        default_factory=dict,
        max_length=50,
        description="Metric key → a one-line explanation of a value far outside the "
        "startup's history (more than 3× or under 1/3 of the median of its last three "
        "reported periods); without one such a report is refused (422 naming the metric)",
    )


class StartupsQuery(Input):
    programme: int | None = Field(default=None, ge=1, le=2**31 - 1)


class CohortOut(Output):
    id: int
    name: str
    starts_on: date
    ends_on: date | None


class MetricOut(Output):
    key: str
    name: str
    unit: str
    period: str


ContentLocale = Literal["vi", "en", "ko"]  # ecosystem.content.CONTENT_LOCALES


class ProgrammeTextIn(Input):
    """A programme's texts in one more language (either may be left out)."""

    name: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=5000)


class ProgrammeTextsIn(Input):
    """A programme's name and description: `name` and `description` in `content_locale`
    (the main language), other languages in `translations` (`{"ko": {"name": "…"}}`)."""

    content_locale: ContentLocale = "vi"
    name: str = Field(min_length=2, max_length=200)
    description: str = Field(default="", max_length=5000)
    translations: dict[ContentLocale, ProgrammeTextIn] = Field(default_factory=dict)


class CallTextIn(Input):
    title: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=5000)


class CallTextsIn(Input):
    """A call's title and description: in `content_locale`, other languages in
    `translations`."""

    content_locale: ContentLocale = "vi"
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    translations: dict[ContentLocale, CallTextIn] = Field(default_factory=dict)


class TextsOut(Output):
    id: int
    content_locale: str = Field(description="The main language of the texts")
    name: str = Field(description="The name or title in the reader's language, else a fallback")
    description: str
    translations: dict[str, dict[str, str]] = Field(
        description="Every language's texts: locale → field → text"
    )


class ProgrammeOut(Output):
    id: int
    slug: str
    name: str = Field(description="In the reader's language, else a fallback")
    description: str
    content_locale: str = Field(description="The main language of the texts")
    translations: dict[str, dict[str, str]] = Field(
        description="Every language's name and description: locale → field → text"
    )
    organisation: OrganisationSummaryOut
    cohorts: list[CohortOut]
    schedule: str
    metrics: list[MetricOut]


class ProgrammeListOut(Output):
    items: list[ProgrammeOut]


class StartupOut(Output):
    id: int
    slug: str
    name: str
    stage: str
    sector: str
    founded_on: date | None
    team_size: int
    links: list[str]
    in_directory: bool
    programmes: list[int]


class StartupListOut(Output):
    items: list[StartupOut]


class ReportOut(Output):
    id: int
    startup_id: int
    programme_id: int
    period: str
    status: str
    due_on: date
    metrics: dict[str, StrictInt | StrictFloat]
    narrative: str
    submitted_at: datetime | None


class PointOut(Output):
    period: str
    value: StrictInt | StrictFloat


class SeriesOut(Output):
    key: str
    name: str
    unit: str
    period: str
    points: list[PointOut]


class StartupRefOut(Output):
    id: int
    name: str


class MetricsOut(Output):
    startup: StartupRefOut
    scope: str = Field(
        description="full (a member; or a manager or mentor of a programme the startup "
        "accepted, within the accepted metrics and months) or granted (a grantee, or a "
        "programme the startup has left)"
    )
    metrics: list[SeriesOut]
