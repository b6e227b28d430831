"""The open indicators as standard open data: Frictionless Data Packages and a DCAT-AP catalogue.

A period's package (`/open-data/<from>/<to>/datapackage.json`, months as `YYYY-MM`) holds one
CSV per section (kernel, labs, incubator, contests) with a Table Schema, the licence, the
sources and the contact; the CSVs are plain RFC 4180 (UTF-8 without a byte-order mark, a
header row, no metadata lines), so `pandas.read_csv` and `frictionless validate` read them as
they are. `/open-data/datapackage.json` is the package of the default period (the last twelve
months) and `/open-data/catalog.jsonld` lists the datasets for the operations centre's
catalogue. Figures are the ones the ecosystem page and `/api/v1/indicators` show: the same
cached payload, its counts already rounded (ecosystem.disclosure).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from ecosystem.errors import Invalid, NotFound
from ecosystem.i18n import _
from ecosystem.services import indicators
from ecosystem.services.indicators import Period, month_end
from ecosystem.settings import get_settings

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
PUBLISHER = "Binh Duong innovation region platform"
LICENCE_ID = "CC-BY-4.0"
FIELDS = [
    {"name": "indicator", "type": "string", "constraints": {"required": True}},
    {"name": "group", "type": "string"},
    {"name": "value", "type": "number"},
    {"name": "unit", "type": "string", "constraints": {"required": True}},
]
UNIT_DESCRIPTION = (
    "count: a number of people, startups, teams or events, rounded to a multiple of 5 "
    "(each breakdown adds up to its total); percent: 0-100; share: 0-1; hours"
)


@dataclass(frozen=True)
class Dataset:
    """A period's package: where it lives and what it is called."""

    period: Period

    @property
    def slug(self) -> str:
        return f"{self.period.start:%Y-%m}/{self.period.end:%Y-%m}"

    @property
    def name(self) -> str:  # a Data Package name: lower case, digits, `-`, `_`, `.`
        return f"innovation-indicators-{self.period.start:%Y-%m}-{self.period.end:%Y-%m}"

    @property
    def title(self) -> str:
        return (
            f"Innovation indicators of Binh Duong, {self.period.start:%Y-%m} to "
            f"{self.period.end:%Y-%m}"
        )


def period_of(start_month: str, end_month: str) -> Period:
    """The period of a package URL's two months; 404 for anything else."""
    first, last = _month(start_month), _month(end_month)
    if first is None or last is None or last < first:
        raise NotFound(_("No such open-data package."))
    period = Period(first, month_end(last))
    try:
        return indicators.parse_period(period.start, period.end)
    except Invalid as exc:  # longer than the API allows: not published either
        raise NotFound(_("No such open-data package.")) from exc


def _month(text: str) -> date | None:
    match = MONTH.match(text)
    if match is None:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        return None
    return date(year, month, 1)


def unit_of(indicator: str) -> str:
    """Indicator keys say their unit by their ending (a convention of the packages' keys)."""
    if indicator.endswith("_percent") or indicator.startswith("utilisation"):
        return "percent"
    if indicator.endswith("_share"):
        return "share"
    if indicator.endswith("_hours"):
        return "hours"
    return "count"


def section_rows(payload: dict, section: str) -> list[tuple[str, str, Any, str]]:
    """One section's figures as (indicator, group, value, unit) rows."""
    if section not in payload["sections"]:
        raise NotFound(_("No such open-data package."))
    return [
        (name, group, value, unit_of(name))
        for owner, name, group, value in indicators.as_rows(payload)
        if owner == section
    ]


def section_csv(payload: dict, section: str) -> bytes:
    """RFC 4180: CRLF line ends, a header, fields quoted only when needed, no BOM."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([field["name"] for field in FIELDS])
    for indicator, group, value, unit in section_rows(payload, section):
        writer.writerow([indicator, group, "" if value is None else value, unit])
    return buffer.getvalue().encode("utf-8")


def package(payload: dict, dataset: Dataset, base_url: str, prefix: str = "") -> dict:
    """The Data Package descriptor; resource paths are relative to the descriptor's URL
    (`prefix` when it is served from another folder than the period's own)."""
    contact = _contact()
    return {
        "profile": "tabular-data-package",
        "name": dataset.name,
        "id": f"{base_url}/open-data/{dataset.slug}/datapackage.json",
        "title": dataset.title,
        "description": (
            "Open indicators of the Binh Duong innovation ecosystem (labs, startups, contests, "
            f"partner organisations) for local days {payload['period']['from']} to "
            f"{payload['period']['to']} ({payload['timezone']}). {UNIT_DESCRIPTION}."
        ),
        # An ended period's first publication is 1.0.0, a correction 2.0.0; 0.1.0 is provisional.
        "version": f"{payload.get('version', 0)}.0.0" if payload.get("version") else "0.1.0",
        "created": payload["generated_at"],
        "homepage": f"{base_url}/ecosystem",
        "keywords": ["innovation", "fablab", "startup", "incubator", "contest", "Binh Duong"],
        "licenses": [
            {
                "name": LICENCE_ID,
                "path": indicators.LICENCE["url"],
                "title": indicators.LICENCE["name"],
            }
        ],
        "sources": [{"title": PUBLISHER, "path": base_url}],
        "contributors": [{"title": contact[0], "email": contact[1], "role": "publisher"}],
        "resources": [
            {
                "profile": "tabular-data-resource",
                "name": section,
                "path": f"{prefix}{section}.csv",
                "title": f"{dataset.title}: {section}",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": {
                    "fields": FIELDS,
                    "missingValues": [""],
                    "primaryKey": ["indicator", "group"],
                },
            }
            for section in payload["sections"]
        ],
    }


def _contact() -> tuple[str, str]:
    """The publisher's name and address, from MAIL_FROM ("Name <address>")."""
    from email.utils import parseaddr

    name, address = parseaddr(get_settings().mail_from)
    return name or PUBLISHER, address


def catalogue_datasets(on: date | None = None) -> list[Dataset]:
    """What the catalogue lists: the last twelve months, this year, and the last two years."""
    on = on or indicators.today()
    years = [Period(date(year, 1, 1), date(year, 12, 31)) for year in (on.year - 1, on.year - 2)]
    return [
        Dataset(indicators.default_period(on)),
        Dataset(indicators.year_to_date(on)),
        *(Dataset(period) for period in years),
    ]


def catalogue(base_url: str, on: date | None = None) -> dict:
    """A DCAT-AP catalogue (JSON-LD) of the indicator packages."""
    name, address = _contact()
    datasets = []
    for dataset in catalogue_datasets(on):
        folder = f"{base_url}/open-data/{dataset.slug}"
        api = f"{base_url}/api/v1/indicators?from={dataset.period.start}&to={dataset.period.end}"
        datasets.append(
            {
                "@id": f"{folder}/datapackage.json#dataset",
                "@type": "dcat:Dataset",
                "dct:identifier": dataset.name,
                "dct:title": {"@value": dataset.title, "@language": "en"},
                "dct:description": {"@value": UNIT_DESCRIPTION, "@language": "en"},
                "dct:temporal": {
                    "@type": "dct:PeriodOfTime",
                    "dcat:startDate": {
                        "@value": dataset.period.start.isoformat(),
                        "@type": "xsd:date",
                    },
                    "dcat:endDate": {"@value": dataset.period.end.isoformat(), "@type": "xsd:date"},
                },
                "dct:publisher": {"@id": f"{base_url}/#publisher"},
                "dct:license": {"@id": indicators.LICENCE["url"]},
                "dcat:keyword": ["innovation", "FabLab", "startup", "contest"],
                "dcat:theme": {
                    "@id": "http://publications.europa.eu/resource/authority/data-theme/TECH"
                },
                "dcat:contactPoint": {
                    "@type": "vcard:Organization",
                    "vcard:fn": name,
                    "vcard:hasEmail": {"@id": f"mailto:{address}"},
                },
                "dcat:landingPage": {"@id": f"{base_url}/ecosystem"},
                "dcat:distribution": [
                    {
                        "@id": f"{folder}/datapackage.json",
                        "@type": "dcat:Distribution",
                        "dct:title": "Frictionless Data Package",
                        "dcat:accessURL": {"@id": f"{folder}/datapackage.json"},
                        "dcat:downloadURL": {"@id": f"{folder}/datapackage.json"},
                        "dcat:mediaType": {
                            "@id": "https://www.iana.org/assignments/media-types/application/json"
                        },
                        "dct:conformsTo": {
                            "@id": "https://specs.frictionlessdata.io/data-package/"
                        },
                        "dct:license": {"@id": indicators.LICENCE["url"]},
                    },
                    {
                        "@id": api,
                        "@type": "dcat:Distribution",
                        "dct:title": "JSON (API)",
                        "dcat:accessURL": {"@id": api},
                        "dcat:mediaType": {
                            "@id": "https://www.iana.org/assignments/media-types/application/json"
                        },
                        "dct:license": {"@id": indicators.LICENCE["url"]},
                    },
                ],
            }
        )
    return {
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "foaf": "http://xmlns.com/foaf/0.1/",
            "vcard": "http://www.w3.org/2006/vcard/ns#",
            "xsd": "http://www.w3.org/2001/XMLSchema#",
        },
        "@id": f"{base_url}/open-data/catalog.jsonld",
        "@type": "dcat:Catalog",
        "dct:title": {"@value": "Binh Duong innovation region: open data", "@language": "en"},
        "dct:description": {
            "@value": "Open indicators of labs, startups, contests and partner organisations.",
            "@language": "en",
        },
        "dct:publisher": {
            "@id": f"{base_url}/#publisher",
            "@type": "foaf:Organization",
            "foaf:name": PUBLISHER,
        },
        "dct:license": {"@id": indicators.LICENCE["url"]},
        "dcat:dataset": datasets,
    }
