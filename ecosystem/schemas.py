"""Pydantic shapes of the kernel's inputs and outputs, shared by HTML forms and the API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from ecosystem import inputs
from ecosystem.errors import Invalid
from ecosystem.i18n import _
from ecosystem.models import Role, Sphere

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]


class Checked(BaseModel):
    """Every field of every input model is checked once here, whatever its type: no control
    characters in text, dates within the window the app computes with, integers that fit a
    64-bit column (`ecosystem.inputs.check_value`)."""

    @field_validator("*", mode="after")
    @classmethod
    def _usable(cls, value: Any) -> Any:
        if (problem := inputs.check_value(value)) is not None:
            raise PydanticCustomError("unusable_value", "{reason}", {"reason": problem})
        return value


class Input(Checked):
    """A form or JSON body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Query(Checked):
    """A query string: unknown parameters are ignored (tracking, cache-busting)."""


class RegistrationIn(Input):
    email: EmailStr = Field(max_length=254)
    password: str = Field(min_length=1, max_length=200)
    full_name: Name
    locale: str = "vi"
    timezone: str = Field(
        default="", max_length=200, description="The browser's IANA zone; an unknown one is ignored"
    )


class TokenRequestIn(Input):
    email: str = Field(max_length=254)
    password: str = Field(max_length=200)
    scope: Literal["full", "read"] = Field(
        default="full", description='"read": the token may only make GET and HEAD calls'
    )
    expires_on: date | None = Field(
        default=None, description="The last day (UTC) the token works; none: until revoked"
    )


class OrganisationIn(Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
    spheres: list[Sphere] = Field(min_length=1, max_length=len(Sphere))
    description: str = Field(default="", max_length=5000)
    website: ShortText = ""
    city: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    country: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z]{2}$")] = (
        "VN"
    )
    email_domains: list[Annotated[str, StringConstraints(max_length=253)]] = Field(
        default_factory=list, max_length=10
    )


class InvitationIn(Input):
    email: EmailStr = Field(max_length=254)
    role: Role = Role.MEMBER


class ApiTokenIn(Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


# --- outputs -------------------------------------------------------------------------


class Output(BaseModel):
    """A response shape: every field is always present, so the schema marks it required."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class OrganisationSummaryOut(Output):
    id: int
    slug: str
    name: str
    spheres: list[Sphere]


class OrganisationOut(OrganisationSummaryOut):
    description: str
    website: str
    city: str
    country: str
    verification: str
    logo_url: str | None


class MembershipOut(Output):
    organisation: OrganisationSummaryOut
    role: Role


class MeOut(Output):
    id: int
    email: str
    full_name: str
    locale: str
    timezone: str
    email_verified: bool
    is_platform_admin: bool
    memberships: list[MembershipOut]


class OrganisationListOut(Output):
    items: list[OrganisationOut]


class TokenOut(Output):
    token: str
    token_type: str = "bearer"


class HealthOut(Output):
    status: str
    database: str
    jobs: str


class ErrorBody(Output):
    code: str
    message: str
    fields: dict[str, str] = Field(default_factory=dict)


class ErrorOut(Output):
    error: ErrorBody


# --- validation with translated messages --------------------------------------------

ModelT = TypeVar("ModelT", bound=BaseModel)


def _message(error: dict[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "unusable_value":
        return str(ctx["reason"])
    if kind == "missing":
        return _("This field is required.")
    if kind in ("string_too_short", "too_short"):
        if ctx.get("min_length", 1) <= 1:
            return _("This field is required.")
        return _("At least %(n)d characters.", n=ctx["min_length"])
    if kind in ("string_too_long", "too_long"):
        return _("At most %(n)d characters.", n=ctx.get("max_length", 0))
    if kind == "value_error" and "email" in str(error.get("msg", "")).lower():
        return _("Enter a valid email address.")
    if kind == "enum":
        return _("Choose one of the offered values.")
    if kind == "extra_forbidden":
        return _("Unknown field.")
    if kind in ("string_type", "int_type", "int_parsing", "list_type", "bool_type", "float_type"):
        return _("This value has the wrong type.")
    if kind == "string_pattern_mismatch":
        return _("This value has the wrong format.")
    return _("This value is not valid.")


def field_errors(exc: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        location = [str(part) for part in error["loc"] if not isinstance(part, int)]
        fields.setdefault(".".join(location) or "body", _message(error))  # type: ignore[arg-type]
    return fields


def validate(model: type[ModelT], data: Any) -> ModelT:
    """Build `model` from data or raise Invalid with one translated message per field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid(
            _("Please correct the highlighted fields."), fields=field_errors(exc)
        ) from exc


def organisation_summary(organisation: Any) -> OrganisationSummaryOut:
    return OrganisationSummaryOut(
        id=organisation.id,
        slug=organisation.slug,
        name=organisation.name,
        spheres=organisation.sphere_values(),
    )


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
