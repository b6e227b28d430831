"""HTML pages: training side of the lab network."""

from __future__ import annotations

routes: list = []
