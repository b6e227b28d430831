"""Issue 17 item 3, the applicant's journey seen from the pipeline: stages per call (a
default set), bulk moves and reviewer assignment, decisions recorded then previewed and
e-mailed once each; what the applicant reads at each step. Over HTTP, per role (manager,
reviewer, founder/applicant, another startup, an unverified holder of the manager role), on
both backends; the list's query count; the migration on a database with data."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from tortoise import Tortoise, connections, timezone
from tortoise.migrations.api.migrate import migrate

from ecosystem.db import tortoise_config
from ecosystem.models import OutboxMessage
from ecosystem.packages import load_packages
from incubator.models import (
    Application,
    ApplicationCall,
    ApplicationStatus,
    ProgrammeRole,
    ProgrammeRoleKind,
    Review,
)
from incubator.services import applications
from tests.conftest import TEST_DATABASE_URL, TEST_PACKAGES, _admin_execute, _with_database, person
from tests.incubator.conftest import startup, world


async def signed_in(new_browser, user, lang="en"):
    browser = new_browser(lang=lang)
    await browser.login(user.email)
    return browser


async def a_call(w, **fields) -> ApplicationCall:
    return await ApplicationCall.create(
        programme=w.programme,
        title="Smart city call 2027",
        questions=[{"key": "problem", "label": "Which problem do you solve?"}],
        criteria=[{"id": "team", "label": "Team", "weight": 1, "scale_min": 1, "scale_max": 5}],
        deadline=timezone.now() + timedelta(days=20),
        **fields,
    )


async def pipeline():
    w = await world()
    call = await a_call(w)
    lumi = await Application.create(
        call=call, startup=w.startup, applicant=w.founder, answers={"problem": "Đèn"}
    )
    green = await Application.create(
        call=call, startup=w.other, applicant=w.other_founder, answers={"problem": "Nông trại"}
    )
    reviewers = [
        await person("reviewer1@eiu.edu.vn", name="Võ Thanh Tùng"),
        await person("reviewer2@eiu.edu.vn", name="Lý Ngọc Anh"),
    ]
    for reviewer in reviewers:
        await ProgrammeRole.create(
            programme=w.programme, user=reviewer, role=ProgrammeRoleKind.REVIEWER
        )
    unverified = await person("newbie@bbi.vn", verified=False)
    await ProgrammeRole.create(
        programme=w.programme, user=unverified, role=ProgrammeRoleKind.MANAGER
    )
    return w, call, lumi, green, reviewers, unverified


async def test_only_the_calls_managers_run_the_pipeline(new_browser):
    w, call, lumi, green, reviewers, unverified = await pipeline()
    base = f"/incubator/calls/{call.id}"
    ids = [str(lumi.id), str(green.id)]
    refused_people = {
        "reviewer": reviewers[0],
        "founder": w.founder,
        "other founder": w.other_founder,
        "mentor": w.mentor,
        "stranger": w.stranger,
        "unverified manager": unverified,
    }
    for who, user in refused_people.items():
        browser = await signed_in(new_browser, user)
        assert (await browser.get(f"{base}/applications")).status_code in (403, 404), who
        assert (await browser.get(f"{base}/decisions")).status_code in (403, 404), who
        moved = await browser.post(
            f"{base}/applications/bulk",
            {"do": "stage", "stage": "shortlisted", "application_id": ids},
        )
        assert moved.status_code in (403, 404), who
        assigned = await browser.post(
            f"{base}/applications/bulk",
            {"do": "assign", "reviewer_id": [str(reviewers[0].id)], "application_id": ids},
        )
        assert assigned.status_code in (403, 404), who
        staged = await browser.post(f"{base}/applications/stages", {"stages": "Only one"})
        assert staged.status_code in (403, 404), who
        sent = await browser.post(f"{base}/decisions", {"application_id": ids})
        assert sent.status_code in (403, 404), who
    anonymous = new_browser(lang="en")
    assert (await anonymous.get(f"{base}/applications")).status_code in (303, 401, 403)
    assert await Review.all().count() == 0
    assert set(await Application.all().values_list("stage", flat=True)) == {"submitted"}
    assert (await ApplicationCall.get(id=call.id)).stages == []
    assert await OutboxMessage.all().count() == 0


async def test_stages_bulk_moves_and_reviewers_then_decisions_mailed_once(new_browser):
    w, call, lumi, green, reviewers, _unverified = await pipeline()
    third = await Application.create(
        call=call, startup=await startup("AirWatch BD"), answers={"problem": "Không khí"}
    )
    base = f"/incubator/calls/{call.id}"
    manager = await signed_in(new_browser, w.manager)
    founder = await signed_in(new_browser, w.founder)
    app_url = f"/incubator/applications/{lumi.id}"

    page = await manager.get(f"{base}/applications")
    assert page.status_code == 200
    for label in ("Submitted", "In review", "Shortlisted"):
        assert label in page.text  # the default stages
    assert 'id="pipeline"' in page.text and 'name="application_id"' in page.text

    # Bad input: a 422 that says what is wrong and keeps the selection; nothing moves.
    nothing = await manager.post(
        f"{base}/applications/bulk", {"do": "stage", "stage": "shortlisted"}
    )
    assert nothing.status_code == 422 and "Select at least one application." in nothing.text
    other_call = await a_call(w)
    stranger_app = await Application.create(call=other_call, startup=w.startup, answers={})
    foreign = await manager.post(
        f"{base}/applications/bulk",
        {
            "do": "stage",
            "stage": "shortlisted",
            "application_id": [str(lumi.id), str(stranger_app.id)],
        },
    )
    assert foreign.status_code == 422 and "to this call only" in foreign.text
    unknown = await manager.post(
        f"{base}/applications/bulk",
        {"do": "stage", "stage": "hacked", "application_id": [str(lumi.id)]},
    )
    assert (
        unknown.status_code == 422
        and f'value="{lumi.id}" id="pick-{lumi.id}" checked' in unknown.text
    )
    not_reviewer = await manager.post(
        f"{base}/applications/bulk",
        {"do": "assign", "reviewer_id": [str(w.mentor.id)], "application_id": [str(lumi.id)]},
    )
    assert not_reviewer.status_code == 422
    for junk in ("x", "-1", "0", "9" * 30):
        bad = await manager.post(
            f"{base}/applications/bulk",
            {"do": "stage", "stage": "shortlisted", "application_id": [junk]},
        )
        assert bad.status_code == 422, junk
    assert set(await Application.filter(call_id=call.id).values_list("stage", flat=True)) == {
        "submitted"
    }

    # Several at once: two applications shortlisted, then two reviewers on all three.
    moved = await manager.post(
        f"{base}/applications/bulk",
        {"do": "stage", "stage": "shortlisted", "application_id": [str(lumi.id), str(green.id)]},
    )
    assert moved.status_code == 303
    assert "Shortlisted" in (await founder.get(app_url)).text
    assigned = await manager.post(
        f"{base}/applications/bulk",
        {
            "do": "assign",
            "reviewer_id": [str(r.id) for r in reviewers],
            "application_id": [str(lumi.id), str(green.id), str(third.id)],
        },
    )
    assert assigned.status_code == 303
    assert await Review.filter(application__call_id=call.id).count() == 6
    again = await manager.post(
        f"{base}/applications/bulk",
        {"do": "assign", "reviewer_id": [str(reviewers[0].id)], "application_id": [str(lumi.id)]},
    )
    assert (
        again.status_code == 303 and await Review.filter(application__call_id=call.id).count() == 6
    )
    stages = dict(await Application.filter(call_id=call.id).values_list("id", "stage"))
    assert stages == {lumi.id: "shortlisted", green.id: "shortlisted", third.id: "in_review"}
    reviewer = await signed_in(new_browser, reviewers[1])
    assert (await reviewer.get(f"/incubator/applications/{third.id}")).status_code == 200

    # The call's own stages: an interview added; a stage still holding applications stays.
    dropped = await manager.post(f"{base}/applications/stages", {"stages": "Submitted\nInterview"})
    assert (
        dropped.status_code == 422 and "In review" in dropped.text and "Shortlisted" in dropped.text
    )
    assert "Submitted\nInterview" in dropped.text  # what was typed
    for bad in ("", "A\na", "\n".join(f"Stage {n}" for n in range(13))):
        assert (
            await manager.post(f"{base}/applications/stages", {"stages": bad})
        ).status_code == 422
    saved = await manager.post(
        f"{base}/applications/stages",
        {"stages": "Submitted\nIn review\nPhỏng vấn trực tiếp\nShortlisted"},
    )
    assert saved.status_code == 303
    keys = [s["key"] for s in applications.stages_of(await ApplicationCall.get(id=call.id))]
    assert keys == ["submitted", "in_review", "phong_van_truc_tiep", "shortlisted"]
    interview = await manager.post(
        f"{base}/applications/bulk",
        {"do": "stage", "stage": "phong_van_truc_tiep", "application_id": [str(lumi.id)]},
    )
    assert interview.status_code == 303
    assert "Phỏng vấn trực tiếp" in (await founder.get(app_url)).text
    # In Vietnamese, the default stages are translated, the manager's own stays as typed.
    await w.manager.__class__.filter(id=w.manager.id).update(locale="vi")
    vi_manager = await signed_in(new_browser, w.manager, lang="vi")
    vi_page = await vi_manager.get(f"{base}/applications")
    assert "Phỏng vấn trực tiếp" in vi_page.text and "Shortlisted" not in vi_page.text
    # The account's language rules every browser of it: back to English for what follows.
    await w.manager.__class__.filter(id=w.manager.id).update(locale="en")

    # Decisions: recorded, not shown to the applicant, previewed, then e-mailed once each.
    admit = await manager.post(
        f"{app_url}/decide", {"decision": "admit", "message": "Chào mừng đến khóa 2027!"}
    )
    assert admit.status_code == 303 and admit.headers["location"] == f"{base}/decisions"
    decline = await manager.post(
        f"/incubator/applications/{green.id}/decide",
        {"decision": "decline", "message": "Chưa phù hợp năm nay"},
    )
    assert decline.status_code == 303
    assert await OutboxMessage.all().count() == 0
    waiting = await founder.get(app_url)
    assert "Admitted" not in waiting.text and "Chào mừng" not in waiting.text
    assert "Phỏng vấn trực tiếp" in waiting.text
    assert "Admitted" not in (await founder.get("/dashboard")).text
    moved_decided = await manager.post(
        f"{base}/applications/bulk",
        {"do": "stage", "stage": "submitted", "application_id": [str(lumi.id), str(third.id)]},
    )
    assert moved_decided.status_code == 303
    assert (await Application.get(id=lumi.id)).status == ApplicationStatus.ADMITTED
    assert "2 decisions are not e-mailed yet" in (await manager.get(f"{base}/applications")).text

    preview = await manager.get(f"{base}/decisions")
    assert preview.status_code == 200
    assert "founder@lumi.vn" in preview.text and "founder@greenfarm.vn" in preview.text
    assert "Chào mừng đến khóa 2027!" in preview.text and "Chưa phù hợp năm nay" in preview.text
    assert "Congratulations" in preview.text  # in the recipient's language (English)
    assert await OutboxMessage.all().count() == 0  # a preview sends nothing
    ids = [str(lumi.id), str(green.id)]
    first, second = await asyncio.gather(
        manager.post(f"{base}/decisions", {"application_id": ids}),
        manager.post(f"{base}/decisions", {"application_id": ids}),
    )
    assert first.status_code == second.status_code == 303
    assert await manager.post(f"{base}/decisions", {"application_id": ids}) is not None
    mails = await OutboxMessage.all().order_by("to")
    assert [m.to for m in mails] == ["founder@greenfarm.vn", "founder@lumi.vn"]
    assert "admitted" in mails[1].subject and "Chào mừng đến khóa 2027!" in mails[1].text_body
    assert "Chưa phù hợp năm nay" in mails[0].text_body
    assert (
        "Every decision of this call has been e-mailed."
        in (await manager.get(f"{base}/decisions")).text
    )

    announced = await founder.get(app_url)
    assert "Admitted" in announced.text and "Chào mừng đến khóa 2027!" in announced.text
    assert "Admitted" in (await founder.get("/dashboard")).text
    other = await signed_in(new_browser, w.other_founder)
    declined = await other.get(f"/incubator/applications/{green.id}")
    assert "Declined" in declined.text and "Chưa phù hợp năm nay" in declined.text
    assert (await other.get(app_url)).status_code == 404  # another startup's application


async def test_the_applications_list_runs_a_fixed_number_of_queries(new_browser, count_queries):
    w, call, lumi, green, reviewers, _unverified = await pipeline()
    manager = await signed_in(new_browser, w.manager)
    url = f"/incubator/calls/{call.id}/applications"
    await Review.create(application=lumi, reviewer=reviewers[0])
    await manager.get(url)
    with count_queries() as small:
        assert (await manager.get(url)).status_code == 200
    for n in range(10):
        application = await Application.create(
            call=call, startup=await startup(f"Startup {n}"), answers={}, stage="shortlisted"
        )
        await Review.create(application=application, reviewer=reviewers[n % 2])
    await Application.filter(id=lumi.id).update(status="admitted")
    with count_queries() as large:
        page = await manager.get(url)
    assert page.status_code == 200 and "Startup 9" in page.text
    assert len(large.statements) == len(small.statements)


UPGRADE_ROWS = [
    "INSERT INTO incubator_programme (id, organisation_id, name, slug, description, schedule, "
    "due_days, one_off_period, remind_days_before, remind_days_after, escalate_days_after, "
    "created_at) VALUES (7, 70, 'P', 'p', '', 'monthly', 10, '', 3, 2, 7, "
    "'2026-01-01 00:00:00+00')",
    "INSERT INTO incubator_call (id, programme_id, title, description, questions, documents, "
    "criteria, deadline, status, created_at) VALUES (3, 7, 'C', '', '[]', '[]', '[]', "
    "'2026-02-01 00:00:00+00', 'open', '2026-01-01 00:00:00+00')",
    "INSERT INTO incubator_application (id, call_id, startup_id, answers, documents, status, "
    "decision_message, decided_at, created_at) VALUES (4, 3, 71, '{}', '{}', 'declined', 'No', "
    "'2026-02-02 00:00:00+00', '2026-01-02 00:00:00+00')",
    "INSERT INTO incubator_application (id, call_id, startup_id, answers, documents, status, "
    "decision_message, created_at) VALUES (5, 3, 72, '{}', '{}', 'submitted', '', "
    "'2026-01-03 00:00:00+00')",
]


async def test_0004_upgrades_calls_and_applications_with_data(backend, tmp_path):
    """Existing calls get the default stages, existing applications the first stage; a
    decision taken before the upgrade was e-mailed then, so it counts as sent."""
    if backend == "postgres":
        name = f"eco_upgrade_{uuid.uuid4().hex[:10]}"
        await _admin_execute(TEST_DATABASE_URL, f'CREATE DATABASE "{name}"')
        url = _with_database(TEST_DATABASE_URL, name)
        no_checks = "".join(
            f"ALTER TABLE {table} DISABLE TRIGGER ALL;"
            for table in ("incubator_programme", "incubator_application")
        )
    else:
        name, url = "", f"sqlite://{tmp_path / 'upgrade.sqlite3'}"
        no_checks = "PRAGMA foreign_keys = OFF;"
    config = tortoise_config(url, load_packages(TEST_PACKAGES))
    try:
        await migrate(config=config, target="incubator.0003_trusted_reports")
        await connections.get("default").execute_script(no_checks + ";".join(UPGRADE_ROWS))
        await migrate(config=config)
        db = connections.get("default")
        rows = await db.execute_query_dict(
            "SELECT id, stage, decided_at, decision_sent_at FROM incubator_application ORDER BY id"
        )
        assert [(r["id"], r["stage"]) for r in rows] == [(4, "submitted"), (5, "submitted")]
        assert rows[0]["decision_sent_at"] is not None and rows[1]["decision_sent_at"] is None
        call = (await db.execute_query_dict("SELECT stages FROM incubator_call"))[0]
        assert call["stages"] in ("[]", [])
    finally:
        await Tortoise.close_connections()
        if name:
            await _admin_execute(
                TEST_DATABASE_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            )
