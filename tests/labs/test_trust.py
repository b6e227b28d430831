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
