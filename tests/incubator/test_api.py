"""The incubator's JSON API: exact shapes, who may do what, and 422s that name the problem."""

from __future__ import annotations

from incubator.models import ReportRequest, RequestStatus, ShareAccess
from tests.incubator.conftest import bearer, open_request, submitted, world


async def test_programmes_list_host_organisation_and_cohorts(client):
    w = await world()
    anonymous = await client.get("/api/v1/programmes")  # public: no token needed
    assert anonymous.status_code == 200
    response = await client.get("/api/v1/programmes", headers=await bearer(w.stranger))
    assert response.status_code == 200
    assert response.json() == anonymous.json()
    items = response.json()["items"]
    assert len(items) == 1
    item = items[0]
    assert item["id"] == w.programme.id and item["name"] == "BBI Programme"
    assert item["organisation"]["id"] == w.host.id
    assert item["organisation"]["name"] == "Becamex Business Incubator"
    assert [c["id"] for c in item["cohorts"]] == [w.cohort.id]
    assert item["cohorts"][0]["starts_on"] == "2026-01-01"
    assert [m["key"] for m in item["metrics"]] == ["revenue", "users", "funding", "headcount"]
    assert item["metrics"][0]["unit"] == "VND"


async def test_the_directory_is_public_and_managers_see_more(client):
    w = await world()
    url = f"/api/v1/startups?programme={w.programme.id}"
    anonymous = await client.get(url)  # the public directory, to anyone
    assert anonymous.status_code == 200
    assert [s["id"] for s in anonymous.json()["items"]] == [w.other.id]
    anyone = await client.get(url, headers=await bearer(w.stranger))
    assert anyone.status_code == 200
    assert [(s["id"], s["name"], s["stage"], s["sector"]) for s in anyone.json()["items"]] == [
        (w.other.id, "GreenFarm IoT", "growth", "agritech")
    ]
    founder = await client.get(
        f"/api/v1/startups?programme={w.programme.id}", headers=await bearer(w.founder)
    )
    assert [s["id"] for s in founder.json()["items"]] == [w.other.id]  # only the directory
    manager = await client.get(
        f"/api/v1/startups?programme={w.programme.id}", headers=await bearer(w.manager)
    )
    assert {s["id"] for s in manager.json()["items"]} == {w.startup.id, w.other.id}
    private = next(s for s in manager.json()["items"] if s["id"] == w.startup.id)
    assert private["in_directory"] is False and private["programmes"] == [w.programme.id]
    stranger = await bearer(w.stranger)
    everything = await client.get("/api/v1/startups", headers=stranger)
    assert [s["id"] for s in everything.json()["items"]] == [w.other.id]
    bad = await client.get("/api/v1/startups?programme=abc", headers=stranger)
    assert bad.status_code == 422
    assert "programme" in bad.json()["error"]["fields"]
    wrong_token = await client.get("/api/v1/startups", headers={"Authorization": "Bearer nope"})
    assert wrong_token.status_code == 401


async def test_a_member_submits_a_report_for_an_open_period(client):
    w = await world()
    request = await open_request(w.enrolment, "2026-10")
    body = {
        "period": "2026-10",
        "metrics": {"revenue": 120000000, "users": 340},
        "narrative": "Ổn định",
    }
    response = await client.post(
        f"/api/v1/startups/{w.startup.id}/reports", json=body, headers=await bearer(w.founder)
    )
    assert response.status_code == 201, response.text
    data = response.json()
    assert data["period"] == "2026-10" and data["status"] == "submitted"
    assert data["metrics"] == {"revenue": 120000000, "users": 340}
    assert data["startup_id"] == w.startup.id and data["programme_id"] == w.programme.id
    stored = await ReportRequest.get(id=request.id)
    assert stored.status == RequestStatus.SUBMITTED and stored.narrative == "Ổn định"
    assert stored.submitted_by_id == w.founder.id  # type: ignore[attr-defined]

    # Submitted: the period has no open request any more.
    again = await client.post(
        f"/api/v1/startups/{w.startup.id}/reports", json=body, headers=await bearer(w.founder)
    )
    assert again.status_code == 422
    assert "period" in again.json()["error"]["fields"]


async def test_report_refusals(client):
    w = await world()
    await open_request(w.enrolment, "2026-10")
    url = f"/api/v1/startups/{w.startup.id}/reports"
    body = {"period": "2026-10", "metrics": {"revenue": 1}}
    for who in ("other_founder", "manager", "mentor", "grantee", "stranger"):
        response = await client.post(url, json=body, headers=await bearer(w.people[who]))
        assert response.status_code == 403, who
        assert response.json()["error"]["code"] == "forbidden"
    assert (await client.post(url, json=body)).status_code == 401
    assert (
        await client.post(
            "/api/v1/startups/999999/reports", json=body, headers=await bearer(w.founder)
        )
    ).status_code == 404
    founder = await bearer(w.founder)
    unknown = await client.post(
        url, json={"period": "2026-10", "metrics": {"revenue": 1, "profit": 5}}, headers=founder
    )
    assert unknown.status_code == 422
    assert set(unknown.json()["error"]["fields"]) == {"metrics.profit"}
    no_request = await client.post(url, json={"period": "2026-09", "metrics": {}}, headers=founder)
    assert no_request.status_code == 422 and "period" in no_request.json()["error"]["fields"]
    bad_period = await client.post(url, json={"period": "October", "metrics": {}}, headers=founder)
    assert bad_period.status_code == 422 and "period" in bad_period.json()["error"]["fields"]
    text_value = await client.post(
        url, json={"period": "2026-10", "metrics": {"revenue": "12"}}, headers=founder
    )
    assert text_value.status_code == 422
    fraction = await client.post(
        url, json={"period": "2026-10", "metrics": {"users": 1.5}}, headers=founder
    )
    assert fraction.status_code == 422 and "metrics.users" in fraction.json()["error"]["fields"]
    negative = await client.post(
        url, json={"period": "2026-10", "metrics": {"revenue": -5}}, headers=founder
    )
    assert negative.status_code == 422
    malformed = await client.post(url, content=b"{nope", headers=founder)
    assert malformed.status_code == 400
    # Nothing was half-written by any refusal.
    assert await ReportRequest.filter(status=RequestStatus.SUBMITTED).count() == 0


async def test_a_draft_keeps_the_request_open(client):
    w = await world()
    await open_request(w.enrolment, "2026-10")
    url = f"/api/v1/startups/{w.startup.id}/reports"
    headers = await bearer(w.founder)
    draft = await client.post(
        url, json={"period": "2026-10", "metrics": {"users": 10}, "draft": True}, headers=headers
    )
    assert draft.status_code == 201 and draft.json()["status"] == "draft"
    final = await client.post(
        url, json={"period": "2026-10", "metrics": {"users": 12}}, headers=headers
    )
    assert final.status_code == 201 and final.json()["status"] == "submitted"


async def test_metrics_time_series_by_role(client):
    w = await world()
    await submitted(w.enrolment, "2026-02", {"revenue": 100, "users": 5})
    await submitted(w.enrolment, "2026-08", {"revenue": 300, "users": 9})
    await submitted(w.enrolment, "2026-05", {"revenue": 200, "users": 7})
    await submitted(w.other_enrolment, "2026-05", {"revenue": 999})
    url = f"/api/v1/startups/{w.startup.id}/metrics"

    for who in ("member", "manager", "mentor"):
        response = await client.get(url, headers=await bearer(w.people[who]))
        assert response.status_code == 200, who
        data = response.json()
        assert data["startup"] == {"id": w.startup.id, "name": "Lumi Smart Lighting"}
        assert data["scope"] == "full"
        series = {m["key"]: m["points"] for m in data["metrics"]}
        assert series["revenue"] == [
            {"period": "2026-02", "value": 100},
            {"period": "2026-05", "value": 200},
            {"period": "2026-08", "value": 300},
        ]
        assert [p["value"] for p in series["users"]] == [5, 7, 9]
    assert await ShareAccess.all().count() == 0  # insiders' reads are not grantee reads

    # The grantee: revenue only, January to June only; the read is logged.
    granted = await client.get(url, headers=await bearer(w.grantee))
    assert granted.status_code == 200
    data = granted.json()
    assert data["scope"] == "granted"
    assert {m["key"]: m["points"] for m in data["metrics"]} == {
        "revenue": [{"period": "2026-02", "value": 100}, {"period": "2026-05", "value": 200}]
    }
    log = await ShareAccess.all()
    assert [(a.grant_id, a.user_id, a.channel) for a in log] == [(w.grant.id, w.grantee.id, "api")]  # type: ignore[attr-defined]

    for who in ("other_founder", "grantee_out_of_scope", "revoked_grantee", "stranger"):
        response = await client.get(url, headers=await bearer(w.people[who]))
        assert response.status_code in (403, 404), who
    assert (await client.get(url)).status_code == 401
    assert (
        await client.get("/api/v1/startups/424242/metrics", headers=await bearer(w.founder))
    ).status_code == 404


async def test_revoking_refuses_the_next_request(client):
    from incubator.permissions import startup_access
    from incubator.services import sharing

    w = await world()
    url = f"/api/v1/startups/{w.startup.id}/metrics"
    headers = await bearer(w.grantee)
    assert (await client.get(url, headers=headers)).status_code == 200
    await sharing.revoke_grant(w.founder, await startup_access(w.founder, w.startup), w.grant.id)
    assert (await client.get(url, headers=headers)).status_code == 403
    assert await ShareAccess.all().count() == 1  # the refused read is not a read


async def test_the_api_is_documented_in_openapi(client):
    document = (await client.get("/api/openapi.json")).json()
    paths = document["paths"]
    assert "get" in paths["/api/v1/programmes"]
    assert "get" in paths["/api/v1/startups"]
    post = paths["/api/v1/startups/{startup_id}/reports"]["post"]
    assert {"201", "403", "422"} <= set(post["responses"])
    assert "get" in paths["/api/v1/startups/{startup_id}/metrics"]


async def test_ids_beyond_any_database_integer_are_not_found(client, new_browser):
    w = await world()
    headers = await bearer(w.founder)
    huge = 10**12
    assert (
        await client.get(f"/api/v1/startups/{huge}/metrics", headers=headers)
    ).status_code == 404
    response = await client.post(
        f"/api/v1/startups/{huge}/reports", json={"period": "2026-10"}, headers=headers
    )
    assert response.status_code == 404
    browser = new_browser(lang="en")
    await browser.login(w.founder.email)
    assert (await browser.get(f"/incubator/startups/{huge}")).status_code == 404
    assert (await browser.get(f"/incubator/cohorts/{huge}")).status_code == 404
    refused = await browser.post(
        f"/incubator/startups/{w.startup.id}/milestones",
        {"enrolment_id": str(huge), "title": "X", "due_on": "2027-01-01"},
    )
    assert refused.status_code == 404
