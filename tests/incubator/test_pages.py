"""The incubator's HTML pages end to end over HTTP: a founder keeps the profile, reports,
plans milestones and shares; a mentor logs sessions; a manager runs a call from the form to
the enrolment, follows the cohort's dashboard and exports it."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest

from ecosystem.models import OutboxMessage, Role
from incubator.models import (
    Application,
    ApplicationStatus,
    Enrolment,
    MentoringSession,
    Milestone,
    MilestoneComment,
    ProgrammeRole,
    ReportRequest,
    Review,
    ShareGrant,
    StartupProfile,
)
from incubator.services.reports import local_today
from tests.incubator.conftest import (
    accepted_enrolment,
    member,
    open_request,
    startup,
    submitted,
    world,
)

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"

pytestmark = pytest.mark.usefixtures("app")


async def signed_in(new_browser, user):
    browser = new_browser(lang="en")
    await browser.login(user.email)
    return browser


async def test_a_founder_keeps_the_profile_and_joins_the_directory(new_browser):
    w = await world()
    founder = await signed_in(new_browser, w.founder)
    url = f"/incubator/startups/{w.startup.id}/profile"
    form = await founder.get(url)
    assert form.status_code == 200 and 'name="in_directory"' in form.text
    values = {
        "csrf_token": await founder.ensure_token(),
        "sector": "smart_city",
        "stage": "early_revenue",
        "founded_on": "2017-09-01",
        "team_size": "6",
        "team": "Nam – CEO\nMai – CTO",
        "links": "https://lumi.example.vn",
        "in_directory": "1",
    }
    refused = await founder.http.post(
        url, data=values, files={"pitch": ("deck.pdf", b"GIF89a not a pdf", "application/pdf")}
    )
    assert refused.status_code == 422 and "not a PDF" in refused.text
    assert not (await StartupProfile.get(organisation_id=w.startup.id)).in_directory
    bad_link = await founder.http.post(url, data={**values, "links": "javascript:alert(1)"})
    assert bad_link.status_code == 422
    saved = await founder.http.post(
        url, data=values, files={"pitch": ("../../Lumi deck.pdf", PDF, "application/pdf")}
    )
    assert saved.status_code == 303
    profile = await StartupProfile.get(organisation_id=w.startup.id)
    assert profile.in_directory and profile.stage == "early_revenue" and profile.team_size == 6
    assert profile.pitch_id is not None  # type: ignore[attr-defined]
    deck = await founder.get(f"/incubator/startups/{w.startup.id}/pitch.pdf")
    assert deck.status_code == 200 and deck.content == PDF
    assert deck.headers["content-type"] == "application/pdf"
    assert "Lumi-deck.pdf" in deck.headers["content-disposition"]
    directory = await new_browser(lang="en").get("/incubator/startups?stage=early_revenue")
    assert "Lumi Smart Lighting" in directory.text and "GreenFarm IoT" not in directory.text


async def test_the_report_form_draft_errors_submit_and_chart(new_browser):
    w = await world()
    await submitted(w.enrolment, "2026-08", {"revenue": 90_000_000})
    request = await open_request(w.enrolment, "2026-10")
    founder = await signed_in(new_browser, w.founder)
    page = await founder.get(f"/incubator/startups/{w.startup.id}")
    assert f"/reports/{request.id}" in page.text
    url = f"/incubator/startups/{w.startup.id}/reports/{request.id}"
    form = await founder.get(url)
    assert 'inputmode="numeric"' in form.text and 'id="f-m_revenue"' in form.text
    assert "Last report: 90,000,000" in form.text  # August's revenue as a hint
    draft = await founder.post(url, {"action": "draft", "m_users": "340"})
    assert draft.status_code == 303
    stored = await ReportRequest.get(id=request.id)
    assert (stored.status, stored.values) == ("draft", {"users": 340})
    assert 'value="340"' in (await founder.get(url)).text  # the draft comes back
    wrong = await founder.post(url, {"action": "submit", "m_revenue": "lots", "m_users": "340"})
    assert wrong.status_code == 422 and "Enter a number." in wrong.text
    assert 'value="lots"' in wrong.text  # what was typed is kept
    no_reason = await founder.post(url, {"action": "skip", "reason": ""})
    assert no_reason.status_code == 422 and "Say why" in no_reason.text
    done = await founder.post(
        url, {"action": "submit", "m_revenue": "120.000.000", "m_users": "340", "narrative": "Tốt"}
    )
    assert done.status_code == 303
    stored = await ReportRequest.get(id=request.id)
    assert stored.status == "submitted" and stored.values == {"revenue": 120_000_000, "users": 340}
    page = await founder.get(f"/incubator/startups/{w.startup.id}")
    assert 'data-label="2026-10"' in page.text and 'data-label="2026-08"' in page.text
    assert (await founder.get(url)).status_code == 200  # a closed report says so
    assert "has been submitted" in (await founder.get(url)).text


async def test_milestones_comments_sessions(new_browser):
    w = await world()
    founder = await signed_in(new_browser, w.founder)
    base = f"/incubator/startups/{w.startup.id}"
    bad = await founder.post(
        f"{base}/milestones", {"enrolment_id": str(w.enrolment.id), "title": "", "due_on": "soon"}
    )
    assert bad.status_code == 422
    late_day = local_today() - timedelta(days=3)
    added = await founder.post(
        f"{base}/milestones",
        {
            "enrolment_id": str(w.enrolment.id),
            "title": "Pilot at EIU",
            "due_on": late_day.isoformat(),
            "owner_id": str(w.founder.id),
            "definition_of_done": "Lights installed in building B",
        },
    )
    assert added.status_code == 303
    milestone = await Milestone.get(title="Pilot at EIU")
    assert milestone.owner_id == w.founder.id  # type: ignore[attr-defined]
    page = (await founder.get(base)).text
    assert "late-flag" in page and "Lights installed in building B" in page
    stranger_owner = await founder.post(
        f"{base}/milestones",
        {
            "enrolment_id": str(w.enrolment.id),
            "title": "X",
            "due_on": "2027-01-01",
            "owner_id": str(w.manager.id),
        },
    )
    assert stranger_owner.status_code == 422  # owners are the startup's members

    mentor = await signed_in(new_browser, w.mentor)
    fragment = await mentor.post(
        f"{base}/milestones/{milestone.id}/comments",
        {"body": "Ask EIU facilities early"},
        headers={"HX-Request": "true"},
    )
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith(f'<div class="comments" id="comments-{milestone.id}"')
    assert "Ask EIU facilities early" in fragment.text and "<html" not in fragment.text
    assert await MilestoneComment.filter(milestone_id=milestone.id).count() == 1

    done = await founder.post(
        f"{base}/milestones/{milestone.id}",
        {"title": "Pilot at EIU", "due_on": late_day.isoformat(), "status": "done"},
    )
    assert done.status_code == 303
    milestone = await Milestone.get(id=milestone.id)
    assert milestone.status == "done" and milestone.completed_on == local_today()

    future = await mentor.post(
        f"{base}/sessions",
        {
            "enrolment_id": str(w.enrolment.id),
            "held_on": (local_today() + timedelta(days=2)).isoformat(),
            "topics": "x",
        },
    )
    assert future.status_code == 422
    logged = await mentor.post(
        f"{base}/sessions",
        {
            "enrolment_id": str(w.enrolment.id),
            "held_on": local_today().isoformat(),
            "topics": "Pricing of the pilot",
            "actions": "Send the proposal on Friday",
        },
    )
    assert logged.status_code == 303
    session = await MentoringSession.get()
    assert session.mentor_id == w.mentor.id and session.actions == "Send the proposal on Friday"  # type: ignore[attr-defined]
    assert "Send the proposal on Friday" in (await founder.get(base)).text


async def test_sharing_grant_and_revoke(new_browser, client):
    w = await world()
    founder = await signed_in(new_browser, w.founder)
    url = f"/incubator/startups/{w.startup.id}/sharing"
    page = await founder.get(url)
    assert "Sở Khoa học và Công nghệ" in page.text
    invalid = await founder.post(
        url,
        {
            "grantee_id": str(w.host.id),
            "period_from": "2026-06",
            "period_to": "2026-01",
            "expires_on": "2020-01-01",
        },
    )
    assert invalid.status_code == 422
    assert "Choose at least one" in invalid.text and "in the future" in invalid.text
    created = await founder.post(
        url,
        {
            "grantee_id": str(w.host.id),
            "metrics": "users",
            "period_from": "2026-01",
            "period_to": "2026-12",
            "expires_on": (local_today() + timedelta(days=30)).isoformat(),
        },
    )
    assert created.status_code == 303
    grant = await ShareGrant.filter(grantee_id=w.host.id).get()
    assert grant.metrics == ["users"]
    asked = await founder.post(f"{url}/{grant.id}/revoke")
    assert asked.status_code == 200 and 'name="confirmed" value="yes"' in asked.text
    assert (await ShareGrant.get(id=grant.id)).revoked_at is None  # nothing until confirmed
    revoke = await founder.post(f"{url}/{grant.id}/revoke", {"confirmed": "yes"})
    assert revoke.status_code == 303
    assert (await ShareGrant.get(id=grant.id)).revoked_at is not None
    # A member who is not an owner or admin reads the log but cannot share.
    helper = await (
        await __import__("tests.conftest", fromlist=["person"]).person("intern@lumi.vn")
    )
    await member(helper, w.startup, Role.MEMBER)
    intern = await signed_in(new_browser, helper)
    assert (await intern.get(url)).status_code == 200
    assert (await intern.post(f"{url}/{w.grant.id}/revoke")).status_code == 403


async def test_a_call_from_form_to_enrolment(new_browser, count_queries):
    w = await world()
    await member(w.manager, w.host, Role.ADMIN)  # host admins may appoint managers
    reviewer_user = await __import__("tests.conftest", fromlist=["person"]).person(
        "reviewer@eiu.edu.vn"
    )
    manager = await signed_in(new_browser, w.manager)
    manage = f"/incubator/programmes/{w.programme.id}"
    assert (await manager.get(f"{manage}/manage")).status_code == 200
    granted = await manager.post(
        f"{manage}/roles", {"email": "reviewer@eiu.edu.vn", "role": "reviewer"}
    )
    assert granted.status_code == 303
    twice = await manager.post(
        f"{manage}/roles", {"email": "reviewer@eiu.edu.vn", "role": "reviewer"}
    )
    assert twice.status_code == 409
    cohort = await manager.post(
        f"{manage}/cohorts", {"name": "Khóa 2027", "starts_on": "2027-01-05"}
    )
    assert cohort.status_code == 303
    metric = await manager.post(
        f"{manage}/metrics", {"name": "Pilot sites", "unit": "sites", "integer": "1"}
    )
    assert metric.status_code == 303
    bad_schedule = await manager.post(
        f"{manage}/schedule",
        {
            "schedule": "one_off",
            "due_days": "10",
            "remind_days_before": "3",
            "remind_days_after": "2",
            "escalate_days_after": "7",
            "one_off_period": "Q4",
            "one_off_due_on": "",
        },
    )
    assert bad_schedule.status_code == 422 and "2026-Q4" in bad_schedule.text
    bad_call = await manager.post(
        f"{manage}/calls", {"title": "Call", "deadline": "2020-01-01", "criteria": "Team"}
    )
    assert bad_call.status_code == 422
    deadline = (local_today() + timedelta(days=20)).isoformat()
    call = await manager.post(
        f"{manage}/calls",
        {
            "title": "Smart city call 2027",
            "deadline": deadline,
            "questions": "Which problem do you solve?",
            "documents": "Pitch deck",
            "criteria": "Team | 3\nImpact | 1",
        },
    )
    assert call.status_code == 303
    call_url = call.headers["location"]

    applicant = await __import__("tests.conftest", fromlist=["person"]).person("ceo@airwatch.vn")
    airwatch = await startup("AirWatch BD", applicant)
    founder = await signed_in(new_browser, applicant)
    page = await founder.get(call_url)
    assert 'name="q_which_problem_do_you_solve"' in page.text
    missing = await founder.http.post(
        f"{call_url}/apply",
        data={"csrf_token": await founder.ensure_token(), "startup_id": str(airwatch.id)},
    )
    assert missing.status_code == 422
    applied = await founder.http.post(
        f"{call_url}/apply",
        data={
            "csrf_token": await founder.ensure_token(),
            "startup_id": str(airwatch.id),
            "q_which_problem_do_you_solve": "Air quality on the industrial roads",
        },
        files={"d_pitch_deck": ("deck.pdf", PDF, "application/pdf")},
    )
    assert applied.status_code == 303
    application = await Application.get(startup_id=airwatch.id)
    again = await founder.http.post(
        f"{call_url}/apply",
        data={
            "csrf_token": await founder.ensure_token(),
            "startup_id": str(airwatch.id),
            "q_which_problem_do_you_solve": "x",
        },
        files={"d_pitch_deck": ("deck.pdf", PDF, "application/pdf")},
    )
    assert again.status_code == 409

    app_url = f"/incubator/applications/{application.id}"
    assert (
        await manager.post(f"{app_url}/assign", {"reviewer_id": str(reviewer_user.id)})
    ).status_code == 303
    reviewer = await signed_in(new_browser, reviewer_user)
    review_page = await reviewer.get(app_url)
    assert review_page.status_code == 200 and "Air quality" in review_page.text
    document_id = application.documents["pitch_deck"]
    assert (await reviewer.get(f"/incubator/documents/{document_id}")).content == PDF
    stranger = await signed_in(new_browser, w.stranger)
    assert (await stranger.get(app_url)).status_code == 404
    assert (await stranger.get(f"/incubator/documents/{document_id}")).status_code == 404
    out_of_range = await reviewer.post(
        f"{app_url}/review", {"score_team": "9", "score_impact": "1", "recommendation": "admit"}
    )
    assert out_of_range.status_code == 422
    reviewed = await reviewer.post(
        f"{app_url}/review",
        {
            "score_team": "5",
            "score_impact": "1",
            "recommendation": "admit",
            "comment": "Strong team",
        },
    )
    assert reviewed.status_code == 303
    review = await Review.get(application_id=application.id)
    assert review.score == 75.0  # (3·1 + 1·0) / 4 on the 0..100 scale
    assert (await stranger.post(f"{app_url}/decide", {"decision": "admit"})).status_code == 403

    decided = await manager.post(
        f"{app_url}/decide", {"decision": "admit", "message": "Welcome to the 2027 cohort!"}
    )
    assert decided.status_code == 303
    assert decided.headers["location"] == f"{call_url}/decisions"
    assert (await Application.get(id=application.id)).status == ApplicationStatus.ADMITTED
    assert not await OutboxMessage.exists(to="ceo@airwatch.vn")  # previewed first
    preview = await manager.get(f"{call_url}/decisions")
    assert "Welcome to the 2027 cohort!" in preview.text and "ceo@airwatch.vn" in preview.text
    sent = await manager.post(f"{call_url}/decisions", {"application_id": str(application.id)})
    assert sent.status_code == 303
    mail = await OutboxMessage.get(to="ceo@airwatch.vn")
    assert "admitted" in mail.subject and "Welcome to the 2027 cohort!" in mail.text_body
    assert (await manager.post(f"{app_url}/decide", {"decision": "decline"})).status_code == 409
    from incubator.models import Cohort

    new_cohort = await Cohort.get(name="Khóa 2027")
    enrolled = await manager.post(f"{app_url}/enrol", {"cohort_id": str(new_cohort.id)})
    assert enrolled.status_code == 303
    assert await Enrolment.exists(cohort_id=new_cohort.id, startup_id=airwatch.id)


async def test_the_cohort_dashboard_csv_and_constant_queries(new_browser, count_queries):
    w = await world()
    today = local_today()
    await Milestone.create(
        enrolment=w.enrolment,
        title="A",
        due_on=today - timedelta(days=10),
        status="done",
        completed_on=today - timedelta(days=12),
    )
    await Milestone.create(enrolment=w.other_enrolment, title="B", due_on=today - timedelta(days=1))
    await submitted(
        w.enrolment, "2026-05", {"revenue": 100_000_000, "users": 10}, due=date(2099, 1, 1)
    )
    await submitted(w.other_enrolment, "2026-05", {"revenue": 50_000_000}, due=date(2000, 1, 1))
    manager = await signed_in(new_browser, w.manager)
    url = f"/incubator/cohorts/{w.cohort.id}"
    page = await manager.get(url)
    assert page.status_code == 200
    assert 'id="milestones-on-time">50%' in page.text and 'id="reports-on-time">50%' in page.text
    assert "150.000.000" in page.text or "150,000,000" in page.text  # total revenue
    csv_response = await manager.get(f"{url}/export.csv")
    assert csv_response.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(csv_response.content.decode("utf-8-sig"))))
    assert lines[0][:5] == ["startup_id", "startup", "stage", "sector", "milestones"]
    assert "GreenFarm IoT" in csv_response.text and len(lines) == 3
    for who in (w.founder, w.grantee):
        other = await signed_in(new_browser, who)
        assert (await other.get(url)).status_code == 403
        assert (await other.get(f"{url}/export.csv")).status_code == 403
    mentor = await signed_in(new_browser, w.mentor)
    assert (await mentor.get(url)).status_code == 200

    with count_queries() as small:
        await manager.get(url)
    for index in range(6):
        extra = await startup(f"Startup {index}")
        enrolment = await accepted_enrolment(w.cohort, extra)
        await Milestone.create(enrolment=enrolment, title="M", due_on=today)
        await submitted(enrolment, "2026-05", {"revenue": 1})
    with count_queries() as large:
        response = await manager.get(url)
    assert response.text.count("/incubator/startups/") >= 8
    assert len(large.statements) == len(small.statements)


async def test_create_a_programme_as_host_admin(new_browser):
    w = await world()
    stranger = await signed_in(new_browser, w.stranger)
    assert (await stranger.get("/incubator/programmes/new")).status_code == 403
    await member(w.stranger, w.host, Role.ADMIN)
    created = await stranger.post(
        "/incubator/programmes/new",
        {
            "organisation_id": str(w.host.id),
            "name": "Chương trình tăng tốc 2027",
            "description": "",
        },
    )
    assert created.status_code == 303
    role = await ProgrammeRole.get(user_id=w.stranger.id)
    assert role.role == "manager"
    assert (await stranger.get(created.headers["location"])).status_code == 200
    home = await stranger.get("/incubator")
    assert "Chương trình tăng tốc 2027" in home.text


async def test_the_startup_page_and_directory_run_a_fixed_number_of_queries(
    new_browser, count_queries
):
    from incubator.models import MilestoneComment

    w = await world()
    founder = await signed_in(new_browser, w.founder)
    url = f"/incubator/startups/{w.startup.id}"

    async def grow(start: int) -> None:
        for index in range(start, start + 4):
            milestone = await Milestone.create(
                enrolment=w.enrolment, title=f"M{index}", due_on=date(2026, 1 + index, 1)
            )
            await MilestoneComment.create(milestone=milestone, author=w.mentor, body="ok")
            await submitted(w.enrolment, f"2025-{index + 1:02d}", {"revenue": index, "users": 1})
            await MentoringSession.create(
                enrolment=w.enrolment, mentor=w.mentor, held_on=date(2026, 1, 1), topics="t"
            )
            await startup(f"Listed {index}", in_directory=True)

    await grow(0)
    with count_queries() as small:
        assert (await founder.get(url)).status_code == 200
        assert (await founder.get("/incubator/startups")).status_code == 200
    await grow(4)
    with count_queries() as large:
        page = await founder.get(url)
        directory = await founder.get("/incubator/startups")
    assert page.text.count('id="milestone-') == 8 and directory.text.count("Listed ") == 8
    assert len(large.statements) == len(small.statements)


async def test_the_kpi_csv_export_follows_the_grant_and_is_logged(new_browser):
    from incubator.models import ShareAccess

    w = await world()
    await submitted(w.enrolment, "2026-02", {"revenue": 100, "users": 5})
    await submitted(w.enrolment, "2026-09", {"revenue": 300, "users": 9})
    url = f"/incubator/startups/{w.startup.id}/metrics.csv"
    founder = await signed_in(new_browser, w.founder)
    full = await founder.get(url)
    assert full.headers["content-type"].startswith("text/csv")
    assert full.content.decode("utf-8-sig").splitlines() == [
        '"period","revenue","users","funding","headcount"',
        '"2026-02",100,5,"",""',
        '"2026-09",300,9,"",""',
    ]
    grantee = await signed_in(new_browser, w.grantee)
    granted = await grantee.get(url)
    assert granted.content.decode("utf-8-sig").splitlines() == [
        '"period","revenue"',
        '"2026-02",100',
    ]
    assert [a.channel for a in await ShareAccess.all()] == ["csv"]
    stranger = await signed_in(new_browser, w.stranger)
    assert (await stranger.get(url)).status_code == 403


async def test_pitch_deck_downloads_by_programme_staff_are_in_the_read_log(new_browser):
    from incubator.models import EnrolmentRead

    w = await world()
    founder = await signed_in(new_browser, w.founder)
    url = f"/incubator/startups/{w.startup.id}/profile"
    saved = await founder.http.post(
        url,
        data={
            "csrf_token": await founder.ensure_token(),
            "sector": "smart_city",
            "stage": "mvp",
            "team_size": "3",
        },
        files={"pitch": ("deck.pdf", PDF, "application/pdf")},
    )
    assert saved.status_code == 303, saved.text
    deck = f"/incubator/startups/{w.startup.id}/pitch.pdf"
    assert (await founder.get(deck)).status_code == 200
    assert not await EnrolmentRead.exists(channel="pitch")  # its own people are not logged

    for reader in (w.manager, w.mentor):
        staff = await signed_in(new_browser, reader)
        assert (await staff.get(deck)).status_code == 200
    logged = await EnrolmentRead.filter(channel="pitch").values_list("user_id", flat=True)
    assert sorted(logged) == sorted([w.manager.id, w.mentor.id])
    stranger = await signed_in(new_browser, w.stranger)
    assert (await stranger.get(deck)).status_code in (403, 404)
    assert await EnrolmentRead.filter(channel="pitch").count() == 2

    log = await founder.get(f"/incubator/startups/{w.startup.id}/sharing")
    assert log.text.count("pitch deck") == 2 and w.mentor.full_name in log.text
