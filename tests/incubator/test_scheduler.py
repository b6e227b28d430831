"""The KPI report scheduler under frozen time (time_machine): requests open at the end of a
period, reminders go out before and after the due date and escalate to the mentor, each
exactly once; editing a due date or switching the schedule takes effect without sending
anything twice; a skipped period is left alone. Times are local (Asia/Ho_Chi_Minh)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from ecosystem.errors import Invalid
from ecosystem.models import OutboxMessage
from incubator.models import ReportReminder, ReportRequest, RequestStatus
from incubator.permissions import startup_access
from incubator.services import programmes, reports
from tests.incubator.conftest import world

HCMC = ZoneInfo("Asia/Ho_Chi_Minh")


def local(day: date, hour: int = 8) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=HCMC)


async def run_at(day: date, hour: int = 8) -> reports.SchedulerRun:
    moment = local(day, hour)
    with time_machine.travel(moment, tick=False):
        return await reports.run_scheduler(moment)


async def mails() -> Counter:
    """(recipient, kind of mail) → count; the kind is read from the subject line."""
    found: Counter = Counter()
    for message in await OutboxMessage.all():
        subject = message.subject
        kind = (
            "overdue"
            if subject.startswith("Overdue")
            else "before"
            if subject.startswith("Due soon")
            else "escalation"
            if "has not sent" in subject
            else "opened"
        )
        found[(message.to, kind)] += 1
    return found


def schedule_values(**changes) -> dict[str, str]:
    values = {
        "schedule": "monthly",
        "due_days": "10",
        "remind_days_before": "3",
        "remind_days_after": "2",
        "escalate_days_after": "7",
        "one_off_period": "",
        "one_off_due_on": "",
    }
    values.update({k: str(v) for k, v in changes.items()})
    return values


@pytest.fixture
async def w(app):
    made = await world(enrolled_on=date(2026, 10, 1))  # September is not theirs to report
    for person in made.people.values():
        if person is not None:
            person.locale = "en"
            await person.save(update_fields=["locale"])
    return made


async def test_a_monthly_request_opens_reminds_escalates_each_once(w):
    assert (await run_at(date(2026, 10, 31), hour=23)).opened == 0  # October has not ended
    run = await run_at(date(2026, 11, 1), hour=0)
    assert run.opened == 2  # both startups of the cohort
    lumi = await ReportRequest.get(startup_id=w.startup.id)
    assert (lumi.period, lumi.due_on, lumi.status) == ("2026-10", date(2026, 11, 10), "open")
    assert await mails() == {
        ("founder@lumi.vn", "opened"): 1,
        ("founder@greenfarm.vn", "opened"): 1,
    }
    for day in (date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 6)):
        run = await run_at(day, hour=23)
        assert run.opened == 0 and not run.reminders
    await run_at(date(2026, 11, 7))
    await run_at(date(2026, 11, 7), hour=20)
    await run_at(date(2026, 11, 11))  # due yesterday, overdue only from the 12th
    # The overdue reminder fires once, however often the scheduler runs after it.
    for day in (date(2026, 11, 12), date(2026, 11, 12), date(2026, 11, 13), date(2026, 11, 16)):
        await run_at(day)
    await run_at(date(2026, 11, 17))
    await run_at(date(2026, 11, 25))
    assert await mails() == {
        ("founder@lumi.vn", "opened"): 1,
        ("founder@lumi.vn", "before"): 1,
        ("founder@lumi.vn", "overdue"): 1,
        ("mentor@bbi.vn", "escalation"): 1,  # Lumi's mentor
        ("founder@greenfarm.vn", "opened"): 1,
        ("founder@greenfarm.vn", "before"): 1,
        ("founder@greenfarm.vn", "overdue"): 1,
        ("manager@bbi.vn", "escalation"): 1,  # GreenFarm has no mentor: its manager hears
    }
    assert await ReportReminder.filter(sent=False).count() == 0


async def test_editing_the_due_date_takes_effect_and_never_double_sends(w):
    await run_at(date(2026, 11, 1))
    manager = w.manager
    await programmes.update_schedule(
        manager, w.programme, schedule_values(due_days=20), now=local(date(2026, 11, 2))
    )
    # At once, not at the next run.
    assert (await ReportRequest.get(startup_id=w.startup.id)).due_on == date(2026, 11, 20)
    assert (await run_at(date(2026, 11, 2))).moved == 0
    await run_at(date(2026, 11, 8))  # the old "3 days before" mark: nothing now
    assert ("founder@lumi.vn", "before") not in await mails()
    await run_at(date(2026, 11, 17))  # the new one
    assert (await mails())[("founder@lumi.vn", "before")] == 1

    # Back to 10 days on the 18th: already overdue and past the escalation mark. The founder
    # gets the overdue reminder (not "before" again), the mentor the escalation, once each.
    programme = await programmes.get_programme(w.programme.id)
    await programmes.update_schedule(
        manager, programme, schedule_values(due_days=10), now=local(date(2026, 11, 18))
    )
    for _ in range(3):
        await run_at(date(2026, 11, 18))
    await run_at(date(2026, 11, 19))
    sent = await mails()
    assert sent[("founder@lumi.vn", "opened")] == 1
    assert sent[("founder@lumi.vn", "before")] == 1
    assert sent[("founder@lumi.vn", "overdue")] == 1
    assert sent[("mentor@bbi.vn", "escalation")] == 1
    assert (await ReportRequest.get(startup_id=w.startup.id)).due_on == date(2026, 11, 10)


async def test_switching_from_monthly_to_one_off(w):
    await run_at(date(2026, 11, 1))
    lumi = await ReportRequest.get(startup_id=w.startup.id, period="2026-10")
    # GreenFarm has started its October report: a draft is never thrown away.
    green = await ReportRequest.get(startup_id=w.other.id, period="2026-10")
    access = await startup_access(w.other_founder, w.other)
    with time_machine.travel(local(date(2026, 11, 2)), tick=False):
        await reports.submit_report(w.other_founder, access, "2026-10", {"users": 3}, draft=True)

    await programmes.update_schedule(
        w.manager,
        w.programme,
        schedule_values(schedule="one_off", one_off_period="2026-Q4", one_off_due_on="2026-12-15"),
        now=local(date(2026, 11, 3)),
    )
    # Switched at once; the next run has nothing left to open or cancel.
    run = await run_at(date(2026, 11, 3))
    assert run.cancelled == 0 and run.opened == 0
    assert (await ReportRequest.get(id=lumi.id)).status == RequestStatus.CANCELLED
    assert (await ReportRequest.get(id=green.id)).status == RequestStatus.DRAFT
    assert await ReportRequest.filter(period="2026-Q4").count() == 2
    one_off = await ReportRequest.get(startup_id=w.startup.id, period="2026-Q4")
    assert (one_off.due_on, one_off.schedule, one_off.period_start) == (
        date(2026, 12, 15),
        "one_off",
        date(2026, 10, 1),
    )
    for day in (date(2026, 11, 3), date(2026, 11, 4), date(2026, 12, 1)):
        await run_at(day)
    assert (await mails())[("founder@lumi.vn", "opened")] == 2  # October's, then Q4's
    await run_at(date(2026, 12, 12))
    await run_at(date(2026, 12, 17))
    await run_at(date(2026, 12, 18))
    sent = await mails()
    assert sent[("founder@lumi.vn", "before")] == 1
    assert sent[("founder@lumi.vn", "overdue")] == 1
    # The cancelled October request never sent another reminder.
    assert await ReportReminder.filter(request_id=lumi.id).count() == 1
    # Editing the one-off due date moves the request; nothing is re-sent.
    programme = await programmes.get_programme(w.programme.id)
    await programmes.update_schedule(
        w.manager,
        programme,
        schedule_values(schedule="one_off", one_off_period="2026-Q4", one_off_due_on="2027-01-10"),
        now=local(date(2026, 12, 19)),
    )
    run = await run_at(date(2026, 12, 19))
    assert run.moved == 0 and not run.reminders
    assert (await ReportRequest.get(id=one_off.id)).due_on == date(2027, 1, 10)


async def test_skip_with_a_reason_stops_the_reminders(w):
    await run_at(date(2026, 11, 1))
    request = await ReportRequest.get(startup_id=w.startup.id)
    access = await startup_access(w.founder, w.startup)
    with pytest.raises(Invalid) as refused:
        await reports.skip_report(w.founder, access, request.id, "  ")
    assert "reason" in refused.value.fields
    other_access = await startup_access(w.other_founder, w.startup)
    with pytest.raises(Exception) as forbidden:
        await reports.skip_report(w.other_founder, other_access, request.id, "Tết")
    assert forbidden.value.status_code == 403  # type: ignore[attr-defined]
    with time_machine.travel(local(date(2026, 11, 5)), tick=False):
        await reports.skip_report(w.founder, access, request.id, "Tết holiday: the team was off")
    skipped = await ReportRequest.get(id=request.id)
    assert (skipped.status, skipped.skip_reason) == ("skipped", "Tết holiday: the team was off")
    for day in (date(2026, 11, 8), date(2026, 11, 12), date(2026, 11, 20)):
        await run_at(day)
    sent = await mails()
    assert sent[("founder@lumi.vn", "opened")] == 1
    assert not {
        k for k in sent if k[0] in ("founder@lumi.vn", "mentor@bbi.vn") and k[1] != "opened"
    }
    # The next scheduler run does not reopen a skipped period.
    assert (await run_at(date(2026, 11, 21))).opened == 0
    assert (await ReportRequest.get(id=request.id)).status == RequestStatus.SKIPPED


async def test_two_concurrent_runs_send_each_reminder_once(w):
    moment = local(date(2026, 11, 12))
    with time_machine.travel(moment, tick=False):
        await reports.materialise(moment)
        await asyncio.gather(*(reports.send_reminders(moment) for _ in range(3)))
    sent = await mails()
    assert sent[("founder@lumi.vn", "overdue")] == 1
    assert sum(sent.values()) == 2  # one overdue mail per startup
    assert await ReportReminder.filter(sent=True).count() == 2
    assert await ReportReminder.filter(sent=False).count() == 4  # opened, before: superseded


async def test_a_milestone_due_opens_a_request(w):
    from incubator.models import Milestone

    await programmes.update_schedule(
        w.manager, w.programme, schedule_values(schedule="milestone"), now=local(date(2026, 11, 1))
    )
    await Milestone.create(enrolment=w.enrolment, title="Pilot", due_on=date(2026, 11, 20))
    assert (await run_at(date(2026, 11, 19))).opened == 0
    assert (await run_at(date(2026, 11, 20))).opened == 1
    request = await ReportRequest.get(startup_id=w.startup.id)
    assert (request.period, request.due_on) == ("2026-11", date(2026, 11, 30))


async def test_reminders_speak_each_recipients_language(w):
    w.founder.locale = "vi"
    await w.founder.save(update_fields=["locale"])
    await run_at(date(2026, 11, 12))
    vietnamese = await OutboxMessage.get(to="founder@lumi.vn")
    assert vietnamese.subject == "Quá hạn: báo cáo kỳ 2026-10 của Lumi Smart Lighting"
    assert "đã đến hạn ngày" in vietnamese.text_body
    assert "/incubator/startups/" in vietnamese.text_body and "/reports/" in vietnamese.text_body
    english = await OutboxMessage.get(to="founder@greenfarm.vn")
    assert english.subject == "Overdue: the 2026-10 report of GreenFarm IoT"
    assert "was due on Nov 10, 2026" in english.text_body
