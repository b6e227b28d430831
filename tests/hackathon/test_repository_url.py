"""An entry's links (repository, demo, video) are URLs or absent, as the API schema says:
an empty string is refused with a 422 on the API; the HTML form's blank field means none."""

from __future__ import annotations

from ecosystem.models import User
from hackathon.models import Submission
from tests.hackathon.conftest import bearer, make_contest, make_team


async def test_an_empty_link_is_refused_by_the_api_and_null_means_none(client):
    contest = await make_contest()
    team = await make_team(contest, "Sóng Việt", members=("lan@tdmu.edu.vn",))
    headers = await bearer(await User.get(email="lan@tdmu.edu.vn"))
    url = f"/api/v1/contests/{contest.id}/submissions"
    schema = (await client.get("/api/openapi.json")).json()["components"]["schemas"]
    link = schema["SubmissionIn"]["properties"]["repository_url"]
    [as_text] = [kind for kind in link["anyOf"] if kind.get("type") == "string"]
    assert as_text["format"] == "uri" and as_text["minLength"] == 1  # "" is not one
    for field in ("repository_url", "demo_url", "video_url"):
        refused = await client.post(url, json={"title": "Du lịch", field: ""}, headers=headers)
        assert refused.status_code == 422, refused.text
        assert field in refused.json()["error"]["fields"]
    assert not await Submission.filter(team_id=team.id).exists()  # nothing half-written
    accepted = await client.post(
        url, json={"title": "Du lịch", "repository_url": None}, headers=headers
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["repository_url"] == ""
    linked = await client.post(
        url,
        json={"title": "Du lịch", "repository_url": "https://git.example.org/song-viet"},
        headers=headers,
    )
    assert linked.json()["repository_url"] == "https://git.example.org/song-viet"


async def test_the_entry_form_takes_a_blank_link_as_none(browser):
    contest = await make_contest()
    team = await make_team(contest, "Sóng Việt", members=("lan@tdmu.edu.vn",))
    await browser.login("lan@tdmu.edu.vn")
    page = f"/contests/{contest.slug}/entry"
    saved = await browser.post(
        page, {"title": "Du lịch", "repository_url": "", "demo_url": "", "video_url": ""}
    )
    assert saved.status_code == 303, saved.text[:500]
    submission = await Submission.get(team_id=team.id)
    assert (submission.repository_url, submission.demo_url) == ("", "")
    bad = await browser.post(page, {"title": "Du lịch 2", "repository_url": "not a url"})
    assert bad.status_code == 422
    assert 'value="not a url"' in bad.text  # the form keeps what was typed
