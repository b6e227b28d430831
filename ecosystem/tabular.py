"""Tabular exports: one table, written as CSV or as an .xlsx workbook.

Every export of the platform (contest teams and comments, payment statements, open
indicators, lab usage, incubator cohorts and KPIs) builds a `Table` and hands it to
`download`, so the same guarantees hold everywhere:

- **No formula runs in the reader's spreadsheet** (CSV injection, OWASP's rule): a text
  cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
  prefixed with a single quote, and every text cell is quoted. Typed values are not
  text: an ``int`` of -5 stays the number -5.
- **CSV is UTF-8 with a byte-order mark**, so Excel on Windows reads Vietnamese text
  instead of mojibake (pandas and Python's ``utf-8-sig`` skip the mark).
- **The same table is an .xlsx workbook** (XlsxWriter) with numbers as numbers and dates
  as dates; text is written as text cells, which a spreadsheet never evaluates.

A route serves both with one path: ``/…/usage.{format:tabular}`` matches ``usage.csv``
and ``usage.xlsx`` (the `tabular` path convertor is registered when this module is
imported).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import Response

FORMATS = ("csv", "xlsx")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# The characters a spreadsheet reads as the start of a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


@dataclass
class Table:
    """A header row and data rows. `preamble` rows come before the header (e.g. the period
    and licence of the open indicators); `zone` is where aware datetimes are shown."""

    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    preamble: Sequence[Sequence[Any]] = field(default_factory=tuple)
    sheet: str = "export"
    zone: str = "Asia/Ho_Chi_Minh"


def neutralise(text: str) -> str:
    """OWASP's rule: a cell that a spreadsheet would run as a formula gets a leading quote."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _local(value: datetime, zone: str) -> datetime:
    return value.astimezone(ZoneInfo(zone)) if value.tzinfo else value


def _csv_cell(value: Any, zone: str) -> Any:
    if value is None:
        return ""
    if _is_number(value):
        return value
    if isinstance(value, datetime):
        return _local(value, zone).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return neutralise(str(value))


def to_csv(table: Table) -> bytes:
    """UTF-8 with a BOM; text cells quoted and neutralised, numbers bare."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
    for row in [*table.preamble, table.columns, *table.rows]:
        writer.writerow([_csv_cell(value, table.zone) for value in row])
    return out.getvalue().encode("utf-8")


def to_xlsx(table: Table) -> bytes:
    """One worksheet; numbers, booleans and dates typed, text as (inert) text cells."""
    import xlsxwriter

    out = io.BytesIO()
    options = {
        "in_memory": True,
        "strings_to_formulas": False,
        "strings_to_numbers": False,
        "strings_to_urls": False,
    }
    with xlsxwriter.Workbook(out, options) as workbook:
        sheet = workbook.add_worksheet(_sheet_name(table.sheet))
        bold = workbook.add_format({"bold": True})
        day = workbook.add_format({"num_format": "yyyy-mm-dd"})
        moment = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        row_number = 0
        for row in table.preamble:
            _write_row(sheet, row_number, row, table.zone, day, moment)
            row_number += 1
        for column, name in enumerate(table.columns):
            sheet.write_string(row_number, column, str(name), bold)
        sheet.freeze_panes(row_number + 1, 0)
        row_number += 1
        for row in table.rows:
            _write_row(sheet, row_number, row, table.zone, day, moment)
            row_number += 1
    return out.getvalue()


def _write_row(sheet, row_number: int, row: Sequence[Any], zone: str, day, moment) -> None:
    for column, value in enumerate(row):
        if value is None or value == "":
            sheet.write_blank(row_number, column, None)
        elif isinstance(value, bool):
            sheet.write_boolean(row_number, column, value)
        elif _is_number(value):
            sheet.write_number(row_number, column, float(value))
        elif isinstance(value, datetime):
            naive = _local(value, zone).replace(tzinfo=None)
            sheet.write_datetime(row_number, column, naive, moment)
        elif isinstance(value, date):
            sheet.write_datetime(row_number, column, value, day)
        else:
            sheet.write_string(row_number, column, str(value))


def _sheet_name(name: str) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\."""
    cleaned = "".join("_" if c in "[]:*?/\\" else c for c in name).strip("'")
    return cleaned[:31] or "export"


def render(table: Table, format: str) -> bytes:
    if format == "xlsx":
        return to_xlsx(table)
    if format == "csv":
        return to_csv(table)
    raise ValueError(f"unknown tabular format {format!r}")


def download(table: Table, name: str, format: str = "csv") -> Response:
    """The response that downloads `table` as `name`.csv or `name`.xlsx."""
    return Response(
        render(table, format),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": content_disposition(f"{name}.{format}")},
    )


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII name for every client and the exact (UTF-8) name for
    those that read RFC 6266's `filename*` (a slug may keep Vietnamese letters)."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    exact = quote(filename, safe="")
    if fallback == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}"


class TabularConvertor(Convertor[str]):
    """Path convertor `{format:tabular}`: ``csv`` or ``xlsx``."""

    regex = "csv|xlsx"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("tabular", TabularConvertor())


__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "Table",
    "download",
    "neutralise",
    "render",
    "to_csv",
    "to_xlsx",
]
