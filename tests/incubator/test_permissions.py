"""The permission matrix: every startup page and API route, for each kind of person.

Roles: the startup's member (its founder), another startup's founder, the programme's
manager, the startup's mentor, a grantee in scope, a grantee whose grant covers another
startup (out of scope), a grantee whose grant was revoked, a signed-in stranger, anonymous,
an unverified account (that nevertheless holds the manager and mentor roles, an assignment
and a membership of the grantee organisation: none of it counts), and the admin of a pending
organisation (hosting a programme the startup is enrolled in and holding a live grant: none
of it counts until a platform admin verifies the organisation).
The startup is not in the public directory. "login" means the sign-in redirect.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from tortoise import timezone

from ecosystem.models import Organisation, Role, Verification
from incubator.documents import document_path
from incubator.models import (
    ApplicationCall,
    Cohort,
    Document,
    Enrolment,
    EnrolmentStatus,
    MentorAssignment,
    Milestone,
    ProgrammeRole,
    ProgrammeRoleKind,
    ShareGrant,
    StartupProfile,
)
from tests.conftest import person
from tests.incubator.conftest import (
    accepted_enrolment,
    bearer,
    member,
    open_request,
    organisation,
    programme,
    startup,
    world,
)

ROLES = (
    "unverified",
    "pending_member",
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
OUTSIDERS = {
    "other_founder",
    "grantee_out_of_scope",
    "revoked_grantee",
    "stranger",
    "unverified",
    "pending_member",
}


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


async def untrusted(w) -> Organisation:
    """The unverified account and the pending organisation's admin, with every role and
    grant that would give them power if identity and organisation were verified."""
    unverified = await person("newbie@bbi.vn", verified=False)
    for role in (ProgrammeRoleKind.MANAGER, ProgrammeRoleKind.MENTOR):
        await ProgrammeRole.create(programme=w.programme, user=unverified, role=role)
    await MentorAssignment.create(enrolment=w.enrolment, mentor=unverified)
    await member(unverified, await Organisation.get(id=w.grant.grantee_id))
    pending_admin = await person("partner@shadow.vn")
    shadow = await organisation("Shadow Capital")
    await Organisation.filter(id=shadow.id).update(verification=Verification.PENDING)
    await member(pending_admin, shadow, Role.ADMIN)
    draft = await programme(shadow, "Shadow Accelerator")
    cohort = await Cohort.create(programme=draft, name="S1", starts_on=date(2026, 1, 1))
    await accepted_enrolment(cohort, w.startup)
    await ShareGrant.create(
        startup=w.startup,
        grantee=shadow,
        metrics=["revenue", "users"],
        period_from="2026-01",
        period_to="2026-12",
        expires_at=timezone.now() + timedelta(days=30),
    )
    w.people["unverified"] = unverified
    w.people["pending_member"] = pending_admin
    return shadow


@pytest.fixture
async def setup(app, tmp_path):
    w = await world()
    await untrusted(w)
    second = await Cohort.create(
        programme=w.programme, name="Khóa 2027", starts_on=date(2027, 1, 1)
    )
    offer = await Enrolment.create(
        cohort=second,
        startup=w.startup,
        enrolled_on=date(2027, 1, 1),
        status=EnrolmentStatus.OFFERED,
        metrics=["revenue"],
        metrics_from=date(2027, 1, 1),
    )
    w.offer = offer  # type: ignore[attr-defined]
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
            "GET",
            f"{base}/reports/{september.id}/history",
            None,
            only({"member": 200, "manager": 200, "mentor": 200}),
        ),
        ("GET", f"{base}/reports/{september.id}/correct", None, only({"member": 200})),
        (
            "POST",
            f"{base}/reports/{september.id}/correct",
            {"m_users": "5", "reason": "typo"},
            only({"member": 422}),  # an open report is answered, not corrected
        ),
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
        ("POST", f"{base}/sharing/{w.grant.id}/revoke", None, only({"member": 200})),  # asks
        (
            "POST",
            f"{base}/sharing/{w.grant.id}/revoke",
            {"confirmed": "yes"},
            only({"member": 303}),
        ),
        ("POST", f"{base}/enrolments/{w.offer.id}/accept", None, only({"member": 303})),
        ("POST", f"{base}/enrolments/{w.offer.id}/leave", None, only({"member": 200})),  # asks
        (
            "POST",
            f"{base}/enrolments/{w.offer.id}/leave",
            {"confirmed": "yes"},
            only({"member": 303}),
        ),
    ]
    seen = {}
    for method, url, data, expected in matrix:
        for role in ROLES:
            browser = sessions[role]
            if method == "GET":
                response = await browser.get(url)
            else:
                response = await browser.post(url, data or {})
            seen[(method, url, str(data), role)] = outcome(response)
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


PROGRAMME_ROLES = ("unverified", "pending_member", "stranger", "anonymous", "mentor", "manager")


async def test_every_programme_action_by_role(app, new_browser):
    """Managing a programme, its cohorts, offers and calls: the programme's managers only
    (its mentors read cohorts); an unverified holder of the manager role and the admin of a
    pending organisation are strangers. The pending organisation's own draft is theirs."""
    w = await world()
    shadow = await untrusted(w)
    draft = await programme(shadow, "Shadow Draft")
    aurora = await startup("Aurora Robotics", in_directory=True)
    call = await ApplicationCall.create(
        programme=w.programme,
        title="Call 2027",
        deadline=datetime.now(UTC) + timedelta(days=30),
        criteria=[{"id": "team", "label": "Team", "weight": 1, "scale_min": 1, "scale_max": 5}],
    )
    p, c = w.programme.id, w.cohort.id
    sessions = await browsers(w, new_browser)
    deadline = (date.today() + timedelta(days=40)).isoformat()

    def managers(code=303, mentor=403):
        table = {role: 403 for role in PROGRAMME_ROLES}
        table.update(anonymous="login", manager=code, mentor=mentor)
        return table

    public = {role: 200 for role in PROGRAMME_ROLES}
    matrix = [
        ("GET", f"/incubator/programmes/{p}", None, public),
        ("GET", f"/incubator/calls/{call.id}", None, public),
        (
            "GET",
            f"/incubator/programmes/{draft.id}",
            None,
            {**{r: 404 for r in PROGRAMME_ROLES}, "pending_member": 200},
        ),
        ("GET", f"/incubator/programmes/{p}/manage", None, managers(200)),
        (
            "POST",
            f"/incubator/programmes/{p}/roles",
            {"email": "x@bbi.vn", "role": "reviewer"},
            managers(),
        ),
        (
            "POST",
            f"/incubator/programmes/{p}/cohorts",
            {"name": "K3", "starts_on": "2027-03-01"},
            managers(),
        ),
        ("POST", f"/incubator/programmes/{p}/metrics", {"name": "Pilots", "unit": ""}, managers()),
        (
            "POST",
            f"/incubator/programmes/{p}/schedule",
            {
                "schedule": "monthly",
                "due_days": "10",
                "remind_days_before": "3",
                "remind_days_after": "2",
                "escalate_days_after": "7",
            },
            managers(),
        ),
        (
            "POST",
            f"/incubator/programmes/{p}/calls",
            {"title": "Call 2028", "deadline": deadline, "criteria": "Team | 1"},
            managers(),
        ),
        ("GET", f"/incubator/cohorts/{c}", None, managers(200, mentor=200)),
        ("GET", f"/incubator/cohorts/{c}/export.csv", None, managers(200, mentor=200)),
        ("POST", f"/incubator/cohorts/{c}/enrol", {"startup_id": str(aurora.id)}, managers()),
        (
            "POST",
            f"/incubator/cohorts/{c}/mentors",
            {"enrolment_id": str(w.other_enrolment.id), "mentor_id": str(w.mentor.id)},
            managers(),
        ),
        ("GET", f"/incubator/calls/{call.id}/applications", None, managers(200)),
        ("POST", f"/incubator/programmes/{p}/required", {"required": "revenue"}, managers()),
        ("POST", f"/incubator/cohorts/{c}/remind", {}, managers()),
        (
            "POST",
            f"/incubator/cohorts/{c}/remind",
            {"enrolment_id": str(w.enrolment.id)},
            managers(),
        ),
    ]
    for method, url, data, expected in matrix:
        for role in PROGRAMME_ROLES:
            browser = sessions[role]
            if method == "GET":
                response = await browser.get(url)
            else:
                response = await browser.post(url, data or {})
            assert outcome(response) == expected[role], (method, url, role, response.text[:300])
    offer = await Enrolment.get(cohort_id=c, startup_id=aurora.id)
    assert offer.status == EnrolmentStatus.OFFERED  # an offer, not an enrolment
