"""Organisation billing (who may bill, monthly statements in HTML/CSV/PDF marked paid by lab
staff), receipts with sequential numbers per lab, the credit page, staff credit grants, and
each page's permissions."""

from __future__ import annotations

import csv
import io

from ecosystem import jobs
from ecosystem.models import Membership, MembershipStatus, Role
from ecosystem.payments.models import Payment
from ecosystem.payments.services import ledger as credits
from labs.models import LabStaff
from labs.services.payments import issuer_key
from tests.conftest import make_organisation, person
from tests.labs.conftest import bearer, make_host, make_lab
from tests.payments.conftest import RATE, booking_body, post_event, priced_machine, slot


async def member_of(organisation, email: str, role: str = "member"):
    user = await person(email)
    await Membership.create(
        user=user, organisation=organisation, role=Role(role), status=MembershipStatus.ACTIVE
    )
    return user


async def setup_company():
    owner = await person("director@vnpt.vn")
    company = await make_organisation(owner, "VNPT", spheres=("enterprise",))
    engineer = await member_of(company, "engineer@vnpt.vn")
    return owner, company, engineer


async def bill(client, user, machine, organisation, days=3, hour=9):
    start, end = slot(days, hour)
    return await client.post(
        "/api/v1/bookings",
        json=booking_body(
            machine, start, end, payer="organisation", organisation_id=organisation.id
        ),
        headers=await bearer(user),
    )


async def test_only_admins_and_allowed_members_bill_the_organisation(client, browser, fake_stripe):
    owner, company, engineer = await setup_company()
    outsider = await person("someone@else.vn")
    machine = await priced_machine(rates={"public": RATE, "enterprise": RATE // 2})

    refused = await bill(client, engineer, machine, company)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "billing_not_allowed"
    assert (await bill(client, outsider, machine, company)).status_code == 403

    # The organisation's admin allows the engineer on the billing page.
    await browser.login(engineer.email)
    assert (await browser.get(f"/payments/organisations/{company.slug}/billing")).status_code == 403
    browser.http.cookies.clear()
    browser.csrf_token = ""
    await browser.login(owner.email)
    page = await browser.get(f"/payments/organisations/{company.slug}/billing")
    assert page.status_code == 200
    allowed = await browser.post(
        f"/payments/organisations/{company.slug}/billing", {"email": engineer.email}
    )
    assert allowed.status_code == 303
    stranger = await browser.post(
        f"/payments/organisations/{company.slug}/billing", {"email": outsider.email}
    )
    assert stranger.status_code == 422

    response = await bill(client, engineer, machine, company)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "confirmed" and body["checkout_url"] is None
    assert body["payment"]["method"] == "organisation"
    assert body["payment"]["state"] == "billed"
    assert body["payment"]["organisation_id"] == company.id
    assert body["price"]["category"] == "enterprise"
    assert fake_stripe.sessions == {}
    # The owner (an admin) may always bill it.
    assert (await bill(client, owner, machine, company, hour=13)).status_code == 201


async def test_monthly_statement_for_staff_and_the_organisation_then_marked_paid(
    client, new_browser, fake_stripe
):
    owner, company, engineer = await setup_company()
    host = await make_host("Becamex IDC")
    lab = await make_lab(host, address="Hòa Phú, Thủ Dầu Một", contact_email="fablab@becamex.vn")
    machine = await priced_machine(lab)
    staff = await person("staff@becamex.vn")
    await LabStaff.create(lab=lab, user=staff)
    first = (await bill(client, owner, machine, company, days=3, hour=9)).json()
    second = (await bill(client, owner, machine, company, days=3, hour=13)).json()
    cancelled = await client.post(
        f"/api/v1/bookings/{second['id']}/cancel", headers=await bearer(owner)
    )
    assert cancelled.json()["payment"]["state"] == "refunded"  # nothing is owed for it
    period = (await Payment.get(id=first["payment"]["id"])).period
    url = f"/payments/statements/labs.lab:{lab.id}/{company.id}/{period}"

    staff_browser = new_browser(lang="en")
    await staff_browser.login(staff.email)
    page = await staff_browser.get(url)
    assert page.status_code == 200
    assert "VNPT" in page.text and "Becamex FabLab" in page.text
    assert '<th id="statement-total">' in page.text
    csv_body = (await staff_browser.get(url + ".csv")).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(csv_body)))
    assert rows[0][0] == "payment_id"
    assert rows[-1][-2:] == [str(2 * RATE), "VND"]  # the cancelled booking owes nothing
    pdf = await staff_browser.get(url + ".pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")

    owner_browser = new_browser()
    await owner_browser.login(owner.email)
    assert (await owner_browser.get(url)).status_code == 200  # the organisation reads it
    refused = await owner_browser.post(url + "/paid")
    assert refused.status_code == 403  # but only the lab's staff settle it
    engineer_browser = new_browser()
    await engineer_browser.login(engineer.email)
    assert (await engineer_browser.get(url)).status_code == 404

    lab_page = await staff_browser.get(f"/labs/{lab.slug}/payments")
    assert lab_page.status_code == 200 and url in lab_page.text

    marked = await staff_browser.post(url + "/paid")
    assert marked.status_code == 303
    payment = await Payment.get(id=first["payment"]["id"])
    assert payment.state == "paid" and payment.receipt_number == 1
    again = await staff_browser.get(url)
    assert 'id="statement-paid"' in again.text


async def test_receipts_are_numbered_per_lab_and_shown_only_to_whom_they_concern(
    client, new_browser, fake_stripe
):
    lab_a = await make_lab(name="Becamex FabLab", contact_phone="0274 0000")
    lab_b = await make_lab(await make_host("TDMU", "university"), name="TDMU ICT FabLab")
    payer = await person("lan@becamex.com.vn")
    await credits.fund("test", 10 * RATE)
    await credits.grant_credit(
        actor=None, amount=10 * RATE, reason="Perk", source="test", user=payer
    )
    headers = await bearer(payer)
    numbers = []
    for lab, hour in ((lab_a, 9), (lab_b, 9), (lab_a, 13)):
        machine = await priced_machine(lab)
        start, end = slot(3, hour)
        body = (
            await client.post(
                "/api/v1/bookings", json=booking_body(machine, start, end), headers=headers
            )
        ).json()
        numbers.append((await Payment.get(id=body["payment"]["id"])).receipt_number)
    assert numbers == [1, 1, 2]

    payment = await Payment.filter(issuer_key=f"labs.lab:{lab_a.id}", receipt_number=2).first()
    mine = new_browser(lang="en")
    await mine.login(payer.email)
    page = await mine.get(f"/payments/{payment.id}/receipt")
    assert page.status_code == 200
    assert f"LAB{lab_a.id}-000002" in page.text and "0274 0000" in page.text
    pdf = await mine.get(f"/payments/{payment.id}/receipt.pdf")
    assert pdf.content.startswith(b"%PDF")
    status_page = await mine.get(f"/payments/{payment.id}")
    assert status_page.status_code == 200 and "Paid" in status_page.text
    credit_page = await mine.get("/payments/credits")
    assert credit_page.status_code == 200 and "credit-balance" in credit_page.text

    other = new_browser()
    await other.login((await person("binh@tdmu.edu.vn")).email)
    assert (await other.get(f"/payments/{payment.id}/receipt")).status_code == 404
    assert (await other.get(f"/payments/{payment.id}/receipt.pdf")).status_code == 404


async def test_staff_grant_credit_once_per_form_and_set_the_refund_policy(
    client, new_browser, fake_stripe
):
    lab = await make_lab()
    staff = await person("staff@becamex.vn")
    await LabStaff.create(lab=lab, user=staff)
    student = await person("lan@eiu.edu.vn")
    await credits.fund(issuer_key(lab.id), 200_000)  # the platform admins funded the lab
    staff_browser = new_browser()
    await staff_browser.login(staff.email)
    page = await staff_browser.get(f"/labs/{lab.slug}/payments")
    assert page.status_code == 200
    form = {
        "action": "grant",
        "recipient": student.email,
        "amount": "200.000",
        "reason": "Hackathon prize",
        "nonce": "n1",
    }
    assert (await staff_browser.post(f"/labs/{lab.slug}/payments", form)).status_code == 303
    assert (await staff_browser.post(f"/labs/{lab.slug}/payments", form)).status_code == 303
    assert await credits.balance(user=student) == 200_000  # the resubmission granted nothing
    bad = await staff_browser.post(
        f"/labs/{lab.slug}/payments", {**form, "recipient": "nobody", "nonce": "n2"}
    )
    assert bad.status_code == 422
    policy = await staff_browser.post(
        f"/labs/{lab.slug}/payments", {"action": "policy", "percent": "30"}
    )
    assert policy.status_code == 303
    await lab.refresh_from_db()
    assert lab.late_cancellation_refund_percent == 30

    student_browser = new_browser()
    await student_browser.login(student.email)
    assert (await student_browser.get(f"/labs/{lab.slug}/payments")).status_code == 404
    refused = await student_browser.post(f"/labs/{lab.slug}/payments", form)
    assert refused.status_code == 404


async def test_the_payment_page_waits_for_the_webhook_and_then_shows_paid(
    client, new_browser, fake_stripe
):
    machine = await priced_machine()
    payer = await person("lan@becamex.com.vn")
    start, end = slot()
    body = (
        await client.post(
            "/api/v1/bookings",
            json=booking_body(machine, start, end),
            headers=await bearer(payer),
        )
    ).json()
    mine = new_browser(lang="en")
    await mine.login(payer.email)
    back = await mine.get(f"/payments/{body['payment']['id']}/return?session_id=cs_whatever")
    assert back.status_code == 303
    waiting = await mine.get(f"/payments/{body['payment']['id']}")
    assert 'hx-trigger="every 3s"' in waiting.text and 'id="pay-now"' in waiting.text
    session_id = body["checkout_url"].rsplit("/", 1)[-1]
    await post_event(client, fake_stripe, fake_stripe.complete(session_id))
    fragment = await mine.get(f"/payments/{body['payment']['id']}", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "every 3s" not in fragment.text
    assert "/receipt" in fragment.text
    bookings_page = await mine.get("/bookings")
    assert "payment-state-paid" in bookings_page.text


async def test_the_booking_form_bills_the_organisation_or_sends_the_card_payer_to_pay(
    client, new_browser, fake_stripe
):
    owner, company, _engineer = await setup_company()
    machine = await priced_machine()
    browser = new_browser(lang="en")
    await browser.login(owner.email)
    start, end = slot()
    form = await browser.get(
        f"/equipment/{machine.id}/book", params={"start": start.isoformat(), "end": end.isoformat()}
    )
    assert f'value="organisation:{company.id}"' in form.text
    billed = await browser.post(
        f"/equipment/{machine.id}/book",
        {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "purpose": "Antenna",
            "payer": f"organisation:{company.id}",
        },
    )
    assert billed.status_code == 303 and billed.headers["location"] == "/bookings"
    start, end = slot(hour=13)
    card = await browser.post(
        f"/equipment/{machine.id}/book",
        {"start": start.isoformat(), "end": end.isoformat(), "payer": "auto"},
    )
    assert card.status_code == 303
    assert card.headers["location"].startswith("/payments/")
    states = sorted((p.method, p.state) for p in await Payment.all())
    assert states == [("card", "pending"), ("organisation", "billed")]


async def test_a_booking_and_credits_are_shown_only_to_whom_they_concern(client, fake_stripe):
    lab = await make_lab()
    machine = await priced_machine(lab)
    payer = await person("lan@becamex.com.vn")
    staff = await person("staff@becamex.vn")
    await LabStaff.create(lab=lab, user=staff)
    start, end = slot()
    body = (
        await client.post(
            "/api/v1/bookings", json=booking_body(machine, start, end), headers=await bearer(payer)
        )
    ).json()
    url = f"/api/v1/bookings/{body['id']}"
    assert (await client.get(url, headers=await bearer(payer))).status_code == 200
    shown = await client.get(url, headers=await bearer(staff))
    assert shown.status_code == 200 and shown.json()["payment"]["state"] == "pending"
    stranger = await person("binh@tdmu.edu.vn")
    assert (await client.get(url, headers=await bearer(stranger))).status_code == 404
    assert (await client.get(url)).status_code == 401
    assert (await client.get("/api/v1/credits")).status_code == 401
    theirs = (await client.get("/api/v1/credits", headers=await bearer(stranger))).json()
    assert theirs == {
        "balances": [
            {
                "owner": "user",
                "organisation_id": None,
                "organisation_name": None,
                "balance": 0,
                "currency": "VND",
                "ledger": [],
            }
        ]
    }


async def test_the_statement_page_runs_the_same_queries_for_any_number_of_bookings(
    client, new_browser, fake_stripe, count_queries
):
    owner, company, _engineer = await setup_company()
    lab = await make_lab()
    machine = await priced_machine(lab)
    staff = await person("staff@becamex.vn")
    await LabStaff.create(lab=lab, user=staff)
    browser = new_browser()
    await browser.login(staff.email)
    counts = []
    # The first round warms what a process loads once (and is not counted).
    for hour in (8, 10, 12, 14, 16):
        created = (await bill(client, owner, machine, company, hour=hour)).json()
        await jobs.drain()  # the booking's mail is delivered outside the counted requests
        period = (await Payment.get(id=created["payment"]["id"])).period
        url = f"/payments/statements/labs.lab:{lab.id}/{company.id}/{period}"
        with count_queries() as counted:
            assert (await browser.get(url)).status_code == 200
        counts.append(len(counted.statements))
        with count_queries() as counted:
            assert (await browser.get(f"/labs/{lab.slug}/payments")).status_code == 200
        counts.append(len(counted.statements))
    counts = counts[2:]
    assert counts[0::2] == [counts[0]] * 4
    assert counts[1::2] == [counts[1]] * 4
