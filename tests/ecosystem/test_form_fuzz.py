"""Fuzz every HTML form route: hostile values in every field, never a 5xx.

The OpenAPI fuzz (`test_openapi_fuzz.py`) covers the JSON API; this covers the pages. Over
the demo data, every POST route of the app (enumerated from the app itself, so a new form
is fuzzed without being listed here) is called by a signed-in, verified demo account that
may use it (lab staff for a lab's pages, the organiser for a contest's, the manager for a
programme's, …), with path parameters filled from the demo rows. The fields sent are those
the GET page of the same address shows and those the handler's source reads, each set to
one hostile value at a time: control characters, a 5,000-digit integer, dates at both ends
of the calendar, a long string, negative and non-numeric numbers, repeated fields.

Bounded: one request per route and value (about a thousand), a few tens of seconds per
backend; on failure the message lists every route and value that gave a 5xx.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import httpx
from starlette.routing import Route

from ecosystem.models import ApiToken, Membership, Organisation, User
from tests.conftest import BrowserSession
from tests.production.shape import DEMO_PASSWORD

HOSTILE: dict[str, Any] = {
    "nul": "a\x00b",
    "huge-int": "9" * 5000,
    "big-int": "9" * 25,
    "superscript": "²",
    "last-day": "9999-12-31",
    "first-moment": "0001-01-01T00:00",
    "last-moment": "9999-12-31T23:59:59+14:00",
    "long": "Đ" * 20_000,
    "negative": "-1",
    "float": "1e309",
    "repeated": ["1", "abc", "2026-02-30"],
}
SKIPPED = {"/logout", "/account/sessions/revoke", "/payments/stripe/webhook"}
# Routes that take power away (remove, revoke, …) run last, so the others are fuzzed with it.
LAST = re.compile(r"remove|revoke|delete|leave|cancel|undo|members/|decide|publish")
FIELD = re.compile(r'<(?:input|textarea|select)\b[^>]*\bname="([A-Za-z0-9_\-\[\]]+)"')
LITERAL = re.compile(r'"([a-z][a-z0-9_]{1,30})"')
ACTION = re.compile(r'(?:name|what|action) == "([a-z_]+)"')

PEOPLE = [  # (path prefix, demo account that may use the pages under it)
    ("/admin", "admin@example.org"),
    ("/labs/checkin", "staff@example.org"),
    ("/labs/", "staff@example.org"),
    ("/contests/new", "organiser@example.org"),
    ("/contests/{slug}/manage", "organiser@example.org"),
    ("/contests/{slug}/judge", "judge@example.org"),
    ("/incubator/startups", "founder@example.org"),
    ("/incubator/mentor", "mentor@example.org"),
    ("/incubator/", "manager@example.org"),
    ("/organisations", "staff@example.org"),
    ("/payments/organisations", "staff@example.org"),
    ("/payments/", "admin@example.org"),
    ("", "student@example.org"),
]


async def seed_demo(app) -> None:
    for package in app.state.packages:
        if package.seed_demo:
            await package.seed_demo()


async def first_id(model_path: str, **filters: Any) -> int | None:
    module_name, _sep, name = model_path.rpartition(".")
    module = __import__(module_name, fromlist=[name])
    model = getattr(module, name)
    row = await model.filter(**filters).order_by("id").first()
    return row.id if row else None


async def path_values() -> dict[str, dict[str, str]]:
    """Per path prefix, the demo rows whose ids and slugs fill the path parameters."""
    from hackathon.models import Contest, ContestRole
    from incubator.models import Programme, ProgrammeRole, StartupProfile
    from labs.models import Lab, LabStaff

    staff = await User.get(email="staff@example.org")
    organiser = await User.get(email="organiser@example.org")
    manager = await User.get(email="manager@example.org")
    founder = await User.get(email="founder@example.org")
    lab = await Lab.get(id=(await LabStaff.filter(user_id=staff.id).first()).lab_id)
    contest_role = await ContestRole.filter(user_id=organiser.id).order_by("-id").first()
    contest = await Contest.get(id=contest_role.contest_id)
    role = await ProgrammeRole.filter(user_id=manager.id).first()
    programme = await Programme.get(id=role.programme_id)
    founder_orgs = await Membership.filter(user_id=founder.id).values_list(
        "organisation_id", flat=True
    )
    startup = await StartupProfile.filter(organisation_id__in=founder_orgs).first()
    organisation = await Organisation.get(
        id=(await Membership.filter(user_id=staff.id, role="admin").first()).organisation_id
    )
    ids: dict[str, int | None] = {
        "equipment_id": await first_id("labs.models.Equipment", lab_id=lab.id),
        "staff_id": await first_id("labs.models.LabStaff", lab_id=lab.id),
        "closure_id": await first_id("labs.models.Closure", lab_id=lab.id),
        "blackout_id": await first_id("labs.models.Blackout"),
        "booking_id": await first_id("labs.models.Booking"),
        "enrolment_id": await first_id("labs.models.TrainingEnrolment"),
        "session_id": await first_id("labs.models.TrainingSession"),
        "entry_id": await first_id("labs.models.WaitlistEntry"),
        "programme_id": programme.id,
        "role_id": role.id,
        "cohort_id": await first_id("incubator.models.Cohort", programme_id=programme.id),
        "perk_id": await first_id("incubator.models.Perk"),
        "call_id": await first_id("incubator.models.ApplicationCall"),
        "application_id": await first_id("incubator.models.Application"),
        "startup_id": startup.id if startup else None,
        "report_id": await first_id("incubator.models.ReportRequest"),
        "milestone_id": await first_id("incubator.models.Milestone"),
        "grant_id": await first_id("incubator.models.ShareGrant"),
        "submission_id": await first_id("hackathon.models.Submission", team__contest_id=contest.id),
        "member_id": await first_id("hackathon.models.TeamMember"),
        "contest_id": contest.id,
        "token_id": (await ApiToken.all().order_by("id").first() or ApiToken(id=1)).id,
        "invitation_id": await first_id("ecosystem.models.Invitation"),
        "membership_id": await first_id("ecosystem.models.Membership"),
        "organisation_id": organisation.id,
        "user_id": (await User.get(email="student@example.org")).id,
        "payment_id": await first_id("ecosystem.payments.models.Payment"),
        "message_id": await first_id("ecosystem.models.OutboxMessage"),
    }
    common = {name: str(value or 1) for name, value in ids.items()}
    common.update(code="x", token="x", issuer="x", period="2026-01", document_id="1")
    slugs = {
        "/labs/": lab.slug,
        "/contests/": contest.slug,
        "/organisations/": organisation.slug,
        "/payments/organisations/": organisation.slug,
    }
    return {prefix: {**common, "slug": slug} for prefix, slug in slugs.items()} | {"": common}


def person_for(path: str) -> str:
    return next(email for prefix, email in PEOPLE if path.startswith(prefix))


def fill(path: str, values: dict[str, dict[str, str]], action: str) -> str:
    prefix = next((p for p in values if p and path.startswith(p)), "")
    chosen = values[prefix]

    def one(match: re.Match) -> str:
        name = match.group(1).split(":")[0]
        if name in ("action", "what"):
            return action
        return chosen.get(name, "1")

    return re.sub(r"\{([^}]+)\}", one, path)


def post_routes(app) -> list[Route]:
    routes = [
        r
        for r in app.routes
        if isinstance(r, Route)
        and "POST" in (r.methods or ())
        and not r.path.startswith("/api/")
        and r.path not in SKIPPED
    ]
    return sorted(routes, key=lambda r: (bool(LAST.search(r.path)), r.path))


def source_of(route: Route) -> str:
    try:
        return inspect.getsource(route.endpoint)
    except (OSError, TypeError):
        return ""


async def sign_in(app, email: str) -> BrowserSession:
    transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 40000))
    http = httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60)
    session = BrowserSession(http, lang="en")
    await session.login(email, DEMO_PASSWORD)
    await session.get("/account")  # the new session's CSRF token
    assert session.csrf_token
    return session


async def test_no_form_field_gives_a_server_error(app):
    await seed_demo(app)
    values = await path_values()
    sessions: dict[str, BrowserSession] = {}
    failures: list[str] = []
    tried = 0
    try:
        for route in post_routes(app):
            source = source_of(route)
            actions = sorted(set(ACTION.findall(source))) or ["x"]
            email = person_for(route.path)
            if email not in sessions:
                sessions[email] = await sign_in(app, email)
            browser = sessions[email]
            for action in actions:
                url = fill(route.path, values, action)
                names = set(LITERAL.findall(source))
                if "GET" in (route.methods or ()):
                    page = await browser.get(url)
                    names |= set(FIELD.findall(page.text))
                names -= {"csrf_token"}
                for label, value in HOSTILE.items():
                    data = {name: value for name in sorted(names)[:80]}
                    tried += 1
                    try:
                        response = await browser.post(url, data)
                    except Exception as exc:  # the app raised: a 500 under a real server
                        failures.append(f"{url} [{label}]: {type(exc).__name__}: {str(exc)[:120]}")
                        continue
                    if response.status_code >= 500:
                        failures.append(f"{url} [{label}]: {response.status_code}")
                    elif response.headers.get("location", "").startswith("/login"):
                        sessions[email] = await sign_in(app, email)  # signed out by the route
                        browser = sessions[email]
    finally:
        for session in sessions.values():
            await session.http.aclose()
    assert tried > 500  # every POST route was reached
    assert not failures, "\n".join(failures)
