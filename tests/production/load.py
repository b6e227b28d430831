"""A mixed load for the production shape: weighted actions, bounded in time, counted.

`ACTIONS` is the scenario: each `Action` has a weight and one async step that makes one
HTTP request (through a random web process) and says which statuses are fine. Adding a
package's action to the load is a few lines: write the step, append an `Action`.

Used by the production-shape test (errors must be 0) and `bench/mixed_load.py` (req/s,
p50/p99).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

HCMC = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass
class Client:
    """One virtual person: a web process chooser, an API token, their own bookings."""

    number: int
    http: httpx.AsyncClient
    bases: list[str]
    token: str
    fixtures: dict[str, Any]
    rng: random.Random
    my_bookings: list[int] = field(default_factory=list)
    assignments: list[dict[str, Any]] | None = None  # the judge's queue, read once

    @property
    def base(self) -> str:
        return self.rng.choice(self.bases)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Accept-Language": "en"}

    def day(self, low: int = 2, high: int = 50) -> date:
        today = datetime.now(HCMC).date()
        return today + timedelta(days=self.rng.randint(low, high))


Step = Callable[[Client], Awaitable[tuple[httpx.Response, frozenset[int]]]]


@dataclass(frozen=True)
class Action:
    name: str
    weight: int
    step: Step


OK = frozenset({200})


# --- the steps ------------------------------------------------------------------------------


async def browse(client: Client) -> tuple[httpx.Response, frozenset[int]]:
    machine = client.rng.choice(client.fixtures["machines"])
    path = client.rng.choice(
        [
            "/",
            "/labs",
            f"/labs/{client.fixtures['lab_slug']}",
            f"/equipment/{machine}",
            f"/equipment/{machine}/week",
            "/organisations",
        ]
    )
    return await client.http.get(client.base + path), OK


async def search(client: Client) -> tuple[httpx.Response, frozenset[int]]:
    day = client.day(1, 20)
    if client.rng.random() < 0.5:
        path = f"/labs/search?day={day.isoformat()}&duration=60"
        return await client.http.get(client.base + path), OK
    start = datetime(day.year, day.month, day.day, client.rng.randint(0, 20), tzinfo=HCMC)
    params = {
        "lab": client.fixtures["lab_id"],
        "free_from": start.isoformat(),
        "free_to": (start + timedelta(hours=2)).isoformat(),
    }
    response = await client.http.get(
        client.base + "/api/v1/equipment", params=params, headers=client.auth
    )
    return response, OK


def slot(client: Client) -> tuple[datetime, datetime]:
    day = client.day()
    start = datetime(day.year, day.month, day.day, client.rng.randint(0, 22), tzinfo=HCMC)
    return start, start + timedelta(hours=client.rng.choice([1, 1, 2]) if start.hour < 22 else 1)


async def book(client: Client) -> tuple[httpx.Response, frozenset[int]]:
    start, end = slot(client)
    payload = {
        "equipment_id": client.rng.choice(client.fixtures["machines"]),
        "start": start.isoformat(),
        "end": end.isoformat(),
        "purpose": "load test",
    }
    response = await client.http.post(
        client.base + "/api/v1/bookings", json=payload, headers=client.auth
    )
    if response.status_code == 201:
        client.my_bookings.append(response.json()["id"])
    return response, frozenset({201, 409})  # 409: someone else has that slot


async def cancel(client: Client) -> tuple[httpx.Response, frozenset[int]]:
    if not client.my_bookings:
        response = await client.http.get(client.base + "/api/v1/bookings", headers=client.auth)
        return response, OK
    booking_id = client.my_bookings.pop(client.rng.randrange(len(client.my_bookings)))
    response = await client.http.post(
        client.base + f"/api/v1/bookings/{booking_id}/cancel", headers=client.auth
    )
    return response, OK


async def report(client: Client) -> tuple[httpx.Response, frozenset[int]]:
    """The demo founder saves a draft KPI report for a period with an open request."""
    found = client.fixtures["report"]
    payload = {
        "period": client.rng.choice(found["periods"]),
        "metrics": {},
        "narrative": f"Load test draft {client.rng.randint(1, 10**6)}",
        "draft": True,
    }
    response = await client.http.post(
        client.base + f"/api/v1/startups/{found['startup_id']}/reports",
        json=payload,
        headers={"Authorization": f"Bearer {found['token']}", "Accept-Language": "en"},
    )
    return response, frozenset({201, 409})  # 409: submitted meanwhile


async def score(client: Client) -> tuple[httpx.Response, frozenset[int]]:
    """The demo judge scores one of their assigned entries (their queue is read once)."""
    headers = {"Authorization": f"Bearer {client.fixtures['judge_token']}", "Accept-Language": "en"}
    if not client.assignments:  # read the queue first (again if it was empty)
        queue = client.base + "/api/v1/judging/assignments"
        response = await client.http.get(queue, headers=headers)
        if response.status_code == 200:
            client.assignments = response.json()["items"]
        return response, OK
    entry = client.rng.choice(client.assignments)
    scores = {
        criterion["code"]: client.rng.randint(criterion["scale_min"], criterion["scale_max"])
        for criterion in entry["criteria"]
    }
    response = await client.http.put(
        client.base + f"/api/v1/submissions/{entry['submission_id']}/scores",
        json={"scores": scores, "comment": "load test"},
        headers=headers,
    )
    return response, frozenset({200, 409})  # 409: the round closed meanwhile


ACTIONS: list[Action] = [
    Action("browse", 40, browse),
    Action("search", 20, search),
    Action("book", 25, book),
    Action("cancel", 15, cancel),
    # Only when the shape mounts the package (and fixtures found its demo data):
    Action("report", 5, report),
    Action("score", 5, score),
]
NEEDS = {"report": "report", "score": "judge_token"}  # action → the fixture it needs


def actions_for(fixtures: dict[str, Any]) -> list[Action]:
    """The scenario for this shape: package actions only where their data exists."""
    return [a for a in ACTIONS if a.name not in NEEDS or NEEDS[a.name] in fixtures]


# --- running it ---------------------------------------------------------------------------


@dataclass
class LoadResult:
    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    errors: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(len(values) for values in self.latencies.values())

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float, action: str | None = None) -> float:
        values = (
            self.latencies[action]
            if action
            else [v for values in self.latencies.values() for v in values]
        )
        if not values:
            return 0.0
        if len(values) == 1:
            return values[0]
        return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]

    def summary(self) -> str:
        lines = [
            f"{self.requests} requests in {self.seconds:.1f} s: {self.per_second:.1f} req/s, "
            f"p50 {self.percentile(50) * 1000:.1f} ms, p99 {self.percentile(99) * 1000:.1f} ms, "
            f"{len(self.errors)} errors"
        ]
        for action, values in sorted(self.latencies.items()):
            lines.append(
                f"  {action:<8} {len(values):>6}  p50 {self.percentile(50, action) * 1000:7.1f} ms"
                f"  p99 {self.percentile(99, action) * 1000:7.1f} ms  "
                + " ".join(f"{k}×{v}" for k, v in sorted(self.statuses[action].items()))
            )
        return "\n".join(lines)


async def run_mixed_load(
    bases: list[str],
    fixtures: dict[str, Any],
    seconds: float,
    concurrency: int,
    actions: list[Action] | None = None,
    seed: int = 7,
) -> LoadResult:
    """`concurrency` clients run weighted actions through `bases` for `seconds`."""
    actions = actions or actions_for(fixtures)
    weights = [action.weight for action in actions]
    result = LoadResult(seconds=seconds)
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        clients = [
            Client(
                number=n,
                http=http,
                bases=bases,
                token=fixtures["tokens"][n % len(fixtures["tokens"])],
                fixtures=fixtures,
                rng=random.Random(seed * 1000 + n),
            )
            for n in range(concurrency)
        ]
        started = time.monotonic()
        deadline = started + seconds

        async def run(client: Client) -> None:
            while time.monotonic() < deadline:
                action = client.rng.choices(actions, weights)[0]
                begun = time.perf_counter()
                try:
                    response, fine = await action.step(client)
                except httpx.HTTPError as exc:
                    result.latencies[action.name].append(time.perf_counter() - begun)
                    result.statuses[action.name]["error"] += 1
                    result.errors.append(f"{action.name}: {exc!r}")
                    continue
                result.latencies[action.name].append(time.perf_counter() - begun)
                result.statuses[action.name][response.status_code] += 1
                if response.status_code not in fine:
                    result.errors.append(
                        f"{action.name} {response.request.method} {response.request.url}: "
                        f"{response.status_code} {response.text[:300]}"
                    )

        await asyncio.gather(*(run(client) for client in clients))
        result.seconds = time.monotonic() - started
    return result
