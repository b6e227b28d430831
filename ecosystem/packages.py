"""How domain packages plug into the kernel: the app factory mounts them from a list."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute

if TYPE_CHECKING:
    from datetime import date

    from ecosystem.models import User
    from ecosystem.payments.models import Payment


# Organisation ids → for each, the drafts it waits to publish: (translated kind, title) pairs.
PendingPublications = Callable[[Sequence[int]], Awaitable[dict[int, list[tuple[str, str]]]]]


@dataclass
class DashboardPanel:
    """One package's part of a signed-in user's personal dashboard (`/dashboard`).

    The kernel renders `template` (a fragment of the package, `<pkg>/_dashboard.html`) with
    `context`; panels needing the user's attention (`urgent`) come first, then by `order`.
    """

    title: str  # already translated
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    urgent: bool = False
    order: int = 100


# A package's panels for one user: return None when it has nothing for that user.
PanelProvider = Callable[["User"], Awaitable["DashboardPanel | None"]]
# A package's section of the open ecosystem indicators for [start, end) in local dates:
# aggregated, public or consented data only, small groups already suppressed
# (`ecosystem.indicators.suppress`). Keys are stable snake_case names; values JSON-ready.
IndicatorProvider = Callable[["date", "date"], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class PaymentHandler:
    """How a package reacts to payments of its subjects (ecosystem.payments.services).

    Each hook runs inside the kernel's transaction that changes the payment, so the subject and
    its payment change together; hooks must not call the payment provider.
    - `paid`: the money arrived (possibly late, after the hold was released). Return False if
      the subject cannot take it any more (e.g. the slot was booked meanwhile): it is refunded.
    - `released`: an unpaid hold ended (expired or abandoned): free the subject.
    - `manages`: may this user settle payments of the issuer (`issuer_key`, e.g. `labs.lab:3`):
      mark them paid, read and settle organisations' statements.
    """

    issuer_prefix: str
    paid: Callable[[Payment], Awaitable[bool]]
    released: Callable[[Payment], Awaitable[None]]
    manages: Callable[[User | None, str], Awaitable[bool]]


@dataclass
class CreditIssuer:
    """Something that issues credit out of a budget (a lab, an incubator programme)."""

    key: str  # the budget's issuer key, e.g. labs.lab:3, incubator.programme:2
    name: str
    organisation_name: str
    organisation_verified: bool
    budget: int = 0  # filled in by ecosystem.payments.services.budgets.issuers


# Every issuer of a package, for the platform admins' budgets page.
CreditIssuers = Callable[[], Awaitable[list[CreditIssuer]]]


@dataclass
class DomainPackage:
    """Everything a package contributes. `name` is also its tortoise app label."""

    name: str
    # The module(s) holding the package's tortoise models: a dotted name or a sequence of them.
    models: str | Sequence[str] | None = None
    routes: Sequence[BaseRoute] = ()
    api_routes: Sequence[BaseRoute] = ()
    jobs: Sequence[Callable[..., Awaitable[Any]]] = ()
    cron_jobs: Sequence[Any] = ()  # arq.cron.CronJob
    locale_dir: Path | None = None
    seed_demo: Callable[[], Awaitable[None]] | None = None
    csrf_exempt_prefixes: Sequence[str] = ()
    nav_links: Sequence[tuple[str, str]] = field(default_factory=tuple)  # (label msgid, url)
    dashboard_panels: Sequence[PanelProvider] = ()
    indicators: IndicatorProvider | None = None
    # Titles (msgids, translated in the package's catalogue) of the indicator keys, for
    # the ecosystem dashboard page; the JSON keeps the stable keys.
    indicator_titles: Mapping[str, str] = field(default_factory=dict)
    # Subject kind (e.g. `labs.booking`) → what happens to it when its payment changes.
    payment_handlers: dict[str, PaymentHandler] = field(default_factory=dict)
    # What organisations that a platform admin has not verified yet are waiting to publish
    # (labs, programmes, calls, contests…), shown on the admin's verification page.
    pending_publications: PendingPublications | None = None
    # What issues credit out of a budget that platform admins fund (labs, programmes).
    credit_issuers: CreditIssuers | None = None

    @property
    def model_modules(self) -> list[str]:
        if self.models is None:
            return []
        return [self.models] if isinstance(self.models, str) else list(self.models)

    @property
    def migrations_module(self) -> str:
        return f"{self.name}.migrations"


def load_packages(names: Sequence[str]) -> list[DomainPackage]:
    """The kernel first, then each named domain package's `package` object."""
    from ecosystem.package import package as kernel

    loaded = [kernel]
    for name in names:
        module = importlib.import_module(f"{name}.package")
        loaded.append(module.package)
    return loaded
