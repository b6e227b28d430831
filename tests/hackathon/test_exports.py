"""A contest's exports (teams, scores, ranking, judges' comments) as CSV and .xlsx, with
teams, entries and comments written like formulas: every cell is inert."""

from __future__ import annotations

from ecosystem import tabular
from hackathon.services import judging
from tests.exports import (
    HOSTILE,
    VIETNAMESE,
    assert_safe_csv,
    assert_safe_xlsx,
    column,
    read_csv,
    read_xlsx,
)
from tests.hackathon.conftest import JUDGING_NOW, make_contest, make_judge, make_team


async def test_the_contest_exports_are_inert_in_csv_and_xlsx(browser):
    contest = await make_contest(judges_per_entry=1, **JUDGING_NOW)
    names = [*HOSTILE, VIETNAMESE]
    for i, name in enumerate(names):
        await make_team(contest, name, members=(f"t{i}@example.org",), title=f"{name} entry")
    judge = await make_judge(contest, "judge@example.org")
    assert (await judging.run_assignment(contest.organiser, contest)).ok
    queue = await judging.queue(judge, contest)
    for index, item in enumerate(queue.items[:2]):
        scores = {c.code: 7 for c in queue.criteria}
        await judging.save_scores(judge, item.submission.id, scores, HOSTILE[index], "-2+3")
    await browser.login(contest.organiser.email)
    base = f"/contests/{contest.slug}/manage/export"
    page = await browser.get(f"/contests/{contest.slug}/manage")
    for what in ("teams", "scores", "ranking", "comments"):
        assert f'href="{base}/{what}.csv"' in page.text
        assert f'href="{base}/{what}.xlsx"' in page.text

    teams_csv = await browser.get(f"{base}/teams.csv")
    assert teams_csv.headers["content-type"] == "text/csv; charset=utf-8"
    rows = assert_safe_csv(teams_csv.content, [*names, *[f"{n} entry" for n in names]])
    assert all(isinstance(v, float) for v in column(rows, "team_id"))
    assert column(rows, "members") == [1.0] * len(names)
    teams_xlsx = await browser.get(f"{base}/teams.xlsx")
    assert teams_xlsx.headers["content-type"] == tabular.MEDIA_TYPES["xlsx"]
    assert teams_xlsx.headers["content-disposition"].endswith(f'{contest.slug}-teams.xlsx"')
    sheet = assert_safe_xlsx(teams_xlsx.content, [*names, *[f"{n} entry" for n in names]])
    assert column(sheet, "members") == [1.0] * len(names)

    comments_csv = await browser.get(f"{base}/comments.csv")
    assert_safe_csv(comments_csv.content, [HOSTILE[0], HOSTILE[1], "-2+3"])
    comments_xlsx = await browser.get(f"{base}/comments.xlsx")
    assert_safe_xlsx(comments_xlsx.content, [HOSTILE[0], HOSTILE[1], "-2+3"])

    for what in ("scores", "ranking"):
        as_csv = read_csv((await browser.get(f"{base}/{what}.csv")).content)
        as_xlsx = read_xlsx((await browser.get(f"{base}/{what}.xlsx")).content)
        assert as_csv[0] == as_xlsx[0] and len(as_csv) == len(as_xlsx) > 1
    assert (await browser.get(f"{base}/nothing.xlsx")).status_code == 404
