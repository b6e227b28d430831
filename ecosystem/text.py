"""Small text helpers: slugs and accent-free search keys (Vietnamese users often type
without diacritics: "thu dau mot" must find "Thủ Dầu Một")."""

from __future__ import annotations

import re
import unicodedata


def fold(text: str) -> str:
    """Lower-case, without diacritics (đ → d), single-spaced."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.lower().split())


def slugify(text: str, max_length: int = 60) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", fold(text)).strip("-")
    return slug[:max_length].strip("-") or "org"
