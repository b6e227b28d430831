"""Open ecosystem indicators: shared helpers for the packages' indicator providers.

Small groups are suppressed so that no single startup's (or person's) numbers can be read
off an aggregate: a count below `MIN_GROUP` is published as None, and so is any sum or
share computed over fewer than `MIN_GROUP` contributors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MIN_GROUP = 3


def suppress(value: Any, contributors: int, *, minimum: int = MIN_GROUP) -> Any:
    """`value`, or None when fewer than `minimum` distinct contributors make it up."""
    return value if contributors >= minimum else None


def suppress_counts(counts: Mapping[str, int], *, minimum: int = MIN_GROUP) -> dict[str, Any]:
    """Counts per group (each count is its own number of contributors)."""
    return {key: suppress(count, count, minimum=minimum) for key, count in counts.items()}
