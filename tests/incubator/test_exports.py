"""The incubator's exports (a cohort's dashboard, a startup's KPI series) as CSV and .xlsx,
with startups named like formulas: every cell is inert, figures stay numbers."""

from __future__ import annotations

from ecosystem import tabular
from ecosystem.models import Organisation
from incubator.models import ShareAccess
from tests.exports import (
    HOSTILE,
    VIETNAMESE,
    assert_safe_csv,
    assert_safe_xlsx,
    column,
)
from tests.incubator.conftest import submitted, world


async def signed_in(new_browser, user):
    browser = new_browser(lang="en")
    await browser.login(user.email)
    return browser


async def test_the_cohort_export_is_inert_in_csv_and_xlsx(new_browser):
    w = await world()
    await Organisation.filter(id=w.startup.id).update(name=HOSTILE[0])
    await Organisation.filter(id=w.other.id).update(name=VIETNAMESE)
    await submitted(w.enrolment, "2026-05", {"revenue": -250_000, "users": 10})
    manager = await signed_in(new_browser, w.manager)
    url = f"/incubator/cohorts/{w.cohort.id}"
    page = await manager.get(url)
    assert f'href="{url}/export.csv"' in page.text and f'href="{url}/export.xlsx"' in page.text

    as_csv = await manager.get(f"{url}/export.csv")
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert as_csv.headers["cache-control"] == "private, no-store"
    rows = assert_safe_csv(as_csv.content, [HOSTILE[0], VIETNAMESE])
    by_name = dict(zip(column(rows, "startup"), column(rows, "revenue"), strict=True))
    assert by_name["'" + HOSTILE[0]] == -250_000.0  # a negative figure is a number

    as_xlsx = await manager.get(f"{url}/export.xlsx")
    assert as_xlsx.headers["content-type"] == tabular.MEDIA_TYPES["xlsx"]
    assert as_xlsx.headers["cache-control"] == "private, no-store"
    sheet = assert_safe_xlsx(as_xlsx.content, [HOSTILE[0], VIETNAMESE])
    by_name = dict(zip(column(sheet, "startup"), column(sheet, "revenue"), strict=True))
    assert by_name[HOSTILE[0]] == -250_000.0

    founder = await signed_in(new_browser, w.founder)
    for suffix in ("csv", "xlsx"):
        assert (await founder.get(f"{url}/export.{suffix}")).status_code == 403


async def test_the_kpi_export_is_csv_and_xlsx_and_each_download_is_logged(new_browser):
    w = await world()
    await submitted(w.enrolment, "2026-02", {"revenue": -100, "users": 5})
    founder = await signed_in(new_browser, w.founder)
    url = f"/incubator/startups/{w.startup.id}/metrics"
    page = await founder.get(f"/incubator/startups/{w.startup.id}")
    assert f'href="{url}.csv"' in page.text and f'href="{url}.xlsx"' in page.text
    rows = assert_safe_csv((await founder.get(f"{url}.csv")).content, [])
    assert rows[1][:3] == ["2026-02", -100.0, 5.0]
    sheet = assert_safe_xlsx((await founder.get(f"{url}.xlsx")).content, [])
    assert sheet[0] == rows[0] and sheet[1][:3] == ["2026-02", -100.0, 5.0]

    grantee = await signed_in(new_browser, w.grantee)
    assert (await grantee.get(f"{url}.csv")).status_code == 200
    assert (await grantee.get(f"{url}.xlsx")).status_code == 200
    assert [a.channel for a in await ShareAccess.all().order_by("id")] == ["csv", "xlsx"]
    stranger = await signed_in(new_browser, w.stranger)
    assert (await stranger.get(f"{url}.xlsx")).status_code == 403
