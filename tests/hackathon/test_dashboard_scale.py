"""The organiser's dashboard at contest scale (issue 21): a constant number of SQL statements
whatever the number of entries, a running ranking that follows every new score (its fit is
reused only while the log is unchanged), and a coverage table shown a page at a time."""

from __future__ import annotations

import re

from ecosystem.models import User
from hackathon.models import Contest, ContestRole
from hackathon.routes import manage
from hackathon.services import judging, results
from tests.hackathon.conftest import JUDGING_NOW, make_contest, make_judge, make_team

RANKING_TITLES = re.compile(r"<tr(?: class=\"tied\")?><td>\d+</td><td>([^<]+) <span")


async def _add_entries(contest: Contest, start: int, stop: int) -> None:
    for i in range(start, stop):
        await make_team(
            contest,
            f"Team {i:03d}",
            site="kr" if i % 3 == 0 else "vn",
            track="tourism" if i % 2 else "traffic",
            title=f"Entry {i:03d}",
        )


async def _score_queue(judge: User, contest: Contest) -> None:
    queue = await judging.queue(judge, contest)
    for item in queue.items:
        base = (item.submission.id * 7 + judge.id * 3) % 9
        scores = {c.code: min(c.scale_max, base + i % 2) for i, c in enumerate(queue.criteria)}
        await judging.save_scores(judge, item.submission.id, scores)


async def _judges(contest: Contest) -> list[User]:
    roles = await ContestRole.filter(contest_id=contest.id, role="judge").order_by("id")
    return [await User.get(id=role.user_id) for role in roles]


def _ranking_titles(page: str) -> list[str]:
    return RANKING_TITLES.findall(page[page.index("table ranking") :])


async def test_the_dashboard_takes_the_same_queries_with_4_and_40_entries(browser, count_queries):
    contest = await make_contest(**JUDGING_NOW, load_cap=60)
    await _add_entries(contest, 0, 4)
    for i in range(3):
        await make_judge(contest, f"judge{i}@example.org")
    organiser = contest.organiser
    assert (await judging.run_assignment(organiser, contest)).ok
    first_judge = (await _judges(contest))[0]
    await _score_queue(first_judge, contest)
    await browser.login(organiser.email)
    url = f"/contests/{contest.slug}/manage"
    assert (await browser.get(url)).status_code == 200  # the same caches warm in both
    with count_queries() as few:
        small = await browser.get(url)
    with count_queries() as few_fragment:
        await browser.get(f"{url}/coverage", headers={"HX-Request": "true"})
    assert small.status_code == 200 and "table ranking" in small.text

    await _add_entries(contest, 4, 40)
    for i in range(3, 6):
        await make_judge(contest, f"judge{i}@example.org")
    assert (await judging.run_assignment(organiser, contest)).ok
    for judge in (await _judges(contest))[:3]:
        await _score_queue(judge, contest)
    assert (await browser.get(url)).status_code == 200
    with count_queries() as many:
        large = await browser.get(url)
    with count_queries() as many_fragment:
        await browser.get(f"{url}/coverage", headers={"HX-Request": "true"})
    assert large.status_code == 200 and large.text.count('class="covered"') > 4
    assert len(many.statements) == len(few.statements), (
        len(few.statements),
        len(many.statements),
    )
    assert len(many_fragment.statements) == len(few_fragment.statements)
    assert len(many.statements) <= 40, many.statements


async def test_the_running_ranking_follows_every_new_score(browser):
    contest = await make_contest(**JUDGING_NOW, load_cap=60)
    await _add_entries(contest, 0, 8)
    for i in range(3):
        await make_judge(contest, f"judge{i}@example.org")
    organiser = contest.organiser
    assert (await judging.run_assignment(organiser, contest)).ok
    judges = await _judges(contest)
    await browser.login(organiser.email)
    url = f"/contests/{contest.slug}/manage"
    for judge in judges:
        await _score_queue(judge, contest)
        shown = _ranking_titles((await browser.get(url)).text)
        again = _ranking_titles((await browser.get(url)).text)  # the fit reused: the same
        fresh = await results.compute(contest)  # no cache at all
        assert shown == again == [line.submission.title for line in fresh.overall]
    assert len(shown) == 8
    # A renamed entry shows under its new name at once, the fit being reused.
    first = fresh.overall[0].submission
    first.title = "Renamed entry"
    await first.save(update_fields=["title"])
    assert _ranking_titles((await browser.get(url)).text)[0] == "Renamed entry"


async def test_the_coverage_table_and_the_ranking_are_shown_a_page_at_a_time(browser, monkeypatch):
    monkeypatch.setattr(manage, "COVERAGE_PAGE", 3)
    monkeypatch.setattr(manage, "RANKING_SHOWN", 4)
    contest = await make_contest(**JUDGING_NOW, load_cap=60)
    await _add_entries(contest, 0, 7)
    for i in range(2):
        await make_judge(contest, f"judge{i}@example.org")
    organiser = contest.organiser
    assert (await judging.run_assignment(organiser, contest)).ok
    for judge in await _judges(contest):
        await _score_queue(judge, contest)
    await browser.login(organiser.email)
    url = f"/contests/{contest.slug}/manage"
    page = (await browser.get(url)).text
    coverage = page[page.index('id="coverage"') : page.index('id="coverage-pager"')]
    assert [f"Entry {i:03d}" in coverage for i in range(7)] == [True] * 3 + [False] * 4
    assert f"{url}/coverage?coverage_page=2" in page and "coverage_page=0" not in page
    assert len(_ranking_titles(page)) == 4 and 'id="ranking-cut"' in page
    last = await browser.get(f"{url}/coverage?coverage_page=3", headers={"HX-Request": "true"})
    assert "Entry 006" in last.text and "Entry 005" not in last.text
    assert 'hx-get="/contests/smart-city-2018/manage/coverage?coverage_page=3"' in last.text
    beyond = await browser.get(f"{url}?coverage_page=9")  # out of range: the first page
    assert beyond.status_code == 200 and "Entry 000" in beyond.text
