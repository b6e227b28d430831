"""Issue 17: reports that can be trusted (required metrics, never blank, outliers explained,
corrections with history) and reminders that reach someone (who cannot be reminded, "remind
now", throttled, through the outbox and on the report's history); one invitation per address;
confirmations before destructive buttons. Over HTTP, per role, on both backends."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from tortoise import timezone

from ecosystem.models import OutboxMessage
from incubator.models import (
    Application,
    ApplicationCall,
    Cohort,
    Enrolment,
    Metric,
    ProgrammeRole,
    ProgrammeRoleInvitation,
    ProgrammeRoleKind,
    ReportCorrection,
    ReportNudge,
    ReportReminder,
    ReportRequest,
    RequestStatus,
)
from incubator.services import programmes
from tests.conftest import person
from tests.incubator.conftest import (
    accepted_enrolment,
    bearer,
    member,
    open_request,
    startup,
    submitted,
    world,
)

LATE = date(2026, 1, 20)  # long past, whatever day the tests run
LATER = date(2099, 1, 1)  # never late


async def signed_in(new_browser, user):
    browser = new_browser(lang="en")
    await browser.login(user.email)
    return browser


async def history_of(enrolment, *months):
    """Submitted reports with revenue around 26 M VND and about 300 users."""
    for i, period in enumerate(months):
        await submitted(enrolment, period, {"revenue": 26_000_000 + i, "users": 300 + 10 * i})


# --- 1. reports that mean something ---------------------------------------------------------


async def test_the_api_refuses_missing_required_blank_and_unexplained_outliers(client):
    w = await world()
    await Metric.filter(programme_id=w.programme.id, key__in=["revenue", "users"]).update(
        required=True
    )
    await history_of(w.enrolment, "2026-07", "2026-08", "2026-09")
    request = await open_request(w.enrolment, "2026-10")
    url = f"/api/v1/startups/{w.startup.id}/reports"
    founder = await bearer(w.founder)

    missing = await client.post(
        url, json={"period": "2026-10", "metrics": {"users": 340}}, headers=founder
    )
    assert missing.status_code == 422
    assert set(missing.json()["error"]["fields"]) == {"metrics.revenue"}
    blank = await client.post(
        url,
        json={"period": "2026-10", "metrics": {"revenue": None, "users": None}, "narrative": "x"},
        headers=founder,
    )
    assert blank.status_code == 422
    assert set(blank.json()["error"]["fields"]) == {"metrics.revenue", "metrics.users"}
    # A draft may be partial: it is not a submission.
    draft = await client.post(
        url, json={"period": "2026-10", "metrics": {}, "draft": True}, headers=founder
    )
    assert draft.status_code == 201 and draft.json()["status"] == "draft"

    # 26 M → 350 M VND (more than 3× the median of the last three months) asks why;
    # 310 → 90 users (under a third) too.
    jump = {"period": "2026-10", "metrics": {"revenue": 350_000_000, "users": 90}}
    unexplained = await client.post(url, json=jump, headers=founder)
    assert unexplained.status_code == 422
    assert set(unexplained.json()["error"]["fields"]) == {"metrics.revenue", "metrics.users"}
    half = await client.post(
        url, json={**jump, "explanations": {"revenue": "Hợp đồng lớn"}}, headers=founder
    )
    assert half.status_code == 422 and set(half.json()["error"]["fields"]) == {"metrics.users"}
    assert (await ReportRequest.get(id=request.id)).status == RequestStatus.DRAFT
    explained = await client.post(
        url,
        json={
            **jump,
            "explanations": {"revenue": "Hợp đồng lớn với Becamex", "users": "  Lọc tài khoản ảo "},
        },
        headers=founder,
    )
    assert explained.status_code == 201, explained.text
    stored = await ReportRequest.get(id=request.id)
    assert stored.status == RequestStatus.SUBMITTED
    assert stored.explanations == {
        "revenue": "Hợp đồng lớn với Becamex",
        "users": "Lọc tài khoản ảo",
    }

    # Within its history (and without any history) no question is asked.
    await open_request(w.other_enrolment, "2026-10")
    other = await client.post(
        f"/api/v1/startups/{w.other.id}/reports",
        json={"period": "2026-10", "metrics": {"revenue": 900_000_000, "users": 1}},
        headers=await bearer(w.other_founder),
    )
    assert other.status_code == 201
    too_long = await client.post(
        url, json={**jump, "explanations": {"revenue": "x" * 301}}, headers=founder
    )
    assert too_long.status_code == 422


async def test_a_programme_with_no_required_metric_still_refuses_a_blank_report(client):
    w = await world()
    await open_request(w.enrolment, "2026-10")
    url = f"/api/v1/startups/{w.startup.id}/reports"
    blank = await client.post(
        url, json={"period": "2026-10", "metrics": {}}, headers=await bearer(w.founder)
    )
    assert blank.status_code == 422
    assert set(blank.json()["error"]["fields"]) == {
        "metrics.revenue",
        "metrics.users",
        "metrics.funding",
        "metrics.headcount",
    }
    assert not await ReportRequest.exists(status=RequestStatus.SUBMITTED)


async def test_the_manager_marks_metrics_required_and_the_form_says_which(new_browser):
    w = await world()
    await history_of(w.enrolment, "2026-07", "2026-08", "2026-09")
    request = await open_request(w.enrolment, "2026-10")
    manager = await signed_in(new_browser, w.manager)
    settings = await manager.get(f"/incubator/programmes/{w.programme.id}/manage")
    assert 'name="required" value="revenue"' in settings.text
    saved = await manager.post(
        f"/incubator/programmes/{w.programme.id}/required", {"required": ["revenue", "users"]}
    )
    assert saved.status_code == 303
    required = await Metric.filter(programme_id=w.programme.id, required=True).values_list(
        "key", flat=True
    )
    assert sorted(required) == ["revenue", "users"]
    unknown = await manager.post(
        f"/incubator/programmes/{w.programme.id}/required", {"required": ["profit"]}
    )
    assert unknown.status_code == 422
    assert await Metric.filter(programme_id=w.programme.id, required=True).count() == 2

    founder = await signed_in(new_browser, w.founder)
    url = f"/incubator/startups/{w.startup.id}/reports/{request.id}"
    form = await founder.get(url)
    assert form.text.count('class="badge required"') == 2
    missing = await founder.post(url, {"action": "submit", "m_users": "340", "narrative": "Ổn"})
    assert missing.status_code == 422
    assert "The programme requires this figure." in missing.text
    assert 'value="340"' in missing.text and "Ổn" in missing.text  # kept
    blank = await founder.post(url, {"action": "submit"})
    assert blank.status_code == 422 and "cannot be submitted blank" in blank.text

    # An outlier: the form asks the question and keeps what was typed.
    jump = {"action": "submit", "m_revenue": "350.000.000", "m_users": "340"}
    asked = await founder.post(url, jump)
    assert asked.status_code == 422
    assert 'name="x_revenue"' in asked.text and 'name="x_users"' not in asked.text
    assert 'value="350.000.000"' in asked.text
    assert (await ReportRequest.get(id=request.id)).status == RequestStatus.OPEN
    done = await founder.post(url, {**jump, "x_revenue": "Hợp đồng lớn với Becamex"})
    assert done.status_code == 303

    # The manager (and the assigned mentor) see the explanation on the report's page.
    history = f"/incubator/startups/{w.startup.id}/reports/{request.id}/history"
    for person_ in (w.manager, w.mentor):
        page = await (await signed_in(new_browser, person_)).get(history)
        assert page.status_code == 200
        assert "Hợp đồng lớn với Becamex" in page.text and "Submitted by" in page.text


# --- corrections -------------------------------------------------------------------------------


async def test_a_founder_corrects_a_submitted_report_and_the_manager_sees_it(client, new_browser):
    w = await world()
    await Metric.filter(programme_id=w.programme.id, key="users").update(required=True)
    request = await submitted(w.enrolment, "2026-10", {"revenue": 120_000_000, "users": 340})
    base = f"/incubator/startups/{w.startup.id}/reports/{request.id}"
    founder = await signed_in(new_browser, w.founder)
    page = await founder.get(f"{base}/history")
    assert 'id="correct-link"' in page.text
    form = await founder.get(f"{base}/correct")
    assert form.status_code == 200 and 'value="340"' in form.text

    no_reason = await founder.post(f"{base}/correct", {"m_revenue": "120000000", "m_users": "350"})
    assert no_reason.status_code == 422 and 'value="350"' in no_reason.text
    unchanged = await founder.post(
        f"{base}/correct", {"m_revenue": "120000000", "m_users": "340", "reason": "nothing"}
    )
    assert unchanged.status_code == 422 and "Nothing has changed" in unchanged.text
    dropped = await founder.post(
        f"{base}/correct", {"m_revenue": "120000000", "reason": "forgot users"}
    )
    assert dropped.status_code == 422 and "The programme requires this figure." in dropped.text
    for who in (w.other_founder, w.manager, w.mentor, w.grantee):
        refused = await (await signed_in(new_browser, who)).post(
            f"{base}/correct", {"m_users": "1", "reason": "hijack"}
        )
        assert refused.status_code == 403, who.email
    assert not await ReportCorrection.exists()

    done = await founder.post(
        f"{base}/correct",
        {"m_revenue": "125000000", "m_users": "350", "narrative": "", "reason": "Sai số đếm"},
    )
    assert done.status_code == 303 and done.headers["location"].endswith("/history")
    correction = await ReportCorrection.get(request_id=request.id)
    assert correction.author_id == w.founder.id  # type: ignore[attr-defined]
    assert correction.reason == "Sai số đếm"
    assert correction.changes == [
        {"field": "revenue", "old": 120_000_000, "new": 125_000_000},
        {"field": "users", "old": 340, "new": 350},
    ]
    stored = await ReportRequest.get(id=request.id)
    assert stored.values == {"revenue": 125_000_000, "users": 350} and stored.corrected_at
    assert stored.status == RequestStatus.SUBMITTED and stored.submitted_at is not None
    # The corrected values are what everyone reads from now on.
    api = await client.get(
        f"/api/v1/startups/{w.startup.id}/metrics", headers=await bearer(w.manager)
    )
    users = next(m for m in api.json()["metrics"] if m["key"] == "users")
    assert users["points"] == [{"period": "2026-10", "value": 350}]

    manager = await signed_in(new_browser, w.manager)
    history = await manager.get(f"{base}/history")
    assert history.status_code == 200
    assert "Corrected by Lê Hoàng Nam" in history.text and "Sai số đếm" in history.text
    assert "<del>340</del>" in history.text and "<ins>350</ins>" in history.text
    cohort = await manager.get(f"/incubator/cohorts/{w.cohort.id}")
    assert "1 corrected" in cohort.text
    startup_page = await manager.get(f"/incubator/startups/{w.startup.id}")
    assert 'class="badge corrected"' in startup_page.text

    # The programme reads only the metrics the startup accepted: not revenue any more.
    await Enrolment.filter(id=w.enrolment.id).update(metrics=["users"])
    narrowed = await manager.get(f"{base}/history")
    assert "<ins>350</ins>" in narrowed.text and "125,000,000" not in narrowed.text
    # Outsiders see nothing of it.
    for who in (w.other_founder, w.grantee, w.stranger):
        seen = await (await signed_in(new_browser, who)).get(f"{base}/history")
        assert seen.status_code in (403, 404), who.email


# --- 2. reminders that reach someone ---------------------------------------------------------


async def test_remind_now_reaches_someone_is_throttled_and_is_on_the_history(new_browser):
    w = await world()
    ghost = await startup("Ghost Labs")  # no member at all
    shy = await startup("Shy Robotics")
    await member(await person("shy@robotics.vn", verified=False), shy)  # unverified only
    ghost_enrolment = await accepted_enrolment(w.cohort, ghost)
    shy_enrolment = await accepted_enrolment(w.cohort, shy)
    lumi_late = await open_request(w.enrolment, "2026-01", due=LATE)
    lumi_next = await open_request(w.enrolment, "2026-02", due=LATER)
    await open_request(w.other_enrolment, "2026-01", due=LATE)
    ghost_late = await open_request(ghost_enrolment, "2026-01", due=LATE)
    await open_request(shy_enrolment, "2026-01", due=LATE)
    # An automatic reminder that reached nobody stays on the history too.
    await ReportReminder.create(request=ghost_late, kind="overdue", recipients=0)

    manager = await signed_in(new_browser, w.manager)
    cohort_url = f"/incubator/cohorts/{w.cohort.id}"
    page = await manager.get(cohort_url)
    assert page.text.count('class="badge unreachable"') == 2  # Ghost and Shy
    assert 'id="remind-late"' in page.text
    mentor = await signed_in(new_browser, w.mentor)
    assert 'id="remind-late"' not in (await mentor.get(cohort_url)).text
    assert (await mentor.post(f"{cohort_url}/remind", {})).status_code == 403
    founder = await signed_in(new_browser, w.founder)
    assert (await founder.post(f"{cohort_url}/remind", {})).status_code == 403

    all_late = await manager.post(f"{cohort_url}/remind", {})
    assert all_late.status_code == 303
    mailed = sorted(await OutboxMessage.all().values_list("to", flat=True))
    assert mailed == ["founder@greenfarm.vn", "founder@lumi.vn"]  # never the unverified one
    nudges = {n.request_id: n.recipients for n in await ReportNudge.all()}  # type: ignore[attr-defined]
    assert len(nudges) == 4 and lumi_next.id not in nudges  # only late reports
    assert nudges[lumi_late.id] == 1 and nudges[ghost_late.id] == 0
    flashed = await manager.get(cohort_url)
    assert (
        "2 reports reminded." in flashed.text and "2 reports have no one to remind" in flashed.text
    )

    # Not twice within an hour, whoever clicks: one startup's open reports, late or not,
    # are reminded, except the one reminded a moment ago.
    again = await manager.post(f"{cohort_url}/remind", {"enrolment_id": str(w.enrolment.id)})
    assert again.status_code == 303
    assert await OutboxMessage.filter(to="founder@lumi.vn").count() == 2
    flashed = (await manager.get(cohort_url)).text
    assert "1 report reminded." in flashed
    assert "1 report was reminded less than an hour ago" in flashed
    # An hour later both are reminded again.
    await ReportNudge.all().update(created_at=timezone.now() - timedelta(hours=2))
    one = await manager.post(f"{cohort_url}/remind", {"enrolment_id": str(w.enrolment.id)})
    assert one.status_code == 303
    assert await OutboxMessage.filter(to="founder@lumi.vn").count() == 4
    assert await ReportNudge.filter(request_id=lumi_next.id).count() == 2
    elsewhere = await Cohort.create(programme=w.programme, name="K2", starts_on=date(2027, 1, 1))
    foreign = await manager.post(
        f"/incubator/cohorts/{elsewhere.id}/remind", {"enrolment_id": str(w.enrolment.id)}
    )
    assert foreign.status_code == 404

    # The report's history lists every reminder and says when no one could be reached.
    history = await manager.get(f"/incubator/startups/{ghost.id}/reports/{ghost_late.id}/history")
    assert history.status_code == 200
    assert 'id="no-one-to-remind"' in history.text
    assert "Reminder (overdue): no one to remind" in history.text
    assert "Reminded by Phạm Thu Hà: no one to remind" in history.text
    lumi = await manager.get(f"/incubator/startups/{w.startup.id}/reports/{lumi_late.id}/history")
    assert "Reminded by Phạm Thu Hà: sent to 1 person" in lumi.text
    assert 'id="no-one-to-remind"' not in lumi.text


# --- 7. invitations and confirmations -------------------------------------------------------------


async def test_one_pending_invitation_per_address_even_at_once(app):
    w = await world()
    programme = w.programme
    await asyncio.gather(
        *(
            programmes.grant_role(w.manager, programme, "new@bbi.vn", role)
            for role in ("mentor", "reviewer", "mentor")
        )
    )
    assert await ProgrammeRoleInvitation.filter(programme_id=programme.id).count() == 1
    await programmes.grant_role(w.manager, programme, " NEW@bbi.vn ", "reviewer")
    invitation = await ProgrammeRoleInvitation.get(programme_id=programme.id)
    assert invitation.role == ProgrammeRoleKind.REVIEWER and invitation.email == "new@bbi.vn"


async def test_destructive_buttons_ask_first_and_ones_own_manager_role_twice(new_browser):
    w = await world()
    manager = await signed_in(new_browser, w.manager)
    own = await ProgrammeRole.get(programme_id=w.programme.id, user_id=w.manager.id)
    mentor_role = await ProgrammeRole.get(programme_id=w.programme.id, user_id=w.mentor.id)
    base = f"/incubator/programmes/{w.programme.id}"

    asked = await manager.post(f"{base}/roles/{mentor_role.id}/delete")
    assert asked.status_code == 200
    assert "Remove Đỗ Minh Quân as Mentor" in asked.text
    assert 'name="confirmed" value="yes"' in asked.text and "onclick" not in asked.text
    assert await ProgrammeRole.exists(id=mentor_role.id)
    # Refused people are refused before any question.
    assert (
        await (await signed_in(new_browser, w.mentor)).post(f"{base}/roles/{own.id}/delete")
    ).status_code == 403
    removed = await manager.post(f"{base}/roles/{mentor_role.id}/delete", {"confirmed": "yes"})
    assert removed.status_code == 303 and not await ProgrammeRole.exists(id=mentor_role.id)

    first = await manager.post(f"{base}/roles/{own.id}/delete", {"confirmed": "yes"})
    assert first.status_code == 200 and 'name="confirmed" value="twice"' in first.text
    assert "Really remove your own manager role?" in first.text
    assert await ProgrammeRole.exists(id=own.id)
    gone = await manager.post(f"{base}/roles/{own.id}/delete", {"confirmed": "twice"})
    assert gone.status_code == 303 and not await ProgrammeRole.exists(id=own.id)


async def test_withdrawing_an_invitation_and_leaving_ask_first(new_browser):
    w = await world()
    invitation = await ProgrammeRoleInvitation.create(
        programme=w.programme, email="later@bbi.vn", role="mentor"
    )
    manager = await signed_in(new_browser, w.manager)
    url = f"/incubator/programmes/{w.programme.id}/invitations/{invitation.id}/delete"
    asked = await manager.post(url)
    assert asked.status_code == 200 and "later@bbi.vn" in asked.text
    assert await ProgrammeRoleInvitation.exists(id=invitation.id)
    assert (await manager.post(url, {"confirmed": "yes"})).status_code == 303
    assert not await ProgrammeRoleInvitation.exists(id=invitation.id)

    founder = await signed_in(new_browser, w.founder)
    leave = f"/incubator/startups/{w.startup.id}/enrolments/{w.enrolment.id}/leave"
    question = await founder.post(leave)
    assert question.status_code == 200 and "Leave this programme?" in question.text
    assert (await Enrolment.get(id=w.enrolment.id)).status == "accepted"
    assert (await founder.post(leave, {"confirmed": "yes"})).status_code == 303
    assert (await Enrolment.get(id=w.enrolment.id)).status == "left"


# --- 3. the applicant's journey -----------------------------------------------------------------


async def test_the_applicant_sees_the_status_edits_until_the_deadline_and_applies_once(
    new_browser,
):
    w = await world()
    call = await ApplicationCall.create(
        programme=w.programme,
        title="Smart city call 2027",
        questions=[{"key": "problem", "label": "Which problem do you solve?"}],
        criteria=[{"id": "team", "label": "Team", "weight": 1, "scale_min": 1, "scale_max": 5}],
        deadline=timezone.now() + timedelta(days=20),
    )
    founder = await signed_in(new_browser, w.founder)
    call_url = f"/incubator/calls/{call.id}"
    form = await founder.get(call_url)
    assert f'action="{call_url}/apply"' in form.text and 'id="my-applications"' not in form.text
    applied = await founder.post(
        f"{call_url}/apply", {"startup_id": str(w.startup.id), "q_problem": "Đèn đường"}
    )
    assert applied.status_code == 303
    application = await Application.get(call_id=call.id, startup_id=w.startup.id)
    app_url = f"/incubator/applications/{application.id}"
    assert applied.headers["location"] == app_url

    # The call's page now shows the application, not a blank form again.
    again_page = await founder.get(call_url)
    assert f'href="{app_url}"' in again_page.text
    assert f'action="{call_url}/apply"' not in again_page.text
    # A second try is refused at once, before anything is typed or uploaded again.
    again = await founder.post(f"{call_url}/apply", {"startup_id": str(w.startup.id)})
    assert again.status_code == 409 and "already applied" in again.text
    assert await Application.filter(call_id=call.id).count() == 1

    page = await founder.get(app_url)
    assert 'id="application-status"' in page.text and 'id="edit-application"' in page.text
    empty = await founder.post(f"{app_url}/edit", {"q_problem": " "})
    assert empty.status_code == 422
    edited = await founder.post(f"{app_url}/edit", {"q_problem": "Đèn đường thông minh"})
    assert edited.status_code == 303
    assert (await Application.get(id=application.id)).answers == {"problem": "Đèn đường thông minh"}
    for who in (w.manager, w.other_founder):
        refused = await (await signed_in(new_browser, who)).post(
            f"{app_url}/edit", {"q_problem": "hijack"}
        )
        assert refused.status_code in (403, 404), who.email
    manager = await signed_in(new_browser, w.manager)
    assert 'id="edit-application"' not in (await manager.get(app_url)).text
    assert "In review" not in (await founder.get(app_url)).text
    reviewer = await person("reviewer@eiu.edu.vn")
    await ProgrammeRole.create(programme=w.programme, user=reviewer, role="reviewer")
    assigned = await manager.post(f"{app_url}/assign", {"reviewer_id": str(reviewer.id)})
    assert assigned.status_code == 303
    assert "In review" in (await founder.get(app_url)).text

    dashboard = await founder.get("/dashboard")
    assert f'href="{app_url}"' in dashboard.text and "Smart city call 2027" in dashboard.text

    # Declined with a message: the applicant reads both; nothing is editable any more.
    decided = await manager.post(
        f"{app_url}/decide", {"decision": "decline", "message": "Chưa phù hợp năm nay"}
    )
    assert decided.status_code == 303
    assert "Chưa phù hợp năm nay" not in (await founder.get(app_url)).text  # not sent yet
    sent = await manager.post(
        f"/incubator/calls/{call.id}/decisions", {"application_id": str(application.id)}
    )
    assert sent.status_code == 303
    closed = await founder.get(app_url)
    assert "Chưa phù hợp năm nay" in closed.text and 'id="edit-application"' not in closed.text
    assert (await founder.post(f"{app_url}/edit", {"q_problem": "late"})).status_code == 409


async def test_an_application_is_not_editable_after_the_deadline(new_browser):
    w = await world()
    call = await ApplicationCall.create(
        programme=w.programme,
        title="Call",
        questions=[{"key": "problem", "label": "Problem"}],
        criteria=[{"id": "team", "label": "Team", "weight": 1, "scale_min": 1, "scale_max": 5}],
        deadline=timezone.now() - timedelta(days=1),
    )
    application = await Application.create(
        call=call, startup=w.startup, applicant=w.founder, answers={"problem": "x"}
    )
    founder = await signed_in(new_browser, w.founder)
    url = f"/incubator/applications/{application.id}"
    page = await founder.get(url)
    assert 'id="application-status"' in page.text and 'id="edit-application"' not in page.text
    assert (await founder.post(f"{url}/edit", {"q_problem": "y"})).status_code == 409
    assert (await Application.get(id=application.id)).answers == {"problem": "x"}
