"""Checks shared by the export tests: hostile names and what a safe CSV / .xlsx looks like.

The CSV is read back twice: as bytes (the BOM, the quoted and prefixed cells) and with
Python's reader in QUOTE_NONNUMERIC mode, which returns quoted cells as text and bare cells
as numbers (and fails on a bare cell that is not a number). The .xlsx is read with zipfile
and the XML of its single sheet, so the test needs no spreadsheet library.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from xml.etree import ElementTree

HOSTILE = [
    '=HYPERLINK("http://x")',
    "@SUM(A1)",
    "+1",
    "-1+2",
    "\tX",
    "\rX",
]
VIETNAMESE = "Phòng thí nghiệm Đổi mới Bình Dương – ưu tiên"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = b"\xef\xbb\xbf"
NS = {"x": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def hostile_name(index: int) -> str:
    """The hostile names in turn (a test that needs one name per row)."""
    return HOSTILE[index % len(HOSTILE)]


def read_csv(content: bytes) -> list[list]:
    """Rows of a CSV export: quoted cells as str, bare cells as float."""
    assert content.startswith(BOM), content[:20]
    text = content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline=""), quoting=csv.QUOTE_NONNUMERIC))


def assert_safe_csv(content: bytes, expected: list[str]) -> list[list]:
    """The CSV starts with a BOM, no text cell would run as a formula, each of `expected`
    (the names put in) is there, neutralised with a leading quote, and Vietnamese text is
    intact. Returns the rows."""
    rows = read_csv(content)
    cells = [cell for row in rows for cell in row]
    for cell in cells:
        if isinstance(cell, str):
            assert not cell.startswith(FORMULA_STARTS), cell
    for name in expected:
        if name.startswith(FORMULA_STARTS):
            assert "'" + name in cells, (name, rows)
        else:
            assert name in cells, (name, rows)
    # The raw bytes: the formula cell is quoted, its inner quotes doubled.
    if '=HYPERLINK("http://x")' in expected:
        assert b'"\'=HYPERLINK(""http://x"")"' in content
    return rows


def _text(element) -> str:
    return _unescape("".join(t.text or "" for t in element.iter(f"{{{NS['x']}}}t")))


def _unescape(text: str) -> str:
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), text)


def read_xlsx(content: bytes) -> list[list]:
    """Rows of the first sheet: text cells as str, numbers as float, formulas as
    ("formula", text) so a test sees them."""
    with zipfile.ZipFile(io.BytesIO(content)) as book:
        names = book.namelist()
        strings = []
        if "xl/sharedStrings.xml" in names:
            root = ElementTree.fromstring(book.read("xl/sharedStrings.xml"))
            for item in root.findall("x:si", NS):
                strings.append(
                    _unescape("".join(t.text or "" for t in item.iter(f"{{{NS['x']}}}t")))
                )
        sheet = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))
    rows: list[list] = []
    for row in sheet.find("x:sheetData", NS).findall("x:row", NS):
        values: list = []
        for cell in row.findall("x:c", NS):
            column = re.match(r"[A-Z]+", cell.get("r")).group(0)
            index = 0
            for letter in column:
                index = index * 26 + ord(letter) - 64
            values.extend([None] * (index - 1 - len(values)))
            formula = cell.find("x:f", NS)
            value = cell.find("x:v", NS)
            kind = cell.get("t", "n")
            if formula is not None:
                values.append(("formula", formula.text))
            elif value is None and kind != "inlineStr":
                values.append(None)
            elif kind == "s":
                values.append(strings[int(value.text)])
            elif kind == "inlineStr":
                values.append(
                    _unescape("".join(t.text or "" for t in cell.iter(f"{{{NS['x']}}}t")))
                )
            elif kind == "b":
                values.append(value.text == "1")
            elif kind == "str":
                values.append(_unescape(value.text or ""))
            else:
                values.append(float(value.text))
        rows.append(values)
    return rows


def assert_safe_xlsx(content: bytes, expected: list[str]) -> list[list]:
    """A real workbook, no formula anywhere, and each of `expected` there as a text cell
    (text cells are never evaluated). Returns the rows."""
    assert content.startswith(b"PK"), content[:10]
    rows = read_xlsx(content)
    cells = [cell for row in rows for cell in row]
    assert not [c for c in cells if isinstance(c, tuple)], "a formula in the workbook"
    for name in expected:
        assert name in cells, (name, rows)
    return rows


def column(rows: list[list], name: str, header_row: int = 0) -> list:
    """The values under `name` below the header row."""
    index = rows[header_row].index(name)
    return [row[index] if index < len(row) else None for row in rows[header_row + 1 :]]
