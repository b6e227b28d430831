"""An organisation's monthly statement as CSV and .xlsx, with a member and a description
named like formulas: every cell is inert, amounts stay numbers."""

from __future__ import annotations

from ecosystem import tabular
from ecosystem.models import User
from ecosystem.payments.models import Payment
from labs.models import LabStaff
from tests.conftest import person
from tests.exports import (
    HOSTILE,
    VIETNAMESE,
    assert_safe_csv,
    assert_safe_xlsx,
    column,
)
from tests.labs.conftest import make_host, make_lab
from tests.payments.conftest import RATE, priced_machine
from tests.payments.test_billing_and_pages import bill, setup_company


async def test_the_statement_exports_are_inert_in_csv_and_xlsx(client, new_browser, fake_stripe):
    owner, company, engineer = await setup_company()
    lab = await make_lab(await make_host("Becamex IDC"))
    machine = await priced_machine(lab)
    staff = await person("staff@becamex.vn")
    await LabStaff.create(lab=lab, user=staff)
    ids = []
    for hour in (8, 10, 12, 14):
        response = await bill(client, owner, machine, company, days=3, hour=hour)
        assert response.status_code == 201, response.text
        ids.append(response.json()["payment"]["id"])
    # What people typed: a member's name and booking descriptions that look like formulas.
    await User.filter(id=owner.id).update(full_name=HOSTILE[0])
    descriptions = [*HOSTILE[1:], VIETNAMESE]
    for payment_id, text in zip(ids, descriptions, strict=False):
        await Payment.filter(id=payment_id).update(description=text)
    expected = [HOSTILE[0], *descriptions[: len(ids)]]
    period = (await Payment.get(id=ids[0])).period
    url = f"/payments/statements/labs.lab:{lab.id}/{company.id}/{period}"

    browser = new_browser(lang="en")
    await browser.login(staff.email)
    page = await browser.get(url)
    assert f'href="{url}.csv"' in page.text and f'href="{url}.xlsx"' in page.text

    as_csv = await browser.get(url + ".csv")
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    rows = assert_safe_csv(as_csv.content, expected)
    assert rows[0] == ["payment_id", "date", "description", "member", "amount", "due", "currency"]
    assert column(rows, "due")[:-1] == [float(RATE * 2)] * len(ids)
    assert rows[-1][-2:] == [float(RATE * 2 * len(ids)), "VND"]

    as_xlsx = await browser.get(url + ".xlsx")
    assert as_xlsx.status_code == 200
    assert as_xlsx.headers["content-type"] == tabular.MEDIA_TYPES["xlsx"]
    sheet = assert_safe_xlsx(as_xlsx.content, expected)
    assert sheet[0] == rows[0]
    assert column(sheet, "payment_id")[:-1] == [float(i) for i in ids]
    assert all(isinstance(day, float) for day in column(sheet, "date")[:-1])  # typed dates
    assert sheet[-1][-2:] == [float(RATE * 2 * len(ids)), "VND"]

    stranger = new_browser(lang="en")
    await stranger.login((await person("someone@example.org")).email)
    refused = (await stranger.get(url)).status_code
    assert refused in (403, 404)
    for suffix in ("csv", "xlsx"):
        assert (await stranger.get(f"{url}.{suffix}")).status_code == refused
