"""The one tabular export module (ecosystem.tabular): hostile cells are inert in CSV and
.xlsx, CSV carries a UTF-8 BOM, numbers and dates stay typed; the open indicators are
served as CSV and .xlsx with the same columns and stay readable by pandas."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from ecosystem import tabular
from ecosystem.services import indicators
from tests.exports import (
    HOSTILE,
    VIETNAMESE,
    assert_safe_csv,
    assert_safe_xlsx,
    column,
    read_csv,
    read_xlsx,
)


def hostile_table() -> tabular.Table:
    rows = [[i + 1, name, -5 * (i + 1), date(2026, 1, 31)] for i, name in enumerate(HOSTILE)]
    rows.append([99, VIETNAMESE, -1.5, datetime(2026, 12, 31, 17, 30, tzinfo=UTC)])
    rows.append([None, "", True, None])
    return tabular.Table(columns=["id", "name", "amount", "day"], rows=rows, sheet="a/b:c")


def test_the_owasp_rule_prefixes_a_quote_only_where_a_formula_could_start():
    for text in HOSTILE:
        assert tabular.neutralise(text) == "'" + text
    for text in ("Becamex", "1-2", "a=b", "'already", "", VIETNAMESE):
        assert tabular.neutralise(text) == text


def test_a_csv_export_has_a_bom_quoted_inert_text_and_bare_numbers():
    content = tabular.to_csv(hostile_table())
    rows = assert_safe_csv(content, [*HOSTILE, VIETNAMESE])
    assert rows[0] == ["id", "name", "amount", "day"]
    # Numbers are bare (typed), negative ones included; text and dates are quoted.
    assert column(rows, "amount")[:6] == [-5.0, -10.0, -15.0, -20.0, -25.0, -30.0]
    assert column(rows, "amount")[6] == -1.5
    assert b'\r\n1,"\'=HYPERLINK(""http://x"")",-5,"2026-01-31"\r\n' in content
    assert b'"\'\rX"' in content and b'"\'\tX"' in content
    assert VIETNAMESE.encode() in content
    # An aware moment is shown in the table's zone (Asia/Ho_Chi_Minh by default).
    assert column(rows, "day")[6] == "2027-01-01T00:30:00+07:00"


def test_an_xlsx_export_has_text_cells_typed_numbers_and_dates():
    content = tabular.to_xlsx(hostile_table())
    rows = assert_safe_xlsx(content, [*HOSTILE, VIETNAMESE])
    assert rows[0] == ["id", "name", "amount", "day"]
    assert column(rows, "id")[:3] == [1.0, 2.0, 3.0]
    assert column(rows, "amount")[:2] == [-5.0, -10.0]
    # A date is a number (an Excel serial day) with a date format, not text.
    assert column(rows, "day")[0] == float((date(2026, 1, 31) - date(1899, 12, 30)).days)
    assert rows[-1][2] is True


async def test_the_indicators_are_csv_and_xlsx_with_the_same_columns(client):
    import pandas

    query = "/api/v1/indicators?from=2026-01-01&to=2026-01-31"
    as_csv = await client.get(f"{query}&format=csv")
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert (
        'filename="indicators-2026-01-01-2026-01-31.csv"' in as_csv.headers["content-disposition"]
    )
    rows = read_csv(as_csv.content)
    assert rows[0] == ["section", "indicator", "key", "value"]
    assert any(row[:2] == ["ecosystem", "verified_organisations"] for row in rows)
    numbers = [row[3] for row in rows[1:] if len(row) > 3 and isinstance(row[3], float)]
    assert numbers, "counts are bare numbers"
    # A plain pandas.read_csv (the open-data reader) skips the BOM and reads the table.
    frame = pandas.read_csv(io.BytesIO(as_csv.content))
    assert list(frame.columns) == ["section", "indicator", "key", "value"]
    assert len(frame) == len(rows) - 1

    as_xlsx = await client.get(f"{query}&format=xlsx")
    assert as_xlsx.status_code == 200
    assert as_xlsx.headers["content-type"] == tabular.MEDIA_TYPES["xlsx"]
    assert (
        'filename="indicators-2026-01-01-2026-01-31.xlsx"' in as_xlsx.headers["content-disposition"]
    )
    sheet = read_xlsx(as_xlsx.content)
    assert sheet[0] == ["section", "indicator", "key", "value"]
    assert len(sheet) == len(rows)


def test_the_indicators_table_neutralises_whatever_a_section_returns():
    payload = {
        "period": {"from": "2026-01-01", "to": "2026-01-31"},
        "generated_at": "2026-02-01T00:00:00+00:00",
        "licence": indicators.LICENCE,
        "sections": {"labs": {name: {"k": -3} for name in HOSTILE}},
    }
    table = indicators.as_table(payload)
    rows = assert_safe_csv(tabular.to_csv(table), HOSTILE)
    assert [row[3] for row in rows[1:]] == [-3.0] * len(HOSTILE)
    assert_safe_xlsx(tabular.to_xlsx(table), HOSTILE)


async def test_the_open_api_document_offers_csv_and_xlsx_indicators(client):
    document = (await client.get("/api/openapi.json")).json()
    operation = document["paths"]["/api/v1/indicators"]["get"]
    assert {"application/json", "text/csv", tabular.MEDIA_TYPES["xlsx"]} <= set(
        operation["responses"]["200"]["content"]
    )
    bad = await client.get("/api/v1/indicators?format=xls")
    assert bad.status_code == 422


def test_a_download_name_with_vietnamese_letters_is_a_valid_header():
    assert (
        tabular.content_disposition("usage-fablab.csv") == 'attachment; filename="usage-fablab.csv"'
    )
    header = tabular.content_disposition("cuộc-thi-2026-teams.xlsx")
    header.encode("latin-1")  # what an HTTP header must be
    assert header == (
        'attachment; filename="cu_c-thi-2026-teams.xlsx"; '
        "filename*=UTF-8''cu%E1%BB%99c-thi-2026-teams.xlsx"
    )
    response = tabular.download(tabular.Table(["a"], [[1]]), "cuộc-thi", "csv")
    assert response.headers["content-disposition"].endswith("cu%E1%BB%99c-thi.csv")
