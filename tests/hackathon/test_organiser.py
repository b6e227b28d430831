"""The organiser's side: creating contests, the dashboard with live coverage, assignment
(guaranteed or explained), a judge dropping out, rounds, publication, certificates, CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from tortoise import timezone

from ecosystem.models import User
from hackathon.models import (
    Award,
    Certificate,
    Contest,
    ContestRole,
    JudgeAssignment,
    Round,
    ScoreEvent,
    Shortlist,
)
from hackathon.services import judging
from tests.conftest import add_member, person
from tests.hackathon.conftest import (
    JUDGING_NOW,
    bearer,
    make_contest,
    make_judge,
    make_org,
    make_team,
)


async def _score_everything(contest: Contest) -> None:
    roles = await ContestRole.filter(contest_id=contest.id, role="judge", active=True)
    for role in roles:
        judge = await User.get(id=role.user_id)
        queue = await judging.queue(judge, contest)
        for item in queue.items:
            base = (item.submission.id * 7 + judge.id * 3) % 9
            scores = {c.code: min(c.scale_max, base + i % 2) for i, c in enumerate(queue.criteria)}
            await judging.save_scores(judge, item.submission.id, scores)


async def _contest_with_entries(n_teams: int = 6, n_judges: int = 4, **fields):
    contest = await make_contest(**{**JUDGING_NOW, **fields})
    for i in range(n_teams):
        await make_team(
            contest,
            f"Team {i:02d}",
            site="kr" if i % 3 == 0 else "vn",
            track="tourism" if i % 2 else "traffic",
            members=(f"m{i}@example.org",),
            title=f"Entry {i:02d}",
        )
    for i in range(n_judges):
        await make_judge(contest, f"j{i}@example.org")
    return contest


async def test_an_organisation_admin_creates_a_contest_in_the_browser(browser):
    admin = await person("organiser@example.org")
    office = await make_org("Smart City Office")
    await add_member(admin, office, "admin")
    await browser.login(admin.email)
    assert (await browser.get("/contests/new")).status_code == 200
    form = {
        "title": "Hackathon Bình Dương 2017",
        "slug": "hackathon-2017",
        "kind": "hackathon",
        "organisation_id": str(office.id),
        "timezone": "Asia/Ho_Chi_Minh",
        "registration_closes_at": "2030-11-20T17:00",
        "submission_closes_at": "2030-11-26T12:00",
        "judging_closes_at": "2030-11-27T12:00",
        "sites": "vn | EIU | Asia/Ho_Chi_Minh | vi | VN",
        "tracks": "tourism | Thông tin du lịch\ntraffic | Thông tin giao thông",
        "team_max": "5",
        "prizes": "tourism | Giải nhất du lịch | 30000000\nvote | Giải bình chọn | 5000000",
        "criteria": "impact | Tác động | 3 | 0 | 10 | Giá trị\nux | Trải nghiệm | 1 | 1 | 5 |",
        "blind": "1",
    }
    response = await browser.post("/contests/new", form)
    assert response.status_code == 303, response.text[:2000]
    contest = await Contest.get(slug="hackathon-2017")
    assert contest.submission_closes_at.astimezone(timezone.get_default_timezone()).hour == 5
    assert await contest.tracks.all().count() == 2
    assert contest.blind
    assert await contest.prizes.filter(public_vote=True).count() == 1
    from hackathon.models import Criterion

    criteria = await Criterion.filter(round__contest_id=contest.id).order_by("position")
    assert [(c.code, c.weight, c.scale_min, c.scale_max) for c in criteria] == [
        ("impact", 3.0, 0, 10),
        ("ux", 1.0, 1, 5),
    ]
    assert (await browser.get(response.headers["location"])).status_code == 200
    # Deadlines out of order: 422 with the form again; nothing created.
    bad = await browser.post(
        "/contests/new", {**form, "slug": "other", "submission_closes_at": "2030-11-01T12:00"}
    )
    assert bad.status_code == 422
    assert not await Contest.filter(slug="other").exists()
    # Someone who administers no organisation cannot create one.
    student = await person("student@example.org")
    response = await browser.http.post(
        "/api/v1/contests",
        json={
            "slug": "x-contest",
            "title": "X contest",
            "registration_closes_at": "2030-01-01T00:00:00Z",
            "submission_closes_at": "2030-01-02T00:00:00Z",
            "judging_closes_at": "2030-01-03T00:00:00Z",
            "sites": [{"code": "vn", "name": "VN"}],
            "tracks": [{"code": "t", "name": "T"}],
        },
        headers=await bearer(student),
    )
    assert response.status_code == 403


async def test_participants_form_a_team_invite_and_join_in_the_browser(browser, new_browser):
    contest = await make_contest()
    lead = await person("lead@eiu.edu.vn")
    await browser.login(lead.email)
    response = await browser.post(
        f"/contests/{contest.slug}/team", {"name": "Sao Mai", "site": "kr", "track": "traffic"}
    )
    assert response.status_code == 303
    again = await browser.post(
        f"/contests/{contest.slug}/team", {"name": "Other", "site": "vn", "track": "traffic"}
    )
    assert again.status_code == 409
    bad = await browser.post(
        f"/contests/{contest.slug}/team", {"name": "Other", "site": "mars", "track": "traffic"}
    )
    assert bad.status_code == 422
    await browser.post(f"/contests/{contest.slug}/team/invite", {"email": "friend@eiu.edu.vn"})
    from ecosystem.models import OutboxMessage

    assert await OutboxMessage.filter(to="friend@eiu.edu.vn").exists()
    friend = await person("friend@eiu.edu.vn")
    other = new_browser()
    await other.login(friend.email)
    page = await other.get(f"/contests/{contest.slug}")
    assert "Sao Mai" in page.text
    from hackathon.models import TeamMember

    invitation = await TeamMember.get(email="friend@eiu.edu.vn")
    response = await other.post(f"/contests/{contest.slug}/invitations/{invitation.id}/accept")
    assert response.status_code == 303
    await invitation.refresh_from_db()
    assert invitation.status == "active" and invitation.user_id == friend.id
    # The entry form: saved twice, two versions listed.
    for title in ("Xe buýt thông minh", "Xe buýt thông minh 2"):
        response = await other.post(
            f"/contests/{contest.slug}/entry",
            {"title": title, "summary": "Giờ xe buýt", "demo_url": "https://demo.example"},
        )
        assert response.status_code == 303
    page = await other.get(f"/contests/{contest.slug}/entry")
    assert "Xe buýt thông minh 2" in page.text and page.text.count("<li>") >= 2
    bad = await other.post(
        f"/contests/{contest.slug}/entry", {"title": "ok title", "demo_url": "not a url"}
    )
    assert bad.status_code == 422


async def test_the_dashboard_shows_registrations_coverage_and_exports(browser, count_queries):
    contest = await _contest_with_entries()
    organiser = contest.organiser
    assert (await judging.run_assignment(organiser, contest)).ok
    assert await JudgeAssignment.all().count() == 6 * 2
    await browser.login(organiser.email)
    page = await browser.get(f"/contests/{contest.slug}/manage")
    assert page.status_code == 200
    assert page.text.count('class="short"') == 6  # no score yet: every entry is short
    await _score_everything(contest)
    fragment = await browser.get(
        f"/contests/{contest.slug}/manage/coverage", headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200 and 'class="short"' not in fragment.text
    assert 'hx-trigger="every 15s"' in fragment.text
    page = await browser.get(f"/contests/{contest.slug}/manage")
    assert "Running ranking" in page.text or "Xếp hạng" in page.text
    for what in ("teams", "scores", "ranking"):
        response = await browser.get(f"/contests/{contest.slug}/manage/export/{what}.csv")
        assert response.status_code == 200 and response.headers["content-type"].startswith(
            "text/csv"
        )
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert len(rows) > 1
    scores = list(
        csv.DictReader(
            io.StringIO(
                (
                    await browser.get(f"/contests/{contest.slug}/manage/export/scores.csv")
                ).content.decode("utf-8-sig")
            )
        )
    )
    assert len(scores) == await ScoreEvent.all().count()
    assert (await browser.get(f"/contests/{contest.slug}/manage/export/x.csv")).status_code == 404
    # The coverage fragment does not grow with the number of entries.
    with count_queries() as few:
        await browser.get(
            f"/contests/{contest.slug}/manage/coverage", headers={"HX-Request": "true"}
        )
    for i in range(6, 12):
        await make_team(contest, f"Team {i:02d}", title=f"Entry {i:02d}")
    with count_queries() as many:
        await browser.get(
            f"/contests/{contest.slug}/manage/coverage", headers={"HX-Request": "true"}
        )
    assert len(many.statements) == len(few.statements)


async def test_an_impossible_assignment_is_explained_and_nothing_is_written(browser):
    contest = await _contest_with_entries(n_teams=6, n_judges=2, judges_per_entry=3)
    organiser = contest.organiser
    await browser.login(organiser.email)
    response = await browser.post(f"/contests/{contest.slug}/manage/assign")
    assert response.status_code == 303
    page = await browser.get(f"/contests/{contest.slug}/manage")
    assert 'id="assignment-reasons"' in page.text
    # in the organiser's language, naming entries, teams and judges
    assert "“Entry 00” (team Team 00) has 2 eligible judges but needs 3: J0, J1." in page.text
    assert await JudgeAssignment.all().count() == 0
    # Site constraint: Korean entries need a Korean-site judge.
    await browser.post(
        f"/contests/{contest.slug}/manage/settings",
        {"judges_per_entry": "1", "load_cap": "10", "require_site": "1"},
    )
    round_ = await Round.get(contest_id=contest.id)
    assert round_.judges_per_entry == 1
    await contest.refresh_from_db()
    assert contest.require_site
    outcome = await judging.run_assignment(organiser, contest)
    assert outcome.ok  # judges without a site may judge any site
    for role in await ContestRole.filter(contest_id=contest.id, role="judge"):
        vn = await contest.sites.filter(code="vn").first()
        role.site_id = vn.id
        await role.save()
    outcome = await judging.run_assignment(organiser, contest)
    assert not outcome.ok
    # Refused input is a clear 4xx, never a 500.
    bad = await browser.post(
        f"/contests/{contest.slug}/manage/settings", {"judges_per_entry": "zero", "load_cap": "10"}
    )
    assert bad.status_code == 303
    assert (await browser.post(f"/contests/{contest.slug}/manage/nope")).status_code == 404


async def test_a_judge_drops_out_and_the_repair_keeps_finished_scores(browser):
    contest = await _contest_with_entries(n_teams=6, n_judges=4)
    organiser = contest.organiser
    assert (await judging.run_assignment(organiser, contest)).ok
    leaver = await User.get(email="j0@example.org")
    queue = await judging.queue(leaver, contest)
    finished = queue.items[0].submission
    await judging.save_scores(leaver, finished.id, {c.code: 5 for c in queue.criteria})
    await browser.login(organiser.email)
    response = await browser.post(
        f"/contests/{contest.slug}/manage/drop", {"user_id": str(leaver.id)}
    )
    assert response.status_code == 303
    mine = await JudgeAssignment.filter(judge_id=leaver.id).values_list("submission_id", flat=True)
    assert list(mine) == [finished.id]  # the finished entry stays, the rest moved
    counts: dict[int, int] = {}
    for row in await JudgeAssignment.all().values("submission_id"):
        counts[row["submission_id"]] = counts.get(row["submission_id"], 0) + 1
    assert set(counts.values()) == {2}
    assert not await judging.permissions.is_judge(leaver, contest)


async def test_rounds_publication_certificates_and_verification(browser, new_browser, client):
    contest = await _contest_with_entries(n_teams=6, n_judges=4)
    organiser = contest.organiser
    assert (await judging.run_assignment(organiser, contest)).ok
    await _score_everything(contest)
    await browser.login(organiser.email)
    response = await browser.post(
        f"/contests/{contest.slug}/manage/shortlist",
        {
            "size": "4",
            "judges_per_entry": "2",
            "load_cap": "10",
            "judges": "j1@example.org, j2@example.org",
            "criteria": "pitch | Thuyết trình chung kết | 1 | 0 | 20 |",
        },
    )
    assert response.status_code == 303
    final = await Round.get(contest_id=contest.id, number=2)
    assert await Shortlist.filter(round_id=final.id).count() == 4
    assert (await judging.run_assignment(organiser, contest)).ok
    assert await JudgeAssignment.filter(round_id=final.id).count() == 8
    jury = {u.id for u in await User.filter(email__in=["j1@example.org", "j2@example.org"])}
    assert (
        set(await JudgeAssignment.filter(round_id=final.id).values_list("judge_id", flat=True))
        == jury
    )
    final_criteria = await judging.criteria_of(final)
    assert [(c.code, c.scale_max) for c in final_criteria] == [("pitch", 20)]
    await _score_everything(contest)
    # Publishing: a preview first (nothing published, e-mails counted), then the confirmation.
    preview = await browser.post(f"/contests/{contest.slug}/manage/publish")
    assert preview.status_code == 200 and 'id="confirm-publish"' in preview.text
    await contest.refresh_from_db()
    assert contest.results_published_at is None
    token = re.search(r'name="confirm" value="([0-9a-f]{64})"', preview.text).group(1)
    response = await browser.post(f"/contests/{contest.slug}/manage/publish", {"confirm": token})
    assert response.status_code == 303
    await contest.refresh_from_db()
    assert contest.results_published_at and len(contest.results["overall"]) == 4
    assert await Award.all().count() >= 2
    page = await client.get(f"/contests/{contest.slug}/results")
    assert page.status_code == 200 and contest.results_hash in page.text
    assert (await browser.post(f"/contests/{contest.slug}/manage/publish")).status_code == 303
    # Certificates: every participant with an entry and every judge.
    assert await Certificate.filter(kind="judge").count() == 4
    assert await Certificate.filter(kind__in=["participant", "winner"]).count() == 6
    certificate = await Certificate.filter(kind="winner").select_related("user").first()
    assert certificate is not None
    owner = new_browser()
    await owner.login(certificate.user.email)
    pdf = await owner.get(f"/contests/certificates/{certificate.code}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # Someone else may not download it, but anyone can verify it.
    assert (await browser.get(f"/contests/certificates/{certificate.code}/pdf")).status_code == 403
    verified = await client.get(f"/contests/certificates/{certificate.code}")
    assert verified.status_code == 200 and certificate.holder_name in verified.text
    assert (await client.get("/contests/certificates/NOPE")).status_code == 404
    # The results mail goes out once (job idempotent).
    from hackathon.jobs import send_results_notices

    assert await send_results_notices(contest.id, timezone.now()) == 0  # already sent inline
    assert await Certificate.filter(notified_at=None).count() == 0


async def test_the_judges_reminder_goes_once_a_day_before_the_deadline(app):
    from hackathon.jobs import remind_judges

    contest = await _contest_with_entries(
        n_teams=2, n_judges=2, judging_in=timedelta(days=2, hours=12)
    )
    assert (await judging.run_assignment(contest.organiser, contest)).ok
    now = timezone.now()
    assert await remind_judges(now) == 0
    later = now + timedelta(days=2)
    assert await remind_judges(later) == 2
    assert await remind_judges(later) == 0


async def test_dashboard_panels_and_indicators_are_provided(app):
    from hackathon.services import dashboard

    contest = await _contest_with_entries(  # still open for submissions
        n_teams=4, n_judges=2, registration_in=timedelta(days=1), submission_in=timedelta(days=2)
    )
    assert (await judging.run_assignment(contest.organiser, contest)).ok
    judge = await User.get(email="j0@example.org")
    panel = await dashboard.judge_panel(judge)
    assert panel and panel.urgent and panel.context["items"][0]["total"] > 0
    organiser_panel = await dashboard.organiser_panel(contest.organiser)
    assert organiser_panel and organiser_panel.context["items"][0]["short"] == 4
    member = await User.get(email="m0@example.org")
    participant = await dashboard.participant_panel(member)
    assert participant and participant.context["items"][0]["open"]
    assert await dashboard.participant_panel(await person("nobody@example.org")) is None
    today = timezone.now().date()
    numbers = await dashboard.indicators(today - timedelta(days=1), today + timedelta(days=10))
    assert numbers["contests"] == 1
    # Counts rounded to five, the sites adding up to the teams: 2 + 2 = 4 → 5 = 5 + 0.
    assert numbers["teams"] == 5
    assert sorted(numbers["teams_by_site"].values()) == [0, 5]
    assert set(numbers["teams_by_site"]) == {site.name for site in await contest.sites.all()}
    assert numbers["participants"] == 5  # 4


async def test_an_organiser_records_a_conflict_before_assignment(browser):
    contest = await _contest_with_entries(n_teams=2, n_judges=2, judges_per_entry=1)
    team = await contest.teams.filter(name="Team 00").first()
    judge = await User.get(email="j0@example.org")
    await browser.login(contest.organiser.email)
    response = await browser.post(
        f"/contests/{contest.slug}/manage/conflict",
        {"judge_id": str(judge.id), "team_id": str(team.id), "reason": "Former student"},
    )
    assert response.status_code == 303
    assert (await judging.run_assignment(contest.organiser, contest)).ok
    submission = await team.submission
    assert not await JudgeAssignment.filter(judge_id=judge.id, submission_id=submission.id).exists()
    stranger = await person("nobody.else@example.org")
    response = await browser.post(
        f"/contests/{contest.slug}/manage/conflict",
        {"judge_id": str(stranger.id), "team_id": str(team.id)},
    )
    assert response.status_code == 404


async def test_an_entry_takes_images_until_the_deadline(browser):
    from PIL import Image

    contest = await make_contest(team_min=1)
    await make_team(contest, "Ảnh Đẹp", members=("photo@example.org",), title="Bản đồ ảnh")
    await browser.login("photo@example.org")
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, "PNG")
    url = f"/contests/{contest.slug}/entry/images"
    response = await browser.post(url, files={"image": ("a.png", buffer.getvalue(), "image/png")})
    assert response.status_code == 303
    from hackathon.models import Submission, SubmissionVersion

    submission = await Submission.get(title="Bản đồ ảnh")
    assert len(submission.images) == 1 and submission.version == 2
    assert await SubmissionVersion.filter(submission_id=submission.id).count() == 2
    page = await browser.get(f"/contests/{contest.slug}/entry")
    assert f"/media/{submission.images[0]}/thumb.webp" in page.text
    bad = await browser.post(url, files={"image": ("a.png", b"not an image", "image/png")})
    assert bad.status_code == 303
    await submission.refresh_from_db()
    assert len(submission.images) == 1


async def test_a_team_below_the_minimum_size_cannot_submit(client):
    contest = await make_contest(team_min=2)
    await make_team(contest, "Solo", members=("solo@example.org",))
    headers = await bearer(await User.get(email="solo@example.org"))
    response = await client.post(
        f"/api/v1/contests/{contest.id}/submissions", json={"title": "Alone"}, headers=headers
    )
    assert response.status_code == 422 and response.json()["error"]["code"] == "team_too_small"


async def test_the_team_reads_the_judges_comments_once_results_are_out(browser):
    from hackathon.services import results

    contest = await make_contest(judges_per_entry=1, **JUDGING_NOW)
    await make_team(contest, "Phản hồi", members=("fb@example.org",), title="Cổng phản ánh")
    judge = await make_judge(contest, "fb.judge@example.org")
    assert (await judging.run_assignment(contest.organiser, contest)).ok
    queue = await judging.queue(judge, contest)
    scores = {c.code: 7 for c in queue.criteria}
    await judging.save_scores(
        judge, queue.items[0].submission.id, scores, "Rất thuyết phục", "Chỉ ban tổ chức đọc"
    )
    await browser.login(contest.organiser.email)
    comments = await browser.get(f"/contests/{contest.slug}/manage/export/comments.csv")
    assert "Rất thuyết phục" in comments.text and "Chỉ ban tổ chức đọc" in comments.text
    await browser.login("fb@example.org")
    page = await browser.get(f"/contests/{contest.slug}/entry")
    assert "Rất thuyết phục" not in page.text
    await results.publish(
        contest.organiser,
        contest,
        confirm=(await results.preview(contest.organiser, contest)).token,
    )
    page = await browser.get(f"/contests/{contest.slug}/entry")
    assert "Rất thuyết phục" in page.text and "Chỉ ban tổ chức đọc" not in page.text
    assert "fb.judge" not in page.text
