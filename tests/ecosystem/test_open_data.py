"""The open indicators as an independent client reads them: a Frictionless Data Package that
`frictionless` validates, CSVs that a plain `pandas.read_csv` loads with totals matching the
database, and a DCAT-AP catalogue whose links resolve on the same server."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pandas
import pytest
from frictionless import validate

from ecosystem.disclosure import round_count
from ecosystem.models import Organisation, Verification
from incubator.models import Stage, StartupProfile
from labs import permissions
from labs.models import Lab
from tests.conftest import make_organisation, person
from tests.labs.conftest import make_equipment, make_host, make_lab

BASE = "http://testserver"


async def some_ecosystem() -> None:
    lab = await make_lab(await make_host("Open Lab"), "Open Lab")
    await make_equipment(lab, "Printer")
    for n, stage in enumerate([Stage.MVP] * 4 + [Stage.IDEA] * 3):
        owner = await person(f"founder{n}@startup{n}.vn")
        startup = await make_organisation(owner, f"Startup {n}", spheres=("startup",))
        await StartupProfile.create(organisation=startup, stage=stage, in_directory=True)


async def fetch(client, url: str):
    response = await client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.text[:300])
    return response


async def mirror_package(client, url: str, folder: Path) -> tuple[dict, Path]:
    """Download a package and its resources to `folder`, keeping their relative paths."""
    descriptor = (await fetch(client, url)).json()
    for resource in descriptor["resources"]:
        assert "://" not in resource["path"] and ".." not in resource["path"]
        resolved = urljoin(url, resource["path"])
        assert urlsplit(resolved).netloc == urlsplit(BASE).netloc  # the same server
        answer = await fetch(client, resolved)
        assert answer.headers["content-type"] == "text/csv; charset=utf-8"
        target = folder / resource["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(answer.content)
    path = folder / "datapackage.json"
    path.write_text(json.dumps(descriptor), encoding="utf-8")
    return descriptor, path


async def test_the_current_package_validates_and_matches_the_database(client, tmp_path):
    await some_ecosystem()
    descriptor, path = await mirror_package(client, f"{BASE}/open-data/datapackage.json", tmp_path)
    report = validate(str(path))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    assert {r["name"] for r in descriptor["resources"]} >= {"ecosystem", "labs", "incubator"}
    assert descriptor["licenses"][0]["name"] == "CC-BY-4.0"
    assert descriptor["contributors"][0]["email"]

    frames = {
        r["name"]: pandas.read_csv(tmp_path / r["path"], dtype={"group": "string"}).fillna(
            {"group": ""}
        )
        for r in descriptor["resources"]
    }
    for frame in frames.values():
        assert list(frame.columns) == ["indicator", "group", "value", "unit"]

    def figure(section: str, indicator: str, group: str = "") -> float:
        frame = frames[section]
        rows = frame[(frame["indicator"] == indicator) & (frame["group"] == group)]
        assert len(rows) == 1, (section, indicator, group)
        return rows["value"].iloc[0]

    verified = await Organisation.filter(verification=Verification.VERIFIED).count()
    assert figure("ecosystem", "verified_organisations") == verified
    public_labs = await Lab.filter(**permissions.public_labs()).count()
    assert figure("labs", "labs") == public_labs
    startups = await StartupProfile.filter(in_directory=True).count()
    assert figure("incubator", "startups_in_directory") == round_count(startups)
    stages = frames["incubator"][frames["incubator"]["indicator"] == "startups_by_stage"]
    assert stages["value"].sum() == round_count(startups)  # the breakdown adds up
    assert figure("incubator", "startups_by_stage", "mvp") == round_count(4)


async def test_the_catalogue_lists_packages_that_resolve_and_validate(client, tmp_path):
    response = await fetch(client, f"{BASE}/open-data/catalog.jsonld")
    assert response.headers["content-type"].startswith("application/ld+json")
    catalogue = response.json()
    assert catalogue["@type"] == "dcat:Catalog"
    assert catalogue["@context"]["dcat"] == "http://www.w3.org/ns/dcat#"
    datasets = catalogue["dcat:dataset"]
    assert len(datasets) >= 3
    for n, dataset in enumerate(datasets):
        assert dataset["@type"] == "dcat:Dataset"
        assert dataset["dct:temporal"]["dcat:startDate"]["@value"]
        for distribution in dataset["dcat:distribution"]:
            url = distribution["dcat:accessURL"]["@id"]
            assert url.startswith(BASE)
            await fetch(client, url)
        package_url = dataset["dcat:distribution"][0]["dcat:downloadURL"]["@id"]
        _descriptor, path = await mirror_package(client, package_url, tmp_path / str(n))
        assert validate(str(path)).valid


async def test_csvs_are_plain_rfc_4180(client):
    await some_ecosystem()
    descriptor = (await fetch(client, f"{BASE}/open-data/datapackage.json")).json()
    first = descriptor["resources"][0]["path"]
    body = (await fetch(client, f"{BASE}/open-data/{first}")).content
    assert not body.startswith(b"\xef\xbb\xbf")  # no byte-order mark
    assert body.startswith(b"indicator,group,value,unit\r\n")
    assert not any(line.startswith(b"#") for line in body.split(b"\r\n"))
    frame = pandas.read_csv(io.BytesIO(body))  # nothing to skip, nothing to tell it
    assert len(frame) > 0


@pytest.mark.parametrize(
    "url",
    [
        "/open-data/2026-13/2026-12/datapackage.json",
        "/open-data/2026-05/2026-01/datapackage.json",
        "/open-data/2015-01/2026-12/datapackage.json",
        "/open-data/x/y/datapackage.json",
        "/open-data/2026-01/2026-12/nothing.csv",
        "/open-data/2026-01/2026-12/..%2F..%2Fsecret.csv",
    ],
)
async def test_unknown_packages_are_404(client, url):
    assert (await client.get(url)).status_code == 404


async def test_an_ended_period_never_changes_until_a_correction(client):
    from ecosystem.services import indicators

    today = indicators.today()
    last_year = f"{today.year - 1}-01/{today.year - 1}-12"
    url = f"/open-data/{last_year}/datapackage.json"
    first = (await fetch(client, url)).json()
    assert first["version"] == "1.0.0"
    api = f"/api/v1/indicators?from={today.year - 1}-01-01&to={today.year - 1}-12-31"
    before = (await fetch(client, api)).json()
    assert before["version"] == 1

    # New data about that year (a partner verified late): the published year stays as it was.
    await make_organisation(await person("late@example.org"), "Late Partner")
    after = (await fetch(client, api)).json()
    assert after["sections"] == before["sections"] and after["version"] == 1
    assert (await fetch(client, url)).json()["version"] == "1.0.0"

    # A correction publishes version 2, which everyone is served from then on.
    period = indicators.Period(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31))
    corrected = await indicators.correct(period)
    assert corrected["version"] == 2
    served = (await fetch(client, api)).json()
    assert served["version"] == 2
    assert served["sections"]["ecosystem"]["verified_organisations"] == (
        before["sections"]["ecosystem"]["verified_organisations"] + 1
    )
    assert (await fetch(client, url)).json()["version"] == "2.0.0"

    # The running period is provisional and follows the data.
    current = (await fetch(client, "/open-data/datapackage.json")).json()
    assert current["version"] == "0.1.0"
