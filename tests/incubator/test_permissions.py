"""The permission matrix: every startup page and API route, for each kind of person.

Roles: the startup's member (its founder), another startup's founder, the programme's
manager, the startup's mentor, a grantee in scope, a grantee whose grant covers another
startup (out of scope), a grantee whose grant was revoked, a signed-in stranger, anonymous.
The startup is not in the public directory. "login" means the sign-in redirect.
"""

from __future__ import annotations

import pytest

from incubator.documents import document_path
from incubator.models import Document, Milestone, StartupProfile
from tests.incubator.conftest import bearer, open_request, world

ROLES = (
    "other_founder",
    "grantee_out_of_scope",
    "revoked_grantee",
    "stranger",
    "anonymous",
    "grantee",
    "mentor",
    "manager",
    "member",  # last: its POSTs change the state the others were refused
)
OUTSIDERS = {"other_founder", "grantee_out_of_scope", "revoked_grantee", "stranger"}


def expect(default, **per_role):
    table = {role: default for role in ROLES}
    table.update(per_role)
    return table


def only(allowed: dict, refused=403, anonymous="login"):
    table = {role: refused for role in ROLES}
    table["anonymous"] = anonymous
    table.update(allowed)
    return table


async def browsers(w, new_browser):
    sessions = {}
    for role, user in w.people.items():
        session = new_browser(lang="en")
        if user is not None:
            await session.login(user.email)
        sessions[role] = session
    return sessions


def outcome(response) -> int | str:
    if response.status_code == 303 and response.headers["location"].startswith("/login"):
        return "login"
    return response.status_code


@pytest.fixture
async def setup(app, tmp_path):
    w = await world()
    september = await open_request(w.enrolment, "2026-09")
    await open_request(w.enrolment, "2026-10")
    milestone = await Milestone.create(enrolment=w.enrolment, title="Pilot", due_on="2026-12-01")
    document = await Document.create(purpose="pitch", size_bytes=9, organisation_id=w.startup.id)
    path = document_path(document.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"%PDF-1.4\n")
    await StartupProfile.filter(organisation_id=w.startup.id).update(pitch_id=document.id)
    return w, september, milestone


async def test_every_startup_page_by_role(setup, new_browser):
    w, september, milestone = setup
    s = w.startup.id
    base = f"/incubator/startups/{s}"
    sessions = await browsers(w, new_browser)
    viewers = {"member": 200, "manager": 200, "mentor": 200, "grantee": 200}
    matrix = [
        ("GET", base, None, {**{r: 404 for r in ROLES}, **viewers}),
        ("GET", f"{base}/profile", None, only({"member": 200})),
        (
            "POST",
            f"{base}/profile",
            {"sector": "smart_city", "stage": "mvp", "team_size": "5", "links": ""},
            only({"member": 303}),
        ),
        (
            "GET",
            f"{base}/pitch.pdf",
            None,
            only({"member": 200, "manager": 200, "mentor": 200}, anonymous=403),
        ),
        ("GET", f"{base}/reports/{september.id}", None, only({"member": 200})),
        (
            "POST",
            f"{base}/reports/{september.id}",
            {"action": "submit", "m_revenue": "1000000"},
            only({"member": 303}),
        ),
        (
            "POST",
            f"{base}/milestones",
            {"enrolment_id": str(w.enrolment.id), "title": "Launch", "due_on": "2027-01-15"},
            only({"member": 303, "manager": 303}),
        ),
        (
            "POST",
            f"{base}/milestones/{milestone.id}",
            {"title": "Pilot", "due_on": "2026-12-01", "status": "in_progress"},
            only({"member": 303, "manager": 303}),
        ),
        (
            "POST",
            f"{base}/milestones/{milestone.id}/comments",
            {"body": "Good progress"},
            only({"member": 303, "manager": 303, "mentor": 303}),
        ),
        (
            "POST",
            f"{base}/sessions",
            {"enrolment_id": str(w.enrolment.id), "held_on": "2026-01-20", "topics": "Pricing"},
            only({"manager": 303, "mentor": 303}),
        ),
        ("GET", f"{base}/sharing", None, only({"member": 200})),
        (
            "POST",
            f"{base}/sharing",
            {
                "grantee_id": str(w.host.id),
                "metrics": "revenue",
                "period_from": "2026-01",
                "period_to": "2026-03",
                "expires_on": "2028-01-01",
            },
            only({"member": 303}),
        ),
        ("POST", f"{base}/sharing/{w.grant.id}/revoke", None, only({"member": 303})),
    ]
    seen = {}
    for method, url, data, expected in matrix:
        for role in ROLES:
            browser = sessions[role]
            if method == "GET":
                response = await browser.get(url)
            else:
                response = await browser.post(url, data or {})
            seen[(method, url, role)] = outcome(response)
            assert outcome(response) == expected[role], (method, url, role, response.text[:300])
    assert len(seen) == len(matrix) * len(ROLES)


async def test_what_a_grantee_sees_on_the_page(setup, new_browser):
    from tests.incubator.conftest import submitted

    w, _september, _milestone = setup
    await submitted(w.enrolment, "2026-03", {"revenue": 123456789, "users": 4242})
    await submitted(w.enrolment, "2026-08", {"revenue": 987654321})
    grantee = new_browser(lang="en")
    await grantee.login(w.grantee.email)
    page = (await grantee.get(f"/incubator/startups/{w.startup.id}")).text
    assert 'id="chart-revenue"' in page and 'data-label="2026-03"' in page
    assert 'data-label="2026-08"' not in page  # outside the granted periods
    assert 'id="chart-users"' not in page  # not a granted metric
    assert "Milestones" not in page and "Pilot" not in page  # insiders only
    member = new_browser(lang="en")
    await member.login(w.founder.email)
    own = (await member.get(f"/incubator/startups/{w.startup.id}")).text
    assert 'id="chart-users"' in own and 'data-label="2026-08"' in own and "Pilot" in own
    log = (await member.get(f"/incubator/startups/{w.startup.id}/sharing")).text
    assert "Nguyễn Văn An" in log and "Sở Khoa học và Công nghệ" in log  # who read it


async def test_a_directory_startup_shows_its_public_profile_to_anyone(setup, new_browser):
    w, _september, _milestone = setup
    anonymous = new_browser(lang="en")
    page = await anonymous.get(f"/incubator/startups/{w.other.id}")
    assert page.status_code == 200
    assert "GreenFarm IoT" in page.text and "Agriculture technology" in page.text
    assert 'id="kpi"' not in page.text and 'id="milestones"' not in page.text
    directory = await anonymous.get("/incubator/startups")
    assert "GreenFarm IoT" in directory.text and "Lumi Smart Lighting" not in directory.text


async def test_every_api_route_by_role(setup, client):
    w, _september, _milestone = setup
    s = w.startup.id
    headers = {role: await bearer(user) if user else {} for role, user in w.people.items()}
    report = {"period": "2026-10", "metrics": {"users": 12}}
    api = [
        ("GET", "/api/v1/programmes", None, expect(200, anonymous=200)),
        ("GET", f"/api/v1/startups?programme={w.programme.id}", None, expect(200, anonymous=200)),
        (
            "GET",
            f"/api/v1/startups/{s}/metrics",
            None,
            only({"member": 200, "manager": 200, "mentor": 200, "grantee": 200}, anonymous=401),
        ),
        ("POST", f"/api/v1/startups/{s}/reports", report, only({"member": 201}, anonymous=401)),
    ]
    for method, url, body, expected in api:
        for role in ROLES:
            response = await client.request(method, url, json=body, headers=headers[role])
            assert response.status_code == expected[role], (method, url, role, response.text[:300])
    # Managers see the private startup in the programme's list; outsiders do not.
    listed = await client.get(
        f"/api/v1/startups?programme={w.programme.id}", headers=headers["manager"]
    )
    assert s in {item["id"] for item in listed.json()["items"]}
    for role in OUTSIDERS | {"grantee", "mentor"}:
        listed = await client.get(
            f"/api/v1/startups?programme={w.programme.id}", headers=headers[role]
        )
        assert s not in {item["id"] for item in listed.json()["items"]}, role
