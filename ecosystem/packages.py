"""How domain packages plug into the kernel: the app factory mounts them from a list.

A package says what it contributes in its `package.py`, by dotted name, and imports nothing
heavy there, so reading the list of packages loads no route, job or service:

    package = DomainPackage(
        name="labs",
        models="labs.models",
        routes=("labs.routes.staff:routes", "labs.routes.public:routes"),
        jobs=("labs.jobs:JOBS",),
        dashboard_panels=(Hook("labs.dashboard:labs_panel"),),
        payment_handlers={"labs.booking": "labs.services.payments:HANDLER"},
    )

- `routes`, `api_routes`, `jobs`, `cron_jobs`: each entry is a "module:attribute" name of a
  list of them (or one of them itself, as tests' small packages give). They are imported only
  by `load_packages`, which the app factory (`ecosystem/app.py`), the worker
  (`ecosystem/worker.py`) and the CLI call when they start.
- Hooks the kernel's services call at run time (dashboard panels, indicators, pending
  publications, credit issuers, demo data) are `Hook`s: callables that look their dotted
  name up when called (the module is imported on the first call). `payment_handlers` maps a
  subject kind to the dotted name of its `PaymentHandler`, resolved (`resolve`) by the
  payment service when it needs one.
- `indicator_titles` is a mapping, or dotted names of mappings that are merged on load.

`declared_packages(names)` imports the packages' `package.py` modules only: the database
configuration (`ecosystem.db`) needs no more than their model and migration module names.
`mounted_packages()` is the same for the configured packages (`Settings.packages`): the
services find the hooks there. Loading goes by `importlib`, so no kernel module imports a
package (or a package's routes) and the kernel has no import circle: each of its modules can
be imported and tested alone (tests/test_import_graph.py).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecosystem.settings import get_settings

if TYPE_CHECKING:
    from datetime import date

    from ecosystem.models import User
    from ecosystem.payments.models import Payment

KERNEL = "ecosystem"


def resolve(reference: Any) -> Any:
    """The object a "module:attribute" name points at (a `Hook`'s target; anything else as it
    is). Importing the module is the loading: it happens at the first call only."""
    if isinstance(reference, Hook):
        return reference.target
    if not isinstance(reference, str):
        return reference
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"not a 'module:attribute' name: {reference!r}")
    return getattr(importlib.import_module(module_name), attribute)


class Hook:
    """A function of a package named by "module:function", looked up when it is called (the
    module is imported on the first call)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def target(self) -> Callable[..., Any]:
        return resolve(self.name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.target(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Hook({self.name!r})"


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
    """Everything a package contributes. `name` is also its tortoise app label.

    Declared in the package's `package.py` by dotted names (see the module's docstring);
    `loaded()` is the same package with every name imported.
    """

    name: str
    # The module(s) holding the package's tortoise models: a dotted name or a sequence of them.
    models: str | Sequence[str] | None = None
    # Each entry: "module:attribute" of a list of routes (jobs, cron entries), or one itself.
    routes: Sequence[Any] = ()
    api_routes: Sequence[Any] = ()
    jobs: Sequence[Any] = ()  # arq job functions
    cron_jobs: Sequence[Any] = ()  # arq.cron.CronJob
    locale_dir: Path | None = None
    seed_demo: Callable[[], Awaitable[Any]] | None = None
    csrf_exempt_prefixes: Sequence[str] = ()
    nav_links: Sequence[tuple[str, str]] = field(default_factory=tuple)  # (label msgid, url)
    dashboard_panels: Sequence[PanelProvider] = ()
    indicators: IndicatorProvider | None = None
    # Titles (msgids, translated in the package's catalogue) of the indicator keys, for
    # the ecosystem dashboard page; the JSON keeps the stable keys. A mapping, or dotted
    # names of mappings (merged in order when the package is loaded).
    indicator_titles: Mapping[str, str] | Sequence[str] = field(default_factory=dict)
    # Subject kind (e.g. `labs.booking`) → what happens to it when its payment changes: the
    # `PaymentHandler` or its "module:attribute" name.
    payment_handlers: Mapping[str, PaymentHandler | str] = field(default_factory=dict)
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

    def loaded(self) -> DomainPackage:
        """This package with its routes, jobs, cron entries and hooks imported."""
        titles = self.indicator_titles
        if not isinstance(titles, Mapping):
            titles = {key: title for name in titles for key, title in resolve(name).items()}
        return dataclasses.replace(
            self,
            routes=_flatten(self.routes),
            api_routes=_flatten(self.api_routes),
            jobs=_flatten(self.jobs),
            cron_jobs=_flatten(self.cron_jobs),
            seed_demo=resolve(self.seed_demo),
            dashboard_panels=tuple(resolve(panel) for panel in self.dashboard_panels),
            indicators=resolve(self.indicators),
            indicator_titles=dict(titles),
            payment_handlers={
                kind: resolve(handler) for kind, handler in self.payment_handlers.items()
            },
            pending_publications=resolve(self.pending_publications),
            credit_issuers=resolve(self.credit_issuers),
        )


def _flatten(entries: Sequence[Any]) -> list[Any]:
    """Names of lists spread into one list; the other entries kept as they are."""
    found: list[Any] = []
    for entry in entries:
        if isinstance(entry, str):
            found.extend(resolve(entry))
        else:
            found.append(entry)
    return found


def declared_packages(names: Sequence[str]) -> list[DomainPackage]:
    """The kernel first, then each named package, as their `package.py` declare them (only
    those light modules are imported)."""
    return [importlib.import_module(f"{name}.package").package for name in (KERNEL, *names)]


def load_packages(names: Sequence[str]) -> list[DomainPackage]:
    """The kernel and the named packages with their routes, jobs and hooks imported: for the
    app factory, the worker and the CLI."""
    return [package.loaded() for package in declared_packages(names)]


def mounted_packages() -> list[DomainPackage]:
    """The packages of the configured site (`Settings.packages`), as declared: where the
    services find the packages' hooks at run time."""
    return declared_packages(get_settings().packages)
