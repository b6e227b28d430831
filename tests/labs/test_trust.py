"""Hosting a lab under the trust model (DESIGN.md §3), tried over HTTP as a newcomer would:
unverified newcomer → pending organisation → host a lab (refused); verified, the pending
organisation prepares an unpublished draft that the admin's verification page lists, and
publishes it once verified."""

from __future__ import annotations

from tortoise import timezone

from ecosystem.models import Organisation, User, Verification
from labs.models import Lab
from tests.conftest import PASSWORD, person

LAB = {"slug": "shell-lab", "kind": "fablab", "name": "Shell FabLab", "timezone": "UTC"}


async def test_newcomer_pending_organisation_lab_chain(new_browser):
    browser = new_browser(lang="en")
    await browser.post(
        "/register", {"email": "newcomer@example.org", "full_name": "New", "password": PASSWORD}
    )
    browser.csrf_token = ""  # a new session gets a new token
    created = await browser.post("/organisations/new", {"name": "Shell Co", "spheres": "startup"})
    assert created.status_code == 303
    shell = await Organisation.get(name="Shell Co")
    assert shell.verification == Verification.PENDING

    # Unverified: no lab, not even a draft.
    assert (await browser.get("/labs/new")).status_code == 403
    refused = await browser.post("/labs/new", {**LAB, "organisation_id": str(shell.id)})
    assert refused.status_code == 403
    assert not await Lab.exists(slug="shell-lab")

    # Verified: a draft that only the organisation's people see; publishing waits.
    await User.filter(email="newcomer@example.org").update(email_verified_at=timezone.now())
    published = await browser.post(
        "/labs/new", {**LAB, "organisation_id": str(shell.id), "is_published": "1"}
    )
    assert published.status_code == 422
    assert not await Lab.exists(slug="shell-lab")
    draft = await browser.post("/labs/new", {**LAB, "organisation_id": str(shell.id)})
    assert draft.status_code == 303
    anonymous = new_browser(lang="en")
    assert (await anonymous.get("/labs/shell-lab")).status_code == 404
    assert "Shell FabLab" not in (await anonymous.get("/labs")).text

    # The platform admin sees what Shell Co waits to publish, and verifies it.
    admin = new_browser(lang="en")
    await admin.login((await person("root@binhduong.gov.vn", admin=True)).email)
    overview = await admin.get("/admin")
    assert "Lab: Shell FabLab" in overview.text
    verified = await admin.post(
        f"/admin/organisations/{shell.id}/verification", {"state": "verified"}
    )
    assert verified.status_code == 303
    assert "Lab: Shell FabLab" not in (await admin.get("/admin")).text

    # Now its staff may publish it, and everyone sees it.
    published = await browser.post("/labs/shell-lab/manage", {**LAB, "is_published": "1"})
    assert published.status_code == 303
    assert (await anonymous.get("/labs/shell-lab")).status_code == 200
    assert "Shell FabLab" in (await anonymous.get("/labs")).text


async def test_a_lab_whose_host_loses_its_verification_takes_no_bookings(client, new_browser):
    """A published lab whose organisation a platform admin moves back to pending (or rejects)
    is a draft again: nobody outside its staff can book it, through the API or the form."""
    from datetime import timedelta

    from labs.models import Booking, LabStaff
    from tests.labs.conftest import (
        at,
        bearer,
        booking_json,
        local_day,
        make_equipment,
        make_host,
        make_lab,
        quick_user,
    )

    host = await make_host("Reverted Co")
    lab = await make_lab(host, "Reverted Lab", is_published=True)
    machine = await make_equipment(lab)
    student = await person("student@example.org")
    staff = await quick_user("staff@example.org")
    await LabStaff.create(lab=lab, user=staff)
    day = local_day(3)
    first = booking_json(machine, at(day, 9), at(day, 10))
    accepted = await client.post("/api/v1/bookings", json=first, headers=await bearer(student))
    assert accepted.status_code == 201, accepted.text

    for state in (Verification.PENDING, Verification.REJECTED):
        await Organisation.filter(id=host.id).update(verification=state)
        start = at(day, 11) + timedelta(hours=2 if state == Verification.REJECTED else 0)
        payload = booking_json(machine, start, start + timedelta(hours=1))
        refused = await client.post("/api/v1/bookings", json=payload, headers=await bearer(student))
        assert refused.status_code == 404, refused.text
        browser = new_browser(lang="en")
        await browser.login(student.email)
        form = await browser.get(f"/equipment/{machine.id}/book")
        assert form.status_code == 404
    assert await Booking.filter(equipment_id=machine.id).count() == 1

    # The lab's own staff still reach their machine (to sort out what is booked).
    own = await client.post(
        "/api/v1/bookings",
        json=booking_json(machine, at(day, 15), at(day, 16)),
        headers=await bearer(staff),
    )
    assert own.status_code == 201, own.text


async def test_an_unverified_account_may_look_but_not_book(client, new_browser):
    """DESIGN §3: until its e-mail address is verified an account browses and prepares; it
    books nothing – not by the API, the form, a basket or a waitlist."""
    from datetime import UTC

    from ecosystem.models import User
    from labs.models import Booking, BookingStatus, LabStaff, WaitlistEntry
    from tests.labs.conftest import at, booking_json, local_day, make_equipment, make_lab

    lab = await make_lab(is_published=True)
    machine = await make_equipment(lab, notice_minutes=0)
    newcomer = await person("newcomer@example.org", verified=False)
    day = local_day(3)
    start, end = at(day, 9), at(day, 10)

    from ecosystem.services.tokens import create_token

    _token, plaintext = await create_token(newcomer, "tests")
    api = await client.post(
        "/api/v1/bookings",
        json=booking_json(machine, start, end),
        headers={"Authorization": f"Bearer {plaintext}"},
    )
    assert api.status_code == 403, api.text
    assert api.json()["error"]["code"] == "email_not_verified"

    browser = new_browser(lang="en")
    await browser.login(newcomer.email)
    page = await browser.get(f"/equipment/{machine.id}")
    assert page.status_code == 200 and "Verify your e-mail address to book." in page.text
    form = await browser.post(
        f"/equipment/{machine.id}/book",
        {"start": start.isoformat(), "end": end.isoformat(), "purpose": "a keyring"},
    )
    assert form.status_code == 403
    assert "Verify your e-mail address first" in form.text and "a keyring" in form.text
    utc = f"{start.astimezone(UTC).isoformat()}"
    basket = await browser.post(
        f"/labs/{lab.slug}/basket",
        {
            "slot": f"{machine.id}|{utc}|{end.astimezone(UTC).isoformat()}",
            "purpose": "keyrings",
            "date": day.isoformat(),
        },
    )
    assert basket.status_code == 403
    assert not await Booking.filter(user_id=newcomer.id).exists()

    # A busy slot: the waitlist is refused too.
    staff = await person("staff@example.org")
    await LabStaff.create(lab=lab, user=staff)
    await Booking.create(
        equipment=machine,
        user=staff,
        starts_at=start,
        ends_at=end,
        status=BookingStatus.CONFIRMED,
        check_in_code="busy-1",
    )
    waiting = await browser.post(
        "/waitlist",
        {"equipment_id": str(machine.id), "start": start.isoformat(), "end": end.isoformat()},
    )
    assert waiting.status_code == 303  # the waitlist page says why, as for any refusal
    told = await browser.get(waiting.headers["location"])
    assert "Verify your e-mail address first" in told.text
    assert not await WaitlistEntry.filter(user_id=newcomer.id).exists()

    # Verified, the same account books.
    await User.filter(id=newcomer.id).update(email_verified_at=timezone.now())
    later = await client.post(
        "/api/v1/bookings",
        json=booking_json(machine, at(day, 11), at(day, 12)),
        headers={"Authorization": f"Bearer {plaintext}"},
    )
    assert later.status_code == 201, later.text
