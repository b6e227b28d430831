"""HTML pages: staff side of the lab network."""

from __future__ import annotations

routes: list = []
