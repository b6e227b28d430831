"""PDF documents (receipts, statements, certificates) with fpdf2 and a Unicode font.

Vietnamese needs a TrueType font with its diacritics: DejaVu Sans from the operating system
(Debian's fonts-dejavu-core), found once; `new_document()` returns an `FPDF` with the
families "body" (regular and bold) registered.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fpdf import FPDF

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts/dejavu"),
)
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
FAMILY = "body"


@cache
def font_dir() -> Path:
    for directory in FONT_DIRS:
        if all((directory / name).is_file() for name in FONT_FILES.values()):
            return directory
    raise RuntimeError(
        "DejaVu Sans is needed for PDF documents: install Debian's fonts-dejavu-core"
    )


def new_document(title: str, *, orientation: str = "portrait") -> FPDF:
    """An A4 document with the Unicode font registered and selected, one page added."""
    document = FPDF(orientation=orientation, unit="mm", format="A4")
    document.set_title(title)
    document.set_creator("Binh Duong innovation platform")
    directory = font_dir()
    for style, name in FONT_FILES.items():
        document.add_font(FAMILY, style=style, fname=str(directory / name))
    document.set_font(FAMILY, size=11)
    document.set_auto_page_break(auto=True, margin=15)
    document.add_page()
    return document


def render(document: FPDF) -> bytes:
    return bytes(document.output())
