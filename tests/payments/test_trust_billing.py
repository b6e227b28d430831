"""Who may bill a lab booking to an organisation under the trust model (DESIGN.md §3): a verified
account, for an organisation a platform admin has verified. A pending organisation is never
offered as a payer and an unverified account bills nobody."""

from __future__ import annotations

from ecosystem.models import Organisation, User, Verification
from ecosystem.payments.models import Payment
from tests.conftest import make_organisation, person
from tests.labs.conftest import bearer
from tests.payments.conftest import booking_body, priced_machine, slot


async def _bill(client, user, machine, organisation, hour=9):
    start, end = slot(3, hour)
    return await client.post(
        "/api/v1/bookings",
        json=booking_body(
            machine, start, end, payer="organisation", organisation_id=organisation.id
        ),
        headers=await bearer(user),
    )


async def _offered(new_browser, user, machine) -> str:
    browser = new_browser(lang="en")
    await browser.login(user.email)
    start, end = slot()
    form = await browser.get(
        f"/equipment/{machine.id}/book", params={"start": start.isoformat(), "end": end.isoformat()}
    )
    assert form.status_code == 200
    return form.text


async def test_a_pending_organisation_is_not_a_billing_choice(client, new_browser, fake_stripe):
    machine = await priced_machine()
    founder = await person("founder@shell.example")
    shell = await make_organisation(founder, "Shell Co", verified=False)
    await Organisation.filter(id=shell.id).update(verification=Verification.PENDING)
    director = await person("director@vnpt.vn")
    company = await make_organisation(director, "VNPT", spheres=("enterprise",))

    # The verified organisation is offered (the control), the pending one never.
    page = await _offered(new_browser, director, machine)
    assert f'value="organisation:{company.id}"' in page
    page = await _offered(new_browser, founder, machine)
    assert f'value="organisation:{shell.id}"' not in page
    refused = await _bill(client, founder, machine, shell)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "billing_not_allowed"

    # Nor is a verified organisation offered to its owner whose address is not verified.
    await User.filter(id=director.id).update(email_verified_at=None)
    page = await _offered(new_browser, director, machine)
    assert f'value="organisation:{company.id}"' not in page
    refused = await _bill(client, director, machine, company, hour=13)
    assert refused.status_code == 403
    # An unverified account books nothing at all (labs' first rule), billed or not.
    assert refused.json()["error"]["code"] == "email_not_verified"
    assert not await Payment.filter(method="organisation").exists()
