""" "Next entry" on the judge's sheet (issue 16, item 6): the next unscored entry of this
judge's own assignment, in queue order, wrapping around; nothing once all are scored."""

from __future__ import annotations

from hackathon.models import JudgeAssignment
from hackathon.services import judging
from tests.hackathon.conftest import JUDGING_NOW, make_contest, make_judge, make_team


async def _score(judge, contest, submission_id: int) -> None:
    queue = await judging.queue(judge, contest)
    await judging.save_scores(judge, submission_id, {c.code: 5 for c in queue.criteria})


async def test_the_sheet_links_the_next_unscored_entry(new_browser):
    contest = await make_contest(judges_per_entry=1, load_cap=10, **JUDGING_NOW)
    for i in range(3):
        await make_team(contest, f"Team {i}", title=f"Entry {i}")
    judge = await make_judge(contest, "judge@example.org")
    other = await make_judge(contest, "other@example.org")
    await JudgeAssignment.all().delete()
    assert (await judging.run_assignment(contest.organiser, contest)).ok
    mine = (
        await JudgeAssignment.filter(judge_id=judge.id)
        .order_by("id")
        .values_list("submission_id", flat=True)
    )
    assert len(mine) >= 1
    # give the judge all three entries: take the other judge's away
    await JudgeAssignment.filter(judge_id=other.id).update(judge_id=judge.id)
    mine = (
        await JudgeAssignment.filter(judge_id=judge.id)
        .order_by("id")
        .values_list("submission_id", flat=True)
    )
    assert len(mine) == 3
    first, second, third = mine
    browser = new_browser()
    await browser.login(judge.email)
    page = await browser.get(f"/contests/{contest.slug}/judge/{first}")
    assert f'id="next-entry" href="/contests/{contest.slug}/judge/{second}"' in page.text
    await _score(judge, contest, second)
    page = await browser.get(f"/contests/{contest.slug}/judge/{first}")
    assert f'href="/contests/{contest.slug}/judge/{third}"' in page.text
    # from the last one it wraps around to the first unscored
    page = await browser.get(f"/contests/{contest.slug}/judge/{third}")
    assert f'id="next-entry" href="/contests/{contest.slug}/judge/{first}"' in page.text
    # saving through htmx shows the link in the status fragment
    queue = await judging.queue(judge, contest)
    form = {f"c-{c.id}": "6" for c in queue.criteria}
    response = await browser.post(
        f"/contests/{contest.slug}/judge/{first}", form, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert f'id="next-entry" href="/contests/{contest.slug}/judge/{third}"' in response.text
    await _score(judge, contest, third)
    page = await browser.get(f"/contests/{contest.slug}/judge/{third}")
    assert 'id="next-entry"' not in page.text and 'id="all-scored"' in page.text
    # the other judge has no assignment left: their sheet is refused, so no link leaks
    other_browser = new_browser()
    await other_browser.login(other.email)
    response = await other_browser.get(f"/contests/{contest.slug}/judge/{first}")
    assert response.status_code == 403
