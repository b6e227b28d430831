"""Partner organisations over HTTP: registering and editing a profile, and the public
partner directory (verified organisations only, sphere filter, accent-free search, pages,
htmx fragments)."""

from __future__ import annotations

import asyncio
import re

import pytest

from ecosystem.models import (
    AuditEvent,
    Membership,
    MembershipStatus,
    Organisation,
    OrganisationDomain,
    OrganisationSphere,
    Role,
    Verification,
)
from tests.conftest import add_member, api_token, make_organisation, person


def english(session) -> None:
    """Anonymous pages in English (signed-in people get their own locale, "en" here)."""
    session.http.cookies.set("lang", "en")


async def counts() -> dict[str, int]:
    return {
        "organisations": await Organisation.all().count(),
        "spheres": await OrganisationSphere.all().count(),
        "domains": await OrganisationDomain.all().count(),
        "memberships": await Membership.all().count(),
        "audit": await AuditEvent.filter(action="organisation.created").count(),
    }


def field_error(html: str, name: str) -> str | None:
    """The error message printed under the form field `name`, if any."""
    if name == "spheres":
        match = re.search(
            r'<fieldset class="field has-error">.*?<p class="error">([^<]*)</p>\s*</fieldset>',
            html,
            re.S,
        )
    else:
        match = re.search(rf'<p class="error" id="e-{name}">([^<]*)</p>', html)
    return match.group(1) if match else None


def directory_names(html: str) -> list[str]:
    return re.findall(r'<h2 class="h3"><a href="/organisations/[^"]+">([^<]+)</a></h2>', html)


VALID = {
    "name": "Trường Đại học Thủ Dầu Một",
    "spheres": ["university", "research_institute"],
    "description": "Public university of Binh Duong.",
    "website": "tdmu.edu.vn",
    "city": "Thủ Dầu Một",
    "country": "vn",
    "email_domains": "tdmu.edu.vn, @Student.TDMU.edu.vn",
}


# --- registering an organisation ------------------------------------------------------------


async def test_anonymous_visitor_is_sent_to_sign_in(browser):
    response = await browser.get("/organisations/new")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/organisations/new"
    response = await browser.post("/organisations/new", VALID)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    assert await Organisation.all().count() == 0


async def test_creator_becomes_owner_of_a_pending_organisation(browser, new_browser):
    lan = await person("lan@tdmu.edu.vn")
    await browser.login(lan.email)
    form = await browser.get("/organisations/new")
    assert form.status_code == 200
    assert 'name="spheres" value="international_partner"' in form.text

    response = await browser.post("/organisations/new", VALID)

    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/organisations/truong-dai-hoc-thu-dau-mot"
    organisation = await Organisation.get(slug="truong-dai-hoc-thu-dau-mot")
    assert organisation.name == "Trường Đại học Thủ Dầu Một"
    assert organisation.verification == Verification.PENDING
    assert organisation.website == "https://tdmu.edu.vn"
    assert organisation.country == "VN"
    spheres = await OrganisationSphere.filter(organisation_id=organisation.id).values_list(
        "sphere", flat=True
    )
    assert sorted(spheres) == ["research_institute", "university"]
    domains = await OrganisationDomain.filter(organisation_id=organisation.id).values_list(
        "domain", flat=True
    )
    assert sorted(domains) == ["student.tdmu.edu.vn", "tdmu.edu.vn"]
    membership = await Membership.get(organisation_id=organisation.id)
    assert (membership.user_id, membership.role, membership.status) == (
        lan.id,
        Role.OWNER,
        MembershipStatus.ACTIVE,
    )
    assert await AuditEvent.filter(action="organisation.created", actor_id=lan.id).count() == 1

    # The creator sees the pending profile; nobody outside does, and it is not listed.
    profile = await browser.get(response.headers["location"])
    assert profile.status_code == 200
    assert "Awaiting verification" in profile.text
    assert "/organisations/truong-dai-hoc-thu-dau-mot/edit" in profile.text
    outsider = new_browser()
    english(outsider)
    assert (await outsider.get("/organisations/truong-dai-hoc-thu-dau-mot")).status_code == 404
    listing = await outsider.get("/organisations")
    assert "Thủ Dầu Một" not in listing.text


async def test_a_second_organisation_of_the_same_name_gets_its_own_slug(browser):
    owner = await person("owner@becamex.com.vn")
    await browser.login(owner.email)
    data = {"name": "Becamex IDC", "spheres": ["enterprise"]}
    first = await browser.post("/organisations/new", data)
    second = await browser.post("/organisations/new", data)
    assert first.headers["location"] == "/organisations/becamex-idc"
    assert second.headers["location"] == "/organisations/becamex-idc-2"


# Each bad form: the field named, its message, and the form data that breaks it.
BAD_FORMS = {
    "no sphere": ("spheres", "This field is required.", {**VALID, "spheres": []}),
    "unknown sphere": (
        "spheres",
        "Choose one of the offered values.",
        {**VALID, "spheres": ["university", "monastery"]},
    ),
    "name too long": ("name", "At most 200 characters.", {**VALID, "name": "N" * 201}),
    "name missing": ("name", "At least 2 characters.", {**VALID, "name": "x"}),
    "domain of another organisation": (
        "email_domains",
        "The domain eiu.edu.vn belongs to another organisation.",
        {**VALID, "email_domains": "tdmu.edu.vn EIU.edu.vn"},
    ),
    "not a domain": (
        "email_domains",
        "“not_a_domain” is not an email domain such as eiu.edu.vn.",
        {**VALID, "email_domains": "not_a_domain"},
    ),
    "script address": (
        "website",
        "Enter a web address such as https://eiu.edu.vn.",
        {**VALID, "website": "javascript:alert(1)"},
    ),
    "bad country": ("country", "This value has the wrong format.", {**VALID, "country": "VNM"}),
}


@pytest.mark.parametrize("case", list(BAD_FORMS))
async def test_bad_input_is_refused_next_to_its_field_and_nothing_is_written(browser, case):
    field, message, data = BAD_FORMS[case]
    eiu_owner = await person("owner@eiu.edu.vn")
    await make_organisation(eiu_owner, "Eastern International University", domains=("eiu.edu.vn",))
    lan = await person("lan@tdmu.edu.vn")
    await browser.login(lan.email)
    before = await counts()

    response = await browser.post("/organisations/new", data)

    assert response.status_code == 422
    assert field_error(response.text, field) == message
    # The form comes back with what was typed.
    if field != "name":
        assert 'value="Trường Đại học Thủ Dầu Một"' in response.text
    assert await counts() == before
    assert not await Membership.filter(user_id=lan.id).exists()


async def test_two_organisations_claiming_one_domain_at_once(new_browser):
    """Both pass the early check; the loser's half-made organisation is rolled back."""
    first, second = await person("a@tdmu.edu.vn"), await person("b@tdmu.edu.vn")
    sessions = [new_browser(), new_browser()]
    for session, user in zip(sessions, (first, second), strict=True):
        await session.login(user.email)
        await session.ensure_token()

    responses = await asyncio.gather(
        sessions[0].post("/organisations/new", {**VALID, "name": "TDMU one"}),
        sessions[1].post("/organisations/new", {**VALID, "name": "TDMU two"}),
    )

    assert sorted(r.status_code for r in responses) == [303, 422]
    refused = next(r for r in responses if r.status_code == 422)
    assert field_error(refused.text, "email_domains") is not None
    (winner,) = await Organisation.all()
    assert await OrganisationSphere.all().count() == 2
    assert set(await OrganisationDomain.all().values_list("organisation_id", flat=True)) == {
        winner.id
    }
    assert await Membership.all().count() == 1
    assert await AuditEvent.filter(action="organisation.created").count() == 1


# --- editing a profile ----------------------------------------------------------------------


async def test_owners_and_admins_edit_the_profile_members_may_not(browser, new_browser):
    owner = await person("owner@eiu.edu.vn")
    admin = await person("admin@eiu.edu.vn")
    member = await person("member@eiu.edu.vn")
    eiu = await make_organisation(owner, "EIU", spheres=("university",), domains=("eiu.edu.vn",))
    await add_member(admin, eiu, "admin")
    await add_member(member, eiu, "member")
    edit_url = f"/organisations/{eiu.slug}/edit"

    await browser.login(owner.email)
    form = await browser.get(edit_url)
    assert form.status_code == 200
    assert 'value="eiu.edu.vn"' in form.text  # domains prefilled
    assert re.search(r'value="university" checked', form.text)
    response = await browser.post(
        edit_url,
        {"name": "Eastern International University", "spheres": ["university", "enterprise"]},
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/organisations/{eiu.slug}"
    await eiu.refresh_from_db()
    assert eiu.name == "Eastern International University"
    assert eiu.search_key == "eastern international university"
    spheres = await OrganisationSphere.filter(organisation_id=eiu.id).values_list(
        "sphere", flat=True
    )
    assert sorted(spheres) == ["enterprise", "university"]
    assert not await OrganisationDomain.filter(organisation_id=eiu.id).exists()  # cleared

    admin_session = new_browser()
    await admin_session.login(admin.email)
    response = await admin_session.post(
        edit_url, {"name": "EIU Binh Duong", "spheres": ["university"], "city": "Thủ Dầu Một"}
    )
    assert response.status_code == 303
    await eiu.refresh_from_db()
    assert (eiu.name, eiu.city) == ("EIU Binh Duong", "Thủ Dầu Một")

    member_session = new_browser()
    await member_session.login(member.email)
    assert (await member_session.get(edit_url)).status_code == 403
    response = await member_session.post(edit_url, {"name": "Hijacked", "spheres": ["startup"]})
    assert response.status_code == 403
    await eiu.refresh_from_db()
    assert eiu.name == "EIU Binh Duong"
    assert await AuditEvent.filter(action="organisation.updated").count() == 2


async def test_a_refused_edit_changes_nothing(browser):
    owner = await person("owner@eiu.edu.vn")
    eiu = await make_organisation(owner, "EIU", spheres=("university",), domains=("eiu.edu.vn",))
    other = await person("owner@vsip.com.vn")
    await make_organisation(other, "VSIP", spheres=("enterprise",), domains=("vsip.com.vn",))
    await browser.login(owner.email)

    response = await browser.post(
        f"/organisations/{eiu.slug}/edit",
        {"name": "EIU renamed", "spheres": ["startup"], "email_domains": "vsip.com.vn"},
    )

    assert response.status_code == 422
    assert field_error(response.text, "email_domains") == (
        "The domain vsip.com.vn belongs to another organisation."
    )
    assert "<h1>EIU</h1>" in response.text  # the page still shows the saved name
    await eiu.refresh_from_db()
    assert eiu.name == "EIU"
    assert await OrganisationSphere.filter(organisation_id=eiu.id).values_list(
        "sphere", flat=True
    ) == ["university"]
    assert await OrganisationDomain.filter(organisation_id=eiu.id).values_list(
        "domain", flat=True
    ) == ["eiu.edu.vn"]

    response = await browser.post(f"/organisations/{eiu.slug}/edit", {"name": "EIU"})
    assert response.status_code == 422
    assert field_error(response.text, "spheres") == "This field is required."


# --- the public partner directory -----------------------------------------------------------


async def test_directory_lists_verified_organisations_only(browser, new_browser):
    english(browser)
    owner = await person("owner@example.vn")
    await make_organisation(owner, "Becamex IDC", spheres=("enterprise",))
    pending = await make_organisation(owner, "Pending Lab", verified=False)
    rejected = await make_organisation(owner, "Rejected Fund", spheres=("investor",))
    rejected.verification = Verification.REJECTED
    await rejected.save(update_fields=["verification"])
    unverified = await make_organisation(owner, "Unverified Club", verified=False)
    unverified.verification = Verification.UNVERIFIED
    await unverified.save(update_fields=["verification"])

    response = await browser.get("/organisations")

    assert response.status_code == 200
    assert directory_names(response.text) == ["Becamex IDC"]
    assert "1 organisation" in response.text
    for hidden in (pending, rejected, unverified):
        assert (await browser.get(f"/organisations/{hidden.slug}")).status_code == 404

    # Signed-in outsiders do not see them either; members and platform admins do.
    outsider = await person("someone@example.com")
    session = new_browser()
    await session.login(outsider.email)
    assert (await session.get(f"/organisations/{rejected.slug}")).status_code == 404
    member = await person("member@example.vn")
    await add_member(member, rejected)
    session = new_browser()
    await session.login(member.email)
    profile = await session.get(f"/organisations/{rejected.slug}")
    assert profile.status_code == 200
    assert "Rejected" in profile.text
    admin = await person("admin@binhduong.gov.vn", admin=True)
    session = new_browser()
    await session.login(admin.email)
    for hidden in (pending, rejected, unverified):
        assert (await session.get(f"/organisations/{hidden.slug}")).status_code == 200
    # ...but the directory stays a list of verified organisations for them too.
    assert directory_names((await session.get("/organisations")).text) == ["Becamex IDC"]


async def test_directory_filters_by_sphere(browser):
    english(browser)
    owner = await person("owner@example.vn")
    await make_organisation(owner, "TDMU", spheres=("university", "research_institute"))
    await make_organisation(owner, "Becamex IDC", spheres=("enterprise", "investor"))
    await make_organisation(owner, "Startup Hub", spheres=("startup",))
    await make_organisation(
        owner, "Hidden Institute", spheres=("research_institute",), verified=False
    )

    response = await browser.get("/organisations?sphere=research_institute")
    assert directory_names(response.text) == ["TDMU"]
    assert 'value="research_institute" selected' in response.text

    response = await browser.get("/organisations?sphere=investor")
    assert directory_names(response.text) == ["Becamex IDC"]
    assert "1 organisation" in response.text

    response = await browser.get("/organisations?sphere=government")
    assert directory_names(response.text) == []
    assert "No organisation matches." in response.text

    # An unknown sphere is ignored by the page (the API refuses it, see below).
    response = await browser.get("/organisations?sphere=monastery")
    assert response.status_code == 200
    assert directory_names(response.text) == ["Becamex IDC", "Startup Hub", "TDMU"]


async def test_directory_search_ignores_accents_and_case(browser):
    english(browser)
    owner = await person("owner@example.vn")
    await make_organisation(owner, "Trường Đại học Thủ Dầu Một", spheres=("university",))
    await make_organisation(owner, "Đại học Quốc tế Miền Đông", spheres=("university",))
    await make_organisation(owner, "Becamex IDC", spheres=("enterprise",))
    await make_organisation(owner, "100% Startup", spheres=("startup",))

    async def search(text: str, sphere: str = "") -> list[str]:
        response = await browser.get("/organisations", params={"q": text, "sphere": sphere})
        assert response.status_code == 200
        return directory_names(response.text)

    assert await search("thu dau mot") == ["Trường Đại học Thủ Dầu Một"]
    assert await search("THỦ DẦU") == ["Trường Đại học Thủ Dầu Một"]
    assert await search("dai hoc") == ["Đại học Quốc tế Miền Đông", "Trường Đại học Thủ Dầu Một"]
    assert await search("mien dong") == ["Đại học Quốc tế Miền Đông"]
    assert await search("becamex") == ["Becamex IDC"]
    assert await search("dai hoc", sphere="enterprise") == []
    assert await search("%") == ["100% Startup"]  # LIKE wildcards are plain characters
    assert await search("_") == []
    assert await search("nothing like this") == []


async def test_directory_pages_through_many_organisations(browser):
    english(browser)
    owner = await person("owner@example.vn")
    for n in range(1, 31):
        await make_organisation(owner, f"Partner {n:02d}", spheres=("enterprise",))

    first = await browser.get("/organisations")
    second = await browser.get("/organisations?page=2")
    beyond = await browser.get("/organisations?page=3")

    assert "30 organisations" in first.text
    assert directory_names(first.text) == [f"Partner {n:02d}" for n in range(1, 25)]
    assert "page=2" in first.text and "Next" in first.text
    assert directory_names(second.text) == [f"Partner {n:02d}" for n in range(25, 31)]
    assert "page=1" in second.text and "Next" not in second.text
    assert directory_names(beyond.text) == []
    # Paging keeps the search and the sphere.
    filtered = await browser.get("/organisations?q=partner&sphere=enterprise")
    assert "?q=partner&sphere=enterprise&page=2" in filtered.text


async def test_htmx_gets_the_results_fragment_only(browser):
    english(browser)
    owner = await person("owner@example.vn")
    await make_organisation(owner, "Becamex IDC", spheres=("enterprise",))
    await make_organisation(owner, "TDMU", spheres=("university",))

    page = await browser.get("/organisations?q=becamex")
    fragment = await browser.get("/organisations?q=becamex", headers={"HX-Request": "true"})
    restore = await browser.get(
        "/organisations?q=becamex",
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )

    assert page.status_code == fragment.status_code == restore.status_code == 200
    assert "<html" in page.text and 'id="directory-results"' in page.text
    assert "<html" not in fragment.text
    assert 'id="directory-results"' not in fragment.text
    assert directory_names(fragment.text) == ["Becamex IDC"]
    assert "1 organisation" in fragment.text
    assert "<html" in restore.text  # the back button needs the whole page
    for response in (page, fragment, restore):
        vary = [v.strip() for v in response.headers["vary"].split(",")]
        assert "HX-Request" in vary


async def test_api_directory_lists_verified_organisations(client):
    owner = await person("owner@example.vn")
    await make_organisation(owner, "TDMU", spheres=("research_institute", "university"))
    await make_organisation(owner, "Hidden", verified=False)
    client.cookies.set("lang", "en")
    headers = await api_token(client, owner.email)

    assert (await client.get("/api/v1/organisations")).status_code == 401
    response = await client.get("/api/v1/organisations", headers=headers)
    assert response.status_code == 200
    (item,) = response.json()["items"]
    assert item["name"] == "TDMU"
    assert item["spheres"] == ["university", "research_institute"]
    assert item["verification"] == "verified"
    response = await client.get("/api/v1/organisations?sphere=monastery", headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"sphere": "Choose one of the offered values."}
