"""The lab usage export (CSV and .xlsx) with machines named like formulas: every cell is
inert, numbers stay numbers, and both files are for the lab's staff only."""

from __future__ import annotations

from ecosystem import tabular
from labs.models import LabStaff
from tests.conftest import person
from tests.exports import (
    HOSTILE,
    VIETNAMESE,
    assert_safe_csv,
    assert_safe_xlsx,
    column,
)
from tests.labs.conftest import make_equipment, make_lab


async def test_the_usage_export_is_inert_in_csv_and_xlsx(new_browser):
    lab = await make_lab()
    staff = await person("staff@becamex.com.vn")
    await LabStaff.create(lab=lab, user=staff)
    names = [*HOSTILE, VIETNAMESE]
    machines = [await make_equipment(lab, name) for name in names]
    browser = new_browser(lang="en")
    await browser.login(staff.email)

    page = await browser.get(f"/labs/{lab.slug}/usage")
    assert f"/labs/{lab.slug}/usage.csv?" in page.text
    assert f"/labs/{lab.slug}/usage.xlsx?" in page.text

    as_csv = await browser.get(f"/labs/{lab.slug}/usage.csv")
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    rows = assert_safe_csv(as_csv.content, names)
    assert sorted(column(rows, "machine_id")[:-1]) == sorted(float(m.id) for m in machines)
    assert column(rows, "machine")[-1] == "TOTAL"
    assert all(isinstance(v, float) for v in column(rows, "open_hours"))

    as_xlsx = await browser.get(f"/labs/{lab.slug}/usage.xlsx")
    assert as_xlsx.status_code == 200
    assert as_xlsx.headers["content-type"] == tabular.MEDIA_TYPES["xlsx"]
    assert as_xlsx.headers["content-disposition"].endswith('.xlsx"')
    sheet = assert_safe_xlsx(as_xlsx.content, names)
    assert sheet[0] == rows[0]
    assert sorted(column(sheet, "machine_id")[:-1]) == sorted(float(m.id) for m in machines)
    assert all(isinstance(v, float) for v in column(sheet, "open_hours"))

    stranger = new_browser(lang="en")
    await stranger.login((await person("someone@example.org")).email)
    for suffix in ("csv", "xlsx"):
        assert (await stranger.get(f"/labs/{lab.slug}/usage.{suffix}")).status_code == 403
    assert (await browser.get(f"/labs/{lab.slug}/usage.xls")).status_code == 404
