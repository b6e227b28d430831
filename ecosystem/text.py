"""Small text helpers: slugs and accent-free search keys (Vietnamese users often type
without diacritics: "thu dau mot" must find "Thủ Dầu Một")."""

from __future__ import annotations

import unicodedata

from slugify import slugify as transliterated_slug


def fold(text: str) -> str:
    """Lower-case, without diacritics (đ → d), single-spaced."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.lower().split())


def slugify(text: str, max_length: int = 60) -> str:
    """An ASCII slug that stays readable in every script: Vietnamese loses its diacritics
    ("Thủ Dầu Một" → "thu-dau-mot", as before), Hangul and other scripts are romanised by
    python-slugify's transliteration ("대덕이노폴리스" → "daedeoginopolriseu") instead of
    vanishing; "org" only when nothing readable is left (emoji)."""
    slug = transliterated_slug(text.replace("đ", "d").replace("Đ", "D"))
    return slug[:max_length].strip("-") or "org"
