"""PDF documents (receipts, statements, certificates) with fpdf2 and Unicode fonts.

Vietnamese needs a TrueType font with its diacritics: DejaVu Sans from the operating system
(Debian's fonts-dejavu-core). Korean names and texts need Hangul, which DejaVu lacks:
NanumGothic (Debian's fonts-nanum) is registered as a fallback, so any character DejaVu
cannot draw is drawn with it (fpdf2's `set_fallback_fonts`). `new_document()` returns an
`FPDF` with the families "body" (regular and bold) and "hangul" registered.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

from fpdf import FPDF

# fontTools says, for every document, that it drops NanumGothic's hinting tables: not news.
logging.getLogger("fontTools.subset").setLevel(logging.ERROR)

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts/dejavu"),
)
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
FAMILY = "body"

HANGUL_FONT_DIRS = (
    Path("/usr/share/fonts/truetype/nanum"),
    Path("/usr/share/fonts/nanum"),
    Path("/usr/local/share/fonts/nanum"),
)
HANGUL_FONT_FILES = {"": "NanumGothic.ttf", "B": "NanumGothicBold.ttf"}
HANGUL_FAMILY = "hangul"


def _first_dir_with(directories: tuple[Path, ...], files: dict[str, str]) -> Path | None:
    for directory in directories:
        if all((directory / name).is_file() for name in files.values()):
            return directory
    return None


@cache
def font_dir() -> Path:
    if directory := _first_dir_with(FONT_DIRS, FONT_FILES):
        return directory
    raise RuntimeError(
        "DejaVu Sans is needed for PDF documents: install Debian's fonts-dejavu-core"
    )


@cache
def hangul_font_dir() -> Path:
    if directory := _first_dir_with(HANGUL_FONT_DIRS, HANGUL_FONT_FILES):
        return directory
    raise RuntimeError(
        "NanumGothic is needed for Korean text in PDF documents: install Debian's fonts-nanum"
    )


def new_document(title: str, *, orientation: str = "portrait") -> FPDF:
    """An A4 document with the Unicode fonts registered and selected, one page added."""
    document = FPDF(orientation=orientation, unit="mm", format="A4")
    document.set_title(title)
    document.set_creator("Binh Duong innovation platform")
    directory = font_dir()
    for style, name in FONT_FILES.items():
        document.add_font(FAMILY, style=style, fname=str(directory / name))
    hangul = hangul_font_dir()
    for style, name in HANGUL_FONT_FILES.items():
        document.add_font(HANGUL_FAMILY, style=style, fname=str(hangul / name))
    # Only the glyphs a document uses are embedded: a Vietnamese receipt stays small.
    document.set_fallback_fonts([HANGUL_FAMILY], exact_match=False)
    document.set_font(FAMILY, size=11)
    document.set_auto_page_break(auto=True, margin=15)
    document.add_page()
    return document


def render(document: FPDF) -> bytes:
    return bytes(document.output())
