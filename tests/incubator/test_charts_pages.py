"""Issue 17 item 6 over HTTP: KPI charts people read – a time axis at real dates (a missing
month is a gap), Babel compact numbers in the viewer's language, and a time series per metric
across a cohort (a line per startup, or the median of a large cohort), only of what each
startup agreed to share. On both backends."""

from __future__ import annotations

import re

from incubator.models import Enrolment
from tests.conftest import person
from tests.incubator.conftest import accepted_enrolment, startup, submitted, world


async def signed_in(new_browser, user, lang):
    await user.__class__.filter(id=user.id).update(locale=lang)
    browser = new_browser(lang=lang)
    await browser.login(user.email)
    return browser


def figure(html: str, figure_id: str) -> str:
    match = re.search(rf'<figure class="chart" id="{figure_id}">(.*?)</figure>', html, re.S)
    assert match, figure_id
    return match.group(1)


def paths(svg: str) -> list[str]:
    return re.findall(r'<path d="([^"]*)"', svg)


def y_labels(svg: str) -> list[str]:
    return [
        t.replace("\xa0", " ")
        for t in re.findall(r'<text class="chart-y-label"[^>]*>([^<]*)</text>', svg)
    ]


def x_labels(svg: str) -> list[str]:
    return re.findall(r"<tspan[^>]*>([^<]*)</tspan>", svg)


async def reports(w) -> None:
    for period, revenue in (("2026-01", 100_000_000), ("2026-02", 120_000_000)):
        await submitted(w.enrolment, period, {"revenue": revenue, "users": 40})
    await submitted(w.enrolment, "2026-03", {"revenue": 150_000_000, "users": 55})
    await submitted(w.enrolment, "2026-05", {"revenue": 1_500_000_000, "users": 70})  # no April
    await Enrolment.filter(id=w.other_enrolment.id).update(metrics=["revenue"])
    for period in ("2026-01", "2026-02", "2026-03"):
        await submitted(w.other_enrolment, period, {"revenue": 20_000_000, "users": 999})


async def test_the_cohort_charts_each_metric_over_time_per_startup(new_browser):
    w = await world()
    await reports(w)
    url = f"/incubator/cohorts/{w.cohort.id}"
    manager = await signed_in(new_browser, w.manager, "vi")
    page = await manager.get(url)
    assert page.status_code == 200 and 'id="portfolio-charts"' in page.text
    revenue = figure(page.text, "cohort-chart-revenue")
    lines = paths(revenue)
    assert len(lines) == 2  # Lumi and GreenFarm
    assert sorted(line.count("M") for line in lines) == [1, 2]  # Lumi's April is a gap
    assert "Lumi Smart Lighting" in revenue and "GreenFarm IoT" in revenue  # the legend
    assert y_labels(revenue)[-1] in ("1,5 T", "1,6 T", "2 T")
    assert all(not re.search(r"\d[MB]$", label) for label in y_labels(revenue))
    assert "thg 1 2026" in x_labels(revenue) and "thg 4 2026" in x_labels(revenue)
    # GreenFarm shares its revenue only: its users never reach the chart.
    users = figure(page.text, "cohort-chart-users")
    assert len(paths(users)) == 1 and "999" not in users and "GreenFarm" not in users

    english = await signed_in(new_browser, w.mentor, "en")
    revenue_en = figure((await english.get(url)).text, "cohort-chart-revenue")
    assert y_labels(revenue_en)[-1] in ("1.5B", "1.6B", "2B") and "Jan 2026" in x_labels(revenue_en)

    for who in (w.founder, w.other_founder, w.grantee, w.stranger):
        assert (await (await signed_in(new_browser, who, "en")).get(url)).status_code == 403
    unverified = await person("newbie@bbi.vn", verified=False)
    assert (await (await signed_in(new_browser, unverified, "en")).get(url)).status_code == 403


async def test_a_large_cohort_gets_the_median_and_the_startup_page_a_time_axis(new_browser):
    w = await world()
    await reports(w)
    for n in range(6):
        extra = await startup(f"Startup {n}")
        enrolment = await accepted_enrolment(w.cohort, extra)
        await submitted(enrolment, "2026-02", {"revenue": (n + 1) * 10_000_000})
    manager = await signed_in(new_browser, w.manager, "en")
    revenue = figure(
        (await manager.get(f"/incubator/cohorts/{w.cohort.id}")).text, "cohort-chart-revenue"
    )
    assert len(paths(revenue)) == 1 and "Median of the startups that reported" in revenue
    assert "Startup 3" not in revenue

    founder = await signed_in(new_browser, w.founder, "vi")
    own = figure((await founder.get(f"/incubator/startups/{w.startup.id}")).text, "chart-revenue")
    assert paths(own)[0].count("M") == 2  # March → May is not drawn as one step
    assert 'data-label="2026-05"' in own and "thg 4 2026" in x_labels(own)
    assert '<th scope="row">2026-05</th>' in own  # the data table keeps the periods
